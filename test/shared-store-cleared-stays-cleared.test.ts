/**
 * Cleared means cleared everywhere on this machine: a clear removes every matching entry, including
 * those other processes wrote after this process opened the cache; running processes stop serving
 * removed entries within `refreshInterval` (1 s by default) and pick up what others computed; the CLI's
 * `clear` and `prune` count as clears; `@Cached({ clearCache: true })` persists its removals in journal
 * mode. Real processes, real files.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";
import { run, runCommand, seedLargeCache, sleep, start, until } from "./shared-store-helpers.js";

const FILE = "data/cache/calc.json";
const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

/** `Two`: two cached functions, `h` and `g`, on the cache `calc`; values name the process (`ROLE`) that computed them. */
const TWO = `
  class Two extends JSONCache {
    constructor(options: Record<string, unknown> = JSON.parse(process.env.OPTIONS ?? "{}")) { super({ dataId: "calc", ...options }); }
    @Cached() h(n: number) { runs++; return "h" + n + " by " + process.env.ROLE; }
    @Cached() g(n: number) { runs++; return "g" + n + " by " + process.env.ROLE; }
  }
`;

/** The call keys of `h` and `g` a new process finds in the cache. */
async function keysAfterRestart(cwd: string): Promise<string[]> {
  const result = await run(`${TWO} say({ keys: Object.keys(new Two().cacheStatus).filter((k) => /^[hg]\\(/.test(k)).sort() });`, {
    cwd,
    env: { ROLE: "reader" },
  });
  expect(result.code, result.stderr).toBe(0);
  return (result.lines.at(-1) as { keys: string[] }).keys;
}

async function waitForMarker(cwd: string, name: string, process: { child: { exitCode: number | null }; stdout(): string; stderr(): string }): Promise<void> {
  await until(() => existsSync(join(cwd, name)) || process.child.exitCode !== null, name);
  expect(existsSync(join(cwd, name)), `${process.stdout()} ${process.stderr()}`).toBe(true);
}

describe("jsonCacheClear removes what other processes wrote after this process opened the cache", () => {
  it.each([
    ["h", "a small cache", false],
    ["h", "a journaled cache", true],
    ["", "a small cache", false],
    ["", "a journaled cache", true],
  ])('jsonCacheClear(%j) in %s', async (fn, _what, journaled) => {
    const cwd = tempDir();
    if (journaled) await seedLargeCache(cwd);
    const clearer = start(
      `${TWO}
      const two = new Two();
      two.h(1); two.g(1);
      say({ saved: await two.jsonCacheSave() });
      mark("clearer-ready");
      await waitForFile("clearer-go");
      say({ cleared: await two.jsonCacheClear(process.env.FN || undefined) });
    `,
      { cwd, env: { ROLE: "clearer", FN: fn } },
    );
    await waitForMarker(cwd, "clearer-ready", clearer);
    const writer = await run(`${TWO} const two = new Two(); two.h(2); two.h(3); two.g(2); say({ saved: await two.jsonCacheSave() }); crash();`, {
      cwd,
      env: { ROLE: "writer" },
    });
    expect(writer.lines, writer.stderr).toEqual([{ saved: true }]);
    if (journaled) expect(existsSync(join(cwd, `${FILE}.journal`))).toBe(true);
    writeFileSync(join(cwd, "clearer-go"), "");
    const cleared = await clearer.done;
    expect(cleared.lines, cleared.stderr).toEqual([{ saved: true }, { cleared: true }]);
    expect(await keysAfterRestart(cwd)).toEqual(fn === "h" ? ["g(1,){}", "g(2,){}"] : []);
    if (fn === "" && journaled) {
      const seeds = await run(`const calc = new Calc(); calc.put("seed-0", 1000); say({ status: calc.lastCacheStatus });`, { cwd });
      expect(seeds.lines).toEqual([{ status: "miss" }]);
    }
  });
});

/**
 * A running process: computes h(1), h(2), h(3) and g(1), saves, then waits for `go`, waits `WAIT` ms
 * more, and reports what its instance and a new instance are answered.
 */
const RUNNING = `${TWO}
  const two = new Two();
  two.h(1); two.h(2); two.h(3); two.g(1);
  say({ saved: await two.jsonCacheSave() });
  mark("running-ready");
  await waitForFile("go");
  await sleep(Number(process.env.WAIT));
  const report: Record<string, unknown> = {};
  const h1 = two.h(1); report.h1 = [h1, two.lastCacheStatus];
  const h2 = two.h(2); report.h2 = [h2, two.lastCacheStatus];
  const g1 = two.g(1); report.g1 = [g1, two.lastCacheStatus];
  const fresh = new Two();
  const h3 = fresh.h(3); report.h3 = [h3, fresh.lastCacheStatus];
  say(report);
`;

describe("a running process sees clears and new results of other processes", () => {
  it.each([
    ["within a second by default", {}, 1_500],
    ["within refreshInterval: 200", { refreshInterval: 200 }, 600],
  ])("it stops serving removed entries and serves what another process computed, %s", async (_what, options, wait) => {
    const cwd = tempDir();
    const env = { OPTIONS: JSON.stringify(options) };
    const running = start(RUNNING, { cwd, env: { ...env, ROLE: "running", WAIT: String(wait) } });
    await waitForMarker(cwd, "running-ready", running);
    const other = await run(`${TWO} const two = new Two(); await two.jsonCacheClear("h"); two.h(1); say({ saved: await two.jsonCacheSave() });`, {
      cwd,
      env: { ...env, ROLE: "other" },
    });
    expect(other.lines, other.stderr).toEqual([{ saved: true }]);
    writeFileSync(join(cwd, "go"), "");
    const result = await running.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines.at(-1)).toEqual({
      h1: ["h1 by other", "l1"], // computed by the other process after its clear: a hit, with its value
      h2: ["h2 by running", "miss"], // removed: computed again
      g1: ["g1 by running", "l1"], // not cleared
      h3: ["h3 by running", "miss"], // removed: a new instance does not serve it either
    });
  });

  it.each([
    ["cacherator clear calc h", ["clear", "calc", "h"]],
    ["cacherator prune calc --ttl 1s", ["prune", "calc", "--ttl", "1s"]],
  ])("after `%s`, a running process stops serving the removed entries within a second and does not write them back", async (_what, args) => {
    const cwd = tempDir();
    const running = start(
      `${TWO}
      const two = new Two();
      two.h(1); two.h(2);
      say({ saved: await two.jsonCacheSave() });
      mark("running-ready");
      await waitForFile("go");
      await sleep(1_500);
      const h1 = two.h(1);
      say({ h1: [h1, two.lastCacheStatus], saved: await two.jsonCacheSave() });
    `,
      { cwd, env: { ROLE: "running" } },
    );
    await waitForMarker(cwd, "running-ready", running);
    if (args[0] === "prune") await sleep(1_100); // the entries are older than the TTL given to prune
    const cli = await runCommand(process.execPath, [CLI, ...args, "--dir", "data/cache"], { cwd });
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/removed 2 /);
    writeFileSync(join(cwd, "go"), "");
    const result = await running.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines.at(-1)).toEqual({ h1: ["h1 by running", "miss"], saved: true });
    // h(1) was computed again after the clear; h(2) stays removed.
    expect(await keysAfterRestart(cwd)).toEqual(["h(1,){}"]);
  });
});

describe("@Cached({ clearCache: true }) on a journaled cache", () => {
  it("the removal of the earlier run's results is persisted: after another process folds the journal, they are not served again", async () => {
    const cwd = tempDir();
    await seedLargeCache(cwd);
    const earlier = await run(`${TWO} const two = new Two(); two.h(1); two.h(2); say({ saved: await two.jsonCacheSave() });`, {
      cwd,
      env: { ROLE: "earlier" },
    });
    expect(earlier.lines, earlier.stderr).toEqual([{ saved: true }]);
    const fresh = await run(
      `
      class Fresh extends JSONCache {
        constructor() { super({ dataId: "calc" }); }
        @Cached({ clearCache: true }) h(n: number) { return "h" + n + " by " + process.env.ROLE; }
      }
      const f = new Fresh();
      f.h(1);
      say({ status: f.lastCacheStatus, saved: await f.jsonCacheSave() });
      crash();
    `,
      { cwd, env: { ROLE: "fresh" } },
    );
    expect(fresh.lines, fresh.stderr).toEqual([{ status: "miss", saved: true }]);
    expect(existsSync(join(cwd, `${FILE}.journal`))).toBe(true);
    // Another process opens the cache, writes, and folds the journal at its exit.
    const folder = await run(`${TWO} const two = new Two(); two.g(1); say({ saved: await two.jsonCacheSave() });`, { cwd, env: { ROLE: "folder" } });
    expect(folder.lines, folder.stderr).toEqual([{ saved: true }]);
    expect(await keysAfterRestart(cwd)).toEqual(["g(1,){}", "h(1,){}"]);
    const later = await run(`${TWO} const two = new Two(); const v = two.h(2); say({ h2: [v, two.lastCacheStatus] });`, { cwd, env: { ROLE: "later" } });
    expect(later.lines).toEqual([{ h2: ["h2 by later", "miss"] }]);
  });
});

