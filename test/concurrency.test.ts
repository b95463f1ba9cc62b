/**
 * Calls that overlap: identical async calls share one execution, distinct ones each run once,
 * instances of one dataId share one store (no lost entries), and instances are not kept alive by the
 * library.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { runProgram, tempDir } from "./helpers.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function cachedKeys(file: string): string[] {
  const data = JSON.parse(readFileSync(file, "utf8")) as { _json_cache_func_cache: Record<string, unknown> };
  return Object.keys(data._json_cache_func_cache).sort();
}

afterEach(async () => {
  await JSONCache.flushAll();
});

/** A class whose async method takes a while, counting how often each key really runs. */
function makeRemote(directory: string) {
  const runs = new Map<string, number>();
  class Remote extends JSONCache {
    constructor(dataId = "remote") {
      super({ dataId, directory });
    }
    @Cached() async fetch(id: number) {
      runs.set(`${id}`, (runs.get(`${id}`) ?? 0) + 1);
      await sleep(20);
      return { id, payload: `item-${id}`, at: new Date(id) };
    }
  }
  return { Remote, runs };
}

describe("identical calls under way at the same time", () => {
  it("100 concurrent identical async calls run the method once and all get the result", async () => {
    const { Remote, runs } = makeRemote(tempDir());
    const remote = new Remote();
    const results = await Promise.all(Array.from({ length: 100 }, () => remote.fetch(7)));
    expect(runs.get("7")).toBe(1);
    expect(results).toHaveLength(100);
    for (const result of results) expect(result).toEqual({ id: 7, payload: "item-7", at: new Date(7) });
    expect(remote.lastCacheStatus).toBe("miss");
    await remote.fetch(7);
    expect(remote.lastCacheStatus).toBe("l1");
    expect(runs.get("7")).toBe(1);
  });

  it("concurrent calls with distinct keys each run once, and the file holds all of them", async () => {
    const directory = tempDir();
    const { Remote, runs } = makeRemote(directory);
    const remote = new Remote();
    const ids = Array.from({ length: 50 }, (_, i) => i);
    const calls = [...ids, ...ids, ...ids].map((id) => remote.fetch(id));
    const results = await Promise.all(calls);
    expect(results.map((r) => r.id)).toEqual([...ids, ...ids, ...ids]);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect(runs.size).toBe(50);
    await expect(remote.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "remote.json"))).toEqual(ids.map((id) => `fetch(${id},){}`).sort());
  });

  it("a rejected computation rejects every caller that joined it, and the next call runs the method again", async () => {
    let attempts = 0;
    class Flaky extends JSONCache {
      constructor() {
        super({ dataId: "flaky", directory: tempDir() });
      }
      @Cached() async load() {
        attempts++;
        await sleep(20);
        if (attempts === 1) throw new Error("upstream down");
        return "up";
      }
    }
    const flaky = new Flaky();
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => flaky.load()));
    expect(attempts).toBe(1);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe("rejected");
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(Error);
      expect(((outcome as PromiseRejectedResult).reason as Error).message).toBe("upstream down");
    }
    expect(flaky.cacheStatus).toEqual({});
    await expect(Promise.all([flaky.load(), flaky.load()])).resolves.toEqual(["up", "up"]);
    expect(attempts).toBe(2);
    await expect(flaky.load()).resolves.toBe("up");
    expect(attempts).toBe(2);
  });
});

describe("instances of the same dataId", () => {
  it("share one store: a result computed through one is a hit for the other, and saving keeps both instances' entries", async () => {
    const directory = tempDir();
    const runs: string[] = [];
    class Shared extends JSONCache {
      constructor(dataId: string) {
        super({ dataId, directory });
      }
      @Cached() f(n: number) {
        runs.push(`${this.jsonCacheDataId}:f(${n})`);
        return n * 2;
      }
      @Cached() g(n: number) {
        runs.push(`${this.jsonCacheDataId}:g(${n})`);
        return n * 3;
      }
    }
    const a = new Shared("shared");
    const b = new Shared("shared");
    expect(a.f(1)).toBe(2);
    expect(b.f(1)).toBe(2);
    expect(b.lastCacheStatus).toBe("l1");
    expect(runs).toEqual(["shared:f(1)"]);

    a.g(2);
    b.g(3);
    await expect(a.jsonCacheSave()).resolves.toBe(true);
    await expect(b.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "shared.json"))).toEqual(["f(1,){}", "g(2,){}", "g(3,){}"]);
    expect(a.jsonCacheStats()).toEqual({ totalEntries: 3, functions: { f: 1, g: 2 } });

    // A different dataId is a different cache.
    const other = new Shared("other");
    expect(other.f(1)).toBe(2);
    expect(other.lastCacheStatus).toBe("miss");
    expect(other.jsonCacheStats()).toEqual({ totalEntries: 1, functions: { f: 1 } });
    await expect(other.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "other.json"))).toEqual(["f(1,){}"]);
    expect(runs).toEqual(["shared:f(1)", "shared:g(2)", "shared:g(3)", "other:f(1)"]);
  });

  it("concurrent identical async calls on two instances run the method once", async () => {
    const { Remote, runs } = makeRemote(tempDir());
    const first = new Remote("pair");
    const second = new Remote("pair");
    const results = await Promise.all([first.fetch(3), second.fetch(3), first.fetch(3), second.fetch(3)]);
    expect(runs.get("3")).toBe(1);
    for (const result of results) expect(result).toEqual({ id: 3, payload: "item-3", at: new Date(3) });
    const isolated = new Remote("alone");
    await isolated.fetch(3);
    expect(runs.get("3")).toBe(2);
  });
});

describe("memory", () => {
  it("the library keeps no instance alive: 2,000 dropped instances are all garbage-collected", async () => {
    const cwd = tempDir();
    // The child turns on gc() itself (runProgram passes no node flags), and counts collections with
    // a FinalizationRegistry.
    const program = `
      import { readdirSync } from "node:fs";
      import v8 from "node:v8";
      import vm from "node:vm";
      import { JSONCache, Cached } from "cacherator";
      v8.setFlagsFromString("--expose-gc");
      const gc = vm.runInNewContext("gc") as () => void;
      const COUNT = 2000;
      let collected = 0;
      const registry = new FinalizationRegistry<number>(() => { collected++; });
      class Item extends JSONCache {
        constructor(id: string) { super({ dataId: id }); }
        @Cached() square(n: number) { return n * n; }
        @Cached() async later(n: number) { return n + 1; }
      }
      async function create() {
        for (let i = 0; i < COUNT; i++) {
          const item = new Item("item-" + i);
          item.square(i);
          await item.later(i);
          registry.register(item, i);
        }
      }
      await create();
      await JSONCache.flushAll();
      const files = readdirSync("data/cache").filter((f) => f.endsWith(".json")).length;
      for (let round = 0; round < 50 && collected < COUNT; round++) {
        gc();
        await new Promise((r) => setTimeout(r, 10));
      }
      console.log(JSON.stringify({ collected, files }));
    `;
    const result = await runProgram(program, { cwd, timeoutMs: 60_000 });
    expect(result.stderr).toBe("");
    expect(result.lines).toEqual([{ collected: 2000, files: 2000 }]);
  });
});
