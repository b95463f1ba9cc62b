/**
 * Clears reach every machine: "machines" are child processes with their own working directories,
 * sharing one table on DynamoDB Local. A clear made on one machine — even one that ends with
 * process.exit() right after — stops every other machine from serving what was computed before it:
 * a fresh machine, a running one (within `dynamodbClearCheck`), one that was off during the clear, and
 * any machine reading an entry that reaches DynamoDB computed before the clear.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { encodeValue } from "../src/codec.js";
import { callKey } from "../src/keys/call-key.js";
import { encodeEntryItem } from "../src/store/dynamodb-format.js";
import { DEFAULT_CLEAR_CHECK_MS } from "../src/store/dynamodb/clears.js";
import { runProgram, tempDir, type RunResult } from "./helpers.js";
import { waitForDynamoDB } from "./setup/dynamodb.js";

const endpoint = inject("dynamodbEndpoint");
const AWS_ENV = { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" };
Object.assign(process.env, AWS_ENV);
const ROOT = join(import.meta.dirname, "..");

let tables = 0;
const newTable = () => `cacherator-clears-${process.pid}-${Date.now().toString(36)}-${++tables}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One machine. MODE:
 * - compute: scrape(1) and scrape(2), then a save; prints statuses and whether the save says both tiers hold them.
 * - read: scrape(1) and scrape(2) right away (a restart or a new machine); prints statuses.
 * - read-after-check: the same after `await jsonCachePreload()` (which waits for the start-up clear check).
 * - clear: `await jsonCacheClear("scrape")`; prints when it resolved.
 * - clear-exit: `jsonCacheClear("scrape")` not awaited, `await jsonCacheSave()`, then process.exit(0).
 * - clear-exit-unsaved: `jsonCacheClear("scrape")` not awaited, then process.exit(0) at once.
 * - watch: computes scrape(1) and scrape(2), saves, creates the file "ready", then calls scrape(1)
 *   every 50 ms until a call is a miss (at most WATCH_MS); prints when, then saves.
 * - local: the same directory without the table: what the local file alone holds.
 * Each scrape() result carries the instant it was computed.
 */
const MACHINE = `
  import { writeFileSync } from "node:fs";
  import { JSONCache, Cached } from "cacherator";
  let runs = 0;
  const env = process.env;
  class Scraper extends JSONCache {
    constructor() {
      super({
        dataId: "scraper",
        dynamodbTable: env.MODE === "local" ? undefined : env.TABLE,
        dynamodbEndpoint: env.ENDPOINT,
        // Generous: a machine may be the first to use a table on a busy server.
        dynamodbTimeout: 5000,
        ...(env.CLEAR_CHECK ? { dynamodbClearCheck: Number(env.CLEAR_CHECK) } : {}),
        logging: false,
      });
    }
    @Cached() async scrape(x: number) { runs++; return { x, at: Date.now() }; }
  }
  const s = new Scraper();
  const mode = env.MODE;
  const out: Record<string, unknown> = { mode };
  const statusOf = async (x: number) => { const value = await s.scrape(x); return { status: s.lastCacheStatus, at: value.at }; };
  if (mode === "compute" || mode === "watch") {
    out.first = [await statusOf(1), await statusOf(2)];
    out.saved = await s.jsonCacheSave();
  }
  if (mode === "read-after-check") { await s.jsonCachePreload(); out.read = [await statusOf(1), await statusOf(2)]; }
  if (mode === "read" || mode === "local") out.read = [await statusOf(1), await statusOf(2)];
  if (mode === "clear") { out.cleared = await s.jsonCacheClear("scrape"); out.clearedAt = Date.now(); }
  if (mode === "clear-exit") { out.calledAt = Date.now(); s.jsonCacheClear("scrape"); await s.jsonCacheSave(); process.exit(0); }
  if (mode === "clear-exit-unsaved") { s.jsonCacheClear("scrape"); process.exit(0); }
  if (mode === "watch") {
    writeFileSync("ready", "");
    const deadline = Date.now() + Number(env.WATCH_MS);
    let calls = 0;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const { status } = await statusOf(1);
      calls++;
      if (status === "miss") { out.missAt = Date.now(); break; }
    }
    out.calls = calls;
    out.savedAfter = await s.jsonCacheSave();
  }
  out.runs = runs;
  console.log(JSON.stringify(out));
`;

interface Read {
  status: string;
  at: number;
}

interface Output {
  first?: Read[];
  saved?: boolean;
  read?: Read[];
  cleared?: boolean;
  clearedAt?: number;
  missAt?: number;
  calls?: number;
  savedAfter?: boolean;
  runs: number;
}

function machine(mode: string, table: string, cwd: string, env: Record<string, string> = {}): Promise<RunResult> {
  return runProgram(MACHINE, { cwd, env: { ...AWS_ENV, TABLE: table, ENDPOINT: endpoint, MODE: mode, ...env }, timeoutMs: 60_000 });
}

async function output(run: Promise<RunResult>): Promise<Output> {
  const result = await run;
  expect(result.code, result.stderr).toBe(0);
  expect(result.lines, result.stdout + result.stderr).toHaveLength(1);
  return result.lines[0] as Output;
}

/** A machine computes scrape(1) and scrape(2) and saves; both tiers hold them. */
async function computeOn(table: string, cwd = tempDir()): Promise<string> {
  const computed = await output(machine("compute", table, cwd));
  expect(computed).toMatchObject({ first: [{ status: "miss" }, { status: "miss" }], saved: true });
  return cwd;
}

/** A machine that never ran reads scrape(1) and scrape(2): it proves what L2 serves. */
async function freshRead(table: string): Promise<string[]> {
  const read = await output(machine("read", table, tempDir()));
  return (read.read ?? []).map((r) => r.status);
}

let doc: DynamoDBDocumentClient;

beforeAll(async () => {
  await waitForDynamoDB(endpoint);
  doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } }));
});

afterAll(() => doc?.destroy());

describe("a clear made on one machine holds for the others", () => {
  it("clear not awaited, then an awaited save and process.exit(0): a third machine is not served the cleared entries", async () => {
    const table = newTable();
    await computeOn(table);
    expect(await freshRead(table)).toEqual(["l2", "l2"]); // there to be cleared
    const clearing = await machine("clear-exit", table, tempDir());
    expect(clearing.code, clearing.stderr).toBe(0);
    expect(await freshRead(table)).toEqual(["miss", "miss"]);
  });

  it("clear not awaited and not saved, then process.exit(0) at once: the exit still carries the clear to DynamoDB", async () => {
    const table = newTable();
    await computeOn(table);
    const clearing = await machine("clear-exit-unsaved", table, tempDir());
    expect(clearing.code, clearing.stderr).toBe(0);
    expect(await freshRead(table)).toEqual(["miss", "miss"]);
  });

  it("a running machine stops serving a cleared entry within dynamodbClearCheck, and its local file drops it", async () => {
    const CLEAR_CHECK_MS = 500;
    const MARGIN_MS = 2500; // one GetItem and the 50 ms between calls, on a busy machine
    const table = newTable();
    const watcherDir = tempDir();
    const watching = machine("watch", table, watcherDir, { CLEAR_CHECK: String(CLEAR_CHECK_MS), WATCH_MS: "30000" });
    const deadline = Date.now() + 40_000;
    while (!existsSync(join(watcherDir, "ready")) && Date.now() < deadline) await sleep(50);
    expect(existsSync(join(watcherDir, "ready"))).toBe(true);

    const cleared = await output(machine("clear", table, tempDir()));
    expect(cleared.cleared).toBe(true);
    const watched = await output(watching);
    expect(watched).toMatchObject({ first: [{ status: "miss" }, { status: "miss" }], saved: true, savedAfter: true });
    expect(watched.missAt, "the running machine went on serving the cleared entry").toBeDefined();
    // The clear was in DynamoDB at clearedAt: the running machine ran scrape(1) again within the bound.
    expect((watched.missAt as number) - (cleared.clearedAt as number)).toBeLessThanOrEqual(CLEAR_CHECK_MS + MARGIN_MS);
    expect(watched.runs).toBe(3);

    // Its local file alone (no table): scrape(2), computed before the clear, is gone; scrape(1) is the recomputed one.
    const local = await output(machine("local", table, watcherDir));
    expect(local.read?.map((r) => r.status)).toEqual(["l1", "miss"]);
    expect(local.read?.[0]?.at).toBeGreaterThanOrEqual((watched.first?.[0]?.at as number) + 1);
  }, 90_000);

  it("a machine that was off during the clear drops the entries of its local file once its start-up clear check is done", async () => {
    const table = newTable();
    const offDir = await computeOn(table);
    const cleared = await output(machine("clear", table, tempDir()));
    expect(cleared.cleared).toBe(true);
    const restarted = await output(machine("read-after-check", table, offDir));
    expect(restarted.read?.map((r) => r.status)).toEqual(["miss", "miss"]);
    expect(restarted.runs).toBe(2);
  });

  // Known gap: an L1 hit is answered synchronously in cached.ts, before the start-up clear check (one
  // GetItem) can answer, so the first calls of a restarted machine still get entries cleared while it
  // was off. Closing it needs the hit path of an async method with a table to wait for
  // `store.l2.clearsPending()` when it is defined and the entry came from the file (origin "l1"), then
  // look again. Flip to `it` when it does.
  it("a machine that was off during the clear does not serve the entries in its local file even on its very first calls", async () => {
    const table = newTable();
    const offDir = await computeOn(table);
    const cleared = await output(machine("clear", table, tempDir()));
    expect(cleared.cleared).toBe(true);
    const restarted = await output(machine("read", table, offDir));
    expect(restarted.read?.map((r) => r.status)).toEqual(["miss", "miss"]);
    expect(restarted.runs).toBe(2);
  });

  it("an entry that reaches DynamoDB computed before a known clear is not served", async () => {
    const table = newTable();
    await computeOn(table);
    const cleared = await output(machine("clear", table, tempDir()));
    const clearedAt = cleared.clearedAt as number;
    // A result computed before the clear, written after it (a late write-behind, or a machine whose
    // clear check has not run yet): DynamoDB holds it again.
    const computedAt = clearedAt - 2000;
    const entry = { key: callKey("scrape", [1]), text: JSON.stringify(encodeValue({ x: 1, at: computedAt })), time: computedAt, async: true };
    await doc.send(new PutCommand({ TableName: table, Item: encodeEntryItem("scraper", entry, 86_400_000).item }));
    expect(await freshRead(table)).toEqual(["miss", "miss"]);
  });
});

describe("the clear check's interval", () => {
  it("defaults to 10,000 ms, as documented in the option, the README and the architecture notes", () => {
    expect(DEFAULT_CLEAR_CHECK_MS).toBe(10_000);
    const option = readFileSync(join(ROOT, "src/options.ts"), "utf8");
    expect(option).toMatch(/Default `10000`\.\s*\*\/\s*dynamodbClearCheck\?: number;/);
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme).toMatch(/`dynamodbClearCheck`\s+ms \(default 10,000\)/);
    expect(readFileSync(join(ROOT, "docs/ARCHITECTURE.md"), "utf8")).toMatch(/`dynamodbClearCheck` \(default 10,000 ms\)/);
  });
});
