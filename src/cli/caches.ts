/**
 * Finding and opening the caches of a directory. Caches are read through `LocalFileStore`, as the
 * library reads them (journal included), and modified through it too: a removal goes through the lock
 * file and merges what a running application wrote meanwhile, so the CLI is safe beside it. A file
 * that is not a usable cache is reported, never touched.
 */
import * as fs from "node:fs";
import { basename, join, resolve } from "node:path";
import { CacheLog, type CacheLogger } from "../logger.js";
import { parseEncodedJson } from "../encoded-json.js";
import { resolveCacheFile } from "../store/file-claim.js";
import { LocalFileStore } from "../store/local-file-store.js";
import { NotRegularFileError, readRegularTextSync } from "../store/regular-file.js";
import { CliError, type Context } from "./context.js";
import { closest } from "./hints.js";

/** A cache file found in the directory. */
export interface CacheRef {
  path: string;
  /** File name, e.g. `calc.json`. */
  file: string;
  /** The dataId recorded in the file; null for files the Python library wrote (they record none). */
  dataId: string | null;
  /** How to name it: the dataId, else the file name without `.json`. */
  name: string;
}

export interface OpenCache {
  ref: CacheRef;
  store: LocalFileStore;
  /** Bytes on disk: the file and its journal. */
  bytes: number;
}

export interface Unreadable {
  ref: CacheRef;
  error: string;
}

function isCacheFileName(name: string): boolean {
  return name.endsWith(".json") && !name.includes(".unreadable-");
}

/** The cache files of the directory, by name (a journal whose file is gone counts as its file). */
export function cacheFiles(dir: string): string[] {
  let names: string[];
  try {
    if (!fs.statSync(dir).isDirectory()) throw new CliError(`${dir} is not a directory`);
    names = fs.readdirSync(dir);
  } catch (error) {
    if (error instanceof CliError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(code === "ENOENT" ? `no cache directory ${dir} (use --dir to choose one)` : `cannot read ${dir} (${code ?? String(error)})`);
  }
  const files = new Set(names.filter(isCacheFileName));
  for (const name of names) {
    if (name.endsWith(".json.journal") && !name.includes(".unreadable-")) files.add(name.slice(0, -".journal".length));
  }
  return [...files].sort();
}

export function fileSize(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Reads the dataId a file records and checks that it is a cache file, without touching it: the store
 * would move an unreadable file aside, which an inspector must not do.
 */
function inspectFile(path: string): { dataId: string | null } | { error: string } {
  let text: string;
  try {
    text = readRegularTextSync(path);
  } catch (error) {
    if (error instanceof NotRegularFileError) return { error: `not a regular file (${error.what}); left alone` };
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && fs.existsSync(`${path}.journal`)) return { dataId: null };
    return { error: `cannot be read (${code ?? String(error)})` };
  }
  let data: unknown;
  try {
    data = parseEncodedJson(text);
  } catch (error) {
    return { error: `not valid JSON (${(error as Error).message})` };
  }
  const record = data as Record<string, unknown> | null;
  const entries = record?._json_cache_func_cache;
  if (typeof record !== "object" || record === null || Array.isArray(record) || typeof entries !== "object" || entries === null || Array.isArray(entries)) {
    return { error: "not a cache file (no _json_cache_func_cache object)" };
  }
  const meta = record._cacherator as Record<string, unknown> | undefined;
  return { dataId: typeof meta?.data_id === "string" ? meta.data_id : null };
}

function collector(warnings: string[]): CacheLogger {
  const keep = (message: string) => void warnings.push(message.replace(/^\[cacherator\] /, ""));
  return { debug: () => undefined, info: () => undefined, warn: keep, error: keep };
}

/** Opens one cache file through the library's store (journal replayed); never modifies it. */
function openFile(ctx: Context, file: string): OpenCache | Unreadable {
  const path = resolve(ctx.dir, file);
  const stem = file.slice(0, -".json".length);
  const inspected = inspectFile(path);
  const dataId = "dataId" in inspected ? inspected.dataId : null;
  const ref: CacheRef = { path, file, dataId, name: dataId ?? stem };
  if ("error" in inspected) return { ref, error: inspected.error };
  const store = new LocalFileStore({ path, dataId: ref.name, log: new CacheLog(true, collector(ctx.warnings)), prepareJournal: false });
  store.load();
  return { ref, store, bytes: fileSize(path) + fileSize(store.journalPath) };
}

/** Every cache of the directory, opened. */
export function openAll(ctx: Context): (OpenCache | Unreadable)[] {
  return cacheFiles(ctx.dir).map((file) => openFile(ctx, file));
}

/**
 * The file of `<dataId>`: our file name for that dataId, else a file of that name (`.json` optional:
 * files of the Python library are named by their file), else the Python library's name for the dataId,
 * else a file that records that dataId. `undefined` when none exists.
 */
function findFile(ctx: Context, id: string): string | undefined {
  const files = cacheFiles(ctx.dir);
  const present = new Set(files);
  const candidates = [basename(resolveCacheFile(ctx.dir, id, { claim: false })), id.endsWith(".json") ? id : `${id}.json`];
  const direct = candidates.find((name) => present.has(name) && basename(name) === name);
  if (direct !== undefined) return direct;
  return files.find((file) => {
    const inspected = inspectFile(join(ctx.dir, file));
    return "dataId" in inspected && inspected.dataId === id;
  });
}

export function unknownCache(ctx: Context, id: string): CliError {
  const known = cacheFiles(ctx.dir).map((file) => file.slice(0, -".json".length));
  const hint = known.length === 0 ? "the directory holds no caches" : `caches: ${closest(id, known, 5).join(", ")}`;
  return new CliError(`no cache "${id}" in ${ctx.dir} (${hint})`, 1, { known });
}

/** Opens the cache named `id`; undefined when there is none (the caller decides whether L2 alone will do). */
export function openById(ctx: Context, id: string): OpenCache | undefined {
  const file = findFile(ctx, id);
  if (file === undefined) return undefined;
  const opened = openFile(ctx, file);
  if ("error" in opened) throw new CliError(`cache file ${opened.ref.path} is ${opened.error}`);
  return opened;
}

/** Writes a store's changes (merged with concurrent writers'), then folds them in; fails with its warnings. */
export async function persist(ctx: Context, opened: OpenCache): Promise<void> {
  if (!(await opened.store.flush(true))) {
    const reason = ctx.warnings.at(-1) ?? "the write failed";
    throw new CliError(`cannot write ${opened.ref.path}: ${reason}`);
  }
  // Fold the journal in, so the file alone reflects the change (the Python library reads only the
  // file). A busy lock means another process is folding: the change is in the journal either way.
  await opened.store.compact();
}
