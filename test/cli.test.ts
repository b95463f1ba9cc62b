/**
 * `npx cacherator`, the cache inspector, as users run it: the built dist/cli.js in a child process,
 * against real cache directories written by the library (and by the Python library), with its exit
 * codes, its aligned tables and its --json output parsed back. Changes it makes are checked while an
 * application process keeps writing the same cache, and the DynamoDB side against DynamoDB Local.
 */
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { createDynamoDBTier } from "../src/store/dynamodb/index.js";
import { runProgram, tempDir } from "./helpers.js";
import { waitForDynamoDB } from "./setup/dynamodb.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli.js");
const PYTHON_FIXTURES = "/work/shared/fixtures/python-cacherator-1.2.8";
const DAY = 86_400_000;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr: withoutSdkNotice(stderr) });
    });
  });
}

/** The AWS SDK's own notice that its future versions need Node 22 (printed on Node 20): not the CLI's output. */
function withoutSdkNotice(stderr: string): string {
  return stderr.replace(/\(node:\d+\) Warning: NodeVersionSupportWarning:[\s\S]*?to show where the warning was created\)\n/g, "");
}

/** Runs the CLI with --json, expects exit 0, and parses its output. */
async function cliJson<T = Record<string, unknown>>(args: string[], options?: { cwd?: string; env?: Record<string, string> }): Promise<T> {
  const result = await cli([...args, "--json"], options);
  expect(result.stderr, result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as T;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (condition()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A directory with two caches written by the library: `calc` (2 functions, 3 entries, an attribute) and `User Repo`. */
async function libraryCaches(): Promise<{ directory: string; calc: { totalEntries: number; functions: Record<string, number> } }> {
  const directory = tempDir();
  class Calculator extends JSONCache {
    declare runs: number;
    constructor() {
      super({ dataId: "calc", directory });
      this.runs ??= 0;
    }
    @Cached() power(x: number, y: number) {
      this.runs++;
      return x ** y;
    }
    @Cached() async when(label: string) {
      return { label, at: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 600)), tags: new Set(["a", "b"]) };
    }
  }
  const calc = new Calculator();
  calc.power(2, 10);
  calc.power(3, 3);
  await calc.when("launch");
  expect(await calc.jsonCacheSave()).toBe(true);

  class Repo extends JSONCache {
    constructor() {
      super({ dataId: "User Repo", directory });
    }
    @Cached() user(id: number) {
      return { id, name: `user ${id}` };
    }
  }
  const repo = new Repo();
  repo.user(1);
  expect(await repo.jsonCacheSave()).toBe(true);
  return { directory, calc: calc.jsonCacheStats() as { totalEntries: number; functions: Record<string, number> } };
}

/** A cache `shop` whose methods have different TTLs: `tick` 1 second, `quote` 2 days; both computed now. */
async function methodsWithDifferentTtls(directory: string): Promise<void> {
  class Shop extends JSONCache {
    constructor() {
      super({ dataId: "shop", directory });
    }
    @Cached({ ttl: "1s" }) tick(n: number) {
      return n;
    }
    @Cached({ ttl: "2d" }) async quote(item: string) {
      return `quote for ${item}`;
    }
  }
  const shop = new Shop();
  shop.tick(1);
  await shop.quote("pear");
  expect(await shop.jsonCacheSave()).toBe(true);
}

/** Start offsets of the header's column names, and the line split accordingly. */
function columnStarts(header: string): number[] {
  return [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => m.index);
}

describe("the package", () => {
  it("ships dist/cli.js as the cacherator bin, runnable as a script", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> };
    expect(pkg.bin.cacherator).toBe("./dist/cli.js");
    expect(readFileSync(CLI, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(statSync(CLI).mode & 0o111).not.toBe(0);
    const result = await new Promise<CliResult>((resolve) => {
      execFile(CLI, ["--help"], (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }));
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: cacherator <command>");
  });
});

describe("list: the caches of a directory", () => {
  it("lists each object with its entries, size, oldest and newest entry, as JSON and as an aligned table", async () => {
    const { directory, calc } = await libraryCaches();
    const data = await cliJson<{ caches: Record<string, unknown>[] }>(["list", "--dir", directory]);
    const byId = new Map(data.caches.map((c) => [c.dataId, c]));
    expect([...byId.keys()].sort()).toEqual(["User Repo", "calc"]);
    const calcItem = byId.get("calc") as Record<string, unknown>;
    expect(calcItem).toMatchObject({ file: "calc.json", entries: calc.totalEntries, functions: 2, bytes: statSync(join(directory, "calc.json")).size });
    expect(calcItem.entries).toBe(3);
    const oldest = Date.parse(calcItem.oldest as string);
    const newest = Date.parse(calcItem.newest as string);
    expect(oldest).toBeLessThanOrEqual(newest);
    expect(Date.now() - oldest).toBeLessThan(60_000);
    expect(byId.get("User Repo")).toMatchObject({ file: "user-repo.json", entries: 1, name: "User Repo" });

    const human = await cli(["list", "--dir", directory]);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    const header = lines[0] as string;
    expect(header).toMatch(/^DATA ID\s+FILE\s+ENTRIES\s+FUNCTIONS\s+SIZE\s+OLDEST\s+NEWEST$/);
    const starts = columnStarts(header);
    const entriesEnd = header.indexOf("ENTRIES") + "ENTRIES".length;
    for (const line of lines.slice(1)) {
      // Text columns start under their header; numbers end under theirs.
      expect(line.indexOf(".json")).toBeGreaterThan(starts[1] as number);
      expect(line[(starts[1] as number) - 1]).toBe(" ");
      expect(line[entriesEnd - 1]).toMatch(/\d/);
      expect(line[entriesEnd]).toBe(" ");
      expect(line.slice(starts[5] as number)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}\d{4}-/);
    }
    const calcLine = lines.find((l) => l.startsWith("calc ")) as string;
    expect(calcLine.slice(starts[1] as number)).toMatch(/^calc\.json /);
    expect(calcLine.slice(0, entriesEnd).trimEnd().endsWith(" 3")).toBe(true);
  });

  it("names files of the Python library by file name, and lists an unreadable file without touching it", async () => {
    const directory = tempDir();
    copyFileSync(join(PYTHON_FIXTURES, "dataservice.json"), join(directory, "dataservice.json"));
    writeFileSync(join(directory, "broken.json"), "{ not json");
    writeFileSync(join(directory, "notes.txt"), "not a cache");
    const data = await cliJson<{ caches: Record<string, unknown>[] }>(["list", "--dir", directory]);
    expect(data.caches).toHaveLength(2);
    expect(data.caches.find((c) => c.file === "dataservice.json")).toMatchObject({ dataId: null, name: "dataservice", entries: 10 });
    expect(data.caches.find((c) => c.file === "broken.json")).toMatchObject({ error: expect.stringMatching(/not valid JSON/) });
    expect(readFileSync(join(directory, "broken.json"), "utf8")).toBe("{ not json");
    expect(readdirSync(directory).sort()).toEqual(["broken.json", "dataservice.json", "notes.txt"]);
    const human = await cli(["list", "--dir", directory]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^dataservice +dataservice\.json +10 /m);
    expect(human.stdout).toContain("unreadable: broken.json");
  });

  it("uses data/cache in the working directory by default, and says so when there is none", async () => {
    const cwd = tempDir();
    const missing = await cli(["list"], { cwd });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no cache directory data\/cache/);
    mkdirSync(join(cwd, "data/cache"), { recursive: true });
    copyFileSync(join(PYTHON_FIXTURES, "game-player1.json"), join(cwd, "data/cache/game-player1.json"));
    const data = await cliJson<{ caches: Record<string, unknown>[] }>(["list"], { cwd });
    expect(data.caches).toMatchObject([{ name: "game-player1", entries: 0, oldest: null }]);
  });
});

describe("show: one cache in detail", () => {
  it("shows entries per function and each entry's key, computation time, age, expiry and status", async () => {
    const { directory } = await libraryCaches();
    const data = await cliJson<{
      dataId: string;
      attributes: string[];
      functions: { function: string; entries: number; live: number; expired: number }[];
      entries: { key: string; function: string; computedAt: string; ageMs: number; expiresAt: string; status: string; ttl: string }[];
    }>(["show", "calc", "--dir", directory]);
    expect(data.dataId).toBe("calc");
    expect(data.attributes).toEqual(["runs"]);
    expect(data.functions).toEqual([
      { function: "power", entries: 2, live: 2, expired: 0 },
      { function: "when", entries: 1, live: 1, expired: 0 },
    ]);
    expect(data.entries.map((e) => e.key)).toEqual(["power(2, 10){}", "power(3, 3){}", "when('launch',){}"]);
    for (const entry of data.entries) {
      expect(entry.status).toBe("live");
      expect(Date.parse(entry.expiresAt) - Date.parse(entry.computedAt)).toBe(999 * DAY);
      expect(entry.ttl).toBe("999d");
      expect(entry.ageMs).toBeGreaterThanOrEqual(0);
    }

    const human = await cli(["show", "calc", "--dir", directory]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^data id: +calc$/m);
    expect(human.stdout).toMatch(/^entries: +3 \(3 live, 0 expired\)$/m);
    const lines = human.stdout.split("\n");
    const header = lines.find((l) => l.startsWith("KEY")) as string;
    expect(header).toMatch(/^KEY\s+FUNCTION\s+COMPUTED AT\s+AGE\s+TTL\s+EXPIRES AT\s+STATUS$/);
    const statusAt = header.indexOf("STATUS");
    const fnAt = header.indexOf("FUNCTION");
    const rows = lines.slice(lines.indexOf(header) + 1).filter((l) => l.length > 0);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.slice(statusAt)).toBe("live");
      expect(row.slice(fnAt)).toMatch(/^(power|when) /);
    }
  });

  it("judges each entry by its method's TTL, recorded in the file (999 days for entries that record none); --ttl judges all", async () => {
    const directory = tempDir();
    await methodsWithDifferentTtls(directory);
    const hourAgo = Date.now() - 3_600_000;
    const file = join(directory, "shop.json");
    const data = JSON.parse(readFileSync(file, "utf8")) as { _json_cache_func_cache: Record<string, Record<string, unknown>> };
    for (const entry of Object.values(data._json_cache_func_cache)) {
      // As if computed an hour ago: the expiry recorded moves with the computation time.
      (entry.expires_ms as number) -= (entry.epoch_ms as number) - hourAgo;
      entry.epoch_ms = hourAgo;
    }
    // An entry as older versions and the Python library write it: no recorded expiry.
    data._json_cache_func_cache["legacy(1,){}"] = { value: 1, date: "2020-01-01T00:00:00.000000", epoch_ms: hourAgo };
    writeFileSync(file, JSON.stringify(data));
    type Shown = { entries: { key: string; status: string; ttl: string; expirySource: string }[] };
    const shown = await cliJson<Shown>(["show", "shop", "--dir", directory]);
    expect(shown.entries.map(({ key, status, ttl, expirySource }) => ({ key, status, ttl, expirySource }))).toEqual([
      { key: "legacy(1,){}", status: "live", ttl: "999d", expirySource: "--ttl" },
      { key: "quote('pear',){}", status: "live", ttl: "2d", expirySource: "recorded" },
      { key: "tick(1,){}", status: "expired", ttl: "1s", expirySource: "recorded" },
    ]);
    const strict = await cliJson<Shown>(["show", "shop", "--dir", directory, "--ttl", "30m"]);
    // An explicit --ttl judges every entry, whatever it records.
    expect(strict.entries.map((e) => [e.status, e.expirySource])).toEqual([["expired", "--ttl"], ["expired", "--ttl"], ["expired", "--ttl"]]);
    const generous = await cliJson<Shown>(["show", "shop", "--dir", directory, "--ttl", "2h"]);
    expect(generous.entries.map((e) => e.status)).toEqual(["live", "live", "live"]);
    const human = await cli(["show", "shop", "--dir", directory]);
    expect(human.stdout).toMatch(/^tick\(1,\)\{\} +tick +\S+ +1h 0m +1s +\S+ +expired$/m);
    expect(human.stdout).toContain("judged by --ttl 999d");

    const pruned = await cliJson(["prune", "--dir", directory]);
    expect(pruned).toMatchObject({ removed: 1, caches: [{ name: "shop", keys: ["tick(1,){}"] }] });
    const after = JSON.parse(readFileSync(file, "utf8")) as { _json_cache_func_cache: Record<string, unknown> };
    expect(Object.keys(after._json_cache_func_cache).sort()).toEqual(["legacy(1,){}", "quote('pear',){}"]);
  });

  it("drops entries with a time out of range or in the future, with a warning and without a stack trace", async () => {
    const directory = tempDir();
    const now = Date.now();
    writeFileSync(
      join(directory, "odd.json"),
      serializeCacheFile("odd", [["f(1,){}", entryText(1, now, false)], ["f(2,){}", entryText(2, 1e300, false)], ["f(3,){}", entryText(3, now + 10 * 86_400_000, false)]], [], now),
    );
    for (const args of [["list"], ["show", "odd"], ["stats"], ["prune", "--dry-run"]]) {
      const result = await cli([...args, "--dir", directory]);
      expect(result.stderr).toMatch(/2 entries of .*odd\.json claim a computation time more than a day ahead/);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(result.code).toBe(0);
    }
    const shown = await cli(["show", "odd", "--dir", directory, "--json"]);
    expect((JSON.parse(shown.stdout) as { entries: { key: string }[] }).entries.map((e) => e.key)).toEqual(["f(1,){}"]);
  });

  it("accepts a dataId or the file name, for ids that are not file names and for files of the Python library", async () => {
    const { directory } = await libraryCaches();
    copyFileSync(join(PYTHON_FIXTURES, "dataservice.json"), join(directory, "dataservice.json"));
    const byId = await cliJson<{ dataId: string; file: string; entries: unknown[] }>(["show", "User Repo", "--dir", directory]);
    const stem = "user-repo.json".replace(/\.json$/, "");
    const byFile = await cliJson<{ dataId: string; file: string }>(["show", stem, "--dir", directory]);
    expect(byId).toMatchObject({ dataId: "User Repo", file: "user-repo.json" });
    expect(byId.entries).toHaveLength(1);
    expect(byFile).toMatchObject({ dataId: "User Repo", file: byId.file });
    const python = await cliJson<{ functions: { function: string; entries: number }[] }>(["show", "dataservice", "--dir", directory]);
    expect(python.functions.find((f) => f.function === "fetch")).toMatchObject({ entries: 4 });
  });
});

describe("get: one cached value", () => {
  it("prints the value as the program gets it, and with --json as the file stores it", async () => {
    const { directory } = await libraryCaches();
    const human = await cli(["get", "calc", "when('launch',){}", "--dir", directory]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("at: 2024-01-02T03:04:05.600Z");
    expect(human.stdout).toContain("Set(2) { 'a', 'b' }");
    const data = await cliJson<{ encoded: { label: string; at: unknown; tags: unknown }; source: string; async: boolean }>(["get", "calc", "when('launch',){}", "--dir", directory]);
    expect(data).toMatchObject({ source: "l1", async: true });
    expect(data.encoded).toEqual({ label: "launch", at: { $cacherator: "Date", v: "2024-01-02T03:04:05.600Z" }, tags: { $cacherator: "Set", v: ["a", "b"] } });
    const number = await cliJson<{ encoded: unknown }>(["get", "calc", "power(2, 10){}", "--dir", directory]);
    expect(number.encoded).toBe(1024);
  });

  it("exits with 1 for an absent key, naming the closest keys of the same function", async () => {
    const { directory } = await libraryCaches();
    const result = await cli(["get", "calc", "power(2, 11){}", "--dir", directory]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/no entry power\(2, 11\)\{\} in calc; closest keys of power: power\(2, 10\)\{\} {2}power\(3, 3\)\{\}/);
    const json = await cli(["get", "calc", "power(2, 11){}", "--dir", directory, "--json"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: expect.stringContaining("no entry"), closest: ["power(2, 10){}", "power(3, 3){}"] });
    const otherFunction = await cli(["get", "calc", "nope(1){}", "--dir", directory]);
    expect(otherFunction.code).toBe(1);
    expect(otherFunction.stderr).toMatch(/no entries of nope \(functions: power, when\)/);
  });
});

describe("clear: removing entries", () => {
  it("removes one function's entries (exact name), keeps the others and the attributes, and reports how many", async () => {
    const { directory } = await libraryCaches();
    const cleared = await cliJson(["clear", "calc", "power", "--dir", directory]);
    expect(cleared).toMatchObject({ dataId: "calc", function: "power", removed: 2 });
    const after = await cliJson<{ entries: { key: string }[]; attributes: string[] }>(["show", "calc", "--dir", directory]);
    expect(after.entries.map((e) => e.key)).toEqual(["when('launch',){}"]);
    expect(after.attributes).toEqual(["runs"]);
    const misspelt = await cli(["clear", "calc", "pow", "--dir", directory]);
    expect(misspelt.code).toBe(1);
    expect(misspelt.stdout).toBe("");
    expect(misspelt.stderr).toBe("cacherator: calc has no entries of pow (closest: when)\n");
    const dry = await cli(["clear", "calc", "--dry-run", "--dir", directory]);
    expect(dry.stdout).toBe("when('launch',){}\nwould remove 1 entry from calc (calc.json)\n");
    expect(await cliJson(["show", "calc", "--dir", directory])).toMatchObject({ entries: [{ key: "when('launch',){}" }] });
    const all = await cli(["clear", "calc", "--dir", directory]);
    expect(all.stdout).toBe("removed 1 entry from calc (calc.json)\n");
    // A program opening the cache again finds it empty, with its attributes.
    const program = await runProgram(
      `
      import { JSONCache, Cached } from "cacherator";
      class Calculator extends JSONCache {
        declare runs: number;
        constructor() { super({ dataId: "calc", directory: ${JSON.stringify(directory)} }); }
        @Cached() power(x: number, y: number) { return x ** y; }
      }
      const calc = new Calculator();
      calc.power(2, 10);
      console.log(JSON.stringify({ status: calc.lastCacheStatus, runs: calc.runs }));
    `,
      { cwd: directory },
    );
    expect(program.lines).toEqual([{ status: "miss", runs: 2 }]);
  });

  for (const size of ["small", "large (journaled)"] as const) {
    it(`a removal survives an application that holds the ${size} cache open and keeps writing`, async () => {
      const directory = tempDir();
      const padding = size === "small" ? 10 : 10_000;
      class Feed extends JSONCache {
        constructor() {
          super({ dataId: "feed", directory });
        }
        @Cached() a(i: number) {
          return `a${i}`.padEnd(padding, ".");
        }
      }
      const seed = new Feed();
      for (let i = 0; i < 10; i++) seed.a(i);
      expect(await seed.jsonCacheSave()).toBe(true);
      const file = join(directory, "feed.json");
      if (size !== "small") expect(statSync(file).size).toBeGreaterThan(64 * 1024);

      const ready = join(directory, "ready");
      const stop = join(directory, "stop");
      const app = runProgram(
        `
        import { JSONCache, Cached } from "cacherator";
        import { existsSync, writeFileSync } from "node:fs";
        class Feed extends JSONCache {
          constructor() { super({ dataId: "feed", directory: process.env.DIR, writeDelay: 5 }); }
          @Cached() a(i: number) { return "recomputed"; }
          @Cached() b(i: number) { return "b" + i; }
        }
        const feed = new Feed();
        const before = feed.jsonCacheStats();
        const hit = feed.a(0).slice(0, 2);
        writeFileSync(process.env.READY, "1");
        let written = 0;
        while (!existsSync(process.env.STOP) && written < 5000) {
          feed.b(written++);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        const saved = await feed.jsonCacheSave();
        console.log(JSON.stringify({ before, hit, written, saved, after: feed.jsonCacheStats() }));
      `,
        { cwd: directory, env: { DIR: directory, READY: ready, STOP: stop }, timeoutMs: 60_000 },
      );
      const bOnDisk = () => {
        const text = readFileSync(file, "utf8") + (existsSync(`${file}.journal`) ? readFileSync(`${file}.journal`, "utf8") : "");
        return text.split('"b(').length - 1;
      };
      await until(() => existsSync(ready) && bOnDisk() >= 3, "the application to start writing");

      const cleared = await cliJson(["clear", "feed", "a", "--dir", directory]);
      expect(cleared).toMatchObject({ removed: 10 });
      const atClear = bOnDisk();
      await until(() => bOnDisk() >= atClear + 5, "the application to write more entries");
      writeFileSync(stop, "1");
      const result = await app;
      expect(result.stderr).toBe("");
      const out = result.lines[0] as { before: { functions: Record<string, number> }; hit: string; written: number; saved: boolean; after: { functions: Record<string, number> } };
      expect(out.before.functions.a).toBe(10);
      expect(out.hit).toBe("a0");
      expect(out.saved).toBe(true);
      // The application dropped the removed entries once it merged the CLI's write.
      expect(out.after.functions.a).toBeUndefined();
      expect(out.after.functions.b).toBe(out.written);

      const shown = await cliJson<{ functions: { function: string; entries: number }[] }>(["show", "feed", "--dir", directory]);
      expect(shown.functions).toEqual([{ function: "b", entries: out.written, live: out.written, expired: 0 }]);
    });
  }
});

describe("attributes: what a cache persists besides results", () => {
  it("prints each attribute with its value, one attribute's value, and the stored form with --json", async () => {
    const directory = tempDir();
    class Game extends JSONCache {
      declare score: number;
      declare seen: Set<string>;
      constructor() {
        super({ dataId: "game", directory });
        this.score ??= 150;
        this.seen ??= new Set(["a"]);
      }
    }
    expect(await new Game().jsonCacheSave()).toBe(true);
    const all = await cli(["attributes", "game", "--dir", directory]);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe("score: 150\nseen:  Set(1) { 'a' }\n");
    expect((await cli(["attributes", "game", "score", "--dir", directory])).stdout).toBe("150\n");
    expect(await cliJson(["attributes", "game", "--dir", directory])).toEqual({
      dataId: "game",
      file: "game.json",
      encoded: { score: 150, seen: { $cacherator: "Set", v: ["a"] } },
    });
    const unknown = await cli(["attributes", "game", "scor", "--dir", directory]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("cacherator: game has no attribute scor (closest: score, seen)\n");
  });
});

describe("prune: dropping expired entries", () => {
  function agedCache(directory: string): string {
    const now = Date.now();
    const file = join(directory, "pruned.json");
    writeFileSync(
      file,
      serializeCacheFile(
        "pruned",
        [
          ["report('old',){}", entryText("old result", now - 10 * DAY, false)],
          ["report('new',){}", entryText("new result", now - 1 * DAY, false)],
        ],
        [["score", "5"]],
        now,
      ),
    );
    return file;
  }

  it("shows the entry older than --ttl as expired, lists it with --dry-run, and removes only it", async () => {
    const directory = tempDir();
    const file = agedCache(directory);
    const shown = await cliJson<{ entries: { key: string; status: string }[] }>(["show", "pruned", "--dir", directory, "--ttl", "5"]);
    expect(shown.entries).toMatchObject([
      { key: "report('new',){}", status: "live" },
      { key: "report('old',){}", status: "expired" },
    ]);
    const before = readFileSync(file, "utf8");
    const dry = await cliJson(["prune", "--dir", directory, "--ttl", "5", "--dry-run"]);
    expect(dry).toMatchObject({ dryRun: true, removed: 1, caches: [{ name: "pruned", removed: 1, keys: ["report('old',){}"] }] });
    expect(readFileSync(file, "utf8")).toBe(before);

    const human = await cli(["prune", "--dir", directory, "--ttl", "5"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^pruned +pruned\.json +1$/m);
    expect(human.stdout).toContain("removed 1 expired entry from 1 cache (entries that record no expiry: ttl 5d)");
    const after = JSON.parse(readFileSync(file, "utf8")) as { _json_cache_func_cache: Record<string, unknown>; _json_cache_variable_cache: Record<string, unknown> };
    expect(Object.keys(after._json_cache_func_cache)).toEqual(["report('new',){}"]);
    expect(after._json_cache_variable_cache).toEqual({ score: 5 });
    const again = await cliJson(["prune", "pruned", "--dir", directory, "--ttl", "5"]);
    expect(again).toMatchObject({ removed: 0 });
  });

  it("keeps every entry under the default TTL of 999 days", async () => {
    const directory = tempDir();
    agedCache(directory);
    expect(await cliJson(["prune", "--dir", directory])).toMatchObject({ removed: 0, fallbackTtl: "999d" });
  });

  it("takes --ttl as a duration too, as the library does", async () => {
    const directory = tempDir();
    agedCache(directory);
    expect(await cliJson(["prune", "--dry-run", "--ttl", "36h", "--dir", directory])).toMatchObject({ fallbackTtl: "1d 12h" });
    const bad = await cli(["prune", "--ttl", "10 parsecs", "--dir", directory]);
    expect(bad.code).toBe(2);
  });
});

describe("stats: totals over a directory", () => {
  it("counts objects, entries live and expired, functions and bytes on disk", async () => {
    const { directory } = await libraryCaches();
    const now = Date.now();
    writeFileSync(join(directory, "aged.json"), serializeCacheFile("aged", [["f(1){}", entryText(1, now - 3 * DAY, false)]], [], now));
    writeFileSync(join(directory, "broken.json"), "[]");
    const bytes = readdirSync(directory).filter((f) => f.endsWith(".json")).reduce((sum, f) => sum + statSync(join(directory, f)).size, 0);
    const stats = await cliJson(["stats", "--dir", directory, "--ttl", "2"]);
    expect(stats).toEqual({
      directory,
      fallbackTtl: "2d",
      objects: 3,
      unreadable: 1,
      entries: 5,
      live: 4,
      expired: 1,
      functions: 4,
      bytes,
      journalBytes: 0,
    });
    const human = await cli(["stats", "--dir", directory, "--ttl", "2"]);
    expect(human.stdout).toMatch(/^objects: +3 \(and 1 unreadable file\)$/m);
    expect(human.stdout).toMatch(/^expired: +1$/m);
  });
});

describe("help and bad input", () => {
  const commands = ["list", "show", "get", "attributes", "clear", "prune", "stats", "help"];

  it("--version prints the package's version", async () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const result = await cli(["--version"]);
    expect(result).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: "" });
  });

  it("--help, -h and `help <command>` describe every command, with exit code 0", async () => {
    const global = await cli(["--help"]);
    expect(global.code).toBe(0);
    for (const command of commands) expect(global.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    for (const command of commands) {
      const long = await cli([command, "--help"]);
      const short = await cli([command, "-h"]);
      const topic = await cli(["help", command]);
      expect(long.code).toBe(0);
      expect(long.stdout).toMatch(new RegExp(`^Usage: cacherator ${command}\\b`));
      expect(short.stdout).toBe(long.stdout);
      expect(topic.stdout).toBe(long.stdout);
    }
  });

  it("usage errors exit with 2 and a one-line message pointing to --help", async () => {
    const cases: [string[], RegExp][] = [
      [["lsit"], /unknown command "lsit" \(did you mean list\?\); see cacherator --help/],
      [["show"], /show needs <dataId>; see cacherator show --help/],
      [["get", "calc"], /get needs <key>; see cacherator get --help/],
      [["list", "--verbose"], /unknown option --verbose; see cacherator --help/],
      [["list", "--dir"], /option --dir needs a value/],
      [["show", "calc", "--ttl", "abc"], /invalid --ttl "abc"/],
      [["prune", "--ttl=-1"], /invalid --ttl "-1"/],
      [["prune", "--ttl", "-1"], /option --ttl needs a value \(for a value starting with "-", write --ttl=<value>\)/],
      [["get", "calc", "k", "--ttl", "3"], /option --ttl does not apply to get/],
      [["list", "extra"], /unexpected argument "extra" for list/],
      [["list", "--dynamodb-endpoint", "http://localhost:1"], /need --dynamodb-table/],
      [["help", "nope"], /unknown command "nope"/],
      [["list", "--version"], /--version takes no command/],
      [["list", "--dry-run"], /option --dry-run does not apply to list/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toMatch(/see cacherator/);
      expect(result.stderr.trimEnd().split("\n"), args.join(" ")).toHaveLength(1);
    }
    const bare = await cli([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("Usage: cacherator <command>");
  });

  it("an unknown dataId exits with 1, naming the caches there", async () => {
    const { directory } = await libraryCaches();
    for (const command of [["show", "calx"], ["get", "calx", "k"], ["clear", "calx"], ["prune", "calx"]]) {
      const result = await cli([...command, "--dir", directory]);
      expect(result.code, command.join(" ")).toBe(1);
      expect(result.stderr).toMatch(/no cache "calx" in .*\(caches: calc, /);
    }
    const json = await cli(["show", "calx", "--dir", directory, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: expect.stringContaining("no cache"), known: expect.arrayContaining(["calc"]) });
  });
});

describe("--dynamodb-table: the L2 side", () => {
  const endpoint = inject("dynamodbEndpoint");
  const AWS_ENV = { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" };
  Object.assign(process.env, AWS_ENV);
  const table = `cacherator-cli-${process.pid}-${Date.now().toString(36)}`;
  const l2Args = ["--dynamodb-table", table, "--dynamodb-endpoint", endpoint];
  const tier = createDynamoDBTier({ table, endpoint, log: new CacheLog(false), timeoutMs: 10_000 });

  beforeAll(async () => {
    await waitForDynamoDB(endpoint);
    const ready = await tier.ready(60_000);
    expect(ready.ok).toBe(true);
  });

  it("list, show, stats and get report DynamoDB beside the file; clear removes from both", async () => {
    const directory = tempDir();
    class Shared extends JSONCache {
      constructor() {
        super({ dataId: "shared", directory });
      }
      @Cached() lookup(name: string) {
        return `local ${name}`;
      }
    }
    const shared = new Shared();
    shared.lookup("x");
    shared.lookup("y");
    expect(await shared.jsonCacheSave()).toBe(true);
    const now = Date.now();
    for (const [key, value] of [["lookup('x',){}", "remote x"], ["lookup('z',){}", "remote z"], ["other(1){}", "remote other"]] as const) {
      const put = await tier.put("shared", { key, text: JSON.stringify(value), time: now, async: false }, DAY);
      expect(put).toEqual({ ok: true, value: "written" });
    }

    const listed = await cliJson<{ caches: { dataId: string; entries: number; l2Entries: number }[] }>(["list", "--dir", directory, ...l2Args], { env: AWS_ENV });
    expect(listed.caches).toMatchObject([{ dataId: "shared", entries: 2, l2Entries: 3 }]);

    const shown = await cliJson<{ entries: { key: string; where: string }[] }>(["show", "shared", "--dir", directory, ...l2Args], { env: AWS_ENV });
    expect(shown.entries.map((e) => [e.key, e.where])).toEqual([
      ["lookup('x',){}", "l1+l2"],
      ["lookup('y',){}", "l1"],
      ["lookup('z',){}", "l2"],
      ["other(1){}", "l2"],
    ]);
    const human = await cli(["show", "shared", "--dir", directory, ...l2Args], { env: AWS_ENV });
    expect(human.stdout).toMatch(/^KEY\s+FUNCTION\s+COMPUTED AT\s+AGE\s+TTL\s+EXPIRES AT\s+STATUS\s+WHERE$/m);

    expect(await cliJson(["stats", "--dir", directory, ...l2Args], { env: AWS_ENV })).toMatchObject({ entries: 2, l2Entries: 3, table });
    expect(await cliJson(["get", "shared", "lookup('z',){}", "--dir", directory, ...l2Args], { env: AWS_ENV })).toMatchObject({ source: "l2", encoded: "remote z" });
    expect(await cliJson(["get", "shared", "lookup('x',){}", "--dir", directory, ...l2Args], { env: AWS_ENV })).toMatchObject({ source: "l1", encoded: "local x" });

    const cleared = await cliJson(["clear", "shared", "lookup", "--dir", directory, ...l2Args], { env: AWS_ENV });
    expect(cleared).toMatchObject({ removed: 2, l2Removed: 2, table });
    const count = await tier.count("shared");
    expect(count).toEqual({ ok: true, value: { totalEntries: 1, functions: { other: 1 } } });
    const after = await cliJson<{ entries: { key: string }[] }>(["show", "shared", "--dir", directory, ...l2Args], { env: AWS_ENV });
    expect(after.entries.map((e) => e.key)).toEqual(["other(1){}"]);
  });

  it("shows and clears an object that only DynamoDB holds", async () => {
    const directory = tempDir();
    expect((await tier.put("remote-only", { key: "f(1){}", text: "1", time: Date.now(), async: false }, DAY)).ok).toBe(true);
    const shown = await cliJson<{ file: string | null; entries: { where: string }[] }>(["show", "remote-only", "--dir", directory, ...l2Args], { env: AWS_ENV });
    expect(shown).toMatchObject({ file: null, entries: [{ where: "l2" }] });
    expect(await cliJson(["clear", "remote-only", "--dir", directory, ...l2Args], { env: AWS_ENV })).toMatchObject({ removed: 0, l2Removed: 1 });
    const gone = await cli(["show", "remote-only", "--dir", directory, ...l2Args], { env: AWS_ENV });
    expect(gone.code).toBe(1);
  });

  it("a table that does not exist is reported, never created", async () => {
    const { directory } = await libraryCaches();
    const missing = `cacherator-cli-typo-${Date.now().toString(36)}`;
    const result = await cli(["stats", "--dir", directory, "--dynamodb-table", missing, "--dynamodb-endpoint", endpoint], { env: AWS_ENV });
    expect(result.code).toBe(1);
    const client = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
    const tables = await client.send(new ListTablesCommand({}));
    client.destroy();
    expect(tables.TableNames ?? []).not.toContain(missing);
  });

  it("an unreachable DynamoDB is a failure with exit code 1, not a hang", async () => {
    const { directory } = await libraryCaches();
    const result = await cli(["stats", "--dir", directory, "--dynamodb-table", table, "--dynamodb-endpoint", "http://127.0.0.1:9"], { env: AWS_ENV });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/DynamoDB table .*unreachable/);
  });
});
