/**
 * The checks at the start of a cached call, with errors that say what to do:
 * - the call key, from the arguments or from the method's `key` option; an argument that cannot be
 *   part of a key names its position and points to `key`;
 * - the receiver: an object (a JSONCache of this copy, or of any class, cached in a companion). A
 *   method called without its object, and a JSONCache of another copy (the ES module and the CommonJS
 *   build both loaded, or two installed versions), are named as such.
 */
import { CacheUsageError, UncacheableArgumentError } from "./errors.js";
import { JSONCache } from "./json-cache.js";
import { callKey } from "./keys/call-key.js";
import type { ResolvedCachedOptions } from "./options.js";

/** Marks JSONCache instances of every copy of the library, with the file the copy was loaded from. */
const COPY = Symbol.for("cacherator.copy");
Object.defineProperty(JSONCache.prototype, COPY, { value: import.meta.url, enumerable: false });

/** The key of a call: from the arguments, or from what the `key` option makes of them. */
export function keyOf(name: string, args: unknown[], config: Pick<ResolvedCachedOptions, "key">): string {
  if (config.key !== undefined) {
    const material = config.key(...args);
    try {
      return callKey(name, [material]);
    } catch (error) {
      if (!(error instanceof UncacheableArgumentError)) throw error;
      throw new UncacheableArgumentError(`${name}(…): the key option returned a value that cannot be part of a cache key: ${error.message} Return plain data (strings, numbers, plain objects).`, { cause: error });
    }
  }
  try {
    return callKey(name, args);
  } catch (error) {
    if (!(error instanceof UncacheableArgumentError)) throw error;
    const position = args.findIndex((arg) => {
      try {
        callKey(name, [arg]);
        return false;
      } catch {
        return true;
      }
    });
    const which = position >= 0 ? `argument ${position + 1} of ${args.length}` : "an argument";
    throw new UncacheableArgumentError(
      `${name}(…): ${which}: ${error.message} If this argument is not data that identifies the call (an AbortSignal, a logger, ` +
        `a request context), name what does with the key option: @Cached({ key: (...args) => … }) or cached(fn, { key }), ` +
        `e.g. key: (url, signal) => url.`,
      { cause: error },
    );
  }
}

/** The error for a cached method called without an object, or on a JSONCache of another copy. */
export function notAnInstanceError(receiver: unknown, name: string): CacheUsageError {
  const other = typeof receiver === "object" && receiver !== null ? (receiver as Record<symbol, unknown>)[COPY] : undefined;
  if (typeof other === "string" && other !== import.meta.url) {
    return new CacheUsageError(
      `@Cached() on ${name}: the object is a JSONCache of another copy of cacherator (${other}) than this @Cached (${import.meta.url}). ` +
        `Two copies of the library are loaded: usually its ES module and its CommonJS build (one file imports "cacherator", ` +
        `another requires it), or two installed versions. Load it one way everywhere (import, or require), and check ` +
        `\`npm ls cacherator\` for a second version.`,
    );
  }
  if (typeof receiver !== "object" || receiver === null) {
    return new CacheUsageError(
      `@Cached() on ${name}: the method was called without its object (\`this\` is ${receiver === null ? "null" : typeof receiver}), ` +
        `as happens to a method passed on as a callback. Call it on the instance (service.${name}(…)), or pass a bound method (service.${name}.bind(service)).`,
    );
  }
  return new CacheUsageError(`@Cached() on ${name}: the object is a plain object, or its class cannot be told (no constructor on its prototype): it has no cached methods. Call it on an instance of the class that declares the method.`);
}
