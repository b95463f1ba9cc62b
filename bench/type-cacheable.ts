/**
 * @type-cacheable/core ships legacy (experimentalDecorators) decorators only; the benchmark applies
 * them by hand: call the decorator with (prototype, name, descriptor) and define the result.
 */
import { Cacheable } from "@type-cacheable/core";
import { LRUCacheAdapter } from "@type-cacheable/lru-cache-adapter";
import { LRUCache } from "lru-cache";

/** The adapter's CommonJS typing of lru-cache differs from the ESM one in name only. */
type AdapterClient = ConstructorParameters<typeof LRUCacheAdapter>[0];

export function typeCacheableClient(): LRUCacheAdapter<object> {
  return new LRUCacheAdapter(new LRUCache<string, object>({ max: 10_000 }) as unknown as AdapterClient);
}

export function applyLegacy(
  prototype: object,
  name: string,
  decorate: (target: object, key: string, descriptor: PropertyDescriptor) => PropertyDescriptor | void,
): void {
  const descriptor = Object.getOwnPropertyDescriptor(prototype, name) as PropertyDescriptor;
  const result = decorate(prototype, name, descriptor);
  Object.defineProperty(prototype, name, result ?? descriptor);
}

/** `@Cacheable({ cacheKey: args => `${name}:${args[0]}`, ttlSeconds, client })` on `prototype[name]`. */
export function applyTypeCacheable(prototype: object, name: string, ttlSeconds: number): void {
  const client = typeCacheableClient();
  applyLegacy(prototype, name, Cacheable({ cacheKey: (args: unknown[]) => `${name}:${String(args[0])}`, ttlSeconds, client }));
}
