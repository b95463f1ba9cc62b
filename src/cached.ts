/**
 * `@Cached`: memoizes a method in its instance's store: a JSONCache subclass's own, or for any other
 * class a companion cache (cacheable.ts). One decorator for both dialects:
 * TC39 standard decorators (TypeScript 5+, esbuild) and `experimentalDecorators` (NestJS-style).
 *
 * The path of a call:
 * 1. build the key `name(args){}` (keys/call-key.ts);
 * 2. hit: the entry exists and is younger than the TTL → return it, synchronously (a Promise for
 *    async methods), status `"l1"`;
 * 3. miss, async: join a computation of the same key already under way, or start one;
 * 4. run the method; a throw or rejection propagates and nothing is cached (status `"miss"`: it ran);
 * 5. store the result (encoded once, written later with the next coalesced write), status `"miss"`.
 */
import { CacheOptionsError, CacheUsageError } from "./errors.js";
import { cacheInternals, type CacheInternals } from "./json-cache.js";
import { registerMethodTtl } from "./method-ttls.js";
import { pythonOrderCallKey } from "./keys/call-key.js";
import { keyOf } from "./call-guards.js";
import { companionInternals } from "./cacheable.js";
import { record, recordHit } from "./call-status.js";
import { resolveCachedOptions, type CachedOptions, type ResolvedCachedOptions } from "./options.js";
import type { StoredEntry } from "./store/local-file-store.js";
import { age, compute, describeError, type Call } from "./miss-path.js";

export type Method<This, Args extends unknown[], Return> = (this: This, ...args: Args) => Return;
/** An instance of any class; a class itself (the `this` of a static method) has a `prototype`, refused. */
type Instance = object & { readonly prototype?: never };

/**
 * The decorator `Cached()` returns; its overloads type-check under both decorator dialects. `Result`
 * and `Args` are those the options' callbacks were written for (`shouldCache`, `ttl`, `key`): the
 * decorated method must return `Result` (or a Promise of it) and take arguments assignable to `Args`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- unannotated callbacks accept any method, as before
export interface CachedDecorator<Result = any, Args extends unknown[] = any[]> {
  <This extends Instance, A extends Args, Return extends Result | PromiseLike<Result>>(
    method: Method<This, A, Return>,
    context: ClassMethodDecoratorContext<This, Method<This, A, Return>>,
  ): Method<This, A, Return>;
  <This extends Instance, Return extends Result>(
    getter: (this: This) => Return,
    context: ClassGetterDecoratorContext<This, Return>,
  ): (this: This) => Return;
  <F extends (...args: Args) => Result | PromiseLike<Result>>(target: Instance, propertyKey: string | symbol, descriptor: TypedPropertyDescriptor<F>): TypedPropertyDescriptor<F>;
  <T extends Result>(target: Instance, propertyKey: string | symbol, descriptor: TypedPropertyDescriptor<T>): TypedPropertyDescriptor<T>;
}

/**
 * Caches the results of a method (sync or async) or getter, persistently: in the instance's own cache
 * for a `JSONCache` subclass, else in a companion cache per instance (options from `@Cacheable`).
 *
 * ```ts
 * @Cached({ ttl: 0.25 }) async fetchUser(id: number) { return api.get(id); }
 * @Cached({ shouldCache: (user: User | null) => user !== null }) findUser(id: number) { ... }
 * ```
 * TypeScript cannot infer the callbacks' parameter types from the decorated method: annotate them,
 * and the method is checked against them (its result and arguments).
 * @throws {CacheOptionsError} at class definition when an option is invalid.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the method's types are not known when the factory is called
export function Cached<Result = any, Args extends unknown[] = any[]>(options?: CachedOptions<Result, Args>): CachedDecorator<Result, Args> {
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
  return decorator as CachedDecorator<Result, Args>;
}

function isStandardContext(context: unknown): context is ClassMethodDecoratorContext | ClassGetterDecoratorContext {
  return typeof context === "object" && context !== null && "kind" in context;
}

function staticError(name: string): CacheUsageError {
  return new CacheUsageError(`@Cached() on static ${name}: static methods have no instance to cache in; make it an instance method.`);
}

function leaseOnSyncError(name: string): CacheOptionsError {
  return new CacheOptionsError(`@Cached on ${name}: option "lease" needs an async method (declared \`async\`): a synchronous method cannot wait for another process's result. Declare it async, or remove "lease".`);
}

function cachedMethod(method: Method<unknown, unknown[], unknown>, name: string, config: ResolvedCachedOptions): Method<unknown, unknown[], unknown> {
  // An `async` method must return a Promise on a hit too, also for entries that do not say they came
  // from an async method (files written by the Python library).
  const asyncMethod = Object.prototype.toString.call(method) === "[object AsyncFunction]";
  if (config.leaseMs !== undefined && config.leaseMs > 0 && !asyncMethod) throw leaseOnSyncError(name);
  const { version, staleMs } = config;
  // The stack and TTL whose pairing was last recorded; held weakly, so no cache is kept alive.
  let notedStack: WeakRef<object> | undefined;
  let notedTtl = Number.NaN;
  return function cached(this: unknown, ...args: unknown[]): unknown {
    const internals = cacheInternals(this) ?? companionInternals(this, name);
    const key = keyOf(name, args, config);
    const { stack } = internals;
    if (config.clearCache) dropEarlierRuns(internals, name);
    const ttlMs = config.ttlMs ?? internals.options.ttlMs;
    if (notedTtl !== ttlMs || notedStack?.deref() !== stack) {
      // Each instance's TTL for this method (stale window included), so compaction only drops what
      // is expired for all of them.
      notedStack = new WeakRef(stack);
      notedTtl = ttlMs;
      stack.noteTtl(name, ttlMs + staleMs);
    }
    // Hit path: synchronous, no allocation beyond the key. Once per `refreshInterval` it first looks
    // at the file (a stat or two), so clears and results of other processes reach this one.
    const now = Date.now();
    let entry = stack.peek(key, now);
    if (entry !== undefined && (entry.meta?.ttlMs === undefined ? entry.meta?.version === version && now - entry.time < ttlMs : age(entry, ttlMs, version) < 0)) {
      // An async result from the file, before this process first read DynamoDB's clear times: it may
      // have been cleared on another machine meanwhile, so the call waits for that read (once).
      if (asyncMethod && entry.origin === "l1") {
        const clears = stack.clearsPending();
        if (clears !== undefined) {
          const again = () => cached.apply(this, args);
          return clears.then(again, again);
        }
      }
      const answer = serve(internals, entry, key, name, asyncMethod, ttlMs);
      if (answer !== UNDECODABLE) return answer;
    }
    // Another process sharing the file may have computed it: one stat tells whether to look.
    if (stack.lookAgain()) {
      entry = stack.entry(key);
      if (entry !== undefined && age(entry, ttlMs, version) < 0) {
        const answer = serve(internals, entry, key, name, asyncMethod, ttlMs);
        if (answer !== UNDECODABLE) return answer;
      }
    }
    // The Python library keys a dict in insertion order, ours sorted: a Python entry of this call is found too.
    const pythonKey = entry === undefined && config.key === undefined ? pythonOrderCallKey(name, args) : undefined;
    if (pythonKey !== undefined && (!asyncMethod || stack.clearsPending() === undefined)) {
      const pythonEntry = stack.entry(pythonKey);
      if (pythonEntry !== undefined && age(pythonEntry, ttlMs, version) < 0) {
        const answer = serve(internals, pythonEntry, pythonKey, name, asyncMethod, ttlMs);
        if (answer !== UNDECODABLE) return answer;
      }
    }
    const call: Call = { self: this, internals, method, name, key, args, ttlMs, config, asyncMethod, background: false };
    // Expired, but within the stale window: answer now, refresh in the background.
    if (entry !== undefined && staleMs > 0 && age(entry, ttlMs, version) < staleMs) {
      const answer = serveStale(call, entry);
      if (answer !== UNDECODABLE) {
        refreshInBackground(call);
        return answer;
      }
    }
    return compute(call);
  };
}


const UNDECODABLE = Symbol("undecodable");

/** Answers from a live entry, status `"l1"`; an entry whose stored form cannot be decoded is a miss. */
function serve(internals: CacheInternals, entry: StoredEntry, key: string, name: string, asyncMethod: boolean, ttlMs: number): unknown {
  let value: unknown;
  try {
    value = internals.stack.valueOf(entry);
  } catch {
    return UNDECODABLE;
  }
  recordHit(internals, key, name);
  internals.stack.served(key, entry, ttlMs);
  return entry.async || asyncMethod ? Promise.resolve(value) : value;
}

/** Answers with an expired entry still within the stale window: status `"stale"`. */
function serveStale(call: Call, entry: StoredEntry): unknown {
  let value: unknown;
  try {
    value = call.internals.stack.valueOf(entry);
  } catch {
    return UNDECODABLE;
  }
  record(call, "stale");
  return entry.async || call.asyncMethod ? Promise.resolve(value) : value;
}

/** One refresh of a stale key at a time; its failure keeps the stale value and is logged once. */
function refreshInBackground(call: Call): void {
  const { stack, log } = call.internals;
  if (stack.inflight.has(call.key)) return;
  const background: Call = { ...call, background: true };
  const failed = (error: unknown) => {
    log.once("warn", `refresh:${stack.path}:${call.name}`, `refreshing a stale result of ${call.name} failed (${describeError(error)}); the stale result is served until its window ends.`);
  };
  if (call.asyncMethod) {
    void (compute(background) as Promise<unknown>).catch(failed);
  } else {
    setImmediate(() => {
      try {
        compute(background);
      } catch (error) {
        failed(error);
      }
    });
  }
}

/**
 * `clearCache: true`: this method's results from earlier runs are dropped once per stack, as a clear
 * (persisted, and seen by every process sharing the file).
 */
function dropEarlierRuns(internals: CacheInternals, name: string): void {
  for (const key of internals.stack.clearEarlierRuns(name) ?? []) internals.statuses.delete(key);
}
