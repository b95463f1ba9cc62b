/**
 * The CLI's commands, one function each. They return plain data (what `--json` prints); main.ts renders
 * it for humans. Caches are read through `LocalFileStore`, as the library reads them (journal included),
 * and modified through it too: a removal goes through the lock file and merges what a running
 * application wrote meanwhile, so the CLI is safe beside it.
 */
import * as fs from "node:fs";
import { basename, join, resolve } from "node:path";
import { decodeValue } from "../codec.js";
import { functionOfKey } from "../keys/call-key.js";
import { CacheLog, type CacheLogger } from "../logger.js";
import { parseEncodedJson } from "../encoded-json.js";
import type { DynamoDBTier, L2Outcome, RemoteEntry } from "../store/dynamodb/index.js";
import { resolveCacheFile } from "../store/file-claim.js";
import { LocalFileStore, type StoredEntry } from "../store/local-file-store.js";

/** A failure the CLI reports with a message and an exit code (1: failed or not found; 2: usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    /** Extra fields for the `--json` error object (e.g. the closest keys). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface Context {
  /** The cache directory, as given. */
  dir: string;
  /** TTL used to tell live from expired entries (entries that carry their own TTL use it instead). */
  ttlMs: number;
  now: number;
  /** The DynamoDB tier, with `--dynamodb-table`. */
  l2?: DynamoDBTier;
  /** Warnings of the stores and the tier (printed to stderr by main). */
  warnings: string[];
}

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

interface OpenCache {
  ref: CacheRef;
  store: LocalFileStore;
  /** Bytes on disk: the file and its journal. */
  bytes: number;
}

interface Unreadable {
  ref: CacheRef;
  error: string;
}

// ---------------------------------------------------------------------------------------------------
// Finding and opening caches

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

function fileSize(path: string): number {
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
    text = fs.readFileSync(path, "utf8");
  } catch (error) {
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
function openFile(ctx: Context, dir: string, file: string): OpenCache | Unreadable {
  const path = resolve(dir, file);
  const stem = file.slice(0, -".json".length);
  const inspected = inspectFile(path);
  const dataId = "dataId" in inspected ? inspected.dataId : null;
  const ref: CacheRef = { path, file, dataId, name: dataId ?? stem };
  if ("error" in inspected) return { ref, error: inspected.error };
  const log = new CacheLog(true, collector(ctx.warnings));
  const store = new LocalFileStore({ path, dataId: ref.name, log });
  store.load();
  return { ref, store, bytes: fileSize(path) + fileSize(store.journalPath) };
}

/** Every cache of the directory, opened. */
function openAll(ctx: Context): (OpenCache | Unreadable)[] {
  return cacheFiles(ctx.dir).map((file) => openFile(ctx, ctx.dir, file));
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

function unknownCache(ctx: Context, id: string): CliError {
  const known = cacheFiles(ctx.dir).map((file) => file.slice(0, -".json".length));
  const hint = known.length === 0 ? "the directory holds no caches" : `caches: ${closest(id, known, 5).join(", ")}`;
  return new CliError(`no cache "${id}" in ${ctx.dir} (${hint})`, 1, { known });
}

/** Opens the cache named `id`; undefined when there is none (the caller decides whether L2 alone will do). */
function openById(ctx: Context, id: string): OpenCache | undefined {
  const file = findFile(ctx, id);
  if (file === undefined) return undefined;
  const opened = openFile(ctx, ctx.dir, file);
  if ("error" in opened) throw new CliError(`cache file ${opened.ref.path} is ${opened.error}`);
  return opened;
}

// ---------------------------------------------------------------------------------------------------
// Entries

export type Status = "live" | "expired";
export type Where = "l1" | "l2" | "l1+l2";

export interface EntryInfo {
  key: string;
  function: string;
  /** Computation time, ISO 8601 (UTC). */
  computedAt: string;
  ageMs: number;
  /** When it expires under its TTL; null when it never does. */
  expiresAt: string | null;
  status: Status;
  /** The TTL it is judged by, in days (the entry's own when it carries one, else --ttl); null for infinite. */
  ttlDays: number | null;
  async: boolean;
  /** With --dynamodb-table: which tiers hold it. */
  where?: Where;
}

const MS_PER_DAY = 86_400_000;

function entryTtlMs(ctx: Context, entry: { meta?: { ttlMs?: number | undefined } | undefined }): number {
  return entry.meta?.ttlMs ?? ctx.ttlMs;
}

function entryInfo(ctx: Context, key: string, time: number, async: boolean, ttlMs: number): EntryInfo {
  const age = ctx.now - time;
  const expires = time + ttlMs;
  return {
    key,
    function: functionOfKey(key),
    computedAt: new Date(time).toISOString(),
    ageMs: age,
    expiresAt: Number.isFinite(expires) && Math.abs(expires) <= 8.64e15 ? new Date(expires).toISOString() : null,
    status: age < ttlMs ? "live" : "expired",
    ttlDays: Number.isFinite(ttlMs) ? ttlMs / MS_PER_DAY : null,
    async,
  };
}

function isExpired(ctx: Context, entry: StoredEntry): boolean {
  return ctx.now - entry.time >= entryTtlMs(ctx, entry);
}

async function l2Value<T>(ctx: Context, outcome: Promise<L2Outcome<T>>): Promise<T> {
  const result = await outcome;
  if (!result.ok) throw new CliError(`DynamoDB table ${ctx.l2?.table ?? ""}: ${result.message} (${result.reason})`);
  return result.value;
}

/** Runs `work` over `items`, at most `limit` at a time, keeping the order of the results. */
async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------------
// list

export interface ListItem {
  /** The dataId the file records (null for a file of the Python library). */
  dataId: string | null;
  /** What to pass as <dataId> to the other commands. */
  name: string;
  file: string;
  entries: number;
  functions: number;
  /** Bytes on disk: file and journal. */
  bytes: number;
  /** Computation time of the oldest and newest entry (ISO), null when empty. */
  oldest: string | null;
  newest: string | null;
  /** Why the file cannot be read, for files that are not usable caches. */
  error?: string;
  /** With --dynamodb-table: the object's unexpired entries in DynamoDB. */
  l2Entries?: number;
}

export interface ListResult {
  directory: string;
  table?: string;
  caches: ListItem[];
}

export async function listCaches(ctx: Context): Promise<ListResult> {
  const caches: ListItem[] = openAll(ctx).map((opened) => {
    const { ref } = opened;
    const base = { dataId: ref.dataId, name: ref.name, file: ref.file };
    if ("error" in opened) {
      return { ...base, entries: 0, functions: 0, bytes: fileSize(ref.path), oldest: null, newest: null, error: opened.error };
    }
    let oldest = Infinity;
    let newest = -Infinity;
    const functions = new Set<string>();
    for (const [key, entry] of opened.store.allEntries()) {
      oldest = Math.min(oldest, entry.time);
      newest = Math.max(newest, entry.time);
      functions.add(functionOfKey(key));
    }
    const iso = (t: number) => (Number.isFinite(t) ? new Date(t).toISOString() : null);
    return { ...base, entries: opened.store.size, functions: functions.size, bytes: opened.bytes, oldest: iso(oldest), newest: iso(newest) };
  });
  const l2 = ctx.l2;
  if (l2 !== undefined) {
    const counts = await mapLimit(caches, 4, (item) => (item.error === undefined ? l2Value(ctx, l2.count(item.name)) : Promise.resolve(undefined)));
    counts.forEach((count, i) => {
      if (count !== undefined) (caches[i] as ListItem).l2Entries = count.totalEntries;
    });
  }
  return { directory: ctx.dir, ...(l2 ? { table: l2.table } : {}), caches };
}

// ---------------------------------------------------------------------------------------------------
// show

export interface FunctionSummary {
  function: string;
  entries: number;
  live: number;
  expired: number;
}

export interface ShowResult {
  dataId: string;
  /** The cache file, null when only DynamoDB holds the object. */
  file: string | null;
  ttlDays: number | null;
  bytes: number;
  attributes: string[];
  functions: FunctionSummary[];
  entries: EntryInfo[];
  table?: string;
}

export async function showCache(ctx: Context, id: string): Promise<ShowResult> {
  const opened = openById(ctx, id);
  if (opened === undefined && ctx.l2 === undefined) throw unknownCache(ctx, id);
  const dataId = opened?.ref.name ?? id;
  const entries = new Map<string, EntryInfo>();
  if (opened !== undefined) {
    for (const [key, entry] of opened.store.allEntries()) entries.set(key, entryInfo(ctx, key, entry.time, entry.async, entryTtlMs(ctx, entry)));
  }
  if (ctx.l2 !== undefined) {
    for (const info of entries.values()) info.where = "l1";
    const remote: RemoteEntry[] = await l2Value(ctx, ctx.l2.list(dataId));
    for (const entry of remote) {
      const local = entries.get(entry.key);
      if (local !== undefined) local.where = "l1+l2";
      else entries.set(entry.key, { ...entryInfo(ctx, entry.key, entry.time, entry.async, ctx.ttlMs), where: "l2" });
    }
    if (opened === undefined && entries.size === 0) throw unknownCache(ctx, id);
  }
  const list = [...entries.values()].sort((a, b) => (a.function === b.function ? a.key.localeCompare(b.key) : a.function.localeCompare(b.function)));
  const functions = new Map<string, FunctionSummary>();
  for (const entry of list) {
    const summary = functions.get(entry.function) ?? { function: entry.function, entries: 0, live: 0, expired: 0 };
    summary.entries++;
    summary[entry.status]++;
    functions.set(entry.function, summary);
  }
  return {
    dataId,
    file: opened?.ref.file ?? null,
    ttlDays: Number.isFinite(ctx.ttlMs) ? ctx.ttlMs / MS_PER_DAY : null,
    bytes: opened?.bytes ?? 0,
    attributes: opened ? [...opened.store.variables.keys()].sort() : [],
    functions: [...functions.values()],
    entries: list,
    ...(ctx.l2 ? { table: ctx.l2.table } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// get

export interface GetResult {
  dataId: string;
  key: string;
  function: string;
  computedAt: string;
  async: boolean;
  source: "l1" | "l2";
  /** The value as the codec stores it (plain JSON, with tagged objects for Date, Map…). */
  encoded: unknown;
  /** The value as the program gets it. */
  value: unknown;
}

export async function getEntry(ctx: Context, id: string, key: string): Promise<GetResult> {
  const opened = openById(ctx, id);
  if (opened === undefined && ctx.l2 === undefined) throw unknownCache(ctx, id);
  const dataId = opened?.ref.name ?? id;
  const local = opened?.store.get(key);
  const fn = functionOfKey(key);
  if (opened !== undefined && local !== undefined) {
    let value: unknown;
    try {
      value = opened.store.valueOf(local);
    } catch (error) {
      throw new CliError(`the value of ${key} in ${dataId} cannot be decoded (${(error as Error).message})`);
    }
    return { dataId, key, function: fn, computedAt: new Date(local.time).toISOString(), async: local.async, source: "l1", encoded: local.raw, value };
  }
  let keys = opened ? [...opened.store.allEntries()].map(([key]) => key) : [];
  if (ctx.l2 !== undefined) {
    const remote = await l2Value(ctx, ctx.l2.get(dataId, key));
    if (remote !== undefined) {
      const encoded = JSON.parse(remote.text) as unknown;
      return { dataId, key, function: fn, computedAt: new Date(remote.time).toISOString(), async: remote.async, source: "l2", encoded, value: decodeValue(encoded) };
    }
    keys = [...new Set([...keys, ...(await l2Value(ctx, ctx.l2.list(dataId))).map((entry) => entry.key)])];
  }
  if (opened === undefined && keys.length === 0) throw unknownCache(ctx, id);
  const sameFunction = keys.filter((k) => functionOfKey(k) === fn);
  if (sameFunction.length > 0) {
    const near = closest(key, sameFunction, 3);
    throw new CliError(`no entry ${key} in ${dataId}; closest keys of ${fn}: ${near.join("  ")}`, 1, { closest: near });
  }
  const functions = [...new Set(keys.map(functionOfKey))].sort();
  throw new CliError(
    `no entry ${key} in ${dataId}: it has no entries of ${fn}${functions.length > 0 ? ` (functions: ${functions.join(", ")})` : " (it has no entries)"}`,
    1,
    { closest: [], functions },
  );
}

// ---------------------------------------------------------------------------------------------------
// clear

export interface ClearResult {
  dataId: string;
  file: string | null;
  function: string | null;
  /** Entries removed from the file. */
  removed: number;
  /** Entries removed from DynamoDB, with --dynamodb-table. */
  l2Removed?: number;
  table?: string;
}

/** Writes a store's changes under the lock (merging concurrent writers'), or fails with its warnings. */
async function persist(ctx: Context, opened: OpenCache): Promise<void> {
  if (!(await opened.store.flush(true))) {
    const reason = ctx.warnings.at(-1) ?? "the write failed";
    throw new CliError(`cannot write ${opened.ref.path}: ${reason}`);
  }
}

export async function clearCache(ctx: Context, id: string, fn: string | undefined): Promise<ClearResult> {
  const opened = openById(ctx, id);
  if (opened === undefined && ctx.l2 === undefined) throw unknownCache(ctx, id);
  const dataId = opened?.ref.name ?? id;
  let removed = 0;
  if (opened !== undefined) {
    removed = opened.store.clear(fn).length;
    // Written even when this file held none: running processes may hold results not written yet.
    await persist(ctx, opened);
  }
  const result: ClearResult = { dataId, file: opened?.ref.file ?? null, function: fn ?? null, removed };
  if (ctx.l2 !== undefined) {
    result.l2Removed = await l2Value(ctx, ctx.l2.remove(dataId, fn));
    result.table = ctx.l2.table;
    if (opened === undefined && result.l2Removed === 0) throw unknownCache(ctx, id);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// prune

export interface PruneItem {
  dataId: string | null;
  name: string;
  file: string;
  removed: number;
  keys: string[];
}

export interface PruneResult {
  directory: string;
  ttlDays: number | null;
  dryRun: boolean;
  /** Expired entries removed (or, with --dry-run, that would be), over all caches. */
  removed: number;
  caches: PruneItem[];
}

export async function pruneCaches(ctx: Context, id: string | undefined, dryRun: boolean): Promise<PruneResult> {
  let targets: (OpenCache | Unreadable)[];
  if (id !== undefined) {
    const opened = openById(ctx, id);
    if (opened === undefined) throw unknownCache(ctx, id);
    targets = [opened];
  } else {
    targets = openAll(ctx);
  }
  const caches: PruneItem[] = [];
  for (const opened of targets) {
    if ("error" in opened) {
      ctx.warnings.push(`skipped ${opened.ref.path}: it is ${opened.error}`);
      continue;
    }
    const expired = [...opened.store.allEntries()].filter(([, entry]) => isExpired(ctx, entry)).map(([key]) => key);
    const keys = dryRun ? expired : opened.store.removeKeys(expired);
    if (!dryRun && keys.length > 0) await persist(ctx, opened);
    caches.push({ dataId: opened.ref.dataId, name: opened.ref.name, file: opened.ref.file, removed: keys.length, keys });
  }
  return {
    directory: ctx.dir,
    ttlDays: Number.isFinite(ctx.ttlMs) ? ctx.ttlMs / MS_PER_DAY : null,
    dryRun,
    removed: caches.reduce((sum, item) => sum + item.removed, 0),
    caches,
  };
}

// ---------------------------------------------------------------------------------------------------
// stats

export interface StatsResult {
  directory: string;
  ttlDays: number | null;
  /** Readable cache files. */
  objects: number;
  /** Files that are not usable caches. */
  unreadable: number;
  entries: number;
  live: number;
  expired: number;
  functions: number;
  /** Bytes on disk, cache files and journals (unreadable files included). */
  bytes: number;
  journalBytes: number;
  /** With --dynamodb-table: unexpired entries in DynamoDB of the objects found locally. */
  l2Entries?: number;
  table?: string;
}

export async function cacheStats(ctx: Context): Promise<StatsResult> {
  const result: StatsResult = {
    directory: ctx.dir,
    ttlDays: Number.isFinite(ctx.ttlMs) ? ctx.ttlMs / MS_PER_DAY : null,
    objects: 0,
    unreadable: 0,
    entries: 0,
    live: 0,
    expired: 0,
    functions: 0,
    bytes: 0,
    journalBytes: 0,
  };
  const names: string[] = [];
  for (const opened of openAll(ctx)) {
    result.journalBytes += fileSize(`${opened.ref.path}.journal`);
    if ("error" in opened) {
      result.unreadable++;
      result.bytes += fileSize(opened.ref.path) + fileSize(`${opened.ref.path}.journal`);
      continue;
    }
    result.objects++;
    result.bytes += opened.bytes;
    names.push(opened.ref.name);
    const functions = new Set<string>();
    for (const [key, entry] of opened.store.allEntries()) {
      result.entries++;
      if (isExpired(ctx, entry)) result.expired++;
      else result.live++;
      functions.add(functionOfKey(key));
    }
    result.functions += functions.size;
  }
  const l2 = ctx.l2;
  if (l2 !== undefined) {
    const counts = await mapLimit(names, 4, (name) => l2Value(ctx, l2.count(name)));
    result.l2Entries = counts.reduce((sum, count) => sum + count.totalEntries, 0);
    result.table = l2.table;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Hints

/** Edit distance (Levenshtein), for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
    }
    previous = current;
  }
  return previous[y.length] as number;
}

/** The `count` candidates nearest to `target`. */
export function closest(target: string, candidates: readonly string[], count: number): string[] {
  return candidates
    .map((candidate) => ({ candidate, distance: editDistance(target, candidate) }))
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
    .slice(0, count)
    .map((item) => item.candidate);
}
