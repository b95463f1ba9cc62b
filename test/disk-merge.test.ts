/**
 * The merge of what is read into the memory table drops the same things whatever it was read from: an
 * entry whose computation time is more than a day ahead of this clock (it would never expire and would
 * win every merge) is never adopted, from a cache file, a journal line, or the late writes of another
 * program into a file a fold replaced. A clear time as far ahead (it would void every result until
 * then) is never adopted either, nor attributes saved that far ahead (they would win over every later
 * save), from a file or a journal line.
 */
import { describe, expect, it } from "vitest";
import { CacheLog } from "../src/logger.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { DiskMerge } from "../src/store/disk-merge.js";
import { clearLine, setLine, variablesLine } from "../src/store/journal.js";
import { MemoryTable } from "../src/store/memory-table.js";
import { recordingLogger } from "./helpers.js";

const DAY = 86_400_000;

function fileWith(entries: [string, number][]): string {
  return serializeCacheFile("merge", entries.map(([key, time]): [string, string] => [key, entryText("v", time, false)]), [], Date.now());
}

describe("what is read is merged by the same rules, whatever it was read from", () => {
  const now = Date.now();
  const entries: [string, number][] = [
    ["now(){}", now],
    ["future(){}", now + 2 * DAY],
  ];

  it("a cache file", () => {
    const table = new MemoryTable();
    new DiskMerge(table, new CacheLog(false), "j").file(fileWith(entries), "f", undefined);
    expect(table.get("now(){}")).toBeDefined();
    expect(table.get("future(){}")).toBeUndefined();
  });

  it("a journal line", () => {
    const table = new MemoryTable();
    const merge = new DiskMerge(table, new CacheLog(false), "j");
    for (const [key, time] of entries) merge.line(setLine(key, entryText("v", time, false)).trim(), undefined);
    expect(table.get("now(){}")).toBeDefined();
    expect(table.get("future(){}")).toBeUndefined();
  });

  it("another program's late writes into a replaced file: the keys taken are only those adopted", () => {
    const table = new MemoryTable();
    const taken = new DiskMerge(table, new CacheLog(false), "j").newerIn(fileWith(entries));
    expect([...taken]).toEqual(["now(){}"]);
    expect(table.get("future(){}")).toBeUndefined();
  });
});

describe("a clear time more than a day ahead is ignored, whatever it was read from", () => {
  const now = Date.now();
  const clears = new Map([
    ["*", now + 2 * DAY],
    ["soon", now + 3_600_000],
  ]);

  function expectIgnoredAhead(table: MemoryTable, warnings: () => string[]): void {
    // Within a day ahead it is a clear like any other: what was computed before it is void.
    expect(table.clears.get("soon")).toBe(now + 3_600_000);
    expect(table.isCleared("soon(1,){}", now)).toBe(true);
    // Two days ahead it is ignored: a result computed now stands.
    expect(table.clears.has("*")).toBe(false);
    expect(table.isCleared("other(1,){}", now)).toBe(false);
    expect(warnings().join("\n")).toMatch(/1 clear time of .* is more than a day ahead/);
  }

  function recording(): { log: CacheLog; warnings: () => string[] } {
    const logger = recordingLogger();
    return { log: new CacheLog(true, logger), warnings: () => logger.messages.filter((m) => m.level === "warn").map((m) => m.message) };
  }

  it("a cache file's marker", () => {
    const table = new MemoryTable();
    const { log, warnings } = recording();
    new DiskMerge(table, log, "j").file(serializeCacheFile("merge", [], [], now, { clears }), "f", undefined);
    expectIgnoredAhead(table, warnings);
  });

  it("a journal line", () => {
    const table = new MemoryTable();
    const { log, warnings } = recording();
    new DiskMerge(table, log, "j").line(clearLine(clears).trim(), undefined);
    expectIgnoredAhead(table, warnings);
  });
});

describe("attributes saved more than a day ahead are ignored, whatever they were read from", () => {
  const now = Date.now();
  const score = (value: number) => new Map([["score", String(value)]]);

  it("a cache file's marker", () => {
    const ahead = new MemoryTable();
    const logger = recordingLogger();
    new DiskMerge(ahead, new CacheLog(true, logger), "j").file(serializeCacheFile("merge", [], score(1), now, { variablesTime: now + 2 * DAY }), "f", undefined);
    expect(ahead.variables.size).toBe(0);
    expect(logger.text()).toMatch(/attributes in f claim to be saved more than a day ahead/);
    const within = new MemoryTable();
    new DiskMerge(within, new CacheLog(false), "j").file(serializeCacheFile("merge", [], score(2), now, { variablesTime: now + 3_600_000 }), "f", undefined);
    expect(within.variables.get("score")).toBe("2");
  });

  it("a journal line: a later save within the day still wins", () => {
    const table = new MemoryTable();
    const merge = new DiskMerge(table, new CacheLog(false), "j");
    merge.line(variablesLine(score(1), now + 2 * DAY).trim(), undefined);
    expect(table.variables.size).toBe(0);
    merge.line(variablesLine(score(2), now).trim(), undefined);
    merge.line(variablesLine(score(3), now + 1).trim(), undefined);
    expect(table.variables.get("score")).toBe("3");
  });
});
