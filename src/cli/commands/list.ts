/** `list`: the caches of the directory, with their entries, size, and oldest and newest entry. */
import { functionOfKey } from "../../keys/call-key.js";
import { fileSize, openAll } from "../caches.js";
import { l2Value, mapLimit, type Command, type Context } from "../context.js";
import { isoTime } from "../entries.js";
import { L2_OPTIONS } from "../options.js";
import { formatBytes, renderTable } from "../table.js";

export interface ListItem {
  /** The dataId the file records (null for a file of the Python library). */
  dataId: string | null;
  /** What to pass as <dataId> to the other commands. */
  name: string;
  file: string;
  entries: number;
  functions: number;
  /** Bytes on disk: file and journal. */
  bytes: number;
  /** Computation time of the oldest and newest entry (ISO), null when empty. */
  oldest: string | null;
  newest: string | null;
  /** Why the file cannot be read, for files that are not usable caches. */
  error?: string;
  /** With --dynamodb-table: the object's unexpired entries in DynamoDB. */
  l2Entries?: number;
}

export interface ListResult {
  directory: string;
  table?: string;
  caches: ListItem[];
}

export async function listCaches(ctx: Context): Promise<ListResult> {
  const caches: ListItem[] = openAll(ctx).map((opened) => {
    const { ref } = opened;
    const base = { dataId: ref.dataId, name: ref.name, file: ref.file };
    if ("error" in opened) {
      return { ...base, entries: 0, functions: 0, bytes: fileSize(ref.path), oldest: null, newest: null, error: opened.error };
    }
    let oldest = Infinity;
    let newest = -Infinity;
    const functions = new Set<string>();
    for (const [key, entry] of opened.store.allEntries()) {
      oldest = Math.min(oldest, entry.time);
      newest = Math.max(newest, entry.time);
      functions.add(functionOfKey(key));
    }
    return { ...base, entries: opened.store.size, functions: functions.size, bytes: opened.bytes, oldest: isoTime(oldest), newest: isoTime(newest) };
  });
  const l2 = ctx.l2;
  if (l2 !== undefined) {
    const counts = await mapLimit(caches, 4, (item) => (item.error === undefined ? l2Value(ctx, l2.count(item.name)) : Promise.resolve(undefined)));
    counts.forEach((count, i) => {
      if (count !== undefined) (caches[i] as ListItem).l2Entries = count.totalEntries;
    });
  }
  return { directory: ctx.dir, ...(l2 ? { table: l2.table } : {}), caches };
}

/** A time for a table cell: ISO without milliseconds. */
export function timeCell(iso: string | null, none = "-"): string {
  return iso === null ? none : iso.replace(/\.\d{3}Z$/, "Z");
}

function render(result: ListResult): string {
  const usable = result.caches.filter((item) => item.error === undefined);
  const broken = result.caches.filter((item) => item.error !== undefined);
  if (result.caches.length === 0) return `no caches in ${result.directory}\n`;
  const withL2 = result.table !== undefined;
  const columns = [
    { header: "DATA ID" },
    { header: "FILE" },
    { header: "ENTRIES", align: "right" as const },
    { header: "FUNCTIONS", align: "right" as const },
    { header: "SIZE", align: "right" as const },
    { header: "OLDEST" },
    { header: "NEWEST" },
    ...(withL2 ? [{ header: "L2 ENTRIES", align: "right" as const }] : []),
  ];
  const rows = usable.map((item) => [
    item.name,
    item.file,
    String(item.entries),
    String(item.functions),
    formatBytes(item.bytes),
    timeCell(item.oldest, item.entries > 0 ? "invalid" : "-"),
    timeCell(item.newest, item.entries > 0 ? "invalid" : "-"),
    ...(withL2 ? [item.l2Entries === undefined ? "-" : String(item.l2Entries)] : []),
  ]);
  let out = usable.length > 0 ? renderTable(columns, rows) : "";
  for (const item of broken) out += `unreadable: ${item.file} is ${item.error ?? ""}\n`;
  return out;
}

export const list: Command = {
  args: [],
  options: [...L2_OPTIONS],
  summary: "the caches in the directory: entries, size, oldest and newest entry",
  details:
    "Lists every cache file of the directory (journals included) with its number of entries and of\n" +
    "functions, its size on disk (file and journal) and the computation time of its oldest and newest\n" +
    "entry. Files the Python library wrote record no dataId: they are named by their file name.\n" +
    "Files that are not usable caches are listed as unreadable and left untouched.\n" +
    "With --dynamodb-table, adds each object's number of unexpired entries in DynamoDB.",
  async run(ctx) {
    const data = await listCaches(ctx);
    return { data, text: render(data) };
  },
};
