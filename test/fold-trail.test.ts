/**
 * After another process's fold, a process that had read the old file follows the fold's trail (only
 * the journal lines it had not read) instead of reading the new file whole; anything that breaks the
 * chain from what it read to the file there now sends it back to reading the file whole.
 *
 * The probe: an entry whose method's TTL has passed is appended to the journal, and the folder's fold
 * leaves it out of the new file (compaction prunes expired entries). A process that follows the trail
 * has it (it read the journal line); one that read the new file whole does not.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { CacheLog } from "../src/logger.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { loadedEntry } from "../src/store/stored-entry.js";
import { LocalFileStore } from "../src/store/local-file-store.js";
import { journalIdentity, readJournalLines, sealJournal } from "../src/store/journal-file.js";
import { setLine } from "../src/store/journal.js";
import { tempDir } from "./helpers.js";
import { compileWithPrelude, putKey, startFile, until, valueFor } from "./shared-store-helpers.js";

const log = new CacheLog(false);
const DAY = 86_400_000;

/** A cache file of about 1.5 MB (past the size from which folds leave a trail); 80,000 entries: about 20 MB. */
function bigFile(path: string, entries = 6_000): void {
  const now = Date.now();
  const lines = function* (): Generator<[string, string]> {
    for (let i = 0; i < entries; i++) yield [`fill(${i},){}`, entryText("x".repeat(200), now, false)];
  };
  writeFileSync(path, serializeCacheFile("trail", lines(), [], now));
}

/** How many folds the trail beside `path` chains. */
function trailSteps(path: string): number {
  const header = JSON.parse(readFileSync(`${path}.journal.folded`, "utf8").split("\n")[0] as string) as { steps: unknown[] };
  return header.steps.length;
}

function open(path: string): LocalFileStore {
  const store = new LocalFileStore({ path, dataId: "trail", log });
  store.load();
  return store;
}

function scenario(): { path: string; folder: LocalFileStore; follower: LocalFileStore } {
  const path = join(tempDir(), "trail.json");
  bigFile(path);
  const folder = open(path);
  const follower = open(path);
  folder.noteTtl("old", DAY); // the folder prunes old()'s entries past a day
  folder.set("old(){}", loadedEntry("stale", Date.now() - 2 * DAY, false, undefined));
  folder.set("new(){}", loadedEntry("fresh", Date.now(), false, undefined));
  return { path, folder, follower };
}

describe("the trail of a fold", () => {
  it("lets a process that read the old file read only the journal lines it had not read", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true); // appended
    expect(await folder.compact()).toBe(true); // folded, without old(){} (expired)
    expect(existsSync(`${path}.journal.folded`)).toBe(true);
    follower.refresh();
    expect(follower.get("new(){}")).toBeDefined();
    expect(follower.get("old(){}")).toBeDefined(); // read from the trail, not from the file
    expect(follower.get("fill(5999,){}")).toBeDefined();
    // It now knows the new file: a later change reaches it through the new journal.
    folder.set("later(){}", loadedEntry("l", Date.now(), false, undefined));
    expect(await folder.flush()).toBe(true);
    follower.refresh();
    expect(follower.get("later(){}")).toBeDefined();
  });

  it("leaves no private file behind: the trail written ahead of the commit is renamed into place", async () => {
    const { path, folder } = scenario();
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true);
    expect(existsSync(`${path}.journal.folded`)).toBe(true);
    expect(readdirSync(dirname(path)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("without the trail, the new file is read whole (the probe entry is absent)", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true);
    rmSync(`${path}.journal.folded`);
    follower.refresh();
    expect(follower.get("new(){}")).toBeDefined();
    expect(follower.get("old(){}")).toBeUndefined();
  });

  it("a process that did not look through two folds follows both, along the chained trail", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true); // the first fold, without old(){} (expired)
    folder.set("second(){}", loadedEntry("s", Date.now(), false, undefined));
    folder.set("old2(){}", loadedEntry("stale", Date.now() - 2 * DAY, false, undefined));
    expect(await folder.flush()).toBe(true); // also the removal of old(){}, which the first fold pruned
    folder.noteTtl("old2", DAY);
    expect(await folder.compact()).toBe(true); // the second fold, without old2(){}
    expect(trailSteps(path)).toBe(2);
    follower.refresh();
    expect(follower.get("second(){}")).toBeDefined();
    expect(follower.get("old2(){}")).toBeDefined(); // from the trail's second step, not from the file
    expect(follower.get("old(){}")).toBeUndefined(); // the folder's removal, read on the way
    expect(follower.get("fill(5999,){}")).toBeDefined();
  });

  it("a chain whose later step does not hold its journal from the start is not followed past it", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true);
    folder.set("kept(){}", loadedEntry("k", Date.now(), false, undefined));
    expect(await folder.flush()).toBe(true);
    folder.set("later(){}", loadedEntry("l", Date.now(), false, undefined));
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true);
    // The second step made to start past its journal's first append (kept(){}), and its bytes cut to
    // match: lines a process arriving from the first step never read. It must not follow past them.
    const text = readFileSync(`${path}.journal.folded`);
    const base = text.indexOf(0x0a) + 1;
    const header = JSON.parse(text.subarray(0, base - 1).toString("utf8")) as { steps: { start: number; bytes: number }[] };
    expect(header.steps).toHaveLength(2);
    const [first, second] = header.steps as [{ start: number; bytes: number }, { start: number; bytes: number }];
    const secondAt = base + first.bytes - first.start;
    const cut = text.lastIndexOf(0x0a, text.indexOf("later(){}", secondAt)) - secondAt;
    expect(cut).toBeGreaterThan(0);
    second.start = cut;
    writeFileSync(`${path}.journal.folded`, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), text.subarray(base, secondAt), text.subarray(secondAt + cut)]));
    follower.refresh();
    expect(follower.get("later(){}")).toBeDefined();
    expect(follower.get("kept(){}")).toBeDefined(); // read whole
  });

  it("a trail of the earlier single-step form (version 1) is followed as a chain of one", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true);
    const text = readFileSync(`${path}.journal.folded`);
    const base = text.indexOf(0x0a) + 1;
    const { steps } = JSON.parse(text.subarray(0, base - 1).toString("utf8")) as { steps: Record<string, unknown>[] };
    expect(steps).toHaveLength(1);
    writeFileSync(`${path}.journal.folded`, Buffer.concat([Buffer.from(`${JSON.stringify({ cacherator_trail: 1, ...steps[0] })}\n`), text.subarray(base)]));
    follower.refresh();
    expect(follower.get("new(){}")).toBeDefined();
    expect(follower.get("old(){}")).toBeDefined(); // from the trail
  });

  it("a chain broken by a fold that left no trail is not followed: the file is read whole", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true);
    rmSync(`${path}.journal.folded`); // as after a fold of a file under 1 MB, or a trail that could not be written
    folder.set("old2(){}", loadedEntry("stale", Date.now() - 2 * DAY, false, undefined));
    expect(await folder.flush()).toBe(true);
    folder.noteTtl("old2", DAY);
    expect(await folder.compact()).toBe(true);
    expect(trailSteps(path)).toBe(1); // it starts anew: it does not lead from the file the follower read
    follower.refresh();
    expect(follower.get("new(){}")).toBeDefined();
    expect(follower.get("old2(){}")).toBeUndefined(); // read whole
  });

  it("a chain is followed only as far as the file at the path, and on from there later", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true); // X1, without old(){}
    linkSync(path, `${path}.x1`);
    folder.set("second(){}", loadedEntry("s", Date.now(), false, undefined));
    expect(await folder.flush()).toBe(true); // also the removal of old(){}
    expect(await folder.compact()).toBe(true); // X2
    expect(trailSteps(path)).toBe(2);
    // X1 at the path again, the very file (a rename keeps its identity): as in the moment between a
    // fold's trail and its rename.
    renameSync(path, `${path}.x2`);
    renameSync(`${path}.x1`, path);
    follower.refresh();
    expect(follower.get("old(){}")).toBeDefined(); // the first step's journal, read from the trail: not X1, which lacks it
    expect(follower.get("second(){}")).toBeUndefined(); // it did not go on to X2
    renameSync(`${path}.x2`, path);
    follower.refresh();
    expect(follower.get("second(){}")).toBeDefined();
    expect(follower.get("old(){}")).toBeUndefined(); // the second step holds the removal
  });

  it("a fold whose journal is larger than a trail keeps starts the trail anew: only a process that read its journal follows it", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true); // X1
    const near = open(path); // has read X1
    near.noteTtl("old2", DAY);
    near.set("old2(){}", loadedEntry("stale", Date.now() - 2 * DAY, false, undefined));
    expect(await near.flush()).toBe(true);
    for (let i = 0; i < 9; i++) {
      for (let k = 0; k < 10; k++) near.set(`bulk(${i},${k}){}`, loadedEntry("y".repeat(25_000), Date.now(), false, undefined));
      expect(await near.flush()).toBe(true); // 2.3 MB in all, past the 2 MB a trail of this file keeps
    }
    const reader = open(path); // reads X1 and the journal: it is at the journal's end
    expect(await near.compact()).toBe(true); // X2, without old2(){}
    expect(trailSteps(path)).toBe(1);
    follower.refresh(); // two folds behind: the chain does not reach back
    expect(follower.get("bulk(8,9){}")).toBeDefined();
    expect(follower.get("old2(){}")).toBeUndefined(); // read whole
    reader.refresh(); // one fold behind, at the journal's end: it follows
    expect(reader.get("old2(){}")).toBeDefined();
  });

  it("a trail chains at most 8 folds: a process further behind reads the file whole, one within them follows", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true); // the first of nine folds: its step is dropped at the ninth
    const within = open(path); // has read the first fold's file
    within.noteTtl("probe", DAY);
    for (let fold = 2; fold <= 9; fold++) {
      folder.set(`f${fold}(){}`, loadedEntry("v", Date.now(), false, undefined));
      if (fold === 2) folder.set("probe(){}", loadedEntry("stale", Date.now() - 2 * DAY, false, undefined));
      expect(await folder.flush()).toBe(true);
      if (fold === 9) folder.noteTtl("probe", DAY); // only the last fold prunes it
      expect(await folder.compact()).toBe(true);
    }
    expect(trailSteps(path)).toBe(8);
    follower.refresh(); // nine folds behind
    expect(follower.get("f9(){}")).toBeDefined();
    expect(follower.get("probe(){}")).toBeUndefined(); // read whole
    within.refresh(); // eight folds behind
    expect(within.get("f9(){}")).toBeDefined();
    expect(within.get("probe(){}")).toBeDefined(); // followed: read from the trail
  });

  it("a process further behind than the trail reaches reads the file whole", async () => {
    const { path, folder, follower } = scenario();
    // More than the trail keeps (2 MB) appended before the fold, none of it read by the follower.
    for (let i = 0; i < 9; i++) {
      for (let k = 0; k < 40; k++) folder.set(`bulk(${i},${k}){}`, loadedEntry("y".repeat(25_000), Date.now(), false, undefined));
      expect(await folder.flush()).toBe(true);
    }
    expect(await folder.compact()).toBe(true);
    expect(existsSync(`${path}.journal.folded`)).toBe(true);
    follower.refresh();
    expect(follower.get("bulk(8,39){}")).toBeDefined();
    expect(follower.get("old(){}")).toBeUndefined(); // the trail did not reach back to it: read whole
  });

  it("a process that made no call while more than the trail keeps was appended still follows it: it read the journal in the background", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true); // old(){} and new(){}
    // Another process appends 9 MB (as its misses would), past what a trail keeps, and folds only later.
    for (let i = 0; i < 9; i++) {
      let lines = "";
      for (let k = 0; k < 40; k++) lines += setLine(`bulk(${i},${k}){}`, entryText("y".repeat(25_000), Date.now(), false));
      appendFileSync(`${path}.journal`, lines);
    }
    // No call, no look in the follower: its journal is read in the background (once a second).
    await until(() => follower.get("bulk(8,39){}") !== undefined, "the follower to read the journal in the background", 10_000);
    expect(follower.get("old(){}")).toBeDefined();
    const other = open(path);
    other.noteTtl("old", DAY); // its fold prunes old()'s entries past a day
    expect(await other.compact()).toBe(true);
    expect(existsSync(`${path}.journal.folded`)).toBe(true);
    follower.refreshNow();
    expect(follower.get("bulk(8,39){}")).toBeDefined();
    expect(follower.get("old(){}")).toBeDefined(); // the trail was followed: the new file was not read whole
  });

  it("a process that makes no call through two folds follows both trails: the first in the background, with the journal after it", async () => {
    const { folder, follower } = scenario();
    expect(await folder.flush()).toBe(true); // old(){} and new(){}
    await until(() => follower.get("new(){}") !== undefined, "the follower to read the journal in the background", 10_000);
    expect(await folder.compact()).toBe(true); // the first fold, without old(){} (expired)
    // Appended after the first fold, to the journal that fold started: the follower still makes no call.
    folder.set("old2(){}", loadedEntry("stale", Date.now() - 2 * DAY, false, undefined));
    folder.set("later(){}", loadedEntry("l", Date.now(), false, undefined));
    expect(await folder.flush()).toBe(true);
    // In the background it follows the first fold's trail to the new file, then reads that file's journal.
    // (Without it, nothing but a look would read "later", and that look would read the new file whole.)
    await until(() => follower.get("later(){}") !== undefined, "the follower to follow the fold in the background", 10_000);
    expect(follower.get("old(){}")).toBeUndefined(); // the folder's removal of what its fold pruned reached it too
    folder.noteTtl("old2", DAY);
    expect(await folder.compact()).toBe(true); // the second fold, without old2(){}
    follower.refreshNow();
    // The second trail leads from the file of the first fold, which the follower took on in the background.
    expect(follower.get("old2(){}")).toBeDefined();
    expect(follower.get("later(){}")).toBeDefined();
    expect(follower.get("fill(5999,){}")).toBeDefined();
  });

  it("the trail of a large file keeps an eighth of its size: a reader 2.3 MB behind a 20 MB file's fold follows it", async () => {
    const path = join(tempDir(), "eighth.json");
    bigFile(path, 80_000);
    const follower = open(path);
    // Another process appends, unread by the follower (no call, and no turn of the event loop for its background reading).
    let lines = setLine("old(){}", entryText("stale", Date.now() - 2 * DAY, false));
    for (let k = 0; k < 90; k++) lines += setLine(`bulk(${k}){}`, entryText("y".repeat(25_000), Date.now(), false));
    appendFileSync(`${path}.journal`, lines);
    const folder = open(path);
    folder.noteTtl("old", DAY); // its fold prunes old(){}
    expect(await folder.compact()).toBe(true);
    follower.refreshNow();
    expect(follower.get("bulk(89){}")).toBeDefined();
    expect(follower.get("old(){}")).toBeDefined(); // from the trail (2.3 MB, past the 2 MB a trail kept before)
  });
});

/** A directory whose `data/cache/calc.json` holds 1,500 entries of `put("seed-<i>", 1000)`: 1.5 MB, past the size from which folds leave a trail. */
function seededCalc(): string {
  const cwd = tempDir();
  mkdirSync(join(cwd, "data/cache"), { recursive: true });
  const now = Date.now();
  const seed = function* (): Generator<[string, string]> {
    for (let i = 0; i < 1_500; i++) yield [putKey(`seed-${i}`, 1_000), entryText(valueFor(`seed-${i}`, 1_000), now, false)];
  };
  writeFileSync(join(cwd, "data/cache/calc.json"), serializeCacheFile("calc", seed(), [], now));
  return cwd;
}

describe("the trail between real processes", () => {
  it("a process that makes no call while another folds and appends follows the fold in the background, and its next call is a hit", async () => {
    const cwd = seededCalc();
    // The idle process: no cached call, only a look at what it holds (no read), until the last entry the other saved is there.
    const idle = startFile(
      compileWithPrelude(`
        const calc = new Calc();
        mark("opened");
        const key = ${JSON.stringify(putKey("after-199", 1_000))};
        const end = Date.now() + 15_000;
        while (!(key in calc.cacheStatus) && Date.now() < end) await sleep(50);
        const seen = key in calc.cacheStatus;
        mark("looked");
        calc.put("before", 1_000);
        calc.put("after-199", 1_000);
        say({ seen, runs });
      `),
      { cwd, timeoutMs: 60_000 },
    );
    await until(() => existsSync(join(cwd, "opened")), "the idle process to open the cache");
    // The other stays alive until then: its exit folds again, leaving the next trail in place of this one.
    const other = await startFile(
      compileWithPrelude(`
        const calc = new Calc();
        calc.put("before", 1_000);
        if (!(await calc.jsonCacheSave())) throw new Error("save failed");
        await JSONCache.compactAll(); // the fold: its trail holds "before"
        for (let k = 0; k < 200; k++) calc.put("after-" + k, 1_000); // appended to the journal the fold started
        await JSONCache.flushAll();
        say({ runs });
        await waitForFile("looked");
      `),
      { cwd, timeoutMs: 60_000 },
    ).done;
    expect(other.stderr).toBe("");
    expect(other.lines).toEqual([{ runs: 201 }]);
    const result = await idle.done;
    expect(result.stderr).toBe("");
    // Seen without a call (it followed the fold and read the new journal in the background); both calls were hits.
    expect(result.lines).toEqual([{ seen: true, runs: 0 }]);
  }, 90_000);

  it("a server that did not look while two short-lived writers folded at their exits follows both folds on its next call", async () => {
    const cwd = seededCalc();
    const file = join(cwd, "data/cache/calc.json");
    const server = startFile(
      compileWithPrelude(`
        const calc = new Calc();
        mark("opened");
        // No turn of the event loop from here on: nothing is read in the background while the others write and fold.
        const flag = new Int32Array(new SharedArrayBuffer(4));
        while (!existsSync("go")) Atomics.wait(flag, 0, 0, 20);
        const before = runs;
        calc.put("sEEd-7", 1_000);
        const ranForRenamed = runs - before;
        calc.put("seed-7", 1_000);
        for (let k = 0; k < 20; k++) { calc.put("w1-" + k, 1_000); calc.put("w2-" + k, 1_000); }
        say({ ranForRenamed, runs: runs - before });
      `),
      { cwd, timeoutMs: 60_000 },
    );
    await until(() => existsSync(join(cwd, "opened")), "the server to open the cache");
    for (const name of ["w1", "w2"]) {
      const writer = await startFile(compileWithPrelude(`const calc = new Calc(); for (let k = 0; k < 20; k++) calc.put("${name}-" + k, 1_000); say({ runs });`), { cwd }).done;
      expect(writer.stderr).toBe("");
      expect(writer.lines).toEqual([{ runs: 20 }]);
    }
    // Each exit folded: the trail chains both folds.
    const header = JSON.parse(readFileSync(`${file}.journal.folded`, "utf8").split("\n")[0] as string) as { steps: unknown[] };
    expect(header.steps).toHaveLength(2);
    // The probe: one entry's key changed in the file in place, the file's identity (inode, size, mtime,
    // birth time) kept. A process that reads the file whole finds "sEEd-7" and no "seed-7"; one that
    // follows the trail never reads the file, and holds "seed-7" as it read it at its open.
    const identity = () => {
      const stat = statSync(file, { bigint: true });
      return [stat.ino, stat.size, stat.mtimeNs, stat.birthtimeNs].join(":");
    };
    const was = identity();
    const mtime = statSync(file, { bigint: true }).mtimeNs;
    const text = readFileSync(file);
    const at = text.indexOf(JSON.stringify(putKey("seed-7", 1_000)));
    expect(at).toBeGreaterThan(0);
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.from(JSON.stringify(putKey("sEEd-7", 1_000))), 0, undefined, at);
    closeSync(fd);
    execFileSync("touch", ["-m", "-d", `@${mtime / 1_000_000_000n}.${String(mtime % 1_000_000_000n).padStart(9, "0")}`, file]);
    expect(identity()).toBe(was);
    writeFileSync(join(cwd, "go"), "");
    const result = await server.done;
    expect(result.stderr).toBe("");
    // It followed both folds: "sEEd-7" is unknown to it (a miss), "seed-7" and every writer's entry are hits.
    expect(result.lines).toEqual([{ ranForRenamed: 1, runs: 1 }]);
  }, 90_000);

  it("two processes folding a 1.5 MB cache in turn while writing: every saved entry is in the file, and each sees the other's", async () => {
    const cwd = seededCalc();
    const writer = (name: string) =>
      compileWithPrelude(`
        const calc = new Calc();
        for (let round = 0; round < 15; round++) {
          for (let k = 0; k < 10; k++) calc.put("${name}-" + round + "-" + k, 500);
          if (!(await calc.jsonCacheSave())) throw new Error("save failed");
          await JSONCache.compactAll();
        }
        say({ done: "${name}" });
        // Wait for the other, then every one of its entries must be a hit here.
        await waitForFile("${name === "a" ? "b" : "a"}.done");
        mark("${name}.done");
        await sleep(1_100); // one refresh interval
        const before = runs;
        for (let round = 0; round < 15; round++) for (let k = 0; k < 10; k++) calc.put("${name === "a" ? "b" : "a"}-" + round + "-" + k, 500);
        say({ ranForOther: runs - before });
      `);
    const files = [writer("a"), writer("b")];
    const [a, b] = files.map((file) => startFile(file, { cwd, timeoutMs: 90_000 }));
    await until(() => (a?.lines.length ?? 0) > 0 && (b?.lines.length ?? 0) > 0, "both writers done", 60_000);
    writeFileSync(join(cwd, "a.done"), "");
    writeFileSync(join(cwd, "b.done"), "");
    const [ra, rb] = await Promise.all([a?.done, b?.done]);
    expect(ra?.stderr).toBe("");
    expect(rb?.stderr).toBe("");
    expect(ra?.lines).toEqual([{ done: "a" }, { ranForOther: 0 }]);
    expect(rb?.lines).toEqual([{ done: "b" }, { ranForOther: 0 }]);
    // A fresh reader of the file alone (as the Python library) finds every saved entry after a compaction.
    const final = await startFile(compileWithPrelude(`await JSONCache.compactAll(); say({ ok: true });`), { cwd }).done;
    expect(final.lines).toEqual([{ ok: true }]);
    const keys = Object.keys((JSON.parse(readFileSync(join(cwd, "data/cache/calc.json"), "utf8")) as { _json_cache_func_cache: object })._json_cache_func_cache);
    for (const name of ["a", "b"]) for (let round = 0; round < 15; round++) for (let k = 0; k < 10; k++) expect(keys).toContain(putKey(`${name}-${round}-${k}`, 500));
    expect(keys).toContain(putKey("seed-1499", 1_000));
  }, 120_000);
});

describe("a fold under way", () => {
  it("a miss while another process's fold is under way sees what that process appended before the fold sealed the journal", async () => {
    const directory = tempDir();
    const path = join(directory, "sealed.json");
    writeFileSync(path, serializeCacheFile("sealed", [["a(1,){}", entryText("a", Date.now(), false)]], [], Date.now()));
    const writer = open(path);
    const reader = open(path);
    writer.set("b(1,){}", loadedEntry("b", Date.now(), false, undefined));
    expect(await writer.flush()).toBe(true);
    reader.refreshOnMiss(); // reads the journal: b(1)
    expect(reader.get("b(1,){}")).toBeDefined();
    // The writer publishes a result (a lease holder, say), then its fold starts: the lock taken, the
    // journal sealed, the new file not yet in place.
    writer.set("c(1,){}", loadedEntry("c", Date.now(), false, undefined));
    expect(await writer.flush()).toBe(true);
    writeFileSync(`${path}.lock`, "{}");
    const sealed = sealJournal(`${path}.journal`);
    expect(sealed).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 2)); // another millisecond: a miss looks again
    reader.refreshOnMiss();
    expect(reader.get("c(1,){}")).toBeDefined();
    // Lines appended after the seal, to a new journal, are read too; nothing is read twice.
    writer.set("d(1,){}", loadedEntry("d", Date.now(), false, undefined));
    expect(await writer.flush()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2));
    reader.refreshOnMiss();
    expect(reader.get("d(1,){}")).toBeDefined();
    expect(reader.size).toBe(4);
    rmSync(`${path}.lock`);
  });

  /** Another process's second fold starts (lock taken, journal sealed) before this process looked at the first one's file. */
  function secondFoldStarts(path: string): string {
    writeFileSync(`${path}.lock`, "{}");
    const sealed = sealJournal(`${path}.journal`);
    expect(sealed).toBeDefined();
    return sealed as string;
  }

  it("a look that finds the file replaced by one fold while the next fold is under way reads what that next fold sealed (a small file, read whole)", async () => {
    const path = join(tempDir(), "twofolds.json");
    writeFileSync(path, serializeCacheFile("twofolds", [["a(1,){}", entryText("a", Date.now(), false)]], [], Date.now()));
    const writer = open(path);
    const reader = open(path);
    writer.set("b(1,){}", loadedEntry("b", Date.now(), false, undefined));
    expect(await writer.compact()).toBe(true); // fold 1: the file the reader read is replaced
    // A lease holder publishes its result, then fold 2 seals the journal holding it.
    writer.set("result(1,){}", loadedEntry("r", Date.now(), false, undefined));
    expect(await writer.flush()).toBe(true);
    secondFoldStarts(path);
    reader.refreshNow(); // a waiter's look after the holder released
    expect(reader.get("result(1,){}")).toBeDefined();
    expect(reader.get("b(1,){}")).toBeDefined();
    rmSync(`${path}.lock`);
  });

  it("the same with a large file, whose first fold's trail the look follows", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true);
    expect(existsSync(`${path}.journal.folded`)).toBe(true);
    // The result comes from a third process (the folder's own appends may remove old(){}, expired).
    const holder = open(path);
    holder.set("result(1,){}", loadedEntry("r", Date.now(), false, undefined));
    expect(await holder.flush()).toBe(true);
    secondFoldStarts(path);
    follower.refreshNow();
    expect(follower.get("result(1,){}")).toBeDefined();
    expect(follower.get("old(){}")).toBeDefined(); // the trail was followed, not the file read whole
    rmSync(`${path}.lock`);
  });

  it("a process's own saved entry, in a journal sealed by a fold under way, stays in its memory when it reads another fold's file whole", async () => {
    const path = join(tempDir(), "own.json");
    writeFileSync(path, serializeCacheFile("own", [["a(1,){}", entryText("a", Date.now(), false)]], [], Date.now()));
    const writer = open(path);
    const reader = open(path);
    writer.set("b(1,){}", loadedEntry("b", Date.now(), false, undefined));
    expect(await writer.compact()).toBe(true);
    reader.set("mine(1,){}", loadedEntry("m", Date.now(), false, undefined));
    expect(await reader.flush()).toBe(true);
    const sealed = secondFoldStarts(path);
    expect(readFileSync(sealed, "utf8")).toContain("mine(1,)");
    reader.refreshNow();
    expect(reader.get("mine(1,){}")).toBeDefined();
    expect(reader.get("b(1,){}")).toBeDefined();
    rmSync(`${path}.lock`);
  });

  it("a process that opens the cache while a fold is under way sees what that fold sealed (open and async open)", async () => {
    const { path, folder } = scenario(); // 1.5 MB: the async open reads it in parts
    const holder = open(path);
    holder.set("result(1,){}", loadedEntry("r", Date.now(), false, undefined));
    expect(await holder.flush()).toBe(true);
    expect(await folder.flush()).toBe(true);
    secondFoldStarts(path);
    const opened = open(path);
    expect(opened.get("result(1,){}")).toBeDefined();
    expect(opened.get("new(){}")).toBeDefined();
    const openedAsync = new LocalFileStore({ path, dataId: "trail", log });
    await openedAsync.loadAsync();
    expect(openedAsync.get("result(1,){}")).toBeDefined();
    expect(openedAsync.get("new(){}")).toBeDefined();
    rmSync(`${path}.lock`);
  });

  it("after the next fold commits, the look that saw it under way follows its trail from where it read the sealed journal", async () => {
    const { path, folder, follower } = scenario();
    expect(await folder.flush()).toBe(true);
    expect(await folder.compact()).toBe(true); // fold 1
    // More than the trail keeps goes into the journal before fold 2, from a third process (the folder's
    // own appends may remove old(){}, expired); the follower has read none of it.
    const writer = open(path);
    for (let i = 0; i < 9; i++) {
      for (let k = 0; k < 40; k++) writer.set(`bulk(${i},${k}){}`, loadedEntry("y".repeat(25_000), Date.now(), false, undefined));
      expect(await writer.flush()).toBe(true);
    }
    // Fold 2 is the writer's, which never had old(){} (the folder's pending removal of it would reach the journal).
    let done = false;
    const folding = writer.compact().finally(() => {
      done = true;
    });
    let lookedMidFold = false;
    while (!done) {
      if (!lookedMidFold && existsSync(`${path}.lock`) && !existsSync(`${path}.journal`)) {
        follower.refreshNow(); // follows fold 1's trail, then reads fold 2's sealed journal whole
        lookedMidFold = true;
        expect(follower.get("bulk(8,39){}")).toBeDefined();
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await folding).toBe(true);
    expect(lookedMidFold).toBe(true);
    follower.refreshNow();
    expect(follower.get("bulk(8,39){}")).toBeDefined();
    expect(follower.get("old(){}")).toBeDefined(); // fold 2's trail followed: its file not read whole
  });

  it("a process that looked while the fold was under way (and read the sealed journal's rest) still follows the fold's trail after it", async () => {
    const { path, folder, follower } = scenario();
    // More than the trail keeps (2 MB) goes through the journal, the follower reading it as it comes:
    // the trail starts past the journal's beginning, so only a process that knows how far it read can follow it.
    for (let i = 0; i < 9; i++) {
      for (let k = 0; k < 40; k++) folder.set(`bulk(${i},${k}){}`, loadedEntry("y".repeat(25_000), Date.now(), false, undefined));
      expect(await folder.flush()).toBe(true);
      follower.refreshNow();
    }
    expect(follower.get("old(){}")).toBeDefined();
    folder.set("late(){}", loadedEntry("l", Date.now(), false, undefined));
    expect(await folder.flush()).toBe(true); // not read by the follower before the fold seals the journal
    let done = false;
    const folding = folder.compact().finally(() => {
      done = true;
    });
    // While the fold is under way (journal sealed, lock held, file not yet replaced), the follower looks, as a miss does.
    let lookedMidFold = false;
    while (!done) {
      if (!lookedMidFold && existsSync(`${path}.lock`) && !existsSync(`${path}.journal`)) {
        follower.refreshNow();
        lookedMidFold = true;
        expect(follower.get("late(){}")).toBeDefined(); // from the sealed journal's rest
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await folding).toBe(true);
    expect(lookedMidFold).toBe(true);
    expect(existsSync(`${path}.journal.folded`)).toBe(true);
    follower.refreshNow();
    expect(follower.get("late(){}")).toBeDefined();
    expect(follower.get("bulk(8,39){}")).toBeDefined();
    expect(follower.get("old(){}")).toBeDefined(); // the trail was followed: the new file was not read whole
  });

  it("a journal shorter than what this process read of it (truncated under it) is read again from its start, on the fast path too", async () => {
    const path = join(tempDir(), "shorter.json");
    writeFileSync(path, serializeCacheFile("shorter", [["a(1,){}", entryText("a", Date.now(), false)]], [], Date.now()));
    const writer = open(path);
    const reader = open(path);
    for (let i = 0; i < 5; i++) writer.set(`b(${i},){}`, loadedEntry("b".repeat(200), Date.now(), false, undefined));
    expect(await writer.flush()).toBe(true);
    reader.refreshNow();
    expect(reader.get("b(4,){}")).toBeDefined();
    const identity = journalIdentity(`${path}.journal`).identity;
    // Another program empties the journal in place, and a short line follows: same file, fewer bytes than read.
    truncateSync(`${path}.journal`, 0);
    appendFileSync(`${path}.journal`, `\n${setLine("c(1,){}", entryText("c", Date.now(), false))}`);
    expect(journalIdentity(`${path}.journal`).identity).toBe(identity);
    await new Promise((resolve) => setTimeout(resolve, 2));
    reader.refreshNow(); // within refreshInterval: the fast path (one lstat) first
    expect(reader.get("c(1,){}")).toBeDefined();
  });

  it("a journal named by its identity is read only if it is that journal (sealed and replaced between the look and the read)", () => {
    const path = join(tempDir(), "offset.json.journal");
    appendFileSync(path, setLine("a(1,){}", entryText("a", Date.now(), false)));
    const known = journalIdentity(path).identity;
    const offset = journalIdentity(path).size;
    // A fold seals it, and a new journal starts with another process's line.
    expect(sealJournal(path)).toBeDefined();
    appendFileSync(path, setLine("b(1,){}", entryText("b", Date.now(), false)) + setLine("c(1,){}", entryText("c", Date.now(), false)));
    const read: string[] = [];
    expect(readJournalLines(path, offset, (line) => read.push(line), undefined, known)).toBe(offset);
    expect(read).toEqual([]);
    // Nor from its start: the caller would take the offset returned for the journal it looked at.
    expect(readJournalLines(path, 0, (line) => read.push(line), undefined, known)).toBe(0);
    expect(read).toEqual([]);
    // The journal there now, named as such (or not named), is read.
    expect(readJournalLines(path, 0, (line) => read.push(line), undefined, journalIdentity(path).identity)).toBe(journalIdentity(path).size);
    expect(read).toHaveLength(2);
  });

  it("a process that meets a new journal while a fold is under way looks at the file again until the fold is done", async () => {
    const directory = tempDir();
    const path = join(directory, "midfold.json");
    const now = Date.now();
    writeFileSync(path, serializeCacheFile("midfold", [["a(1,){}", entryText("old", now - 10, false)]], [], now));
    const reader = open(path);
    expect(reader.get("a(1,){}")).toBeDefined();
    // Another process starts a fold: it holds the lock and has sealed the journal.
    writeFileSync(`${path}.lock`, "{}");
    if (existsSync(`${path}.journal`)) rmSync(`${path}.journal`);
    // This process appends meanwhile (a new journal) and looks, as a miss does.
    reader.set("b(1,){}", loadedEntry("b", Date.now(), false, undefined));
    expect(await reader.flush()).toBe(true);
    reader.refreshOnMiss();
    // The fold ends: a(1) was cleared in the file it wrote; the lock goes.
    const tmp = `${path}.tmp-test`;
    writeFileSync(tmp, serializeCacheFile("midfold", [], [], Date.now(), { clears: new Map([["a", now]]) }));
    renameSync(tmp, path);
    rmSync(`${path}.lock`);
    await new Promise((resolve) => setTimeout(resolve, 5));
    reader.refreshOnMiss(); // within refreshInterval: only the journal would be looked at, were no fold seen under way
    expect(reader.get("a(1,){}")).toBeUndefined();
    expect(reader.get("b(1,){}")).toBeDefined();
  });
});
