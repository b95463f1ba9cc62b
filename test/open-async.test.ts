/**
 * `JSONCache.openAsync`: a large cache file is read in parts with the event loop running between
 * them; instances constructed afterwards find it loaded, and one constructed meanwhile reads the rest.
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { Cached, CacheOptionsError, JSONCache } from "../src/index.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { setLine } from "../src/store/journal.js";
import { nextTurn } from "../src/store/next-turn.js";
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

  it("reads a large journal left beside the file in slices too; its entries win over the file's", async () => {
    // A journal an exit could not fold in: 12 MB next to a file of just over 1 MB. The file's part is
    // read in at most 19 parts; the journal's in 256 KB slices, the event loop turning after each.
    const directory = tempDir();
    const now = Date.now();
    const inFile = 10_000;
    const lines = function* (): Generator<[string, string]> {
      for (let i = 0; i < inFile; i++) yield [`square(${i},){}`, entryText(i * i, now - 1_000, false)];
    };
    const file = join(directory, "journal-left.json");
    writeFileSync(file, serializeCacheFile("journal-left", lines(), [], now - 1_000));
    let journal = "";
    let total = inFile;
    for (let i = 0; journal.length < 12 * 1024 * 1024; i++) {
      // First every entry of the file again with another value (newer), then new entries.
      journal += `\n${setLine(`square(${i},){}`, entryText(i < inFile ? -i : i * i, now, false))}`;
      if (i >= inFile) total++;
    }
    writeFileSync(`${file}.journal`, journal);
    expect(statSync(file).size).toBeGreaterThan(1024 * 1024);
    const loop = turns();
    await JSONCache.openAsync({ dataId: "journal-left", directory });
    loop.stop();
    expect(loop.count).toBeGreaterThanOrEqual(30); // 48 slices; the file alone gives at most 19 turns
    const { Squares, calls } = squares(directory, "journal-left");
    const cache = new Squares();
    expect(cache.jsonCacheStats().totalEntries).toBe(total);
    expect(cache.square(5)).toBe(-5); // the journal's value, newer than the file's
    expect(cache.square(total - 1)).toBe((total - 1) ** 2); // an entry only the journal holds
    expect(calls.count).toBe(0);
  });

  it("between parts, a turn of the event loop in which other work ran long is followed by another, so timers due are served before the read goes on", async () => {
    // Other work in the turn (in a real open: a garbage collection, which V8 runs as a task right
    // before the immediates that resume the read): a timer comes due during it.
    const order: string[] = [];
    setImmediate(() => {
      setTimeout(() => order.push("timer"), 0);
      const until = performance.now() + 20;
      while (performance.now() < until);
    });
    await nextTurn();
    order.push("read on");
    expect(order).toEqual(["timer", "read on"]);
  });

  it("a missing or invalid dataId is a CacheOptionsError that says what to pass", async () => {
    await expect(JSONCache.openAsync({} as never)).rejects.toThrow(CacheOptionsError);
    await expect(JSONCache.openAsync({} as never)).rejects.toThrow(/needs the dataId/);
    await expect(JSONCache.openAsync({ dataId: "" })).rejects.toThrow(CacheOptionsError);
  });
});
