/**
 * A fold that does not complete puts back the journal it sealed, so every process goes on reading its
 * lines. When the put-back fails too, those lines are in no file another process reads: the process
 * that sealed them tries again soon, not only at its next write (which may never come).
 *
 * Real faults, real processes: the folding process runs under a file-size limit (RLIMIT_FSIZE, as a
 * quota would impose), so the new cache file cannot be written; while its fold waits on the thread
 * pool (its one thread held on a FIFO the test opens), another writer starts a new journal large
 * enough that appending the sealed lines to it passes the limit too.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CacheLog } from "../src/logger.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { setLine } from "../src/store/journal.js";
import { LocalFileStore } from "../src/store/local-file-store.js";
import { RESCAN_AFTER_MS, leftovers } from "../src/store/private-names.js";
import { tempDir } from "./helpers.js";
import { compileWithPrelude, deadPid, putKey, sleep, startFile, until, valueFor, type Started } from "./shared-store-helpers.js";

/** The folding process may write files of at most this many KiB. */
const LIMIT_KIB = 100;

const FOLDER = `
process.on("SIGXFSZ", () => {}); // past the limit a write fails with EFBIG instead of killing the process
const calc = new Calc();
for (let k = 0; k < 30; k++) calc.put("a-" + k, 1_000);
await JSONCache.flushAll(); // appended: about 31 KB, within the limit
// The thread pool's one thread waits on the FIFO until the test opens it: the fold seals the journal
// (synchronously), then waits there to write the new file.
const { readFile } = await import("node:fs");
readFile(process.env.FIFO!, () => {});
const folded = await JSONCache.compactAll();
say({ folded });
if (process.env.THEN === "compact") {
  // Once the other process has folded: a hit past the refresh interval takes on its new file, and the
  // live journal is empty; the stranded lines are still in no file.
  await waitForFile("folded-by-other");
  await sleep(1_100);
  calc.put("seed-0", 1_000);
  say({ compacted: await JSONCache.compactAll(), runs });
}
await waitForFile("done"); // alive meanwhile: a put-back tried again later is this process's
`;

/** A folder process whose fold failed and could not put back its sealed journal; this process shares the cache from before. */
async function strand(env: Record<string, string> = {}): Promise<{ cwd: string; cacheDir: string; path: string; other: LocalFileStore; folder: Started }> {
  const cwd = tempDir();
  const cacheDir = join(cwd, "data/cache");
  mkdirSync(cacheDir, { recursive: true });
  const path = join(cacheDir, "calc.json");
  const now = Date.now();
  const seed = function* (): Generator<[string, string]> {
    for (let i = 0; i < 150; i++) yield [putKey(`seed-${i}`, 1_000), entryText(valueFor(`seed-${i}`, 1_000), now, false)];
  };
  writeFileSync(path, serializeCacheFile("calc", seed(), [], now)); // 150 KB: past the folder's limit
  const fifo = join(cwd, "pool");
  execFileSync("mkfifo", [fifo]);
  // This process shares the cache from before the fold (it has no reason to list the directory again).
  const other = new LocalFileStore({ path, dataId: "calc", log: new CacheLog(false), refreshIntervalMs: 0 });
  other.load();

  const folder = startFile(compileWithPrelude(FOLDER), {
    cwd,
    env: { FIFO: fifo, UV_THREADPOOL_SIZE: "1", ...env },
    prefix: ["bash", "-c", `ulimit -S -f ${LIMIT_KIB}; exec "$0" "$@"`],
    timeoutMs: 60_000,
  });
  await until(() => readdirSync(cacheDir).some((name) => name.endsWith(".sealed")), "the folder to seal its journal");
  // Another writer starts a journal meanwhile: 95 KB, so the sealed lines cannot be appended to it.
  let lines = "";
  for (let k = 0; k < 90; k++) lines += setLine(putKey(`b-${k}`, 1_000), entryText(valueFor(`b-${k}`, 1_000), Date.now(), false));
  writeFileSync(`${path}.journal`, lines, { flag: "a" });
  writeFileSync(fifo, "go"); // the pool is free: the fold writes, fails, and cannot put back
  await folder.line((line) => "folded" in line, "the fold's end");
  expect(folder.lines).toContainEqual({ folded: false });
  // Its warning comes on the other pipe: waited for, so that what the process says later stands apart.
  await until(() => /EFBIG|too large/i.test(folder.stderr()), "the failed fold's warning");
  expect(readdirSync(cacheDir).filter((name) => name.endsWith(".sealed"))).toHaveLength(1);
  return { cwd, cacheDir, path, other, folder };
}

describe("lines a failed fold could not put back", () => {
  it("are put back soon by the process that sealed them, so the others read them without it writing again", async () => {
    const { cwd, cacheDir, path, other, folder } = await strand();
    other.refreshNow();
    expect(other.get(putKey("b-89", 1_000))).toBeDefined();
    expect(other.get(putKey("a-29", 1_000))).toBeUndefined(); // stranded in the sealed journal

    // This process folds the new journal (no file-size limit here): the way back is free again.
    expect(await other.compact()).toBe(true);
    await until(
      () => {
        other.refreshNow();
        return other.get(putKey("a-29", 1_000)) !== undefined;
      },
      "the folder to put its sealed lines back",
      10_000,
    );
    for (let k = 0; k < 30; k++) expect(other.get(putKey(`a-${k}`, 1_000)), `a-${k}`).toBeDefined();
    expect(readdirSync(cacheDir).filter((name) => name.endsWith(".sealed"))).toEqual([]);
    writeFileSync(join(cwd, "done"), "");
    const result = await folder.done;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/EFBIG|too large/i); // the failed fold was reported
    expect(existsSync(`${path}.lock`)).toBe(false);
  }, 60_000);

  it("keep compactAll() from answering that the file holds everything", async () => {
    const { cwd, other, folder } = await strand({ THEN: "compact" });
    expect(await other.compact()).toBe(true); // the live journal folded away: only the stranded lines are missing
    writeFileSync(join(cwd, "folded-by-other"), "");
    const answer = await folder.line((line) => "compacted" in line, "the folder's compactAll()");
    // Under its file-size limit the file cannot be written: the honest answer is false (not: nothing to fold).
    expect(answer).toEqual({ compacted: false, runs: 30 });
    writeFileSync(join(cwd, "done"), "");
    expect((await folder.done).code).toBe(0);
  }, 60_000);

  it("whose directory was removed meanwhile: the retries create nothing and warn of nothing", async () => {
    const { cwd, cacheDir, folder } = await strand();
    const warnedBefore = folder.stderr();
    rmSync(cacheDir, { recursive: true, force: true }); // the cache thrown away
    await sleep(3_500); // past the first two retries (1 s, then 2 s later)
    expect(existsSync(cacheDir)).toBe(false);
    writeFileSync(join(cwd, "done"), "");
    const result = await folder.done;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(warnedBefore); // no warning after the failed fold's own
  }, 60_000);
});

describe("the leftovers a process folds in", () => {
  it("a sealed journal left after this process listed the directory is found once the listing is a minute old", async () => {
    const directory = tempDir();
    const journal = join(directory, "calc.json.journal");
    const alive = () => false;
    const start = Date.now();
    expect(leftovers(journal, alive, false, start)).toEqual([]);
    // A process that died after a fold it could neither complete nor put back (it held no lock anyone takes over).
    const sealed = join(directory, `calc.json.journal.${await deadPid()}-0123456789abcdef.sealed`);
    writeFileSync(sealed, "\n");
    expect(leftovers(journal, alive, false, start + 1_000)).toEqual([]); // the listing is reused…
    expect(leftovers(journal, alive, false, start + RESCAN_AFTER_MS)).toEqual([sealed]); // …for a minute
    expect(leftovers(join(directory, "other.json.journal"), alive, false, start + RESCAN_AFTER_MS + 1)).toEqual([]);
  });
});
