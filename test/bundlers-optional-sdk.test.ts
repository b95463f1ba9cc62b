/**
 * An application bundled with esbuild (`--bundle --platform=node`) against the built package: without
 * the optional AWS SDK it bundles and its local cache works; with the SDK installed beside it the
 * DynamoDB tier loads at run time; and a bundle that carries the SDK itself hands it over with
 * `JSONCache.useDynamoDBSdk()` and runs where there is no node_modules at all.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { waitForDynamoDB } from "./setup/dynamodb.js";
import { tempDir } from "./helpers.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** esbuild's own executable (its npm package installs the platform's binary here). */
const ESBUILD = join(ROOT, "node_modules/esbuild/bin/esbuild");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], cwd: string, timeout = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout, env: { ...process.env, NODE_PATH: "" } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A folder with the built package installed as `node_modules/cacherator` (a copy: nothing resolves back into this repository). */
function appFolder(withSdk: boolean): string {
  const dir = tempDir("cacherator-bundle-");
  const pkg = join(dir, "node_modules/cacherator");
  mkdirSync(pkg, { recursive: true });
  cpSync(join(ROOT, "package.json"), join(pkg, "package.json"));
  cpSync(join(ROOT, "dist"), join(pkg, "dist"), { recursive: true });
  // its dependency, installed beside it as npm would
  cpSync(join(ROOT, "node_modules/unidecode"), join(dir, "node_modules/unidecode"), { recursive: true });
  if (withSdk) symlinkSync(join(ROOT, "node_modules/@aws-sdk"), join(dir, "node_modules/@aws-sdk"));
  return dir;
}

async function bundle(dir: string, source: string): Promise<string> {
  writeFileSync(join(dir, "app.ts"), source);
  // --target lowers the standard decorators, as a project's tsconfig or build script would.
  const built = await run(ESBUILD, ["app.ts", "--bundle", "--platform=node", "--target=node20", "--outfile=out/app.js", "--log-level=warning"], dir);
  expect(built.stderr).not.toMatch(/Could not resolve/);
  expect(built.code).toBe(0);
  return join(dir, "out/app.js");
}

const APP = (options: string, prelude = "") => `
import { JSONCache, Cached } from "cacherator";
${prelude}
let runs = 0;
class Prices extends JSONCache {
  constructor(directory: string) { super({ dataId: "prices", directory, ${options} }); }
  @Cached() async price(item: string) { runs++; return item.length * 10; }
}
const prices = new Prices(process.argv[2]!);
const first = await prices.price("apple");
const firstStatus = prices.lastCacheStatus;
const second = await prices.price("apple");
const saved = await prices.jsonCacheSave();
console.log(JSON.stringify({ first, firstStatus, second, secondStatus: prices.lastCacheStatus, runs, saved }));
`;

/** esbuild's CommonJS output has no top-level await: wrap the program. */
const wrap = (source: string) => source.replace(/^const prices/m, "(async () => {\nconst prices") + "})();\n";

describe("an application bundled without the AWS SDK", () => {
  it("bundles with esbuild and its local cache works; a configured table only warns what to install", async () => {
    const dir = appFolder(false);
    const local = await bundle(dir, wrap(APP("logging: true")));
    const result = await run(process.execPath, [local, join(dir, "cache")], dir);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({ first: 50, firstStatus: "miss", second: 50, secondStatus: "l1", runs: 1, saved: true });
    const again = await run(process.execPath, [local, join(dir, "cache")], dir);
    expect(JSON.parse(again.stdout)).toMatchObject({ firstStatus: "l1", runs: 0 });

    const withTable = await bundle(dir, wrap(APP(`dynamodbTable: "prices", dynamodbEndpoint: "http://127.0.0.1:9", dynamodbRegion: "us-east-1"`)));
    const table = await run(process.execPath, [withTable, join(dir, "cache2")], dir);
    expect(JSON.parse(table.stdout)).toMatchObject({ first: 50, firstStatus: "miss", second: 50, secondStatus: "l1", runs: 1 });
    expect(table.stderr).toContain("npm install @aws-sdk/client-dynamodb @aws-sdk/lib-dynamodb");
    expect(table.stderr.match(/AWS SDK could not be loaded/g)).toHaveLength(1);
  });
});

describe("an application bundled with the AWS SDK present", () => {
  const endpoint = inject("dynamodbEndpoint");
  const credentials = { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" };
  beforeAll(async () => {
    await waitForDynamoDB(endpoint);
    Object.assign(process.env, credentials);
  });

  const tableOptions = (table: string) => `dynamodbTable: "${table}", dynamodbEndpoint: "${endpoint}", dynamodbRegion: "us-east-1", dynamodbTimeout: 10000`;

  it("loads the DynamoDB tier from node_modules at run time: a second machine gets the result from L2", async () => {
    const dir = appFolder(true);
    const table = `bundle-${Date.now()}`;
    const app = await bundle(dir, wrap(APP(tableOptions(table))));
    const machineA = await run(process.execPath, [app, join(dir, "a")], dir);
    expect(JSON.parse(machineA.stdout)).toMatchObject({ firstStatus: "miss", runs: 1, saved: true });
    const machineB = await run(process.execPath, [app, join(dir, "b")], dir);
    expect(machineB.stderr).not.toMatch(/\[cacherator\]/); // the SDK may print its own notices
    expect(JSON.parse(machineB.stdout)).toMatchObject({ first: 50, firstStatus: "l2", runs: 0 });
  });

  it("a bundle carrying the SDK hands it over with useDynamoDBSdk and runs without node_modules", async () => {
    const dir = appFolder(true);
    const table = `bundle-sdk-${Date.now()}`;
    const prelude = `
import * as clientDynamodb from "@aws-sdk/client-dynamodb";
import * as libDynamodb from "@aws-sdk/lib-dynamodb";
JSONCache.useDynamoDBSdk(clientDynamodb, libDynamodb);`;
    const app = await bundle(dir, wrap(APP(tableOptions(table), prelude)));
    // The bundle alone, far from any node_modules.
    const bare = tempDir("cacherator-bare-");
    renameSync(app, join(bare, "app.js"));
    const machineA = await run(process.execPath, [join(bare, "app.js"), join(bare, "a")], bare);
    expect(machineA.stderr).not.toMatch(/\[cacherator\]/);
    expect(JSON.parse(machineA.stdout)).toMatchObject({ firstStatus: "miss", saved: true });
    const machineB = await run(process.execPath, [join(bare, "app.js"), join(bare, "b")], bare);
    expect(JSON.parse(machineB.stdout)).toMatchObject({ first: 50, firstStatus: "l2", runs: 0 });
  });
});
