/**
 * Beyond the Python original: stale-while-revalidate and fail-safe, readable and computed TTLs,
 * shouldCache, versions, metrics and events.
 */
import diagnostics_channel from "node:diagnostics_channel";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { Cached, CacheOptionsError, JSONCache, type CacheEvent } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { recordingLogger, tempDir } from "./helpers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => CacheLog.resetReported());
afterEach(async () => {
  await JSONCache.flushAll();
});

function fileEntries(directory: string, dataId: string): Record<string, Record<string, unknown>> {
  return (JSON.parse(readFileSync(join(directory, `${dataId}.json`), "utf8")) as { _json_cache_func_cache: Record<string, Record<string, unknown>> })._json_cache_func_cache;
}

describe("stale-while-revalidate", () => {
  it("an expired result within staleTtl is answered at once (status \"stale\") while one refresh runs in the background", async () => {
    let version = 0;
    class Feed extends JSONCache {
      constructor() {
        super({ dataId: "feed", directory: tempDir(), logging: false });
      }
      @Cached({ ttl: "150ms", staleTtl: "1m" }) latest(topic: string) {
        version++;
        return `${topic} v${version}`;
      }
      @Cached({ ttl: "150ms", staleTtl: "1m" }) async latestAsync(topic: string) {
        version++;
        await sleep(20);
        return `${topic} v${version}`;
      }
    }
    const feed = new Feed();
    expect(feed.latest("news")).toBe("news v1");
    await sleep(200);
    expect(feed.latest("news")).toBe("news v1");
    expect(feed.lastCacheStatus).toBe("stale");
    expect(version).toBe(1); // the refresh runs after the call returned
    await tick();
    expect(version).toBe(2);
    expect(feed.latest("news")).toBe("news v2");
    expect(feed.lastCacheStatus).toBe("l1");

    expect(await feed.latestAsync("sport")).toBe("sport v3");
    await sleep(200);
    const answers = await Promise.all([feed.latestAsync("sport"), feed.latestAsync("sport"), feed.latestAsync("sport")]);
    expect(answers).toEqual(["sport v3", "sport v3", "sport v3"]);
    expect(feed.lastCacheStatus).toBe("stale");
    await sleep(60);
    expect(version).toBe(4); // one refresh for the three stale answers
    expect(await feed.latestAsync("sport")).toBe("sport v4");
  });

  it("fail-safe: when the method throws, the last good result within staleTtl is served, and the error logged once", async () => {
    const logger = recordingLogger();
    let failing = false;
    let runs = 0;
    class Rates extends JSONCache {
      constructor() {
        super({ dataId: "rates", directory: tempDir(), logger });
      }
      @Cached({ ttl: "100ms", staleTtl: "300ms" }) async rate(currency: string) {
        runs++;
        if (failing) throw new Error("upstream down");
        return { currency, rate: 1.1 };
      }
    }
    const rates = new Rates();
    expect(await rates.rate("EUR")).toEqual({ currency: "EUR", rate: 1.1 });
    failing = true;
    await sleep(150);
    // Stale: answered at once; the background refresh fails, logged once.
    expect(await rates.rate("EUR")).toEqual({ currency: "EUR", rate: 1.1 });
    expect(rates.lastCacheStatus).toBe("stale");
    await sleep(20);
    expect(await rates.rate("EUR")).toEqual({ currency: "EUR", rate: 1.1 });
    expect(logger.messages.filter((m) => m.level === "warn")).toHaveLength(1);
    expect(logger.messages[0]?.message).toContain("upstream down");
    // Past the stale window: the error reaches the caller.
    await sleep(350);
    await expect(rates.rate("EUR")).rejects.toThrow("upstream down");
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(rates.jsonCacheMetrics().errors).toBeGreaterThanOrEqual(2);
  });

  it("without staleTtl an expired result is never served", async () => {
    let runs = 0;
    class Plain extends JSONCache {
      constructor() {
        super({ dataId: "plain", directory: tempDir(), logging: false });
      }
      @Cached({ ttl: "50ms" }) value() {
        return ++runs;
      }
    }
    const plain = new Plain();
    expect(plain.value()).toBe(1);
    await sleep(80);
    expect(plain.value()).toBe(2);
    expect(plain.lastCacheStatus).toBe("miss");
  });
});

describe("TTLs", () => {
  it("accepts readable durations and rejects ambiguous or invalid ones with a clear error", () => {
    const make = (ttl: unknown) => {
      class Timed extends JSONCache {
        constructor() {
          super({ dataId: "timed", directory: tempDir(), ttl: ttl as number, logging: false });
        }
      }
      return new Timed();
    };
    for (const ok of ["90s", "15m", "6h", "3d", "2w", "1h30m", "250ms", 0.5, 0, Infinity]) expect(() => make(ok)).not.toThrow();
    expect(() => make("10")).toThrow(CacheOptionsError);
    expect(() => make("10")).toThrow(/"10d" for days/);
    expect(() => make("5 parsecs")).toThrow(/not a duration/);
    expect(() => make(-1)).toThrow(/ttl/);
    expect(() => {
      class Soon extends JSONCache {
        // @ts-expect-error -- not a duration: refused by the types, and at run time for untyped callers
        @Cached({ ttl: "soon" }) value() {
          return 1;
        }
      }
      return Soon;
    }).toThrow(/@Cached on value: option "ttl"/);
  });

  it("a TTL computed from the result is stored with the entry and honoured", async () => {
    const directory = tempDir();
    let runs = 0;
    class Tokens extends JSONCache {
      constructor() {
        super({ dataId: "tokens", directory, logging: false });
      }
      @Cached({ ttl: (token: { expiresIn: number }) => `${token.expiresIn}ms` }) token(scope: string) {
        runs++;
        return { scope, expiresIn: scope === "short" ? 100 : 60_000 };
      }
    }
    const tokens = new Tokens();
    tokens.token("short");
    tokens.token("long");
    expect(await tokens.jsonCacheSave()).toBe(true);
    expect(fileEntries(directory, "tokens")["token('short',){}"]?.ttl_ms).toBe(100);
    await sleep(150);
    tokens.token("short");
    tokens.token("long");
    expect(runs).toBe(3); // short expired, long did not
  });
});

describe("what is cached", () => {
  it("shouldCache declines results: they are returned, not stored", () => {
    let runs = 0;
    class Lookup extends JSONCache {
      constructor() {
        super({ dataId: "lookup", directory: tempDir(), logging: false });
      }
      @Cached({ shouldCache: (result: string | null) => result !== null }) find(id: number) {
        runs++;
        return id > 0 ? `item ${id}` : null;
      }
    }
    const lookup = new Lookup();
    expect(lookup.find(0)).toBeNull();
    expect(lookup.find(0)).toBeNull();
    expect(lookup.find(1)).toBe("item 1");
    expect(lookup.find(1)).toBe("item 1");
    expect(runs).toBe(3);
  });

  it("a version ignores entries stored under another version, and tags what it stores", async () => {
    const directory = tempDir();
    let runs = 0;
    const define = (version?: string) => {
      class Report extends JSONCache {
        constructor() {
          super({ dataId: "report", directory, logging: false });
        }
        @Cached(version === undefined ? {} : { version }) build(n: number) {
          runs++;
          return `report ${n} ${version ?? "unversioned"}`;
        }
      }
      return new Report();
    };
    const v1 = define("1");
    expect(v1.build(1)).toBe("report 1 1");
    expect(await v1.jsonCacheSave()).toBe(true);
    expect(fileEntries(directory, "report")["build(1,){}"]?.version).toBe("1");
    const v2 = define("2");
    expect(v2.build(1)).toBe("report 1 2");
    expect(v2.lastCacheStatus).toBe("miss");
    expect(v2.build(1)).toBe("report 1 2");
    expect(v2.lastCacheStatus).toBe("l1");
    const none = define();
    expect(none.build(1)).toBe("report 1 unversioned");
    expect(runs).toBe(3);
  });
});

describe("metrics and events", () => {
  it("counts hits by tier, misses, stale answers and errors per instance and for the process, and bytes written", async () => {
    const before = JSONCache.metrics();
    class Counted extends JSONCache {
      constructor() {
        super({ dataId: "counted", directory: tempDir(), logging: false });
      }
      @Cached() square(n: number) {
        if (n < 0) throw new Error("negative");
        return n * n;
      }
    }
    const counted = new Counted();
    counted.square(2);
    counted.square(2);
    counted.square(3);
    expect(() => counted.square(-1)).toThrow("negative");
    expect(await counted.jsonCacheSave()).toBe(true);
    const metrics = counted.jsonCacheMetrics();
    expect(metrics).toMatchObject({ hits: { l1: 1, l2: 0 }, misses: 2, stale: 0, errors: 1 });
    expect(metrics.bytesWritten).toBeGreaterThan(100);
    const after = JSONCache.metrics();
    expect(after.misses - before.misses).toBe(2);
    expect(after.hits.l1 - before.hits.l1).toBe(1);
    expect(after.errors - before.errors).toBe(1);
  });

  it("JSONCache.on and diagnostics_channel receive hit, miss and error events; unsubscribing stops them", () => {
    const seen: CacheEvent[] = [];
    const off = [JSONCache.on("hit", (e) => seen.push(e)), JSONCache.on("miss", (e) => seen.push(e)), JSONCache.on("error", (e) => seen.push(e))];
    const channelSeen: unknown[] = [];
    const onChannel = (message: unknown) => channelSeen.push(message);
    diagnostics_channel.subscribe("cacherator:miss", onChannel);
    class Evented extends JSONCache {
      constructor() {
        super({ dataId: "evented", directory: tempDir(), logging: false });
      }
      @Cached() twice(n: number) {
        if (n === 0) throw new Error("zero");
        return n * 2;
      }
    }
    const evented = new Evented();
    evented.twice(1);
    evented.twice(1);
    expect(() => evented.twice(0)).toThrow("zero");
    expect(seen.map((e) => [e.event, e.key, e.tier])).toEqual([
      ["miss", "twice(1,){}", undefined],
      ["hit", "twice(1,){}", "l1"],
      ["error", "twice(0,){}", undefined],
    ]);
    expect(seen[0]).toMatchObject({ dataId: "evented", method: "twice" });
    expect(channelSeen).toHaveLength(1);
    for (const stop of off) stop();
    diagnostics_channel.unsubscribe("cacherator:miss", onChannel);
    evented.twice(2);
    expect(seen).toHaveLength(3);
    expect(() => JSONCache.on("nope" as "hit", () => undefined)).toThrow(/unknown cacherator event/);
  });
});

describe("versions and DynamoDB", () => {
  it("an L2 entry of another version is not served", async () => {
    const endpoint = inject("dynamodbEndpoint");
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" });
    const table = `cacherator-beyond-${process.pid}-${Date.now().toString(36)}`;
    const make = (version: string) => {
      class Shared extends JSONCache {
        constructor() {
          super({ dataId: "versioned", directory: tempDir(), dynamodbTable: table, dynamodbEndpoint: endpoint, logging: false });
        }
        @Cached({ version }) async value(n: number) {
          return `v${version}:${n}`;
        }
      }
      return new Shared();
    };
    const writer = make("1");
    expect(await writer.value(1)).toBe("v1:1");
    expect(await writer.jsonCacheSave()).toBe(true);
    const other = make("2");
    expect(await other.value(1)).toBe("v2:1");
    expect(other.lastCacheStatus).toBe("miss");
    expect(await other.jsonCacheSave()).toBe(true);
    const same = make("2");
    expect(await same.value(1)).toBe("v2:1");
    expect(same.lastCacheStatus).toBe("l2");
  });
});
