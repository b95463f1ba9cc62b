/**
 * Recording the outcome of a cached call, in one place: the key's status, the instance's last status,
 * the instance and process counters, the event — and, inside `withCacheStatus()`, the call's own entry.
 *
 * `lastCacheStatus` is one slot per instance: when calls of one instance overlap, it tells about the
 * one that answered last. `withCacheStatus(fn)` gives each caller its own answer: an
 * `AsyncLocalStorage` scope collects the statuses of the cached calls made inside `fn` (and in what
 * it awaits). The hit path pays one integer comparison while no scope is open anywhere in the process;
 * the storage is disabled again when the last scope closes, so its async hooks cost nothing after.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { CacheUsageError } from "./errors.js";
import { channels, globalMetrics, type CacheEvent } from "./events.js";
import type { CacheInternals, CacheStatus } from "./json-cache.js";

/** One cached call made inside `withCacheStatus()`. */
export interface CachedCallStatus {
  /** The dataId of the cache that answered. */
  dataId: string;
  /** The cached method's (or function's) name. */
  method: string;
  /** The call key, e.g. `load(42,){}`. */
  key: string;
  /** Where the answer came from; `"miss"` when the method ran (also when it threw: see `failed`). */
  status: CacheStatus;
  /** The method ran and threw or rejected (no fail-safe value): the call had no answer. */
  failed: boolean;
}

/** What `withCacheStatus()` reports: `fn`'s result and its cached calls, in the order they answered. */
export interface CacheStatusReport<T> {
  result: T;
  calls: CachedCallStatus[];
}

interface Scope {
  readonly calls: CachedCallStatus[];
  /** The enclosing scope: a nested `withCacheStatus` reports its calls to both. */
  readonly parent: Scope | undefined;
  /** Set when `fn` has settled: calls it left running are not added to a report already returned. */
  closed: boolean;
}

const storage = new AsyncLocalStorage<Scope>();
/** Scopes open in this process; while 0 the call path does not ask the storage. */
let openScopes = 0;

/** The call a status is recorded for (cached.ts's `Call` has these and more). */
export interface RecordedCall {
  readonly internals: CacheInternals;
  readonly key: string;
  readonly name: string;
  /** A stale refresh: the caller was answered already, so no status is recorded. */
  readonly background: boolean;
}

/** A hit in L1: the key's and the instance's status, the counters, the event. Synchronous and allocation-free. */
export function recordHit(internals: CacheInternals, key: string, name: string): void {
  internals.statuses.set(key, "l1");
  internals.last = "l1";
  internals.metrics.hits.l1++;
  globalMetrics.hits.l1++;
  if (channels.hit.hasSubscribers) channels.hit.publish({ event: "hit", dataId: internals.options.dataId, key, method: name, tier: "l1" } satisfies CacheEvent);
  if (openScopes !== 0) note(internals, key, name, "l1", false);
}

/** An answer other than an L1 hit: `"l2"`, `"miss"` (the method ran) or `"stale"`. */
export function record(call: RecordedCall, status: CacheStatus): void {
  const { internals } = call;
  if (status === "stale") {
    internals.metrics.stale++;
    globalMetrics.stale++;
    if (channels.stale.hasSubscribers) channels.stale.publish({ event: "stale", dataId: internals.options.dataId, key: call.key, method: call.name } satisfies CacheEvent);
  } else if (status === "miss") {
    internals.metrics.misses++;
    globalMetrics.misses++;
    if (channels.miss.hasSubscribers) channels.miss.publish({ event: "miss", dataId: internals.options.dataId, key: call.key, method: call.name } satisfies CacheEvent);
  }
  if (call.background) return;
  internals.statuses.set(call.key, status);
  internals.last = status;
  if (openScopes !== 0) note(internals, call.key, call.name, status, false);
}

/**
 * A call that ran the method, which threw or rejected: nothing is stored and the key's status is
 * unchanged (it has no answer), but the last status is `"miss"`: the call was not served from a cache.
 */
export function ranAndFailed(call: RecordedCall): void {
  if (call.background) return;
  call.internals.last = "miss";
  if (openScopes !== 0) note(call.internals, call.key, call.name, "miss", true);
}

function note(internals: CacheInternals, key: string, method: string, status: CacheStatus, failed: boolean): void {
  let scope = storage.getStore();
  if (scope === undefined) return;
  const entry: CachedCallStatus = { dataId: internals.options.dataId, method, key, status, failed };
  for (; scope !== undefined; scope = scope.parent) {
    if (!scope.closed) scope.calls.push(entry);
  }
}

/**
 * Runs `fn` and reports, with its result, the status of every cached call made inside it (also in
 * what it awaits, and in nested functions), in the order they answered: a cached method that calls
 * another answers after it. Each caller gets its own report, however calls of one instance overlap.
 * A sync `fn` gets its report at once; an async one (a returned promise) when the promise settles.
 * If `fn` throws or rejects, the error propagates (calls that failed are marked `failed` in an
 * enclosing report).
 *
 * ```ts
 * const { result, calls } = await withCacheStatus(() => service.load(42));
 * calls; // [{ dataId: "UserService", method: "load", key: "load(42,){}", status: "l1", failed: false }]
 * ```
 * @throws {CacheUsageError} when `fn` is not a function.
 */
export function withCacheStatus<T>(fn: () => PromiseLike<T>): Promise<CacheStatusReport<T>>;
export function withCacheStatus<T>(fn: () => T): CacheStatusReport<T>;
export function withCacheStatus<T>(fn: () => T): CacheStatusReport<T> | Promise<CacheStatusReport<Awaited<T>>> {
  if (typeof fn !== "function") {
    throw new CacheUsageError(`withCacheStatus(fn): fn must be a function that makes the cached calls, e.g. withCacheStatus(() => service.load(id)); got ${fn === null ? "null" : typeof fn}.`);
  }
  const scope: Scope = { calls: [], parent: storage.getStore(), closed: false };
  openScopes++;
  let result: T;
  try {
    result = storage.run(scope, fn);
  } catch (error) {
    close(scope);
    throw error;
  }
  if (!isThenable(result)) {
    close(scope);
    return { result, calls: scope.calls };
  }
  return Promise.resolve(result).then(
    (value) => {
      close(scope);
      return { result: value as Awaited<T>, calls: scope.calls };
    },
    (error: unknown) => {
      close(scope);
      throw error;
    },
  );
}

function close(scope: Scope): void {
  scope.closed = true;
  openScopes--;
  // Async hooks stay on while the storage is enabled, a cost to every promise of the process.
  if (openScopes === 0) storage.disable();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null && typeof (value as { then?: unknown }).then === "function";
}
