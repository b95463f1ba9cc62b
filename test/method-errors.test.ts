/**
 * A method that throws or rejects: nothing is cached, statuses are left alone, and the next call runs
 * the method again.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { tempDir } from "./helpers.js";
import { cachedKeys, resetLoggingAroundEachTest } from "./failure-helpers.js";

resetLoggingAroundEachTest();

describe("a method that throws", () => {
  it("a thrown error is not cached, leaves the keys' statuses alone (the last status is \"miss\": it ran), and the next call runs the method again", async () => {
    const directory = tempDir();
    let attempts = 0;
    class Risky extends JSONCache {
      constructor() {
        super({ dataId: "risky", directory });
      }
      @Cached() ok() {
        return "fine";
      }
      @Cached() boom(n: number): number {
        attempts++;
        throw new Error(`boom ${n}`);
      }
    }
    const risky = new Risky();
    risky.ok();
    expect(risky.lastCacheStatus).toBe("miss");
    expect(() => risky.boom(1)).toThrow("boom 1");
    expect(risky.lastCacheStatus).toBe("miss");
    expect(risky.cacheStatus).toEqual({ "ok(){}": "miss" });
    risky.ok();
    expect(risky.lastCacheStatus).toBe("l1");
    expect(() => risky.boom(1)).toThrow("boom 1");
    expect(risky.lastCacheStatus).toBe("miss"); // the method ran
    expect(risky.cacheStatus).toEqual({ "ok(){}": "l1" });
    expect(attempts).toBe(2);
    expect(risky.jsonCacheStats()).toEqual({ totalEntries: 1, functions: { ok: 1 } });
    await expect(risky.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "risky.json"))).toEqual(["ok(){}"]);
  });

  it("a rejected promise is not cached, leaves the keys' statuses alone (the last status is \"miss\": it ran), and the next call runs the method again", async () => {
    const directory = tempDir();
    let attempts = 0;
    class RiskyAsync extends JSONCache {
      constructor() {
        super({ dataId: "risky-async", directory });
      }
      @Cached() async ok() {
        return "fine";
      }
      @Cached() async fails(n: number): Promise<number> {
        attempts++;
        await new Promise((r) => setTimeout(r, 1));
        if (attempts < 3) throw new Error(`rejected ${n}`);
        return n;
      }
    }
    const risky = new RiskyAsync();
    await risky.ok();
    expect(risky.lastCacheStatus).toBe("miss");
    await expect(risky.fails(1)).rejects.toThrow("rejected 1");
    expect(risky.lastCacheStatus).toBe("miss");
    expect(risky.cacheStatus).toEqual({ "ok(){}": "miss" });
    await risky.ok();
    expect(risky.lastCacheStatus).toBe("l1");
    await expect(risky.fails(1)).rejects.toThrow("rejected 1");
    expect(risky.lastCacheStatus).toBe("miss");
    expect(risky.cacheStatus).toEqual({ "ok(){}": "l1" });
    await expect(risky.fails(1)).resolves.toBe(1);
    expect(attempts).toBe(3);
    expect(risky.lastCacheStatus).toBe("miss");
    await expect(risky.fails(1)).resolves.toBe(1);
    expect(attempts).toBe(3);
  });
});
