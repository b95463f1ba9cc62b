/**
 * The L2 tier: cache entries and object state in one DynamoDB table, shared by processes and machines.
 *
 * - The AWS SDK (`@aws-sdk/client-dynamodb`, `@aws-sdk/lib-dynamodb`) is imported on first use only, so
 *   programs without a table pay nothing; when it is missing, operations say what to install.
 * - Nothing here throws or blocks: every operation resolves to an `L2Outcome`, either a value or a
 *   failure with a reason. Each request has a timeout (default 1 s) enforced both by the HTTP handler
 *   and by an abort signal, so a hung server cannot stall a caller.
 * - A failure that says "DynamoDB is not usable right now" (timeout, unreachable, throttled, access
 *   denied, missing credentials or region) opens a circuit breaker: further operations fail at once
 *   for a cool-down (2 s, doubling to 30 s while failures continue), then one probe goes through, and
 *   its success closes the breaker. Each cause is logged once per process; recovery is logged at info.
 * - The table is checked (and created when missing: PAY_PER_REQUEST, TTL on `ttl`) once per process,
 *   by the first operation; concurrent creators in other processes are tolerated. While it is not ready,
 *   operations fail within the timeout instead of waiting.
 * - Writes are conditional: an entry never replaces a remote entry computed at the same time or later.
 *
 * Item layout: see dynamodb-format.ts.
 */
import type { CacheLog } from "../logger.js";
import {
  ENTRY_PREFIX,
  MAX_ITEM_BYTES,
  STATE_ENTRY,
  decodeEntryItem,
  encodeEntryItem,
  encodeStateItem,
  entrySortKey,
  functionOfEntryKey,
  functionPrefix,
  isExpired,
  itemText,
  type Item,
  type RemoteEntry,
} from "./dynamodb-format.js";

export type { RemoteEntry } from "./dynamodb-format.js";

type DynamoDBClient = import("@aws-sdk/client-dynamodb").DynamoDBClient;
type DocumentClient = import("@aws-sdk/lib-dynamodb").DynamoDBDocumentClient;
type Ddb = typeof import("@aws-sdk/client-dynamodb");
type Doc = typeof import("@aws-sdk/lib-dynamodb");
type Output<C extends abstract new (...args: never) => { resolveMiddleware: (...args: never) => unknown }> = Awaited<
  ReturnType<ReturnType<InstanceType<C>["resolveMiddleware"]>>
>["output"];

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

/**
 * Why an operation did not reach DynamoDB or did not complete:
 * - `sdk-missing`: the AWS SDK packages are not installed (permanent for the process).
 * - `timeout`, `unreachable`, `throttled`, `access-denied`, `credentials`, `region`, `server-error`:
 *   DynamoDB cannot be used right now; the breaker is open for a cool-down.
 * - `circuit-open`: refused without trying, during a cool-down after one of the above.
 * - `table-not-ready`: the table is being checked or created; try later.
 * - `table-missing`: the table disappeared; it is checked (and re-created) again by the next operation.
 * - `table-schema`: the table exists with another key schema (permanent).
 * - `table-name`: the name is not a valid DynamoDB table name (permanent).
 * - `closed`: the tier was closed.
 * - `error`: DynamoDB rejected this request (e.g. a validation error); other requests may work.
 */
export type L2FailureReason =
  | "sdk-missing"
  | "timeout"
  | "unreachable"
  | "throttled"
  | "access-denied"
  | "credentials"
  | "region"
  | "server-error"
  | "circuit-open"
  | "table-not-ready"
  | "table-missing"
  | "table-schema"
  | "table-name"
  | "closed"
  | "error";

export type L2Outcome<T> = { ok: true; value: T } | { ok: false; reason: L2FailureReason; message: string };

export const DEFAULT_L2_TIMEOUT_MS = 1000;
const FIRST_COOL_DOWN_MS = 2000;
const MAX_COOL_DOWN_MS = 30_000;
/** How long table creation may take before the check gives up (and is retried by a later operation). */
const TABLE_WAIT_MS = 120_000;
const TABLE_POLL_MS = 100;
const BATCH_GET_SIZE = 100;
const BATCH_WRITE_SIZE = 25;
const BATCH_RETRIES = 8;
const BATCH_CONCURRENCY = 4;
const INSTALL_HINT = "npm install @aws-sdk/client-dynamodb @aws-sdk/lib-dynamodb";

/** Causes after which DynamoDB is considered unusable for a cool-down. */
const BREAKER_CAUSES = new Set<L2FailureReason>(["timeout", "unreachable", "throttled", "access-denied", "credentials", "region", "server-error", "sdk-missing"]);

class L2Failure extends Error {
  constructor(
    readonly reason: L2FailureReason,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------
// SDK loading (once per process)

interface Sdk {
  ddb: Ddb;
  doc: Doc;
}

let sdkLoad: Promise<Sdk | L2Failure> | undefined;

function loadSdk(): Promise<Sdk | L2Failure> {
  sdkLoad ??= (async () => {
    try {
      const [ddb, doc] = await Promise.all([import("@aws-sdk/client-dynamodb"), import("@aws-sdk/lib-dynamodb")]);
      return { ddb, doc };
    } catch (error) {
      return new L2Failure("sdk-missing", `the AWS SDK could not be loaded (${errorText(error)}); to use a DynamoDB table: ${INSTALL_HINT}`);
    }
  })();
  return sdkLoad;
}

// ---------------------------------------------------------------------------------------------------
// Connections: one per table and client configuration per process, shared by tiers.

interface Clients {
  sdk: Sdk;
  client: DynamoDBClient;
  doc: DocumentClient;
}

const connections = new Map<string, Connection>();
const connectionsByClient = new WeakMap<object, Map<string, Connection>>();
let anonymousEndpoint = 0;

class Connection {
  refs = 0;
  #clients: Promise<Clients | L2Failure> | undefined;
  #tableReady = false;
  #tableCheck: Promise<L2Outcome<void>> | undefined;
  #permanent: L2Failure | undefined;
  /** 0 while the breaker is closed; else the current cool-down. */
  #coolDown = 0;
  #openUntil = 0;
  #probing = false;
  #lastFailure: L2Failure | undefined;

  constructor(
    readonly key: string,
    readonly table: string,
    readonly timeoutMs: number,
    private readonly config: { client?: object; endpoint?: string; region?: string; create: boolean },
  ) {}

  get where(): string {
    return `DynamoDB table "${this.table}"${this.config.endpoint ? ` at ${this.config.endpoint}` : ""}`;
  }

  clients(): Promise<Clients | L2Failure> {
    this.#clients ??= (async () => {
      const sdk = await loadSdk();
      if (sdk instanceof L2Failure) return sdk;
      try {
        let client = this.config.client as DynamoDBClient | undefined;
        if (client === undefined) {
          client = new sdk.ddb.DynamoDBClient({
            ...(this.config.region ? { region: this.config.region } : {}),
            ...(this.config.endpoint ? { endpoint: this.config.endpoint } : {}),
            maxAttempts: 2,
            // Options for the SDK's own NodeHttpHandler (from @smithy/node-http-handler, which the SDK
            // depends on): importing that package here would make bundlers inline it. Without
            // `throwOnRequestTimeout` a request over `requestTimeout` only logs a warning.
            requestHandler: {
              connectionTimeout: this.timeoutMs,
              requestTimeout: this.timeoutMs,
              throwOnRequestTimeout: true,
              logger: { debug() {}, info() {}, warn() {}, error() {} },
            } as never,
          });
        }
        const doc = sdk.doc.DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
        return { sdk, client, doc };
      } catch (error) {
        return classify(error);
      }
    })();
    return this.#clients;
  }

  destroy(): void {
    if (this.config.client !== undefined) return; // the caller's client stays the caller's
    void this.#clients?.then((c) => {
      if (!(c instanceof L2Failure)) c.client.destroy();
    });
  }

  // ----- circuit breaker

  admit(log: CacheLog): { ok: true; probe: boolean } | { ok: false; failure: L2Failure } {
    if (this.#permanent) return { ok: false, failure: this.#permanent };
    if (!isValidTableName(this.table)) {
      const message = `${JSON.stringify(this.table)} is not a valid DynamoDB table name (3 to 255 characters: letters, digits, "_", "-", ".")`;
      return { ok: false, failure: this.failed(new L2Failure("table-name", message), false, log) };
    }
    if (this.#coolDown === 0) return { ok: true, probe: false };
    if (Date.now() < this.#openUntil || this.#probing) {
      const last = this.#lastFailure;
      return {
        ok: false,
        failure: new L2Failure("circuit-open", `${this.where} is unavailable (${last?.reason ?? "failure"}: ${last?.message ?? ""}); retrying after a cool-down`),
      };
    }
    this.#probing = true;
    return { ok: true, probe: true };
  }

  succeeded(log: CacheLog): void {
    this.#probing = false;
    if (this.#coolDown === 0) return;
    this.#coolDown = 0;
    this.#lastFailure = undefined;
    log.write("info", `${this.where} is reachable again; L2 caching resumed`);
  }

  /** Ends a probe whose failure was already recorded (by the table check): a breaker cause lengthens the cool-down. */
  probeFailed(failure: L2Failure): void {
    this.#probing = false;
    if (!BREAKER_CAUSES.has(failure.reason) || this.#coolDown === 0) return;
    this.#coolDown = Math.min(this.#coolDown * 2, MAX_COOL_DOWN_MS);
    this.#openUntil = Date.now() + this.#coolDown;
  }

  /** Records a failure: logs its cause once, opens the breaker for causes that make DynamoDB unusable. */
  failed(failure: L2Failure, probe: boolean, log: CacheLog): L2Failure {
    if (probe) this.#probing = false;
    if (failure.reason === "table-missing") {
      this.#tableReady = false;
      this.#tableCheck = undefined;
    }
    if (failure.reason === "sdk-missing" || failure.reason === "table-schema" || failure.reason === "table-name") this.#permanent = failure;
    const cause = failure.reason === "error" ? `error:${failure.message.slice(0, 80)}` : failure.reason;
    log.once("warn", `l2:${this.table}:${cause}`, `${this.where}: ${failure.message}${BREAKER_CAUSES.has(failure.reason) && !this.#permanent ? "; using the local cache only until it is back" : ""}`);
    if (BREAKER_CAUSES.has(failure.reason)) {
      this.#lastFailure = failure;
      if (this.#coolDown === 0) this.#coolDown = FIRST_COOL_DOWN_MS;
      else if (probe) this.#coolDown = Math.min(this.#coolDown * 2, MAX_COOL_DOWN_MS);
      else return failure; // a call admitted before the breaker opened: the cool-down stands
      this.#openUntil = Date.now() + this.#coolDown;
    }
    return failure;
  }

  // ----- table readiness

  get tableReady(): boolean {
    return this.#tableReady;
  }

  /** Checks (and creates) the table once; never rejects. A failed check is retried by a later call. */
  ensureTable(clients: Clients, log: CacheLog): Promise<L2Outcome<void>> {
    if (this.#tableReady) return Promise.resolve({ ok: true, value: undefined });
    this.#tableCheck ??= (async (): Promise<L2Outcome<void>> => {
      try {
        await this.#prepareTable(clients, log);
        this.#tableReady = true;
        return { ok: true, value: undefined };
      } catch (error) {
        this.#tableCheck = undefined;
        const failure = this.failed(classify(error), false, log);
        return { ok: false, reason: failure.reason, message: failure.message };
      }
    })();
    return this.#tableCheck;
  }

  async #prepareTable({ sdk, client }: Clients, log: CacheLog): Promise<void> {
    const { DescribeTableCommand, CreateTableCommand } = sdk.ddb;
    const describe = async () => (await this.send<Output<Ddb["DescribeTableCommand"]>>(client, new DescribeTableCommand({ TableName: this.table }))).Table;
    let table;
    try {
      table = await describe();
    } catch (error) {
      const name = errorName(error);
      if (name === "AccessDeniedException") {
        // Allowed to read and write items but not to describe the table: assume it is set up.
        log.once("warn", `l2:${this.table}:describe-denied`, `${this.where}: not allowed to describe the table; assuming it exists with TTL on "ttl"`);
        return;
      }
      if (name !== "ResourceNotFoundException" || !this.config.create) throw error;
      log.write("info", `creating ${this.where} (partition key cache_id, sort key entry, PAY_PER_REQUEST, TTL on "ttl")`);
      try {
        await this.send(
          client,
          new CreateTableCommand({
            TableName: this.table,
            AttributeDefinitions: [
              { AttributeName: "cache_id", AttributeType: "S" },
              { AttributeName: "entry", AttributeType: "S" },
            ],
            KeySchema: [
              { AttributeName: "cache_id", KeyType: "HASH" },
              { AttributeName: "entry", KeyType: "RANGE" },
            ],
            BillingMode: "PAY_PER_REQUEST",
          }),
        );
      } catch (createError) {
        if (errorName(createError) !== "ResourceInUseException") throw createError; // another process creates it
      }
      table = undefined;
    }
    const deadline = Date.now() + TABLE_WAIT_MS;
    while (table?.TableStatus !== "ACTIVE") {
      if (table !== undefined && table.TableStatus !== "CREATING" && table.TableStatus !== "UPDATING") {
        throw new L2Failure("table-not-ready", `the table is ${table.TableStatus}`);
      }
      if (Date.now() > deadline) throw new L2Failure("table-not-ready", `the table did not become ACTIVE within ${TABLE_WAIT_MS / 1000} s`);
      if (table !== undefined) await sleep(TABLE_POLL_MS);
      try {
        table = await describe();
      } catch (error) {
        if (errorName(error) !== "ResourceNotFoundException") throw error;
        table = undefined;
        await sleep(TABLE_POLL_MS);
      }
    }
    const keys = (table.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).sort();
    if (keys.join(",") !== "cache_id:HASH,entry:RANGE") {
      throw new L2Failure(
        "table-schema",
        `the table's key schema is ${keys.join(", ") || "unknown"}; cacherator needs partition key "cache_id" (S) and sort key "entry" (S): use another table name`,
      );
    }
    await this.#enableTtl(sdk, client, log);
  }

  async #enableTtl(sdk: Sdk, client: DynamoDBClient, log: CacheLog): Promise<void> {
    const { DescribeTimeToLiveCommand, UpdateTimeToLiveCommand } = sdk.ddb;
    try {
      const current = (await this.send<Output<Ddb["DescribeTimeToLiveCommand"]>>(client, new DescribeTimeToLiveCommand({ TableName: this.table }))).TimeToLiveDescription;
      const status = current?.TimeToLiveStatus;
      if ((status === "ENABLED" || status === "ENABLING") && current?.AttributeName === "ttl") return;
      if (status === "ENABLED" || status === "ENABLING") {
        log.once("warn", `l2:${this.table}:ttl-attribute`, `${this.where}: TTL is enabled on "${current?.AttributeName}", not "ttl"; expired entries are never served but DynamoDB will not delete them`);
        return;
      }
      await this.send(client, new UpdateTimeToLiveCommand({ TableName: this.table, TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true } }));
      log.write("info", `${this.where}: TTL enabled on "ttl"`);
    } catch (error) {
      const failure = classify(error);
      if (/already enabled/i.test(errorText(error))) return; // a concurrent process enabled it
      if (failure.reason === "error" || failure.reason === "access-denied") {
        // The table works without DynamoDB's TTL deletion: expired items are filtered on read.
        log.once("warn", `l2:${this.table}:ttl`, `${this.where}: could not enable TTL on "ttl" (${failure.message}); expired entries are never served but stay in the table`);
        return;
      }
      throw error;
    }
  }

  /** Sends one request, bounded by the timeout whatever the SDK does. */
  async send<O>(client: { send(command: never, options?: { abortSignal?: AbortSignal }): Promise<O> }, command: unknown): Promise<O> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new L2Failure("timeout", `no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([client.send(command as never, { abortSignal: controller.signal }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function connectionFor(options: DynamoDBTierOptions, timeoutMs: number): Connection {
  const endpoint = options.endpoint ?? (process.env.AWS_ENDPOINT_URL_DYNAMODB || undefined);
  const config = { endpoint, region: options.region, create: options.createTable !== false };
  if (typeof options.client === "object" && options.client !== null) {
    let byTable = connectionsByClient.get(options.client);
    if (!byTable) connectionsByClient.set(options.client, (byTable = new Map()));
    let connection = byTable.get(options.table);
    if (!connection) {
      connection = new Connection(`client#${++anonymousEndpoint}|${options.table}`, options.table, timeoutMs, { ...config, client: options.client });
      byTable.set(options.table, connection);
    }
    return connection;
  }
  const key = [options.table, endpoint ?? "", options.region ?? "", timeoutMs, config.create].join("\u0000");
  let connection = connections.get(key);
  if (!connection) connections.set(key, (connection = new Connection(key, options.table, timeoutMs, config)));
  return connection;
}

// ---------------------------------------------------------------------------------------------------
// The tier

/** Builds a tier; synchronous and free: the SDK is loaded and the table checked by the first operation. */
export function createDynamoDBTier(options: DynamoDBTierOptions): DynamoDBTier {
  return new DynamoDBTier(options);
}

export class DynamoDBTier {
  readonly table: string;
  readonly timeoutMs: number;
  readonly #log: CacheLog;
  readonly #connection: Connection;
  #closed = false;

  constructor(options: DynamoDBTierOptions) {
    this.table = options.table;
    const timeout = options.timeoutMs;
    this.timeoutMs = typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_L2_TIMEOUT_MS;
    this.#log = options.log;
    this.#connection = connectionFor(options, this.timeoutMs);
    this.#connection.refs++;
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
    return this.#run("getMany", async ({ doc, sdk }) => {
      const found = new Map<string, RemoteEntry>();
      const unique = [...new Set(keys)];
      const chunks: string[][] = [];
      for (let i = 0; i < unique.length; i += BATCH_GET_SIZE) chunks.push(unique.slice(i, i + BATCH_GET_SIZE));
      const now = Date.now();
      await forEachLimit(chunks, BATCH_CONCURRENCY, async (chunk) => {
        let pending: Item[] = chunk.map((key) => ({ cache_id: dataId, entry: entrySortKey(key) }));
        for (let attempt = 0; pending.length > 0; attempt++) {
          if (attempt > 0) await this.#backoff(attempt, "BatchGetItem left keys unprocessed");
          const out = await this.#send<Output<Doc["BatchGetCommand"]>>(doc, new sdk.doc.BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending } } }));
          for (const item of (out.Responses?.[this.table] ?? []) as Item[]) {
            if (isExpired(item, now)) continue;
            const entry = decodeEntryItem(item);
            if (entry) found.set(entry.key, entry);
          }
          pending = (out.UnprocessedKeys?.[this.table]?.Keys ?? []) as Item[];
        }
      });
      this.#log.write("debug", `L2 getMany ${this.table} ${dataId}: ${found.size} of ${unique.length} found`);
      return found;
    });
  }

  /**
   * Writes one entry unless the table holds the same entry computed at the same time or later
   * (`newer-remote`). An entry over DynamoDB's item limit even after compression is not sent
   * (`too-large`, one warning per function).
   */
  put(dataId: string, entry: RemoteEntry, ttlMs: number): Promise<L2Outcome<"written" | "newer-remote" | "too-large">> {
    const encoded = encodeEntryItem(dataId, entry, ttlMs);
    if (encoded.size > MAX_ITEM_BYTES) {
      const fn = functionOfEntryKey(entry.key);
      this.#log.once(
        "warn",
        `l2:${this.table}:too-large:${fn}`,
        `a value of ${fn}() is ${encoded.size} bytes in DynamoDB${encoded.compressed ? " even compressed" : ""}, over the 400 KB item limit: such entries stay in the local cache only`,
      );
      return Promise.resolve({ ok: true, value: "too-large" });
    }
    return this.#run("put", async ({ doc, sdk }) => {
      try {
        await this.#send(
          doc,
          new sdk.doc.PutCommand({
            TableName: this.table,
            Item: encoded.item,
            ConditionExpression: "attribute_not_exists(#c) OR #t < :t",
            ExpressionAttributeNames: { "#c": "cache_id", "#t": "epoch_ms" },
            ExpressionAttributeValues: { ":t": entry.time },
          }),
        );
      } catch (error) {
        if (errorName(error) !== "ConditionalCheckFailedException") throw error;
        this.#log.write("debug", `L2 put ${this.table} ${dataId} ${entry.key}: kept the newer remote entry`);
        return "newer-remote" as const;
      }
      this.#log.write("debug", `L2 put ${this.table} ${dataId} ${entry.key}: written (${encoded.size} bytes${encoded.compressed ? ", compressed" : ""})`);
      return "written" as const;
    });
  }

  /** Every unexpired entry of an object (Query, all pages). */
  list(dataId: string): Promise<L2Outcome<RemoteEntry[]>> {
    return this.#run("list", async (clients) => {
      const entries: RemoteEntry[] = [];
      const now = Date.now();
      await this.#query(clients, dataId, ENTRY_PREFIX, undefined, async (items) => {
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

  /** Removes an object's entries, or one function's (exact name); resolves to the number removed. */
  remove(dataId: string, functionName?: string): Promise<L2Outcome<number>> {
    return this.#run("remove", async (clients) => {
      let removed = 0;
      const prefix = functionName === undefined ? ENTRY_PREFIX : functionPrefix(functionName);
      await this.#query(clients, dataId, prefix, "#c, #e", async (items) => {
        const chunks: Item[][] = [];
        for (let i = 0; i < items.length; i += BATCH_WRITE_SIZE) chunks.push(items.slice(i, i + BATCH_WRITE_SIZE));
        await forEachLimit(chunks, BATCH_CONCURRENCY, async (chunk) => {
          let pending: unknown[] = chunk.map((item) => ({ DeleteRequest: { Key: { cache_id: item.cache_id, entry: item.entry } } }));
          for (let attempt = 0; pending.length > 0; attempt++) {
            if (attempt > 0) await this.#backoff(attempt, "BatchWriteItem left deletions unprocessed");
            const out = await this.#send<Output<Doc["BatchWriteCommand"]>>(clients.doc, new clients.sdk.doc.BatchWriteCommand({ RequestItems: { [this.table]: pending as never } }));
            const unprocessed = out.UnprocessedItems?.[this.table] ?? [];
            removed += pending.length - unprocessed.length;
            pending = unprocessed;
          }
        });
      });
      this.#log.write("debug", `L2 remove ${this.table} ${dataId}${functionName === undefined ? "" : ` ${functionName}`}: ${removed} removed`);
      return removed;
    });
  }

  /** Counts an object's unexpired entries, in all and per function. */
  count(dataId: string): Promise<L2Outcome<{ totalEntries: number; functions: Record<string, number> }>> {
    return this.#run("count", async (clients) => {
      const functions: Record<string, number> = {};
      let totalEntries = 0;
      const now = Date.now();
      await this.#query(clients, dataId, ENTRY_PREFIX, "#e, expires_ms, #ttl", async (items) => {
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
  putState(dataId: string, text: string): Promise<L2Outcome<"written" | "too-large">> {
    const encoded = encodeStateItem(dataId, text, Date.now());
    if (encoded.size > MAX_ITEM_BYTES) {
      this.#log.once("warn", `l2:${this.table}:too-large:state`, `the attributes of "${dataId}" are ${encoded.size} bytes in DynamoDB, over the 400 KB item limit: they are kept locally only`);
      return Promise.resolve({ ok: true, value: "too-large" });
    }
    return this.#run("putState", async ({ doc, sdk }) => {
      await this.#send(doc, new sdk.doc.PutCommand({ TableName: this.table, Item: encoded.item }));
      this.#log.write("debug", `L2 putState ${this.table} ${dataId}: written (${encoded.size} bytes)`);
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

  /** Releases this tier; the client is destroyed when no tier uses it (a client passed in is left alone). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const connection = this.#connection;
    if (--connection.refs > 0) return;
    connection.destroy();
    for (const [key, value] of connections) if (value === connection) connections.delete(key);
    // Connections of a caller's client live in a WeakMap and go with it.
  }

  // ----- internals

  async #run<T>(operation: string, body: (clients: Clients) => Promise<T>, tableWaitMs = this.timeoutMs): Promise<L2Outcome<T>> {
    if (this.#closed) return { ok: false, reason: "closed", message: `the L2 tier of ${this.table} was closed` };
    const connection = this.#connection;
    const admission = connection.admit(this.#log);
    if (!admission.ok) return failure(admission.failure);
    const clients = await connection.clients();
    if (clients instanceof L2Failure) return failure(connection.failed(clients, admission.probe, this.#log));
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
      return failure(cause);
    }
  }

  #send<O>(client: { send(command: never, options?: { abortSignal?: AbortSignal }): Promise<O> }, command: unknown): Promise<O> {
    return this.#connection.send(client, command);
  }

  /** Pages through the items of `dataId` whose sort key starts with `prefix`, handing each page over. */
  async #query({ doc, sdk }: Clients, dataId: string, prefix: string, projection: string | undefined, onPage: (items: Item[]) => Promise<void>): Promise<void> {
    let start: Record<string, unknown> | undefined;
    do {
      const names: Record<string, string> = { "#c": "cache_id", "#e": "entry" };
      if (projection?.includes("#ttl")) names["#ttl"] = "ttl";
      const out = await this.#send<Output<Doc["QueryCommand"]>>(
        doc,
        new sdk.doc.QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "#c = :c AND begins_with(#e, :p)",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ":c": dataId, ":p": prefix },
          ...(projection ? { ProjectionExpression: projection } : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      await onPage((out.Items ?? []) as Item[]);
      start = out.LastEvaluatedKey;
    } while (start);
  }

  async #backoff(attempt: number, what: string): Promise<void> {
    if (attempt > BATCH_RETRIES) throw new L2Failure("throttled", `${what} after ${BATCH_RETRIES} retries`);
    await sleep(Math.min(25 * 2 ** attempt, 1000) * (0.5 + Math.random() / 2));
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

/** DynamoDB's rule for table names. */
export function isValidTableName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{3,255}$/.test(name);
}

function failure(f: L2Failure): { ok: false; reason: L2FailureReason; message: string } {
  return { ok: false, reason: f.reason, message: f.message };
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ECONNABORTED", "EPROTO"]);
const THROTTLING = new Set(["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "LimitExceededException"]);
const DENIED = new Set([
  "AccessDeniedException",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "ExpiredTokenException",
  "MissingAuthenticationTokenException",
  "InvalidClientTokenId",
  "IncompleteSignatureException",
]);

/** Maps an SDK or network error to a failure reason. */
function classify(error: unknown): L2Failure {
  if (error instanceof L2Failure) return error;
  const name = errorName(error);
  const text = errorText(error);
  const code = errorCode(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  if (name === "TimeoutError" || name === "AbortError" || name === "RequestTimeout" || code === "ETIMEDOUT" || code === "ESOCKETTIMEDOUT") {
    return new L2Failure("timeout", `no answer in time (${text})`);
  }
  if ((code && NETWORK_CODES.has(code)) || /socket hang up|ECONNREFUSED|ECONNRESET/i.test(text)) return new L2Failure("unreachable", `cannot connect (${text})`);
  if (THROTTLING.has(name)) return new L2Failure("throttled", `throttled (${name})`);
  if (DENIED.has(name) || status === 403) return new L2Failure("access-denied", `access denied (${name}: ${text})`);
  if (name === "CredentialsProviderError" || /could not load credentials|credential/i.test(text)) {
    return new L2Failure("credentials", `no AWS credentials (${text}); set them as for any AWS SDK program (environment, profile, role)`);
  }
  if (/region/i.test(text) && /missing|not (?:set|found|configured)|required/i.test(text)) {
    return new L2Failure("region", `no AWS region (${text}); set AWS_REGION or the region option`);
  }
  if (name === "ResourceNotFoundException") return new L2Failure("table-missing", "the table does not exist (any more); it will be checked again");
  if ((status !== undefined && status >= 500) || name === "InternalServerError" || name === "ServiceUnavailable") {
    return new L2Failure("server-error", `DynamoDB failed (${name}: ${text})`);
  }
  return new L2Failure("error", `${name}: ${text}`);
}

function errorName(error: unknown): string {
  return typeof error === "object" && error !== null && typeof (error as { name?: unknown }).name === "string" ? (error as { name: string }).name : "Error";
}

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; typeof e === "object" && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** `promise`'s value, or `undefined` if it takes longer than `ms` (the timer does not outlive it). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)))]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `fn` over `items` with at most `limit` at a time; the first failure rejects (after the rest settle). */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw firstError;
}
