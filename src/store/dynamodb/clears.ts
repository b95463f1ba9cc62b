/**
 * Clears that reach every machine. A clear records, in the table's `v#clears` item of its dataId, the
 * instant it happened, per function (or for all). Every process using that dataId:
 * - reads that item when it starts using the dataId and then at most once per interval (default 10 s)
 *   while calls are made — one small GetItem, started by a call but never awaited by it, and no timer;
 * - on a newer time, removes from its local cache (and file) the entries of that function computed
 *   before it (`clearBefore`), and drops its unsent writes of them;
 * - never serves an entry read from DynamoDB that was computed before a known clear of its function.
 */
import { fromTheFuture } from "../../time.js";
import { functionOfEntryKey } from "../dynamodb-format.js";

export const DEFAULT_CLEAR_CHECK_MS = 10_000;

type ClearKey = string | undefined;

/** The clear times this process knows for one dataId: function name → epoch ms (`undefined`: all). */
export class ClearTimes {
  readonly #times = new Map<ClearKey, number>();

  /** Entries of `functionName` computed before this instant are void (0 when never cleared). */
  voidBefore(functionName: string): number {
    return Math.max(this.#times.get(functionName) ?? 0, this.#times.get(undefined) ?? 0);
  }

  /** Whether an entry of `key` computed at `time` was cleared since. */
  isVoid(key: string, time: number): boolean {
    return time < this.voidBefore(functionOfEntryKey(key));
  }

  /** Takes in clear times (read from DynamoDB or made here); returns those that are news. */
  merge(times: Iterable<[ClearKey, number]>): [ClearKey, number][] {
    const news: [ClearKey, number][] = [];
    for (const [fn, time] of times) {
      // More than a day ahead (a broken clock, a hostile writer): it would void every result until then.
      if (time <= (this.#times.get(fn) ?? 0) || fromTheFuture(time)) continue;
      this.#times.set(fn, time);
      news.push([fn, time]);
    }
    return news;
  }
}

/** Runs `check` when a use comes at least `intervalMs` after the last check started; one at a time. */
export class ClearCheck {
  #last = Number.NEGATIVE_INFINITY;
  #running: Promise<void> | undefined;

  constructor(
    readonly intervalMs: number,
    private readonly check: () => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A call used the dataId: starts a check if one is due (never waits for it). */
  onUse(): void {
    if (this.#running !== undefined || this.now() - this.#last < this.intervalMs) return;
    void this.run();
  }

  /** Checks now, or joins the check under way. */
  run(): Promise<void> {
    if (this.#running !== undefined) return this.#running;
    this.#last = this.now();
    this.#running = this.check().finally(() => (this.#running = undefined));
    return this.#running;
  }
}
