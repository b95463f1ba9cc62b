/** `prune [dataId]`: remove the entries no process would serve any more (of every cache, or of one). */
import { openAll, openById, persist, unknownCache, type OpenCache, type Unreadable } from "../caches.js";
import type { Command, Context } from "../context.js";
import { isPrunable } from "../entries.js";
import { formatTtl, renderTable } from "../table.js";

export interface PruneItem {
  dataId: string | null;
  name: string;
  file: string;
  removed: number;
  keys: string[];
}

export interface PruneResult {
  directory: string;
  /** The TTL of entries that record no expiry, readable. */
  fallbackTtl: string;
  dryRun: boolean;
  /** Expired entries removed (or, with --dry-run, that would be), over all caches. */
  removed: number;
  caches: PruneItem[];
}

export async function pruneCaches(ctx: Context, id: string | undefined, dryRun: boolean): Promise<PruneResult> {
  let targets: (OpenCache | Unreadable)[];
  if (id !== undefined) {
    const opened = openById(ctx, id);
    if (opened === undefined) throw unknownCache(ctx, id);
    targets = [opened];
  } else {
    targets = openAll(ctx);
  }
  const caches: PruneItem[] = [];
  for (const opened of targets) {
    if ("error" in opened) {
      ctx.warnings.push(`skipped ${opened.ref.path}: it is ${opened.error}`);
      continue;
    }
    const expired = [...opened.store.allEntries()].filter(([, entry]) => isPrunable(ctx, entry)).map(([key]) => key);
    const keys = dryRun ? expired : opened.store.removeKeys(expired);
    if (!dryRun && keys.length > 0) await persist(ctx, opened);
    caches.push({ dataId: opened.ref.dataId, name: opened.ref.name, file: opened.ref.file, removed: keys.length, keys });
  }
  return { directory: ctx.dir, fallbackTtl: formatTtl(ctx.ttlMs), dryRun, removed: caches.reduce((sum, item) => sum + item.removed, 0), caches };
}

function render(result: PruneResult): string {
  const touched = result.caches.filter((item) => item.removed > 0);
  let out = "";
  if (touched.length > 0) {
    out += renderTable(
      [{ header: "DATA ID" }, { header: "FILE" }, { header: result.dryRun ? "EXPIRED" : "REMOVED", align: "right" }],
      touched.map((item) => [item.name, item.file, String(item.removed)]),
    );
  }
  const verb = result.dryRun ? "would remove" : "removed";
  const caches = `${result.caches.length} ${result.caches.length === 1 ? "cache" : "caches"}`;
  out += `${verb} ${result.removed} expired ${result.removed === 1 ? "entry" : "entries"} from ${caches} (entries that record no expiry: ttl ${result.fallbackTtl})\n`;
  return out;
}

export const prune: Command = {
  args: ["[dataId]"],
  options: ["ttl", "dry-run"],
  summary: "remove expired entries (of every cache, or of one)",
  details:
    "Removes the entries that have expired, each by the expiry recorded with it (its method's TTL\n" +
    "when it was computed, or a TTL computed from its result); entries within a stale window (staleTtl)\n" +
    "are kept until it ends. Entries that record no expiry (older files, the Python library's) are\n" +
    "judged by 999 days; --ttl judges every entry by the TTL given instead. --dry-run lists what would be\n" +
    "removed. Safe while an application uses the caches\n" +
    "(see clear).",
  async run(ctx, { positionals, values }) {
    const data = await pruneCaches(ctx, positionals[0], values["dry-run"] === true);
    return { data, text: render(data) };
  },
};
