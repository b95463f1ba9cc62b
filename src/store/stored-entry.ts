/**
 * One entry of the memory table, in a compact form: a million of them are held by a large cache, so
 * the flags, the time and the rare extras take as few fields as V8 allows.
 */
import type { EntryMeta } from "./cache-file.js";

/** Where an entry's value came from when this process first had it. */
export type EntryOrigin = "l1" | "l2" | "process";

export interface StoredEntry {
  /** Computation time, epoch ms. */
  readonly time: number;
  readonly async: boolean;
  readonly origin: EntryOrigin;
  /** The value as callers get it; valid once `decoded` is true. */
  value: unknown;
  decoded: boolean;
  /** The encoded value (codec output): as read from a file, or as computed; the entry's line and L2 item are made from it. */
  raw: unknown;
  /** The entry's line in the file; `undefined` until first needed. */
  text: string | undefined;
  /** False for values that cannot be encoded: they live in memory only. */
  readonly persistent: boolean;
  /** A TTL and a version the entry carries itself (see EntryMeta); usually absent. */
  readonly meta?: EntryMeta | undefined;
}

const ASYNC = 1;
const DECODED = 2;
const PERSISTENT = 4;
/** `#extra` holds a `Side` (a decoded value that is not the encoded one, and the meta), not just the meta. */
const SIDE = 8;
const ORIGIN_SHIFT = 4;
const ORIGINS: readonly EntryOrigin[] = ["l1", "l2", "process"];
/** Times are kept as two small integers (V8 would box a double in a separate 12-byte heap number). */
const TIME_SPLIT = 2 ** 24;

interface Side {
  value: unknown;
  meta: EntryMeta | undefined;
}

/**
 * A `StoredEntry` in few fields: flags in one small integer, the time as two small integers, the
 * encoded value doubling as the decoded one while they are the same reference (plain JSON decodes to
 * itself), and the rare extras (meta, a decoded value of its own) in one slot. The interface's
 * properties are accessors on the prototype, so they cost no memory per entry.
 */
class Entry implements StoredEntry {
  #high: number;
  #low: number;
  #bits: number;
  #raw: unknown;
  #extra: EntryMeta | Side | undefined;
  text: string | undefined;

  constructor(time: number, bits: number, raw: unknown, meta: EntryMeta | undefined, text: string | undefined) {
    const high = (time / TIME_SPLIT) | 0;
    if (time >= 0 && time <= Number.MAX_SAFE_INTEGER && time === Math.floor(time)) {
      this.#high = high;
      this.#low = time - high * TIME_SPLIT;
    } else {
      this.#high = time;
      this.#low = -1;
    }
    this.#bits = bits;
    this.#raw = raw;
    this.#extra = meta;
    this.text = text;
  }

  get time(): number {
    return this.#low < 0 ? this.#high : this.#high * TIME_SPLIT + this.#low;
  }

  get async(): boolean {
    return (this.#bits & ASYNC) !== 0;
  }

  get origin(): EntryOrigin {
    return ORIGINS[this.#bits >> ORIGIN_SHIFT] as EntryOrigin;
  }

  get persistent(): boolean {
    return (this.#bits & PERSISTENT) !== 0;
  }

  get decoded(): boolean {
    return (this.#bits & DECODED) !== 0;
  }

  set decoded(decoded: boolean) {
    this.#bits = decoded ? this.#bits | DECODED : this.#bits & ~DECODED;
  }

  get raw(): unknown {
    return this.#raw;
  }

  set raw(raw: unknown) {
    if (raw === this.#raw) return;
    const decoded = (this.#bits & DECODED) !== 0;
    const value = this.value;
    const meta = this.meta;
    this.#raw = raw;
    if (decoded) {
      this.value = value;
    } else {
      this.#bits &= ~SIDE;
      this.#extra = meta;
    }
  }

  get value(): unknown {
    if ((this.#bits & SIDE) !== 0) return (this.#extra as Side).value;
    return (this.#bits & DECODED) !== 0 ? this.#raw : undefined;
  }

  set value(value: unknown) {
    const meta = this.meta;
    if (value === this.#raw) {
      this.#bits &= ~SIDE;
      this.#extra = meta;
    } else {
      this.#bits |= SIDE;
      this.#extra = { value, meta };
    }
  }

  get meta(): EntryMeta | undefined {
    return (this.#bits & SIDE) !== 0 ? (this.#extra as Side).meta : (this.#extra as EntryMeta | undefined);
  }
}

/** The fields of a new entry (a `StoredEntry` without the accessors' backing). */
export interface EntryFields {
  time: number;
  async: boolean;
  origin: EntryOrigin;
  value: unknown;
  decoded: boolean;
  raw: unknown;
  text?: string | undefined;
  persistent: boolean;
  meta?: EntryMeta | undefined;
}

/** An entry in the compact form; what code creating entries uses instead of an object literal. */
export function newEntry(fields: EntryFields): StoredEntry {
  const bits = (fields.async ? ASYNC : 0) | (fields.persistent ? PERSISTENT : 0) | (ORIGINS.indexOf(fields.origin) << ORIGIN_SHIFT);
  const entry = new Entry(fields.time, bits, fields.raw, fields.meta, fields.text);
  if (fields.decoded) {
    entry.decoded = true;
    entry.value = fields.value;
  }
  return entry;
}

/** An entry read from a file or journal: not decoded yet. */
export function loadedEntry(raw: unknown, time: number, async: boolean, meta: EntryMeta | undefined): StoredEntry {
  return new Entry(time, async ? ASYNC | PERSISTENT : PERSISTENT, raw, meta, undefined);
}
