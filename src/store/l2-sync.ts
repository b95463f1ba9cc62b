/**
 * The link between one local store (L1) and the DynamoDB tier (L2) for one dataId: what `@Cached` and
 * `JSONCache` ask of L2, on top of the tier's single operations. It reaches the store only through its
 * methods (get, set, valueOf, allEntries, clearBefore, ttlFor, defaultTtlMs, path).
 *
 * - lookup: on an L1 miss of an async method, the entry is read from L2 (bounded by the tier's
 *   timeout); a hit is put into L1 and reported as `"l2"`. Entries computed before a known clear of
 *   their function are not served; a lookup also waits for the first read of the clear times (which
 *   runs alongside its own read), so none is judged against clear times not read yet.
 * - write-behind: a computed result is sent to L2 at once, off the call path, through the process's
 *   backlog (dynamodb/backlog.ts): what cannot be written now is kept and retried until it is.
 * - backfill: an L1 hit on an entry read from the file, which L2 is not known to hold, is checked in a
 *   batch (BatchGetItem of keys and times, 100 a request) and sent only if L2 lacks it or holds it older.
 * - clears (dynamodb/clears.ts): clears made here are recorded in L2; those made elsewhere are read
 *   at most once per interval while calls are made, and applied to L1 (`clearBefore`).
 * - state and preload are the management operations' L2 halves; `settle` is what a save waits for.
 *
 * Nothing here throws or blocks a caller: every failure is the tier's "unavailable" outcome, logged by
 * the tier once per cause, and L1 goes on alone.
 */
import { TAG } from "../codec.js";
import { parseEncodedJson, stringifyEncoded } from "../encoded-json.js";
import type { CacheLog } from "../logger.js";
import { fromTheFuture } from "../time.js";
import { hasOwnRules, type EntryMeta } from "./cache-file.js";
import type { LocalFileStore, StoredEntry } from "./local-file-store.js";
import { newEntry } from "./stored-entry.js";
import type { DynamoDBTier, L2Write, RemoteEntry } from "./dynamodb/index.js";
import { functionOfEntryKey } from "./dynamodb-format.js";
import { processBacklog, type Backlog } from "./dynamodb/backlog.js";
import { ClearCheck, ClearTimes, DEFAULT_CLEAR_CHECK_MS } from "./dynamodb/clears.js";
import { exitSender } from "./dynamodb/exit.js";

/** L1 hits on entries from the file are gathered this long (or up to 100) before one batch check. */
const BACKFILL_GATHER_MS = 20;
const BACKFILL_BATCH = 100;
const SAVE_TABLE_WAIT_MS = 10_000;

export interface L2SyncOptions {
  log: CacheLog;
  /** How often to read the clears item while calls are made, ms. */
  clearCheckMs?: number;
  /** The JSON text of the attributes last saved, for saveOnDel. */
  stateText?: () => string;
  backlog?: Backlog;
}

export class L2Sync {
  /** Keys this process knows L2 holds (read from it, or written or queued to it): no backfill needed. */
  readonly #remote = new Set<string>();
  readonly #clearTimes = new ClearTimes();
  readonly #clearCheck: ClearCheck;
  readonly #backlog: Backlog;
  readonly #log: CacheLog;
  readonly #stateText: (() => string) | undefined;
  /** L1 entries that L2 may lack, gathered for one batch check. */
  readonly #unchecked = new Map<string, { entry: StoredEntry; ttlMs: number }>();
  readonly #checking = new Set<string>();
  readonly #checks = new Set<Promise<void>>();
  #gatherTimer: NodeJS.Timeout | undefined;
  /** The first read of the clear times (started with the link); `undefined` once it is over. */
  #firstClearCheck: Promise<void> | undefined;

  constructor(
    readonly tier: DynamoDBTier,
    readonly dataId: string,
    readonly store: LocalFileStore,
    options: L2SyncOptions,
  ) {
    this.#log = options.log;
    this.#stateText = options.stateText;
    this.#backlog = options.backlog ?? processBacklog;
    this.#clearCheck = new ClearCheck(options.clearCheckMs ?? DEFAULT_CLEAR_CHECK_MS, () => this.#checkClears());
    exitSender.install(this.#backlog);
    // Also checks or creates the table, in the background.
    const first = this.#clearCheck.run().finally(() => {
      if (this.#firstClearCheck === first) this.#firstClearCheck = undefined;
    });
    this.#firstClearCheck = first;
  }

  /**
   * While the first read of the clear times is under way: a promise of its end (bounded by the tier's
   * timeout, never rejected). Until then, an entry from the local file may be one that a clear made
   * while this process was not running voids; once it is over, `store.clearBefore` has removed those.
   * `undefined` afterwards.
   */
  clearsPending(): Promise<void> | undefined {
    return this.#firstClearCheck;
  }

  /**
   * Reads one entry from L2 into L1; `undefined` when L2 lacks it, holds it expired, cleared or under
   * another `version`, or is unavailable.
   */
  async lookup(key: string, ttlMs: number, version: string | undefined): Promise<StoredEntry | undefined> {
    this.#clearCheck.onUse();
    // The first clear check and the read go together: an entry is never judged against clear times not read yet.
    const [outcome] = await Promise.all([this.tier.get(this.dataId, key), this.#firstClearCheck]);
    if (!outcome.ok || outcome.value === undefined) return undefined;
    const remote = outcome.value;
    if (this.#clearTimes.isVoid(remote.key, remote.time)) return undefined;
    this.#remote.add(key);
    const entry = this.#adopt(remote);
    if (entry === undefined || entry.meta?.version !== version) return undefined;
    if (Date.now() - entry.time >= (entry.meta?.ttlMs ?? ttlMs)) return undefined;
    return entry;
  }

  /** Puts an L2 entry into L1 unless L1 holds a newer one; returns the entry L1 now holds. */
  #adopt(remote: RemoteEntry): StoredEntry | undefined {
    if (fromTheFuture(remote.time)) return undefined; // as from a file: it would never expire, and win every merge
    const mine = this.store.get(remote.key);
    if (mine !== undefined && mine.time >= remote.time) return mine;
    let stored: unknown;
    try {
      stored = parseEncodedJson(remote.text);
    } catch {
      return undefined;
    }
    const { raw, meta } = unwrap(stored);
    const entry = newEntry({
      time: remote.time, async: remote.async, origin: "l2", value: undefined, decoded: false, raw, text: undefined, persistent: true, meta,
    });
    this.store.set(remote.key, entry);
    return entry;
  }

  /**
   * Sends a computed (or L1-only) entry to L2, off the call path; kept and retried until written. The
   * promise (never rejected) tells whether the first attempt wrote it; a lease holder waits for it.
   */
  write(key: string, raw: unknown, time: number, async: boolean, ttlMs: number, meta?: EntryMeta): Promise<boolean> {
    this.#clearCheck.onUse();
    return this.#send(key, raw, time, async, ttlMs, meta);
  }

  #send(key: string, raw: unknown, time: number, async: boolean, ttlMs: number, meta: EntryMeta | undefined): Promise<boolean> {
    this.#remote.add(key);
    const text = stringifyEncoded(hasOwnRules(meta) ? wrap(raw, meta) : raw);
    return this.#submit(`f#${key}`, { kind: "entry", dataId: this.dataId, entry: { key, text, time, async }, ttlMs });
  }

  /** An L1 hit: an entry from the file that L2 is not known to hold is checked (in a batch), and sent if L2 lacks it. */
  backfill(key: string, entry: StoredEntry, ttlMs: number): void {
    this.#clearCheck.onUse();
    // Entries computed in this process were sent when computed; those read from L2 are there.
    if (entry.origin !== "l1" || !entry.persistent || this.#remote.has(key) || this.#checking.has(key)) return;
    this.#unchecked.set(key, { entry, ttlMs });
    if (this.#unchecked.size >= BACKFILL_BATCH) this.#checkUnchecked();
    else this.#gatherTimer ??= setTimeout(() => this.#checkUnchecked(), BACKFILL_GATHER_MS);
  }

  /** Checks (and sends where L2 lacks them) every L1 entry L2 is not known to hold (saveOnDel, at the end). */
  backfillAll(ttlMsOf: (key: string) => number = (key) => this.store.ttlFor(functionOfEntryKey(key)) ?? this.store.defaultTtlMs): Promise<void> {
    for (const [key, entry] of this.store.allEntries()) {
      if (!entry.persistent || this.#remote.has(key) || this.#checking.has(key)) continue;
      const ttlMs = entry.meta?.ttlMs ?? ttlMsOf(key);
      this.#unchecked.set(key, { entry, ttlMs });
    }
    return this.#checkUnchecked();
  }

  #checkUnchecked(): Promise<void> {
    clearTimeout(this.#gatherTimer);
    this.#gatherTimer = undefined;
    if (this.#unchecked.size === 0) return Promise.resolve();
    const batch = [...this.#unchecked];
    this.#unchecked.clear();
    for (const [key] of batch) this.#checking.add(key);
    const check = this.#checkBatch(batch).finally(() => {
      for (const [key] of batch) this.#checking.delete(key);
      this.#checks.delete(check);
    });
    this.#checks.add(check);
    return check;
  }

  async #checkBatch(batch: [string, { entry: StoredEntry; ttlMs: number }][]): Promise<void> {
    const outcome = await this.tier.times(this.dataId, batch.map(([key]) => key));
    if (!outcome.ok) return; // unknown: a later hit checks again
    for (const [key, { entry, ttlMs }] of batch) {
      const remoteTime = outcome.value.get(key);
      if (remoteTime !== undefined && remoteTime >= entry.time) this.#remote.add(key);
      else if (!this.#clearTimes.isVoid(key, entry.time)) void this.#send(key, entry.raw, entry.time, entry.async, ttlMs, entry.meta);
    }
  }

  /**
   * Clears an object's entries, or one function's, in L2 as of now: the clear time is recorded for
   * every machine, and kept and retried like any write until it is.
   */
  remove(functionName?: string): Promise<boolean> {
    const before = Date.now();
    this.#forget(functionName, before);
    return this.#submit(`clear#${functionName ?? "*"}`, { kind: "clear", dataId: this.dataId, functionName, before });
  }

  /** Applies a clear to what this link holds or owes L2: known clear times, unsent writes, known keys. */
  #forget(functionName: string | undefined, before: number): void {
    this.#clearTimes.merge([[functionName, before]]);
    const matches = (key: string) => functionName === undefined || functionOfEntryKey(key) === functionName;
    this.#backlog.discard(this, (write) => write.kind === "entry" && matches(write.entry.key) && write.entry.time < before);
    for (const key of this.#remote) if (matches(key)) this.#remote.delete(key);
    for (const key of this.#unchecked.keys()) if (matches(key)) this.#unchecked.delete(key);
  }

  /** Reads the clear times other machines recorded; newer ones are applied to L1 and to what is owed to L2. */
  async #checkClears(): Promise<void> {
    const outcome = await this.tier.clears(this.dataId);
    if (!outcome.ok) return;
    for (const [functionName, before] of this.#clearTimes.merge(outcome.value)) {
      this.#forget(functionName, before);
      const removed = this.store.clearBefore(functionName, before);
      const what = functionName === undefined ? "every function" : `${functionName}()`;
      this.#log.write("debug", `L2 clear of ${what} at ${new Date(before).toISOString()} in ${this.tier.table}: ${removed.length} local entries of "${this.dataId}" removed`);
    }
  }

  /** Writes the object's attributes (the JSON text of `_json_cache_variable_cache`); kept and retried until written. */
  saveState(text: string): Promise<boolean> {
    return this.#submit("state", { kind: "state", dataId: this.dataId, text, time: Date.now() });
  }

  async loadState(): Promise<string | undefined> {
    const outcome = await this.tier.getState(this.dataId);
    return outcome.ok ? outcome.value : undefined;
  }

  /** Copies every unexpired, uncleared L2 entry that L1 lacks (or holds older) into L1; resolves to how many. */
  async preload(): Promise<number | undefined> {
    await this.#clearCheck.run();
    const outcome = await this.tier.list(this.dataId);
    if (!outcome.ok) return undefined;
    let adopted = 0;
    for (const remote of outcome.value) {
      if (this.#clearTimes.isVoid(remote.key, remote.time)) continue;
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

  /**
   * What a save waits for: the batch checks and writes under way, then one more try of what is kept.
   * True once L2 holds everything this link was asked to write so far (results, attributes, clears).
   */
  async settle(): Promise<boolean> {
    // A save is awaited on purpose: it may wait for the table to be created (at most a few seconds).
    await this.tier.ready(Math.max(SAVE_TABLE_WAIT_MS, this.tier.timeoutMs));
    void this.#checkUnchecked();
    await Promise.all([...this.#checks]);
    return this.#backlog.settle(this);
  }

  /** saveOnDel at a normal end: every entry L2 may lack (checked first) and the attributes. */
  async sendAllAtEnd(): Promise<void> {
    await this.backfillAll();
    if (this.#stateText !== undefined) await this.saveState(this.#stateText());
  }

  /** saveOnDel at `process.exit()`: the writes to hand the exit sender (conditional, so sending known ones again is harmless). */
  writesAtExit(): L2Write[] {
    const writes: L2Write[] = [];
    for (const [key, entry] of this.store.allEntries()) {
      if (!entry.persistent || this.#remote.has(key) || this.#clearTimes.isVoid(key, entry.time)) continue;
      const ttlMs = entry.meta?.ttlMs ?? this.store.ttlFor(functionOfEntryKey(key)) ?? this.store.defaultTtlMs;
      const text = stringifyEncoded(hasOwnRules(entry.meta) ? wrap(entry.raw, entry.meta) : entry.raw);
      writes.push({ kind: "entry", dataId: this.dataId, entry: { key, text, time: entry.time, async: entry.async }, ttlMs });
    }
    if (this.#stateText !== undefined) writes.push({ kind: "state", dataId: this.dataId, text: this.#stateText(), time: Date.now() });
    return writes;
  }

  #submit(item: string, write: L2Write): Promise<boolean> {
    return this.#backlog.submit({ id: `${this.tier.table}\u0000${this.dataId}\u0000${item}`, owner: this, target: this.tier, write, log: this.#log });
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
