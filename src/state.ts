/**
 * Object state: which attributes of a JSONCache instance are persisted, and how they come back.
 *
 * Persisted: the instance's own enumerable properties, except functions, the names in `exclude`,
 * and library bookkeeping (which lives in private fields and prototype getters, never in own
 * properties). They are written when the user calls `jsonCacheSave()` — never implicitly, so a
 * half-built or defaulted object never overwrites saved state behind the user's back. Restored: every
 * persisted attribute of the file, except excluded names, names that are methods or accessors of the
 * class, and the bookkeeping the Python library wrote by mistake.
 *
 * The base constructor restores attributes before the subclass's fields are initialised, so a class
 * field initialiser (`score = 0`) replaces the restored value. Restored attributes are therefore
 * installed as self-replacing accessors: the first read turns each into a plain data property. A
 * check right after construction (or at the first save, if that comes sooner) warns about attributes
 * that were replaced before anything read them — what a field initialiser does.
 */
import { decodeValue, encodeValue, UnencodableValueError } from "./codec.js";
import { parseEncodedJson, stringifyEncoded } from "./encoded-json.js";
import type { CacheLog } from "./logger.js";

/** Attributes the Python cacherator persisted as a bug; never restored onto an object. */
const PYTHON_BOOKKEEPING = new Set([
  "_dynamodb_enabled", "_save_on_del", "cache_status", "last_cache_status", "_excluded_cache_vars", "_dynamodb",
]);

function isRestorable(name: string, exclude: ReadonlySet<string>): boolean {
  return !exclude.has(name) && !PYTHON_BOOKKEEPING.has(name) && !name.startsWith("_json_cache") && name !== "__proto__";
}

/** The attributes to write: name → JSON text of the encoded value. */
export function captureAttributes(owner: object, exclude: ReadonlySet<string>, log: CacheLog): Map<string, string> {
  const out = new Map<string, string>();
  const record = owner as Record<string, unknown>;
  for (const name of Object.keys(owner)) {
    if (exclude.has(name)) continue;
    const value = record[name];
    if (typeof value === "function") continue;
    if (!(name as string & { isWellFormed(): boolean }).isWellFormed()) {
      log.once("warn", `attribute-name:${owner.constructor.name}`, `${owner.constructor.name} has an attribute whose name holds a lone surrogate; it is not persisted, since the Python library could not write the file back.`);
      continue;
    }
    try {
      out.set(name, stringifyEncoded(encodeValue(value)));
    } catch (error) {
      if (!(error instanceof UnencodableValueError)) throw error;
      const className = owner.constructor.name;
      log.once("warn", `attribute:${className}.${name}`, `${className}.${name} is not persisted: ${error.reason}. Exclude it with the "exclude" option, or store plain data.`);
    }
  }
  return out;
}

/**
 * Puts the persisted attributes back onto a freshly constructed instance. Returns the post-construction
 * check (idempotent); it also runs by itself in a microtask.
 */
export function restoreAttributes(
  target: object,
  variables: ReadonlyMap<string, string>,
  exclude: ReadonlySet<string>,
  log: CacheLog,
): () => void {
  const className = target.constructor.name;
  /** Restored attributes nobody has read yet: name → their accessor's getter. */
  const unread = new Map<string, () => unknown>();
  for (const [name, text] of variables) {
    if (!isRestorable(name, exclude)) continue;
    if (name in target) {
      log.once("warn", `shadow:${className}.${name}`, `the cache file holds an attribute "${name}", but ${className} has a method or accessor of that name; the stored value is ignored.`);
      continue;
    }
    let value: unknown;
    try {
      value = decodeValue(parseEncodedJson(text));
    } catch {
      log.once("warn", `undecodable:${className}.${name}`, `the stored value of ${className}.${name} cannot be read; the attribute is not restored.`);
      continue;
    }
    const settle = (current: unknown) => {
      Object.defineProperty(target, name, { value: current, writable: true, enumerable: true, configurable: true });
    };
    const getter = () => {
      unread.delete(name);
      settle(value);
      return value;
    };
    unread.set(name, getter);
    // An assignment before any read (a field initialiser under `useDefineForClassFields: false`)
    // replaces the accessor but stays listed as unread, for the check below.
    Object.defineProperty(target, name, { configurable: true, enumerable: true, get: getter, set: settle });
  }
  let checked = unread.size === 0;
  const check = () => {
    if (checked) return;
    checked = true;
    for (const [name, getter] of unread) {
      const descriptor = Object.getOwnPropertyDescriptor(target, name);
      if (descriptor?.get === getter) {
        getter(); // untouched: becomes a plain data property, at no cost from here on
        continue;
      }
      if (descriptor === undefined || !("value" in descriptor)) continue;
      let current: string;
      try {
        current = stringifyEncoded(encodeValue(descriptor.value));
      } catch {
        current = "";
      }
      if (current === variables.get(name)) continue;
      log.once(
        "warn",
        `replaced:${className}.${name}`,
        `${className}.${name} was restored from the cache file, then replaced before anything read it — ` +
          `usually by a class field initialiser, which runs after super(). The next jsonCacheSave() writes the ` +
          `new value. To keep the stored value, declare the attribute with \`declare ${name}: …\` and set its ` +
          `default after super() with \`this.${name} ??= …\`.`,
      );
    }
    unread.clear();
  };
  if (!checked) queueMicrotask(check);
  return check;
}

/** The attributes as one JSON object text, as the cache file and DynamoDB hold them. */
export function attributesJson(variables: ReadonlyMap<string, string>): string {
  return `{${[...variables].map(([name, text]) => `${JSON.stringify(name)}: ${text}`).join(", ")}}`;
}

/**
 * Sets persisted attributes on an instance after construction (state loaded from DynamoDB). Returns
 * the attributes as stored, for the local file.
 */
export function applyAttributes(target: object, json: string, exclude: ReadonlySet<string>, log: CacheLog): Map<string, string> {
  const stored = new Map<string, string>();
  let parsed: unknown;
  try {
    parsed = parseEncodedJson(json);
  } catch {
    log.once("warn", `l2-state:${target.constructor.name}`, `the attributes stored in DynamoDB for ${target.constructor.name} cannot be read; they are not applied.`);
    return stored;
  }
  const proto = Object.getPrototypeOf(target) as object;
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (!isRestorable(name, exclude) || name in proto) continue;
    try {
      (target as Record<string, unknown>)[name] = decodeValue(raw);
      stored.set(name, stringifyEncoded(raw));
    } catch {
      // A value this version cannot decode stays out.
    }
  }
  return stored;
}
