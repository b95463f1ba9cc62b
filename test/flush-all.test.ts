/**
 * `await JSONCache.flushAll()` leaves no work of the process under way in the cache directories: once
 * it resolves, a program may delete the files (a test's temporary directory, a cache thrown away), and
 * nothing of the library brings any of them back; a fold due later (200 ms after a write) finds nothing
 * to do. Real files in a child process whose thread pool is held busy, so that any file operation the
 * library left to it runs only after `flushAll()` would have resolved without waiting for it; then
 * `fs.watch` (inotify) sees every file created, changed or removed.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { JSONCache } from "../src/index.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { tryLock, type HeldLock } from "../src/store/file-lock.js";
import { runProgram, tempDir } from "./helpers.js";

afterEach(async () => {
  await JSONCache.flushAll();
});

/**
 * The child: runs `scenario` with its one thread-pool thread held by a long pbkdf2 started first, then
 * `await JSONCache.flushAll()`; removes the directory's files (unless KEEP is set); then watches the
 * directory until the pool is free again and 700 ms more (past the 200 ms fold delay and retries).
 */
const CHILD = `
  import { JSONCache, Cached } from "cacherator";
  import { pbkdf2 } from "node:crypto";
  import * as fs from "node:fs";
  import { join } from "node:path";
  const dir = process.env.DIR;
  class Doubler extends JSONCache {
    constructor() { super({ dataId: "c", directory: dir }); }
    @Cached() double(n: number) { return n * 2; }
  }
  const cache = new Doubler();
  // The pool's one thread is held from here: every asynchronous file operation waits behind this.
  const busy = new Promise((resolve) => pbkdf2("k", "s", Number(process.env.ITERATIONS), 32, "sha256", resolve));
  let freed = false;
  void busy.then(() => { freed = true; });
  const scenario = process.env.SCENARIO;
  const misses = Number(process.env.MISSES ?? "1");
  for (let i = 0; i < misses; i++) cache.double(1_000_000 + i);
  if (scenario === "save under way") void cache.jsonCacheSave();
  if (scenario === "fold under way") void JSONCache.compactAll();
  const started = Date.now();
  if (scenario === "deleted before the fold") {
    // No flushAll: the write (after writeDelay) appends, the fold is due 200 ms later; the files go first.
    const journal = join(dir, "c.json.journal");
    while (!(fs.existsSync(journal) && fs.statSync(journal).size > 0)) await new Promise((resolve) => setTimeout(resolve, 1));
  } else await JSONCache.flushAll();
  const flushMs = Date.now() - started;
  const poolBusyAtResolve = !freed;
  const atResolve = Object.fromEntries(fs.readdirSync(dir).map((name) => [name, fs.statSync(join(dir, name)).size]));
  const fileText = fs.existsSync(join(dir, "c.json")) ? fs.readFileSync(join(dir, "c.json"), "utf8") : "";
  if (process.env.KEEP === undefined) for (const name of fs.readdirSync(dir)) fs.rmSync(join(dir, name), { recursive: true, force: true });
  const events: string[] = [];
  const watcher = fs.watch(dir, (type, name) => events.push(type + " " + name));
  await busy;
  await new Promise((resolve) => setTimeout(resolve, 700));
  watcher.close();
  console.log(JSON.stringify({ flushMs, poolBusyAtResolve, atResolve, inFile: fileText.includes("double(1000000,){}"), events, after: fs.readdirSync(dir) }));
`;

/**
 * The entry was on disk when `flushAll()` resolved: in the journal, or already in the file (when the
 * busy pool made the call last past the 200 ms after which the fold is due, the fold ran meanwhile,
 * and the call waited for it).
 */
function onDiskAtResolve(report: ChildReport): boolean {
  return report.inFile || (report.atResolve["c.json.journal"] ?? 0) > 0;
}

interface ChildReport {
  flushMs: number;
  poolBusyAtResolve: boolean;
  atResolve: Record<string, number>;
  inFile: boolean;
  events: string[];
  after: string[];
}

async function run(directory: string, scenario: string, env: Record<string, string> = {}): Promise<ChildReport> {
  const result = await runProgram(CHILD, {
    cwd: directory,
    env: { DIR: directory, SCENARIO: scenario, ITERATIONS: "300000", UV_THREADPOOL_SIZE: "1", ...env },
    timeoutMs: 30_000,
  });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return result.lines[0] as ChildReport;
}

/** A cache file of `count` entries `double(i)` (about 110 bytes each), as another process left it. */
function prefill(directory: string, count: number): void {
  mkdirSync(directory, { recursive: true });
  const now = Date.now();
  const lines = function* (): Generator<[string, string]> {
    for (let i = 0; i < count; i++) yield [`double(${i},){}`, entryText(i * 2, now, false)];
  };
  writeFileSync(join(directory, "c.json"), serializeCacheFile("c", lines(), new Map(), now));
}

describe("after `await JSONCache.flushAll()`, nothing of the process touches the cache's files", () => {
  it("a new cache: the journal's background open is waited for; the fold due later finds the files gone and does nothing", async () => {
    const report = await run(tempDir(), "new cache");
    expect(onDiskAtResolve(report)).toBe(true);
    // Then the files were deleted: nothing brought any of them back.
    expect(report.events).toEqual([]);
    expect(report.after).toEqual([]);
  });

  it("a small cache file from before, deleted after the call: the fold due later brings nothing back", async () => {
    const directory = tempDir();
    prefill(directory, 20);
    const report = await run(directory, "small file");
    expect(onDiskAtResolve(report)).toBe(true);
    expect(report.events).toEqual([]);
    expect(report.after).toEqual([]);
  });

  it("a large cache whose journal outgrew its file, deleted after the call: the fold due later brings nothing back", async () => {
    const directory = tempDir();
    prefill(directory, 1_000); // ~110 KB, above the size folded after every write
    const report = await run(directory, "journal outgrew the file", { MISSES: "1500" });
    expect(onDiskAtResolve(report)).toBe(true);
    expect(report.events).toEqual([]);
    expect(report.after).toEqual([]);
  });

  it("a large cache with a short journal, kept: no fold is due, so nothing follows", async () => {
    const directory = tempDir();
    prefill(directory, 1_000);
    const report = await run(directory, "short journal", { KEEP: "1" });
    expect(report.events).toEqual([]);
    expect(report.inFile).toBe(false); // not folded: appended to the journal only
    expect(report.atResolve["c.json.journal"]).toBeGreaterThan(0);
  });

  it("a fold under way (compactAll not awaited) is waited for", async () => {
    const directory = tempDir();
    prefill(directory, 1_000);
    const report = await run(directory, "fold under way");
    expect(report.events).toEqual([]);
    expect(report.inFile).toBe(true);
  });

  it("a durable save under way (its fdatasync on the busy pool) is waited for, and the fold it makes of a small cache", async () => {
    const report = await run(tempDir(), "save under way");
    expect(report.events).toEqual([]);
    expect(report.inFile).toBe(true);
    expect(report.after).toEqual([]);
  });

  it("files deleted before the fold a write made due: the fold finds nothing to do and brings nothing back", async () => {
    const report = await run(tempDir(), "deleted before the fold", { ITERATIONS: "1" });
    expect(report.inFile).toBe(false); // deleted before any fold
    expect(report.events).toEqual([]);
    expect(report.after).toEqual([]);
  });

  it("with the fold lock held by a live process (paused, or folding): it never waits for the lock; the entry is safe in the journal", async () => {
    const directory = tempDir();
    prefill(directory, 20);
    let held: HeldLock | undefined;
    try {
      held = tryLock(join(directory, "c.json.lock"));
      expect(held).toBeDefined();
      const report = await run(directory, "lock held", { KEEP: "1" });
      expect(report.inFile).toBe(false); // no fold could run
      expect(readFileSync(join(directory, "c.json.journal"), "utf8")).toContain("double(1000000,){}");
    } finally {
      held?.release();
    }
  });
});
