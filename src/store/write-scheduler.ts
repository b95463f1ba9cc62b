/**
 * When one store writes: a change schedules one write `delay` ms later (so a burst of changes becomes
 * one write); `flush()` writes now; writes of a store never overlap (a flush during a write gets one
 * write after it, shared by every caller); a failed write is retried on a timer with backoff, not only
 * at the next change.
 *
 * A write that need not be durable is one synchronous append (`writeNow`): it runs at once, outside the
 * write queue, and the flush resolves already settled. A durable write waits for an fsync and runs in
 * the process-wide write queue (write-queue.ts).
 */
import { inWriteSlot, retryDelayMs } from "./write-queue.js";

const SETTLED_TRUE = Promise.resolve(true);
const SETTLED_FALSE = Promise.resolve(false);

/** Whether a flush's promise is one of those a synchronous write returns, settled already. */
export function settledAlready(flushed: Promise<boolean>): boolean {
  return flushed === SETTLED_TRUE || flushed === SETTLED_FALSE;
}

export interface WriteTarget {
  /** Writes the pending changes, fsynced; resolves whether they are durable (failures are logged there). */
  write(durable: boolean): Promise<boolean>;
  /** Writes the pending changes without an fsync, synchronously; whether they reached the disk. */
  writeNow(): boolean;
  /** Whether changes are pending. */
  readonly changed: boolean;
  /** True when the store must never be written (its file could be neither read nor moved aside). */
  readonly frozen: boolean;
  onDirty(): void;
  onClean(): void;
}

export class WriteScheduler {
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<boolean> | undefined;
  #queued: Promise<boolean> | undefined;
  #queuedDurable = false;
  #failures = 0;

  constructor(
    private readonly target: WriteTarget,
    private readonly delay: number,
  ) {}

  markDirty(): void {
    if (this.target.frozen) return;
    // A timer already set (a flush does not cancel it) writes this change too: no timer per change.
    if (this.#timer === undefined && this.#writing === undefined) this.#schedule(this.delay);
    this.target.onDirty();
  }

  /** Writes now (after the write under way, if any); with `durable`, fsynced. */
  flush(durable = false): Promise<boolean> {
    if (this.target.frozen) return SETTLED_FALSE;
    if (this.#writing === undefined) {
      if (durable) return this.#start(true);
      if (!this.target.changed) {
        this.target.onClean();
        return SETTLED_TRUE;
      }
      const written = this.target.writeNow();
      this.#settled(written);
      return written ? SETTLED_TRUE : SETTLED_FALSE;
    }
    this.#queuedDurable ||= durable;
    this.#queued ??= this.#writing.then(() => {
      this.#queued = undefined;
      const queuedDurable = this.#queuedDurable;
      this.#queuedDurable = false;
      return this.#start(queuedDurable);
    });
    return this.#queued;
  }

  /** Drops the scheduled write (process exit writes synchronously instead). */
  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #start(durable: boolean): Promise<boolean> {
    const write = inWriteSlot(() => this.target.write(durable)).then((written) => {
      this.#writing = undefined;
      this.#settled(written);
      return written;
    });
    this.#writing = write;
    return write;
  }

  /** After a write: clean, retried later (it failed), or written again for changes made meanwhile. */
  #settled(written: boolean): void {
    this.#failures = written ? 0 : this.#failures + 1;
    if (!this.target.changed) this.target.onClean();
    else if (!written) {
      this.cancel(); // the retry's backoff replaces a timer set for the change
      this.#schedule(retryDelayMs(this.#failures));
    } else if (this.#queued === undefined) this.markDirty(); // changes made during the write
  }

  #schedule(delay: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, delay);
    this.#timer.unref();
  }
}
