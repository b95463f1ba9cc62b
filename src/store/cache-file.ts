/**
 * The cache file format, shared with the Python cacherator:
 *
 *     {
 *         "_json_cache_func_cache": {
 *             "fetch('foo',){}": {"value": "result", "date": "2026-11-24T21:56:19.126065", "epoch_ms": 1795643779126},
 *             …
 *         },
 *         "_json_cache_last_save_date": "2026-11-24T21:56:19.130302",
 *         "_json_cache_variable_cache": {"score": 150, …},
 *         "_cacherator": {"format": 1, "data_id": "game_player1"}
 *     }
 *
 * One entry per line keeps the file readable and diffable. `value` holds the encoded result (see
 * codec.ts), `date` the Python-readable computation time, `epoch_ms` the same instant without
 * ambiguity, `async` marks results of async methods, `expires_ms` (and `stale_ms`) when it expires
 * under the TTL it was computed with. The Python library ignores the fields it does not know.
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { TAG, foreignValue } from "../codec.js";
import { mayHoldLongIntegers, parseEncodedJson, stringifyEncoded } from "../encoded-json.js";
import { parseTimestamp, pythonLocalTimestamp } from "../time.js";

export const FORMAT_VERSION = 1;

export interface LoadedCacheFile {
  /** Persisted attributes, still encoded. */
  variables: Record<string, unknown>;
  /**
   * When the attributes were saved: our marker's `vars_ms`, else (a file another program wrote) its
   * `_json_cache_last_save_date`; 0 when unknown.
   */
  variablesTime: number;
  /** Clear times recorded in our marker (function → epoch ms; "*" for all functions). */
  clears: Map<string, number>;
  /** Whether the file carries our `_cacherator` marker: written by this library, not rewritten by another program. */
  ours: boolean;
  /** Entries that were dropped because they had no value or no readable time. */
  skipped: number;
}

/** Receives each valid entry of a file: its key, encoded value, computation time (epoch ms), async flag, extras. */
export type EntrySink = (key: string, raw: unknown, time: number, async: boolean, meta: EntryMeta | undefined) => void;

/** The file parsed as JSON but is not a cache file (another program's file, or a partial one). */
export class ForeignFileError extends Error {}

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

/**
 * Attributes holding tagged values (Dates, Maps, …) outlive a save by the Python library, which drops
 * our marker but keeps every entry: this entry lists a digest of each such attribute as we wrote it.
 * In a file without our marker, an attribute is decoded only if it is still exactly what we wrote;
 * anything else there (a value the Python library set) holds no tags.
 */
export const ATTRIBUTE_TAGS_KEY = "_cacherator_attributes";

function attributeDigest(raw: unknown): string {
  return createHash("sha1").update(stringifyEncoded(raw)).digest("hex").slice(0, 16);
}

function foreignAttributes(variables: Record<string, unknown>, tagsEntry: unknown): Record<string, unknown> {
  const digests = isRecord(tagsEntry) && isRecord(tagsEntry.value) ? tagsEntry.value : {};
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(variables)) {
    const ours = typeof digests[name] === "string" && digests[name] === attributeDigest(raw);
    Object.defineProperty(out, name, { value: ours ? raw : foreignValue(raw), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The entry line listing the attributes that hold tags (see ATTRIBUTE_TAGS_KEY); undefined when none does. */
function attributeTagsLine(variables: Iterable<[name: string, text: string]>, savedAt: number): string | undefined {
  const digests: Record<string, string> = {};
  let any = false;
  for (const [name, text] of variables) {
    if (!text.includes(`"${TAG}"`)) continue;
    try {
      digests[name] = attributeDigest(parseEncodedJson(text));
      any = true;
    } catch {
      // An attribute text that does not parse is left out by readers anyway.
    }
  }
  return any ? entryText(digests, savedAt, false) : undefined;
}

export function entryTime(entry: Record<string, unknown>): number | undefined {
  if (typeof entry.epoch_ms === "number" && Number.isFinite(entry.epoch_ms)) return entry.epoch_ms;
  return typeof entry.date === "string" ? parseTimestamp(entry.date) : undefined;
}

/** What an entry may carry besides its value and time. */
export interface EntryMeta {
  /** A TTL computed from the result (`@Cached({ ttl: (result) => … })`), ms. */
  ttlMs?: number | undefined;
  /** The method's `version` when the result was computed. */
  version?: string | undefined;
  /**
   * When the entry expires under the TTL it was computed with (epoch ms; Infinity: never), for readers
   * that do not know the method's TTL (the CLI). The library itself applies the TTL configured now.
   */
  expiresMs?: number | undefined;
  /** How long after `expiresMs` a stale window may still serve it, ms. */
  staleMs?: number | undefined;
}

/** Whether an entry carries rules of its own (a computed TTL or a version) that override the method's. */
export function hasOwnRules(meta: EntryMeta | undefined): meta is EntryMeta {
  return meta !== undefined && (meta.ttlMs !== undefined || meta.version !== undefined);
}

/**
 * The text of one entry line. `encodedValue` is the output of `encodeValue`. Made with a join, so it
 * is one flat string: pieces joined with `+` stay a tree of pieces in V8 (about 2.5 times the memory)
 * for as long as the entry keeps its line.
 */
export function entryText(encodedValue: unknown, time: number, async: boolean, meta?: EntryMeta): string {
  const parts = ['{"value": ', stringifyEncoded(encodedValue), ', "date": "', pythonLocalTimestamp(time), '", "epoch_ms": ', String(time)];
  if (async) parts.push(', "async": true');
  if (meta !== undefined) {
    if (meta.ttlMs !== undefined) parts.push(', "ttl_ms": ', msText(meta.ttlMs));
    if (meta.version !== undefined) parts.push(', "version": ', JSON.stringify(meta.version));
    if (meta.expiresMs !== undefined) parts.push(', "expires_ms": ', msText(meta.expiresMs));
    if (meta.staleMs !== undefined) parts.push(', "stale_ms": ', msText(meta.staleMs));
  }
  parts.push("}");
  return parts.join("");
}

/** A number of ms as an entry stores it: a number, or "Infinity". */
function msText(ms: number): string {
  return Number.isFinite(ms) ? String(ms) : '"Infinity"';
}

/** The optional fields of a parsed entry. */
export function entryMeta(entry: Record<string, unknown>): EntryMeta | undefined {
  const ttlMs = nonNegativeMs(entry.ttl_ms);
  const version = typeof entry.version === "string" ? entry.version : undefined;
  const expiresMs = nonNegativeMs(entry.expires_ms);
  const staleMs = nonNegativeMs(entry.stale_ms);
  if (ttlMs === undefined && version === undefined && expiresMs === undefined) return undefined;
  return { ttlMs, version, expiresMs, staleMs };
}

/** A number of ms as an entry stores it: a number, or "Infinity". */
function nonNegativeMs(value: unknown): number | undefined {
  const ms = value === "Infinity" ? Number.POSITIVE_INFINITY : value;
  return typeof ms === "number" && ms >= 0 ? ms : undefined;
}

/** What our marker records besides the dataId. */
export interface MarkerExtras {
  /** When the attributes in the file were saved. */
  variablesTime?: number;
  /** Clear times (function → epoch ms). */
  clears?: ReadonlyMap<string, number>;
}

/** The whole file from already-serialised entry lines and attributes (`serializeCacheFileChunks`, joined). */
export function serializeCacheFile(
  dataId: string,
  entryLines: Iterable<[key: string, text: string]>,
  variables: Iterable<[name: string, text: string]>,
  savedAt: number,
  extras: MarkerExtras = {},
): string {
  let text = "";
  for (const chunk of serializeCacheFileChunks(dataId, entryLines, variables, savedAt, extras)) text += chunk;
  return text;
}

/**
 * The file of `serializeCacheFile` in pieces of about `chunkBytes` characters each (the last one
 * shorter; a line is never split), made as they are consumed: a fold can write a file larger than
 * the longest string V8 can hold. Concatenated, the chunks are exactly `serializeCacheFile`'s text.
 * With `sliceMs`, a chunk also ends once making it has taken that long (its entries' lines may cost
 * far more than their length says), so the consumer can let the event loop run between chunks.
 *
 * The marker records `"long_ints": false` when no entry line holds an integer literal of 16 or more
 * digits (a BigInt past 2^53 is written as one; the scan may also count digits inside a string,
 * which only costs the reader its per-value scan): readers of such a file skip that scan.
 */
export function* serializeCacheFileChunks(
  dataId: string,
  entryLines: Iterable<[key: string, text: string]>,
  variables: Iterable<[name: string, text: string]>,
  savedAt: number,
  extras: MarkerExtras = {},
  chunkBytes = 1 << 20,
  sliceMs = Number.POSITIVE_INFINITY,
): Generator<string, void, undefined> {
  let parts: string[] = ['{\n    "_json_cache_func_cache": {'];
  let length = 0;
  let first = true;
  const sliced = sliceMs !== Number.POSITIVE_INFINITY;
  let sliceEnd = sliced ? performance.now() + sliceMs : 0;
  let lines = 0;
  let longIntegers = false;
  const variableLines = [...variables];
  const tagsLine = attributeTagsLine(variableLines, savedAt);
  if (tagsLine !== undefined) {
    parts.push(`\n        ${JSON.stringify(ATTRIBUTE_TAGS_KEY)}: ${tagsLine}`);
    first = false;
  }
  for (const [key, text] of entryLines) {
    const line = `${first ? "" : ","}\n        ${JSON.stringify(key)}: ${text}`;
    parts.push(line);
    first = false;
    if (!longIntegers && mayHoldLongIntegers(text)) longIntegers = true;
    length += line.length;
    // The clock is read every SLICE_CHECK_LINES lines: reading it costs about as much as a short line.
    if (length >= chunkBytes || (sliced && ++lines % SLICE_CHECK_LINES === 0 && performance.now() >= sliceEnd)) {
      yield parts.join("");
      parts = [];
      length = 0;
      if (sliced) sliceEnd = performance.now() + sliceMs;
    }
  }
  parts.push(first ? "},\n" : "\n    },\n");
  parts.push(`    "_json_cache_last_save_date": "${pythonLocalTimestamp(savedAt)}",\n`);
  parts.push('    "_json_cache_variable_cache": {');
  first = true;
  for (const [name, text] of variableLines) {
    const line = `${first ? "" : ","}\n        ${JSON.stringify(name)}: ${text}`;
    parts.push(line);
    first = false;
    length += line.length;
    if (length >= chunkBytes) {
      yield parts.join("");
      parts = [];
      length = 0;
    }
  }
  parts.push(first ? "},\n" : "\n    },\n");
  let marker = `"format": ${FORMAT_VERSION}, "data_id": ${JSON.stringify(dataId)}`;
  if (extras.variablesTime) marker += `, "vars_ms": ${extras.variablesTime}`;
  if (extras.clears !== undefined && extras.clears.size > 0) marker += `, "clears": ${JSON.stringify(Object.fromEntries(extras.clears))}`;
  marker += `, "long_ints": ${longIntegers}`;
  parts.push(`    "_cacherator": {${marker}}\n}\n`);
  yield parts.join("");
}

/** How many entry lines `serializeCacheFileChunks` makes between two looks at the clock. */
const SLICE_CHECK_LINES = 32;

/** A map of clear times as stored in a journal line or in the cache file's marker. */
export function parseClears(value: unknown): Map<string, number> {
  const clears = new Map<string, number>();
  if (!isRecord(value)) return clears;
  for (const [name, time] of Object.entries(value)) {
    if (typeof time === "number" && Number.isFinite(time)) clears.set(name, time);
  }
  return clears;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
