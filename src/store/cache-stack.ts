/**
 * The cache stack of one cache file in one process: the only way `@Cached` and `JSONCache` reach the
 * tiers. It owns the local store (L1) and, with a table, the DynamoDB link (L2), and offers what a call
 * or a management method needs — look up, remember, serve, clear, save, preload, count — so no caller
 * touches a tier's fields or decides on its own which tiers an operation must reach.
 *
 * Instances with the same dataId and directory share one stack (so they share in-flight computations).
 */
import { functionOfKey } from "../keys/call-key.js";
import type { CacheLog } from "../logger.js";
import type { DynamoDBTier } from "./dynamodb/index.js";
import type { L2Sync } from "./l2-sync.js";
import type { LocalFileStore, StoredEntry } from "./local-file-store.js";
import { entryTextOf } from "./cache-file.js";

export class CacheStack {
  /** Answers of async misses under way, so concurrent identical calls share one execution. */
  readonly inflight = new Map<string, Promise<unknown>>();
  /** L2 writes of results under way, for `publish`. */
  readonly #sending = new Map<string, Promise<boolean>>();
  /** Functions whose entries from earlier runs were already dropped by `@Cached({ clearCache: true })`. */
  readonly #clearedFunctions = new Set<string>();
  readonly #local: LocalFileStore;
  #remote: L2Sync | undefined;
  /** The last `peek` looked at the file (so the miss that follows need not look again). */
  #peekRefreshed = false;

  constructor(local: LocalFileStore) {
    this.#local = local;
  }

  get path(): string {
    return this.#local.path;
  }

  get log(): CacheLog {
    return this.#local.log;
  }

  /** Links DynamoDB once; later instances of the dataId share the link. Returns the link. */
  connect(makeRemote: (local: LocalFileStore) => L2Sync): L2Sync {
    this.#remote ??= makeRemote(this.#local);
    return this.#remote;
  }

  get hasRemote(): boolean {
    return this.#remote !== undefined;
  }

  /** The DynamoDB link, for measurements; callers go through the methods below. */
  get remoteLink(): L2Sync | undefined {
    return this.#remote;
  }

  // --- The call path --------------------------------------------------------------------------------

  /**
   * The L1 entry of `key` for a hit, synchronously. Once per `refreshInterval` it first looks at the file
   * (a stat or two), so other processes' clears and results reach this one.
   */
  peek(key: string, now: number): StoredEntry | undefined {
    this.#peekRefreshed = now >= this.#local.checkAt;
    if (this.#peekRefreshed) this.#local.refresh();
    return this.#local.get(key);
  }

  /**
   * After a miss: merges what other processes wrote; whether anything was new. Nothing to do when the
   * `peek` just before it looked already.
   */
  lookAgain(): boolean {
    if (this.#peekRefreshed) {
      this.#peekRefreshed = false;
      return false;
    }
    return this.#local.refreshOnMiss();
  }

  /**
   * Merges what other processes wrote, always looking: for a process waiting for another's result
   * (lease.ts), which must not take a look made before the holder published — the last `peek` of any
   * call, or another miss's look in the same millisecond — for one made now.
   */
  lookNow(): boolean {
    this.#peekRefreshed = false;
    return this.#local.refreshNow();
  }

  /**
   * With DynamoDB, while this process's first read of its clear times is under way: the promise of it.
   * Async hits on entries from the file wait for it, so a clear made while this machine was off is
   * never answered from its file. `undefined` afterwards, and without a table.
   */
  clearsPending(): Promise<void> | undefined {
    return this.#remote?.clearsPending();
  }

  /** The L2 entry of `key` (put into L1), for an async method's L1 miss; `undefined` without a table. */
  lookupRemote(key: string, ttlMs: number, version: string | undefined): Promise<StoredEntry | undefined> {
    return this.#remote === undefined ? Promise.resolve(undefined) : this.#remote.lookup(key, ttlMs, version);
  }

  /** The entry as it is held now (the fail-safe looks at it after a failure). */
  entry(key: string): StoredEntry | undefined {
    return this.#local.get(key);
  }

  /** The value of an entry, decoded on first use. Throws if the stored form cannot be decoded. */
  valueOf(entry: StoredEntry): unknown {
    return this.#local.valueOf(entry);
  }

  /** A hit was answered from `entry`: it counts as used, and L2 gets it if it may lack it. */
  served(key: string, entry: StoredEntry, ttlMs: number): void {
    if (this.#local.maxEntries !== undefined) this.#local.touch(key, entry);
    this.#remote?.backfill(key, entry, entry.meta?.ttlMs ?? ttlMs);
  }

  /** A computed result: into L1 (written later, coalesced) and, if it can be written, to L2. */
  remember(key: string, computed: StoredEntry, ttlMs: number, fn = functionOfKey(key)): void {
    const entry = computed;
    if (entry.persistent) entry.text = textWithExpiry(entry, ttlMs, this.#local.ttlFor(fn));
    this.#local.set(key, entry);
    if (!entry.persistent || this.#remote === undefined) return;
    const sent = this.#remote.write(key, entry.raw, entry.time, entry.async, entry.meta?.ttlMs ?? ttlMs, entry.meta);
    this.#sending.set(key, sent);
    void sent.then(() => {
      if (this.#sending.get(key) === sent) this.#sending.delete(key);
    });
  }

  // --- Leases (one computation per fleet, ../lease.ts) ----------------------------------------------

  /** Where the leases of this cache live: beside its file, and with a table, in it. */
  leaseSites(): { cachePath: string; fileMode: number; directoryMode: number; remote: { tier: DynamoDBTier; dataId: string } | undefined } {
    const remote = this.#remote === undefined ? undefined : { tier: this.#remote.tier, dataId: this.#remote.dataId };
    return { cachePath: this.#local.path, fileMode: this.#local.fileMode, directoryMode: this.#local.directoryMode, remote };
  }

  /**
   * A lease holder's result reaches the shared tiers before its lease is released: the file is written
   * now, and the L2 write of `key` (if one is under way) is awaited. Never rejects; each tier's wait is
   * bounded (a failed write is retried later as usual).
   */
  async publish(key: string): Promise<void> {
    await Promise.all([this.#local.flush(), this.#sending.get(key)]);
  }

  /** Records the TTL an instance uses for a function (compaction prunes by the longest). */
  noteTtl(fn: string, ttlMs: number): void {
    this.#local.noteTtl(fn, ttlMs);
  }

  /**
   * `@Cached({ clearCache: true })`: the function's results from earlier runs are cleared, once per
   * stack. Returns the removed keys, or `undefined` when that was done already.
   */
  clearEarlierRuns(fn: string): string[] | undefined {
    if (this.#clearedFunctions.has(fn)) return undefined;
    this.#clearedFunctions.add(fn);
    return this.#local.clear(fn);
  }

  // --- Management -----------------------------------------------------------------------------------

  /** Every entry held, for statuses and counts. */
  entries(): IterableIterator<[string, StoredEntry]> {
    return this.#local.allEntries();
  }

  get variables(): ReadonlyMap<string, string> {
    return this.#local.variables;
  }

  get bytesWritten(): number {
    return this.#local.bytesWritten;
  }

  get journalSyncs(): number {
    return this.#local.journalSyncs;
  }

  get folds(): number {
    return this.#local.folds;
  }

  /** Attributes an instance excludes are not kept in the file, even if an earlier version stored them. */
  forgetVariables(names: ReadonlySet<string>): void {
    this.#local.forgetVariables(names);
  }

  /** An instance's TTL: results of methods not called in this process expire by the longest one. */
  noteInstanceTtl(ttlMs: number): void {
    this.#local.defaultTtlMs = Math.max(this.#local.defaultTtlMs, ttlMs);
  }

  /**
   * Clears in both tiers (all, or one function's); the removed L1 keys come back at once, and `done`
   * resolves once both tiers hold the clear.
   */
  clear(fn?: string): { removed: string[]; done: Promise<boolean> } {
    const removed = this.#local.clear(fn);
    const local = this.#local.save(false);
    const done = this.#remote === undefined ? local : Promise.all([local, this.#remote.remove(fn)]).then(([a, b]) => a && b);
    return { removed, done };
  }

  /**
   * Saves attributes (the JSON text of each encoded value; `attributesJson` makes them one object's
   * text, for L2 only) and every pending result: `true` once both
   * tiers hold everything saved so far (fsynced locally), `false` while anything is pending.
   */
  save(variables: Map<string, string>, attributesJson: (variables: Map<string, string>) => string): Promise<boolean> {
    this.#local.setVariables(variables);
    const local = this.#local.save();
    if (this.#remote === undefined) return local;
    void this.#remote.saveState(attributesJson(variables));
    return Promise.all([local, this.#remote.settle()]).then(([written, remote]) => written && remote);
  }

  /** Writes pending changes without fsync (a graceful shutdown of one cache). */
  flush(): Promise<boolean> {
    return this.#local.flush();
  }

  /**
   * Copies L2's unexpired results into L1; with `restore`, also the attributes L2 holds when L1 has none
   * (`restore` installs them and returns what to persist). `undefined` when L2 is unavailable.
   */
  async preload(restore: (json: string) => Map<string, string>): Promise<{ entries: number; attributes: boolean } | undefined> {
    if (this.#remote === undefined) return { entries: 0, attributes: false };
    const entries = await this.#remote.preload();
    if (entries === undefined) return undefined;
    let attributes = false;
    if (this.#local.variables.size === 0) {
      const json = await this.#remote.loadState();
      if (json !== undefined) {
        this.#local.setVariables(restore(json));
        attributes = this.#local.variables.size > 0;
      }
    }
    return { entries, attributes };
  }

  /** L2's counts; `undefined` without a table or when L2 is unavailable. */
  remoteCounts(): Promise<{ totalEntries: number; functions: Record<string, number> } | undefined> {
    return this.#remote === undefined ? Promise.resolve(undefined) : this.#remote.count();
  }
}

/**
 * The entry's line with its expiry recorded (`ttlMs`: the method's TTL now; `keepMs`: the longest TTL
 * plus stale window of the function in this process), so the file tells readers that do not know the
 * method's TTL (the CLI) when it expires. Made now, so the entry need not keep the expiry (an object per
 * entry) until it is written; `undefined` if it cannot be made (the write drops the entry, with a warning).
 */
function textWithExpiry(entry: StoredEntry, ttlMs: number, keepMs: number | undefined): string | undefined {
  const { meta } = entry;
  const ttl = meta?.ttlMs ?? ttlMs;
  const stale = keepMs !== undefined && keepMs > ttl ? keepMs - ttl : meta?.staleMs;
  try {
    return entryTextOf(entry.raw, entry.time, entry.async, meta?.ttlMs, meta?.version, entry.time + ttl, stale);
  } catch {
    return undefined;
  }
}
