/**
 * Misses with persistence, opening a warm cache, and memory per entry.
 *
 * Big caches are pre-filled by writing the cache file directly in the library's format
 * (src/store/cache-file.ts) and opening it, so a 1,000,000-entry case does not take a million misses.
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { BentoCache, bentostore } from "bentocache";
import { fileDriver } from "bentocache/drivers/file";
import { memoryDriver } from "bentocache/drivers/memory";
import { Cacheable } from "cacheable";
import Keyv from "keyv";
import { KeyvFile } from "keyv-file";
import { Cached, JSONCache } from "../src/index.js";
import { callKey } from "../src/keys/call-key.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { resolveCacheFile } from "../src/store/file-claim.js";

const cacheFilePath = (directory: string, dataId: string) => resolveCacheFile(directory, dataId, { claim: false });
import { formatBytes, formatCount, formatNs, formatRatio, type Section } from "./report.js";
import { freshDir, removeDir } from "./temp.js";
import { elapsedNs, gc, hasGc, median, nowNs } from "./timing.js";

const DAY_MS = 86_400_000;
const DATA_ID = "bench";

class Target extends JSONCache {
  constructor(directory: string) {
    super({ dataId: DATA_ID, directory, logging: false });
  }

  @Cached({ ttl: 1 })
  double(x: number): number {
    return x * 2;
  }
}

/** Writes a cache file of `entries` results of `double(i)` in the library's own format; returns its size. */
export function writeCacheFile(directory: string, entries: number): { path: string; bytes: number } {
  const time = Date.now();
  const lines = function* (): Generator<[string, string]> {
    for (let i = 0; i < entries; i++) yield [callKey("double", [i]), entryText(i * 2, time, false)];
  };
  const text = serializeCacheFile(DATA_ID, lines(), [], time);
  const path = cacheFilePath(directory, DATA_ID);
  fs.mkdirSync(directory, { recursive: true });
  fs.writeFileSync(path, text);
  return { path, bytes: Buffer.byteLength(text) };
}

export interface MissOptions {
  sizes: number[];
  /** Timed misses per size; `samplesFor(size)`. */
  samplesFor: (size: number) => number;
  /** Peer sizes (the largest each peer reaches within the time budget). */
  bentoSizes: number[];
  keyvSizes: number[];
  burst: number;
}

export interface MissResults {
  section: Section;
  /** Our median per-miss ns by size. */
  ours: Map<number, number>;
}

interface MissRow {
  contender: string;
  size: number;
  perMiss: number;
  amortised?: number;
  fileBytes?: number;
  samples: number;
}

const PYTHON_MISS_MS: Record<number, number> = { 100: 1.39, 1_000: 6.2, 10_000: 58.8 };

async function measureOurMisses(size: number, samples: number, burst: number): Promise<MissRow> {
  const dir = freshDir(`miss-${size}`);
  writeCacheFile(dir, size);
  const target = new Target(dir);
  let next = size;
  // Warm-up: the first write after opening also renders every loaded entry's line once.
  for (let w = 0; w < 3; w++) {
    target.double(next++);
    await JSONCache.flushAll();
  }
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = nowNs();
    target.double(next++);
    await JSONCache.flushAll();
    times.push(elapsedNs(start));
  }
  const bursts: number[] = [];
  for (let s = 0; s < Math.max(3, Math.min(samples, 5)); s++) {
    const start = nowNs();
    for (let k = 0; k < burst; k++) target.double(next++);
    await JSONCache.flushAll();
    bursts.push(elapsedNs(start) / burst);
  }
  // The file, or the journal beside it, really holds the last result.
  const lastKey = callKey("double", [next - 1]);
  const file = cacheFilePath(dir, DATA_ID);
  const written = fs.readFileSync(file, "utf8");
  const journal = fs.existsSync(`${file}.journal`) ? fs.readFileSync(`${file}.journal`, "utf8") : "";
  if (!written.includes(JSON.stringify(lastKey)) && !journal.includes(JSON.stringify(lastKey))) {
    throw new Error(`cacherator did not persist ${lastKey}`);
  }
  const fileBytes = Buffer.byteLength(written);
  removeDir(dir);
  return { contender: "cacherator", size, perMiss: median(times), amortised: median(bursts), fileBytes, samples };
}

async function measureBentoMisses(size: number, samples: number): Promise<MissRow> {
  const dir = freshDir(`bento-${size}`);
  const bento = new BentoCache({
    default: "file",
    stores: {
      file: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 10_000, serialize: false }))
        .useL2Layer(fileDriver({ directory: dir, pruneInterval: false })),
    },
  });
  // Pre-fill through the cache itself (one file per key), 500 writes at a time.
  for (let i = 0; i < size; i += 500) {
    const batch: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(size, i + 500); k++) batch.push(bento.set({ key: `double:${k}`, value: k * 2, ttl: DAY_MS }));
    await Promise.all(batch);
  }
  let next = size;
  const miss = (x: number) => bento.getOrSet({ key: `double:${x}`, factory: async () => x * 2, ttl: DAY_MS });
  for (let w = 0; w < 3; w++) await miss(next++);
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = nowNs();
    await miss(next++);
    times.push(elapsedNs(start));
  }
  if (!fs.existsSync(join(dir, "bentocache", "double", String(next - 1)))) throw new Error("bentocache did not persist the last miss");
  await bento.disconnectAll();
  removeDir(dir);
  return { contender: "bentocache (L1 memory + L2 file driver)", size, perMiss: median(times), samples };
}

async function measureKeyvFileMisses(size: number, samples: number): Promise<MissRow> {
  const dir = freshDir(`keyv-${size}`);
  const filename = join(dir, "cache.json");
  const store = new KeyvFile({ filename, writeDelay: 0 });
  const keyv = new Keyv({ store });
  const cache = new Cacheable({ primary: keyv, ttl: DAY_MS });
  for (let i = 0; i < size; i += 10_000) {
    const batch: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(size, i + 10_000); k++) batch.push(keyv.set(`pre:${k}`, k * 2, DAY_MS));
    await Promise.all(batch);
  }
  const double = cache.wrap(async (x: number) => x * 2, { ttl: DAY_MS });
  let next = size;
  for (let w = 0; w < 3; w++) await double(next++);
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = nowNs();
    await double(next++);
    times.push(elapsedNs(start));
  }
  const fileBytes = fs.statSync(filename).size;
  await cache.disconnect();
  removeDir(dir);
  return { contender: "cacheable + Keyv(keyv-file)", size, perMiss: median(times), fileBytes, samples };
}

export async function measureMisses(options: MissOptions): Promise<MissResults> {
  const rows: MissRow[] = [];
  for (const size of options.sizes) rows.push(await measureOurMisses(size, options.samplesFor(size), options.burst));
  for (const size of options.bentoSizes) rows.push(await measureBentoMisses(size, Math.min(options.samplesFor(size), 50)));
  for (const size of options.keyvSizes) rows.push(await measureKeyvFileMisses(size, Math.min(options.samplesFor(size), 20)));

  const ours = new Map(rows.filter((r) => r.contender === "cacherator").map((r) => [r.size, r.perMiss]));
  // Each contender's cost relative to its own cost at 1,000 entries (or at its smallest size).
  const reference = new Map<string, number>();
  for (const row of rows) {
    if (!reference.has(row.contender) || row.size === 1_000) reference.set(row.contender, row.perMiss);
  }
  const tableRows = rows.map((r) => {
    const python = r.contender === "cacherator" ? PYTHON_MISS_MS[r.size] : undefined;
    return [
      r.contender,
      formatCount(r.size),
      formatNs(r.perMiss),
      formatRatio(r.perMiss / (reference.get(r.contender) as number)),
      r.amortised === undefined ? "" : formatNs(r.amortised),
      r.fileBytes === undefined ? "" : formatBytes(r.fileBytes),
      python === undefined ? "" : `${python} ms`,
      String(r.samples),
    ];
  });
  const sizes = options.sizes;
  const smallest = sizes.includes(1_000) ? 1_000 : (sizes[0] as number);
  const largest = sizes[sizes.length - 1] as number;
  const growth = (ours.get(largest) as number) / (ours.get(smallest) as number);
  return {
    ours,
    section: {
      title: "Miss with persistence",
      notes: [
        "per-miss cost = one call of a cached method that misses (the method itself is trivial: x * 2) plus waiting until the result is in the file: " +
          "cacherator `obj.double(x); await JSONCache.flushAll()` (no fsync; one journal line appended synchronously; folded into the file in the background, 200 ms later while the file is under 64 KiB, else once the journal outgrows the file); " +
          "bentocache `await getOrSet(...)` (resolves after the L2 file write); cacheable `await wrapped(x)` with Keyv(keyv-file, writeDelay: 0) (resolves after the file is rewritten)",
        `amortised = a burst of ${options.burst} misses followed by one flush, divided by ${options.burst} (what the default writeDelay coalescing gives a busy process)`,
        "cacherator caches are pre-filled by writing the cache file in the library's format and opening it; peers are pre-filled through their own API",
        `× ${formatCount(1_000)} entries = per-miss cost relative to the same contender at 1,000 entries (or its smallest size)`,
        "Python cacherator 1.2.8: measured elsewhere (python-behaviour.md §9: 2-core AMD EPYC, Python 3.11, one json.dump(indent=4) rewrite per miss)",
        `peers are measured at the sizes they reach in the time budget: bentocache ${options.bentoSizes.map(formatCount).join(", ")} (one file per key; millions of files are out of budget), keyv-file ${options.keyvSizes.map(formatCount).join(", ")}`,
      ],
      tables: [
        {
          headers: ["contender", "entries", "per miss (median)", "× at 1,000", `amortised (${options.burst}/flush)`, "file size", "Python 1.2.8 (elsewhere)", "samples"],
          rows: tableRows,
          right: [1, 2, 3, 4, 5, 6, 7],
        },
      ],
      after: [`cacherator growth: per-miss at ${formatCount(largest)} / at ${formatCount(smallest)} entries = ${formatRatio(growth)}`],
    },
  };
}

export interface OpenResults {
  section: Section;
  /** ratio of our open to JSON.parse, by size */
  ratios: Map<number, number>;
}

export async function measureOpen(sizes: number[], samples: number): Promise<OpenResults> {
  const rows: string[][] = [];
  const memRows: string[][] = [];
  const ratios = new Map<number, number>();
  for (const size of sizes) {
    const source = freshDir(`open-src-${size}`);
    const { path, bytes } = writeCacheFile(source, size);
    const text = fs.readFileSync(path);
    const openTimes: number[] = [];
    const parseTimes: number[] = [];
    for (let s = -2; s < samples; s++) {
      // A fresh directory per open: the registry shares a store per file within a process.
      const dir = freshDir(`open-${size}`);
      fs.writeFileSync(cacheFilePath(dir, DATA_ID), text);
      gc();
      const openNs = timeOpen(dir);
      gc();
      const parseNs = timeParse(path);
      removeDir(dir);
      if (s >= 0) {
        openTimes.push(openNs);
        parseTimes.push(parseNs);
      }
    }
    const open = median(openTimes);
    const parse = median(parseTimes);
    ratios.set(size, open / parse);
    rows.push([formatCount(size), formatBytes(bytes), formatNs(open), formatNs(parse), formatRatio(open / parse)]);
    if (hasGc()) memRows.push(measureMemory(path, size));
    removeDir(source);
  }
  return {
    ratios,
    section: {
      title: "Open a warm cache",
      notes: [
        "open = `new X()` of a JSONCache subclass whose file holds N entries of `double(i)` (read the file, parse it, index the entries; values are decoded lazily on first use)",
        "JSON.parse = `JSON.parse(fs.readFileSync(path, \"utf8\"))` of the same file",
        `median of ${samples} samples each (after 2 warm-up samples), alternating; garbage collected before each timing`,
        hasGc()
          ? "memory = heapUsed after a full GC, with the cache open, minus heapUsed before, divided by N; `JSON.parse` holds the parsed file object alive the same way"
          : "memory: not measured (run with node --expose-gc, as `npm run bench` does)",
      ],
      tables: [
        { headers: ["entries", "file size", "open (median)", "JSON.parse (median)", "open / parse"], rows, right: [0, 1, 2, 3, 4] },
        ...(memRows.length > 0
          ? [{ headers: ["entries", "cacherator, opened", "cacherator, every entry read once", "JSON.parse object"], rows: memRows, right: [0, 1, 2, 3] }]
          : []),
      ],
    },
  };
}

function timeOpen(directory: string): number {
  const start = nowNs();
  const target = new Target(directory);
  const ns = elapsedNs(start);
  if (!(target instanceof JSONCache)) throw new Error("open failed");
  return ns;
}

function timeParse(path: string): number {
  const start = nowNs();
  const parsed: unknown = JSON.parse(fs.readFileSync(path, "utf8"));
  const ns = elapsedNs(start);
  if (typeof parsed !== "object") throw new Error("parse failed");
  return ns;
}

function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

/** Bytes per entry: the open cache, the same after reading every entry (decoded), and the parsed JSON. */
function measureMemory(path: string, size: number): string[] {
  const text = fs.readFileSync(path);
  const dir = freshDir(`mem-${size}`);
  fs.writeFileSync(cacheFilePath(dir, DATA_ID), text);
  // Objects under measurement are held here, so liveness analysis cannot free them early.
  const retained: unknown[] = [];
  const before = heapUsed();
  const target = new Target(dir);
  retained.push(target);
  const opened = heapUsed();
  for (let i = 0; i < size; i++) target.double(i);
  const touched = heapUsed();
  retained.length = 0;
  removeDir(dir);
  const beforeParse = heapUsed();
  retained.push(JSON.parse(text.toString("utf8")));
  const afterParse = heapUsed();
  retained.length = 0;
  const per = (bytes: number) => `${Math.round(bytes / size)} B/entry`;
  return [formatCount(size), per(opened - before), per(touched - before), per(afterParse - beforeParse)];
}
