/**
 * Nothing computed is dropped on its way to DynamoDB: results and attributes that cannot be written
 * during an outage are kept and written once DynamoDB is back, a save says whether both tiers hold
 * everything, and what is unsent when a program ends — even with process.exit() — is sent then.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { recordingLogger, runProgram, tempDir } from "./helpers.js";
import { startDynamoDBLocal, waitForDynamoDB, type DynamoDBLocal } from "./setup/dynamodb.js";

const endpoint = inject("dynamodbEndpoint");
const AWS_ENV = { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" };
Object.assign(process.env, AWS_ENV);

let tables = 0;
const newTable = () => `cacherator-wb-${process.pid}-${Date.now().toString(36)}-${++tables}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Saves until the save says both tiers hold everything (DynamoDB may be cold or coming back), at most a minute. */
async function savedWithin(cache: JSONCache): Promise<boolean> {
  for (let attempt = 0; attempt < 60; attempt++) {
    if (await cache.jsonCacheSave()) return true;
    await sleep(1000);
  }
  return false;
}

/** Reads `keys` of quote() as a machine that never ran before (its own directory). */
async function freshMachine(table: string, at: string, xs: number[]): Promise<{ values: number[]; statuses: (string | null)[] }> {
  class Reader extends JSONCache {
    constructor() {
      // A generous timeout: the reader may be the first to check a table on a busy server.
      super({ dataId: "quotes", directory: tempDir(), dynamodbTable: table, dynamodbEndpoint: at, dynamodbTimeout: 5000, logging: false });
    }
    @Cached() async quote(n: number) {
      return -n;
    }
  }
  const reader = new Reader();
  const values: number[] = [];
  const statuses: (string | null)[] = [];
  for (const x of xs) {
    values.push(await reader.quote(x));
    statuses.push(reader.lastCacheStatus);
  }
  return { values, statuses };
}

describe("results computed while DynamoDB is down reach it once it is back", () => {
  let server: DynamoDBLocal | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it("40 misses during a pause, then a kill and a restart on the same port: all 40 are written, and the save says false until they are", async () => {
    server = await startDynamoDBLocal();
    await waitForDynamoDB(server.endpoint);
    const at = server.endpoint;
    const table = newTable();
    const logger = recordingLogger();
    class Quotes extends JSONCache {
      constructor() {
        super({ dataId: "quotes", directory: tempDir(), dynamodbTable: table, dynamodbEndpoint: at, dynamodbTimeout: 500, logger });
      }
      @Cached() async quote(n: number) {
        return n * 10;
      }
    }
    const quotes = new Quotes();
    expect(await quotes.quote(0)).toBe(0);
    expect(await savedWithin(quotes)).toBe(true);

    server.process.kill("SIGSTOP");
    const xs = Array.from({ length: 40 }, (_, i) => i + 1);
    for (const x of xs) expect(await quotes.quote(x)).toBe(x * 10);
    expect(await quotes.jsonCacheSave()).toBe(false);

    // Killed while paused, then restarted empty on the same port: the table is re-created.
    const port = server.port;
    server.process.kill("SIGKILL");
    await server.stop();
    expect(await quotes.jsonCacheSave()).toBe(false);
    server = await startDynamoDBLocal({ port });
    await waitForDynamoDB(server.endpoint);

    expect(await savedWithin(quotes)).toBe(true);
    const read = await freshMachine(table, at, xs);
    expect(read.statuses).toEqual(xs.map(() => "l2"));
    expect(read.values).toEqual(xs.map((x) => x * 10));
  }, 120_000);

  it("the backlog retries on its own: with no further call or save, a fresh machine gets the results", async () => {
    server ??= await startDynamoDBLocal();
    await waitForDynamoDB(server.endpoint);
    const at = server.endpoint;
    const table = newTable();
    class Quotes extends JSONCache {
      constructor() {
        super({ dataId: "quotes", directory: tempDir(), dynamodbTable: table, dynamodbEndpoint: at, dynamodbTimeout: 500, logging: false });
      }
      @Cached() async quote(n: number) {
        return n * 10;
      }
    }
    const quotes = new Quotes();
    await quotes.quote(0);
    expect(await savedWithin(quotes)).toBe(true);
    server.process.kill("SIGSTOP");
    try {
      for (const x of [1, 2, 3]) await quotes.quote(x);
    } finally {
      server.process.kill("SIGCONT");
    }
    let statuses: (string | null)[] = [];
    for (let attempt = 0; attempt < 60; attempt++) {
      await sleep(1000);
      statuses = (await freshMachine(table, at, [1, 2, 3])).statuses;
      if (statuses.every((s) => s === "l2")) break;
    }
    expect(statuses).toEqual(["l2", "l2", "l2"]);
  }, 120_000);
});

describe("what is unsent when a program ends is sent", () => {
  const PROGRAM = `
    import { JSONCache, Cached } from "cacherator";
    class Quotes extends JSONCache {
      constructor() { super({ dataId: "quotes", dynamodbTable: process.env.TABLE, dynamodbEndpoint: process.env.ENDPOINT, saveOnDel: process.env.SAVE === "1", logging: false }); }
      @Cached() quote(n: number) { return n * 10; }
    }
    const quotes = new Quotes();
    if (process.env.MODE === "compute") quotes.quote(7);
    process.exit(0);
  `;

  it("a result computed just before process.exit(0), never saved, reaches DynamoDB", async () => {
    const table = newTable();
    const run = await runProgram(PROGRAM, { cwd: tempDir(), env: { ...AWS_ENV, TABLE: table, ENDPOINT: endpoint, MODE: "compute" } });
    expect(run.code, run.stderr).toBe(0);
    expect(await freshMachine(table, endpoint, [7])).toEqual({ values: [70], statuses: ["l2"] });
  });

  it("saveOnDel with process.exit(0): the local results DynamoDB lacks reach it; without saveOnDel they do not", async () => {
    const run = async (saveOnDel: boolean) => {
      const table = newTable();
      const cwd = tempDir();
      const hourAgo = Date.now() - 3_600_000;
      mkdirSync(join(cwd, "data/cache"), { recursive: true });
      writeFileSync(join(cwd, "data/cache/quotes.json"), serializeCacheFile("quotes", [["quote(5,){}", entryText(50, hourAgo, false)]], new Map(), hourAgo));
      const result = await runProgram(PROGRAM, { cwd, env: { ...AWS_ENV, TABLE: table, ENDPOINT: endpoint, SAVE: saveOnDel ? "1" : "0", MODE: "idle" } });
      expect(result.code, result.stderr).toBe(0);
      return freshMachine(table, endpoint, [5]);
    };
    expect(await run(true)).toEqual({ values: [50], statuses: ["l2"] });
    expect(await run(false)).toEqual({ values: [-5], statuses: ["miss"] });
  });
});
