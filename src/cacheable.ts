/**
 * `@Cached` on a class that does not extend JSONCache (a NestJS service, a class that extends something
 * else): its results live in a companion cache, one per instance.
 *
 * - The companion is a JSONCache of a generated subclass, created on the instance's first cached call
 *   (or its first `cacheOf()`), and held in a WeakMap keyed by the instance: nothing is added to the
 *   instance, and the companion lives exactly as long as it does.
 * - Its options come from `@Cacheable({...})` on the class (or the nearest decorated superclass);
 *   without it, the defaults of JSONCache, the dataId being the class name (hashed when it looks
 *   minified, as for JSONCache). One cache file per dataId, shared as for JSONCache subclasses.
 * - The generated classes mirror the user's hierarchy, so a subclass and its superclass sharing one
 *   dataId count as related (no "two unrelated classes" warning).
 * - Attributes are not persisted: that is JSONCache's, whose restore needs the constructor.
 * - `cacheOf(instance)` manages the cache of any instance, JSONCache subclasses included.
 */
import { CacheOptionsError, CacheUsageError } from "./errors.js";
import { cacheInternals, JSONCache, type CacheInternals, type CacheStats, type CacheStatus } from "./json-cache.js";
import { classCode, defaultDataId, looksMangled } from "./data-id-guard.js";
import { notAnInstanceError } from "./call-guards.js";
import { lendMethodTtls } from "./method-ttls.js";
import { resolveOptions, type JSONCacheOptions } from "./options.js";
import type { CacheMetrics } from "./events.js";

/**
 * The options of `@Cacheable`: those of `JSONCache` that concern cached results (the file, TTL, logging,
 * the DynamoDB tier). `exclude` is not one: only a JSONCache subclass persists attributes.
 */
export type CacheableOptions = Omit<JSONCacheOptions, "exclude">;

type AnyClass = abstract new (...args: never[]) => object;

/** The decorator `Cacheable()` returns; its overloads type-check under both decorator dialects. */
export interface CacheableDecorator {
  <C extends AnyClass>(value: C, context: ClassDecoratorContext<C>): void;
  <C extends AnyClass>(target: C): void;
}

/** Options given by `@Cacheable`, per decorated class. */
const optionsByClass = new WeakMap<object, CacheableOptions>();
/** The generated JSONCache subclass standing for each user class. */
const companionClasses = new WeakMap<object, new (options: JSONCacheOptions) => JSONCache>();
/** The companion cache of each instance. */
const companions = new WeakMap<object, JSONCache>();

/**
 * Gives the cached methods of a class that does not extend JSONCache their cache options (the dataId,
 * directory, TTL, DynamoDB tier…). Optional: without it, the class's name is the dataId. The options
 * apply to subclasses too, unless they have their own `@Cacheable`.
 *
 * ```ts
 * @Injectable()
 * @Cacheable({ dataId: "users", ttl: "6h" })
 * export class UserService {
 *   constructor(private readonly http: HttpClient) {}
 *   @Cached() async load(id: number) { return this.http.get(`/users/${id}`); }
 * }
 * ```
 * @throws {CacheOptionsError} at class definition when an option is invalid.
 * @throws {CacheUsageError} on a JSONCache subclass, which takes its options from `super(...)`.
 */
export function Cacheable(options?: CacheableOptions): CacheableDecorator {
  const decorator = (value: unknown, context?: unknown): void => {
    const standard = typeof context === "object" && context !== null && "kind" in context;
    if (typeof value !== "function" || (standard && (context as { kind: unknown }).kind !== "class")) {
      throw new CacheUsageError(`@Cacheable() decorates a class (put it above \`class\`); for a method, use @Cached().`);
    }
    const name = value.name || "an anonymous class";
    if (value.prototype instanceof JSONCache) {
      throw new CacheUsageError(`@Cacheable() on ${name}: it extends JSONCache, which takes its options from super(...): pass them there and remove @Cacheable.`);
    }
    optionsByClass.set(value, checkOptions(options, name));
  };
  return decorator as CacheableDecorator;
}

/** Validates the options at class definition, with errors naming the decorator and the class. */
function checkOptions(options: unknown, name: string): CacheableOptions {
  if (options === undefined) return {};
  if (typeof options === "object" && options !== null && "exclude" in options) {
    throw new CacheOptionsError(
      `@Cacheable() on ${name}: option "exclude" is about persisted attributes, which only a JSONCache subclass has; ` +
        `a class with @Cacheable caches its methods' results only. Remove "exclude" (or extend JSONCache to persist attributes).`,
    );
  }
  try {
    resolveOptions(options, name);
  } catch (error) {
    if (!(error instanceof CacheOptionsError)) throw error;
    throw new CacheOptionsError(error.message.replace(/^JSONCache( options)?/, `@Cacheable() on ${name}`), { cause: error });
  }
  return { ...(options as CacheableOptions) };
}

/**
 * The cache internals for a cached call on an object that is not a JSONCache: its companion's,
 * created on the first call.
 * @throws {CacheUsageError} when there is no object (a detached method) or it is a JSONCache of another copy.
 */
export function companionInternals(receiver: unknown, name: string): CacheInternals {
  if (typeof receiver !== "object" || receiver === null) throw notAnInstanceError(receiver, name);
  return cacheInternals(companion(receiver, name)) as CacheInternals;
}

function companion(receiver: object, name: string): JSONCache {
  let cache = companions.get(receiver);
  if (cache === undefined) {
    cache = createCompanion(receiver, name);
    companions.set(receiver, cache);
  }
  return cache;
}

function createCompanion(receiver: object, name: string): JSONCache {
  const owner = classOf(receiver);
  // Another copy of the library marks its JSONCache instances: a companion would hide that mix-up.
  if (owner === undefined || owner === Object || (receiver as Record<symbol, unknown>)[Symbol.for("cacherator.copy")] !== undefined) throw notAnInstanceError(receiver, name);
  let options: CacheableOptions = {};
  for (let current: unknown = owner; typeof current === "function"; current = Object.getPrototypeOf(current)) {
    const given = optionsByClass.get(current);
    if (given !== undefined) {
      options = given;
      break;
    }
  }
  const dataId = options.dataId ?? defaultDataId(owner.name, classCode(owner, Function.prototype));
  const Companion = companionClass(owner);
  const cache = new Companion({ ...options, dataId });
  lendMethodTtls(cache, receiver);
  if (options.dataId === undefined && looksMangled(owner.name)) {
    const { log } = cacheInternals(cache) as CacheInternals;
    const shown = owner.name === "" ? "an anonymous class" : `class "${owner.name}"`;
    log.once(
      "warn",
      `mangled-data-id:${dataId}`,
      `${shown} uses the dataId "${dataId}" by default (its name), which looks minified or is missing: production builds rename ` +
        `classes, so a rename loses its cache. Production builds should pass a dataId: @Cacheable({ dataId: "..." }) on the class.`,
    );
  }
  return cache;
}

/** The class of an instance: the constructor of its prototype. */
function classOf(receiver: object): AnyClass | undefined {
  const prototype = Object.getPrototypeOf(receiver) as { constructor?: unknown } | null;
  const owner = prototype === null ? undefined : Object.hasOwn(prototype, "constructor") ? prototype.constructor : undefined;
  return typeof owner === "function" ? (owner as AnyClass) : undefined;
}

/** The generated JSONCache subclass for a user class, extending the one for its superclass. */
function companionClass(owner: AnyClass): new (options: JSONCacheOptions) => JSONCache {
  let Companion = companionClasses.get(owner);
  if (Companion !== undefined) return Companion;
  const parent = Object.getPrototypeOf(owner) as unknown;
  const Base = typeof parent === "function" && parent !== Function.prototype ? companionClass(parent as AnyClass) : JSONCache;
  Companion = class extends Base {};
  // Messages about the cache name the user's class.
  Object.defineProperty(Companion, "name", { value: owner.name });
  companionClasses.set(owner, Companion);
  return Companion;
}

/** The cache of an instance: its status and management, for any class with `@Cached` methods. */
export interface InstanceCache {
  /** The dataId naming the cache (and its file). */
  readonly dataId: string;
  /** Status of the most recent cached call on the instance; `null` before the first in this process. */
  readonly lastCacheStatus: CacheStatus | null;
  /** Status of every call signature (keys loaded from the file are `"l1"` until called). A fresh object each time. */
  readonly cacheStatus: Record<string, CacheStatus>;
  /** Removes all cached results, or only those of the named method; resolves once written. */
  clear(functionName?: string): Promise<boolean>;
  /** Writes pending results now; resolves `true` once on disk (and in DynamoDB, with a table). */
  save(): Promise<boolean>;
  /** Live (unexpired) results, in all and per method; with `{ l2: true }` DynamoDB's counts too. */
  stats(): CacheStats;
  stats(options: { l2: true }): Promise<CacheStats & { l2: CacheStats | undefined }>;
  /** The instance's counters: hits by tier, misses, stale answers, errors, bytes written. */
  metrics(): CacheMetrics;
  /** With a DynamoDB table: copies the results DynamoDB holds into the local cache (see `jsonCachePreload`). */
  preload(): Promise<{ entries: number; attributes: boolean } | undefined>;
}

/**
 * The cache of `instance`: of a JSONCache subclass, the instance itself; of any other class, its
 * companion cache (opened now if no cached call has opened it yet).
 *
 * ```ts
 * const cache = cacheOf(userService);
 * cache.lastCacheStatus; // "l1"
 * await cache.clear("load");
 * ```
 * @throws {CacheUsageError} when `instance` is not an object.
 */
export function cacheOf(instance: object): InstanceCache {
  if (typeof instance !== "object" || instance === null) {
    throw new CacheUsageError(`cacheOf(instance): instance must be the object whose methods are cached (e.g. cacheOf(this) or cacheOf(service)); got ${instance === null ? "null" : typeof instance}.`);
  }
  const owner = classOf(instance);
  if (!(instance instanceof JSONCache) && (owner === undefined || owner === Object)) {
    throw new CacheUsageError(`cacheOf(instance): a plain object (or one without a class) has no cached methods; pass an instance of a class with @Cached methods.`);
  }
  const cache = instance instanceof JSONCache ? instance : companion(instance, "cacheOf");
  return {
    get dataId() {
      return cache.jsonCacheDataId;
    },
    get lastCacheStatus() {
      return cache.lastCacheStatus;
    },
    get cacheStatus() {
      return cache.cacheStatus;
    },
    clear: (functionName?: string) => cache.jsonCacheClear(functionName),
    save: () => cache.jsonCacheSave(),
    stats: ((options?: { l2: true }) => (options === undefined ? cache.jsonCacheStats() : cache.jsonCacheStats(options))) as InstanceCache["stats"],
    metrics: () => cache.jsonCacheMetrics(),
    preload: () => cache.jsonCachePreload(),
  };
}
