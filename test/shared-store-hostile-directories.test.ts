/**
 * A cache directory others can tamper with, and limits of the machine: symlinks planted at the
 * journal, lock and temporary names; file and directory modes; a low open-file limit; temporary files
 * left by killed writers; crafted files nested 100,000 levels deep. Real processes, real files.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";
import { compileWithPrelude, pythonDate, run, seedLargeCache, sleep, startFile, type Started } from "./shared-store-helpers.js";

const FILE = "data/cache/calc.json";

/** A file outside the cache directory that no cache operation may change. */
function victimFile(): { path: string; unchanged(): boolean } {
  const path = join(tempDir(), "victim.txt");
  writeFileSync(path, "precious\n");
  return { path, unchanged: () => readFileSync(path, "utf8") === "precious\n" };
}

describe("symlinks planted in the cache directory", () => {
  it("a symlink at <file>.journal never changes the file it points to", async () => {
    const cwd = tempDir();
    await seedLargeCache(cwd);
    const victim = victimFile();
    symlinkSync(victim.path, join(cwd, `${FILE}.journal`));
    const result = await run(`const calc = new Calc(); calc.put("after", 10); say({ saved: await calc.jsonCacheSave() }); calc.put("at-exit", 10);`, { cwd });
    expect(result.signal).toBeNull();
    expect(readFileSync(victim.path, "utf8")).toBe("precious\n");
  });

  it("a symlink at <file>.lock never changes the file it points to", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "data/cache"), { recursive: true });
    const victim = victimFile();
    symlinkSync(victim.path, join(cwd, `${FILE}.lock`));
    const result = await run(`const calc = new Calc(); calc.put("after", 10); say({ saved: await calc.jsonCacheSave() }); calc.put("at-exit", 10);`, {
      cwd,
      timeoutMs: 30_000,
    });
    expect(result.signal).toBeNull();
    expect(readFileSync(victim.path, "utf8")).toBe("precious\n");
  }, 40_000);

  it("symlinks at predictable temporary file names never change the file they point to", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "data/cache"), { recursive: true });
    const victim = victimFile();
    const result = await run(
      `
      import { symlinkSync } from "node:fs";
      // Names a writer of this pid could use for its temporary files.
      for (const name of [process.pid + ".tmp", process.pid + ".exit.tmp", "tmp", "exit.tmp", "0.tmp"]) {
        symlinkSync(process.env.VICTIM!, "${FILE}." + name);
      }
      const calc = new Calc();
      calc.put("first", 10);
      say({ saved: await calc.jsonCacheSave() });
      calc.put("at-exit", 10); // written by the exit hook
    `,
      { cwd, env: { VICTIM: victim.path } },
    );
    expect(result.signal).toBeNull();
    expect(readFileSync(victim.path, "utf8")).toBe("precious\n");
  });
});

describe("file and directory modes", () => {
  function mode(path: string): string {
    return (statSync(path).mode & 0o7777).toString(8);
  }

  it.each([
    ["by default", {}],
    ["with fileMode 0644", { fileMode: 0o644 }],
  ])("a user's chmod 600 on the cache file is kept across rewrites (%s)", async (_what, options) => {
    const cwd = tempDir();
    const program = `process.umask(0o022); const calc = new Calc(JSON.parse(process.env.OPTIONS!)); calc.put(process.env.KEY!, 10); say({ saved: await calc.jsonCacheSave() });`;
    const env = { OPTIONS: JSON.stringify(options) };
    const first = await run(program, { cwd, env: { ...env, KEY: "first" } });
    expect(first.lines, first.stderr).toEqual([{ saved: true }]);
    chmodSync(join(cwd, FILE), 0o600);
    const second = await run(program, { cwd, env: { ...env, KEY: "second" } });
    expect(second.lines, second.stderr).toEqual([{ saved: true }]);
    expect(Object.keys(JSON.parse(readFileSync(join(cwd, FILE), "utf8"))._json_cache_func_cache as object)).toHaveLength(2);
    expect(mode(join(cwd, FILE))).toBe("600");
  });

  it.each([
    ["new cache files are 0600 and new directories 0700 by default", {}, "600", "700"],
    ["fileMode and directoryMode set them", { fileMode: 0o640, directoryMode: 0o750 }, "640", "750"],
  ])("%s", async (_what, options, fileMode, directoryMode) => {
    const cwd = tempDir();
    const result = await run(`process.umask(0o022); const calc = new Calc(JSON.parse(process.env.OPTIONS!)); calc.put("a", 10); say({ saved: await calc.jsonCacheSave() });`, {
      cwd,
      env: { OPTIONS: JSON.stringify(options) },
    });
    expect(result.lines, result.stderr).toEqual([{ saved: true }]);
    expect({ file: mode(join(cwd, FILE)), data: mode(join(cwd, "data")), cache: mode(join(cwd, "data/cache")) }).toEqual({
      file: fileMode,
      data: directoryMode,
      cache: directoryMode,
    });
  });
});

describe("bounded resources", () => {
  it("10,000 instances with distinct dataIds, each with one miss, under `ulimit -n 1024`: every file is written", async () => {
    const cwd = tempDir();
    const program = compileWithPrelude(`
      const instances: Calc[] = [];
      for (let i = 0; i < 10_000; i++) {
        const calc = new Calc({ dataId: "item-" + i });
        calc.put("k", 10);
        instances.push(calc);
      }
      say({ compacted: await JSONCache.compactAll() });
      let missing = 0;
      for (let i = 0; i < 10_000; i++) {
        try {
          const data = JSON.parse(readFileSync("data/cache/item-" + i + ".json", "utf8"));
          if (data._json_cache_func_cache["put('k', 10){}"]?.value !== valueFor("k", 10)) missing++;
        } catch {
          missing++;
        }
      }
      say({ instances: instances.length, missingAfterCompactAll: missing });
    `);
    const result = await startFile(program, { cwd, prefix: ["bash", "-c", 'ulimit -n 1024 && exec "$@"', "bash"], timeoutMs: 90_000 }).done;
    expect(result.signal, result.stderr.slice(0, 2_000)).toBeNull();
    expect(result.lines.at(-1), result.stderr.slice(0, 2_000)).toEqual({ instances: 10_000, missingAfterCompactAll: 0 });
    expect(result.lines[0]).toEqual({ compacted: true });
    let missingAfterExit = 0;
    for (let i = 0; i < 10_000; i++) {
      const file = join(cwd, `data/cache/item-${i}.json`);
      if (!existsSync(file) || !readFileSync(file, "utf8").includes("put('k', 10){}")) missingAfterExit++;
    }
    expect(missingAfterExit).toBe(0);
    expect(result.stderr).not.toMatch(/EMFILE/);
  }, 120_000);

  it("temporary files left by writers killed with SIGKILL are cleaned up by a later normal run", async () => {
    const cwd = tempDir();
    const writer = compileWithPrelude(`
      const calc = new Calc({ maxEntries: 1 }); // one entry of 60 KB: every write rewrites the file
      say({ started: true });
      for (let i = 0; ; i++) {
        calc.put("big-" + i, 60_000);
        await calc.jsonCacheSave();
      }
    `);
    for (let round = 0; round < 6; round++) {
      const writers: Started[] = [0, 1, 2].map(() => startFile(writer, { cwd }));
      await Promise.all(writers.map((w) => w.line((l) => l.started === true, "the writer to start")));
      await Promise.all(
        writers.map(async (w) => {
          await sleep(100 + Math.floor(Math.random() * 400));
          w.child.kill("SIGKILL");
          await w.done;
        }),
      );
    }
    const leftBehind = readdirSync(join(cwd, "data/cache")).filter((name) => name.endsWith(".tmp"));
    console.log(`temporary files left by the killed writers: ${leftBehind.length}`);
    const normal = await run(`const calc = new Calc(); calc.put("normal", 10); say({ saved: await calc.jsonCacheSave() });`, { cwd });
    expect(normal.lines, normal.stderr).toEqual([{ saved: true }]);
    expect(readdirSync(join(cwd, "data/cache")).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  }, 60_000);

  it.each([
    ["an attribute", "attribute"],
    ["an entry's value", "entry"],
  ])("a crafted file with %s nested 100,000 levels deep: the constructor does not throw and later writes work", async (_what, where) => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "data/cache"), { recursive: true });
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const now = Date.now();
    const entry = `"put('deep', 10){}": {"value": ${deep}, "date": "${pythonDate(now)}", "epoch_ms": ${now}}`;
    writeFileSync(
      join(cwd, FILE),
      `{"_json_cache_func_cache": {${where === "entry" ? entry : ""}}, "_json_cache_last_save_date": "${pythonDate(now)}", ` +
        `"_json_cache_variable_cache": {${where === "attribute" ? `"deep": ${deep}` : ""}}}`,
    );
    const result = await run(
      `
      let calc: Calc | undefined;
      let error: string | undefined;
      try { calc = new Calc(); } catch (e) { error = String(e).slice(0, 200); }
      if (calc === undefined) {
        say({ error });
      } else {
        calc.put("later", 10);
        say({ error, saved: await calc.jsonCacheSave() });
      }
    `,
      { cwd },
    );
    expect(result.lines, result.stderr.slice(0, 2_000)).toEqual([{ saved: true }]);
    const reader = await run(`const calc = new Calc(); calc.put("later", 10); say({ status: calc.lastCacheStatus });`, { cwd });
    expect(reader.lines, reader.stderr.slice(0, 2_000)).toEqual([{ status: "l1" }]);
  });
});
