/**
 * How a call becomes a cache key: `name(<args as a Python tuple>){}`, exactly the form the Python
 * cacherator writes, e.g. `fetch('foo',){}` or `listing([1, 'a', None, True], {'k': 'v', 'n': 2}){}`.
 */
import { createHash } from "node:crypto";
import { pythonNumberRepr, pythonRepr, pythonStringRepr, withInsertionOrder } from "./python-repr.js";

/** The parts of a one-argument key: `name(<repr>,){}` (filled in place for each call). */
const ONE_ARG = ["", "(", "", ",){}"];

/**
 * The keys of recent one-argument calls with a number or a short string, in slots chosen from the
 * argument: a hit of such a call finds its key without building it, and gets the very string it got
 * last time, whose hash the Map has already computed. Each slot holds one (name, argument, key); a
 * collision only replaces it.
 */
const RECENT_SLOTS = 1024;
/** Longer string arguments are not kept (a slot must not hold a large string alive). */
const RECENT_STRING_MAX = 128;
const recentName: string[] = new Array<string>(RECENT_SLOTS).fill("");
const recentArg: unknown[] = new Array<unknown>(RECENT_SLOTS).fill(undefined);
const recentKey: string[] = new Array<string>(RECENT_SLOTS).fill("");

/** Keys of this many code points or more are shortened, as the Python library does. */
const LONG_KEY = 180;
const KEPT_PREFIX = 149;

/**
 * Builds the key of a call. Trailing `undefined` arguments are dropped (`f(1)` and `f(1, undefined)`
 * are one call in JavaScript); JavaScript has no keyword arguments, so the Python kwargs part is `{}`.
 */
export function callKey(name: string, args: readonly unknown[]): string {
  let count = args.length;
  while (count > 0 && args[count - 1] === undefined) count--;
  // Joined rather than concatenated: a flat string, which a Map hashes at once, where `+` makes a tree
  // of parts that every look-up first copies into one (measured: about a tenth of a hit's cost).
  if (count === 1) {
    const arg = args[0];
    const slot = recentSlot(arg);
    if (slot >= 0 && recentArg[slot] === arg && recentName[slot] === name) return recentKey[slot] as string;
    const repr = argRepr(arg); // first: a repr may run code that makes another key
    ONE_ARG[0] = name;
    ONE_ARG[2] = repr;
    const key = shortenKey(ONE_ARG.join(""));
    if (slot >= 0) {
      recentName[slot] = name;
      recentArg[slot] = arg;
      recentKey[slot] = key;
    }
    return key;
  }
  const parts = [name, "("];
  for (let i = 0; i < count; i++) {
    if (i > 0) parts.push(", ");
    parts.push(argRepr(args[i]));
  }
  parts.push("){}");
  return shortenKey(parts.join(""));
}

/**
 * The key the Python library writes for the same call when an argument holds plain objects whose keys
 * were not created in sorted order: Python prints a dict in insertion order (`{'n': 2, 'k': 'v'}`),
 * our keys sort them. Looked up only after the sorted key misses. `undefined` when the two are equal.
 */
export function pythonOrderCallKey(name: string, args: readonly unknown[]): string | undefined {
  for (const arg of args) {
    if (typeof arg === "object" && arg !== null) return withInsertionOrder(() => callKey(name, args));
  }
  return undefined;
}

/**
 * The slot of a number or short string argument among the recent keys; -1 for anything else, and for
 * -0 (equal to 0 by `===`, but its key is another: `-0.0`).
 */
function recentSlot(arg: unknown): number {
  if (typeof arg === "number") return arg === 0 && 1 / arg < 0 ? -1 : (arg | 0) & (RECENT_SLOTS - 1);
  if (typeof arg !== "string" || arg.length > RECENT_STRING_MAX) return -1;
  return arg.length === 0 ? 0 : (arg.length * 31 + arg.charCodeAt(arg.length - 1)) & (RECENT_SLOTS - 1);
}

/** The common argument types inline, the rest through the full repr. */
function argRepr(value: unknown): string {
  if (typeof value === "number") return pythonNumberRepr(value);
  if (typeof value === "string") return pythonStringRepr(value);
  return pythonRepr(value);
}

/** `key[:149] + "_" + sha1(key)` for keys of 180 code points or more, counted as Python counts. */
export function shortenKey(key: string): string {
  if (key.length < LONG_KEY) return key;
  const codePoints = Array.from(key);
  if (codePoints.length < LONG_KEY) return key;
  const digest = createHash("sha1").update(key, "utf8").digest("hex");
  return `${codePoints.slice(0, KEPT_PREFIX).join("")}_${digest}`;
}

/** The function name a key belongs to (the text before the first parenthesis). */
export function functionOfKey(key: string): string {
  const open = key.indexOf("(");
  return open === -1 ? key : key.slice(0, open);
}
