/**
 * Helpers of the tests of what happens when things go wrong (damaged files, unwritable directories,
 * killed writers, failing methods, unwritable results, usage mistakes, logging): a class with one
 * cached method, a genuine cache file's bytes, what a cache holds on disk, the warnings logged.
 */
import { existsSync, readFileSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, expect } from "vitest";
import { Cached, JSONCache, type CacheLogger } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { tempDir, type RecordedLogger } from "./helpers.js";

export interface CacheFileShape {
  _json_cache_func_cache: Record<string, { value: unknown; date: string }>;
}

export function readCache(file: string): CacheFileShape {
  return JSON.parse(readFileSync(file, "utf8")) as CacheFileShape;
}

/**
 * The entries a cache holds on disk: the file, plus its journal (complete lines only) when it has one.
 */
export function valuesOnDisk(file: string): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(readCache(file)._json_cache_func_cache)) values[key] = entry.value;
  const journal = `${file}.journal`;
  if (!existsSync(journal)) return values;
  const text = readFileSync(journal, "utf8");
  for (const line of text.slice(0, text.lastIndexOf("\n") + 1).split("\n")) {
    if (line === "") continue;
    let op: { k?: string; e?: { value: unknown }; del?: string[] };
    try {
      op = JSON.parse(line) as typeof op;
    } catch {
      continue; // a line cut short by the kill
    }
    if (op.k !== undefined && op.e !== undefined) values[op.k] = op.e.value;
    for (const key of op.del ?? []) delete values[key];
  }
  return values;
}

export function keysOnDisk(file: string): string[] {
  return Object.keys(valuesOnDisk(file));
}

export function cachedKeys(file: string): string[] {
  return Object.keys(readCache(file)._json_cache_func_cache).sort();
}

/**
 * Registers, in the calling test file, the hooks every failure test needs: warnings reported once
 * per process are reported again in each test, and logging is back to its defaults after each, with
 * no pending write left for the exit hook (the temp directories go away after the file).
 */
export function resetLoggingAroundEachTest(): void {
  beforeEach(() => {
    CacheLog.resetReported();
  });
  afterEach(async () => {
    JSONCache.setLogging(true);
    JSONCache.setLogger(console);
    await JSONCache.flushAll();
  });
}

/** A class with one cached method, in `directory`, reporting to `logger`. */
export function makeSquares(directory: string, dataId: string, logger?: CacheLogger): { Squares: new () => JSONCache & { square(n: number): number }; calls: { count: number } } {
  const calls = { count: 0 };
  class Squares extends JSONCache {
    constructor() {
      super({ dataId, directory, ...(logger ? { logger } : {}) });
    }
    @Cached() square(n: number) {
      calls.count++;
      return n * n;
    }
  }
  return { Squares, calls };
}

/** The bytes of a real cache file with a few entries, written by the library. */
export async function genuineCacheFile(): Promise<Buffer> {
  const directory = tempDir();
  const { Squares } = makeSquares(directory, "source");
  const source = new Squares();
  for (let i = 0; i < 5; i++) source.square(i);
  expect(await source.jsonCacheSave()).toBe(true);
  return readFileSync(join(directory, "source.json"));
}

export function warnings(logger: RecordedLogger): string[] {
  return logger.messages.filter((m) => m.level === "warn").map((m) => m.message);
}

/** Dates a file a minute back: it has stayed as it is, so it is not being written by another program. */
export function settle(file: string): void {
  const past = new Date(Date.now() - 60_000);
  utimesSync(file, past, past);
}
