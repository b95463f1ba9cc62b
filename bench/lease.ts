/**
 * One computation per fleet: N processes ask for the same key the moment it expires (a fresh key each
 * round). How many times does the method run, with and without `lease`, and how much later than the
 * holder's method do the waiters get the answer? Locally: 8 processes on one cache file. With DynamoDB
 * Local (Java, or DYNAMODB_ENDPOINT): 3 processes as machines, each with its own directory, one table.
 *
 * The workers are this file, run again with CACHERATOR_LEASE_WORKER set.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Cached, JSONCache } from "../src/index.js";
import { startDynamoDBLocal, waitForDynamoDB, type DynamoDBLocal } from "../scripts/dynamodb-local.js";
import { formatNs, type Section } from "./report.js";
import { freshDir } from "./temp.js";

const WORK_MS = 200;
const LEASE = "10s";

interface Config {
  name: string;
  processes: number;
  lease: boolean;
  table?: { name: string; endpoint: string };
}

interface RoundAnswer {
  round: number;
  ms: number;
  status: string | null;
}

export interface LeaseResults {
  section: Section;
  /** Executions per expiry of the local fleet with a lease. */
  localExecutions: number;
}

export async function measureLease(rounds: number, progress: (text: string) => void): Promise<LeaseResults> {
  const configs: Config[] = [
    { name: "one machine, 8 processes, one file", processes: 8, lease: false },
    { name: "one machine, 8 processes, one file", processes: 8, lease: true },
  ];
  let server: DynamoDBLocal | undefined;
  let remoteNote = "";
  const given = process.env.DYNAMODB_ENDPOINT || undefined;
  if (given !== undefined || spawnSync("java", ["-version"]).status === 0) {
    progress("lease: starting DynamoDB Local");
    server = given === undefined ? await startDynamoDBLocal() : undefined;
    const endpoint = given ?? (server as DynamoDBLocal).endpoint;
    await waitForDynamoDB(endpoint);
    const table = { name: `cacherator-lease-${Date.now().toString(36)}`, endpoint };
    configs.push({ name: "3 machines (own directories), one table", processes: 3, lease: false, table }, { name: "3 machines (own directories), one table", processes: 3, lease: true, table });
  } else {
    remoteNote = "machines sharing a table: not measured (DynamoDB Local needs Java 17, or set DYNAMODB_ENDPOINT)";
  }
  const rows: string[][] = [];
  let localExecutions = Number.NaN;
  try {
    for (const config of configs) {
      progress(`lease: ${config.name}, lease ${config.lease ? "on" : "off"}`);
      const result = await runFleet(config, rounds);
      if (config.lease && config.table === undefined) localExecutions = result.executionsPerRound;
      rows.push([
        config.name,
        config.lease ? `lease: "${LEASE}"` : "no lease",
        result.executionsPerRound.toFixed(2),
        formatNs(result.holderMs * 1e6),
        result.waiterMs === undefined ? "—" : formatNs(result.waiterMs * 1e6),
        result.waiterMs === undefined ? "—" : formatNs((result.waiterMs - result.holderMs) * 1e6),
      ]);
    }
  } finally {
    await server?.stop();
  }
  return {
    localExecutions,
    section: {
      title: "One computation per fleet (lease)",
      notes: [
        `every process calls an async method (a ${WORK_MS} ms timer, counted in a file) with a key none of them holds, at the same moment; ${rounds} rounds, a fresh key each`,
        "holder: median time from call to answer of the calls that ran the method; waiters: of the calls answered from the file or the table",
        "executions per expiry: the target is 1 with a lease",
        ...(remoteNote === "" ? [] : [remoteNote]),
      ],
      tables: [
        {
          headers: ["fleet", "option", "executions per expiry", "holder's call", "waiters' call (median)", "added wait"],
          rows,
          right: [2, 3, 4, 5],
        },
      ],
    },
  };
}

async function runFleet(config: Config, rounds: number): Promise<{ executionsPerRound: number; holderMs: number; waiterMs: number | undefined }> {
  const root = freshDir("lease");
  const counter = join(root, "executions");
  writeFileSync(counter, "");
  const answers: RoundAnswer[] = [];
  const children: ChildProcess[] = [];
  const ready = new Set<number>();
  for (let i = 0; i < config.processes; i++) {
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      CACHERATOR_LEASE_WORKER: "1",
      DATA_ID: `lease-bench-${config.lease ? "on" : "off"}`,
      ROOT: root,
      COUNTER: counter,
      ROUNDS: String(rounds),
      LEASE: config.lease ? LEASE : "off",
      CACHE_DIR: config.table === undefined ? join(root, "cache") : join(root, `machine-${i}`),
      ...(config.table === undefined ? {} : { TABLE: config.table.name, ENDPOINT: config.table.endpoint, AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local", AWS_REGION: "us-east-1" }),
    };
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], { env, stdio: ["ignore", "pipe", "inherit"] });
    let pending = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const parsed = JSON.parse(line) as RoundAnswer | { ready: true };
        if ("ready" in parsed) ready.add(i);
        else answers.push(parsed);
      }
    });
    children.push(child);
  }
  await until(() => ready.size === config.processes);
  for (let round = 0; round < rounds; round++) {
    writeFileSync(join(root, `go-${round}`), "");
    await until(() => answers.filter((a) => a.round === round).length === config.processes);
    await sleep(50);
  }
  await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode === null ? child.on("exit", resolve) : resolve(undefined)))));
  const executions = readFileSync(counter, "utf8").split("\n").filter((line) => line !== "").length;
  const holders = answers.filter((a) => a.status === "miss").map((a) => a.ms);
  const waiters = answers.filter((a) => a.status !== "miss").map((a) => a.ms);
  return { executionsPerRound: executions / rounds, holderMs: median(holders), waiterMs: waiters.length === 0 ? undefined : median(waiters) };
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("lease bench: the workers did not answer within 2 minutes");
    await sleep(5);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor(sorted.length / 2)] as number);
}

/** A worker: one cache, one call per round when the round's go file appears. */
async function worker(): Promise<void> {
  const env = process.env;
  class Api extends JSONCache {
    constructor() {
      super({
        dataId: env.DATA_ID,
        directory: env.CACHE_DIR,
        logging: false,
        writeDelay: 5,
        lease: env.LEASE === "off" ? false : (env.LEASE as `${number}s`),
        ...(env.TABLE === undefined ? {} : { dynamodbTable: env.TABLE, dynamodbEndpoint: env.ENDPOINT }),
      });
    }

    @Cached({ ttl: "1h" })
    async fetch(round: number): Promise<string> {
      appendFileSync(env.COUNTER as string, `${round} ${process.pid}\n`);
      await sleep(WORK_MS);
      return `value-${round}`;
    }
  }
  const api = new Api();
  if (env.TABLE !== undefined) await api.jsonCacheSave(); // the table exists before the first round
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  for (let round = 0; round < Number(env.ROUNDS); round++) {
    while (!existsSync(join(env.ROOT as string, `go-${round}`))) await sleep(2);
    const started = performance.now();
    await api.fetch(round);
    process.stdout.write(`${JSON.stringify({ round, ms: performance.now() - started, status: api.lastCacheStatus })}\n`);
  }
  await api.jsonCacheSave();
}

if (process.env.CACHERATOR_LEASE_WORKER === "1") await worker();
