export { JSONCache, type CacheStats, type CacheStatus } from "./json-cache.js";
export { Cached, type CachedDecorator } from "./cached.js";
export { cached, type CachedFunction, type CachedFunctionOptions } from "./cached-function.js";
export type { JSONCacheOptions, CachedOptions } from "./options.js";
export type { CacheLogger } from "./logger.js";
export type { CacheEvent, CacheEventName, CacheMetrics } from "./events.js";
export type { Duration } from "./duration.js";
export { CACHE_IDENTITY } from "./keys/python-repr.js";
export { CacheratorError, CacheOptionsError, CacheUsageError, UncacheableArgumentError } from "./errors.js";
