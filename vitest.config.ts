import { readdirSync, readFileSync } from "node:fs";
import { transform } from "esbuild";
import { defineConfig, type Plugin } from "vitest/config";

/**
 * Test files use TC39 standard decorators, which Node 20 cannot parse: esbuild lowers them, as it
 * does for users' projects built with tsup, tsx or esbuild.
 */
function standardDecorators(): Plugin {
  return {
    name: "standard-decorators",
    enforce: "pre",
    async transform(code, id) {
      if (!/\.[cm]?ts$/.test(id) || id.includes("/node_modules/")) return null;
      const result = await transform(code, {
        loader: "ts",
        format: "esm",
        target: "es2022",
        sourcemap: true,
        sourcefile: id,
        tsconfigRaw: { compilerOptions: { experimentalDecorators: false, useDefineForClassFields: true } },
      });
      return { code: result.code, map: result.map };
    },
  };
}

/** Test files that use DynamoDB Local (they ask for its endpoint). */
function dynamodbTestFiles(): string[] {
  return readdirSync("test")
    .filter((name) => name.endsWith(".test.ts") && readFileSync(`test/${name}`, "utf8").includes('inject("dynamodbEndpoint")'))
    .map((name) => `test/${name}`);
}

/**
 * `vitest run` (npm test, CI): every test, with DynamoDB Local (Java 17). `vitest run --mode local-only`
 * (npm run test:local): the test files that do not use DynamoDB, without starting it.
 */
export default defineConfig(({ mode }) => ({
  plugins: [standardDecorators()],
  oxc: false,
  test: {
    include: ["test/**/*.test.ts"],
    // test/toolchains/ holds templates of consumer projects, run by toolchains.test.ts in their own folders.
    exclude: ["**/node_modules/**", "test/toolchains/**", ...(mode === "local-only" ? dynamodbTestFiles() : [])],
    globalSetup: mode === "local-only" ? ["test/setup/build.ts"] : ["test/setup/build.ts", "test/setup/dynamodb.ts"],
    reporters: ["default", "./test/setup/summary-reporter.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
}));
