/**
 * Who may take over the fold lock: only the lock of a process that is gone. Live holders keep it however
 * old the lock is; another host's lock goes by age alone.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LockUnusableError, isStale, parseOwner, tryLock } from "../src/store/file-lock.js";
import { tempDir } from "./helpers.js";

const HOUR = 3_600_000;
const lockOf = (pid: number, host = hostname(), nonce = "00ff") => JSON.stringify({ pid, host, start: "", nonce });

function deadPid(): number {
  return spawnSync("true").pid as number;
}

describe("judging a lock", () => {
  it("takes over the lock of a process that is gone, at once", () => {
    expect(isStale(lockOf(deadPid()), Date.now())).toBe(true);
  });

  it("never takes the lock of a live process, however old", () => {
    expect(isStale(lockOf(process.ppid), Date.now() - 24 * HOUR)).toBe(false);
  });

  it("takes over a lock naming this very process that it does not hold (a restarted container's pid)", () => {
    expect(isStale(lockOf(process.pid, hostname(), "not-mine"), Date.now())).toBe(true);
  });

  it("judges another host's lock by its age", () => {
    expect(isStale(lockOf(1, "another-host"), Date.now() - 5_000)).toBe(false);
    expect(isStale(lockOf(1, "another-host"), Date.now() - 2 * 60_000)).toBe(true);
  });

  it("reads the older `pid nonce` form, and takes over an unreadable lock only once it is old", () => {
    expect(parseOwner("123 abc")).toMatchObject({ pid: 123, nonce: "abc" });
    expect(isStale("garbage", Date.now())).toBe(false);
    expect(isStale("garbage", Date.now() - 60_000)).toBe(true);
  });
});

describe("taking the lock", () => {
  it("is created whole, held once, and released", () => {
    const lock = join(tempDir(), "c.json.lock");
    const held = tryLock(lock);
    expect(held).toBeDefined();
    expect(parseOwner(held?.content ?? "")).toMatchObject({ pid: process.pid, host: hostname() });
    expect(tryLock(lock)).toBeUndefined();
    expect(held?.stillHeld()).toBe(true);
    held?.release();
    expect(existsSync(lock)).toBe(false);
  });

  it("takes over a dead process's lock, and the holder it replaced can tell", () => {
    const lock = join(tempDir(), "c.json.lock");
    writeFileSync(lock, lockOf(deadPid()));
    const held = tryLock(lock);
    expect(held?.tookOver).toBe(true);
    held?.release();
  });

  it("says why when the lock path cannot be a lock, instead of waiting", () => {
    const lock = join(tempDir(), "c.json.lock");
    mkdirSync(lock);
    expect(() => tryLock(lock)).toThrow(LockUnusableError);
    expect(() => tryLock(lock)).toThrow(/directory/);
  });

  it("a lock file planted huge (1 GiB, sparse) is judged by its first 64 KiB: as any unreadable lock, kept while new, taken over once old", () => {
    const lock = join(tempDir(), "c.json.lock");
    writeFileSync(lock, "");
    truncateSync(lock, 1024 ** 3);
    // New: an unreadable lock may be a writer's that is still being written.
    expect(tryLock(lock)).toBeUndefined();
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    const held = tryLock(lock);
    expect(held).toBeDefined();
    expect(held?.stillHeld()).toBe(true);
    held?.release();
    expect(existsSync(lock)).toBe(false);
  });

  it("the holder of a lock replaced by a huge file can tell it no longer holds it", () => {
    const lock = join(tempDir(), "c.json.lock");
    const held = tryLock(lock);
    expect(held?.stillHeld()).toBe(true);
    truncateSync(lock, 1024 ** 3);
    expect(held?.stillHeld()).toBe(false);
  });
});
