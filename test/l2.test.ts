/**
 * The L2 tier through JSONCache and @Cached, as users meet it: two "machines" (processes with their own
 * local directories) sharing one DynamoDB table on DynamoDB Local, started by test/setup/dynamodb.ts.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { createDynamoDBTier } from "../src/store/dynamodb/index.js";
import { recordingLogger, runProgram, tempDir } from "./helpers.js";
import { startDynamoDBLocal, waitForDynamoDB, type DynamoDBLocal } from "./setup/dynamodb.js";

const endpoint = inject("dynamodbEndpoint");
const AWS_ENV = { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" };
Object.assign(process.env, AWS_ENV);

let tables = 0;
const newTable = () => `cacherator-l2-${process.pid}-${Date.now().toString(36)}-${++tables}`;

/** The seed's WebScraper, with a counter of real scrapes; one process is one machine. */
const SCRAPER = `
  import { JSONCache, Cached } from "cacherator";
  let scrapes = 0;
  class WebScraper extends JSONCache {
    declare visits: number;
    constructor() {
      // A generous timeout: these tests are about sharing, and a loaded machine can make DynamoDB Local's
      // first answers (creating the table) slower than the default second.
      super({ dataId: "scraper", dynamodbTable: process.env.TABLE, dynamodbEndpoint: process.env.ENDPOINT, dynamodbTimeout: 10_000 });
      this.visits ??= 0;
    }
    @Cached({ ttl: 7 }) async scrapeExpensiveData(url: string) { scrapes++; return { url, html: "<p>" + url + "</p>", at: new Date(0) }; }
    @Cached({ ttl: 7 }) parse(url: string) { scrapes++; return url.length; }
  }
  const scraper = new WebScraper();
  const mode = process.env.MODE ?? "scrape";
  const out: Record<string, unknown> = { mode };
  if (mode === "preload") out.preloaded = await scraper.jsonCachePreload();
  if (mode === "clear") out.cleared = await scraper.jsonCacheClear("scrapeExpensiveData");
  if (mode !== "clear") {
    const data = await scraper.scrapeExpensiveData("https://example.com");
    out.data = { url: data.url, html: data.html, atIsDate: data.at instanceof Date };
    out.status = scraper.lastCacheStatus;
    out.length = scraper.parse("https://example.com");
    out.parseStatus = scraper.lastCacheStatus;
    await scraper.scrapeExpensiveData("https://example.com");
    out.again = scraper.lastCacheStatus;
  }
  if (mode === "scrape") { scraper.visits += 1; out.saved = await scraper.jsonCacheSave(); }
  out.visits = scraper.visits;
  out.scrapes = scrapes;
  out.stats = await scraper.jsonCacheStats({ l2: true });
  console.log(JSON.stringify(out));
`;

function machine(mode: string, table: string, cwd = tempDir()) {
  return runProgram(SCRAPER, { cwd, env: { ...AWS_ENV, TABLE: table, ENDPOINT: endpoint, MODE: mode }, timeoutMs: 60_000 });
}

describe("two machines sharing one DynamoDB table", () => {
  it("the second machine gets the first one's result from L2 without running the method", async () => {
    const table = newTable();
    const first = await machine("scrape", table);
    expect(first.stderr).not.toMatch(/cacherator\]/);
    expect(first.lines).toMatchObject([{ status: "miss", scrapes: 2, saved: true, visits: 1 }]);
    const secondDir = tempDir();
    const second = await machine("read", table, secondDir);
    expect(second.lines).toMatchObject([
      {
        data: { url: "https://example.com", html: "<p>https://example.com</p>", atIsDate: true },
        status: "l2",
        again: "l1",
        // A sync method cannot wait for DynamoDB: it runs, then writes behind.
        parseStatus: "miss",
        scrapes: 1,
        stats: { totalEntries: 2, l2: { totalEntries: 2 } },
      },
    ]);
    // The L2 hit was written to the second machine's own file.
    const file = readFileSync(join(secondDir, "data/cache/scraper.json"), "utf8");
    expect(file).toContain("scrapeExpensiveData('https://example.com',){}");
  });

  it("jsonCachePreload brings other machines' results (for sync methods too) and their saved attributes", async () => {
    const table = newTable();
    await machine("scrape", table);
    const preloaded = await machine("preload", table);
    expect(preloaded.lines).toMatchObject([
      { preloaded: { entries: 2, attributes: true }, status: "l1", parseStatus: "l1", scrapes: 0, visits: 1 },
    ]);
  });

  it("clearing a method on one machine removes it for the others", async () => {
    const table = newTable();
    await machine("scrape", table);
    const cleared = await machine("clear", table);
    expect(cleared.lines).toMatchObject([{ cleared: true, stats: { l2: { totalEntries: 1, functions: { parse: 1 } } } }]);
    const after = await machine("read", table);
    // scrapeExpensiveData is gone from L2 (a miss); the sync parse() runs on any new machine anyway.
    expect(after.lines).toMatchObject([{ status: "miss", parseStatus: "miss", scrapes: 2 }]);
  });
});

describe("L1 and L2 together", () => {
  it("an L1 hit backfills L2 when L2 lacks the entry, and never overwrites a newer remote entry", async () => {
    const table = newTable();
    const logger = recordingLogger();
    const olderDir = tempDir();
    // A local file computed an hour ago, before the table existed.
    mkdirSync(olderDir, { recursive: true });
    const hourAgo = Date.now() - 3_600_000;
    writeFileSync(
      join(olderDir, "prices.json"),
      serializeCacheFile("prices", [["quote('A',){}", entryText("old A", hourAgo, false)], ["quote('B',){}", entryText("old B", hourAgo, false)]], new Map(), hourAgo),
    );
    // Another machine already wrote a newer B.
    class Writer extends JSONCache {
      constructor() {
        super({ dataId: "prices", directory: tempDir(), dynamodbTable: table, dynamodbEndpoint: endpoint, logger });
      }
      @Cached() quote(symbol: string) {
        return `new ${symbol}`;
      }
    }
    const writer = new Writer();
    writer.quote("B");
    expect(await writer.jsonCacheSave()).toBe(true);

    class Reader extends JSONCache {
      constructor() {
        super({ dataId: "prices", directory: olderDir, dynamodbTable: table, dynamodbEndpoint: endpoint, logger });
      }
      @Cached() quote(symbol: string) {
        return `recomputed ${symbol}`;
      }
    }
    const reader = new Reader();
    expect(reader.quote("A")).toBe("old A");
    expect(reader.quote("B")).toBe("old B");
    expect(await reader.jsonCacheSave()).toBe(true);

    const check = await machineRead(table, ["A", "B"]);
    expect(check).toEqual({ A: "old A", B: "new B" });
    expect(logger.messages.filter((m) => m.level === "warn")).toEqual([]);
  });

  it("an item or a clear timed more than a day ahead (a peer's broken clock) is ignored: the item would never expire, the clear would void every result until then", async () => {
    const table = newTable();
    class Pages extends JSONCache {
      constructor(directory: string) {
        super({ dataId: "future", directory, dynamodbTable: table, dynamodbEndpoint: endpoint, logging: false });
      }
      @Cached() async page(n: number) {
        return `fresh ${n}`;
      }
    }
    // A machine whose clock runs two days ahead writes page(1); one an hour ahead (within the day allowed) page(2).
    const tier = createDynamoDBTier({ table, endpoint, log: new CacheLog(false) });
    // The table is created in the background: asked again until it is there.
    for (let tries = 0; !(await tier.ready()).ok; tries++) {
      expect(tries, "the table was never created").toBeLessThan(300);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // That machine also clears everything: at its time, two days ahead.
    expect((await tier.remove("future", undefined, Date.now() + 2 * 86_400_000)).ok).toBe(true);
    const text = (value: string) => JSON.stringify(value);
    expect((await tier.put("future", { key: "page(1,){}", text: text("from two days ahead"), time: Date.now() + 2 * 86_400_000, async: true }, Infinity)).ok).toBe(true);
    expect((await tier.put("future", { key: "page(2,){}", text: text("from an hour ahead"), time: Date.now() + 3_600_000, async: true }, Infinity)).ok).toBe(true);
    tier.close();
    const preloading = new Pages(tempDir());
    expect((await preloading.jsonCachePreload())?.entries).toBe(1);
    const reader = new Pages(tempDir());
    expect(await reader.page(1)).toBe("fresh 1");
    expect(reader.lastCacheStatus).toBe("miss");
    expect(await reader.page(2)).toBe("from an hour ahead");
    expect(reader.lastCacheStatus).toBe("l2");
  });

  it("a value over 100 KB is compressed in DynamoDB and comes back whole", async () => {
    const table = newTable();
    class Pages extends JSONCache {
      constructor(directory: string) {
        super({ dataId: "pages", directory, dynamodbTable: table, dynamodbEndpoint: endpoint, logging: false });
      }
      @Cached() async page(n: number) {
        return { n, html: `<li>item ${n}</li>`.repeat(20_000) };
      }
    }
    const a = new Pages(tempDir());
    const big = await a.page(1);
    expect(await a.jsonCacheSave()).toBe(true);
    const b = new Pages(tempDir());
    // Another directory in this process: another store, so the value really comes from DynamoDB.
    expect(await b.page(1)).toEqual(big);
    expect(b.lastCacheStatus).toBe("l2");
  });

  it("saveOnDel sends DynamoDB, at normal exit, the local results it lacks and the saved attributes", async () => {
    const run = async (saveOnDel: boolean) => {
      const table = newTable();
      const cwd = tempDir();
      const hourAgo = Date.now() - 3_600_000;
      mkdirSync(join(cwd, "data/cache"), { recursive: true });
      writeFileSync(
        join(cwd, "data/cache/prices.json"),
        serializeCacheFile("prices", [["quote('A',){}", entryText("local A", hourAgo, false)]], new Map([["owner", '"ada"']]), hourAgo),
      );
      const program = `
        import { JSONCache } from "cacherator";
        class Prices extends JSONCache {
          constructor() { super({ dataId: "prices", dynamodbTable: process.env.TABLE, dynamodbEndpoint: process.env.ENDPOINT, saveOnDel: process.env.SAVE === "1", logging: false }); }
        }
        new Prices(); // nothing called, nothing saved: only the exit can send anything
      `;
      const result = await runProgram(program, { cwd, env: { ...AWS_ENV, TABLE: table, ENDPOINT: endpoint, SAVE: saveOnDel ? "1" : "0" } });
      expect(result.code).toBe(0);
      return { read: await machineRead(table, ["A"]), state: await remoteState(table) };
    };
    expect(await run(true)).toEqual({ read: { A: "local A" }, state: true });
    expect(await run(false)).toEqual({ read: { A: "missing A" }, state: false });
  });

  async function remoteState(table: string): Promise<boolean> {
    class Probe extends JSONCache {
      declare owner: string;
      constructor() {
        super({ dataId: "prices", directory: tempDir(), dynamodbTable: table, dynamodbEndpoint: endpoint, logging: false });
      }
    }
    const probe = new Probe();
    const loaded = await probe.jsonCachePreload();
    return loaded?.attributes === true && probe.owner === "ada";
  }

  async function machineRead(table: string, symbols: string[]): Promise<Record<string, string>> {
    class Probe extends JSONCache {
      constructor() {
        super({ dataId: "prices", directory: tempDir(), dynamodbTable: table, dynamodbEndpoint: endpoint, logging: false });
      }
      @Cached() async quote(symbol: string) {
        return `missing ${symbol}`;
      }
    }
    const probe = new Probe();
    const out: Record<string, string> = {};
    for (const symbol of symbols) out[symbol] = await probe.quote(symbol);
    return out;
  }
});

describe("when DynamoDB misbehaves", () => {
  let server: DynamoDBLocal | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it("a paused server (SIGSTOP): calls return within the timeout bound, the cause is logged once, L2 resumes after SIGCONT", async () => {
    server = await startDynamoDBLocal();
    await waitForDynamoDB(server.endpoint);
    const table = newTable();
    const logger = recordingLogger();
    let runs = 0;
    class Quotes extends JSONCache {
      constructor(directory: string, dynamodbTimeout = 500) {
        super({ dataId: "quotes", directory, dynamodbTable: table, dynamodbEndpoint: server?.endpoint, dynamodbTimeout, logger });
      }
      @Cached() async quote(n: number) {
        runs++;
        return n * 10;
      }
    }
    // The table is created first, with time to spare (a just-started server on a busy machine is slow).
    const setup = new Quotes(tempDir(), 30_000);
    expect(await setup.quote(1)).toBe(10);
    expect(await setup.jsonCacheSave()).toBe(true);
    logger.messages.length = 0;
    const quotes = new Quotes(tempDir());
    expect(await quotes.quote(1)).toBe(10);
    expect(await quotes.jsonCacheSave()).toBe(true);
    const before = runs;

    server.process.kill("SIGSTOP");
    try {
      const started = Date.now();
      for (let n = 2; n <= 6; n++) expect(await quotes.quote(n)).toBe(n * 10);
      expect(Date.now() - started).toBeLessThan(5 * 2_000); // five calls, each bounded
      expect(runs - before).toBe(5);
      const warnings = logger.messages.filter((m) => m.level === "warn");
      expect(warnings).toHaveLength(1);
      expect(await quotes.jsonCacheSave()).toBe(false); // the local file is written; L2 is not
    } finally {
      server.process.kill("SIGCONT");
    }
    // Back: after the breaker's cool-down, L2 serves again.
    let status: string | null = null;
    for (let attempt = 0; attempt < 40 && status !== "l2"; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      CacheLog.resetReported();
      const fresh = new Quotes(tempDir());
      await fresh.quote(1);
      status = fresh.lastCacheStatus;
    }
    expect(status).toBe("l2");
  });
});
