/**
 * Mistakes in options and usage fail loudly, with errors that name the option and the fix, and never
 * change the cache file.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  Cached,
  CacheOptionsError,
  CacheUsageError,
  JSONCache,
  UncacheableArgumentError,
  type CachedOptions,
  type JSONCacheOptions,
} from "../src/index.js";
import { runProgram, tempDir } from "./helpers.js";
import { makeSquares, resetLoggingAroundEachTest } from "./failure-helpers.js";

resetLoggingAroundEachTest();

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
