/**
 * What is owed to DynamoDB when the process ends.
 *
 * - A normal end (the event loop drains, `beforeExit`): saveOnDel links send what L2 may lack and their
 *   attributes, and the backlog is retried, for as long as rounds make progress.
 * - `process.exit()` or what is still unsent after the above (`exit`): an exit handler cannot await, so
 *   it starts a worker thread that sends the unsent writes with its own DynamoDB client (the same
 *   conditional requests, writes.ts) and waits for it synchronously (Atomics.wait), at most the request
 *   timeout plus the time to start the worker and load the SDK. Within that budget the worker's
 *   requests are not held to the request timeout (its client is cold, the machine may be busy) and
 *   writes that fail for a passing reason are sent again. The worker exists only then, and only when
 *   there is something to send.
 * - A signal that kills the process (SIGKILL, or SIGTERM/SIGINT without a handler that calls
 *   `process.exit()`) or a crash runs neither: the writes not yet sent are lost from L2 (the local file
 *   keeps the results; saveOnDel's next run or later hits send them).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Backlog, WriteTarget } from "./backlog.js";
import type { L2Write } from "./writes.js";

/** Time allowed to start the worker and load the SDK in it, on top of the request timeout. */
const WORKER_START_MS = 5000;

/** A link with saveOnDel. */
export interface EndSource {
  readonly tier: WriteTarget;
  sendAllAtEnd(): Promise<void>;
  writesAtExit(): L2Write[];
}

/** One table's writes for the worker. */
export interface ExitJob {
  table: string;
  endpoint: string | undefined;
  region: string | undefined;
  timeoutMs: number;
  /** The process saw the table ready; otherwise the worker checks (and creates) it before writing. */
  tableReady: boolean;
  writes: L2Write[];
}

export interface ExitWorkerData {
  /** Int32Array over a SharedArrayBuffer: [done flag, writes sent]. */
  signal: Int32Array;
  jobs: ExitJob[];
  /** When the main thread stops waiting (epoch ms): every request of the worker may take until then. */
  deadline: number;
}

class ExitSender {
  readonly #backlogs = new Set<Backlog>();
  readonly #atEnd = new Set<EndSource>();
  #installed = false;
  #endSent = false;
  #retrying = false;
  #lastUnsent = Number.POSITIVE_INFINITY;

  /** Installs the end and exit hooks (once per process; only processes with a table get here). */
  install(backlog: Backlog): void {
    this.#backlogs.add(backlog);
    if (this.#installed) return;
    this.#installed = true;
    process.on("beforeExit", () => this.#atNormalEnd());
    process.once("exit", () => this.#atExit());
  }

  /** saveOnDel: `source` sends what L2 may lack when the process ends. */
  saveOnDel(source: EndSource): void {
    this.#atEnd.add(source);
  }

  #atNormalEnd(): void {
    if (!this.#endSent) {
      this.#endSent = true;
      for (const source of this.#atEnd) void source.sendAllAtEnd();
      return;
    }
    if (this.#retrying) return;
    // Retry what is kept while rounds make progress; then the exit worker has the last word.
    const unsent = this.#unsentCount();
    if (unsent === 0 || unsent >= this.#lastUnsent) return;
    this.#lastUnsent = unsent;
    this.#retrying = true;
    void Promise.all([...this.#backlogs].map((backlog) => backlog.retryNow())).finally(() => (this.#retrying = false));
  }

  #unsentCount(): number {
    let count = 0;
    for (const backlog of this.#backlogs) count += backlog.unsent().length;
    return count;
  }

  #atExit(): void {
    const jobs = new Map<string, ExitJob>();
    const add = (target: WriteTarget, write: L2Write) => {
      const key = [target.table, target.endpoint ?? "", target.region ?? "", target.timeoutMs].join("\u0000");
      let job = jobs.get(key);
      if (!job) jobs.set(key, (job = { table: target.table, endpoint: target.endpoint, region: target.region, timeoutMs: target.timeoutMs, tableReady: false, writes: [] }));
      job.tableReady ||= target.tableReady === true;
      job.writes.push(write);
    };
    for (const backlog of this.#backlogs) for (const pending of backlog.unsent()) add(pending.target, pending.write);
    if (!this.#endSent) for (const source of this.#atEnd) for (const write of source.writesAtExit()) add(source.tier, write);
    if (jobs.size === 0) return;
    sendInWorker([...jobs.values()]);
  }
}

/** Runs the exit worker over `jobs` and blocks until it is done or its time is up. */
function sendInWorker(jobs: ExitJob[]): void {
  const file = workerFile();
  if (file === undefined) return;
  const signal = new Int32Array(new SharedArrayBuffer(8));
  const limit = Math.max(...jobs.map((job) => job.timeoutMs)) + WORKER_START_MS;
  const started = Date.now();
  const data: ExitWorkerData = { signal, jobs, deadline: started + limit };
  try {
    new Worker(file, { workerData: data });
  } catch {
    return; // cannot start a thread here: what is unsent stays unsent, as after a crash
  }
  Atomics.wait(signal, 0, 0, Math.max(0, limit - (Date.now() - started)));
}

/** The worker's file, built beside this module (dist/exit-worker.js); the TypeScript source when run from source. */
function workerFile(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const name of ["exit-worker.js", "exit-worker.ts"]) {
    const file = join(here, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** The exit sender of this process. */
export const exitSender = new ExitSender();
