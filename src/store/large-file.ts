/**
 * Cache files too large to hold as one string (V8 caps a string near 512 MB): read in parts, never
 * whole. A file indented as this library and the Python library write it (an entry starts on a line
 * indented by exactly 8 spaces) is cut before entry starts into parts of about 16 MB; each part is
 * given the file's head and trailer (save date, attributes, marker), so it is a small cache file of
 * its own that the usual reader takes. A file in another layout (minified, say), or one that would not
 * fit in this process's memory, is refused with a `FileTooLargeError` that says what to do; it is never
 * set aside or overwritten.
 */
import * as fs from "node:fs";
import { getHeapStatistics } from "node:v8";
import { ENTRIES_END, FILE_START, SAVE_DATE_LINE } from "./cache-file-reader.js";
import { openRegularSync } from "./regular-file.js";

/** Files from this size on are read in parts. */
export const PARTS_FROM_BYTES = 256 * 1024 * 1024;
const PART_BYTES = 16 * 1024 * 1024;
/** The trailer is looked for in at most this much of the file's end. */
const TRAILER_MAX_BYTES = 64 * 1024 * 1024;
/** Memory an open cache needs per byte of its file, at most (measured: 1.3–2.3 for small entries). */
const HEAP_PER_FILE_BYTE = 2.5;
/** A line break followed by an entry's key: where a part may end. */
const ENTRY_START = Buffer.from('\n        "');

export class FileTooLargeError extends Error {
  constructor(path: string, size: number, why: string) {
    super(
      `cache file ${path} (${Math.round(size / 2 ** 20)} MB) is not opened: ${why}. It is left as it is, and this cache works in memory only ` +
        "in this process (nothing is written to that file). Remove old entries with `npx cacherator prune`, set `maxEntries`, or give the process more memory (node --max-old-space-size).",
    );
    this.name = "FileTooLargeError";
  }
}

/** Throws a FileTooLargeError when opening a file of `size` bytes would not fit in this process's heap. */
export function checkHeapFor(path: string, size: number, heap = getHeapStatistics()): void {
  const free = heap.heap_size_limit - heap.used_heap_size;
  const need = size * HEAP_PER_FILE_BYTE;
  if (need > free * 0.85) {
    throw new FileTooLargeError(path, size, `it would need about ${Math.round(need / 2 ** 20)} MB of memory, and this process may use ${Math.round(free / 2 ** 20)} MB more`);
  }
}

/** The file as small cache files of its own, each with a run of its entries (see above). */
export function* fileParts(path: string, partBytes = PART_BYTES): Generator<string> {
  const { fd, stat } = openRegularSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const size = stat.size;
    const { trailer, at: trailerAt } = findTrailer(fd, size, path);
    const head = readRange(fd, 0, FILE_START.length + 1).toString("utf8");
    const entriesEnd = trailerAt - ENTRIES_END.length;
    if (head === `${FILE_START}}`) return void (yield `${FILE_START}},${trailer}`); // no entries
    if (head !== `${FILE_START}\n` || readRange(fd, entriesEnd, trailerAt).toString("utf8") !== ENTRIES_END) {
      throw new FileTooLargeError(path, size, "it is not in the layout this library writes, and only such files can be read in parts");
    }
    let position = FILE_START.length + 1;
    let carry: Buffer = Buffer.alloc(0);
    while (position < entriesEnd) {
      const chunk = readRange(fd, position, Math.min(entriesEnd, position + partBytes));
      position += chunk.length;
      const data: Buffer = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const last = position >= entriesEnd;
      const cut = last ? data.length : data.lastIndexOf(ENTRY_START);
      if (cut <= 0) {
        carry = data; // one entry longer than a part: read on
        continue;
      }
      let lines = data.subarray(0, cut).toString("utf8");
      if (!last) {
        if (!lines.endsWith(",")) throw new SyntaxError(`an entry of ${path} is damaged (no comma after it)`);
        lines = lines.slice(0, -1);
      }
      yield `${FILE_START}\n${lines}${ENTRIES_END}${trailer}`;
      carry = last ? Buffer.alloc(0) : Buffer.from(data.subarray(cut + 1));
    }
  } finally {
    fs.closeSync(fd);
  }
}

function findTrailer(fd: number, size: number, path: string): { trailer: string; at: number } {
  const marker = Buffer.from(SAVE_DATE_LINE);
  for (let tail = 1024 * 1024; ; tail *= 4) {
    const from = Math.max(0, size - tail);
    const buffer = readRange(fd, from, size);
    const at = buffer.lastIndexOf(marker);
    if (at >= 0) return { trailer: buffer.subarray(at).toString("utf8"), at: from + at };
    if (from === 0 || tail >= TRAILER_MAX_BYTES) throw new FileTooLargeError(path, size, "it is not in the layout this library writes, and only such files can be read in parts");
  }
}

function readRange(fd: number, from: number, to: number): Buffer {
  const buffer = Buffer.alloc(Math.max(0, to - from));
  for (let at = 0; at < buffer.length; ) {
    const read = fs.readSync(fd, buffer, at, buffer.length - at, from + at);
    if (read === 0) return buffer.subarray(0, at);
    at += read;
  }
  return buffer;
}
