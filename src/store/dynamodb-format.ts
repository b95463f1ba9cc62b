/**
 * How cache entries are laid out in the DynamoDB L2 table. Pure functions, no SDK: items here are plain
 * objects as the DynamoDB Document client reads and writes them (strings, numbers, booleans, bytes).
 *
 * Table key schema: partition key `cache_id` (S) = the object's dataId, sort key `entry` (S).
 * - An entry of a cached method: `entry` = `f#` + the call key, e.g. `f#fetch('foo',){}`. One
 *   function's entries are a Query with `begins_with(entry, "f#fetch(")`; the parenthesis makes the
 *   function name exact (`fetch` does not match `fetchAll(…)`).
 * - The object's attributes (state): one item with `entry` = `v#state`.
 * - The object's clear times: one item with `entry` = `v#clears`, one number attribute per cleared
 *   function, `c:<function>` (`c:*` for a clear of every function) = when it was cleared, epoch ms.
 *   Clears only raise these times; entries computed before the time of their function are void.
 *
 * Entry item attributes:
 * - `value` (S): the JSON text of the encoded value (what `JSON.stringify(encodeValue(result))` gives),
 *   or, when that text is over 100 KB (UTF-8), `value_gz` (B): the gzip of that text instead. A text
 *   over 16 MB is never written, and never inflated past that on reading (`MAX_TEXT_BYTES`).
 * - `epoch_ms` (N): computation time, epoch milliseconds.
 * - `async` (BOOL): present (true) only for values of async methods.
 * - `expires_ms` (N): the exact expiry, epoch milliseconds (computation time + the entry's TTL). Reads
 *   never serve an item whose `expires_ms` has passed.
 * - `ttl` (N): the same expiry in epoch seconds, rounded up, for DynamoDB's own TTL deletion (which may
 *   lag by days: that is why reads check `expires_ms`).
 * An entry with an infinite TTL has neither `expires_ms` nor `ttl`: it never expires.
 */
import { gunzipSync, gzipSync } from "node:zlib";

export const ENTRY_PREFIX = "f#";
export const STATE_ENTRY = "v#state";
export const CLEARS_ENTRY = "v#clears";
/** The attribute of the clears item recording clears of every function. */
const ALL_FUNCTIONS = "*";
/** Values whose JSON text is over this many UTF-8 bytes are stored gzip-compressed. */
export const COMPRESS_THRESHOLD = 100 * 1024;
/** DynamoDB's item size limit (attribute names included). */
export const MAX_ITEM_BYTES = 400 * 1024;
/**
 * A value's JSON text may be at most this many UTF-8 bytes in the table. A gzipped attribute of 400 KB
 * can inflate to 400 MB: inflated without a bound, one item written by a faulty or hostile peer would
 * take hundreds of megabytes and seconds of the event loop (a batch of them, the process). Larger values
 * are never written there (they stay local, with a warning), so no peer writes what another refuses.
 */
export const MAX_TEXT_BYTES = 16 * 1024 * 1024;

/** One cache entry as the L2 tier exchanges it with the cache. */
export interface RemoteEntry {
  /** The call key, e.g. `fetch('foo',){}`. */
  key: string;
  /** The encoded value's JSON text (codec output). */
  text: string;
  /** Computation time, epoch ms. */
  time: number;
  async: boolean;
}

/** An item as the Document client reads or writes it. */
export type Item = Record<string, unknown>;

export interface EncodedItem {
  item: Item;
  /** The item's size as DynamoDB counts it, in bytes. */
  size: number;
  compressed: boolean;
  /** The UTF-8 bytes of the value's JSON text (before compression). */
  textBytes: number;
}

/** Why an encoded item is not written to the table (it stays local), or `undefined` when it fits. */
export function tooLargeForTable(encoded: EncodedItem): string | undefined {
  if (encoded.textBytes > MAX_TEXT_BYTES) return `${(encoded.textBytes / 1024 / 1024).toFixed(1)} MB of JSON, over the ${MAX_TEXT_BYTES / 1024 / 1024} MB a value may take in DynamoDB`;
  if (encoded.size > MAX_ITEM_BYTES) return `${encoded.size} bytes in DynamoDB${encoded.compressed ? " even compressed" : ""}, over the 400 KB item limit`;
  return undefined;
}

/** The sort key of an entry. */
export function entrySortKey(key: string): string {
  return ENTRY_PREFIX + key;
}

/** The sort-key prefix of one function's entries (exact name: `fetch(` never matches `fetchAll(`). */
export function functionPrefix(functionName: string): string {
  return `${ENTRY_PREFIX}${functionName}(`;
}

/** The function name of an entry's key (the text before the first parenthesis). */
export function functionOfEntryKey(key: string): string {
  const open = key.indexOf("(");
  return open === -1 ? key : key.slice(0, open);
}

/** Expiry of an entry computed at `time` with a TTL of `ttlMs`; `undefined` for an infinite TTL. */
export function expiryOf(time: number, ttlMs: number): { expiresMs: number; ttlSeconds: number } | undefined {
  const expiresMs = time + ttlMs;
  if (!Number.isFinite(expiresMs) || expiresMs > Number.MAX_SAFE_INTEGER) return undefined;
  return { expiresMs, ttlSeconds: Math.ceil(expiresMs / 1000) };
}

/** The value attributes for a JSON text: `value`, or `value_gz` when the text is over the threshold. */
function valueAttributes(text: string): { attributes: Item; compressed: boolean; textBytes: number } {
  const textBytes = Buffer.byteLength(text, "utf8");
  if (textBytes > MAX_TEXT_BYTES) return { attributes: {}, compressed: false, textBytes }; // never written: not compressed for nothing
  if (textBytes > COMPRESS_THRESHOLD) {
    return { attributes: { value_gz: new Uint8Array(gzipSync(text)) }, compressed: true, textBytes };
  }
  return { attributes: { value: text }, compressed: false, textBytes };
}

/** The item of one entry, its DynamoDB size and whether its value was compressed. */
export function encodeEntryItem(dataId: string, entry: RemoteEntry, ttlMs: number): EncodedItem {
  const { attributes, compressed, textBytes } = valueAttributes(entry.text);
  const item: Item = { cache_id: dataId, entry: entrySortKey(entry.key), ...attributes, epoch_ms: entry.time };
  if (entry.async) item.async = true;
  const expiry = expiryOf(entry.time, ttlMs);
  if (expiry !== undefined) {
    item.expires_ms = expiry.expiresMs;
    item.ttl = expiry.ttlSeconds;
  }
  return { item, size: itemSize(item), compressed, textBytes };
}

/** The item holding an object's attributes. */
export function encodeStateItem(dataId: string, text: string, now: number): EncodedItem {
  const { attributes, compressed, textBytes } = valueAttributes(text);
  const item: Item = { cache_id: dataId, entry: STATE_ENTRY, ...attributes, epoch_ms: now };
  return { item, size: itemSize(item), compressed, textBytes };
}

/** True if the item carries an expiry that has passed at `now`. */
export function isExpired(item: Item, now: number): boolean {
  const expires = numberOf(item.expires_ms);
  if (expires !== undefined) return expires <= now;
  const ttl = numberOf(item.ttl);
  return ttl !== undefined && ttl * 1000 <= now;
}

/**
 * The JSON text stored in an item (decompressed if needed); `undefined` if the item has none, or one
 * that inflates past `MAX_TEXT_BYTES` (the inflating stops there).
 */
export function itemText(item: Item): string | undefined {
  if (typeof item.value === "string") return item.value;
  const gz = item.value_gz;
  if (gz instanceof Uint8Array) {
    try {
      return gunzipSync(gz, { maxOutputLength: MAX_TEXT_BYTES }).toString("utf8");
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The entry an item holds, or `undefined` for an item that is not a readable entry. */
export function decodeEntryItem(item: Item): RemoteEntry | undefined {
  if (typeof item.entry !== "string" || !item.entry.startsWith(ENTRY_PREFIX)) return undefined;
  const time = numberOf(item.epoch_ms);
  if (time === undefined) return undefined;
  const text = itemText(item);
  if (text === undefined) return undefined;
  return { key: item.entry.slice(ENTRY_PREFIX.length), text, time, async: item.async === true };
}

/** The clears item's attribute for one function, or for all of them (`undefined`). */
export function clearAttribute(functionName: string | undefined): string {
  return `c:${functionName ?? ALL_FUNCTIONS}`;
}

/** The clear times a clears item holds: function name → epoch ms; `undefined` keys the clear of all. */
export function decodeClears(item: Item | undefined): Map<string | undefined, number> {
  const clears = new Map<string | undefined, number>();
  for (const [name, value] of Object.entries(item ?? {})) {
    if (!name.startsWith("c:")) continue;
    const time = numberOf(value);
    const fn = name.slice(2);
    if (time !== undefined) clears.set(fn === ALL_FUNCTIONS ? undefined : fn, time);
  }
  return clears;
}

function numberOf(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/**
 * An item's size as DynamoDB counts it against the 400 KB limit: for each attribute, the UTF-8 length of
 * its name plus the size of its value (strings: UTF-8 bytes; binary: bytes; numbers: one byte per two
 * significant digits plus one; booleans and null: one byte; lists and maps: their elements plus three
 * bytes, map keys counted like attribute names).
 */
export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    size += Buffer.byteLength(name, "utf8") + valueSize(value);
  }
  return size;
}

function valueSize(value: unknown): number {
  if (typeof value === "string") return Buffer.byteLength(value, "utf8");
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value === "number" || typeof value === "bigint") return numberSize(value);
  if (typeof value === "boolean" || value === null) return 1;
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, v) => sum + 1 + valueSize(v), 0);
  if (value instanceof Set) return [...value].reduce((sum: number, v) => sum + valueSize(v), 0);
  if (typeof value === "object") return 3 + itemSize(value as Item) + Object.keys(value).length;
  return 0;
}

/** Significant digits (leading and trailing zeros trimmed), one byte per two, plus one. */
function numberSize(value: number | bigint): number {
  const digits = String(value)
    .replace(/^-/, "")
    .replace(/e.*$/i, "")
    .replace(".", "")
    .replace(/^0+/, "")
    .replace(/0+$/, "");
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}
