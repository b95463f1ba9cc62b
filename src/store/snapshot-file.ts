/**
 * Whole-file writes of a cache file: a private temporary file, renamed over the cache file, so a crash
 * leaves the old file or the new one, never a truncated one.
 *
 * - The temporary file is created exclusively under an unpredictable name: a symlink or file planted
 *   under a guessed name is never written through.
 * - The new file keeps the mode of the file it replaces (a user's `chmod 600` stays); a new file gets
 *   the configured mode.
 * - `beforeCommit` runs right before the rename; a compaction uses it to check that it still holds the
 *   lock, so it never replaces a newer file, and to describe the new file to other processes.
 * - The text comes in chunks, written one after the other (no stall, and no limit on the file's size).
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { privateName } from "./private-names.js";
import { NON_BLOCKING } from "./regular-file.js";

export interface SnapshotOptions {
  durable: boolean;
  /** Mode of a new cache file. */
  mode: number;
  /** Throws to abandon the write before the rename; told what was written. */
  beforeCommit: (written: WrittenFile) => void;
  /** Work that needs what was written and may wait for the disk, done before `beforeCommit`. */
  prepare?: (written: WrittenFile) => Promise<void>;
}

/** The file a snapshot wrote, before it is renamed into place (a rename keeps both). */
export interface WrittenFile {
  /** As `fileIdentity` in reader-state.ts names it. */
  identity: string;
  bytes: number;
}

/**
 * Writes `chunks` to a private file and renames it over `path`. Each chunk is made while the previous
 * one is written, so the event loop runs between chunks, and a file larger than a string can hold is
 * written as well as a small one.
 */
export async function writeSnapshot(path: string, chunks: Iterable<string>, options: SnapshotOptions): Promise<WrittenFile> {
  const tmp = join(dirname(path), privateName(basename(path), "tmp"));
  let written: WrittenFile;
  try {
    const mode = modeOf(path, options.mode);
    const handle = await fsp.open(tmp, "wx", mode);
    try {
      await handle.chmod(mode); // exactly, whatever the umask
      let bytes = 0;
      for (const chunk of chunks) {
        const buffer = Buffer.from(chunk, "utf8");
        for (let at = 0; at < buffer.length; ) at += (await handle.write(buffer, at, buffer.length - at)).bytesWritten;
        bytes += buffer.length;
      }
      if (options.durable) await handle.datasync();
      written = { identity: statIdentity(await handle.stat({ bigint: true })), bytes };
    } finally {
      await handle.close();
    }
    await options.prepare?.(written);
    // Held open across the rename, the file replaced is released by the close (on a worker thread),
    // not by the rename: freeing a large file's blocks takes the file system tens of milliseconds.
    const replaced = await fsp.open(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | NON_BLOCKING).catch(() => undefined);
    try {
      options.beforeCommit(written);
      fs.renameSync(tmp, path);
    } finally {
      await replaced?.close().catch(() => undefined);
    }
  } catch (error) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
  if (options.durable) await syncDirectory(dirname(path));
  return written;
}

/** The synchronous form, for process exit. */
export function writeSnapshotSync(path: string, chunks: Iterable<string>, options: Omit<SnapshotOptions, "durable" | "prepare">): WrittenFile {
  const tmp = join(dirname(path), privateName(basename(path), "tmp"));
  try {
    const mode = modeOf(path, options.mode);
    const fd = fs.openSync(tmp, "wx", mode);
    let written: WrittenFile;
    try {
      fs.fchmodSync(fd, mode);
      let bytes = 0;
      for (const chunk of chunks) {
        const buffer = Buffer.from(chunk, "utf8");
        for (let at = 0; at < buffer.length; ) at += fs.writeSync(fd, buffer, at, buffer.length - at);
        bytes += buffer.length;
      }
      written = { identity: statIdentity(fs.fstatSync(fd, { bigint: true })), bytes };
    } finally {
      fs.closeSync(fd);
    }
    options.beforeCommit(written);
    fs.renameSync(tmp, path);
    return written;
  } catch (error) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Never created.
    }
    throw error;
  }
}

/** What identifies one version of a file: a rename gives a new inode, a rewrite a new size or mtime. */
export function statIdentity(stat: fs.BigIntStats): string {
  // Inode numbers are reused and mtimes are coarse: the birth time tells two files apart too.
  return `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.birthtimeNs}`;
}

/** The permission bits of the file being replaced, else the default for a new one. */
function modeOf(path: string, fallback: number): number {
  try {
    return fs.statSync(path).mode & 0o7777;
  } catch {
    return fallback;
  }
}

async function syncDirectory(directory: string): Promise<void> {
  // fsync on a directory makes the rename itself durable; some platforms refuse to open directories.
  const handle = await fsp.open(directory, "r").catch(() => undefined);
  if (handle === undefined) return;
  try {
    await handle.sync().catch(() => undefined);
  } finally {
    await handle.close();
  }
}
