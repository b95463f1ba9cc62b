/**
 * Arguments that are not data (an AbortSignal, a logger, a request context): the `key` option names
 * what identifies a call, and the error for an uncacheable argument points to it. And the process-wide
 * default directory.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cached, cached, CacheOptionsError, JSONCache, UncacheableArgumentError } from "../src/index.js";
import { tempDir } from "./helpers.js";

afterEach(() => JSONCache.setDefaultDirectory(undefined));

describe("the key option", () => {
  it("a method taking an AbortSignal is keyed by what key returns: the key of a call without the signal", async () => {
    const directory = tempDir();
    let runs = 0;
    class Pages extends JSONCache {
      constructor() { super({ dataId: "pages", directory }); }
      @Cached({ key: (url: string, _signal?: AbortSignal) => url })
      async fetchPage(url: string, signal?: AbortSignal) {
        runs++;
        signal?.throwIfAborted();
        return `page ${url}`;
      }
    }
    const pages = new Pages();
    expect(await pages.fetchPage("a", new AbortController().signal)).toBe("page a");
    expect(await pages.fetchPage("a", AbortSignal.timeout(1000))).toBe("page a");
    expect(pages.lastCacheStatus).toBe("l1");
    expect(runs).toBe(1);
    expect(Object.keys(pages.cacheStatus)).toEqual(["fetchPage('a',){}"]);
    await pages.jsonCacheSave();
    expect(JSON.parse(readFileSync(join(directory, "pages.json"), "utf8"))._json_cache_func_cache).toHaveProperty(["fetchPage('a',){}"]);
  });

  it("cached(fn, { key }) leaves a context argument out of the key; objects returned by key are encoded like arguments", () => {
    let runs = 0;
    const context = { logger: console, request: { id: Math.random() } };
    const total = cached((items: { price: number }[], _ctx: typeof context) => (runs++, items.reduce((sum, item) => sum + item.price, 0)), {
      name: "total",
      directory: tempDir(),
      key: (items) => ({ items, currency: "EUR" }),
    });
    expect(total([{ price: 2 }, { price: 3 }], context)).toBe(5);
    expect(total([{ price: 2 }, { price: 3 }], { ...context, request: { id: 2 } })).toBe(5);
    expect(runs).toBe(1);
    expect(Object.keys(total.cacheStatus)).toEqual(["total({'currency': 'EUR', 'items': [{'price': 2}, {'price': 3}]},){}"]);
  });

  it("an uncacheable argument's error names its position and points to the key option; a bad key option is refused", () => {
    class Jobs extends JSONCache {
      constructor() { super({ dataId: "jobs", directory: tempDir() }); }
      @Cached() run(name: string, _signal: AbortSignal) { return name; }
      @Cached({ key: () => () => 1 }) badKey(name: string) { return name; }
    }
    const jobs = new Jobs();
    let error: unknown;
    try {
      jobs.run("x", new AbortController().signal);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UncacheableArgumentError);
    expect((error as Error).message).toMatch(/^run\(…\): argument 2 of 2: /);
    expect((error as Error).message).toMatch(/AbortSignal.*key option: @Cached\(\{ key: \(\.\.\.args\) => … \}\)/);
    expect(() => jobs.badKey("x")).toThrow(/badKey\(…\): the key option returned a value that cannot be part of a cache key/);
    expect(() => cached((x: number) => x, { name: "f", directory: tempDir(), key: "x" as never })).toThrow(/option "key" must be a function/);
  });
});

describe("the default directory", () => {
  it("JSONCache.setDefaultDirectory sets the folder of instances and functions created afterwards", async () => {
    const base = tempDir();
    JSONCache.setDefaultDirectory(join(base, "app-cache"));
    class Settings extends JSONCache {
      constructor() { super({ dataId: "settings" }); }
      @Cached() value() { return 42; }
    }
    const settings = new Settings();
    settings.value();
    await settings.jsonCacheSave();
    const square = cached((x: number) => x * x, { name: "square" });
    square(3);
    await square.save();
    expect(existsSync(join(base, "app-cache/settings.json"))).toBe(true);
    expect(existsSync(join(base, "app-cache/square.json"))).toBe(true);
    expect(() => JSONCache.setDefaultDirectory("")).toThrow(CacheOptionsError);
    expect(() => JSONCache.setDefaultDirectory(7 as never)).toThrow(/non-empty string.*got 7/);
  });
});
