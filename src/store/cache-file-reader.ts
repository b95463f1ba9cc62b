/**
 * Reading a cache file (the format: cache-file.ts). A file this library wrote — its layout, its marker
 * at the end — is read line by line without building the whole JSON tree: each entry line is cut at
 * its fields and its value parsed alone. Anything else (the Python library's files, hand-edited ones)
 * goes through one JSON.parse. Both hand out the same entries (a property test holds them to it).
 */
import { foreignValue } from "../codec.js";
import { parseEncodedJson } from "../encoded-json.js";
import { parseTimestamp } from "../time.js";
import { ATTRIBUTE_TAGS_KEY, ForeignFileError, entryMeta, entryTime, foreignAttributes, isRecord, parseClears, type EntryMeta, type EntrySink, type LoadedCacheFile } from "./cache-file.js";

/**
 * Parses a cache file, handing each entry to `onEntry`. A file this library wrote (its layout, its
 * marker at the end) is read line by line without building the whole JSON tree (`parseOwnFile`);
 * anything else (the Python library's files, hand-edited ones) goes through one JSON.parse.
 */
export function parseCacheFile(text: string, onEntry: EntrySink): LoadedCacheFile {
  return parseOwnFile(text, onEntry) ?? parseAnyFile(text, onEntry);
}

/** Parses a cache file in one pass of JSON.parse (with the long-integer pass where needed). */
function parseAnyFile(text: string, onEntry: EntrySink): LoadedCacheFile {
  const data = parseEncodedJson(text);
  if (!isRecord(data) || !isRecord(data._json_cache_func_cache)) {
    throw new ForeignFileError("it is JSON, but not a cache file (no _json_cache_func_cache object)");
  }
  const entries = data._json_cache_func_cache;
  const marker = isRecord(data._cacherator) ? data._cacherator : undefined;
  let skipped = 0;
  for (const key in entries) {
    if (key === ATTRIBUTE_TAGS_KEY) continue;
    const entry = entries[key];
    const time = isRecord(entry) && "value" in entry ? entryTime(entry) : undefined;
    if (time === undefined) {
      skipped++;
      continue;
    }
    const record = entry as Record<string, unknown>;
    // An entry without `epoch_ms` was written by another program (the Python library): its values hold no tags.
    const raw = typeof record.epoch_ms === "number" ? record.value : foreignValue(record.value);
    onEntry(key, raw, time, record.async === true, entryMeta(record));
  }
  let variables = isRecord(data._json_cache_variable_cache) ? data._json_cache_variable_cache : {};
  if (marker === undefined) variables = foreignAttributes(variables, entries[ATTRIBUTE_TAGS_KEY]);
  const savedAt = typeof data._json_cache_last_save_date === "string" ? parseTimestamp(data._json_cache_last_save_date) : undefined;
  const markedTime = marker !== undefined && typeof marker.vars_ms === "number" ? marker.vars_ms : undefined;
  return { variables, skipped, variablesTime: markedTime ?? savedAt ?? 0, clears: parseClears(marker?.clears), ours: marker !== undefined };
}

// --- Reading a file this library wrote ------------------------------------------------------------

export const FILE_START = '{\n    "_json_cache_func_cache": {';
export const ENTRIES_END = "\n    },";
export const SAVE_DATE_LINE = '\n    "_json_cache_last_save_date": ';
const ENTRY_INDENT = "        ";
const KEY_END = '": {"value": ';
const DATE_FIELD = ', "date": "';
/** `YYYY-MM-DDTHH:MM:SS.ffffff`: the writer always gives six fraction digits. */
const DATE_LENGTH = 26;
const EPOCH_FIELD = '", "epoch_ms": ';
const ASYNC_FIELD = ', "async": true';
const TTL_FIELD = ', "ttl_ms": ';
const EXPIRES_FIELD = ', "expires_ms": ';
const STALE_FIELD = ', "stale_ms": ';
const INFINITY_TEXT = '"Infinity"';
/** V8 keeps a substring of 13 or more characters as a view of its parent: such keys are copied (JSON.parse). */
const SHORT_KEY = 14;

/**
 * Reads a file in the layout `serializeCacheFile` writes, without JSON.parse of the whole text: the
 * part after the entries (save date, attributes, marker) is parsed as JSON; each entry line is cut
 * at its fields, its value parsed alone (small integers by hand), its key and time read directly,
 * and its date (which we do not need) skipped. Lines with more fields (ttl, version, expiry) are
 * parsed as JSON whole. Returns `undefined`, having handed out nothing, when the text is not in that
 * layout or has no marker (the Python library's rewrites): the caller parses it the general way.
 *
 * The marker's `long_ints: false` (the writer saw no integer literal of 16 or more digits) lets
 * values skip the scan for integers that JSON.parse would round; without it (older files) each value
 * is scanned, which costs little as values are parsed one by one.
 */
function parseOwnFile(text: string, onEntry: EntrySink): LoadedCacheFile | undefined {
  if (!text.startsWith(FILE_START) || !text.endsWith("}\n}\n")) return undefined;
  const restAt = text.lastIndexOf(SAVE_DATE_LINE);
  if (restAt < FILE_START.length) return undefined;
  let rest: unknown;
  try {
    rest = parseEncodedJson(`{${text.slice(restAt + 1)}`);
  } catch {
    return undefined;
  }
  if (!isRecord(rest) || !isRecord(rest._cacherator) || "_json_cache_func_cache" in rest) return undefined;
  const marker = rest._cacherator;
  const parseValue = marker.long_ints === false ? parsePlainJson : parseEncodedJson;

  const keys: string[] = [];
  const raws: unknown[] = [];
  const times: number[] = [];
  const asyncs: boolean[] = [];
  const metas: (EntryMeta | undefined)[] = [];
  let skipped = 0;
  if (restAt === FILE_START.length + 2) {
    if (!text.startsWith("},", FILE_START.length)) return undefined;
  } else {
    const end = restAt - ENTRIES_END.length;
    if (!text.startsWith(ENTRIES_END, end) || text.charCodeAt(FILE_START.length) !== NEWLINE) return undefined;
    try {
      let pos = FILE_START.length + 1;
      for (;;) {
        const lineEnd = text.indexOf("\n", pos);
        const last = lineEnd === end;
        const brace = last ? lineEnd - 1 : lineEnd - 2;
        if (lineEnd > end || text.charCodeAt(brace) !== CLOSE_BRACE || (!last && text.charCodeAt(lineEnd - 1) !== COMMA)) return undefined;
        if (!text.startsWith(ENTRY_INDENT, pos) || text.charCodeAt(pos + ENTRY_INDENT.length) !== QUOTE) return undefined;
        const keyEnd = text.indexOf(KEY_END, pos + ENTRY_INDENT.length + 1);
        if (keyEnd < 0 || keyEnd > brace) return undefined;
        const literal = text.slice(pos + ENTRY_INDENT.length, keyEnd + 1);
        const key = literal.length <= SHORT_KEY && !literal.includes("\\") ? literal.slice(1, -1) : (JSON.parse(literal) as string);
        if (key !== ATTRIBUTE_TAGS_KEY) {
          // Read from the end of the line back: `…, "date": "<26>", "epoch_ms": <digits>[, "async": true]}`.
          // Optional fields come last, in entryText's order: async, ttl_ms, (version: JSON-parsed), expires_ms, stale_ms.
          const valueAt = keyEnd + KEY_END.length;
          let fieldsAt = brace;
          let at = numberStart(text, fieldsAt);
          let staleMs: number | undefined;
          let expiresMs: number | undefined;
          let ttlMs: number | undefined;
          if (at < fieldsAt && text.startsWith(STALE_FIELD, at - STALE_FIELD.length)) {
            staleMs = msOf(text, at, fieldsAt);
            fieldsAt = at - STALE_FIELD.length;
            at = numberStart(text, fieldsAt);
          }
          if (at < fieldsAt && text.startsWith(EXPIRES_FIELD, at - EXPIRES_FIELD.length)) {
            expiresMs = msOf(text, at, fieldsAt);
            fieldsAt = at - EXPIRES_FIELD.length;
            at = numberStart(text, fieldsAt);
          }
          if (at < fieldsAt && text.startsWith(TTL_FIELD, at - TTL_FIELD.length)) {
            ttlMs = msOf(text, at, fieldsAt);
            fieldsAt = at - TTL_FIELD.length;
            at = numberStart(text, fieldsAt);
          }
          const async = at === fieldsAt && text.charCodeAt(fieldsAt - 1) === LETTER_E && text.startsWith(ASYNC_FIELD, fieldsAt - ASYNC_FIELD.length);
          const digitsEnd = async ? fieldsAt - ASYNC_FIELD.length : fieldsAt;
          const digitsAt = async ? numberStart(text, digitsEnd) : at;
          const dateAt = digitsAt - EPOCH_FIELD.length - DATE_LENGTH - DATE_FIELD.length;
          if (
            digitsAt < digitsEnd && text.charCodeAt(digitsAt) !== QUOTE && staleMs === staleMs && expiresMs === expiresMs && ttlMs === ttlMs && dateAt >= valueAt &&
            text.startsWith(EPOCH_FIELD, digitsAt - EPOCH_FIELD.length) && text.startsWith(DATE_FIELD, dateAt) && !Number.isNaN(msOf(text, digitsAt, digitsEnd))
          ) {
            let time = 0;
            for (let i = digitsAt; i < digitsEnd; i++) time = time * 10 + (text.charCodeAt(i) - DIGIT_0);
            keys.push(key);
            raws.push(smallInteger(text, valueAt, dateAt) ?? parseValue(text.slice(valueAt, dateAt)));
            times.push(time);
            asyncs.push(async);
            // As entryMeta gives it: a stale window alone is no meta.
            metas.push(ttlMs === undefined && expiresMs === undefined ? undefined : { ttlMs, version: undefined, expiresMs, staleMs });
          } else {
            // More fields than value, date, epoch_ms and async: the line's object as JSON.
            const entry = parseValue(text.slice(keyEnd + 3, brace + 1));
            const time = isRecord(entry) && "value" in entry ? entryTime(entry) : undefined;
            if (time === undefined) {
              skipped++;
            } else {
              const record = entry as Record<string, unknown>;
              keys.push(key);
              raws.push(typeof record.epoch_ms === "number" ? record.value : foreignValue(record.value));
              times.push(time);
              asyncs.push(record.async === true);
              metas.push(entryMeta(record));
            }
          }
        }
        if (last) break;
        pos = lineEnd + 1;
      }
    } catch {
      return undefined;
    }
  }
  for (let i = 0; i < keys.length; i++) onEntry(keys[i] as string, raws[i], times[i] as number, asyncs[i] as boolean, metas[i]);
  const variables = isRecord(rest._json_cache_variable_cache) ? rest._json_cache_variable_cache : {};
  const savedAt = typeof rest._json_cache_last_save_date === "string" ? parseTimestamp(rest._json_cache_last_save_date) : undefined;
  const markedTime = typeof marker.vars_ms === "number" ? marker.vars_ms : undefined;
  return { variables, skipped, variablesTime: markedTime ?? savedAt ?? 0, clears: parseClears(marker.clears), ours: true };
}

const NEWLINE = 10;
const QUOTE = 34;
const COMMA = 44;
const CLOSE_BRACE = 125;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const LETTER_E = 101;

/**
 * Where the number ending right before `end` starts: its digits, or `"Infinity"` (how an entry writes
 * an infinite ms); `end` when there is neither.
 */
function numberStart(text: string, end: number): number {
  if (text.charCodeAt(end - 1) === QUOTE) return text.startsWith(INFINITY_TEXT, end - INFINITY_TEXT.length) ? end - INFINITY_TEXT.length : end;
  let at = end;
  for (let c = text.charCodeAt(at - 1); c >= DIGIT_0 && c <= DIGIT_9; c = text.charCodeAt(--at - 1));
  return at;
}

/**
 * The ms `text[at, end)` spells as entryMeta reads it: `"Infinity"`, or at most 15 digits without a
 * leading zero (JSON's integers, exact as doubles); NaN for anything else (the line then goes to JSON.parse).
 */
function msOf(text: string, at: number, end: number): number {
  if (text.charCodeAt(at) === QUOTE) return Number.POSITIVE_INFINITY;
  if (end - at > 15 || (text.charCodeAt(at) === DIGIT_0 && end - at > 1)) return Number.NaN;
  let ms = 0;
  for (let i = at; i < end; i++) ms = ms * 10 + (text.charCodeAt(i) - DIGIT_0);
  return ms;
}

/** The integer `text[from, to)` spells, if it is a plain one of at most 15 digits (exact as a double); else undefined. */
function smallInteger(text: string, from: number, to: number): number | undefined {
  let i = from;
  const negative = text.charCodeAt(i) === 45;
  if (negative) i++;
  if (to - i < 1 || to - i > 15 || (text.charCodeAt(i) === DIGIT_0 && to - i > 1)) return undefined;
  let value = 0;
  for (; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < DIGIT_0 || c > DIGIT_9) return undefined;
    value = value * 10 + (c - DIGIT_0);
  }
  return negative ? (value === 0 ? undefined : -value) : value;
}

/** JSON.parse, falling back to the token pass for bare NaN/Infinity. */
function parsePlainJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return parseEncodedJson(text);
  }
}

