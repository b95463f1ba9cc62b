/**
 * Cache files that cannot be used are moved aside, never overwritten, so nothing in them is lost. A
 * file is moved only once it has stayed unreadable: one changed within the last `SETTLE_MS` is taken
 * to be still being written (another program, such as the Python library, rewrites it in place) and
 * is read again later.
 */
import * as fs from "node:fs";
import { basename } from "node:path";
import type { CacheLog } from "../logger.js";
import { ForeignFileError } from "./cache-file.js";

export const SETTLE_MS = 2_000;

/** Whether the file has not changed for `SETTLE_MS` (or is gone). */
export function isSettled(path: string, now = Date.now()): boolean {
  try {
    return now - fs.statSync(path).mtimeMs >= SETTLE_MS;
  } catch {
    return true;
  }
}

/** Moves `source` to `<source>.unreadable-<time>`; returns whether it moved. Logs once either way. */
export function setAside(source: string, error: unknown, log: CacheLog, ownFile: boolean): boolean {
  const aside = `${source}.unreadable-${Date.now()}`;
  let moved = true;
  let where = `is kept as ${basename(aside)}; starting with an empty cache`;
  try {
    fs.renameSync(source, aside);
  } catch (renameError) {
    moved = false;
    where =
      `could not be moved aside (${describe(renameError)}), so it is left untouched` +
      (ownFile ? " and this cache is not written; results are still returned" : "");
  }
  log.once("warn", `aside:${source}`, `cache file ${source} cannot be used: ${whyUnusable(error)}. The file ${where}.`);
  return moved;
}

export function whyUnusable(error: unknown): string {
  if (error instanceof ForeignFileError) return error.message;
  if (error instanceof SyntaxError) return `it is not valid JSON (${error.message})`;
  if (error instanceof RangeError) return `it is nested too deeply to read (${error.message})`;
  return `it cannot be read (${describe(error)})`;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
