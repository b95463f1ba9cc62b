/**
 * Which file a dataId's cache lives in. The Python library's name for the dataId (file-names.ts) is
 * used whenever it is free or already this dataId's, so both libraries share the file; a file of
 * that name that belongs to another dataId is never read. Ownership is the `data_id` of our marker:
 * - our marker names this dataId: its file;
 * - no marker: a file the Python library wrote (for this dataId or one with the same slug, which
 *   Python itself mixes up): adopted;
 * - our marker names another dataId: not ours; the collision-free hashed name is used.
 * A free name is claimed by creating the file, marked, in one step (a private file hard-linked to the
 * name), so two dataIds with one slug that start at once cannot both take it. A hashed file that
 * exists wins over everything: the dataId was moved there by an earlier collision.
 */
import * as fs from "node:fs";
import { dirname, join, resolve } from "node:path";
import { serializeCacheFile } from "./cache-file.js";
import { hashedFileName, pythonFileNames } from "./file-names.js";
import { privateName } from "./private-names.js";
import { openRegularSync } from "./regular-file.js";

export interface ClaimOptions {
  /** Create a free Python-named file to own it (false: only look, as the CLI does). */
  claim: boolean;
  fileMode?: number;
  directoryMode?: number;
}

type Owner = { kind: "missing" } | { kind: "unmarked" } | { kind: "marked"; dataId: string };

/** The absolute path of the cache file of `dataId` in `directory`. */
export function resolveCacheFile(directory: string, dataId: string, options: ClaimOptions): string {
  const hashed = resolve(join(directory, hashedFileName(dataId)));
  if (exists(hashed)) return hashed;
  const candidates = pythonFileNames(dataId).map((name) => resolve(join(directory, name)));
  const free: string[] = [];
  for (const path of candidates) {
    const owner = fileOwner(path);
    if (owner.kind === "missing") free.push(path);
    else if (owner.kind === "unmarked" || owner.dataId === dataId) return path;
  }
  if (free.length === 0) return claimHashed(hashed, dataId, options);
  const [first] = free as [string];
  if (!options.claim) return first;
  for (const path of free) {
    const claimed = claim(path, dataId, options);
    if (claimed === "claimed") return path;
    if (claimed === "failed") return path; // cannot create files here: the store reports it when it writes
    const owner = fileOwner(path); // another process created it first
    if (owner.kind !== "missing" && (owner.kind === "unmarked" || owner.dataId === dataId)) return path;
  }
  return claimHashed(hashed, dataId, options);
}

/** The hashed file, created now so that the dataId stays there if its Python name comes free later. */
function claimHashed(hashed: string, dataId: string, options: ClaimOptions): string {
  if (options.claim) claim(hashed, dataId, options);
  return hashed;
}

function exists(path: string): boolean {
  try {
    fs.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Our marker is the file's last key, on its own line, so the end of the file tells whose it is. */
const MARKER_AT_END = /\n\s*"_cacherator":\s*(\{[^\n]*\})\s*\}\s*$/;
const TAIL_BYTES = 256 * 1024;
/** Past this size a file without the marker at its end is taken as unmarked without reading it whole. */
const FULL_READ_LIMIT = 8 * 1024 * 1024;

/** Whose file `path` is, by its marker. A file that cannot be read counts as unmarked: the store deals with it. */
export function fileOwner(path: string): Owner {
  let fd: number;
  let size: number;
  try {
    ({ fd, stat: { size } } = openRegularSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? { kind: "missing" } : { kind: "unmarked" };
  }
  try {
    const tailLength = Math.min(size, TAIL_BYTES);
    const tail = Buffer.alloc(tailLength);
    fs.readSync(fd, tail, 0, tailLength, size - tailLength);
    const marker = MARKER_AT_END.exec(tail.toString("utf8"));
    if (marker !== null) return ownerFromMarker(marker[1] as string);
    if (size <= tailLength || size > FULL_READ_LIMIT) return { kind: "unmarked" };
    const whole = Buffer.alloc(size);
    fs.readSync(fd, whole, 0, size, 0);
    const data = JSON.parse(whole.toString("utf8")) as { _cacherator?: { data_id?: unknown } };
    const id = data._cacherator?.data_id;
    return typeof id === "string" ? { kind: "marked", dataId: id } : { kind: "unmarked" };
  } catch {
    return { kind: "unmarked" };
  } finally {
    fs.closeSync(fd);
  }
}

function ownerFromMarker(text: string): Owner {
  try {
    const id = (JSON.parse(text) as { data_id?: unknown }).data_id;
    return typeof id === "string" ? { kind: "marked", dataId: id } : { kind: "unmarked" };
  } catch {
    return { kind: "unmarked" };
  }
}

/** Creates `path` holding an empty cache marked as `dataId`'s, unless it exists. */
function claim(path: string, dataId: string, options: ClaimOptions): "claimed" | "taken" | "failed" {
  const temporary = privateName(path, "new"); // staged, then linked into place, as a lock is
  try {
    fs.mkdirSync(dirname(path), { recursive: true, mode: options.directoryMode ?? 0o700 });
    const mode = options.fileMode ?? 0o600;
    fs.writeFileSync(temporary, serializeCacheFile(dataId, [], [], Date.now()), { flag: "wx", mode });
    fs.chmodSync(temporary, mode); // exactly the mode asked for, whatever the umask
    fs.linkSync(temporary, path);
    return "claimed";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EEXIST" ? "taken" : "failed";
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}
