/**
 * The options of `JSONCache` and `@Cached`, documented here (this is the reference manual), and their
 * validation: a bad option fails at construction with an error that names it and the value given.
 */
import { CacheOptionsError } from "./errors.js";
import { durationToMs, type Duration } from "./duration.js";
import { isLogLevel, loggerProblem, LOG_LEVELS, type CacheLogger, type LogLevel } from "./logger.js";
import type { DynamoDBClient } from "./store/dynamodb/client-type.js";
import { isValidTableName } from "./store/dynamodb/table-name.js";

/** `lease: true`: how long a holder may compute before the others stop waiting for it. */
export const DEFAULT_LEASE_MS = 30_000;

const DEFAULT_DIRECTORY = "data/cache";
let defaultDirectory = DEFAULT_DIRECTORY;

/** Sets the `directory` of instances created from now on without one (`JSONCache.setDefaultDirectory`). */
export function setDefaultDirectory(directory: string | undefined): void {
  if (directory !== undefined && (typeof directory !== "string" || directory === "")) {
    throw new CacheOptionsError(`JSONCache.setDefaultDirectory: the directory must be a non-empty string (a folder path), or undefined for "${DEFAULT_DIRECTORY}"; got ${show(directory)}.`);
  }
  defaultDirectory = directory ?? DEFAULT_DIRECTORY;
}

export interface JSONCacheOptions {
  /**
   * Names this object's cache: its file is `<directory>/<dataId>.json` (made safe for the file system).
   * Instances with the same dataId and directory share one cache. Default: the class name.
   */
  dataId?: string;
  /**
   * Folder of the cache files, relative to the working directory at construction. Default `"data/cache"`,
   * or what `JSONCache.setDefaultDirectory()` set.
   */
  directory?: string;
  /** Start with an empty cache, ignoring what the file holds (the file is overwritten on the next write). Default `false`. */
  clearCache?: boolean;
  /**
   * How long cached results stay valid: days, fractions allowed (`0.25` = 6 hours), or a duration
   * string (`"6h"`, `"3d"`); `0` = never served from the cache, `Infinity` = never expires.
   * `@Cached({ ttl })` overrides it per method. Checked on each call against the time the result was
   * computed. Default `999` (days).
   */
  ttl?: Duration;
  /** Report problems (unreadable files, values that cannot be persisted, failed writes). Default `true`. */
  logging?: boolean;
  /**
   * The least important messages this instance reports: `"debug"` (every DynamoDB request), `"info"`
   * (table set-up, recovery), `"warn"`, `"error"` or `"silent"`. Default: the process's level
   * (`JSONCache.setLogLevel`), `"warn"` unless changed.
   */
  logLevel?: LogLevel;
  /**
   * Where this instance's messages go: `console`, pino, winston, a NestJS `Logger` — any object with
   * `warn`, `error` and `info` (or `log`). Default: the global logger (stderr unless
   * `JSONCache.setLogger` was called).
   */
  logger?: CacheLogger;
  /** Attribute names that are never written to the cache file nor restored from it (secrets, scratch data). */
  exclude?: readonly string[];
  /**
   * How long a change waits before it is written, in milliseconds, so a burst of misses becomes one write.
   * A crash loses at most this window; `await jsonCacheSave()` writes at once. Default `100`.
   */
  writeDelay?: number;
  /**
   * At most this many cached results are kept for this dataId; past it, the least recently used are
   * evicted (in memory and in the file). Instances sharing a dataId use the smallest bound any of them
   * sets. Default: no bound.
   */
  maxEntries?: number;
  /**
   * How stale this process's view of a cache shared with other processes may get, in milliseconds: a hit
   * looks at the file for their changes (their results, clears and prunes, the CLI's) at most this often
   * (one `stat` when nothing changed); a miss always looks. `0` looks on every hit. Default `1000`.
   */
  refreshInterval?: number;
  /**
   * Permission bits of cache files this library creates (an existing file keeps its own mode). Default
   * `0o600`: cached results often hold API responses and tokens, so only the owner may read them.
   */
  fileMode?: number;
  /** Permission bits of cache directories this library creates. Default `0o700`. */
  directoryMode?: number;
  /**
   * DynamoDB table of the shared L2 tier: results (and saved attributes) are shared with every machine
   * using the same table and dataId. Created when missing (pay per request, TTL on `ttl`). Needs
   * `@aws-sdk/client-dynamodb` and `@aws-sdk/lib-dynamodb` installed. Default: none (local only).
   */
  dynamodbTable?: string;
  /** With an L2 table: at normal process exit, also send L2 every result it may lack and the attributes last saved. Default `false`. */
  saveOnDel?: boolean;
  /** DynamoDB endpoint (e.g. `http://127.0.0.1:8000` for DynamoDB Local). Default: `AWS_ENDPOINT_URL_DYNAMODB`, then the SDK's own. */
  dynamodbEndpoint?: string;
  /** AWS region of the table. Default: the SDK's chain (`AWS_REGION`, profile…). */
  dynamodbRegion?: string;
  /**
   * A ready `DynamoDBClient` of `@aws-sdk/client-dynamodb` to use (its own timeouts and retries apply;
   * it is never destroyed by the library). Typed by its shape (`send`, `destroy`, `config`), so these
   * types do not need the SDK installed. The SDK's modules are still needed at run time: installed
   * beside the program, or registered with `JSONCache.useDynamoDBSdk()` by a bundled program.
   */
  dynamodbClient?: DynamoDBClient;
  /** How long one DynamoDB request may take before the call goes on without L2, in ms. Default `1000`. */
  dynamodbTimeout?: number;
  /**
   * With an L2 table: how often a process making calls reads this dataId's clear times from DynamoDB,
   * in ms, so that a clear on any machine (`jsonCacheClear`, `cacherator clear --dynamodb-table`) stops
   * this process from serving results computed before it. One small GetItem per dataId per interval,
   * only while calls are made. Default `10000`.
   */
  dynamodbClearCheck?: number;
  /**
   * The default `lease` of this instance's async cached methods (see `@Cached({ lease })`); methods that
   * are not `async` ignore it. Default: off.
   */
  lease?: boolean | Duration;
}

/**
 * `T`, not inferred from this position: a `key` function may take fewer parameters than the method
 * (`() => "all"`), so it must not narrow the arguments the method is checked against.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the distributive check that defers inference
type NotInferred<T> = [T][T extends any ? 0 : never];

export interface CachedOptions<Result = unknown, Args extends unknown[] = unknown[]> {
  /**
   * How long a result of this method stays valid: days (fractions allowed), a duration string
   * (`"90s"`, `"6h"`, `"3d"`, `"1h30m"`), or a function of the result and arguments returning either
   * (e.g. from an API's `expires_in`). Default: the instance's `ttl`.
   */
  ttl?: Duration | ((result: Result, args: Args) => Duration);
  /**
   * Stale-while-revalidate and fail-safe: for this long after a result expires, a call is answered at
   * once with the stale result (status `"stale"`) while one refresh runs in the background; and when
   * the method throws, the last result within this window is served instead of the error (logged
   * once). Days or a duration string. Default: off.
   */
  staleTtl?: Duration;
  /** Decides whether a result is cached (`false`: returned, not stored). Default: every result. */
  shouldCache?: (result: Result, args: Args) => boolean;
  /**
   * The key material of a call, for methods with arguments that are not data (an `AbortSignal`, a
   * logger, a request context): receives the call's arguments and returns what identifies the call.
   * The key is `name(<what it returns>,){}`, encoded like an argument, so `(url, signal) => url` gives
   * `fetch(url, signal)` the key of `fetch(url)`. Default: all the arguments.
   */
  key?: (...args: NotInferred<Args>) => unknown;
  /**
   * The meaning of the method's results: entries stored under another version are ignored (change it
   * when the method's results change meaning). Default: none.
   */
  version?: string | number;
  /**
   * Ignore this method's results from earlier runs: the first call of each key in this process runs
   * the method; later calls are served from the cache as usual. Default `false`.
   */
  clearCache?: boolean;
  /**
   * One computation per fleet, for an `async` method: on a miss, one process (of those sharing the cache
   * file, and of the machines sharing the DynamoDB table) runs the method while the others wait for its
   * result and read it from the shared tier. `true` = a 30 s lease; or how long a holder may take before
   * others stop waiting and run the method themselves (`"2m"`; numbers are days, as for `ttl`). A
   * holder whose method fails releases the lease and each waiter then runs the method itself; a holder
   * that dies is taken over. `false` turns off an instance-wide `lease`. A sync method cannot wait:
   * `lease` on one is a `CacheOptionsError`. Default: the instance's `lease`, else off.
   */
  lease?: boolean | Duration;
}

export interface ResolvedOptions {
  dataId: string;
  directory: string;
  clearCache: boolean;
  ttlMs: number;
  logging: boolean;
  logLevel: LogLevel | undefined;
  logger: CacheLogger | undefined;
  exclude: ReadonlySet<string>;
  writeDelay: number;
  maxEntries: number | undefined;
  refreshIntervalMs: number;
  fileMode: number;
  directoryMode: number;
  dynamodbTable: string | undefined;
  saveOnDel: boolean;
  dynamodbEndpoint: string | undefined;
  dynamodbRegion: string | undefined;
  dynamodbClient: unknown;
  dynamodbTimeout: number | undefined;
  dynamodbClearCheck: number | undefined;
  /** Lease of async methods in ms; 0 for none. */
  leaseMs: number;
}

const CACHE_OPTION_NAMES = [
  "dataId", "directory", "clearCache", "ttl", "logging", "logLevel", "logger", "exclude", "writeDelay", "maxEntries", "refreshInterval", "fileMode", "directoryMode", "dynamodbTable", "saveOnDel",
  "dynamodbEndpoint", "dynamodbRegion", "dynamodbClient", "dynamodbTimeout", "dynamodbClearCheck", "lease",
] as const satisfies readonly (keyof JSONCacheOptions)[];
const CACHED_OPTION_NAMES = ["ttl", "staleTtl", "shouldCache", "key", "version", "clearCache", "lease"] as const satisfies readonly (keyof CachedOptions)[];


export function resolveOptions(options: unknown, className: string): ResolvedOptions {
  const o = checkObject(options, "JSONCache options", CACHE_OPTION_NAMES) as JSONCacheOptions;
  const where = "JSONCache";
  if (o.dataId !== undefined && (typeof o.dataId !== "string" || o.dataId.length === 0)) {
    fail(where, "dataId", o.dataId, "a non-empty string");
  }
  if (o.directory !== undefined && typeof o.directory !== "string") fail(where, "directory", o.directory, "a string (a folder path)");
  if (o.exclude !== undefined && !(Array.isArray(o.exclude) && o.exclude.every((n) => typeof n === "string"))) {
    fail(where, "exclude", o.exclude, "an array of attribute names");
  }
  if (o.writeDelay !== undefined && !(typeof o.writeDelay === "number" && Number.isFinite(o.writeDelay) && o.writeDelay >= 0)) {
    fail(where, "writeDelay", o.writeDelay, "a number of milliseconds, 0 or more");
  }
  if (o.maxEntries !== undefined && !(Number.isSafeInteger(o.maxEntries) && o.maxEntries > 0)) {
    fail(where, "maxEntries", o.maxEntries, "a whole number of entries, 1 or more");
  }
  if (o.refreshInterval !== undefined && !(typeof o.refreshInterval === "number" && Number.isFinite(o.refreshInterval) && o.refreshInterval >= 0)) {
    fail(where, "refreshInterval", o.refreshInterval, "a number of milliseconds, 0 or more");
  }
  for (const mode of ["fileMode", "directoryMode"] as const) {
    if (o[mode] !== undefined && !(Number.isInteger(o[mode]) && (o[mode] as number) >= 0 && (o[mode] as number) <= 0o777)) {
      fail(where, mode, o[mode], "permission bits from 0 to 0o777, e.g. 0o600");
    }
  }
  if (o.logger !== undefined) {
    const problem = loggerProblem(o.logger);
    if (problem !== undefined) throw new CacheOptionsError(`${where}: option "logger" must be a logger ${LOGGER_SHAPES}; got ${problem}.`);
  }
  if (o.logLevel !== undefined && !isLogLevel(o.logLevel)) fail(where, "logLevel", o.logLevel, `one of ${LOG_LEVELS.map((l) => `"${l}"`).join(", ")}`);
  if (o.dynamodbTable !== undefined && !(typeof o.dynamodbTable === "string" && isValidTableName(o.dynamodbTable))) {
    fail(where, "dynamodbTable", o.dynamodbTable, "a DynamoDB table name: 3 to 255 letters, digits, '_', '-' or '.'");
  }
  for (const text of ["dynamodbEndpoint", "dynamodbRegion"] as const) {
    if (o[text] !== undefined && (typeof o[text] !== "string" || o[text] === "")) fail(where, text, o[text], "a non-empty string");
  }
  if (o.dynamodbTimeout !== undefined && !(typeof o.dynamodbTimeout === "number" && Number.isFinite(o.dynamodbTimeout) && o.dynamodbTimeout > 0)) {
    fail(where, "dynamodbTimeout", o.dynamodbTimeout, "a number of milliseconds above 0");
  }
  if (o.dynamodbClearCheck !== undefined && !(typeof o.dynamodbClearCheck === "number" && Number.isFinite(o.dynamodbClearCheck) && o.dynamodbClearCheck >= 100)) {
    fail(where, "dynamodbClearCheck", o.dynamodbClearCheck, "a number of milliseconds of at least 100");
  }
  if (o.dynamodbClient !== undefined && (typeof o.dynamodbClient !== "object" || o.dynamodbClient === null || typeof (o.dynamodbClient as { send?: unknown }).send !== "function")) {
    fail(where, "dynamodbClient", o.dynamodbClient, "a DynamoDBClient from @aws-sdk/client-dynamodb");
  }
  for (const flag of ["clearCache", "logging", "saveOnDel"] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== "boolean") fail(where, flag, o[flag], "true or false");
  }
  return {
    dataId: o.dataId ?? (className || "JSONCache"),
    directory: o.directory ?? defaultDirectory,
    clearCache: o.clearCache ?? false,
    ttlMs: ttlToMs(o.ttl ?? 999, where),
    logging: o.logging ?? true,
    logLevel: o.logLevel,
    logger: o.logger,
    exclude: new Set(o.exclude ?? []),
    writeDelay: o.writeDelay ?? 100,
    maxEntries: o.maxEntries,
    refreshIntervalMs: o.refreshInterval ?? 1000,
    fileMode: o.fileMode ?? 0o600,
    directoryMode: o.directoryMode ?? 0o700,
    dynamodbTable: o.dynamodbTable,
    saveOnDel: o.saveOnDel ?? false,
    dynamodbEndpoint: o.dynamodbEndpoint,
    dynamodbRegion: o.dynamodbRegion,
    dynamodbClient: o.dynamodbClient,
    dynamodbTimeout: o.dynamodbTimeout,
    dynamodbClearCheck: o.dynamodbClearCheck,
    leaseMs: o.lease === undefined ? 0 : leaseToMs(o.lease, where),
  };
}

export interface ResolvedCachedOptions {
  ttlMs: number | undefined;
  ttlOf: ((result: unknown, args: unknown[]) => unknown) | undefined;
  staleMs: number;
  shouldCache: ((result: unknown, args: unknown[]) => boolean) | undefined;
  key: ((...args: unknown[]) => unknown) | undefined;
  version: string | undefined;
  clearCache: boolean;
  /** The method's lease in ms (0: explicitly none); `undefined`: the instance's. */
  leaseMs: number | undefined;
}

export function resolveCachedOptions(options: unknown, method: string): ResolvedCachedOptions {
  const o = checkObject(options, `@Cached options of ${method}`, CACHED_OPTION_NAMES) as CachedOptions;
  const where = `@Cached on ${method}`;
  if (o.clearCache !== undefined && typeof o.clearCache !== "boolean") fail(where, "clearCache", o.clearCache, "true or false");
  if (o.shouldCache !== undefined && typeof o.shouldCache !== "function") fail(where, "shouldCache", o.shouldCache, "a function (result, args) => boolean");
  if (o.key !== undefined && typeof o.key !== "function") fail(where, "key", o.key, "a function (...args) => the data that identifies the call");
  if (o.version !== undefined && !(typeof o.version === "string" || (typeof o.version === "number" && Number.isFinite(o.version)))) {
    fail(where, "version", o.version, "a string or a number");
  }
  const computed = typeof o.ttl === "function";
  return {
    ttlMs: o.ttl === undefined || computed ? undefined : ttlToMs(o.ttl, where),
    ttlOf: computed ? (o.ttl as (result: unknown, args: unknown[]) => unknown) : undefined,
    staleMs: o.staleTtl === undefined ? 0 : ttlToMs(o.staleTtl, where, "staleTtl"),
    shouldCache: o.shouldCache as ResolvedCachedOptions["shouldCache"],
    key: o.key as ResolvedCachedOptions["key"],
    version: o.version === undefined ? undefined : String(o.version),
    clearCache: o.clearCache ?? false,
    leaseMs: o.lease === undefined ? undefined : leaseToMs(o.lease, where),
  };
}

/** `lease`: `true` (the default duration), `false` (none), or a duration above 0, in ms. */
function leaseToMs(lease: unknown, where: string): number {
  if (typeof lease === "boolean") return lease ? DEFAULT_LEASE_MS : 0;
  const ms = durationToMs(lease);
  if (typeof ms === "string" || !(ms > 0 && Number.isFinite(ms))) {
    fail(where, "lease", lease, `true, false, or how long a holder may compute before others stop waiting: a duration such as "30s" or "2m" (numbers are days)`);
  }
  return ms;
}

/** A TTL (days or duration string) in ms; a bad one fails naming the option and the value. */
export function ttlToMs(ttl: unknown, where: string, option = "ttl"): number {
  const ms = durationToMs(ttl);
  if (typeof ms === "string") {
    fail(where, option, ttl, `a number of days, 0 or more (0.25 = 6 hours; Infinity = never expires), or a duration such as "90s", "6h" or "3d" — ${ms}`);
  }
  return ms;
}

/** What a logger must look like, for messages. */
export const LOGGER_SHAPES = "(console, pino, winston, a NestJS Logger): an object with warn, error and info (or log) methods";

/** Checks a logger given to `JSONCache.setLogger`. */
export function checkLogger(logger: unknown, where: string): asserts logger is CacheLogger {
  const problem = loggerProblem(logger);
  if (problem !== undefined) throw new CacheOptionsError(`${where}: the logger must be a logger ${LOGGER_SHAPES}; got ${problem}.`);
}

/** Checks a level given to `JSONCache.setLogLevel`. */
export function checkLogLevel(level: unknown, where: string): asserts level is LogLevel {
  if (!isLogLevel(level)) throw new CacheOptionsError(`${where}: the level must be one of ${LOG_LEVELS.map((l) => `"${l}"`).join(", ")}; got ${show(level)}.`);
}

function checkObject(options: unknown, what: string, known: readonly string[]): object {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new CacheOptionsError(`${what} must be an object, got ${show(options)}.`);
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw new CacheOptionsError(`${what}: unknown option "${name}". Known options: ${known.join(", ")}.`);
    }
  }
  return options;
}

function fail(where: string, option: string, value: unknown, expected: string): never {
  throw new CacheOptionsError(`${where}: option "${option}" must be ${expected}; got ${show(value)}.`);
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint" || value == null) return String(value);
  if (Array.isArray(value)) return "an array";
  if (typeof value === "function") return "a function";
  return typeof value === "symbol" ? "a symbol" : "an object";
}
