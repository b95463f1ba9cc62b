/**
 * The L1 tier: one JSON file per dataId, held in memory (memory-table.ts) and written back off the call
 * path. Several processes may share the file; what one saved, another never loses.
 *
 * - Reads happen at open, synchronously (constructors are synchronous), and later whenever the file or
 *   its journal changed: on a miss, before a write, and on a hit at most once per `refreshIntervalMs`.
 *   Reading needs no lock: files are replaced by rename, journals only grow, and every change carries a
 *   time, so merging is order-free (memory-table.ts).
 * - A change marks the store dirty and schedules one write `writeDelay` ms later, so a burst of misses
 *   becomes one write. `flush()` writes now; with `durable` it also fsyncs. Writes of all stores share
 *   one bounded queue (write-queue.ts); a failed write is retried on a timer with backoff.
 * - A write appends the changes to `<file>.journal` (no lock: journal-file.ts), or, when the file is
 *   small (so it stays complete for the Python library) or the journal has outgrown it, folds the
 *   journal into a new file (compaction) under `<file>.lock` (file-lock.ts). A busy lock never makes a
 *   write wait: it appends instead, and the fold happens later.
 * - A file that stays unreadable is moved aside (quarantine.ts), never overwritten; one being rewritten
 *   in place by another program is read again later.
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { dirname } from "node:path";
import { decodeValue } from "../codec.js";
import type { CacheLog } from "../logger.js";
import { entryText, parseCacheFile, serializeCacheFile } from "./cache-file.js";
import { clearLine, deleteLine, parseJournalLine, setLine, variablesLine, type JournalOp } from "./journal.js";
import { appendToJournal, appendToJournalSync, readJournalLines, sealJournal, unsealJournal } from "./journal-file.js";
import { functionOfKey } from "../keys/call-key.js";
import { LockUnusableError, isAlive, lockSync, tryLock, type HeldLock } from "./file-lock.js";
import { globalMetrics } from "../events.js";
import { Changes, MemoryTable, type StoredEntry } from "./memory-table.js";
import { SETTLE_MS, isSettled, setAside, describe } from "./quarantine.js";
import { forgetLeftovers, leftovers } from "./private-names.js";
import { writeSnapshot, writeSnapshotSync } from "./snapshot-file.js";
import { inWriteSlot, retryDelayMs } from "./write-queue.js";

export type { EntryOrigin, StoredEntry } from "./memory-table.js";
export { describe } from "./quarantine.js";

export interface LocalFileStoreOptions {
  path: string;
  dataId: string;
  log: CacheLog;
  /** Delay that coalesces changes into one write, ms. */
  writeDelay?: number;
  /** Mode of new files (default 0o600). */
  fileMode?: number;
  /** Mode of new directories (default 0o700). */
  directoryMode?: number;
  /** A hit looks for other processes' changes at most this often, ms (default 1000). */
  refreshIntervalMs?: number;
  /** Called when the store has changes to write, and when it has none left. */
  onDirty?: (store: LocalFileStore) => void;
  onClean?: (store: LocalFileStore) => void;
  /** Called when the store appended to its journal (to be folded at exit). */
  onJournal?: (store: LocalFileStore) => void;
}

/** From this cache file size on, writes append to the journal instead of rewriting the file. */
const JOURNAL_FROM_BYTES = 64 * 1024;
/** At exit, how long to wait for another process's fold before appending instead. */
const EXIT_LOCK_WAIT_MS = 1_000;

class LockLostError extends Error {
  constructor(lockPath: string) {
    super(`the lock ${lockPath} was removed by someone else during the write; it is written again`);
  }
}

class FileChangedError extends Error {
  constructor(path: string) {
    super(`${path} changed during the fold; the changes are appended to the journal instead`);
  }
}

interface ReplacedFile {
  fd: number;
  size: number;
  mtimeMs: number;
}

export class LocalFileStore {
  readonly path: string;
  readonly dataId: string;
  readonly log: CacheLog;
  readonly journalPath: string;
  /** Bytes written to this cache's file and journal by this process. */
  bytesWritten = 0;
  /** The longest instance TTL of the instances using this store (for entries of uncalled methods). */
  defaultTtlMs = 0;
  /** A hit looks at the file again once `Date.now()` reaches this. */
  checkAt = 0;
  refreshIntervalMs: number;
  fileMode: number;
  directoryMode: number;

  readonly #table = new MemoryTable();
  readonly #lockPath: string;
  readonly #writeDelay: number;
  readonly #onDirty: (store: LocalFileStore) => void;
  readonly #onClean: (store: LocalFileStore) => void;
  readonly #onJournal: (store: LocalFileStore) => void;
  /** TTL of each function called in this process, so compaction can prune its expired entries. */
  readonly #ttls = new Map<string, number>();

  /** Identity of the file (inode, size, mtime) as last read or written; "" when it must be read. */
  #known = "";
  /** Identity of the journal file whose first `#journalOffset` bytes are applied. */
  #journalKnown = "";
  #journalOffset = 0;
  /** Size of the cache file as last read or written; decides between rewriting and appending. */
  #fileBytes = 0;
  /** Set when our file could be neither read nor moved aside: writing would destroy it. */
  #frozen = false;
  /** The file is unreadable but still changing (being rewritten in place): not to be replaced yet. */
  #fileBusy = false;
  /** The file at the path was written by this library (not rewritten in place by another program). */
  #fileIsOurs = true;
  /** A file of another program that a fold replaced, watched a while for writes it still received. */
  #replaced: ReplacedFile | undefined;
  /** Journals this process sealed for a fold that did not complete: folded by its next fold. */
  #ownSealed: string[] = [];
  /** This process appended to the journal: fold it in at exit. */
  #appended = false;
  /** The lock of the fold under way. */
  #foldLock: HeldLock | undefined;

  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<boolean> | undefined;
  #taken: Changes | undefined;
  #queued: Promise<boolean> | undefined;
  #queuedDurable = false;
  #failures = 0;
  #directoryReady = false;

  constructor(options: LocalFileStoreOptions) {
    this.path = options.path;
    this.dataId = options.dataId;
    this.log = options.log;
    this.journalPath = `${options.path}.journal`;
    this.#lockPath = `${options.path}.lock`;
    this.#writeDelay = options.writeDelay ?? 0;
    this.fileMode = options.fileMode ?? 0o600;
    this.directoryMode = options.directoryMode ?? 0o700;
    this.refreshIntervalMs = options.refreshIntervalMs ?? 1000;
    this.#onDirty = options.onDirty ?? noop;
    this.#onClean = options.onClean ?? noop;
    this.#onJournal = options.onJournal ?? noop;
  }

  // --- Reading --------------------------------------------------------------------------------------

  /** Loads the file, or `legacyPath` (a file the Python library wrote) when there is none of ours. */
  load(legacyPath?: string): void {
    const sealed = leftovers(this.journalPath, isAlive, false);
    let state = this.#readFile(sealed);
    // Unreadable but still changing: another program is writing it. Give it a moment.
    for (let attempt = 0; state === "busy" && attempt < 5; attempt++) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      state = this.#readFile(sealed);
    }
    if (state !== "missing" || legacyPath === undefined || legacyPath === this.path || this.#table.size > 0) return;
    let text: string;
    try {
      text = fs.readFileSync(legacyPath, "utf8");
    } catch (error) {
      if (!isNotFound(error)) this.log.once("warn", `unreadable:${legacyPath}`, `cannot read cache file ${legacyPath} (${describe(error)}); starting with an empty cache. Results are still returned.`);
      return;
    }
    try {
      this.#applyFile(text, legacyPath, new Set());
    } catch (error) {
      if (isSettled(legacyPath)) setAside(legacyPath, error, this.log, false);
    }
  }

  /**
   * Merges what other processes wrote since this one last looked: the whole file if it changed, else
   * the journal lines added since. Returns whether anything was new. Costs two `stat`s otherwise.
   */
  refresh(): boolean {
    if (this.#frozen) return false;
    this.checkAt = Date.now() + this.refreshIntervalMs;
    if (this.#replaced !== undefined) this.#checkReplaced();
    if (this.#known !== "" && fileIdentity(this.path) === this.#known) return this.#applyJournal(this.journalPath, undefined);
    return this.#readFile() === "read";
  }

  /**
   * Reads the file, the journals a dead fold left sealed, and the journal, merging them into memory.
   * "busy": the file is unreadable but still changing; "missing": there is none.
   */
  #readFile(sealed: string[] = []): "read" | "missing" | "busy" | "aside" {
    for (let attempt = 0; ; attempt++) {
      const identity = fileIdentity(this.path);
      let text: string | undefined;
      const onDisk = new Set<string>();
      let ours = false;
      try {
        text = fs.readFileSync(this.path, "utf8");
        ours = this.#applyFile(text, this.path, onDisk);
      } catch (error) {
        if (!isNotFound(error)) {
          // Not JSON, and changed within the last moments: another program is writing it in place.
          if (error instanceof SyntaxError && !isSettled(this.path)) {
            this.#fileBusy = true;
            return "busy";
          }
          this.#fileBusy = false;
          if (!setAside(this.path, error, this.log, true)) this.#frozen = true;
          this.#known = fileIdentity(this.path);
          this.#fileBytes = 0;
          this.#writeBackWhole();
          return "aside";
        }
      }
      this.#fileBusy = false;
      this.#fileIsOurs = ours || text === undefined;
      for (const path of sealed) this.#applyJournal(path, onDisk);
      this.#journalKnown = "";
      this.#applyJournal(this.journalPath, onDisk);
      // Replaced again while we read (a fold by another process)? Read the new one: the journal we
      // read may belong to it.
      if (fileIdentity(this.path) !== identity && attempt < 3) continue;
      // A rewrite by this library leaves out what was removed; another program's rewrite (no marker)
      // only leaves out what it did not know: that is written back, never taken as removed.
      if (ours) this.#table.dropMissing(onDisk);
      else if (text !== undefined && this.#table.markMissing(onDisk)) this.markDirty();
      this.#known = identity;
      const hadFile = this.#fileBytes > 0;
      this.#fileBytes = text === undefined ? 0 : Buffer.byteLength(text);
      if (text === undefined) {
        if (hadFile && this.#table.size > 0) this.#writeBackWhole(); // deleted under us
        return onDisk.size > 0 ? "read" : "missing";
      }
      return "read";
    }
  }

  #writeBackWhole(): void {
    this.#table.markAllChanged();
    this.markDirty();
  }

  /** Merges one file's text; returns whether this library wrote it (its marker). Throws if unusable. */
  #applyFile(text: string, source: string, onDisk: Set<string>): boolean {
    const table = this.#table;
    const parsed = parseCacheFile(text, (key, raw, time, async, meta) => {
      onDisk.add(key);
      table.adopt(key, raw, time, async, meta);
    });
    table.adoptClears(parsed.clears);
    table.adoptVariables(variablesOf(parsed.variables, this.log, source), parsed.variablesTime);
    if (parsed.skipped > 0) {
      this.log.once("warn", `skipped:${source}`, `${parsed.skipped} entr${parsed.skipped === 1 ? "y" : "ies"} of ${source} had no value or no readable date and were dropped.`);
    }
    return parsed.ours;
  }

  /**
   * Applies a journal's complete lines: the live journal from where this process left off, a sealed one
   * whole. Returns whether there was anything to apply.
   */
  #applyJournal(path: string, onDisk: Set<string> | undefined, from = 0): boolean {
    const live = path === this.journalPath;
    let offset = from;
    if (live) {
      const { identity, size } = journalIdentity(path);
      if (identity !== this.#journalKnown) {
        this.#journalKnown = identity;
        this.#journalOffset = 0;
      }
      if (size <= this.#journalOffset) return false;
      offset = this.#journalOffset;
    }
    const end = readJournalLines(path, offset, (line) => this.#applyOp(parseJournalLine(line), onDisk));
    if (live) this.#journalOffset = end;
    return end > offset;
  }

  #applyOp(op: JournalOp | undefined, onDisk: Set<string> | undefined): void {
    if (op === undefined) return;
    const table = this.#table;
    if (op.kind === "set") {
      onDisk?.add(op.key);
      table.adopt(op.key, op.raw, op.time, op.async, op.meta);
    } else if (op.kind === "del") {
      op.keys.forEach((key, i) => {
        onDisk?.delete(key);
        table.adoptRemoval(key, op.upto[i]);
      });
    } else if (op.kind === "clear") {
      table.adoptClears(op.clears);
    } else {
      table.adoptVariables(variablesOf(op.variables, this.log, this.journalPath), op.time);
    }
  }

  // --- The table ------------------------------------------------------------------------------------

  /** The entry of `key`, live or not. */
  get(key: string): StoredEntry | undefined {
    return this.#table.get(key);
  }

  /** Every entry held in memory, in least-recently-used order. */
  allEntries(): IterableIterator<[string, StoredEntry]> {
    return this.#table.entries();
  }

  get size(): number {
    return this.#table.size;
  }

  get variables(): ReadonlyMap<string, string> {
    return this.#table.variables;
  }

  get maxEntries(): number | undefined {
    return this.#table.maxEntries;
  }

  set maxEntries(bound: number | undefined) {
    this.#table.maxEntries = bound;
  }

  /** The value of an entry, decoded on first use. Throws if the stored form cannot be decoded. */
  valueOf(entry: StoredEntry): unknown {
    if (!entry.decoded) {
      entry.value = decodeValue(entry.raw);
      entry.decoded = true;
    }
    return entry.value;
  }

  set(key: string, entry: StoredEntry): void {
    if (this.#table.set(key, entry)) this.markDirty();
  }

  /** Marks an entry as just used, for the `maxEntries` bound. */
  touch(key: string, entry: StoredEntry): void {
    this.#table.touch(key, entry);
  }

  /** The longest TTL any instance used for a function in this process, if it was called. */
  ttlFor(fn: string): number | undefined {
    return this.#ttls.get(fn);
  }

  /**
   * Records a function's TTL, so compaction can drop its expired entries. Instances sharing the store
   * may use different TTLs for one function: the longest one decides what has expired.
   */
  noteTtl(fn: string, ttlMs: number): void {
    const known = this.#ttls.get(fn);
    if (known === undefined || known < ttlMs) this.#ttls.set(fn, ttlMs);
  }

  /** The attributes to write from now on (from `jsonCacheSave()`). */
  setVariables(variables: Map<string, string>): void {
    this.#table.setVariables(variables, Date.now());
    this.markDirty();
  }

  /** Attributes stored by an earlier version that are excluded now are dropped from the file. */
  forgetVariables(names: ReadonlySet<string>): void {
    if (names.size === 0 || ![...names].some((name) => this.#table.variables.has(name))) return;
    const kept = new Map([...this.#table.variables].filter(([name]) => !names.has(name)));
    this.#table.setVariables(kept, this.#table.variablesTime + 1);
    this.markDirty();
  }

  /**
   * Clears entries (all, or one function's): every one computed before now, including those other
   * processes wrote and this one has not seen yet; the clear is persisted and reaches every process
   * that shares the file. Returns the removed keys this process held.
   */
  clear(fn?: string, at = Date.now()): string[] {
    const removed = this.#table.clear(fn, at);
    this.markDirty();
    return removed;
  }

  /**
   * A clear that happened at `beforeMs` (here or on another machine): every entry of `fn` (of every
   * function when `fn` is undefined) computed before that instant is removed, and the removal persisted.
   * Returns the removed keys.
   */
  clearBefore(fn: string | undefined, beforeMs: number): string[] {
    return this.clear(fn, beforeMs);
  }

  /** Removes the given entries (those present) and persists the removal. Returns the removed keys. */
  removeKeys(keys: Iterable<string>): string[] {
    const removed = this.#table.removeKeys(keys);
    if (removed.length > 0) this.markDirty();
    return removed;
  }

  // --- Writing --------------------------------------------------------------------------------------

  markDirty(): void {
    if (this.#frozen) return;
    if (this.#timer === undefined && this.#writing === undefined) {
      this.#timer = setTimeout(() => void this.flush(), this.#writeDelay);
      this.#timer.unref();
    }
    this.#onDirty(this);
  }

  get dirty(): boolean {
    return this.#table.changed;
  }

  /**
   * Writes the changes. Resolves `true` once they are on disk (fsynced when `durable`), `false` if the
   * write failed (logged once per cause; retried on a timer).
   */
  flush(durable = false): Promise<boolean> {
    this.#clearTimer();
    if (this.#frozen) return Promise.resolve(false);
    if (this.#writing === undefined) return this.#startWrite(durable);
    this.#queuedDurable ||= durable;
    this.#queued ??= this.#writing.then(() => {
      this.#queued = undefined;
      const queuedDurable = this.#queuedDurable;
      this.#queuedDurable = false;
      return this.#startWrite(queuedDurable);
    });
    return this.#queued;
  }

  #startWrite(durable: boolean): Promise<boolean> {
    const write = inWriteSlot(() => this.#write(durable)).then((written) => {
      this.#writing = undefined;
      if (!this.#table.changed) this.#onClean(this);
      else if (written && this.#queued === undefined) this.markDirty();
      else if (!written) this.#retryLater();
      return written;
    });
    this.#writing = write;
    return write;
  }

  /** A fold when the file is small or the journal has outgrown it (and the lock is free); else an append. */
  async #write(durable: boolean): Promise<boolean> {
    const taken = this.#table.take();
    this.#taken = taken;
    try {
      await this.#ensureDirectory();
      const wantFold = this.#fileBytes < JOURNAL_FROM_BYTES || fileSize(this.journalPath) > this.#fileBytes;
      if (!(wantFold && (await this.#fold(durable)))) await this.#append(taken, durable);
      this.#table.written();
      this.#failures = 0;
      return true;
    } catch (error) {
      this.#table.giveBack(taken);
      this.#directoryReady = false; // it may have been removed under us: create it again next time
      this.#failures++;
      this.#writeFailed(error);
      return false;
    } finally {
      this.#taken = undefined;
    }
  }

  #retryLater(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => void this.flush(), retryDelayMs(this.#failures));
    this.#timer.unref();
  }

  /** Appends the changes as journal lines; no lock needed. */
  async #append(changes: Changes, durable: boolean): Promise<void> {
    const lines = this.#journalLines(changes);
    if (lines.length === 0) return;
    const result = await appendToJournal(this.journalPath, lines, this.fileMode, durable);
    this.#afterAppend(result.at, result.bytes);
  }

  #afterAppend(at: number, bytes: number): void {
    // Our lines are known to be applied only if they follow what this process applied already; else
    // they are read again at the next refresh (harmless: an entry is taken only if newer).
    if (at === this.#journalOffset && journalIdentity(this.journalPath).identity === this.#journalKnown) this.#journalOffset += bytes;
    this.#appended = true;
    this.#countWritten(bytes);
    this.#onJournal(this);
  }

  /** The journal lines for what changed: entries set, entries removed, clears, attributes saved. */
  #journalLines(changes: Changes): string {
    let lines = "";
    for (const key of changes.sets) {
      const text = this.#entryTextOf(key);
      if (text !== undefined) lines += setLine(key, text);
    }
    if (changes.removed.size > 0) lines += deleteLine(changes.removed);
    if (changes.clears.size > 0) lines += clearLine(changes.clears);
    if (changes.variables) lines += variablesLine(this.#table.variables as Map<string, string>, this.#table.variablesTime);
    return lines;
  }

  /** An entry's line, or `undefined` (gone, in memory only, or nested too deeply to write: dropped once, with a warning). */
  #entryTextOf(key: string): string | undefined {
    const entry = this.#table.get(key);
    if (entry === undefined || !entry.persistent) return undefined;
    try {
      entry.text ??= entryText(entry.raw, entry.time, entry.async, entry.meta);
      return entry.text;
    } catch (error) {
      this.#table.removeKeys([key]);
      this.log.once("warn", `entry-text:${this.path}`, `an entry of ${this.path} (${key.slice(0, 80)}) cannot be written (${describe(error)}) and was dropped.`);
      return undefined;
    }
  }

  /**
   * Under the lock: seals the journal, merges everything on disk, writes the whole file and removes
   * the sealed journals. Returns false, having written nothing, if the lock or the file is busy.
   */
  async #fold(durable: boolean): Promise<boolean> {
    const held = this.#lock(() => tryLock(this.#lockPath, this.fileMode));
    if (held === undefined) return false;
    this.#foldLock = held;
    let folded = false;
    try {
      const sealed = this.#sealAndRead(held);
      if (sealed === undefined) return false;
      const text = this.#snapshot();
      try {
        await writeSnapshot(this.path, text, { durable, mode: this.fileMode, beforeCommit: () => this.#beforeCommit(held) });
      } catch (error) {
        if (!(error instanceof FileChangedError)) throw error;
        this.#known = ""; // read it again; the changes go to the journal meanwhile
        return false;
      }
      this.#afterFold(text, sealed);
      folded = true;
      return true;
    } finally {
      if (!folded) this.#unseal();
      this.#foldLock = undefined;
      held.release();
    }
  }

  /**
   * Seals the journal and merges everything on disk; the sealed journals, or `undefined` if the file is
   * busy. Leftovers of dead processes (sealed journals, temp files) are looked for once per directory
   * and after taking over a dead holder's lock: only a fold that died can leave them.
   */
  #sealAndRead(held: HeldLock, abandoned = false): string[] | undefined {
    const left = leftovers(this.journalPath, isAlive, held.tookOver || abandoned);
    const unchanged = this.#known !== "" && fileIdentity(this.path) === this.#known;
    const sealedNow = this.#sealNow();
    if (sealedNow !== undefined) this.#ownSealed.push(sealedNow.path);
    const sealed = [...new Set([...left, ...this.#ownSealed])];
    if (unchanged) {
      // The file is as this process last read or wrote it: only the journals are new to it.
      for (const path of sealed) this.#applyJournal(path, undefined, path === sealedNow?.path ? sealedNow.offset : 0);
      this.#journalKnown = "";
      this.#applyJournal(this.journalPath, undefined);
      return sealed;
    }
    this.#known = "";
    if (this.#readFile(sealed) === "busy") return undefined;
    return sealed;
  }

  /**
   * A fold that did not complete puts back what it sealed, so every process goes on reading those lines
   * from the journal; what cannot be put back now is folded by this process's next fold.
   */
  #unseal(): void {
    this.#ownSealed = this.#ownSealed.filter((sealed) => {
      try {
        unsealJournal(sealed, this.journalPath, this.fileMode);
        return false;
      } catch {
        return true;
      }
    });
    this.#journalKnown = ""; // reread the journal: its lines are applied again, harmlessly
  }

  /** Seals the live journal; where it is now, and how much of it this process had applied already. */
  #sealNow(): { path: string; offset: number } | undefined {
    const { identity } = journalIdentity(this.journalPath);
    const offset = identity === this.#journalKnown ? this.#journalOffset : 0;
    const path = sealJournal(this.journalPath);
    return path === undefined ? undefined : { path, offset };
  }

  /** The lock, or `undefined` when it is busy or unusable (then writes append, and the fold waits; warned once). */
  #lock(take: () => HeldLock | undefined): HeldLock | undefined {
    try {
      return take();
    } catch (error) {
      if (!(error instanceof LockUnusableError)) throw error;
      this.log.once("warn", `lock:${this.#lockPath}`, `${error.message}. Changes are appended to ${this.journalPath} meanwhile (nothing is lost), but the journal is not folded into the cache file until the lock can be used.`);
      return undefined;
    }
  }

  /**
   * Right before a fold's rename: the lock must still be ours, and the file the one that was merged (a
   * program rewriting it in place may have started since). Another program's file being replaced is
   * kept open and watched for writes that still reach it.
   */
  #beforeCommit(held: HeldLock): void {
    if (!held.stillHeld()) throw new LockLostError(this.#lockPath);
    if (fileIdentity(this.path) !== this.#known) throw new FileChangedError(this.path);
    if (!this.#fileIsOurs) this.#watchReplaced();
  }

  #watchReplaced(): void {
    this.#closeReplaced();
    try {
      const fd = fs.openSync(this.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      const stat = fs.fstatSync(fd);
      this.#replaced = { fd, size: stat.size, mtimeMs: stat.mtimeMs };
    } catch {
      // Gone already: nothing can be written into it.
    }
  }

  /**
   * Another program that opened the file before a fold replaced it may still have written into the old
   * file. What it wrote is merged, and what this process lacked is written to the current file.
   */
  #checkReplaced(): void {
    const replaced = this.#replaced;
    if (replaced === undefined) return;
    let stat: fs.Stats;
    try {
      stat = fs.fstatSync(replaced.fd);
    } catch {
      return this.#closeReplaced();
    }
    if (stat.size === replaced.size && stat.mtimeMs === replaced.mtimeMs) {
      if (Date.now() - stat.mtimeMs >= SETTLE_MS) this.#closeReplaced();
      return;
    }
    const buffer = Buffer.alloc(stat.size);
    const read = fs.readSync(replaced.fd, buffer, 0, buffer.length, 0);
    try {
      const keys = new Set<string>();
      parseCacheFile(buffer.subarray(0, read).toString("utf8"), (key, raw, time, async, meta) => {
        if (this.#table.adopt(key, raw, time, async, meta)) keys.add(key);
      });
      if (this.#table.markChanged(keys)) this.markDirty();
      this.#closeReplaced();
    } catch {
      // Still being written: looked at again at the next refresh.
      replaced.size = stat.size;
      replaced.mtimeMs = stat.mtimeMs;
    }
  }

  #closeReplaced(): void {
    if (this.#replaced === undefined) return;
    try {
      fs.closeSync(this.#replaced.fd);
    } catch {
      // Closed already.
    }
    this.#replaced = undefined;
  }

  #afterFold(text: string, sealed: string[]): void {
    for (const path of sealed) removeQuietly(path);
    forgetLeftovers(this.journalPath);
    this.#ownSealed = [];
    this.#known = fileIdentity(this.path);
    this.#fileBytes = Buffer.byteLength(text);
    this.#appended = false;
    this.#countWritten(this.#fileBytes);
  }

  #countWritten(bytes: number): void {
    this.bytesWritten += bytes;
    globalMetrics.bytesWritten += bytes;
  }

  /** The file text for the current state, without expired entries; every pending change is in it. */
  #snapshot(): string {
    this.#pruneExpired();
    this.#table.absorb();
    const table = this.#table;
    return serializeCacheFile(this.dataId, this.#entryLines(), table.variables, Date.now(), { variablesTime: table.variablesTime, clears: table.clears });
  }

  /** Drops entries whose function's TTL (as called in this process) has passed. */
  #pruneExpired(): void {
    if (this.#ttls.size === 0) return;
    const now = Date.now();
    const expired: string[] = [];
    for (const [key, entry] of this.#table.entries()) {
      const ttl = entry.meta?.ttlMs ?? this.#ttls.get(functionOfKey(key));
      if (ttl !== undefined && now - entry.time >= ttl) expired.push(key);
    }
    this.#table.removeKeys(expired);
  }

  *#entryLines(): Generator<[string, string]> {
    for (const [key] of [...this.#table.entries()]) {
      const text = this.#entryTextOf(key);
      if (text !== undefined) yield [key, text];
    }
  }

  async #ensureDirectory(): Promise<void> {
    if (this.#directoryReady && fs.existsSync(dirname(this.path))) return;
    await fsp.mkdir(dirname(this.path), { recursive: true, mode: this.directoryMode });
    this.#directoryReady = true;
  }

  #writeFailed(error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name ?? "error";
    this.log.once("warn", `write:${this.path}:${code}`, `cannot write cache file ${this.path} (${describe(error)}). Results are still returned; the write is retried.`);
  }

  /**
   * Synchronous write for process exit, when no asynchronous work can run. The changes are appended to
   * the journal first (no lock needed, so nothing waits to be safe); then, if the lock comes free within
   * a second, the journal is folded into the file, so the file is complete for other readers (the
   * Python library reads only the file). A write still in flight never finishes once the process exits:
   * its changes are written again.
   */
  flushSync(): void {
    this.#clearTimer();
    if (this.#frozen) return;
    if (this.#taken !== undefined) this.#table.giveBack(this.#taken);
    const abandoned = this.#foldLock;
    if (!this.#table.changed && !this.#appended && abandoned === undefined && fileSize(this.journalPath) === 0) return;
    const taken = this.#table.take();
    try {
      fs.mkdirSync(dirname(this.path), { recursive: true, mode: this.directoryMode });
      const lines = this.#journalLines(taken);
      if (lines.length > 0) {
        const result = appendToJournalSync(this.journalPath, lines, this.fileMode);
        this.#afterAppend(result.at, result.bytes);
      }
      this.#table.written();
    } catch (error) {
      this.#table.giveBack(taken);
      this.#writeFailed(error);
      return;
    }
    if (abandoned === undefined && fileSize(this.journalPath) === 0) return;
    // A fold of this process that the exit cut short still holds the lock: it is finished here.
    const held = abandoned ?? this.#lock(() => lockSync(this.#lockPath, EXIT_LOCK_WAIT_MS, this.fileMode));
    if (held === undefined) return; // the holder folds what is in the journal, or the next writer does
    try {
      // Processes exiting beside this one may append while it folds: fold again while they do.
      for (let round = 0; round < 3; round++) {
        if (!this.#foldSync(held, round === 0 && abandoned !== undefined)) break;
        if (fileSize(this.journalPath) === 0) break;
      }
    } catch (error) {
      this.#writeFailed(error);
    } finally {
      held.release();
    }
  }

  /** One fold at exit, under `held`; whether it completed. */
  #foldSync(held: HeldLock, abandoned: boolean): boolean {
    this.#table.take();
    let folded = false;
    try {
      const sealed = this.#sealAndRead(held, abandoned);
      if (sealed === undefined) return false;
      const text = this.#snapshot();
      writeSnapshotSync(this.path, text, { mode: this.fileMode, beforeCommit: () => this.#beforeCommit(held) });
      this.#afterFold(text, sealed);
      folded = true;
      return true;
    } catch (error) {
      if (error instanceof FileChangedError) return false;
      throw error;
    } finally {
      if (!folded) this.#unseal();
      this.#table.written();
    }
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Whether the file is being rewritten by another program right now (unreadable, still changing). */
  get fileBusy(): boolean {
    return this.#fileBusy;
  }
}

/** Attributes as read from a file or journal line, kept as the JSON text of each encoded value. */
function variablesOf(variables: Record<string, unknown>, log: CacheLog, source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, raw] of Object.entries(variables)) {
    try {
      out.set(name, JSON.stringify(raw));
    } catch (error) {
      log.once("warn", `attribute:${source}:${name}`, `the attribute ${name} in ${source} cannot be used (${describe(error)}) and is left out.`);
    }
  }
  return out;
}

function fileSize(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch {
    return 0;
  }
}

/** What identifies one version of a file: a rename gives a new inode, a rewrite a new size or mtime. */
function fileIdentity(path: string): string {
  try {
    const stat = fs.statSync(path, { bigint: true });
    // Inode numbers are reused and mtimes are coarse: the birth time tells two files apart too.
    return `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.birthtimeNs}`;
  } catch {
    return "none";
  }
}

/** Which journal file this is (it only grows, so its size is not part of its identity), and its size. */
function journalIdentity(path: string): { identity: string; size: number } {
  try {
    const stat = fs.lstatSync(path, { bigint: true });
    return { identity: `${stat.dev}:${stat.ino}:${stat.birthtimeNs}`, size: Number(stat.size) };
  } catch {
    return { identity: "none", size: 0 };
  }
}

/** No file there: it does not exist, or a parent in its path is not a directory (the write will say so). */
function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

function removeQuietly(path: string): void {
  try {
    fs.rmSync(path, { force: true });
  } catch {
    // Nothing to clean up where nothing could be written.
  }
}

function noop(): void {}
