/**
 * A cache directory that cannot be written, cannot be created, or is removed under a running program:
 * results are still returned, one warning names the path, and writes land once the directory can be used.
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { recordingLogger, runProgram, tempDir } from "./helpers.js";
import { cachedKeys, makeSquares, resetLoggingAroundEachTest } from "./failure-helpers.js";

resetLoggingAroundEachTest();

describe("a cache directory that cannot be written", () => {
  it("a directory under a regular file (ENOTDIR): results are returned, one warning names the path, jsonCacheSave resolves false", async () => {
    const base = tempDir();
    writeFileSync(join(base, "plain-file"), "not a directory");
    const directory = join(base, "plain-file", "cache");
    const log = recordingLogger();
    const { Squares, calls } = makeSquares(directory, "nowhere", log);
    const squares = new Squares();
    expect(squares.square(5)).toBe(25);
    expect(squares.square(5)).toBe(25);
    expect(squares.lastCacheStatus).toBe("l1");
    expect(calls.count).toBe(1);
    await expect(squares.jsonCacheSave()).resolves.toBe(false);
    expect(squares.square(6)).toBe(36);
    await expect(squares.jsonCacheSave()).resolves.toBe(false);
    await expect(squares.jsonCacheClear("square")).resolves.toBe(false);

    expect(log.messages).toHaveLength(1);
    expect(log.messages[0]?.level).toBe("warn");
    expect(log.messages[0]?.message).toContain(resolve(directory, "nowhere.json"));
  });

  it("a program whose cache directory cannot be created runs to its end and exits normally", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "plain-file"), "not a directory");
    const program = `
      import { JSONCache, Cached } from "cacherator";
      class Squares extends JSONCache {
        constructor() { super({ dataId: "nowhere", directory: "plain-file/cache" }); }
        @Cached() square(n: number) { return n * n; }
      }
      const squares = new Squares();
      const value = squares.square(4);
      const saved = await squares.jsonCacheSave();
      squares.square(5); // still pending when the process exits
      console.log(JSON.stringify({ value, saved }));
    `;
    const result = await runProgram(program, { cwd });
    expect(result.lines).toEqual([{ value: 16, saved: false }]);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace: nothing was thrown
    expect(result.stderr.match(/\[cacherator\]/g)?.length).toBeGreaterThanOrEqual(1);
    expect(result.stderr).toContain(join(cwd, "plain-file", "cache", "nowhere.json"));
  });

  it("a missing directory is created when the cache opens (its file name is claimed then)", async () => {
    const directory = join(tempDir(), "deep", "er", "cache");
    const log = recordingLogger();
    const { Squares } = makeSquares(directory, "created", log);
    expect(existsSync(directory)).toBe(false);
    const squares = new Squares();
    expect(existsSync(join(directory, "created.json"))).toBe(true);
    squares.square(7);
    await expect(squares.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "created.json"))).toEqual(["square(7,){}"]);
    expect(log.messages).toEqual([]);
  });

  it("a directory removed under a running program is created again by the next write, without a warning", async () => {
    const directory = join(tempDir(), "cache");
    const log = recordingLogger();
    const { Squares } = makeSquares(directory, "removed", log);
    const squares = new Squares();
    squares.square(1);
    await expect(squares.jsonCacheSave()).resolves.toBe(true);
    rmSync(directory, { recursive: true });
    squares.square(2);
    await expect(squares.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "removed.json"))).toEqual(["square(1,){}", "square(2,){}"]);
    expect(log.messages).toEqual([]);
  });
});
