/**
 * `cached(fn, options)`: the caching of `@Cached` for a plain function (scripts, functional code).
 *
 * Built on the class machinery rather than beside it: each `cached()` call defines a one-method
 * JSONCache subclass whose method, named after the function, calls `fn`; decorates it with `Cached` in
 * the legacy form; and creates one instance. Keys (`name(args){}`), the file, TTLs, deduplication of
 * concurrent calls, status and the L2 tier are therefore exactly those of a decorated method.
 */
import { Cached } from "./cached.js";
import { CacheOptionsError } from "./errors.js";
import { functionOfKey } from "./keys/call-key.js";
import { cacheInternals, JSONCache, type CacheStats, type CacheStatus } from "./json-cache.js";
import { defaultDataId, FUNCTION_NAME, noteDataIdUse } from "./data-id-guard.js";
import type { CachedOptions, JSONCacheOptions } from "./options.js";

/** Any function; `never[]` parameters accept every signature without `any`. */
type AnyFunction = (...args: never[]) => unknown;

/**
 * The options of `cached()`: those of `JSONCache` for the cache (file, directory, L2…) and those of
 * `@Cached` for the function (`ttl`, `clearCache`…, which win where both have an option of that name).
 */
export interface CachedFunctionOptions<F extends AnyFunction = AnyFunction>
  extends Omit<JSONCacheOptions, keyof CachedOptions>, CachedOptions<Awaited<ReturnType<F>>, Parameters<F>> {
  /**
   * The function's name in call keys (`name(args){}`), in `clear()` and in stats. Default: `fn.name`;
   * required for an anonymous function unless `dataId` is given.
   */
  name?: string;
}

/** A function returned by `cached()`: the function itself, plus its cache's status and management. */
export type CachedFunction<F extends AnyFunction> = F & {
  /** Status of the most recent call; `null` before the first call in this process. */
  readonly lastCacheStatus: CacheStatus | null;
  /** Status of each call signature of this function (keys loaded from the file are `"l1"` until called). */
  readonly cacheStatus: Record<string, CacheStatus>;
  /** Removes this function's cached results (other functions sharing the dataId keep theirs); resolves once written. */
  clear(): Promise<boolean>;
  /** Writes pending results now; resolves `true` once on disk (and in DynamoDB, with a table). */
  save(): Promise<boolean>;
  /** Live (unexpired) results of this function. */
  stats(): CacheStats;
  /** With a DynamoDB table: copies the results DynamoDB holds into the local cache (see `jsonCachePreload`). */
  preload(): ReturnType<JSONCache["jsonCachePreload"]>;
  /** The underlying JSONCache instance, for anything else. */
  readonly cache: JSONCache;
};

/**
 * Where each option goes. A `Record` over every option name, so an option added to `JSONCacheOptions`
 * or `CachedOptions` fails to compile here until it is routed.
 */
const OPTION_TARGETS: Record<keyof CachedFunctionOptions, "instance" | "method" | "name"> = {
  dataId: "instance",
  directory: "instance",
  logging: "instance",
  logLevel: "instance",
  logger: "instance",
  exclude: "instance",
  writeDelay: "instance",
  maxEntries: "instance",
  refreshInterval: "instance",
  fileMode: "instance",
  directoryMode: "instance",
  dynamodbTable: "instance",
  saveOnDel: "instance",
  dynamodbEndpoint: "instance",
  dynamodbRegion: "instance",
  dynamodbClient: "instance",
  dynamodbTimeout: "instance",
  dynamodbClearCheck: "instance",
  ttl: "method",
  staleTtl: "method",
  shouldCache: "method",
  key: "method",
  version: "method",
  clearCache: "method",
  lease: "method",
  name: "name",
};

/**
 * Caches a plain function's results persistently, as `@Cached` does for methods: the same keys, file,
 * TTL, status and L2 tier. A sync function stays sync (a hit returns the value); an async one returns
 * Promises, and concurrent identical calls run it once. `this` inside `fn` is `undefined`.
 *
 * ```ts
 * const fetchUser = cached(async (id: number) => api.get(id), { name: "fetchUser", ttl: "6h" });
 * await fetchUser(1); // runs; fetchUser(1) is now served from data/cache/fetchuser.json
 * // (the file name is the Python library's slug of the dataId; pass `dataId: "users"` for users.json)
 * ```
 * @throws {CacheOptionsError} when `fn` is not a function, an option is invalid or unknown, or no
 * name can be found (an anonymous function without `name`).
 */
export function cached<F extends AnyFunction>(fn: F, options?: CachedFunctionOptions<F>): CachedFunction<F> {
  if (typeof fn !== "function") throw new CacheOptionsError(`cached(fn): fn must be a function; got ${describe(fn)}.`);
  const { instanceOptions, methodOptions, name } = splitOptions(options as Record<string, unknown> | undefined, fn);

  // Plain functions have no receiver; an async one gets an async method, so hits return Promises.
  const method = isAsyncFunction(fn)
    ? async (...args: unknown[]) => Reflect.apply(fn, undefined, args) as unknown
    : (...args: unknown[]) => Reflect.apply(fn, undefined, args) as unknown;
  // Named for the messages that name the class of a cached method ("cached.fetchUser returned …").
  const FunctionCache = class extends JSONCache {};
  Object.defineProperty(FunctionCache, "name", { value: "cached" });
  // Functions sharing a dataId by design do not conflict unless they share a name.
  Object.defineProperty(FunctionCache, FUNCTION_NAME, { value: name });
  const prototype = FunctionCache.prototype;
  const descriptor: PropertyDescriptor = { value: method, writable: true, enumerable: false, configurable: true };
  Object.defineProperty(prototype, name, Cached(methodOptions as CachedOptions)(prototype, name, descriptor));

  const cache = new FunctionCache(instanceOptions as JSONCacheOptions);
  const internals = cacheInternals(cache);
  if (internals !== undefined && options?.name === undefined && options?.dataId === undefined) {
    // The function's own name names its keys and file: a minifier's name is a shared, unstable one.
    const { dataId, directory } = internals.options;
    noteDataIdUse({ dataId, directory, defaultFrom: fn.name, kind: "function", owner: FunctionCache, log: internals.log });
  }
  const cachedMethod = (cache as unknown as Record<string, (...args: unknown[]) => unknown>)[name] as (...args: unknown[]) => unknown;
  const wrapper = function (...args: unknown[]): unknown {
    return Reflect.apply(cachedMethod, cache, args);
  };
  Object.defineProperties(wrapper, {
    name: { value: fn.name || name, configurable: true },
    length: { value: fn.length, configurable: true },
    lastCacheStatus: { get: () => cache.lastCacheStatus, enumerable: true },
    cacheStatus: { get: () => statusOf(cache, name), enumerable: true },
    clear: { value: () => cache.jsonCacheClear(name) },
    save: { value: () => cache.jsonCacheSave() },
    stats: { value: () => statsOf(cache, name) },
    preload: { value: () => cache.jsonCachePreload() },
    cache: { value: cache, enumerable: true },
  });
  return wrapper as unknown as CachedFunction<F>;
}

interface SplitOptions {
  instanceOptions: Record<string, unknown>;
  methodOptions: Record<string, unknown>;
  name: string;
}

/** Validates the option names and the function's name, and routes each option to the instance or the method. */
function splitOptions(options: Record<string, unknown> | undefined, fn: AnyFunction): SplitOptions {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    throw new CacheOptionsError(`cached(${fn.name || "fn"}, options): options must be an object; got ${describe(options)}.`);
  }
  const given = options ?? {};
  const unknown = Object.keys(given).filter((key) => !Object.hasOwn(OPTION_TARGETS, key));
  if (unknown.length > 0) {
    throw new CacheOptionsError(
      `cached(${fn.name || "fn"}) options: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.map((key) => `"${key}"`).join(", ")}. ` +
        `Known options: ${Object.keys(OPTION_TARGETS).join(", ")}.`,
    );
  }
  if (given.name !== undefined && (typeof given.name !== "string" || given.name === "")) {
    throw new CacheOptionsError(`cached(${fn.name || "fn"}): option "name" must be a non-empty string; got ${describe(given.name)}.`);
  }
  // The key name and the dataId each default to the function's name, else to one another.
  const name = given.name ?? (fn.name || given.dataId);
  if (name === undefined) {
    throw new CacheOptionsError(`cached(fn): an anonymous function needs a name for its cache keys and file: pass { name: "..." } (and/or { dataId: "..." }).`);
  }
  if (typeof name !== "string" || name === "" || name.includes("(") || name in JSONCache.prototype) {
    throw new CacheOptionsError(
      `cached(): ${describe(name)} cannot name a cached function in its keys (it must be a non-empty string without "(" and not a JSONCache member such as "constructor"); pass { name: "..." }.`,
    );
  }
  const instanceOptions: Record<string, unknown> = {};
  const methodOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    const target = OPTION_TARGETS[key as keyof CachedFunctionOptions];
    if (target === "instance") instanceOptions[key] = value;
    else if (target === "method") methodOptions[key] = value;
  }
  instanceOptions.dataId ??= fn.name ? defaultDataId(fn.name, [Function.prototype.toString.call(fn)]) : name;
  return { instanceOptions, methodOptions, name };
}

function isAsyncFunction(fn: AnyFunction): boolean {
  return Object.prototype.toString.call(fn) === "[object AsyncFunction]";
}

/** The status of this function's call signatures only (a dataId can be shared by several functions). */
function statusOf(cache: JSONCache, name: string): Record<string, CacheStatus> {
  const out: Record<string, CacheStatus> = {};
  for (const [key, status] of Object.entries(cache.cacheStatus)) {
    if (functionOfKey(key) === name) out[key] = status;
  }
  return out;
}

function statsOf(cache: JSONCache, name: string): CacheStats {
  const count = cache.jsonCacheStats().functions[name] ?? 0;
  return { totalEntries: count, functions: count > 0 ? { [name]: count } : {} };
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return typeof value === "function" ? "a function" : String(value);
  return Array.isArray(value) ? "an array" : "an object";
}
