/**
 * Sharing cache files with the Python cacherator 1.2.8 in real use, both ways: the files in
 * test/fixtures/python-generated were written by the Python library itself (with python-slugify's
 * pipeline on text-unidecode, and `ri-ben-yu-kiyatsushiyu.json` with Unidecode installed); what the
 * Python library then does with our files is done by test/python/resave.py (load, save, load again,
 * exactly as its loader and writer do).
 */
import { execFileSync } from "node:child_process";
import { cpSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runProgram, tempDir } from "./helpers.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const GENERATED = join(ROOT, "test/fixtures/python-generated");
const RESAVE = join(ROOT, "test/python/resave.py");

/** A directory holding writable copies of the Python-written fixtures. */
function pythonDirectory(): string {
  const directory = tempDir("cacherator-python-");
  cpSync(GENERATED, directory, { recursive: true });
  return directory;
}

/** The Python library loads the file, saves it and loads it again; the raw JSON text it printed. */
function pythonResave(path: string): string {
  return execFileSync("python3", [RESAVE, path], { encoding: "utf8" });
}

interface Resaved {
  values: Record<string, unknown>;
  variables: Record<string, unknown>;
}

async function run(directory: string, source: string, env: Record<string, string> = {}): Promise<unknown[]> {
  const result = await runProgram(source, { cwd: directory, env });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return result.lines;
}

describe("files we write stay usable by the Python library after it saves them", () => {
  it("a result computed on a whole second keeps a fraction, so Python's save and next load keep every entry", async () => {
    const directory = tempDir();
    const lines = await run(directory, `
      import { JSONCache, Cached } from "cacherator";
      const real = Date.now;
      // Every computation lands on a whole second: the case Python's isoformat() writes without a fraction.
      Date.now = () => Math.floor(real() / 1000) * 1000;
      class Whole extends JSONCache {
        constructor() { super({ dataId: "whole", directory: "." }); }
        @Cached() square(n: number) { return n * n; }
      }
      const whole = new Whole();
      for (let n = 0; n < 20; n++) whole.square(n);
      console.log(JSON.stringify({ saved: await whole.jsonCacheSave() }));
    `);
    expect(lines).toEqual([{ saved: true }]);
    const text = readFileSync(join(directory, "whole.json"), "utf8");
    expect(text).not.toMatch(/\.000000"/);
    expect(text).toMatch(/\.000001"/);
    // Python loads, saves (isoformat keeps the 1 µs) and loads again without error.
    const resaved = JSON.parse(pythonResave(join(directory, "whole.json"))) as Resaved;
    expect(Object.keys(resaved.values)).toHaveLength(20);
    expect(resaved.values["square(7,){}"]).toBe(49);
    // And our next process still hits all of them.
    const again = await run(directory, `
      import { JSONCache, Cached } from "cacherator";
      let runs = 0;
      class Whole extends JSONCache {
        constructor() { super({ dataId: "whole", directory: "." }); }
        @Cached() square(n: number) { runs++; return n * n; }
      }
      const whole = new Whole();
      let sum = 0;
      for (let n = 0; n < 20; n++) sum += whole.square(n);
      console.log(JSON.stringify({ sum, runs }));
    `);
    expect(again).toEqual([{ sum: 2470, runs: 0 }]);
  });

  it("strings with lone surrogates (in results, attributes and object keys) never reach the file as such: Python saves it whole", async () => {
    const directory = tempDir();
    const program = (compute: boolean) => `
      import { JSONCache, Cached } from "cacherator";
      class Party extends JSONCache {
        declare note: string;
        constructor() { super({ dataId: "party", directory: "." }); }
        @Cached() cut(text: string, n: number) { return text.slice(0, n); }
        @Cached() keyed() { return { ["😀".slice(0, 1)]: "half", whole: "😀" }; }
        @Cached() plain(n: number) { return "entry " + n; }
      }
      const party = new Party();
      ${compute ? `party.note = "😀 note".slice(1);` : ""}
      const cut = party.cut("😀 party", 1);
      const keyed = party.keyed();
      for (let n = 0; n < 5; n++) party.plain(n);
      ${compute ? "await party.jsonCacheSave();" : ""}
      console.log(JSON.stringify({
        cut: [...cut].map((c) => c.charCodeAt(0)),
        keys: Object.keys(keyed).map((k) => [...k].map((c) => c.charCodeAt(0))),
        note: [...(party.note ?? "")].map((c) => c.charCodeAt(0)),
        status: party.lastCacheStatus,
      }));
    `;
    const first = await run(directory, program(true));
    const text = readFileSync(join(directory, "party.json"), "utf8");
    expect(text).not.toMatch(/\\ud[89a-f][0-9a-f]{2}/i);
    // The Python library loads, saves and loads again: every entry is still there (and the entry that
    // tells which attributes we wrote with tags, so they keep their types after Python's save).
    const resaved = JSON.parse(pythonResave(join(directory, "party.json"))) as Resaved;
    expect(Object.keys(resaved.values).sort()).toEqual(["_cacherator_attributes", "cut('😀 party', 1){}", "keyed(){}", "plain(0,){}", "plain(1,){}", "plain(2,){}", "plain(3,){}", "plain(4,){}"].sort());
    // And our next process reads back exactly the strings it cached.
    const second = await run(directory, program(false));
    expect(second).toEqual([{ ...(first[0] as object), status: "l1" }]);
    expect((second[0] as { cut: number[] }).cut).toEqual([0xd83d]);
    expect((second[0] as { note: number[] }).note).toEqual([0xde00, 0x20, 0x6e, 0x6f, 0x74, 0x65]);
  });
});

describe("Python's files are found under the names it gives them", () => {
  it("the default dataId (the class name) shares calculator.json with Python's Calculator", async () => {
    const directory = pythonDirectory();
    const lines = await run(directory, `
      import { JSONCache, Cached } from "cacherator";
      let runs = 0;
      class Calculator extends JSONCache {
        constructor() { super({ directory: "." }); }
        @Cached() add(a: number, b: number) { runs++; return a + b; }
      }
      const calculator = new Calculator();
      console.log(JSON.stringify({ value: calculator.add(1, 2), status: calculator.lastCacheStatus, runs }));
    `);
    expect(lines).toEqual([{ value: 3, status: "l1", runs: 0 }]);
  });

  it.each([
    ["Привет мир", "privet-mir.json"],
    ["Ελληνικά", "ellenika.json"],
    ["€ prices", "eur-prices.json"],
    ["Ünïcödé ☃ 1,000", "unicode-1000.json"],
  ])("%s finds Python's %s", async (dataId, file) => {
    const directory = pythonDirectory();
    expect(readdirSync(directory)).toContain(file);
    const lines = await run(directory, `
      import { JSONCache, Cached } from "cacherator";
      class Named extends JSONCache {
        constructor() { super({ dataId: ${JSON.stringify(dataId)}, directory: "." }); }
        @Cached() greet(name: string): string { throw new Error("must come from Python's entry"); }
      }
      const named = new Named();
      console.log(JSON.stringify({ value: named.greet("world"), status: named.lastCacheStatus }));
    `);
    expect(lines).toEqual([{ value: `${dataId}: hello world`, status: "l1" }]);
  });

  it("a Japanese dataId finds the file Python wrote with Unidecode installed (Hepburn kana)", async () => {
    const directory = pythonDirectory();
    const lines = await run(directory, `
      import { JSONCache, Cached } from "cacherator";
      class Named extends JSONCache {
        constructor() { super({ dataId: "日本語キャッシュ", directory: "." }); }
        @Cached() greet(name: string): string { throw new Error("must come from Python's entry"); }
      }
      const named = new Named();
      console.log(JSON.stringify({ value: named.greet("world"), status: named.lastCacheStatus }));
    `);
    expect(lines).toEqual([{ value: "hello world", status: "l1" }]);
  });

  it("a new dataId whose Python name belongs to another dataId of ours imports nothing from it", async () => {
    const directory = tempDir();
    const program = (dataId: string, compute: boolean) => `
      import { JSONCache, Cached } from "cacherator";
      class Calc extends JSONCache {
        declare owner: string;
        constructor() { super({ dataId: ${JSON.stringify(dataId)}, directory: "." }); }
        @Cached() total(n: number) { return ${compute ? "n * 100" : "-1"}; }
      }
      const calc = new Calc();
      ${compute ? `calc.owner = ${JSON.stringify(dataId)}; await calc.jsonCacheSave();` : ""}
      console.log(JSON.stringify({ total: calc.total(3), status: calc.lastCacheStatus, owner: calc.owner ?? null }));
    `;
    expect(await run(directory, program("interop-calc", true))).toEqual([{ total: 300, status: "miss", owner: "interop-calc" }]);
    expect(await run(directory, program("Interop Calc", false))).toEqual([{ total: -1, status: "miss", owner: null }]);
    // Each has its own file; the first keeps its entries and attributes.
    expect(await run(directory, program("interop-calc", false))).toEqual([{ total: 300, status: "l1", owner: "interop-calc" }]);
    const files = readdirSync(directory).filter((f) => f.endsWith(".json")).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toBe("interop-calc.json");
    expect(files[1]).toMatch(/^interop-calc_[0-9a-f]{16}\.json$/);
  });
});

describe("Python's values come back as Python wrote them, and go back the same way", () => {
  const calculatorProgram = `
    import { JSONCache, Cached } from "cacherator";
    let runs = 0;
    class Calculator extends JSONCache {
      declare huge: bigint;
      declare shaped: unknown;
      constructor() { super({ directory: "." }); }
      @Cached() listing(items: unknown[], options: Record<string, unknown>) { runs++; return -1; }
      @Cached() big(n: bigint) { runs++; return -1n; }
      @Cached() tagged(name: string): unknown { runs++; return null; }
      @Cached() ratio(a: number, b: number) { runs++; return -1; }
    }
    const c = new Calculator();
    const big = c.big(2n ** 70n);
    const negative = c.big(-(2n ** 64n));
    console.log(JSON.stringify({
      listing: c.listing([1, "a", null, true], { n: 2, k: "v" }),
      listingStatus: c.lastCacheStatus,
      big: [typeof big, String(big)],
      negative: [typeof negative, String(negative)],
      tagged: c.tagged("x"),
      ratio: String(c.ratio(1, 0)),
      huge: [typeof c.huge, String(c.huge)],
      shaped: c.shaped,
      runs,
    }));
    c.huge += 1n;
    await c.jsonCacheSave();
  `;

  it("dict keys in Python's insertion order hit; ints past 2^53 are exact BigInts; dicts with a $cacherator key stay dicts; NaN stays NaN", async () => {
    const directory = pythonDirectory();
    const [first] = await run(directory, calculatorProgram);
    expect(first).toEqual({
      listing: 6,
      listingStatus: "l1",
      big: ["bigint", "1180591620717411303425"],
      negative: ["bigint", "-18446744073709551615"],
      tagged: { $cacherator: "Date", v: "x" },
      ratio: "NaN",
      huge: ["bigint", "1208925819614629174706176"],
      shaped: { $cacherator: "Map", v: [[1, 2]] },
      runs: 0,
    });
    // Our save went into Python's file; the Python library reads it, saves it and reads it again,
    // and gets its own ints, dicts and NaN back, not tagged forms.
    const text = pythonResave(join(directory, "calculator.json"));
    expect(text).toContain('"big(1180591620717411303424,){}": 1180591620717411303425');
    expect(text).toContain('"huge": 1208925819614629174706177');
    expect(text).toContain('"ratio(1, 0){}": NaN');
    // A dict owning a "$cacherator" key is written wrapped (documented): that is how it stays a dict for us.
    expect(text).toContain('"tagged(\'x\',){}": {"$cacherator": "Object", "v": {"$cacherator": "Date", "v": "x"}}');
    // And after Python's rewrite (which drops our marker) our next process reads the same values: the
    // entries carry epoch_ms, so they are known to be ours.
    const [second] = await run(directory, calculatorProgram);
    const rest = { ...(first as Record<string, unknown>) };
    delete rest.shaped;
    expect(second).toMatchObject({ ...rest, huge: ["bigint", "1208925819614629174706177"] });
  });

  it("a BigInt result past 2^53 is written as a plain int, which Python reads as its int", async () => {
    const directory = tempDir();
    await run(directory, `
      import { JSONCache, Cached } from "cacherator";
      class Big extends JSONCache {
        constructor() { super({ dataId: "big", directory: "." }); }
        @Cached() power(n: number) { return 3n ** BigInt(n); }
      }
      const big = new Big();
      big.power(2);
      big.power(60);
      await big.jsonCacheSave();
    `);
    const text = pythonResave(join(directory, "big.json"));
    expect(text).toContain(`"power(60,){}": ${3n ** 60n}`);
    // A small BigInt keeps its tag: a plain 9 would come back as a number.
    expect(text).toContain('"power(2,){}": {"$cacherator": "BigInt", "v": "9"}');
  });
});

describe("the README's interoperability example", () => {
  it("runs against the Calculator file the Python library wrote, and hits both calls", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Python interoperability"), readme.indexOf("## Performance"));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const cwd = tempDir();
    cpSync(join(GENERATED, "calculator.json"), join(cwd, "data/cache/calculator.json"), { recursive: true });
    const result = await runProgram(block as string, { cwd });
    expect(result.stderr).toBe("");
    expect(result.stdout.trim().split("\n")).toEqual(["3 l1", "6 l1"]);
  });
});
