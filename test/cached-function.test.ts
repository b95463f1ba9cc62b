/**
 * `cached(fn, options)`: the caching of `@Cached` for plain functions — the same keys, file, TTL,
 * status, deduplication and L2 tier, for scripts and functional code.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { cached } from "../src/cached-function.js";
import { CacheOptionsError, JSONCache } from "../src/index.js";
import { resolveCacheFile } from "../src/store/file-claim.js";

const cacheFilePath = (directory: string, dataId: string) => resolveCacheFile(directory, dataId, { claim: false });
import { tempDir } from "./helpers.js";
import { waitForDynamoDB } from "./setup/dynamodb.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The cache file of a dataId, as text. */
function fileText(directory: string, dataId: string): string {
  return readFileSync(cacheFilePath(directory, dataId), "utf8");
}

/** Runs a TypeScript program with tsx in a new node process; it imports `cached` from the source. */
function runWithTsx(source: string, cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; lines: unknown[] }> {
  const program = join(tempDir("cacherator-program-"), "program.mts");
  const module = pathToFileURL(join(ROOT, "src/cached-function.ts")).href;
  writeFileSync(program, source.replaceAll("CACHED_FUNCTION_MODULE", module));
  const tsx = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", tsx, program], { cwd, env: { ...process.env, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      const lines = stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as unknown);
      resolve({ code, stderr, lines });
    });
  });
}

describe("a sync function", () => {
  it("runs once per arguments, and a hit returns the value itself, not a Promise", () => {
    const directory = tempDir();
    let runs = 0;
    const square = cached(
      function square(x: number) {
        runs++;
        return x * x;
      },
      { directory },
    );
    expect(square.lastCacheStatus).toBeNull();
    expect(square(3)).toBe(9);
    expect(square.lastCacheStatus).toBe("miss");
    const hit = square(3);
    expect(hit).toBe(9);
    expect(square.lastCacheStatus).toBe("l1");
    expect(square(4)).toBe(16);
    expect(square.lastCacheStatus).toBe("miss");
    expect(runs).toBe(2);
  });

  it("is called without a receiver (`this` is undefined), with every argument", () => {
    const seen: unknown[] = [];
    const probe = cached(
      function probe(this: unknown, a: number, b: string) {
        seen.push(this, a, b);
        return `${a}${b}`;
      },
      { directory: tempDir() },
    );
    expect(probe(1, "x")).toBe("1x");
    expect(seen).toEqual([undefined, 1, "x"]);
  });

  it("keeps the function's name and number of parameters", () => {
    const add = (a: number, b: number) => a + b;
    const cachedAdd = cached(add, { directory: tempDir() });
    expect(cachedAdd.name).toBe("add");
    expect(cachedAdd.length).toBe(2);
    expect(cachedAdd(1, 2)).toBe(3);
  });

  it("does not cache a throw: the next call runs again", () => {
    let runs = 0;
    const flaky = cached(
      function flaky(x: number) {
        runs++;
        if (runs === 1) throw new Error("first call fails");
        return x;
      },
      { directory: tempDir() },
    );
    expect(() => flaky(1)).toThrow("first call fails");
    expect(flaky(1)).toBe(1);
    expect(flaky.lastCacheStatus).toBe("miss");
    expect(flaky(1)).toBe(1);
    expect(runs).toBe(2);
  });
});

describe("an async function", () => {
  it("returns Promises, on a miss and on a hit", async () => {
    let runs = 0;
    const fetchUser = cached(
      async function fetchUser(id: number) {
        runs++;
        return { id, when: new Date(0) };
      },
      { directory: tempDir() },
    );
    const miss = fetchUser(1);
    expect(miss).toBeInstanceOf(Promise);
    expect(await miss).toEqual({ id: 1, when: new Date(0) });
    expect(fetchUser.lastCacheStatus).toBe("miss");
    const hit = fetchUser(1);
    expect(hit).toBeInstanceOf(Promise);
    expect(await hit).toEqual({ id: 1, when: new Date(0) });
    expect(fetchUser.lastCacheStatus).toBe("l1");
    expect(runs).toBe(1);
  });

  it("runs once for concurrent identical calls, and every caller gets the result", async () => {
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = cached(
      async function slow(x: number) {
        runs++;
        await gate;
        return x * 2;
      },
      { directory: tempDir() },
    );
    const calls = [slow(21), slow(21), slow(21), slow(5)];
    release();
    expect(await Promise.all(calls)).toEqual([42, 42, 42, 10]);
    expect(runs).toBe(2);
  });

  it("does not cache a rejection: every waiting caller gets it, and the next call runs again", async () => {
    let runs = 0;
    const load = cached(
      async function load(key: string) {
        runs++;
        if (runs === 1) throw new Error(`cannot load ${key}`);
        return key.toUpperCase();
      },
      { directory: tempDir() },
    );
    const first = [load("a"), load("a")];
    await expect(first[0]).rejects.toThrow("cannot load a");
    await expect(first[1]).rejects.toThrow("cannot load a");
    expect(await load("a")).toBe("A");
    expect(await load("a")).toBe("A");
    expect(runs).toBe(2);
  });
});

describe("persistence across a restart (a new process)", () => {
  const PROGRAM = `
    import { cached } from "CACHED_FUNCTION_MODULE";
    let runs = 0;
    const cachedSquare = cached(function square(x: number) { runs++; return x * x; }, { clearCache: process.env.CLEAR === "1" });
    const cachedGreet = cached(async function greet(name: string) { runs++; return { text: "hi " + name, at: new Date(0) }; });
    const sq = cachedSquare(3);
    const squareStatus = cachedSquare.lastCacheStatus;
    const pending = cachedGreet("ann");
    const isPromise = pending instanceof Promise;
    const greeting = await pending;
    console.log(JSON.stringify({
      sq, squareStatus, isPromise, text: greeting.text, atIsDate: greeting.at instanceof Date,
      greetStatus: cachedGreet.lastCacheStatus, runs, stats: [cachedSquare.stats(), cachedGreet.stats()],
    }));
  `;

  it("serves sync and async results from the file in the next run, in data/cache/<function name>.json by default", async () => {
    const cwd = tempDir();
    const first = await runWithTsx(PROGRAM, cwd);
    expect(first.stderr).toBe("");
    expect(first.lines).toEqual([
      {
        sq: 9, squareStatus: "miss", isPromise: true, text: "hi ann", atIsDate: true, greetStatus: "miss", runs: 2,
        stats: [{ totalEntries: 1, functions: { square: 1 } }, { totalEntries: 1, functions: { greet: 1 } }],
      },
    ]);
    expect(fileText(join(cwd, "data/cache"), "square")).toContain('"square(3,){}"');
    expect(fileText(join(cwd, "data/cache"), "greet")).toContain(`"greet('ann',){}"`);

    const second = await runWithTsx(PROGRAM, cwd);
    expect(second.stderr).toBe("");
    expect(second.lines).toEqual([
      {
        sq: 9, squareStatus: "l1", isPromise: true, text: "hi ann", atIsDate: true, greetStatus: "l1", runs: 0,
        stats: [{ totalEntries: 1, functions: { square: 1 } }, { totalEntries: 1, functions: { greet: 1 } }],
      },
    ]);

    // clearCache applies to the function: its results from earlier runs are ignored.
    const cleared = await runWithTsx(PROGRAM, cwd, { CLEAR: "1" });
    expect(cleared.lines).toMatchObject([{ sq: 9, squareStatus: "miss", greetStatus: "l1", runs: 1 }]);
  });
});

describe("keys and files", () => {
  it("writes keys `name(args){}` exactly as for methods, in a file named after the function", async () => {
    const directory = tempDir();
    const fetchUser = cached(async (name: string, limit = 10) => ({ name, limit }), { directory, name: "fetchUser" });
    // (Distinct names: a bundler may rename a function expression that shares its variable's name.)
    const cachedPow = cached(function pow(x: number, y: number) {
      return x ** y;
    }, { directory });
    await fetchUser("ann");
    await fetchUser("bob", 5);
    cachedPow(1, 10);
    expect(await fetchUser.save()).toBe(true);
    expect(await cachedPow.save()).toBe(true);
    const users = JSON.parse(fileText(directory, "fetchUser")) as Record<string, unknown>;
    expect(JSON.stringify(users)).toContain(`"fetchUser('ann',){}"`);
    expect(JSON.stringify(users)).toContain(`"fetchUser('bob', 5){}"`);
    expect(fileText(directory, "pow")).toContain('"pow(1, 10){}"');
    expect(fetchUser.cache.jsonCacheDataId).toBe("fetchUser");
    expect(cachedPow.cache).toBeInstanceOf(JSONCache);
  });

  it("uses `name` for the keys and `dataId` for the file when given", async () => {
    const directory = tempDir();
    const f = cached((x: number) => x + 1, { directory, name: "increment", dataId: "math-helpers" });
    expect(f(1)).toBe(2);
    expect(await f.save()).toBe(true);
    expect(f.cache.jsonCacheDataId).toBe("math-helpers");
    expect(fileText(directory, "math-helpers")).toContain('"increment(1,){}"');
    expect(f.cacheStatus).toEqual({ "increment(1,){}": "miss" });
  });

  it("names an anonymous function after the other one of `name` and `dataId`", async () => {
    const directory = tempDir();
    const byName = cached((x: number) => x * 3, { directory, name: "triple" });
    const byDataId = cached((x: number) => x * 4, { directory, dataId: "quadruple" });
    expect(byName(2)).toBe(6);
    expect(byDataId(2)).toBe(8);
    expect(byName.cache.jsonCacheDataId).toBe("triple");
    expect(byName.cacheStatus).toEqual({ "triple(2,){}": "miss" });
    expect(byDataId.cacheStatus).toEqual({ "quadruple(2,){}": "miss" });
  });

  it("lets functions share a dataId: each keeps, counts and clears its own results", async () => {
    const directory = tempDir();
    const double = cached((x: number) => x * 2, { directory, dataId: "math", name: "double" });
    const doubleAll = cached((xs: number[]) => xs.map((x) => x * 2), { directory, dataId: "math", name: "doubleAll" });
    double(1);
    double(2);
    doubleAll([1, 2]);
    expect(double.stats()).toEqual({ totalEntries: 2, functions: { double: 2 } });
    expect(doubleAll.stats()).toEqual({ totalEntries: 1, functions: { doubleAll: 1 } });
    expect(Object.keys(double.cacheStatus).sort()).toEqual(["double(1,){}", "double(2,){}"]);
    expect(doubleAll.cacheStatus).toEqual({ "doubleAll([1, 2],){}": "miss" });

    expect(await double.clear()).toBe(true);
    expect(double.stats()).toEqual({ totalEntries: 0, functions: {} });
    expect(double.cacheStatus).toEqual({});
    expect(doubleAll.stats()).toEqual({ totalEntries: 1, functions: { doubleAll: 1 } });
    const file = fileText(directory, "math");
    expect(file).not.toContain("double(1,){}");
    expect(file).toContain("doubleAll([1, 2],){}");
    double(1);
    expect(double.lastCacheStatus).toBe("miss");
  });
});

describe("TTL", () => {
  it("expires results after the TTL, given in days or as a duration", async () => {
    let runs = 0;
    const directory = tempDir();
    const inDays = cached((x: number) => ++runs + x * 0, { directory, name: "inDays", ttl: 0.3 / 86_400 });
    const inDuration = cached((x: number) => ++runs + x * 0, { directory, name: "inDuration", ttl: "300ms" });
    const forAnHour = cached((x: number) => ++runs + x * 0, { directory, name: "forAnHour", ttl: "1h" });
    inDays(1);
    inDuration(1);
    forAnHour(1);
    inDays(1);
    inDuration(1);
    expect(inDays.lastCacheStatus).toBe("l1");
    expect(inDuration.lastCacheStatus).toBe("l1");
    expect(runs).toBe(3);
    await sleep(400);
    expect(inDays.stats()).toEqual({ totalEntries: 0, functions: {} });
    expect(inDuration.stats()).toEqual({ totalEntries: 0, functions: {} });
    expect(forAnHour.stats()).toEqual({ totalEntries: 1, functions: { forAnHour: 1 } });
    inDays(1);
    expect(inDays.lastCacheStatus).toBe("miss");
    inDuration(1);
    expect(inDuration.lastCacheStatus).toBe("miss");
    forAnHour(1);
    expect(forAnHour.lastCacheStatus).toBe("l1");
    expect(runs).toBe(5);
  });

  it("never serves from the cache with ttl 0", () => {
    let runs = 0;
    const always = cached((x: number) => ++runs + x * 0, { directory: tempDir(), name: "always", ttl: 0 });
    always(1);
    always(1);
    expect(always.lastCacheStatus).toBe("miss");
    expect(runs).toBe(2);
  });
});

describe("invalid use fails at once, with a CacheOptionsError that says what to do", () => {
  it("rejects something that is not a function", () => {
    // @ts-expect-error -- not a function
    expect(() => cached(42)).toThrow(CacheOptionsError);
    // @ts-expect-error -- not a function
    expect(() => cached({ name: "f" })).toThrow(/must be a function/);
  });

  it("asks for a name for an anonymous function without name nor dataId", () => {
    // An arrow function written in the call has no name.
    expect(() => cached((x: number) => x, { directory: tempDir() })).toThrow(CacheOptionsError);
    expect(() => cached((x: number) => x, { directory: tempDir() })).toThrow(/pass \{ name: "\.\.\." \}/);
  });

  it("names every unknown option", () => {
    const f = (x: number) => x;
    // @ts-expect-error -- unknown options
    expect(() => cached(f, { tll: 1, directry: "x" })).toThrow(CacheOptionsError);
    // @ts-expect-error -- unknown options
    expect(() => cached(f, { tll: 1, directry: "x" })).toThrow(/"tll".*"directry"/);
  });

  it("checks the options of the cache and of the function", () => {
    const f = (x: number) => x;
    expect(() => cached(f, { ttl: -1 })).toThrow(CacheOptionsError);
    expect(() => cached(f, { ttl: -1 })).toThrow(/ttl/);
    // @ts-expect-error -- a string dataId
    expect(() => cached(f, { dataId: 7 })).toThrow(/dataId/);
    // @ts-expect-error -- options must be an object
    expect(() => cached(f, "data/cache")).toThrow(CacheOptionsError);
    // @ts-expect-error -- a string name
    expect(() => cached(f, { name: 3 })).toThrow(/name/);
  });

  it("rejects a name that cannot be a key's function name", () => {
    const f = (x: number) => x;
    expect(() => cached(f, { name: "f(x)" })).toThrow(CacheOptionsError);
    expect(() => cached(f, { name: "constructor" })).toThrow(CacheOptionsError);
    expect(() => cached(f, { name: "jsonCacheSave" })).toThrow(CacheOptionsError);
  });
});

describe("the shared DynamoDB tier", () => {
  const endpoint = inject("dynamodbEndpoint");
  const AWS_ENV = { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" };
  beforeAll(async () => {
    Object.assign(process.env, AWS_ENV);
    await waitForDynamoDB(endpoint);
  });

  it("serves a result another machine computed from L2 (status \"l2\"), then from the local file", async () => {
    const table = `cacherator-fn-${process.pid}-${Date.now().toString(36)}`;
    let runs = 0;
    const scrape = async (url: string) => {
      runs++;
      return { url, at: new Date(0) };
    };
    const options = { dataId: "scraper-fn", dynamodbTable: table, dynamodbEndpoint: endpoint, ttl: 7 };
    const laptop = cached(scrape, { ...options, directory: tempDir() });
    expect(await laptop("https://example.com")).toEqual({ url: "https://example.com", at: new Date(0) });
    expect(laptop.lastCacheStatus).toBe("miss");
    expect(await laptop.save()).toBe(true);

    const serverDir = tempDir();
    const server = cached(scrape, { ...options, directory: serverDir });
    expect(await server("https://example.com")).toEqual({ url: "https://example.com", at: new Date(0) });
    expect(server.lastCacheStatus).toBe("l2");
    expect(await server("https://example.com")).toEqual({ url: "https://example.com", at: new Date(0) });
    expect(server.lastCacheStatus).toBe("l1");
    expect(runs).toBe(1);
    expect(await server.save()).toBe(true);
    expect(fileText(serverDir, "scraper-fn")).toContain(`"scrape('https://example.com',){}"`);
  });
});
