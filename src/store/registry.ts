/**
 * One store per cache file per process: instances with the same dataId and directory share it, so
 * neither loses the other's entries. The registry holds stores weakly (an unused store is collected
 * with its last instance) except while they have unwritten changes or work on disk under way; changes
 * are written at normal exit.
 */
import { resolve } from "node:path";
import type { CacheLog } from "../logger.js";
import { resolveCacheFile } from "./file-claim.js";
import { ExitBudget } from "./exit-budget.js";
import { journalSize } from "./fold.js";
import { LocalFileStore } from "./local-file-store.js";
import { CacheStack } from "./cache-stack.js";
import { settledAlready } from "./write-scheduler.js";

const stores = new Map<string, WeakRef<LocalFileStore>>();
const unwritten = new Set<LocalFileStore>();
/** Stores with work on disk under way in the background (a fold, the journal's open): what `flushAll` also waits for. */
const inBackground = new Set<LocalFileStore>();
/** Files this process appended a journal to: folded in at exit, even if their store was collected. */
const journaled = new Map<string, { dataId: string; log: CacheLog }>();
const forget = new FinalizationRegistry<string>((path) => {
  if (stores.get(path)?.deref() === undefined) stores.delete(path);
});
let exitHookInstalled = false;

export interface OpenOptions {
  directory: string;
  dataId: string;
  log: CacheLog;
  writeDelay: number;
  /** Start empty, ignoring (and later overwriting) what the file holds. */
  clear: boolean;
  /** Bound on entries; the store keeps the smallest any opener asks for. */
  maxEntries: number | undefined;
  /** The store keeps the shortest interval, and the modes of its first opener. */
  refreshIntervalMs: number;
  fileMode: number;
  directoryMode: number;
}

const stacks = new Map<string, WeakRef<CacheStack>>();
const forgetStack = new FinalizationRegistry<string>((path) => {
  if (stacks.get(path)?.deref() === undefined) stacks.delete(path);
});

/** The cache stack of `dataId` in `directory`, shared with any other live instance that uses the same file. */
export function openStack(options: OpenOptions): CacheStack {
  const store = openStore(options);
  let stack = stacks.get(store.path)?.deref();
  if (stack === undefined) {
    stack = new CacheStack(store);
    stacks.set(store.path, new WeakRef(stack));
    forgetStack.register(stack, store.path);
  }
  return stack;
}

/** The file of each dataId and directory this process has opened (`<directory>\0<dataId>` → path). */
const filesOfIds = new Map<string, string>();

/** The file of `dataId` in `directory`: looked up (and claimed when free) once per process. */
function cacheFileOf(options: OpenOptions): string {
  const id = `${resolve(options.directory)}\0${options.dataId}`;
  let path = filesOfIds.get(id);
  if (path === undefined) {
    path = resolveCacheFile(options.directory, options.dataId, { claim: true, fileMode: options.fileMode, directoryMode: options.directoryMode });
    filesOfIds.set(id, path);
  }
  return path;
}

/** Stores being loaded by `openStoreAsync`, and those it loaded (held until the process ends: they were asked for). */
const loading = new Map<string, { store: LocalFileStore; done: Promise<void> }>();
const opened = new Set<LocalFileStore>();

/**
 * Loads the store of `dataId` in `directory` without blocking the event loop for long, so that
 * instances constructed later find it loaded. Resolves once it is.
 */
export async function openStoreAsync(options: OpenOptions): Promise<void> {
  const path = cacheFileOf(options);
  if (stores.get(path)?.deref() !== undefined) return;
  let pending = loading.get(path);
  if (pending === undefined) {
    const store = newStore(path, options);
    const done = store.loadAsync().then(() => {
      loading.delete(path);
      if (stores.get(path)?.deref() === undefined) register(path, store);
      opened.add(store);
    });
    pending = { store, done };
    loading.set(path, pending);
  }
  await pending.done;
}

function newStore(path: string, options: OpenOptions): LocalFileStore {
  return new LocalFileStore({
    path,
    dataId: options.dataId,
    log: options.log,
    writeDelay: options.writeDelay,
    fileMode: options.fileMode,
    directoryMode: options.directoryMode,
    refreshIntervalMs: options.refreshIntervalMs,
    onDirty: markUnwritten,
    onClean: markWritten,
    onJournal: markJournaled,
    onBackground: markBackground,
  });
}

function register(path: string, store: LocalFileStore): void {
  stores.set(path, new WeakRef(store));
  forget.register(store, path);
  installExitHook();
}

/** The store of `dataId` in `directory`, shared with any other live instance that uses the same file. */
export function openStore(options: OpenOptions): LocalFileStore {
  const path = cacheFileOf(options);
  let store = stores.get(path)?.deref();
  const pending = store === undefined ? loading.get(path) : undefined;
  if (pending !== undefined) {
    // Being loaded without blocking: read the rest now (the asynchronous load stops).
    store = pending.store;
    store.load();
    register(path, store);
  } else if (store === undefined) {
    store = newStore(path, options);
    store.load();
    register(path, store);
  }
  store.refreshIntervalMs = Math.min(store.refreshIntervalMs, options.refreshIntervalMs);
  if (options.maxEntries !== undefined) store.maxEntries = Math.min(store.maxEntries ?? Infinity, options.maxEntries);
  if (options.clear) {
    // Everything computed before now is gone, here and for every process sharing the file.
    store.clear();
    store.setVariables(new Map());
  }
  return store;
}

function markUnwritten(store: LocalFileStore): void {
  unwritten.add(store);
}

function markWritten(store: LocalFileStore): void {
  unwritten.delete(store);
}

function markBackground(store: LocalFileStore, underWay: boolean): void {
  if (underWay) inBackground.add(store);
  else inBackground.delete(store);
}

function markJournaled(store: LocalFileStore): void {
  if (!journaled.has(store.path)) journaled.set(store.path, { dataId: store.dataId, log: store.log });
}

/**
 * Writes every store with changes, synchronously: the event loop is gone at exit. Every store's
 * changes are appended first; then journals are folded into their files while the exit budget lasts.
 */
export function flushAllSync(budget = new ExitBudget()): void {
  const all = new Set(unwritten);
  for (const ref of stores.values()) {
    const store = ref.deref();
    if (store !== undefined) all.add(store);
  }
  for (const store of all) {
    try {
      store.appendAtExit();
    } catch {
      // One store's failure (already logged) must not keep the others from being written.
    }
  }
  for (const store of all) {
    if (budget.left <= 0) break;
    try {
      store.foldAtExit(budget);
    } catch {
      // As above.
    }
  }
  for (const [path, { dataId, log }] of journaled) {
    if (budget.left <= 0) break;
    if (stores.get(path)?.deref() !== undefined || journalSize(`${path}.journal`) === 0) continue;
    // The store was collected after its last write: fold its journal in from disk.
    try {
      const store = new LocalFileStore({ path, dataId, log });
      store.load();
      store.foldAtExit(budget);
    } catch {
      // As above.
    }
  }
}

/** Writes every store with changes; resolves once the writes and the stores' work on disk under way are over. */
export function flushAll(): Promise<void> {
  // Every store with changes, or with a write under way, is in `unwritten` until it is clean; every
  // store with a fold under way, or its journal being opened, is in `inBackground`. Each store's
  // changes are appended within this call; the promise waits for the rest.
  if (inBackground.size === 0) {
    // The usual case, and the one a loop of `miss; await flushAll()` takes: appends only.
    if (unwritten.size === 0) return SETTLED;
    if (unwritten.size === 1) {
      for (const store of unwritten) {
        const written = store.flush();
        // A write without fsync is synchronous: its promise is one already settled, to be passed on as is.
        return settledAlready(written) ? SETTLED : written.then(noop);
      }
    }
    return Promise.all(Array.from(unwritten, (store) => store.flush())).then(noop);
  }
  const all = new Set([...unwritten, ...inBackground]);
  return Promise.all(Array.from(all, (store) => (inBackground.has(store) ? store.settle() : store.flush()))).then(noop);
}

const SETTLED = Promise.resolve();

function noop(): void {}

/** Writes and folds every store this process holds, so each file alone is complete; whether all are. */
export async function compactAll(): Promise<boolean> {
  const live = new Set<LocalFileStore>(unwritten);
  for (const ref of stores.values()) {
    const store = ref.deref();
    if (store !== undefined) live.add(store);
  }
  const results = await Promise.all(
    [...live].map(async (store) => {
      const complete = await store.compact();
      await store.settle(); // no journal open or fold of it left under way
      return complete;
    }),
  );
  return results.every(Boolean);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => flushAllSync());
}
