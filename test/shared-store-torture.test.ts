/**
 * The torture test: round after round, four to six processes write distinct entries to one cache and
 * save, printing the keys whose save resolved true, while the test kills some with SIGKILL, pauses and
 * resumes others with SIGSTOP/SIGCONT, and plants stale locks. At the end a fresh process checks every
 * key reported saved: present, and with its whole value.
 */
import { existsSync, openSync, closeSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";
import { compileWithPrelude, deadPid, lockOwner, lockText, run, sleep, startFile, type Started } from "./shared-store-helpers.js";

const SIZE = 300;
const BUDGET_MS = 50_000;
/** Rounds in which the process caught holding the lock is paused for longer than any wait (11 s). */
const LONG_PAUSE_ROUNDS = new Set([2, 6]);

const WRITER = `
  const calc = new Calc();
  say({ started: true });
  const prefix = "r" + process.env.ROUND + "-w" + process.env.WORKER + "-";
  for (let batch = 0; batch < 8; batch++) {
    const keys: string[] = [];
    for (let i = 0; i < 4; i++) {
      const key = prefix + (batch * 4 + i);
      calc.put(key, ${SIZE});
      keys.push(key);
    }
    if (await calc.jsonCacheSave()) say({ saved: keys });
    await sleep(Math.floor(Math.random() * 30));
  }
`;

/** Plants the lock of a process that has exited, unless a lock is there already. */
async function plantStaleLockIfFree(lockPath: string): Promise<boolean> {
  const text = lockText(await deadPid());
  let fd: number;
  try {
    fd = openSync(lockPath, "wx");
  } catch {
    return false;
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return true;
}

describe("torture", () => {
  it("across rounds of kills, pauses and stale locks, every entry whose save resolved true is found whole", async () => {
    const cwd = tempDir();
    const writer = compileWithPrelude(WRITER);
    const saved = new Map<string, Set<string>>();
    const started = Date.now();
    const tally = { rounds: 0, killed: 0, stopped: 0, staleLocks: 0, holdersPaused: 0 };
    for (let round = 0; round < 12 && Date.now() - started < BUDGET_MS; round++) {
      const count = 4 + Math.floor(Math.random() * 3);
      const long = LONG_PAUSE_ROUNDS.has(round);
      // Ordinary rounds share one cache, which grows past the journal threshold; long-pause rounds get a small one of their own.
      const dataId = long ? `calc-${round}` : "calc";
      const lockPath = join(cwd, `data/cache/${dataId}.json.lock`);
      const env = { ROUND: String(round), DATA_ID: dataId };
      const writers: Started[] = Array.from({ length: count }, (_, worker) => startFile(writer, { cwd, env: { ...env, WORKER: String(worker) } }));
      const pausedHolder = long
        ? (async () => {
            const deadline = Date.now() + 5_000;
            while (Date.now() < deadline) {
              const owner = lockOwner(lockPath);
              const holder = writers.find((w) => w.pid === owner?.pid && w.child.exitCode === null && w.child.signalCode === null);
              if (holder !== undefined) {
                holder.child.kill("SIGSTOP");
                tally.holdersPaused++;
                await sleep(11_000);
                holder.child.kill("SIGCONT");
                return holder;
              }
              await sleep(1);
            }
            return undefined;
          })()
        : Promise.resolve(undefined);
      const chaos = writers.map(async (w) => {
        await w.line((l) => l.started === true, "a writer to start").catch(() => undefined);
        const action = Math.random();
        await sleep(20 + Math.floor(Math.random() * 400));
        if (w.child.exitCode !== null || long) return; // in long-pause rounds, only the caught holder is paused
        if (action < 0.35) {
          w.child.kill("SIGKILL");
          tally.killed++;
        } else if (action < 0.7) {
          w.child.kill("SIGSTOP");
          tally.stopped++;
          await sleep(100 + Math.floor(Math.random() * 1_500));
          w.child.kill("SIGCONT");
        }
      });
      const planting = (async () => {
        for (let i = 0; i < 3; i++) {
          await sleep(Math.floor(Math.random() * 500));
          if (existsSync(join(cwd, "data/cache")) && (await plantStaleLockIfFree(lockPath))) tally.staleLocks++;
        }
      })();
      await Promise.all([...chaos, planting, pausedHolder]);
      const keys = saved.get(dataId) ?? new Set<string>();
      saved.set(dataId, keys);
      for (const w of writers) {
        const result = await w.done;
        if (result.signal === null) expect(result.code, result.stderr).toBe(0);
        for (const line of result.lines as { saved?: string[] }[]) for (const key of line.saved ?? []) keys.add(key);
      }
      tally.rounds++;
    }
    const total = [...saved.values()].reduce((sum, keys) => sum + keys.size, 0);
    expect(total).toBeGreaterThan(0);
    writeFileSync(join(cwd, "saved.json"), JSON.stringify(Object.fromEntries([...saved].map(([dataId, keys]) => [dataId, [...keys]]))));
    const check = await run(
      `
      const lost: string[] = [];
      const torn: string[] = [];
      for (const [dataId, keys] of Object.entries(JSON.parse(readFileSync("saved.json", "utf8")) as Record<string, string[]>)) {
        const calc = new Calc({ dataId });
        for (const key of keys) {
          const before = runs;
          const value = calc.put(key, ${SIZE});
          if (runs !== before) lost.push(dataId + ": " + key);
          else if (value !== valueFor(key, ${SIZE})) torn.push(dataId + ": " + key);
        }
      }
      say({ lost, torn });
    `,
      { cwd, timeoutMs: 60_000 },
    );
    expect(check.code, check.stderr).toBe(0);
    const { lost, torn } = check.lines.at(-1) as { lost: string[]; torn: string[] };
    console.log(
      `torture: ${tally.rounds} rounds, ${tally.killed} killed, ${tally.stopped} paused briefly, ${tally.holdersPaused} lock holders paused for 11 s, ` +
        `${tally.staleLocks} stale locks planted; ${total} saved entries checked, ${lost.length} lost, ${torn.length} torn`,
    );
    expect({ lost: lost.length, torn: torn.length, examples: [...lost, ...torn].slice(0, 5) }).toEqual({ lost: 0, torn: 0, examples: [] });
  }, 120_000);
});
