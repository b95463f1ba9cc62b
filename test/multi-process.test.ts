/**
 * Several processes on one cache (same dataId and directory): nothing any of them wrote is lost, and a
 * process finds what another one wrote while it was running. Real child processes, real files.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runProgram, tempDir } from "./helpers.js";

function keysIn(file: string): string[] {
  const data = JSON.parse(readFileSync(file, "utf8")) as { _json_cache_func_cache: Record<string, unknown> };
  return Object.keys(data._json_cache_func_cache);
}

async function waitFor(path: string): Promise<void> {
  for (let i = 0; i < 2_000 && !existsSync(path); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(existsSync(path)).toBe(true);
}

describe("several processes writing one cache", () => {
  it("four processes writing 2,500 distinct entries each end with all 10,000", async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      class Shared extends JSONCache {
        constructor() { super({ dataId: "shared", writeDelay: 2 }); }
        @Cached() work(worker: number, i: number) { return worker * 100_000 + i; }
      }
      const shared = new Shared();
      const worker = Number(process.env.WORKER);
      for (let i = 0; i < 2_500; i++) {
        shared.work(worker, i);
        // Let the coalesced writes of the four processes interleave.
        if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 3));
      }
      console.log(JSON.stringify({ worker, done: true }));
    `;
    const results = await Promise.all(
      [0, 1, 2, 3].map((worker) => runProgram(program, { cwd, env: { WORKER: String(worker) }, timeoutMs: 60_000 })),
    );
    for (const result of results) {
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
    }
    const keys = keysIn(join(cwd, "data/cache/shared.json"));
    expect(keys).toHaveLength(10_000);
    for (const worker of [0, 1, 2, 3]) {
      expect(keys).toContain(`work(${worker}, 0){}`);
      expect(keys).toContain(`work(${worker}, 2499){}`);
    }
    expect(existsSync(join(cwd, "data/cache/shared.json.lock"))).toBe(false);
  });

  it("a running process finds an entry another process wrote since it started, without running the method", async () => {
    const cwd = tempDir();
    const reader = `
      import { existsSync, writeFileSync } from "node:fs";
      import { JSONCache, Cached } from "cacherator";
      let runs = 0;
      class Prices extends JSONCache {
        constructor() { super({ dataId: "prices" }); }
        @Cached() quote(symbol: string) { runs++; return symbol + "-computed-by-reader"; }
      }
      const prices = new Prices();
      prices.quote("warm-up");
      writeFileSync("ready", "");
      while (!existsSync("go")) await new Promise((resolve) => setTimeout(resolve, 5));
      const value = prices.quote("ACME");
      console.log(JSON.stringify({ value, runs, status: prices.lastCacheStatus }));
    `;
    const writer = `
      import { JSONCache, Cached } from "cacherator";
      class Prices extends JSONCache {
        constructor() { super({ dataId: "prices" }); }
        @Cached() quote(symbol: string) { return symbol + "-computed-by-writer"; }
      }
      const prices = new Prices();
      prices.quote("ACME");
      console.log(JSON.stringify({ saved: await prices.jsonCacheSave() }));
    `;
    const running = runProgram(reader, { cwd });
    await waitFor(join(cwd, "ready"));
    const written = await runProgram(writer, { cwd });
    expect(written.lines).toEqual([{ saved: true }]);
    writeFileSync(join(cwd, "go"), "");
    const read = await running;
    expect(read.stderr).toBe("");
    expect(read.lines).toEqual([{ value: "ACME-computed-by-writer", runs: 1, status: "l1" }]);
    // The reader's own entry and the writer's are both in the file.
    expect(keysIn(join(cwd, "data/cache/prices.json")).sort()).toEqual(["quote('ACME',){}", "quote('warm-up',){}"]);
  });

  // With 6,000 entries each process's table is split into shards (past 4,096): the clear must reach every shard.
  it.each([1, 6_000])("a clear in one process is not undone by another process that still had the entries (%i of them)", async (count) => {
    const cwd = tempDir();
    const program = `
      import { existsSync, writeFileSync } from "node:fs";
      import { JSONCache, Cached } from "cacherator";
      class Reports extends JSONCache {
        constructor() { super({ dataId: "reports" }); }
        @Cached() report(n: number) { return "report " + n; }
        @Cached() summary(n: number) { return "summary " + n; }
      }
      const reports = new Reports();
      const count = Number(process.env.COUNT);
      if (process.env.ROLE === "seed") {
        for (let n = 0; n < count; n++) reports.report(n);
        reports.summary(1);
        await reports.jsonCacheSave();
      }
      if (process.env.ROLE === "holder") {
        for (let n = 0; n < count; n += 1_000) reports.report(n); // hits: this process holds the entries in memory
        writeFileSync("ready", "");
        while (!existsSync("go")) await new Promise((resolve) => setTimeout(resolve, 5));
        reports.summary(2); // a miss: its write must merge the other process's clear, not undo it
        reports.report(count - 1); // cleared: computed again
      }
      if (process.env.ROLE === "clearer") await reports.jsonCacheClear("report");
      console.log(JSON.stringify({ role: process.env.ROLE, status: reports.lastCacheStatus }));
    `;
    const env = { COUNT: String(count) };
    await runProgram(program, { cwd, env: { ...env, ROLE: "seed" }, timeoutMs: 60_000 });
    expect(keysIn(join(cwd, "data/cache/reports.json"))).toHaveLength(count + 1);
    const holder = runProgram(program, { cwd, env: { ...env, ROLE: "holder" }, timeoutMs: 60_000 });
    await waitFor(join(cwd, "ready"));
    await runProgram(program, { cwd, env: { ...env, ROLE: "clearer" } });
    writeFileSync(join(cwd, "go"), "");
    const held = await holder;
    expect(held.stderr).toBe("");
    expect(held.lines).toEqual([{ role: "holder", status: "miss" }]);
    expect(keysIn(join(cwd, "data/cache/reports.json")).sort()).toEqual([`report(${count - 1},){}`, "summary(1,){}", "summary(2,){}"]);
  });

  it("a lock left behind by a killed process does not block the next writer", async () => {
    const cwd = tempDir();
    const program = `
      import { mkdirSync, writeFileSync } from "node:fs";
      import { JSONCache, Cached } from "cacherator";
      mkdirSync("data/cache", { recursive: true });
      // The lock of a process that no longer exists (pid 2^22 + 1 is above Linux's pid_max default).
      writeFileSync("data/cache/locked.json.lock", "4194305 deadbeef");
      class Locked extends JSONCache {
        constructor() { super({ dataId: "locked" }); }
        @Cached() value(n: number) { return n; }
      }
      const locked = new Locked();
      locked.value(1);
      console.log(JSON.stringify({ saved: await locked.jsonCacheSave() }));
    `;
    const result = await runProgram(program, { cwd, timeoutMs: 5_000 });
    expect(result.lines).toEqual([{ saved: true }]);
    expect(keysIn(join(cwd, "data/cache/locked.json"))).toEqual(["value(1,){}"]);
    expect(existsSync(join(cwd, "data/cache/locked.json.lock"))).toBe(false);
  });
});
