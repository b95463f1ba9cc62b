/**
 * The L1 tier: one JSON file per dataId, held in memory (memory-table.ts) and written back off the call
 * path. Several processes may share the file; what one saved, another never loses.
 *
 * - Reading and merging what other processes wrote is the disk reader's (disk-reader.ts): at open, on a
 *   miss, before a fold, and on a hit at most once per `refreshIntervalMs`. It needs no lock. Caches of
 *   1 MB and up also read others' journal appends in the background (journal-follower.ts).
 * - Writing is the store writer's (store-writer.ts): a change is appended to the journal after
 *   `writeDelay` ms or at `flush()`, and the journal is folded into the file in the background.
 */
import { decodeValue } from "../codec.js";
import type { CacheLog } from "../logger.js";
import { DiskReader } from "./disk-reader.js";
import { EntryLines } from "./entry-lines.js";
import type { ExitBudget } from "./exit-budget.js";
import { journalSize } from "./fold.js";
import { followJournal } from "./journal-follower.js";
import { isAlive } from "./file-lock.js";
import { MemoryTable } from "./memory-table.js";
import type { StoredEntry } from "./stored-entry.js";
import { leftovers } from "./private-names.js";
import { StoreWriter } from "./store-writer.js";

export type { EntryOrigin, StoredEntry } from "./stored-entry.js";
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
  /**
   * Called with `true` when work on disk starts in the background (a fold, the journal's open), and
   * with `false` once none is under way: what `settle()` waits for.
   */
  onBackground?: (store: LocalFileStore, underWay: boolean) => void;
  /**
   * An empty cache gets its journal at once, so that its first append (perhaps at exit, beside ten
   * thousand others) creates no file: a create costs far more than a write. Default true; the CLI,
   * which only inspects, passes false.
   */
  prepareJournal?: boolean;
}

export class LocalFileStore {
  readonly path: string;
  readonly dataId: string;
  readonly log: CacheLog;
  readonly journalPath: string;
  /** The longest instance TTL of the instances using this store (for entries of uncalled methods). */
  defaultTtlMs = 0;
  /** A hit looks at the file again once `Date.now()` reaches this. */
  checkAt = 0;
  refreshIntervalMs: number;
  fileMode: number;
  directoryMode: number;

  readonly #table = new MemoryTable();
  readonly #reader: DiskReader;
  readonly #writer: StoreWriter;
  /** TTL of each function called in this process, so compaction can prune its expired entries. */
  readonly #ttls = new Map<string, number>();
  readonly #prepareJournal: boolean;
  #loaded = false;
  /** When a miss last looked at the disk (ms). */
  #missRefreshAt = 0;

  constructor(options: LocalFileStoreOptions) {
    this.path = options.path;
    this.dataId = options.dataId;
    this.log = options.log;
    this.journalPath = `${options.path}.journal`;
    this.fileMode = options.fileMode ?? 0o600;
    this.directoryMode = options.directoryMode ?? 0o700;
    this.refreshIntervalMs = options.refreshIntervalMs ?? 1000;
    this.#prepareJournal = options.prepareJournal ?? true;
    this.#reader = new DiskReader(this.path, this.journalPath, this.#table, this.log, () => this.markDirty());
    const { onDirty = noop, onClean = noop, onJournal = noop, onBackground = noop } = options;
    this.#writer = new StoreWriter({
      path: this.path,
      journalPath: this.journalPath,
      dataId: this.dataId,
      log: this.log,
      table: this.#table,
      reader: this.#reader,
      lines: new EntryLines(this.#table, this.#ttls, this.log, this.path),
      fileMode: () => this.fileMode,
      directoryMode: () => this.directoryMode,
      writeDelay: options.writeDelay ?? 0,
      refresh: () => this.refresh(),
      onDirty: () => onDirty(this),
      onClean: () => onClean(this),
      onJournal: () => onJournal(this),
      onBackground: (underWay) => onBackground(this, underWay),
    });
  }

  // --- Reading --------------------------------------------------------------------------------------

  /** Loads the file, its journal and any journal a dead process sealed. */
  load(): void {
    this.#loaded = true;
    this.#reader.load(leftovers(this.journalPath, isAlive, false));
    followJournal(this);
    if (this.#prepareJournal && this.#table.size === 0 && !this.#reader.frozen && journalSize(this.journalPath) === 0) this.#writer.createJournal();
  }

  /**
   * `load()` without blocking the event loop for long (open-in-slices.ts). A `load()` called
   * meanwhile (an instance constructed before this resolved) takes over: it reads synchronously, and
   * this one stops.
   */
  async loadAsync(): Promise<void> {
    await this.#reader.loadAsync(leftovers(this.journalPath, isAlive, false), () => this.#loaded);
    this.#loaded = true;
    followJournal(this);
  }

  /** Merges what other processes wrote since this one last looked; whether anything was new. Two `stat`s otherwise. */
  refresh(): boolean {
    this.checkAt = Date.now() + this.refreshIntervalMs;
    const changed = this.#reader.refresh(false);
    followJournal(this); // the file may have grown past the size from which it is followed
    return changed;
  }

  /** The cache file's size as last read or written. */
  get fileBytes(): number {
    return this.#reader.fileBytes;
  }

  /**
   * In the background (journal-follower.ts): what others appended to the journal since the last look,
   * so that a look after their fold can follow its trail. Never rejects: what fails is read, and
   * reported, by the next look.
   */
  async catchUp(): Promise<void> {
    try {
      await this.#reader.catchUp();
    } catch {
      // As above.
    }
  }

  /**
   * Before computing a miss: what other processes appended (one `lstat` when nothing was). The file
   * itself is looked at too once `checkAt` has come (another program may rewrite it in place), and
   * misses within the same millisecond look once: a result computed twice is harmless.
   */
  refreshOnMiss(): boolean {
    if (Date.now() === this.#missRefreshAt) return false;
    return this.refreshNow();
  }

  /**
   * `refreshOnMiss` that always looks, even if another miss looked within the same millisecond: for a
   * process waiting for another's result (a lease's holder released it just now), where a look made a
   * moment before the release would not show it.
   */
  refreshNow(): boolean {
    const now = Date.now();
    this.#missRefreshAt = now;
    if (now >= this.checkAt) return this.refresh();
    return this.#reader.refresh(true);
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

  // --- Writing (store-writer.ts) ----------------------------------------------------------------------

  markDirty(): void {
    this.#writer.markDirty();
  }

  get dirty(): boolean {
    return this.#writer.dirty;
  }

  /** Writes the changes: `true` once on disk (fsynced when `durable`), `false` if that failed (retried on a timer). */
  flush(durable = false): Promise<boolean> {
    return this.#writer.flush(durable);
  }

  /** The changes appended, and no work of this store on disk left under way (a fold, the journal's open). */
  settle(): Promise<boolean> {
    return this.#writer.settle();
  }

  /** An explicit save or clear: written (fsynced when `durable`), a small cache folded too. */
  save(durable = true): Promise<boolean> {
    return this.#writer.save(durable);
  }

  /** Folds the journal into the file now: whether the file alone is complete. */
  compact(): Promise<boolean> {
    return this.#writer.compact();
  }

  /** At exit, first: the pending changes appended. */
  appendAtExit(): void {
    this.#writer.appendAtExit();
  }

  /** At exit, then: the journal folded in, if the budget allows. */
  foldAtExit(budget: ExitBudget): void {
    this.#writer.foldAtExit(budget);
  }

  /** Bytes written to this cache's file and journal by this process. */
  get bytesWritten(): number {
    return this.#writer.bytesWritten;
  }

  /** Journal fdatasyncs made for this cache's durable saves. */
  get journalSyncs(): number {
    return this.#writer.journalSyncs;
  }

  /** Folds made by this process. */
  get folds(): number {
    return this.#writer.folds;
  }
}

function noop(): void {}
