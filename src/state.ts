/**
 * Object state: which attributes of a JSONCache instance are persisted, and how they come back.
 *
 * Persisted: the instance's own enumerable properties, except functions, the names in `exclude`,
 * and library bookkeeping (which lives in private fields and prototype getters, never in own
 * properties). Restored: every persisted attribute of the file, except excluded names, names that
 * are methods or accessors of the class, and the bookkeeping the Python library wrote by mistake.
 *
 * The base constructor restores attributes before the subclass's fields are initialised, and a
 * class field initialiser (`score = 0`) would silently replace the restored value. So restored
 * attributes are installed as self-replacing accessors: the first read or write turns each into a
 * plain data property, and a check right after construction warns when one was overwritten before
 * anything read or assigned it — which only a class field initialiser (define semantics) does.
 */
import { decodeValue, encodeValue, UnencodableValueError } from "./codec.js";
import type { CacheLog } from "./logger.js";

/** Attributes the Python cacherator persisted as a bug; never restored onto an object. */
const PYTHON_BOOKKEEPING = new Set([
  "_dynamodb_enabled", "_save_on_del", "cache_status", "last_cache_status", "_excluded_cache_vars", "_dynamodb",
]);

function isRestorable(name: string, exclude: ReadonlySet<string>): boolean {
  return !exclude.has(name) && !PYTHON_BOOKKEEPING.has(name) && !name.startsWith("_json_cache") && name !== "__proto__";
}

/**
 * Attributes that a class field initialiser overwrote right after they were restored: name → the
 * stored text and the default's text. While the attribute still holds that default, the stored value
 * is what gets written, so the field initialiser does not erase saved data.
 */
export type OverwrittenAttributes = Map<string, { stored: string; default: string }>;

/** The attributes to write: name → JSON text of the encoded value. */
export function captureAttributes(
  owner: object,
  exclude: ReadonlySet<string>,
  overwritten: OverwrittenAttributes,
  log: CacheLog,
): Map<string, string> {
  const out = new Map<string, string>();
  const record = owner as Record<string, unknown>;
  for (const name of Object.keys(owner)) {
    if (exclude.has(name)) continue;
    const value = record[name];
    if (typeof value === "function") continue;
    try {
      const text = JSON.stringify(encodeValue(value));
      const kept = overwritten.get(name);
      if (kept === undefined) {
        out.set(name, text);
      } else if (kept.default === text) {
        out.set(name, kept.stored);
      } else {
        overwritten.delete(name); // changed since: the new value is the user's
        out.set(name, text);
      }
    } catch (error) {
      if (!(error instanceof UnencodableValueError)) throw error;
      const className = owner.constructor.name;
      log.once("warn", `attribute:${className}.${name}`, `${className}.${name} is not persisted: ${error.reason}. Exclude it with the "exclude" option, or store plain data.`);
    }
  }
  return out;
}

/** Puts the persisted attributes back onto a freshly constructed instance. */
export function restoreAttributes(
  target: object,
  variables: ReadonlyMap<string, string>,
  exclude: ReadonlySet<string>,
  overwritten: OverwrittenAttributes,
  log: CacheLog,
): void {
  const className = target.constructor.name;
  const pending = new Map<string, () => unknown>();
  for (const [name, text] of variables) {
    if (!isRestorable(name, exclude)) continue;
    if (name in target) {
      log.once("warn", `shadow:${className}.${name}`, `the cache file holds an attribute "${name}", but ${className} has a method or accessor of that name; the stored value is ignored.`);
      continue;
    }
    let value: unknown;
    try {
      value = decodeValue(JSON.parse(text));
    } catch {
      log.once("warn", `undecodable:${className}.${name}`, `the stored value of ${className}.${name} cannot be read; the attribute is not restored.`);
      continue;
    }
    const settle = (current: unknown) => {
      Object.defineProperty(target, name, { value: current, writable: true, enumerable: true, configurable: true });
      pending.delete(name);
    };
    const getter = () => {
      settle(value);
      return value;
    };
    pending.set(name, getter);
    Object.defineProperty(target, name, { configurable: true, enumerable: true, get: getter, set: settle });
  }
  if (pending.size === 0) return;
  // Runs once the constructor (and whatever else runs synchronously with it) has finished.
  queueMicrotask(() => {
    for (const [name, getter] of pending) {
      const descriptor = Object.getOwnPropertyDescriptor(target, name);
      if (descriptor?.get === getter) {
        getter(); // untouched: becomes a plain data property, at no cost from here on
      } else if (descriptor !== undefined && "value" in descriptor) {
        const stored = variables.get(name) as string;
        let current: string;
        try {
          current = JSON.stringify(encodeValue(descriptor.value));
        } catch {
          continue;
        }
        if (current === stored) continue;
        overwritten.set(name, { stored, default: current });
        log.once(
          "warn",
          `overwritten:${className}.${name}`,
          `${className}.${name} was restored from the cache file and then overwritten during construction ` +
            `by a class field initialiser, so the object shows the field's default (the file keeps the stored ` +
            `value until the attribute is changed). ` +
            `Declare persisted attributes with \`declare ${name}: …\` and set defaults after super() with ` +
            `\`this.${name} ??= …\`.`,
        );
      }
    }
    pending.clear();
  });
}
