/**
 * Large cache files and journals for the scale benchmarks (scale.ts), written in the library's own
 * format but streamed in chunks, so files of hundreds of MB (and past the 512 MB string limit) never
 * exist as one string. The framing around the entry lines is taken from `serializeCacheFile` itself.
 */
import * as fs from "node:fs";
import { encodeValue } from "../src/codec.js";
import { stringifyEncoded } from "../src/encoded-json.js";
import { callKey } from "../src/keys/call-key.js";
import { entryText, serializeCacheFile } from "../src/store/cache-file.js";
import { resolveCacheFile } from "../src/store/file-claim.js";
import { setLine } from "../src/store/journal.js";

/**
 * Entry shapes. Each is the result of a `@Cached` method of the child's class (scale-child.ts), so a
 * process that opens the file serves these entries as hits:
 * - "small": `double(i)` → `i * 2` (a small integer argument and result);
 * - "row": `row(i)` → a ~100-character string (`row-<i>-xxxx…`).
 */
export type EntryShape = "small" | "row";

export const ROW_PAD = 90;

export function rowValue(i: number): string {
  return `row-${i}-${"x".repeat(ROW_PAD)}`;
}

export function methodOf(shape: EntryShape): "double" | "row" {
  return shape === "small" ? "double" : "row";
}

export function keyOf(shape: EntryShape, i: number): string {
  return callKey(methodOf(shape), [i]);
}

export function valueOf(shape: EntryShape, i: number): unknown {
  return shape === "small" ? i * 2 : rowValue(i);
}

export function describeShape(shape: EntryShape): string {
  return shape === "small" ? "`double(i)` → i*2 (small int argument and result)" : `\`row(i)\` → "row-<i>-" + ${ROW_PAD} × "x" (~100-char string)`;
}

/** The cache file path the library uses for `dataId` in a fresh `directory`. */
export function cachePath(directory: string, dataId: string): string {
  return resolveCacheFile(directory, dataId, { claim: false });
}

/** The text of one entry (as `entryText` writes it) for a fixed time, without formatting the date per entry. */
function entryTextMaker(time: number): (raw: unknown) => string {
  const template = entryText(0, time, false);
  const head = '{"value": ';
  const tail = template.slice(template.indexOf(', "date": '));
  if (!template.startsWith(head) || `${head}0${tail}` !== template) throw new Error(`unexpected entry text: ${template}`);
  return (raw) => `${head}${stringifyEncoded(raw)}${tail}`;
}

const CHUNK_LINES = 20_000;

/**
 * Writes a cache file of entries `from` ≤ i < `to` of `shape` (computed at `time`) in chunks.
 * Returns its path and size in bytes.
 */
export function writeCacheFileStreaming(directory: string, dataId: string, shape: EntryShape, entries: number, time = Date.now()): { path: string; bytes: number } {
  const probeKey = "\u0001probe";
  const framed = serializeCacheFile(dataId, [[probeKey, "null"]], [], time);
  const probeLine = `\n        ${JSON.stringify(probeKey)}: null`;
  const at = framed.indexOf(probeLine);
  if (at < 0) throw new Error("unexpected cache file framing");
  const header = framed.slice(0, at);
  const footer = framed.slice(at + probeLine.length);
  fs.mkdirSync(directory, { recursive: true });
  const path = cachePath(directory, dataId);
  const text = entryTextMaker(time);
  const fd = fs.openSync(path, "w", 0o600);
  let bytes = 0;
  const put = (chunk: string) => {
    const buffer = Buffer.from(chunk, "utf8");
    let offset = 0;
    while (offset < buffer.length) offset += fs.writeSync(fd, buffer, offset);
    bytes += buffer.length;
  };
  try {
    put(header);
    for (let start = 0; start < entries; start += CHUNK_LINES) {
      let chunk = "";
      const end = Math.min(entries, start + CHUNK_LINES);
      for (let i = start; i < end; i++) {
        chunk += `${i === 0 ? "" : ","}\n        ${JSON.stringify(keyOf(shape, i))}: ${text(encodeValue(valueOf(shape, i)))}`;
      }
      put(chunk);
    }
    put(footer);
  } finally {
    fs.closeSync(fd);
  }
  return { path, bytes };
}

/**
 * Appends journal lines (the library's `setLine`) that set entries `from` ≤ i < `to` of `shape` at `time`
 * (as other processes' misses would). Returns the journal's size in bytes.
 */
export function writeJournal(cacheFile: string, shape: EntryShape, from: number, to: number, time: number): number {
  const path = `${cacheFile}.journal`;
  const text = entryTextMaker(time);
  const fd = fs.openSync(path, "a", 0o600);
  try {
    for (let start = from; start < to; start += CHUNK_LINES) {
      let chunk = "";
      const end = Math.min(to, start + CHUNK_LINES);
      for (let i = start; i < end; i++) chunk += setLine(keyOf(shape, i), text(encodeValue(valueOf(shape, i))));
      const buffer = Buffer.from(chunk, "utf8");
      let offset = 0;
      while (offset < buffer.length) offset += fs.writeSync(fd, buffer, offset);
    }
  } finally {
    fs.closeSync(fd);
  }
  return fs.statSync(path).size;
}

/** Whether the file at `path` holds `needle`, read in chunks (works for files past the string limit). */
export function fileContains(path: string, needle: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(path, "r");
  } catch {
    return false;
  }
  try {
    const target = Buffer.from(needle, "utf8");
    const chunk = Buffer.alloc(16 * 1024 * 1024 + target.length);
    let position = 0;
    let carry = 0;
    for (;;) {
      const read = fs.readSync(fd, chunk, carry, chunk.length - carry, position);
      if (read === 0) return false;
      const filled = carry + read;
      if (chunk.subarray(0, filled).indexOf(target) >= 0) return true;
      position += read;
      carry = Math.min(target.length - 1, filled);
      chunk.copy(chunk, 0, filled - carry, filled);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether the cache of `dataId` in `directory` (its file or its journal) holds the entry `key`. */
export function persisted(directory: string, dataId: string, key: string): boolean {
  const path = cachePath(directory, dataId);
  const needle = JSON.stringify(key);
  return fileContains(path, needle) || fileContains(`${path}.journal`, needle);
}

export function sizeOf(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch {
    return 0;
  }
}
