/**
 * The write path: what persisting one result costs cacherator, next to floors (a raw append of the very
 * line cacherator writes, with and without fdatasync) and anchors (lmdb, SQLite in WAL mode, npm's
 * cacache), all measured round-robin in one run, in fresh directories under the same temp directory, and
 * reported as ratios to the floors.
 *
 * Anchors are optional (bench/write-path-anchors.ts): one that is not installed is shown as n/a, and one
 * that fails while measured is dropped with its reason; neither ever fails the run.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cached, JSONCache } from "../src/index.js";
import { callKey } from "../src/keys/call-key.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { resolveCacheFile } from "../src/store/file-claim.js";
import { setLine } from "../src/store/journal.js";
import { formatBytes, formatCount, formatNs, formatRatio, type Section } from "./report.js";
import { freshDir, removeDir } from "./temp.js";
import { elapsedNs, median, nowNs } from "./timing.js";
import { loadAnchors, type Anchors, type CacacheModule, type LmdbDatabase, type LmdbModule, type Loaded, type SqliteConstructor, type SqliteDatabase } from "./write-path-anchors.js";

export interface WritePathOptions {
  /** Timed samples per row (rows take turns: one sample each per round). */
  rounds: number;
  /** Untimed rounds first. */
  warmupRounds: number;
  /** Entries of the large cache file (1,000,000 in a full run). */
  largeSize: number;
}

/** Same shape as run.ts's targets. */
export interface WritePathTarget {
  name: string;
  goal: string;
  measured: string;
  pass: boolean;
  verdict?: string;
}

export interface WritePathResults {
  section: Section;
  targets: WritePathTarget[];
}

const DATA_ID = "write-path";
/** Entries of the small cache file: well under the 64 KiB below which cacherator rewrites the whole file. */
const SMALL_SIZE = 50;
const MEDIUM_SIZE = 1_000;
/** Writes per group commit, and instances saving together. */
const GROUP = 64;
/**
 * Writes per sample of the raw append floor, and of cacherator's persisted-miss rows: the same count,
 * so what a sample pays once (the first writes after the `sync` before it) weighs the same per write.
 */
const APPEND_OPS = 256;
const SMALL_FILE_LIMIT = 64 * 1024;

class WriteTarget extends JSONCache {
  constructor(directory: string) {
    super({ dataId: DATA_ID, directory, logging: false });
  }

  @Cached({ ttl: 1 })
  double(x: number): number {
    return x * 2;
  }
}

/** One written item: the key, the entry text cacherator stores for `double(n)`, and its journal line. */
interface Item {
  key: string;
  text: string;
  line: Buffer;
}

let nextAnchorArg = 1_000_000_000;

function makeItems(count: number): Item[] {
  const items: Item[] = [];
  for (let i = 0; i < count; i++) {
    const n = nextAnchorArg++;
    const key = callKey("double", [n]);
    const text = entryText(n * 2, Date.now(), false);
    items.push({ key, text, line: Buffer.from(setLine(key, text), "utf8") });
  }
  return items;
}

type Kind = "floor" | "anchor" | "cacherator";

interface Row {
  id: string;
  name: string;
  kind: Kind;
  /** "no", or when the write is on disk when the call resolves. */
  durable: string;
  /** The configuration, printed in the section notes. */
  config: string;
  /** Writes per timed sample (the per-write figure is the sample's time divided by this). */
  ops: number;
  /** Set when the row cannot be measured: "n/a (…)". */
  unavailable?: string;
  setup?: () => Promise<void> | void;
  /** Untimed, before each sample (fresh arguments, fresh files). */
  beforeSample?: () => Promise<void> | void;
  /** Timed: `ops` writes. */
  sample: () => Promise<void> | void;
  /** Untimed, after each sample (e.g. wait for a background flush, so it does not land in the next row's time). */
  afterSample?: () => Promise<void> | void;
  /** Checks that the last write is really stored; may add to `facts`. */
  verify?: () => Promise<void> | void;
  teardown?: () => Promise<void> | void;
  /** Figures found while measuring (file sizes, settings), appended to the configuration. */
  facts: string[];
  times: number[];
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split("\n")[0] ?? text).slice(0, 160);
}

/** The q-quantile (0…1) of `values`, interpolated. */
function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return (sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (at - low);
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

function writeLine(fd: number, line: Buffer): void {
  const written = fs.writeSync(fd, line);
  if (written !== line.length) throw new Error(`short write: ${written} of ${line.length} bytes`);
}

// ---------------------------------------------------------------------------------------------- floors

type SyncMode = "none" | "each" | "group";

function appendFloor(id: string, mode: SyncMode): Row {
  let dir = "";
  let fd = -1;
  let items: Item[] = [];
  const ops = mode === "none" ? APPEND_OPS : mode === "each" ? 8 : GROUP;
  const names: Record<SyncMode, [string, string, string]> = {
    none: ["raw append, no fsync", "no", "one `fs.writeSync(fd, line)` per write"],
    each: ["raw append + fdatasync each", "yes", "one `fs.writeSync(fd, line)` then `await` the callback `fs.fdatasync(fd)` per write"],
    group: [`raw append, group commit of ${GROUP}`, `yes, per ${GROUP}`, `${GROUP} \`fs.writeSync(fd, line)\` then one awaited \`fs.fdatasync(fd)\`; per-write = total / ${GROUP}`],
  };
  const [name, durable, how] = names[mode];
  return {
    id,
    name,
    kind: "floor",
    durable,
    config: `${how}, to a descriptor opened once with O_WRONLY|O_APPEND|O_CREAT and kept open; the line (a Buffer) is exactly cacherator's journal line for the miss, built before the timed sample`,
    ops,
    facts: [],
    times: [],
    setup: () => {
      dir = freshDir(`write-floor-${id}`);
      const { O_WRONLY, O_APPEND, O_CREAT } = fs.constants;
      fd = fs.openSync(join(dir, "floor.json.journal"), O_WRONLY | O_APPEND | O_CREAT, 0o600);
    },
    beforeSample: () => {
      items = makeItems(ops);
    },
    sample: async () => {
      if (mode === "none") {
        for (const item of items) writeLine(fd, item.line);
      } else if (mode === "each") {
        for (const item of items) {
          writeLine(fd, item.line);
          await fdatasync(fd);
        }
      } else {
        for (const item of items) writeLine(fd, item.line);
        await fdatasync(fd);
      }
    },
    teardown: () => {
      if (fd >= 0) fs.closeSync(fd);
      if (dir) removeDir(dir);
    },
  };
}

// --------------------------------------------------------------------------------------------- anchors

function unavailable<T>(loaded: Loaded<T>): string | undefined {
  return loaded.ok ? undefined : `n/a (not installed: ${loaded.reason})`;
}

function lmdbRow(id: string, loaded: Loaded<LmdbModule>, grouped: boolean, durable: boolean): Row {
  let dir = "";
  let db: LmdbDatabase | undefined;
  let items: Item[] = [];
  const ops = grouped ? GROUP : durable ? 8 : 16;
  const how = grouped
    ? `${GROUP} \`db.put(k, v)\` then \`await Promise.all(…)\`${durable ? ", then `await db.flushed`" : ""}; per-write = total / ${GROUP}`
    : `\`await db.put(k, v)\`${durable ? " then `await db.flushed`" : ""}, one by one`;
  return {
    id,
    name: `lmdb: ${grouped ? `${GROUP} puts, await all` : "await put, one by one"}${durable ? " + await flushed" : ""}`,
    kind: "anchor",
    durable: durable ? (grouped ? `yes, per ${GROUP}` : "yes") : "no",
    config:
      `${how}; \`open({ path })\` with lmdb-js defaults on Linux (overlappingSync: true, so a put resolves once committed and visible while the flush to disk follows in the background — ` +
      `${durable ? "awaited here through `db.flushed`" : "awaited after the timed sample, untimed, so it does not land in another row"}; noSync: false; eventTurnBatching: true, commitDelay: 0); string key, string value (msgpack-encoded by lmdb)`,
    ops,
    unavailable: unavailable(loaded),
    facts: [],
    times: [],
    setup: () => {
      if (!loaded.ok) return;
      dir = freshDir(`write-lmdb-${id}`);
      db = loaded.module.open({ path: join(dir, "lmdb") });
    },
    beforeSample: () => {
      items = makeItems(ops);
    },
    sample: async () => {
      const store = db as LmdbDatabase;
      if (grouped) {
        await Promise.all(items.map((item) => store.put(item.key, item.text)));
      } else {
        for (const item of items) {
          await store.put(item.key, item.text);
          if (durable) await store.flushed;
        }
      }
      if (grouped && durable) await store.flushed;
    },
    afterSample: async () => {
      if (db !== undefined && !durable) await db.flushed;
    },
    verify: () => {
      const last = items[items.length - 1];
      if (db !== undefined && last !== undefined && db.get(last.key) !== last.text) throw new Error("lmdb did not store the last put");
    },
    teardown: async () => {
      await db?.close();
      if (dir) removeDir(dir);
    },
  };
}

const SYNCHRONOUS_NAMES: Record<number, string> = { 0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA" };

function sqliteRow(id: string, loaded: Loaded<SqliteConstructor>, synchronous: "NORMAL" | "FULL", perTransaction: boolean): Row {
  let dir = "";
  let db: SqliteDatabase | undefined;
  let items: Item[] = [];
  let write: (batch: Item[]) => void = () => {};
  const ops = perTransaction || synchronous === "NORMAL" ? GROUP : 8;
  const syncWords = synchronous === "FULL" ? "the WAL is fsynced at every commit" : "a commit is not fsynced; the WAL is fsynced at checkpoints";
  return {
    id,
    name: `SQLite WAL, synchronous=${synchronous}: ${perTransaction ? `${GROUP} per transaction` : "one autocommitted INSERT per write"}`,
    kind: "anchor",
    durable: synchronous === "FULL" ? (perTransaction ? `yes, per ${GROUP}` : "yes") : "no",
    config:
      `better-sqlite3 (synchronous API), \`journal_mode=WAL\`, \`synchronous=${synchronous}\` (${syncWords}; better-sqlite3's default is FULL), table \`kv (k TEXT PRIMARY KEY, v TEXT)\`, a prepared \`INSERT OR REPLACE\`; ` +
      (perTransaction ? `${GROUP} inserts inside one \`db.transaction(…)\`; per-write = total / ${GROUP}` : "each insert autocommitted, one by one"),
    ops,
    unavailable: unavailable(loaded),
    facts: [],
    times: [],
    setup: () => {
      if (!loaded.ok) return;
      dir = freshDir(`write-sqlite-${id}`);
      const database = new loaded.module(join(dir, "cache.db"));
      db = database;
      const mode = database.pragma("journal_mode = WAL", { simple: true });
      database.pragma(`synchronous = ${synchronous}`);
      const actual = database.pragma("synchronous", { simple: true }) as number;
      if (mode !== "wal" || SYNCHRONOUS_NAMES[actual] !== synchronous) throw new Error(`settings not applied (journal_mode=${String(mode)}, synchronous=${actual})`);
      database.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
      const insert = database.prepare("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)");
      const many = database.transaction((batch: Item[]) => {
        for (const item of batch) insert.run(item.key, item.text);
      });
      write = perTransaction
        ? (batch) => many(batch)
        : (batch) => {
            for (const item of batch) insert.run(item.key, item.text);
          };
    },
    beforeSample: () => {
      items = makeItems(ops);
    },
    sample: () => write(items),
    verify: () => {
      const last = items[items.length - 1];
      if (db === undefined || last === undefined) return;
      const row = db.prepare("SELECT v FROM kv WHERE k = ?").get(last.key) as { v?: string } | undefined;
      if (row?.v !== last.text) throw new Error("SQLite did not store the last insert");
    },
    teardown: () => {
      db?.close();
      if (dir) removeDir(dir);
    },
  };
}

function cacacheRow(id: string, loaded: Loaded<CacacheModule>): Row {
  let dir = "";
  let items: Item[] = [];
  return {
    id,
    name: "cacache: await put, one by one",
    kind: "anchor",
    durable: "no",
    config: "`await cacache.put(dir, key, entryText)` one by one, npm's content-addressed cache with default options (writes the content to a temp file and moves it into place, then appends to the index bucket; no fsync)",
    ops: 16,
    unavailable: unavailable(loaded),
    facts: [],
    times: [],
    setup: () => {
      if (loaded.ok) dir = freshDir(`write-cacache-${id}`);
    },
    beforeSample: () => {
      items = makeItems(16);
    },
    sample: async () => {
      const cacache = (loaded as { module: CacacheModule }).module;
      for (const item of items) await cacache.put(dir, item.key, item.text);
    },
    verify: async () => {
      const last = items[items.length - 1];
      if (!loaded.ok || last === undefined) return;
      const got = await loaded.module.get(dir, last.key);
      if (got.data.toString("utf8") !== last.text) throw new Error("cacache did not store the last put");
    },
    teardown: () => {
      if (dir) removeDir(dir);
    },
  };
}

// ------------------------------------------------------------------------------------------ cacherator

/** Writes a cache file of `entries` results of `double(i)` in the library's format (as persistence.ts's writeCacheFile, with this section's dataId), fsynced so its dirty pages do not land in a timed fsync. */
function prefill(directory: string, entries: number): { path: string; bytes: number } {
  const time = Date.now();
  const lines = function* (): Generator<[string, string]> {
    for (let i = 0; i < entries; i++) yield [callKey("double", [i]), entryText(i * 2, time, false)];
  };
  const text = serializeCacheFile(DATA_ID, lines(), [], time);
  const path = resolveCacheFile(directory, DATA_ID, { claim: false });
  fs.mkdirSync(directory, { recursive: true });
  const fd = fs.openSync(path, "w", 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { path, bytes: Buffer.byteLength(text) };
}

/** Throws unless the cache file or its journal holds `key`; returns their sizes. */
function checkPersisted(path: string, key: string, who: string): { fileBytes: number; journalBytes: number } {
  const file = fs.readFileSync(path, "utf8");
  const journalPath = `${path}.journal`;
  const journal = fs.existsSync(journalPath) ? fs.readFileSync(journalPath, "utf8") : "";
  if (!file.includes(JSON.stringify(key)) && !journal.includes(JSON.stringify(key))) throw new Error(`cacherator (${who}) did not persist ${key}`);
  return { fileBytes: Buffer.byteLength(file), journalBytes: Buffer.byteLength(journal) };
}

interface Opened {
  dir: string;
  path: string;
  bytes: number;
}

function openPrefilled(label: string, entries: number): Opened {
  const dir = freshDir(label);
  const { path, bytes } = prefill(dir, entries);
  return { dir, path, bytes };
}

interface SingleInstanceSpec {
  id: string;
  name: string;
  /** Entries the cache file is pre-filled with. */
  size: number;
  /** `flush`: `obj.double(n); await JSONCache.flushAll()`; `save`: `obj.double(n); await obj.jsonCacheSave()`. */
  write: "flush" | "save";
  ops: number;
  /** A new pre-filled file every this many samples (warm-ups included), so the file stays near `size` entries; undefined: one file for the run. */
  freshEvery: number | undefined;
}

/**
 * One instance writing its misses one by one, to a cache file pre-filled with `size` entries. Without
 * fresh files the small file would grow past 64 KiB over the run, and the 1,000-entry file's journal
 * would outgrow the file (a fold, which makes it a 2,000-entry file).
 */
function singleInstanceRow(spec: SingleInstanceSpec, progress: (text: string) => void): Row {
  const { size, ops, freshEvery } = spec;
  const dirs: string[] = [];
  let opened: Opened | undefined;
  let target: WriteTarget | undefined;
  let next = size;
  let samplesTaken = 0;
  let largestFile = 0;
  let largestJournal = 0;
  const persist = async (obj: WriteTarget): Promise<void> => {
    if (spec.write === "flush") await JSONCache.flushAll();
    else if (!(await obj.jsonCacheSave())) throw new Error("jsonCacheSave() resolved false (the write failed)");
  };
  const open = async (): Promise<void> => {
    if (size >= 100_000) progress(`write path: pre-filling and opening a ${formatCount(size)}-entry cache file`);
    opened = openPrefilled(`write-${spec.id}-${size}`, size);
    dirs.push(opened.dir);
    target = new WriteTarget(opened.dir);
    next = size;
    for (let w = 0; w < 2; w++) {
      target.double(next++);
      await persist(target);
    }
  };
  const call = spec.write === "flush" ? "`obj.double(n); await JSONCache.flushAll()`" : "`obj.double(n); await obj.jsonCacheSave()` (writes the result and the object's attributes, fsynced)";
  const row: Row = {
    id: spec.id,
    name: spec.name,
    kind: "cacherator",
    durable: spec.write === "flush" ? "no" : "yes",
    config:
      `${call} one by one; a JSONCache subclass with \`@Cached({ ttl: 1 })\`, default writeDelay; its cache file pre-filled with ${formatCount(size)} entries ` +
      (freshEvery === undefined ? "once" : freshEvery === 1 ? "anew before every sample" : `anew every ${freshEvery} samples`) +
      " (written directly in the library's format, fsynced; untimed), opened, then warmed by 2 untimed misses (the first write after opening renders every loaded entry's line)",
    ops,
    facts: [],
    times: [],
    setup: async () => {
      if (freshEvery === undefined) await open();
    },
    beforeSample: async () => {
      if (freshEvery !== undefined && samplesTaken % freshEvery === 0) await open();
      samplesTaken++;
    },
    sample: async () => {
      const obj = target as WriteTarget;
      for (let i = 0; i < ops; i++) {
        obj.double(next++);
        await persist(obj);
      }
    },
    afterSample: () => {
      if (opened === undefined) return;
      largestFile = Math.max(largestFile, fs.statSync(opened.path).size);
      const journal = `${opened.path}.journal`;
      if (fs.existsSync(journal)) largestJournal = Math.max(largestJournal, fs.statSync(journal).size);
    },
    verify: () => {
      if (opened === undefined) return;
      checkPersisted(opened.path, callKey("double", [next - 1]), spec.name);
      const small = size < 1_000;
      row.facts.push(
        `pre-filled file ${formatBytes(opened.bytes)}; after a sample at most: file ${formatBytes(largestFile)}, journal ${formatBytes(largestJournal)}` +
          (small && largestFile >= SMALL_FILE_LIMIT ? " (REACHED 64 KiB: not a small-file measurement)" : ""),
      );
    },
    teardown: () => {
      for (const dir of dirs) removeDir(dir);
    },
  };
  return row;
}

function durableConcurrentRow(id: string): Row {
  const dirs: string[] = [];
  let opened: Opened | undefined;
  let instances: WriteTarget[] = [];
  let next = MEDIUM_SIZE;
  const row: Row = {
    id,
    name: `cacherator: durable, ${GROUP} instances saving at once`,
    kind: "cacherator",
    durable: `yes, each of ${GROUP}`,
    config:
      `${GROUP} instances of the class with the same dataId (one cache file), each \`obj.double(n); obj.jsonCacheSave()\`, all ${GROUP} awaited together (\`Promise.all\`); per-save = total / ${GROUP}; ` +
      `before every sample (untimed) a fresh file pre-filled with ${formatCount(MEDIUM_SIZE)} entries, the ${GROUP} instances constructed, one warm-up save`,
    ops: GROUP,
    facts: [],
    times: [],
    beforeSample: async () => {
      opened = openPrefilled("write-concurrent", MEDIUM_SIZE);
      dirs.push(opened.dir);
      const dir = opened.dir;
      instances = Array.from({ length: GROUP }, () => new WriteTarget(dir));
      next = MEDIUM_SIZE;
      const first = instances[0] as WriteTarget;
      first.double(next++);
      await first.jsonCacheSave();
    },
    sample: async () => {
      const saved = await Promise.all(
        instances.map((obj) => {
          obj.double(next++);
          return obj.jsonCacheSave();
        }),
      );
      if (!saved.every(Boolean)) throw new Error("a jsonCacheSave() resolved false (the write failed)");
    },
    verify: () => {
      if (opened === undefined) return;
      const { fileBytes, journalBytes } = checkPersisted(opened.path, callKey("double", [next - 1]), "concurrent durable saves");
      row.facts.push(`pre-filled file ${formatBytes(opened.bytes)}; after the last sample: file ${formatBytes(fileBytes)}, journal ${formatBytes(journalBytes)}`);
    },
    teardown: () => {
      for (const dir of dirs) removeDir(dir);
    },
  };
  return row;
}

// ------------------------------------------------------------------------------------------- measuring

/**
 * Writes back every dirty page of the machine (`sync`), untimed, before each sample: an fsync, and the
 * kernel's background writeback, then cost each row its own writes only, not those of the row before.
 * False when `sync` cannot be run (the samples are then taken without it).
 */
function settle(): boolean {
  const result = spawnSync("sync", [], { stdio: "ignore", timeout: 60_000 });
  return result.error === undefined && result.status === 0;
}

async function guarded(row: Row, step: (() => Promise<void> | void) | undefined): Promise<void> {
  if (step === undefined || row.unavailable !== undefined) return;
  try {
    await step();
  } catch (error) {
    // An anchor never fails the run; cacherator and the floors do.
    if (row.kind !== "anchor") throw error;
    row.unavailable = `n/a (failed: ${describeError(error)})`;
  }
}

/** Returns whether every sample was preceded by a successful `sync`. */
async function measureRows(rows: Row[], options: WritePathOptions): Promise<boolean> {
  let settled = true;
  for (const row of rows) await guarded(row, row.setup);
  for (let round = -options.warmupRounds; round < options.rounds; round++) {
    // Each round: every row once, starting from a rotating row, so drift hits all rows alike.
    const start = ((round % rows.length) + rows.length) % rows.length;
    for (let k = 0; k < rows.length; k++) {
      const row = rows[(start + k) % rows.length] as Row;
      await guarded(row, row.beforeSample);
      if (row.unavailable === undefined) settled = settle() && settled;
      await guarded(row, async () => {
        const begin = nowNs();
        await row.sample();
        const ns = elapsedNs(begin);
        if (round >= 0) row.times.push(ns / row.ops);
      });
      await guarded(row, row.afterSample);
    }
  }
  for (const row of rows) await guarded(row, row.verify);
  for (const row of rows) {
    try {
      await row.teardown?.();
    } catch {
      // Cleanup only; the temp directories go at the end of the run anyway.
    }
  }
  return settled;
}

function anchorVersions(anchors: Anchors): string {
  const one = (name: string, loaded: Loaded<unknown>) => (loaded.ok ? `${name} ${loaded.version}` : `${name}: not installed (${loaded.reason})`);
  return [one("lmdb", anchors.lmdb), one("better-sqlite3", anchors.sqlite), one("cacache", anchors.cacache)].join(", ");
}

export async function measureWritePath(options: WritePathOptions, progress: (text: string) => void): Promise<WritePathResults> {
  const anchors = loadAnchors(progress);
  const large = options.largeSize;
  const largeLabel = `${formatCount(large)} entries`;
  const rows: Row[] = [
    appendFloor("1a", "none"),
    appendFloor("1b", "each"),
    appendFloor("1c", "group"),
    lmdbRow("2a", anchors.lmdb, false, false),
    lmdbRow("2b", anchors.lmdb, true, false),
    lmdbRow("2c", anchors.lmdb, false, true),
    lmdbRow("2d", anchors.lmdb, true, true),
    sqliteRow("3a", anchors.sqlite, "NORMAL", false),
    sqliteRow("3b", anchors.sqlite, "NORMAL", true),
    sqliteRow("3c", anchors.sqlite, "FULL", false),
    sqliteRow("3d", anchors.sqlite, "FULL", true),
    cacacheRow("4", anchors.cacache),
    // A sample of 256 misses appends ~32 KiB: the small file is made anew for each, and the 1,000-entry
    // file (~105 KiB) every 2 samples, so its journal never outgrows it (no fold).
    singleInstanceRow({ id: "5a", name: `cacherator: persisted miss, small file (${SMALL_SIZE} entries, < 64 KiB)`, size: SMALL_SIZE, write: "flush", ops: APPEND_OPS, freshEvery: 1 }, progress),
    singleInstanceRow({ id: "5b", name: `cacherator: persisted miss, ${formatCount(MEDIUM_SIZE)} entries`, size: MEDIUM_SIZE, write: "flush", ops: APPEND_OPS, freshEvery: 2 }, progress),
    singleInstanceRow({ id: "5c", name: `cacherator: persisted miss, ${largeLabel}`, size: large, write: "flush", ops: APPEND_OPS, freshEvery: undefined }, progress),
    singleInstanceRow({ id: "5d", name: "cacherator: durable miss alone", size: MEDIUM_SIZE, write: "save", ops: 8, freshEvery: 16 }, progress),
    durableConcurrentRow("5e"),
  ];
  const started = Date.now();
  const settled = await measureRows(rows, options);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);

  const perWrite = new Map(rows.map((r) => [r.id, r.unavailable === undefined ? median(r.times) : Number.NaN]));
  const get = (id: string) => perWrite.get(id) as number;
  const append = get("1a");
  const appendSynced = get("1b");
  const group = get("1c");
  const sampleLine = makeItems(1)[0] as Item;

  const tableRows = rows.map((r) => {
    if (r.unavailable !== undefined) return [r.id, r.name, r.durable, r.unavailable, "", "", "", String(r.ops), "0"];
    const ns = get(r.id);
    const spread = `${formatNs(quantile(r.times, 0.25))} – ${formatNs(quantile(r.times, 0.75))}`;
    return [r.id, r.name, r.durable, formatNs(ns), spread, formatRatio(ns / append), formatRatio(ns / appendSynced), String(r.ops), String(r.times.length)];
  });

  const notes = [
    `per write = median over ${options.rounds} samples of (time of one sample / writes in it); rows take turns (each round times every row once, starting from a rotating row) after ${options.warmupRounds} untimed round${options.warmupRounds === 1 ? "" : "s"}; ` +
      `every row writes in its own fresh directory under ${tmpdir()} (one file system for all rows); ` +
      (settled ? "before every sample, untimed, `sync` writes back all dirty pages, so a sample pays for its own writes only (not for the writeback of the row before); " : "`sync` could not be run before the samples: a sample may pay for the writeback of the row before; ") +
      `section time ${seconds} s`,
    `what is written: the result of \`double(n)\` for a new n — key \`${sampleLine.key}\`, value the entry text cacherator stores (\`${sampleLine.text}\`); ` +
      `cacherator's journal line for it is ${sampleLine.line.length} bytes (src/store/journal.ts setLine + src/store/cache-file.ts entryText); anchors store the same key and entry text`,
    "durable = the call resolves only once the write is on disk (fsync/fdatasync); \"per 64\": one sync covers a group of 64 writes",
    "p25 – p75 = the middle half of the samples (fsync latency on a shared machine varies a lot: ratios to [1b] and [1c] move from run to run)",
    "× append = per write / [1a]; × append+fdatasync = per write / [1b]",
    `anchors (bench/anchors, loaded with createRequire): ${anchorVersions(anchors)}${anchors.install === undefined ? "" : `; install: ${anchors.install}`}`,
    "configurations:",
    ...rows.map((r) => `  [${r.id}] ${r.name}: ${r.config}${r.facts.length > 0 ? `; ${r.facts.join("; ")}` : ""}`),
  ];

  const ratioTarget = (name: string, id: string, floor: number, floorName: string, limit: number): WritePathTarget => {
    const ratio = get(id) / floor;
    if (!Number.isFinite(ratio)) return { name, goal: `≤ ${limit}× ${floorName}`, measured: "not measured", pass: false, verdict: "n/a" };
    return { name, goal: `≤ ${limit}× ${floorName}`, measured: formatRatio(ratio), pass: ratio <= limit };
  };
  const targets: WritePathTarget[] = [
    ratioTarget(`persisted miss, small file (${SMALL_SIZE} entries) vs raw append`, "5a", append, "raw append (no fsync)", 3),
    ratioTarget(`persisted miss, ${formatCount(MEDIUM_SIZE)} entries vs raw append`, "5b", append, "raw append (no fsync)", 3),
    ratioTarget(`persisted miss, ${largeLabel}${large === 1_000_000 ? "" : " (quick size; target is 1,000,000)"} vs raw append`, "5c", append, "raw append (no fsync)", 3),
    ratioTarget("durable miss alone vs raw append + fdatasync", "5d", appendSynced, "raw append + fdatasync", 1.5),
    ratioTarget(`durable saves, ${GROUP} at once vs group-commit floor`, "5e", group, `group commit of ${GROUP} (per write)`, 3),
  ];

  return {
    targets,
    section: {
      title: "Write path: cacherator vs floors and anchors",
      notes,
      tables: [
        {
          headers: ["", "row", "durable", "per write (median)", "p25 – p75", "× append", "× append+fdatasync", "writes/sample", "samples"],
          rows: tableRows,
          right: [3, 4, 5, 6, 7, 8],
        },
      ],
    },
  };
}
