/**
 * Each caller gets the status of its own cached calls with `withCacheStatus()`, however the calls of
 * one instance overlap; `lastCacheStatus` stays one slot per instance (the call that answered last).
 */
import { afterEach, describe, expect, it } from "vitest";
import { Cacheable, Cached, cacheOf, JSONCache, withCacheStatus, type CachedCallStatus } from "../src/index.js";
import { tempDir } from "./helpers.js";

// Results are written before the test's directory is removed.
afterEach(() => JSONCache.flushAll());

function makeService(directory: string) {
  const runs: number[] = [];
  class Users extends JSONCache {
    constructor() {
      super({ dataId: "users", directory });
    }
    @Cached() async load(id: number) {
      runs.push(id);
      await new Promise((resolve) => setTimeout(resolve, 30));
      return { id };
    }
    @Cached() name(id: number) {
      return `user ${id}`;
    }
    @Cached() async profile(id: number) {
      const user = await this.load(id);
      return { ...user, name: this.name(id) };
    }
    @Cached() async broken(id: number): Promise<number> {
      throw new Error(`no user ${id}`);
    }
  }
  return { service: new Users(), runs };
}

const call = (method: string, key: string, status: CachedCallStatus["status"], failed = false): CachedCallStatus => ({ dataId: "users", method, key, status, failed });

describe("withCacheStatus gives each call its own status", () => {
  it("two overlapping calls of one instance, one hit and one miss, each get their own status", async () => {
    const { service, runs } = makeService(tempDir());
    await service.load(1);
    // The hit answers at once, the miss 30 ms later: lastCacheStatus tells only about the miss.
    const [hit, miss] = await Promise.all([withCacheStatus(() => service.load(1)), withCacheStatus(() => service.load(2))]);
    expect(hit).toEqual({ result: { id: 1 }, calls: [call("load", "load(1,){}", "l1")] });
    expect(miss).toEqual({ result: { id: 2 }, calls: [call("load", "load(2,){}", "miss")] });
    expect(service.lastCacheStatus).toBe("miss");
    expect(runs).toEqual([1, 2]);

    // The other way round: the miss starts first, the hit answers while it runs.
    const [missFirst, hitSecond] = await Promise.all([withCacheStatus(() => service.load(3)), withCacheStatus(() => service.load(2))]);
    expect(missFirst.calls).toEqual([call("load", "load(3,){}", "miss")]);
    expect(hitSecond.calls).toEqual([call("load", "load(2,){}", "l1")]);
  });

  it("a call that joins a running miss reports a miss; the one before it started, its own", async () => {
    const { service, runs } = makeService(tempDir());
    const [first, joined] = await Promise.all([withCacheStatus(() => service.load(5)), withCacheStatus(() => service.load(5))]);
    expect(first.calls).toEqual([call("load", "load(5,){}", "miss")]);
    expect(joined.calls).toEqual([call("load", "load(5,){}", "miss")]);
    expect(runs).toEqual([5]);
  });

  it("lists the calls made inside, in the order they answered: a method that calls others answers after them", async () => {
    const { service } = makeService(tempDir());
    await service.load(7);
    const { result, calls } = await withCacheStatus(() => service.profile(7));
    expect(result).toEqual({ id: 7, name: "user 7" });
    expect(calls).toEqual([call("load", "load(7,){}", "l1"), call("name", "name(7,){}", "miss"), call("profile", "profile(7,){}", "miss")]);
    const again = await withCacheStatus(() => service.profile(7));
    expect(again.calls).toEqual([call("profile", "profile(7,){}", "l1")]);
  });

  it("a sync function gets its report at once, not a promise", () => {
    const { service } = makeService(tempDir());
    const report = withCacheStatus(() => [service.name(1), service.name(1)]);
    expect(report).not.toBeInstanceOf(Promise);
    expect(report).toEqual({ result: ["user 1", "user 1"], calls: [call("name", "name(1,){}", "miss"), call("name", "name(1,){}", "l1")] });
  });

  it("a nested withCacheStatus reports its calls to the enclosing one too", async () => {
    const { service } = makeService(tempDir());
    const outer = await withCacheStatus(async () => {
      service.name(1);
      const inner = await withCacheStatus(() => service.load(2));
      return inner.calls;
    });
    expect(outer.result).toEqual([call("load", "load(2,){}", "miss")]);
    expect(outer.calls).toEqual([call("name", "name(1,){}", "miss"), call("load", "load(2,){}", "miss")]);
  });

  it("a call whose method rejects is reported as a failed miss; the rejection reaches the caller", async () => {
    const { service } = makeService(tempDir());
    const report = await withCacheStatus(async () => {
      const outcome = await service.broken(4).catch((error: unknown) => (error as Error).message);
      return outcome;
    });
    expect(report).toEqual({ result: "no user 4", calls: [call("broken", "broken(4,){}", "miss", true)] });
    await expect(withCacheStatus(() => service.broken(5))).rejects.toThrow("no user 5");
  });

  it("calls left running when the function has settled are not added to its report, nor seen outside a scope", async () => {
    const { service } = makeService(tempDir());
    let left: Promise<unknown> | undefined;
    const report = await withCacheStatus(() => {
      left = service.load(9);
      return "done";
    });
    expect(report.calls).toEqual([]);
    await left;
    expect(report.calls).toEqual([]);
    expect(service.lastCacheStatus).toBe("miss");
  });

  it("works for classes that do not extend JSONCache, with several instances", async () => {
    const directory = tempDir();
    @Cacheable({ dataId: "rates", directory })
    class Rates {
      constructor(private readonly base: string) {}
      @Cached() async rate(to: string) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        return `${this.base}->${to}`;
      }
    }
    const eur = new Rates("EUR");
    await eur.rate("USD");
    const [a, b] = await Promise.all([withCacheStatus(() => eur.rate("USD")), withCacheStatus(() => eur.rate("GBP"))]);
    expect(a.calls).toEqual([{ dataId: "rates", method: "rate", key: "rate('USD',){}", status: "l1", failed: false }]);
    expect(b.calls).toEqual([{ dataId: "rates", method: "rate", key: "rate('GBP',){}", status: "miss", failed: false }]);
    expect(cacheOf(eur).lastCacheStatus).toBe("miss");
  });
});
