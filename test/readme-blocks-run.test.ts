/**
 * Every ```ts block of the README runs against the packed package (`npm pack`, installed into a
 * folder of its own): lowered as esbuild lowers it (target es2022), as its own module, with fakes for
 * the helpers the examples call but do not define (an API, a database, `fetch`). A block that uses what
 * an earlier block defines (`calc`, `DataProcessor`) runs after that block, in the same module. A block
 * may be marked `<!-- not-run: why -->` (the type check of readme-blocks.test.ts still applies to it).
 */
import { execFile } from "node:child_process";
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { tempDir } from "./helpers.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** What the examples call without defining it: simple, fast stand-ins. */
const FAKES: [name: string, code: string][] = [
  ["slowDown", "function slowDown(_ms: number): void {}"],
  ["fetchWeather", "function fetchWeather(city: string): string { return `sunny in ${city}`; }"],
  ["fetchHistorical", "function fetchHistorical(_city: string, year: number): number { return year % 40; }"],
  ["fetchData", "async function fetchData(url: string): Promise<string> { return `data of ${url}`; }"],
  ["fetchQuote", "async function fetchQuote(item: string): Promise<number> { return item.length; }"],
  ["expensiveOperation", "function expensiveOperation(key: string): string { return key.toUpperCase(); }"],
  ["newSummarizer", "function newSummarizer(doc: string): string { return doc.slice(0, 10); }"],
  ["api", "const api = { async rates(base: string) { return { [base]: 1, EUR: 0.9 }; } };"],
  ["auth", "const auth = { async fetchToken(scope: string) { return { expires_in: 3600, token: `token for ${scope}` }; } };"],
  ["db", "const db = { findUser(id: number) { return { id }; }, query(_sql: string, ..._args: unknown[]) { return []; } };"],
  ["log", "const log = { info(_message: string) {} };"],
  ["pinoLogger", "const pinoLogger = { debug() {}, info() {}, warn() {}, error() {} };"],
  ["myLogger", "const myLogger = { debug() {}, info() {}, warn() {}, error() {} };"],
];

/** No network in the examples: `fetch` answers with the URL it was given. */
const FETCH = `globalThis.fetch = (async (url: string) => new Response(JSON.stringify({ url }), { headers: { "content-type": "application/json" } })) as typeof fetch;`;

interface Block {
  line: number;
  code: string;
  run: boolean;
}

function tsBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  for (const match of markdown.matchAll(/(<!-- not-(?:checked|run): [^>]+-->\n)?```ts\n([\s\S]*?)```/g)) {
    blocks.push({ line: markdown.slice(0, match.index).split("\n").length, code: match[2] as string, run: match[1] === undefined });
  }
  return blocks;
}

function definedNames(code: string): Set<string> {
  return new Set([...code.matchAll(/\b(?:class|const|let|function)\s+(\w+)/g)].map((m) => m[1] as string));
}

function usedNames(code: string): Set<string> {
  const bare = code.replaceAll(/\/\/.*$/gm, "").replaceAll(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""');
  return new Set([...bare.matchAll(/\b[A-Za-z_]\w*\b/g)].map((m) => m[0]));
}

/** The block, after the earlier blocks that define names it uses (and what those need, in order). */
function programOf(blocks: Block[], index: number): string {
  const included = new Set<number>();
  const include = (i: number) => {
    if (included.has(i)) return;
    const block = blocks[i] as Block;
    const own = definedNames(block.code);
    for (const name of usedNames(block.code)) {
      if (own.has(name)) continue;
      for (let j = i - 1; j >= 0; j--) {
        if (definedNames((blocks[j] as Block).code).has(name)) {
          include(j);
          break;
        }
      }
    }
    included.add(i);
  };
  include(index);
  const codes = [...included].sort((a, b) => a - b).map((i) => (blocks[i] as Block).code);
  // One import of the package for the whole module: what the prelude needs and what the blocks import.
  const imported = new Set(["Cached", "JSONCache", "cached", "CACHE_IDENTITY"]);
  for (const code of codes) {
    for (const list of code.matchAll(/^import\s*\{([^}]*)\}\s*from\s*"cacherator";?$/gm)) {
      for (const name of (list[1] as string).split(",")) if (name.trim() !== "") imported.add(name.trim());
    }
  }
  const parts = codes.map((code) => code.replaceAll(/^import .*$/gm, ""));
  const own = new Set(parts.flatMap((code) => [...definedNames(code)]));
  const fakes = FAKES.filter(([name]) => !own.has(name)).map(([, code]) => code);
  return [`import { ${[...imported].join(", ")} } from "cacherator";`, FETCH, ...fakes, ...parts, "export {};"].join("\n");
}

let project: string;

/** DynamoDB Local stands in for AWS (the SDK's endpoint variable), for the blocks that name a table. */
const AWS_ENV = {
  AWS_ENDPOINT_URL_DYNAMODB: inject("dynamodbEndpoint"), AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local",
  AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true",
};

function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // (--no-warnings: the AWS SDK's notice about future Node.js versions is not the README's concern)
    execFile(process.execPath, ["--no-warnings", file], { cwd: project, timeout: 30_000, env: { ...process.env, ...AWS_ENV } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
    });
  });
}

function npm(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("npm", args, { cwd, timeout: 240_000 }, (error, stdout, stderr) => (error ? reject(new Error(`npm ${args.join(" ")}: ${stderr}`)) : resolve(stdout)));
  });
}

beforeAll(async () => {
  project = tempDir("cacherator-readme-");
  const [{ filename }] = JSON.parse(await npm(["pack", "--json", "--pack-destination", project], ROOT)) as [{ filename: string }];
  writeFileSync(join(project, "package.json"), JSON.stringify({ private: true, type: "module" }));
  await npm(["install", "--prefer-offline", "--no-audit", "--no-fund", "--no-save", join(project, filename)], project);
  // The optional AWS SDK, as an application using a table installs it.
  symlinkSync(join(ROOT, "node_modules/@aws-sdk"), join(project, "node_modules/@aws-sdk"));
  // The README's table exists already, as in production (creating it can take longer than a call waits).
  const warm = join(project, "create-table.mjs");
  writeFileSync(warm, `import { JSONCache } from "cacherator";
    class Warm extends JSONCache { constructor() { super({ dataId: "warm", dynamodbTable: "my-cache-table", dynamodbTimeout: 30000 }); } }
    await new Warm().jsonCachePreload();`);
  const created = await run(warm);
  expect(created.stderr).toBe("");
}, 300_000);

describe("the README's TypeScript runs against the packed package", () => {
  const blocks = tsBlocks(readFileSync(join(ROOT, "README.md"), "utf8"));

  it("has blocks to run, and says why for each one it does not run", () => {
    expect(blocks.filter((b) => b.run).length).toBeGreaterThan(12);
  });

  it.each(blocks.map((block, index) => ({ block, index })).filter(({ block }) => block.run).map(({ block, index }) => [block.line, index]))(
    "the block at README.md:%i runs without an error or a warning",
    async (line, index) => {
      const { code } = await transform(programOf(blocks, index as number), { loader: "ts", format: "esm", target: "es2022" });
      const file = join(project, `block-${line}.mjs`);
      writeFileSync(file, code);
      const result = await run(file);
      expect(result.stderr, `README.md:${line}`).toBe("");
      expect(result.code, `README.md:${line}`).toBe(0);
    },
  );
});
