/**
 * The table: its name rule, and the check (and creation when missing) that the first operation of a
 * connection runs: PAY_PER_REQUEST, keys `cache_id`/`entry`, TTL on `ttl`. Concurrent creators in
 * other processes are tolerated; a table with another key schema is refused for good.
 */
import type { CacheLog } from "../../logger.js";
import { sendWithin, type Clients, type Ddb, type DynamoDBClient, type Output, type Sdk } from "./client.js";
import { L2Failure, classify, errorName, errorText } from "./failures.js";

/** How long table creation may take before the check gives up (and is retried by a later operation). */
const TABLE_WAIT_MS = 120_000;
const TABLE_POLL_MS = 100;

export interface TableSetup {
  table: string;
  /** "DynamoDB table "x" at endpoint", for messages. */
  where: string;
  create: boolean;
  timeoutMs: number;
  log: CacheLog;
  /** Enable TTL on `ttl` (default true; the exit worker leaves it to the next process's check). */
  ttl?: boolean;
}

/** Checks the table (creating it when missing and allowed); throws an `L2Failure` or SDK error when it cannot be used. */
export async function prepareTable({ sdk, client }: Clients, setup: TableSetup): Promise<void> {
  const { table: name, where, log } = setup;
  const { DescribeTableCommand, CreateTableCommand } = sdk.ddb;
  const send = <O>(command: unknown) => sendWithin<O>(client as never, command, setup.timeoutMs);
  const describe = async () => (await send<Output<Ddb["DescribeTableCommand"]>>(new DescribeTableCommand({ TableName: name }))).Table;
  let table;
  try {
    table = await describe();
  } catch (error) {
    const errName = errorName(error);
    if (errName === "AccessDeniedException") {
      // Allowed to read and write items but not to describe the table: assume it is set up.
      log.once("warn", `l2:${name}:describe-denied`, `${where}: not allowed to describe the table; assuming it exists with TTL on "ttl"`);
      return;
    }
    if (errName !== "ResourceNotFoundException" || !setup.create) throw error;
    log.write("info", `creating ${where} (partition key cache_id, sort key entry, PAY_PER_REQUEST, TTL on "ttl")`);
    try {
      await send(
        new CreateTableCommand({
          TableName: name,
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
  if (setup.ttl !== false) await enableTtl(sdk, client, setup);
}

async function enableTtl(sdk: Sdk, client: DynamoDBClient, { table, where, log, timeoutMs }: TableSetup): Promise<void> {
  const { DescribeTimeToLiveCommand, UpdateTimeToLiveCommand } = sdk.ddb;
  const send = <O>(command: unknown) => sendWithin<O>(client as never, command, timeoutMs);
  try {
    const current = (await send<Output<Ddb["DescribeTimeToLiveCommand"]>>(new DescribeTimeToLiveCommand({ TableName: table }))).TimeToLiveDescription;
    const status = current?.TimeToLiveStatus;
    if ((status === "ENABLED" || status === "ENABLING") && current?.AttributeName === "ttl") return;
    if (status === "ENABLED" || status === "ENABLING") {
      log.once("warn", `l2:${table}:ttl-attribute`, `${where}: TTL is enabled on "${current?.AttributeName}", not "ttl"; expired entries are never served but DynamoDB will not delete them`);
      return;
    }
    await send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true } }));
    log.write("info", `${where}: TTL enabled on "ttl"`);
  } catch (error) {
    const failure = classify(error);
    if (/already enabled/i.test(errorText(error))) return; // a concurrent process enabled it
    if (failure.reason === "error" || failure.reason === "access-denied") {
      // The table works without DynamoDB's TTL deletion: expired items are filtered on read.
      log.once("warn", `l2:${table}:ttl`, `${where}: could not enable TTL on "ttl" (${failure.message}); expired entries are never served but stay in the table`);
      return;
    }
    throw error;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
