/**
 * The same programs, compiled with TC39 standard decorators and with `experimentalDecorators`
 * (NestJS-style, `useDefineForClassFields: false`), must behave the same: caching of sync methods,
 * async methods and getters, statuses, per-method TTLs, state restore and hits after a restart.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runProgram, tempDir, type Dialect } from "./helpers.js";

const DAY = 86_400_000;

/** The service every program uses; `TTL` placeholders are filled per test. */
const SERVICE = `
  import { JSONCache, Cached } from "cacherator";
  const runs = { square: 0, fetchUser: 0, summary: 0, history: 0 };
  class Service extends JSONCache {
    declare visits: number;
    declare tags: string[];
    constructor() {
      super({ dataId: "dialect-service", ttl: 1 });
      this.visits ??= 0;
      this.tags ??= [];
    }
    @Cached() square(x: number) { runs.square++; return x * x; }
    @Cached() async fetchUser(id: number) { runs.fetchUser++; return { id, name: "user-" + id }; }
    @Cached() get summary() { runs.summary++; return "summary-" + this.visits; }
    @Cached({ ttl: 30 }) history(city: string) { runs.history++; return city.length; }
  }
  const print = (value: unknown) => console.log(JSON.stringify(value));
`;

/** The single cache file the programs wrote under `<cwd>/data/cache`. */
function cacheFilePath(cwd: string): string {
  const dir = join(cwd, "data/cache");
  const files = readdirSync(dir).filter((name) => name.endsWith(".json"));
  expect(files).toHaveLength(1);
  return join(dir, files[0] as string);
}

/** Makes every cached result in the file `ms` older, as if computed that long ago. */
function ageEntries(cwd: string, ms: number): void {
  const path = cacheFilePath(cwd);
  const data = JSON.parse(readFileSync(path, "utf8")) as { _json_cache_func_cache: Record<string, { epoch_ms: number }> };
  const entries = Object.values(data._json_cache_func_cache);
  expect(entries.length).toBeGreaterThan(0);
  for (const entry of entries) entry.epoch_ms -= ms;
  writeFileSync(path, JSON.stringify(data, null, 4));
}

describe.each<Dialect>(["standard", "legacy"])("with %s decorators", (dialect) => {
  it("caches sync methods, async methods and getters, and reports their statuses", async () => {
    const cwd = tempDir();
    const result = await runProgram(
      `${SERVICE}
      const service = new Service();
      print({ step: "fresh", last: service.lastCacheStatus, status: service.cacheStatus });
      const a = service.square(7);
      const first = service.lastCacheStatus;
      const b = service.square(7);
      print({ step: "sync", values: [a, b], statuses: [first, service.lastCacheStatus], runs: runs.square });
      const pending = service.fetchUser(3);
      const isPromise = pending instanceof Promise;
      const u1 = await pending;
      const asyncFirst = service.lastCacheStatus;
      const hit = service.fetchUser(3);
      const hitIsPromise = hit instanceof Promise;
      const u2 = await hit;
      print({ step: "async", values: [u1, u2], isPromise, hitIsPromise, statuses: [asyncFirst, service.lastCacheStatus], runs: runs.fetchUser });
      const s1 = service.summary;
      const getterFirst = service.lastCacheStatus;
      const s2 = service.summary;
      print({ step: "getter", values: [s1, s2], statuses: [getterFirst, service.lastCacheStatus], runs: runs.summary });
      print({ step: "status", status: service.cacheStatus, stats: service.jsonCacheStats() });
      `,
      { cwd, dialect },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([
      { step: "fresh", last: null, status: {} },
      { step: "sync", values: [49, 49], statuses: ["miss", "l1"], runs: 1 },
      {
        step: "async",
        values: [{ id: 3, name: "user-3" }, { id: 3, name: "user-3" }],
        isPromise: true,
        hitIsPromise: true,
        statuses: ["miss", "l1"],
        runs: 1,
      },
      { step: "getter", values: ["summary-0", "summary-0"], statuses: ["miss", "l1"], runs: 1 },
      {
        step: "status",
        status: { "square(7,){}": "l1", "fetchUser(3,){}": "l1", "summary(){}": "l1" },
        stats: { totalEntries: 3, functions: { square: 1, fetchUser: 1, summary: 1 } },
      },
    ]);
  });

  it("registers a method's own TTL, so jsonCacheStats and calls apply it before the method is called", async () => {
    const cwd = tempDir();
    const first = await runProgram(
      `${SERVICE}
      const service = new Service();
      print([service.square(3), service.history("Rome")]);
      await service.jsonCacheSave();
      `,
      { cwd, dialect },
    );
    expect(first.stderr).toBe("");
    expect(first.lines).toEqual([[9, 4]]);

    // Two days old: past the instance ttl (1 day), within history's own ttl (30 days).
    ageEntries(cwd, 2 * DAY);
    const second = await runProgram(
      `${SERVICE}
      const service = new Service();
      print(service.jsonCacheStats());
      const history = service.history("Rome");
      const historyStatus = service.lastCacheStatus;
      const square = service.square(3);
      print({ history, historyStatus, square, squareStatus: service.lastCacheStatus, runs });
      `,
      { cwd, dialect },
    );
    expect(second.stderr).toBe("");
    expect(second.lines).toEqual([
      { totalEntries: 1, functions: { history: 1 } },
      {
        history: 4,
        historyStatus: "l1",
        square: 9,
        squareStatus: "miss",
        runs: { square: 1, fetchUser: 0, summary: 0, history: 0 },
      },
    ]);
  });

  it("restores state declared with `declare` and `??=`, and serves earlier results after a restart", async () => {
    const cwd = tempDir();
    const program = `${SERVICE}
      const service = new Service();
      print({ restored: { visits: service.visits, tags: service.tags }, last: service.lastCacheStatus, status: service.cacheStatus });
      service.visits += 1;
      service.tags.push("visit-" + service.visits);
      const values = [service.square(5), await service.fetchUser(8), service.summary];
      print({ values, last: service.lastCacheStatus, runs });
      await service.jsonCacheSave();
    `;
    const first = await runProgram(program, { cwd, dialect });
    expect(first.stderr).toBe("");
    expect(first.lines).toEqual([
      { restored: { visits: 0, tags: [] }, last: null, status: {} },
      {
        values: [25, { id: 8, name: "user-8" }, "summary-1"],
        last: "miss",
        runs: { square: 1, fetchUser: 1, summary: 1, history: 0 },
      },
    ]);

    const second = await runProgram(program, { cwd, dialect });
    expect(second.stderr).toBe("");
    expect(second.lines).toEqual([
      {
        restored: { visits: 1, tags: ["visit-1"] },
        last: null,
        status: { "square(5,){}": "l1", "fetchUser(8,){}": "l1", "summary(){}": "l1" },
      },
      {
        // The getter's result was cached with visits = 1: a hit returns it although visits is now 2.
        values: [25, { id: 8, name: "user-8" }, "summary-1"],
        last: "l1",
        runs: { square: 0, fetchUser: 0, summary: 0, history: 0 },
      },
    ]);
    const file = JSON.parse(readFileSync(cacheFilePath(cwd), "utf8")) as { _json_cache_variable_cache: unknown };
    expect(file._json_cache_variable_cache).toEqual({ visits: 2, tags: ["visit-1", "visit-2"] });
  });

  it("warns about a class field initializer that hides a restored attribute, and keeps the stored value unless saved", async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache } from "cacherator";
      class Game extends JSONCache {
        score = 0;
        constructor() { super({ dataId: "dialect-game" }); }
      }
      const game = new Game();
      if (process.env.PHASE === "first") game.score = 100;
      if (process.env.PHASE === "first") await game.jsonCacheSave();
      await new Promise((resolve) => setTimeout(resolve, 1)); // the check runs right after construction
      console.log(JSON.stringify({ score: game.score }));
    `;
    const first = await runProgram(program, { cwd, dialect, env: { PHASE: "first" } });
    expect(first.stderr).toBe("");
    expect(first.lines).toEqual([{ score: 100 }]);

    const second = await runProgram(program, { cwd, dialect, env: { PHASE: "second" } });
    expect(second.lines).toEqual([{ score: 0 }]);
    const file = JSON.parse(readFileSync(cacheFilePath(cwd), "utf8")) as { _json_cache_variable_cache: unknown };
    expect(file._json_cache_variable_cache).toEqual({ score: 100 });
    expect(second.stderr).toContain("Game.score");
    expect(second.stderr).toContain("declare score");
    expect(second.stderr).toContain("this.score ??=");
  });
});
