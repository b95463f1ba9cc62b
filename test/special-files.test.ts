/**
 * What is not a file, planted in a cache directory by anyone who may write it: a FIFO (opening one
 * waits for a process at its other end, for ever), a symlink to a device that never ends (/dev/zero),
 * at the cache file's name, its journal's, its lock's and its trail's, before a process opens the
 * cache or while it runs. No process may hang or read without end: each goes on with a clear message,
 * keeps its results, and writes them once the path is cleared. Real processes, killed if they hang.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";
import { compileWithPrelude, putKey, startFile, valuesOnDisk, valueFor } from "./shared-store-helpers.js";

const CACHE_DIR = "data/cache";
const FILE = `${CACHE_DIR}/calc.json`;
/** Far longer than anything here takes; a process that hangs on a FIFO is killed at this point. */
const HANG_MS = 20_000;

/**
 * Opens the cache, saves `a`; once the test has planted something, makes a hit past the refresh
 * interval (so it looks at the files again) and a miss, and saves; once the test has cleared the path,
 * saves again and folds.
 */
const PROGRAM = `
const calc = new Calc();
const a = calc.put("a", 10) === valueFor("a", 10);
say({ opened: true, a, savedBefore: await calc.jsonCacheSave() });
await waitForFile(process.env.PLANTED!);
await sleep(1_100);
const hit = calc.put("a", 10) === valueFor("a", 10);
const b = calc.put("b", 10) === valueFor("b", 10);
await JSONCache.flushAll();
say({ looked: true, hit, b, saved: await calc.jsonCacheSave() });
await waitForFile(process.env.CLEARED!);
say({ savedAfter: await calc.jsonCacheSave(), folded: await JSONCache.compactAll() });
`;

type Plant = (path: string) => void;

const fifo: Plant = (path) => execFileSync("mkfifo", [path]);
const symlinkToZero: Plant = (path) => symlinkSync("/dev/zero", path);

interface Outcome {
  cwd: string;
  stderr: string;
  lines: Record<string, unknown>[];
}

/**
 * Runs PROGRAM with `plant` put at `name` (relative to the cache directory) before the open or while it
 * runs. `touchFile`: the cache file's time is changed too once the process has opened it, so that its
 * next look takes the file for another process's fold and looks for that fold's trail.
 */
async function runWithPlanted(name: string, plant: Plant, when: "before" | "during", touchFile = false): Promise<Outcome> {
  const cwd = tempDir();
  mkdirSync(join(cwd, CACHE_DIR), { recursive: true });
  const target = join(cwd, CACHE_DIR, name);
  const planted = join(cwd, "planted");
  const cleared = join(cwd, "cleared");
  if (when === "before") plant(target);
  const program = startFile(compileWithPrelude(PROGRAM), { cwd, env: { PLANTED: planted, CLEARED: cleared }, timeoutMs: HANG_MS });
  await program.line((line) => line.opened === true, `the open with ${name} planted ${when}`, HANG_MS);
  if (when === "during") {
    rmSync(target, { force: true });
    plant(target);
  }
  if (touchFile) utimesSync(join(cwd, FILE), new Date(), new Date(Date.now() + 1_000));
  writeFileSync(planted, "");
  await program.line((line) => line.looked === true, `the calls after ${name} was planted ${when}`, HANG_MS);
  // Whatever is still at the name (the cache file's is set aside by the process itself) is removed.
  if (isPlanted(target)) rmSync(target);
  writeFileSync(cleared, "");
  const done = await program.done;
  expect(done.signal, `the process hung (killed after ${HANG_MS} ms); stderr: ${done.stderr}`).toBeNull();
  expect(done.code, done.stderr).toBe(0);
  return { cwd, stderr: done.stderr, lines: program.lines as Record<string, unknown>[] };
}

function isPlanted(path: string): boolean {
  try {
    const stat = lstatSync(path);
    return stat.isFIFO() || stat.isSymbolicLink();
  } catch {
    return false;
  }
}

function lineWith(outcome: Outcome, key: string): Record<string, unknown> {
  const line = outcome.lines.find((candidate) => key in candidate);
  expect(line, `no ${key} line in ${JSON.stringify(outcome.lines)}`).toBeDefined();
  return line as Record<string, unknown>;
}

/** The results were returned throughout, and both are in the cache file at the end (folded). */
function expectResultsKept(outcome: Outcome): void {
  expect(lineWith(outcome, "opened")).toMatchObject({ a: true });
  expect(lineWith(outcome, "looked")).toMatchObject({ hit: true, b: true });
  expect(lineWith(outcome, "savedAfter")).toMatchObject({ savedAfter: true, folded: true });
  const file = join(outcome.cwd, FILE);
  expect(lstatSync(file).isFile()).toBe(true);
  const onDisk = valuesOnDisk(file);
  expect(onDisk[putKey("a", 10)]).toBe(valueFor("a", 10));
  expect(onDisk[putKey("b", 10)]).toBe(valueFor("b", 10));
}

/** What the cache file's name held, set aside under `calc.json.unreadable-<time>`, and still that. */
function setAside(outcome: Outcome): string[] {
  return readdirSync(join(outcome.cwd, CACHE_DIR)).filter((name) => name.startsWith("calc.json.unreadable-"));
}

describe("a FIFO or a device at a cache's file names never holds a process", () => {
  for (const when of ["before", "during"] as const) {
    it(`a FIFO at the cache file's name (${when} the open) is set aside with a warning; results are kept and written to a new file`, async () => {
      const outcome = await runWithPlanted("calc.json", fifo, when);
      expect(outcome.stderr).toMatch(/calc\.json is not a regular file \(a FIFO\)/);
      const aside = setAside(outcome);
      expect(aside).toHaveLength(1);
      expect(lstatSync(join(outcome.cwd, CACHE_DIR, aside[0] as string)).isFIFO()).toBe(true);
      expectResultsKept(outcome);
    });

    it(`a FIFO at the journal's name (${when} the open) makes writes fail with a message, never wait; once it is removed they land`, async () => {
      const outcome = await runWithPlanted("calc.json.journal", fifo, when);
      expect(outcome.stderr).toMatch(/calc\.json\.journal is not a regular file/);
      // The saves made while it stood there say they failed; the results stayed in memory.
      expect(lineWith(outcome, "looked")).toMatchObject({ saved: false });
      expectResultsKept(outcome);
    });

    it(`a FIFO at the lock's name (${when} the open) stops folds with a message; writes go on appending`, async () => {
      const outcome = await runWithPlanted("calc.json.lock", fifo, when);
      expect(outcome.stderr).toMatch(/lock file .*calc\.json\.lock cannot be used/);
      expect(lineWith(outcome, "looked")).toMatchObject({ saved: true });
      expectResultsKept(outcome);
    });

    it(`a FIFO at the trail's name (${when} the open) is never read: a look after the file changed reads the file whole`, async () => {
      const outcome = await runWithPlanted("calc.json.journal.folded", fifo, when, true);
      expect(lineWith(outcome, "looked")).toMatchObject({ saved: true });
      expectResultsKept(outcome);
    });
  }

  it("a symlink to /dev/zero at the cache file's name is refused at once (not read until memory runs out), and set aside", async () => {
    const outcome = await runWithPlanted("calc.json", symlinkToZero, "before");
    expect(outcome.stderr).toMatch(/calc\.json is not a regular file \(a device\)/);
    const aside = setAside(outcome);
    expect(aside).toHaveLength(1);
    expect(lstatSync(join(outcome.cwd, CACHE_DIR, aside[0] as string)).isSymbolicLink()).toBe(true);
    expectResultsKept(outcome);
  });
});

describe("the inspector beside a FIFO", () => {
  const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

  function cli(args: string[], cwd: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI, ...args], { cwd, timeout: HANG_MS, killSignal: "SIGKILL" }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, signal: error?.signal ?? null, stdout, stderr });
      });
    });
  }

  it("list, stats and prune report a FIFO named like a cache file, leave it alone, and go on with the other caches", async () => {
    const cwd = tempDir();
    const dir = join(cwd, CACHE_DIR);
    mkdirSync(dir, { recursive: true });
    const seeded = startFile(compileWithPrelude(`new Calc().put("a", 10); await JSONCache.compactAll();`), { cwd, timeoutMs: HANG_MS });
    expect((await seeded.done).code).toBe(0);
    execFileSync("mkfifo", [join(dir, "pipe.json")]);
    const list = await cli(["list"], cwd);
    expect(list.signal, "list hung").toBeNull();
    expect(list.stdout).toMatch(/pipe\.json is not a regular file \(a FIFO\)/);
    expect(list.stdout).toMatch(/calc/);
    for (const command of ["stats", "prune"]) {
      const result = await cli([command], cwd);
      expect(result.signal, `${command} hung`).toBeNull();
      expect(result.code, result.stderr).toBe(0);
    }
    expect(lstatSync(join(dir, "pipe.json")).isFIFO()).toBe(true);
    expect(existsSync(join(dir, "calc.json"))).toBe(true);
  });
});
