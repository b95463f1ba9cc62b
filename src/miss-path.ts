/**
 * The miss path of a cached call: join a computation of the same key under way, or ask DynamoDB (async
 * methods with a table), take the leases (`lease`), run the method, and remember the result, with the
 * stale value as the answer when the method fails within `staleTtl` (fail-safe).
 */
import { encodeValue, UnencodableValueError } from "./codec.js";
import type { CacheInternals, CacheStatus } from "./json-cache.js";
import { ranAndFailed, record } from "./call-status.js";
import type { ResolvedCachedOptions } from "./options.js";
import type { StoredEntry } from "./store/local-file-store.js";
import type { EntryMeta } from "./store/cache-file.js";
import { newEntry } from "./store/stored-entry.js";
import { durationToMs } from "./duration.js";
import { runLeased } from "./lease.js";
import { channels, globalMetrics, type CacheEvent } from "./events.js";
import type { Method } from "./cached.js";

/**
 * How far an entry is past its expiry, in ms (negative while fresh); `Infinity` for an entry of
 * another version, which never counts.
 */
export function age(entry: StoredEntry, ttlMs: number, version: string | undefined): number {
  if (entry.meta?.version !== version) return Number.POSITIVE_INFINITY;
  return Date.now() - entry.time - (entry.meta?.ttlMs ?? ttlMs);
}

export interface Call {
  self: unknown;
  internals: CacheInternals;
  method: Method<unknown, unknown[], unknown>;
  name: string;
  key: string;
  args: unknown[];
  /** The method's TTL for this instance (an entry may carry its own). */
  ttlMs: number;
  config: ResolvedCachedOptions;
  asyncMethod: boolean;
  /** A stale refresh: the caller was answered already, so no status is recorded. */
  background: boolean;
}

/** Answers of async misses under way, shared by concurrent identical calls. */
interface Answer {
  value: unknown;
  status: CacheStatus;
}

/** An L1 miss: an async method with a table asks DynamoDB first; then the method runs. */
export function compute(call: Call): unknown {
  const running = call.internals.stack.inflight.get(call.key) as Promise<Answer> | undefined;
  if (running !== undefined) {
    // The same call is under way (possibly from another instance of this dataId): share its answer.
    return answerOf(call, running);
  }
  if (call.asyncMethod && (call.internals.stack.hasRemote || leaseOf(call) > 0)) return share(call, lookupThenRun(call));
  let result: unknown;
  try {
    result = call.method.apply(call.self, call.args);
  } catch (error) {
    const fallback = failSafe(call, error);
    if (fallback === undefined) {
      ranAndFailed(call);
      throw error;
    }
    record(call, "stale");
    return fallback.value;
  }
  if (!isThenable(result)) {
    remember(call, result, false);
    record(call, "miss");
    return result;
  }
  return share(call, settle(call, Promise.resolve(result)));
}

/**
 * DynamoDB first (bounded by its timeout), then the method; with `lease`, run once per fleet while the
 * other processes and machines wait for its result (lease.ts).
 */
async function lookupThenRun(call: Call): Promise<Answer> {
  const { stack } = call.internals;
  const remote = sharedAnswer(call, await stack.lookupRemote(call.key, call.ttlMs, call.config.version), "l2");
  if (remote !== undefined) return remote;
  const run = () => settle(call, Promise.resolve().then(() => call.method.apply(call.self, call.args)));
  const leaseMs = leaseOf(call);
  if (leaseMs <= 0) return run();
  const find = async (fromTable: boolean): Promise<Answer | undefined> => {
    stack.lookNow();
    const local = stack.entry(call.key);
    const fresh = local !== undefined && age(local, call.ttlMs, call.config.version) < 0 ? sharedAnswer(call, local, "l1") : undefined;
    if (fresh !== undefined || !fromTable) return fresh;
    return sharedAnswer(call, await stack.lookupRemote(call.key, call.ttlMs, call.config.version), "l2");
  };
  return runLeased({ stack, key: call.key, leaseMs, find, run });
}

/** The lease of an async call in ms (the method's, else the instance's); 0 for none. */
function leaseOf(call: Call): number {
  return call.asyncMethod ? (call.config.leaseMs ?? call.internals.options.leaseMs) : 0;
}

/** An answer from a shared tier (L2, or the file another process wrote), counted as a hit of it. */
function sharedAnswer(call: Call, entry: StoredEntry | undefined, tier: "l1" | "l2"): Answer | undefined {
  if (entry === undefined) return undefined;
  let value: unknown;
  try {
    value = call.internals.stack.valueOf(entry);
  } catch {
    return undefined; // an entry that cannot be decoded is a miss
  }
  call.internals.metrics.hits[tier]++;
  globalMetrics.hits[tier]++;
  if (channels.hit.hasSubscribers) channels.hit.publish({ event: "hit", dataId: call.internals.options.dataId, key: call.key, method: call.name, tier } satisfies CacheEvent);
  return { value, status: tier };
}

/** The answer of an async run: stored as a miss, or on failure the fail-safe stale value, or the error. */
function settle(call: Call, result: Promise<unknown>): Promise<Answer> {
  return result.then(
    (value) => {
      remember(call, value, true);
      return { value, status: "miss" as const };
    },
    (error: unknown) => {
      const fallback = failSafe(call, error);
      if (fallback === undefined) throw error;
      return { value: fallback.value, status: "stale" as const };
    },
  );
}

/** Registers an async computation so concurrent identical calls share it; answers the caller. */
function share(call: Call, answer: Promise<Answer>): Promise<unknown> {
  const { inflight } = call.internals.stack;
  const done = () => {
    if (inflight.get(call.key) === answer) inflight.delete(call.key);
  };
  answer.then(done, done);
  inflight.set(call.key, answer);
  return answerOf(call, answer);
}

/** The value of a shared answer, its status recorded for this call (a failure counts as a run that failed). */
function answerOf(call: Call, answer: Promise<Answer>): Promise<unknown> {
  return answer.then(
    (result) => {
      record(call, result.status);
      return result.value;
    },
    (error: unknown) => {
      ranAndFailed(call);
      throw error;
    },
  );
}

/**
 * The method threw: counts the error, and with a stale window returns the last good value still
 * within it (the error is logged once); `undefined` when there is none, and the error goes to the caller.
 */
function failSafe(call: Call, error: unknown): { value: unknown } | undefined {
  const { internals, config } = call;
  internals.metrics.errors++;
  globalMetrics.errors++;
  if (channels.error.hasSubscribers) channels.error.publish({ event: "error", dataId: internals.options.dataId, key: call.key, method: call.name, error } satisfies CacheEvent);
  if (config.staleMs <= 0) return undefined;
  const entry = internals.stack.entry(call.key);
  if (entry === undefined || age(entry, call.ttlMs, config.version) >= config.staleMs) return undefined;
  try {
    const value = internals.stack.valueOf(entry);
    internals.log.once("warn", `failsafe:${internals.stack.path}:${call.name}`, `${call.name} failed (${describeError(error)}); serving its last good result until the stale window ends.`);
    return { value };
  } catch {
    return undefined;
  }
}

/**
 * Stores a computed result in L1 (written later, coalesced) and sends it to L2 if there is one; a value
 * that cannot be encoded stays in memory for this process only. `shouldCache` may decline it; a TTL
 * computed from the result travels with the entry.
 */
function remember(call: Call, value: unknown, async: boolean): void {
  const { stack, log } = call.internals;
  const { config } = call;
  if (config.shouldCache !== undefined && !decide(call, value)) return;
  let ttlMs: number | undefined;
  if (config.ttlOf !== undefined) {
    const computed = durationToMs(safely(() => config.ttlOf?.(value, call.args)));
    if (typeof computed === "number") ttlMs = computed;
    else log.once("warn", `ttl-of:${stack.path}:${call.name}`, `the ttl function of ${call.name} gave an unusable TTL: ${computed}. The instance's ttl is used instead.`);
  }
  const meta: EntryMeta | undefined = ttlMs === undefined && config.version === undefined ? undefined : { ttlMs, version: config.version };
  const time = Date.now();
  let raw: unknown;
  let persistent = true;
  try {
    raw = encodeValue(value);
  } catch (error) {
    // Whatever the encoding met (a throwing getter or Proxy trap, a revoked Proxy, an invalid Date, a
    // structure too deep for the stack), the method did return: its result is answered and kept here.
    persistent = false;
    raw = undefined;
    const reason = error instanceof UnencodableValueError ? error.reason : `encoding it failed: ${describeError(error)}`;
    const className = (call.self as object).constructor.name;
    log.once("warn", `unencodable:${stack.path}:${call.name}`, `${className}.${call.name} returned a value that cannot be written to the cache file: ${reason}. It is cached in memory for this process only.`);
  }
  const entry = newEntry({ time, async, origin: "process", value, decoded: true, raw, text: undefined, persistent, meta });
  // The key starts with the name and "(" (functionOfKey's answer), unless the name holds a "(" itself.
  stack.remember(call.key, entry, call.ttlMs, call.name.includes("(") ? undefined : call.name);
}

/** `shouldCache`, whose own failure means "do not cache" (logged once). */
function decide(call: Call, value: unknown): boolean {
  try {
    return (call.config.shouldCache as NonNullable<ResolvedCachedOptions["shouldCache"]>)(value, call.args) === true;
  } catch (error) {
    call.internals.log.once("warn", `should-cache:${call.internals.stack.path}:${call.name}`, `the shouldCache function of ${call.name} threw (${describeError(error)}); such results are not cached.`);
    return false;
  }
}

function safely(compute: () => unknown): unknown {
  try {
    return compute();
  } catch {
    return undefined;
  }
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  try {
    return typeof (value as { then?: unknown }).then === "function";
  } catch {
    return false; // a revoked Proxy, or a throwing `then` getter: not a promise, a value to return
  }
}
