/**
 * The DynamoDB L2 tier against AWS's DynamoDB Local (started by test/setup/dynamodb.ts): table creation,
 * entries and state, expiry, conditional writes, listing and removal, scale, and faults (a server killed
 * or paused mid-run, missing SDK, missing credentials or region). Faults the real server cannot produce
 * on demand (throttling) are injected into a real client's middleware.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient, GetItemCommand, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { CacheLog } from "../src/logger.js";
import { encodeEntryItem } from "../src/store/dynamodb-format.js";
import { createDynamoDBTier, type DynamoDBTier, type DynamoDBTierOptions, type L2Outcome, type RemoteEntry } from "../src/store/dynamodb/index.js";
import { recordingLogger, tempDir, type RecordedLogger } from "./helpers.js";
import { startDynamoDBLocal, waitForDynamoDB, type DynamoDBLocal } from "./setup/dynamodb.js";

// DynamoDB Local accepts any credentials; these keep the SDK from looking anywhere else (no instance metadata).
process.env.AWS_ACCESS_KEY_ID = "local";
process.env.AWS_SECRET_ACCESS_KEY = "local";
process.env.AWS_REGION = "us-east-1";
process.env.AWS_EC2_METADATA_DISABLED = "true";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const endpoint = inject("dynamodbEndpoint");
const DAY = 86_400_000;
/** "Returned within a generous bound" for a 1 s timeout. */
const BOUND_MS = 5000;

let raw: DynamoDBClient;
let tableCount = 0;
const open: DynamoDBTier[] = [];

function newTable(): string {
  return `cacherator-test-${process.pid}-${Date.now().toString(36)}-${++tableCount}`;
}

function makeTier(options: Partial<DynamoDBTierOptions> = {}): { tier: DynamoDBTier; logger: RecordedLogger; table: string } {
  const logger = recordingLogger();
  const table = options.table ?? newTable();
  const tier = createDynamoDBTier({ table, endpoint, log: new CacheLog(true, logger, "debug"), ...options });
  open.push(tier);
  return { tier, logger, table };
}

function entry(key: string, value: unknown, time = Date.now(), async = false): RemoteEntry {
  return { key, text: JSON.stringify(value), time, async };
}

function value<T>(outcome: L2Outcome<T>): T {
  if (!outcome.ok) throw new Error(`L2 outcome not ok: ${outcome.reason}: ${outcome.message}`);
  return outcome.value;
}

function warnings(logger: RecordedLogger): string[] {
  return logger.messages.filter((m) => m.level === "warn").map((m) => m.message);
}

async function timed<T>(call: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = Date.now();
  const result = await call();
  return { result, ms: Date.now() - start };
}

/**
 * A freshly started server (the Java JIT still cold) can take seconds to create its first tables, far
 * more than a request timeout, on a busy machine. The tests do not measure that: every server first
 * creates a table of its own, and each fault test's table is created (by a tier with a generous timeout)
 * and checked by the test's tier before anything is measured. Anything that tier logged while getting
 * there is forgotten.
 */
const TABLE_READY_MS = 30_000;

async function prepared(table: string, at: string): Promise<void> {
  const tier = createDynamoDBTier({ table, endpoint: at, timeoutMs: 10_000, log: new CacheLog(false) });
  try {
    value(await tier.ready(TABLE_READY_MS));
  } finally {
    tier.close();
  }
}

async function warmUp(at: string): Promise<void> {
  await prepared(newTable(), at);
}

async function tableReady({ tier, table, logger }: { tier: DynamoDBTier; table: string; logger: RecordedLogger }, at = endpoint): Promise<void> {
  await prepared(table, at);
  expect(await eventually(async () => (await tier.ready()).ok, TABLE_READY_MS)).toBe(true);
  logger.messages.length = 0;
  CacheLog.resetReported();
}

/** Calls `attempt` every 200 ms until it returns true or `limitMs` passes. */
async function eventually(attempt: () => Promise<boolean>, limitMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await attempt()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

async function rawItem(table: string, dataId: string, sortKey: string) {
  return (await raw.send(new GetItemCommand({ TableName: table, Key: { cache_id: { S: dataId }, entry: { S: sortKey } } }))).Item;
}

/** Runs a TypeScript (ESM) program with node + tsx; stdout's last line parsed as JSON. */
function runScript(source: string, env: NodeJS.ProcessEnv, dir = tempDir("cacherator-ddb-")): Promise<{ code: number | null; out: unknown; stderr: string }> {
  writeFileSync(join(dir, "package.json"), '{"type":"module"}');
  const file = join(dir, "program.ts");
  writeFileSync(file, source);
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", TSX, file], { cwd: dir, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const last = stdout.trim().split("\n").at(-1) ?? "";
      let out: unknown;
      try {
        out = JSON.parse(last);
      } catch {
        out = undefined;
      }
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, stderr });
    });
  });
}

const moduleUrl = (path: string) => pathToFileURL(join(ROOT, path)).href;

beforeAll(async () => {
  await waitForDynamoDB(endpoint);
  // The shared server may have just started: its first table creation is not what the tests time.
  await warmUp(endpoint);
  raw = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
}, 120_000);

afterAll(() => raw?.destroy());

beforeEach(() => CacheLog.resetReported());

afterEach(() => {
  for (const tier of open.splice(0)) tier.close();
});

describe("the table is created on first use", () => {
  it("constructing a tier contacts nobody; the first operation creates the table with cache_id/entry keys, on-demand billing and TTL on ttl", async () => {
    const { tier, logger, table } = makeTier();
    await new Promise((resolve) => setImmediate(resolve));
    expect((await raw.send(new ListTablesCommand({}))).TableNames).not.toContain(table);

    expect(value(await tier.get("obj", "f(){}"))).toBeUndefined();
    const description = (await raw.send(new DescribeTableCommand({ TableName: table }))).Table;
    expect(description?.TableStatus).toBe("ACTIVE");
    expect(description?.KeySchema).toEqual(
      expect.arrayContaining([
        { AttributeName: "cache_id", KeyType: "HASH" },
        { AttributeName: "entry", KeyType: "RANGE" },
      ]),
    );
    expect(description?.BillingModeSummary?.BillingMode).toBe("PAY_PER_REQUEST");
    const ttl = (await raw.send(new DescribeTimeToLiveCommand({ TableName: table }))).TimeToLiveDescription;
    expect(ttl).toMatchObject({ TimeToLiveStatus: "ENABLED", AttributeName: "ttl" });
    expect(logger.messages.some((m) => m.level === "info" && m.message.includes("creating") && m.message.includes(table))).toBe(true);
    expect(warnings(logger)).toEqual([]);
  });

  it("several tiers creating the same table at once in one process all get a working table", async () => {
    const table = newTable();
    // Different timeouts give each tier its own connection, so each one checks and creates the table itself.
    const tiers = [1000, 1001, 1002, 1003, 1004].map((timeoutMs) => makeTier({ table, timeoutMs }));
    const ready = await Promise.all(tiers.map(({ tier }) => tier.ready(10_000)));
    expect(ready.every((r) => r.ok)).toBe(true);
    await Promise.all(tiers.map(({ tier }, i) => tier.put("shared", entry(`who(${i},){}`, i), DAY)));
    expect(value(await tiers[0]!.tier.count("shared")).totalEntries).toBe(5);
    expect(tiers.flatMap(({ logger }) => warnings(logger))).toEqual([]);
  });

  it("several processes starting at once on a missing table all get a working table", async () => {
    const table = newTable();
    const source = `
      import { createDynamoDBTier } from ${JSON.stringify(moduleUrl("src/store/dynamodb/index.ts"))};
      import { CacheLog } from ${JSON.stringify(moduleUrl("src/logger.ts"))};
      const messages: string[] = [];
      const at = (level: string) => (m: string) => void messages.push(level + ": " + m);
      const log = new CacheLog(true, { debug() {}, info: at("info"), warn: at("warn"), error: at("error") }, "debug");
      const tier = createDynamoDBTier({ table: process.env.TABLE!, endpoint: process.env.ENDPOINT, log });
      const ready = await tier.ready(30000);
      const put = await tier.put("shared", { key: "who(" + process.env.WHO + ",){}", text: "1", time: Date.now(), async: false }, 60000);
      tier.close();
      console.log(JSON.stringify({ ready, put, messages }));
    `;
    const runs = await Promise.all([0, 1, 2, 3].map((who) => runScript(source, { ...process.env, TABLE: table, ENDPOINT: endpoint, WHO: String(who) })));
    for (const run of runs) {
      expect(run.out, run.stderr).toMatchObject({ ready: { ok: true }, put: { ok: true, value: "written" } });
      expect((run.out as { messages: string[] }).messages.filter((m) => m.startsWith("warn"))).toEqual([]);
    }
    const { tier } = makeTier({ table });
    expect(value(await tier.count("shared"))).toEqual({ totalEntries: 4, functions: { who: 4 } });
  });

  it("a table with another key schema is refused with one warning that says what is needed", async () => {
    const table = newTable();
    await raw.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: "cache_id", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "cache_id", KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    const { tier, logger } = makeTier({ table });
    const first = await tier.put("obj", entry("f(){}", 1), DAY);
    const second = await tier.get("obj", "f(){}");
    expect(first).toMatchObject({ ok: false, reason: "table-schema" });
    expect(second).toMatchObject({ ok: false, reason: "table-schema" });
    expect(warnings(logger)).toHaveLength(1);
    expect(warnings(logger)[0]).toMatch(/"cache_id".*"entry"/);
  });

  it("an invalid table name is refused without contacting DynamoDB, with one warning", async () => {
    const { tier, logger } = makeTier({ table: "no spaces allowed" });
    expect(await tier.get("obj", "f(){}")).toMatchObject({ ok: false, reason: "table-name" });
    expect(await tier.put("obj", entry("f(){}", 1), DAY)).toMatchObject({ ok: false, reason: "table-name" });
    expect(warnings(logger)).toHaveLength(1);
  });
});

describe("entries round-trip through DynamoDB", () => {
  it("a value is read back with its key, JSON text, computation time and async flag", async () => {
    const { tier } = makeTier();
    const written = entry("fetch('foo',){}", { $cacherator: "date", v: "2024-01-01T00:00:00.000Z" }, Date.now() - 5000, true);
    expect(value(await tier.put("Feed_1", written, DAY))).toBe("written");
    expect(value(await tier.get("Feed_1", "fetch('foo',){}"))).toEqual(written);
    expect(value(await tier.get("Feed_1", "fetch('bar',){}"))).toBeUndefined();
    expect(value(await tier.get("Other", "fetch('foo',){}"))).toBeUndefined();
  });

  it("a 50 KB entry is stored as plain text and a 300 KB compressible one gzip-compressed; both read back unchanged", async () => {
    const { tier, table } = makeTier();
    const fifty = entry("page(1,){}", randomBytes(37_000).toString("base64")); // ~50 KB of text
    const big = entry("page(2,){}", "0123456789abcdef".repeat(19_000)); // ~300 KB, compressible
    expect(value(await tier.put("obj", fifty, DAY))).toBe("written");
    expect(value(await tier.put("obj", big, DAY))).toBe("written");
    expect(value(await tier.get("obj", fifty.key))).toEqual(fifty);
    expect(value(await tier.get("obj", big.key))).toEqual(big);
    const rawFifty = await rawItem(table, "obj", "f#page(1,){}");
    const rawBig = await rawItem(table, "obj", "f#page(2,){}");
    expect(rawFifty?.value?.S).toBe(fifty.text);
    expect(rawBig?.value).toBeUndefined();
    expect(rawBig?.value_gz?.B).toBeInstanceOf(Uint8Array);
  });

  it("an entry over 400 KB even compressed is not sent: too-large, one warning per function", async () => {
    const { tier, logger, table } = makeTier();
    expect((await tier.ready()).ok).toBe(true);
    const first = await tier.put("obj", entry("blob(1,){}", randomBytes(450_000).toString("base64")), DAY);
    const second = await tier.put("obj", entry("blob(2,){}", randomBytes(450_000).toString("base64")), DAY);
    expect(value(first)).toBe("too-large");
    expect(value(second)).toBe("too-large");
    expect(warnings(logger)).toHaveLength(1);
    expect(warnings(logger)[0]).toContain("blob");
    expect(await rawItem(table, "obj", "f#blob(1,){}")).toBeUndefined();
    expect(value(await tier.get("obj", "blob(1,){}"))).toBeUndefined();
  });

  it("an entry over 16 MB of JSON is not sent although it compresses to a few KB; an item a peer wrote that inflates past that is not read", async () => {
    const { tier, logger, table } = makeTier();
    expect((await tier.ready()).ok).toBe(true);
    const huge = entry("dump(1,){}", "0123456789abcdef".repeat(1_100_000)); // 17.6 MB of JSON, ~50 KB gzipped
    expect(value(await tier.put("obj", huge, DAY))).toBe("too-large");
    expect(warnings(logger)[0]).toMatch(/dump\(\) is 16\.8 MB of JSON, over the 16 MB/);
    expect(await rawItem(table, "obj", "f#dump(1,){}")).toBeUndefined();
    // A peer (another version, a bug, an attacker) writes a 300 KB bomb: 300 MB of JSON once inflated.
    const bomb = gzipSync(Buffer.alloc(300 * 1024 * 1024, 0x30), { level: 9 });
    expect(bomb.length).toBeLessThan(400 * 1024);
    const document = DynamoDBDocumentClient.from(raw);
    await document.send(new PutCommand({ TableName: table, Item: { cache_id: "obj", entry: "f#bomb(1,){}", value_gz: new Uint8Array(bomb), epoch_ms: Date.now() } }));
    await document.send(new PutCommand({ TableName: table, Item: { cache_id: "obj", entry: "f#fine(1,){}", value: "1", epoch_ms: Date.now() } }));
    expect(value(await tier.get("obj", "bomb(1,){}"))).toBeUndefined();
    expect(value(await tier.getMany("obj", ["bomb(1,){}", "fine(1,){}"])).size).toBe(1);
    expect(value(await tier.list("obj")).map((e) => e.key)).toEqual(["fine(1,){}"]);
  });

  it("an expired entry is never served, even while DynamoDB still holds it", async () => {
    const { tier, table } = makeTier();
    const time = Date.now();
    await tier.put("obj", entry("short(){}", "soon gone", time), 1000);
    await tier.put("obj", entry("long(){}", "stays", time), DAY);
    expect(value(await tier.get("obj", "short(){}"))?.text).toBe('"soon gone"');
    expect(value(await tier.count("obj")).totalEntries).toBe(2);
    const item = await rawItem(table, "obj", "f#short(){}");
    expect(Number(item?.ttl?.N)).toBe(Math.ceil((time + 1000) / 1000));

    await new Promise((resolve) => setTimeout(resolve, time + 1100 - Date.now()));
    expect(await rawItem(table, "obj", "f#short(){}")).toBeDefined();
    expect(value(await tier.get("obj", "short(){}"))).toBeUndefined();
    expect(value(await tier.getMany("obj", ["short(){}", "long(){}"])).size).toBe(1);
    expect(value(await tier.list("obj")).map((e) => e.key)).toEqual(["long(){}"]);
    expect(value(await tier.count("obj"))).toEqual({ totalEntries: 1, functions: { long: 1 } });
  });

  it("an entry with an infinite TTL has no ttl attribute and is served", async () => {
    const { tier, table } = makeTier();
    await tier.put("obj", entry("forever(){}", 1), Infinity);
    expect((await rawItem(table, "obj", "f#forever(){}"))?.ttl).toBeUndefined();
    expect(value(await tier.get("obj", "forever(){}"))?.text).toBe("1");
  });

  it("a write never replaces a remote entry computed at the same time or later (newer-remote)", async () => {
    const { tier } = makeTier();
    const t = Date.now();
    expect(value(await tier.put("obj", entry("f(){}", "new", t), DAY))).toBe("written");
    expect(value(await tier.put("obj", entry("f(){}", "old", t - 1000), DAY))).toBe("newer-remote");
    expect(value(await tier.put("obj", entry("f(){}", "same time", t), DAY))).toBe("newer-remote");
    expect(value(await tier.get("obj", "f(){}"))?.text).toBe('"new"');
    expect(value(await tier.put("obj", entry("f(){}", "newest", t + 1000), DAY))).toBe("written");
    expect(value(await tier.get("obj", "f(){}"))?.text).toBe('"newest"');
  });

  it("getMany reads hundreds of keys in batches, leaving out absent ones and tolerating duplicates", async () => {
    const { tier } = makeTier();
    const keys = Array.from({ length: 250 }, (_, i) => `item(${i},){}`);
    await forEachLimit(keys.filter((_, i) => i % 2 === 0), 32, (key) => tier.put("obj", entry(key, key), DAY));
    const found = value(await tier.getMany("obj", [...keys, ...keys.slice(0, 10)]));
    expect(found.size).toBe(125);
    expect(found.get("item(0,){}")?.text).toBe(JSON.stringify("item(0,){}"));
    expect(found.has("item(1,){}")).toBe(false);
  });

  it("object state is written and read back, compressed when large", async () => {
    const { tier } = makeTier();
    expect(value(await tier.getState("obj"))).toBeUndefined();
    const small = JSON.stringify({ score: 3 });
    expect(value(await tier.putState("obj", small))).toBe("written");
    expect(value(await tier.getState("obj"))).toBe(small);
    const large = JSON.stringify({ notes: "abc".repeat(60_000) });
    expect(value(await tier.putState("obj", large))).toBe("written");
    expect(value(await tier.getState("obj"))).toBe(large);
    // The state item is not an entry.
    expect(value(await tier.count("obj")).totalEntries).toBe(0);
  });

  it("reads and writes are logged at debug when logging is on, and nothing is logged when it is off", async () => {
    const { tier, logger } = makeTier();
    await tier.put("obj", entry("f(){}", 1), DAY);
    await tier.get("obj", "f(){}");
    const debug = logger.messages.filter((m) => m.level === "debug").map((m) => m.message);
    expect(debug.some((m) => m.includes("put") && m.includes("f(){}"))).toBe(true);
    expect(debug.some((m) => m.includes("get") && m.includes("hit"))).toBe(true);

    const silent = recordingLogger();
    const quiet = createDynamoDBTier({ table: newTable(), endpoint, log: new CacheLog(false, silent) });
    open.push(quiet);
    await quiet.put("obj", entry("f(){}", 1), DAY);
    await quiet.get("obj", "f(){}");
    expect(silent.messages).toEqual([]);
  });
});

describe("one object's entries are listed, counted and removed without a scan", () => {
  it("fetch and fetchAll are told apart; another object and the state are untouched", async () => {
    const { tier } = makeTier();
    await tier.put("A", entry("fetch('a',){}", 1), DAY);
    await tier.put("A", entry("fetch('b',){}", 2), DAY);
    await tier.put("A", entry("fetchAll(){}", 3), DAY);
    await tier.put("B", entry("fetch('a',){}", 4), DAY);
    await tier.putState("A", '{"score": 1}');

    expect(value(await tier.count("A"))).toEqual({ totalEntries: 3, functions: { fetch: 2, fetchAll: 1 } });
    expect(value(await tier.remove("A", "fetch"))).toBe(2);
    expect(value(await tier.count("A"))).toEqual({ totalEntries: 1, functions: { fetchAll: 1 } });
    expect(value(await tier.list("A")).map((e) => e.key)).toEqual(["fetchAll(){}"]);
    expect(value(await tier.remove("A"))).toBe(1);
    expect(value(await tier.count("A")).totalEntries).toBe(0);
    expect(value(await tier.getState("A"))).toBe('{"score": 1}');
    expect(value(await tier.list("B")).map((e) => e.text)).toEqual(["4"]);
  });

  it("an object with 10,000 entries is counted, listed across pages, read in batches and removed", async () => {
    // Pages of 1 MB from a Java server on a busy 2-core machine can take past the 1 s default: this
    // test is about paging and batching, not about the timeout (the fault tests below are).
    const { tier, table } = makeTier({ timeoutMs: 10_000 });
    const keys = Array.from({ length: 10_000 }, (_, i) => `row(${i},){}`);
    const padding = "x".repeat(200); // 10,000 × ~300 bytes: the listing spans several 1 MB pages
    // DynamoDB Local takes ~2 ms per conditional PutItem: most entries are written as the module lays
    // them out, 25 per BatchWriteItem; the last 300 go through the tier's own (conditional) put.
    expect((await tier.ready()).ok).toBe(true);
    const time = Date.now();
    const batches: string[][] = [];
    for (let i = 0; i < 9_700; i += 25) batches.push(keys.slice(i, Math.min(i + 25, 9_700)));
    const doc = DynamoDBDocumentClient.from(raw);
    await forEachLimit(batches, 8, async (batch) => {
      let requests = batch.map((key) => ({ PutRequest: { Item: encodeEntryItem("big", entry(key, { key, padding }, time), DAY).item } }));
      while (requests.length > 0) {
        const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
        requests = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
      }
    });
    const outcomes = await forEachLimit(keys.slice(9_700), 16, (key) => tier.put("big", entry(key, { key, padding }, time), DAY));
    expect(outcomes.filter((o) => !o.ok || o.value !== "written")).toEqual([]);
    await tier.put("big", entry("other(){}", 0), DAY);

    expect(value(await tier.count("big"))).toEqual({ totalEntries: 10_001, functions: { row: 10_000, other: 1 } });
    const listed = value(await tier.list("big"));
    expect(listed).toHaveLength(10_001);
    expect(new Set(listed.map((e) => e.key)).size).toBe(10_001);
    const read = value(await tier.getMany("big", keys));
    expect(read.size).toBe(10_000);
    expect(JSON.parse(read.get("row(9999,){}")!.text)).toEqual({ key: "row(9999,){}", padding });

    expect(value(await tier.remove("big", "row"))).toBe(10_000);
    expect(value(await tier.count("big"))).toEqual({ totalEntries: 1, functions: { other: 1 } });
  });
});

describe("faults: every call returns within the timeout bound, each cause is logged once, and use resumes", () => {
  let own: DynamoDBLocal | undefined;

  beforeAll(async () => {
    own = await startDynamoDBLocal();
    await waitForDynamoDB(own.endpoint);
    await warmUp(own.endpoint);
  }, 120_000);

  afterAll(async () => {
    await own?.stop();
  });

  it("a paused server (SIGSTOP): calls time out within the bound, later ones fail at once, and use resumes after SIGCONT", async () => {
    const local = own!;
    const made = makeTier({ endpoint: local.endpoint });
    const { tier, logger } = made;
    await tableReady(made, local.endpoint);
    const stored = entry("f(){}", "kept");
    expect(value(await tier.put("obj", stored, DAY))).toBe("written");

    local.process.kill("SIGSTOP");
    try {
      const { result: stalled, ms } = await timed(() => Promise.all([tier.get("obj", "f(){}"), tier.put("obj", entry("g(){}", 1), DAY), tier.count("obj")]));
      expect(ms).toBeLessThan(BOUND_MS);
      expect(stalled.map((o) => o.ok)).toEqual([false, false, false]);
      expect(stalled.map((o) => (o.ok ? "" : o.reason))).toContain("timeout");
      const { result: refused, ms: refusedMs } = await timed(() => tier.list("obj"));
      expect(refused).toMatchObject({ ok: false, reason: "circuit-open" });
      expect(refusedMs).toBeLessThan(BOUND_MS);
      expect(warnings(logger)).toHaveLength(1);
      expect(warnings(logger)[0]).toMatch(/no answer/);
    } finally {
      local.process.kill("SIGCONT");
    }

    let back: L2Outcome<RemoteEntry | undefined> | undefined;
    expect(await eventually(async () => (back = await tier.get("obj", "f(){}")).ok)).toBe(true);
    expect(back).toEqual({ ok: true, value: stored });
    expect(logger.messages.some((m) => m.level === "info" && m.message.includes("reachable again"))).toBe(true);
    expect(warnings(logger)).toHaveLength(1);
  }, 90_000);

  it("a killed server (SIGKILL): calls fail within the bound, logged once; after a restart the table is re-created and use resumes", async () => {
    const local = own!;
    const made = makeTier({ endpoint: local.endpoint, timeoutMs: 500 });
    const { tier, logger } = made;
    await tableReady(made, local.endpoint);
    expect(value(await tier.put("obj", entry("f(){}", 1), DAY))).toBe("written");

    local.process.kill("SIGKILL");
    await new Promise((resolve) => local.process.once("exit", resolve));
    const calls: (() => Promise<L2Outcome<unknown>>)[] = [
      () => tier.get("obj", "f(){}"),
      () => tier.put("obj", entry("g(){}", 2), DAY),
      () => tier.list("obj"),
      () => tier.getMany("obj", ["f(){}"]),
      () => tier.getState("obj"),
      () => tier.remove("obj"),
    ];
    for (const call of calls) {
      const { result, ms } = await timed(call);
      expect(result.ok).toBe(false);
      expect(ms).toBeLessThan(BOUND_MS);
    }
    expect(warnings(logger)).toHaveLength(1);
    expect(warnings(logger)[0]).toMatch(/cannot connect/);

    own = await startDynamoDBLocal({ port: local.port });
    await waitForDynamoDB(own.endpoint);
    await warmUp(own.endpoint); // another table: the tier's own is still missing
    // The restarted in-memory server has no table: the tier re-creates it once the cool-down has passed.
    expect(await eventually(async () => (await tier.put("obj", entry("h(){}", 3), DAY)).ok)).toBe(true);
    expect(value(await tier.get("obj", "h(){}"))?.text).toBe("3");
    expect(logger.messages.some((m) => m.level === "info" && m.message.includes("reachable again"))).toBe(true);
  }, 90_000);

  it("a server that never listened: unreachable at once, then refused during the cool-down, logged once", async () => {
    const { tier, logger } = makeTier({ endpoint: "http://127.0.0.1:9" });
    const first = await timed(() => tier.get("obj", "f(){}"));
    expect(first.result).toMatchObject({ ok: false, reason: "unreachable" });
    expect(first.ms).toBeLessThan(BOUND_MS);
    expect(await tier.put("obj", entry("f(){}", 1), DAY)).toMatchObject({ ok: false, reason: "circuit-open" });
    expect(warnings(logger)).toHaveLength(1);
  });

  it("throttling (injected into a caller's client): reported as throttled, logged once, and use resumes once it stops", async () => {
    let throttling = true;
    const client = new DynamoDBClient({ endpoint, region: "us-east-1", maxAttempts: 1 });
    client.middlewareStack.add(
      (next) => async (args) => {
        if (throttling) throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException", $metadata: { httpStatusCode: 400 } });
        return next(args);
      },
      { step: "build", name: "injectThrottling" },
    );
    const { tier, logger } = makeTier({ client });
    const first = await timed(() => tier.put("obj", entry("f(){}", 1), DAY));
    expect(first.result).toMatchObject({ ok: false, reason: "throttled" });
    expect(first.ms).toBeLessThan(BOUND_MS);
    expect(await tier.get("obj", "f(){}")).toMatchObject({ ok: false, reason: "circuit-open" });
    expect(warnings(logger)).toHaveLength(1);

    throttling = false;
    expect(await eventually(async () => (await tier.put("obj", entry("f(){}", 1), DAY)).ok)).toBe(true);
    expect(value(await tier.get("obj", "f(){}"))?.text).toBe("1");
    tier.close();
    // The caller's client is the caller's: closing the tier leaves it usable.
    expect((await client.send(new ListTablesCommand({}))).TableNames).toBeDefined();
    client.destroy();
  });

  it("missing credentials and a missing region are reported within the bound, without contacting anything else", async () => {
    const home = tempDir("cacherator-ddb-home-");
    const bare = {
      PATH: process.env.PATH,
      HOME: home,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_CONFIG_FILE: join(home, "none"),
      AWS_SHARED_CREDENTIALS_FILE: join(home, "none"),
      ENDPOINT: endpoint,
    };
    const source = `
      import { createDynamoDBTier } from ${JSON.stringify(moduleUrl("src/store/dynamodb/index.ts"))};
      import { CacheLog } from ${JSON.stringify(moduleUrl("src/logger.ts"))};
      const warnings: string[] = [];
      const log = new CacheLog(true, { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {} });
      const tier = createDynamoDBTier({ table: "cacherator-no-access", endpoint: process.env.ENDPOINT, log });
      const start = Date.now();
      const first = await tier.get("obj", "f(){}");
      const ms = Date.now() - start;
      const second = await tier.get("obj", "f(){}");
      tier.close();
      console.log(JSON.stringify({ first, second, ms, warnings }));
    `;
    const [noCredentials, noRegion] = await Promise.all([
      runScript(source, { ...bare, AWS_REGION: "us-east-1" }),
      runScript(source, { ...bare, AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" }),
    ]);
    expect(noCredentials.out, noCredentials.stderr).toMatchObject({ first: { ok: false, reason: "credentials" }, second: { ok: false, reason: "circuit-open" } });
    expect(noRegion.out, noRegion.stderr).toMatchObject({ first: { ok: false, reason: "region" }, second: { ok: false, reason: "circuit-open" } });
    for (const run of [noCredentials, noRegion]) {
      const out = run.out as { ms: number; warnings: string[] };
      expect(out.ms).toBeLessThan(BOUND_MS);
      expect(out.warnings).toHaveLength(1);
    }
  });

  it("without the AWS SDK installed, operations say what to install, logged once", async () => {
    // The module copied where no node_modules can be found: its lazy import of the SDK fails for real.
    const dir = tempDir("cacherator-ddb-nosdk-");
    mkdirSync(join(dir, "store/dynamodb"), { recursive: true });
    copyFileSync(join(ROOT, "src/store/dynamodb-format.ts"), join(dir, "store/dynamodb-format.ts"));
    copyFileSync(join(ROOT, "src/errors.ts"), join(dir, "errors.ts"));
    for (const file of readdirSync(join(ROOT, "src/store/dynamodb"))) copyFileSync(join(ROOT, "src/store/dynamodb", file), join(dir, "store/dynamodb", file));
    const source = `
      import { createDynamoDBTier } from "./store/dynamodb/index.ts";
      const warnings: string[] = [];
      const log = { write() {}, once(_level: string, cause: string, message: string) { if (!warnings.some((w) => w.startsWith(cause))) warnings.push(cause + " " + message); } };
      const tier = createDynamoDBTier({ table: "cacherator-any", log: log as never });
      const first = await tier.get("obj", "f(){}");
      const second = await tier.put("obj", { key: "f(){}", text: "1", time: Date.now(), async: false }, 1000);
      console.log(JSON.stringify({ first, second, warnings }));
    `;
    const run = await runScript(source, { PATH: process.env.PATH }, dir);
    expect(run.out, run.stderr).toMatchObject({ first: { ok: false, reason: "sdk-missing" }, second: { ok: false, reason: "sdk-missing" } });
    const out = run.out as { first: { message: string }; warnings: string[] };
    expect(out.first.message).toContain("npm install @aws-sdk/client-dynamodb @aws-sdk/lib-dynamodb");
    expect(out.warnings).toHaveLength(1);
    expect(out.warnings[0]).toContain("npm install @aws-sdk/client-dynamodb @aws-sdk/lib-dynamodb");
  });

  it("a table deleted behind the tier's back is re-created by a later call", async () => {
    const made = makeTier();
    const { tier, table } = made;
    await tableReady(made);
    expect(value(await tier.put("obj", entry("f(){}", 1), DAY))).toBe("written");
    await raw.send(new DeleteTableCommand({ TableName: table }));
    expect(await tier.get("obj", "f(){}")).toMatchObject({ ok: false, reason: "table-missing" });
    expect(value(await tier.put("obj", entry("f(){}", 2), DAY))).toBe("written");
    expect(value(await tier.get("obj", "f(){}"))?.text).toBe("2");
  }, 60_000);
});

/** Runs `fn` over `items`, at most `limit` at a time; results in order. */
async function forEachLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i] as T);
      }
    }),
  );
  return results;
}
