/**
 * Stale-while-revalidate and fail-safe: an expired result within `staleTtl` is answered at once while
 * one refresh runs, and served when the method throws; without `staleTtl` it never is.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { recordingLogger, tempDir } from "./helpers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => CacheLog.resetReported());
afterEach(async () => {
  await JSONCache.flushAll();
});

describe("stale-while-revalidate", () => {
  it("an expired result within staleTtl is answered at once (status \"stale\") while one refresh runs in the background", async () => {
    let version = 0;
    class Feed extends JSONCache {
      constructor() {
        super({ dataId: "feed", directory: tempDir(), logging: false });
      }
      @Cached({ ttl: "150ms", staleTtl: "1m" }) latest(topic: string) {
        version++;
        return `${topic} v${version}`;
      }
      @Cached({ ttl: "150ms", staleTtl: "1m" }) async latestAsync(topic: string) {
        version++;
        await sleep(20);
        return `${topic} v${version}`;
      }
    }
    const feed = new Feed();
    expect(feed.latest("news")).toBe("news v1");
    await sleep(200);
    expect(feed.latest("news")).toBe("news v1");
    expect(feed.lastCacheStatus).toBe("stale");
    expect(version).toBe(1); // the refresh runs after the call returned
    await tick();
    expect(version).toBe(2);
    expect(feed.latest("news")).toBe("news v2");
    expect(feed.lastCacheStatus).toBe("l1");

    expect(await feed.latestAsync("sport")).toBe("sport v3");
    await sleep(200);
    const answers = await Promise.all([feed.latestAsync("sport"), feed.latestAsync("sport"), feed.latestAsync("sport")]);
    expect(answers).toEqual(["sport v3", "sport v3", "sport v3"]);
    expect(feed.lastCacheStatus).toBe("stale");
    await sleep(60);
    expect(version).toBe(4); // one refresh for the three stale answers
    expect(await feed.latestAsync("sport")).toBe("sport v4");
  });

  it("fail-safe: when the method throws, the last good result within staleTtl is served, and the error logged once", async () => {
    const logger = recordingLogger();
    let failing = false;
    let runs = 0;
    class Rates extends JSONCache {
      constructor() {
        super({ dataId: "rates", directory: tempDir(), logger });
      }
      @Cached({ ttl: "100ms", staleTtl: "300ms" }) async rate(currency: string) {
        runs++;
        if (failing) throw new Error("upstream down");
        return { currency, rate: 1.1 };
      }
    }
    const rates = new Rates();
    expect(await rates.rate("EUR")).toEqual({ currency: "EUR", rate: 1.1 });
    failing = true;
    await sleep(150);
    // Stale: answered at once; the background refresh fails, logged once.
    expect(await rates.rate("EUR")).toEqual({ currency: "EUR", rate: 1.1 });
    expect(rates.lastCacheStatus).toBe("stale");
    await sleep(20);
    expect(await rates.rate("EUR")).toEqual({ currency: "EUR", rate: 1.1 });
    expect(logger.messages.filter((m) => m.level === "warn")).toHaveLength(1);
    expect(logger.messages[0]?.message).toContain("upstream down");
    // Past the stale window: the error reaches the caller.
    await sleep(350);
    await expect(rates.rate("EUR")).rejects.toThrow("upstream down");
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(rates.jsonCacheMetrics().errors).toBeGreaterThanOrEqual(2);
  });

  it("without staleTtl an expired result is never served", async () => {
    let runs = 0;
    class Plain extends JSONCache {
      constructor() {
        super({ dataId: "plain", directory: tempDir(), logging: false });
      }
      @Cached({ ttl: "50ms" }) value() {
        return ++runs;
      }
    }
    const plain = new Plain();
    expect(plain.value()).toBe(1);
    await sleep(80);
    expect(plain.value()).toBe(2);
    expect(plain.lastCacheStatus).toBe("miss");
  });
});
