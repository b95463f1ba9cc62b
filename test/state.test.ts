/**
 * State persistence: an object's attributes are written to its cache file and put back when the object
 * is constructed again, in a new process. What is restored, what is never written, and the class
 * field initializer pitfall.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { recordingLogger, runProgram, tempDir } from "./helpers.js";

const FIXTURES = fileURLToPath(new URL("../../shared/fixtures/python-cacherator-1.2.8/", import.meta.url));

interface CacheFileData {
  _json_cache_func_cache: Record<string, { value: unknown; epoch_ms?: number }>;
  _json_cache_variable_cache: Record<string, unknown>;
}

/** The single cache file in `directory`, parsed. */
function readCacheFile(directory: string): CacheFileData {
  const files = readdirSync(directory).filter((name) => name.endsWith(".json"));
  expect(files).toHaveLength(1);
  return JSON.parse(readFileSync(join(directory, files[0] as string), "utf8")) as CacheFileData;
}

/** An old cache file (as a previous version or the Python library left it), written by hand. */
function writeOldFile(directory: string, fileName: string, variables: Record<string, unknown>, entries: Record<string, unknown> = {}): void {
  mkdirSync(directory, { recursive: true });
  const data = {
    _json_cache_func_cache: entries,
    _json_cache_last_save_date: "2024-01-01T00:00:00.000000",
    _json_cache_variable_cache: variables,
  };
  writeFileSync(join(directory, fileName), JSON.stringify(data, null, 4));
}

const warnings = (logger: ReturnType<typeof recordingLogger>) => logger.messages.filter((m) => m.level === "warn").map((m) => m.message);

beforeEach(() => {
  CacheLog.resetReported();
});

describe("the documented pattern: `declare` the attribute, default it with `??=` after super()", () => {
  const PROFILE = `
    import { JSONCache } from "cacherator";
    class Profile extends JSONCache {
      declare count: number;
      declare ratio: number;
      declare name: string;
      declare list: (number | string | null)[];
      declare nested: { level: { deep: (number | { x: string })[] }; flag: boolean };
      declare joined: Date;
      declare scores: Map<string, number>;
      declare tags: Set<string>;
      constructor() {
        super({ dataId: "profile" });
        this.count ??= 0;
        this.ratio ??= 0;
        this.name ??= "";
        this.list ??= [];
        this.nested ??= { level: { deep: [] }, flag: false };
        this.joined ??= new Date(0);
        this.scores ??= new Map();
        this.tags ??= new Set();
      }
    }
    const p = new Profile();
    if (process.env.PHASE === "first") {
      p.count = 42;
      p.ratio = -1.25;
      p.name = "Zoë \\"Z\\" O'Neil";
      p.list = [1, "two", null];
      p.nested = { level: { deep: [1, { x: "y" }] }, flag: true };
      p.joined = new Date("2024-02-03T04:05:06.789Z");
      p.scores = new Map([["alice", 3], ["bob", 5]]);
      p.tags = new Set(["red", "blue"]);
      await p.jsonCacheSave();
    }
    console.log(JSON.stringify({
      count: p.count, ratio: p.ratio, name: p.name, list: p.list, nested: p.nested,
      joinedIsDate: p.joined instanceof Date, joined: p.joined.toISOString(),
      scoresIsMap: p.scores instanceof Map, scores: [...p.scores],
      tagsIsSet: p.tags instanceof Set, tags: [...p.tags],
    }));
  `;

  it("restores numbers, strings, arrays, nested objects, Date, Map and Set in a new process", async () => {
    const cwd = tempDir();
    const first = await runProgram(PROFILE, { cwd, env: { PHASE: "first" } });
    expect(first.stderr).toBe("");
    const second = await runProgram(PROFILE, { cwd, env: { PHASE: "second" } });
    expect(second.stderr).toBe("");
    const expected = {
      count: 42,
      ratio: -1.25,
      name: 'Zoë "Z" O\'Neil',
      list: [1, "two", null],
      nested: { level: { deep: [1, { x: "y" }] }, flag: true },
      joinedIsDate: true,
      joined: "2024-02-03T04:05:06.789Z",
      scoresIsMap: true,
      scores: [["alice", 3], ["bob", 5]],
      tagsIsSet: true,
      tags: ["red", "blue"],
    };
    expect(first.lines).toEqual([expected]);
    expect(second.lines).toEqual([expected]);
  });

  it("uses the defaults on the first run, when there is no file yet", async () => {
    const cwd = tempDir();
    const run = await runProgram(PROFILE, { cwd, env: { PHASE: "none" } });
    expect(run.stderr).toBe("");
    expect(run.lines).toEqual([
      {
        count: 0, ratio: 0, name: "", list: [], nested: { level: { deep: [] }, flag: false },
        joinedIsDate: true, joined: "1970-01-01T00:00:00.000Z",
        scoresIsMap: true, scores: [], tagsIsSet: true, tags: [],
      },
    ]);
  });

  it("restores attributes after the instance ttl has passed: state does not expire", async () => {
    const cwd = tempDir();
    const ttl = 0.3 / 86_400; // 0.3 seconds, in days
    const program = `
      import { JSONCache, Cached } from "cacherator";
      let runs = 0;
      class Game extends JSONCache {
        declare score: number;
        constructor() { super({ dataId: "game", ttl: ${ttl} }); this.score ??= 0; }
        @Cached() level(n: number) { runs++; return n + 1; }
      }
      const game = new Game();
      const before = game.score;
      game.level(1);
      if (process.env.PHASE === "first") game.score = 250;
      await game.jsonCacheSave();
      console.log(JSON.stringify({ before, levelStatus: game.lastCacheStatus, runs }));
    `;
    const first = await runProgram(program, { cwd, env: { PHASE: "first" } });
    expect(first.lines).toEqual([{ before: 0, levelStatus: "miss", runs: 1 }]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const second = await runProgram(program, { cwd, env: { PHASE: "second" } });
    expect(second.stderr).toBe("");
    // The cached result has expired (it runs again), the attribute is still restored.
    expect(second.lines).toEqual([{ before: 250, levelStatus: "miss", runs: 1 }]);
  });
});

describe("the pitfall: a class field initializer (`score = 0`) after a restart", () => {
  const GAME = `
    import { Cached, JSONCache } from "cacherator";
    import { readFileSync } from "node:fs";
    const messages: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => void messages.push(m), error: (m: string) => void messages.push(m) };
    class Game extends JSONCache {
      score = 0;
      level = 1;
      constructor() { super({ dataId: "game", logger }); }
      @Cached() leaderboard(page: number) { return [page, this.score]; }
    }
    const fileScore = () =>
      (JSON.parse(readFileSync("data/cache/game.json", "utf8")) as { _json_cache_variable_cache: { score: number } })._json_cache_variable_cache.score;
    const game = new Game();
    if (process.env.PHASE === "first") game.score = 100;
    if (process.env.PHASE === "change") game.score = 7;
    if (process.env.PHASE === "change-later") {
      await new Promise((resolve) => setTimeout(resolve, 10));
      game.score = 7;
    }
    if (process.env.PHASE === "no-save") {
      game.leaderboard(1); // a miss: its entry is written, the attributes are not
      console.log(JSON.stringify({ score: game.score, level: game.level, messages }));
    } else {
      await game.jsonCacheSave();
      console.log(JSON.stringify({ score: game.score, level: game.level, fileScore: fileScore(), messages }));
    }
  `;

  it("warns, naming the attribute and the `declare`/`??=` fix", async () => {
    const cwd = tempDir();
    const first = await runProgram(GAME, { cwd, env: { PHASE: "first" } });
    expect(first.lines).toEqual([{ score: 100, level: 1, fileScore: 100, messages: [] }]);
    const second = await runProgram(GAME, { cwd, env: { PHASE: "second" } });
    expect(second.code).toBe(0);
    const [result] = second.lines as { messages: string[] }[];
    const warning = result?.messages.join("\n") ?? "";
    expect(warning).toContain("Game.score");
    expect(warning).toContain("declare score");
    expect(warning).toContain("this.score ??=");
    // `level` was overwritten by its initializer with the value it already had: nothing to warn about.
    expect(warning).not.toContain("Game.level");
  });

  it("leaves the stored state in the file when the program never calls jsonCacheSave", async () => {
    const cwd = tempDir();
    await runProgram(GAME, { cwd, env: { PHASE: "first" } });
    const second = await runProgram(GAME, { cwd, env: { PHASE: "no-save" } });
    expect(second.code).toBe(0);
    expect(second.lines).toMatchObject([{ score: 0, level: 1 }]);
    const file = readCacheFile(join(cwd, "data/cache"));
    // The miss was persisted at exit, the defaulted attribute was not.
    expect(Object.keys(file._json_cache_func_cache)).toEqual(["leaderboard(1,){}"]);
    expect(file._json_cache_variable_cache).toEqual({ score: 100, level: 1 });
  });

  it("writes what the object holds on an explicit jsonCacheSave, and nothing overwrites it later", async () => {
    const cwd = tempDir();
    await runProgram(GAME, { cwd, env: { PHASE: "first" } });
    const changed = await runProgram(GAME, { cwd, env: { PHASE: "change-later" } });
    expect(changed.lines).toMatchObject([{ score: 7, fileScore: 7 }]);
    expect(readCacheFile(join(cwd, "data/cache"))._json_cache_variable_cache).toEqual({ score: 7, level: 1 });
    // A later run that does not save leaves 7 in the file.
    await runProgram(GAME, { cwd, env: { PHASE: "no-save" } });
    expect(readCacheFile(join(cwd, "data/cache"))._json_cache_variable_cache).toEqual({ score: 7, level: 1 });
  });

  it("writes the new value when the user changes the attribute right after construction", async () => {
    const cwd = tempDir();
    await runProgram(GAME, { cwd, env: { PHASE: "first" } });
    const changed = await runProgram(GAME, { cwd, env: { PHASE: "change" } });
    expect(changed.lines).toMatchObject([{ score: 7, fileScore: 7 }]);
    expect(readCacheFile(join(cwd, "data/cache"))._json_cache_variable_cache).toEqual({ score: 7, level: 1 });
  });
});

describe("what is written as state", () => {
  it("never writes the library's bookkeeping (cacheStatus, lastCacheStatus, options) as attributes", async () => {
    const directory = tempDir();
    class Service extends JSONCache {
      declare counter: number;
      constructor() {
        super({ dataId: "bookkeeping", directory, ttl: 7, exclude: ["secret"], logging: true, writeDelay: 5 });
        this.counter ??= 0;
      }
      @Cached() fetch(key: string) {
        this.counter++;
        return `result-for-${key}`;
      }
    }
    const service = new Service();
    service.fetch("foo");
    service.fetch("foo");
    expect(service.cacheStatus).toEqual({ "fetch('foo',){}": "l1" });
    expect(service.lastCacheStatus).toBe("l1");
    expect(await service.jsonCacheSave()).toBe(true);
    const file = readCacheFile(directory);
    expect(file._json_cache_variable_cache).toEqual({ counter: 1 });
    expect(Object.keys(service)).toEqual(["counter"]);
  });

  it("does not persist functions held in attributes, and saves the other attributes", async () => {
    const directory = tempDir();
    class Widget extends JSONCache {
      declare label: string;
      declare onChange: () => string;
      handler = () => "handled";
      constructor() {
        super({ dataId: "widget", directory, logging: false });
        this.label ??= "ok";
        this.onChange = function changed() {
          return "changed";
        };
      }
    }
    const widget = new Widget();
    expect(await widget.jsonCacheSave()).toBe(true);
    expect(readCacheFile(directory)._json_cache_variable_cache).toEqual({ label: "ok" });
    expect(widget.onChange()).toBe("changed");
    expect(widget.handler()).toBe("handled");
  });

  it("skips an attribute that cannot be encoded with one warning, and saves the others", async () => {
    const directory = tempDir();
    const logger = recordingLogger();
    class Session extends JSONCache {
      declare user: string;
      declare endpoint: URL;
      declare visits: number;
      constructor() {
        super({ dataId: "session", directory, logger });
        this.user ??= "ada";
        this.visits ??= 0;
        this.endpoint = new URL("https://example.test/api");
      }
    }
    const session = new Session();
    expect(await session.jsonCacheSave()).toBe(true);
    session.visits = 1;
    expect(await session.jsonCacheSave()).toBe(true);
    session.visits = 2;
    expect(await session.jsonCacheSave()).toBe(true);
    expect(readCacheFile(directory)._json_cache_variable_cache).toEqual({ user: "ada", visits: 2 });
    const about = warnings(logger).filter((m) => m.includes("endpoint"));
    expect(about).toHaveLength(1);
    expect(about[0]).toContain("Session.endpoint");
    expect(warnings(logger)).toHaveLength(1);
  });
});

describe("what is restored from an old file", () => {
  it("does not restore a stored value over a method or a getter of the class", () => {
    const directory = tempDir();
    const logger = recordingLogger();
    writeOldFile(directory, "shadowed.json", {
      describe: "stored text",
      total: 99,
      fetch: "not a function",
      cacheStatus: { "fetch('x',){}": "miss" },
      lastCacheStatus: "miss",
      score: 3,
    });
    class Shadowed extends JSONCache {
      declare score: number;
      constructor() {
        super({ dataId: "shadowed", directory, logger });
        this.score ??= 0;
      }
      describe() {
        return `score ${this.score}`;
      }
      get total() {
        return this.score * 2;
      }
      @Cached() fetch(key: string) {
        return key.toUpperCase();
      }
    }
    const shadowed = new Shadowed();
    expect(shadowed.score).toBe(3);
    expect(shadowed.describe()).toBe("score 3");
    expect(shadowed.total).toBe(6);
    expect(shadowed.fetch("x")).toBe("X");
    expect(shadowed.lastCacheStatus).toBe("miss");
    expect(shadowed.cacheStatus).toEqual({ "fetch('x',){}": "miss" });
    for (const name of ["describe", "total", "fetch", "cacheStatus", "lastCacheStatus"]) {
      expect(Object.hasOwn(shadowed, name)).toBe(false);
    }
    const text = warnings(logger).join("\n");
    expect(text).toContain('"describe"');
    expect(text).toContain('"total"');
  });

  it("never turns the Python library's bookkeeping variables into attributes", async () => {
    const directory = tempDir();
    // A file written by the Python cacherator 1.2.8 (score, level, history and its own bookkeeping).
    copyFileSync(join(FIXTURES, "game-player1.json"), join(directory, "game-player1.json"));
    class GameState extends JSONCache {
      declare score: number;
      declare level: number;
      declare history: number[];
      constructor() {
        super({ dataId: "game_player1", directory, logging: false });
        this.score ??= 0;
        this.level ??= 1;
        this.history ??= [];
      }
    }
    const game = new GameState();
    expect({ score: game.score, level: game.level, history: game.history }).toEqual({ score: 150, level: 1, history: [100, 50] });
    for (const name of ["cache_status", "last_cache_status", "_dynamodb_enabled", "_save_on_del"]) {
      expect(Object.hasOwn(game, name)).toBe(false);
    }
    expect(game.lastCacheStatus).toBeNull();
    expect(game.cacheStatus).toEqual({});
    expect(await game.jsonCacheSave()).toBe(true);
    // Python's file is the file of both libraries: the save went into it, without Python's bookkeeping.
    const written = readdirSync(directory).filter((name) => name.endsWith(".json"));
    expect(written).toEqual(["game-player1.json"]);
    const file = JSON.parse(readFileSync(join(directory, "game-player1.json"), "utf8")) as CacheFileData;
    expect(file._json_cache_variable_cache).toEqual({ score: 150, level: 1, history: [100, 50] });
  });

  it("ignores every Python bookkeeping name, `_excluded_cache_vars` included", async () => {
    const directory = tempDir();
    writeOldFile(directory, "old-python.json", {
      cache_status: { "fetch('foo',){}": "miss" },
      last_cache_status: "miss",
      _dynamodb_enabled: false,
      _save_on_del: true,
      _excluded_cache_vars: ["token"],
      token: "kept",
    });
    class OldPython extends JSONCache {
      declare token: string;
      constructor() {
        super({ dataId: "old-python", directory, logging: false });
      }
    }
    const old = new OldPython();
    expect(Object.keys(old)).toEqual(["token"]);
    expect(old.token).toBe("kept");
    expect(await old.jsonCacheSave()).toBe(true);
    expect(readCacheFile(directory)._json_cache_variable_cache).toEqual({ token: "kept" });
  });

  it("neither restores nor writes back excluded attributes that an old file holds", async () => {
    const directory = tempDir();
    const logger = recordingLogger();
    writeOldFile(directory, "vault.json", { apiKey: "old-secret", scratch: [1, 2, 3], owner: "ada" });
    class Vault extends JSONCache {
      declare apiKey?: string;
      declare scratch?: number[];
      declare owner: string;
      constructor() {
        super({ dataId: "vault", directory, exclude: ["apiKey", "scratch"], logger });
        this.owner ??= "nobody";
      }
    }
    const vault = new Vault();
    expect(vault.apiKey).toBeUndefined();
    expect(vault.scratch).toBeUndefined();
    expect(Object.hasOwn(vault, "apiKey")).toBe(false);
    expect(vault.owner).toBe("ada");
    expect(await vault.jsonCacheSave()).toBe(true);
    const path = join(directory, "vault.json");
    expect(readCacheFile(directory)._json_cache_variable_cache).toEqual({ owner: "ada" });
    expect(readFileSync(path, "utf8")).not.toContain("old-secret");
    vault.apiKey = "new-secret";
    vault.scratch = [4];
    expect(await vault.jsonCacheSave()).toBe(true);
    expect(readCacheFile(directory)._json_cache_variable_cache).toEqual({ owner: "ada" });
    expect(readFileSync(path, "utf8")).not.toContain("secret");
    expect(warnings(logger)).toEqual([]);
  });

  it("drops excluded attributes an old file holds from the file at the next fold, without a save", async () => {
    const directory = tempDir();
    writeOldFile(directory, "vault.json", { apiKey: "old-secret", owner: "ada" });
    class Vault extends JSONCache {
      constructor() {
        super({ dataId: "vault", directory, exclude: ["apiKey"] });
      }
      @Cached() double(n: number) {
        return n * 2;
      }
    }
    const vault = new Vault();
    vault.double(2); // a miss: its write is followed by a fold, without the excluded attribute
    await JSONCache.compactAll();
    const path = join(directory, "vault.json");
    expect(readFileSync(path, "utf8")).not.toContain("old-secret");
    expect(readCacheFile(directory)._json_cache_variable_cache).toEqual({ owner: "ada" });
  });
});
