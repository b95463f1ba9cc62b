/**
 * When a store folds its journal into its file (fold.ts does the folding):
 *
 * - a write makes a fold due `FOLD_DELAY_MS` later when the store wants one (the file is small, so it
 *   stays complete for the Python library, or the journal has outgrown it): a burst of writes gets one;
 * - one fold runs at a time; one asked for while another runs waits for it;
 * - a fold that found the lock busy is due again, at most `FOLD_RETRIES` times in a row (the holder
 *   may have sealed the journal before our append: our lines are then left for us);
 * - a due fold whose journal is empty does nothing: another process folded it, or the cache's files
 *   were deleted (a directory removed after `flushAll()`), which no background work undoes;
 * - a fold that did not complete and could not put back the journal it sealed (a full disk) leaves
 *   lines no other process reads: the put-back is tried again 1 s later, then at doubling intervals
 *   up to a minute, until it succeeds or a fold takes them in — not only at this process's next write.
 *
 * Nothing here throws: a failed fold is reported to `failed` and resolves `false`.
 */
import { journalSize } from "./fold.js";

/** A fold follows a write this much later, so a burst of writes gets one fold. */
const FOLD_DELAY_MS = 200;
/** A fold that found the lock busy is tried again this many times (the holder may have sealed before our append). */
const FOLD_RETRIES = 5;
/** Stranded lines: the first retry of their put-back, and the longest wait between two. */
const PUT_BACK_FIRST_MS = 1_000;
const PUT_BACK_MAX_MS = 60_000;

export interface FoldScheduleOptions {
  journalPath: string;
  /** Whether a fold is wanted now (the file is small, or the journal outgrew it). */
  wanted: () => boolean;
  /** The fold a due time starts: the store's `compact()`, which appends first and then calls `run`. */
  compact: () => Promise<boolean>;
  /** A fold threw (a write failure): logged by the store. */
  failed: (error: unknown) => void;
  /** A fold started or ended. */
  changed: () => void;
  /** Whether a fold that did not complete left lines sealed that it could not put back (fold.ts). */
  stranded: () => boolean;
  /** Tries to put them back; whether none are left stranded. */
  putBack: () => boolean;
}

export class FoldSchedule {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<boolean> | undefined;
  #retries = 0;
  #putBackTimer: NodeJS.Timeout | undefined;
  #putBackDelay = PUT_BACK_FIRST_MS;

  constructor(private readonly options: FoldScheduleOptions) {}

  /** The fold under way: a promise of whether it completed the file (never rejected). */
  get running(): Promise<boolean> | undefined {
    return this.#running;
  }

  /** After a write: a fold becomes due, unless one is due or runs already, or none is wanted. */
  consider(): void {
    if (this.#timer !== undefined || this.#running !== undefined || !this.options.wanted()) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (journalSize(this.options.journalPath) > 0) void this.options.compact();
    }, FOLD_DELAY_MS);
    this.#timer.unref();
  }

  /** The due fold is dropped: one runs now instead, or the process exits (its exit folds in its budget). */
  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Runs `fold` as the fold under way. A busy lock (`false`) makes a fold due again, a few times in a
   * row; a failure (reported to `failed`) does not: the next write makes one due.
   */
  async run(fold: () => Promise<boolean>): Promise<boolean> {
    const running = fold().catch((error: unknown) => {
      this.options.failed(error);
      return undefined;
    });
    this.#running = running.then((folded) => folded === true);
    this.options.changed();
    const folded = await running;
    this.#running = undefined;
    if (folded === true) this.#retries = 0;
    else if (folded === false && this.#retries++ < FOLD_RETRIES) this.consider();
    if (this.options.stranded()) this.#retryPutBack();
    this.options.changed();
    return folded === true;
  }

  /** Stranded lines: their put-back is tried again later, at doubling intervals (never keeping the process alive). */
  #retryPutBack(): void {
    if (this.#putBackTimer !== undefined) return;
    this.#putBackTimer = setTimeout(() => {
      this.#putBackTimer = undefined;
      let done = false;
      try {
        done = this.#running === undefined && this.options.putBack(); // a fold under way takes them in itself
      } catch (error) {
        this.options.failed(error);
      }
      if (done || !this.options.stranded()) {
        this.#putBackDelay = PUT_BACK_FIRST_MS;
        return;
      }
      this.#putBackDelay = Math.min(this.#putBackDelay * 2, PUT_BACK_MAX_MS);
      this.#retryPutBack();
    }, this.#putBackDelay);
    this.#putBackTimer.unref();
  }
}
