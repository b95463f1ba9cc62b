/**
 * Error classes, one per kind of failure a caller can act on. Each message says what was wrong and
 * what to do about it.
 */

/** Base class of every error cacherator throws. */
export class CacheratorError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An option passed to `JSONCache` or `@Cached` is invalid (wrong type, out of range, unknown). */
export class CacheOptionsError extends CacheratorError {}

/**
 * A cached method was called with an argument that cannot be part of a call key (a function, a
 * symbol, a circular structure). Arguments that are not data (an `AbortSignal`, a logger) are left
 * out of the key with the `key` option of `@Cached` / `cached()`.
 */
export class UncacheableArgumentError extends CacheratorError {}

/**
 * `@Cached` or `@Cacheable` was used where it cannot work (a static method, a method called without its
 * object, `@Cacheable` on a JSONCache subclass, or a JSONCache of another copy of the library: its ES
 * module and CommonJS build both loaded).
 */
export class CacheUsageError extends CacheratorError {}
