/** `stats`: totals over the directory: objects, entries live and expired, functions, bytes on disk. */
import { functionOfKey } from "../../keys/call-key.js";
import { fileSize, openAll } from "../caches.js";
import { l2Value, mapLimit, type Command, type Context } from "../context.js";
import { isExpired } from "../entries.js";
import { L2_OPTIONS } from "../options.js";
import { formatBytes, formatTtl, renderFields } from "../table.js";

export interface StatsResult {
  directory: string;
  /** The TTL of entries that record no expiry, readable. */
  fallbackTtl: string;
  /** Readable cache files. */
  objects: number;
  /** Files that are not usable caches. */
  unreadable: number;
  entries: number;
  live: number;
  expired: number;
  functions: number;
  /** Bytes on disk, cache files and journals (unreadable files included). */
  bytes: number;
  journalBytes: number;
  /** With --dynamodb-table: unexpired entries in DynamoDB of the objects found locally. */
  l2Entries?: number;
  table?: string;
}

export async function cacheStats(ctx: Context): Promise<StatsResult> {
  const result: StatsResult = {
    directory: ctx.dir,
    fallbackTtl: formatTtl(ctx.ttlMs),
    objects: 0,
    unreadable: 0,
    entries: 0,
    live: 0,
    expired: 0,
    functions: 0,
    bytes: 0,
    journalBytes: 0,
  };
  const names: string[] = [];
  for (const opened of openAll(ctx)) {
    result.journalBytes += fileSize(`${opened.ref.path}.journal`);
    if ("error" in opened) {
      result.unreadable++;
      result.bytes += fileSize(opened.ref.path) + fileSize(`${opened.ref.path}.journal`);
      continue;
    }
    result.objects++;
    result.bytes += opened.bytes;
    names.push(opened.ref.name);
    const functions = new Set<string>();
    for (const [key, entry] of opened.store.allEntries()) {
      result.entries++;
      if (isExpired(ctx, entry)) result.expired++;
      else result.live++;
      functions.add(functionOfKey(key));
    }
    result.functions += functions.size;
  }
  const l2 = ctx.l2;
  if (l2 !== undefined) {
    const counts = await mapLimit(names, 4, (name) => l2Value(ctx, l2.count(name)));
    result.l2Entries = counts.reduce((sum, count) => sum + count.totalEntries, 0);
    result.table = l2.table;
  }
  return result;
}

function render(result: StatsResult): string {
  return renderFields([
    ["directory", result.directory],
    ["objects", String(result.objects) + (result.unreadable > 0 ? ` (and ${result.unreadable} unreadable file${result.unreadable === 1 ? "" : "s"})` : "")],
    ["entries", String(result.entries)],
    ["live", String(result.live)],
    ["expired", String(result.expired)],
    ["functions", String(result.functions)],
    ["on disk", `${formatBytes(result.bytes)} (${result.bytes} bytes, journals ${formatBytes(result.journalBytes)})`],
    ...(result.table !== undefined ? [[`l2 entries (${result.table})`, String(result.l2Entries ?? 0)] as const] : []),
  ]);
}

export const stats: Command = {
  args: [],
  options: ["ttl", ...L2_OPTIONS],
  summary: "totals over the directory: objects, entries, live and expired, bytes on disk",
  details:
    "Counts the caches of the directory, their entries (live and expired, by the expiry each records;\n" +
    "--ttl for entries that record none) and functions, and their bytes on disk, journals included.\n" +
    "With --dynamodb-table, adds the unexpired DynamoDB entries of the objects found locally.",
  async run(ctx) {
    const data = await cacheStats(ctx);
    return { data, text: render(data) };
  },
};
