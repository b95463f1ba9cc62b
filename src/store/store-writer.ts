/**
 * The writing side of a local store (local-file-store.ts): what this process changed goes to the
 * journal, and the journal into the file.
 *
 * - A change schedules one write `writeDelay` ms later (write-scheduler.ts); `flush()` writes now, with
 *   `durable` also fsynced (group commit: concurrent durable flushes share one fdatasync). Failures are
 *   retried.
 * - A write appends the changes to `<file>.journal` through a descriptor kept open (no lock:
 *   journal-appender.ts). Nothing else is on the write's path.
 * - Folding the journal into a new file (fold.ts, under `<file>.lock`) happens in the background,
 *   200 ms after a write, when the file is small (so it stays complete for the Python library) or the
 *   journal has outgrown it (fold-schedule.ts). A busy lock means someone else folds; ours is tried
 *   again later.
 * - At exit the changes are appended, then folded in while the exit's time budget allows (exit-budget.ts).
 */
import * as fs from "node:fs";
import { dirname } from "node:path";
import type { CacheLog } from "../logger.js";
import type { DiskReader } from "./disk-reader.js";
import type { EntryLines } from "./entry-lines.js";
import type { ExitBudget } from "./exit-budget.js";
import { Folder, journalSize } from "./fold.js";
import { FoldSchedule } from "./fold-schedule.js";
import { JournalAppender, type AppendResult } from "./journal-appender.js";
import { globalMetrics } from "../events.js";
import type { Changes, MemoryTable } from "./memory-table.js";
import { describe } from "./quarantine.js";
import { WriteScheduler } from "./write-scheduler.js";
import { inWriteSlot } from "./write-queue.js";

/** What a writer needs of its store. */
export interface StoreWriterContext {
  path: string;
  journalPath: string;
  dataId: string;
  log: CacheLog;
  table: MemoryTable;
  reader: DiskReader;
  /** The journal lines and the file's text made from the table. */
  lines: EntryLines;
  fileMode: () => number;
  directoryMode: () => number;
  /** Delay that coalesces changes into one write, ms. */
  writeDelay: number;
  /** The store's look at the file (a save makes one when the file changed under it). */
  refresh: () => boolean;
  /** The store has changes to write; it has none left. */
  onDirty: () => void;
  onClean: () => void;
  /** The store appended to its journal (to be folded at exit). */
  onJournal: () => void;
  /** Work on disk started in the background (`true`: a fold, the journal's open), or none is left under way. */
  onBackground: (underWay: boolean) => void;
}

/** Below this cache file size, every write is followed by a fold, so the file stays complete for the Python library. */
const FOLD_ALWAYS_BELOW_BYTES = 64 * 1024;

export class StoreWriter {
  /** Bytes written to this cache's file and journal by this process. */
  bytesWritten = 0;
  /** Journal fdatasyncs made for this cache's durable saves, and folds made by this process. */
  journalSyncs = 0;
  folds = 0;

  readonly #context: StoreWriterContext;
  readonly #table: MemoryTable;
  readonly #reader: DiskReader;
  readonly #folder: Folder;
  readonly #scheduler: WriteScheduler;
  /** The changes of the write under way (an exit writes them again). */
  #taken: Changes | undefined;
  readonly #journal: JournalAppender;
  /** The journal's size as of this process's last append or fold. */
  #journalBytes = 0;
  readonly #folds: FoldSchedule;
  #journalWarm = false;
  /** When a save last looked at the file (ms): the saves of one millisecond share one look. */
  #saveLookAt = 0;
  /** Whether `onBackground` was last told of work under way. */
  #backgroundTold = false;

  constructor(context: StoreWriterContext) {
    this.#context = context;
    const { table, reader } = context;
    this.#table = table;
    this.#reader = reader;
    this.#journal = new JournalAppender(context.journalPath, context.fileMode, () => {
      this.journalSyncs++;
      globalMetrics.journalSyncs++;
    });
    this.#folder = new Folder({
      path: context.path,
      journalPath: context.journalPath,
      lockPath: `${context.path}.lock`,
      reader,
      log: context.log,
      mode: context.fileMode,
      snapshot: () => context.lines.snapshot(context.dataId),
      folded: (bytes) => {
        this.#journalBytes = journalSize(context.journalPath);
        this.#countWritten(bytes);
        this.folds++;
        globalMetrics.folds++;
      },
    });
    this.#folds = new FoldSchedule({
      journalPath: context.journalPath,
      wanted: () => this.#wantsFold(),
      compact: () => this.compact(),
      failed: (error) => this.#writeFailed(error),
      changed: () => this.#noteBackground(),
      stranded: () => this.#folder.stranded,
      putBack: () => this.#folder.putBack(),
    });
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
        onDirty: context.onDirty,
        onClean: context.onClean,
      },
      context.writeDelay,
    );
  }

  /** Creates the journal of an empty cache at once (its first append then creates no file). */
  createJournal(): void {
    this.#journal.create();
  }

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
    const lines = this.#context.lines.journalLines(taken);
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
      fs.mkdirSync(dirname(this.#context.path), { recursive: true, mode: this.#context.directoryMode() });
      result = this.#journal.append(lines);
    }
    this.#journalBytes = result.size;
    // Our lines need no reading if they follow what this process applied already; else they are read
    // again at the next refresh (harmless: an entry is taken only if newer).
    this.#reader.appended(result);
    this.#countWritten(result.bytes);
    this.#context.onJournal();
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
    this.#context.onBackground(underWay);
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
        this.#context.refresh();
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
    if (journalSize(this.#context.journalPath) === 0 && this.#reader.unchanged() && !this.#folder.stranded) return true;
    return this.#folds.run(() => inWriteSlot(() => this.#folder.fold()));
  }

  #countWritten(bytes: number): void {
    this.bytesWritten += bytes;
    globalMetrics.bytesWritten += bytes;
  }

  #writeFailed(error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name ?? "error";
    this.#context.log.once("warn", `write:${this.#context.path}:${code}`, `cannot write cache file ${this.#context.path} (${describe(error)}). Results are still returned; the write is retried.`);
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
    this.#journalBytes = journalSize(this.#context.journalPath);
    if (!foldCutShort && this.#journalBytes === 0) return;
    const waitMs = budget.foldWaitMs(this.#reader.fileBytes + this.#journalBytes);
    if (waitMs === undefined) return;
    this.#folder.foldAtExit(waitMs, (error) => this.#writeFailed(error));
  }
}
