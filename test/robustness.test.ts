/**
 * What happens when things go wrong: damaged or foreign cache files, a directory that cannot be
 * written, a process killed mid-write, methods that throw, results that cannot be persisted, bad
 * options and misuse, and where (and whether) messages go.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  Cached,
  CacheOptionsError,
  CacheUsageError,
  JSONCache,
  UncacheableArgumentError,
  type CachedOptions,
  type CacheLogger,
  type JSONCacheOptions,
} from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { compileProgram, recordingLogger, runProgram, tempDir, type RecordedLogger } from "./helpers.js";

interface CacheFileShape {
  _json_cache_func_cache: Record<string, { value: unknown; date: string }>;
}

function readCache(file: string): CacheFileShape {
  return JSON.parse(readFileSync(file, "utf8")) as CacheFileShape;
}

/**
 * The entries a cache holds on disk: the file, plus its journal (complete lines only) when it has one.
 */
function valuesOnDisk(file: string): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(readCache(file)._json_cache_func_cache)) values[key] = entry.value;
  const journal = `${file}.journal`;
  if (!existsSync(journal)) return values;
  const text = readFileSync(journal, "utf8");
  for (const line of text.slice(0, text.lastIndexOf("\n") + 1).split("\n")) {
    if (line === "") continue;
    let op: { k?: string; e?: { value: unknown }; del?: string[] };
    try {
      op = JSON.parse(line) as typeof op;
    } catch {
      continue; // a line cut short by the kill
    }
    if (op.k !== undefined && op.e !== undefined) values[op.k] = op.e.value;
    for (const key of op.del ?? []) delete values[key];
  }
  return values;
}

function keysOnDisk(file: string): string[] {
  return Object.keys(valuesOnDisk(file));
}

function cachedKeys(file: string): string[] {
  return Object.keys(readCache(file)._json_cache_func_cache).sort();
}

beforeEach(() => {
  CacheLog.resetReported();
});

afterEach(async () => {
  JSONCache.setLogging(true);
  JSONCache.setLogger(console);
  // Leave no pending write behind for the exit hook (the temp directories go away after the file).
  await JSONCache.flushAll();
});

/** A class with one cached method, in `directory`, reporting to `logger`. */
function makeSquares(directory: string, dataId: string, logger?: CacheLogger) {
  const calls = { count: 0 };
  class Squares extends JSONCache {
    constructor() {
      super({ dataId, directory, ...(logger ? { logger } : {}) });
    }
    @Cached() square(n: number) {
      calls.count++;
      return n * n;
    }
  }
  return { Squares, calls };
}

/** The bytes of a real cache file with a few entries, written by the library. */
async function genuineCacheFile(): Promise<Buffer> {
  const directory = tempDir();
  const { Squares } = makeSquares(directory, "source");
  const source = new Squares();
  for (let i = 0; i < 5; i++) source.square(i);
  expect(await source.jsonCacheSave()).toBe(true);
  return readFileSync(join(directory, "source.json"));
}

function warnings(logger: RecordedLogger): string[] {
  return logger.messages.filter((m) => m.level === "warn").map((m) => m.message);
}

describe("a damaged or foreign cache file", () => {
  it("a truncated file is kept aside with its bytes, the program goes on with an empty cache, and later writes make a fresh file", async () => {
    const genuine = await genuineCacheFile();
    const truncated = genuine.subarray(0, Math.floor(genuine.length / 2));
    const directory = tempDir();
    const file = join(directory, "damaged.json");
    writeFileSync(file, truncated);
    settle(file);

    const log = recordingLogger();
    const { Squares, calls } = makeSquares(directory, "damaged", log);
    const squares = new Squares();
    expect(squares.jsonCacheStats()).toEqual({ totalEntries: 0, functions: {} });
    expect(squares.square(3)).toBe(9);
    expect(calls.count).toBe(1);
    expect(squares.lastCacheStatus).toBe("miss");

    expect(log.messages).toHaveLength(1);
    expect(warnings(log)[0]).toContain(file);
    const aside = readdirSync(directory).filter((name) => name !== "damaged.json" && name.startsWith("damaged.json") && !name.endsWith(".journal"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(directory, aside[0] as string)).equals(truncated)).toBe(true);

    await expect(squares.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(file)).toEqual(["square(3,){}"]);
    expect(readFileSync(join(directory, aside[0] as string)).equals(truncated)).toBe(true);
    expect(log.messages).toHaveLength(1);
  });

  it.each([
    ["a JSON array", "[1,2]"],
    ["another program's object", '{"hello": 1}'],
    ["JSON null", "null"],
    ["a JSON string", '"text"'],
  ])("%s at the cache path is kept aside, never overwritten, with a warning", async (_what, content) => {
    const directory = tempDir();
    const file = join(directory, "foreign.json");
    writeFileSync(file, content);
    const log = recordingLogger();
    const { Squares } = makeSquares(directory, "foreign", log);
    const squares = new Squares();
    expect(squares.square(4)).toBe(16);
    await expect(squares.jsonCacheSave()).resolves.toBe(true);

    expect(warnings(log)).toHaveLength(1);
    expect(warnings(log)[0]).toContain(file);
    const aside = readdirSync(directory).filter((name) => name !== "foreign.json");
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(directory, aside[0] as string), "utf8")).toBe(content);
    expect(cachedKeys(file)).toEqual(["square(4,){}"]);
  });
});

describe("a cache directory that cannot be written", () => {
  it("a directory under a regular file (ENOTDIR): results are returned, one warning names the path, jsonCacheSave resolves false", async () => {
    const base = tempDir();
    writeFileSync(join(base, "plain-file"), "not a directory");
    const directory = join(base, "plain-file", "cache");
    const log = recordingLogger();
    const { Squares, calls } = makeSquares(directory, "nowhere", log);
    const squares = new Squares();
    expect(squares.square(5)).toBe(25);
    expect(squares.square(5)).toBe(25);
    expect(squares.lastCacheStatus).toBe("l1");
    expect(calls.count).toBe(1);
    await expect(squares.jsonCacheSave()).resolves.toBe(false);
    expect(squares.square(6)).toBe(36);
    await expect(squares.jsonCacheSave()).resolves.toBe(false);
    await expect(squares.jsonCacheClear("square")).resolves.toBe(false);

    expect(log.messages).toHaveLength(1);
    expect(log.messages[0]?.level).toBe("warn");
    expect(log.messages[0]?.message).toContain(resolve(directory, "nowhere.json"));
  });

  it("a program whose cache directory cannot be created runs to its end and exits normally", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "plain-file"), "not a directory");
    const program = `
      import { JSONCache, Cached } from "cacherator";
      class Squares extends JSONCache {
        constructor() { super({ dataId: "nowhere", directory: "plain-file/cache" }); }
        @Cached() square(n: number) { return n * n; }
      }
      const squares = new Squares();
      const value = squares.square(4);
      const saved = await squares.jsonCacheSave();
      squares.square(5); // still pending when the process exits
      console.log(JSON.stringify({ value, saved }));
    `;
    const result = await runProgram(program, { cwd });
    expect(result.lines).toEqual([{ value: 16, saved: false }]);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace: nothing was thrown
    expect(result.stderr.match(/\[cacherator\]/g)?.length).toBeGreaterThanOrEqual(1);
    expect(result.stderr).toContain(join(cwd, "plain-file", "cache", "nowhere.json"));
  });

  it("a missing directory is created when the cache opens (its file name is claimed then)", async () => {
    const directory = join(tempDir(), "deep", "er", "cache");
    const log = recordingLogger();
    const { Squares } = makeSquares(directory, "created", log);
    expect(existsSync(directory)).toBe(false);
    const squares = new Squares();
    expect(existsSync(join(directory, "created.json"))).toBe(true);
    squares.square(7);
    await expect(squares.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "created.json"))).toEqual(["square(7,){}"]);
    expect(log.messages).toEqual([]);
  });

  it("a directory removed under a running program is created again by the next write, without a warning", async () => {
    const directory = join(tempDir(), "cache");
    const log = recordingLogger();
    const { Squares } = makeSquares(directory, "removed", log);
    const squares = new Squares();
    squares.square(1);
    await expect(squares.jsonCacheSave()).resolves.toBe(true);
    rmSync(directory, { recursive: true });
    squares.square(2);
    await expect(squares.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "removed.json"))).toEqual(["square(1,){}", "square(2,){}"]);
    expect(log.messages).toEqual([]);
  });
});

describe("a process killed in the middle of writing", () => {
  const STORM = `
    import { JSONCache, Cached } from "cacherator";
    class Storm extends JSONCache {
      constructor() { super({ dataId: "storm", writeDelay: 0 }); }
      @Cached() item(n: number) { return { n, text: "x".repeat(300), when: new Date(n), tags: new Set([n % 7]) }; }
    }
    const storm = new Storm();
    let n = 0;
    function burst() {
      for (let k = 0; k < 100; k++) storm.item(n++);
      setImmediate(burst);
    }
    burst();
    console.log("started");
  `;

  /** Starts the storm in `cwd` and SIGKILLs it `afterMs` after it started. */
  function stormAndKill(program: string, cwd: string, afterMs: number): Promise<NodeJS.Signals | null> {
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, [program], { cwd, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.once("data", () => setTimeout(() => child.kill("SIGKILL"), afterMs));
      child.on("error", fail);
      child.on("exit", (code, signal) => (code !== null && code !== 0 ? fail(new Error(`storm exited ${code}: ${stderr}`)) : done(signal)));
    });
  }

  it("after SIGKILL at random moments the file is always complete JSON that a new process opens without a warning", async () => {
    const program = compileProgram(STORM);
    const trials = Array.from({ length: 15 }, (_, i) => ({ cwd: tempDir(), afterMs: 10 + Math.floor(Math.random() * 300) + i }));
    const outcomes: { entries: number }[] = [];
    for (let start = 0; start < trials.length; start += 5) {
      const batch = trials.slice(start, start + 5);
      const signals = await Promise.all(batch.map((t) => stormAndKill(program, t.cwd, t.afterMs)));
      expect(signals.every((s) => s === "SIGKILL")).toBe(true);
      for (const trial of batch) {
        const directory = join(trial.cwd, "data/cache");
        const file = join(directory, "storm.json");
        if (!existsSync(file)) {
          outcomes.push({ entries: -1 });
          continue;
        }
        const text = readFileSync(file, "utf8");
        expect(text.endsWith("}\n"), `trial ${JSON.stringify(trial)}: the file ends mid-way`).toBe(true);
        const keys = keysOnDisk(file);
        // No torn entry: every stored value is the one its key computes.
        for (const [key, value] of Object.entries(valuesOnDisk(file))) {
          const n = Number(/item\((\d+),\)/.exec(key)?.[1]);
          expect(value, key).toMatchObject({ n, text: "x".repeat(300) });
        }
        const log = recordingLogger();
        class Storm extends JSONCache {
          constructor() {
            super({ dataId: "storm", directory, logger: log });
          }
        }
        const reopened = new Storm();
        expect(log.messages).toEqual([]);
        // The file's entries, and those of the journal (a kill during a fold leaves it sealed beside the file).
        expect(reopened.jsonCacheStats().totalEntries).toBeGreaterThanOrEqual(keys.length);
        outcomes.push({ entries: keys.length });
      }
    }
    expect(outcomes).toHaveLength(15);
    // The trials did exercise files with content, not only kills before the first write.
    expect(outcomes.some((o) => o.entries > 0)).toBe(true);
  });
});

describe("a method that throws", () => {
  it("a thrown error is not cached, leaves the keys' statuses alone (the last status is \"miss\": it ran), and the next call runs the method again", async () => {
    const directory = tempDir();
    let attempts = 0;
    class Risky extends JSONCache {
      constructor() {
        super({ dataId: "risky", directory });
      }
      @Cached() ok() {
        return "fine";
      }
      @Cached() boom(n: number): number {
        attempts++;
        throw new Error(`boom ${n}`);
      }
    }
    const risky = new Risky();
    risky.ok();
    expect(risky.lastCacheStatus).toBe("miss");
    expect(() => risky.boom(1)).toThrow("boom 1");
    expect(risky.lastCacheStatus).toBe("miss");
    expect(risky.cacheStatus).toEqual({ "ok(){}": "miss" });
    risky.ok();
    expect(risky.lastCacheStatus).toBe("l1");
    expect(() => risky.boom(1)).toThrow("boom 1");
    expect(risky.lastCacheStatus).toBe("miss"); // the method ran
    expect(risky.cacheStatus).toEqual({ "ok(){}": "l1" });
    expect(attempts).toBe(2);
    expect(risky.jsonCacheStats()).toEqual({ totalEntries: 1, functions: { ok: 1 } });
    await expect(risky.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "risky.json"))).toEqual(["ok(){}"]);
  });

  it("a rejected promise is not cached, leaves the keys' statuses alone (the last status is \"miss\": it ran), and the next call runs the method again", async () => {
    const directory = tempDir();
    let attempts = 0;
    class RiskyAsync extends JSONCache {
      constructor() {
        super({ dataId: "risky-async", directory });
      }
      @Cached() async ok() {
        return "fine";
      }
      @Cached() async fails(n: number): Promise<number> {
        attempts++;
        await new Promise((r) => setTimeout(r, 1));
        if (attempts < 3) throw new Error(`rejected ${n}`);
        return n;
      }
    }
    const risky = new RiskyAsync();
    await risky.ok();
    expect(risky.lastCacheStatus).toBe("miss");
    await expect(risky.fails(1)).rejects.toThrow("rejected 1");
    expect(risky.lastCacheStatus).toBe("miss");
    expect(risky.cacheStatus).toEqual({ "ok(){}": "miss" });
    await risky.ok();
    expect(risky.lastCacheStatus).toBe("l1");
    await expect(risky.fails(1)).rejects.toThrow("rejected 1");
    expect(risky.lastCacheStatus).toBe("miss");
    expect(risky.cacheStatus).toEqual({ "ok(){}": "l1" });
    await expect(risky.fails(1)).resolves.toBe(1);
    expect(attempts).toBe(3);
    expect(risky.lastCacheStatus).toBe("miss");
    await expect(risky.fails(1)).resolves.toBe(1);
    expect(attempts).toBe(3);
  });
});

describe("results that cannot be written to the file", () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  const unencodable: [string, () => unknown][] = [
    ["a function inside", () => ({ label: "f", run: () => 1 })],
    [
      "a circular structure",
      () => {
        const node: Record<string, unknown> = { name: "loop" };
        node.self = node;
        return node;
      },
    ],
    ["a class instance", () => ({ at: new Point(1, 2) })],
  ];

  it.each(unencodable)("%s: returned, served from memory, not written, warned about once, and other entries still save", async (_what, make) => {
    const directory = tempDir();
    const log = recordingLogger();
    let runs = 0;
    class Odd extends JSONCache {
      constructor() {
        super({ dataId: "odd", directory, logger: log });
      }
      @Cached() odd(_n: number) {
        runs++;
        return make();
      }
      @Cached() plain(n: number) {
        return n + 1;
      }
    }
    const odd = new Odd();
    const first = odd.odd(1);
    expect(first).toBeTypeOf("object");
    expect(odd.lastCacheStatus).toBe("miss");
    expect(odd.odd(1)).toBe(first);
    expect(odd.lastCacheStatus).toBe("l1");
    odd.odd(2);
    odd.odd(2);
    odd.odd(1);
    expect(runs).toBe(2);
    expect(odd.plain(1)).toBe(2);
    await expect(odd.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "odd.json"))).toEqual(["plain(1,){}"]);
    await expect(odd.jsonCacheSave()).resolves.toBe(true);
    expect(warnings(log)).toHaveLength(1);
    expect(warnings(log)[0]).toContain("odd");
    expect(log.messages).toHaveLength(1);
  });

  it("after a restart an unencodable result is computed again, while the others are hits", async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      class Point { constructor(public x: number) {} }
      const runs = { odd: 0, plain: 0 };
      class Odd extends JSONCache {
        constructor() { super({ dataId: "odd" }); }
        @Cached() odd() { runs.odd++; return new Point(1); }
        @Cached() plain() { runs.plain++; return 1; }
      }
      const o = new Odd();
      o.odd(); const oddStatus = o.lastCacheStatus;
      o.plain(); const plainStatus = o.lastCacheStatus;
      console.log(JSON.stringify({ runs, oddStatus, plainStatus }));
    `;
    const first = await runProgram(program, { cwd });
    expect(first.lines).toEqual([{ runs: { odd: 1, plain: 1 }, oddStatus: "miss", plainStatus: "miss" }]);
    expect(first.stderr.match(/\[cacherator\]/g)).toHaveLength(1);
    const second = await runProgram(program, { cwd });
    expect(second.lines).toEqual([{ runs: { odd: 1, plain: 0 }, oddStatus: "miss", plainStatus: "l1" }]);
  });
});

describe("mistakes in options and usage fail loudly", () => {
  class Configured extends JSONCache {
    constructor(options: unknown) {
      super(options as JSONCacheOptions);
    }
  }

  it.each<[string, Record<string, unknown>, RegExp[]]>([
    ["a negative ttl", { ttl: -1 }, [/"ttl"/, /-1/]],
    ["a NaN ttl", { ttl: NaN }, [/"ttl"/, /NaN/]],
    ["a string ttl", { ttl: "7" }, [/"ttl"/, /"7"/]],
    ["a numeric dataId", { dataId: 42 }, [/"dataId"/, /42/]],
    ["an empty dataId", { dataId: "" }, [/"dataId"/, /""/]],
    ["a misspelt option", { dataid: "x" }, [/"dataid"/]],
    ["an option from another library", { ttlSeconds: 30 }, [/"ttlSeconds"/]],
    ["a negative writeDelay", { writeDelay: -5 }, [/"writeDelay"/, /-5/]],
    ["a string writeDelay", { writeDelay: "100" }, [/"writeDelay"/, /"100"/]],
    ["a NaN writeDelay", { writeDelay: NaN }, [/"writeDelay"/, /NaN/]],
    ["a logger without methods", { logger: {} }, [/"logger"/, /object/]],
    ["a function as logger", { logger: () => undefined }, [/"logger"/, /function/]],
    ["a string for logging", { logging: "no" }, [/"logging"/, /"no"/]],
  ])("%s is a CacheOptionsError naming the option and the value", (_what, options, patterns) => {
    const directory = tempDir();
    let error: unknown;
    try {
      new Configured({ directory, ...options });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CacheOptionsError);
    for (const pattern of patterns) expect((error as Error).message).toMatch(pattern);
  });

  it.each<[string, unknown, RegExp[]]>([
    ["a negative ttl", { ttl: -2 }, [/"ttl"/, /-2/, /method/]],
    ["a NaN ttl", { ttl: NaN }, [/"ttl"/, /NaN/, /method/]],
    ["a misspelt option", { tll: 1 }, [/"tll"/, /method/]],
    ["a string clearCache", { clearCache: "yes" }, [/"clearCache"/, /"yes"/, /method/]],
  ])("bad @Cached options (%s) fail when the class is defined, naming the method, option and value", (_what, options, patterns) => {
    let error: unknown;
    try {
      class Defined extends JSONCache {
        @Cached(options as CachedOptions) method() {
          return 1;
        }
      }
      void Defined;
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CacheOptionsError);
    for (const pattern of patterns) expect((error as Error).message).toMatch(pattern);
  });

  it("@Cached on a static method is a CacheUsageError when the class is defined", () => {
    let error: unknown;
    try {
      class WithStatic extends JSONCache {
        // @ts-expect-error -- a static method has no JSONCache instance; TypeScript refuses it too
        @Cached() static lookup() {
          return 1;
        }
      }
      void WithStatic;
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CacheUsageError);
    expect((error as Error).message).toMatch(/static/);
    expect((error as Error).message).toMatch(/lookup/);
  });

  it("a cached method called without its object (passed on as a callback) is a CacheUsageError that says to bind it", () => {
    class Plain extends JSONCache {
      @Cached() compute() {
        return 1;
      }
    }
    const { compute } = Plain.prototype;
    let error: unknown;
    try {
      compute.call(undefined as unknown as Plain);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CacheUsageError);
    expect((error as Error).message).toMatch(/compute/);
    expect((error as Error).message).toMatch(/without its object/);
    expect((error as Error).message).toMatch(/\.bind\(/);
  });

  it("with legacy decorators, static methods and detached methods are CacheUsageErrors too", async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached, CacheUsageError } from "cacherator";
      const out: unknown[] = [];
      try {
        class WithStatic extends JSONCache { @Cached() static lookup() { return 1; } }
        void WithStatic;
        out.push("no error");
      } catch (e) { out.push([e instanceof CacheUsageError, (e as Error).message]); }
      class Plain { @Cached() compute() { return 1; } }
      const detached = new Plain().compute;
      try { detached(); out.push("no error"); } catch (e) { out.push([e instanceof CacheUsageError, (e as Error).message]); }
      console.log(JSON.stringify(out));
    `;
    const result = await runProgram(program, { cwd, dialect: "legacy" });
    const [out] = result.lines as [[boolean, string], [boolean, string]][];
    expect(out?.[0]?.[0]).toBe(true);
    expect(out?.[0]?.[1]).toMatch(/static/);
    expect(out?.[1]?.[0]).toBe(true);
    expect(out?.[1]?.[1]).toMatch(/without its object/);
  });

  it.each<[string, unknown]>([
    ["a function", () => 1],
    ["a symbol", Symbol("s")],
    ["a circular structure", (() => { const a: unknown[] = []; a.push(a); return a; })()],
  ])("%s as an argument is an UncacheableArgumentError, and the statuses stay as they were", (_what, argument) => {
    const directory = tempDir();
    const { Squares } = makeSquares(directory, "arguments");
    const squares = new Squares();
    squares.square(2);
    expect(() => squares.square(argument as number)).toThrow(UncacheableArgumentError);
    expect(squares.lastCacheStatus).toBe("miss");
    expect(squares.cacheStatus).toEqual({ "square(2,){}": "miss" });
  });

  it("none of these mistakes changes the cache file", async () => {
    const directory = tempDir();
    const { Squares } = makeSquares(directory, "guarded");
    const squares = new Squares();
    squares.square(3);
    await expect(squares.jsonCacheSave()).resolves.toBe(true);
    const file = join(directory, "guarded.json");
    const before = readFileSync(file);

    for (const bad of [{ ttl: -1 }, { writeDelay: "x" }, { unknown: true }, { logger: 5 }, { clearCache: "yes" }]) {
      expect(() => new Configured({ dataId: "guarded", directory, ...bad })).toThrow(CacheOptionsError);
    }
    expect(() => squares.square((() => 1) as unknown as number)).toThrow(UncacheableArgumentError);
    await JSONCache.flushAll();
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(squares.square(3)).toBe(9);
    expect(squares.lastCacheStatus).toBe("l1");
  });
});

describe("logging", () => {
  /** A class whose `odd` result cannot be persisted: a dependable source of one warning per method. */
  function makeNoisy(directory: string, options: { logger?: CacheLogger; logging?: boolean } = {}) {
    class Noisy extends JSONCache {
      constructor() {
        super({ dataId: "noisy", directory, ...options });
      }
      @Cached() odd(n: number) {
        return { n, run: () => n };
      }
      @Cached() other(n: number) {
        return { n, run: () => n };
      }
    }
    return new Noisy();
  }

  it("local JSON work logs nothing: misses, hits, async calls, saves, clears, stats and shared instances", async () => {
    const directory = tempDir();
    const own = recordingLogger();
    const global = recordingLogger();
    JSONCache.setLogger(global);
    class Quiet extends JSONCache {
      declare score: number;
      constructor(logger?: CacheLogger) {
        super({ dataId: "quiet", directory, ...(logger ? { logger } : {}) });
        this.score ??= 0;
      }
      @Cached() sync(n: number) {
        return { n, when: new Date(n), tags: new Set([n]) };
      }
      @Cached() async later(n: number) {
        return n * 2;
      }
    }
    const quiet = new Quiet(own);
    const shared = new Quiet();
    for (let round = 0; round < 2; round++) {
      quiet.sync(1);
      await quiet.later(2);
      shared.sync(1);
      await shared.later(3);
      quiet.score++;
    }
    quiet.jsonCacheStats();
    await expect(quiet.jsonCacheSave()).resolves.toBe(true);
    await expect(quiet.jsonCacheClear("later")).resolves.toBe(true);
    await JSONCache.flushAll();
    expect(own.messages).toEqual([]);
    expect(global.messages).toEqual([]);
  });

  it("restarts log nothing either (default console logger)", async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      class Player extends JSONCache {
        declare score: number;
        constructor() { super({ dataId: "player" }); this.score ??= 0; }
        @Cached() level(n: number) { return { n, at: new Date(0) }; }
        @Cached() async load(n: number) { return [n]; }
      }
      const p = new Player();
      p.score += 10;
      p.level(1);
      await p.load(2);
      const saved = await p.jsonCacheSave();
      console.log(JSON.stringify({ score: p.score, status: p.lastCacheStatus, saved }));
    `;
    const first = await runProgram(program, { cwd });
    const second = await runProgram(program, { cwd });
    for (const run of [first, second]) {
      expect(run.stderr).toBe("");
      expect(run.stdout).not.toContain("[cacherator]");
    }
    expect(first.lines).toEqual([{ score: 10, status: "miss", saved: true }]);
    expect(second.lines).toEqual([{ score: 20, status: "l1", saved: true }]);
  });

  it("JSONCache.setLogging(false) silences every instance, existing ones included, until it is turned back on", () => {
    const existingLog = recordingLogger();
    const globalLog = recordingLogger();
    JSONCache.setLogger(globalLog);
    const existing = makeNoisy(tempDir(), { logger: existingLog });
    JSONCache.setLogging(false);
    const created = makeNoisy(tempDir());
    existing.odd(1);
    created.odd(1);
    expect(existingLog.messages).toEqual([]);
    expect(globalLog.messages).toEqual([]);

    JSONCache.setLogging(true);
    existing.other(1);
    created.other(1);
    expect(warnings(existingLog)).toHaveLength(1);
    expect(warnings(globalLog)).toHaveLength(1);
  });

  it("logging: false silences one instance only", () => {
    const silentLog = recordingLogger();
    const loudLog = recordingLogger();
    const silent = makeNoisy(tempDir(), { logger: silentLog, logging: false });
    const loud = makeNoisy(tempDir(), { logger: loudLog });
    silent.odd(1);
    loud.odd(1);
    expect(silentLog.messages).toEqual([]);
    expect(warnings(loudLog)).toHaveLength(1);
  });

  it("JSONCache.setLogger sends warnings of instances without their own logger to it", () => {
    const globalLog = recordingLogger();
    const ownLog = recordingLogger();
    JSONCache.setLogger(globalLog);
    makeNoisy(tempDir()).odd(1);
    makeNoisy(tempDir(), { logger: ownLog }).odd(1);
    expect(warnings(globalLog)).toHaveLength(1);
    expect(warnings(globalLog)[0]).toContain("odd");
    expect(warnings(ownLog)).toHaveLength(1);
  });

  it("a logger that throws does not break the program", async () => {
    let calls = 0;
    const throwing: CacheLogger = {
      debug: () => { calls++; throw new Error("debug broke"); },
      info: () => { calls++; throw new Error("info broke"); },
      warn: () => { calls++; throw new Error("warn broke"); },
      error: () => { calls++; throw new Error("error broke"); },
    };
    const noisy = makeNoisy(tempDir(), { logger: throwing });
    expect(noisy.odd(1).n).toBe(1);
    expect(noisy.odd(1).n).toBe(1);

    // A damaged file reported at construction, and a failed write, through the same logger.
    const directory = tempDir();
    writeFileSync(join(directory, "broken.json"), "{ not json");
    settle(join(directory, "broken.json"));
    const { Squares } = makeSquares(directory, "broken", throwing);
    const squares = new Squares();
    expect(squares.square(2)).toBe(4);
    const base = tempDir();
    writeFileSync(join(base, "file"), "");
    const { Squares: Unwritable } = makeSquares(join(base, "file", "cache"), "unwritable", throwing);
    const unwritable = new Unwritable();
    expect(unwritable.square(3)).toBe(9);
    await expect(unwritable.jsonCacheSave()).resolves.toBe(false);
    expect(calls).toBeGreaterThanOrEqual(3);
  });
});

describe("a cache path that is not a file", () => {
  it("a directory standing where the cache file belongs is kept aside with its content, and the cache works", async () => {
    const directory = tempDir();
    const blocker = join(directory, "blocked.json");
    mkdirSync(blocker);
    writeFileSync(join(blocker, "keep.txt"), "precious");
    const log = recordingLogger();
    const { Squares, calls } = makeSquares(directory, "blocked", log);
    const squares = new Squares();
    expect(squares.square(3)).toBe(9);
    expect(calls.count).toBe(1);
    await expect(squares.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(blocker)).toEqual(["square(3,){}"]);
    const aside = readdirSync(directory).filter((name) => name.startsWith("blocked.json.unreadable-"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(directory, aside[0] as string, "keep.txt"), "utf8")).toBe("precious");
    expect(warnings(log)).toHaveLength(1);
    expect(warnings(log)[0]).toContain("cannot be read");
  });
});

/** Dates a file a minute back: it has stayed as it is, so it is not being written by another program. */
function settle(file: string): void {
  const past = new Date(Date.now() - 60_000);
  utimesSync(file, past, past);
}
