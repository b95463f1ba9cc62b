/**
 * A damaged, foreign or misplaced cache file: kept aside with its bytes, never overwritten, and the
 * program goes on with an empty cache; a directory where the file belongs is kept aside too.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { recordingLogger, tempDir } from "./helpers.js";
import {
  cachedKeys,
  genuineCacheFile,
  makeSquares,
  resetLoggingAroundEachTest,
  settle,
  warnings,
} from "./failure-helpers.js";

resetLoggingAroundEachTest();

describe("a damaged or foreign cache file", () => {
  it("a truncated file is kept aside with its bytes, the program goes on with an empty cache, and later writes make a fresh file", async () => {
    const genuine = await genuineCacheFile();
    const truncated = genuine.subarray(0, Math.floor(genuine.length / 2));
    const directory = tempDir();
    const file = join(directory, "damaged.json");
    writeFileSync(file, truncated);
    settle(file);

    const log = recordingLogger();
    const { Squares, calls } = makeSquares(directory, "damaged", log);
    const squares = new Squares();
    expect(squares.jsonCacheStats()).toEqual({ totalEntries: 0, functions: {} });
    expect(squares.square(3)).toBe(9);
    expect(calls.count).toBe(1);
    expect(squares.lastCacheStatus).toBe("miss");

    expect(log.messages).toHaveLength(1);
    expect(warnings(log)[0]).toContain(file);
    const aside = readdirSync(directory).filter((name) => name !== "damaged.json" && name.startsWith("damaged.json") && !name.endsWith(".journal"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(directory, aside[0] as string)).equals(truncated)).toBe(true);

    await expect(squares.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(file)).toEqual(["square(3,){}"]);
    expect(readFileSync(join(directory, aside[0] as string)).equals(truncated)).toBe(true);
    expect(log.messages).toHaveLength(1);
  });

  it.each([
    ["a JSON array", "[1,2]"],
    ["another program's object", '{"hello": 1}'],
    ["JSON null", "null"],
    ["a JSON string", '"text"'],
  ])("%s at the cache path is kept aside, never overwritten, with a warning", async (_what, content) => {
    const directory = tempDir();
    const file = join(directory, "foreign.json");
    writeFileSync(file, content);
    const log = recordingLogger();
    const { Squares } = makeSquares(directory, "foreign", log);
    const squares = new Squares();
    expect(squares.square(4)).toBe(16);
    await expect(squares.jsonCacheSave()).resolves.toBe(true);

    expect(warnings(log)).toHaveLength(1);
    expect(warnings(log)[0]).toContain(file);
    const aside = readdirSync(directory).filter((name) => name !== "foreign.json");
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(directory, aside[0] as string), "utf8")).toBe(content);
    expect(cachedKeys(file)).toEqual(["square(4,){}"]);
  });
});

describe("a cache path that is not a file", () => {
  it("a directory standing where the cache file belongs is kept aside with its content, and the cache works", async () => {
    const directory = tempDir();
    const blocker = join(directory, "blocked.json");
    mkdirSync(blocker);
    writeFileSync(join(blocker, "keep.txt"), "precious");
    const log = recordingLogger();
    const { Squares, calls } = makeSquares(directory, "blocked", log);
    const squares = new Squares();
    expect(squares.square(3)).toBe(9);
    expect(calls.count).toBe(1);
    await expect(squares.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(blocker)).toEqual(["square(3,){}"]);
    const aside = readdirSync(directory).filter((name) => name.startsWith("blocked.json.unreadable-"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(directory, aside[0] as string, "keep.txt"), "utf8")).toBe("precious");
    expect(warnings(log)).toHaveLength(1);
    expect(warnings(log)[0]).toContain("cannot be read");
  });
});
