/**
 * The lease of one key on this machine: `<file>.leases/<sha1 of the key>.lease`, held by the one process
 * that computes the key while the others sharing the cache file wait for its result (../lease.ts).
 *
 * A lease is a lock of file-lock.ts with an expiry: `{pid, host, start, nonce, expires}`, created whole
 * by linking a private file. It is taken over (by exactly one process) when its holder is gone — the
 * pid no longer exists or runs another program — or when it has expired; a lease of another host (a
 * shared volume) is judged by its expiry alone. Nothing here waits: waiting is the caller's business.
 */
import * as fs from "node:fs";
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { LOCK_READ_BYTES, isStale, parseOwner, tryLock, type HeldLock } from "./file-lock.js";
import { readRegularTextSync } from "./regular-file.js";

const HOST = hostname();

/** Where the lease of `key` lives, beside the cache file at `cachePath`. */
export function leasePath(cachePath: string, key: string): string {
  return join(`${cachePath}.leases`, `${createHash("sha1").update(key).digest("hex")}.lease`);
}

/**
 * Takes the lease for `leaseMs` if it is free, or its holder is gone, or it expired: the held lease, or
 * `undefined` while a live holder has it. The lease directory is created when missing.
 * @throws {LockUnusableError} when the lease can be neither created nor judged (an unwritable directory).
 */
export function takeLease(path: string, leaseMs: number, modes: { fileMode: number; directoryMode: number }): HeldLock | undefined {
  const kind = { fields: { expires: Date.now() + leaseMs }, isStale: leaseIsStale };
  try {
    return tryLock(path, modes.fileMode, kind);
  } catch {
    // The directory may be missing (or made by another process just now): make sure of it, try once more.
    try {
      fs.mkdirSync(dirname(path), { recursive: true, mode: modes.directoryMode });
    } catch {
      // Judged by the second attempt.
    }
    return tryLock(path, modes.fileMode, kind);
  }
}

/**
 * What became of a lease a waiter saw (its text): `released` (no lease file), `held` (the same lease,
 * its holder alive and within its expiry), `stale` (the same lease, its holder gone or expired: take it
 * over), or `replaced` with the text of the lease now there (another process took it over).
 */
export type LeaseState = { kind: "released" } | { kind: "held" } | { kind: "stale" } | { kind: "replaced"; text: string };

export function leaseState(path: string, seen: string): LeaseState {
  const read = readLease(path);
  if (read === undefined) return { kind: "released" };
  if (read.text !== seen) return { kind: "replaced", text: read.text };
  return leaseIsStale(read.text, read.mtimeMs) ? { kind: "stale" } : { kind: "held" };
}

/** The lease's text and modification time; `undefined` when there is none (or it cannot be read). */
export function readLease(path: string): { text: string; mtimeMs: number } | undefined {
  try {
    const mtimeMs = fs.statSync(path).mtimeMs;
    return { text: readRegularTextSync(path, 0, LOCK_READ_BYTES), mtimeMs };
  } catch {
    return undefined;
  }
}

/** A lease past its expiry, or (on this host) of a process that is gone. */
function leaseIsStale(text: string, mtimeMs: number, now = Date.now()): boolean {
  const expires = expiresOf(text);
  if (expires !== undefined && expires < now) return true;
  const owner = parseOwner(text);
  if (owner !== undefined && owner.host !== HOST) return false; // another host: its expiry decides
  return isStale(text, mtimeMs, now);
}

function expiresOf(text: string): number | undefined {
  try {
    const expires = (JSON.parse(text) as { expires?: unknown }).expires;
    return typeof expires === "number" ? expires : undefined;
  } catch {
    return undefined;
  }
}
