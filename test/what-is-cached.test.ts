/**
 * Choosing what is cached: `shouldCache` declines results, and a `version` ignores entries stored
 * under another version (in the file, and in DynamoDB).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { tempDir } from "./helpers.js";

function fileEntries(directory: string, dataId: string): Record<string, Record<string, unknown>> {
  return (JSON.parse(readFileSync(join(directory, `${dataId}.json`), "utf8")) as { _json_cache_func_cache: Record<string, Record<string, unknown>> })._json_cache_func_cache;
}

beforeEach(() => CacheLog.resetReported());
afterEach(async () => {
  await JSONCache.flushAll();
});

describe("what is cached", () => {
  it("shouldCache declines results: they are returned, not stored", () => {
    let runs = 0;
    class Lookup extends JSONCache {
      constructor() {
        super({ dataId: "lookup", directory: tempDir(), logging: false });
      }
      @Cached({ shouldCache: (result: string | null) => result !== null }) find(id: number) {
        runs++;
        return id > 0 ? `item ${id}` : null;
      }
    }
    const lookup = new Lookup();
    expect(lookup.find(0)).toBeNull();
    expect(lookup.find(0)).toBeNull();
    expect(lookup.find(1)).toBe("item 1");
    expect(lookup.find(1)).toBe("item 1");
    expect(runs).toBe(3);
  });

  it("a version ignores entries stored under another version, and tags what it stores", async () => {
    const directory = tempDir();
    let runs = 0;
    const define = (version?: string) => {
      class Report extends JSONCache {
        constructor() {
          super({ dataId: "report", directory, logging: false });
        }
        @Cached(version === undefined ? {} : { version }) build(n: number) {
          runs++;
          return `report ${n} ${version ?? "unversioned"}`;
        }
      }
      return new Report();
    };
    const v1 = define("1");
    expect(v1.build(1)).toBe("report 1 1");
    expect(await v1.jsonCacheSave()).toBe(true);
    expect(fileEntries(directory, "report")["build(1,){}"]?.version).toBe("1");
    const v2 = define("2");
    expect(v2.build(1)).toBe("report 1 2");
    expect(v2.lastCacheStatus).toBe("miss");
    expect(v2.build(1)).toBe("report 1 2");
    expect(v2.lastCacheStatus).toBe("l1");
    const none = define();
    expect(none.build(1)).toBe("report 1 unversioned");
    expect(runs).toBe(3);
  });
});

describe("versions and DynamoDB", () => {
  it("an L2 entry of another version is not served", async () => {
    const endpoint = inject("dynamodbEndpoint");
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" });
    const table = `cacherator-beyond-${process.pid}-${Date.now().toString(36)}`;
    const make = (version: string) => {
      class Shared extends JSONCache {
        constructor() {
          super({ dataId: "versioned", directory: tempDir(), dynamodbTable: table, dynamodbEndpoint: endpoint, logging: false });
        }
        @Cached({ version }) async value(n: number) {
          return `v${version}:${n}`;
        }
      }
      return new Shared();
    };
    const writer = make("1");
    expect(await writer.value(1)).toBe("v1:1");
    expect(await writer.jsonCacheSave()).toBe(true);
    const other = make("2");
    expect(await other.value(1)).toBe("v2:1");
    expect(other.lastCacheStatus).toBe("miss");
    expect(await other.jsonCacheSave()).toBe(true);
    const same = make("2");
    expect(await same.value(1)).toBe("v2:1");
    expect(same.lastCacheStatus).toBe("l2");
  });
});
