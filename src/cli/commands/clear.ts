/** `clear <dataId> [function]`: remove every entry of a cache, or one function's. */
import { functionOfKey } from "../../keys/call-key.js";
import { openById, persist, unknownCache, type OpenCache } from "../caches.js";
import { CliError, l2Value, type Command, type Context } from "../context.js";
import { closest } from "../hints.js";
import { L2_OPTIONS } from "../options.js";

export interface ClearResult {
  dataId: string;
  file: string | null;
  function: string | null;
  dryRun: boolean;
  /** Entries removed from the file (with --dry-run: that would be). */
  removed: number;
  keys: string[];
  /** Entries removed from DynamoDB, with --dynamodb-table (with --dry-run: that would be). */
  l2Removed?: number;
  table?: string;
}

/** The keys of the cache's entries (file, and DynamoDB with a table). */
async function knownKeys(ctx: Context, dataId: string, opened: OpenCache | undefined): Promise<{ local: string[]; remote: string[] }> {
  const local = opened ? [...opened.store.allEntries()].map(([key]) => key) : [];
  const remote = ctx.l2 ? (await l2Value(ctx, ctx.l2.list(dataId))).map((entry) => entry.key) : [];
  return { local, remote };
}

export async function clearCache(ctx: Context, id: string, fn: string | undefined, dryRun: boolean): Promise<ClearResult> {
  const opened = openById(ctx, id);
  if (opened === undefined && ctx.l2 === undefined) throw unknownCache(ctx, id);
  const dataId = opened?.ref.name ?? id;
  const known = await knownKeys(ctx, dataId, opened);
  if (opened === undefined && known.remote.length === 0) throw unknownCache(ctx, id);
  const matches = (key: string) => fn === undefined || functionOfKey(key) === fn;
  if (fn !== undefined && !known.local.some(matches) && !known.remote.some(matches)) {
    // A misspelt name would otherwise "remove 0 entries" and look like success.
    const functions = [...new Set([...known.local, ...known.remote].map(functionOfKey))].sort();
    const hint = functions.length === 0 ? "it has no entries" : `closest: ${closest(fn, functions, 3).join(", ")}`;
    throw new CliError(`${dataId} has no entries of ${fn} (${hint})`, 1, { functions });
  }
  const result: ClearResult = { dataId, file: opened?.ref.file ?? null, function: fn ?? null, dryRun, removed: 0, keys: [] };
  if (dryRun) {
    result.keys = known.local.filter(matches).sort();
    result.removed = result.keys.length;
  } else if (opened !== undefined) {
    result.keys = opened.store.clear(fn).sort();
    result.removed = result.keys.length;
    // Written even when this file held none: running processes may hold results not written yet.
    await persist(ctx, opened);
  }
  if (ctx.l2 !== undefined) {
    result.l2Removed = dryRun ? known.remote.filter(matches).length : await l2Value(ctx, ctx.l2.remove(dataId, fn));
    result.table = ctx.l2.table;
  }
  return result;
}

function render(result: ClearResult): string {
  const what = result.function === null ? "" : ` of ${result.function}`;
  const verb = result.dryRun ? "would remove" : "removed";
  let out = "";
  if (result.dryRun) out += result.keys.map((key) => `${key}\n`).join("");
  out += result.file === null ? `${result.dataId} has no cache file` : `${verb} ${result.removed} ${result.removed === 1 ? "entry" : "entries"}${what} from ${result.dataId} (${result.file})`;
  if (result.l2Removed !== undefined) out += `; ${result.l2Removed} from DynamoDB table ${result.table ?? ""}`;
  return `${out}\n`;
}

export const clear: Command = {
  args: ["<dataId>", "[function]"],
  options: ["dry-run", ...L2_OPTIONS],
  summary: "remove every entry of a cache, or one function's (exact name)",
  details:
    "Removes the entries of <dataId> (attributes are kept), or only those of [function]: `fetch`\n" +
    "does not clear `fetchAll`. A function with no entries is an error (exit 1) naming the closest\n" +
    "functions. Safe while an application uses the cache: the removal is recorded in the file with its\n" +
    "time, merged with what the application wrote, and the application stops serving the removed\n" +
    "entries within its refreshInterval. Reports how many entries were removed; --dry-run lists them\n" +
    "and removes nothing.\n" +
    "With --dynamodb-table, removes them from DynamoDB too.",
  async run(ctx, { positionals, values }) {
    const data = await clearCache(ctx, positionals[0] as string, positionals[1], values["dry-run"] === true);
    return { data, text: render(data) };
  },
};
