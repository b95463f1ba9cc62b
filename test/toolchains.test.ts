/**
 * The README's "Setup per toolchain", tried for real: the packed package (`npm pack` of dist/) and each
 * toolchain are installed from the registry into one temporary folder, then each project of
 * test/toolchains/<name>/ is built with its documented settings and run twice. The first run computes,
 * the second (a new process: a restart) must answer the sync and the async method from the file.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TEMPLATES = join(ROOT, "test/toolchains");

/** Versions that run on Node 20; `ts51` is the oldest TypeScript the README names. */
const TOOLCHAIN_PACKAGES = [
  "typescript@~5.9.3",
  "ts51@npm:typescript@5.1.6",
  "esbuild@~0.25.12",
  "tsx@^4.20.0",
  "vitest@~4.1.12",
  "@nestjs/core@^11.0.0",
  "@nestjs/common@^11.0.0",
  "reflect-metadata@^0.2.2",
  "rxjs@^7.8.0",
  "@types/node@^20.19.0",
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of the child processes, without what the test runner and npm's script runner set. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(VITEST|npm_lifecycle_|npm_package_|NODE_OPTIONS$|NODE_ENV$|TEST$)/.test(name)) continue;
    env[name] = value;
  }
  return env;
}

function run(command: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: childEnv(), timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a command that must succeed; the failure message carries its output. */
async function ok(command: string, args: string[], cwd: string): Promise<Run> {
  const result = await run(command, args, cwd);
  expect(result.code, `${command} ${args.join(" ")}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

let sandbox: string;
const bin = (name: string) => join(sandbox, "node_modules/.bin", name);
/** `tsc` of a TypeScript package by its folder (the alias shares the bin's name, so not through .bin). */
const tsc = (folder = "typescript") => join(sandbox, "node_modules", folder, "bin/tsc");

/** A project folder in the sandbox (`as`): the shared app (unless told not to) and the template's files. */
function project(name: string, withApp = true, as = name): string {
  const dir = join(sandbox, as);
  mkdirSync(dir, { recursive: true });
  if (withApp) cpSync(join(TEMPLATES, "app"), dir, { recursive: true });
  cpSync(join(TEMPLATES, name), dir, { recursive: true });
  return dir;
}

/** The last line of a run's output, as JSON. */
function report(result: Run): unknown {
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as unknown;
  } catch {
    throw new Error(`no JSON report in the output:\n${result.stdout}\n${result.stderr}`);
  }
}

const FIRST_RUN = {
  price: 50,
  quote: "quote for pear",
  runs: 2,
  status: { "price('apple',){}": "miss", "quote('pear',){}": "miss" },
};
const AFTER_RESTART = { ...FIRST_RUN, runs: 0, status: { "price('apple',){}": "l1", "quote('pear',){}": "l1" } };

/** Runs the built program twice in `dir`: computed first, then both answers from the file. */
async function expectCachedAcrossRestart(command: string, args: string[], dir: string): Promise<void> {
  const first = await ok(command, args, dir);
  expect(first.stderr).toBe("");
  expect(report(first)).toEqual(FIRST_RUN);
  const second = await ok(command, args, dir);
  expect(second.stderr).toBe("");
  expect(report(second)).toEqual(AFTER_RESTART);
}

beforeAll(async () => {
  sandbox = tempDir("cacherator-toolchains-");
  const packed = await ok("npm", ["pack", "--json", "--pack-destination", sandbox], ROOT);
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  writeFileSync(join(sandbox, "package.json"), JSON.stringify({ private: true }));
  await ok("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--no-save", join(sandbox, filename), ...TOOLCHAIN_PACKAGES], sandbox);
  // The bundling cases are about programs that do not use DynamoDB: the AWS SDK must not be needed.
  expect(existsSync(join(sandbox, "node_modules/@aws-sdk"))).toBe(false);
}, 300_000);

describe("the documented settings of each toolchain build a program whose cached methods work across a restart", () => {
  it("tsc, standard decorators, target es2022 (ESM)", async () => {
    const dir = project("tsc-standard");
    await ok("node", [tsc(), "-p", "."], dir);
    await expectCachedAcrossRestart("node", ["out/main.js"], dir);
  });

  it("tsc, experimentalDecorators (ESM)", async () => {
    const dir = project("tsc-legacy");
    await ok("node", [tsc(), "-p", "."], dir);
    await expectCachedAcrossRestart("node", ["out/main.js"], dir);
  });

  it("TypeScript 5.1, the oldest the README names: the package's types check, and CommonJS output runs", async () => {
    const dir = project("tsc-commonjs", true, "typescript-5.1");
    await ok("node", [tsc("ts51"), "-p", ".", "--skipLibCheck", "false"], dir);
    await expectCachedAcrossRestart("node", ["out/main.js"], dir);
  });

  it("tsc to CommonJS: the program loads the package with require()", async () => {
    const dir = project("tsc-commonjs");
    await ok("node", [tsc(), "-p", "."], dir);
    expect(readFileSync(join(dir, "out/shop.js"), "utf8")).toMatch(/require\("cacherator"\)/);
    await expectCachedAcrossRestart("node", ["out/main.js"], dir);
  });

  it("esbuild --bundle --target=es2022, without the AWS SDK installed", async () => {
    const dir = project("esbuild");
    await ok(bin("esbuild"), ["main.ts", "--bundle", "--platform=node", "--format=esm", "--target=es2022", "--outfile=out/main.mjs"], dir);
    await expectCachedAcrossRestart("node", ["out/main.mjs"], dir);
  });

  it("esbuild --minify: two classes on default dataIds never get each other's results, and a warning says to pass dataId", async () => {
    const dir = project("esbuild-minify", false);
    await ok(
      bin("esbuild"),
      ["main.ts", "--bundle", "--minify", "--platform=node", "--format=esm", "--target=es2022", "--external:@aws-sdk/*", "--outfile=out/main.mjs"],
      dir,
    );
    for (let i = 0; i < 2; i++) {
      const result = await ok("node", ["out/main.mjs"], dir);
      expect(report(result)).toEqual({ price: "price of apple", stock: "stock of apple" });
      expect(result.stderr).toMatch(/looks minified[\s\S]*Production builds should pass a dataId/);
    }
    // Two files: each class's default dataId carries a hash of its code.
    expect(readdirSync(join(dir, "data/cache")).filter((f) => f.endsWith(".json"))).toHaveLength(2);
  });

  it("tsx, no configuration", async () => {
    const dir = project("tsx");
    await expectCachedAcrossRestart(bin("tsx"), ["main.ts"], dir);
  });

  it("vitest 4 (Vite 8) with the documented vitest.config.ts", async () => {
    const dir = project("vitest");
    for (const expected of [FIRST_RUN, AFTER_RESTART]) {
      await ok(bin("vitest"), ["run", "--reporter=dot"], dir);
      expect(JSON.parse(readFileSync(join(dir, "report.json"), "utf8"))).toEqual(expected);
    }
  });

  it("NestJS: an injectable service that extends JSONCache and logs through Nest's Logger (experimentalDecorators, emitDecoratorMetadata)", async () => {
    const dir = project("nestjs", false);
    await ok("node", [tsc(), "-p", "."], dir);
    await expectCachedAcrossRestart("node", ["out/main.js"], dir);
    expect(readdirSync(join(dir, "cache"))).toEqual(["shop.json"]);
  });

  it("NestJS: an injectable service that does not extend JSONCache, with an injected dependency (@Cacheable, cacheOf, withCacheStatus)", async () => {
    const dir = project("nestjs-service", false);
    await ok("node", [tsc(), "-p", "."], dir);
    for (const [expected, calls] of [[FIRST_RUN, ["miss"]], [AFTER_RESTART, ["l1"]]] as const) {
      const result = await ok("node", ["out/main.js"], dir);
      expect(result.stderr).toBe("");
      expect(report(result)).toEqual({ ...expected, calls });
    }
    expect(readdirSync(join(dir, "cache"))).toEqual(["shop-service.json"]);
  });
});
