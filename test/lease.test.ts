/**
 * One computation per fleet (`lease`): processes sharing a cache file, and "machines" (separate
 * directories) sharing a DynamoDB table, run an expiring method once; the others wait for its result.
 * Real processes: the method counts its executions in a file of its own (one line per run).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { tempDir } from "./helpers.js";
import { compileWithPrelude, shareProgram, startFile, until, type Started } from "./shared-store-helpers.js";
import { waitForDynamoDB } from "./setup/dynamodb.js";
import { Cached, CacheOptionsError, JSONCache } from "../src/index.js";

/**
 * A cache whose `fetch(id)` sleeps WORK_MS and appends its pid to COUNTER; it fails while FAIL_FLAG
 * exists. The instance's `lease` is LEASE ("off", "true" or a duration). Each process says it is
 * ready, waits for GO, calls, and says what it got; with AGAIN it waits for AGAIN and calls once more.
 */
const PROGRAM = `
const env = process.env;
const lease = env.LEASE === "off" ? false : env.LEASE === "true" ? true : env.LEASE;
class Api extends JSONCache {
  constructor() {
    super({
      dataId: "api", directory: env.CACHE_DIR, lease, writeDelay: 5,
      ...(env.REFRESH ? { refreshInterval: Number(env.REFRESH) } : {}),
      // A generous timeout: a loaded machine can make DynamoDB Local slower than the default second, and a
      // lease that cannot be taken in time is (by design) run without, which is not what this measures.
      ...(env.TABLE ? { dynamodbTable: env.TABLE, dynamodbEndpoint: env.ENDPOINT, dynamodbTimeout: 10_000 } : {}),
    });
  }
  @Cached({ ttl: "1h" }) async fetch(id: number) {
    appendFileSync(env.COUNTER!, process.pid + "\\n");
    await sleep(Number(env.WORK_MS ?? 300));
    if (env.FAIL_FLAG && existsSync(env.FAIL_FLAG)) throw new Error("upstream failed");
    return "value-" + id;
  }
  @Cached({ ttl: "1h" }) other(id: number) { return id; }
}
async function callOnce(api: Api) {
  const started = Date.now();
  try {
    const value = await api.fetch(7);
    say({ value, status: api.lastCacheStatus, ms: Date.now() - started });
  } catch (error) {
    say({ error: (error as Error).message, ms: Date.now() - started });
  }
}
const api = new Api();
if (env.TABLE) await api.jsonCacheSave(); // the table exists before anyone races for its lease
say({ ready: true });
await waitForFile(env.GO!);
// HITS: the process serves a hit of another key every HITS ms all along (each may look at the file, as hits do).
if (env.HITS) { api.other(1); setInterval(() => api.other(1), Number(env.HITS)).unref(); }
await callOnce(api);
if (env.AGAIN) {
  await waitForFile(env.AGAIN);
  await callOnce(api);
}
`;

interface Answer {
  value?: string;
  error?: string;
  status?: string;
  ms: number;
}

interface Fleet {
  counter: string;
  go: string;
  processes: Started[];
}

/** Starts `count` processes of PROGRAM; `env(i)` adds each one's environment. Resolves once all are ready. */
async function startFleet(count: number, env: (i: number) => Record<string, string>, options: { prefix?: string[]; share?: boolean } = {}): Promise<Fleet> {
  const root = tempDir();
  chmodSync(root, 0o777);
  const counter = join(root, "executions");
  writeFileSync(counter, "");
  chmodSync(counter, 0o666);
  const go = join(root, "go");
  const program = compileWithPrelude(PROGRAM);
  if (options.share === true) shareProgram(program);
  const processes = Array.from({ length: count }, (_, i) =>
    startFile(program, { cwd: root, env: { COUNTER: counter, GO: go, CACHE_DIR: join(root, "cache"), ...env(i) }, prefix: options.prefix, timeoutMs: 60_000 }),
  );
  await Promise.all(processes.map((p) => p.line((l) => l.ready === true, "ready")));
  return { counter, go, processes };
}

/** What each process answered, for the message of a failed expectation (which ran, and when it answered). */
function told(fleet: Fleet, got: Answer[]): string {
  return `executions by ${executions(fleet).join(", ")}; answers: ${fleet.processes.map((p, i) => `${p.pid} ${JSON.stringify(got[i])}`).join("; ")}`;
}

function executions(fleet: Fleet): string[] {
  return readFileSync(fleet.counter, "utf8").split("\n").filter((line) => line !== "");
}

/** Lets the fleet call, and collects each process's `n`th answer. */
async function answers(fleet: Fleet, n = 1): Promise<Answer[]> {
  if (n === 1) writeFileSync(fleet.go, "");
  return Promise.all(fleet.processes.map(async (p) => {
    await until(() => p.lines.filter((l) => typeof l === "object" && l !== null && "ms" in l).length >= n, `answer ${n} of ${p.pid}`, 45_000);
    return p.lines.filter((l) => typeof l === "object" && l !== null && "ms" in l)[n - 1] as Answer;
  }));
}

describe("processes sharing one cache file", () => {
  it("eight processes missing the same key at once run the method once with a lease; everyone gets the value", async () => {
    const fleet = await startFleet(8, () => ({ LEASE: "10s" }));
    const got = await answers(fleet);
    expect(got.map((a) => a.value)).toEqual(Array(8).fill("value-7"));
    expect(executions(fleet), told(fleet, got)).toHaveLength(1);
    // The seven that waited were answered from the file.
    expect(got.filter((a) => a.status === "l1")).toHaveLength(7);
    expect(got.filter((a) => a.status === "miss")).toHaveLength(1);
  }, 60_000);

  it("without a lease, the same eight processes run it more than once (what the lease prevents)", async () => {
    const fleet = await startFleet(8, () => ({ LEASE: "off" }));
    const got = await answers(fleet);
    expect(got.map((a) => a.value)).toEqual(Array(8).fill("value-7"));
    expect(executions(fleet).length).toBeGreaterThan(1);
  }, 60_000);

  it("a holder killed while computing is taken over: one waiter computes, the others get its result, nobody waits past the lease", async () => {
    const fleet = await startFleet(3, () => ({ LEASE: "20s", WORK_MS: "1500" }));
    writeFileSync(fleet.go, "");
    await until(() => executions(fleet).length >= 1, "the first execution");
    const holder = Number(executions(fleet)[0]);
    const victim = fleet.processes.find((p) => p.pid === holder) as Started;
    victim.child.kill("SIGKILL");
    await victim.done;
    const survivors = fleet.processes.filter((p) => p !== victim);
    const got = await Promise.all(survivors.map((p) => p.line<Answer>((l) => "ms" in l, "an answer")));
    expect(got.map((a) => a.value)).toEqual(["value-7", "value-7"]);
    expect(executions(fleet)).toHaveLength(2);
    for (const answer of got) expect(answer.ms).toBeLessThan(20_000);
  }, 60_000);

  it("waiters that keep serving hits of other keys meanwhile still see the holder's result the moment it releases", async () => {
    // Each hit looks at the file (refreshInterval 0), one every 100 ms: such a look, made before the
    // holder published, must not stand in for the waiter's own look after the release.
    const fleet = await startFleet(4, () => ({ LEASE: "20s", WORK_MS: "600", HITS: "100", REFRESH: "0" }));
    const got = await answers(fleet);
    expect(got.map((a) => a.value)).toEqual(Array(4).fill("value-7"));
    expect(executions(fleet), told(fleet, got)).toHaveLength(1);
    expect(got.filter((a) => a.status === "l1")).toHaveLength(3);
  }, 60_000);

  it("a failing method is not waited for: waiters run it themselves once the holder fails, and a later success is cached once", async () => {
    const root = tempDir();
    const flag = join(root, "fail");
    writeFileSync(flag, "");
    const again = join(root, "again");
    const fleet = await startFleet(4, () => ({ LEASE: "60s", FAIL_FLAG: flag, AGAIN: again }));
    const first = await answers(fleet);
    // Every call failed with the method's error, long before the 60 s lease would have run out.
    expect(first.map((a) => a.error)).toEqual(Array(4).fill("upstream failed"));
    for (const answer of first) expect(answer.ms).toBeLessThan(30_000);
    const failedRuns = executions(fleet).length;
    expect(failedRuns).toBeGreaterThanOrEqual(1);
    expect(failedRuns).toBeLessThanOrEqual(4);
    // The upstream recovers: the next round runs once and everyone gets the value.
    await import("node:fs").then((fs) => fs.rmSync(flag));
    writeFileSync(again, "");
    const second = await answers(fleet, 2);
    expect(second.map((a) => a.value)).toEqual(Array(4).fill("value-7"));
    expect(executions(fleet)).toHaveLength(failedRuns + 1);
  }, 60_000);

  it("a lease directory the user cannot write to: calls still succeed, without waiting", async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const directory = join(root, "cache");
    mkdirSync(directory, { recursive: true });
    chmodSync(directory, 0o777);
    // The lease directory exists, owned by another user, and is not writable by this one.
    const leases = join(directory, "api.json.leases");
    mkdirSync(leases);
    chmodSync(leases, 0o755);
    const fleet = await startFleet(3, () => ({ LEASE: "10s", CACHE_DIR: directory }), { prefix: ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"], share: true });
    const got = await answers(fleet);
    expect(got.map((a) => a.value)).toEqual(Array(3).fill("value-7"));
    expect(executions(fleet).length).toBeGreaterThanOrEqual(1);
    const results = await Promise.all(fleet.processes.map((p) => p.done));
    for (const result of results) expect(result.code).toBe(0);
    expect(existsSync(join(directory, "api.json"))).toBe(true);
  }, 60_000);
});

const AWS_ENV = { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" };

describe("machines sharing one DynamoDB table", () => {
  const endpoint = inject("dynamodbEndpoint");

  it("three machines (separate directories, one table) missing the same key run the method once", async () => {
    await waitForDynamoDB(endpoint);
    const table = `lease-${randomBytes(4).toString("hex")}`;
    const root = tempDir();
    const fleet = await startFleet(3, (i) => ({ ...AWS_ENV, LEASE: "10s", TABLE: table, ENDPOINT: endpoint, CACHE_DIR: join(root, `machine-${i}`) }));
    const got = await answers(fleet);
    expect(got.map((a) => a.value)).toEqual(Array(3).fill("value-7"));
    expect(executions(fleet), told(fleet, got)).toHaveLength(1);
    expect(got.filter((a) => a.status === "l2")).toHaveLength(2);
  }, 60_000);
});

describe("the lease option", () => {
  it("is refused on a sync method, naming the option and the fix", () => {
    expect(() => {
      class Sync extends JSONCache {
        @Cached({ lease: true }) sum(a: number, b: number) {
          return a + b;
        }
      }
      return Sync;
    }).toThrow(CacheOptionsError);
    expect(() => Cached({ lease: "0s" })).not.toThrow(); // checked when applied
  });

  it("rejects durations that are not above 0", () => {
    expect(() => {
      class Bad extends JSONCache {
        @Cached({ lease: "0s" }) async get() {
          return 1;
        }
      }
      return Bad;
    }).toThrow(/option "lease" must be/);
    expect(() => new JSONCache({ dataId: "x", directory: tempDir(), lease: "soon" as never })).toThrow(/option "lease"/);
  });
});
