/**
 * One computation per fleet (`@Cached({ lease })`): on a miss of an async method, the processes sharing
 * a cache file, and the machines sharing a DynamoDB table, run the method once; the others wait for its
 * result and read it from the shared tier.
 *
 * The algorithm, for one call that missed in L1 (and in L2, with a table):
 * 1. Take this machine's lease of the key (store/lease-file.ts). Busy: wait (below) for the holder.
 * 2. Holding it, with a table: take the table's lease (store/dynamodb/lease.ts). Busy: wait likewise.
 * 3. Holding them, look once more (a holder may have published just before), then run the method,
 *    publish its result (the file written, the L2 write awaited) and release the leases.
 *
 * Waiting polls 25 ms, doubling to 50 ms on this machine (a stat and a small read) and to 250 ms on
 * DynamoDB (two requests): the lease first, then the result. It ends when
 * - the result is there: the answer (status `"l1"`, or `"l2"` from the table);
 * - the lease was released without a result (the holder's method failed, or its result is not
 *   cached): the waiter runs the method itself, without any lease, so a failing method is never waited
 *   for twice;
 * - the holder is gone (on this machine: its pid) or its lease expired: the waiter takes it over;
 * - the lease duration has passed since the call began: the waiter runs the method itself.
 * So no call waits longer than the lease duration plus one poll.
 *
 * A lease that cannot be used (an unwritable directory, DynamoDB unavailable) never fails a call: the
 * call goes on without it (warned once per cache file).
 */
import { randomBytes } from "node:crypto";
import type { CacheStack } from "./store/cache-stack.js";
import type { HeldLock } from "./store/file-lock.js";
import { leasePath, leaseState, readLease, takeLease } from "./store/lease-file.js";
import { acquireRemoteLease, readRemoteLease, releaseRemoteLease } from "./store/dynamodb/lease.js";

const FIRST_POLL_MS = 25;
const MAX_LOCAL_POLL_MS = 50;
const MAX_REMOTE_POLL_MS = 250;
/** A lease file that vanished is looked at again after this long: a takeover renames it aside briefly. */
const VANISHED_RECHECK_MS = 10;

export interface LeasedCall<T> {
  stack: CacheStack;
  key: string;
  leaseMs: number;
  /** A fresh result another process published: from the file, and with `remote` also from the table. */
  find(remote: boolean): Promise<T | undefined>;
  /** Runs the method and remembers its result; rejects with the method's error. */
  run(): Promise<T>;
}

/** What a stage of leasing ended with. */
type Stage<T> =
  | { kind: "held"; release(): Promise<void> }
  | { kind: "unusable" }
  | { kind: "found"; value: T }
  | { kind: "run" };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `call.run` once for the fleet, or answers with the result of the process that ran it. */
export async function runLeased<T>(call: LeasedCall<T>): Promise<T> {
  const until = Date.now() + call.leaseMs;
  const local = await localStage(call, until);
  if (local.kind === "found") return local.value;
  if (local.kind === "run") return call.run();
  const remote = call.stack.leaseSites().remote === undefined ? ({ kind: "unusable" } as const) : await remoteStage(call, until);
  const releaseLocal = () => (local.kind === "held" ? local.release() : Promise.resolve());
  if (remote.kind === "found" || remote.kind === "run") {
    if (remote.kind === "run") {
      await releaseLocal();
      return call.run();
    }
    // The table's result reaches this machine's waiters through the file.
    await call.stack.publish(call.key);
    await releaseLocal();
    return remote.value;
  }
  const releaseRemote = () => (remote.kind === "held" ? remote.release() : Promise.resolve());
  try {
    const published = await call.find(remote.kind === "held");
    if (published !== undefined) {
      if (remote.kind === "held") await call.stack.publish(call.key);
      return published;
    }
    const value = await call.run();
    await call.stack.publish(call.key);
    return value;
  } finally {
    await releaseRemote();
    await releaseLocal();
  }
}

/** This machine's lease: held, or waited for. */
async function localStage<T>(call: LeasedCall<T>, until: number): Promise<Stage<T>> {
  const sites = call.stack.leaseSites();
  const path = leasePath(sites.cachePath, call.key);
  for (;;) {
    let held: HeldLock | undefined;
    try {
      held = takeLease(path, call.leaseMs, sites);
    } catch (error) {
      call.stack.log.once("warn", `lease:${sites.cachePath}`, `leases cannot be used beside ${sites.cachePath} (${describe(error)}); calls run without waiting for other processes.`);
      return { kind: "unusable" };
    }
    if (held !== undefined) {
      const lease = held;
      return { kind: "held", release: () => Promise.resolve(lease.release()) };
    }
    const seen = readLease(path)?.text;
    if (seen === undefined) continue; // released meanwhile: take it
    const waited = await waitLocally(call, path, seen, until);
    if (waited !== "stale") return waited;
  }
}

async function waitLocally<T>(call: LeasedCall<T>, path: string, seen: string, until: number): Promise<Stage<T> | "stale"> {
  let lease = seen;
  for (let pollMs = FIRST_POLL_MS; ; pollMs = Math.min(pollMs * 2, MAX_LOCAL_POLL_MS)) {
    const left = until - Date.now();
    if (left <= 0) return { kind: "run" };
    await sleep(Math.min(pollMs, left));
    // The lease first, then the result: a holder publishes before it releases.
    let state = leaseState(path, lease);
    if (state.kind === "released") {
      await sleep(VANISHED_RECHECK_MS);
      state = leaseState(path, lease);
    }
    const value = await call.find(false);
    if (value !== undefined) return { kind: "found", value };
    if (state.kind === "released") return { kind: "run" };
    if (state.kind === "stale") return "stale";
    if (state.kind === "replaced") lease = state.text;
  }
}

/** The table's lease: held, or waited for; `unusable` when DynamoDB cannot be asked. */
async function remoteStage<T>(call: LeasedCall<T>, until: number): Promise<Stage<T>> {
  const site = call.stack.leaseSites().remote;
  if (site === undefined) return { kind: "unusable" };
  const { tier, dataId } = site;
  const nonce = randomBytes(8).toString("hex");
  for (;;) {
    const taken = await tier.request("lease", (ctx) => acquireRemoteLease(ctx, dataId, call.key, nonce, call.leaseMs));
    if (!taken.ok) return { kind: "unusable" };
    if (taken.value === "held") {
      return { kind: "held", release: () => tier.request("release lease", (ctx) => releaseRemoteLease(ctx, dataId, call.key, nonce)).then(() => undefined) };
    }
    let expiresMs = taken.value.expiresMs;
    for (let pollMs = FIRST_POLL_MS; ; pollMs = Math.min(pollMs * 2, MAX_REMOTE_POLL_MS)) {
      const left = until - Date.now();
      if (left <= 0) return { kind: "run" };
      if (expiresMs < Date.now()) break; // expired: take it over
      await sleep(Math.min(pollMs, left));
      const state = await tier.request("read lease", (ctx) => readRemoteLease(ctx, dataId, call.key));
      if (!state.ok) return { kind: "run" };
      const value = await call.find(true);
      if (value !== undefined) return { kind: "found", value };
      if (state.value === undefined) return { kind: "run" }; // released without a result
      expiresMs = state.value.expiresMs;
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
