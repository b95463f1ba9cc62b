/**
 * Where a dataId's cache file lives (src/store/file-names.ts), and how timestamps in cache files are
 * read and written (src/time.ts).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cacheFileName, cacheFilePath, legacyPythonFileName } from "../src/store/file-names.js";
import { parseTimestamp, pythonLocalTimestamp } from "../src/time.js";
import { tempDir } from "./helpers.js";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** A file name that is one entry of `directory`: no separators, not `.`/`..`, not hidden, short enough. */
function expectContained(dataId: string): string {
  const name = cacheFileName(dataId);
  expect(name).not.toMatch(/[/\\\0]/);
  expect(name).toMatch(/\.json$/);
  expect(name.startsWith(".")).toBe(false);
  expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
  const directory = resolve("/srv/cache");
  const path = resolve(cacheFilePath(directory, dataId));
  expect(dirname(path)).toBe(directory);
  expect(path.startsWith(directory + sep)).toBe(true);
  return name;
}

describe("a dataId becomes one safe file name inside the cache directory", () => {
  it("keeps the name of an id that is already safe", () => {
    expect(cacheFileName("dataservice")).toBe("dataservice.json");
    expect(cacheFileName("game-player1")).toBe("game-player1.json");
    expect(cacheFileName("calc")).toBe("calc.json");
    expect(cacheFilePath("data/cache", "calc")).toBe(join("data/cache", "calc.json"));
  });

  it.each([
    "../x", "../../etc/passwd", "/etc/passwd", "a\\b", "..\\..\\windows", "..", ".", "???", "!!!", "☃☃", "",
    "a/b/../../..", "nul\0byte", ".hidden", "con", "NUL", "com1",
  ])("stays inside the directory for %j", (dataId) => {
    expectContained(dataId);
  });

  it("stays inside the directory for very long ids (300 characters)", () => {
    for (const unit of ["x", "ü", "😀", "../", "/"]) expectContained(unit.repeat(300));
  });

  it("gives ids with no usable letters a visible name, not a hidden '.json'", () => {
    expect(cacheFileName("???")).toMatch(/^[a-z0-9]/);
    expect(cacheFileName("???")).not.toBe(cacheFileName("!!!"));
  });

  it("keeps a readable slug of an unsafe id in its file name", () => {
    expect(cacheFileName("Foo Bar")).toMatch(/^foo-bar_[0-9a-f]+\.json$/);
    expect(cacheFileName("../x")).toMatch(/^x_[0-9a-f]+\.json$/);
  });

  it("gives a very long id a bounded name, different from a similar long id", () => {
    const a = expectContained("x".repeat(300));
    const b = expectContained(`${"x".repeat(299)}y`);
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThan(150);
  });

  it("never lets two ids share a file: Foo Bar, foo_bar, FOO-BAR, foo-bar", () => {
    const names = ["Foo Bar", "foo_bar", "FOO-BAR", "foo-bar", "foo bar", "Foo  Bar", "foo-bar "].map(cacheFileName);
    expect(new Set(names).size).toBe(names.length);
  });

  it("never lets two generated ids share a file", () => {
    const tricky = fc.constantFrom("a", "A", "-", "_", " ", ".", "/", "\\", "'", ",", "1", "ü", "ß", "☃", "😀", "\0", "%");
    const dataId = fc.oneof(fc.string({ maxLength: 12 }), fc.array(tricky, { maxLength: 10 }).map((c) => c.join("")), fc.string({ unit: "binary", maxLength: 20 }));
    fc.assert(
      fc.property(fc.uniqueArray(dataId, { minLength: 2, maxLength: 30 }), (ids) => {
        const names = ids.map(cacheFileName);
        expect(new Set(names).size).toBe(ids.length);
        for (const id of ids) expectContained(id);
      }),
      { numRuns: 100 },
    );
  });

  it("is the same in another directory and on every call", () => {
    expect(cacheFileName("Foo Bar")).toBe(cacheFileName("Foo Bar"));
    expect(cacheFilePath("a", "Foo Bar")).toBe(join("a", cacheFileName("Foo Bar")));
  });
});

describe("legacyPythonFileName finds the files the Python cacherator wrote (python-behaviour.md §1.2)", () => {
  it("reproduces Python's slugs", () => {
    expect(legacyPythonFileName("DataService")).toBe("dataservice.json");
    expect(legacyPythonFileName("Foo Bar")).toBe("foo-bar.json");
    expect(legacyPythonFileName("foo_bar")).toBe("foo-bar.json");
    expect(legacyPythonFileName("FOO-BAR")).toBe("foo-bar.json");
    expect(legacyPythonFileName("a/b\\c")).toBe("a-b-c.json");
    expect(legacyPythonFileName("Ünïcödé ☃ 1,000")).toBe("unicode-1000.json");
    expect(legacyPythonFileName("it's")).toBe("it-s.json");
    expect(legacyPythonFileName("game_player1")).toBe("game-player1.json");
    expect(legacyPythonFileName("DataService Demo")).toBe("dataservice-demo.json");
  });

  it("cuts ids of 180 code points or more to 140 plus '-' and the sha256 of the whole id", () => {
    const id = "x".repeat(180);
    expect(legacyPythonFileName(id)).toBe(`${"x".repeat(140)}-${sha256(id)}.json`);
    expect(legacyPythonFileName("x".repeat(179))).toBe(`${"x".repeat(179)}.json`);
  });

  it("counts code points like Python: 179 emoji plus a letter is below the limit", () => {
    const id = `${"😀".repeat(100)}Abc`;
    expect(legacyPythonFileName(id)).toBe("abc.json");
    const long = `Ab${"😀".repeat(178)}`;
    expect(legacyPythonFileName(long)).toBe(`ab-${sha256(long)}.json`);
  });

  it("a safe id has the same file name for both libraries", () => {
    for (const id of ["dataservice", "game-player1", "calc", "a-1-b"]) {
      expect(cacheFileName(id)).toBe(legacyPythonFileName(id));
    }
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
    // Always six fraction digits, also for 0 milliseconds (Python's strptime needs them).
    expect(zones.UTC?.formatted).toEqual(["2026-11-24T21:56:19.126000", "2026-11-24T21:56:19.000000", "2000-01-01T00:00:00.000000"]);
    expect(zones["Asia/Kolkata"]?.formatted).toEqual([
      "2026-11-25T03:26:19.126000", "2026-11-25T03:26:19.000000", "2000-01-01T05:30:00.000000",
    ]);
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
