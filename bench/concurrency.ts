/**
 * 100 callers ask for the same uncached async result at once: how many times does the method run,
 * and how long until every caller has its result? The method takes 20 ms (a timer), like a request.
 */
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { createCache } from "cache-manager";
import { Cacheable, createKeyv } from "cacheable";
import pMemoize from "p-memoize";
import { setTimeout as sleep } from "node:timers/promises";
import { Cached, JSONCache } from "../src/index.js";
import { formatNs, type Section } from "./report.js";
import { freshDir } from "./temp.js";
import { applyTypeCacheable } from "./type-cacheable.js";
import { elapsedNs, median, nowNs } from "./timing.js";

const DAY_MS = 86_400_000;
const WORK_MS = 20;

let executions = 0;

async function work(x: number): Promise<number> {
  executions++;
  await sleep(WORK_MS);
  return x * 2;
}

class Ours extends JSONCache {
  constructor(directory: string) {
    super({ dataId: "concurrency", directory, logging: false });
  }

  @Cached({ ttl: 1 })
  async fetch(x: number): Promise<number> {
    return work(x);
  }
}

class TypeCacheableTarget {
  async fetch(x: number): Promise<number> {
    return work(x);
  }
}
applyTypeCacheable(TypeCacheableTarget.prototype, "fetch", DAY_MS / 1000);

interface Contender {
  name: string;
  call: (x: number) => Promise<number>;
  close?: () => Promise<void>;
}

function contenders(): Contender[] {
  const ours = new Ours(freshDir("concurrency"));
  const memo = new Map<string, { value: number; time: number }>();
  const baseline = async (x: number) => {
    const key = JSON.stringify([x]);
    const hit = memo.get(key);
    if (hit !== undefined && Date.now() - hit.time < DAY_MS) return hit.value;
    const value = await work(x);
    memo.set(key, { value, time: Date.now() });
    return value;
  };
  const bento = new BentoCache({ default: "memory", stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000, serialize: false })) } });
  const cacheable = new Cacheable({ ttl: DAY_MS, primary: createKeyv({ useClone: false }) });
  const cacheableFetch = cacheable.wrap(work, { ttl: DAY_MS });
  const manager = createCache({ ttl: DAY_MS });
  const typeCacheable = new TypeCacheableTarget();
  const pMemoized = pMemoize(work);
  return [
    { name: "cacherator @Cached", call: (x) => ours.fetch(x) },
    { name: "baseline (Map + JSON.stringify + expiry), async", call: baseline },
    { name: "bentocache getOrSet (memory L1)", call: (x) => bento.getOrSet({ key: `fetch:${x}`, factory: () => work(x), ttl: DAY_MS }), close: () => bento.disconnectAll() },
    { name: "cacheable Cacheable.wrap", call: (x) => cacheableFetch(x) },
    { name: "cache-manager wrap", call: (x) => manager.wrap(`fetch:${x}`, () => work(x), DAY_MS) },
    { name: "@type-cacheable/core @Cacheable", call: (x) => typeCacheable.fetch(x) },
    { name: "p-memoize", call: pMemoized },
  ];
}

export interface ConcurrencyResults {
  section: Section;
  oursExecutions: number;
}

export async function measureConcurrency(callers: number, rounds: number): Promise<ConcurrencyResults> {
  const rows: string[][] = [];
  let oursExecutions = Number.NaN;
  let key = 0;
  for (const contender of contenders()) {
    const times: number[] = [];
    const counts: number[] = [];
    for (let r = -1; r < rounds; r++) {
      const x = ++key; // a key nobody has asked for yet
      executions = 0;
      const start = nowNs();
      const results = await Promise.all(Array.from({ length: callers }, () => contender.call(x)));
      const ns = elapsedNs(start);
      if (results.some((v) => v !== x * 2)) throw new Error(`${contender.name} returned a wrong result`);
      if (r >= 0) {
        times.push(ns);
        counts.push(executions);
      }
    }
    await contender.close?.();
    const worst = Math.max(...counts);
    if (contender.name.startsWith("cacherator")) oursExecutions = worst;
    rows.push([contender.name, String(worst), formatNs(median(times)), formatNs(median(times) - WORK_MS * 1e6)]);
  }
  await JSONCache.flushAll();
  return {
    oursExecutions,
    section: {
      title: `Concurrent identical async misses (${callers} callers)`,
      notes: [
        `${callers} calls with the same new argument are started together (Promise.all); the method awaits a ${WORK_MS} ms timer`,
        `executions = times the method body ran (the most over ${rounds} rounds); time = median over ${rounds} rounds until all ${callers} results are in; overhead = time − ${WORK_MS} ms`,
        "configurations as in the async hit section (bentocache, cache-manager: key `'fetch:' + x`)",
      ],
      tables: [{ headers: ["contender", "executions", "time to all results", "overhead"], rows, right: [1, 2, 3] }],
    },
  };
}
