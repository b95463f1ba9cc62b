/**
 * `JSONCache`, the base class users extend. A thin façade: it resolves options, opens the shared
 * store of its dataId, restores persisted attributes, and offers the management API. Cached calls
 * themselves are handled by `@Cached` (cached.ts).
 */
import { CACHE_IDENTITY } from "./keys/python-repr.js";
import { CacheLog, setGlobalLogger, setGlobalLogging, type CacheLogger } from "./logger.js";
import { functionOfKey } from "./keys/call-key.js";
import { methodTtl } from "./method-ttls.js";
import { resolveOptions, type JSONCacheOptions, type ResolvedOptions } from "./options.js";
import { captureAttributes, restoreAttributes } from "./state.js";
import type { LocalFileStore } from "./store/local-file-store.js";
import { flushAll, openStore } from "./store/registry.js";

/** Where the answer of a cached call came from: the local file, DynamoDB, or running the method. */
export type CacheStatus = "l1" | "l2" | "miss";

/** What `jsonCacheStats()` reports: live (unexpired) entries in all and per cached function. */
export interface CacheStats {
  totalEntries: number;
  functions: Record<string, number>;
}

/** The per-instance state that `@Cached` works with. Not part of the public API. */
export interface CacheInternals {
  readonly options: ResolvedOptions;
  readonly store: LocalFileStore;
  readonly log: CacheLog;
  /** Status of each call signature answered through this instance in this process. */
  readonly statuses: Map<string, CacheStatus>;
  last: CacheStatus | null;
  /** Warns about restored attributes replaced during construction; runs once, at the latest before a save. */
  readonly checkRestored: () => void;
}

let internalsOf: (object: unknown) => CacheInternals | undefined;

/**
 * Base class for objects whose cached method results and attributes persist in a local JSON file.
 *
 * ```ts
 * class Calculator extends JSONCache {
 *   constructor() { super({ dataId: "calc" }); }
 *   @Cached() expensiveCalculation(x: number, y: number) { return x ** y; }
 * }
 * ```
 */
export class JSONCache {
  readonly #internals: CacheInternals;

  static {
    internalsOf = (object) => (typeof object === "object" && object !== null && #internals in object ? object.#internals : undefined);
  }

  /** @throws {CacheOptionsError} when an option is invalid; the message names it and the value. */
  constructor(options?: JSONCacheOptions) {
    const resolved = resolveOptions(options, new.target.name);
    const log = new CacheLog(resolved.logging, resolved.logger);
    const store = openStore({
      directory: resolved.directory,
      dataId: resolved.dataId,
      log,
      writeDelay: resolved.writeDelay,
      clear: resolved.clearCache,
      maxEntries: resolved.maxEntries,
    });
    const checkRestored = restoreAttributes(this, store.variables, resolved.exclude, log);
    this.#internals = { options: resolved, store, log, statuses: new Map(), last: null, checkRestored };
    if (resolved.dynamodbTable !== undefined) {
      log.once("warn", "dynamodb-unavailable", `dynamodbTable "${resolved.dynamodbTable}" is set, but this release has no DynamoDB tier yet; caching stays local.`);
    }
  }

  /** The dataId naming this object's cache. */
  get jsonCacheDataId(): string {
    return this.#internals.options.dataId;
  }

  /**
   * Status of every call signature: `"l1"` for entries loaded from the file (until called), and for
   * calls made through this instance the source of the last answer. A fresh object each time.
   */
  get cacheStatus(): Record<string, CacheStatus> {
    const { store, statuses } = this.#internals;
    const out: Record<string, CacheStatus> = {};
    for (const [key, entry] of store.entries) {
      if (entry.origin !== "process") out[key] = entry.origin;
    }
    for (const [key, status] of statuses) out[key] = status;
    return out;
  }

  /** Status of the most recent cached call on this instance; `null` before the first call of the process. */
  get lastCacheStatus(): CacheStatus | null {
    return this.#internals.last;
  }

  /**
   * Writes this object's attributes and the cached results now. Attributes are persisted only by this
   * call (cached results are also written on their own, shortly after each miss). Resolves `true` once
   * everything is on disk (fsynced), `false` if the write failed (the reason is logged; the data stays
   * in memory).
   */
  jsonCacheSave(): Promise<boolean> {
    const { store, options, log, checkRestored } = this.#internals;
    checkRestored();
    store.variables = captureAttributes(this, options.exclude, log);
    return store.flush(true);
  }

  /**
   * Removes cached results: all of them, or only those of the named method (an exact name: clearing
   * `fetch` keeps `fetchAll`). The removal is written to the file; the promise resolves once it is.
   * Attributes are not touched.
   */
  jsonCacheClear(functionName?: string): Promise<boolean> {
    const { store, statuses } = this.#internals;
    if (functionName === undefined) {
      store.remove();
      statuses.clear();
    } else {
      for (const key of store.remove(functionName)) statuses.delete(key);
    }
    return store.flush();
  }

  /** Counts the live (unexpired) cached results, in all and per method. */
  jsonCacheStats(): CacheStats {
    const { store, options } = this.#internals;
    const now = Date.now();
    const functions: Record<string, number> = {};
    let totalEntries = 0;
    for (const [key, entry] of store.entries) {
      const fn = functionOfKey(key);
      const ttl = methodTtl(this, fn) ?? options.ttlMs;
      if (now - entry.time >= ttl) continue;
      functions[fn] = (functions[fn] ?? 0) + 1;
      totalEntries++;
    }
    return { totalEntries, functions };
  }

  /** Writes pending changes and hands the cache back; for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.jsonCacheSave();
  }

  /** In call keys, a JSONCache argument is its dataId, as in the Python library. */
  [CACHE_IDENTITY](): string {
    return this.#internals.options.dataId;
  }

  /** Turns messages on or off for every instance, existing ones included. */
  static setLogging(enabled: boolean): void {
    setGlobalLogging(enabled);
  }

  /** Sends the messages of every instance without a `logger` option to `logger`. */
  static setLogger(logger: CacheLogger): void {
    setGlobalLogger(logger);
  }

  /** Writes every pending change of every cache in this process, for a graceful shutdown. */
  static flushAll(): Promise<void> {
    return flushAll();
  }
}

/** The internals of a JSONCache instance, or `undefined` for anything else. */
export function cacheInternals(object: unknown): CacheInternals | undefined {
  return internalsOf(object);
}
