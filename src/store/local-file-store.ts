/**
 * The L1 tier: one JSON file per dataId, held in memory (memory-table.ts) and written back off the call
 * path. Several processes may share the file; what one saved, another never loses.
 *
 * - Reading and merging what other processes wrote is the disk reader's (disk-reader.ts): at open, on a
 *   miss, before a fold, and on a hit at most once per `refreshIntervalMs`. It needs no lock.
 * - A change schedules one write `writeDelay` ms later (write-scheduler.ts); `flush()` writes now, with
 *   `durable` also fsynced. Writes of all stores share one bounded queue; failures are retried.
 * - A write appends the changes to `<file>.journal` (no lock: journal-file.ts), or, when the file is
 *   small (so it stays complete for the Python library) or the journal has outgrown it, folds the
 *   journal into a new file under `<file>.lock` (fold.ts). A busy lock never makes a write wait: it
 *   appends instead, and the fold happens later.
 * - At exit the changes are appended, then folded in if the lock comes free within a second.
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { dirname } from "node:path";
import { decodeValue } from "../codec.js";
import type { CacheLog } from "../logger.js";
import { entryText, serializeCacheFile } from "./cache-file.js";
import { DiskReader } from "./disk-reader.js";
import { Folder, journalSize } from "./fold.js";
import { isAlive } from "./file-lock.js";
import { clearLine, deleteLine, setLine, variablesLine } from "./journal.js";
import { appendToJournal, appendToJournalSync } from "./journal-file.js";
import { functionOfKey } from "../keys/call-key.js";
import { globalMetrics } from "../events.js";
import { MemoryTable, type Changes, type StoredEntry } from "./memory-table.js";
import { describe } from "./quarantine.js";
import { leftovers } from "./private-names.js";
import { WriteScheduler } from "./write-scheduler.js";

export type { EntryOrigin, StoredEntry } from "./memory-table.js";
export { describe } from "./quarantine.js";

export interface LocalFileStoreOptions {
  path: string;
  dataId: string;
  log: CacheLog;
  /** Delay that coalesces changes into one write, ms. */
  writeDelay?: number;
  /** Mode of new files (default 0o600). */
  fileMode?: number;
  /** Mode of new directories (default 0o700). */
  directoryMode?: number;
  /** A hit looks for other processes' changes at most this often, ms (default 1000). */
  refreshIntervalMs?: number;
  /** Called when the store has changes to write, and when it has none left. */
  onDirty?: (store: LocalFileStore) => void;
  onClean?: (store: LocalFileStore) => void;
  /** Called when the store appended to its journal (to be folded at exit). */
  onJournal?: (store: LocalFileStore) => void;
}

/** From this cache file size on, writes append to the journal instead of rewriting the file. */
const JOURNAL_FROM_BYTES = 64 * 1024;
/** At exit, how long to wait for another process's fold before leaving the fold to others. */
const EXIT_LOCK_WAIT_MS = 1_000;

export class LocalFileStore {
  readonly path: string;
  readonly dataId: string;
  readonly log: CacheLog;
  readonly journalPath: string;
  /** Bytes written to this cache's file and journal by this process. */
  bytesWritten = 0;
  /** The longest instance TTL of the instances using this store (for entries of uncalled methods). */
  defaultTtlMs = 0;
  /** A hit looks at the file again once `Date.now()` reaches this. */
  checkAt = 0;
  refreshIntervalMs: number;
  fileMode: number;
  directoryMode: number;

  readonly #table = new MemoryTable();
  readonly #reader: DiskReader;
  readonly #folder: Folder;
  readonly #scheduler: WriteScheduler;
  /** TTL of each function called in this process, so compaction can prune its expired entries. */
  readonly #ttls = new Map<string, number>();
  /** The changes of the write under way (an exit writes them again). */
  #taken: Changes | undefined;
  /** This process appended to the journal: fold it in at exit. */
  #appended = false;
  #directoryReady = false;
  readonly #onJournal: (store: LocalFileStore) => void;

  constructor(options: LocalFileStoreOptions) {
    this.path = options.path;
    this.dataId = options.dataId;
    this.log = options.log;
    this.journalPath = `${options.path}.journal`;
    this.fileMode = options.fileMode ?? 0o600;
    this.directoryMode = options.directoryMode ?? 0o700;
    this.refreshIntervalMs = options.refreshIntervalMs ?? 1000;
    this.#onJournal = options.onJournal ?? noop;
    this.#reader = new DiskReader(this.path, this.journalPath, this.#table, this.log, () => this.markDirty());
    this.#folder = new Folder({
      path: this.path,
      journalPath: this.journalPath,
      lockPath: `${this.path}.lock`,
      reader: this.#reader,
      log: this.log,
      mode: () => this.fileMode,
      snapshot: () => this.#snapshot(),
      folded: (text) => {
        this.#appended = false;
        this.#countWritten(Buffer.byteLength(text));
      },
    });
    const onDirty = options.onDirty ?? noop;
    const onClean = options.onClean ?? noop;
    const table = this.#table;
    const reader = this.#reader;
    this.#scheduler = new WriteScheduler(
      {
        write: (durable) => this.#write(durable),
        get changed() {
          return table.changed;
        },
        get frozen() {
          return reader.frozen;
        },
        onDirty: () => onDirty(this),
        onClean: () => onClean(this),
      },
      options.writeDelay ?? 0,
    );
  }

  // --- Reading --------------------------------------------------------------------------------------

  /** Loads the file, its journal and any journal a dead process sealed. */
  load(): void {
    this.#reader.load(leftovers(this.journalPath, isAlive, false));
  }

  /** Merges what other processes wrote since this one last looked; whether anything was new. Two `stat`s otherwise. */
  refresh(): boolean {
    this.checkAt = Date.now() + this.refreshIntervalMs;
    return this.#reader.refresh();
  }

  // --- The table ------------------------------------------------------------------------------------

  /** The entry of `key`, live or not. */
  get(key: string): StoredEntry | undefined {
    return this.#table.get(key);
  }

  /** Every entry held in memory, in least-recently-used order. */
  allEntries(): IterableIterator<[string, StoredEntry]> {
    return this.#table.entries();
  }

  get size(): number {
    return this.#table.size;
  }

  get variables(): ReadonlyMap<string, string> {
    return this.#table.variables;
  }

  get maxEntries(): number | undefined {
    return this.#table.maxEntries;
  }

  set maxEntries(bound: number | undefined) {
    this.#table.maxEntries = bound;
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
    if (this.#table.set(key, entry)) this.markDirty();
  }

  /** Marks an entry as just used, for the `maxEntries` bound. */
  touch(key: string, entry: StoredEntry): void {
    this.#table.touch(key, entry);
  }

  /** The longest TTL any instance used for a function in this process, if it was called. */
  ttlFor(fn: string): number | undefined {
    return this.#ttls.get(fn);
  }

  /** Records a function's TTL for compaction's pruning; of several instances' TTLs, the longest decides. */
  noteTtl(fn: string, ttlMs: number): void {
    const known = this.#ttls.get(fn);
    if (known === undefined || known < ttlMs) this.#ttls.set(fn, ttlMs);
  }

  /** The attributes to write from now on (from `jsonCacheSave()`). */
  setVariables(variables: Map<string, string>): void {
    this.#table.setVariables(variables, Date.now());
    this.markDirty();
  }

  /** Attributes stored by an earlier version that are excluded now are dropped from the file. */
  forgetVariables(names: ReadonlySet<string>): void {
    if (names.size === 0 || ![...names].some((name) => this.#table.variables.has(name))) return;
    const kept = new Map([...this.#table.variables].filter(([name]) => !names.has(name)));
    this.#table.setVariables(kept, this.#table.variablesTime + 1);
    this.markDirty();
  }

  /**
   * Clears entries (all, or one function's): every one computed up to now, including those other
   * processes wrote and this one has not seen yet; the clear is persisted and reaches every process
   * that shares the file. Returns the removed keys this process held.
   */
  clear(fn?: string, at = Date.now()): string[] {
    const removed = this.#table.clear(fn, at);
    this.markDirty();
    return removed;
  }

  /** A clear that happened at `beforeMs` (on another machine): as `clear`. */
  clearBefore(fn: string | undefined, beforeMs: number): string[] {
    return this.clear(fn, beforeMs);
  }

  /** Removes the given entries (those present) and persists the removal. Returns the removed keys. */
  removeKeys(keys: Iterable<string>): string[] {
    const removed = this.#table.removeKeys(keys);
    if (removed.length > 0) this.markDirty();
    return removed;
  }

  // --- Writing --------------------------------------------------------------------------------------

  markDirty(): void {
    this.#scheduler.markDirty();
  }

  get dirty(): boolean {
    return this.#table.changed;
  }

  /** Writes the changes: `true` once on disk (fsynced when `durable`), `false` if that failed (retried on a timer). */
  flush(durable = false): Promise<boolean> {
    return this.#scheduler.flush(durable);
  }

  /** A fold when the file is small or the journal has outgrown it (and the lock is free); else an append. */
  async #write(durable: boolean): Promise<boolean> {
    const taken = this.#table.take();
    this.#taken = taken;
    try {
      await this.#ensureDirectory();
      const { fileBytes } = this.#reader;
      const wantFold = fileBytes < JOURNAL_FROM_BYTES || journalSize(this.journalPath) > fileBytes;
      if (!(wantFold && (await this.#folder.fold(durable)))) await this.#append(taken, durable);
      this.#table.written();
      return true;
    } catch (error) {
      this.#table.giveBack(taken);
      this.#directoryReady = false; // it may have been removed under us: create it again next time
      this.#writeFailed(error);
      return false;
    } finally {
      this.#taken = undefined;
    }
  }

  /** Appends the changes as journal lines; no lock needed. */
  async #append(changes: Changes, durable: boolean): Promise<void> {
    const lines = this.#journalLines(changes);
    if (lines.length === 0) return;
    const result = await appendToJournal(this.journalPath, lines, this.fileMode, durable);
    this.#afterAppend(result.at, result.bytes);
  }

  #afterAppend(at: number, bytes: number): void {
    // Our lines need no reading if they follow what this process applied already; else they are read
    // again at the next refresh (harmless: an entry is taken only if newer).
    this.#reader.appended(at, bytes);
    this.#appended = true;
    this.#countWritten(bytes);
    this.#onJournal(this);
  }

  /** The journal lines for what changed: entries set, entries removed, clears, attributes saved. */
  #journalLines(changes: Changes): string {
    let lines = "";
    for (const key of changes.sets) {
      const text = this.#entryTextOf(key);
      if (text !== undefined) lines += setLine(key, text);
    }
    if (changes.removed.size > 0) lines += deleteLine(changes.removed);
    if (changes.clears.size > 0) lines += clearLine(changes.clears);
    if (changes.variables) lines += variablesLine(this.#table.variables as Map<string, string>, this.#table.variablesTime);
    return lines;
  }

  /** An entry's line, or `undefined` (gone, in memory only, or nested too deeply to write: dropped once, with a warning). */
  #entryTextOf(key: string): string | undefined {
    const entry = this.#table.get(key);
    if (entry === undefined || !entry.persistent) return undefined;
    try {
      entry.text ??= entryText(entry.raw, entry.time, entry.async, entry.meta);
      return entry.text;
    } catch (error) {
      this.#table.removeKeys([key]);
      this.log.once("warn", `entry-text:${this.path}`, `an entry of ${this.path} (${key.slice(0, 80)}) cannot be written (${describe(error)}) and was dropped.`);
      return undefined;
    }
  }

  /** The file text for the current state, without expired entries; every pending change is in it. */
  #snapshot(): string {
    this.#pruneExpired();
    this.#table.absorb();
    const table = this.#table;
    return serializeCacheFile(this.dataId, this.#entryLines(), table.variables, Date.now(), { variablesTime: table.variablesTime, clears: table.clears });
  }

  /** Drops entries whose function's TTL (as called in this process) has passed. */
  #pruneExpired(): void {
    if (this.#ttls.size === 0) return;
    const now = Date.now();
    const expired: string[] = [];
    for (const [key, entry] of this.#table.entries()) {
      const ttl = entry.meta?.ttlMs ?? this.#ttls.get(functionOfKey(key));
      if (ttl !== undefined && now - entry.time >= ttl) expired.push(key);
    }
    this.#table.removeKeys(expired);
  }

  *#entryLines(): Generator<[string, string]> {
    for (const [key] of [...this.#table.entries()]) {
      const text = this.#entryTextOf(key);
      if (text !== undefined) yield [key, text];
    }
  }

  #countWritten(bytes: number): void {
    this.bytesWritten += bytes;
    globalMetrics.bytesWritten += bytes;
  }

  async #ensureDirectory(): Promise<void> {
    if (this.#directoryReady && fs.existsSync(dirname(this.path))) return;
    await fsp.mkdir(dirname(this.path), { recursive: true, mode: this.directoryMode });
    this.#directoryReady = true;
  }

  #writeFailed(error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name ?? "error";
    this.log.once("warn", `write:${this.path}:${code}`, `cannot write cache file ${this.path} (${describe(error)}). Results are still returned; the write is retried.`);
  }

  /**
   * Synchronous write for process exit, when no asynchronous work can run. The changes are appended to
   * the journal first (no lock needed, so nothing waits to be safe); then, if the lock comes free within
   * a second, the journal is folded into the file, so the file is complete for other readers (the
   * Python library reads only the file). A write still in flight never finishes once the process exits:
   * its changes are written again.
   */
  flushSync(): void {
    this.#scheduler.cancel();
    if (this.#reader.frozen) return;
    if (this.#taken !== undefined) this.#table.giveBack(this.#taken);
    const foldCutShort = this.#folder.underWay;
    if (!this.#table.changed && !this.#appended && !foldCutShort && journalSize(this.journalPath) === 0) return;
    const taken = this.#table.take();
    try {
      fs.mkdirSync(dirname(this.path), { recursive: true, mode: this.directoryMode });
      const lines = this.#journalLines(taken);
      if (lines.length > 0) {
        const result = appendToJournalSync(this.journalPath, lines, this.fileMode);
        this.#afterAppend(result.at, result.bytes);
      }
      this.#table.written();
    } catch (error) {
      this.#table.giveBack(taken);
      this.#writeFailed(error);
      return;
    }
    if (!foldCutShort && journalSize(this.journalPath) === 0) return;
    this.#table.take();
    this.#folder.foldAtExit(EXIT_LOCK_WAIT_MS, (error) => this.#writeFailed(error));
    this.#table.written();
  }
}

function noop(): void {}
