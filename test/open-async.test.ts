/**
 * `JSONCache.openAsync`: a large cache file is read in parts with the event loop running between
 * them; instances constructed afterwards find it loaded, and one constructed meanwhile reads the rest.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Cached, CacheOptionsError, JSONCache } from "../src/index.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { tempDir } from "./helpers.js";

const ENTRIES = 40_000; // about 5 MB: read in parts

function writeCache(directory: string, dataId: string): void {
  const now = Date.now();
  const lines = function* (): Generator<[string, string]> {
    for (let i = 0; i < ENTRIES; i++) yield [`square(${i},){}`, entryText(i * i, now, false)];
  };
  writeFileSync(join(directory, `${dataId}.json`), serializeCacheFile(dataId, lines(), [["score", "7"]], now));
}

function squares(directory: string, dataId: string) {
  const calls = { count: 0 };
  class Squares extends JSONCache {
    declare score: number;
    constructor() {
      super({ dataId, directory, logging: false });
    }
    @Cached() square(n: number): number {
      calls.count++;
      return n * n;
    }
  }
  return { Squares, calls };
}

/** Counts turns of the event loop until stopped. */
function turns(): { count: number; stop(): void } {
  let running = true;
  const counter = { count: 0, stop: () => void (running = false) };
  const tick = () => {
    if (!running) return;
    counter.count++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return counter;
}

describe("JSONCache.openAsync", () => {
  it("reads a large file with the event loop turning meanwhile; a later instance finds everything loaded", async () => {
    const directory = tempDir();
    writeCache(directory, "async-open");
    const loop = turns();
    await JSONCache.openAsync({ dataId: "async-open", directory });
    loop.stop();
    expect(loop.count).toBeGreaterThanOrEqual(3); // the loop ran between the parts (about 5 MB; it runs at least once per MB)
    const { Squares, calls } = squares(directory, "async-open");
    const cache = new Squares();
    expect(cache.jsonCacheStats().totalEntries).toBe(ENTRIES);
    expect(cache.square(ENTRIES - 1)).toBe((ENTRIES - 1) ** 2);
    expect(cache.square(123)).toBe(123 * 123);
    expect(calls.count).toBe(0);
    expect(cache.lastCacheStatus).toBe("l1");
    expect(cache.score).toBe(7);
  });

  it("an instance constructed while it runs reads the rest at once, and the open still resolves", async () => {
    const directory = tempDir();
    writeCache(directory, "overtaken");
    const opening = JSONCache.openAsync({ dataId: "overtaken", directory });
    await new Promise((resolve) => setImmediate(resolve));
    const { Squares, calls } = squares(directory, "overtaken");
    const cache = new Squares();
    expect(cache.jsonCacheStats().totalEntries).toBe(ENTRIES);
    await opening;
    expect(cache.square(ENTRIES - 1)).toBe((ENTRIES - 1) ** 2);
    expect(calls.count).toBe(0);
    const again = new Squares();
    expect(again.jsonCacheStats().totalEntries).toBe(ENTRIES);
  });

  it("a missing or invalid dataId is a CacheOptionsError that says what to pass", async () => {
    await expect(JSONCache.openAsync({} as never)).rejects.toThrow(CacheOptionsError);
    await expect(JSONCache.openAsync({} as never)).rejects.toThrow(/needs the dataId/);
    await expect(JSONCache.openAsync({ dataId: "" })).rejects.toThrow(CacheOptionsError);
  });
});
