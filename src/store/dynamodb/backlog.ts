/**
 * Write-behind to DynamoDB that nothing drops quietly: every write (a result, the attributes, a clear)
 * is sent at once; one that cannot be sent now (timeout, outage, breaker open, throttling, table not
 * ready) is kept in this process's backlog and sent again by a retry timer — 1 s, doubling to 30 s
 * while DynamoDB stays unusable — without anyone calling. The timer is unref'd: it never keeps a
 * process alive by itself (exit.ts sends what is left when the process ends).
 *
 * - Bound: at most `limit` (default 10,000) writes are kept per process. Past it, the oldest is dropped
 *   (it stays in the local cache) and one warning says so.
 * - A later write of the same item replaces the kept one (a result recomputed, attributes saved again).
 * - A write DynamoDB rejects for good (see PERMANENT_CAUSES) is dropped and counted against its owner,
 *   so the owner's next save reports false.
 */
import type { CacheLog } from "../../logger.js";
import { PERMANENT_CAUSES, type L2Outcome } from "./failures.js";
import type { L2Write } from "./writes.js";

export const DEFAULT_BACKLOG_LIMIT = 10_000;
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;
const RETRY_CONCURRENCY = 8;

/** Where a write goes: a tier (or anything that can carry out a write) and how to reach it from another thread. */
export interface WriteTarget {
  readonly table: string;
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
  readonly timeoutMs: number;
  /** Whether this process has seen the table ready (the exit worker then need not check it first). */
  readonly tableReady?: boolean;
  write(write: L2Write): Promise<L2Outcome<unknown>>;
}

export interface PendingWrite {
  /** Identity of the item written: a later write with the same id supersedes this one. */
  readonly id: string;
  /** Who asked (one dataId's link): its saves wait for its writes. */
  readonly owner: object;
  readonly target: WriteTarget;
  readonly write: L2Write;
  readonly log: CacheLog;
}

export class Backlog {
  readonly #held = new Map<string, PendingWrite>();
  readonly #inFlight = new Map<PendingWrite, Promise<boolean>>();
  /** Writes dropped for good, per owner, since its last save. */
  readonly #lost = new Map<object, number>();
  #timer: NodeJS.Timeout | undefined;
  #retryMs = FIRST_RETRY_MS;
  #round: Promise<void> | undefined;
  #warnedFull = false;

  constructor(readonly limit = DEFAULT_BACKLOG_LIMIT) {}

  /** Writes kept for a retry (not counting those in flight). */
  get size(): number {
    return this.#held.size;
  }

  /** Sends a write now; if it fails for a passing reason it is kept and retried. Resolves true once written. */
  submit(pending: PendingWrite): Promise<boolean> {
    const held = this.#held.get(pending.id);
    if (held !== undefined && supersedes(pending.write, held.write)) this.#held.delete(pending.id);
    return this.#send(pending, false);
  }

  /** Drops kept writes of `owner` that `test` says are void (e.g. results computed before a clear). */
  discard(owner: object, test: (write: L2Write) => boolean): void {
    for (const [id, pending] of this.#held) if (pending.owner === owner && test(pending.write)) this.#held.delete(id);
  }

  /**
   * Waits for `owner`'s writes in flight, then tries its kept ones once more (unless a retry round is
   * already under way, which it joins). True if nothing of `owner` is left unsent and nothing was lost
   * since its last settle.
   */
  async settle(owner: object): Promise<boolean> {
    await Promise.all([...this.#inFlight].filter(([p]) => p.owner === owner).map(([, promise]) => promise));
    if (this.#heldOf(owner) > 0) await this.retryNow();
    await Promise.all([...this.#inFlight].filter(([p]) => p.owner === owner).map(([, promise]) => promise));
    const lost = this.#lost.get(owner) ?? 0;
    this.#lost.delete(owner);
    return lost === 0 && this.#heldOf(owner) === 0 && ![...this.#inFlight.keys()].some((p) => p.owner === owner);
  }

  /** One retry round of every kept write, now. */
  retryNow(): Promise<void> {
    this.#round ??= this.#retryRound().finally(() => (this.#round = undefined));
    return this.#round;
  }

  /** Everything not yet known to be written: kept writes and writes in flight (for the exit worker). */
  unsent(): PendingWrite[] {
    const all = new Map<string, PendingWrite>();
    for (const pending of this.#inFlight.keys()) all.set(pending.id, pending);
    for (const [id, pending] of this.#held) {
      const other = all.get(id);
      if (other === undefined || supersedes(pending.write, other.write)) all.set(id, pending);
    }
    return [...all.values()];
  }

  async #send(pending: PendingWrite, retry: boolean): Promise<boolean> {
    const sending = pending.target.write(pending.write).then((outcome) => {
      this.#inFlight.delete(pending);
      if (outcome.ok) return true;
      if (PERMANENT_CAUSES.has(outcome.reason)) {
        this.#lost.set(pending.owner, (this.#lost.get(pending.owner) ?? 0) + 1);
        return false;
      }
      this.#keep(pending);
      return false;
    });
    this.#inFlight.set(pending, sending);
    const written = await sending;
    if (!retry) this.#schedule();
    return written;
  }

  #keep(pending: PendingWrite): void {
    const held = this.#held.get(pending.id);
    if (held !== undefined && !supersedes(pending.write, held.write)) return; // a newer one is kept
    this.#held.delete(pending.id);
    this.#held.set(pending.id, pending);
    if (this.#held.size <= this.limit) return;
    const [oldestId, oldest] = this.#held.entries().next().value as [string, PendingWrite];
    this.#held.delete(oldestId);
    this.#lost.set(oldest.owner, (this.#lost.get(oldest.owner) ?? 0) + 1);
    if (this.#warnedFull) return;
    this.#warnedFull = true;
    oldest.log.write(
      "warn",
      `over ${this.limit} writes to DynamoDB are waiting for it to be reachable; the oldest are dropped from the backlog (they stay in the local cache)`,
    );
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#held.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.retryNow().then(() => this.#schedule());
    }, this.#retryMs);
    this.#timer.unref();
  }

  async #retryRound(): Promise<void> {
    const round = [...this.#held.values()];
    let next = 0;
    let written = 0;
    let refused = false;
    const worker = async () => {
      while (!refused && next < round.length) {
        const pending = round[next++] as PendingWrite;
        if (this.#held.get(pending.id) !== pending) continue; // superseded or discarded meanwhile
        this.#held.delete(pending.id);
        if (await this.#send(pending, true)) written++;
        else if (this.#held.get(pending.id) === pending) refused = true; // still unusable: wait for the next round
      }
    };
    await Promise.all(Array.from({ length: Math.min(RETRY_CONCURRENCY, round.length) }, worker));
    this.#retryMs = written > 0 ? FIRST_RETRY_MS : Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    if (this.#held.size === 0) this.#warnedFull = false;
  }

  #heldOf(owner: object): number {
    let count = 0;
    for (const pending of this.#held.values()) if (pending.owner === owner) count++;
    return count;
  }
}

/** Whether `a` should replace `b` for the same item: a result or attributes computed later, a later clear. */
function supersedes(a: L2Write, b: L2Write): boolean {
  return writeTime(a) >= writeTime(b);
}

function writeTime(write: L2Write): number {
  return write.kind === "entry" ? write.entry.time : write.kind === "state" ? write.time : write.before;
}

/** The backlog of this process. */
export const processBacklog = new Backlog();
