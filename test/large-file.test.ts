/**
 * Cache files too large for one string are read in parts (our layout) or refused with a clear error
 * (another layout, or not enough memory) — never set aside, never overwritten.
 */
import { closeSync, openSync, readdirSync, statSync, writeSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CacheLog } from "../src/logger.js";
import { entryText, serializeCacheFile, type EntryMeta } from "../src/store/cache-file.js";
import { parseCacheFile } from "../src/store/cache-file-reader.js";
import { FileTooLargeError, PARTS_FROM_BYTES, checkHeapFor, fileParts } from "../src/store/large-file.js";
import { LocalFileStore } from "../src/store/local-file-store.js";
import { recordingLogger, tempDir } from "./helpers.js";

type Seen = [string, unknown, number, boolean, EntryMeta | undefined];

function entriesOf(text: string): { seen: Seen[]; variables: unknown; ours: boolean } {
  const seen: Seen[] = [];
  const loaded = parseCacheFile(text, (key, raw, time, async, meta) => seen.push([key, raw, time, async, meta]));
  return { seen, variables: loaded.variables, ours: loaded.ours };
}

function ourFile(path: string, count: number): string {
  const now = Date.now();
  const lines = function* (): Generator<[string, string]> {
    for (let i = 0; i < count; i++) {
      const value = i % 3 === 0 ? { n: i, s: "ü€😀".repeat(i % 7) } : i % 3 === 1 ? "x".repeat(i % 50) : i;
      yield [`f(${i},'ключ'){}`, entryText(value, now - i, i % 2 === 0, i % 5 === 0 ? { ttlMs: 1_000 * i, expiresMs: now + i } : undefined)];
    }
  };
  const text = serializeCacheFile("big", lines(), [["score", "150"], ["name", '"ada"']], now, { variablesTime: now });
  writeFileSync(path, text);
  return text;
}

describe("a file read in parts", () => {
  it("gives exactly the entries, attributes and marker a whole read gives, whatever the part size", () => {
    const path = join(tempDir(), "big.json");
    const text = ourFile(path, 2_000);
    const whole = entriesOf(text);
    for (const partBytes of [64, 1_000, 4_096, 100_000, 10_000_000]) {
      const seen: Seen[] = [];
      let last: ReturnType<typeof entriesOf> | undefined;
      for (const part of fileParts(path, partBytes)) {
        last = entriesOf(part);
        seen.push(...last.seen);
      }
      expect(seen).toEqual(whole.seen);
      expect(last?.variables).toEqual(whole.variables);
      expect(last?.ours).toBe(true);
    }
  });

  it("an empty cache in our layout is one part", () => {
    const path = join(tempDir(), "empty.json");
    writeFileSync(path, serializeCacheFile("empty", [], [], Date.now()));
    expect([...fileParts(path)].map((part) => entriesOf(part).seen)).toEqual([[]]);
  });

  it("the Python library's indented layout is read in parts too, cut between entries", () => {
    const path = join(tempDir(), "python.json");
    const entries: Record<string, unknown> = {};
    for (let i = 0; i < 300; i++) entries[`f(${i},)`] = { value: { list: [i, "a\nb"], nested: { deep: i } }, date: "2026-01-01T00:00:00.000001" };
    const text = JSON.stringify({ _json_cache_func_cache: entries, _json_cache_last_save_date: "2026-01-01T00:00:00.000001", _json_cache_variable_cache: { score: 3 } }, null, 4);
    writeFileSync(path, text);
    const whole = entriesOf(text);
    expect(whole.seen).toHaveLength(300);
    for (const partBytes of [100, 5_000]) {
      const parts = [...fileParts(path, partBytes)];
      expect(parts.length).toBeGreaterThan(1);
      expect(parts.flatMap((part) => entriesOf(part).seen)).toEqual(whole.seen);
    }
  });

  it("another layout (minified) is refused, saying why and what to do", () => {
    const path = join(tempDir(), "minified.json");
    writeFileSync(path, JSON.stringify({ _json_cache_func_cache: { "f(1,){}": { value: 1, date: "2026-01-01T00:00:00.000001" } }, _json_cache_last_save_date: "2026-01-01T00:00:00.000001", _json_cache_variable_cache: {} }));
    expect(() => [...fileParts(path)]).toThrow(FileTooLargeError);
    expect(() => [...fileParts(path)]).toThrow(/not in the layout this library writes.*npx cacherator prune/s);
  });

  it("a file that would not fit in the process's memory is refused before anything is read", () => {
    const heap = { heap_size_limit: 4_000 * 2 ** 20, used_heap_size: 1_000 * 2 ** 20 } as ReturnType<typeof import("node:v8").getHeapStatistics>;
    expect(() => checkHeapFor("/x/big.json", 500 * 2 ** 20, heap)).not.toThrow();
    expect(() => checkHeapFor("/x/big.json", 1_100 * 2 ** 20, heap)).toThrow(/about 2750 MB of memory.*3000 MB more.*max-old-space-size/s);
  });

  it(`a ${Math.round(PARTS_FROM_BYTES / 2 ** 20)} MB+ minified file: refused with one error, never set aside or written, the cache works in memory`, async () => {
    const directory = tempDir();
    const path = join(directory, "huge.json");
    // Minified JSON, padded past the size from which files are read in parts.
    const fd = openSync(path, "w");
    writeSync(fd, '{"_json_cache_func_cache": {"f(1,)": {"value": "');
    const block = Buffer.alloc(16 * 2 ** 20, "x");
    for (let written = 0; written <= PARTS_FROM_BYTES; written += block.length) writeSync(fd, block);
    writeSync(fd, '", "date": "2026-01-01T00:00:00.000001"}}, "_json_cache_last_save_date": "2026-01-01T00:00:00.000001", "_json_cache_variable_cache": {}}');
    closeSync(fd);
    const before = statSync(path);
    const logger = recordingLogger();
    const store = new LocalFileStore({ path, dataId: "huge", log: new CacheLog(true, logger) });
    store.load();
    expect(logger.messages.filter((m) => m.level === "error").map((m) => m.message)).toEqual([expect.stringMatching(/huge\.json \(\d+ MB\) is not opened: it is not in the layout/)]);
    expect(store.size).toBe(0);
    store.markDirty();
    expect(await store.flush()).toBe(false);
    const after = statSync(path);
    expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs]);
    expect(readdirSync(directory).sort()).toEqual(["huge.json"]);
  });
});
