/**
 * What a restarted machine asks DynamoDB for: hits on entries read from its local file are checked in
 * batches (BatchGetItem of keys and times) and never written again when DynamoDB already holds them.
 * Every request of the child process is counted by a loopback HTTP proxy in front of DynamoDB Local
 * (by its `X-Amz-Target`), so requests sent by any client of the process — the exit worker's too — count.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runProgram, tempDir, type RunResult } from "./helpers.js";
import { waitForDynamoDB } from "./setup/dynamodb.js";

const endpoint = inject("dynamodbEndpoint");
const AWS_ENV = { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" };
Object.assign(process.env, AWS_ENV);

let tables = 0;
const newTable = () => `cacherator-restart-${process.pid}-${Date.now().toString(36)}-${++tables}`;

/** Forwards every request to DynamoDB Local and counts them by operation (GetItem, PutItem, BatchGetItem…). */
class CountingProxy {
  readonly counts = new Map<string, number>();
  #server: Server | undefined;
  url = "";

  async start(target: string): Promise<void> {
    const to = new URL(target);
    this.#server = createServer((req, res) => {
      const operation = String(req.headers["x-amz-target"] ?? "none").replace(/^DynamoDB_\d+\./, "");
      this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
      const forward = request(
        { hostname: to.hostname, port: to.port, path: req.url, method: req.method, headers: { ...req.headers, host: to.host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on("error", () => res.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.counts.clear();
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}

/**
 * MODE=compute: computes quote(0..N-1) and saves (true once DynamoDB holds them all).
 * MODE=hits: calls quote(0..N-1) again, nothing else, and ends normally (no save: a save would also
 * write the attributes); prints the statuses.
 */
const PROGRAM = `
  import { JSONCache, Cached } from "cacherator";
  let runs = 0;
  class Quotes extends JSONCache {
    constructor() { super({ dataId: "quotes", dynamodbTable: process.env.TABLE, dynamodbEndpoint: process.env.ENDPOINT, dynamodbTimeout: 5000, logging: false }); }
    @Cached() async quote(n: number) { runs++; return n * 10; }
  }
  const quotes = new Quotes();
  const n = Number(process.env.N);
  const statuses: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    await quotes.quote(i);
    const status = String(quotes.lastCacheStatus);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  const out: Record<string, unknown> = { statuses, runs };
  if (process.env.MODE === "compute") out.saved = await quotes.jsonCacheSave();
  console.log(JSON.stringify(out));
`;

const proxy = new CountingProxy();

beforeAll(async () => {
  await waitForDynamoDB(endpoint);
  await proxy.start(endpoint);
});

afterAll(() => proxy.stop());

function run(mode: string, table: string, cwd: string, n: number): Promise<RunResult> {
  return runProgram(PROGRAM, { cwd, env: { ...AWS_ENV, TABLE: table, ENDPOINT: proxy.url, MODE: mode, N: String(n) }, timeoutMs: 60_000 });
}

describe("a restarted machine's hits on entries DynamoDB holds", () => {
  it("send no PutItem or BatchWriteItem, and at most one BatchGetItem per 100 hits", async () => {
    const N = 250;
    const table = newTable();
    const cwd = tempDir();
    const computed = await run("compute", table, cwd, N);
    expect(computed.code, computed.stderr).toBe(0);
    expect(computed.lines).toEqual([{ statuses: { miss: N }, runs: N, saved: true }]);
    expect(proxy.counts.get("PutItem")).toBeGreaterThanOrEqual(N); // the proxy sees the writes

    proxy.reset();
    const restarted = await run("hits", table, cwd, N);
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(restarted.lines).toEqual([{ statuses: { l1: N }, runs: 0 }]);
    const counts = proxy.snapshot();
    expect(counts.PutItem ?? 0, JSON.stringify(counts)).toBe(0);
    expect(counts.BatchWriteItem ?? 0, JSON.stringify(counts)).toBe(0);
    expect(counts.UpdateItem ?? 0, JSON.stringify(counts)).toBe(0);
    expect(counts.BatchGetItem ?? 0, JSON.stringify(counts)).toBeGreaterThanOrEqual(1); // the hits were checked
    expect(counts.BatchGetItem ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(Math.ceil(N / 100));
    // Besides: the table check and the start-up read of the clear times; no entry is read one by one.
    expect(counts.GetItem ?? 0, JSON.stringify(counts)).toBe(1);
  }, 90_000);
});
