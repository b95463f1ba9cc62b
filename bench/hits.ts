/**
 * Hit cost: a decorated method called with one small argument whose result is already cached.
 * Every contender is pre-warmed with the same 64 keys (the argument cycles through 0…63), and each
 * supplies its own loop so that every call site stays monomorphic. A second measurement spreads the
 * calls over 100,000 pre-warmed arguments, so that nothing a contender keeps of recent calls helps it.
 */
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { createCache } from "cache-manager";
import { Cacheable, CacheableMemory, createKeyv } from "cacheable";
import pMemoize from "p-memoize";
import { Memoize } from "typescript-memoize";
import { Cached, JSONCache } from "../src/index.js";
import { formatNs, formatRatio, type Section } from "./report.js";
import { freshDir } from "./temp.js";
import { applyLegacy, applyTypeCacheable } from "./type-cacheable.js";
import { measureInterleaved, type AsyncBatch, type SampleOptions, type SyncBatch } from "./timing.js";

const DAY_MS = 86_400_000;
const KEYS = 64;

export interface HitContender<B> {
  name: string;
  config: string;
  /** Calls every key once so the timed calls are hits. */
  warm: () => Promise<void>;
  batch: B;
  close?: () => Promise<void>;
}

export interface HitResults {
  section: Section;
  /** Median ns per call by contender name. */
  ns: Map<string, number>;
}

export const OURS = "cacherator @Cached";
export const BASELINE = "baseline (Map + JSON.stringify + expiry)";
export const BENTO = "bentocache getOrSet (memory L1)";

class OursSync extends JSONCache {
  constructor(directory: string) {
    super({ dataId: "hits-sync", directory, logging: false });
  }

  @Cached({ ttl: 1 })
  double(x: number): number {
    return x * 2;
  }
}

class OursAsync extends JSONCache {
  constructor(directory: string) {
    super({ dataId: "hits-async", directory, logging: false });
  }

  @Cached({ ttl: 1 })
  async double(x: number): Promise<number> {
    return x * 2;
  }
}

/** The physical limit for a persistent memo: a Map keyed by JSON.stringify(args), with an expiry check. */
class BaselineSync {
  readonly #memo = new Map<string, { value: number; time: number }>();

  double(...args: [number]): number {
    const key = JSON.stringify(args);
    const hit = this.#memo.get(key);
    if (hit !== undefined && Date.now() - hit.time < DAY_MS) return hit.value;
    const value = args[0] * 2;
    this.#memo.set(key, { value, time: Date.now() });
    return value;
  }
}

class BaselineAsync {
  readonly #memo = new Map<string, { value: number; time: number }>();

  double(...args: [number]): Promise<number> {
    const key = JSON.stringify(args);
    const hit = this.#memo.get(key);
    if (hit !== undefined && Date.now() - hit.time < DAY_MS) return Promise.resolve(hit.value);
    return this.#compute(key, args[0]);
  }

  async #compute(key: string, x: number): Promise<number> {
    const value = x * 2;
    this.#memo.set(key, { value, time: Date.now() });
    return value;
  }
}

/** typescript-memoize and @type-cacheable/core only ship legacy decorators: applied by hand below. */
class TsMemoizeTarget {
  double(x: number): number {
    return x * 2;
  }
}

class TypeCacheableTarget {
  async double(x: number): Promise<number> {
    return x * 2;
  }
}

applyLegacy(TsMemoizeTarget.prototype, "double", Memoize({ expiring: DAY_MS }));
applyTypeCacheable(TypeCacheableTarget.prototype, "double", DAY_MS / 1000);

async function warmSync(call: (x: number) => unknown, keys = KEYS): Promise<void> {
  for (let x = 0; x < keys; x++) await call(x);
}

/** Arguments of the wide measurement: 0…99,999, visited in a scattered order (a step prime to the count). */
export const WIDE_KEYS = 100_000;
const WIDE_STEP = 7_919;

/** cacherator and the baseline only, their calls spread over `WIDE_KEYS` arguments. */
export function wideSyncContenders(): HitContender<SyncBatch>[] {
  const ours = new OursSync(freshDir("hit-sync-wide"));
  const baseline = new BaselineSync();
  let oursAt = 0;
  let baselineAt = 0;
  return [
    {
      name: OURS,
      config: `as above; argument \`(k × ${WIDE_STEP}) mod ${WIDE_KEYS.toLocaleString("en-US")}\` for the k-th call`,
      warm: async () => {
        await warmSync((x) => ours.double(x), WIDE_KEYS);
        await JSONCache.flushAll();
      },
      batch: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          s += ours.double(oursAt);
          oursAt = (oursAt + WIDE_STEP) % WIDE_KEYS;
        }
        return s;
      },
    },
    {
      name: BASELINE,
      config: "as above, the same arguments",
      warm: () => warmSync((x) => baseline.double(x), WIDE_KEYS),
      batch: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          s += baseline.double(baselineAt);
          baselineAt = (baselineAt + WIDE_STEP) % WIDE_KEYS;
        }
        return s;
      },
    },
  ];
}

export function syncContenders(): HitContender<SyncBatch>[] {
  const ours = new OursSync(freshDir("hit-sync"));
  const baseline = new BaselineSync();
  const tsMemoize = new TsMemoizeTarget();
  const memory = new CacheableMemory({ ttl: DAY_MS, useClone: false });
  const cacheableDouble = memory.wrap((x: number) => x * 2, { ttl: DAY_MS });
  return [
    {
      name: OURS,
      config: "`@Cached({ ttl: 1 })` on a sync method of a JSONCache subclass (standard decorators, via tsx/esbuild); logging off",
      warm: async () => {
        await warmSync((x) => ours.double(x));
        await JSONCache.flushAll();
      },
      batch: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += ours.double(i & (KEYS - 1));
        return s;
      },
    },
    {
      name: BASELINE,
      config: "a bare Map, key `JSON.stringify(args)`, value + time, `Date.now() - time < ttl` check",
      warm: () => warmSync((x) => baseline.double(x)),
      batch: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += baseline.double(i & (KEYS - 1));
        return s;
      },
    },
    {
      name: "typescript-memoize @Memoize",
      config: "`Memoize({ expiring: 1 day })`, default hash (first argument); legacy decorator applied by hand to the descriptor",
      warm: () => warmSync((x) => tsMemoize.double(x)),
      batch: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += tsMemoize.double(i & (KEYS - 1));
        return s;
      },
    },
    {
      name: "cacheable CacheableMemory.wrap",
      config: "`new CacheableMemory({ ttl: 1 day, useClone: false })`, `.wrap(fn, { ttl })`, default key (djb2 hash of JSON.stringify(args))",
      warm: () => warmSync((x) => cacheableDouble(x)),
      batch: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += cacheableDouble(i & (KEYS - 1));
        return s;
      },
    },
  ];
}

export function asyncContenders(): HitContender<AsyncBatch>[] {
  const ours = new OursAsync(freshDir("hit-async"));
  const baseline = new BaselineAsync();

  const bento = new BentoCache({
    default: "memory",
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000, serialize: false })) },
  });
  const bentoDouble = (x: number) => bento.getOrSet({ key: `double:${x}`, factory: async () => x * 2, ttl: DAY_MS });

  const cacheable = new Cacheable({ ttl: DAY_MS, primary: createKeyv({ useClone: false }) });
  const cacheableDouble = cacheable.wrap(async (x: number) => x * 2, { ttl: DAY_MS });

  const manager = createCache({ ttl: DAY_MS });
  const managerDouble = (x: number) => manager.wrap(`double:${x}`, async () => x * 2, DAY_MS);

  const typeCacheable = new TypeCacheableTarget();
  const pMemoized = pMemoize(async (x: number) => x * 2);

  return [
    {
      name: OURS,
      config: "`@Cached({ ttl: 1 })` on an async method; a hit returns `Promise.resolve(value)` synchronously",
      warm: async () => {
        await warmSync((x) => ours.double(x));
        await JSONCache.flushAll();
      },
      batch: async (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += await ours.double(i & (KEYS - 1));
        return s;
      },
    },
    {
      name: `${BASELINE}, async`,
      config: "the sync baseline returning `Promise.resolve(value)` on a hit",
      warm: () => warmSync((x) => baseline.double(x)),
      batch: async (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += await baseline.double(i & (KEYS - 1));
        return s;
      },
    },
    {
      name: BENTO,
      config: "`bentostore().useL1Layer(memoryDriver({ maxItems: 10_000, serialize: false }))`, `getOrSet({ key: 'double:' + x, factory, ttl })`",
      warm: () => warmSync(bentoDouble),
      batch: async (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += await bentoDouble(i & (KEYS - 1));
        return s;
      },
      close: () => bento.disconnectAll(),
    },
    {
      name: "cacheable Cacheable.wrap",
      config: "`new Cacheable({ ttl, primary: createKeyv({ useClone: false }) })` (in-memory, no serialisation), `.wrap(fn, { ttl })`",
      warm: () => warmSync((x) => cacheableDouble(x)),
      batch: async (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += await cacheableDouble(i & (KEYS - 1));
        return s;
      },
    },
    {
      name: "cache-manager wrap",
      config: "`createCache({ ttl })` (its default in-memory Keyv, serialisation off), `wrap('double:' + x, fn, ttl)`",
      warm: () => warmSync(managerDouble),
      batch: async (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += await managerDouble(i & (KEYS - 1));
        return s;
      },
      close: () => manager.disconnect().then(() => undefined),
    },
    {
      name: "@type-cacheable/core @Cacheable",
      config: "`@Cacheable({ cacheKey: args => 'double:' + args[0], ttlSeconds, client })`, client = new LRUCacheAdapter(new LRUCache({ max: 10_000 })); legacy decorator applied by hand",
      warm: () => warmSync((x) => typeCacheable.double(x)),
      batch: async (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += await typeCacheable.double(i & (KEYS - 1));
        return s;
      },
    },
    {
      name: "p-memoize",
      config: "`pMemoize(fn)`: default Map cache and key (first argument); p-memoize has no TTL of its own",
      warm: () => warmSync(pMemoized),
      batch: async (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += await pMemoized(i & (KEYS - 1));
        return s;
      },
    },
  ];
}

export async function measureHits<B extends SyncBatch | AsyncBatch>(
  title: string,
  contenders: HitContender<B>[],
  baselineName: string,
  options: SampleOptions,
  extraNotes: string[] = [],
  keys: string = `argument cycles through ${KEYS} pre-warmed small integers`,
): Promise<HitResults> {
  for (const contender of contenders) await contender.warm();
  const ns = await measureInterleaved(contenders, options);
  for (const contender of contenders) await contender.close?.();
  const base = ns.get(baselineName) as number;
  const oursNs = ns.get(OURS) as number;
  const rows = contenders.map((c) => {
    const value = ns.get(c.name) as number;
    return [c.name, formatNs(value), formatRatio(value / base), formatRatio(value / oursNs)];
  });
  return {
    ns,
    section: {
      title,
      notes: [
        `median of ${options.samples} batches of ${options.batchSize.toLocaleString("en-US")} calls per contender (after ${options.warmupBatches} warm-up batches), contenders interleaved; ${keys}`,
        ...extraNotes,
        "configurations:",
        ...contenders.map((c) => `  ${c.name}: ${c.config}`),
      ],
      tables: [{ headers: ["contender", "median / call", "× baseline", "× cacherator"], rows, right: [1, 2, 3] }],
    },
  };
}
