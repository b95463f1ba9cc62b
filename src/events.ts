/**
 * Counters and events. Every instance counts its hits (by tier), misses, stale serves and errors; the
 * process keeps the same totals, and the stores count the bytes they write. Events go out on Node's
 * `diagnostics_channel` (`cacherator:hit`, `cacherator:miss`, `cacherator:stale`, `cacherator:error`),
 * published only while someone subscribes, so unused they cost a boolean check.
 */
import diagnostics_channel from "node:diagnostics_channel";

export type CacheEventName = "hit" | "miss" | "stale" | "error";

export interface CacheEvent {
  event: CacheEventName;
  dataId: string;
  /** The call key, e.g. `fetch('foo',){}`. */
  key: string;
  /** The cached method's name. */
  method: string;
  /** For hits: where the answer came from. */
  tier?: "l1" | "l2";
  /** For errors: what the method threw. */
  error?: unknown;
}

export interface CacheMetrics {
  hits: { l1: number; l2: number };
  misses: number;
  /** Answers served stale (stale-while-revalidate, or fail-safe after an error). */
  stale: number;
  /** Calls whose method threw or rejected (also those answered fail-safe). */
  errors: number;
  /** Bytes written to cache files and journals (per dataId for an instance; all files for the process). */
  bytesWritten: number;
  /** fdatasyncs of journals made for durable saves; concurrent saves share one (group commit). */
  journalSyncs: number;
  /** Journals folded into their cache files by this process. */
  folds: number;
}

export function newMetrics(): CacheMetrics {
  return { hits: { l1: 0, l2: 0 }, misses: 0, stale: 0, errors: 0, bytesWritten: 0, journalSyncs: 0, folds: 0 };
}

export function copyMetrics(metrics: CacheMetrics): CacheMetrics {
  return { ...metrics, hits: { ...metrics.hits } };
}

/** The process-wide totals. */
export const globalMetrics = newMetrics();

export const channels = {
  hit: diagnostics_channel.channel("cacherator:hit"),
  miss: diagnostics_channel.channel("cacherator:miss"),
  stale: diagnostics_channel.channel("cacherator:stale"),
  error: diagnostics_channel.channel("cacherator:error"),
} as const;

/** Subscribes `listener` to one kind of event; returns the unsubscribe function. */
export function subscribe(event: CacheEventName, listener: (event: CacheEvent) => void): () => void {
  const channel = channels[event];
  if (channel === undefined) throw new TypeError(`unknown cacherator event "${String(event)}": use "hit", "miss", "stale" or "error"`);
  const handler = (message: unknown) => {
    try {
      listener(message as CacheEvent);
    } catch {
      // A listener's error must not break the cached call.
    }
  };
  channel.subscribe(handler);
  return () => void channel.unsubscribe(handler);
}
