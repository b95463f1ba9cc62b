/**
 * The journal beside a large cache file: `<file>.journal`, one JSON object per line, appended under the
 * file lock, so persisting a miss costs the same whatever the size of the cache. Compaction folds it
 * into the cache file (see local-file-store.ts).
 *
 *     {"k": "fetch('foo',){}", "e": {"value": …, "date": "…", "epoch_ms": …}}   an entry was set
 *     {"del": ["fetch('foo',){}", …]}                                           entries were removed
 *     {"vars": {"score": 150, …}}                                               attributes were saved
 *
 * A line cut short by a crash is not valid JSON and is skipped, and so is anything else unreadable.
 */
import { entryMeta, entryTime, type EntryMeta } from "./cache-file.js";

export type JournalOp =
  | { kind: "set"; key: string; raw: unknown; time: number; async: boolean; meta: EntryMeta | undefined }
  | { kind: "del"; keys: string[] }
  | { kind: "vars"; variables: Record<string, unknown> };

export function setLine(key: string, entryText: string): string {
  return `{"k": ${JSON.stringify(key)}, "e": ${entryText}}\n`;
}

export function deleteLine(keys: Iterable<string>): string {
  return `{"del": ${JSON.stringify([...keys])}}\n`;
}

export function variablesLine(variables: Map<string, string>): string {
  const fields = [...variables].map(([name, text]) => `${JSON.stringify(name)}: ${text}`);
  return `{"vars": {${fields.join(", ")}}}\n`;
}

/** Parses one line; `undefined` for a torn or foreign line. */
export function parseJournalLine(line: string): JournalOp | undefined {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof data !== "object" || data === null) return undefined;
  const record = data as Record<string, unknown>;
  if (typeof record.k === "string" && typeof record.e === "object" && record.e !== null) {
    const entry = record.e as Record<string, unknown>;
    const time = "value" in entry ? entryTime(entry) : undefined;
    if (time === undefined) return undefined;
    return { kind: "set", key: record.k, raw: entry.value, time, async: entry.async === true, meta: entryMeta(entry) };
  }
  if (Array.isArray(record.del) && record.del.every((key) => typeof key === "string")) {
    return { kind: "del", keys: record.del as string[] };
  }
  if (typeof record.vars === "object" && record.vars !== null && !Array.isArray(record.vars)) {
    return { kind: "vars", variables: record.vars as Record<string, unknown> };
  }
  return undefined;
}
