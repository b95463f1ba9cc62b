/**
 * The lease of one key in the DynamoDB table, held by the one machine that computes the key while the
 * others wait for its result (../../lease.ts).
 *
 * Item: partition key `cache_id` = dataId, sort key `l#` + call key (entries are `f#…`, the attributes
 * and clear times `v#…`, so no query of the cache's items ever meets a lease); `nonce` (S, the holder's),
 * `holder` (S, host and pid, for people reading the table), `expires_ms` (N) and `ttl` (N, epoch
 * seconds, so DynamoDB deletes leases nobody released).
 *
 * - Taken with a conditional put: only when no lease exists or the one there has expired.
 * - Released with a conditional delete: only while it is still the holder's own (same nonce).
 * - Other machines cannot tell whether a holder is alive: its lease ends when released or expired.
 */
import { hostname } from "node:os";
import type { Doc, Output } from "./client.js";
import { errorName } from "./failures.js";
import type { WriteContext } from "./writes.js";

export const LEASE_PREFIX = "l#";

/** A lease as read from the table. */
export interface RemoteLease {
  nonce: string;
  expiresMs: number;
}

/** Takes the lease of `key` for `leaseMs`: `held`, or the lease another machine holds now. */
export async function acquireRemoteLease(ctx: WriteContext, dataId: string, key: string, nonce: string, leaseMs: number): Promise<"held" | RemoteLease> {
  const now = Date.now();
  const expiresMs = now + leaseMs;
  try {
    await ctx.send(
      new ctx.sdk.doc.PutCommand({
        TableName: ctx.table,
        Item: { cache_id: dataId, entry: LEASE_PREFIX + key, nonce, holder: `${hostname()}:${process.pid}`, expires_ms: expiresMs, ttl: Math.ceil(expiresMs / 1000) + 60 },
        ConditionExpression: "attribute_not_exists(cache_id) OR expires_ms < :now",
        ExpressionAttributeValues: { ":now": now },
      }),
    );
    return "held";
  } catch (error) {
    if (errorName(error) !== "ConditionalCheckFailedException") throw error;
  }
  // Held by another machine: which lease (a waiter tells a release or a takeover from it).
  return (await readRemoteLease(ctx, dataId, key)) ?? { nonce: "", expiresMs: 0 };
}

/** The lease of `key` now; `undefined` when none is held. */
export async function readRemoteLease(ctx: WriteContext, dataId: string, key: string): Promise<RemoteLease | undefined> {
  const out = await ctx.send<Output<Doc["GetCommand"]>>(new ctx.sdk.doc.GetCommand({ TableName: ctx.table, Key: { cache_id: dataId, entry: LEASE_PREFIX + key }, ConsistentRead: true }));
  const item = out.Item as Record<string, unknown> | undefined;
  if (item === undefined) return undefined;
  return { nonce: String(item.nonce ?? ""), expiresMs: typeof item.expires_ms === "number" ? item.expires_ms : 0 };
}

/** Releases the lease of `key` if it is still the one taken with `nonce`. */
export async function releaseRemoteLease(ctx: WriteContext, dataId: string, key: string, nonce: string): Promise<void> {
  try {
    await ctx.send(
      new ctx.sdk.doc.DeleteCommand({
        TableName: ctx.table,
        Key: { cache_id: dataId, entry: LEASE_PREFIX + key },
        ConditionExpression: "nonce = :n",
        ExpressionAttributeValues: { ":n": nonce },
      }),
    );
  } catch (error) {
    if (errorName(error) !== "ConditionalCheckFailedException") throw error;
  }
}
