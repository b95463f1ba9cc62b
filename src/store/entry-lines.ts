/**
 * What a store writes, made from its memory table: the journal lines of a write's changes, and the
 * whole file's text for a fold. An entry's line is made once and kept (`entry.text`) when the entry is
 * written to the journal; the lines of entries read from disk are made for a fold's chunk and dropped.
 * An entry whose line cannot be made (nested too deeply) is dropped from the table, with one warning:
 * the rest of the write goes on.
 */
import type { CacheLog } from "../logger.js";
import { functionOfKey } from "../keys/call-key.js";
import { entryText, serializeCacheFileChunks } from "./cache-file.js";
import { clearLine, deleteLine, setLine, variablesLine } from "./journal.js";
import type { Changes, MemoryTable } from "./memory-table.js";
import { describe } from "./quarantine.js";
import type { StoredEntry } from "./stored-entry.js";

/** A fold writes the file in chunks of at most this many characters… */
const SNAPSHOT_CHUNK = 256 * 1024;
/** …each made in at most about this many ms (making entries' lines is most of a fold's work), the event loop running between them. */
const SNAPSHOT_SLICE_MS = 5;

export class EntryLines {
  constructor(
    private readonly table: MemoryTable,
    /** TTL of each function called in this process: a fold leaves out the entries it expired. */
    private readonly ttls: ReadonlyMap<string, number>,
    private readonly log: CacheLog,
    /** The cache file's path, for warnings. */
    private readonly path: string,
  ) {}

  /** The journal lines for what changed: entries set, entries removed, clears, attributes saved. */
  journalLines(changes: Changes): string {
    let lines = "";
    for (const key of changes.sets) {
      const text = this.#entryTextOf(key);
      if (text !== undefined) lines += setLine(key, text);
    }
    if (changes.removed.size > 0) lines += deleteLine(changes.removed);
    if (changes.clears.size > 0) lines += clearLine(changes.clears);
    if (changes.variables) lines += variablesLine(this.table.variables as Map<string, string>, this.table.variablesTime);
    return lines;
  }

  /** An entry's line, or `undefined` (gone, in memory only, or nested too deeply to write: dropped once, with a warning). */
  #entryTextOf(key: string): string | undefined {
    const entry = this.table.get(key);
    if (entry === undefined || !entry.persistent) return undefined;
    try {
      entry.text ??= entryText(entry.raw, entry.time, entry.async, entry.meta);
      return entry.text;
    } catch (error) {
      this.table.removeKeys([key]);
      this.log.once("warn", `entry-text:${this.path}`, `an entry of ${this.path} (${key.slice(0, 80)}) cannot be written (${describe(error)}) and was dropped.`);
      return undefined;
    }
  }

  /** The file's text for the current state, without expired entries, in chunks made as they are written. */
  snapshot(dataId: string): Iterable<string> {
    const table = this.table;
    return serializeCacheFileChunks(dataId, this.#liveEntryLines(), table.variables, Date.now(), { variablesTime: table.variablesTime, clears: table.clears }, SNAPSHOT_CHUNK, SNAPSHOT_SLICE_MS);
  }

  /**
   * Each entry's line, leaving out (and then removing) those whose function's TTL, as called in this
   * process, has passed. Iterates the table as it is: entries set meanwhile are appended to the journal
   * anyway, and a removal meanwhile is a journal line that applies after the file.
   *
   * The lines of entries read from disk are made for the chunk and not kept: kept, they would double
   * the memory of a large cache after its first fold, and every one of them would be copied by the
   * garbage collector while the fold runs.
   */
  *#liveEntryLines(): Generator<[string, string]> {
    const now = Date.now();
    const ttls = this.ttls;
    const expired: string[] = [];
    for (const [key, entry] of this.table.entries()) {
      const ttl = entry.meta?.ttlMs ?? (ttls.size === 0 ? undefined : ttls.get(functionOfKey(key)));
      if (ttl !== undefined && now - entry.time >= ttl) {
        expired.push(key);
        continue;
      }
      if (!entry.persistent) continue;
      const text = entry.text ?? this.#lineOf(key, entry);
      if (text !== undefined) yield [key, text];
    }
    this.table.removeKeys(expired);
  }

  /** An entry's line, made without keeping it; one that cannot be made goes to `#entryTextOf`, which drops the entry with its warning. */
  #lineOf(key: string, entry: StoredEntry): string | undefined {
    try {
      return entryText(entry.raw, entry.time, entry.async, entry.meta);
    } catch {
      return this.#entryTextOf(key);
    }
  }
}
