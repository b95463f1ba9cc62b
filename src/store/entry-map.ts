/**
 * The map of a memory table's entries: one `Map` while it is small, split into `SHARDS` maps once it
 * passes `SPLIT_AT` entries.
 *
 * Why: a `Map` grows by doubling, and each doubling copies every entry in one step. Past 262,144 entries
 * that step held the event loop for 30 ms, past 524,288 for 60 ms, past 1,048,576 for over 100 ms; so
 * loading a large cache (even with `openAsync`, which yields between parts) or growing one by misses
 * stalled the process once per doubling. Split, each shard holds a 128th of the entries, and its doublings
 * copy a 128th as much.
 *
 * The price: a look-up in a split map first hashes the key (a few ns per character; making the key
 * costs more). Small tables, where hits are measured against a bare `Map`, never pay it. A table that
 * keeps its entries in least-recently-used order (`keepOrder`, for `maxEntries`) stays one `Map`, since
 * only one `Map` keeps a single order over all its keys.
 */

/** Entries at which a map splits. The split re-inserts them all at once, about 1 µs each: a few ms. */
export const SPLIT_AT = 1 << 12;
/** Shards of a split map (a power of two): at 10M entries a shard's doubling copies 65,536 entries, under 10 ms. */
export const SHARDS = 128;

/** The key `shardOf` hashed last, and its shard: a call looks its key up in the table and then records its status (two maps, one hash). */
let lastKey = "";
let lastShard = 0;

/** The shard of `key`: an FNV-1a hash of its characters (a sample would put keys that differ only where it does not look into one shard). */
export function shardOf(key: string): number {
  if (key === lastKey) return lastShard;
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  lastKey = key;
  lastShard = (hash ^ (hash >>> 16)) & (SHARDS - 1);
  return lastShard;
}

export class EntryMap<V> {
  /** The one map, while not split. */
  #one: Map<string, V> | undefined = new Map();
  /** The shards, once split (empty before). */
  #shards: Map<string, V>[] = [];
  #ordered = false;

  /**
   * Whether iteration must follow insertion order over all keys (least recently used first). Asked of
   * a split map, it joins the shards again, in shard order (their relative order is not known).
   */
  keepOrder(ordered: boolean): void {
    this.#ordered = ordered;
    if (ordered && this.#one === undefined) {
      const one = new Map<string, V>();
      for (const shard of this.#shards) for (const [key, value] of shard) one.set(key, value);
      this.#one = one;
      this.#shards = [];
    }
  }

  get(key: string): V | undefined {
    const one = this.#one;
    return one !== undefined ? one.get(key) : (this.#shards[shardOf(key)] as Map<string, V>).get(key);
  }

  has(key: string): boolean {
    const one = this.#one;
    return one !== undefined ? one.has(key) : (this.#shards[shardOf(key)] as Map<string, V>).has(key);
  }

  set(key: string, value: V): void {
    const one = this.#one;
    if (one === undefined) {
      (this.#shards[shardOf(key)] as Map<string, V>).set(key, value);
      return;
    }
    one.set(key, value);
    if (one.size > SPLIT_AT && !this.#ordered) this.#split(one);
  }

  delete(key: string): boolean {
    const one = this.#one;
    return one !== undefined ? one.delete(key) : (this.#shards[shardOf(key)] as Map<string, V>).delete(key);
  }

  /** Empties the map (one `Map` again). */
  clear(): void {
    this.#one = new Map();
    this.#shards = [];
  }

  get size(): number {
    const one = this.#one;
    if (one !== undefined) return one.size;
    let size = 0;
    for (const shard of this.#shards) size += shard.size;
    return size;
  }

  /** Whether the map is split (for tests and measurements). */
  get split(): boolean {
    return this.#one === undefined;
  }

  /** Every entry: in insertion order while one map; shard by shard once split. Deleting the current entry is allowed. */
  entries(): IterableIterator<[string, V]> {
    return this.#one !== undefined ? this.#one.entries() : this.#allOf((shard) => shard.entries());
  }

  keys(): IterableIterator<string> {
    return this.#one !== undefined ? this.#one.keys() : this.#allOf((shard) => shard.keys());
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  *#allOf<T>(each: (shard: Map<string, V>) => IterableIterator<T>): IterableIterator<T> {
    for (const shard of this.#shards) yield* each(shard);
  }

  #split(one: Map<string, V>): void {
    const shards = Array.from({ length: SHARDS }, () => new Map<string, V>());
    for (const [key, value] of one) (shards[shardOf(key)] as Map<string, V>).set(key, value);
    this.#shards = shards;
    this.#one = undefined;
  }
}
