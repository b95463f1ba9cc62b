/**
 * How the CLI judges an entry: its expiry is the one it carries — from a TTL computed from its result
 * (`ttl_ms`), else recorded when it was computed (`expires_ms`, the method's TTL then) — and only for
 * entries that record neither (older files, the Python library's) the --ttl given (default 999 days).
 * Times out of the range of dates (a damaged file) are shown as invalid, never thrown on.
 */
import type { StoredEntry } from "../store/local-file-store.js";
import { functionOfKey } from "../keys/call-key.js";
import type { Context } from "./context.js";
import { formatTtl } from "./table.js";

export type Status = "live" | "expired";
export type Where = "l1" | "l2" | "l1+l2";

export interface EntryInfo {
  key: string;
  function: string;
  /** Computation time, ISO 8601 (UTC); null when the file holds a time out of range. */
  computedAt: string | null;
  ageMs: number;
  /** When it expires; null when it never does (or its time is out of range). */
  expiresAt: string | null;
  status: Status;
  /** The TTL it is judged by, readable ("1s", "6h", "2d", "infinite"). */
  ttl: string;
  /** Where its expiry comes from: its own TTL, the one recorded with it, or --ttl. */
  expirySource: "entry" | "recorded" | "--ttl";
  async: boolean;
  /** With --dynamodb-table: which tiers hold it. */
  where?: Where;
}

/** The largest time a Date can hold, ms. */
const MAX_DATE_MS = 8.64e15;

/** An epoch time as ISO 8601, or null when it is out of the range of dates. */
export function isoTime(ms: number): string | null {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : null;
}

interface Lifetime {
  /** Epoch ms it expires at (Infinity: never). */
  expires: number;
  /** Epoch ms until which a stale window may still serve it (what prune keeps). */
  keep: number;
  source: EntryInfo["expirySource"];
}

export function lifetime(ctx: Context, entry: Pick<StoredEntry, "time" | "meta">): Lifetime {
  const meta = entry.meta;
  if (ctx.ttlGiven === true) return { expires: entry.time + ctx.ttlMs, keep: entry.time + ctx.ttlMs, source: "--ttl" };
  if (meta?.ttlMs !== undefined) return { expires: entry.time + meta.ttlMs, keep: entry.time + meta.ttlMs + (meta.staleMs ?? 0), source: "entry" };
  if (meta?.expiresMs !== undefined) return { expires: meta.expiresMs, keep: meta.expiresMs + (meta.staleMs ?? 0), source: "recorded" };
  return { expires: entry.time + ctx.ttlMs, keep: entry.time + ctx.ttlMs, source: "--ttl" };
}

/** Whether no process would serve the entry any more, not even as stale: what prune removes. */
export function isPrunable(ctx: Context, entry: Pick<StoredEntry, "time" | "meta">): boolean {
  return ctx.now >= lifetime(ctx, entry).keep;
}

export function isExpired(ctx: Context, entry: Pick<StoredEntry, "time" | "meta">): boolean {
  return ctx.now >= lifetime(ctx, entry).expires;
}

export function entryInfo(ctx: Context, key: string, entry: Pick<StoredEntry, "time" | "meta" | "async">): EntryInfo {
  const { expires, source } = lifetime(ctx, entry);
  return {
    key,
    function: functionOfKey(key),
    computedAt: isoTime(entry.time),
    ageMs: ctx.now - entry.time,
    expiresAt: isoTime(expires),
    status: ctx.now < expires ? "live" : "expired",
    ttl: formatTtl(expires - entry.time),
    expirySource: source,
    async: entry.async,
  };
}
