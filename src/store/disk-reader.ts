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
 *
 * What is known is kept in reader-state.ts; the open in slices (open-in-slices.ts) and the following
 * of folds' trails (trail-following.ts) read through the same state.
 */
import * as fs from "node:fs";
import type { CacheLog } from "../logger.js";
import { journalIdentity, readJournalLines } from "./journal-file.js";
import { FileTooLargeError, PARTS_FROM_BYTES, checkHeapFor, fileParts } from "./large-file.js";
import type { MemoryTable } from "./memory-table.js";
import { openInSlices } from "./open-in-slices.js";
import { isSettled, setAside } from "./quarantine.js";
import { fileIdentity, lockIdentity, ReaderState, type ReadState } from "./reader-state.js";
import { openRegularSync } from "./regular-file.js";
import { ReplacedFile } from "./replaced-file.js";
import { catchUp, followTrail } from "./trail-following.js";

export type { ReadState } from "./reader-state.js";

export class DiskReader {
  readonly #state: ReaderState;

  constructor(
    readonly path: string,
    readonly journalPath: string,
    private readonly table: MemoryTable,
    log: CacheLog,
    /** Called when memory holds changes the file lacks (a foreign rewrite, a deleted file). */
    private readonly writeBack: () => void,
  ) {
    this.#state = new ReaderState(path, journalPath, table, log);
  }

  /** Size of the cache file as last read or written; decides between rewriting and appending. */
  get fileBytes(): number {
    return this.#state.fileBytes;
  }

  /** Set when our file could be neither read nor moved aside: writing would destroy it. */
  get frozen(): boolean {
    return this.#state.frozen;
  }

  /** Loads the file (retrying briefly while another program writes it), then the given sealed journals and the journal. */
  load(sealed: string[]): ReadState {
    const state = this.#state;
    // A fold under way in another process: what it sealed is in no file yet (see `refresh`).
    const lockAtStart = lockIdentity(state.lockPath);
    const journals = lockAtStart !== "" ? [...new Set([...sealed, ...state.sealed.list(lockAtStart)])] : sealed;
    let read = this.readAll(journals);
    for (let attempt = 0; read === "busy" && attempt < 5; attempt++) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      read = this.readAll(journals);
    }
    const lock = lockAtStart !== "" ? lockAtStart : lockIdentity(state.lockPath);
    if (lock !== "") state.sealed.readAllNow(lock, state.live.identity);
    return read;
  }

  /**
   * The file read without blocking (open-in-slices.ts). Small files, files in another layout and any
   * failure take the synchronous path (`load`).
   */
  loadAsync(sealed: string[], stop: () => boolean): Promise<void> {
    return openInSlices(this.#state, sealed, stop, (journals) => this.load(journals));
  }

  /**
   * What others wrote since this process last looked; whether anything was new. Two `stat`s otherwise.
   * `journalOnly`: when the journal is the one this process read, only it is looked at (one `lstat`).
   * Every fold renames the journal aside before it replaces the file, so the same journal means the
   * same file once no fold was under way at the last full look — unless another program rewrote the
   * file in place, which the full look every `refreshInterval` catches.
   */
  refresh(journalOnly: boolean): boolean {
    const state = this.#state;
    if (state.frozen) return false;
    if (journalOnly && !state.recheckFile && state.known !== "" && state.replaced === undefined) {
      const journal = journalIdentity(this.journalPath);
      if (journal.identity !== "none" && journal.identity === state.live.identity) {
        const applied = state.live.applyKnown(journal.size);
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
      if (look.folding) changed = state.sealed.readAllNow(look.lock, state.live.identity) || changed;
      state.recheckFile = look.folding;
      if (!look.folding) state.sealed.forget();
      // Settled unless a fold ended during the look (it sealed the journal, then replaced the file): what
      // it sealed is then in the new file, which another round reads (or follows the trail to). A fold
      // that sealed a journal this process never saw leaves no other trace in the look.
      if (state.unchanged()) return changed;
      if (round === 2) {
        state.recheckFile = true;
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
    const state = this.#state;
    const lockAtStart = lockIdentity(state.lockPath);
    if (state.replaced !== undefined) this.#checkReplaced(state.replaced);
    let changed: boolean;
    let sealedMeanwhile = false;
    if (state.unchanged()) {
      const before = state.live.identity;
      changed = state.live.apply(undefined);
      sealedMeanwhile = before !== "" && before !== "none" && state.live.identity !== before;
    } else changed = followTrail(state) || this.readAll(lockAtStart !== "" ? state.sealed.list(lockAtStart) : []) === "read";
    const lock = lockAtStart !== "" ? lockAtStart : lockIdentity(state.lockPath);
    return { changed, folding: lock !== "" || sealedMeanwhile, lock };
  }

  /** Whether the file is the one this process last read or wrote. */
  unchanged(): boolean {
    return this.#state.unchanged();
  }

  /**
   * Reads the file, the sealed journals given, and the live journal, merging them into memory.
   * "busy": the file is unreadable but still changing; "missing": there is none.
   */
  readAll(sealed: string[]): ReadState {
    const state = this.#state;
    for (let attempt = 0; ; attempt++) {
      const identity = fileIdentity(this.path);
      let text: string | undefined;
      // Into an empty table (a first open) nothing can be missing from the file: no need to track keys.
      const tracked = this.table.size > 0 || this.table.changed;
      const onDisk = new Set<string>();
      let ours = false;
      let bytes: number | undefined;
      try {
        // Opened once whatever it is (regular-file.ts): a FIFO or a device planted at the path is
        // refused, never waited on or read without end, and set aside as any file that is not ours.
        const { fd, stat } = openRegularSync(this.path, fs.constants.O_RDONLY);
        try {
          if (stat.size < PARTS_FROM_BYTES) text = fs.readFileSync(fd, "utf8");
        } finally {
          fs.closeSync(fd);
        }
        if (text === undefined) {
          checkHeapFor(this.path, stat.size);
          for (const part of fileParts(this.path)) ours = state.merge.file(part, this.path, tracked ? onDisk : undefined);
          bytes = stat.size;
        } else {
          ours = state.merge.file(text, this.path, tracked ? onDisk : undefined);
          bytes = Buffer.byteLength(text);
          text = undefined; // not kept while the journal is read
        }
      } catch (error) {
        if (error instanceof FileTooLargeError) return state.tooLarge(error, identity);
        if (!isNotFound(error)) return this.#unusable(error);
      }
      state.sealed.forget();
      for (const path of sealed) state.sealed.read(path, onDisk);
      state.live.forget();
      state.live.apply(onDisk);
      // Replaced again while we read (a fold by another process)? Read the new one: the journal we
      // read may belong to it.
      if (fileIdentity(this.path) !== identity && attempt < 3) continue;
      if (!tracked) {
        // Nothing was held before: nothing can be missing.
      } else if (ours) this.table.dropMissing(onDisk);
      else if (bytes !== undefined && this.table.markMissing(onDisk)) this.writeBack();
      const hadFile = state.fileBytes > 0;
      state.adopt(identity, bytes ?? 0, ours || bytes === undefined);
      if (bytes !== undefined) return "read";
      if (hadFile && this.table.size > 0) this.#writeBackWhole(); // deleted under us
      return this.table.size > 0 ? "read" : "missing";
    }
  }

  #unusable(error: unknown): ReadState {
    const state = this.#state;
    // Not JSON, and changed within the last moments: another program is writing it in place.
    if (error instanceof SyntaxError && !isSettled(this.path)) return "busy";
    if (!setAside(this.path, error, state.log, true)) state.frozen = true;
    state.known = fileIdentity(this.path);
    state.fileBytes = 0;
    this.#writeBackWhole();
    return "aside";
  }

  #writeBackWhole(): void {
    this.table.markAllChanged();
    this.writeBack();
  }

  /** Applies the live journal's complete lines from where this process left off (live-journal.ts). */
  applyJournal(onDisk: Set<string> | undefined): boolean {
    return this.#state.live.apply(onDisk);
  }

  /** Applies a (sealed) journal's complete lines from `from`; returns the offset after the last one. */
  applyJournalFrom(path: string, from: number): number {
    return readJournalLines(path, from, this.#state.onLine);
  }

  /** The identity of the file as this process last read or wrote it ("" when it must be read). */
  get knownIdentity(): string {
    return this.#state.known;
  }

  /** In the background: what others appended since this process last looked (trail-following.ts `catchUp`). */
  catchUp(): Promise<void> {
    return catchUp(this.#state);
  }

  // --- What writes tell the reader ------------------------------------------------------------------

  /** How much of the live journal this process has applied (before a fold seals it). */
  journalPosition(): number {
    return this.#state.live.position();
  }

  /** The live journal is to be read from its start (it was sealed, or put back). */
  forgetJournal(): void {
    this.#state.live.forget();
  }

  /** The file is to be read again whole. */
  forgetFile(): void {
    this.#state.known = "";
  }

  /** This process appended `bytes` at `at` of journal `identity`: they need no reading if they follow what it applied. */
  appended(result: { at: number; bytes: number; identity: string }): void {
    this.#state.live.appended(result);
  }

  /** This process wrote the whole file. */
  folded(bytes: number): void {
    this.#state.adopt(fileIdentity(this.path), bytes, true);
  }

  /**
   * Right before a fold's rename: throws if the file is no longer the one merged (a program rewriting
   * it in place may have started); another program's file is then watched for late writes.
   */
  beforeReplacing(): void {
    const state = this.#state;
    if (fileIdentity(this.path) !== state.known) throw new FileChangedError(this.path);
    if (state.fileIsOurs) return;
    state.replaced?.close();
    state.replaced = ReplacedFile.open(this.path);
  }

  /** What another program wrote into the file a fold replaced (replaced-file.ts): merged, and written to the current file. */
  #checkReplaced(replaced: ReplacedFile): void {
    const over = replaced.check((text) => {
      if (this.table.markChanged(this.#state.merge.newerIn(text))) this.writeBack();
    });
    if (over) this.#state.replaced = undefined;
  }
}

export class FileChangedError extends Error {
  constructor(path: string) {
    super(`${path} changed during the fold; the changes are appended to the journal instead`);
  }
}

/** No file there: it does not exist, or a parent in its path is not a directory (the write will say so). */
function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}
