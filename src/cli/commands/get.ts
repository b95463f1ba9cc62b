/** `get <dataId> <key>`: the cached value of one call key. */
import { inspect } from "node:util";
import { decodeValue } from "../../codec.js";
import { functionOfKey } from "../../keys/call-key.js";
import { openById, unknownCache } from "../caches.js";
import { CliError, l2Value, type Command, type Context } from "../context.js";
import { isoTime } from "../entries.js";
import { closest } from "../hints.js";
import { L2_OPTIONS } from "../options.js";

export interface GetResult {
  dataId: string;
  key: string;
  function: string;
  computedAt: string | null;
  async: boolean;
  source: "l1" | "l2";
  /** The value as the codec stores it (plain JSON, with tagged objects for Date, Map…). */
  encoded: unknown;
  /** The value as the program gets it. */
  value: unknown;
}

export async function getEntry(ctx: Context, id: string, key: string): Promise<GetResult> {
  const opened = openById(ctx, id);
  if (opened === undefined && ctx.l2 === undefined) throw unknownCache(ctx, id);
  const dataId = opened?.ref.name ?? id;
  const local = opened?.store.get(key);
  const fn = functionOfKey(key);
  if (opened !== undefined && local !== undefined) {
    let value: unknown;
    try {
      value = opened.store.valueOf(local);
    } catch (error) {
      throw new CliError(`the value of ${key} in ${dataId} cannot be decoded (${(error as Error).message})`);
    }
    return { dataId, key, function: fn, computedAt: isoTime(local.time), async: local.async, source: "l1", encoded: local.raw, value };
  }
  let keys = opened ? [...opened.store.allEntries()].map(([key]) => key) : [];
  if (ctx.l2 !== undefined) {
    const remote = await l2Value(ctx, ctx.l2.get(dataId, key));
    if (remote !== undefined) {
      const encoded = JSON.parse(remote.text) as unknown;
      return { dataId, key, function: fn, computedAt: isoTime(remote.time), async: remote.async, source: "l2", encoded, value: decodeValue(encoded) };
    }
    keys = [...new Set([...keys, ...(await l2Value(ctx, ctx.l2.list(dataId))).map((entry) => entry.key)])];
  }
  if (opened === undefined && keys.length === 0) throw unknownCache(ctx, id);
  const sameFunction = keys.filter((k) => functionOfKey(k) === fn);
  if (sameFunction.length > 0) {
    const near = closest(key, sameFunction, 3);
    throw new CliError(`no entry ${key} in ${dataId}; closest keys of ${fn}: ${near.join("  ")}`, 1, { closest: near });
  }
  const functions = [...new Set(keys.map(functionOfKey))].sort();
  throw new CliError(
    `no entry ${key} in ${dataId}: it has no entries of ${fn}${functions.length > 0 ? ` (functions: ${functions.join(", ")})` : " (it has no entries)"}`,
    1,
    { closest: [], functions },
  );
}

/** A value as a program would print it, whole. */
export function showValue(value: unknown): string {
  return `${inspect(value, { depth: null, colors: false, maxArrayLength: null, maxStringLength: null, breakLength: 100 })}\n`;
}

export const get: Command = {
  args: ["<dataId>", "<key>"],
  options: [...L2_OPTIONS],
  summary: "the cached value of one call key",
  details:
    "Prints the value stored under <key> (a call key as `show` lists it, e.g. \"fetch('foo',){}\"), as\n" +
    "the program gets it; with --json, as the file stores it (tagged JSON) under \"encoded\".\n" +
    "Exits with 1 when the key is absent, naming the closest keys of the same function.\n" +
    "With --dynamodb-table, a key absent from the file is looked up in DynamoDB.",
  async run(ctx, { positionals }) {
    const data = await getEntry(ctx, positionals[0] as string, positionals[1] as string);
    const json: Partial<GetResult> = { ...data };
    delete json.value; // not JSON: the encoded form stands for it
    return { data: json, text: showValue(data.value) };
  },
};
