/**
 * The writes this library makes to DynamoDB, as data (`L2Write`, which can be kept in a backlog or
 * handed to the exit worker) and as the requests that carry them out. The tier and the exit worker
 * both send writes through these functions, so they use the same conditions:
 * - an entry is put only if the table lacks it or holds it computed earlier (`epoch_ms < :t`);
 * - a clear raises its function's time in the clears item (never lowers it), then deletes the items of
 *   that function computed before it (a Query of that prefix filtered on `epoch_ms`, BatchWriteItem).
 */
import {
  CLEARS_ENTRY,
  ENTRY_PREFIX,
  clearAttribute,
  encodeEntryItem,
  encodeStateItem,
  functionPrefix,
  tooLargeForTable,
  type Item,
  type RemoteEntry,
} from "../dynamodb-format.js";
import { chunks, forEachLimit } from "./async-tools.js";
import type { DocumentClient, Doc, Output, Sdk } from "./client.js";
import { L2Failure, errorName } from "./failures.js";
import { sleep } from "./table.js";

/** One write, as data. */
export type L2Write =
  | { kind: "entry"; dataId: string; entry: RemoteEntry; ttlMs: number }
  | { kind: "state"; dataId: string; text: string; time: number }
  | { kind: "clear"; dataId: string; functionName: string | undefined; before: number };

/** What a write needs: the SDK, a document client, the table, and a bounded send. */
export interface WriteContext {
  sdk: Sdk;
  doc: DocumentClient;
  table: string;
  send<O>(command: unknown): Promise<O>;
}

const BATCH_WRITE_SIZE = 25;
const BATCH_RETRIES = 8;
export const BATCH_CONCURRENCY = 4;

/** Puts an entry item unless the table holds that entry computed at the same time or later. */
export async function putEntry(ctx: WriteContext, item: Item, time: number): Promise<"written" | "newer-remote"> {
  try {
    await ctx.send(
      new ctx.sdk.doc.PutCommand({
        TableName: ctx.table,
        Item: item,
        ConditionExpression: "attribute_not_exists(#c) OR #t < :t",
        ExpressionAttributeNames: { "#c": "cache_id", "#t": "epoch_ms" },
        ExpressionAttributeValues: { ":t": time },
      }),
    );
    return "written";
  } catch (error) {
    if (errorName(error) !== "ConditionalCheckFailedException") throw error;
    return "newer-remote";
  }
}

export async function putItem(ctx: WriteContext, item: Item): Promise<void> {
  await ctx.send(new ctx.sdk.doc.PutCommand({ TableName: ctx.table, Item: item }));
}

/** Raises the clear time of a function (of all, for `undefined`) to `before`; an equal or later time stays. */
export async function recordClear(ctx: WriteContext, dataId: string, functionName: string | undefined, before: number): Promise<void> {
  try {
    await ctx.send(
      new ctx.sdk.doc.UpdateCommand({
        TableName: ctx.table,
        Key: { cache_id: dataId, entry: CLEARS_ENTRY },
        UpdateExpression: "SET #a = :t",
        ConditionExpression: "attribute_not_exists(#a) OR #a < :t",
        ExpressionAttributeNames: { "#a": clearAttribute(functionName) },
        ExpressionAttributeValues: { ":t": before },
      }),
    );
  } catch (error) {
    if (errorName(error) !== "ConditionalCheckFailedException") throw error;
  }
}

/** Deletes the entries of a function (of all, for `undefined`) computed before `before`; resolves to how many. */
export async function removeBefore(ctx: WriteContext, dataId: string, functionName: string | undefined, before: number): Promise<number> {
  let removed = 0;
  const prefix = functionName === undefined ? ENTRY_PREFIX : functionPrefix(functionName);
  await queryPages(ctx, dataId, prefix, { projection: "#c, #e", before }, async (items) => {
    await forEachLimit(chunks(items, BATCH_WRITE_SIZE), BATCH_CONCURRENCY, async (chunk) => {
      let pending: unknown[] = chunk.map((item) => ({ DeleteRequest: { Key: { cache_id: item.cache_id, entry: item.entry } } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await backoff(attempt, "BatchWriteItem left deletions unprocessed");
        const out = await ctx.send<Output<Doc["BatchWriteCommand"]>>(new ctx.sdk.doc.BatchWriteCommand({ RequestItems: { [ctx.table]: pending as never } }));
        const unprocessed = out.UnprocessedItems?.[ctx.table] ?? [];
        removed += pending.length - unprocessed.length;
        pending = unprocessed;
      }
    });
  });
  return removed;
}

/**
 * Pages through the items of `dataId` whose sort key starts with `prefix`, handing each page over;
 * `before` keeps only items computed before that instant.
 */
export async function queryPages(
  ctx: WriteContext,
  dataId: string,
  prefix: string,
  options: { projection?: string; before?: number },
  onPage: (items: Item[]) => Promise<void>,
): Promise<void> {
  let start: Record<string, unknown> | undefined;
  const { projection, before } = options;
  do {
    const names: Record<string, string> = { "#c": "cache_id", "#e": "entry" };
    if (projection?.includes("#ttl")) names["#ttl"] = "ttl";
    const values: Record<string, unknown> = { ":c": dataId, ":p": prefix };
    if (before !== undefined) {
      names["#t"] = "epoch_ms";
      values[":before"] = before;
    }
    const out = await ctx.send<Output<Doc["QueryCommand"]>>(
      new ctx.sdk.doc.QueryCommand({
        TableName: ctx.table,
        KeyConditionExpression: "#c = :c AND begins_with(#e, :p)",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ...(before !== undefined ? { FilterExpression: "#t < :before" } : {}),
        ...(projection ? { ProjectionExpression: projection } : {}),
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    await onPage((out.Items ?? []) as Item[]);
    start = out.LastEvaluatedKey;
  } while (start);
}

/** Waits before retrying what a batch request left unprocessed; gives up (as throttled) after a few tries. */
export async function backoff(attempt: number, what: string): Promise<void> {
  if (attempt > BATCH_RETRIES) throw new L2Failure("throttled", `${what} after ${BATCH_RETRIES} retries`);
  await sleep(Math.min(25 * 2 ** attempt, 1000) * (0.5 + Math.random() / 2));
}

/** Carries out one write without the tier (the exit worker): the same requests and conditions. */
export async function performWrite(ctx: WriteContext, write: L2Write): Promise<void> {
  switch (write.kind) {
    case "entry": {
      const encoded = encodeEntryItem(write.dataId, write.entry, write.ttlMs);
      if (tooLargeForTable(encoded) === undefined) await putEntry(ctx, encoded.item, write.entry.time);
      return;
    }
    case "state": {
      const encoded = encodeStateItem(write.dataId, write.text, write.time);
      if (tooLargeForTable(encoded) === undefined) await putItem(ctx, encoded.item);
      return;
    }
    case "clear":
      await recordClear(ctx, write.dataId, write.functionName, write.before);
      await removeBefore(ctx, write.dataId, write.functionName, write.before);
  }
}
