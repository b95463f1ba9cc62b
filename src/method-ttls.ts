/**
 * The TTL each decorated method declares, recorded per class prototype, so `jsonCacheStats()` can
 * tell live entries from expired ones for methods that have not been called yet in this process.
 */
const ttlsByPrototype = new WeakMap<object, Map<string, number>>();
/** A companion cache (cacheable.ts) → the instance whose methods it caches, whose TTLs are the ones. */
const lenders = new WeakMap<object, object>();

export function registerMethodTtl(prototype: object, name: string, ttlMs: number): void {
  let ttls = ttlsByPrototype.get(prototype);
  if (ttls === undefined) ttlsByPrototype.set(prototype, (ttls = new Map()));
  ttls.set(name, ttlMs);
}

/** The TTLs of `cache`'s methods are those of `instance`'s (a companion cache and its instance). */
export function lendMethodTtls(cache: object, instance: object): void {
  lenders.set(cache, instance);
}

/** The TTL a method of `instance` declares, looked up from the most derived class up. */
export function methodTtl(instance: object, name: string): number | undefined {
  for (let proto = Object.getPrototypeOf(lenders.get(instance) ?? instance) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
    const ttl = ttlsByPrototype.get(proto)?.get(name);
    if (ttl !== undefined) return ttl;
  }
  return undefined;
}
