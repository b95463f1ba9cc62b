/**
 * The link between one local store (L1) and the DynamoDB tier (L2) for one dataId: what `@Cached` and
 * `JSONCache` ask of L2, on top of the tier's single operations.
 *
 * - lookup: on an L1 miss of an async method, the entry is read from L2 (bounded by the tier's
 *   timeout); a hit is put into L1 and reported as `"l2"`.
 * - write-behind: a computed result is sent to L2 at once, off the call path; the conditional write
 *   never replaces a newer remote entry. An L1 hit on an entry L2 is not known to hold is sent once
 *   too (backfill), with the same condition.
 * - clear, state and preload are the management operations' L2 halves.
 *
 * Nothing here throws or blocks a caller: every failure is the tier's "unavailable" outcome, logged by
 * the tier once per cause, and L1 goes on alone.
 */
import { TAG } from "../codec.js";
import type { EntryMeta } from "./cache-file.js";
import type { LocalFileStore, StoredEntry } from "./local-file-store.js";
import type { DynamoDBTier, RemoteEntry } from "./dynamodb/index.js";

export class L2Sync {
  /** Keys this process knows L2 holds (read from it, or written to it): no backfill needed. */
  readonly #remote = new Set<string>();
  /** Writes under way, so a save can wait for them. */
  readonly #pending = new Set<Promise<boolean>>();

  constructor(
    readonly tier: DynamoDBTier,
    readonly dataId: string,
    readonly store: LocalFileStore,
  ) {
    void tier.ready(); // check or create the table in the background
  }

  /**
   * Reads one entry from L2 into L1; `undefined` when L2 lacks it, holds it expired or under another
   * `version`, or is unavailable.
   */
  async lookup(key: string, ttlMs: number, version: string | undefined): Promise<StoredEntry | undefined> {
    const outcome = await this.tier.get(this.dataId, key);
    if (!outcome.ok || outcome.value === undefined) return undefined;
    const remote = outcome.value;
    this.#remote.add(key);
    const entry = this.#adopt(remote);
    if (entry === undefined || entry.meta?.version !== version) return undefined;
    if (Date.now() - entry.time >= (entry.meta?.ttlMs ?? ttlMs)) return undefined;
    return entry;
  }

  /** Puts an L2 entry into L1 unless L1 holds a newer one; returns the entry L1 now holds. */
  #adopt(remote: RemoteEntry): StoredEntry | undefined {
    const mine = this.store.get(remote.key);
    if (mine !== undefined && mine.time >= remote.time) return mine;
    let stored: unknown;
    try {
      stored = JSON.parse(remote.text);
    } catch {
      return undefined;
    }
    const { raw, meta } = unwrap(stored);
    const entry: StoredEntry = {
      time: remote.time, async: remote.async, origin: "l2", value: undefined, decoded: false, raw, text: undefined, persistent: true, meta,
    };
    this.store.set(remote.key, entry);
    return entry;
  }

  /** Sends a computed (or L1-only) entry to L2, off the call path. */
  write(key: string, raw: unknown, time: number, async: boolean, ttlMs: number, meta?: EntryMeta): void {
    this.#remote.add(key);
    const text = JSON.stringify(meta === undefined ? raw : wrap(raw, meta));
    const write = this.tier.put(this.dataId, { key, text, time, async }, ttlMs).then((outcome) => {
      if (!outcome.ok) this.#remote.delete(key); // try again at the next hit
      return outcome.ok;
    });
    this.#track(write);
  }

  /** An L1 hit: sends the entry to L2 once, if this process does not know L2 has it. */
  backfill(key: string, entry: StoredEntry, ttlMs: number): void {
    // Entries computed in this process were sent when computed; those read from L2 are there.
    if (entry.origin !== "l1" || this.#remote.has(key)) return;
    this.write(key, entry.raw, entry.time, entry.async, ttlMs, entry.meta);
  }

  /** Sends every L1 entry L2 is not known to hold (saveOnDel, at exit). */
  backfillAll(ttlMsOf: (key: string) => number): void {
    for (const [key, entry] of this.store.allEntries()) {
      if (!entry.persistent || this.#remote.has(key)) continue;
      this.write(key, entry.raw, entry.time, entry.async, entry.meta?.ttlMs ?? ttlMsOf(key), entry.meta);
    }
  }

  /** Removes an object's entries, or one function's, from L2. */
  async remove(functionName?: string): Promise<boolean> {
    if (functionName === undefined) this.#remote.clear();
    else for (const key of this.#remote) if (key.startsWith(`${functionName}(`)) this.#remote.delete(key);
    const outcome = await this.tier.remove(this.dataId, functionName);
    return outcome.ok;
  }

  /** Writes the object's attributes (the JSON text of `_json_cache_variable_cache`). */
  saveState(text: string): Promise<boolean> {
    const write = this.tier.putState(this.dataId, text).then((outcome) => outcome.ok && outcome.value === "written");
    this.#track(write);
    return write;
  }

  async loadState(): Promise<string | undefined> {
    const outcome = await this.tier.getState(this.dataId);
    return outcome.ok ? outcome.value : undefined;
  }

  /** Copies every unexpired L2 entry that L1 lacks (or holds older) into L1; resolves to how many. */
  async preload(): Promise<number | undefined> {
    const outcome = await this.tier.list(this.dataId);
    if (!outcome.ok) return undefined;
    let adopted = 0;
    for (const remote of outcome.value) {
      this.#remote.add(remote.key);
      const before = this.store.get(remote.key);
      const after = this.#adopt(remote);
      if (after !== undefined && after !== before) adopted++;
    }
    return adopted;
  }

  /** L2's counts of this object's entries. */
  async count(): Promise<{ totalEntries: number; functions: Record<string, number> } | undefined> {
    const outcome = await this.tier.count(this.dataId);
    return outcome.ok ? outcome.value : undefined;
  }

  /** Waits for the writes under way; true if all of them reached L2. */
  async settle(): Promise<boolean> {
    const results = await Promise.all([...this.#pending]);
    return results.every(Boolean);
  }

  #track(write: Promise<boolean>): void {
    this.#pending.add(write);
    void write.finally(() => this.#pending.delete(write));
  }
}

/**
 * In DynamoDB an entry with a version or its own TTL is stored wrapped, `{"$cacherator": "Entry",
 * "v": <value>, "version": …, "ttl_ms": …}`, so that readers without that version never take it for
 * theirs (an older library does not know the tag and treats the entry as a miss).
 */
function wrap(raw: unknown, meta: EntryMeta): unknown {
  return { [TAG]: "Entry", v: raw, version: meta.version, ttl_ms: meta.ttlMs === Number.POSITIVE_INFINITY ? "Infinity" : meta.ttlMs };
}

function unwrap(stored: unknown): { raw: unknown; meta: EntryMeta | undefined } {
  if (typeof stored !== "object" || stored === null || (stored as Record<string, unknown>)[TAG] !== "Entry") return { raw: stored, meta: undefined };
  const record = stored as Record<string, unknown>;
  const ttl = record.ttl_ms === "Infinity" ? Number.POSITIVE_INFINITY : record.ttl_ms;
  return {
    raw: record.v,
    meta: { version: typeof record.version === "string" ? record.version : undefined, ttlMs: typeof ttl === "number" ? ttl : undefined },
  };
}
