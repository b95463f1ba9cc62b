/**
 * A lock file beside a cache file, so that processes sharing one cache take turns to merge and write
 * it. The lock is created exclusively (O_EXCL) and names its owner's pid. A lock whose process is gone,
 * or that is older than `STALE_MS`, is taken over, so a process killed while writing blocks nobody.
 */
import * as fs from "node:fs";
import { randomBytes } from "node:crypto";

const STALE_MS = 30_000;
/** Past this, a lock is taken over even from a live process: a write never takes this long. */
const MAX_WAIT_MS = 10_000;

export async function withFileLock<T>(lockPath: string, work: () => Promise<T>): Promise<T> {
  const token = newToken();
  const start = Date.now();
  while (!tryCreate(lockPath, token)) {
    if (isStale(lockPath, false) || Date.now() - start > MAX_WAIT_MS) {
      removeLock(lockPath);
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8));
  }
  try {
    return await work();
  } finally {
    release(lockPath, token);
  }
}

/**
 * The synchronous form, for process exit. A lock held by this very process belongs to a write the exit
 * has abandoned, so it is taken over at once.
 */
export function withFileLockSync<T>(lockPath: string, work: () => T, maxWaitMs = 2_000): T {
  const token = newToken();
  const start = Date.now();
  while (!tryCreate(lockPath, token)) {
    if (isStale(lockPath, true) || Date.now() - start > maxWaitMs) {
      removeLock(lockPath);
      continue;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
  try {
    return work();
  } finally {
    release(lockPath, token);
  }
}

/**
 * One attempt, without waiting: runs `work` under the lock if it is free (or stale) and returns true,
 * else returns false at once. For work that can be skipped while another process holds the lock.
 */
export function tryWithFileLockSync(lockPath: string, work: () => void): boolean {
  const token = newToken();
  if (!tryCreate(lockPath, token)) {
    if (!isStale(lockPath, false)) return false;
    removeLock(lockPath);
    if (!tryCreate(lockPath, token)) return false;
  }
  try {
    work();
  } finally {
    release(lockPath, token);
  }
  return true;
}

function newToken(): string {
  return `${process.pid} ${randomBytes(6).toString("hex")}`;
}

/** Creates the lock; false if it exists. Other errors (a missing directory…) are thrown. */
function tryCreate(lockPath: string, token: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    fs.writeSync(fd, token);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function isStale(lockPath: string, ownPidIsStale: boolean): boolean {
  let content: string;
  let age: number;
  try {
    content = fs.readFileSync(lockPath, "utf8");
    age = Date.now() - fs.statSync(lockPath).mtimeMs;
  } catch {
    return false; // gone already: the next attempt may succeed
  }
  if (age > STALE_MS) return true;
  const pid = Number.parseInt(content, 10);
  if (!Number.isInteger(pid)) return age > 1_000; // its creator died before writing its pid
  if (pid === process.pid) return ownPidIsStale;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

function removeLock(lockPath: string): void {
  try {
    fs.rmSync(lockPath, { force: true });
  } catch {
    // Another process removed or replaced it first; the next attempt sorts it out.
  }
}

/** Removes the lock if it is still ours (it may have been taken over as stale). */
function release(lockPath: string, token: string): void {
  try {
    if (fs.readFileSync(lockPath, "utf8") === token) fs.rmSync(lockPath, { force: true });
  } catch {
    // Already gone.
  }
}
