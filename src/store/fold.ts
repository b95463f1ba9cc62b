/**
 * Folding the journal into the cache file (compaction), the only work that takes the lock:
 *
 * 1. take `<file>.lock` (file-lock.ts) — without waiting; a busy or unusable lock means "append instead";
 * 2. rename the journal aside (seal it, journal-file.ts), so appends after this point start a new one;
 * 3. merge what is on disk (disk-reader.ts): only the journals if the file is as last read, else all;
 * 4. write the whole file to a private temp file and, if the lock is still ours and the file still the
 *    one merged, rename it over the cache file (snapshot-file.ts);
 * 5. remove the sealed journals. A fold that does not get this far puts its sealed journal back; what it
 *    cannot put back (a full disk) it tries again soon (fold-schedule.ts), and its next fold takes in.
 *
 * Sealed journals and temp files of processes that died half-way are looked for once per directory,
 * and again after taking over a dead holder's lock (private-names.ts).
 */
import type { CacheLog } from "../logger.js";
import { FileChangedError, type DiskReader } from "./disk-reader.js";
import { LockUnusableError, isAlive, lockSync, tryLock, type HeldLock } from "./file-lock.js";
import { journalIdentity, sealJournal, unsealJournal } from "./journal-file.js";
import { forgetLeftovers, leftovers } from "./private-names.js";
import { writeSnapshot, writeSnapshotSync, type WrittenFile } from "./snapshot-file.js";
import { TRAIL_FROM_BYTES, leaveTrail, placeTrail, writeTrail, type TrailHeader } from "./fold-trail.js";
import * as fs from "node:fs";

export interface FoldContext {
  path: string;
  journalPath: string;
  lockPath: string;
  reader: DiskReader;
  log: CacheLog;
  /** Mode of new files. */
  mode: () => number;
  /** The whole file's text from memory, in chunks, once everything on disk was merged. */
  snapshot: () => Iterable<string>;
  /** The fold replaced the file with one of `bytes`. */
  folded: (bytes: number) => void;
}

class LockLostError extends Error {
  constructor(lockPath: string) {
    super(`the lock ${lockPath} was removed by someone else during the write; it is written again`);
  }
}

export class Folder {
  /** Journals this process sealed for a fold that did not complete and could not put back yet. */
  #ownSealed: string[] = [];
  /** The lock of the fold under way (an exit may have to finish it). */
  #held: HeldLock | undefined;
  /** What the fold under way read, for its trail (when it sealed exactly one journal over an unchanged file). */
  #trail: { from: string; sealed: string; journal: string; bytes: number } | undefined;
  /** The trail the fold under way wrote ahead of its commit (fold-trail.ts `writeTrail`), until placed or removed. */
  #trailWritten: string | undefined;

  constructor(private readonly context: FoldContext) {}

  /**
   * Folds, fsyncing the new file (a journal line made durable stays durable once folded in); false,
   * having written nothing, when the lock or the file is busy (then the holder folds, or a later fold).
   */
  async fold(): Promise<boolean> {
    const held = this.#lock(() => tryLock(this.context.lockPath, this.context.mode()));
    if (held === undefined) return false;
    this.#held = held;
    try {
      return await this.#under(held, false, async (text) => {
        return writeSnapshot(this.context.path, text, {
          durable: true,
          mode: this.context.mode(),
          prepare: (written) => this.#writeTrail(written),
          beforeCommit: (written) => this.#beforeCommit(held, written),
        });
      });
    } finally {
      this.#held = undefined;
      held.release();
      if (this.#trailWritten !== undefined) removeQuietly(this.#trailWritten); // not committed
      this.#trailWritten = undefined;
    }
  }

  /**
   * At exit: folds if the lock comes free within `waitMs` (at once if this process's own fold was cut
   * short by the exit), and again while processes exiting beside it append. Never throws.
   */
  foldAtExit(waitMs: number, onError: (error: unknown) => void): void {
    const abandoned = this.#held;
    if (this.#trailWritten !== undefined) removeQuietly(this.#trailWritten); // the trail of a file that is not committed
    this.#trailWritten = undefined;
    const held = abandoned ?? this.#lock(() => lockSync(this.context.lockPath, waitMs, this.context.mode()));
    if (held === undefined) return; // the holder folds what is in the journal, or the next writer does
    try {
      for (let round = 0; round < 3; round++) {
        const folded = this.#underSync(held, round === 0 && abandoned !== undefined);
        if (!folded || journalSize(this.context.journalPath) === 0) break;
      }
    } catch (error) {
      onError(error);
    } finally {
      held.release();
    }
  }

  /** Whether this process's fold was under way (so an exit must finish it). */
  get underWay(): boolean {
    return this.#held !== undefined;
  }

  /**
   * Whether lines are stranded: a fold of this process that did not complete sealed a journal it could
   * not put back (a full disk, say). No other process reads them until they are put back or folded in.
   */
  get stranded(): boolean {
    return this.#ownSealed.length > 0;
  }

  /**
   * Puts back, under the lock, what a fold that did not complete left sealed, so every process reads
   * those lines from the journal again. Whether nothing is stranded any more; `false` while the lock is
   * busy or the put-back fails again. A sealed journal no longer there was taken in by another
   * process's fold (or its directory was removed): nothing to put back, and nothing is created.
   */
  putBack(): boolean {
    this.#ownSealed = this.#ownSealed.filter((sealed) => fs.existsSync(sealed));
    if (this.#ownSealed.length === 0) return true;
    const held = this.#lock(() => tryLock(this.context.lockPath, this.context.mode()));
    if (held === undefined) return false;
    try {
      this.#unseal();
    } finally {
      held.release();
    }
    return this.#ownSealed.length === 0;
  }

  async #under(held: HeldLock, abandoned: boolean, write: (chunks: Iterable<string>) => Promise<WrittenFile>): Promise<boolean> {
    let folded = false;
    try {
      const sealed = this.#sealAndRead(held, abandoned);
      if (sealed === undefined) return false;
      let written: WrittenFile;
      try {
        written = await write(this.context.snapshot());
      } catch (error) {
        if (!isCommitRefused(error)) throw error;
        this.context.reader.forgetFile(); // read it again; the changes go to the journal meanwhile
        return false;
      }
      this.#done(written.bytes, sealed);
      folded = true;
      return true;
    } finally {
      if (!folded) this.#unseal();
    }
  }

  #underSync(held: HeldLock, abandoned: boolean): boolean {
    let folded = false;
    try {
      const sealed = this.#sealAndRead(held, abandoned);
      if (sealed === undefined) return false;
      const written = writeSnapshotSync(this.context.path, this.context.snapshot(), { mode: this.context.mode(), beforeCommit: (file) => this.#beforeCommit(held, file) });
      this.#done(written.bytes, sealed);
      folded = true;
      return true;
    } catch (error) {
      if (isCommitRefused(error)) return false;
      throw error;
    } finally {
      if (!folded) this.#unseal();
    }
  }

  /** Seals the journal and merges everything on disk; the sealed journals, or `undefined` if the file is busy. */
  #sealAndRead(held: HeldLock, abandoned: boolean): string[] | undefined {
    const { reader, journalPath } = this.context;
    const left = leftovers(journalPath, isAlive, held.tookOver || abandoned);
    const unchanged = reader.unchanged();
    const applied = reader.journalPosition();
    const sealedNow = sealJournal(journalPath);
    if (sealedNow !== undefined) this.#ownSealed.push(sealedNow);
    const sealed = [...new Set([...left, ...this.#ownSealed])];
    this.#trail = undefined;
    if (unchanged) {
      // The file is as this process last read or wrote it: only the journals are new to it.
      for (const path of sealed) {
        const end = reader.applyJournalFrom(path, path === sealedNow ? applied : 0);
        // What other processes need to follow this fold without reading the new file (fold-trail.ts).
        if (path === sealedNow && sealed.length === 1) this.#trail = { from: reader.knownIdentity, sealed: path, journal: journalIdentity(path).identity, bytes: end };
      }
      reader.forgetJournal();
      reader.applyJournal(undefined);
      return sealed;
    }
    reader.forgetFile();
    return reader.readAll(sealed) === "busy" ? undefined : sealed;
  }

  /** The trail of the fold under way, if it leaves one, written ahead of its commit (which only puts it in place). */
  async #writeTrail(written: WrittenFile): Promise<void> {
    const trail = this.#trailOf(written);
    if (trail !== undefined) this.#trailWritten = await writeTrail(this.context.journalPath, trail.sealed, trail.header, this.context.mode());
  }

  /** Right before the rename: the lock must still be ours, and the file the one merged; then the trail is left. */
  #beforeCommit(held: HeldLock, written: WrittenFile): void {
    if (!held.stillHeld()) throw new LockLostError(this.context.lockPath);
    this.context.reader.beforeReplacing();
    const trail = this.#trailOf(written);
    if (trail === undefined) return;
    const ready = this.#trailWritten;
    this.#trailWritten = undefined;
    if (ready !== undefined) placeTrail(this.context.journalPath, ready);
    else leaveTrail(this.context.journalPath, trail.sealed, trail.header, this.context.mode());
  }

  /** The sealed journal and header of this fold's trail for the file written; `undefined` when it leaves none. */
  #trailOf(written: WrittenFile): { sealed: string; header: Omit<TrailHeader, "start"> } | undefined {
    const trail = this.#trail;
    if (trail === undefined || written.bytes < TRAIL_FROM_BYTES) return undefined;
    return { sealed: trail.sealed, header: { from: trail.from, to: written.identity, journal: trail.journal, bytes: trail.bytes, fileBytes: written.bytes } };
  }

  #done(bytes: number, sealed: string[]): void {
    for (const path of sealed) removeQuietly(path);
    forgetLeftovers(this.context.journalPath);
    this.#ownSealed = [];
    this.context.reader.folded(bytes);
    this.context.folded(bytes);
  }

  /**
   * A fold that did not complete puts back what it sealed, so every process goes on reading those lines
   * from the journal; what cannot be put back now is tried again (`putBack`) and folded by this
   * process's next fold. One that is no longer there was taken in by another process's fold.
   */
  #unseal(): void {
    this.#ownSealed = this.#ownSealed.filter((sealed) => {
      try {
        unsealJournal(sealed, this.context.journalPath, this.context.mode());
        return false;
      } catch {
        return fs.existsSync(sealed);
      }
    });
    this.context.reader.forgetJournal(); // its lines are read again, harmlessly
  }

  /** The lock, or `undefined` when it is busy or unusable (then writes append; warned once). */
  #lock(take: () => HeldLock | undefined): HeldLock | undefined {
    try {
      return take();
    } catch (error) {
      if (!(error instanceof LockUnusableError)) throw error;
      this.context.log.once("warn", `lock:${this.context.lockPath}`, `${error.message}. Changes are appended to ${this.context.journalPath} meanwhile (nothing is lost), but the journal is not folded into the cache file until the lock can be used.`);
      return undefined;
    }
  }
}

/**
 * The fold wrote nothing because it must not replace the file (the lock is no longer its own, or the file
 * changed since it was merged): the changes are appended instead, so the write still succeeds.
 */
function isCommitRefused(error: unknown): boolean {
  return error instanceof FileChangedError || error instanceof LockLostError;
}

export function journalSize(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch {
    return 0;
  }
}

function removeQuietly(path: string): void {
  try {
    fs.rmSync(path, { force: true });
  } catch {
    // Removed already.
  }
}
