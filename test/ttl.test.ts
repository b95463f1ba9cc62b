/**
 * TTLs: readable durations (and clear errors for ambiguous or invalid ones), and TTLs computed from
 * the result, stored with the entry and honoured.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Cached, CacheOptionsError, JSONCache } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { tempDir } from "./helpers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
function fileEntries(directory: string, dataId: string): Record<string, Record<string, unknown>> {
  return (JSON.parse(readFileSync(join(directory, `${dataId}.json`), "utf8")) as { _json_cache_func_cache: Record<string, Record<string, unknown>> })._json_cache_func_cache;
}

beforeEach(() => CacheLog.resetReported());
afterEach(async () => {
  await JSONCache.flushAll();
});

describe("TTLs", () => {
  it("accepts readable durations and rejects ambiguous or invalid ones with a clear error", () => {
    const make = (ttl: unknown) => {
      class Timed extends JSONCache {
        constructor() {
          super({ dataId: "timed", directory: tempDir(), ttl: ttl as number, logging: false });
        }
      }
      return new Timed();
    };
    for (const ok of ["90s", "15m", "6h", "3d", "2w", "1h30m", "250ms", 0.5, 0, Infinity]) expect(() => make(ok)).not.toThrow();
    expect(() => make("10")).toThrow(CacheOptionsError);
    expect(() => make("10")).toThrow(/"10d" for days/);
    expect(() => make("5 parsecs")).toThrow(/not a duration/);
    expect(() => make(-1)).toThrow(/ttl/);
    expect(() => {
      class Soon extends JSONCache {
        // @ts-expect-error -- not a duration: refused by the types, and at run time for untyped callers
        @Cached({ ttl: "soon" }) value() {
          return 1;
        }
      }
      return Soon;
    }).toThrow(/@Cached on value: option "ttl"/);
  });

  it("a TTL computed from the result is stored with the entry and honoured", async () => {
    const directory = tempDir();
    let runs = 0;
    class Tokens extends JSONCache {
      constructor() {
        super({ dataId: "tokens", directory, logging: false });
      }
      @Cached({ ttl: (token: { expiresIn: number }) => `${token.expiresIn}ms` }) token(scope: string) {
        runs++;
        return { scope, expiresIn: scope === "short" ? 100 : 60_000 };
      }
    }
    const tokens = new Tokens();
    tokens.token("short");
    tokens.token("long");
    expect(await tokens.jsonCacheSave()).toBe(true);
    expect(fileEntries(directory, "tokens")["token('short',){}"]?.ttl_ms).toBe(100);
    await sleep(150);
    tokens.token("short");
    tokens.token("long");
    expect(runs).toBe(3); // short expired, long did not
  });
});
