/**
 * When one store writes: a change schedules one write `delay` ms later (so a burst of changes becomes
 * one write); `flush()` writes now; writes of a store never overlap (a flush during a write gets one
 * write after it, shared by every caller); a failed write is retried on a timer with backoff, not only
 * at the next change. Every write runs in the process-wide write queue (write-queue.ts).
 */
import { inWriteSlot, retryDelayMs } from "./write-queue.js";

export interface WriteTarget {
  /** Writes the pending changes; resolves whether they reached the disk (failures are logged there). */
  write(durable: boolean): Promise<boolean>;
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
    if (this.#timer === undefined && this.#writing === undefined) this.#schedule(this.delay);
    this.target.onDirty();
  }

  /** Writes now (after the write under way, if any); with `durable`, fsynced. */
  flush(durable = false): Promise<boolean> {
    this.cancel();
    if (this.target.frozen) return Promise.resolve(false);
    if (this.#writing === undefined) return this.#start(durable);
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
      this.#failures = written ? 0 : this.#failures + 1;
      if (!this.target.changed) this.target.onClean();
      else if (!written) this.#schedule(retryDelayMs(this.#failures));
      else if (this.#queued === undefined) this.markDirty(); // changes made during the write
      return written;
    });
    this.#writing = write;
    return write;
  }

  #schedule(delay: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => void this.flush(), delay);
    this.#timer.unref();
  }
}
