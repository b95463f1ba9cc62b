/**
 * The merge with other processes: what this process knows of the cache file and its journal, and how
 * what others wrote since gets into the memory table. No lock is needed to read: files are replaced by
 * rename, journals only grow, and every change carries a time (memory-table.ts), so reading late or
 * twice is harmless.
 *
 * - The file is reread only when its identity (inode, size, mtime, birth time) changed; the live
 *   journal is read from where this process left off, and from the start when it is a new file.
 * - A file rewritten by this library (its marker) that lacks an entry means the entry was removed; a
 *   rewrite by another program only lacks what that program did not know, and that is written back.
 * - A file that is not JSON and changed within `SETTLE_MS` is being rewritten in place by another
 *   program: "busy", read again later. One that stays unreadable is set aside (quarantine.ts).
 * - A file of another program that a fold replaced may still receive that program's writes through the
 *   descriptor it opened earlier: it is watched until it settles, and what it received is merged
 *   (replaced-file.ts).
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { performance } from "node:perf_hooks";
import type { CacheLog } from "../logger.js";
import { DiskMerge } from "./disk-merge.js";
import { journalIdentity, readJournalLines } from "./journal-file.js";
import { readTrailStep, readTrailStepInSlices, trailToFollow, type TrailStep } from "./fold-trail.js";
import { FileTooLargeError, PARTS_FROM_BYTES, checkHeapFor, fileParts } from "./large-file.js";
import type { MemoryTable } from "./memory-table.js";
import { isSettled, setAside } from "./quarantine.js";
import { ReplacedFile } from "./replaced-file.js";
import { statIdentity } from "./snapshot-file.js";
import { SealedJournals } from "./sealed-journals.js";
import { LiveJournal } from "./live-journal.js";
import { nextTurn } from "./next-turn.js";

export type ReadState = "read" | "missing" | "busy" | "aside";

export class DiskReader {
  /** Identity of the file as last read or written; "" when it must be read. */
  #known = "";
  /** The live journal: which one this process read, and how far. */
  readonly #live: LiveJournal;
  /** Journals sealed by a fold under way (or left by a dead one), and how far this process read each. */
  readonly #sealed: SealedJournals;
  /** Size of the cache file as last read or written; decides between rewriting and appending. */
  fileBytes = 0;
  /** Set when our file could be neither read nor moved aside: writing would destroy it. */
  frozen = false;
  /** The next refresh must look at the file, not only the journal (see `refresh`). */
  #recheckFile = true;
  readonly lockPath: string;
  /** The file at the path was written by this library (not rewritten in place by another program). */
  #fileIsOurs = true;
  #replaced: ReplacedFile | undefined;
  /** Merges what is read into the memory table. */
  readonly #merge: DiskMerge;
  /** Applies one journal line. */
  readonly #onLine: (line: string) => void;

  constructor(
    readonly path: string,
    readonly journalPath: string,
    private readonly table: MemoryTable,
    private readonly log: CacheLog,
    /** Called when memory holds changes the file lacks (a foreign rewrite, a deleted file). */
    private readonly writeBack: () => void,
  ) {
    this.lockPath = `${path}.lock`;
    this.#merge = new DiskMerge(table, log, journalPath);
    const onLine = (line: string, onDisk: Set<string> | undefined) => this.#merge.line(line, onDisk);
    this.#onLine = (line) => onLine(line, undefined);
    this.#sealed = new SealedJournals(journalPath, onLine);
    this.#live = new LiveJournal(journalPath, this.#sealed, onLine);
  }

  /** Loads the file (retrying briefly while another program writes it), then the given sealed journals and the journal. */
  load(sealed: string[]): ReadState {
    // A fold under way in another process: what it sealed is in no file yet (see `refresh`).
    const lockAtStart = lockIdentity(this.lockPath);
    const journals = lockAtStart !== "" ? [...new Set([...sealed, ...this.#sealed.list(lockAtStart)])] : sealed;
    let state = this.readAll(journals);
    for (let attempt = 0; state === "busy" && attempt < 5; attempt++) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      state = this.readAll(journals);
    }
    const lock = lockAtStart !== "" ? lockAtStart : lockIdentity(this.lockPath);
    if (lock !== "") this.#sealed.readAllNow(lock, this.#live.identity);
    return state;
  }

  /**
   * The file read without blocking: in parts of 64 KB (large-file.ts), the event loop running whenever
   * the parts read since it last ran took `ASYNC_SLICE_MS` (or made 1 MB), then the live journal in
   * slices of 256 KB, the event loop running after each (twice when its turn was long: `nextTurn`);
   * journals sealed by processes that died are read
   * synchronously (a fold's worth at most). Stops, having changed nothing that a later read would not,
   * when `stop()` says a synchronous load took over.
   * Small files, files in another layout and any failure take the synchronous path (`load`).
   */
  async loadAsync(sealed: string[], stop: () => boolean): Promise<void> {
    const identity = fileIdentity(this.path);
    let size: number;
    try {
      size = (await fsp.stat(this.path)).size;
    } catch {
      if (!stop()) this.load(sealed);
      return;
    }
    if (stop()) return;
    if (size < ASYNC_PARTS_FROM_BYTES) {
      this.load(sealed);
      return;
    }
    let ours = false;
    try {
      checkHeapFor(this.path, size);
      let sliceEnd = performance.now() + ASYNC_SLICE_MS;
      let sliceParts = 0;
      for (const part of fileParts(this.path, ASYNC_PART_BYTES)) {
        ours = this.#merge.file(part, this.path, undefined);
        if (++sliceParts < ASYNC_SLICE_PARTS && performance.now() < sliceEnd) continue;
        await nextTurn();
        if (stop()) return;
        sliceEnd = performance.now() + ASYNC_SLICE_MS;
        sliceParts = 0;
      }
    } catch (error) {
      if (error instanceof FileTooLargeError && size >= PARTS_FROM_BYTES) this.#tooLarge(error, identity);
      else this.load(sealed); // another layout, or damaged: the synchronous path decides
      return;
    }
    // The live journal in slices too: one that an exit could not fold in may be as large as the file.
    if (!(await this.#live.readFromStart(ASYNC_JOURNAL_SLICE_BYTES, stop))) return;
    if (fileIdentity(this.path) !== identity) {
      this.load(sealed); // replaced meanwhile: read again (what was merged stays valid)
      return;
    }
    this.#known = identity;
    this.fileBytes = size;
    this.#fileIsOurs = ours;
    for (const path of sealed) this.#sealed.read(path, undefined);
    this.applyJournal(undefined); // what was appended since the slices
    const lock = lockIdentity(this.lockPath);
    if (lock !== "") this.#sealed.readAllNow(lock, this.#live.identity); // a fold under way: what it sealed is in no file yet
  }

  /**
   * What others wrote since this process last looked; whether anything was new. Two `stat`s otherwise.
   * `journalOnly`: when the journal is the one this process read, only it is looked at (one `lstat`).
   * Every fold renames the journal aside before it replaces the file, so the same journal means the
   * same file once no fold was under way at the last full look — unless another program rewrote the
   * file in place, which the full look every `refreshInterval` catches.
   */
  refresh(journalOnly: boolean): boolean {
    if (this.frozen) return false;
    if (journalOnly && !this.#recheckFile && this.#known !== "" && this.#replaced === undefined) {
      const journal = journalIdentity(this.journalPath);
      if (journal.identity !== "none" && journal.identity === this.#live.identity) {
        const applied = this.#live.applyKnown(journal.size);
        if (applied !== undefined) return applied;
      }
    }
    let changed = false;
    for (let round = 0; ; round++) {
      const look = this.#look();
      changed = look.changed || changed;
      // A fold seen under way has sealed a journal whose lines are in no file yet: they are read too,
      // so a miss sees another process's result at once (a process waiting for a lease would otherwise
      // find nothing and run the method again), and until a look finds no fold under way, every refresh
      // looks at the file too.
      if (look.folding) changed = this.#sealed.readAllNow(look.lock, this.#live.identity) || changed;
      this.#recheckFile = look.folding;
      if (!look.folding) this.#sealed.forget();
      // Settled unless a fold ended during the look (it sealed the journal, then replaced the file): what
      // it sealed is then in the new file, which another round reads (or follows the trail to). A fold
      // that sealed a journal this process never saw leaves no other trace in the look.
      if (this.unchanged()) return changed;
      if (round === 2) {
        this.#recheckFile = true;
        return changed;
      }
    }
  }

  /**
   * One look at the file and the journals. `folding`: a fold was seen under way — its lock there at the
   * start or the end of the look, or the journal this process had read sealed meanwhile.
   *
   * The lock is looked at first: a fold that ends after that look changed the file, which the caller's
   * look at the file after this one sees. A fold that starts after it and seals the journal before the
   * journal is read is seen by the lock there at the end, or by the journal having changed (when it
   * has ended by then, the file has changed too).
   */
  #look(): { changed: boolean; folding: boolean; lock: string } {
    const lockAtStart = lockIdentity(this.lockPath);
    if (this.#replaced !== undefined) this.#checkReplaced(this.#replaced);
    let changed: boolean;
    let sealedMeanwhile = false;
    if (this.unchanged()) {
      const before = this.#live.identity;
      changed = this.#live.apply(undefined);
      sealedMeanwhile = before !== "" && before !== "none" && this.#live.identity !== before;
    } else changed = this.#followTrail() || this.readAll(lockAtStart !== "" ? this.#sealed.list(lockAtStart) : []) === "read";
    const lock = lockAtStart !== "" ? lockAtStart : lockIdentity(this.lockPath);
    return { changed, folding: lock !== "" || sealedMeanwhile, lock };
  }

  /** Whether the file is the one this process last read or wrote. */
  unchanged(): boolean {
    return this.#known !== "" && fileIdentity(this.path) === this.#known;
  }

  /**
   * Reads the file, the sealed journals given, and the live journal, merging them into memory.
   * "busy": the file is unreadable but still changing; "missing": there is none.
   */
  readAll(sealed: string[]): ReadState {
    for (let attempt = 0; ; attempt++) {
      const identity = fileIdentity(this.path);
      let text: string | undefined;
      // Into an empty table (a first open) nothing can be missing from the file: no need to track keys.
      const tracked = this.table.size > 0 || this.table.changed;
      const onDisk = new Set<string>();
      let ours = false;
      let bytes: number | undefined;
      try {
        const size = fs.statSync(this.path).size;
        if (size >= PARTS_FROM_BYTES) {
          checkHeapFor(this.path, size);
          for (const part of fileParts(this.path)) ours = this.#merge.file(part, this.path, tracked ? onDisk : undefined);
          bytes = size;
        } else {
          text = fs.readFileSync(this.path, "utf8");
          ours = this.#merge.file(text, this.path, tracked ? onDisk : undefined);
          bytes = Buffer.byteLength(text);
          text = undefined; // not kept while the journal is read
        }
      } catch (error) {
        if (error instanceof FileTooLargeError) return this.#tooLarge(error, identity);
        if (!isNotFound(error)) return this.#unusable(error);
      }
      this.#fileIsOurs = ours || bytes === undefined;
      this.#sealed.forget();
      for (const path of sealed) this.#sealed.read(path, onDisk);
      this.#live.forget();
      this.#live.apply(onDisk);
      // Replaced again while we read (a fold by another process)? Read the new one: the journal we
      // read may belong to it.
      if (fileIdentity(this.path) !== identity && attempt < 3) continue;
      if (!tracked) {
        // Nothing was held before: nothing can be missing.
      } else if (ours) this.table.dropMissing(onDisk);
      else if (bytes !== undefined && this.table.markMissing(onDisk)) this.writeBack();
      this.#known = identity;
      const hadFile = this.fileBytes > 0;
      this.fileBytes = bytes ?? 0;
      if (bytes !== undefined) return "read";
      if (hadFile && this.table.size > 0) this.#writeBackWhole(); // deleted under us
      return this.table.size > 0 ? "read" : "missing";
    }
  }

  /** A file too large for this process: never written, never set aside; the cache works in memory. */
  #tooLarge(error: FileTooLargeError, identity: string): ReadState {
    this.frozen = true;
    this.#known = identity;
    this.log.once("error", `too-large:${this.path}`, error.message);
    return "aside";
  }

  #unusable(error: unknown): ReadState {
    // Not JSON, and changed within the last moments: another program is writing it in place.
    if (error instanceof SyntaxError && !isSettled(this.path)) return "busy";
    if (!setAside(this.path, error, this.log, true)) this.frozen = true;
    this.#known = fileIdentity(this.path);
    this.fileBytes = 0;
    this.#writeBackWhole();
    return "aside";
  }

  #writeBackWhole(): void {
    this.table.markAllChanged();
    this.writeBack();
  }

  /** Applies the live journal's complete lines from where this process left off (live-journal.ts). */
  applyJournal(onDisk: Set<string> | undefined): boolean {
    return this.#live.apply(onDisk);
  }

  /**
   * After other processes' folds: reads only what this process had not read of the journals they sealed,
   * from the folds' trail (fold-trail.ts), instead of the whole new file. False when the trail does not
   * lead from what this process read to the file there now (then the file is read whole).
   */
  #followTrail(): boolean {
    const step = this.#trailStep();
    if (step === undefined || !readTrailStep(this.journalPath, step, this.#onLine)) return false;
    this.#adoptTrail(step);
    this.#live.apply(undefined);
    return true;
  }

  /**
   * The same in the background (`catchUp`): the trail read in slices, the event loop running after
   * each; the new journal is then read in slices too. False, having changed nothing but entries a
   * later read would also give, when the trail does not lead there or changed meanwhile, or a look took
   * this process on meanwhile (the next look decides).
   */
  async #followTrailInSlices(): Promise<boolean> {
    const step = this.#trailStep();
    if (step === undefined) return false;
    const { from, to } = step;
    if (!(await readTrailStepInSlices(this.journalPath, step, this.#onLine, CATCH_UP_SLICE_BYTES, () => this.#known === from))) return false;
    if (fileIdentity(this.path) !== to) return false;
    this.#adoptTrail(step);
    return true;
  }

  /** The way along the folds' trail from what this process read to the file there now, if there is one. */
  #trailStep(): TrailStep | undefined {
    return trailToFollow(this.journalPath, this.#known, () => fileIdentity(this.path), (journal) => this.#live.offsetIn(journal) ?? this.#sealed.offsetIn(journal));
  }

  /** The file a followed trail led to is the one this process knows now; its journal is read from its start. */
  #adoptTrail(step: TrailStep): void {
    this.#known = step.to;
    this.fileBytes = step.fileBytes;
    this.#fileIsOurs = true;
    this.#live.forget();
  }

  /** Applies a (sealed) journal's complete lines from `from`; returns the offset after the last one. */
  applyJournalFrom(path: string, from: number): number {
    return readJournalLines(path, from, this.#onLine);
  }

  /** The identity of the file as this process last read or wrote it ("" when it must be read). */
  get knownIdentity(): string {
    return this.#known;
  }

  /**
   * In the background: what others appended to the live journal since this process last looked, read
   * in slices of 64 KB with the event loop running after each, as a look reads it (the same offset,
   * moved on by whichever reads first). A process that makes no call for a while so stays near the
   * journal's end, and can follow the trail of a fold (fold-trail.ts) instead of reading the new file
   * whole, synchronously, on its next call. Once another process has folded, it follows that fold's
   * trail itself, in slices too, and goes on with the new journal: a process that makes no call through
   * several folds stays near the end, and its next call reads little. It never reads the file: nothing
   * is read while a fold is under way, nor once the file is another that the trail does not lead to
   * (the next look decides), nor a journal other than the one read last, unless there was none.
   */
  async catchUp(): Promise<void> {
    for (;;) {
      if (this.frozen || this.#known === "" || this.#replaced !== undefined) return;
      if (fs.existsSync(this.lockPath)) return;
      if (!this.unchanged()) {
        if (!(await this.#followTrailInSlices())) return;
        continue;
      }
      const slice = this.#live.readSlice(CATCH_UP_SLICE_BYTES);
      if (slice === "another") return;
      this.#recheckFile = false; // as after a look that found no fold under way
      if (slice === "nothing") return;
      await nextTurn();
    }
  }

  // --- What writes tell the reader ------------------------------------------------------------------

  /** How much of the live journal this process has applied (before a fold seals it). */
  journalPosition(): number {
    return this.#live.position();
  }

  /** The live journal is to be read from its start (it was sealed, or put back). */
  forgetJournal(): void {
    this.#live.forget();
  }

  /** The file is to be read again whole. */
  forgetFile(): void {
    this.#known = "";
  }

  /** This process appended `bytes` at `at` of journal `identity`: they need no reading if they follow what it applied. */
  appended(result: { at: number; bytes: number; identity: string }): void {
    this.#live.appended(result);
  }

  /** This process wrote the whole file. */
  folded(bytes: number): void {
    this.#known = fileIdentity(this.path);
    this.fileBytes = bytes;
    this.#fileIsOurs = true;
  }

  /**
   * Right before a fold's rename: throws if the file is no longer the one merged (a program rewriting
   * it in place may have started); another program's file is then watched for late writes.
   */
  beforeReplacing(): void {
    if (fileIdentity(this.path) !== this.#known) throw new FileChangedError(this.path);
    if (this.#fileIsOurs) return;
    this.#replaced?.close();
    this.#replaced = ReplacedFile.open(this.path);
  }

  /** What another program wrote into the file a fold replaced (replaced-file.ts): merged, and written to the current file. */
  #checkReplaced(replaced: ReplacedFile): void {
    const over = replaced.check((text) => {
      if (this.table.markChanged(this.#merge.newerIn(text))) this.writeBack();
    });
    if (over) this.#replaced = undefined;
  }
}

/** An asynchronous open reads files from this size on in parts (smaller ones take a few ms whole). */
const ASYNC_PARTS_FROM_BYTES = 1024 * 1024;
/** Parts of this size take about a millisecond to merge… */
const ASYNC_PART_BYTES = 64 * 1024;
/** …and the event loop runs once they took this long together (the garbage collector's pauses come on top), or were this many. */
const ASYNC_SLICE_MS = 2;
const ASYNC_SLICE_PARTS = 16;
/** The live journal is read by `openAsync` in slices of this size (its lines cost more per byte than the file's). */
const ASYNC_JOURNAL_SLICE_BYTES = 256 * 1024;
/**
 * The background reading of a large cache's journal (`catchUp`) reads slices of this size: measured
 * beside 256 KB ones, reading 2.6 MB of appends into a 15 MB cache, the longest turn fell from 19–41 ms
 * to 6–17 ms (the garbage collector's pauses fall between the turns rather than inside them).
 */
const CATCH_UP_SLICE_BYTES = 64 * 1024;

export class FileChangedError extends Error {
  constructor(path: string) {
    super(`${path} changed during the fold; the changes are appended to the journal instead`);
  }
}

/**
 * Which fold lock is at `path` ("" when there is none, or it cannot be looked at: a directory that is
 * missing, not a directory, or not searchable): each fold takes a lock file of its own.
 */
function lockIdentity(path: string): string {
  try {
    const stat = fs.lstatSync(path);
    return `${stat.ino}:${stat.birthtimeMs}`;
  } catch {
    return "";
  }
}

/** What identifies one version of the file at `path` (snapshot-file.ts `statIdentity`); "none" if there is none. */
function fileIdentity(path: string): string {
  try {
    return statIdentity(fs.statSync(path, { bigint: true }));
  } catch {
    return "none";
  }
}

/** No file there: it does not exist, or a parent in its path is not a directory (the write will say so). */
function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}
