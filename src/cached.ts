/**
 * `@Cached`: memoizes a method of a JSONCache subclass in its store. One decorator for both dialects:
 * TC39 standard decorators (TypeScript 5+, esbuild) and `experimentalDecorators` (NestJS-style).
 *
 * The path of a call:
 * 1. build the key `name(args){}` (keys/call-key.ts);
 * 2. hit: the entry exists and is younger than the TTL → return it, synchronously (a Promise for
 *    async methods), status `"l1"`;
 * 3. miss, async: join a computation of the same key already under way, or start one;
 * 4. run the method; a throw or rejection propagates and nothing is cached;
 * 5. store the result (encoded once, written later with the next coalesced write), status `"miss"`.
 */
import { encodeValue, UnencodableValueError } from "./codec.js";
import { CacheUsageError } from "./errors.js";
import { cacheInternals, type CacheInternals, type CacheStatus, type JSONCache } from "./json-cache.js";
import { registerMethodTtl } from "./method-ttls.js";
import { callKey, functionOfKey } from "./keys/call-key.js";
import { resolveCachedOptions, type CachedOptions, type ResolvedCachedOptions } from "./options.js";
import type { StoredEntry } from "./store/local-file-store.js";

type Method<This, Args extends unknown[], Return> = (this: This, ...args: Args) => Return;

/** The decorator `Cached()` returns; its overloads type-check under both decorator dialects. */
export interface CachedDecorator {
  <This extends JSONCache, Args extends unknown[], Return>(
    method: Method<This, Args, Return>,
    context: ClassMethodDecoratorContext<This, Method<This, Args, Return>>,
  ): Method<This, Args, Return>;
  <This extends JSONCache, Return>(
    getter: (this: This) => Return,
    context: ClassGetterDecoratorContext<This, Return>,
  ): (this: This) => Return;
  (target: JSONCache, propertyKey: string | symbol, descriptor: PropertyDescriptor): PropertyDescriptor;
}

/**
 * Caches the results of a method (sync or async) or getter of a `JSONCache` subclass, persistently.
 *
 * ```ts
 * @Cached({ ttl: 0.25 }) async fetchUser(id: number) { return api.get(id); }
 * ```
 * @throws {CacheOptionsError} at class definition when an option is invalid.
 */
export function Cached(options?: CachedOptions): CachedDecorator {
  const decorator = (value: unknown, context: unknown, descriptor?: PropertyDescriptor): unknown => {
    if (isStandardContext(context)) {
      const name = String(context.name);
      if (context.static) throw staticError(name);
      const config = resolveCachedOptions(options, name);
      const ttlMs = config.ttlMs;
      if (ttlMs !== undefined) {
        // Standard decorators never see the class; its prototype is known once an instance exists.
        context.addInitializer(function (this: unknown) {
          registerMethodTtl(Object.getPrototypeOf(this) as object, name, ttlMs);
        });
      }
      return cachedMethod(value as Method<unknown, unknown[], unknown>, name, config);
    }
    // experimentalDecorators: (prototype, name, descriptor)
    const name = String(context);
    if (typeof value === "function") throw staticError(name);
    if (descriptor === undefined) throw new CacheUsageError(`@Cached() on ${name}: only methods and getters can be cached.`);
    const config = resolveCachedOptions(options, name);
    if (config.ttlMs !== undefined) registerMethodTtl(value as object, name, config.ttlMs);
    if (typeof descriptor.value === "function") {
      descriptor.value = cachedMethod(descriptor.value as Method<unknown, unknown[], unknown>, name, config);
    } else if (descriptor.get !== undefined) {
      descriptor.get = cachedMethod(descriptor.get, name, config);
    } else {
      throw new CacheUsageError(`@Cached() on ${name}: only methods and getters can be cached.`);
    }
    return descriptor;
  };
  return decorator as CachedDecorator;
}

function isStandardContext(context: unknown): context is ClassMethodDecoratorContext | ClassGetterDecoratorContext {
  return typeof context === "object" && context !== null && "kind" in context;
}

function staticError(name: string): CacheUsageError {
  return new CacheUsageError(`@Cached() on static ${name}: static methods have no JSONCache instance to cache in; make it an instance method.`);
}

function cachedMethod(method: Method<unknown, unknown[], unknown>, name: string, config: ResolvedCachedOptions): Method<unknown, unknown[], unknown> {
  // An `async` method must return a Promise on a hit too, also for entries that do not say they came
  // from an async method (files written by the Python library).
  const asyncMethod = Object.prototype.toString.call(method) === "[object AsyncFunction]";
  // The store and TTL whose pairing was last recorded; held weakly, so no cache is kept alive.
  let notedStore: WeakRef<object> | undefined;
  let notedTtl = Number.NaN;
  return function cached(this: unknown, ...args: unknown[]): unknown {
    const internals = cacheInternals(this);
    if (internals === undefined) {
      throw new CacheUsageError(`@Cached() on ${name}: the method was called on an object that is not a JSONCache instance. Extend JSONCache, and call the method on an instance.`);
    }
    const key = callKey(name, args);
    const { store } = internals;
    if (config.clearCache && !store.clearedFunctions.has(name)) dropEarlierRuns(internals, name);
    const ttlMs = config.ttlMs ?? internals.options.ttlMs;
    if (notedTtl !== ttlMs || notedStore?.deref() !== store) {
      // Each instance's TTL for this method, so compaction only drops what is expired for all of them.
      notedStore = new WeakRef(store);
      notedTtl = ttlMs;
      store.noteTtl(name, ttlMs);
    }
    // Hit path: synchronous, no I/O, no allocation beyond the key.
    let entry = store.entries.get(key);
    if (entry !== undefined && Date.now() - entry.time < ttlMs) {
      const answer = serve(internals, entry, key, asyncMethod, ttlMs);
      if (answer !== UNDECODABLE) return answer;
    }
    // Another process sharing the file may have computed it: one stat tells whether to look.
    if (store.refresh()) {
      entry = store.entries.get(key);
      if (entry !== undefined && Date.now() - entry.time < ttlMs) {
        const answer = serve(internals, entry, key, asyncMethod, ttlMs);
        if (answer !== UNDECODABLE) return answer;
      }
    }
    const call: Call = { self: this, internals, method, name, key, args, ttlMs };
    // An async method can wait for DynamoDB; a sync one cannot (it runs, then writes behind).
    if (asyncMethod && store.l2 !== undefined) return missThroughL2(call);
    return miss(call);
  };
}

const UNDECODABLE = Symbol("undecodable");

/** Answers from a live entry, status `"l1"`; an entry whose stored form cannot be decoded is a miss. */
function serve(internals: CacheInternals, entry: StoredEntry, key: string, asyncMethod: boolean, ttlMs: number): unknown {
  let value: unknown;
  try {
    value = internals.store.valueOf(entry);
  } catch {
    return UNDECODABLE;
  }
  internals.statuses.set(key, "l1");
  internals.last = "l1";
  const { store } = internals;
  if (store.maxEntries !== undefined) store.touch(key, entry);
  if (store.l2 !== undefined) store.l2.backfill(key, entry, ttlMs);
  return entry.async || asyncMethod ? Promise.resolve(value) : value;
}

/** `clearCache: true`: this method's results from earlier runs are dropped once per store. */
function dropEarlierRuns(internals: CacheInternals, name: string): void {
  const { store } = internals;
  store.clearedFunctions.add(name);
  for (const [key, entry] of store.entries) {
    if (entry.origin !== "process" && functionOfKey(key) === name) {
      store.entries.delete(key);
      internals.statuses.delete(key);
    }
  }
  store.markDirty();
}

interface Call {
  self: unknown;
  internals: CacheInternals;
  method: Method<unknown, unknown[], unknown>;
  name: string;
  key: string;
  args: unknown[];
  ttlMs: number;
}

/** Answers of async misses under way, shared by concurrent identical calls. */
interface Answer {
  value: unknown;
  status: CacheStatus;
}

/** Joins a computation of the same key under way (possibly by another instance of this dataId). */
function join(call: Call): Promise<unknown> | undefined {
  const running = call.internals.store.inflight.get(call.key) as Promise<Answer> | undefined;
  return running?.then((answer) => {
    record(call.internals, call.key, answer.status);
    return answer.value;
  });
}

/** Registers an async computation so concurrent identical calls share it; answers the caller. */
function share(call: Call, answer: Promise<Answer>): Promise<unknown> {
  const { inflight } = call.internals.store;
  const done = () => {
    if (inflight.get(call.key) === answer) inflight.delete(call.key);
  };
  answer.then(done, done);
  inflight.set(call.key, answer);
  return answer.then((result) => {
    record(call.internals, call.key, result.status);
    return result.value;
  });
}

function miss(call: Call): unknown {
  const joined = join(call);
  if (joined !== undefined) return joined;
  const result = call.method.apply(call.self, call.args);
  if (!isThenable(result)) {
    remember(call, result, false);
    record(call.internals, call.key, "miss");
    return result;
  }
  return share(
    call,
    Promise.resolve(result).then((value) => {
      remember(call, value, true);
      return { value, status: "miss" as const };
    }),
  );
}

/** An async miss with an L2 tier: DynamoDB first (bounded by its timeout), then the method. */
function missThroughL2(call: Call): Promise<unknown> {
  const joined = join(call);
  if (joined !== undefined) return joined;
  const { store } = call.internals;
  const l2 = store.l2 as NonNullable<typeof store.l2>;
  return share(
    call,
    l2.lookup(call.key, call.ttlMs).then(async (entry): Promise<Answer> => {
      if (entry !== undefined) {
        try {
          return { value: store.valueOf(entry), status: "l2" };
        } catch {
          // An entry that cannot be decoded is a miss.
        }
      }
      const value = await call.method.apply(call.self, call.args);
      remember(call, value, true);
      return { value, status: "miss" };
    }),
  );
}

function record(internals: CacheInternals, key: string, status: CacheStatus): void {
  internals.statuses.set(key, status);
  internals.last = status;
}

/**
 * Stores a computed result in L1 (written later, coalesced) and sends it to L2 if there is one; a value
 * that cannot be encoded stays in memory for this process only.
 */
function remember(call: Call, value: unknown, async: boolean): void {
  const { store, log } = call.internals;
  const time = Date.now();
  let raw: unknown;
  let persistent = true;
  try {
    raw = encodeValue(value);
  } catch (error) {
    if (!(error instanceof UnencodableValueError)) throw error;
    persistent = false;
    const className = (call.self as object).constructor.name;
    log.once("warn", `unencodable:${store.path}:${call.name}`, `${className}.${call.name} returned a value that cannot be written to the cache file: ${error.reason}. It is cached in memory for this process only.`);
  }
  const entry: StoredEntry = { time, async, origin: "process", value, decoded: true, raw, text: undefined, persistent };
  store.set(call.key, entry);
  if (persistent && store.l2 !== undefined) store.l2.write(call.key, JSON.stringify(raw), time, async, call.ttlMs);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null && typeof (value as { then?: unknown }).then === "function";
}
