/**
 * Warnings about dataIds that make unrelated code share results.
 *
 * The default dataId is the class name, and a minifier renames classes: two classes can end up with
 * one name (`e`), or two classes can be given one dataId by hand. Instances of both then share one
 * cache, and methods of the same name share results silently. Each case is warned about once:
 * - two classes, neither extending the other, using one dataId in one directory;
 * - a default dataId that looks like a minified name (one or two characters, `_a`, `$t`), or the
 *   fallback of an anonymous class.
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import type { CacheLog } from "./logger.js";

/** The first class seen per dataId and directory, held weakly (classes can be created dynamically). */
const owners = new Map<string, WeakRef<Owner>>();

type Owner = abstract new (...args: never[]) => unknown;

/** Whether `name` looks like what a minifier makes of a class name (or is missing). */
export function looksMangled(name: string): boolean {
  return name.length <= 2 || /^[_$][\w$]{1,2}$/.test(name);
}

/**
 * The default dataId for a class or function of this name. A name that looks minified gets a hash of
 * the code it names (a class with its superclasses up to JSONCache), so two classes that a minifier
 * gave one name never share a cache, and neither serves the other's results; a new build starts afresh.
 */
export function defaultDataId(name: string, code: readonly string[]): string {
  if (!looksMangled(name)) return name;
  const digest = createHash("sha256");
  for (const text of code) digest.update(text).update("\0");
  return `${name || "anonymous"}-${digest.digest("hex").slice(0, 12)}`;
}

/** The source of a class and of its superclasses below `base`. */
export function classCode(target: abstract new (...args: never[]) => unknown, base: unknown): string[] {
  const code: string[] = [];
  for (let current: unknown = target; typeof current === "function" && current !== base; current = Object.getPrototypeOf(current)) {
    code.push(Function.prototype.toString.call(current));
  }
  return code;
}

function related(a: Owner, b: Owner): boolean {
  return a.prototype instanceof b || b.prototype instanceof a;
}

export interface DataIdUse {
  dataId: string;
  directory: string;
  /** The class or function name the dataId was derived from; `undefined` when the dataId was given. */
  defaultFrom: string | undefined;
  /** What the name belongs to, for the message: "class" or "function". */
  kind: "class" | "function";
  /** The constructor of the instance (`new.target`). */
  owner: Owner;
  log: CacheLog;
}

/** Notes one construction; warns once per cause about a shared or minified dataId. */
export function noteDataIdUse(use: DataIdUse): void {
  const { dataId, owner, log, defaultFrom, kind } = use;
  if (defaultFrom !== undefined && looksMangled(defaultFrom)) {
    const shown = defaultFrom === "" ? `an anonymous ${kind}` : `${kind} "${defaultFrom}"`;
    const fix = kind === "class" ? `pass { dataId: "..." } to super()` : `pass { name: "...", dataId: "..." } to cached()`;
    log.once(
      "warn",
      `mangled-data-id:${dataId}`,
      `${shown} uses the dataId "${dataId}" by default: its name looks minified or is missing, so the dataId carries a hash ` +
        `of its code (unrelated code that a minifier gave one name never shares a cache), and every new build starts a new cache. ` +
        `Production builds should pass a dataId: ${fix}.`,
    );
  }
  const place = `${resolve(use.directory)}\u0000${dataId}`;
  const first = owners.get(place)?.deref();
  if (first === undefined) {
    owners.set(place, new WeakRef(owner));
    return;
  }
  if (first === owner || related(first, owner) || distinctFunctions(first, owner)) return;
  log.once(
    "warn",
    `shared-data-id:${place}`,
    `the dataId "${dataId}" is used by two unrelated classes or functions, ${describe(first)} and ${describe(owner)}: they share one cache ` +
      `file, and methods of the same name share their results (after minification, two classes can have the same name). ` +
      `Give each class its own dataId: pass { dataId: "..." } to super().`,
  );
}

/** Classes made by `cached()` carry the function's name here: functions sharing a dataId by design do not conflict. */
export const FUNCTION_NAME = Symbol("cacherator.functionName");

function distinctFunctions(a: Owner, b: Owner): boolean {
  const nameA = (a as unknown as Record<symbol, unknown>)[FUNCTION_NAME];
  const nameB = (b as unknown as Record<symbol, unknown>)[FUNCTION_NAME];
  return nameA !== undefined && nameB !== undefined && nameA !== nameB;
}

function describe(owner: Owner): string {
  const fn = (owner as unknown as Record<symbol, unknown>)[FUNCTION_NAME];
  if (typeof fn === "string") return `cached(${fn})`;
  return owner.name === "" ? "an anonymous class" : owner.name;
}
