/**
 * Python `repr()` for the values a JavaScript call can pass. Call keys use it so that a cache file
 * written by the Python cacherator is hit by the matching JavaScript call, and the other way round.
 * Values with no Python counterpart get a form of their own that keeps keys type-aware and injective.
 */
import { UncacheableArgumentError } from "../errors.js";
import { NON_PRINTABLE_RANGES } from "./python-printable.js";

/** Objects that implement this method are rendered in call keys as the string it returns. */
export const CACHE_IDENTITY: unique symbol = Symbol.for("cacherator.identity");

interface WithIdentity {
  [CACHE_IDENTITY](): string;
}

/**
 * How plain objects list their keys. Sorted by default, so `{a, b}` and `{b, a}` are one key; in
 * insertion order (as a Python dict literal prints) while `withInsertionOrder` runs.
 */
const dictOrder = { insertion: false, differs: false };

/**
 * Runs `render` with plain objects printed in insertion order, as Python prints a dict. Returns
 * `undefined` when no object's insertion order differs from the sorted one (the result would be the
 * sorted key again).
 */
export function withInsertionOrder(render: () => string): string | undefined {
  dictOrder.insertion = true;
  dictOrder.differs = false;
  try {
    const text = render();
    return dictOrder.differs ? text : undefined;
  } finally {
    dictOrder.insertion = false;
    dictOrder.differs = false;
  }
}

const BIG_INT_AS_INT = 10n ** 16n;

/** Arguments nested deeper than this are refused: a key must not exhaust the stack. */
export const MAX_NESTING = 1000;

/** Start and end (exclusive) of each range of code points that Python's repr() escapes, from a fixed table. */
let rangeStarts: Uint32Array | undefined;
let rangeEnds: Uint32Array | undefined;

function loadRanges(): void {
  const items = NON_PRINTABLE_RANGES.split(",");
  rangeStarts = new Uint32Array(items.length);
  rangeEnds = new Uint32Array(items.length);
  let end = 0;
  for (let i = 0; i < items.length; i++) {
    const [gap, length] = (items[i] as string).split(".") as [string, string];
    const start = end + parseInt(gap, 36);
    end = start + parseInt(length, 36);
    rangeStarts[i] = start;
    rangeEnds[i] = end;
  }
}

/**
 * Whether Python 3.11's `str.isprintable()` rejects the code point. A fixed table rather than the
 * Unicode data of the running Node.js, so keys do not change when Node.js does.
 */
export function isPythonNonPrintable(code: number): boolean {
  if (rangeStarts === undefined) loadRanges();
  const starts = rangeStarts as Uint32Array;
  const ends = rangeEnds as Uint32Array;
  let low = 0;
  let high = starts.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (code < (starts[middle] as number)) high = middle - 1;
    else if (code >= (ends[middle] as number)) low = middle + 1;
    else return true;
  }
  return false;
}
const PLAIN_ASCII = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/; // printable ASCII without ' and \

/** `repr(str)` of Python 3. */
export function pythonStringRepr(value: string): string {
  if (PLAIN_ASCII.test(value)) return `'${value}'`;
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of value) {
    switch (char) {
      case "\\": out += "\\\\"; continue;
      case "\n": out += "\\n"; continue;
      case "\r": out += "\\r"; continue;
      case "\t": out += "\\t"; continue;
      case quote: out += `\\${quote}`; continue;
    }
    const code = char.codePointAt(0) as number;
    if (isPythonNonPrintable(code)) {
      if (code < 0x100) out += `\\x${hex(code, 2)}`;
      else if (code < 0x10000) out += `\\u${hex(code, 4)}`;
      else out += `\\U${hex(code, 8)}`;
    } else {
      out += char;
    }
  }
  return out + quote;
}

/** `repr(bytes)` of Python 3. */
export function pythonBytesRepr(bytes: Uint8Array): string {
  let hasSingle = false;
  let hasDouble = false;
  for (const b of bytes) {
    if (b === 0x27) hasSingle = true;
    else if (b === 0x22) hasDouble = true;
  }
  const quote = hasSingle && !hasDouble ? '"' : "'";
  let out = `b${quote}`;
  for (const b of bytes) {
    if (b === 0x5c) out += "\\\\";
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b === 0x09) out += "\\t";
    else if (String.fromCharCode(b) === quote) out += `\\${quote}`;
    else if (b < 0x20 || b >= 0x7f) out += `\\x${hex(b, 2)}`;
    else out += String.fromCharCode(b);
  }
  return out + quote;
}

/**
 * A JavaScript number as Python would print it. Integral numbers below 1e16 print as Python ints
 * (`3`, `-7`); everything else as a Python float (`1.5`, `1e+16`, `1e-07`, `inf`, `nan`, `-0.0`).
 */
export function pythonNumberRepr(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e16) {
    return Object.is(value, -0) ? "-0.0" : String(value);
  }
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  // toExponential() with no argument gives the shortest digits that round-trip, as Python's repr does.
  const [mantissa, exponentText] = value.toExponential().split("e") as [string, string];
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const point = exponent + 1; // position of the decimal point relative to the digits
  let body: string;
  if (point > 16 || point < -3) {
    const rest = digits.slice(1);
    const sign = exponent < 0 ? "-" : "+";
    body = `${digits[0]}${rest ? `.${rest}` : ""}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  } else if (point <= 0) {
    body = `0.${"0".repeat(-point)}${digits}`;
  } else if (point >= digits.length) {
    body = `${digits}${"0".repeat(point - digits.length)}.0`;
  } else {
    body = `${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  return negative ? `-${body}` : body;
}

/** `repr()` of an aware UTC `datetime`, the Python value closest to a JavaScript Date. */
function pythonDatetimeRepr(date: Date): string {
  const time = date.getTime();
  if (Number.isNaN(time)) return "datetime.datetime(invalid)";
  const parts = [
    date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(),
    date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds() * 1000,
  ];
  if (parts[6] === 0) {
    parts.pop();
    if (parts[5] === 0) parts.pop();
  }
  return `datetime.datetime(${parts.join(", ")}, tzinfo=datetime.timezone.utc)`;
}

/**
 * The repr of one argument. `path` holds the objects being rendered above this one, to reject cycles.
 */
export function pythonRepr(value: unknown, path: object[] = []): string {
  switch (typeof value) {
    case "string": return pythonStringRepr(value);
    case "number": return pythonNumberRepr(value);
    case "boolean": return value ? "True" : "False";
    case "undefined": return "undefined";
    // An int beyond what a number holds exactly prints as Python prints it; smaller ones keep an `n`,
    // distinct from the number of the same value (numbers of 1e16 or more print as floats).
    case "bigint": return value >= BIG_INT_AS_INT || value <= -BIG_INT_AS_INT ? String(value) : `${value}n`;
    case "function":
      throw new UncacheableArgumentError(
        `a function (${value.name || "anonymous"}) cannot be part of a cache key: results cannot be ` +
          "cached by a function argument. Pass plain data instead, or move the function out of the arguments.",
      );
    case "symbol":
      throw new UncacheableArgumentError(
        `a symbol (${String(value)}) cannot be part of a cache key: symbols are unique to one process. ` +
          "Pass a string instead.",
      );
  }
  if (value === null) return "None";
  const object = value as object;
  if (path.includes(object)) {
    throw new UncacheableArgumentError(
      "a circular structure cannot be part of a cache key. Pass an acyclic value (for example an id) instead.",
    );
  }
  if (path.length >= MAX_NESTING) {
    throw new UncacheableArgumentError(
      `an argument nested more than ${MAX_NESTING} levels deep cannot be part of a cache key. Pass a flatter value ` +
        "(for example an id, or a hash of the structure) instead.",
    );
  }
  path.push(object);
  try {
    return objectRepr(object, path);
  } finally {
    path.pop();
  }
}

function objectRepr(object: object, path: object[]): string {
  if (Array.isArray(object)) {
    let out = "[";
    for (let i = 0; i < object.length; i++) out += (i ? ", " : "") + pythonRepr(object[i], path);
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(object) as object | null;
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(object);
    if (dictOrder.insertion) {
      if (!dictOrder.differs && keys.some((key, i) => i > 0 && (keys[i - 1] as string) > key)) dictOrder.differs = true;
      return dictRepr(keys, (k) => (object as Record<string, unknown>)[k], path);
    }
    return dictRepr(keys.sort(), (k) => (object as Record<string, unknown>)[k], path);
  }
  if (typeof (object as Partial<WithIdentity>)[CACHE_IDENTITY] === "function") {
    return (object as WithIdentity)[CACHE_IDENTITY]();
  }
  if (object instanceof Date) return pythonDatetimeRepr(object);
  if (object instanceof Uint8Array) return pythonBytesRepr(object);
  if (ArrayBuffer.isView(object) && !(object instanceof DataView)) {
    const items = Array.from(object as unknown as ArrayLike<number | bigint>, (v) => pythonRepr(v, path));
    return `${object.constructor.name}([${items.join(", ")}])`;
  }
  if (object instanceof ArrayBuffer) return `ArrayBuffer(${pythonBytesRepr(new Uint8Array(object))})`;
  if (object instanceof Map) {
    const entries = [...object].map(([k, v]) => `${pythonRepr(k, path)}: ${pythonRepr(v, path)}`);
    return `Map({${entries.sort().join(", ")}})`;
  }
  if (object instanceof Set) {
    if (object.size === 0) return "set()";
    return `{${[...object].map((v) => pythonRepr(v, path)).sort().join(", ")}}`;
  }
  if (object instanceof RegExp) return `re.compile(${pythonStringRepr(object.source)}, ${pythonStringRepr(object.flags)})`;
  return instanceRepr(object, path);
}

function dictRepr(keys: string[], get: (key: string) => unknown, path: object[]): string {
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    out += `${i ? ", " : ""}${pythonStringRepr(key)}: ${pythonRepr(get(key), path)}`;
  }
  return `${out}}`;
}

/** A class instance: `Name(<repr of toJSON()>)`, or `Name(a=…, b=…)` from its own enumerable fields. */
function instanceRepr(object: object, path: object[]): string {
  const name = object.constructor?.name || "Object";
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return `${name}(${pythonRepr(toJSON.call(object), path)})`;
  const keys = Object.keys(object).sort();
  if (keys.length === 0) {
    throw new UncacheableArgumentError(
      `an instance of ${name} has no public fields and no toJSON() method, so two different instances ` +
        "would get the same cache key. Give the class a toJSON() method, or pass plain data instead.",
    );
  }
  const fields = keys.map((k) => `${k}=${pythonRepr((object as Record<string, unknown>)[k], path)}`);
  return `${name}(${fields.join(", ")})`;
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, "0");
}
