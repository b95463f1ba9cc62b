/**
 * What survives a restart, and when it reaches the disk: typed values, async results, the write at
 * exit, explicit saves, coalesced writes off the call path, TTL expiry, clearing, and timestamps
 * written by the Python library. A restart is a new child process.
 */
import { watch, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { runProgram, tempDir, type Dialect } from "./helpers.js";

interface CacheFileShape {
  _json_cache_func_cache: Record<string, { value: unknown; date: string; epoch_ms?: number; async?: boolean }>;
  _json_cache_variable_cache: Record<string, unknown>;
}

function readCache(file: string): CacheFileShape {
  return JSON.parse(readFileSync(file, "utf8")) as CacheFileShape;
}

function cachedKeys(file: string): string[] {
  return Object.keys(readCache(file)._json_cache_func_cache).sort();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** 0.3 seconds, in days. */
const SHORT_TTL = 0.3 / 86_400;

describe("values keep their type across a restart", () => {
  // The child describes each value it gets (type and content, recursively); the description from
  // the file must equal the one from the method itself.
  const program = `
    import { JSONCache, Cached } from "cacherator";
    let runs = 0;
    function describe(v: unknown): string {
      if (v === undefined) return "undefined";
      if (v === null) return "null";
      if (typeof v === "number") return Object.is(v, -0) ? "number(-0)" : "number(" + String(v) + ")";
      if (typeof v === "bigint") return "bigint(" + v.toString() + ")";
      if (typeof v === "string") return "string(" + JSON.stringify(v) + ")";
      if (typeof v === "boolean") return "boolean(" + String(v) + ")";
      if (Buffer.isBuffer(v)) return "Buffer[" + [...v].join(",") + "]";
      if (v instanceof Uint8Array) return "Uint8Array[" + [...v].join(",") + "]";
      if (v instanceof Date) return "Date(" + v.toISOString() + ")";
      if (v instanceof Map) return "Map{" + [...v].map(([k, x]) => describe(k) + " => " + describe(x)).join(", ") + "}";
      if (v instanceof Set) return "Set{" + [...v].map(describe).join(", ") + "}";
      if (Array.isArray(v)) return "Array[" + v.map(describe).join(", ") + "]";
      if (Object.getPrototypeOf(v) === Object.prototype) {
        return "Object{" + Object.entries(v as object).map(([k, x]) => k + ": " + describe(x)).join(", ") + "}";
      }
      return "other(" + Object.prototype.toString.call(v) + ")";
    }
    const values: Record<string, () => unknown> = {
      date: () => new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)),
      map: () => new Map<unknown, unknown>([["a", 1], [2, new Date(0)], [3n, [null]]]),
      set: () => new Set<unknown>([1, "two", 3n, undefined]),
      bigint: () => 12345678901234567890123n,
      undefined: () => undefined,
      null: () => null,
      nan: () => NaN,
      infinity: () => Infinity,
      negativeInfinity: () => -Infinity,
      negativeZero: () => -0,
      uint8array: () => new Uint8Array([0, 1, 127, 128, 254, 255]),
      buffer: () => Buffer.from("héllo wörld"),
      nested: () => ({
        list: [1, undefined, null, NaN, { when: new Date(0), tags: new Set(["x", "y"]) }],
        byId: new Map<unknown, unknown>([[1n, { ok: true, big: -5n }]]),
        bytes: Buffer.from([9, 8]),
        raw: new Uint8Array([7]),
        missing: undefined,
        text: "plain",
        $cacherator: "an own key that looks like the codec's tag",
      }),
    };
    class Types extends JSONCache {
      constructor() { super({ dataId: "types" }); }
      @Cached() make(kind: string) { runs++; return values[kind]!(); }
    }
    const types = new Types();
    for (const kind of Object.keys(values)) {
      const value = types.make(kind);
      console.log(JSON.stringify({ kind, description: describe(value), status: types.lastCacheStatus }));
    }
    console.log(JSON.stringify({ runs }));
  `;

  type Line = { kind: string; description: string; status: string } | { runs: number };

  it.each<Dialect>(["standard", "legacy"])("every supported type comes back from the file as the same type and value (%s decorators)", async (dialect) => {
    const cwd = tempDir();
    const first = await runProgram(program, { cwd, dialect });
    expect(first.stderr).toBe("");
    const second = await runProgram(program, { cwd, dialect });
    expect(second.stderr).toBe("");
    const firstLines = first.lines as Line[];
    const secondLines = second.lines as Line[];
    const kinds = firstLines.filter((l): l is Exclude<Line, { runs: number }> => "kind" in l);
    expect(kinds).toHaveLength(13);
    expect(firstLines.at(-1)).toEqual({ runs: 13 });
    expect(kinds.every((l) => l.status === "miss")).toBe(true);
    // The description really tells types apart.
    const byKind = Object.fromEntries(kinds.map((l) => [l.kind, l.description]));
    expect(byKind.date).toBe("Date(2024-02-29T12:34:56.789Z)");
    expect(byKind.bigint).toBe("bigint(12345678901234567890123)");
    expect(byKind.negativeZero).toBe("number(-0)");
    expect(byKind.buffer).toMatch(/^Buffer\[/);
    expect(byKind.uint8array).toBe("Uint8Array[0,1,127,128,254,255]");

    // After the restart: the method does not run, every call is a hit, and nothing changed type.
    expect(secondLines.at(-1)).toEqual({ runs: 0 });
    expect(secondLines.slice(0, -1)).toEqual(kinds.map((l) => ({ ...l, status: "l1" })));
  });
});

describe("null and undefined are results like any other", () => {
  it("a method returning null or undefined runs once, in this process and after a restart", async () => {
    const directory = tempDir();
    const runs = { null: 0, undefined: 0 };
    class Empty extends JSONCache {
      constructor() {
        super({ dataId: "empty", directory });
      }
      @Cached() nothing(): null {
        runs.null++;
        return null;
      }
      @Cached() absent(): undefined {
        runs.undefined++;
        return undefined;
      }
    }
    const empty = new Empty();
    expect(empty.nothing()).toBeNull();
    expect(empty.absent()).toBeUndefined();
    expect(empty.nothing()).toBeNull();
    expect(empty.lastCacheStatus).toBe("l1");
    expect(empty.absent()).toBeUndefined();
    expect(empty.lastCacheStatus).toBe("l1");
    expect(runs).toEqual({ null: 1, undefined: 1 });
    await expect(empty.jsonCacheSave()).resolves.toBe(true);

    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      let runs = 0;
      class Empty extends JSONCache {
        constructor() { super({ dataId: "empty" }); }
        @Cached() nothing() { runs++; return null; }
        @Cached() absent() { runs++; return undefined; }
      }
      const e = new Empty();
      const a = e.nothing();
      const b = e.absent();
      console.log(JSON.stringify({ a: a === null, b: b === undefined, runs, status: e.cacheStatus }));
    `;
    const first = await runProgram(program, { cwd });
    expect(first.lines).toEqual([{ a: true, b: true, runs: 2, status: { "nothing(){}": "miss", "absent(){}": "miss" } }]);
    const second = await runProgram(program, { cwd });
    expect(second.lines).toEqual([{ a: true, b: true, runs: 0, status: { "nothing(){}": "l1", "absent(){}": "l1" } }]);
  });
});

describe("async methods after a restart", () => {
  it("a hit from the file is still a Promise that resolves to the stored value", async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      let runs = 0;
      class Api extends JSONCache {
        constructor() { super({ dataId: "api" }); }
        @Cached() async load(id: number) {
          runs++;
          await new Promise((r) => setTimeout(r, 5));
          return { id, when: new Date(86400000) };
        }
      }
      const api = new Api();
      const pending = api.load(7);
      const isPromise = pending instanceof Promise;
      const value = await pending;
      console.log(JSON.stringify({ isPromise, id: value.id, whenIsDate: value.when instanceof Date, when: value.when.toISOString(), runs, status: api.lastCacheStatus }));
    `;
    const first = await runProgram(program, { cwd });
    expect(first.stderr).toBe("");
    expect(first.lines).toEqual([{ isPromise: true, id: 7, whenIsDate: true, when: "1970-01-02T00:00:00.000Z", runs: 1, status: "miss" }]);
    const second = await runProgram(program, { cwd });
    expect(second.lines).toEqual([{ isPromise: true, id: 7, whenIsDate: true, when: "1970-01-02T00:00:00.000Z", runs: 0, status: "l1" }]);
  });
});

describe("when results reach the disk", () => {
  it("pending writes are written when the process exits normally, without jsonCacheSave", async () => {
    const cwd = tempDir();
    // A write delay far beyond the life of the process: only the exit write can save the entry.
    const program = `
      import { JSONCache, Cached } from "cacherator";
      let runs = 0;
      class Slow extends JSONCache {
        constructor() { super({ dataId: "slow", writeDelay: 600000 }); }
        @Cached() triple(n: number) { runs++; return n * 3; }
      }
      const s = new Slow();
      console.log(JSON.stringify({ value: s.triple(5), runs, status: s.lastCacheStatus }));
    `;
    const first = await runProgram(program, { cwd });
    expect(first.code).toBe(0);
    expect(first.lines).toEqual([{ value: 15, runs: 1, status: "miss" }]);
    const file = join(cwd, "data/cache/slow.json");
    expect(readCache(file)._json_cache_func_cache["triple(5,){}"]?.value).toBe(15);
    const second = await runProgram(program, { cwd });
    expect(second.lines).toEqual([{ value: 15, runs: 0, status: "l1" }]);
  });

  it("await jsonCacheSave() resolves true and the file holds the entry right after", async () => {
    const directory = tempDir();
    class Saver extends JSONCache {
      constructor() {
        super({ dataId: "saver", directory, writeDelay: 600_000 });
      }
      @Cached() twice(n: number) {
        return n * 2;
      }
    }
    const saver = new Saver();
    expect(saver.twice(21)).toBe(42);
    const file = join(directory, "saver.json");
    // The file was claimed (created empty) when the cache opened; the entry is not in it yet.
    expect(cachedKeys(file)).toEqual([]);
    await expect(saver.jsonCacheSave()).resolves.toBe(true);
    const entry = readCache(file)._json_cache_func_cache["twice(21,){}"];
    expect(entry?.value).toBe(42);
    expect(typeof entry?.date).toBe("string");
  });

  it("`await using` writes the cache when the block ends", async () => {
    // The helper's TypeScript transpiler lowers `await using` to Symbol.asyncDispose calls, so the
    // real syntax is used here.
    const cwd = tempDir();
    const program = `
      import { existsSync, readFileSync } from "node:fs";
      import { JSONCache, Cached } from "cacherator";
      const file = "data/cache/disposable.json";
      class Disposable extends JSONCache {
        constructor() { super({ dataId: "disposable", writeDelay: 600000 }); }
        @Cached() twice(n: number) { return n * 2; }
      }
      async function work() {
        await using d = new Disposable();
        d.twice(4);
        console.log(JSON.stringify({ insideBlock: Object.keys(JSON.parse(readFileSync(file, "utf8"))._json_cache_func_cache) }));
      }
      await work();
      const keys = existsSync(file) ? Object.keys(JSON.parse(readFileSync(file, "utf8"))._json_cache_func_cache) : null;
      console.log(JSON.stringify({ afterBlock: keys }));
    `;
    const result = await runProgram(program, { cwd });
    expect(result.stderr).toBe("");
    expect(result.lines).toEqual([{ insideBlock: [] }, { afterBlock: ["twice(4,){}"] }]);
  });

  it("a burst of 200 misses in one tick becomes one write, made after the call returns", async () => {
    const directory = tempDir();
    const file = join(directory, "burst.json");
    // Every write creates its own `<file>.<pid>.<random>.tmp` and renames it over the file.
    const temporaryFiles = new Set<string>();
    const watcher = watch(directory, (_event, name) => {
      if (name !== null && name.startsWith("burst.json.") && name.endsWith(".tmp")) temporaryFiles.add(name);
    });
    try {
      class Burst extends JSONCache {
        constructor() {
          super({ dataId: "burst", directory, writeDelay: 50 });
        }
        @Cached() square(n: number) {
          return n * n;
        }
      }
      const burst = new Burst();
      for (let i = 0; i < 200; i++) burst.square(i);
      expect(cachedKeys(file)).toEqual([]);
      await vi.waitFor(() => expect(cachedKeys(file)).toHaveLength(200), { timeout: 5_000, interval: 10 });
      await sleep(200);
      expect(temporaryFiles.size).toBe(1);

      // A second burst: not in the file when the calls return, then one more write.
      for (let i = 200; i < 250; i++) burst.square(i);
      expect(cachedKeys(file)).toHaveLength(200);
      await vi.waitFor(() => expect(cachedKeys(file)).toHaveLength(250), { timeout: 5_000, interval: 10 });
      await sleep(200);
      expect(temporaryFiles.size).toBe(2);
    } finally {
      watcher.close();
    }
  });
});

describe("TTL: how long a result is served", () => {
  const runs: Record<string, number> = {};
  class Timed extends JSONCache {
    constructor(directory: string, dataId: string, ttl: number) {
      super({ dataId, directory, ttl });
    }
    @Cached() plain() {
      const key = `${this.jsonCacheDataId}.plain`;
      return (runs[key] = (runs[key] ?? 0) + 1);
    }
    @Cached({ ttl: 999 }) long() {
      const key = `${this.jsonCacheDataId}.long`;
      return (runs[key] = (runs[key] ?? 0) + 1);
    }
    @Cached({ ttl: SHORT_TTL }) short() {
      const key = `${this.jsonCacheDataId}.short`;
      return (runs[key] = (runs[key] ?? 0) + 1);
    }
    @Cached({ ttl: 0 }) never() {
      const key = `${this.jsonCacheDataId}.never`;
      return (runs[key] = (runs[key] ?? 0) + 1);
    }
  }

  it("an entry older than its TTL is not served, the decorator's ttl overrides the instance's, and stats count live entries only", async () => {
    const directory = tempDir();
    const shortLived = new Timed(directory, "short-lived", SHORT_TTL);
    const longLived = new Timed(directory, "long-lived", 999);
    for (const t of [shortLived, longLived]) {
      t.plain();
      t.long();
      t.short();
    }
    // Fresh entries are hits.
    for (const t of [shortLived, longLived]) {
      expect([t.plain(), t.long(), t.short()]).toEqual([1, 1, 1]);
      expect(t.lastCacheStatus).toBe("l1");
      expect(t.jsonCacheStats()).toEqual({ totalEntries: 3, functions: { plain: 1, long: 1, short: 1 } });
    }
    await sleep(400);
    expect(shortLived.jsonCacheStats()).toEqual({ totalEntries: 1, functions: { long: 1 } });
    expect(longLived.jsonCacheStats()).toEqual({ totalEntries: 2, functions: { plain: 1, long: 1 } });

    expect(shortLived.plain()).toBe(2); // instance ttl 0.3 s: expired
    expect(shortLived.lastCacheStatus).toBe("miss");
    expect(shortLived.long()).toBe(1); // decorator ttl 999 days overrides the instance's 0.3 s
    expect(shortLived.lastCacheStatus).toBe("l1");
    expect(longLived.plain()).toBe(1); // instance ttl 999 days
    expect(longLived.lastCacheStatus).toBe("l1");
    expect(longLived.short()).toBe(2); // decorator ttl 0.3 s overrides the instance's 999 days
    expect(longLived.lastCacheStatus).toBe("miss");
  });

  it("ttl 0 never serves from the cache, on the instance or on the decorator", () => {
    const directory = tempDir();
    const zero = new Timed(directory, "zero", 0);
    const normal = new Timed(directory, "normal", 999);
    for (let i = 1; i <= 3; i++) {
      expect(zero.plain()).toBe(i);
      expect(zero.lastCacheStatus).toBe("miss");
      expect(normal.never()).toBe(i);
      expect(normal.lastCacheStatus).toBe("miss");
    }
    expect(zero.jsonCacheStats().totalEntries).toBe(0);
    expect(normal.jsonCacheStats()).toEqual({ totalEntries: 0, functions: {} });
  });

  it.each<Dialect>(["standard", "legacy"])("after a restart, expired entries of methods not yet called are not counted by jsonCacheStats (%s decorators)", async (dialect) => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      const SHORT = 0.3 / 86400;
      class Timed extends JSONCache {
        constructor() { super({ dataId: "timed", ttl: SHORT }); }
        @Cached() plain() { return 1; }
        @Cached({ ttl: 999 }) long() { return 2; }
        @Cached({ ttl: SHORT }) short() { return 3; }
      }
      const t = new Timed();
      if (process.env.MODE === "compute") { t.plain(); t.long(); t.short(); }
      console.log(JSON.stringify(t.jsonCacheStats()));
    `;
    const first = await runProgram(program, { cwd, dialect, env: { MODE: "compute" } });
    expect(first.lines).toEqual([{ totalEntries: 3, functions: { plain: 1, long: 1, short: 1 } }]);
    await sleep(400);
    const second = await runProgram(program, { cwd, dialect, env: { MODE: "stats" } });
    expect(second.lines).toEqual([{ totalEntries: 1, functions: { long: 1 } }]);
  });
});

describe("clearing the cache", () => {
  it('jsonCacheClear("fetch") removes exactly fetch\'s entries, and the removal survives a restart', async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      const runs = { fetch: 0, fetchAll: 0 };
      class Api extends JSONCache {
        constructor() { super({ dataId: "api" }); }
        @Cached() fetch(id: string) { runs.fetch++; return "one:" + id; }
        @Cached() fetchAll() { runs.fetchAll++; return ["all"]; }
      }
      const api = new Api();
      if (process.env.MODE === "fill") {
        api.fetch("a"); api.fetch("b"); api.fetchAll();
        const cleared = await api.jsonCacheClear("fetch");
        console.log(JSON.stringify({ cleared, stats: api.jsonCacheStats(), status: api.cacheStatus }));
      } else {
        const before = api.cacheStatus;
        api.fetch("a"); api.fetchAll();
        console.log(JSON.stringify({ before, runs }));
      }
    `;
    const first = await runProgram(program, { cwd, env: { MODE: "fill" } });
    expect(first.lines).toEqual([{ cleared: true, stats: { totalEntries: 1, functions: { fetchAll: 1 } }, status: { "fetchAll(){}": "miss" } }]);
    expect(cachedKeys(join(cwd, "data/cache/api.json"))).toEqual(["fetchAll(){}"]);
    const second = await runProgram(program, { cwd, env: { MODE: "use" } });
    expect(second.lines).toEqual([{ before: { "fetchAll(){}": "l1" }, runs: { fetch: 1, fetchAll: 0 } }]);
  });

  it("jsonCacheClear() removes every entry and every status, in memory and in the file", async () => {
    const directory = tempDir();
    let runs = 0;
    class Api extends JSONCache {
      constructor() {
        super({ dataId: "api", directory });
      }
      @Cached() fetch(id: string) {
        runs++;
        return `one:${id}`;
      }
      @Cached() fetchAll() {
        runs++;
        return ["all"];
      }
    }
    const api = new Api();
    api.fetch("a");
    api.fetchAll();
    api.fetch("a");
    expect(api.cacheStatus).toEqual({ "fetch('a',){}": "l1", "fetchAll(){}": "miss" });
    await expect(api.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "api.json"))).toHaveLength(2);

    await expect(api.jsonCacheClear()).resolves.toBe(true);
    expect(api.cacheStatus).toEqual({});
    expect(api.jsonCacheStats()).toEqual({ totalEntries: 0, functions: {} });
    expect(cachedKeys(join(directory, "api.json"))).toEqual([]);
    api.fetch("a");
    expect(runs).toBe(3);
    expect(api.lastCacheStatus).toBe("miss");
  });

  it("clearCache: true on the instance starts empty, and the next write replaces the file's entries", async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      const runs: string[] = [];
      class Store extends JSONCache {
        constructor() { super({ dataId: "store", clearCache: process.env.CLEAR === "1" }); }
        @Cached() item(id: string) { runs.push("item:" + id); return id.toUpperCase(); }
        @Cached() other() { runs.push("other"); return 1; }
      }
      const s = new Store();
      const before = s.jsonCacheStats();
      for (const call of (process.env.CALLS ?? "").split(",")) {
        if (call === "other") s.other(); else s.item(call);
      }
      console.log(JSON.stringify({ before, runs }));
    `;
    const file = join(cwd, "data/cache/store.json");
    const first = await runProgram(program, { cwd, env: { CALLS: "x,other" } });
    expect(first.lines).toEqual([{ before: { totalEntries: 0, functions: {} }, runs: ["item:x", "other"] }]);
    expect(cachedKeys(file)).toEqual(["item('x',){}", "other(){}"]);

    const cleared = await runProgram(program, { cwd, env: { CLEAR: "1", CALLS: "y" } });
    expect(cleared.lines).toEqual([{ before: { totalEntries: 0, functions: {} }, runs: ["item:y"] }]);
    expect(cachedKeys(file)).toEqual(["item('y',){}"]);

    const after = await runProgram(program, { cwd, env: { CALLS: "x,y,other" } });
    expect(after.lines).toEqual([{ before: { totalEntries: 1, functions: { item: 1 } }, runs: ["item:x", "other"] }]);
  });

  it.each<Dialect>(["standard", "legacy"])("@Cached({ clearCache: true }) recomputes each key once per process, then serves it (%s decorators)", async (dialect) => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      const runs = { fresh: 0, kept: 0 };
      class Feed extends JSONCache {
        constructor() { super({ dataId: "feed" }); }
        @Cached({ clearCache: true }) fresh(n: number) { runs.fresh++; return n * 10; }
        @Cached() kept() { runs.kept++; return "k"; }
      }
      const feed = new Feed();
      const statuses: unknown[] = [];
      for (const n of [1, 1, 2, 2]) { feed.fresh(n); statuses.push(feed.lastCacheStatus); }
      feed.kept(); statuses.push(feed.lastCacheStatus);
      const other = new Feed();
      other.fresh(1); statuses.push(other.lastCacheStatus);
      console.log(JSON.stringify({ statuses, runs }));
    `;
    const first = await runProgram(program, { cwd, dialect });
    expect(first.stderr).toBe("");
    expect(first.lines).toEqual([{ statuses: ["miss", "l1", "miss", "l1", "miss", "l1"], runs: { fresh: 2, kept: 1 } }]);
    const second = await runProgram(program, { cwd, dialect });
    expect(second.lines).toEqual([{ statuses: ["miss", "l1", "miss", "l1", "l1", "l1"], runs: { fresh: 2, kept: 0 } }]);
  });
});

describe("timestamps written by the Python library", () => {
  /** Naive local wall-clock time in New York, as Python's `datetime.now().isoformat()` writes it there. */
  function newYorkTimestamp(epochMs: number, fraction: boolean): string {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat("en-US", {
        timeZone: "America/New_York",
        year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
      })
        .formatToParts(new Date(epochMs))
        .map((part) => [part.type, part.value]),
    ) as Record<string, string>;
    const base = `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
    return fraction ? `${base}.${String(epochMs % 1000).padStart(3, "0")}417` : base;
  }

  it("naive local dates, with or without fraction digits, are read in the process's time zone", async () => {
    const cwd = tempDir();
    const now = Date.now();
    const hour = 3_600_000;
    const entry = (ago: number, fraction: boolean, n: number) => ({ value: `from-file-${n}`, date: newYorkTimestamp(now - ago, fraction) });
    const file = {
      _json_cache_func_cache: {
        "f(1,){}": entry(hour, true, 1),
        "f(2,){}": entry(hour, false, 2),
        "f(3,){}": entry(3 * hour, true, 3),
        "f(4,){}": entry(3 * hour, false, 4),
      },
      _json_cache_last_save_date: newYorkTimestamp(now - hour, true),
      _json_cache_variable_cache: {},
    };
    mkdirSync(join(cwd, "data/cache"), { recursive: true });
    writeFileSync(join(cwd, "data/cache/tz-test.json"), JSON.stringify(file, null, 4));
    const program = `
      import { JSONCache, Cached } from "cacherator";
      class Tz extends JSONCache {
        constructor() { super({ dataId: "tz-test", ttl: 2 / 24 }); }
        @Cached() f(n: number) { return "computed-" + n; }
      }
      const tz = new Tz();
      const results = [1, 2, 3, 4].map((n) => [tz.f(n), tz.lastCacheStatus]);
      console.log(JSON.stringify({ offsetMinutes: new Date().getTimezoneOffset(), results }));
    `;
    const result = await runProgram(program, { cwd, env: { TZ: "America/New_York" } });
    expect(result.stderr).toBe("");
    const [line] = result.lines as { offsetMinutes: number; results: unknown[] }[];
    expect([240, 300]).toContain(line?.offsetMinutes); // the child really runs in New York time
    expect(line?.results).toEqual([
      ["from-file-1", "l1"], // 1 hour old, ttl 2 hours
      ["from-file-2", "l1"],
      ["computed-3", "miss"], // 3 hours old
      ["computed-4", "miss"],
    ]);
  });
});
