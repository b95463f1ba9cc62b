/**
 * Opening a cache: the line-by-line reader of files this library wrote gives exactly what the general
 * JSON.parse reader gives; the chunked serialiser gives exactly the whole-file text; the compact
 * entries behave as the StoredEntry objects they replace.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeValue } from "../src/codec.js";
import { PLACEHOLDER } from "../src/encoded-json.js";
import { entryText, serializeCacheFile, serializeCacheFileChunks, type EntryMeta, type MarkerExtras } from "../src/store/cache-file.js";
import { parseCacheFile } from "../src/store/cache-file-reader.js";
import { loadedEntry, newEntry } from "../src/store/stored-entry.js";

type Parsed = { entries: [string, unknown, number, boolean, EntryMeta | undefined][]; rest: Omit<ReturnType<typeof parseCacheFile>, never> };

function parse(text: string): Parsed {
  const entries: Parsed["entries"] = [];
  const rest = parseCacheFile(text, (key, raw, time, async, meta) => entries.push([key, raw, time, async, meta]));
  return { entries, rest };
}

/** The same text read by the general reader: without its final newline, the fast path does not apply. */
function parseGeneral(text: string): Parsed {
  expect(text.endsWith("\n")).toBe(true);
  return parse(text.slice(0, -1));
}

const NOW = 1_795_643_779_126;

function file(lines: [string, string][], variables: [string, string][] = [], extras: MarkerExtras = {}): string {
  return serializeCacheFile("data id", lines, variables, NOW, extras);
}

describe("serializeCacheFileChunks", () => {
  const cases: Record<string, [string, string][]> = {
    empty: [],
    one: [["f(1,){}", entryText(1, NOW, false)]],
    many: Array.from({ length: 500 }, (_, i) => [`f(${i},){}`, entryText({ i, s: "x".repeat(i % 40) }, NOW + i, i % 3 === 0)] as [string, string]),
  };
  const variableCases: Record<string, [string, string][]> = {
    none: [],
    plain: [["score", "150"], ["name", '"ada"']],
    tagged: [["when", '{"$cacherator": "Date", "v": "2024-01-02T03:04:05.600Z"}'], ["n", "1"]],
  };
  const extrasCases: Record<string, MarkerExtras> = {
    none: {},
    full: { variablesTime: NOW - 5, clears: new Map([["f", NOW - 10], ["*", NOW - 20]]) },
  };
  for (const [name, lines] of Object.entries(cases)) {
    for (const [variablesName, variables] of Object.entries(variableCases)) {
      for (const [extrasName, extras] of Object.entries(extrasCases)) {
        it(`concatenates to serializeCacheFile's text: ${name} entries, ${variablesName} attributes, ${extrasName} extras`, () => {
          const whole = serializeCacheFile("data id", lines, variables, NOW, extras);
          for (const chunkBytes of [1, 100, 4096, 1 << 20]) {
            const chunks = [...serializeCacheFileChunks("data id", lines, variables, NOW, extras, chunkBytes)];
            expect(chunks.join("")).toBe(whole);
            if (chunkBytes === 1 && lines.length > 1) expect(chunks.length).toBeGreaterThan(lines.length);
          }
          // Chunks cut by time (here: every few lines) concatenate to the same text.
          const sliced = [...serializeCacheFileChunks("data id", lines, variables, NOW, extras, 1 << 20, 0)];
          expect(sliced.join("")).toBe(whole);
          if (lines.length >= 100) expect(sliced.length).toBeGreaterThan(2);
          expect(JSON.parse(whole)).toBeTypeOf("object");
        });
      }
    }
  }

  it("makes chunks as they are consumed, from an iterator it reads once", () => {
    let made = 0;
    const lines = function* (): Generator<[string, string]> {
      for (let i = 0; i < 1000; i++) {
        made++;
        yield [`f(${i},){}`, entryText(i, NOW, false)];
      }
    };
    const chunks = serializeCacheFileChunks("d", lines(), [], NOW, {}, 10_000);
    chunks.next();
    expect(made).toBeLessThan(1000);
    expect([...chunks].length).toBeGreaterThan(1);
    expect(made).toBe(1000);
  });

  it('records "long_ints": false unless an entry holds an integer literal of 16 or more digits', () => {
    expect(JSON.parse(file([["f(1,){}", entryText(1, NOW, false)]]))._cacherator.long_ints).toBe(false);
    const big = entryText(encodeValue(2n ** 64n), NOW, false);
    expect(big).toContain("18446744073709551616");
    expect(JSON.parse(file([["f(1,){}", entryText(1, NOW, false)], ["f(2,){}", big]]))._cacherator.long_ints).toBe(true);
    // A number past 2^53 is written with ".0": JSON.parse keeps it as the float it is, but the scan counts it.
    expect(JSON.parse(file([["f(1,){}", entryText(encodeValue(2 ** 60), NOW, false)]]))._cacherator.long_ints).toBe(true);
  });
});

describe("reading a file this library wrote", () => {
  const values: unknown[] = [
    0, 1, -1, 42, 123_456_789_012_345, -123_456_789_012_345, 2 ** 53 - 1, 1.5, -0.25, 1e300, null, true, false, "", "x", "a\"b\\c\n",
    "ünïcödé ✓ 🎉", "x".repeat(200), [], {}, [1, [2, [3]]], { a: 1, "date": "no", ", \"date\": \"": 2 }, '", "date": "2026-01-01T00:00:00.000000", "epoch_ms": 5}',
    new Date(5), new Map([[1, 2]]), new Set(["a"]), 10n, 2n ** 64n, -(2n ** 70n), 2 ** 60, Number.NaN, Number.POSITIVE_INFINITY, -0, undefined,
    { $cacherator: "not a tag" }, new Uint8Array([1, 2, 3]), /re/g,
  ];
  const keys = ["f(1,){}", "short", "a key of more than thirteen characters(1,){}", "k'\"\\\n\u2028(){}", "ключ(1,){}", "__proto__", "", "x".repeat(300)];
  const metas: (EntryMeta | undefined)[] = [
    undefined, { ttlMs: 5000 }, { version: "v2" }, { ttlMs: Number.POSITIVE_INFINITY, version: "x\"y", expiresMs: NOW + 5000, staleMs: 100 },
    { expiresMs: Number.POSITIVE_INFINITY }, { expiresMs: NOW + 1 }, { expiresMs: NOW + 1, staleMs: 0 }, { ttlMs: 0, expiresMs: NOW, staleMs: Number.POSITIVE_INFINITY },
    { staleMs: 5 }, { version: "Infinity", expiresMs: 7 }, { ttlMs: 1.5, expiresMs: 2 ** 60 },
  ];

  it("gives what the general reader gives, for values of every kind, keys needing escapes, async entries and entries with rules", () => {
    const lines: [string, string][] = [];
    values.forEach((value, i) => {
      const key = `${keys[i % keys.length] as string}#${i}`;
      lines.push([key, entryText(encodeValue(value), NOW + i, i % 2 === 0, metas[i % metas.length])]);
    });
    const text = file(lines, [["score", "150"], ["big", "18446744073709551616"]], { variablesTime: NOW, clears: new Map([["f", NOW - 1]]) });
    const fast = parse(text);
    expect(fast).toEqual(parseGeneral(text));
    expect(fast.entries).toHaveLength(values.length);
    // Every line was read by the line reader: with a key written twice, it hands out one entry more than JSON.parse does.
    const twice = file([...lines, lines[0] as [string, string]]);
    expect(parse(twice).entries).toHaveLength(values.length + 1);
    expect(parseGeneral(twice).entries).toHaveLength(values.length);
    expect(fast.rest.ours).toBe(true);
    expect(fast.rest.variables.big).toBe(`${PLACEHOLDER}int:18446744073709551616`);
    expect(fast.entries.find(([key]) => key.endsWith(`#${values.indexOf(2n ** 64n)}`))?.[1]).toBe(`${PLACEHOLDER}int:18446744073709551616`);
  });

  it("gives what the general reader gives for random values and keys", () => {
    fc.assert(
      fc.property(
        // Keys are unique, as in every file we write (they come from a Map).
        fc.uniqueArray(fc.tuple(fc.string(), fc.jsonValue(), fc.boolean(), fc.integer({ min: 0, max: 2 ** 45 }), fc.constantFrom(...metas)), { maxLength: 20, selector: ([key]) => key }),
        (items) => {
          const text = file(items.map(([key, value, async, time, meta]) => [key, entryText(encodeValue(value), time, async, meta)]));
          // JSON.parse lists integer-like keys ("0") first; the line reader keeps the file's order.
          const byKey = (parsed: Parsed) => ({ ...parsed, entries: [...parsed.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) });
          expect(byKey(parse(text))).toEqual(byKey(parseGeneral(text)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("hands out both lines of a key written twice (only a hand edit can do that; the merge keeps the newer), and leaves out the attribute-digest line", () => {
    const text = file([["f(1,){}", entryText(1, NOW, false)], ["f(1,){}", entryText(2, NOW + 1, false)]], [["when", '{"$cacherator": "Date", "v": "2024-01-02T03:04:05.600Z"}']]);
    expect(text).toContain("_cacherator_attributes");
    const fast = parse(text);
    expect(fast.entries.map(([key]) => key)).toEqual(["f(1,){}", "f(1,){}"]);
    expect(fast.rest).toEqual(parseGeneral(text).rest);
  });

  it("keeps the integer scan for files without the long_ints flag (older files of ours)", () => {
    const text = file([["f(1,){}", entryText(encodeValue(2n ** 64n), NOW, false)], ["f(2,){}", entryText(7, NOW, false)]]).replace(', "long_ints": true', "");
    expect(text).not.toContain("long_ints");
    const fast = parse(text);
    expect(fast.entries[0]?.[1]).toBe(`${PLACEHOLDER}int:18446744073709551616`);
    expect(fast).toEqual(parseGeneral(text));
  });

  it("reads Python's bare NaN and Infinity in a file of ours", () => {
    const text = file([["f(1,){}", entryText(`${PLACEHOLDER}num:NaN`, NOW, false)], ["f(2,){}", entryText([`${PLACEHOLDER}num:-Infinity`], NOW, false)]]);
    expect(text).toContain('"value": NaN');
    expect(parse(text)).toEqual(parseGeneral(text));
    expect(parse(text).entries[0]?.[1]).toBe(`${PLACEHOLDER}num:NaN`);
  });

  it("falls back to the general reader for anything not in its layout, and still rejects what is not JSON", () => {
    const text = file([["f(1,){}", entryText(1, NOW, false)], ["f(2,){}", entryText(2, NOW, true)]]);
    const spaced = text.replace('"value": 1,', '"value":   1 ,');
    expect(parse(spaced).entries).toEqual(parse(text).entries);
    const noMarker = text.replace(/,\n {4}"_cacherator": \{[^\n]*\}/, "");
    expect(parse(noMarker).rest.ours).toBe(false);
    expect(parse(noMarker).entries).toEqual(parse(text).entries);
    const broken = text.replace('"value": 1,', '"value": 1 1,');
    expect(() => parse(broken)).toThrow(SyntaxError);
    const badTime = text.replace(`"epoch_ms": ${NOW}}`, '"epoch_ms": "soon"}');
    expect(parse(badTime)).toEqual(parseGeneral(badTime));
  });
});

describe("compact entries", () => {
  it("keep every StoredEntry property, for times of any kind", () => {
    for (const time of [0, 1, NOW, 2 ** 24, 2 ** 24 - 1, Number.MAX_SAFE_INTEGER, -5, 1.5, Number.POSITIVE_INFINITY]) {
      const meta = { ttlMs: 5 };
      for (const origin of ["l1", "l2", "process"] as const) {
        const entry = newEntry({ time, async: true, origin, value: "v", decoded: true, raw: "r", text: "t", persistent: false, meta });
        expect({ ...pick(entry) }).toEqual({ time, async: true, origin, value: "v", decoded: true, raw: "r", text: "t", persistent: false, meta });
      }
      const loaded = loadedEntry(7, time, false, undefined);
      expect(pick(loaded)).toEqual({ time, async: false, origin: "l1", value: undefined, decoded: false, raw: 7, text: undefined, persistent: true, meta: undefined });
    }
  });

  it("decode as the store decodes them, whether the value is the encoded form itself or another object", () => {
    const same = { a: 1 };
    const entry = loadedEntry(same, NOW, false, { version: "1" });
    entry.value = same;
    entry.decoded = true;
    expect(entry.value).toBe(same);
    expect(entry.raw).toBe(same);
    expect(entry.meta).toEqual({ version: "1" });
    const tagged = loadedEntry({ $cacherator: "undefined" }, NOW, false, { version: "2" });
    tagged.value = undefined;
    tagged.decoded = true;
    expect(tagged.value).toBeUndefined();
    expect(tagged.raw).toEqual({ $cacherator: "undefined" });
    expect(tagged.meta).toEqual({ version: "2" });
    const date = new Date(5);
    tagged.value = date;
    expect(tagged.value).toBe(date);
    tagged.raw = { $cacherator: "Date", v: date.toISOString() };
    expect(tagged.value).toBe(date);
    expect(tagged.raw).toEqual({ $cacherator: "Date", v: date.toISOString() });
    tagged.text = "line";
    expect(tagged.text).toBe("line");
    const fresh = loadedEntry("r", NOW, false, undefined);
    fresh.raw = "s";
    expect(fresh.decoded).toBe(false);
    expect(fresh.value).toBeUndefined();
    expect(fresh.raw).toBe("s");
  });
});

function pick(entry: ReturnType<typeof loadedEntry>): Record<string, unknown> {
  const { time, async, origin, value, decoded, raw, text, persistent, meta } = entry;
  return { time, async, origin, value, decoded, raw, text, persistent, meta };
}
