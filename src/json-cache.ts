/**
 * `JSONCache`, the base class users extend. A thin façade: it resolves options, opens the shared
 * store of its dataId, restores persisted attributes, and offers the management API. Cached calls
 * themselves are handled by `@Cached` (cached.ts).
 */
import { CACHE_IDENTITY } from "./keys/python-repr.js";
import { CacheOptionsError } from "./errors.js";
import { CacheLog, setGlobalLogger, setGlobalLogging, setGlobalLogLevel, type CacheLogger, type LogLevel } from "./logger.js";
import { classCode, defaultDataId, noteDataIdUse } from "./data-id-guard.js";
import { useDynamoDBSdk, type DynamoDBSdkModules } from "./store/dynamodb/index.js";
import { copyMetrics, globalMetrics, newMetrics, subscribe, type CacheEvent, type CacheEventName, type CacheMetrics } from "./events.js";
import { functionOfKey } from "./keys/call-key.js";
import { methodTtl } from "./method-ttls.js";
import { checkLogger, checkLogLevel, resolveOptions, setDefaultDirectory, type JSONCacheOptions, type ResolvedOptions } from "./options.js";
import { applyAttributes, attributesJson, captureAttributes, restoreAttributes } from "./state.js";
import { createDynamoDBTier } from "./store/dynamodb/index.js";
import { L2Sync } from "./store/l2-sync.js";
import { exitSender } from "./store/dynamodb/exit.js";
import type { CacheStack } from "./store/cache-stack.js";
import { compactAll, flushAll, openStack, openStoreAsync } from "./store/registry.js";
import { EntryMap } from "./store/entry-map.js";

/**
 * Where the answer of a cached call came from: the local file (`"l1"`), DynamoDB (`"l2"`), running the
 * method (`"miss"`), or an expired result served within `staleTtl` (`"stale"`).
 */
export type CacheStatus = "l1" | "l2" | "miss" | "stale";

/** What `jsonCacheStats()` reports: live (unexpired) entries in all and per cached function. */
export interface CacheStats {
  totalEntries: number;
  functions: Record<string, number>;
}

/** The per-instance state that `@Cached` works with. Not part of the public API. */
export interface CacheInternals {
  readonly options: ResolvedOptions;
  /** The tiers of this instance's dataId, shared with the other instances of it. */
  readonly stack: CacheStack;
  readonly log: CacheLog;
  /** The last status of each call signature answered through this instance in this process (an EntryMap: it can grow as large as the table). */
  readonly statuses: EntryMap<CacheStatus>;
  last: CacheStatus | null;
  /** Warns about restored attributes replaced during construction; runs once, at the latest before a save. */
  readonly checkRestored: () => void;
  readonly metrics: CacheMetrics;
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
    const resolved = resolveOptions(options, defaultDataId(new.target.name, classCode(new.target, JSONCache)));
    const log = new CacheLog(resolved.logging, resolved.logger, resolved.logLevel);
    const defaultFrom = options?.dataId === undefined ? new.target.name : undefined;
    noteDataIdUse({ dataId: resolved.dataId, directory: resolved.directory, defaultFrom, kind: "class", owner: new.target, log });
    const stack = openStack({
      directory: resolved.directory,
      dataId: resolved.dataId,
      log,
      writeDelay: resolved.writeDelay,
      clear: resolved.clearCache,
      maxEntries: resolved.maxEntries,
      refreshIntervalMs: resolved.refreshIntervalMs,
      fileMode: resolved.fileMode,
      directoryMode: resolved.directoryMode,
    });
    const checkRestored = restoreAttributes(this, stack.variables, resolved.exclude, log);
    stack.forgetVariables(resolved.exclude);
    this.#internals = { options: resolved, stack, log, statuses: new EntryMap(), last: null, checkRestored, metrics: newMetrics() };
    stack.noteInstanceTtl(resolved.ttlMs);
    if (resolved.dynamodbTable !== undefined) connectL2(stack, resolved, log);
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
    const { stack, statuses } = this.#internals;
    const out: Record<string, CacheStatus> = {};
    for (const [key, entry] of stack.entries()) {
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
    const { stack, options, log, checkRestored } = this.#internals;
    checkRestored();
    const variables = captureAttributes(this, options.exclude, log);
    return stack.save(variables, attributesJson);
  }

  /**
   * With a DynamoDB table: copies into the local cache every unexpired result DynamoDB holds for this
   * dataId, and — when the local file had no attributes — the attributes last saved to DynamoDB. This
   * is how sync methods (which cannot wait for the network) and a new machine's object state get
   * what other machines computed. Resolves to what was loaded; `undefined` if DynamoDB was unavailable.
   */
  jsonCachePreload(): Promise<{ entries: number; attributes: boolean } | undefined> {
    const { stack, options, log } = this.#internals;
    return stack.preload((json) => applyAttributes(this, json, options.exclude, log));
  }

  /**
   * Removes cached results: all of them, or only those of the named method (an exact name: clearing
   * `fetch` keeps `fetchAll`). The removal is written to the file; the promise resolves once it is.
   * Attributes are not touched.
   */
  jsonCacheClear(functionName?: string): Promise<boolean> {
    const { stack, statuses } = this.#internals;
    const { removed, done } = stack.clear(functionName);
    if (functionName === undefined) statuses.clear();
    else for (const key of removed) statuses.delete(key);
    return done;
  }

  /**
   * Counts the live (unexpired) cached results, in all and per method. With `{ l2: true }` it also
   * asks DynamoDB (a Query of this dataId's items) and resolves with its counts under `l2`
   * (`undefined` when there is no table or DynamoDB is unavailable).
   */
  jsonCacheStats(): CacheStats;
  jsonCacheStats(options: { l2: true }): Promise<CacheStats & { l2: CacheStats | undefined }>;
  jsonCacheStats(options?: { l2: true }): CacheStats | Promise<CacheStats & { l2: CacheStats | undefined }> {
    const local = this.#localStats();
    if (options?.l2 !== true) return local;
    return this.#internals.stack.remoteCounts().then((remote) => ({ ...local, l2: remote }));
  }

  #localStats(): CacheStats {
    const { stack, options } = this.#internals;
    const now = Date.now();
    const functions: Record<string, number> = {};
    let totalEntries = 0;
    for (const [key, entry] of stack.entries()) {
      const fn = functionOfKey(key);
      const ttl = entry.meta?.ttlMs ?? methodTtl(this, fn) ?? options.ttlMs;
      if (now - entry.time >= ttl) continue;
      functions[fn] = (functions[fn] ?? 0) + 1;
      totalEntries++;
    }
    return { totalEntries, functions };
  }

  /**
   * This instance's counters: hits by tier, misses, stale answers, errors, and the bytes written to its
   * dataId's files (shared by the instances of that dataId). A copy.
   */
  jsonCacheMetrics(): CacheMetrics {
    const { metrics, stack } = this.#internals;
    return { ...copyMetrics(metrics), bytesWritten: stack.bytesWritten, journalSyncs: stack.journalSyncs, folds: stack.folds };
  }

  /** The process-wide totals of every instance's counters. A copy. */
  static metrics(): CacheMetrics {
    return copyMetrics(globalMetrics);
  }

  /**
   * Calls `listener` on every cache event of the process (`"hit"`, `"miss"`, `"stale"`, `"error"`);
   * returns the function that unsubscribes. The same events are published on `diagnostics_channel`
   * as `cacherator:<event>`. Unused, events cost nothing on the call path.
   */
  static on(event: CacheEventName, listener: (event: CacheEvent) => void): () => void {
    return subscribe(event, listener);
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

  /**
   * Sends the messages of every instance without a `logger` option to `logger`: console, pino, winston,
   * a NestJS `Logger` (any object with `warn`, `error` and `info` or `log`).
   * @throws {CacheOptionsError} naming the missing methods when `logger` is not a logger.
   */
  static setLogger(logger: CacheLogger): void {
    checkLogger(logger, "JSONCache.setLogger");
    setGlobalLogger(logger);
  }

  /**
   * The least important messages reported by every instance without a `logLevel` of its own,
   * existing ones included: `"debug"` (every DynamoDB request), `"info"`, `"warn"` (the default),
   * `"error"` or `"silent"`.
   */
  static setLogLevel(level: LogLevel): void {
    checkLogLevel(level, "JSONCache.setLogLevel");
    setGlobalLogLevel(level);
  }

  /**
   * The folder of instances (and `cached()` functions) created from now on without a `directory`
   * option; `undefined` restores `"data/cache"`. Relative to the working directory at construction.
   */
  static setDefaultDirectory(directory: string | undefined): void {
    setDefaultDirectory(directory);
  }

  /**
   * Gives the library the AWS SDK's modules, for programs bundled without `node_modules` (where the
   * library cannot load them itself): `JSONCache.useDynamoDBSdk(await import("@aws-sdk/client-dynamodb"),
   * await import("@aws-sdk/lib-dynamodb"))`, before the first DynamoDB request.
   */
  static useDynamoDBSdk(clientDynamodb: DynamoDBSdkModules["clientDynamodb"], libDynamodb: DynamoDBSdkModules["libDynamodb"]): void {
    useDynamoDBSdk({ clientDynamodb, libDynamodb });
  }

  /**
   * Writes every pending change of every cache in this process (appended to each cache's journal,
   * synchronously, within this call), for a graceful shutdown. Resolves once they are on disk (not
   * fsynced: see `jsonCacheSave()`) and no work of the library on the cache files is under way (a fold
   * running, a journal being opened): the files may then be copied or deleted. A fold due later
   * (200 ms after a write to a small cache) finds nothing to do if they were deleted.
   */
  static flushAll(): Promise<void> {
    return flushAll();
  }

  /**
   * Opens the cache file of `options.dataId` (in `options.directory`) without blocking the event loop
   * for long: a file of 1 MB or more is read in parts of 64 KB, the event loop running every few
   * milliseconds. Instances constructed afterwards with that dataId and directory find it loaded (a
   * constructor itself reads synchronously: about as long as `JSON.parse` of the file). An instance
   * constructed before this resolves reads the rest at once. Takes the constructor's options.
   * @throws {CacheOptionsError} when an option is invalid, or `dataId` is missing.
   */
  static async openAsync(options: JSONCacheOptions & { dataId: string }): Promise<void> {
    if (typeof options?.dataId !== "string") throw new CacheOptionsError("JSONCache.openAsync needs the dataId of the cache to open: JSONCache.openAsync({ dataId: \"…\" })");
    const resolved = resolveOptions(options, options.dataId);
    await openStoreAsync({
      directory: resolved.directory,
      dataId: resolved.dataId,
      log: new CacheLog(resolved.logging, resolved.logger, resolved.logLevel),
      writeDelay: resolved.writeDelay,
      clear: false,
      maxEntries: resolved.maxEntries,
      refreshIntervalMs: resolved.refreshIntervalMs,
      fileMode: resolved.fileMode,
      directoryMode: resolved.directoryMode,
    });
  }

  /**
   * Writes every pending change and folds every journal into its cache file, so each JSON file alone
   * holds everything: what the Python library reads, or what you copy or commit. (Folds happen on their
   * own shortly after writes to small caches, when a journal outgrows its file, and at exit as time
   * allows.) Resolves whether every file is complete; `false` while another process is folding one.
   */
  static compactAll(): Promise<boolean> {
    return compactAll();
  }
}

/** Links the stack of this dataId to its DynamoDB table (once per stack). */
function connectL2(stack: CacheStack, options: ResolvedOptions, log: CacheLog): void {
  const remote = stack.connect(
    (local) =>
      new L2Sync(
        createDynamoDBTier({
          table: options.dynamodbTable as string,
          log,
          endpoint: options.dynamodbEndpoint,
          region: options.dynamodbRegion,
          client: options.dynamodbClient,
          timeoutMs: options.dynamodbTimeout,
        }),
        options.dataId,
        local,
        { log, clearCheckMs: options.dynamodbClearCheck, stateText: () => attributesJson(local.variables) },
      ),
  );
  if (options.saveOnDel) exitSender.saveOnDel(remote);
}

/** The internals of a JSONCache instance, or `undefined` for anything else. */
export function cacheInternals(object: unknown): CacheInternals | undefined {
  return internalsOf(object);
}
