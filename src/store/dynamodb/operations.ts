/**
 * The L2 tier: cache entries, object state and clear times of one DynamoDB table, shared by processes
 * and machines.
 *
 * - Nothing here throws or blocks: every operation resolves to an `L2Outcome`, either a value or a
 *   failure with a reason. Each request is bounded by the timeout (default 1 s).
 * - A failure that says "DynamoDB is not usable right now" opens the connection's circuit breaker
 *   (breaker.ts); each cause is logged once per process, recovery at info.
 * - The table is checked (and created when missing) once per process, by the first operation; while it
 *   is not ready, operations fail within the timeout instead of waiting.
 * - Writes are conditional (writes.ts): an entry never replaces a remote entry computed at the same
 *   time or later, and a clear time only rises.
 *
 * Item layout: see dynamodb-format.ts.
 */
import type { CacheLog } from "../../logger.js";
import {
  CLEARS_ENTRY,
  ENTRY_PREFIX,
  STATE_ENTRY,
  decodeClears,
  decodeEntryItem,
  encodeEntryItem,
  encodeStateItem,
  entrySortKey,
  functionOfEntryKey,
  isExpired,
  itemText,
  tooLargeForTable,
  type Item,
  type RemoteEntry,
} from "../dynamodb-format.js";
import { chunks, forEachLimit, within } from "./async-tools.js";
import type { Clients, Doc, Output } from "./client.js";
import { connectionPool, type Connection } from "./connection.js";
import { L2Failure, classify, failureOutcome, type L2Outcome } from "./failures.js";
import { BATCH_CONCURRENCY, backoff, putEntry, putItem, queryPages, recordClear, removeBefore, type L2Write, type WriteContext } from "./writes.js";

export interface DynamoDBTierOptions {
  /** Table name. */
  table: string;
  /** A ready `DynamoDBClient` to use instead of building one (its own timeouts and retries then apply). */
  client?: unknown;
  /** Endpoint override; default `AWS_ENDPOINT_URL_DYNAMODB`, then the SDK's own resolution. */
  endpoint?: string;
  /** Region; default the SDK chain (`AWS_REGION`, profile…). */
  region?: string;
  /** Timeout of each DynamoDB request, ms (default 1000). */
  timeoutMs?: number;
  /** Create the table when it is missing (default true; the inspector only looks). */
  createTable?: boolean;
  log: CacheLog;
}

export const DEFAULT_L2_TIMEOUT_MS = 1000;
const BATCH_GET_SIZE = 100;

export type EntryWriteResult = "written" | "newer-remote" | "too-large";

/** Builds a tier; synchronous and free: the SDK is loaded and the table checked by the first operation. */
export function createDynamoDBTier(options: DynamoDBTierOptions): DynamoDBTier {
  return new DynamoDBTier(options);
}

export class DynamoDBTier {
  readonly table: string;
  readonly timeoutMs: number;
  /** Endpoint and region as configured (the exit worker builds its own client from them). */
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
  readonly #log: CacheLog;
  readonly #connection: Connection;
  #closed = false;

  constructor(options: DynamoDBTierOptions) {
    this.table = options.table;
    const timeout = options.timeoutMs;
    this.timeoutMs = typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_L2_TIMEOUT_MS;
    this.#log = options.log;
    this.endpoint = options.endpoint ?? (process.env.AWS_ENDPOINT_URL_DYNAMODB || undefined);
    this.region = options.region;
    const client = typeof options.client === "object" && options.client !== null ? options.client : undefined;
    this.#connection = connectionPool.acquire({ table: options.table, endpoint: this.endpoint, region: options.region, client, timeoutMs: this.timeoutMs, create: options.createTable !== false });
  }

  /** Whether this process has checked the table and found it ready. */
  get tableReady(): boolean {
    return this.#connection.tableReady;
  }

  /** Loads the SDK and checks (or creates) the table, waiting at most `waitMs` (default: the timeout). */
  ready(waitMs = this.timeoutMs): Promise<L2Outcome<void>> {
    return this.#run("ready", async () => undefined, waitMs);
  }

  /** One entry; `undefined` when absent or expired. */
  get(dataId: string, key: string): Promise<L2Outcome<RemoteEntry | undefined>> {
    return this.#run("get", async ({ doc, sdk }) => {
      const out = await this.#send<Output<Doc["GetCommand"]>>(doc, new sdk.doc.GetCommand({ TableName: this.table, Key: { cache_id: dataId, entry: entrySortKey(key) } }));
      const item = out.Item as Item | undefined;
      const entry = item && !isExpired(item, Date.now()) ? decodeEntryItem(item) : undefined;
      this.#log.write("debug", `L2 get ${this.table} ${dataId} ${key}: ${entry ? "hit" : item ? "expired" : "miss"}`);
      return entry;
    });
  }

  /** Several entries of one object (BatchGetItem, 100 keys a request); absent and expired ones are left out. */
  getMany(dataId: string, keys: string[]): Promise<L2Outcome<Map<string, RemoteEntry>>> {
    return this.#run("getMany", async (clients) => {
      const found = new Map<string, RemoteEntry>();
      const now = Date.now();
      await this.#batchGet(clients, dataId, keys, undefined, (item) => {
        if (isExpired(item, now)) return;
        const entry = decodeEntryItem(item);
        if (entry) found.set(entry.key, entry);
      });
      this.#log.write("debug", `L2 getMany ${this.table} ${dataId}: ${found.size} of ${keys.length} found`);
      return found;
    });
  }

  /**
   * When the table's copies of these entries were computed (BatchGetItem of the keys and `epoch_ms`
   * only, 100 keys a request): key → epoch ms, absent keys left out. Expiry is not read: an item that
   * is there counts as there.
   */
  times(dataId: string, keys: string[]): Promise<L2Outcome<Map<string, number>>> {
    return this.#run("times", async (clients) => {
      const found = new Map<string, number>();
      await this.#batchGet(clients, dataId, keys, "#e, #t", (item) => {
        if (typeof item.entry === "string" && typeof item.epoch_ms === "number") found.set(item.entry.slice(ENTRY_PREFIX.length), item.epoch_ms);
      });
      this.#log.write("debug", `L2 times ${this.table} ${dataId}: ${found.size} of ${keys.length} held`);
      return found;
    });
  }

  /**
   * Writes one entry unless the table holds the same entry computed at the same time or later
   * (`newer-remote`). An entry over DynamoDB's item limit even after compression is not sent
   * (`too-large`, one warning per function).
   */
  put(dataId: string, entry: RemoteEntry, ttlMs: number): Promise<L2Outcome<EntryWriteResult>> {
    const encoded = encodeEntryItem(dataId, entry, ttlMs);
    const tooLarge = tooLargeForTable(encoded);
    if (tooLarge !== undefined) {
      const fn = functionOfEntryKey(entry.key);
      this.#log.once("warn", `l2:${this.table}:too-large:${fn}`, `a value of ${fn}() is ${tooLarge}: such entries stay in the local cache only`);
      return Promise.resolve({ ok: true, value: "too-large" });
    }
    return this.#run("put", async (clients) => {
      const result = await putEntry(this.#context(clients), encoded.item, entry.time);
      const what = result === "written" ? `written (${encoded.size} bytes${encoded.compressed ? ", compressed" : ""})` : "kept the newer remote entry";
      this.#log.write("debug", `L2 put ${this.table} ${dataId} ${entry.key}: ${what}`);
      return result;
    });
  }

  /** Carries out one write of any kind (what a backlog keeps); resolves once DynamoDB holds its effect. */
  write(write: L2Write): Promise<L2Outcome<unknown>> {
    switch (write.kind) {
      case "entry":
        return this.put(write.dataId, write.entry, write.ttlMs);
      case "state":
        return this.putState(write.dataId, write.text, write.time);
      case "clear":
        return this.remove(write.dataId, write.functionName, write.before);
    }
  }

  /** Every unexpired entry of an object (Query, all pages). */
  list(dataId: string): Promise<L2Outcome<RemoteEntry[]>> {
    return this.#run("list", async (clients) => {
      const entries: RemoteEntry[] = [];
      const now = Date.now();
      await queryPages(this.#context(clients), dataId, ENTRY_PREFIX, {}, async (items) => {
        for (const item of items) {
          if (isExpired(item, now)) continue;
          const entry = decodeEntryItem(item);
          if (entry) entries.push(entry);
        }
      });
      this.#log.write("debug", `L2 list ${this.table} ${dataId}: ${entries.length} entries`);
      return entries;
    });
  }

  /**
   * Clears an object's entries, or one function's (exact name), as of `before` (default now): records
   * the clear time, which every machine reading this table honours, then deletes the entries computed
   * before it. Resolves to the number deleted.
   */
  remove(dataId: string, functionName?: string, before = Date.now()): Promise<L2Outcome<number>> {
    return this.#run("remove", async (clients) => {
      const ctx = this.#context(clients);
      await recordClear(ctx, dataId, functionName, before);
      const removed = await removeBefore(ctx, dataId, functionName, before);
      this.#log.write("debug", `L2 remove ${this.table} ${dataId}${functionName === undefined ? "" : ` ${functionName}`}: ${removed} removed`);
      return removed;
    });
  }

  /** The clear times recorded for an object: function name → epoch ms (`undefined`: every function). */
  clears(dataId: string): Promise<L2Outcome<Map<string | undefined, number>>> {
    return this.#run("clears", async ({ doc, sdk }) => {
      const out = await this.#send<Output<Doc["GetCommand"]>>(doc, new sdk.doc.GetCommand({ TableName: this.table, Key: { cache_id: dataId, entry: CLEARS_ENTRY } }));
      return decodeClears(out.Item as Item | undefined);
    });
  }

  /** Counts an object's unexpired entries, in all and per function. */
  count(dataId: string): Promise<L2Outcome<{ totalEntries: number; functions: Record<string, number> }>> {
    return this.#run("count", async (clients) => {
      const functions: Record<string, number> = {};
      let totalEntries = 0;
      const now = Date.now();
      await queryPages(this.#context(clients), dataId, ENTRY_PREFIX, { projection: "#e, expires_ms, #ttl" }, async (items) => {
        for (const item of items) {
          if (isExpired(item, now) || typeof item.entry !== "string") continue;
          const fn = functionOfEntryKey(item.entry.slice(ENTRY_PREFIX.length));
          functions[fn] = (functions[fn] ?? 0) + 1;
          totalEntries++;
        }
      });
      this.#log.write("debug", `L2 count ${this.table} ${dataId}: ${totalEntries} entries`);
      return { totalEntries, functions };
    });
  }

  /** Writes an object's attributes (the JSON text of the encoded attributes). */
  putState(dataId: string, text: string, time = Date.now()): Promise<L2Outcome<"written" | "too-large">> {
    const encoded = encodeStateItem(dataId, text, time);
    const tooLarge = tooLargeForTable(encoded);
    if (tooLarge !== undefined) {
      this.#log.once("warn", `l2:${this.table}:too-large:state`, `the attributes of "${dataId}" are ${tooLarge}: they are kept locally only`);
      return Promise.resolve({ ok: true, value: "too-large" });
    }
    return this.#run("putState", async (clients) => {
      await putItem(this.#context(clients), encoded.item);
      this.#log.write("debug", `L2 putState ${this.table} ${dataId}: written (${encoded.size} bytes${encoded.compressed ? ", compressed" : ""})`);
      return "written" as const;
    });
  }

  /** An object's attributes as written by `putState`; `undefined` when none. */
  getState(dataId: string): Promise<L2Outcome<string | undefined>> {
    return this.#run("getState", async ({ doc, sdk }) => {
      const out = await this.#send<Output<Doc["GetCommand"]>>(doc, new sdk.doc.GetCommand({ TableName: this.table, Key: { cache_id: dataId, entry: STATE_ENTRY } }));
      const text = out.Item ? itemText(out.Item as Item) : undefined;
      this.#log.write("debug", `L2 getState ${this.table} ${dataId}: ${text === undefined ? "none" : "found"}`);
      return text;
    });
  }

  /**
   * One request defined elsewhere (the leases of dynamodb/lease.ts) through this tier's connection: the
   * same breaker, timeout, table check and outcomes as the tier's own operations.
   */
  request<T>(operation: string, body: (ctx: WriteContext) => Promise<T>): Promise<L2Outcome<T>> {
    return this.#run(operation, (clients) => body(this.#context(clients)));
  }

  /** Releases this tier; the client is destroyed when no tier uses it (a client passed in is left alone). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    connectionPool.release(this.#connection);
  }

  // ----- internals

  async #run<T>(operation: string, body: (clients: Clients) => Promise<T>, tableWaitMs = this.timeoutMs): Promise<L2Outcome<T>> {
    if (this.#closed) return { ok: false, reason: "closed", message: `the L2 tier of ${this.table} was closed` };
    const connection = this.#connection;
    const admission = connection.admit(this.#log);
    if (!admission.ok) return failureOutcome(admission.failure);
    const clients = await connection.clients();
    if (clients instanceof L2Failure) return failureOutcome(connection.failed(clients, admission.probe, this.#log));
    if (!connection.tableReady) {
      const check = connection.ensureTable(clients, this.#log);
      const waited = await within(check, tableWaitMs);
      if (waited === undefined) {
        if (admission.probe) connection.failed(new L2Failure("table-not-ready", "the table is still being checked or created"), true, this.#log);
        return { ok: false, reason: "table-not-ready", message: `${connection.where} is being checked or created` };
      }
      if (!waited.ok) {
        if (admission.probe) connection.probeFailed(new L2Failure(waited.reason, waited.message));
        return waited;
      }
    }
    try {
      const value = await body(clients);
      connection.succeeded(this.#log);
      return { ok: true, value };
    } catch (error) {
      const cause = connection.failed(classify(error), admission.probe, this.#log);
      this.#log.write("debug", `L2 ${operation} ${this.table} failed: ${cause.reason}`);
      return failureOutcome(cause);
    }
  }

  #send<O>(client: { send(command: never, options?: { abortSignal?: AbortSignal }): Promise<O> }, command: unknown): Promise<O> {
    return this.#connection.send(client, command);
  }

  #context({ sdk, doc }: Clients): WriteContext {
    return { sdk, doc, table: this.table, send: (command) => this.#send(doc as never, command) };
  }

  /** BatchGetItem over `keys` (deduplicated, 100 a request, unprocessed keys retried), each item handed over. */
  async #batchGet({ doc, sdk }: Clients, dataId: string, keys: string[], projection: string | undefined, onItem: (item: Item) => void): Promise<void> {
    const unique = [...new Set(keys)];
    await forEachLimit(chunks(unique, BATCH_GET_SIZE), BATCH_CONCURRENCY, async (chunk) => {
      let pending: Item[] = chunk.map((key) => ({ cache_id: dataId, entry: entrySortKey(key) }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await backoff(attempt, "BatchGetItem left keys unprocessed");
        const request = projection === undefined ? { Keys: pending } : { Keys: pending, ProjectionExpression: projection, ExpressionAttributeNames: { "#e": "entry", "#t": "epoch_ms" } };
        const out = await this.#send<Output<Doc["BatchGetCommand"]>>(doc, new sdk.doc.BatchGetCommand({ RequestItems: { [this.table]: request } }));
        for (const item of (out.Responses?.[this.table] ?? []) as Item[]) onItem(item);
        pending = (out.UnprocessedKeys?.[this.table]?.Keys ?? []) as Item[];
      }
    });
  }
}
