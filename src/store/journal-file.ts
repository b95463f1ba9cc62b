/**
 * The journal on disk, below its appender (journal-appender.ts): writing whole lines, sealing for
 * compaction, and reading in bounded chunks.
 *
 * Invariants:
 * - Every append starts with a newline, so a line another process left torn (a crash or a full disk
 *   mid-append) stays one unreadable line and never swallows the next one. Readers skip empty lines.
 * - Compaction first renames the journal aside ("seals" it) and only then reads it; a journal is named
 *   by its identity (a rename keeps it), and read only from the descriptor of the journal expected.
 * - A FIFO, socket or device at a journal's path is never waited on: it is refused (regular-file.ts),
 *   an append fails with an error that says so, and a read finds no lines.
 */
import * as fs from "node:fs";
import { basename, dirname, join } from "node:path";
import { privateName } from "./private-names.js";
import { openRegularSync, readRegularFileSync } from "./regular-file.js";

const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = fs.constants;
/** Lines are read in chunks of this size, so a journal larger than a string can hold still opens. */
const READ_CHUNK_BYTES = 16 * 1024 * 1024;

/** Appends whole lines with a descriptor of its own (a sealed journal put back; rare). */
export function appendToJournalSync(path: string, lines: Buffer, mode: number): void {
  const { fd } = openRegularSync(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, mode);
  try {
    writeAll(fd, Buffer.concat([NEWLINE, lines]));
  } finally {
    fs.closeSync(fd);
  }
}

/** What every append starts with (see above). */
export const NEWLINE = Buffer.from("\n");

/**
 * Writes all of `data` (`length` bytes). A string is written as it is (no Buffer made for it); in the
 * rare short write (a signal, a disk filling up) the rest goes from its bytes.
 */
export function writeAll(fd: number, data: string | Buffer, length = data.length): void {
  let written = typeof data === "string" ? fs.writeSync(fd, data) : 0;
  if (written >= length) return;
  const buffer = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  while (written < length) written += fs.writeSync(fd, buffer, written, length - written);
}

/** Renames the journal aside for a fold; `undefined` when there is none. */
export function sealJournal(path: string): string | undefined {
  const sealed = join(dirname(path), privateName(basename(path), "sealed"));
  try {
    fs.renameSync(path, sealed);
    return sealed;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Puts back a journal sealed for a fold that did not complete: under its name again if no journal was
 * started since, else its complete lines are appended to the new one (lines apply in any order).
 */
export function unsealJournal(sealed: string, path: string, mode: number): void {
  try {
    fs.linkSync(sealed, path);
    fs.unlinkSync(sealed);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const content = readRegularFileSync(sealed, O_NOFOLLOW);
  const complete = content.lastIndexOf(0x0a) + 1;
  if (complete > 0) appendToJournalSync(path, content.subarray(0, complete), mode);
  fs.unlinkSync(sealed);
}

/** A journal's identity: a rename keeps it, a new journal at the same path has another. */
export function identityOf(stat: fs.Stats): string {
  return `${stat.dev}:${stat.ino}:${stat.birthtimeMs}`;
}

/** Which journal file is at `path` (it only grows, so its size is not part of its identity), and its size. */
export function journalIdentity(path: string): { identity: string; size: number } {
  try {
    const stat = fs.lstatSync(path);
    return { identity: identityOf(stat), size: stat.size };
  } catch {
    return { identity: "none", size: 0 };
  }
}

/**
 * Reads the complete lines of a journal from `offset` on, in chunks, handing each to `onLine`. Returns
 * the offset after the last complete line (a line still being written is read next time). With
 * `limitBytes`, reads at most that many bytes (a slice: the caller reads on from the offset returned).
 * With `identity`, reads nothing unless the journal opened is that one: a fold may seal the journal
 * between the caller's `lstat` and this `open`, and the caller would take what it read, and the offset
 * returned, for the journal it looked at.
 */
export function readJournalLines(path: string, offset: number, onLine: (line: string) => void, limitBytes = Number.POSITIVE_INFINITY, identity?: string): number {
  let fd: number;
  let stat: fs.Stats;
  try {
    ({ fd, stat } = openRegularSync(path, fs.constants.O_RDONLY | O_NOFOLLOW));
  } catch {
    return offset; // none, or not a file (regular-file.ts): no lines
  }
  try {
    // Another journal at the path since the caller looked (a fold sealed the one it knows).
    if (identity !== undefined && identityOf(stat) !== identity) return offset;
    const size = Math.min(stat.size, offset + limitBytes);
    let position = offset;
    let carry = Buffer.alloc(0);
    while (position < size) {
      const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, size - position));
      const read = fs.readSync(fd, chunk, 0, chunk.length, position);
      if (read === 0) break;
      position += read;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, read)]) : chunk.subarray(0, read);
      const complete = data.lastIndexOf(0x0a) + 1;
      if (complete > 0) {
        for (const line of data.subarray(0, complete).toString("utf8").split("\n")) if (line.length > 0) onLine(line);
      }
      carry = Buffer.from(data.subarray(complete));
      if (carry.length > READ_CHUNK_BYTES) carry = Buffer.alloc(0); // one line past any sane size: skipped
    }
    return position - carry.length;
  } finally {
    fs.closeSync(fd);
  }
}
