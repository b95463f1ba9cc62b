/**
 * `@Cached` on a class that does not extend JSONCache: compiled with both decorator dialects and run
 * as real programs (a restart is a new process). The results live in a companion cache per instance;
 * `@Cacheable` gives its options, `cacheOf(instance)` its status and management.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Cacheable, Cached, cacheOf, CacheOptionsError, CacheUsageError, JSONCache, withCacheStatus } from "../src/index.js";
import { recordingLogger, runProgram, tempDir, type Dialect } from "./helpers.js";

const HOUR = 3_600_000;

/** A service that extends nothing of ours, with a constructor argument, as a DI container builds it. */
const SERVICE = `
  import { Cacheable, Cached, cacheOf } from "cacherator";
  const runs = { price: 0, quote: 0, daily: 0 };
  class Prices { rate(item: string) { return item.length; } }
  @Cacheable({ dataId: "plain-shop", ttl: "1d" })
  class Shop {
    constructor(private readonly prices: Prices) {}
    @Cached() price(item: string) { runs.price++; return this.prices.rate(item) * 10; }
    @Cached() async quote(item: string) { runs.quote++; await new Promise((r) => setTimeout(r, 5)); return "quote for " + item; }
    @Cached({ ttl: "30d" }) daily(day: string) { runs.daily++; return day.toUpperCase(); }
  }
  const print = (value: unknown) => console.log(JSON.stringify(value));
`;

function cacheFile(cwd: string, name: string): string {
  return join(cwd, "data/cache", name);
}

/** Makes every cached result in the file `ms` older, as if computed that long ago. */
function ageEntries(path: string, ms: number): void {
  const data = JSON.parse(readFileSync(path, "utf8")) as { _json_cache_func_cache: Record<string, { epoch_ms: number }> };
  for (const entry of Object.values(data._json_cache_func_cache)) entry.epoch_ms -= ms;
  writeFileSync(path, JSON.stringify(data, null, 4));
}

describe.each<Dialect>(["standard", "legacy"])("a class that does not extend JSONCache, with %s decorators", (dialect) => {
  it("caches sync and async methods, reports status and stats through cacheOf, and adds nothing to the instance", async () => {
    const cwd = tempDir();
    const result = await runProgram(
      `${SERVICE}
      const shop = new Shop(new Prices());
      const keys = Reflect.ownKeys(shop).map(String);
      print({ step: "fresh", last: cacheOf(shop).lastCacheStatus, status: cacheOf(shop).cacheStatus });
      const a = shop.price("apple");
      const first = cacheOf(shop).lastCacheStatus;
      const b = shop.price("apple");
      const pending = shop.quote("pear");
      const isPromise = pending instanceof Promise;
      const q1 = await pending;
      const asyncFirst = cacheOf(shop).lastCacheStatus;
      const hit = shop.quote("pear");
      print({ step: "calls", values: [a, b, q1, await hit], isPromise, hitIsPromise: hit instanceof Promise,
        statuses: [first, asyncFirst, cacheOf(shop).lastCacheStatus], runs });
      print({ step: "state", status: cacheOf(shop).cacheStatus, stats: cacheOf(shop).stats(), dataId: cacheOf(shop).dataId,
        sameKeys: JSON.stringify(Reflect.ownKeys(shop).map(String)) === JSON.stringify(keys), keys });
      print({ step: "metrics", metrics: cacheOf(shop).metrics() });
      await cacheOf(shop).save();
      `,
      { cwd, dialect },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.lines.slice(0, 3)).toEqual([
      { step: "fresh", last: null, status: {} },
      {
        step: "calls",
        values: [50, 50, "quote for pear", "quote for pear"],
        isPromise: true,
        hitIsPromise: true,
        statuses: ["miss", "miss", "l1"],
        runs: { price: 1, quote: 1, daily: 0 },
      },
      {
        step: "state",
        status: { "price('apple',){}": "l1", "quote('pear',){}": "l1" },
        stats: { totalEntries: 2, functions: { price: 1, quote: 1 } },
        dataId: "plain-shop",
        sameKeys: true,
        keys: ["prices"],
      },
    ]);
    const [{ metrics }] = result.lines.slice(3) as [{ metrics: { hits: { l1: number }; misses: number } }];
    expect(metrics.hits.l1).toBe(2);
    expect(metrics.misses).toBe(2);
    expect(readdirSync(join(cwd, "data/cache")).filter((name) => name.endsWith(".json"))).toEqual(["plain-shop.json"]);
  });

  it("serves earlier results after a restart, applies the class's and the method's TTL, and clears", async () => {
    const cwd = tempDir();
    const program = `${SERVICE}
      const shop = new Shop(new Prices());
      const values = [shop.price("kiwi"), await shop.quote("fig"), shop.daily("mon")];
      print({ values, status: cacheOf(shop).cacheStatus, runs });
      await cacheOf(shop).save();
    `;
    const first = await runProgram(program, { cwd, dialect });
    expect(first.stderr).toBe("");
    expect(first.lines).toEqual([
      { values: [40, "quote for fig", "MON"], status: { "price('kiwi',){}": "miss", "quote('fig',){}": "miss", "daily('mon',){}": "miss" }, runs: { price: 1, quote: 1, daily: 1 } },
    ]);

    const second = await runProgram(program, { cwd, dialect });
    expect(second.stderr).toBe("");
    expect(second.lines).toEqual([
      { values: [40, "quote for fig", "MON"], status: { "price('kiwi',){}": "l1", "quote('fig',){}": "l1", "daily('mon',){}": "l1" }, runs: { price: 0, quote: 0, daily: 0 } },
    ]);

    // Two days old: past the class's ttl (1 day), within daily's own (30 days).
    ageEntries(cacheFile(cwd, "plain-shop.json"), 48 * HOUR);
    const third = await runProgram(
      `${SERVICE}
      const shop = new Shop(new Prices());
      print({ stats: cacheOf(shop).stats() });
      const values = [shop.daily("mon"), shop.price("kiwi")];
      print({ values, runs });
      await cacheOf(shop).clear("daily");
      shop.daily("mon");
      print({ afterClearDaily: cacheOf(shop).lastCacheStatus, stats: cacheOf(shop).stats() });
      await cacheOf(shop).clear();
      print({ afterClear: cacheOf(shop).stats(), status: cacheOf(shop).cacheStatus });
      `,
      { cwd, dialect },
    );
    expect(third.stderr).toBe("");
    expect(third.lines).toEqual([
      { stats: { totalEntries: 1, functions: { daily: 1 } } },
      { values: ["MON", 40], runs: { price: 1, quote: 0, daily: 0 } },
      { afterClearDaily: "miss", stats: { totalEntries: 2, functions: { daily: 1, price: 1 } } },
      { afterClear: { totalEntries: 0, functions: {} }, status: {} },
    ]);
    const file = JSON.parse(readFileSync(cacheFile(cwd, "plain-shop.json"), "utf8")) as { _json_cache_func_cache: object };
    expect(file._json_cache_func_cache).toEqual({});
  });

  it("without @Cacheable the class name is the dataId; subclasses of a decorated class share its options without a warning", async () => {
    const cwd = tempDir();
    const result = await runProgram(
      `
      import { Cacheable, Cached, cacheOf } from "cacherator";
      class Weather { @Cached() forecast(city: string) { return city + ": sun"; } }
      @Cacheable({ dataId: "catalog" })
      class Catalog { @Cached() item(id: number) { return "item " + id; } }
      class BookCatalog extends Catalog { @Cached() book(id: number) { return "book " + id; } }
      const weather = new Weather();
      const books = new BookCatalog();
      const catalog = new Catalog();
      console.log(JSON.stringify([weather.forecast("Rome"), books.item(1), books.book(2), catalog.item(1),
        cacheOf(weather).dataId, cacheOf(books).dataId, cacheOf(catalog).lastCacheStatus]));
      await Promise.all([cacheOf(weather).save(), cacheOf(books).save()]);
      `,
      { cwd, dialect },
    );
    expect(result.stderr).toBe("");
    expect(result.lines).toEqual([["Rome: sun", "item 1", "book 2", "item 1", "Weather", "catalog", "l1"]]);
    expect(readdirSync(join(cwd, "data/cache")).filter((name) => name.endsWith(".json")).sort()).toEqual(["catalog.json", "weather.json"]);
  });

  it("lets the companion go with its instance: nothing keeps the instance alive", async () => {
    const cwd = tempDir();
    const result = await runProgram(
      `
      import v8 from "node:v8";
      import vm from "node:vm";
      import { Cached } from "cacherator";
      v8.setFlagsFromString("--expose-gc");
      const gc = vm.runInNewContext("gc") as () => void;
      class Big { data = new Array(1000).fill(7); @Cached() sum(n: number) { return this.data.length + n; } }
      let big: Big | undefined = new Big();
      big.sum(1);
      const ref = new WeakRef(big);
      big = undefined;
      for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        gc();
      }
      console.log(JSON.stringify({ collected: ref.deref() === undefined }));
      `,
      { cwd, dialect },
    );
    expect(result.stderr).toBe("");
    expect(result.lines).toEqual([{ collected: true }]);
  });
});

describe("bad input gets an error that says what to do", () => {
  it("an invalid @Cacheable option names the decorator, the class and the option, at class definition", () => {
    expect(() => {
      // @ts-expect-error -- a ttl without a unit is refused by the types too
      @Cacheable({ ttl: "10" }) class Rates {}
      void Rates;
    }).toThrow(CacheOptionsError);
    expect(() => {
      @Cacheable({ writeDelay: -1 }) class Rates {}
      void Rates;
    }).toThrow(/@Cacheable\(\) on Rates: option "writeDelay"/);
    expect(() => {
      // @ts-expect-error -- attributes are JSONCache's: not an option of @Cacheable
      @Cacheable({ exclude: ["token"] }) class Session {}
      void Session;
    }).toThrow(/option "exclude" is about persisted attributes.*extend JSONCache/);
  });

  it("@Cacheable on a JSONCache subclass says to pass the options to super()", () => {
    expect(() => {
      @Cacheable({ dataId: "x" }) class Store extends JSONCache {}
      void Store;
    }).toThrow(CacheUsageError);
    expect(() => {
      @Cacheable() class Store extends JSONCache {}
      void Store;
    }).toThrow(/super\(\.\.\.\)/);
  });

  it("cacheOf and withCacheStatus refuse what is not an instance or a function", () => {
    expect(() => cacheOf(null as unknown as object)).toThrow(/cacheOf\(instance\): instance must be the object/);
    expect(() => cacheOf("service" as unknown as object)).toThrow(CacheUsageError);
    expect(() => cacheOf({ load() {} })).toThrow(/plain object.*no cached methods/);
    expect(() => withCacheStatus(42 as unknown as () => number)).toThrow(/withCacheStatus\(fn\): fn must be a function/);
  });

  it("a default dataId that looks minified is warned about once, naming @Cacheable", () => {
    const logger = recordingLogger();
    @Cacheable({ directory: tempDir(), logger })
    class Minified {
      @Cached() twice(x: number) { return x * 2; }
    }
    Object.defineProperty(Minified, "name", { value: "e" });
    const instance = new Minified();
    expect(instance.twice(2)).toBe(4);
    expect(instance.twice(3)).toBe(6);
    expect(cacheOf(instance).dataId).toMatch(/^e-[0-9a-f]{12}$/);
    expect(logger.messages).toHaveLength(1);
    expect(logger.text()).toMatch(/class "e" uses the dataId "e-[0-9a-f]{12}" by default.*@Cacheable\(\{ dataId: "\.\.\." \}\)/);
  });
});
