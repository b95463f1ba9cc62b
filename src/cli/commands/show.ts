/** `show <dataId>`: one cache's attributes, its entries per function, and each entry's age and expiry. */
import type { RemoteEntry } from "../../store/dynamodb/index.js";
import { openById, unknownCache } from "../caches.js";
import { l2Value, type Command, type Context } from "../context.js";
import { entryInfo, type EntryInfo } from "../entries.js";
import { L2_OPTIONS } from "../options.js";
import { formatBytes, formatDuration, formatTtl, renderFields, renderTable } from "../table.js";
import { timeCell } from "./list.js";

export interface FunctionSummary {
  function: string;
  entries: number;
  live: number;
  expired: number;
}

export interface ShowResult {
  dataId: string;
  /** The cache file, null when only DynamoDB holds the object. */
  file: string | null;
  /** The TTL of entries that record no expiry, readable ("6h", "999d", "infinite"). */
  fallbackTtl: string;
  bytes: number;
  attributes: string[];
  functions: FunctionSummary[];
  entries: EntryInfo[];
  table?: string;
}

export async function showCache(ctx: Context, id: string): Promise<ShowResult> {
  const opened = openById(ctx, id);
  if (opened === undefined && ctx.l2 === undefined) throw unknownCache(ctx, id);
  const dataId = opened?.ref.name ?? id;
  const entries = new Map<string, EntryInfo>();
  if (opened !== undefined) {
    for (const [key, entry] of opened.store.allEntries()) entries.set(key, entryInfo(ctx, key, entry));
  }
  if (ctx.l2 !== undefined) {
    for (const info of entries.values()) info.where = "l1";
    const remote: RemoteEntry[] = await l2Value(ctx, ctx.l2.list(dataId));
    for (const entry of remote) {
      const local = entries.get(entry.key);
      if (local !== undefined) local.where = "l1+l2";
      else entries.set(entry.key, { ...entryInfo(ctx, entry.key, { time: entry.time, async: entry.async, meta: undefined }), where: "l2" });
    }
    if (opened === undefined && entries.size === 0) throw unknownCache(ctx, id);
  }
  const list = [...entries.values()].sort((a, b) => (a.function === b.function ? a.key.localeCompare(b.key) : a.function.localeCompare(b.function)));
  const functions = new Map<string, FunctionSummary>();
  for (const entry of list) {
    const summary = functions.get(entry.function) ?? { function: entry.function, entries: 0, live: 0, expired: 0 };
    summary.entries++;
    summary[entry.status]++;
    functions.set(entry.function, summary);
  }
  return {
    dataId,
    file: opened?.ref.file ?? null,
    fallbackTtl: formatTtl(ctx.ttlMs),
    bytes: opened?.bytes ?? 0,
    attributes: opened ? [...opened.store.variables.keys()].sort() : [],
    functions: [...functions.values()],
    entries: list,
    ...(ctx.l2 ? { table: ctx.l2.table } : {}),
  };
}

function render(result: ShowResult, ttlGiven = false): string {
  const live = result.entries.filter((e) => e.status === "live").length;
  let out = renderFields([
    ["data id", result.dataId],
    ["file", result.file === null ? "(none)" : `${result.file} (${formatBytes(result.bytes)})`],
    ...(result.table ? [["dynamodb table", result.table] as const] : []),
    ["attributes", result.attributes.length > 0 ? `${result.attributes.join(", ")} (values: cacherator attributes ${result.dataId})` : "(none)"],
    ["entries", `${result.entries.length} (${live} live, ${result.entries.length - live} expired)`],
  ]);
  if (result.entries.length === 0) return out;
  out += "\n";
  out += renderTable(
    [{ header: "FUNCTION" }, { header: "ENTRIES", align: "right" }, { header: "LIVE", align: "right" }, { header: "EXPIRED", align: "right" }],
    result.functions.map((f) => [f.function, String(f.entries), String(f.live), String(f.expired)]),
  );
  out += "\n";
  const withL2 = result.table !== undefined;
  out += renderTable(
    [
      { header: "KEY" },
      { header: "FUNCTION" },
      { header: "COMPUTED AT" },
      { header: "AGE", align: "right" },
      { header: "TTL", align: "right" },
      { header: "EXPIRES AT" },
      { header: "STATUS" },
      ...(withL2 ? [{ header: "WHERE" }] : []),
    ],
    result.entries.map((e) => [
      e.key,
      e.function,
      timeCell(e.computedAt, "invalid"),
      e.computedAt === null ? "invalid" : formatDuration(e.ageMs),
      e.computedAt === null ? "-" : e.ttl,
      e.expiresAt === null ? (e.computedAt === null ? "invalid" : "never") : timeCell(e.expiresAt) + (e.expirySource === "--ttl" ? " (--ttl)" : ""),
      e.status,
      ...(withL2 ? [e.where ?? ""] : []),
    ]),
  );
  if (result.entries.some((e) => e.expirySource === "--ttl")) {
    out += ttlGiven
      ? `\n(--ttl) judged by --ttl ${result.fallbackTtl}, whatever the entries record\n`
      : `\n(--ttl) these entries record no expiry (written by an older version or by the Python library): judged by --ttl ${result.fallbackTtl}\n`;
  }
  return out;
}

export const show: Command = {
  args: ["<dataId>"],
  options: ["ttl", ...L2_OPTIONS],
  summary: "one cache: entries per function, and each entry's age, expiry and status",
  details:
    "Shows the attributes a cache persists, its entries per function, and for each entry its key,\n" +
    "function, computation time, age, expiry and status (live or expired). An entry expires as its\n" +
    "method's TTL said when it was computed (recorded in the file); entries that record no expiry\n" +
    "(older files, the Python library's) by 999 days. --ttl judges every entry by the TTL given instead.\n" +
    "<dataId> is the object's dataId, or its\n" +
    "file name without .json.\n" +
    "With --dynamodb-table, entries of DynamoDB are shown too, with where they are (l1, l2, l1+l2).",
  async run(ctx, { positionals }) {
    const data = await showCache(ctx, positionals[0] as string);
    return { data, text: render(data, ctx.ttlGiven === true) };
  },
};
