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
 * Attributes holding tagged values (Dates, Maps, …) outlive a save by the Python library, which drops
 * our marker but keeps every entry: this entry lists a digest of each such attribute as we wrote it.
 * In a file without our marker, an attribute is decoded only if it is still exactly what we wrote;
 * anything else there (a value the Python library set) holds no tags.
 */
export const ATTRIBUTE_TAGS_KEY = "_cacherator_attributes";

function attributeDigest(raw: unknown): string {
  return createHash("sha1").update(stringifyEncoded(raw)).digest("hex").slice(0, 16);
}

export function foreignAttributes(variables: Record<string, unknown>, tagsEntry: unknown): Record<string, unknown> {
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
  return meta === undefined
    ? entryTextOf(encodedValue, time, async, undefined, undefined, undefined, undefined)
    : entryTextOf(encodedValue, time, async, meta.ttlMs, meta.version, meta.expiresMs, meta.staleMs);
}

/** `entryText` with the optional fields given one by one (a computed result's line needs no meta object made for it). */
export function entryTextOf(
  encodedValue: unknown,
  time: number,
  async: boolean,
  ttlMs: number | undefined,
  version: string | undefined,
  expiresMs: number | undefined,
  staleMs: number | undefined,
): string {
  // Joined from parts, not concatenated: the line is kept by the entry, and a concatenation would keep
  // it as a chain of pieces (more memory per entry, flattened again at each write).
  const parts = ['{"value": ', stringifyEncoded(encodedValue), ', "date": "', pythonLocalTimestamp(time), '", "epoch_ms": ', String(time)];
  if (async) parts.push(', "async": true');
  if (ttlMs !== undefined) parts.push(', "ttl_ms": ', msText(ttlMs));
  if (version !== undefined) parts.push(', "version": ', JSON.stringify(version));
  if (expiresMs !== undefined) parts.push(', "expires_ms": ', msText(expiresMs));
  if (staleMs !== undefined) parts.push(', "stale_ms": ', msText(staleMs));
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

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
