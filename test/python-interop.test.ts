/**
 * Sharing cache files with the Python cacherator 1.2.8: files it wrote are read (and hit), and files
 * we write are read by its loading logic. The fixtures in /work/shared/fixtures/python-cacherator-1.2.8
 * were written by the Python library itself; Python's side of the other direction runs in python3.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { pythonFileName } from "../src/store/file-names.js";
import { runProgram, tempDir } from "./helpers.js";

const FIXTURES = "/work/shared/fixtures/python-cacherator-1.2.8";

interface PythonEntry {
  value: unknown;
  date: string;
}

interface CacheFileData {
  _json_cache_func_cache: Record<string, PythonEntry & { epoch_ms?: number; async?: boolean }>;
  _json_cache_last_save_date: string;
  _json_cache_variable_cache: Record<string, unknown>;
}

/** A temporary directory holding writable copies of the Python fixtures. */
function pythonCacheDirectory(): string {
  const directory = tempDir("cacherator-python-");
  for (const name of readdirSync(FIXTURES).filter((n) => n.endsWith(".json"))) {
    writeFileSync(join(directory, name), readFileSync(join(FIXTURES, name)));
  }
  return directory;
}

function readCacheFile(path: string): CacheFileData {
  return JSON.parse(readFileSync(path, "utf8")) as CacheFileData;
}

const pythonDataService = readCacheFile(join(FIXTURES, "dataservice.json"))._json_cache_func_cache;
const PYTHON_KEYS = Object.keys(pythonDataService);

/**
 * The DataService the Python fixture was written by. Its TTL is infinite so that these hits do not
 * depend on how long ago the fixture was written; TTLs against Python's timestamps are tested below.
 */
function dataServiceClass(directory: string) {
  const runs: string[] = [];
  class DataService extends JSONCache {
    constructor() {
      super({ dataId: "DataService", directory, ttl: Infinity });
    }
    @Cached() fetch(key: string) {
      runs.push(`fetch ${key}`);
      return `computed-${key}`;
    }
    @Cached() profile(id: number, active: boolean) {
      runs.push("profile");
      return { id, active };
    }
    @Cached() numbers(a: number, b: number) {
      runs.push("numbers");
      return a * b + 1000;
    }
    @Cached() listing(items: unknown[], options: Record<string, unknown>) {
      runs.push("listing");
      return [items, options];
    }
    @Cached() when(day: string) {
      runs.push("when");
      return day;
    }
    @Cached() async aget(name: string) {
      runs.push("aget");
      return { computed: name };
    }
  }
  return { DataService, runs };
}

describe("files written by the Python cacherator are read and hit", () => {
  it("finds the Python file under its Python name and serves every call it cached, without running the method", async () => {
    const directory = pythonCacheDirectory();
    expect(pythonFileName("DataService")).toBe("dataservice.json");
    const { DataService, runs } = dataServiceClass(directory);
    const service = new DataService();
    expect(Object.keys(service.cacheStatus).sort()).toEqual([...PYTHON_KEYS].sort());
    expect(Object.values(service.cacheStatus).every((s) => s === "l1")).toBe(true);
    expect(service.jsonCacheStats()).toEqual({
      totalEntries: 10,
      functions: { aget: 1, fetch: 4, listing: 1, numbers: 2, profile: 1, when: 1 },
    });

    const calls: [string, () => unknown][] = [
      ["fetch('foo',){}", () => service.fetch("foo")],
      [`fetch("it's",){}`, () => service.fetch("it's")],
      ["fetch('line\\nbreak\\ttab\\\\',){}", () => service.fetch("line\nbreak\ttab\\")],
      ["fetch('Ünï ☃',){}", () => service.fetch("Ünï ☃")],
      ["profile(42, False){}", () => service.profile(42, false)],
      ["numbers(3, 1.5){}", () => service.numbers(3, 1.5)],
      ["numbers(-7, 0){}", () => service.numbers(-7, 0)],
      ["listing([1, 'a', None, True], {'k': 'v', 'n': 2}){}", () => service.listing([1, "a", null, true], { k: "v", n: 2 })],
      ["when('today',){}", () => service.when("today")],
      ["aget('world',){}", () => service.aget("world")],
    ];
    for (const [key, call] of calls) {
      const value = await call();
      expect(value, key).toEqual(pythonDataService[key]?.value);
      expect(service.lastCacheStatus, key).toBe("l1");
      expect(service.cacheStatus[key], key).toBe("l1");
    }
    expect(service.fetch("line\nbreak\ttab\\")).toBe("result-for-line\nbreak\ttab\\");
    expect(service.when("today")).toBe("2024-01-02T03:04:05.600000");
    expect(await service.aget("world")).toEqual({ hello: "world" });
    expect(runs).toEqual([]);

    // A call Python never made still runs.
    expect(service.fetch("new")).toBe("computed-new");
    expect(service.lastCacheStatus).toBe("miss");
    expect(runs).toEqual(["fetch new"]);
  });

  it("an async method served from a Python entry still returns a Promise", async () => {
    const { DataService, runs } = dataServiceClass(pythonCacheDirectory());
    const service = new DataService();
    const result: unknown = service.aget("world");
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toEqual({ hello: "world" });
    expect(service.lastCacheStatus).toBe("l1");
    expect(runs).toEqual([]);
  });

  it("restores a GameState's score, level and history, and none of Python's bookkeeping", async () => {
    const directory = pythonCacheDirectory();
    class GameState extends JSONCache {
      declare score: number;
      declare level: number;
      declare history: number[];
      constructor() {
        super({ dataId: "game_player1", directory });
        this.score ??= 0;
        this.level ??= 1;
        this.history ??= [];
      }
    }
    const game = new GameState();
    await Promise.resolve(); // let the post-construction check run
    expect(game.score).toBe(150);
    expect(game.level).toBe(1);
    expect(game.history).toEqual([100, 50]);
    expect(Object.keys(game).sort()).toEqual(["history", "level", "score"]);
    for (const name of ["_dynamodb_enabled", "_save_on_del", "cache_status", "last_cache_status"]) {
      expect(name in game, name).toBe(false);
    }
    expect(game.lastCacheStatus).toBeNull();
    expect(game.cacheStatus).toEqual({});

    game.score += 25;
    game.history.push(25);
    expect(await game.jsonCacheSave()).toBe(true);
    // The Python file is the file of both libraries: it now holds the new state, and still Python's layout.
    const written = readCacheFile(join(directory, "game-player1.json"));
    expect(written._json_cache_variable_cache).toEqual({ history: [100, 50, 25], level: 1, score: 175 });
    const read = JSON.parse(python(PYTHON_LOADER, [join(directory, "game-player1.json"), "999"])) as { variables: unknown };
    expect(read.variables).toEqual({ history: [100, 50, 25], level: 1, score: 175 });
  });

  it("after a restart, the state comes from our file and keeps no Python bookkeeping", async () => {
    const cwd = pythonCacheDirectory();
    const program = `
      import { JSONCache } from "cacherator";
      class GameState extends JSONCache {
        declare score: number;
        declare level: number;
        declare history: number[];
        constructor() {
          super({ dataId: "game_player1", directory: "." });
          this.score ??= 0;
          this.level ??= 1;
          this.history ??= [];
        }
      }
      const game = new GameState();
      console.log(JSON.stringify({ score: game.score, level: game.level, history: game.history, keys: Object.keys(game).sort() }));
      game.score += 10;
      await game.jsonCacheSave();
    `;
    const first = await runProgram(program, { cwd });
    expect(first.stderr).toBe("");
    expect(first.lines).toEqual([{ score: 150, level: 1, history: [100, 50], keys: ["history", "level", "score"] }]);
    const second = await runProgram(program, { cwd });
    expect(second.lines).toEqual([{ score: 160, level: 1, history: [100, 50], keys: ["history", "level", "score"] }]);
    const written = readCacheFile(join(cwd, "game-player1.json"));
    expect(Object.keys(written._json_cache_variable_cache).sort()).toEqual(["history", "level", "score"]);
  });
});

describe("Python's naive timestamps are the computation times, in local time", () => {
  /** The DataService in a child process with the given TZ; TTLs measured from Python's fetch('foo') entry. */
  const program = (directory: string) => `
    import { JSONCache, Cached } from "cacherator";
    // fetch('foo') in the Python file: "2026-11-24T21:56:19.126065", naive local time of a machine on UTC.
    const pythonComputedAt = Date.UTC(2026, 10, 24, 21, 56, 19, 126);
    const ageDays = (Date.now() - pythonComputedAt) / 86_400_000;
    let runs = 0;
    class DataService extends JSONCache {
      constructor(ttl: number) { super({ dataId: "DataService", directory: ${JSON.stringify(directory)}, ttl }); }
      @Cached() fetch(key: string) { runs++; return "computed-" + key; }
    }
    const generous = new DataService(ageDays + 1 / 24); // one hour longer than the entry's age
    const foo = generous.fetch("foo");
    console.log(JSON.stringify({ call: "foo", value: foo, status: generous.lastCacheStatus, runs }));
    const strict = new DataService(ageDays / 2); // half the entry's age
    const its = strict.fetch("it's");
    console.log(JSON.stringify({ call: "it's", value: its, status: strict.lastCacheStatus, runs }));
    console.log(JSON.stringify({ saved: await generous.jsonCacheSave() }));
  `;

  it("on a machine in UTC, a TTL longer than the entry's age hits and a shorter one misses; the file keeps Python's times", async () => {
    const directory = pythonCacheDirectory();
    const result = await runProgram(program(directory), { cwd: directory, env: { TZ: "UTC" } });
    expect(result.stderr).toBe("");
    expect(result.lines).toEqual([
      { call: "foo", value: "result-for-foo", status: "l1", runs: 0 },
      { call: "it's", value: "computed-it's", status: "miss", runs: 1 },
      { saved: true },
    ]);
    const written = readCacheFile(join(directory, "dataservice.json"));
    const entries = written._json_cache_func_cache;
    expect(Object.keys(entries).sort()).toEqual([...PYTHON_KEYS].sort());
    for (const key of PYTHON_KEYS.filter((k) => k !== `fetch("it's",){}`)) {
      const pythonDate = pythonDataService[key]?.date as string;
      // Python's computation time, to the millisecond, still in naive local (here UTC) form.
      expect(entries[key]?.date, key).toBe(`${pythonDate.slice(0, 23)}000`);
      expect(entries[key]?.epoch_ms, key).toBe(Date.parse(`${pythonDate.slice(0, 23)}Z`));
      expect(entries[key]?.value, key).toEqual(pythonDataService[key]?.value);
    }
    expect(entries[`fetch("it's",){}`]?.value).toBe("computed-it's");
    // Python's bookkeeping is not written back.
    expect(written._json_cache_variable_cache).toEqual({});
  });

  it("on a machine 5:30 ahead of UTC, the same naive time is 5:30 older, so the same TTL misses", async () => {
    const directory = pythonCacheDirectory();
    const result = await runProgram(program(directory), { cwd: directory, env: { TZ: "Asia/Kolkata" } });
    expect(result.stderr).toBe("");
    expect(result.lines[0]).toEqual({ call: "foo", value: "computed-foo", status: "miss", runs: 1 });
  });
});

// ---------------------------------------------------------------------------------------------------
// Python's side, in python3.

/**
 * What cacherator 1.2.8's loader does (python-behaviour.md §1.3): json.load; `_json_cache_func_cache`
 * must be a dict; variables are restored when `_json_cache_last_save_date` + ttl is in the future,
 * except `_dynamodb_enabled`/`_save_on_del`; every entry's "date" goes through strptime with the
 * mandatory microseconds. Prints what it read; a failure raises, as it would in the Python library.
 */
const PYTHON_LOADER = String.raw`
import json, sys
from datetime import datetime, timedelta

FMT = "%Y-%m-%dT%H:%M:%S.%f"
path, ttl_days = sys.argv[1], float(sys.argv[2])
with open(path, encoding="utf8") as f:
    data = json.load(f)
if not isinstance(data, dict) or "_json_cache_func_cache" not in data:
    raise SystemExit("Invalid cache structure")

variables = {}
last_save = data.get("_json_cache_last_save_date")
restored = False
if last_save is not None:
    last_save = datetime.strptime(last_save, FMT)
    if last_save + timedelta(days=ttl_days) > datetime.now():
        restored = True
        for k, v in data["_json_cache_variable_cache"].items():
            if k not in {"_dynamodb_enabled", "_save_on_del"}:
                variables[k] = v

func_cache = {}
for key, entry in data["_json_cache_func_cache"].items():
    if isinstance(entry.get("date"), str):
        entry["date"] = datetime.strptime(entry["date"], FMT)
    func_cache[key] = entry

now = datetime.now()
print(json.dumps({
    "last_save": last_save.strftime(FMT) if last_save else None,
    "restored": restored,
    "variables": variables,
    "values": {k: e["value"] for k, e in func_cache.items()},
    "dates": {k: e["date"].strftime(FMT) for k, e in func_cache.items()},
    "fresh": {k: e["date"] + timedelta(days=ttl_days) > now for k, e in func_cache.items()},
}))
`;

/**
 * What cacherator 1.2.8's writer does (python-behaviour.md §3.1): json.dump with indent=4,
 * ensure_ascii=False, datetimes through isoformat(). The computation time is a minute ago with
 * microsecond 0, so isoformat() drops the fraction: a file Python's own loader fails on (§8).
 * The spec on stdin may hold bare NaN/Infinity tokens, which Python's json accepts.
 */
const PYTHON_WRITER = String.raw`
import json, sys
from datetime import datetime, timedelta

class DateTimeEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, datetime):
            return o.isoformat()
        return super().default(o)

spec = json.loads(sys.stdin.read())
now = datetime.now()
computed = now.replace(microsecond=0) - timedelta(minutes=1)
variables = {"_dynamodb_enabled": False, "_save_on_del": False, "cache_status": {}, "last_cache_status": None}
variables.update(spec["variables"])
data = {
    "_json_cache_func_cache": {k: {"value": v, "date": computed} for k, v in sorted(spec["entries"].items())},
    "_json_cache_last_save_date": now,
    "_json_cache_variable_cache": dict(sorted(variables.items())),
}
with open(spec["path"], "w", encoding="utf8") as f:
    json.dump(data, f, indent=4, ensure_ascii=False, cls=DateTimeEncoder)
`;

function python(script: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}): string {
  return execFileSync("python3", ["-c", script, ...args], {
    input: options.input ?? "",
    env: { ...process.env, ...options.env },
    encoding: "utf8",
  });
}

describe("files we write are read by the Python cacherator's loader", () => {
  it("Python reads every entry, value, computation time and attribute, including a time with 0 microseconds", async () => {
    const cwd = tempDir();
    const dataId = "interop-writer";
    // Both libraries use this name for a dataId that is already a safe slug.
    const path = join(cwd, pythonFileName(dataId));
    // A file Python wrote, whose entry has a computation time with 0 microseconds (no fraction at all).
    python(PYTHON_WRITER, [], {
      input: JSON.stringify({ path, entries: { "legacy('zero',){}": "from-python" }, variables: {} }),
      env: { TZ: "UTC" },
    });
    const zeroDate = readCacheFile(path)._json_cache_func_cache["legacy('zero',){}"]?.date as string;
    expect(zeroDate).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);

    const program = `
      import { JSONCache, Cached } from "cacherator";
      class Writer extends JSONCache {
        declare counter: number;
        declare label: string;
        declare tags: string[];
        constructor() {
          super({ dataId: ${JSON.stringify(dataId)}, directory: "." });
          this.counter ??= 0;
          this.label ??= "";
          this.tags ??= [];
        }
        @Cached() legacy(_name: string): string { throw new Error("must be served from the Python entry"); }
        @Cached() greet(name: string) { return "hello " + name; }
        @Cached() add(a: number, b: number) { return a + b; }
        @Cached() profile(id: number) { return { id, name: 'Zoë "Z" O\\'Neil', tags: ["a", "b"], score: 9.5, manager: null, nested: { k: [1, { x: "y" }] } }; }
        @Cached() async aget(name: string) { return { hello: name }; }
        @Cached() listing(items: unknown[], options: Record<string, unknown>) { return items.length + Object.keys(options).length; }
      }
      const writer = new Writer();
      const legacy = writer.legacy("zero");
      const legacyStatus = writer.lastCacheStatus;
      writer.counter = 3;
      writer.label = "Zoë ☃";
      writer.tags = ["x", "y"];
      writer.greet("it's");
      writer.greet("Ünï ☃");
      writer.add(1.5, 2);
      writer.add(-7, 0);
      writer.profile(42);
      await writer.aget("world");
      writer.listing([1, "a", null, true], { k: "v", n: 2 });
      const saved = await writer.jsonCacheSave();
      console.log(JSON.stringify({ legacy, legacyStatus, saved, keys: Object.keys(writer.cacheStatus) }));
    `;
    const result = await runProgram(program, { cwd, env: { TZ: "UTC" } });
    expect(result.stderr).toBe("");
    const [summary] = result.lines as { legacy: string; legacyStatus: string; saved: boolean; keys: string[] }[];
    expect(summary).toMatchObject({ legacy: "from-python", legacyStatus: "l1", saved: true });

    const ours = readCacheFile(path);
    const read = JSON.parse(python(PYTHON_LOADER, [path, "999"], { env: { TZ: "UTC" } })) as {
      last_save: string;
      restored: boolean;
      variables: Record<string, unknown>;
      values: Record<string, unknown>;
      dates: Record<string, string>;
      fresh: Record<string, boolean>;
    };
    const expectedValues = {
      "legacy('zero',){}": "from-python",
      "greet(\"it's\",){}": "hello it's",
      "greet('Ünï ☃',){}": "hello Ünï ☃",
      "add(1.5, 2){}": 3.5,
      "add(-7, 0){}": -7,
      "profile(42,){}": { id: 42, name: 'Zoë "Z" O\'Neil', tags: ["a", "b"], score: 9.5, manager: null, nested: { k: [1, { x: "y" }] } },
      "aget('world',){}": { hello: "world" },
      "listing([1, 'a', None, True], {'k': 'v', 'n': 2}){}": 6,
    };
    expect(read.values).toEqual(expectedValues);
    expect(Object.keys(read.values).sort()).toEqual([...(summary?.keys ?? [])].sort());
    expect(read.restored).toBe(true);
    expect(read.variables).toEqual({ counter: 3, label: "Zoë ☃", tags: ["x", "y"] });
    // Each computation time as Python reads it is the instant we stored, in naive UTC (TZ=UTC here).
    for (const [key, entry] of Object.entries(ours._json_cache_func_cache)) {
      // Never a zero fraction: a whole second is written one microsecond later.
      const iso = new Date(entry.epoch_ms as number).toISOString().slice(0, 23);
      expect(read.dates[key], key).toBe(`${iso}${iso.endsWith(".000") ? "001" : "000"}`);
      expect(read.fresh[key], key).toBe(true);
    }
    expect(read.dates["legacy('zero',){}"]).toBe(`${zeroDate}.000001`);
    expect(read.last_save).toBe(ours._json_cache_last_save_date);
  });
});

describe("bare NaN and Infinity tokens in a Python-written file are read", () => {
  it("serves NaN, Infinity and -Infinity results and restores such attributes", () => {
    const directory = tempDir();
    const path = join(directory, "ratios.json");
    python(PYTHON_WRITER, [], {
      input: `{"path": ${JSON.stringify(path)},
        "entries": {"divide(1, 0){}": NaN, "bounds(){}": [Infinity, -Infinity, NaN, 1.5], "label(){}": "NaN and -Infinity are words here"},
        "variables": {"ratio": NaN, "limits": {"low": -Infinity, "high": Infinity}}}`,
    });
    const text = readFileSync(path, "utf8");
    expect(text).toContain('"value": NaN');
    expect(text).toContain("-Infinity,");
    expect(() => JSON.parse(text)).toThrow();

    let runs = 0;
    class Ratios extends JSONCache {
      declare ratio: number;
      declare limits: { low: number; high: number };
      constructor() {
        super({ dataId: "ratios", directory });
      }
      @Cached() divide(a: number, b: number) {
        runs++;
        return a / b;
      }
      @Cached() bounds() {
        runs++;
        return [];
      }
      @Cached() label() {
        runs++;
        return "";
      }
    }
    const ratios = new Ratios();
    expect(ratios.divide(1, 0)).toBeNaN();
    expect(ratios.lastCacheStatus).toBe("l1");
    expect(ratios.bounds()).toEqual([Infinity, -Infinity, NaN, 1.5]);
    expect(ratios.label()).toBe("NaN and -Infinity are words here");
    expect(runs).toBe(0);
    expect(ratios.ratio).toBeNaN();
    expect(ratios.limits).toEqual({ low: -Infinity, high: Infinity });
    expect(readdirSync(directory)).toEqual(["ratios.json"]);
  });
});
