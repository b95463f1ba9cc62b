/**
 * Metrics and events: hits by tier, misses, stale answers, errors and bytes written, per instance and
 * for the process; `JSONCache.on` and diagnostics_channel events, and unsubscribing.
 */
import diagnostics_channel from "node:diagnostics_channel";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Cached, JSONCache, type CacheEvent } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { tempDir } from "./helpers.js";

beforeEach(() => CacheLog.resetReported());
afterEach(async () => {
  await JSONCache.flushAll();
});

describe("metrics and events", () => {
  it("counts hits by tier, misses, stale answers and errors per instance and for the process, and bytes written", async () => {
    const before = JSONCache.metrics();
    class Counted extends JSONCache {
      constructor() {
        super({ dataId: "counted", directory: tempDir(), logging: false });
      }
      @Cached() square(n: number) {
        if (n < 0) throw new Error("negative");
        return n * n;
      }
    }
    const counted = new Counted();
    counted.square(2);
    counted.square(2);
    counted.square(3);
    expect(() => counted.square(-1)).toThrow("negative");
    expect(await counted.jsonCacheSave()).toBe(true);
    const metrics = counted.jsonCacheMetrics();
    expect(metrics).toMatchObject({ hits: { l1: 1, l2: 0 }, misses: 2, stale: 0, errors: 1 });
    expect(metrics.bytesWritten).toBeGreaterThan(100);
    const after = JSONCache.metrics();
    expect(after.misses - before.misses).toBe(2);
    expect(after.hits.l1 - before.hits.l1).toBe(1);
    expect(after.errors - before.errors).toBe(1);
  });

  it("JSONCache.on and diagnostics_channel receive hit, miss and error events; unsubscribing stops them", () => {
    const seen: CacheEvent[] = [];
    const off = [JSONCache.on("hit", (e) => seen.push(e)), JSONCache.on("miss", (e) => seen.push(e)), JSONCache.on("error", (e) => seen.push(e))];
    const channelSeen: unknown[] = [];
    const onChannel = (message: unknown) => channelSeen.push(message);
    diagnostics_channel.subscribe("cacherator:miss", onChannel);
    class Evented extends JSONCache {
      constructor() {
        super({ dataId: "evented", directory: tempDir(), logging: false });
      }
      @Cached() twice(n: number) {
        if (n === 0) throw new Error("zero");
        return n * 2;
      }
    }
    const evented = new Evented();
    evented.twice(1);
    evented.twice(1);
    expect(() => evented.twice(0)).toThrow("zero");
    expect(seen.map((e) => [e.event, e.key, e.tier])).toEqual([
      ["miss", "twice(1,){}", undefined],
      ["hit", "twice(1,){}", "l1"],
      ["error", "twice(0,){}", undefined],
    ]);
    expect(seen[0]).toMatchObject({ dataId: "evented", method: "twice" });
    expect(channelSeen).toHaveLength(1);
    for (const stop of off) stop();
    diagnostics_channel.unsubscribe("cacherator:miss", onChannel);
    evented.twice(2);
    expect(seen).toHaveLength(3);
    expect(() => JSONCache.on("nope" as "hit", () => undefined)).toThrow(/unknown cacherator event/);
  });
});
