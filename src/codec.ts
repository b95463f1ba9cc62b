/**
 * How a value is written to the cache file and read back. Plain JSON values are stored as they are;
 * values JSON cannot hold (Date, Map, Set, BigInt, undefined, NaN, ±Infinity, -0, typed arrays,
 * Buffer, RegExp) are stored as tagged objects `{"$cacherator": "<type>", "v": …}` and come back as
 * the same type. A plain object that happens to own a `$cacherator` key is wrapped, so it comes back
 * unchanged too.
 *
 * What the Python library must be able to write back stays plain: BigInts beyond 2^53 are written as
 * bare integers (encoded-json.ts), which Python reads as ints. What it could not write back is tagged:
 * a string holding a lone surrogate (Python's save would fail and truncate the file), and an object
 * key holding one.
 */
import { bigIntPlaceholder, isPlaceholder, largeNumberPlaceholder, placeholderValue } from "./encoded-json.js";

export const TAG = "$cacherator";

/** Thrown by `encodeValue` for values that cannot be persisted; `reason` is shown to the user. */
export class UnencodableValueError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

type Tagged = { [TAG]: string; v?: unknown };

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A string stored as it is: well-formed UTF-16 (Python can write it back), and not a placeholder. */
function plainString(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed() && !isPlaceholder(value);
}

function codeUnits(value: string): number[] {
  const units = new Array<number>(value.length);
  for (let i = 0; i < value.length; i++) units[i] = value.charCodeAt(i);
  return units;
}

/** `items` with `convert` applied to each: the same array when nothing changed, else a copy made at the first change. */
function mapItems(items: unknown[], convert: (item: unknown) => unknown): unknown[] {
  let copy: unknown[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    const converted = convert(item);
    if (converted !== item && copy === undefined) copy = items.slice(0, i);
    if (copy !== undefined) copy.push(converted);
  }
  return copy ?? items;
}

/** The fields of `record` with `convert` applied to each value: the same record when nothing changed. */
function mapFields(record: Record<string, unknown>, keys: string[], convert: (item: unknown) => unknown): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = record[key];
    const converted = convert(item);
    if (converted !== item && copy === undefined) {
      copy = {};
      for (let j = 0; j < i; j++) put(copy, keys[j] as string, record[keys[j] as string]);
    }
    if (copy !== undefined) put(copy, key, converted);
  }
  return copy ?? record;
}

function fromCodeUnits(units: number[]): string {
  let out = "";
  for (let i = 0; i < units.length; i += 8192) out += String.fromCharCode(...units.slice(i, i + 8192));
  return out;
}

const TYPED_ARRAYS = {
  Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
} as const;

/** Sets a property, also one named `__proto__` (which plain assignment would turn into a prototype). */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

function tag(type: string, v?: unknown): Tagged {
  return v === undefined ? { [TAG]: type } : { [TAG]: type, v };
}

/**
 * Turns a value into plain JSON data. Returns the same reference where nothing needed a tag, so
 * encoding plain JSON costs one walk and no copy.
 */
export function encodeValue(value: unknown, path: object[] = []): unknown {
  switch (typeof value) {
    case "string":
      return plainString(value) ? value : tag("String", codeUnits(value));
    case "boolean":
      return value;
    case "number":
      if (value <= Number.MAX_SAFE_INTEGER && value >= -Number.MAX_SAFE_INTEGER) return Object.is(value, -0) ? tag("Number", "-0") : value;
      if (Number.isFinite(value)) return Math.abs(value) < 1e21 ? largeNumberPlaceholder(value) : value;
      return tag("Number", String(value));
    case "undefined":
      return tag("undefined");
    case "bigint":
      return value > MAX_SAFE || value < -MAX_SAFE ? bigIntPlaceholder(value) : tag("BigInt", value.toString());
    case "function":
      throw new UnencodableValueError(`it contains a function (${value.name || "anonymous"})`);
    case "symbol":
      throw new UnencodableValueError(`it contains a symbol (${String(value)})`);
  }
  if (value === null) return null;
  const object = value as object;
  if (path.includes(object)) throw new UnencodableValueError("it contains a circular reference");
  path.push(object);
  try {
    return encodeObject(object, path);
  } finally {
    path.pop();
  }
}

function encodeObject(object: object, path: object[]): unknown {
  const encode = (item: unknown) => encodeValue(item, path);
  if (Array.isArray(object)) return mapItems(object, encode);
  const proto = Object.getPrototypeOf(object) as object | null;
  if (proto === Object.prototype || proto === null) {
    const record = object as Record<string, unknown>;
    const keys = Object.keys(record);
    if (!keys.every(plainString)) return tag("Record", keys.map((key) => [encode(key), encode(record[key])]));
    const result = mapFields(record, keys, encode);
    return TAG in record ? tag("Object", result) : result;
  }
  if (object instanceof Date) {
    const time = object.getTime();
    return tag("Date", Number.isNaN(time) ? null : object.toISOString());
  }
  if (Buffer.isBuffer(object)) return tag("Buffer", object.toString("base64"));
  if (object instanceof Uint8Array) return tag("Uint8Array", Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString("base64"));
  if (ArrayBuffer.isView(object) && !(object instanceof DataView)) {
    const name = object.constructor.name;
    if (name in TYPED_ARRAYS) {
      return tag(name, Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString("base64"));
    }
  }
  if (object instanceof Map) return tag("Map", Array.from(object, ([k, v]) => [encodeValue(k, path), encodeValue(v, path)]));
  if (object instanceof Set) return tag("Set", Array.from(object, (v) => encodeValue(v, path)));
  if (object instanceof RegExp) return tag("RegExp", [object.source, object.flags]);
  const name = object.constructor?.name || "unknown class";
  throw new UnencodableValueError(
    `it contains an instance of ${name}, which would come back as a plain object without its class`,
  );
}

/** The inverse of `encodeValue`. Returns the same reference where nothing was tagged. */
export function decodeValue(data: unknown): unknown {
  if (typeof data !== "object" || data === null) return typeof data === "string" && isPlaceholder(data) ? placeholderValue(data) : data;
  if (Array.isArray(data)) return mapItems(data, decodeValue);
  const record = data as Record<string, unknown>;
  const type = record[TAG];
  if (typeof type === "string") return decodeTagged(type, record.v);
  return mapFields(record, Object.keys(record), decodeValue);
}

function decodeTagged(type: string, v: unknown): unknown {
  switch (type) {
    case "undefined": return undefined;
    case "Number": return Number(v);
    case "BigInt": return BigInt(v as string);
    case "Date": return new Date(v === null ? NaN : (v as string));
    case "Buffer": return Buffer.from(v as string, "base64");
    case "Uint8Array": return new Uint8Array(Buffer.from(v as string, "base64"));
    case "Map": return new Map((v as [unknown, unknown][]).map(([k, x]) => [decodeValue(k), decodeValue(x)]));
    case "Set": return new Set((v as unknown[]).map(decodeValue));
    case "RegExp": return new RegExp((v as [string, string])[0], (v as [string, string])[1]);
    case "String": return fromCodeUnits(v as number[]);
    case "Record": {
      const out: Record<string, unknown> = {};
      for (const [key, value] of v as [unknown, unknown][]) put(out, String(decodeValue(key)), decodeValue(value));
      return out;
    }
    case "Object": {
      // A plain object that owned a `$cacherator` key: its fields are decoded, the key kept.
      const fields = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(fields)) put(out, key, decodeValue(fields[key]));
      return out;
    }
  }
  if (type in TYPED_ARRAYS) {
    const bytes = Buffer.from(v as string, "base64");
    const Ctor = TYPED_ARRAYS[type as keyof typeof TYPED_ARRAYS];
    const copy = new Uint8Array(bytes); // aligned, owned buffer
    return new Ctor(copy.buffer, 0, copy.byteLength / Ctor.BYTES_PER_ELEMENT);
  }
  throw new Error(`unknown value tag "${type}"`);
}

/**
 * A value from a file another program wrote (the Python library) in the encoded form: nothing in it is
 * a tag, so an object owning a `$cacherator` key is wrapped, and a string our files never hold plainly
 * (a lone surrogate) is tagged. Placeholders (Python's big ints and NaN) stay. Returns the same
 * reference when nothing changed.
 */
export function foreignValue(data: unknown): unknown {
  if (typeof data === "string") return isPlaceholder(data) || plainString(data) ? data : tag("String", codeUnits(data));
  if (typeof data !== "object" || data === null) return data;
  if (Array.isArray(data)) return mapItems(data, foreignValue);
  const record = data as Record<string, unknown>;
  const keys = Object.keys(record);
  if (!keys.every(plainString)) return tag("Record", keys.map((key) => [plainString(key) ? key : tag("String", codeUnits(key)), foreignValue(record[key])]));
  const result = mapFields(record, keys, foreignValue);
  return TAG in record ? tag("Object", result) : result;
}
