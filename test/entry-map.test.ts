/**
 * The entry map of a memory table: one Map while small, split into shards past SPLIT_AT entries (so no
 * single doubling copies a large table at once), kept as one Map while it must keep LRU order. It must
 * behave as one Map would in everything but the order of a split map's iteration.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EntryMap, SHARDS, SPLIT_AT, shardOf } from "../src/store/entry-map.js";
import { MemoryTable } from "../src/store/memory-table.js";
import { newEntry } from "../src/store/stored-entry.js";

type Op = { kind: "fill"; from: number; count: number } | { kind: "set"; key: number; value: number } | { kind: "delete"; key: number } | { kind: "deleteRange"; from: number; count: number } | { kind: "ordered"; on: boolean } | { kind: "clear" };

const KEY_SPACE = SPLIT_AT * 3;
const keyOf = (n: number) => `f(${n},){}`;

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("fill" as const), from: fc.nat(KEY_SPACE), count: fc.integer({ min: 1, max: SPLIT_AT }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("set" as const), key: fc.nat(KEY_SPACE), value: fc.integer() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete" as const), key: fc.nat(KEY_SPACE) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("deleteRange" as const), from: fc.nat(KEY_SPACE), count: fc.integer({ min: 1, max: SPLIT_AT }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("ordered" as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("clear" as const) }) },
);

function run(ops: readonly Op[]): { map: EntryMap<number>; model: Map<string, number>; everSplit: boolean } {
  const map = new EntryMap<number>();
  const model = new Map<string, number>();
  let everSplit = false;
  for (const step of ops) {
    if (step.kind === "fill") {
      for (let n = step.from; n < step.from + step.count; n++) {
        map.set(keyOf(n), n);
        model.set(keyOf(n), n);
      }
    } else if (step.kind === "set") {
      map.set(keyOf(step.key), step.value);
      model.set(keyOf(step.key), step.value);
    } else if (step.kind === "delete") {
      expect(map.delete(keyOf(step.key))).toBe(model.delete(keyOf(step.key)));
    } else if (step.kind === "deleteRange") {
      // Deleting while iterating, as the table's clears do.
      for (const [key, value] of map.entries()) {
        if (value >= step.from && value < step.from + step.count && key === keyOf(value)) map.delete(key);
      }
      for (const [key, value] of [...model]) if (value >= step.from && value < step.from + step.count && key === keyOf(value)) model.delete(key);
    } else if (step.kind === "clear") {
      map.clear();
      model.clear();
    } else {
      map.keepOrder(step.on);
    }
    everSplit ||= map.split;
    expect(map.size).toBe(model.size);
  }
  return { map, model, everSplit };
}

describe("EntryMap", () => {
  it("holds exactly what a Map holds, through splits, joins, clears and deletions while iterating", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
        const { map, model, everSplit } = run(ops);
        expect(map.size).toBe(model.size);
        const entries = [...map.entries()];
        expect(entries.length).toBe(model.size);
        expect(new Map(entries)).toEqual(model);
        expect([...map.keys()].sort()).toEqual([...model.keys()].sort());
        for (const [key, value] of model) {
          expect(map.get(key)).toBe(value);
          expect(map.has(key)).toBe(true);
        }
        expect(map.get(keyOf(-1))).toBeUndefined();
        expect(map.has(keyOf(-1))).toBe(false);
        // Never split: the order is a Map's insertion order.
        if (!everSplit) expect(entries.map(([key]) => key)).toEqual([...model.keys()]);
      }),
      { numRuns: 60 },
    );
  });

  it("splits only past SPLIT_AT entries, and never while ordered", () => {
    const map = new EntryMap<number>();
    for (let n = 0; n < SPLIT_AT; n++) map.set(keyOf(n), n);
    expect(map.split).toBe(false);
    map.set(keyOf(SPLIT_AT), SPLIT_AT);
    expect(map.split).toBe(true);

    const ordered = new EntryMap<number>();
    ordered.keepOrder(true);
    for (let n = 0; n < SPLIT_AT * 2; n++) ordered.set(keyOf(n), n);
    expect(ordered.split).toBe(false);
    expect([...ordered.keys()]).toEqual(Array.from({ length: SPLIT_AT * 2 }, (_, n) => keyOf(n)));
  });

  it("joins its shards into one Map when it must keep an order, and keeps insertion order from then on", () => {
    const map = new EntryMap<number>();
    for (let n = 0; n <= SPLIT_AT; n++) map.set(keyOf(n), n);
    expect(map.split).toBe(true);
    map.keepOrder(true);
    expect(map.split).toBe(false);
    expect(map.size).toBe(SPLIT_AT + 1);
    map.set("later(1,){}", -1);
    map.set("later(2,){}", -2);
    expect([...map.keys()].slice(-2)).toEqual(["later(1,){}", "later(2,){}"]);
    // Unordered again: it splits at its next growth past SPLIT_AT.
    map.keepOrder(false);
    map.set("later(3,){}", -3);
    expect(map.split).toBe(true);
    expect(map.get("later(3,){}")).toBe(-3);
  });

  it("spreads keys evenly over the shards: sequential numbers, and long keys that differ only in the middle", () => {
    const shapes: [string, (n: number) => string][] = [
      ["short numbered keys", (n) => `double(${n},){}`],
      ["long keys differing in the middle", (n) => `fetch_profile('${"a".repeat(40)}-${n}-${"b".repeat(80)}',){'region': 'eu-west-1'}`],
      ["keys differing only at the start", (n) => `m${n}(${"x".repeat(100)},){}`],
    ];
    const count = SHARDS * 500;
    for (const [shape, keyAt] of shapes) {
      const sizes = new Array<number>(SHARDS).fill(0);
      for (let n = 0; n < count; n++) (sizes[shardOf(keyAt(n))] as number)++;
      expect({ shape, largest: Math.max(...sizes) < 500 * 1.5, smallest: Math.min(...sizes) > 500 * 0.5 }).toEqual({ shape, largest: true, smallest: true });
    }
  });
});

describe("MemoryTable over a split map", () => {
  const entry = (n: number) => newEntry({ time: n + 1, async: false, origin: "process", value: n, decoded: true, raw: n, text: undefined, persistent: true, meta: undefined });

  it("keeps exact least-recently-used eviction with maxEntries past SPLIT_AT, even when the bound comes after the table split", () => {
    const table = new MemoryTable();
    const total = SPLIT_AT + 100;
    for (let n = 0; n < total; n++) table.set(keyOf(n), entry(n));
    // The bound arrives later (another instance of the dataId with maxEntries): the shards are joined.
    table.maxEntries = total;
    table.touch(keyOf(0), table.get(keyOf(0)) as ReturnType<typeof entry>);
    for (let n = total; n < total + 10; n++) table.set(keyOf(n), entry(n));
    expect(table.size).toBe(total);
    expect(table.get(keyOf(0))).toBeDefined(); // touched: recently used
    const evicted = Array.from({ length: total + 10 }, (_, n) => n).filter((n) => table.get(keyOf(n)) === undefined);
    expect(evicted).toHaveLength(10);
    // The ten least recently used after the touch. The join's order among the untouched ones is the shards', so only their count and the touched key are certain…
    expect(evicted.every((n) => n > 0 && n < total)).toBe(true);
    // …and from the join on, the order is exact: the ten evicted next are exactly the next ten of the joined order.
    const orderBefore = [...table.entries()].map(([key]) => key);
    for (let n = total + 10; n < total + 20; n++) table.set(keyOf(n), entry(n));
    expect(orderBefore.slice(0, 10).every((key) => table.get(key) === undefined)).toBe(true);
    expect(orderBefore.slice(10).every((key) => table.get(key) !== undefined)).toBe(true);
  });

  it("removes a cleared function's entries across every shard", () => {
    const table = new MemoryTable();
    for (let n = 0; n < SPLIT_AT * 2; n++) table.set(n % 2 === 0 ? `even(${n},){}` : `odd(${n},){}`, entry(n));
    const removed = table.clear("even", Number.MAX_SAFE_INTEGER);
    expect(removed).toHaveLength(SPLIT_AT);
    expect(table.size).toBe(SPLIT_AT);
    expect([...table.entries()].every(([key]) => key.startsWith("odd("))).toBe(true);
  });
});
