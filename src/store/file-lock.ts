/**
 * The lock file beside a cache file, `<file>.lock`, held by the one process that folds the journal into
 * the cache file (compaction). Appends to the journal need no lock (journal-writer.ts), so nothing but a
 * compaction ever waits for it, and nobody waits long: a busy lock means "append instead".
 *
 * Invariants:
 * - A lock is created whole or not at all: its content is written to a private temporary file that is
 *   then hard-linked to the lock path (link fails if the path exists, and never follows a symlink).
 * - A lock of a live process is never taken, however long it is held: a holder whose event loop is
 *   busy, or that is stopped (SIGSTOP, a debugger), keeps it. Only a dead holder's lock is taken over:
 *   its pid no longer exists on this host, or runs another program (the process start time differs),
 *   or it names this very process but a lock this process does not hold (a container restarted with
 *   the same pid). A lock of another host (a shared volume) is judged by age alone.
 * - A stale lock is taken over by exactly one process: it is renamed aside (atomic), and only if what
 *   was renamed is the lock judged stale is it removed; a live lock moved by mistake is linked back.
 * - A holder checks that the lock is still its own right before it commits (`stillHeld`), so even a
 *   lock removed by hand cannot make it replace newer data.
 * - Nothing here spins: a lock that cannot be created, read or removed (a directory at its path, a
 *   directory this user may not write) is an error with a reason, and waits yield to the event loop.
 */
import * as fs from "node:fs";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { privateName } from "./private-names.js";
import { readRegularTextSync } from "./regular-file.js";

/** A lock of another host is taken over after this long without change. */
const FOREIGN_STALE_MS = 60_000;
/** A lock that cannot be parsed (an older version's, or damaged) is taken over after this long. */
const UNREADABLE_STALE_MS = 5_000;
/**
 * A lock is a line of JSON; only this much of one is read. A lock file planted huge is judged as any
 * unreadable one (stale once old), instead of being read whole (past V8's string limit, never).
 */
export const LOCK_READ_BYTES = 64 * 1024;

export interface LockOwner {
  pid: number;
  host: string;
  start: string;
  nonce: string;
}

/** The lock cannot be used at all (not merely busy); the message says why and what to do. */
export class LockUnusableError extends Error {
  constructor(
    readonly lockPath: string,
    reason: string,
  ) {
    super(`the lock file ${lockPath} cannot be used: ${reason}`);
  }
}

const HOST = hostname();
let ownStart: string | undefined;
/** Nonces of the locks this process holds now. */
const heldNonces = new Set<string>();

export class HeldLock {
  #released = false;
  /** The lock was taken over from a dead holder, which may have left work half done beside it. */
  tookOver = false;
  constructor(
    readonly lockPath: string,
    readonly content: string,
    private readonly nonce: string,
  ) {}

  /** Whether the lock file is still this one: checked right before a commit. */
  stillHeld(): boolean {
    if (this.#released) return false;
    try {
      return readRegularTextSync(this.lockPath, fs.constants.O_NOFOLLOW, LOCK_READ_BYTES) === this.content;
    } catch {
      return false;
    }
  }

  release(): void {
    if (this.#released) return;
    const mine = this.stillHeld();
    this.#released = true;
    heldNonces.delete(this.nonce);
    if (mine) removeQuietly(this.lockPath);
  }
}

/**
 * What a lock of another kind (a lease, ../lease-file.ts) adds: fields written beside the owner, and
 * its own judgement of a current holder's lock (e.g. one that has also expired).
 */
export interface LockKind {
  fields?: Record<string, unknown>;
  isStale?: (text: string, mtimeMs: number) => boolean;
}

/**
 * One attempt, taking over a dead holder's lock: the lock, or `undefined` when a live process holds it.
 * @throws {LockUnusableError} when the lock can be neither created nor judged.
 */
export function tryLock(lockPath: string, mode = 0o600, kind: LockKind = {}): HeldLock | undefined {
  let tookOver = false;
  const stale = kind.isStale ?? isStale;
  for (let attempt = 0; attempt < 3; attempt++) {
    const held = tryCreate(lockPath, mode, kind.fields);
    if (held !== undefined) {
      held.tookOver = tookOver;
      return held;
    }
    const current = readLock(lockPath);
    if (current === undefined) continue; // released meanwhile: try again at once
    if (!stale(current.text, current.mtimeMs)) return undefined;
    takeOver(lockPath, current.text);
    tookOver = true;
  }
  return undefined;
}

/** Tries for up to `waitMs`, yielding between attempts; `undefined` if the lock stayed busy. */
export async function lock(lockPath: string, waitMs: number, mode = 0o600): Promise<HeldLock | undefined> {
  const until = Date.now() + waitMs;
  for (;;) {
    const held = tryLock(lockPath, mode);
    if (held !== undefined || Date.now() >= until) return held;
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
  }
}

/** The synchronous form, for process exit: blocks for up to `waitMs`. */
export function lockSync(lockPath: string, waitMs: number, mode = 0o600): HeldLock | undefined {
  const until = Date.now() + waitMs;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const held = tryLock(lockPath, mode);
    if (held !== undefined || Date.now() >= until) return held;
    Atomics.wait(sleeper, 0, 0, 5);
  }
}

/** Creates the lock whole, by linking a private file to its path; `undefined` if it exists. */
function tryCreate(lockPath: string, mode: number, fields?: Record<string, unknown>): HeldLock | undefined {
  const nonce = randomBytes(8).toString("hex");
  const owner: LockOwner = { pid: process.pid, host: HOST, start: processStart(process.pid) ?? "", nonce };
  const content = JSON.stringify({ ...owner, ...fields });
  const staging = join(dirname(lockPath), privateName(basename(lockPath), "new"));
  try {
    fs.writeFileSync(staging, content, { flag: "wx", mode });
  } catch (error) {
    removeQuietly(staging);
    throw new LockUnusableError(lockPath, `${describe(error)}; check that the cache directory exists and is writable`);
  }
  try {
    fs.linkSync(staging, lockPath);
  } catch (error) {
    if (code(error) === "EEXIST") return undefined;
    throw new LockUnusableError(lockPath, describe(error));
  } finally {
    removeQuietly(staging);
  }
  heldNonces.add(nonce);
  return new HeldLock(lockPath, content, nonce);
}

function readLock(lockPath: string): { text: string; mtimeMs: number } | undefined {
  try {
    const stat = fs.lstatSync(lockPath);
    if (!stat.isFile()) throw new LockUnusableError(lockPath, `it is not a regular file (a ${stat.isDirectory() ? "directory" : "symbolic link or special file"}); remove it`);
    return { text: readRegularTextSync(lockPath, fs.constants.O_NOFOLLOW, LOCK_READ_BYTES), mtimeMs: stat.mtimeMs };
  } catch (error) {
    if (error instanceof LockUnusableError) throw error;
    if (code(error) === "ENOENT") return undefined;
    throw new LockUnusableError(lockPath, describe(error));
  }
}

/** Whether a lock with this content (modified at `mtimeMs`) belongs to no live process. */
export function isStale(text: string, mtimeMs: number, now = Date.now()): boolean {
  const owner = parseOwner(text);
  if (owner === undefined) return now - mtimeMs > UNREADABLE_STALE_MS;
  if (owner.host !== HOST) return now - mtimeMs > FOREIGN_STALE_MS;
  if (owner.pid === process.pid) return !heldNonces.has(owner.nonce);
  if (!isAlive(owner.pid)) return true;
  // The pid is in use: by the holder, or by a newer process that got the number of a dead one.
  const start = processStart(owner.pid);
  return owner.start !== "" && start !== undefined && start !== owner.start;
}

/** Parses a lock's content; an older version wrote `"<pid> <nonce>"`. */
export function parseOwner(text: string): LockOwner | undefined {
  try {
    const data = JSON.parse(text) as Partial<LockOwner>;
    if (typeof data.pid === "number" && typeof data.host === "string") {
      return { pid: data.pid, host: data.host, start: typeof data.start === "string" ? data.start : "", nonce: String(data.nonce ?? "") };
    }
    return undefined;
  } catch {
    const match = /^(\d+) (\S+)$/.exec(text);
    return match ? { pid: Number(match[1]), host: HOST, start: "", nonce: match[2] as string } : undefined;
  }
}

/**
 * Removes a stale lock so that exactly one process does: the lock is renamed to a private name; if
 * what was moved is not the lock judged stale (another process took over and created its own in the
 * meantime), it is linked back.
 */
function takeOver(lockPath: string, staleText: string): void {
  // Replaced since it was judged (another process took over first): leave the new one alone.
  if (readLock(lockPath)?.text !== staleText) return;
  const aside = join(dirname(lockPath), privateName(basename(lockPath), "stale"));
  try {
    fs.renameSync(lockPath, aside);
  } catch (error) {
    if (code(error) === "ENOENT") return; // another process took it over first
    throw new LockUnusableError(lockPath, `it belongs to a process that is gone, but cannot be removed (${describe(error)}); remove it by hand`);
  }
  let moved: string | undefined;
  try {
    moved = readRegularTextSync(aside, fs.constants.O_NOFOLLOW, LOCK_READ_BYTES);
  } catch {
    moved = undefined;
  }
  if (moved !== staleText) {
    try {
      fs.linkSync(aside, lockPath);
    } catch {
      // A third process created a lock meanwhile: the one moved was taken from a holder that will
      // see so before it commits (stillHeld) and redo its work.
    }
  }
  removeQuietly(aside);
}

/** Whether a process with this pid exists on this host. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return code(error) === "EPERM";
  }
}

/** The start time of a process (Linux: field 22 of /proc/<pid>/stat), to tell a reused pid apart. */
function processStart(pid: number): string | undefined {
  if (pid === process.pid && ownStart !== undefined) return ownStart;
  let start: string | undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    start = undefined;
  }
  if (pid === process.pid) ownStart = start ?? "";
  return start;
}

function removeQuietly(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch {
    // Gone already, or never made.
  }
}

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
