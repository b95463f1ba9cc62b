/**
 * The exit worker (see exit.ts): sends the writes handed over at process exit with its own DynamoDB
 * client, then signals the waiting main thread. Failures are silent: the process is ending.
 *
 * Its client is cold (first connection, SDK set-up) and the machine may be busy, so the request
 * timeout of the call path (`dynamodbTimeout`) does not apply here: every request may take until the
 * deadline the main thread waits for, and a write that fails for a passing reason (a timeout, an
 * unreachable or throttling server, a table still being created) is sent again while time is left.
 * When the process had not seen its table ready (it ended before its check answered), the table is
 * checked — and created when missing — first; enabling TTL on it is left to the next process's check.
 */
import { workerData } from "node:worker_threads";
import { forEachLimit, within } from "./async-tools.js";
import { buildClients, importSdk, sendWithin } from "./client.js";
import type { CacheLog } from "../../logger.js";
import { L2Failure, PERMANENT_CAUSES, classify } from "./failures.js";
import { prepareTable, sleep } from "./table.js";
import { performWrite, type L2Write, type WriteContext } from "./writes.js";
import type { ExitJob, ExitWorkerData } from "./exit.js";

const CONCURRENCY = 16;
/** Time kept to signal the main thread before its wait ends. */
const SIGNAL_MARGIN_MS = 50;
const RETRY_PAUSE_MS = 100;
const SILENT = { write() {}, once() {} } as unknown as CacheLog;

const { signal, jobs, deadline } = workerData as ExitWorkerData;
const timeLeft = () => deadline - SIGNAL_MARGIN_MS - Date.now();

async function sendJob(job: ExitJob): Promise<number> {
  const sdk = await importSdk();
  const clients = buildClients(sdk, { endpoint: job.endpoint, region: job.region }, Math.max(job.timeoutMs, timeLeft()));
  if (clients instanceof L2Failure) return 0;
  const ctx: WriteContext = { sdk, doc: clients.doc, table: job.table, send: (command) => sendWithin(clients.doc as never, command, Math.max(1, timeLeft())) };
  let sent = 0;
  let pending = job.writes;
  let tableChecked = false;
  const prepare = async () => {
    tableChecked = true;
    const preparing = prepareTable(clients, { table: job.table, where: job.table, create: true, timeoutMs: Math.max(1, timeLeft()), log: SILENT, ttl: false }).catch(() => {
      // A failed check is not final: the writes are tried anyway, and a missing table is looked at once more.
      tableChecked = false;
    });
    await within(preparing, Math.max(1, timeLeft()));
  };
  if (!job.tableReady) await prepare();
  while (pending.length > 0 && timeLeft() > 0) {
    const again: L2Write[] = [];
    let tableMissing = false;
    await forEachLimit(pending, CONCURRENCY, async (write) => {
      try {
        await performWrite(ctx, write);
        sent++;
      } catch (error) {
        const { reason } = classify(error);
        if (PERMANENT_CAUSES.has(reason)) return;
        if (reason === "table-missing") tableMissing = true;
        again.push(write);
      }
    });
    pending = again;
    if (pending.length === 0) break;
    if (tableMissing && !tableChecked) {
      await prepare(); // the table went missing, or its first check failed
    } else {
      await sleep(Math.max(0, Math.min(RETRY_PAUSE_MS, timeLeft())));
    }
  }
  clients.client.destroy();
  return sent;
}

try {
  const sent = await Promise.all(jobs.map((job) => sendJob(job).catch(() => 0)));
  Atomics.store(signal, 1, sent.reduce((a, b) => a + b, 0));
} finally {
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}
