/**
 * The time a process may spend writing at exit. Process managers kill a process a few seconds after
 * asking it to stop, and an exit handler cannot run asynchronous work: so every store's pending changes
 * are appended first (microseconds each, nothing waits), and folds into the cache files — what makes
 * the file alone complete for the Python library — take place only while this budget lasts. A fold
 * left out keeps its lines in the journal: this library reads them, and the next fold takes them in.
 */

/** The whole exit's allowance for folds, ms. */
export const EXIT_BUDGET_MS = 600;
/**
 * A fold's cost as assumed to judge whether it fits: a fixed part (its files are created and renamed)
 * and a part per byte of file and journal (entries read from the file have their lines made again:
 * measured 15–40 MB/s on a loaded 2-core machine; the slow end is assumed).
 */
const FOLD_FIXED_MS = 1;
const FOLD_BYTES_PER_MS = 15_000;
/** The longest wait for another process's lock at exit, ms. */
const EXIT_LOCK_WAIT_MS = 250;

export class ExitBudget {
  readonly #deadline: number;

  constructor(budgetMs = EXIT_BUDGET_MS, now = Date.now()) {
    this.#deadline = now + budgetMs;
  }

  /** How long a fold of `bytes` may wait for the lock, or `undefined` when it no longer fits. */
  foldWaitMs(bytes: number): number | undefined {
    const left = this.#deadline - Date.now();
    const cost = FOLD_FIXED_MS + bytes / FOLD_BYTES_PER_MS;
    if (left <= cost) return undefined;
    return Math.max(0, Math.min(EXIT_LOCK_WAIT_MS, left - cost));
  }

  get left(): number {
    return this.#deadline - Date.now();
  }
}
