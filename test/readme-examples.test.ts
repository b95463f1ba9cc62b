/**
 * Every example of the Python cacherator README, written as a TypeScript user would write it, run
 * against local fakes (an HTTP server on 127.0.0.1, an in-memory database, a fake model).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { recordingLogger, runProgram, tempDir } from "./helpers.js";

const HOUR = 3_600_000;

interface CacheFileData {
  _json_cache_func_cache: Record<string, { value: unknown; epoch_ms: number }>;
  _json_cache_variable_cache: Record<string, unknown>;
}

function jsonFiles(directory: string): string[] {
  return readdirSync(directory).filter((name) => name.endsWith(".json"));
}

/** The single cache file in `directory`, parsed. */
function readCacheFile(directory: string): CacheFileData {
  const files = jsonFiles(directory);
  expect(files).toHaveLength(1);
  return JSON.parse(readFileSync(join(directory, files[0] as string), "utf8")) as CacheFileData;
}

/**
 * A copy of the cache file in `directory` whose results were computed `ms` earlier, in a new directory
 * (so the next instance reads it from disk, as after a restart).
 */
function agedCopy(directory: string, ms: number): string {
  const [name] = jsonFiles(directory);
  expect(name).toBeDefined();
  const data = readCacheFile(directory);
  for (const entry of Object.values(data._json_cache_func_cache)) entry.epoch_ms -= ms;
  const copy = tempDir();
  writeFileSync(join(copy, name as string), JSON.stringify(data, null, 4));
  return copy;
}

beforeEach(() => {
  CacheLog.resetReported();
});

describe("quick start: basic function caching", () => {
  it("runs expensiveCalculation once; the second call is served from the cache", () => {
    const directory = tempDir();
    let runs = 0;
    class Calculator extends JSONCache {
      constructor() {
        super({ dataId: "calc", directory });
      }
      @Cached()
      expensiveCalculation(x: number, y: number): number {
        runs++;
        return x ** y;
      }
    }
    const calc = new Calculator();
    expect(calc.expensiveCalculation(2, 10)).toBe(1024);
    expect(calc.expensiveCalculation(2, 10)).toBe(1024);
    expect(runs).toBe(1);
    expect(calc.cacheStatus).toEqual({ "expensiveCalculation(2, 10){}": "l1" });
    expect(calc.expensiveCalculation(2, 11)).toBe(2048);
    expect(runs).toBe(2);
  });
});

describe("async function caching", () => {
  it("calls the API once for fetchUser(123) and serves the second await from the cache", async () => {
    const directory = tempDir();
    const calls: string[] = [];
    const api = {
      async get(path: string) {
        calls.push(path);
        return { json: async () => ({ id: Number(path.split("/").pop()), name: "Ada" }) };
      },
    };
    class APIClient extends JSONCache {
      constructor() {
        super({ directory });
      }
      @Cached({ ttl: 1 })
      async fetchUser(userId: number): Promise<{ id: number; name: string }> {
        const response = await api.get(`/users/${userId}`);
        return response.json();
      }
    }
    const client = new APIClient();
    const first = await client.fetchUser(123);
    expect(client.lastCacheStatus).toBe("miss");
    const second = await client.fetchUser(123);
    expect(client.lastCacheStatus).toBe("l1");
    expect(first).toEqual({ id: 123, name: "Ada" });
    expect(second).toEqual(first);
    expect(calls).toEqual(["/users/123"]);
    // The default dataId is the class name.
    expect(client.jsonCacheDataId).toBe("APIClient");
    expect(await client.jsonCacheSave()).toBe(true);
    expect(readCacheFile(directory)._json_cache_func_cache["fetchUser(123,){}"]?.value).toEqual({ id: 123, name: "Ada" });
  });
});

describe("state persistence", () => {
  it("session 2, a new process, prints the score that session 1 saved", async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache } from "cacherator";
      class GameState extends JSONCache {
        declare score: number;
        declare level: number;
        constructor(gameId: string) {
          super({ dataId: \`game_\${gameId}\` });
          this.score ??= 0;
          this.level ??= 1;
        }
        async addPoints(points: number) {
          this.score += points;
          await this.jsonCacheSave();
        }
      }
      const game = new GameState("player1");
      if (process.env.SESSION === "1") await game.addPoints(100);
      console.log(JSON.stringify({ score: game.score, level: game.level }));
    `;
    const session1 = await runProgram(program, { cwd, env: { SESSION: "1" } });
    expect(session1.stderr).toBe("");
    expect(session1.lines).toEqual([{ score: 100, level: 1 }]);
    const session2 = await runProgram(program, { cwd, env: { SESSION: "2" } });
    expect(session2.stderr).toBe("");
    expect(session2.lines).toEqual([{ score: 100, level: 1 }]);
  });
});

describe("custom TTL configuration", () => {
  const fetched = { forecast: 0, historical: 0 };
  function weatherService(directory: string) {
    class WeatherService extends JSONCache {
      constructor() {
        super({ directory });
      }
      @Cached({ ttl: 0.25 }) // 6 hours
      getForecast(city: string): string {
        fetched.forecast++;
        return `sunny in ${city}`;
      }
      @Cached({ ttl: 30 }) // 30 days
      getHistorical(city: string, year: number): number {
        fetched.historical++;
        return year - 2000 + city.length;
      }
    }
    return new WeatherService();
  }

  it("serves a 7-hour-old getHistorical result, and recomputes a 7-hour-old getForecast", async () => {
    const directory = tempDir();
    const first = weatherService(directory);
    expect(first.getForecast("Oslo")).toBe("sunny in Oslo");
    expect(first.getHistorical("Oslo", 2020)).toBe(24);
    expect(await first.jsonCacheSave()).toBe(true);
    expect(fetched).toEqual({ forecast: 1, historical: 1 });

    const later = weatherService(agedCopy(directory, 7 * HOUR));
    // Before any call, the stats already apply each method's TTL.
    expect(later.jsonCacheStats()).toEqual({ totalEntries: 1, functions: { getHistorical: 1 } });
    expect(later.getHistorical("Oslo", 2020)).toBe(24);
    expect(later.lastCacheStatus).toBe("l1");
    expect(later.getForecast("Oslo")).toBe("sunny in Oslo");
    expect(later.lastCacheStatus).toBe("miss");
    expect(fetched).toEqual({ forecast: 2, historical: 1 });
  });

  it("recomputes getHistorical too once its result is older than 30 days", async () => {
    const directory = tempDir();
    const first = weatherService(directory);
    first.getHistorical("Rome", 2001);
    expect(await first.jsonCacheSave()).toBe(true);
    const before = fetched.historical;
    const later = weatherService(agedCopy(directory, 31 * 24 * HOUR));
    expect(later.jsonCacheStats()).toEqual({ totalEntries: 0, functions: {} });
    expect(later.getHistorical("Rome", 2001)).toBe(5);
    expect(later.lastCacheStatus).toBe("miss");
    expect(fetched.historical).toBe(before + 1);
  });
});

describe("excluding variables from the cache", () => {
  class DataProcessorBase extends JSONCache {
    declare results: Record<string, number>;
    tempData: number[] = []; // never cached
    apiKey = "secret"; // never cached
    constructor(directory: string, logger = recordingLogger()) {
      super({ dataId: "data-processor", directory, exclude: ["tempData", "apiKey"], logger });
      this.results ??= {};
    }
  }

  it("never writes the excluded attributes to the file", async () => {
    const directory = tempDir();
    const logger = recordingLogger();
    const processor = new DataProcessorBase(directory, logger);
    processor.results.mean = 2.5;
    processor.tempData.push(1, 2, 3);
    expect(await processor.jsonCacheSave()).toBe(true);
    const file = readCacheFile(directory);
    expect(file._json_cache_variable_cache).toEqual({ results: { mean: 2.5 } });
    expect(readFileSync(join(directory, "data-processor.json"), "utf8")).not.toContain("secret");
    expect(logger.messages).toEqual([]);
  });

  it("does not restore them even if an old file holds them", async () => {
    const directory = tempDir();
    mkdirSync(directory, { recursive: true });
    writeFileSync(
      join(directory, "data-processor.json"),
      JSON.stringify({
        _json_cache_func_cache: {},
        _json_cache_last_save_date: "2024-01-01T00:00:00.000000",
        _json_cache_variable_cache: { results: { n: 1 }, tempData: [9, 9], apiKey: "leaked-key" },
      }),
    );
    const logger = recordingLogger();
    const processor = new DataProcessorBase(directory, logger);
    expect(processor.results).toEqual({ n: 1 });
    expect(processor.tempData).toEqual([]);
    expect(processor.apiKey).toBe("secret");
    expect(await processor.jsonCacheSave()).toBe(true);
    expect(readCacheFile(directory)._json_cache_variable_cache).toEqual({ results: { n: 1 } });
    expect(readFileSync(join(directory, "data-processor.json"), "utf8")).not.toContain("leaked-key");
    // No "overwritten by a class field initializer" warning: excluded fields are not restored at all.
    expect(logger.messages).toEqual([]);
  });
});

describe("cache management", () => {
  function dataProcessor(directory: string) {
    class DataProcessor extends JSONCache {
      constructor() {
        super({ directory });
      }
      @Cached() process(item: number): number {
        return item * 2;
      }
      @Cached() processAll(items: number[]): number[] {
        return items.map((item) => item * 2);
      }
      @Cached() analyze(item: number): string {
        return `item ${item}`;
      }
    }
    return new DataProcessor();
  }

  it("reports stats as { totalEntries, functions }", () => {
    const processor = dataProcessor(tempDir());
    expect(processor.jsonCacheStats()).toEqual({ totalEntries: 0, functions: {} });
    [1, 2, 3].forEach((item) => processor.process(item));
    [1, 2].forEach((item) => processor.analyze(item));
    processor.process(1); // a hit adds no entry
    expect(processor.jsonCacheStats()).toEqual({ totalEntries: 5, functions: { process: 3, analyze: 2 } });
  });

  it("clears one function's results (exactly that name) and persists the removal", async () => {
    const directory = tempDir();
    const processor = dataProcessor(directory);
    [1, 2, 3].forEach((item) => processor.process(item));
    [1, 2].forEach((item) => processor.analyze(item));
    processor.processAll([1]);
    expect(await processor.jsonCacheClear("process")).toBe(true);
    expect(processor.jsonCacheStats()).toEqual({ totalEntries: 3, functions: { analyze: 2, processAll: 1 } });
    expect(Object.keys(readCacheFile(directory)._json_cache_func_cache).sort()).toEqual([
      "analyze(1,){}",
      "analyze(2,){}",
      "processAll([1],){}",
    ]);
    expect(processor.cacheStatus).toEqual({ "analyze(1,){}": "miss", "analyze(2,){}": "miss", "processAll([1],){}": "miss" });
    processor.process(1);
    expect(processor.lastCacheStatus).toBe("miss");
  });

  it("clears everything", async () => {
    const directory = tempDir();
    const processor = dataProcessor(directory);
    [1, 2, 3].forEach((item) => processor.process(item));
    processor.analyze(1);
    expect(await processor.jsonCacheClear()).toBe(true);
    expect(processor.jsonCacheStats()).toEqual({ totalEntries: 0, functions: {} });
    expect(processor.cacheStatus).toEqual({});
    expect(readCacheFile(directory)._json_cache_func_cache).toEqual({});
  });
});

describe("cache status tracking", () => {
  const DATA_SERVICE = `
    import { JSONCache, Cached } from "cacherator";
    let runs = 0;
    class DataService extends JSONCache {
      constructor() { super({ dataId: "my-service", ttl: 7 }); }
      @Cached({ ttl: 7 }) fetch(key: string): string { runs++; return "result-for-" + key; }
    }
    const print = (value: unknown) => console.log(JSON.stringify(value));
    const svc = new DataService();
    print({ last: svc.lastCacheStatus, status: svc.cacheStatus });
    const value = svc.fetch("foo");
    print({ value, last: svc.lastCacheStatus, status: svc.cacheStatus, runs });
  `;

  it("is null before any call, then 'miss', then 'l1', keyed by the call signature", () => {
    const directory = tempDir();
    class DataService extends JSONCache {
      constructor() {
        super({ dataId: "my-service", directory, ttl: 7 });
      }
      @Cached({ ttl: 7 })
      fetch(key: string): string {
        return `result-for-${key}`;
      }
    }
    const svc = new DataService();
    expect(svc.lastCacheStatus).toBeNull();
    expect(svc.cacheStatus).toEqual({});
    svc.fetch("foo");
    expect(svc.lastCacheStatus).toBe("miss");
    expect(svc.cacheStatus).toEqual({ "fetch('foo',){}": "miss" });
    svc.fetch("foo");
    expect(svc.lastCacheStatus).toBe("l1");
    expect(svc.cacheStatus).toEqual({ "fetch('foo',){}": "l1" });
  });

  it("after a restart shows the loaded keys as 'l1', and lastCacheStatus stays null until the first call", async () => {
    const cwd = tempDir();
    const first = await runProgram(DATA_SERVICE, { cwd });
    expect(first.stderr).toBe("");
    expect(first.lines).toEqual([
      { last: null, status: {} },
      { value: "result-for-foo", last: "miss", status: { "fetch('foo',){}": "miss" }, runs: 1 },
    ]);
    const second = await runProgram(DATA_SERVICE, { cwd });
    expect(second.stderr).toBe("");
    expect(second.lines).toEqual([
      { last: null, status: { "fetch('foo',){}": "l1" } },
      { value: "result-for-foo", last: "l1", status: { "fetch('foo',){}": "l1" }, runs: 0 },
    ]);
  });

  it("is cleared by jsonCacheClear()", async () => {
    const cwd = tempDir();
    await runProgram(DATA_SERVICE, { cwd });
    const cleared = await runProgram(
      `${DATA_SERVICE}
      await svc.jsonCacheClear();
      print({ status: svc.cacheStatus });
      `,
      { cwd },
    );
    expect(cleared.lines.at(-1)).toEqual({ status: {} });
  });
});

describe("logging control", () => {
  afterEach(() => {
    JSONCache.setLogging(true);
    JSONCache.setLogger(console);
  });

  /** An object whose save reports a problem: one of its attributes cannot be written. */
  function withUnwritableAttribute(directory: string, options: { logging?: boolean; logger?: ReturnType<typeof recordingLogger> } = {}) {
    class DataProcessor extends JSONCache {
      declare handle: URL;
      constructor() {
        super({ dataId: "logging-demo", directory, ...options });
        this.handle = new URL("https://example.test/");
      }
    }
    return new DataProcessor();
  }

  it("JSONCache.setLogging(false) silences every instance, existing ones too; setLogging(true) turns messages back on", async () => {
    const logger = recordingLogger();
    const processor = withUnwritableAttribute(tempDir(), { logger });
    JSONCache.setLogging(false);
    expect(await processor.jsonCacheSave()).toBe(true);
    expect(logger.messages).toEqual([]);
    JSONCache.setLogging(true);
    expect(await processor.jsonCacheSave()).toBe(true);
    expect(logger.messages).toHaveLength(1);
    expect(logger.messages[0]?.message).toContain("handle");
  });

  it("JSONCache.setLogger sends the messages of instances without a logger of their own", async () => {
    const global = recordingLogger();
    JSONCache.setLogger(global);
    const processor = withUnwritableAttribute(tempDir());
    expect(await processor.jsonCacheSave()).toBe(true);
    expect(global.messages).toHaveLength(1);
  });

  it("logging: false silences one instance while others still report", async () => {
    const global = recordingLogger();
    JSONCache.setLogger(global);
    const silent = withUnwritableAttribute(tempDir(), { logging: false });
    expect(await silent.jsonCacheSave()).toBe(true);
    expect(global.messages).toEqual([]);
    const loud = withUnwritableAttribute(tempDir());
    expect(await loud.jsonCacheSave()).toBe(true);
    expect(global.messages).toHaveLength(1);
  });
});

describe("use case: API client with caching (GitHubClient)", () => {
  const requests: string[] = [];
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const url = request.url ?? "";
      requests.push(url);
      const match = /^\/users\/([^/]+)(\/repos)?$/.exec(url);
      if (!match) {
        response.writeHead(404).end();
        return;
      }
      const login = decodeURIComponent(match[1] as string);
      const body = match[2]
        ? [{ name: `${login}-site`, stars: 3 }, { name: `${login}-tools`, stars: 7 }]
        : { login, id: login.length, followers: 42 };
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    requests.length = 0;
  });

  interface GitHubUser {
    login: string;
    id: number;
    followers: number;
  }

  function gitHubClient(directory: string) {
    class GitHubClient extends JSONCache {
      constructor() {
        super({ dataId: "github_client", directory, ttl: 1 });
      }
      @Cached({ ttl: 0.5 }) // 12 hours
      async getUser(username: string): Promise<GitHubUser> {
        const response = await fetch(`${baseUrl}/users/${encodeURIComponent(username)}`);
        return (await response.json()) as GitHubUser;
      }
      @Cached({ ttl: 7 }) // 1 week
      async getRepos(username: string): Promise<{ name: string; stars: number }[]> {
        const response = await fetch(`${baseUrl}/users/${encodeURIComponent(username)}/repos`);
        return (await response.json()) as { name: string; stars: number }[];
      }
    }
    return new GitHubClient();
  }

  it("sends one request per user and per repo list, however often they are asked for", async () => {
    const client = gitHubClient(tempDir());
    const user = await client.getUser("octocat");
    expect(user).toEqual({ login: "octocat", id: 7, followers: 42 });
    expect(await client.getUser("octocat")).toEqual(user);
    const repos = await client.getRepos("octocat");
    expect(repos).toEqual([{ name: "octocat-site", stars: 3 }, { name: "octocat-tools", stars: 7 }]);
    expect(await client.getRepos("octocat")).toEqual(repos);
    expect(requests).toEqual(["/users/octocat", "/users/octocat/repos"]);
    await client.getUser("hubot");
    expect(requests).toHaveLength(3);
  });

  it("shares one request between concurrent identical calls", async () => {
    const client = gitHubClient(tempDir());
    const [a, b, c] = await Promise.all([client.getUser("ada"), client.getUser("ada"), client.getUser("ada")]);
    expect(a).toEqual({ login: "ada", id: 3, followers: 42 });
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(requests).toEqual(["/users/ada"]);
  });

  it("applies 12 hours to users and a week to repos", async () => {
    const directory = tempDir();
    const client = gitHubClient(directory);
    await client.getUser("octocat");
    await client.getRepos("octocat");
    expect(await client.jsonCacheSave()).toBe(true);
    const later = gitHubClient(agedCopy(directory, 13 * HOUR));
    expect(later.jsonCacheStats()).toEqual({ totalEntries: 1, functions: { getRepos: 1 } });
    await later.getRepos("octocat");
    await later.getUser("octocat");
    expect(requests).toEqual(["/users/octocat", "/users/octocat/repos", "/users/octocat"]);
  });
});

describe("use case: database query caching (UserRepository)", () => {
  function fakeDb() {
    const calls = { users: 0, stats: 0 };
    const rows = new Map([[1, { id: 1, name: "Ada" }], [2, { id: 2, name: "Linus" }]]);
    return {
      calls,
      query(sql: string, userId: number): unknown {
        if (sql.startsWith("SELECT * FROM users")) {
          calls.users++;
          return rows.get(userId) ?? null;
        }
        calls.stats++;
        return { count: userId * 10 };
      },
    };
  }

  function userRepository(directory: string, db: ReturnType<typeof fakeDb>) {
    class UserRepository extends JSONCache {
      constructor() {
        super({ dataId: "user_repo", directory, ttl: 0.1 }); // 2.4 hours
      }
      @Cached()
      getUserById(userId: number) {
        return db.query("SELECT * FROM users WHERE id = ?", userId);
      }
      @Cached({ ttl: 1 })
      getUserStats(userId: number) {
        return db.query("SELECT COUNT(*) FROM posts WHERE user_id = ?", userId);
      }
    }
    return new UserRepository();
  }

  it("queries the database once per user", () => {
    const db = fakeDb();
    const repo = userRepository(tempDir(), db);
    expect(repo.getUserById(1)).toEqual({ id: 1, name: "Ada" });
    expect(repo.getUserById(1)).toEqual({ id: 1, name: "Ada" });
    expect(repo.getUserById(3)).toBeNull();
    expect(repo.getUserById(3)).toBeNull(); // a null result is cached too
    expect(repo.getUserStats(2)).toEqual({ count: 20 });
    expect(repo.getUserStats(2)).toEqual({ count: 20 });
    expect(db.calls).toEqual({ users: 2, stats: 1 });
  });

  it("re-queries users after 2.4 hours, stats only after a day", async () => {
    const directory = tempDir();
    const db = fakeDb();
    const repo = userRepository(directory, db);
    repo.getUserById(1);
    repo.getUserStats(1);
    expect(await repo.jsonCacheSave()).toBe(true);
    expect(db.calls).toEqual({ users: 1, stats: 1 });

    const later = userRepository(agedCopy(directory, 5 * HOUR), db);
    expect(later.getUserStats(1)).toEqual({ count: 10 });
    expect(later.getUserById(1)).toEqual({ id: 1, name: "Ada" });
    expect(db.calls).toEqual({ users: 2, stats: 1 });

    const dayLater = userRepository(agedCopy(directory, 25 * HOUR), db);
    dayLater.getUserStats(1);
    expect(db.calls).toEqual({ users: 2, stats: 2 });
  });
});

describe("use case: machine learning model predictions (ModelPredictor)", () => {
  function loadModel() {
    return {
      predictions: 0,
      predict(features: number[]): number {
        this.predictions++;
        return features.reduce((sum, x) => sum + x, 0) / features.length;
      },
    };
  }

  function modelPredictor(directory: string, logger = recordingLogger()) {
    class ModelPredictor extends JSONCache {
      readonly #model = loadModel(); // a private field: never persisted
      constructor() {
        super({ dataId: "ml_predictor", directory, logger });
      }
      get predictions(): number {
        return this.#model.predictions;
      }
      @Cached({ ttl: 30 })
      predict(featuresHash: string, features: number[]): number {
        // Cached by the arguments: the feature hash and the features.
        return this.#model.predict(features);
      }
    }
    return new ModelPredictor();
  }

  it("runs the model once per feature hash, and keeps the model itself out of the file", async () => {
    const directory = tempDir();
    const logger = recordingLogger();
    const predictor = modelPredictor(directory, logger);
    expect(predictor.predict("h-123", [1, 2, 3])).toBe(2);
    expect(predictor.predict("h-123", [1, 2, 3])).toBe(2);
    expect(predictor.predict("h-456", [4, 6])).toBe(5);
    expect(predictor.predictions).toBe(2);
    expect(await predictor.jsonCacheSave()).toBe(true);
    const file = readCacheFile(directory);
    expect(file._json_cache_variable_cache).toEqual({});
    expect(Object.keys(file._json_cache_func_cache).sort()).toEqual(["predict('h-123', [1, 2, 3]){}", "predict('h-456', [4, 6]){}"]);
    expect(logger.messages).toEqual([]);
  });

  it("serves predictions from the file to a new predictor, without asking the model", async () => {
    const directory = tempDir();
    const predictor = modelPredictor(directory);
    predictor.predict("h-456", [4, 6]);
    expect(await predictor.jsonCacheSave()).toBe(true);
    const restarted = modelPredictor(agedCopy(directory, 0));
    expect(restarted.predict("h-456", [4, 6])).toBe(5);
    expect(restarted.lastCacheStatus).toBe("l1");
    expect(restarted.predictions).toBe(0);
  });
});
