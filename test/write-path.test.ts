/**
 * The write path: a write is an append to the journal (nothing else on its path), durable saves share
 * fdatasyncs (group commit), folds follow in the background, and an exit appends everything first and
 * folds while its budget lasts — with nothing saved ever lost.
 */
import { existsSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { tryLock } from "../src/store/file-lock.js";
import { recordingLogger, tempDir } from "./helpers.js";
import { compileWithPrelude, putKey, startFile, until, valueFor } from "./shared-store-helpers.js";

function fileKeys(file: string): string[] {
  if (!existsSync(file)) return [];
  return Object.keys((JSON.parse(readFileSync(file, "utf8")) as { _json_cache_func_cache: object })._json_cache_func_cache);
}

function journalText(file: string): string {
  return existsSync(`${file}.journal`) ? readFileSync(`${file}.journal`, "utf8") : "";
}

function counter(directory: string, dataId: string, logger = recordingLogger()) {
  const calls = { count: 0 };
  class Counter extends JSONCache {
    constructor() {
      super({ dataId, directory, logger });
    }
    @Cached() double(n: number): number {
      calls.count++;
      return n * 2;
    }
  }
  return { Counter, calls, logger };
}

describe("a write", () => {
  it("appends to the journal and nothing else; the small file is folded in the background shortly after", async () => {
    const directory = tempDir();
    const { Counter } = counter(directory, "small");
    const cache = new Counter();
    const file = join(directory, "small.json");
    cache.double(1);
    await JSONCache.flushAll();
    expect(journalText(file)).toContain('"double(1,){}"');
    expect(fileKeys(file)).not.toContain("double(1,){}"); // not on the write's path
    await until(() => fileKeys(file).includes("double(1,){}"), "the background fold", 5_000);
    await until(() => journalText(file) === "", "the journal folded away", 5_000);
  });

  it("of a small cache whose fold found the lock busy: the fold is tried again, and the file gets the entry once the lock is free", async () => {
    const directory = tempDir();
    const { Counter } = counter(directory, "busy");
    const cache = new Counter();
    const file = join(directory, "busy.json");
    const held = tryLock(`${file}.lock`); // a live holder: this process, as another would hold it
    expect(held).toBeDefined();
    try {
      cache.double(1);
      await JSONCache.flushAll();
      await new Promise((resolve) => setTimeout(resolve, 450)); // the fold due after the write found the lock busy
      expect(fileKeys(file)).not.toContain("double(1,){}");
    } finally {
      held?.release();
    }
    // No further write: the retry alone folds it in.
    await until(() => fileKeys(file).includes("double(1,){}"), "the retried fold", 5_000);
    expect(journalText(file)).toBe("");
  });

  it("concurrent durable saves share fdatasyncs (group commit), and every one of them is durable", async () => {
    const directory = tempDir();
    const { Counter } = counter(directory, "group");
    const caches = Array.from({ length: 64 }, () => new Counter());
    caches[0]?.double(0);
    await caches[0]?.jsonCacheSave();
    const before = JSONCache.metrics().journalSyncs;
    const saved = await Promise.all(
      caches.map((cache, i) => {
        cache.double(1_000 + i);
        return cache.jsonCacheSave();
      }),
    );
    expect(saved.every(Boolean)).toBe(true);
    const syncs = JSONCache.metrics().journalSyncs - before;
    expect(syncs).toBeGreaterThanOrEqual(1);
    expect(syncs).toBeLessThanOrEqual(4);
    // Saved means on disk: a new process (here, a fresh read) finds all 64.
    await JSONCache.compactAll();
    const keys = fileKeys(join(directory, "group.json"));
    for (let i = 0; i < 64; i++) expect(keys).toContain(`double(${1_000 + i},){}`);
  });

  it("a journal removed under a running process is created again by the next append", async () => {
    const directory = tempDir();
    const { Counter, logger } = counter(directory, "removed");
    const cache = new Counter();
    const file = join(directory, "removed.json");
    writeFileSync(file, JSON.stringify({ _json_cache_func_cache: {}, _cacherator: { format: 1, data_id: "removed" } }).repeat(1)); // over 0 bytes: not folded at once
    cache.double(1);
    await JSONCache.flushAll();
    rmSync(`${file}.journal`, { force: true });
    cache.double(2);
    await JSONCache.flushAll();
    expect(journalText(file)).toContain('"double(2,){}"');
    expect(logger.text()).not.toMatch(/cannot write/);
  });

  it("a symlink planted at the journal's path while its descriptor is open is never written through", async () => {
    const directory = tempDir();
    const { Counter, logger } = counter(directory, "planted");
    const cache = new Counter();
    const file = join(directory, "planted.json");
    cache.double(1);
    await JSONCache.flushAll();
    const target = join(tempDir(), "victim.txt");
    writeFileSync(target, "precious\n");
    rmSync(`${file}.journal`, { force: true });
    symlinkSync(target, `${file}.journal`);
    cache.double(2);
    await JSONCache.flushAll();
    expect(readFileSync(target, "utf8")).toBe("precious\n");
    expect(logger.text()).toMatch(/cannot write cache file/);
    // The result is kept: once the symlink is gone, the retried write lands.
    rmSync(`${file}.journal`);
    await JSONCache.compactAll();
    expect(fileKeys(file)).toContain("double(2,){}");
  });
});

describe("exit", () => {
  it("2,000 caches with a pending miss each: every entry is on disk after exit (file or journal), and the first caches' files are complete", async () => {
    const cwd = tempDir();
    const program = compileWithPrelude(`
      for (let i = 0; i < 2_000; i++) new Calc({ dataId: "exit-" + i }).put("k", 10);
      say({ ready: true });
      process.exit(0);
    `);
    const result = await startFile(program, { cwd, timeoutMs: 60_000 }).done;
    expect(result.lines).toEqual([{ ready: true }]);
    let inFile = 0;
    for (let i = 0; i < 2_000; i++) {
      const file = join(cwd, `data/cache/exit-${i}.json`);
      const keys = fileKeys(file);
      if (keys.includes(putKey("k", 10))) inFile++;
      else expect(journalText(file), `exit-${i}`).toContain(JSON.stringify(valueFor("k", 10)));
    }
    // Folds run while the budget lasts; the first caches are folded, whatever the machine's speed.
    expect(inFile).toBeGreaterThan(0);
    expect(fileKeys(join(cwd, "data/cache/exit-0.json"))).toContain(putKey("k", 10));
  });

  it("a journal larger than the exit's budget allows is left for the next fold, and read by the next process", async () => {
    const cwd = tempDir();
    // About 60 MB of results: a fold of that is judged too long for an exit's budget.
    const program = compileWithPrelude(`
      const calc = new Calc({ dataId: "huge" });
      for (let i = 0; i < 1_200; i++) calc.put("k" + i, 50_000);
      await JSONCache.flushAll();
      say({ ready: true });
      process.exit(0);
    `);
    const result = await startFile(program, { cwd, timeoutMs: 60_000 }).done;
    expect(result.lines).toEqual([{ ready: true }]);
    const file = join(cwd, "data/cache/huge.json");
    expect(statSync(`${file}.journal`).size).toBeGreaterThan(50_000_000);
    const reader = compileWithPrelude(`
      const calc = new Calc({ dataId: "huge" });
      for (let i = 0; i < 1_200; i++) calc.put("k" + i, 50_000);
      say({ runs });
    `);
    const again = await startFile(reader, { cwd, timeoutMs: 60_000 }).done;
    expect(again.lines).toEqual([{ runs: 0 }]);
  });
});
