/**
 * What is read from disk, merged into the memory table: a cache file's text (whole or in parts), a
 * journal line, what another program wrote into a file a fold replaced. Every change carries a time
 * and the table takes only what is newer (memory-table.ts), so merging late or twice is harmless.
 *
 * Never adopted: an entry whose computation time is more than a day ahead of this clock (a broken or
 * hostile file; it would never expire and would win every merge), a clear time as far ahead (it would
 * void every result until then), attributes saved as far ahead (they would win over every later save),
 * an attribute whose value cannot be used. Each is dropped with one warning per source.
 */
import type { CacheLog } from "../logger.js";
import { stringifyEncoded } from "../encoded-json.js";
import { fromTheFuture } from "../time.js";
import { parseCacheFile } from "./cache-file-reader.js";
import { parseJournalLine, type JournalOp } from "./journal.js";
import type { MemoryTable } from "./memory-table.js";
import { describe } from "./quarantine.js";

export class DiskMerge {
  constructor(
    private readonly table: MemoryTable,
    private readonly log: CacheLog,
    /** Named in the warnings about the journal's lines. */
    private readonly journalPath: string,
  ) {}

  /**
   * Merges one file's text (or one part of it); returns whether this library wrote it (its marker).
   * Adds the keys read to `onDisk`. Throws if the text is unusable.
   */
  file(text: string, source: string, onDisk: Set<string> | undefined): boolean {
    const table = this.table;
    let future = 0;
    const parsed = parseCacheFile(text, (key, raw, time, async, meta) => {
      if (fromTheFuture(time)) {
        future++;
        return;
      }
      onDisk?.add(key);
      table.adopt(key, raw, time, async, meta);
    });
    if (future > 0) {
      this.log.once("warn", `future:${source}`, `${future} entr${future === 1 ? "y" : "ies"} of ${source} claim a computation time more than a day ahead of this clock and were dropped (they would never expire, and would win every merge).`);
    }
    this.#adoptClears(parsed.clears, source);
    this.#adoptVariables(parsed.variables, parsed.variablesTime, source);
    if (parsed.skipped > 0) {
      this.log.once("warn", `skipped:${source}`, `${parsed.skipped} entr${parsed.skipped === 1 ? "y" : "ies"} of ${source} had no value or no readable date and were dropped.`);
    }
    return parsed.ours;
  }

  /** Applies one journal line (an unreadable one is skipped); keeps `onDisk` current with what it sets and removes. */
  line(line: string, onDisk: Set<string> | undefined): void {
    this.#apply(parseJournalLine(line), onDisk);
  }

  /** The entries of a file another program wrote, taken where newer (times from the future never); returns the keys taken. */
  newerIn(text: string): Set<string> {
    const keys = new Set<string>();
    parseCacheFile(text, (key, raw, time, async, meta) => {
      if (!fromTheFuture(time) && this.table.adopt(key, raw, time, async, meta)) keys.add(key);
    });
    return keys;
  }

  /** Clear times, but those more than a day ahead: such a clear would void every result until then. */
  #adoptClears(clears: ReadonlyMap<string, number>, source: string): void {
    let future = 0;
    for (const time of clears.values()) if (fromTheFuture(time)) future++;
    if (future === 0) return this.table.adoptClears(clears);
    this.log.once("warn", `future-clear:${source}`, `${future} clear time${future === 1 ? "" : "s"} of ${source} ${future === 1 ? "is" : "are"} more than a day ahead of this clock and ignored (such a clear would void every result computed until then).`);
    this.table.adoptClears(new Map([...clears].filter(([, time]) => !fromTheFuture(time))));
  }

  /** Attributes saved at `time`, but not when that is more than a day ahead: they would win over every later save. */
  #adoptVariables(variables: Record<string, unknown>, time: number, source: string): void {
    if (fromTheFuture(time)) {
      this.log.once("warn", `future-vars:${source}`, `the attributes in ${source} claim to be saved more than a day ahead of this clock and were ignored (they would win over every later save).`);
      return;
    }
    this.table.adoptVariables(variablesOf(variables, this.log, source), time);
  }

  #apply(op: JournalOp | undefined, onDisk: Set<string> | undefined): void {
    if (op === undefined) return;
    const table = this.table;
    if (op.kind === "set") {
      if (fromTheFuture(op.time)) return;
      onDisk?.add(op.key);
      table.adopt(op.key, op.raw, op.time, op.async, op.meta);
    } else if (op.kind === "del") {
      op.keys.forEach((key, i) => {
        onDisk?.delete(key);
        table.adoptRemoval(key, op.upto[i]);
      });
    } else if (op.kind === "clear") {
      this.#adoptClears(op.clears, this.journalPath);
    } else {
      this.#adoptVariables(op.variables, op.time, this.journalPath);
    }
  }
}

/** Attributes as read from a file or journal line, kept as the JSON text of each encoded value. */
function variablesOf(variables: Record<string, unknown>, log: CacheLog, source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, raw] of Object.entries(variables)) {
    try {
      out.set(name, stringifyEncoded(raw));
    } catch (error) {
      log.once("warn", `attribute:${source}:${name}`, `the attribute ${name} in ${source} cannot be used (${describe(error)}) and is left out.`);
    }
  }
  return out;
}
