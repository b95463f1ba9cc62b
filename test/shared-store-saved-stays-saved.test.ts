/**
 * Saved means saved: once `await jsonCacheSave()` resolves true in any process, what it saved survives
 * crashes (SIGKILL), torn journal lines, processes that hold the lock while busy or stopped, stale
 * locks met by several processes at once, and locks that cannot be removed. Real processes, real files.
 */
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";
import { compileWithPrelude, lockOwner, plantStaleLock, run, shareProgram, start, startFile, until } from "./shared-store-helpers.js";

const FILE = "data/cache/calc.json";

/** A program that computes `put(KEY, 10)`, saves, prints whether the save resolved true, and is killed. */
const SAVE_AND_CRASH = `
  const calc = new Calc();
  calc.put(process.env.KEY!, 10);
  say({ key: process.env.KEY, saved: await calc.jsonCacheSave() });
  crash();
`;

/** A program that reports, for each key of `KEYS` (comma-separated `key` or `key@size`, size 10 by default), whether a new process finds it without running the method. */
const CHECK = `
  const calc = new Calc();
  const found: string[] = [];
  const missing: string[] = [];
  for (const item of process.env.KEYS!.split(",")) {
    const [key, size] = item.split("@") as [string, string | undefined];
    const value = calc.put(key, Number(size ?? 10));
    (calc.lastCacheStatus === "l1" && value === valueFor(key, Number(size ?? 10)) ? found : missing).push(item);
  }
  say({ found, missing });
`;

async function missingAfterRestart(cwd: string, keys: string[], env: Record<string, string> = {}): Promise<string[]> {
  const result = await run(CHECK, { cwd, env: { KEYS: keys.join(","), ...env } });
  expect(result.code, result.stderr).toBe(0);
  const line = result.lines.at(-1) as { missing: string[] };
  return line.missing;
}

async function saveAndCrash(cwd: string, key: string, env: Record<string, string> = {}): Promise<void> {
  const result = await run(SAVE_AND_CRASH, { cwd, env: { KEY: key, ...env } });
  expect(result.lines, result.stderr).toEqual([{ key, saved: true }]);
  expect(result.signal).toBe("SIGKILL");
}

/** Seeds a cache larger than 64 KiB (100 entries of 1 KB), so saves append to its journal. */
async function seedJournaled(cwd: string, env: Record<string, string> = {}): Promise<void> {
  const result = await run(
    `
    const calc = new Calc();
    for (let i = 0; i < 100; i++) calc.put("seed-" + i, 1000);
    say({ seeded: await calc.jsonCacheSave() });
  `,
    { cwd, env },
  );
  expect(result.lines, result.stderr).toEqual([{ seeded: true }]);
}

describe("a torn line at the end of the journal", () => {
  it("after a crash cut the journal's last line, the next save's entry survives a restart", async () => {
    const cwd = tempDir();
    await seedJournaled(cwd);
    await saveAndCrash(cwd, "first");
    const journal = join(cwd, `${FILE}.journal`);
    expect(existsSync(journal)).toBe(true);
    // What a crash half-way through an append leaves: a line without its newline.
    appendFileSync(journal, '{"k": "x", "e": {"val');
    await saveAndCrash(cwd, "second");
    expect(await missingAfterRestart(cwd, ["first", "second", "seed-0@1000", "seed-99@1000"])).toEqual([]);
  });

  it("when another process folds the journal, the entry saved after the torn line is in the folded file", async () => {
    const cwd = tempDir();
    await seedJournaled(cwd);
    // A process that has the cache open from before, and folds the journal when it exits.
    const folder = start(
      `
      const calc = new Calc();
      calc.put("seed-0", 1000);
      mark("folder-ready");
      await waitForFile("folder-go");
      calc.put("third", 10);
      say({ saved: await calc.jsonCacheSave() });
    `,
      { cwd },
    );
    await until(() => existsSync(join(cwd, "folder-ready")), "the folding process to open the cache");
    await saveAndCrash(cwd, "first");
    const journal = join(cwd, `${FILE}.journal`);
    expect(existsSync(journal)).toBe(true);
    appendFileSync(journal, '{"k": "x", "e": {"val');
    await saveAndCrash(cwd, "second");
    writeFileSync(join(cwd, "folder-go"), "");
    const folded = await folder.done;
    expect(folded.code, folded.stderr).toBe(0);
    expect(folded.lines).toEqual([{ saved: true }]);
    expect(await missingAfterRestart(cwd, ["first", "second", "third", "seed-0@1000", "seed-99@1000"])).toEqual([]);
  });
});

/**
 * A program that saves until it catches itself holding the cache's lock (during a write of its own),
 * then, still holding it, either runs a synchronous @Cached method for 12 s (`HOW=busy`) or stops
 * itself with SIGSTOP (`HOW=stop`). It then reports whether the lock is still exactly the one it held,
 * and which of its keys were saved.
 */
const HOLDER = `
  class Slow extends JSONCache {
    constructor() { super({ dataId: "calc" }); }
    @Cached() hold(ms: number) { const end = Date.now() + ms; while (Date.now() < end); return ms; }
  }
  const lock = "${FILE}.lock";
  function ownLock(): string | undefined {
    let text: string;
    try { text = readFileSync(lock, "utf8"); } catch { return undefined; }
    let pid: number;
    try { pid = Number(JSON.parse(text).pid); } catch { pid = Number.parseInt(text, 10); }
    return pid === process.pid ? text : undefined;
  }
  function lockNow(): string | null { try { return readFileSync(lock, "utf8"); } catch { return null; } }
  const calc = new Calc();
  const slow = new Slow();
  const saved: string[] = [];
  let caught: string | undefined;
  let keptLock = false;
  for (let i = 0; i < 400 && caught === undefined; i++) {
    calc.put("h-" + i, 10);
    const saving = calc.jsonCacheSave();
    let settled = false;
    void saving.then(() => (settled = true));
    while (!settled) {
      caught = ownLock();
      if (caught !== undefined) {
        writeFileSync("holding", caught);
        if (process.env.HOW === "busy") slow.hold(12_000);
        else process.kill(process.pid, "SIGSTOP");
        keptLock = lockNow() === caught;
        break;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (await saving) saved.push("h-" + i);
  }
  say({ caught: caught !== undefined, keptLock, saved });
`;

describe("a live process holding the lock", () => {
  it("busy for 12 s in a synchronous @Cached method, keeps its lock; another process's save meanwhile survives", async () => {
    const cwd = tempDir();
    const holder = start(HOLDER, { cwd, env: { HOW: "busy" } });
    await until(() => existsSync(join(cwd, "holding")) || holder.child.exitCode !== null, "the holder to catch itself holding the lock");
    expect(existsSync(join(cwd, "holding")), holder.stdout() + holder.stderr()).toBe(true);
    await saveAndCrash(cwd, "while-busy");
    const held = await holder.done;
    expect(held.code, held.stderr).toBe(0);
    const report = held.lines.at(-1) as { caught: boolean; keptLock: boolean; saved: string[] };
    expect(report.caught).toBe(true);
    expect(report.keptLock, "the lock of a live, busy process was taken over").toBe(true);
    expect(await missingAfterRestart(cwd, ["while-busy", ...report.saved])).toEqual([]);
  }, 60_000);

  it("stopped with SIGSTOP, keeps its lock however long; another process's save meanwhile survives the holder's continuation", async () => {
    const cwd = tempDir();
    const holder = start(HOLDER, { cwd, env: { HOW: "stop" } });
    await until(() => existsSync(join(cwd, "holding")) || holder.child.exitCode !== null, "the holder to catch itself holding the lock");
    expect(existsSync(join(cwd, "holding")), holder.stdout() + holder.stderr()).toBe(true);
    await until(() => readFileSync(`/proc/${holder.pid}/stat`, "utf8").split(") ")[1]?.startsWith("T") === true, "the holder to be stopped");
    const heldLock = readFileSync(join(cwd, "holding"), "utf8");
    try {
      await saveAndCrash(cwd, "while-stopped");
      expect(lockOwner(join(cwd, `${FILE}.lock`))?.text, "the lock of a stopped live process was taken over").toBe(heldLock);
    } finally {
      holder.child.kill("SIGCONT");
    }
    const held = await holder.done;
    expect(held.code, held.stderr).toBe(0);
    const report = held.lines.at(-1) as { caught: boolean; keptLock: boolean; saved: string[] };
    expect(report.keptLock).toBe(true);
    expect(await missingAfterRestart(cwd, ["while-stopped", ...report.saved])).toEqual([]);
  }, 60_000);
});

describe("a stale lock", () => {
  it("six processes meeting one stale lock, five times over, lose none of their saved entries", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "data/cache"), { recursive: true });
    const program = compileWithPrelude(`
      const calc = new Calc();
      calc.put("warm-" + process.env.ROUND, 10);
      mark("ready-" + process.env.ROUND + "-" + process.env.WORKER);
      await waitForFile("go-" + process.env.ROUND);
      const keys: string[] = [];
      for (let i = 0; i < 10; i++) {
        const key = "r" + process.env.ROUND + "-w" + process.env.WORKER + "-" + i;
        calc.put(key, 10);
        keys.push(key);
      }
      say({ keys, saved: await calc.jsonCacheSave() });
      crash();
    `);
    const saved: string[] = [];
    for (let round = 0; round < 5; round++) {
      const workers = [0, 1, 2, 3, 4, 5].map((worker) => startFile(program, { cwd, env: { ROUND: String(round), WORKER: String(worker) } }));
      await until(() => [0, 1, 2, 3, 4, 5].every((w) => existsSync(join(cwd, `ready-${round}-${w}`))), `round ${round}'s processes to open the cache`);
      await plantStaleLock(join(cwd, `${FILE}.lock`));
      writeFileSync(join(cwd, `go-${round}`), "");
      for (const worker of workers) {
        const result = await worker.done;
        const line = result.lines.at(-1) as { keys: string[]; saved: boolean } | undefined;
        expect(line?.saved, `round ${round}: ${result.stdout} ${result.stderr}`).toBe(true);
        saved.push(...(line?.keys ?? []));
      }
    }
    expect(saved).toHaveLength(300);
    expect(await missingAfterRestart(cwd, saved)).toEqual([]);
  }, 90_000);

  it("a lock naming this process's own pid with a nonce it does not hold (a restarted container) does not stall the first write", async () => {
    const cwd = tempDir();
    const result = await run(
      `
      import { mkdirSync } from "node:fs";
      import { hostname } from "node:os";
      mkdirSync("data/cache", { recursive: true });
      writeFileSync("${FILE}.lock", JSON.stringify({ pid: process.pid, host: hostname(), start: "", nonce: "0123456789abcdef" }));
      const calc = new Calc();
      calc.put("mine", 10);
      // The old lock's owner is gone: waiting for it would wait in vain (the old store gave up after 10 s).
      const outcome = await Promise.race([calc.jsonCacheSave(), sleep(6_000).then(() => "still waiting after 6 s")]);
      say({ outcome });
    `,
      { cwd },
    );
    expect(result.lines, result.stderr).toEqual([{ outcome: true }]);
    expect(await missingAfterRestart(cwd, ["mine"])).toEqual([]);
  }, 30_000);
});

/**
 * Computes a miss, starts a save and, while it is under way, counts the ticks of a 20 ms interval for
 * one second; then waits at most 3 s more for the save and ends on its own.
 */
const UNDER_UNREMOVABLE_LOCK = `
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  const calc = new Calc();
  const value = calc.put("v", 10);
  const saving = calc.jsonCacheSave();
  const before = ticks;
  await sleep(1_000);
  const during = ticks - before;
  const later = calc.put("w", 10);
  const saved = await Promise.race([saving, sleep(3_000).then(() => "pending")]);
  clearInterval(timer);
  say({ value: value === valueFor("v", 10), later: later === valueFor("w", 10), during, saved });
`;

function expectNoSpin(result: { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; lines: unknown[] }): void {
  expect(result.signal, `the program did not end on its own (spinning?): ${result.stdout} ${result.stderr}`).toBeNull();
  expect(result.code, result.stderr).toBe(0);
  const line = result.lines.at(-1) as { value: boolean; later: boolean; during: number };
  expect(line.value).toBe(true);
  expect(line.later).toBe(true);
  // About 50 ticks in that second when the event loop is free; none if a lock loop spins.
  expect(line.during).toBeGreaterThanOrEqual(10);
  expect(`${result.stdout}${result.stderr}`).toContain("[cacherator]");
}

describe("a lock that cannot be removed", () => {
  it("a directory at the lock path: results are returned, timers fire, a warning is logged, and the program ends normally", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, `${FILE}.lock`), { recursive: true });
    const result = await run(UNDER_UNREMOVABLE_LOCK, { cwd, timeoutMs: 20_000 });
    expectNoSpin(result);
  }, 30_000);

  it("a stale lock in a directory the user cannot delete from: results are returned, timers fire, a warning is logged, and the program ends normally", async () => {
    const cwd = tempDir();
    chmodSync(cwd, 0o755);
    const directory = join(cwd, "data/cache");
    mkdirSync(directory, { recursive: true });
    chmodSync(join(cwd, "data"), 0o755);
    // Anyone may create files here, but only their owner may remove them (like /tmp).
    chmodSync(directory, 0o1777);
    await plantStaleLock(join(cwd, `${FILE}.lock`));
    const program = compileWithPrelude(UNDER_UNREMOVABLE_LOCK);
    shareProgram(program);
    const result = await startFile(program, {
      cwd,
      prefix: ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"],
      timeoutMs: 20_000,
    }).done;
    expectNoSpin(result);
  }, 30_000);
});
