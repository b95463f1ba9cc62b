/**
 * The journal beside a cache file: `<file>.journal`, one JSON object per line. Every line says what
 * changed and when, so applying a line twice, late, or over a newer file generation never undoes a
 * newer change:
 *
 *     {"k": "fetch('foo',){}", "e": {"value": …, "date": "…", "epoch_ms": …}}   an entry was set (kept if newer)
 *     {"del": ["fetch('foo',){}", …], "upto": [1795643779126, …]}              entries were removed (those computed up to that time)
 *     {"clear": {"fetch": 1795643779200, "*": …}}                             every entry of a function ("*": all) computed before that time is gone
 *     {"vars": {"score": 150, …}, "t": 1795643779300}                           attributes were saved at t (kept only if newer than the file's)
 *
 * A line cut short by a crash is not valid JSON (no proper prefix of a JSON object is) and is skipped,
 * and so is anything else unreadable.
 */
import { entryMeta, entryTime, parseClears, type EntryMeta } from "./cache-file.js";
import { parseEncodedJson } from "../encoded-json.js";

export type JournalOp =
  | { kind: "set"; key: string; raw: unknown; time: number; async: boolean; meta: EntryMeta | undefined }
  | { kind: "del"; keys: string[]; upto: (number | undefined)[] }
  | { kind: "clear"; clears: Map<string, number> }
  | { kind: "vars"; variables: Record<string, unknown>; time: number };

/** The function name `clear` uses for "every function". */
export const ALL_FUNCTIONS = "*";

export function setLine(key: string, entryText: string): string {
  return `{"k": ${JSON.stringify(key)}, "e": ${entryText}}\n`;
}

/** Removal of entries: each key with the time of the entry removed (newer ones survive). */
export function deleteLine(removed: Map<string, number>): string {
  return `{"del": ${JSON.stringify([...removed.keys()])}, "upto": ${JSON.stringify([...removed.values()])}}\n`;
}

export function clearLine(clears: Map<string, number>): string {
  return `{"clear": ${JSON.stringify(Object.fromEntries(clears))}}\n`;
}

export function variablesLine(variables: Map<string, string>, time: number): string {
  const fields = [...variables].map(([name, text]) => `${JSON.stringify(name)}: ${text}`);
  return `{"vars": {${fields.join(", ")}}, "t": ${time}}\n`;
}

/** Parses one line; `undefined` for a torn or foreign line. */
export function parseJournalLine(line: string): JournalOp | undefined {
  let data: unknown;
  try {
    data = parseEncodedJson(line);
  } catch {
    return undefined; // torn, or nested beyond what the parser takes
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
    const upto = Array.isArray(record.upto) ? record.upto : [];
    return { kind: "del", keys: record.del as string[], upto: (record.del as string[]).map((_, i) => finiteOr(upto[i])) };
  }
  if (isPlainObject(record.clear)) {
    const clears = parseClears(record.clear);
    return clears.size > 0 ? { kind: "clear", clears } : undefined;
  }
  if (isPlainObject(record.vars)) {
    return { kind: "vars", variables: record.vars, time: finiteOr(record.t) ?? 0 };
  }
  return undefined;
}

function finiteOr(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
