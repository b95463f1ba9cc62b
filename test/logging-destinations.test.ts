/**
 * Where (and whether) messages go: local work logs nothing, switches silence one instance or all,
 * a custom logger receives warnings, and a logger that throws does not break the program.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Cached, JSONCache, type CacheLogger } from "../src/index.js";
import { recordingLogger, runProgram, tempDir } from "./helpers.js";
import { makeSquares, resetLoggingAroundEachTest, settle, warnings } from "./failure-helpers.js";

resetLoggingAroundEachTest();

describe("logging", () => {
  /** A class whose `odd` result cannot be persisted: a dependable source of one warning per method. */
  function makeNoisy(directory: string, options: { logger?: CacheLogger; logging?: boolean } = {}) {
    class Noisy extends JSONCache {
      constructor() {
        super({ dataId: "noisy", directory, ...options });
      }
      @Cached() odd(n: number) {
        return { n, run: () => n };
      }
      @Cached() other(n: number) {
        return { n, run: () => n };
      }
    }
    return new Noisy();
  }

  it("local JSON work logs nothing: misses, hits, async calls, saves, clears, stats and shared instances", async () => {
    const directory = tempDir();
    const own = recordingLogger();
    const global = recordingLogger();
    JSONCache.setLogger(global);
    class Quiet extends JSONCache {
      declare score: number;
      constructor(logger?: CacheLogger) {
        super({ dataId: "quiet", directory, ...(logger ? { logger } : {}) });
        this.score ??= 0;
      }
      @Cached() sync(n: number) {
        return { n, when: new Date(n), tags: new Set([n]) };
      }
      @Cached() async later(n: number) {
        return n * 2;
      }
    }
    const quiet = new Quiet(own);
    const shared = new Quiet();
    for (let round = 0; round < 2; round++) {
      quiet.sync(1);
      await quiet.later(2);
      shared.sync(1);
      await shared.later(3);
      quiet.score++;
    }
    quiet.jsonCacheStats();
    await expect(quiet.jsonCacheSave()).resolves.toBe(true);
    await expect(quiet.jsonCacheClear("later")).resolves.toBe(true);
    await JSONCache.flushAll();
    expect(own.messages).toEqual([]);
    expect(global.messages).toEqual([]);
  });

  it("restarts log nothing either (default console logger)", async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      class Player extends JSONCache {
        declare score: number;
        constructor() { super({ dataId: "player" }); this.score ??= 0; }
        @Cached() level(n: number) { return { n, at: new Date(0) }; }
        @Cached() async load(n: number) { return [n]; }
      }
      const p = new Player();
      p.score += 10;
      p.level(1);
      await p.load(2);
      const saved = await p.jsonCacheSave();
      console.log(JSON.stringify({ score: p.score, status: p.lastCacheStatus, saved }));
    `;
    const first = await runProgram(program, { cwd });
    const second = await runProgram(program, { cwd });
    for (const run of [first, second]) {
      expect(run.stderr).toBe("");
      expect(run.stdout).not.toContain("[cacherator]");
    }
    expect(first.lines).toEqual([{ score: 10, status: "miss", saved: true }]);
    expect(second.lines).toEqual([{ score: 20, status: "l1", saved: true }]);
  });

  it("JSONCache.setLogging(false) silences every instance, existing ones included, until it is turned back on", () => {
    const existingLog = recordingLogger();
    const globalLog = recordingLogger();
    JSONCache.setLogger(globalLog);
    const existing = makeNoisy(tempDir(), { logger: existingLog });
    JSONCache.setLogging(false);
    const created = makeNoisy(tempDir());
    existing.odd(1);
    created.odd(1);
    expect(existingLog.messages).toEqual([]);
    expect(globalLog.messages).toEqual([]);

    JSONCache.setLogging(true);
    existing.other(1);
    created.other(1);
    expect(warnings(existingLog)).toHaveLength(1);
    expect(warnings(globalLog)).toHaveLength(1);
  });

  it("logging: false silences one instance only", () => {
    const silentLog = recordingLogger();
    const loudLog = recordingLogger();
    const silent = makeNoisy(tempDir(), { logger: silentLog, logging: false });
    const loud = makeNoisy(tempDir(), { logger: loudLog });
    silent.odd(1);
    loud.odd(1);
    expect(silentLog.messages).toEqual([]);
    expect(warnings(loudLog)).toHaveLength(1);
  });

  it("JSONCache.setLogger sends warnings of instances without their own logger to it", () => {
    const globalLog = recordingLogger();
    const ownLog = recordingLogger();
    JSONCache.setLogger(globalLog);
    makeNoisy(tempDir()).odd(1);
    makeNoisy(tempDir(), { logger: ownLog }).odd(1);
    expect(warnings(globalLog)).toHaveLength(1);
    expect(warnings(globalLog)[0]).toContain("odd");
    expect(warnings(ownLog)).toHaveLength(1);
  });

  it("a logger that throws does not break the program", async () => {
    let calls = 0;
    const throwing: CacheLogger = {
      debug: () => { calls++; throw new Error("debug broke"); },
      info: () => { calls++; throw new Error("info broke"); },
      warn: () => { calls++; throw new Error("warn broke"); },
      error: () => { calls++; throw new Error("error broke"); },
    };
    const noisy = makeNoisy(tempDir(), { logger: throwing });
    expect(noisy.odd(1).n).toBe(1);
    expect(noisy.odd(1).n).toBe(1);

    // A damaged file reported at construction, and a failed write, through the same logger.
    const directory = tempDir();
    writeFileSync(join(directory, "broken.json"), "{ not json");
    settle(join(directory, "broken.json"));
    const { Squares } = makeSquares(directory, "broken", throwing);
    const squares = new Squares();
    expect(squares.square(2)).toBe(4);
    const base = tempDir();
    writeFileSync(join(base, "file"), "");
    const { Squares: Unwritable } = makeSquares(join(base, "file", "cache"), "unwritable", throwing);
    const unwritable = new Unwritable();
    expect(unwritable.square(3)).toBe(9);
    await expect(unwritable.jsonCacheSave()).resolves.toBe(false);
    expect(calls).toBeGreaterThanOrEqual(3);
  });
});
