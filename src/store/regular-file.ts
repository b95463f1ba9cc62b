/**
 * Opening the files of a cache directory, which anyone who may write the directory can replace with
 * something that is not a file. Opening a FIFO waits for a process at its other end (for ever, on
 * the event loop or on a thread of the pool), and a device such as /dev/zero never ends: a cache must
 * never hang on either. So every open here adds O_NONBLOCK — which regular files ignore, and which
 * makes the open of a FIFO return at once — and whatever is not a regular file is refused, closed,
 * with an error that names the path and what is there.
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";

/** 0 where the platform has no such flag (Windows has no FIFOs to wait on). */
const O_NONBLOCK: number = fs.constants.O_NONBLOCK ?? 0;

export class NotRegularFileError extends Error {
  readonly code = "ENOTREGULAR";

  constructor(
    readonly path: string,
    /** What is there instead: "a FIFO", "a directory"… */
    readonly what: string,
  ) {
    super(`${path} is not a regular file (${what}); remove it, or move it out of the cache directory`);
  }
}

/** What `stat` describes, for a message. */
function whatIs(stat: fs.Stats): string {
  if (stat.isDirectory()) return "a directory";
  if (stat.isFIFO()) return "a FIFO";
  if (stat.isSocket()) return "a socket";
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return "a device";
  return "a special file";
}

/** An open's error, with the one a FIFO without a reader gives a writer (ENXIO) said plainly. */
function openError(path: string, error: unknown): unknown {
  return (error as NodeJS.ErrnoException).code === "ENXIO" ? new NotRegularFileError(path, "a FIFO, socket or device") : error;
}

/**
 * Opens `path` with `flags` (O_NONBLOCK added) and returns the descriptor with its `fstat`.
 * @throws {NotRegularFileError} when it is not a regular file (the descriptor is closed); the open's
 *   own error (ENOENT, ELOOP for a symlink under O_NOFOLLOW, EACCES…) otherwise.
 */
export function openRegularSync(path: string, flags: number, mode?: number): { fd: number; stat: fs.Stats } {
  let fd: number;
  try {
    fd = fs.openSync(path, flags | O_NONBLOCK, mode);
  } catch (error) {
    throw openError(path, error);
  }
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new NotRegularFileError(path, whatIs(stat));
  }
  return { fd, stat };
}

/** `openRegularSync` without blocking the event loop. */
export async function openRegular(path: string, flags: number): Promise<fsp.FileHandle> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, flags | O_NONBLOCK);
  } catch (error) {
    throw openError(path, error);
  }
  let stat: fs.Stats;
  try {
    stat = await handle.stat();
  } catch (error) {
    await handle.close();
    throw error;
  }
  if (!stat.isFile()) {
    await handle.close();
    throw new NotRegularFileError(path, whatIs(stat));
  }
  return handle;
}

/**
 * The content of the regular file at `path` (symlinks followed unless `flags` has O_NOFOLLOW): all of
 * it, or its first `maxBytes` (a file that is small by nature — a lock — may be planted huge).
 * @throws as `openRegularSync`.
 */
export function readRegularFileSync(path: string, flags = 0, maxBytes = Number.POSITIVE_INFINITY): Buffer {
  const { fd, stat } = openRegularSync(path, fs.constants.O_RDONLY | flags);
  try {
    if (stat.size <= maxBytes) return fs.readFileSync(fd);
    const head = Buffer.alloc(maxBytes);
    return head.subarray(0, fs.readSync(fd, head, 0, maxBytes, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** The same, as UTF-8 text. */
export function readRegularTextSync(path: string, flags = 0, maxBytes = Number.POSITIVE_INFINITY): string {
  return readRegularFileSync(path, flags, maxBytes).toString("utf8");
}

/** The open flags of this module's opens (for an open that must stay elsewhere, such as `fs.open` with a callback). */
export const NON_BLOCKING = O_NONBLOCK;
