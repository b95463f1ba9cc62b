/**
 * The journal on disk: lock-free appends, sealing for compaction, and reading in bounded chunks.
 *
 * Invariants:
 * - An append is one `write()` of whole lines to a descriptor opened with O_APPEND and O_NOFOLLOW
 *   (a symlink planted at the journal's path is refused, never followed). Appends of several processes
 *   never interleave within a line.
 * - A journal whose last line is torn (a crash or a full disk mid-append) gets a newline before the
 *   next lines, so the torn part stays one unreadable line and never swallows the next one.
 * - Compaction first renames the journal aside ("seals" it) and only then reads it: an append that
 *   lands in a sealed journal is seen by the appender (the path no longer names the inode it wrote to)
 *   and is written again to the new journal, so no append is lost to a fold.
 */
import * as fs from "node:fs";
import { basename, dirname, join } from "node:path";
import { privateName } from "./private-names.js";

const { O_RDWR, O_APPEND, O_CREAT, O_NOFOLLOW } = fs.constants;
/** Lines are read in chunks of this size, so a journal larger than a string can hold still opens. */
const READ_CHUNK_BYTES = 16 * 1024 * 1024;

/** Where an append went: the bytes written (a repairing newline included) and whether they are durable. */
export interface AppendResult {
  bytes: number;
  /** Offset in the journal at which the lines start; -1 when another process appended meanwhile. */
  at: number;
}

/**
 * Appends `lines` (whole lines) to the journal at `path`; with `durable`, fsyncs before resolving.
 * @throws the file-system error when the journal cannot be written (full disk, a symlink at its path…).
 */
export async function appendToJournal(path: string, lines: string | Buffer, mode: number, durable: boolean): Promise<AppendResult> {
  const { fd, result } = appendSyncKeepOpen(path, lines, mode);
  try {
    if (durable) await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
  } finally {
    fs.closeSync(fd);
  }
  return result;
}

/** The synchronous form (process exit, and appends that need no fsync). */
export function appendToJournalSync(path: string, lines: string | Buffer, mode: number): AppendResult {
  const { fd, result } = appendSyncKeepOpen(path, lines, mode);
  fs.closeSync(fd);
  return result;
}

function appendSyncKeepOpen(path: string, lines: string | Buffer, mode: number): { fd: number; result: AppendResult } {
  const body = typeof lines === "string" ? Buffer.from(lines, "utf8") : lines;
  for (let attempt = 0; ; attempt++) {
    const fd = fs.openSync(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW, mode);
    try {
      const before = fs.fstatSync(fd);
      const repair = before.size > 0 && lastByte(fd, before.size) !== 0x0a;
      const buffer = repair ? Buffer.concat([NEWLINE, body]) : body;
      writeAll(fd, buffer);
      const after = fs.fstatSync(fd);
      // Sealed by a compaction while we wrote? Then write the lines again to the new journal.
      if (attempt < 8 && !sameFile(after, path)) {
        fs.closeSync(fd);
        continue;
      }
      // Where our lines start is known only if no other process appended between our stat and now.
      const exact = after.size === before.size + buffer.length;
      return { fd, result: { bytes: buffer.length, at: exact ? before.size + (repair ? 1 : 0) : -1 } };
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }
}

const NEWLINE = Buffer.from("\n");

function lastByte(fd: number, size: number): number {
  const byte = Buffer.alloc(1);
  fs.readSync(fd, byte, 0, 1, size - 1);
  return byte[0] as number;
}

function writeAll(fd: number, buffer: Buffer): void {
  let written = 0;
  while (written < buffer.length) written += fs.writeSync(fd, buffer, written, buffer.length - written);
}

function sameFile(open: fs.Stats, path: string): boolean {
  try {
    const named = fs.lstatSync(path);
    return open.ino === named.ino && open.dev === named.dev;
  } catch {
    return false;
  }
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
  const content = fs.readFileSync(sealed);
  const complete = content.lastIndexOf(0x0a) + 1;
  if (complete > 0) appendToJournalSync(path, content.subarray(0, complete), mode);
  fs.unlinkSync(sealed);
}

/**
 * Reads the complete lines of a journal from `offset` on, in chunks, handing each to `onLine`. Returns
 * the offset after the last complete line (a line still being written is read next time).
 */
export function readJournalLines(path: string, offset: number, onLine: (line: string) => void): number {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | O_NOFOLLOW);
  } catch {
    return offset;
  }
  try {
    const size = fs.fstatSync(fd).size;
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
