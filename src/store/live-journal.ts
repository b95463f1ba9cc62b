/**
 * The live journal (`<file>.journal`) as one process reads it: which journal file (its identity: a
 * rename keeps it, a new file at the path has another) and how many of its bytes this process applied.
 * Lines are read whole, from where this process left off; a line still being written is read next time.
 *
 * - An offset belongs to one journal: every read names the journal it expects, and a descriptor opened
 *   on another journal reads nothing (journal-file.ts `readJournalLines`). A fold may seal the journal
 *   between a look's `lstat` and its `open`.
 * - A journal no longer at its name (sealed by a fold, or put back) hands how far this process read it
 *   to the sealed journals (sealed-journals.ts), which read the rest of it from there.
 * - A journal only grows: one shorter than what was read of it is read again from its start.
 * - This process's own appends that follow what it applied need no reading (`appended`).
 */
import type { AppendResult } from "./journal-appender.js";
import { journalIdentity, readJournalLines } from "./journal-file.js";
import { nextTurn } from "./next-turn.js";
import type { SealedJournals } from "./sealed-journals.js";

/** What one background slice found (see `readSlice`). */
export type SliceResult = "read" | "nothing" | "another";

export class LiveJournal {
  /** The journal whose first `#offset` bytes are applied; "" when it is to be read from its start, "none" when there was none. */
  #identity = "";
  #offset = 0;

  constructor(
    readonly path: string,
    private readonly sealed: SealedJournals,
    private readonly onLine: (line: string, onDisk: Set<string> | undefined) => void,
  ) {}

  /** The identity of the journal this process read last ("" when it is to be read from its start). */
  get identity(): string {
    return this.#identity;
  }

  /** How far this process read the journal `identity`, if it is the one it read last. */
  offsetIn(identity: string): number | undefined {
    return identity === this.#identity ? this.#offset : undefined;
  }

  /** How much of the journal now at the path this process applied (before a fold seals it). */
  position(): number {
    return journalIdentity(this.path).identity === this.#identity ? this.#offset : 0;
  }

  /** The journal at the path is to be read from its start (it was sealed or put back, or the file read whole). */
  forget(): void {
    this.#identity = "";
  }

  /**
   * Applies the complete lines past what this process applied. Returns whether there was anything. A
   * journal sealed between the `lstat` and the `open` reads nothing: the journal there now is read
   * then, and the sealed one is left to be read from where this process was in it.
   */
  apply(onDisk: Set<string> | undefined): boolean {
    for (let attempt = 0; ; attempt++) {
      const { identity, size } = journalIdentity(this.path);
      if (identity !== this.#identity) this.#moveTo(identity);
      else if (size < this.#offset) this.#offset = 0; // truncated, or another file under the same identity
      const offset = this.#offset;
      if (size <= offset) return false;
      const end = readJournalLines(this.path, offset, (line) => this.onLine(line, onDisk), undefined, identity);
      this.#offset = end;
      if (end > offset) return true;
      // Nothing complete to read, or another journal opened than the one looked at: look once more.
      if (attempt === 1 || journalIdentity(this.path).identity === identity) return false;
    }
  }

  /**
   * `apply` on the hit's fast path, the journal at the path (of `size` bytes) being the one read last;
   * `undefined` when it was sealed between its `lstat` and the read, or is shorter than what was read
   * of it (nothing was read: a full look takes it).
   */
  applyKnown(size: number): boolean | undefined {
    const offset = this.#offset;
    if (size < offset) return undefined;
    if (size === offset) return false;
    this.#offset = readJournalLines(this.path, offset, (line) => this.onLine(line, undefined), undefined, this.#identity);
    if (this.#offset > offset) return true;
    // Nothing read: a line still being written, or another journal there now.
    return journalIdentity(this.path).identity === this.#identity ? false : undefined;
  }

  /**
   * The journal read from its start in slices of `sliceBytes`, the event loop running after each
   * (`openAsync`: one that an exit could not fold in may be as large as the file). False when `stop()`
   * says a synchronous load took over.
   */
  async readFromStart(sliceBytes: number, stop: () => boolean): Promise<boolean> {
    const { identity, size } = journalIdentity(this.path);
    if (identity === "none") return true;
    this.#identity = identity;
    this.#offset = 0;
    while (this.#offset < size) {
      const end = readJournalLines(this.path, this.#offset, (line) => this.onLine(line, undefined), sliceBytes, identity);
      if (end === this.#offset) break; // a line longer than a slice, or sealed meanwhile: the read that follows takes it
      this.#offset = end;
      await nextTurn();
      if (stop()) return false;
    }
    return true;
  }

  /**
   * One slice of the background reading (journal-follower.ts): "another" when there is no journal, or
   * another than the one read last (sealed by a fold that is over, or put back: the next look reads its
   * rest), unless none was; else "read" if anything was read, "nothing" if not.
   */
  readSlice(sliceBytes: number): SliceResult {
    const journal = journalIdentity(this.path);
    if (journal.identity === "none") return "another";
    if (journal.identity !== this.#identity) {
      if (this.#identity !== "" && this.#identity !== "none") return "another";
      this.#identity = journal.identity; // started since this process looked: read from its start
      this.#offset = 0;
    }
    const offset = this.#offset;
    if (journal.size <= offset) return "nothing";
    this.#offset = readJournalLines(this.path, offset, (line) => this.onLine(line, undefined), sliceBytes, journal.identity);
    return this.#offset > offset ? "read" : "nothing"; // nothing: a line longer than a slice, or sealed meanwhile
  }

  /** This process appended `bytes` at `at` of journal `identity`: they need no reading if they follow what it applied. */
  appended({ at, bytes, identity }: Pick<AppendResult, "at" | "bytes" | "identity">): void {
    if (identity === this.#identity) {
      if (at === this.#offset) this.#offset += bytes;
    } else if (at === 0 && this.#identity === "none") {
      // A journal started by this append (there was none at the last look: a fold sealed it) holds
      // only our lines, so the next fold need not read them back.
      this.#identity = identity;
      this.#offset = bytes;
    }
  }

  /** Now reading the journal `identity` from its start; the one read before, if any, was sealed or put back. */
  #moveTo(identity: string): void {
    if (this.#identity !== "" && this.#identity !== "none") this.sealed.left(this.#identity, this.#offset);
    this.#identity = identity;
    this.#offset = 0;
  }
}
