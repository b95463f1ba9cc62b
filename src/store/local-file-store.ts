/**
 * The L1 tier: one JSON file per dataId, held in memory as a Map and written back off the call path.
 *
 * - Reads happen once, at open, synchronously (constructors are synchronous).
 * - A change marks the store dirty and schedules one write `writeDelay` ms later, so a burst of misses
 *   becomes one write. `flush()` writes now; with `durable` it also fsyncs.
 * - A small cache is rewritten whole at each write: a temporary file renamed over the cache file, so a
 *   crash leaves the old file or the new one, never a truncated one. A large cache (a file of 64 KiB or
 *   more) appends what changed to a journal beside it (journal.ts) instead, so a write costs the same
 *   at a thousand entries and at a million; the journal is folded into the file (compaction, which also
 *   prunes expired entries) when it outgrows the file, and at normal exit.
 * - A file that cannot be read as a cache file is moved aside (never overwritten) and the store starts
 *   empty.
 * - Several processes may share one file. Every write takes a lock file; before writing, and on a miss,
 *   a process merges what others wrote since it last looked (their new entries, their removals).
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { basename, dirname } from "node:path";
import { decodeValue } from "../codec.js";
import type { CacheLog } from "../logger.js";
import { ForeignFileError, entryText, parseCacheFile, serializeCacheFile, type EntryMeta, type LoadedCacheFile } from "./cache-file.js";
import { deleteLine, parseJournalLine, setLine, variablesLine, type JournalOp } from "./journal.js";
import { functionOfKey } from "../keys/call-key.js";
import { tryWithFileLockSync, withFileLock, withFileLockSync } from "./file-lock.js";
import type { L2Sync } from "./l2-sync.js";
import { globalMetrics } from "../events.js";

/** Where an entry's value came from when this process first had it. */
export type EntryOrigin = "l1" | "l2" | "process";

export interface StoredEntry {
  /** Computation time, epoch ms. */
  readonly time: number;
  readonly async: boolean;
  readonly origin: EntryOrigin;
  /** The value as callers get it; valid once `decoded` is true. */
  value: unknown;
  decoded: boolean;
  /** The encoded value (codec output): as read from a file, or as computed; the entry's line and L2 item are made from it. */
  raw: unknown;
  /** The entry's line in the file; `undefined` until first needed. */
  text: string | undefined;
  /** False for values that cannot be encoded: they live in memory only. */
  readonly persistent: boolean;
  /** A TTL and a version the entry carries itself (see EntryMeta); usually absent. */
  readonly meta?: EntryMeta | undefined;
}

export class LocalFileStore {
  readonly entries = new Map<string, StoredEntry>();
  /** Persisted attributes (as of the last load or `jsonCacheSave()`): name → JSON text of the encoded value. */
  variables = new Map<string, string>();
  /** Answers of async misses under way, so concurrent identical calls share one execution. */
  readonly inflight = new Map<string, Promise<unknown>>();
  /** Functions whose entries from earlier runs were already dropped by `@Cached({ clearCache: true })`. */
  readonly clearedFunctions = new Set<string>();

  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<boolean> | undefined;
  #queued: Promise<boolean> | undefined;
  #queuedDurable = false;
  #tmpInFlight: string | undefined;
  #directoryReady = false;
  /** Set when our file could be neither read nor moved aside: writing would destroy it. */
  #frozen = false;
  /** The DynamoDB link of this dataId, when a table is configured. */
  l2: L2Sync | undefined;
  /** Bytes written to this cache's file and journal by this process. */
  bytesWritten = 0;
  /** The longest instance TTL of the instances using this store (for entries of uncalled methods). */
  defaultTtlMs = 0;
  /** At most this many entries; the least recently used are evicted. */
  maxEntries: number | undefined;
  readonly journalPath: string;
  readonly #lockPath: string;
  /** TTL of each function called in this process, so compaction can prune its expired entries. */
  readonly #ttls = new Map<string, number>();
  /** Identity of the file (inode, size, mtime) as this process last read or wrote it. */
  #known = "";
  /** Bytes of the journal already applied to memory. */
  #journalOffset = 0;
  /** Size of the cache file as last read or written; decides between rewriting and appending. */
  #fileBytes = 0;
  /** Keys set since the file was last read or written: ours, not yet on disk. */
  #unsynced = new Set<string>();
  /** Keys removed since then: not to be taken back from the file. */
  #removed = new Set<string>();
  /** Whether `variables` changed (jsonCacheSave) since then. */
  #variablesUnsynced = false;

  constructor(
    readonly path: string,
    readonly dataId: string,
    readonly log: CacheLog,
    private readonly writeDelay: number,
    private readonly onDirty: (store: LocalFileStore) => void,
    private readonly onClean: (store: LocalFileStore) => void,
    private readonly onJournal: (store: LocalFileStore) => void = () => undefined,
  ) {
    this.journalPath = `${path}.journal`;
    this.#lockPath = `${path}.lock`;
  }

  /** Starts empty, leaving the file as it is until the next write replaces it (`clearCache`). */
  ignoreFile(): void {
    this.#known = fileIdentity(this.path);
    this.#journalOffset = fileSize(this.journalPath);
  }

  /** Loads `path`, or `legacyPath` (a file the Python library wrote) when `path` does not exist. */
  load(legacyPath?: string): void {
    this.#known = fileIdentity(this.path);
    let source = this.path;
    let text: string;
    try {
      text = fs.readFileSync(source, "utf8");
    } catch (error) {
      if (!isNotFound(error)) return this.#setAside(source, error);
      if (fileSize(this.journalPath) > 0) {
        // The file is gone but its journal is not: keep what the journal holds.
        this.#applyJournal();
        return;
      }
      if (legacyPath === undefined || legacyPath === this.path) return;
      try {
        source = legacyPath;
        text = fs.readFileSync(source, "utf8");
      } catch (legacyError) {
        if (!isNotFound(legacyError)) this.#unreadable(legacyError, legacyPath);
        return;
      }
    }
    let parsed: LoadedCacheFile;
    try {
      parsed = parseCacheFile(text, (key, raw, time, async, meta) => {
        this.entries.set(key, loadedEntry(raw, time, async, meta));
      });
    } catch (error) {
      this.entries.clear();
      return this.#setAside(source, error);
    }
    this.variables = variablesOf(parsed.variables);
    if (source === this.path) {
      this.#fileBytes = fileSize(this.path);
      this.#applyJournal();
    }
    if (parsed.skipped > 0) {
      this.log.once("warn", `skipped:${source}`, `${parsed.skipped} entr${parsed.skipped === 1 ? "y" : "ies"} of ${source} had no value or no readable date and were dropped.`);
    }
  }

  #unreadable(error: unknown, path: string): void {
    this.log.once("warn", `unreadable:${path}`, `cannot read cache file ${path} (${describe(error)}); starting with an empty cache. Results are still returned.`);
  }

  /**
   * Keeps a file we cannot use under a new name, so nothing in it is lost, and starts empty. If our own
   * file can be neither used nor moved, this store never writes, so it is never overwritten.
   */
  #setAside(source: string, error: unknown): void {
    const aside = `${source}.unreadable-${Date.now()}`;
    let where = `is kept as ${basename(aside)}; starting with an empty cache`;
    try {
      fs.renameSync(source, aside);
    } catch (renameError) {
      if (source === this.path) this.#frozen = true;
      where =
        `could not be moved aside (${describe(renameError)}), so it is left untouched` +
        (this.#frozen ? " and this cache is not written; results are still returned" : "");
    }
    const why =
      error instanceof ForeignFileError ? error.message
      : error instanceof SyntaxError ? `it is not valid JSON (${error.message})`
      : `it cannot be read (${describe(error)})`;
    this.log.once("warn", `aside:${source}`, `cache file ${source} cannot be used: ${why}. The file ${where}.`);
  }

  /** The value of an entry, decoded on first use. Throws if the stored form cannot be decoded. */
  valueOf(entry: StoredEntry): unknown {
    if (!entry.decoded) {
      entry.value = decodeValue(entry.raw);
      entry.decoded = true;
    }
    return entry.value;
  }

  set(key: string, entry: StoredEntry): void {
    this.entries.delete(key); // re-inserted last: the most recently used
    this.entries.set(key, entry);
    this.#removed.delete(key);
    if (this.maxEntries !== undefined && this.entries.size > this.maxEntries) this.#evict();
    if (!entry.persistent) return;
    this.#unsynced.add(key);
    this.markDirty();
  }

  /** The entry of `key`, live or not. */
  get(key: string): StoredEntry | undefined {
    return this.entries.get(key);
  }

  /** Every entry held in memory, in least-recently-used order. */
  allEntries(): IterableIterator<[string, StoredEntry]> {
    return this.entries.entries();
  }

  /**
   * A clear that happened at `beforeMs` (here or on another machine): every entry of `fn` (of every
   * function when `fn` is undefined) computed before that instant is removed, and the removal persisted.
   * Returns the removed keys.
   */
  clearBefore(fn: string | undefined, beforeMs: number): string[] {
    const keys: string[] = [];
    for (const [key, entry] of this.entries) {
      if (entry.time < beforeMs && (fn === undefined || functionOfKey(key) === fn)) keys.push(key);
    }
    return this.removeKeys(keys);
  }

  /** Marks an entry as just used, for the `maxEntries` bound. */
  touch(key: string, entry: StoredEntry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  #evict(): void {
    const excess = this.entries.size - (this.maxEntries as number);
    let evicted = 0;
    for (const key of this.entries.keys()) {
      if (evicted++ >= excess) break;
      this.entries.delete(key);
      this.#unsynced.delete(key);
      this.#removed.add(key);
    }
    this.markDirty();
  }

  /** The longest TTL any instance used for a function in this process, if it was called. */
  ttlFor(fn: string): number | undefined {
    return this.#ttls.get(fn);
  }

  /**
   * Records a function's TTL, so compaction can drop its expired entries. Instances sharing the store
   * may use different TTLs for one function: the longest one decides what has expired.
   */
  noteTtl(fn: string, ttlMs: number): void {
    const known = this.#ttls.get(fn);
    if (known === undefined || known < ttlMs) this.#ttls.set(fn, ttlMs);
  }

  /** The attributes to write from now on (from `jsonCacheSave()`). */
  setVariables(variables: Map<string, string>): void {
    this.variables = variables;
    this.#variablesUnsynced = true;
  }

  /**
   * Merges what other processes wrote since this one last looked: the whole file if it was replaced,
   * else the journal lines added since. Returns whether anything was new. Costs two `stat`s otherwise.
   */
  refresh(): boolean {
    if (this.#frozen) return false;
    if (fileIdentity(this.path) === this.#known) return this.#applyJournal();
    // The file was replaced: reread it only under the lock, since another process may be half-way
    // through a compaction (new file in place, old journal not yet removed). If the lock is busy, the
    // next miss or write catches up.
    let changed = false;
    try {
      const locked = tryWithFileLockSync(this.#lockPath, () => {
        changed = this.#refreshLocked();
      });
      return locked && changed;
    } catch {
      return false; // no lock possible (the directory is gone…): the next write reports and repairs it
    }
  }

  /** `refresh()` for a caller that holds the lock. */
  #refreshLocked(): boolean {
    const identity = fileIdentity(this.path);
    if (identity === this.#known) return this.#applyJournal();
    let text: string;
    try {
      text = fs.readFileSync(this.path, "utf8");
    } catch {
      // Removed under us (or unreadable): the next write puts back a whole file from memory.
      this.#known = identity;
      this.#fileBytes = 0;
      return this.#applyJournal();
    }
    const onDisk = new Set<string>();
    let parsed: LoadedCacheFile;
    try {
      parsed = parseCacheFile(text, (key, raw, time, async, meta) => {
        onDisk.add(key);
        this.#adopt(key, raw, time, async, meta);
      });
    } catch (error) {
      this.#setAside(this.path, error);
      this.#known = fileIdentity(this.path);
      return false;
    }
    this.#known = identity;
    this.#fileBytes = fileSize(this.path);
    if (!this.#variablesUnsynced) this.variables = variablesOf(parsed.variables);
    this.#journalOffset = 0;
    this.#applyJournal(onDisk);
    // Entries this process had seen on disk that are gone now were removed by another process.
    for (const [key, entry] of this.entries) {
      if (entry.persistent && !onDisk.has(key) && !this.#unsynced.has(key)) this.entries.delete(key);
    }
    return true;
  }

  /** Takes an entry from disk unless this process removed it or holds a newer one. */
  #adopt(key: string, raw: unknown, time: number, async: boolean, meta: EntryMeta | undefined): void {
    if (this.#removed.has(key)) return;
    const mine = this.entries.get(key);
    if (mine !== undefined && mine.time >= time) return;
    this.entries.delete(key);
    this.entries.set(key, loadedEntry(raw, time, async, meta));
  }

  /**
   * Applies the journal's complete lines from `#journalOffset` on. `onDisk`, when given, tracks which
   * keys the file and journal hold. Returns whether there was anything to apply.
   */
  #applyJournal(onDisk?: Set<string>): boolean {
    const size = fileSize(this.journalPath);
    if (size <= this.#journalOffset) {
      if (size < this.#journalOffset) this.#journalOffset = 0; // folded away by a compaction
      return false;
    }
    let chunk: Buffer;
    try {
      const fd = fs.openSync(this.journalPath, "r");
      try {
        chunk = Buffer.alloc(size - this.#journalOffset);
        const read = fs.readSync(fd, chunk, 0, chunk.length, this.#journalOffset);
        chunk = chunk.subarray(0, read);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return false;
    }
    const complete = chunk.lastIndexOf(0x0a) + 1; // a line still being written is read next time
    if (complete === 0) return false;
    for (const line of chunk.subarray(0, complete).toString("utf8").split("\n")) {
      if (line.length > 0) this.#applyOp(parseJournalLine(line), onDisk);
    }
    this.#journalOffset += complete;
    return true;
  }

  #applyOp(op: JournalOp | undefined, onDisk?: Set<string>): void {
    if (op === undefined) return;
    if (op.kind === "set") {
      onDisk?.add(op.key);
      this.#adopt(op.key, op.raw, op.time, op.async, op.meta);
    } else if (op.kind === "del") {
      for (const key of op.keys) {
        onDisk?.delete(key);
        if (!this.#unsynced.has(key)) this.entries.delete(key);
      }
    } else if (!this.#variablesUnsynced) {
      this.variables = variablesOf(op.variables);
    }
  }

  /** Removes entries (all, or one function's) and persists the removal. Returns the removed keys. */
  remove(fn?: string): string[] {
    const keys: string[] = [];
    for (const key of this.entries.keys()) {
      if (fn === undefined || functionOfKey(key) === fn) keys.push(key);
    }
    return this.removeKeys(keys);
  }

  /** Removes the given entries (those present) and persists the removal. Returns the removed keys. */
  removeKeys(keys: Iterable<string>): string[] {
    const removed: string[] = [];
    for (const key of keys) {
      if (!this.entries.delete(key)) continue;
      this.#unsynced.delete(key);
      this.#removed.add(key);
      removed.push(key);
    }
    if (removed.length > 0) this.markDirty();
    return removed;
  }

  markDirty(): void {
    this.#dirty = true;
    if (this.#frozen) return;
    if (this.#timer === undefined && this.#writing === undefined) {
      this.#timer = setTimeout(() => void this.flush(), this.writeDelay);
      this.#timer.unref();
    }
    this.onDirty(this);
  }

  /**
   * Writes the current entries and state. Resolves `true` once they are on disk (fsynced when
   * `durable`), `false` if the write failed (the failure is logged).
   */
  flush(durable = false): Promise<boolean> {
    this.#clearTimer();
    if (this.#frozen) return Promise.resolve(false);
    if (this.#writing === undefined) return this.#startWrite(durable);
    this.#queuedDurable ||= durable;
    this.#queued ??= this.#writing.then(() => {
      this.#queued = undefined;
      const queuedDurable = this.#queuedDurable;
      this.#queuedDurable = false;
      return this.#startWrite(queuedDurable);
    });
    return this.#queued;
  }

  #startWrite(durable: boolean): Promise<boolean> {
    const write = this.#writeShared(durable).then((written) => {
      this.#writing = undefined;
      // Changes made during the write get a write of their own; after a failure, the next change retries.
      if (!this.#dirty) this.onClean(this);
      else if (written && this.#queued === undefined) this.markDirty();
      return written;
    });
    this.#writing = write;
    return write;
  }

  /** Under the lock: merge what other processes wrote, then append to the journal or rewrite the file. */
  async #writeShared(durable: boolean): Promise<boolean> {
    let taken: Unsynced | undefined;
    try {
      await this.#ensureDirectory();
      return await withFileLock(this.#lockPath, async () => {
        this.#refreshLocked();
        taken = this.#takeUnsynced();
        const lines = this.#journalLines(taken);
        if (this.#fileBytes >= JOURNAL_FROM_BYTES && this.#journalOffset + Buffer.byteLength(lines) <= this.#fileBytes) {
          await this.#append(lines, durable);
        } else {
          await this.#compact(durable);
        }
        return true;
      });
    } catch (error) {
      this.#dirty = true;
      if (taken !== undefined) this.#giveBackUnsynced(taken);
      this.#directoryReady = false; // it may have been removed under us: create it again next time
      this.#writeFailed(error);
      return false;
    }
  }

  /** The journal lines for what changed: entries set, entries removed, attributes saved. */
  #journalLines(taken: Unsynced): string {
    let lines = "";
    for (const key of taken.keys) {
      const entry = this.entries.get(key);
      if (entry === undefined || !entry.persistent) continue;
      entry.text ??= entryText(entry.raw, entry.time, entry.async, entry.meta);
      lines += setLine(key, entry.text);
    }
    if (taken.removed.size > 0) lines += deleteLine(taken.removed);
    if (taken.variables) lines += variablesLine(this.variables);
    this.#dirty = false;
    return lines;
  }

  async #append(lines: string, durable: boolean): Promise<void> {
    if (lines.length === 0) return;
    if (durable) {
      const handle = await fsp.open(this.journalPath, "a");
      try {
        await handle.writeFile(lines, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
    } else {
      // A few lines to the page cache: quicker done here than in three trips to the thread pool.
      fs.appendFileSync(this.journalPath, lines, "utf8");
    }
    // Under the lock, and after refresh() applied every earlier line, the journal ends with ours.
    const bytes = Buffer.byteLength(lines);
    this.#journalOffset += bytes;
    this.#countWritten(bytes);
    this.onJournal(this);
  }

  /** Folds everything into a new cache file, dropping expired entries, and removes the journal. */
  async #compact(durable: boolean): Promise<void> {
    const text = this.#snapshot();
    await this.#writeAtomically(text, durable);
    await fsp.rm(this.journalPath, { force: true });
    this.#afterCompaction(text);
  }

  #afterCompaction(text: string): void {
    this.#known = fileIdentity(this.path);
    this.#fileBytes = Buffer.byteLength(text);
    this.#journalOffset = 0;
    this.#countWritten(this.#fileBytes);
  }

  #countWritten(bytes: number): void {
    this.bytesWritten += bytes;
    globalMetrics.bytesWritten += bytes;
  }

  /** Whether the journal holds anything not yet folded into the file. */
  get #hasJournal(): boolean {
    return fileSize(this.journalPath) > 0;
  }

  /** What is about to be written stops counting as unsynced; given back if the write fails. */
  #takeUnsynced(): Unsynced {
    const taken = { keys: this.#unsynced, removed: this.#removed, variables: this.#variablesUnsynced };
    this.#unsynced = new Set();
    this.#removed = new Set();
    this.#variablesUnsynced = false;
    return taken;
  }

  #giveBackUnsynced(taken: Unsynced): void {
    for (const key of taken.keys) if (this.entries.has(key)) this.#unsynced.add(key);
    for (const key of taken.removed) if (!this.entries.has(key)) this.#removed.add(key);
    this.#variablesUnsynced ||= taken.variables;
  }

  /** The file text for the current state, without expired entries; clears the dirty flag. */
  #snapshot(): string {
    this.#dirty = false;
    this.#pruneExpired();
    return serializeCacheFile(this.dataId, this.#entryLines(), this.variables, Date.now());
  }

  /** Drops entries whose function's TTL (as called in this process) has passed. */
  #pruneExpired(): void {
    if (this.#ttls.size === 0) return;
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      const ttl = entry.meta?.ttlMs ?? this.#ttls.get(functionOfKey(key));
      if (ttl !== undefined && now - entry.time >= ttl && this.inflight.get(key) === undefined) this.entries.delete(key);
    }
  }

  *#entryLines(): Generator<[string, string]> {
    for (const [key, entry] of this.entries) {
      if (!entry.persistent) continue;
      entry.text ??= entryText(entry.raw, entry.time, entry.async, entry.meta);
      yield [key, entry.text];
    }
  }

  async #writeAtomically(text: string, durable: boolean): Promise<void> {
    const tmp = `${this.path}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
    this.#tmpInFlight = tmp;
    try {
      const handle = await fsp.open(tmp, "w");
      try {
        await handle.writeFile(text, "utf8");
        if (durable) await handle.sync();
      } finally {
        await handle.close();
      }
      await fsp.rename(tmp, this.path);
      if (durable) await syncDirectory(dirname(this.path));
    } catch (error) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw error;
    } finally {
      this.#tmpInFlight = undefined;
    }
  }

  async #ensureDirectory(): Promise<void> {
    if (this.#directoryReady && fs.existsSync(dirname(this.path))) return;
    await fsp.mkdir(dirname(this.path), { recursive: true });
    this.#directoryReady = true;
  }

  #writeFailed(error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    this.log.once("warn", `write:${this.path}:${code}`, `cannot write cache file ${this.path} (${describe(error)}). Results are still returned, but are not persisted until the file can be written.`);
  }

  /**
   * Synchronous write for process exit, when no asynchronous work can run. Writes if anything changed
   * since the last write; a write still in flight never finishes once the process exits, so it is redone.
   */
  flushSync(): void {
    this.#clearTimer();
    if (this.#frozen || (!this.#dirty && this.#writing === undefined && !this.#hasJournal)) return;
    if (this.#tmpInFlight !== undefined) removeQuietly(this.#tmpInFlight);
    const tmp = `${this.path}.${process.pid}.exit.tmp`;
    try {
      fs.mkdirSync(dirname(this.path), { recursive: true });
      withFileLockSync(this.#lockPath, () => {
        // At exit the journal is folded in, so the file is complete for other readers.
        this.#refreshLocked();
        this.#takeUnsynced();
        const text = this.#snapshot();
        fs.writeFileSync(tmp, text, "utf8");
        fs.renameSync(tmp, this.path);
        fs.rmSync(this.journalPath, { force: true });
        this.#afterCompaction(text);
      });
    } catch (error) {
      removeQuietly(tmp);
      this.#writeFailed(error);
    }
  }

  get dirty(): boolean {
    return this.#dirty;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** From this cache file size on, writes append to the journal instead of rewriting the file. */
const JOURNAL_FROM_BYTES = 64 * 1024;

interface Unsynced {
  keys: Set<string>;
  removed: Set<string>;
  variables: boolean;
}

function loadedEntry(raw: unknown, time: number, async: boolean, meta: EntryMeta | undefined): StoredEntry {
  return { time, async, origin: "l1", value: undefined, decoded: false, raw, text: undefined, persistent: true, meta };
}

/** Attributes as read from a file or journal line, kept as the JSON text of each encoded value. */
function variablesOf(variables: Record<string, unknown>): Map<string, string> {
  return new Map(Object.entries(variables).map(([name, raw]) => [name, JSON.stringify(raw)]));
}

function fileSize(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch {
    return 0;
  }
}

/** What identifies one version of a file: a rename gives a new inode, a rewrite a new size or mtime. */
function fileIdentity(path: string): string {
  try {
    const stat = fs.statSync(path, { bigint: true });
    // Inode numbers are reused and mtimes are coarse: the birth time tells two files apart too.
    return `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.birthtimeNs}`;
  } catch {
    return "none";
  }
}

async function syncDirectory(directory: string): Promise<void> {
  // fsync on a directory makes the rename itself durable; some platforms refuse to open directories.
  const handle = await fsp.open(directory, "r").catch(() => undefined);
  if (handle === undefined) return;
  try {
    await handle.sync().catch(() => undefined);
  } finally {
    await handle.close();
  }
}

/** No file there: it does not exist, or a parent in its path is not a directory (the write will say so). */
function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

function removeQuietly(path: string): void {
  try {
    fs.rmSync(path, { force: true });
  } catch {
    // Nothing to clean up where nothing could be written.
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
