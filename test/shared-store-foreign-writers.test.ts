/**
 * Writers that know nothing of cacherator's marker, lock or journal (the Python library, a script):
 * they truncate and rewrite the cache file in place. Their half-written files are never set aside,
 * their rewrites are merged additively (an entry missing from their file is not a removal), and nothing
 * either side saved is lost. Real processes, real files.
 */
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";
import { foreignFileText, foreignWriterProgram, putKey, readCacheFile, run, seedLargeCache, sleep, start, startFile, until, valueFor, valuesOnDisk } from "./shared-store-helpers.js";

const FILE = "data/cache/calc.json";

function setAside(directory: string): string[] {
  return readdirSync(directory).filter((name) => name.includes(".unreadable-"));
}

describe("a foreign writer rewriting the file in place beside a TypeScript writer", () => {
  it("for a few seconds: no file is set aside, and the final file holds everything both sides saved", async () => {
    const cwd = tempDir();
    const file = join(cwd, FILE);
    const ts = start(
      `
      const calc = new Calc();
      const saved: string[] = [];
      for (let i = 0; !existsSync("stop-ts"); i++) {
        calc.put("e" + i, 10);
        if (await calc.jsonCacheSave()) saved.push("e" + i);
        if (i === 0) mark("ts-started");
        await sleep(15);
      }
      calc.put("final", 10);
      if (await calc.jsonCacheSave()) saved.push("final");
      say({ saved });
    `,
      { cwd },
    );
    await until(() => existsSync(join(cwd, "ts-started")) || ts.child.exitCode !== null, "the TypeScript writer to start");
    const foreign = startFile(foreignWriterProgram(), { cwd, env: { FILE: file, STOP: join(cwd, "stop-foreign") } });
    await sleep(3_000);
    writeFileSync(join(cwd, "stop-foreign"), "");
    const foreignResult = await foreign.done;
    expect(foreignResult.code, foreignResult.stderr).toBe(0);
    writeFileSync(join(cwd, "stop-ts"), "");
    const tsResult = await ts.done;
    expect(tsResult.code, tsResult.stderr).toBe(0);

    const saved = (tsResult.lines.at(-1) as { saved: string[] }).saved;
    const wrote = (foreignResult.lines.at(-1) as { wrote: string[] }).wrote;
    expect(saved).toContain("final");
    expect(wrote.length).toBeGreaterThan(5);
    const aside = setAside(join(cwd, "data/cache"));
    expect(aside.length, `files set aside: ${aside.slice(0, 3).join(", ")}…`).toBe(0);
    const onDisk = valuesOnDisk(file);
    const lostTs = saved.filter((key) => onDisk[putKey(key, 10)] !== valueFor(key, 10));
    const lostForeign = wrote.filter((key) => onDisk[key] === undefined);
    expect({ lostTs, lostForeign }).toEqual({ lostTs: [], lostForeign: [] });
  }, 60_000);
});

describe("a file rewritten without the cacherator marker is merged additively", () => {
  it("TS writes e1–e5, the foreign writer loads, TS writes e6–e10, the foreign writer saves its older copy plus p1, TS computes e11: the file holds e1–e11 and p1", async () => {
    const cwd = tempDir();
    const file = join(cwd, FILE);
    const ts = start(
      `
      const calc = new Calc();
      for (let i = 1; i <= 5; i++) calc.put("e" + i, 10);
      say({ step: 1, saved: await calc.jsonCacheSave() });
      mark("step-1");
      await waitForFile("go-2");
      for (let i = 6; i <= 10; i++) calc.put("e" + i, 10);
      say({ step: 2, saved: await calc.jsonCacheSave() });
      mark("step-2");
      await waitForFile("go-3");
      calc.put("e11", 10);
      say({ step: 3, status: calc.lastCacheStatus, saved: await calc.jsonCacheSave() });
    `,
      { cwd },
    );
    const marker = (name: string) => until(() => existsSync(join(cwd, name)) || ts.child.exitCode !== null, name);
    await marker("step-1");
    // The foreign writer loads the file as it is now.
    const loaded: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(readCacheFile(file)._json_cache_func_cache)) loaded[key] = entry.value;
    expect(Object.keys(loaded)).toHaveLength(5);
    writeFileSync(join(cwd, "go-2"), "");
    await marker("step-2");
    // It saves what it loaded plus its own entry, in place, without the marker.
    await sleep(20);
    writeFileSync(file, foreignFileText({ ...loaded, [putKey("p1", 10)]: valueFor("p1", 10) }, {}));
    writeFileSync(join(cwd, "go-3"), "");
    const result = await ts.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines).toEqual([
      { step: 1, saved: true },
      { step: 2, saved: true },
      { step: 3, status: "miss", saved: true },
    ]);
    const onDisk = valuesOnDisk(file);
    const expected = ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10", "e11", "p1"];
    expect(expected.filter((key) => onDisk[putKey(key, 10)] !== valueFor(key, 10))).toEqual([]);
    expect(setAside(join(cwd, "data/cache"))).toEqual([]);
  });
});

describe("a leftover journal and a foreign writer", () => {
  it("the journal's attribute line, older than the file the foreign writer saved, does not replace that writer's attributes", async () => {
    const cwd = tempDir();
    const file = join(cwd, FILE);
    await seedLargeCache(cwd);
    const saver = await run(`const calc = new Calc(); calc.score = 2; say({ saved: await calc.jsonCacheSave() }); crash();`, { cwd });
    expect(saver.lines, saver.stderr).toEqual([{ saved: true }]);
    expect(existsSync(`${file}.journal`)).toBe(true);
    await sleep(50);
    // A writer that knows nothing of the journal rewrites the file later with other attributes.
    const entries: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(readCacheFile(file)._json_cache_func_cache)) entries[key] = entry.value;
    writeFileSync(file, foreignFileText(entries, { score: 3 }));
    const reader = await run(`const calc = new Calc(); say({ score: calc.score, seed: calc.put("seed-0", 1000) === valueFor("seed-0", 1000), status: calc.lastCacheStatus });`, {
      cwd,
    });
    expect(reader.lines, reader.stderr).toEqual([{ score: 3, seed: true, status: "l1" }]);
  });
});
