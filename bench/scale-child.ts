/**
 * The child processes of the scale benchmarks (scale.ts): `node --expose-gc --import tsx
 * bench/scale-child.ts <mode> '<json params>'`. Each prints JSON lines on stdout: `{"event": …}` along
 * the way, `{"log": level, "message": …}` for every message the library reports, and one `{"result": …}`.
 * Lines are written synchronously, so they survive `process.exit`.
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Cached, JSONCache } from "../src/index.js";
import { cachePath, rowValue, sizeOf, type EntryShape } from "./scale-files.js";

type Params = Record<string, unknown>;

function emit(line: object): void {
  fs.writeSync(1, `${JSON.stringify(line)}\n`);
}

/** Wall-clock ms with sub-ms resolution, comparable across processes (both use the same clock). */
function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

const messages: { level: string; message: string }[] = [];
const record = (level: string) => (message: string) => {
  messages.push({ level, message });
  emit({ log: level, message });
};
JSONCache.setLogger({ debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error") });
JSONCache.setLogLevel("info");

class Rows extends JSONCache {
  constructor(directory: string, dataId: string, refreshInterval?: number) {
    super({ dataId, directory, ...(refreshInterval === undefined ? {} : { refreshInterval }) });
  }

  @Cached()
  double(x: number): number {
    return x * 2;
  }

  @Cached()
  row(i: number): string {
    return rowValue(i);
  }
}

function call(cache: Rows, shape: EntryShape, i: number): unknown {
  return shape === "small" ? cache.double(i) : cache.row(i);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error("run the child with --expose-gc");
  collect();
  collect();
}

function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * The longest event-loop stall while it runs: a 1 ms `setInterval` drift probe, the longest gap between
 * two of its ticks, in ms (idle ≈ 1 ms). `monitorEventLoopDelay({ resolution: 1 })` is not used: on
 * Node 20 here, its max after `reset()` and a 200 ms busy loop read 1–7 ms (it did not see the block).
 */
class StallProbe {
  #last = performance.now();
  #max = 0;
  readonly #timer = setInterval(() => {
    const now = performance.now();
    if (now - this.#last > this.#max) this.#max = now - this.#last;
    this.#last = now;
  }, 1);

  reset(): void {
    this.#last = performance.now();
    this.#max = 0;
  }

  /** Lets the probe tick once more (a synchronous block is seen only then); the longest gap in ms. */
  async maxMs(): Promise<number> {
    await sleep(5);
    return this.#max;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** The non-blocking open: `JSONCache.openAsync`, then the instance (which finds the store loaded). */
const asyncOpen: ((directory: string, dataId: string) => Promise<JSONCache>) | undefined = async (directory, dataId) => {
  await JSONCache.openAsync({ dataId, directory });
  return new Rows(directory, dataId);
};

/** Scenario 1: open vs JSON.parse of the same bytes, with the stall of each. */
async function open(p: Params): Promise<void> {
  const source = p.source as string;
  const dataId = p.dataId as string;
  const samples = p.samples as number;
  const work = p.work as string;
  const probe = new StallProbe();
  await sleep(200);
  const idleStallMs = await probe.maxMs();
  const opens: number[] = [];
  const parses: number[] = [];
  const openStalls: number[] = [];
  const parseStalls: number[] = [];
  const asyncOpens: number[] = [];
  const asyncStalls: number[] = [];
  let entries = 0;
  // Each measurement runs in its own function, so what it made is garbage before the next one starts:
  // an open must not pay GC over the parsed object of the baseline before it, nor the baseline over a table.
  const timeParse = (): number => {
    const start = performance.now();
    const parsed = JSON.parse(fs.readFileSync(source, "utf8")) as { _json_cache_func_cache: object };
    const ms = performance.now() - start;
    if (typeof parsed._json_cache_func_cache !== "object") throw new Error("parse failed");
    return ms;
  };
  const timeOpen = (dir: string): number => {
    const start = performance.now();
    const cache = new Rows(dir, dataId);
    const ms = performance.now() - start;
    entries = cache.jsonCacheStats().totalEntries;
    return ms;
  };
  for (let s = -1; s < samples; s++) {
    const dir = join(work, `open-${s + 1}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(source, cachePath(dir, dataId));
    gc();
    probe.reset();
    const parseMs = timeParse();
    const parseStall = await probe.maxMs();
    gc();
    probe.reset();
    const openMs = timeOpen(dir);
    const openStall = await probe.maxMs();
    // A store opened by openAsync is held until the process ends, so only the measured samples make one.
    if (asyncOpen !== undefined && s >= 0) {
      const asyncDir = join(work, `open-async-${s + 1}`);
      fs.mkdirSync(asyncDir, { recursive: true });
      fs.copyFileSync(source, cachePath(asyncDir, dataId));
      gc();
      probe.reset();
      const start = performance.now();
      await asyncOpen(asyncDir, dataId);
      asyncOpens.push(performance.now() - start);
      asyncStalls.push(await probe.maxMs());
      fs.rmSync(asyncDir, { recursive: true, force: true });
    }
    fs.rmSync(dir, { recursive: true, force: true });
    if (s >= 0) {
      opens.push(openMs);
      parses.push(parseMs);
      openStalls.push(openStall);
      parseStalls.push(parseStall);
    }
  }
  probe.stop();
  emit({ result: { idleStallMs, opens, parses, openStalls, parseStalls, entries, asyncOpens, asyncStalls, asyncOpenAvailable: asyncOpen !== undefined, messages } });
}

/** Scenario 2: a write that folds a large journal into a large file, and the stall while it happens. */
async function fold(p: Params): Promise<void> {
  const dir = p.dir as string;
  const dataId = p.dataId as string;
  const missAt = p.missAt as number;
  const start = performance.now();
  const cache = new Rows(dir, dataId);
  const openMs = performance.now() - start;
  const path = cachePath(dir, dataId);
  const before = { file: sizeOf(path), journal: sizeOf(`${path}.journal`), ino: fs.statSync(path).ino };
  const probe = new StallProbe();
  await sleep(100);
  const idleStallMs = await probe.maxMs();
  probe.reset();
  const t0 = performance.now();
  cache.row(missAt);
  const missMs = performance.now() - t0;
  await JSONCache.flushAll();
  // The write appends; the fold of a journal larger than the file follows in the background.
  while (fs.statSync(path).ino === before.ino && performance.now() - t0 < 300_000) await sleep(10);
  const flushMs = performance.now() - t0;
  const stallMs = await probe.maxMs();
  probe.stop();
  const after = { file: sizeOf(path), journal: sizeOf(`${path}.journal`), ino: fs.statSync(path).ino };
  emit({ result: { openMs, idleStallMs, missMs, flushMs, stallMs, before, after, folded: after.ino !== before.ino && after.journal === 0, messages } });
}

/** Serves hits of random loaded keys for `ms`, a batch every millisecond; the slowest hit, ms. */
async function serveHits(cache: Rows, entries: number, ms: number): Promise<{ hits: number; slowestHitMs: number }> {
  let hits = 0;
  let slowest = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let k = 0; k < 20; k++) {
      const i = Math.floor(Math.random() * entries);
      const start = performance.now();
      const value = cache.row(i);
      const took = performance.now() - start;
      if (value !== rowValue(i)) throw new Error(`wrong value for row(${i})`);
      if (took > slowest) slowest = took;
      hits++;
    }
    await sleep(1);
  }
  return { hits, slowestHitMs: slowest };
}

function readLine(): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const newline = text.indexOf("\n");
      if (newline >= 0) {
        process.stdin.off("data", onData);
        process.stdin.destroy(); // one line is all it reads; an open stdin would keep the process alive
        resolve(text.slice(0, newline));
      }
    };
    process.stdin.on("data", onData);
    process.stdin.resume();
  });
}

/** Scenario 3, process P: hits; (another process folds the file); a miss, then hits again. */
async function reader(p: Params): Promise<void> {
  const dir = p.dir as string;
  const dataId = p.dataId as string;
  const entries = p.entries as number;
  const missAt = p.missAt as number;
  const otherKey = p.otherMiss as number;
  const hitMs = p.hitMs as number;
  const start = performance.now();
  const cache = new Rows(dir, dataId);
  const openMs = performance.now() - start;
  const probe = new StallProbe();
  // "idle": P makes no call before the fold (it reads the journal in the background). The collections
  // its open left due run first, outside the measured window (scenario 1 measures the open).
  if (p.idle === true) {
    gc();
    await sleep(200);
  }
  const before = p.idle === true ? undefined : await serveHits(cache, entries, hitMs);
  const beforeStallMs = await probe.maxMs();
  emit({ event: "ready" });
  probe.reset();
  // While the other process's fold is under way (its lock held, the journal sealed, the file not yet
  // replaced), one miss: it reads the rest of the sealed journal, then the fold's trail must still be
  // followed after the fold.
  const path = cachePath(dir, dataId);
  let midFold: { missMs: number; status: string } | undefined;
  const watch = setInterval(() => {
    if (p.midFoldMiss === undefined || midFold !== undefined || !fs.existsSync(`${path}.lock`) || fs.existsSync(`${path}.journal`)) return;
    const at = performance.now();
    cache.row(p.midFoldMiss as number);
    midFold = { missMs: performance.now() - at, status: String(cache.lastCacheStatus) };
  }, 1);
  await readLine(); // the other process has folded the file
  clearInterval(watch);
  const t0 = performance.now();
  cache.row(missAt);
  const missMs = performance.now() - t0;
  const missStatus = cache.lastCacheStatus;
  const after = await serveHits(cache, entries, hitMs);
  cache.row(otherKey);
  const otherStatus = cache.lastCacheStatus;
  const t1 = performance.now();
  await JSONCache.flushAll();
  const flushMs = performance.now() - t1;
  const afterStallMs = await probe.maxMs();
  probe.stop();
  emit({ result: { openMs, before, beforeStallMs, midFold, missMs, missStatus, after, otherStatus, flushMs, afterStallMs, messages } });
}

/** Prints the time right before `process.exit`, and (from a listener after the library's) when its exit work ended. */
function exitNow(extra: object): never {
  process.on("exit", () => emit({ event: "handlers-done", at: wallMs() }));
  emit({ event: "exiting", at: wallMs(), ...extra });
  process.exit(0);
}

/** Scenario 4a: many caches, each with one pending miss, then `process.exit(0)`. */
function exitMany(p: Params): void {
  const dir = p.dir as string;
  const count = p.count as number;
  const start = performance.now();
  const caches: Rows[] = [];
  for (let i = 0; i < count; i++) {
    const cache = new Rows(dir, `c${i}`);
    cache.double(i);
    caches.push(cache);
  }
  exitNow({ setupMs: performance.now() - start, caches: caches.length, messages });
}

/** Scenario 4b (and the folding process of scenario 3): one opened cache, one pending miss, `process.exit(0)`. */
function exitOne(p: Params): void {
  const dir = p.dir as string;
  const dataId = p.dataId as string;
  const shape = p.shape as EntryShape;
  const start = performance.now();
  const cache = new Rows(dir, dataId);
  const openMs = performance.now() - start;
  call(cache, shape, p.missAt as number);
  if (cache.lastCacheStatus !== "miss") throw new Error(`expected a miss, got ${String(cache.lastCacheStatus)}`);
  exitNow({ openMs, messages });
}

/** The folding process of scenario 3: one opened cache, one miss, a fold of the journal into the file (`compactAll`), exit. */
async function foldOne(p: Params): Promise<void> {
  const dir = p.dir as string;
  const dataId = p.dataId as string;
  const start = performance.now();
  const cache = new Rows(dir, dataId);
  const openMs = performance.now() - start;
  call(cache, p.shape as EntryShape, p.missAt as number);
  const folded = await JSONCache.compactAll();
  // One more miss, left pending: the exit appends it and folds again, right after the compaction.
  if (p.thenMissAt !== undefined) call(cache, p.shape as EntryShape, p.thenMissAt as number);
  exitNow({ openMs, folded, messages });
}

/** The baseline: a child that opens nothing and exits. */
function exitEmpty(): void {
  exitNow({});
}

/** Scenario 5a: heap per entry of an opened cache. */
function memOpen(p: Params): void {
  const dir = p.dir as string;
  const dataId = p.dataId as string;
  const retained: unknown[] = [];
  const before = heapUsed();
  const rssBefore = process.memoryUsage().rss;
  const start = performance.now();
  retained.push(new Rows(dir, dataId));
  const openMs = performance.now() - start;
  const after = heapUsed();
  const rssAfter = process.memoryUsage().rss;
  emit({ result: { heapBytes: after - before, rssBytes: rssAfter - rssBefore, openMs, retained: retained.length, messages } });
}

/** Scenario 5b: heap per entry in the process that computed the entries. */
async function memWriter(p: Params): Promise<void> {
  const dir = p.dir as string;
  const dataId = p.dataId as string;
  const entries = p.entries as number;
  const retained: unknown[] = [];
  const before = heapUsed();
  const start = performance.now();
  const cache = new Rows(dir, dataId);
  retained.push(cache);
  for (let i = 0; i < entries; i++) {
    cache.double(i);
    if (i % 10_000 === 9_999) await new Promise((resolve) => setImmediate(resolve));
  }
  await JSONCache.flushAll();
  const computeMs = performance.now() - start;
  const after = heapUsed();
  const path = cachePath(dir, dataId);
  emit({ result: { heapBytes: after - before, computeMs, fileBytes: sizeOf(path), journalBytes: sizeOf(`${path}.journal`), retained: retained.length, messages } });
}

/**
 * Scenario 6a: open a huge file, a miss and a flush (does the write work?), then a second miss and
 * `process.exit`, whose exit work folds the journal into the file if it can.
 */
async function hugeWrite(p: Params): Promise<void> {
  const dir = p.dir as string;
  const dataId = p.dataId as string;
  const start = performance.now();
  const cache = new Rows(dir, dataId);
  const openMs = performance.now() - start;
  const entries = cache.jsonCacheStats().totalEntries;
  const probe = p.probe as number;
  const knownHit = cache.row(probe) === rowValue(probe) && cache.lastCacheStatus === "l1";
  const t0 = performance.now();
  cache.row(p.missAt as number);
  await JSONCache.flushAll();
  const flushMs = performance.now() - t0;
  emit({ event: "flushed", openMs, entries, knownHit, flushMs, messages: [...messages] });
  cache.row(p.exitMissAt as number);
  exitNow({});
}

/** Scenario 6b: just open (the parent kills it if it hangs). */
function hugeOpen(p: Params): void {
  const start = performance.now();
  const cache = new Rows(p.dir as string, p.dataId as string);
  const openMs = performance.now() - start;
  emit({ result: { openMs, entries: cache.jsonCacheStats().totalEntries, rss: process.memoryUsage().rss, messages } });
}

const modes: Record<string, (p: Params) => void | Promise<void>> = {
  open,
  fold,
  "fold-one": foldOne,
  reader,
  "exit-many": exitMany,
  "exit-one": exitOne,
  "exit-empty": exitEmpty,
  "mem-open": memOpen,
  "mem-writer": memWriter,
  "huge-write": hugeWrite,
  "huge-open": hugeOpen,
};

const mode = process.argv[2] ?? "";
const run = modes[mode];
if (run === undefined) throw new Error(`scale-child: unknown mode ${mode}`);
await run(JSON.parse(process.argv[3] ?? "{}") as Params);
