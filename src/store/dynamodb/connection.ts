/**
 * Connections: one per table and client configuration per process, shared by the tiers (one tier per
 * dataId) that use it. A connection owns the clients, the circuit breaker and the table's readiness,
 * and logs each cause of failure once per process.
 */
import type { CacheLog } from "../../logger.js";
import { CircuitBreaker } from "./breaker.js";
import { SdkLoader, buildClients, sendWithin, type ClientConfig, type Clients, type Sender } from "./client.js";
import { BREAKER_CAUSES, L2Failure, classify, type L2Outcome } from "./failures.js";
import { prepareTable } from "./table.js";
import { isValidTableName } from "./table-name.js";

export interface ConnectionConfig extends ClientConfig {
  create: boolean;
}

export class Connection {
  refs = 0;
  readonly breaker = new CircuitBreaker();
  #clients: Promise<Clients | L2Failure> | undefined;
  #tableReady = false;
  #tableCheck: Promise<L2Outcome<void>> | undefined;
  #permanent: L2Failure | undefined;
  #lastFailure: L2Failure | undefined;

  constructor(
    readonly table: string,
    readonly timeoutMs: number,
    readonly config: ConnectionConfig,
    private readonly sdk: SdkLoader,
  ) {}

  get where(): string {
    return `DynamoDB table "${this.table}"${this.config.endpoint ? ` at ${this.config.endpoint}` : ""}`;
  }

  clients(): Promise<Clients | L2Failure> {
    this.#clients ??= this.sdk.load().then((sdk) => (sdk instanceof L2Failure ? sdk : buildClients(sdk, this.config, this.timeoutMs)));
    return this.#clients;
  }

  destroy(): void {
    if (this.config.client !== undefined) return; // the caller's client stays the caller's
    void this.#clients?.then((c) => {
      if (!(c instanceof L2Failure)) c.client.destroy();
    });
  }

  /** Whether a request may go now: the name is valid, nothing permanent failed, the breaker lets it. */
  admit(log: CacheLog): { ok: true; probe: boolean } | { ok: false; failure: L2Failure } {
    if (this.#permanent) return { ok: false, failure: this.#permanent };
    if (!isValidTableName(this.table)) {
      const message = `${JSON.stringify(this.table)} is not a valid DynamoDB table name (3 to 255 characters: letters, digits, "_", "-", ".")`;
      return { ok: false, failure: this.failed(new L2Failure("table-name", message), false, log) };
    }
    const admission = this.breaker.admit();
    if (admission === "refuse") {
      const last = this.#lastFailure;
      return {
        ok: false,
        failure: new L2Failure("circuit-open", `${this.where} is unavailable (${last?.reason ?? "failure"}: ${last?.message ?? ""}); retrying after a cool-down`),
      };
    }
    return { ok: true, probe: admission === "probe" };
  }

  succeeded(log: CacheLog): void {
    if (!this.breaker.succeeded()) return;
    this.#lastFailure = undefined;
    log.write("info", `${this.where} is reachable again; L2 caching resumed`);
  }

  /** Records a failure: logs its cause once, opens the breaker for causes that make DynamoDB unusable. */
  failed(failure: L2Failure, probe: boolean, log: CacheLog): L2Failure {
    if (failure.reason === "table-missing") {
      this.#tableReady = false;
      this.#tableCheck = undefined;
    }
    if (failure.reason === "sdk-missing" || failure.reason === "table-schema" || failure.reason === "table-name") this.#permanent = failure;
    const unusable = BREAKER_CAUSES.has(failure.reason);
    const cause = failure.reason === "error" ? `error:${failure.message.slice(0, 80)}` : failure.reason;
    log.once("warn", `l2:${this.table}:${cause}`, `${this.where}: ${failure.message}${unusable && !this.#permanent ? "; using the local cache only until it is back" : ""}`);
    if (unusable) this.#lastFailure = failure;
    this.breaker.failed(probe, unusable);
    return failure;
  }

  /** Ends a probe whose failure was already recorded (by the table check). */
  probeFailed(failure: L2Failure): void {
    if (this.breaker.state === "closed") return;
    this.breaker.failed(true, BREAKER_CAUSES.has(failure.reason));
  }

  get tableReady(): boolean {
    return this.#tableReady;
  }

  /** Checks (and creates) the table once; never rejects. A failed check is retried by a later call. */
  ensureTable(clients: Clients, log: CacheLog): Promise<L2Outcome<void>> {
    if (this.#tableReady) return Promise.resolve({ ok: true, value: undefined });
    this.#tableCheck ??= (async (): Promise<L2Outcome<void>> => {
      try {
        await prepareTable(clients, { table: this.table, where: this.where, create: this.config.create, timeoutMs: this.timeoutMs, log });
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

  send<O>(client: Sender<O>, command: unknown): Promise<O> {
    return sendWithin(client, command, this.timeoutMs);
  }
}

export interface ConnectionRequest extends ClientConfig {
  table: string;
  timeoutMs: number;
  create: boolean;
}

/** The connections of this process: shared per table and configuration, or per caller's client and table. */
export class ConnectionPool {
  readonly #sdk = new SdkLoader();
  readonly #byKey = new Map<string, Connection>();
  /** Connections of a caller's client live in a WeakMap and go with it. */
  readonly #byClient = new WeakMap<object, Map<string, Connection>>();

  acquire(request: ConnectionRequest): Connection {
    const config: ConnectionConfig = { endpoint: request.endpoint, region: request.region, create: request.create };
    let connection: Connection | undefined;
    if (request.client !== undefined) {
      let byTable = this.#byClient.get(request.client);
      if (!byTable) this.#byClient.set(request.client, (byTable = new Map()));
      connection = byTable.get(request.table);
      if (!connection) byTable.set(request.table, (connection = new Connection(request.table, request.timeoutMs, { ...config, client: request.client }, this.#sdk)));
    } else {
      const key = [request.table, request.endpoint ?? "", request.region ?? "", request.timeoutMs, request.create].join("\u0000");
      connection = this.#byKey.get(key);
      if (!connection) this.#byKey.set(key, (connection = new Connection(request.table, request.timeoutMs, config, this.#sdk)));
    }
    connection.refs++;
    return connection;
  }

  /** Releases one use; the last one destroys the connection's own client. */
  release(connection: Connection): void {
    if (--connection.refs > 0) return;
    connection.destroy();
    for (const [key, value] of this.#byKey) if (value === connection) this.#byKey.delete(key);
  }
}

/** The process's pool. */
export const connectionPool = new ConnectionPool();
