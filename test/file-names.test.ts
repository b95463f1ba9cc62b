/**
 * Where a dataId's cache file lives (src/store/file-names.ts, file-claim.ts), and how timestamps in cache files are
 * read and written (src/time.ts).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { resolveCacheFile } from "../src/store/file-claim.js";
import { hashedFileName, pythonFileName, pythonFileNames, slugify } from "../src/store/file-names.js";
import { parseTimestamp, pythonLocalTimestamp } from "../src/time.js";
import { tempDir } from "./helpers.js";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

const SLUG_TABLE = fileURLToPath(new URL("fixtures/python-3.11-slugs.json.gz", import.meta.url));

/** Python's slug of "a" + character + "b" for each BMP code point, without the a and b (test/python/slug_table.py). */
function slugTable(): Record<string, string> {
  return (JSON.parse(gunzipSync(readFileSync(SLUG_TABLE)).toString("utf8")) as { slugs: Record<string, string> }).slugs;
}

/** A Python 3 with text-unidecode: the first python3, or Debian's (where the package installs it). */
function pythonWithTextUnidecode(): string | undefined {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      execFileSync(python, ["-c", "import text_unidecode"], { stdio: "ignore" });
      return python;
    } catch {
      // not this one
    }
  }
  return undefined;
}
const PYTHON_SLUGS = pythonWithTextUnidecode();

/** The file a dataId uses in `directory`, claimed as a running cache would. */
function fileOf(directory: string, dataId: string): string {
  return basename(resolveCacheFile(directory, dataId, { claim: true }));
}

/** A file name that is one entry of `directory`: no separators, not `.`/`..`, not hidden, short enough. */
function expectContained(dataId: string): string {
  const directory = tempDir();
  const path = resolveCacheFile(directory, dataId, { claim: true });
  const name = basename(path);
  expect(name).not.toMatch(/[/\\\0]/);
  expect(name).toMatch(/\.json$/);
  expect(name.startsWith(".")).toBe(false);
  expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
  expect(dirname(path)).toBe(resolve(directory));
  expect(path.startsWith(resolve(directory) + sep)).toBe(true);
  return name;
}

describe("a dataId uses the Python library's file name, unless another dataId owns it", () => {
  it("uses Python's slug for the README's ids: the class name, ids with _ and capitals", () => {
    const directory = tempDir();
    expect(fileOf(directory, "Calculator")).toBe("calculator.json");
    expect(fileOf(directory, "game_player1")).toBe("game-player1.json");
    expect(fileOf(directory, "user_repo")).toBe("user-repo.json");
    expect(fileOf(directory, "github_client")).toBe("github-client.json");
    expect(fileOf(directory, "DataService Demo")).toBe("dataservice-demo.json");
    expect(fileOf(directory, "calc")).toBe("calc.json");
  });

  it("claims the free name by creating it, marked with the dataId, so the next lookup finds it again", () => {
    const directory = tempDir();
    expect(fileOf(directory, "Foo Bar")).toBe("foo-bar.json");
    const claimed = JSON.parse(readFileSync(join(directory, "foo-bar.json"), "utf8")) as Record<string, unknown>;
    expect(claimed._cacherator).toMatchObject({ data_id: "Foo Bar" });
    expect(claimed._json_cache_func_cache).toEqual({});
    expect(fileOf(directory, "Foo Bar")).toBe("foo-bar.json");
  });

  it("gives each further dataId with the same slug its own hashed file: Foo Bar, foo_bar, FOO-BAR, foo-bar", () => {
    const directory = tempDir();
    const ids = ["Foo Bar", "foo_bar", "FOO-BAR", "foo-bar", "foo bar", "Foo  Bar", "foo-bar "];
    const names = ids.map((id) => fileOf(directory, id));
    expect(names[0]).toBe("foo-bar.json");
    expect(new Set(names).size).toBe(ids.length);
    for (const [i, name] of names.entries()) {
      if (i > 0) expect(name).toBe(hashedFileName(ids[i] as string));
      // and each lookup is stable
      expect(fileOf(directory, ids[i] as string)).toBe(name);
    }
  });

  it("adopts a file without our marker (the Python library's), and never one marked with another dataId", () => {
    const directory = tempDir();
    writeFileSync(join(directory, "interop-calc.json"), JSON.stringify({ _json_cache_func_cache: {}, _json_cache_last_save_date: null, _json_cache_variable_cache: {} }));
    expect(fileOf(directory, "Interop Calc")).toBe("interop-calc.json");
    const other = tempDir();
    expect(fileOf(other, "interop-calc")).toBe("interop-calc.json");
    expect(fileOf(other, "Interop Calc")).toBe(hashedFileName("Interop Calc"));
  });

  it("keeps using the hashed file once a collision put the dataId there, even if the Python name comes free", () => {
    const directory = tempDir();
    expect(fileOf(directory, "calc")).toBe("calc.json");
    expect(fileOf(directory, "Calc")).toBe(hashedFileName("Calc"));
    rmSync(join(directory, "calc.json"));
    expect(fileOf(directory, "Calc")).toBe(hashedFileName("Calc"));
  });

  it("only looks, creating nothing, when asked not to claim (the CLI)", () => {
    const directory = tempDir();
    expect(basename(resolveCacheFile(directory, "Calculator", { claim: false }))).toBe("calculator.json");
    expect(readdirSync(directory)).toEqual([]);
  });

  it("stays inside the directory for ids that look like paths", () => {
    for (const id of ["../x", "../../etc/passwd", "/etc/passwd", "a/b/c", "a\\b", "..", ".", "", " ", "x/../../y"]) {
      expectContained(id);
    }
  });

  it("stays inside the directory for very long ids (300 characters)", () => {
    expectContained("x".repeat(300));
    expectContained("ü/".repeat(300));
    expectContained("日本語".repeat(200));
  });

  it("gives ids with no usable letters a visible hashed name, not Python's hidden '.json'", () => {
    const directory = tempDir();
    expect(pythonFileName("???")).toBe(".json");
    expect(fileOf(directory, "???")).toBe(hashedFileName("???"));
    expect(fileOf(directory, "???")).toMatch(/^[a-z0-9]/);
    expect(fileOf(directory, "???")).not.toBe(fileOf(directory, "!!!"));
  });

  it("never lets two generated ids share a file", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ maxLength: 12 }), { minLength: 2, maxLength: 8 }), (ids) => {
        const directory = tempDir();
        const names = ids.map((id) => fileOf(directory, id));
        expect(new Set(names).size).toBe(ids.length);
      }),
      { numRuns: 40 },
    );
  });
});

describe("Python's file name for a dataId: python-slugify's default pipeline (python-behaviour.md §1.2)", () => {
  it("reproduces Python's slugs", () => {
    expect(pythonFileName("DataService")).toBe("dataservice.json");
    expect(pythonFileName("Foo Bar")).toBe("foo-bar.json");
    expect(pythonFileName("foo_bar")).toBe("foo-bar.json");
    expect(pythonFileName("FOO-BAR")).toBe("foo-bar.json");
    expect(pythonFileName("a/b\\c")).toBe("a-b-c.json");
    expect(pythonFileName("Ünïcödé ☃ 1,000")).toBe("unicode-1000.json");
    expect(pythonFileName("it's")).toBe("it-s.json");
    expect(pythonFileName("game_player1")).toBe("game-player1.json");
    expect(pythonFileName("DataService Demo")).toBe("dataservice-demo.json");
  });

  it("transliterates as text-unidecode does, and also knows Unidecode's kana", () => {
    expect(pythonFileName("Привет мир")).toBe("privet-mir.json");
    expect(pythonFileName("Ελληνικά")).toBe("ellenika.json");
    expect(pythonFileName("€ prices")).toBe("eur-prices.json");
    expect(pythonFileNames("日本語キャッシュ")).toEqual(["ri-ben-yu-kiyatusiyu.json", "ri-ben-yu-kiyatsushiyu.json"]);
    expect(pythonFileNames("Straße")).toEqual(["strasse.json"]);
  });

  it("slugs every character of the BMP as Python does with text-unidecode (a checked-in table of its output)", () => {
    const table = slugTable();
    const differences: string[] = [];
    for (let cp = 0x80; cp < 0x10000; cp++) {
      if (cp >= 0xd800 && cp < 0xe000) continue;
      const ours = slugify(`a${String.fromCodePoint(cp)}b`).slice(1, -1);
      if (ours !== (table[String(cp)] ?? "")) differences.push(cp.toString(16));
    }
    // U+A7F1 is newer than Python 3.11's Unicode 14: Node's NFKD turns it into "S" before transliteration.
    expect(differences).toEqual(["a7f1"]);
  });

  it.runIf(PYTHON_SLUGS !== undefined)("the checked-in table is what this machine's Python and text-unidecode give", () => {
    const live = JSON.parse(execFileSync(PYTHON_SLUGS as string, [join(ROOT, "test/python/slug_table.py")], { encoding: "utf8", maxBuffer: 64 << 20 })) as { unicode: string; slugs: Record<string, string> };
    const fixture = JSON.parse(gunzipSync(readFileSync(SLUG_TABLE)).toString("utf8")) as { unicode: string; slugs: Record<string, string> };
    if (live.unicode !== fixture.unicode) return; // another Python's Unicode data: the table is for 3.11
    expect(live.slugs).toEqual(fixture.slugs);
  });

  it("cuts ids of 180 code points or more to 140 plus '-' and the sha256 of the whole id", () => {
    const id = "x".repeat(180);
    expect(pythonFileName(id)).toBe(`${"x".repeat(140)}-${sha256(id)}.json`);
    expect(pythonFileName("x".repeat(179))).toBe(`${"x".repeat(179)}.json`);
  });

  it("counts code points like Python: 179 emoji plus a letter is below the limit", () => {
    const id = `${"😀".repeat(100)}Abc`;
    expect(pythonFileName(id)).toBe("abc.json");
    const long = `Ab${"😀".repeat(178)}`;
    expect(pythonFileName(long)).toBe(`ab-${sha256(long)}.json`);
  });
});

// ---------------------------------------------------------------------------------------------------

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TSX = join(ROOT, "node_modules/tsx/dist/cli.mjs");

interface ZoneResult {
  parsed: (number | null)[];
  formatted: string[];
}

/**
 * parseTimestamp and pythonLocalTimestamp in another process, under each of the given time zones
 * (Node applies a change of process.env.TZ at once).
 */
function inTimeZones(zones: string[], parse: string[], format: number[]): Record<string, ZoneResult> {
  const script = join(tempDir(), "time.ts");
  writeFileSync(
    script,
    `import { parseTimestamp, pythonLocalTimestamp } from ${JSON.stringify(pathToFileURL(join(ROOT, "src/time.ts")).href)};
     const out: Record<string, unknown> = {};
     for (const zone of ${JSON.stringify(zones)}) {
       process.env.TZ = zone;
       out[zone] = {
         parsed: ${JSON.stringify(parse)}.map((t: string) => parseTimestamp(t) ?? null),
         formatted: ${JSON.stringify(format)}.map((ms: number) => pythonLocalTimestamp(ms)),
       };
     }
     console.log(JSON.stringify(out));`,
  );
  const out = execFileSync(process.execPath, [TSX, script], { cwd: ROOT, encoding: "utf8" });
  return JSON.parse(out) as Record<string, ZoneResult>;
}

describe("timestamps in cache files", () => {
  it("reads Python's naive timestamps as local time, with and without a fraction", () => {
    expect(parseTimestamp("2026-11-24T21:56:19.126065")).toBe(new Date(2026, 10, 24, 21, 56, 19, 126).getTime());
    expect(parseTimestamp("2026-11-24T21:56:19")).toBe(new Date(2026, 10, 24, 21, 56, 19, 0).getTime());
    expect(parseTimestamp("2026-11-24T21:56:19.6")).toBe(new Date(2026, 10, 24, 21, 56, 19, 600).getTime());
    expect(parseTimestamp("2026-11-24 21:56:19.999999")).toBe(new Date(2026, 10, 24, 21, 56, 19, 999).getTime());
  });

  it("reads timestamps with Z and with offsets as the instant they name", () => {
    const instant = Date.UTC(2026, 10, 24, 21, 56, 19, 126);
    expect(parseTimestamp("2026-11-24T21:56:19.126Z")).toBe(instant);
    expect(parseTimestamp("2026-11-24T21:56:19.126065+00:00")).toBe(instant);
    expect(parseTimestamp("2026-11-25T03:26:19.126+05:30")).toBe(instant);
    expect(parseTimestamp("2026-11-24T13:56:19.126-0800")).toBe(instant);
    expect(parseTimestamp("2026-11-24T21:56:19Z")).toBe(Date.UTC(2026, 10, 24, 21, 56, 19));
  });

  it("means the machine's local time zone for naive timestamps, when reading and writing", () => {
    const naive = ["2026-11-24T21:56:19.126065", "2026-07-01T00:00:00"];
    const instants = [Date.UTC(2026, 10, 24, 21, 56, 19, 126), Date.UTC(2026, 10, 24, 21, 56, 19, 0), Date.UTC(2000, 0, 1)];
    const zones = inTimeZones(["UTC", "Asia/Kolkata", "America/New_York"], naive, instants);
    expect(zones.UTC?.parsed).toEqual([Date.UTC(2026, 10, 24, 21, 56, 19, 126), Date.UTC(2026, 6, 1)]);
    // UTC+5:30, no daylight saving
    expect(zones["Asia/Kolkata"]?.parsed).toEqual([Date.UTC(2026, 10, 24, 16, 26, 19, 126), Date.UTC(2026, 5, 30, 18, 30)]);
    // UTC-5 in November, UTC-4 in July
    expect(zones["America/New_York"]?.parsed).toEqual([Date.UTC(2026, 10, 25, 2, 56, 19, 126), Date.UTC(2026, 6, 1, 4)]);
    // Always six fraction digits (Python's strptime needs them), never all zero (Python would write
    // them back without a fraction): 0 milliseconds are written as one microsecond.
    expect(zones.UTC?.formatted).toEqual(["2026-11-24T21:56:19.126000", "2026-11-24T21:56:19.000001", "2000-01-01T00:00:00.000001"]);
    expect(zones["Asia/Kolkata"]?.formatted).toEqual([
      "2026-11-25T03:26:19.126000", "2026-11-25T03:26:19.000001", "2000-01-01T05:30:00.000001",
    ]);
  });

  it("formats the same instant anew when the time zone changes while the process runs", () => {
    // One instant, formatted last under UTC and next under another zone: a second formatted once is
    // reused only while the local offset is the same.
    const instant = Date.UTC(2026, 10, 24, 21, 56, 19, 126);
    const zones = inTimeZones(["UTC", "Asia/Kolkata", "Asia/Kathmandu", "UTC"], [], [instant, instant + 1]);
    expect(zones.UTC?.formatted).toEqual(["2026-11-24T21:56:19.126000", "2026-11-24T21:56:19.127000"]);
    expect(zones["Asia/Kolkata"]?.formatted).toEqual(["2026-11-25T03:26:19.126000", "2026-11-25T03:26:19.127000"]);
    expect(zones["Asia/Kathmandu"]?.formatted).toEqual(["2026-11-25T03:41:19.126000", "2026-11-25T03:41:19.127000"]);
  });

  it("never writes a zero fraction, over many generated instants, and reads each back to the millisecond", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2200, 0, 1) }), fc.boolean(), (ms, wholeSecond) => {
        const instant = wholeSecond ? ms - (ms % 1000) : ms;
        const text = pythonLocalTimestamp(instant);
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
        expect(text.endsWith(".000000")).toBe(false);
        expect(parseTimestamp(text)).toBe(instant);
      }),
      { numRuns: 5000 },
    );
  });

  it("reads back what it writes, to the millisecond", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1970, 0, 2), max: Date.UTC(9000, 0, 1) }), (ms) => {
        const text = pythonLocalTimestamp(ms);
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
        // A naive local time names two instants in the hour repeated when daylight saving ends.
        const back = parseTimestamp(text) as number;
        expect(back === ms || pythonLocalTimestamp(back) === text).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("writes each instant's own local fields, however the instants before it were spread", () => {
    const pad = (n: number, width = 2) => String(n).padStart(width, "0");
    const fields = (ms: number) => {
      const d = new Date(ms);
      return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds() * 1000 || 1, 6)}`;
    };
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: -(2 ** 42), max: 2 ** 42 }), fc.double({ min: -(2 ** 42), max: 2 ** 42, noNaN: true })), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: -1500, max: 1500 }),
        (instants, step) => {
          // Each instant, then its neighbours: the same second, the seconds around it.
          for (const ms of instants.flatMap((t) => [t, t + step, t - 1, t + 1])) expect(pythonLocalTimestamp(ms)).toBe(fields(ms));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("returns undefined for text that is not a timestamp", () => {
    for (const text of ["", "yesterday", "2026-11-24", "2026-11-24T21:56", "24/11/2026 21:56:19", "2026-11-24T21:56:19.126065 ", "2026-11-24T21:56:19+5"]) {
      expect(parseTimestamp(text)).toBeUndefined();
    }
  });

  it("returns undefined for a timestamp of a day or time that does not exist, as Python's strptime refuses it", () => {
    for (const text of ["2026-13-01T00:00:00", "2026-02-30T00:00:00", "2026-11-24T25:00:00", "2026-11-24T21:61:00Z"]) {
      expect(parseTimestamp(text)).toBeUndefined();
    }
  });
});
