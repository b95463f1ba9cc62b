/**
 * The merge rules of the in-memory table: what other processes wrote is applied in whatever order it
 * is read (file, sealed journals, live journal, lines written again after a fold), so the outcome must
 * not depend on the order. Property-tested over random histories of sets, removals and clears.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryTable } from "../src/store/memory-table.js";

type Op =
  | { kind: "set"; key: string; time: number }
  | { kind: "del"; key: string; upto: number }
  | { kind: "clear"; fn: string; at: number };

const KEYS = ["f(1,){}", "f(2,){}", "g(1,){}", "g(2,){}"];

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), key: fc.constantFrom(...KEYS), time: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ kind: fc.constant("del" as const), key: fc.constantFrom(...KEYS), upto: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ kind: fc.constant("clear" as const), fn: fc.constantFrom("f", "g", "*"), at: fc.integer({ min: 1, max: 50 }) }),
);

function apply(ops: readonly Op[]): Record<string, number> {
  const table = new MemoryTable();
  for (const step of ops) {
    if (step.kind === "set") table.adopt(step.key, `v${step.time}`, step.time, false, undefined);
    else if (step.kind === "del") table.adoptRemoval(step.key, step.upto);
    else table.adoptClears(new Map([[step.fn, step.at]]));
  }
  return Object.fromEntries([...table.entries()].map(([key, entry]) => [key, entry.time]));
}

/** What the rules promise: the newest set of a key survives unless a removal or clear covers its time. */
function expected(ops: readonly Op[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of KEYS) {
    const fn = key.slice(0, 1);
    const newest = Math.max(0, ...ops.flatMap((o) => (o.kind === "set" && o.key === key ? [o.time] : [])));
    const removed = Math.max(0, ...ops.flatMap((o) => (o.kind === "del" && o.key === key ? [o.upto] : [])));
    const cleared = Math.max(0, ...ops.flatMap((o) => (o.kind === "clear" && (o.fn === fn || o.fn === "*") ? [o.at] : [])));
    if (newest > Math.max(removed, cleared)) out[key] = newest;
  }
  return out;
}

describe("merging what other processes wrote", () => {
  it("gives the same table whatever order the lines are read in", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 14 }).chain((ops) => fc.tuple(fc.constant(ops), fc.shuffledSubarray(ops, { minLength: ops.length, maxLength: ops.length }))), ([ops, shuffled]) => {
        expect(apply(shuffled)).toEqual(apply(ops));
        expect(apply(ops)).toEqual(expected(ops));
      }),
      { numRuns: 2_000 },
    );
  });

  it("keeps an entry computed here and not yet written when another process's file lacks it", () => {
    const table = new MemoryTable();
    table.set("f(1,){}", { time: 5, async: false, origin: "process", value: 1, decoded: true, raw: 1, text: undefined, persistent: true });
    table.dropMissing(new Set());
    expect(table.get("f(1,){}")?.time).toBe(5);
    table.take();
    table.written();
    table.dropMissing(new Set());
    expect(table.get("f(1,){}")).toBeUndefined();
  });

  it("never takes attributes older than the ones it holds, nor any while its own are unwritten", () => {
    const table = new MemoryTable();
    table.adoptVariables(new Map([["score", "1"]]), 100);
    table.adoptVariables(new Map([["score", "0"]]), 50);
    expect(table.variables.get("score")).toBe("1");
    table.setVariables(new Map([["score", "2"]]), 150);
    table.adoptVariables(new Map([["score", "3"]]), 200);
    expect(table.variables.get("score")).toBe("2");
  });
});
