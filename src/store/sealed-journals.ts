/**
 * The journals a fold has sealed (renamed aside, journal-file.ts) and not yet folded into the file, as
 * one process reads them: a fold under way in another process, or one that died half-way. Their lines
 * are in no file this process would otherwise read until that fold is done, so a look made meanwhile
 * reads them (disk-reader.ts `refresh`) — a process waiting for a lease's holder would otherwise find
 * no result and run the method again.
 *
 * Each is remembered by its identity (a rename keeps it) with how far this process read it, so that it
 * is read once, and so that the fold's trail (fold-trail.ts) can be followed from there once the fold
 * is done, although the live journal is another one by then.
 */
import { journalIdentity, readJournalLines } from "./journal-file.js";
import { sealedJournalsNow } from "./private-names.js";

/** Folds seen under way at every look for this many journals: forget them (they are read again from their start). */
const MAX_REMEMBERED = 64;

export class SealedJournals {
  /** How far this process read each sealed journal, by identity. */
  #reads = new Map<string, number>();
  /**
   * The sealed journals listed last, with the fold lock and the journal at the path of that moment: while
   * both are the same, no journal was sealed since (a fold seals once, under its lock), and the listing
   * is used again — a directory of thousands of caches is not listed at every look during a long fold.
   */
  #listed: { lock: string; journal: string; paths: string[] } | undefined;

  constructor(
    private readonly journalPath: string,
    private readonly onLine: (line: string, onDisk: Set<string> | undefined) => void,
  ) {}

  /** How far this process read the sealed journal `identity`; `undefined` if it read none of it. */
  offsetIn(identity: string): number | undefined {
    return this.#reads.get(identity);
  }

  /** The live journal `identity`, read up to `offset`, is no longer at its name: sealed, or put back. */
  left(identity: string, offset: number): void {
    this.#reads.set(identity, offset);
  }

  /** No fold is under way (or the file was read whole, which the offsets do not describe). */
  forget(): void {
    this.#reads.clear();
  }

  /** A sealed journal's lines past what this process read of it (from its start if it read none). */
  read(path: string, onDisk: Set<string> | undefined): boolean {
    const { identity, size } = journalIdentity(path);
    if (identity === "none") return false;
    const from = this.#reads.get(identity) ?? 0;
    if (size <= from) return false; // nothing new: not opened (a look during a long fold pays one lstat per sealed journal)
    const end = readJournalLines(path, from, (line) => this.onLine(line, onDisk), undefined, identity);
    this.#reads.set(identity, end);
    return end > from;
  }

  /**
   * The journals sealed now (one directory listing), remembered with the fold lock `lock` ("" for none)
   * for `readAllNow`.
   */
  list(lock: string): string[] {
    // The journal at the path, looked at before the listing: a seal after it shows as another journal.
    const journal = journalIdentity(this.journalPath).identity;
    const paths = sealedJournalsNow(this.journalPath);
    this.#listed = lock === "" ? undefined : { lock, journal, paths };
    return paths;
  }

  /**
   * Every journal sealed now: what this process has not read of it. `lock` is the fold lock's identity
   * as the look saw it ("" for none), `journal` the identity of the live journal it read.
   */
  readAllNow(lock: string, journal: string): boolean {
    if (this.#reads.size > MAX_REMEMBERED) this.#reads.clear();
    const listed = this.#listed;
    const paths = lock !== "" && listed !== undefined && listed.lock === lock && listed.journal === journal ? listed.paths : this.list(lock);
    let changed = false;
    for (const path of paths) changed = this.read(path, undefined) || changed;
    return changed;
  }
}
