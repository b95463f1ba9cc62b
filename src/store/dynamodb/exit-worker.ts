/**
 * The exit worker (see exit.ts): sends the writes handed over at process exit with its own DynamoDB
 * client, then signals the waiting main thread. Failures are silent: the process is ending.
 */
import { workerData } from "node:worker_threads";
import { forEachLimit } from "./async-tools.js";
import { buildClients, sendWithin } from "./client.js";
import type { CacheLog } from "../../logger.js";
import { L2Failure, errorName } from "./failures.js";
import { prepareTable } from "./table.js";
import { performWrite, type L2Write, type WriteContext } from "./writes.js";
import type { ExitJob, ExitWorkerData } from "./exit.js";

const CONCURRENCY = 16;
const SILENT = { write() {}, once() {} } as unknown as CacheLog;

async function sendJob(job: ExitJob): Promise<number> {
  const [ddb, doc] = await Promise.all([import("@aws-sdk/client-dynamodb"), import("@aws-sdk/lib-dynamodb")]);
  const sdk = { ddb, doc };
  const clients = buildClients(sdk, { endpoint: job.endpoint, region: job.region }, job.timeoutMs);
  if (clients instanceof L2Failure) return 0;
  const ctx: WriteContext = { sdk, doc: clients.doc, table: job.table, send: (command) => sendWithin(clients.doc as never, command, job.timeoutMs) };
  let sent = 0;
  let missing: L2Write[] = [];
  const sendAll = (writes: L2Write[]) =>
    forEachLimit(writes, CONCURRENCY, async (write) => {
      try {
        await performWrite(ctx, write);
        sent++;
      } catch (error) {
        if (errorName(error) === "ResourceNotFoundException") missing.push(write);
      }
    });
  await sendAll(job.writes);
  if (missing.length > 0) {
    // The process ended before its table check created the table.
    const retry = missing;
    missing = [];
    try {
      await prepareTable(clients, { table: job.table, where: job.table, create: true, timeoutMs: job.timeoutMs, log: SILENT });
    } catch {
      // Only the table's existence matters here (e.g. enabling TTL may race the main thread's check).
    }
    await sendAll(retry);
  }
  clients.client.destroy();
  return sent;
}

const { signal, jobs } = workerData as ExitWorkerData;
try {
  const sent = await Promise.all(jobs.map((job) => sendJob(job).catch(() => 0)));
  Atomics.store(signal, 1, sent.reduce((a, b) => a + b, 0));
} finally {
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}
