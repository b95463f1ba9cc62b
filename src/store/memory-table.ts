/**
 * The in-memory table of one cache: its entries, attributes and clear times, and what changed here
 * since the last write (the changes a write takes and, if it fails, gives back).
 *
 * Every change carries a time, so merging what other processes wrote is order-free: an entry is taken
 * only if it is newer than ours; a removal removes only the entry it saw (or an older one); a clear
 * removes what was computed up to its time (the same millisecond included), here and in every later merge; attributes are taken only if
 * they were saved later than ours.
 */
import type { EntryMeta } from "./cache-file.js";
import { loadedEntry, type StoredEntry } from "./stored-entry.js";
import { functionOfKey } from "../keys/call-key.js";
import { ALL_FUNCTIONS } from "./journal.js";
import { EntryMap } from "./entry-map.js";

/** What changed in this process and is not on disk yet. */
export class Changes {
  readonly sets = new Set<string>();
  /** Removed keys → the time of the entry removed. */
  readonly removed = new Map<string, number>();
  readonly clears = new Map<string, number>();
  variables = false;

  get empty(): boolean {
    return this.sets.size === 0 && this.removed.size === 0 && this.clears.size === 0 && !this.variables;
  }

  reset(): void {
    // A few keys are deleted one by one: `clear()` would allocate new tables.
    if (this.sets.size > 16) this.sets.clear();
    else for (const key of this.sets) this.sets.delete(key);
    if (this.removed.size > 0) this.removed.clear();
    if (this.clears.size > 0) this.clears.clear();
    this.variables = false;
  }
}

const MAX_TOMBSTONES = 10_000;

export class MemoryTable {
  readonly #entries = new EntryMap<StoredEntry>();
  readonly #clears = new Map<string, number>();
  /**
   * Removals seen (here or on disk): key → time of the entry removed, so a set line read later that is
   * not newer does not bring the entry back, whatever order lines are read in. The newest
   * `MAX_TOMBSTONES` are kept.
   */
  readonly #tombstones = new Map<string, number>();
  /** Persisted attributes: name → JSON text of the encoded value. */
  #variables = new Map<string, string>();
  /** When `#variables` were saved (epoch ms; 0 when unknown). */
  #variablesTime = 0;
  #changes = new Changes();
  /** Changes taken by a write that has not finished: still ours, not yet on disk. */
  #writing: Changes | undefined;
  /** The emptied changes of the last write, reused by the next `take()`. */
  #spare: Changes | undefined;
  #maxEntries: number | undefined;

  /** At most this many entries; the least recently used are evicted (so the entries keep one order). */
  get maxEntries(): number | undefined {
    return this.#maxEntries;
  }

  set maxEntries(bound: number | undefined) {
    this.#maxEntries = bound;
    this.#entries.keepOrder(bound !== undefined);
  }

  get(key: string): StoredEntry | undefined {
    return this.#entries.get(key);
  }

  entries(): IterableIterator<[string, StoredEntry]> {
    return this.#entries.entries();
  }

  get size(): number {
    return this.#entries.size;
  }

  get variables(): ReadonlyMap<string, string> {
    return this.#variables;
  }

  get variablesTime(): number {
    return this.#variablesTime;
  }

  get clears(): ReadonlyMap<string, number> {
    return this.#clears;
  }

  /** Whether there are changes no write has taken yet. */
  get changed(): boolean {
    return !this.#changes.empty;
  }

  // --- Changes made in this process -----------------------------------------------------------------

  /** Stores an entry computed or fetched here; returns whether it is to be written. */
  set(key: string, entry: StoredEntry): boolean {
    // Under maxEntries, re-inserted last: the most recently used (else the order does not matter).
    if (this.#maxEntries !== undefined) this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#changes.removed.delete(key);
    if (this.#maxEntries !== undefined && this.#entries.size > this.#maxEntries) this.#evict();
    if (entry.persistent) this.#changes.sets.add(key);
    return entry.persistent || this.changed;
  }

  /** Marks an entry as just used, for the `maxEntries` bound. */
  touch(key: string, entry: StoredEntry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
  }

  #evict(): void {
    let excess = this.#entries.size - (this.#maxEntries as number);
    for (const key of this.#entries.keys()) {
      if (excess-- <= 0) break;
      this.#removeOne(key);
    }
  }

  /** Removes the given entries; returns the keys that were present. */
  removeKeys(keys: Iterable<string>): string[] {
    const removed: string[] = [];
    for (const key of keys) if (this.#removeOne(key)) removed.push(key);
    return removed;
  }

  #removeOne(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    this.#changes.sets.delete(key);
    if (entry.persistent) this.#changes.removed.set(key, entry.time);
    this.#tombstone(key, entry.time);
    return true;
  }

  #tombstone(key: string, upto: number): void {
    const known = this.#tombstones.get(key);
    if (known !== undefined && known >= upto) return;
    this.#tombstones.delete(key);
    this.#tombstones.set(key, upto);
    if (this.#tombstones.size > MAX_TOMBSTONES) this.#tombstones.delete(this.#tombstones.keys().next().value as string);
  }

  /** A clear at `at`: every entry of `fn` (all when undefined) computed up to then is gone. Returns the removed keys. */
  clear(fn: string | undefined, at: number): string[] {
    const name = fn ?? ALL_FUNCTIONS;
    this.#changes.clears.set(name, Math.max(at, this.#changes.clears.get(name) ?? 0));
    const dropped = this.#dropCleared(name, at);
    for (const key of dropped) this.#changes.sets.delete(key);
    this.#noteClear(name, at);
    return dropped;
  }

  setVariables(variables: Map<string, string>, time: number): void {
    this.#variables = variables;
    this.#variablesTime = time;
    this.#changes.variables = true;
  }

  // --- What other processes wrote -------------------------------------------------------------------

  /** An entry read from disk: taken unless cleared, removed here, or older than ours. Returns whether taken. */
  adopt(key: string, raw: unknown, time: number, async: boolean, meta: EntryMeta | undefined): boolean {
    if (this.isCleared(key, time)) return false;
    const removedAt = this.#tombstones.get(key);
    if (removedAt !== undefined && time <= removedAt) return false;
    const mine = this.#entries.get(key);
    if (mine !== undefined) {
      if (mine.time >= time) return false;
      if (this.#maxEntries !== undefined) this.#entries.delete(key); // re-inserted last
    }
    this.#entries.set(key, loadedEntry(raw, time, async, meta));
    return true;
  }

  /** A removal read from disk: the entry goes if it is the one removed or older (unknown time: any). */
  adoptRemoval(key: string, upto: number | undefined): void {
    if (upto !== undefined) this.#tombstone(key, upto);
    const entry = this.#entries.get(key);
    if (entry === undefined || (upto !== undefined && entry.time > upto)) return;
    if (upto === undefined && this.isMine(key)) return;
    this.#entries.delete(key);
  }

  /** Clear times read from disk. */
  adoptClears(clears: ReadonlyMap<string, number>): void {
    for (const [name, at] of clears) {
      if ((this.#clears.get(name) ?? -1) >= at) continue;
      for (const key of this.#dropCleared(name, at)) this.#changes.sets.delete(key);
      this.#noteClear(name, at);
    }
  }

  /** Attributes read from disk, saved at `time`: taken if newer than ours. */
  adoptVariables(variables: Map<string, string>, time: number): void {
    if (this.#changes.variables || this.#writing?.variables) return;
    if (time < this.#variablesTime) return;
    this.#variables = variables;
    this.#variablesTime = time;
  }

  /** Entries seen on disk before that are gone from a file this library rewrote: removed by another process. */
  dropMissing(onDisk: Set<string>): void {
    for (const [key, entry] of this.#entries) {
      if (entry.persistent && !onDisk.has(key) && !this.isMine(key)) this.#entries.delete(key);
    }
  }

  /** These entries are to be written (taken from a file another program wrote). Returns whether any are. */
  markChanged(keys: Iterable<string>): boolean {
    let any = false;
    for (const key of keys) {
      if (this.#entries.get(key)?.persistent !== true) continue;
      this.#changes.sets.add(key);
      any = true;
    }
    return any;
  }

  /** Entries held here that a foreign rewrite left out become changes to write back; returns whether any did. */
  markMissing(onDisk: Set<string>): boolean {
    let any = false;
    for (const [key, entry] of this.#entries) {
      if (entry.persistent && !onDisk.has(key) && !this.isMine(key)) {
        this.#changes.sets.add(key);
        any = true;
      }
    }
    return any;
  }

  /** Whether an entry computed at `time` is not newer than a clear of its function. */
  isCleared(key: string, time: number): boolean {
    if (this.#clears.size === 0) return false;
    const all = this.#clears.get(ALL_FUNCTIONS) ?? -1;
    if (time <= all) return true;
    const own = this.#clears.get(functionOfKey(key));
    return own !== undefined && time <= own;
  }

  /** Set here and not known to be on disk yet. */
  isMine(key: string): boolean {
    return this.#changes.sets.has(key) || this.#writing?.sets.has(key) === true;
  }

  #dropCleared(name: string, at: number): string[] {
    const dropped: string[] = [];
    for (const [key, entry] of this.#entries) {
      if (entry.time <= at && (name === ALL_FUNCTIONS || functionOfKey(key) === name)) {
        this.#entries.delete(key);
        dropped.push(key);
      }
    }
    return dropped;
  }

  #noteClear(name: string, at: number): void {
    if ((this.#clears.get(name) ?? -1) < at) this.#clears.set(name, at);
  }

  // --- Writes ---------------------------------------------------------------------------------------

  /** The changes a write is about to persist; they stay "ours" until `written` or `giveBack`. */
  take(): Changes {
    const taken = this.#changes;
    this.#changes = this.#spare ?? new Changes();
    this.#spare = undefined;
    this.#writing = taken;
    return taken;
  }

  /** The changes taken are on disk: their (emptied) sets serve the next write. */
  written(): void {
    const written = this.#writing;
    this.#writing = undefined;
    if (written !== undefined) {
      written.reset();
      this.#spare = written;
    }
  }

  /** A write failed: its changes are pending again (unless overtaken by newer ones). */
  giveBack(taken: Changes): void {
    this.#writing = undefined;
    for (const key of taken.sets) if (this.#entries.has(key)) this.#changes.sets.add(key);
    for (const [key, time] of taken.removed) if (!this.#entries.has(key)) this.#changes.removed.set(key, time);
    for (const [name, at] of taken.clears) this.#changes.clears.set(name, Math.max(at, this.#changes.clears.get(name) ?? 0));
    this.#changes.variables ||= taken.variables;
  }

  /** Every change becomes pending: a whole file is to be written (the file vanished, or clearCache). */
  markAllChanged(): void {
    for (const [key, entry] of this.#entries) if (entry.persistent) this.#changes.sets.add(key);
    this.#changes.variables = true;
  }
}
