/**
 * The L1 tier: one JSON file per dataId, held in memory (memory-table.ts) and written back off the call
 * path. Several processes may share the file; what one saved, another never loses.
 *
 * - Reading and merging what other processes wrote is the disk reader's (disk-reader.ts): at open, on a
 *   miss, before a fold, and on a hit at most once per `refreshIntervalMs`. It needs no lock.
 * - A change schedules one write `writeDelay` ms later (write-scheduler.ts); `flush()` writes now, with
 *   `durable` also fsynced (group commit: concurrent durable flushes share one fdatasync). Failures are
 *   retried.
 * - A write appends the changes to `<file>.journal` through a descriptor kept open (no lock:
 *   journal-file.ts). Nothing else is on the write's path.
 * - Folding the journal into a new file (fold.ts, under `<file>.lock`) happens in the background,
 *   200 ms after a write, when the file is small (so it stays complete for the Python library) or the
 *   journal has outgrown it (fold-schedule.ts). A busy lock means someone else folds; ours is tried
 *   again later.
 * - At exit the changes are appended, then folded in while the exit's time budget allows (exit-budget.ts).
 */
import * as fs from "node:fs";
import { dirname } from "node:path";
import { decodeValue } from "../codec.js";
import type { CacheLog } from "../logger.js";
import { DiskReader } from "./disk-reader.js";
import { EntryLines } from "./entry-lines.js";
import type { ExitBudget } from "./exit-budget.js";
import { Folder, journalSize } from "./fold.js";
import { FoldSchedule } from "./fold-schedule.js";
import { followJournal } from "./journal-follower.js";
import { isAlive } from "./file-lock.js";
import { JournalAppender, type AppendResult } from "./journal-file.js";
import { globalMetrics } from "../events.js";
import { MemoryTable, type Changes } from "./memory-table.js";
import type { StoredEntry } from "./stored-entry.js";
import { describe } from "./quarantine.js";
import { leftovers } from "./private-names.js";
import { WriteScheduler } from "./write-scheduler.js";
import { inWriteSlot } from "./write-queue.js";

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

/** Below this cache file size, every write is followed by a fold, so the file stays complete for the Python library. */
const FOLD_ALWAYS_BELOW_BYTES = 64 * 1024;

export class LocalFileStore {
  readonly path: string;
  readonly dataId: string;
  readonly log: CacheLog;
  readonly journalPath: string;
  /** Bytes written to this cache's file and journal by this process. */
  bytesWritten = 0;
  /** Journal fdatasyncs made for this cache's durable saves, and folds made by this process. */
  journalSyncs = 0;
  folds = 0;
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
  /** The journal lines and the file's text made from the table. */
  readonly #lines: EntryLines;
  /** The changes of the write under way (an exit writes them again). */
  #taken: Changes | undefined;
  readonly #journal: JournalAppender;
  /** The journal's size as of this process's last append or fold. */
  #journalBytes = 0;
  readonly #folds: FoldSchedule;
  #journalWarm = false;
  readonly #prepareJournal: boolean;
  #loaded = false;
  /** When a miss last looked at the disk (ms). */
  #missRefreshAt = 0;
  /** When a save last looked at the file (ms): the saves of one millisecond share one look. */
  #saveLookAt = 0;
  readonly #onJournal: (store: LocalFileStore) => void;
  readonly #onBackground: (store: LocalFileStore, underWay: boolean) => void;
  /** Whether `onBackground` was last told of work under way. */
  #backgroundTold = false;

  constructor(options: LocalFileStoreOptions) {
    this.path = options.path;
    this.dataId = options.dataId;
    this.log = options.log;
    this.journalPath = `${options.path}.journal`;
    this.fileMode = options.fileMode ?? 0o600;
    this.directoryMode = options.directoryMode ?? 0o700;
    this.refreshIntervalMs = options.refreshIntervalMs ?? 1000;
    this.#onJournal = options.onJournal ?? noop;
    this.#onBackground = options.onBackground ?? noop;
    this.#prepareJournal = options.prepareJournal ?? true;
    this.#journal = new JournalAppender(this.journalPath, () => this.fileMode, () => {
      this.journalSyncs++;
      globalMetrics.journalSyncs++;
    });
    this.#lines = new EntryLines(this.#table, this.#ttls, this.log, this.path);
    this.#reader = new DiskReader(this.path, this.journalPath, this.#table, this.log, () => this.markDirty());
    this.#folder = new Folder({
      path: this.path,
      journalPath: this.journalPath,
      lockPath: `${this.path}.lock`,
      reader: this.#reader,
      log: this.log,
      mode: () => this.fileMode,
      snapshot: () => this.#lines.snapshot(this.dataId),
      folded: (bytes) => {
        this.#journalBytes = journalSize(this.journalPath);
        this.#countWritten(bytes);
        this.folds++;
        globalMetrics.folds++;
      },
    });
    this.#folds = new FoldSchedule({
      journalPath: this.journalPath,
      wanted: () => this.#wantsFold(),
      compact: () => this.compact(),
      failed: (error) => this.#writeFailed(error),
      changed: () => this.#noteBackground(),
    });
    const onDirty = options.onDirty ?? noop;
    const onClean = options.onClean ?? noop;
    const table = this.#table;
    const reader = this.#reader;
    this.#scheduler = new WriteScheduler(
      {
        write: (durable) => this.#write(durable),
        writeNow: () => this.#writeNow(),
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
    this.#loaded = true;
    this.#reader.load(leftovers(this.journalPath, isAlive, false));
    followJournal(this);
    if (this.#prepareJournal && this.#table.size === 0 && !this.#reader.frozen && journalSize(this.journalPath) === 0) this.#journal.create();
  }

  /**
   * `load()` without blocking the event loop for long (disk-reader.ts `loadAsync`). A `load()` called
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

  // --- Writing --------------------------------------------------------------------------------------

  markDirty(): void {
    if (!this.#journalWarm && !this.#reader.frozen) {
      this.#journalWarm = true;
      this.#journal.warm();
      const warming = this.#journal.warming();
      if (warming !== undefined) {
        this.#noteBackground();
        void warming.then(() => this.#noteBackground());
      }
    }
    this.#scheduler.markDirty();
  }

  get dirty(): boolean {
    return this.#table.changed;
  }

  /** Writes the changes: `true` once on disk (fsynced when `durable`), `false` if that failed (retried on a timer). */
  flush(durable = false): Promise<boolean> {
    return this.#scheduler.flush(durable);
  }

  /** Appends the changes to the journal (fsynced by group commit when `durable`), then considers a fold. */
  async #write(durable: boolean): Promise<boolean> {
    const taken = this.#table.take();
    this.#taken = taken;
    try {
      this.#appendChanges(taken);
      if (durable) await this.#journal.sync();
      return this.#written();
    } catch (error) {
      return this.#notWritten(taken, error);
    } finally {
      this.#taken = undefined;
    }
  }

  /** `#write` without an fsync: one synchronous append (nothing to wait for), then a fold considered. */
  #writeNow(): boolean {
    const taken = this.#table.take();
    try {
      this.#appendChanges(taken);
      return this.#written();
    } catch (error) {
      return this.#notWritten(taken, error);
    }
  }

  #appendChanges(taken: Changes): void {
    const lines = this.#lines.journalLines(taken);
    if (lines.length > 0) this.#append(lines);
  }

  #written(): true {
    this.#table.written();
    this.#folds.consider();
    return true;
  }

  /** A write failed: its changes are pending again (retried on a timer), and the failure is logged once. */
  #notWritten(taken: Changes, error: unknown): false {
    this.#table.giveBack(taken);
    this.#writeFailed(error);
    return false;
  }

  /** Appends whole lines; creates the directory when it is missing (it may have been removed under us). */
  #append(lines: string): void {
    let result: AppendResult;
    try {
      result = this.#journal.append(lines);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      fs.mkdirSync(dirname(this.path), { recursive: true, mode: this.directoryMode });
      result = this.#journal.append(lines);
    }
    this.#journalBytes = result.size;
    // Our lines need no reading if they follow what this process applied already; else they are read
    // again at the next refresh (harmless: an entry is taken only if newer).
    this.#reader.appended(result);
    this.#countWritten(result.bytes);
    this.#onJournal(this);
  }

  /** Whether the journal is to be folded: the file is small, or the journal has outgrown it. */
  #wantsFold(): boolean {
    if (this.#journalBytes === 0) return false;
    const { fileBytes } = this.#reader;
    return fileBytes < FOLD_ALWAYS_BELOW_BYTES || this.#journalBytes > fileBytes;
  }

  /** Whether a fold or the journal's open runs: work on disk that no call awaits. */
  get #underWay(): boolean {
    return this.#folds.running !== undefined || this.#journal.warming() !== undefined;
  }

  #noteBackground(): void {
    const underWay = this.#underWay;
    if (underWay === this.#backgroundTold) return;
    this.#backgroundTold = underWay;
    this.#onBackground(this, underWay);
  }

  /**
   * The pending changes appended (synchronously, within this call, as `flush()`); resolves once no
   * work of this store on disk is under way: the journal's background open and a fold that runs
   * (started by its timer, `compactAll()` or a save) are over. A fold still due (its timer, 200 ms
   * after a write) is not run: it finds nothing to do if the files were deleted meanwhile. Resolves
   * whether the changes are on disk.
   */
  async settle(): Promise<boolean> {
    const written = await this.flush();
    // A fold may end by scheduling another, or a timer start one meanwhile: a few rounds at most.
    for (let round = 0; round < 4 && this.#underWay; round++) {
      await this.#journal.warming();
      await this.#folds.running;
    }
    return written;
  }

  /**
   * An explicit save or clear, after a look at the file: the changes appended and, with `durable`, fsynced (group commit); a small cache (file under
   * 64 KiB) is then folded as well, so its file alone is complete right away, as the Python library's
   * save leaves it. Resolves whether the changes are durable on disk.
   */
  async save(durable = true): Promise<boolean> {
    // The write starts first (its fdatasync runs on the thread pool), then a look at the file (one
    // stat, shared by the saves of the same millisecond): a file deleted or replaced under us is merged
    // or written back whole, in a second write this save waits for too, so what it reports as on disk
    // includes what only the old file held.
    const written = this.flush(durable);
    const now = Date.now();
    let rewritten: Promise<boolean> | undefined;
    if (now !== this.#saveLookAt) {
      this.#saveLookAt = now;
      if (!this.#reader.unchanged()) {
        this.refresh();
        if (this.#table.changed) rewritten = this.flush(durable);
      }
    }
    if (!(await written) || (rewritten !== undefined && !(await rewritten))) return false;
    if (this.#reader.fileBytes < FOLD_ALWAYS_BELOW_BYTES && this.#wantsFold()) await this.compact();
    // The journal's background open (it creates the file) is over too: nothing of this save is left under way.
    await this.#journal.warming();
    return true;
  }

  /**
   * Folds the journal into the cache file now (after the pending changes are appended), so the file
   * alone holds everything: what the Python library reads. Resolves whether the file is complete;
   * `false` when another process holds the lock (it folds) or the fold failed (logged).
   */
  async compact(): Promise<boolean> {
    this.#folds.cancel();
    if (this.#table.changed && !(await this.flush())) return false;
    await this.#folds.running;
    if (this.#reader.frozen) return false;
    if (journalSize(this.journalPath) === 0 && this.#reader.unchanged()) return true;
    return this.#folds.run(() => inWriteSlot(() => this.#folder.fold()));
  }

  #countWritten(bytes: number): void {
    this.bytesWritten += bytes;
    globalMetrics.bytesWritten += bytes;
  }

  #writeFailed(error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name ?? "error";
    this.log.once("warn", `write:${this.path}:${code}`, `cannot write cache file ${this.path} (${describe(error)}). Results are still returned; the write is retried.`);
  }

  /**
   * At exit, first (no asynchronous work can run any more): the pending changes are appended to the
   * journal. No lock is needed, so nothing waits to be safe. A write still in flight never finishes
   * once the process exits: its changes are written again.
   */
  appendAtExit(): void {
    this.#scheduler.cancel();
    this.#folds.cancel();
    if (this.#reader.frozen) return;
    if (this.#taken !== undefined) this.#table.giveBack(this.#taken);
    if (!this.#table.changed) return;
    const taken = this.#table.take();
    try {
      this.#appendChanges(taken);
      this.#table.written(); // no fold is considered: the exit folds next, within its budget
    } catch (error) {
      this.#notWritten(taken, error);
    }
  }

  /**
   * At exit, then: the journal is folded into the file (complete for the Python library, which reads
   * only the file) if the exit's budget allows a fold of this size; a fold of this process cut short
   * by the exit is finished. What is not folded stays in the journal, which this library reads.
   */
  foldAtExit(budget: ExitBudget): void {
    if (this.#reader.frozen) return;
    const foldCutShort = this.#folder.underWay;
    this.#journalBytes = journalSize(this.journalPath);
    if (!foldCutShort && this.#journalBytes === 0) return;
    const waitMs = budget.foldWaitMs(this.#reader.fileBytes + this.#journalBytes);
    if (waitMs === undefined) return;
    this.#folder.foldAtExit(waitMs, (error) => this.#writeFailed(error));
  }
}

function noop(): void {}
