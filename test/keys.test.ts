/**
 * Call keys: the Python-repr form `name(<args tuple>){}` that the Python cacherator writes, so that
 * files are shared; deterministic (across processes) and injective over the arguments JavaScript
 * can pass. Python itself is the oracle for the forms both languages have.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { callKey, functionOfKey, pythonOrderCallKey, shortenKey } from "../src/keys/call-key.js";
import { CACHE_IDENTITY, isPythonNonPrintable, pythonRepr, pythonStringRepr } from "../src/keys/python-repr.js";
import { Cached, JSONCache, UncacheableArgumentError } from "../src/index.js";
import { runProgram, tempDir } from "./helpers.js";

const key = (...args: unknown[]) => callKey("f", args);
const sha1 = (text: string) => createHash("sha1").update(text, "utf8").digest("hex");

describe("keys have the form the Python cacherator writes (python-behaviour.md §4.1)", () => {
  it("a key stays whole when rendering an argument makes another key (an identity method calling a cached method)", () => {
    class Handle {
      [CACHE_IDENTITY](): string {
        return callKey("inner", [7]);
      }
    }
    const inner = new Handle();
    const outer = callKey("outer", [inner]);
    expect(outer.startsWith("outer(")).toBe(true);
    expect(outer.endsWith(",){}")).toBe(true);
    expect(outer).toContain("inner(7,){}");
    expect(callKey("outer", [inner, 1])).toMatch(/^outer\(.*inner\(7,\)\{\}.*, 1\)\{\}$/);
  });

  it("renders no arguments, one argument and several arguments as a Python tuple", () => {
    expect(key()).toBe("f(){}");
    expect(key("foo")).toBe("f('foo',){}");
    expect(key(1, 10)).toBe("f(1, 10){}");
    expect(callKey("fetch", ["foo"])).toBe("fetch('foo',){}");
  });

  it("quotes and escapes strings as Python's repr does", () => {
    expect(key("it's")).toBe(`f("it's",){}`);
    expect(key(`both ' and "`)).toBe(`f('both \\' and "',){}`);
    expect(key("line\nbreak\ttab\\")).toBe("f('line\\nbreak\\ttab\\\\',){}");
    expect(key("cr\r")).toBe("f('cr\\r',){}");
    expect(key("\x00\x1f\x7f")).toBe("f('\\x00\\x1f\\x7f',){}");
    expect(key("")).toBe("f('',){}");
  });

  it("keeps printable non-ASCII characters raw and escapes invisible ones", () => {
    expect(key("Ünï ☃ 😀")).toBe("f('Ünï ☃ 😀',){}");
    expect(key("a\u00a0b\u200bc\u2028")).toBe("f('a\\xa0b\\u200bc\\u2028',){}");
    expect(key("\u{e0001}")).toBe("f('\\U000e0001',){}");
  });

  it("renders numbers as Python ints and floats", () => {
    expect(key(1.5, 0.1, 1e16, 1e-7, Infinity, -Infinity, NaN, -0)).toBe("f(1.5, 0.1, 1e+16, 1e-07, inf, -inf, nan, -0.0){}");
    expect(key(0, 3, -7, 1e15)).toBe("f(0, 3, -7, 1000000000000000){}");
    // JavaScript has no float 1.0 apart from the integer 1: integral numbers below 1e16 are Python ints.
    expect(key(1.0)).toBe("f(1,){}");
    expect(key(2 ** 70)).toBe("f(1.1805916207174113e+21,){}");
    expect(key(1e-4, 1e-5, 123456789.123, 5e-324)).toBe("f(0.0001, 1e-05, 123456789.123, 5e-324){}");
  });

  it("renders None, True and False", () => {
    expect(key(null, true, false)).toBe("f(None, True, False){}");
  });

  it("renders lists and dicts, with dict keys sorted", () => {
    expect(key([1, "a"], { k: [1] })).toBe("f([1, 'a'], {'k': [1]}){}");
    expect(callKey("listing", [[1, "a", null, true], { k: "v", n: 2 }])).toBe("listing([1, 'a', None, True], {'k': 'v', 'n': 2}){}");
    expect(key({ n: 2, k: "v" })).toBe(key({ k: "v", n: 2 }));
    expect(key({ b: { y: 1, x: 2 }, a: [] })).toBe("f({'a': [], 'b': {'x': 2, 'y': 1}},){}");
  });

  it("renders a Uint8Array or a Buffer as Python bytes", () => {
    expect(key(new Uint8Array([98, 121]))).toBe("f(b'by',){}");
    expect(key(Buffer.from("by"))).toBe("f(b'by',){}");
    expect(key(Buffer.from([0x27, 0x5c, 0x00, 0xff, 0x0a]))).toBe(`f(b"'\\\\\\x00\\xff\\n",){}`);
  });

  it("a JSONCache argument is its dataId, as in Python", () => {
    class Other extends JSONCache {
      constructor() {
        super({ dataId: "other-id", directory: tempDir() });
      }
    }
    expect(key(new Other())).toBe("f(other-id,){}");
  });

  it("matches the keys Python builds, for generated strings, numbers, bytes, lists and dicts", () => {
    // Characters whose printability is the same in Python 3.11's and Node's Unicode tables.
    const pool = [
      "a", "Z", "0", " ", "'", '"', "\\", "\n", "\r", "\t", "\x00", "\x07", "\x1b", "\x7f", "\x80", "\x9f",
      "\xa0", "\xad", "é", "Ü", "ß", "中", "☃", "😀", "\u0301", "\u200b", "\u2028", "\u2029", "\u3000",
      "\ufeff", "\ue000", "\u0378", "\u{e0001}", "\u{10ffff}",
    ];
    const pyString = fc.oneof(fc.string(), fc.array(fc.constantFrom(...pool), { maxLength: 12 }).map((c) => c.join("")));
    const { pyArg } = fc.letrec<{ pyArg: unknown }>((tie) => ({
      pyArg: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        pyString,
        fc.double(),
        fc.integer(),
        fc.constantFrom(0, -0, -1, NaN, Infinity, -Infinity, 2 ** 53, 1e16, 1e15 + 0.5, 0.1 + 0.2, 1e22, 1e-5, 1e-4),
        fc.boolean(),
        fc.constant(null),
        fc.uint8Array({ maxLength: 8 }),
        fc.array(tie("pyArg"), { maxLength: 4 }),
        fc.dictionary(pyString, tie("pyArg"), { maxKeys: 4, noNullPrototype: true }),
      ),
    }));
    fc.assert(
      fc.property(fc.array(fc.array(pyArg, { maxLength: 4 }), { minLength: 1, maxLength: 60 }), (calls) => {
        expect(calls.map((args) => callKey("f", args))).toEqual(pythonKeys("f", calls));
      }),
      { numRuns: 8 },
    );
  });

  it("escapes a lone surrogate as Python does", () => {
    expect(pythonKeys("f", [["\ud800x"]])).toEqual([key("\ud800x")]);
  });
});

describe("long keys are shortened as in Python", () => {
  it("keeps a key of 179 code points and shortens one of 180 to its first 149 + '_' + sha1", () => {
    const short = key("x".repeat(171)); // f('…',){} adds 8
    expect(short).toBe(`f('${"x".repeat(171)}',){}`);
    expect(Array.from(short)).toHaveLength(179);
    const full = `f('${"x".repeat(172)}',){}`;
    expect(key("x".repeat(172))).toBe(`${full.slice(0, 149)}_${sha1(full)}`);
  });

  it("counts code points, not UTF-16 units, and never cuts an emoji in half", () => {
    const under = key("😀".repeat(171));
    expect(under).toBe(`f('${"😀".repeat(171)}',){}`); // 179 code points, 350 UTF-16 units
    const full = `f('${"😀".repeat(172)}',){}`;
    const long = key("😀".repeat(172));
    expect(long).toBe(`${Array.from(full).slice(0, 149).join("")}_${sha1(full)}`);
    expect(Array.from(long)).toHaveLength(190);
    expect(Buffer.from(long, "utf8").toString("utf8")).toBe(long); // no lone surrogate
  });

  it("gives distinct long keys for arguments that differ only after the kept prefix", () => {
    expect(key("y".repeat(300) + "a")).not.toBe(key("y".repeat(300) + "b"));
    expect(functionOfKey(key("y".repeat(300)))).toBe("f");
  });
});

describe("what JavaScript adds to the Python key forms", () => {
  it("drops trailing undefined arguments: f(1) and f(1, undefined) are one call", () => {
    expect(key(1, undefined)).toBe(key(1));
    expect(key(undefined)).toBe(key());
    expect(key(undefined, 1)).toBe("f(undefined, 1){}");
  });

  it("tells null from undefined and 1 from '1'", () => {
    expect(key(null, 1)).not.toBe(key(undefined, 1));
    expect(key([null])).not.toBe(key([undefined]));
    expect(key({ a: null })).not.toBe(key({ a: undefined }));
    expect(key(1)).not.toBe(key("1"));
    expect(key(1)).not.toBe(key(true));
    expect(key(0)).not.toBe(key(-0));
  });

  it("renders a Date as an aware UTC datetime, to the millisecond", () => {
    expect(key(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 600)))).toBe(
      "f(datetime.datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=datetime.timezone.utc),){}",
    );
    expect(key(new Date(Date.UTC(2024, 0, 2)))).toBe("f(datetime.datetime(2024, 1, 2, 0, 0, tzinfo=datetime.timezone.utc),){}");
    expect(key(new Date(1))).not.toBe(key(new Date(2)));
    expect(key(new Date(NaN))).not.toBe(key(new Date(0)));
    expect(key(new Date(0))).not.toBe(key(new Date(0).toISOString()));
  });

  it("renders Maps and Sets independently of insertion order, and apart from objects and arrays", () => {
    expect(key(new Map<unknown, unknown>([[1, "a"], ["1", "b"]]))).toBe(key(new Map<unknown, unknown>([["1", "b"], [1, "a"]])));
    expect(key(new Map([[1, "a"]]))).not.toBe(key({ 1: "a" }));
    expect(key(new Set([2, 1]))).toBe(key(new Set([1, 2])));
    expect(key(new Set([1, 2]))).not.toBe(key([1, 2]));
    expect(key(new Set())).not.toBe(key({}));
    expect(key(new Set(["a"]))).not.toBe(key(new Set(["a", "b"])));
  });

  it("renders a BigInt apart from the number and the string", () => {
    expect(key(1n)).toBe("f(1n,){}");
    expect(key(1n)).not.toBe(key(1));
    expect(key(2n ** 70n)).not.toBe(key(2 ** 70));
  });

  it("renders a class instance by its fields or its toJSON()", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    class Money {
      readonly #cents: number;
      constructor(cents: number) {
        this.#cents = cents;
      }
      toJSON() {
        return { cents: this.#cents };
      }
    }
    expect(key(new Point(1, 2))).toBe("f(Point(x=1, y=2),){}");
    expect(key(new Point(1, 2))).toBe(key(new Point(1, 2)));
    expect(key(new Point(1, 3))).not.toBe(key(new Point(1, 2)));
    expect(key(new Money(5))).toBe("f(Money({'cents': 5}),){}");
    expect(key(new Money(5))).not.toBe(key(new Money(6)));
  });

  it("refuses a class instance without fields or toJSON(), since all its instances would share a key", () => {
    class Handle {}
    expect(() => key(new Handle())).toThrow(UncacheableArgumentError);
    expect(() => key(new Handle())).toThrow(/Handle.*toJSON/);
  });

  it("refuses functions, symbols and circular structures with a message that says what to do", () => {
    function loadUser() {
      return 1;
    }
    expect(() => key(loadUser)).toThrow(UncacheableArgumentError);
    expect(() => key(loadUser)).toThrow(/function \(loadUser\).*Pass plain data/);
    expect(() => key([() => 1])).toThrow(/function/);
    expect(() => key(Symbol("token"))).toThrow(UncacheableArgumentError);
    expect(() => key(Symbol("token"))).toThrow(/symbol \(Symbol\(token\)\).*Pass a string/);
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    expect(() => key(cycle)).toThrow(UncacheableArgumentError);
    expect(() => key(cycle)).toThrow(/circular/);
    const list: unknown[] = [];
    list.push(list);
    expect(() => key(list)).toThrow(/circular/);
    const map = new Map<string, unknown>();
    map.set("m", map);
    expect(() => key(map)).toThrow(/circular/);
  });

  it("accepts the same object twice in one argument (shared, not circular)", () => {
    const shared = { a: 1 };
    expect(key([shared, shared], shared)).toBe("f([{'a': 1}, {'a': 1}], {'a': 1}){}");
  });

  it("a cached method called with a function argument throws UncacheableArgumentError and does not run", () => {
    let runs = 0;
    class Service extends JSONCache {
      constructor() {
        super({ dataId: "service", directory: tempDir() });
      }
      @Cached() apply(callback: unknown) {
        runs++;
        return typeof callback;
      }
    }
    const service = new Service();
    expect(() => service.apply(() => 1)).toThrow(UncacheableArgumentError);
    expect(runs).toBe(0);
    expect(service.apply("ok")).toBe("string");
    expect(runs).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties: determinism and injectivity over generated arguments.

const keyString = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("__proto__", "constructor", "1", "", "a'b"));
const { argument } = fc.letrec<{ argument: unknown }>((tie) => ({
  argument: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.string({ unit: "binary", maxLength: 8 }),
    fc.double(),
    fc.integer(),
    fc.bigInt(),
    // Values whose keys are easily confused, so that collisions between them are tried often.
    fc.constantFrom<unknown>(0, -0, NaN, Infinity, -Infinity, 1, "1", 1n, 1e16, 10000000000000000n, "", "None", "undefined", true),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: false }),
    fc.array(tie("argument"), { maxLength: 4 }),
    fc.dictionary(keyString, tie("argument"), { maxKeys: 4, noNullPrototype: true }),
    fc.array(tie("argument"), { maxLength: 4 }).map((items) => new Set(items)),
    fc.array(fc.tuple(tie("argument"), tie("argument")), { maxLength: 3 }).map((entries) => new Map(entries)),
  ),
}));
const argumentList = fc.array(argument, { maxLength: 3 });

/** An independent description of an argument, equal exactly when the arguments are meant to be one call. */
function canonical(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean": return `bool:${value}`;
    case "number": return Object.is(value, -0) ? "num:-0" : `num:${value}`;
    case "bigint": return `big:${value}`;
    case "string": return `str:${JSON.stringify(value)}`;
  }
  if (value instanceof Date) return `date:${value.getTime()}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value instanceof Set) return `set{${[...value].map(canonical).sort().join(",")}}`;
  if (value instanceof Map) return `map{${[...value].map(([k, v]) => `${canonical(k)}=>${canonical(v)}`).sort().join(",")}}`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record).sort().map((k) => `${JSON.stringify(k)}:${canonical(record[k])}`).join(",")}}`;
}

function canonicalArgs(args: unknown[]): string {
  const kept = [...args];
  while (kept.length > 0 && kept[kept.length - 1] === undefined) kept.pop();
  return kept.map(canonical).join("|");
}

/** The same value built in another order: object keys, Set and Map entries reversed. */
function reordered(value: unknown): unknown {
  if (typeof value !== "object" || value === null || value instanceof Date) return value;
  if (Array.isArray(value)) return value.map(reordered);
  if (value instanceof Set) return new Set([...value].reverse().map(reordered));
  if (value instanceof Map) return new Map([...value].reverse().map(([k, v]) => [reordered(k), reordered(v)]));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).reverse()) {
    Object.defineProperty(out, k, { value: reordered((value as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

describe("keys are deterministic and injective", () => {
  it("gives every one of a list of easily confused values its own key", () => {
    const confusable: unknown[] = [
      0, -0, NaN, Infinity, -Infinity, 1, 1.5, "1", "1.5", 1n, -1n, 1e16, 10000000000000000n, "1e+16", "", "None", "undefined",
      "nan", "inf", "True", null, undefined, true, false, [], {}, [null], [undefined], [[]], [{}], { "": null }, new Set(), new Set([null]),
      new Map(), new Map([[null, null]]), new Date(0), new Date(NaN), new Date(1), "datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)",
      new Uint8Array(), "b''", new Uint8Array([49]), "set()", "{}", "[]",
    ];
    // A second argument keeps a lone undefined from being dropped as a trailing argument.
    const keys = confusable.map((value) => callKey("f", [value, 0]));
    expect(new Set(keys).size).toBe(confusable.length);
  });

  it("one-argument keys, found among the keys of recent calls, are each argument's own, in any order of calls", () => {
    // The reference: the key built from the full repr, which keeps nothing.
    const reference = (name: string, value: unknown) => shortenKey(`${name}(${pythonRepr(value)},){}`);
    const values: unknown[] = [0, -0, NaN, 1, 1.5, -1, 1025, 1024 + 1.5, 2 ** 31, -(2 ** 31), 2 ** 32 + 1, 1e16, Infinity, "1", "1.5", "", "a", "b", "ab", "ba", "x".repeat(129), "x".repeat(200), true, null, [1], { a: 1 }];
    for (let round = 0; round < 3; round++) {
      for (const name of ["f", "g"]) for (const value of values) expect(callKey(name, [value])).toBe(reference(name, value));
    }
    // Arguments that share a slot (1 and 1.5; strings of one length ending in the same character), alternating.
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("f", "g"), fc.oneof(fc.integer({ min: -3000, max: 3000 }), fc.double(), fc.string({ maxLength: 4 }), fc.constantFrom(0, -0, 1, 1.5))), { maxLength: 60 }), (calls) => {
        for (const [name, value] of calls) expect(callKey(name, [value])).toBe(reference(name, value));
      }),
    );
  });

  it("the same arguments give the same key, whatever the order of object keys and Set/Map entries", () => {
    fc.assert(
      fc.property(argumentList, (args) => {
        expect(callKey("f", args)).toBe(callKey("f", args));
        expect(callKey("f", args.map(reordered))).toBe(callKey("f", args));
      }),
      { numRuns: 300 },
    );
  });

  it("two argument lists share a key only when they are the same call", () => {
    fc.assert(
      fc.property(argumentList, argumentList, (a, b) => {
        expect(callKey("f", a) === callKey("f", b)).toBe(canonicalArgs(a) === canonicalArgs(b));
      }),
      { numRuns: 300 },
    );
  });

  it("no two different calls in a batch share a key", () => {
    fc.assert(
      fc.property(fc.array(argumentList, { minLength: 2, maxLength: 40 }), (calls) => {
        const seen = new Map<string, string>();
        for (const args of calls) {
          const k = callKey("f", args);
          const c = canonicalArgs(args);
          const earlier = seen.get(k);
          if (earlier !== undefined) expect(c).toBe(earlier);
          seen.set(k, c);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("another process builds the same keys for the same arguments (through @Cached)", async () => {
    const samples = fc.sample(argumentList, { numRuns: 40, seed: 20261124 });
    const directory = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      class Keys extends JSONCache {
        constructor(i: number) { super({ dataId: "keys-" + i, directory: ${JSON.stringify(directory)}, writeDelay: 60000 }); }
        @Cached() f(..._args: unknown[]) { return 0; }
      }
      const samples: unknown[][] = [${samples.map((args) => `[${args.map(toSource).join(", ")}]`).join(",\n")}];
      samples.forEach((args, i) => {
        const keys = new Keys(i);
        keys.f(...args);
        console.log(JSON.stringify(Object.keys(keys.cacheStatus)));
      });
    `;
    const result = await runProgram(program, { cwd: directory });
    expect(result.stderr).toBe("");
    expect(result.lines).toEqual(samples.map((args) => [callKey("f", args)]));
  });

  it("renders every generated argument without throwing", () => {
    fc.assert(
      fc.property(argument, (value) => {
        expect(typeof pythonRepr(value)).toBe("string");
      }),
      { numRuns: 200 },
    );
  });
});

/** JavaScript source text that rebuilds a generated value in another process. */
function toSource(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean": return String(value);
    case "number": return Object.is(value, -0) ? "-0" : String(value);
    case "bigint": return `${value}n`;
    case "string": return JSON.stringify(value);
  }
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (Array.isArray(value)) return `[${value.map(toSource).join(", ")}]`;
  if (value instanceof Set) return `new Set([${[...value].map(toSource).join(", ")}])`;
  if (value instanceof Map) return `new Map<unknown, unknown>([${[...value].map(([k, v]) => `[${toSource(k)}, ${toSource(v)}]`).join(", ")}])`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record).map((k) => `[${JSON.stringify(k)}]: ${toSource(record[k])}`).join(", ")}}`;
}

// ---------------------------------------------------------------------------------------------------
// Python as the oracle.

/** A value described for the Python script: which Python type to build, and from what. */
function forPython(value: unknown): unknown {
  if (value === null) return { n: 0 };
  switch (typeof value) {
    case "string": return { s: value };
    case "boolean": return { b: value };
    case "number":
      if (Object.is(value, -0)) return { f: "-0" };
      return Number.isInteger(value) && Math.abs(value) < 1e16 ? { i: String(value) } : { f: String(value) };
  }
  if (value instanceof Uint8Array) return { y: Array.from(value) };
  if (Array.isArray(value)) return { l: value.map(forPython) };
  const record = value as Record<string, unknown>;
  return { d: Object.keys(record).sort().map((k) => [k, forPython(record[k])]) };
}

const PYTHON_KEYS = String.raw`
import hashlib, json, sys

def build(x):
    (t, v), = x.items()
    if t == "s": return v
    if t == "b": return v
    if t == "n": return None
    if t == "i": return int(v)
    if t == "f": return float(v)
    if t == "y": return bytes(v)
    if t == "l": return [build(i) for i in v]
    if t == "d": return {k: build(i) for k, i in v}
    raise ValueError(t)

def key(name, args, kwargs):
    # cacherator 1.2.8: func.__name__ + str(args[1:]) + str(kwargs), shortened at 180 code points
    k = name + str(tuple(args)) + str(kwargs)
    if len(k) >= 180:
        k = k[:149] + "_" + hashlib.sha1(k.encode("utf-8", "surrogatepass")).hexdigest()
    return k

request = json.load(sys.stdin)
print(json.dumps([key(request["name"], [build(a) for a in args], {}) for args in request["calls"]]))
`;

function pythonKeys(name: string, calls: unknown[][]): string[] {
  const input = JSON.stringify({ name, calls: calls.map((args) => args.map(forPython)) });
  return JSON.parse(execFileSync("python3", ["-c", PYTHON_KEYS], { input, encoding: "utf8" })) as string[];
}

// ---------------------------------------------------------------------------------------------------
// Keys that do not depend on the Unicode data of the Node.js that builds them.

const REPR_TABLE = new URL("fixtures/python-3.11-repr-escaped.json", import.meta.url);

describe("strings are escaped as Python 3.11's repr() escapes them, whatever Node.js runs", () => {
  const fixture = JSON.parse(readFileSync(REPR_TABLE, "utf8")) as { python: string; unicode: string; escaped: [number, number][] };

  it("escapes exactly the code points Python 3.11 escapes, over every code point (a checked-in table of its output)", () => {
    const escaped = new Uint8Array(0x110000);
    for (const [first, last] of fixture.escaped) escaped.fill(1, first, last + 1);
    const differences: number[] = [];
    for (let cp = 0; cp < 0x110000; cp++) {
      const char = String.fromCodePoint(cp);
      const repr = pythonStringRepr(char);
      // ' is printed raw inside double quotes; every other printable character inside single quotes.
      const raw = repr === `'${char}'` || repr === `"${char}"`;
      if (raw === (escaped[cp] === 1)) differences.push(cp);
    }
    expect(differences).toEqual([]);
  });

  it("prints an escaped code point in Python's form: \\xNN, \\uNNNN or \\UNNNNNNNN", () => {
    expect(pythonStringRepr("\u0085")).toBe("'\\x85'");
    expect(pythonStringRepr("\u200b")).toBe("'\\u200b'");
    expect(pythonStringRepr("\ud83d")).toBe("'\\ud83d'");
    // U+1FAE8 (SHAKING FACE) is newer than Unicode 14: Python 3.11 escapes it, whatever Node.js knows.
    expect(pythonStringRepr("\u{1fae8}")).toBe("'\\U0001fae8'");
    expect(isPythonNonPrintable(0x1fae8)).toBe(true);
    expect(pythonStringRepr("😀")).toBe("'😀'");
  });

  it("the generated table in the source is the one this machine's Python 3.11 gives", () => {
    const version = execFileSync("python3", ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" }).trim();
    if (version !== "3.11") return; // the table is Python 3.11's; other versions differ by design
    const live = JSON.parse(execFileSync("python3", [fileURLToPath(new URL("python/repr_table.py", import.meta.url))], { encoding: "utf8" })) as typeof fixture;
    expect(live.escaped).toEqual(fixture.escaped);
    expect(execFileSync("python3", [fileURLToPath(new URL("../scripts/python-printable.py", import.meta.url))], { encoding: "utf8" })).toBe(
      readFileSync(new URL("../src/keys/python-printable.ts", import.meta.url), "utf8"),
    );
  });
});

describe("a dict argument is also looked up in Python's key order", () => {
  it("pythonOrderCallKey gives the insertion-order key only when it differs from the sorted one", () => {
    expect(callKey("listing", [[1], { n: 2, k: "v" }])).toBe("listing([1], {'k': 'v', 'n': 2}){}");
    expect(pythonOrderCallKey("listing", [[1], { n: 2, k: "v" }])).toBe("listing([1], {'n': 2, 'k': 'v'}){}");
    expect(pythonOrderCallKey("listing", [[1], { k: "v", n: 2 }])).toBeUndefined();
    expect(pythonOrderCallKey("f", [1, "a"])).toBeUndefined();
    expect(pythonOrderCallKey("f", [{ outer: { z: 1, a: 2 } }])).toBe("f({'outer': {'z': 1, 'a': 2}},){}");
  });
});

describe("big ints and deep nesting in arguments", () => {
  it("a BigInt of 10^16 or more is keyed as Python prints the int; a smaller one keeps its n", () => {
    expect(callKey("big", [2n ** 70n])).toBe("big(1180591620717411303424,){}");
    expect(callKey("big", [-(10n ** 16n)])).toBe("big(-10000000000000000,){}");
    expect(callKey("big", [5n])).toBe("big(5n,){}");
    // and never collides with a number: numbers of 1e16 or more print as floats
    expect(callKey("big", [1e16])).toBe("big(1e+16,){}");
  });

  it("an argument nested past 1,000 levels is an UncacheableArgumentError, not a RangeError", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    expect(() => callKey("deep", [deep])).toThrow(UncacheableArgumentError);
    let object: unknown = 1;
    for (let i = 0; i < 100_000; i++) object = { next: object };
    expect(() => callKey("deep", [object])).toThrow(/nested more than 1000 levels/);
    let fine: unknown = 1;
    for (let i = 0; i < 900; i++) fine = [fine];
    expect(callKey("deep", [fine])).toMatch(/^deep\(/);
  });
});
