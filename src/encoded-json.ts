/**
 * The JSON text of encoded values (see codec.ts). Two kinds of Python values have no JSON.parse
 * counterpart: integers beyond 2^53 (JSON.parse rounds them) and the bare `NaN`, `Infinity` and
 * `-Infinity` tokens Python's json module writes. In memory they are placeholder strings (a prefix
 * that no stored string has: the codec tags strings that start with it); in text they are the bare
 * tokens, so the Python library reads back the ints and floats it wrote.
 */

/** Starts the in-memory form of a bare token: `PLACEHOLDER + "int:<digits>"` or `PLACEHOLDER + "num:<token>"`. */
export const PLACEHOLDER = "\u0000\u0001cacherator:";
const PLACEHOLDER_IN_JSON = "\\u0000\\u0001cacherator:";
const PLACEHOLDER_TOKEN = /"\\u0000\\u0001cacherator:(?:int|num):(-?[0-9]+(?:\.0)?|NaN|-?Infinity)"/g;

/**
 * An integer literal of 16 or more digits in a value position (after `:`, `,`, `[` or whitespace, or
 * at the start): one that may lose precision. Spelled out digit by digit, which V8 scans about twice
 * as fast as `\d{16}` with a lookbehind-like prefix; it still costs a fifth of a JSON.parse.
 */
const LONG_INTEGER = /[:,[\s]-?\d\d\d\d\d\d\d\d\d\d\d\d\d\d\d\d/;
const LONG_INTEGER_AT_START = /^\s*-?\d{16}/;
const NON_FINITE = /NaN|Infinity/;
/** A string (left as it is), a long integer literal, or a non-finite token. */
const TOKENS = /"[^"\\]*(?:\\.[^"\\]*)*"|(?<![\d.eE+-])(-?\d{16,})(?![\d.eE])|(-?Infinity|NaN)/g;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Whether JSON text may hold an integer literal that JSON.parse would round (16 or more digits): what
 * `parseEncodedJson` looks for. False positives (such digits inside a string) are possible, misses not.
 */
export function mayHoldLongIntegers(text: string): boolean {
  return LONG_INTEGER_AT_START.test(text) || LONG_INTEGER.test(text);
}

/** JSON.stringify of an encoded value, with placeholders written as the bare tokens they stand for. */
export function stringifyEncoded(raw: unknown): string {
  const text = JSON.stringify(raw);
  return text.includes(PLACEHOLDER_IN_JSON) ? text.replace(PLACEHOLDER_TOKEN, "$1") : text;
}

/**
 * JSON.parse that keeps integers beyond 2^53 exact and accepts bare NaN/Infinity tokens, both as
 * placeholders. Plain JSON costs one JSON.parse; the token pass runs only when the text needs it.
 */
export function parseEncodedJson(text: string): unknown {
  if (!mayHoldLongIntegers(text)) {
    try {
      return JSON.parse(text);
    } catch (error) {
      if (!NON_FINITE.test(text)) throw error;
    }
  }
  return JSON.parse(text.replace(TOKENS, protectToken));
}

function protectToken(match: string, integer: string | undefined, nonFinite: string | undefined): string {
  if (integer !== undefined) {
    const value = BigInt(integer);
    return value > MAX_SAFE || value < -MAX_SAFE ? `"${PLACEHOLDER_IN_JSON}int:${integer}"` : integer;
  }
  if (nonFinite !== undefined) return `"${PLACEHOLDER_IN_JSON}num:${nonFinite}"`;
  return match;
}

/**
 * The placeholder of a number past 2^53 that JSON would print as bare digits: written with `.0`, as
 * Python prints a float, so that bare digits in a file always mean an int (a BigInt here).
 */
export function largeNumberPlaceholder(value: number): string {
  return `${PLACEHOLDER}num:${value.toFixed(0)}.0`;
}

/** The placeholder of a BigInt beyond the safe integers, written as a bare integer. */
export function bigIntPlaceholder(value: bigint): string {
  return `${PLACEHOLDER}int:${value}`;
}

export function isPlaceholder(text: string): boolean {
  return text.charCodeAt(0) === 0 && text.startsWith(PLACEHOLDER);
}

/** The value a placeholder stands for: a BigInt, or NaN/±Infinity. */
export function placeholderValue(text: string): unknown {
  const body = text.slice(PLACEHOLDER.length);
  if (body.startsWith("int:")) return BigInt(body.slice(4));
  if (body.startsWith("num:")) return Number(body.slice(4));
  return text;
}
