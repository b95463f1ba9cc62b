/**
 * Whole-file writes of a cache file: a private temporary file, renamed over the cache file, so a crash
 * leaves the old file or the new one, never a truncated one.
 *
 * - The temporary file is created exclusively under an unpredictable name: a symlink or file planted
 *   under a guessed name is never written through.
 * - The new file keeps the mode of the file it replaces (a user's `chmod 600` stays); a new file gets
 *   the configured mode.
 * - `beforeCommit` runs right before the rename; a compaction uses it to check that it still holds the
 *   lock, so it never replaces a newer file.
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { privateName } from "./private-names.js";

export interface SnapshotOptions {
  durable: boolean;
  /** Mode of a new cache file. */
  mode: number;
  /** Throws to abandon the write before the rename. */
  beforeCommit: () => void;
}

export async function writeSnapshot(path: string, text: string, options: SnapshotOptions): Promise<void> {
  const tmp = join(dirname(path), privateName(basename(path), "tmp"));
  try {
    const mode = modeOf(path, options.mode);
    const handle = await fsp.open(tmp, "wx", mode);
    try {
      await handle.chmod(mode); // exactly, whatever the umask
      await handle.writeFile(text, "utf8");
      if (options.durable) await handle.datasync();
    } finally {
      await handle.close();
    }
    options.beforeCommit();
    fs.renameSync(tmp, path);
  } catch (error) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
  if (options.durable) await syncDirectory(dirname(path));
}

/** The synchronous form, for process exit. */
export function writeSnapshotSync(path: string, text: string, options: Omit<SnapshotOptions, "durable">): void {
  const tmp = join(dirname(path), privateName(basename(path), "tmp"));
  try {
    const mode = modeOf(path, options.mode);
    fs.writeFileSync(tmp, text, { encoding: "utf8", flag: "wx", mode });
    fs.chmodSync(tmp, mode);
    options.beforeCommit();
    fs.renameSync(tmp, path);
  } catch (error) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Never created.
    }
    throw error;
  }
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
