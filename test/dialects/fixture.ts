/**
 * A program-like module that must type-check under both decorator dialects: TC39 standard decorators
 * (tsconfig.standard.json) and `experimentalDecorators` (tsconfig.legacy.json). `npm run typecheck`
 * compiles it with both.
 */
import { Cacheable, Cached, cacheOf, JSONCache, withCacheStatus, type CacheStatus } from "../../src/index.js";

export interface User {
  id: number;
  name: string;
}

export class Service extends JSONCache {
  declare visits: number;
  declare seen: string[];

  constructor(directory?: string) {
    super({ dataId: "dialects", directory, logging: false });
    this.visits ??= 0;
    this.seen ??= [];
  }

  @Cached()
  square(x: number): number {
    return x * x;
  }

  @Cached()
  async fetchUser(id: number): Promise<User> {
    return { id, name: `user-${id}` };
  }

  @Cached()
  get summary(): string {
    return `${this.visits} visits`;
  }

  @Cached({ ttl: 1 })
  daily(day: string): { day: string; length: number } {
    return { day, length: day.length };
  }
}

/** The decorated members keep their types: these assignments must compile in both dialects. */
export async function use(service: Service): Promise<string> {
  const squared: number = service.square(3);
  const user: User = await service.fetchUser(squared);
  const summary: string = service.summary;
  const daily: { day: string; length: number } = service.daily("monday");
  return `${user.name} ${summary} ${daily.length}`;
}

/** A class that does not extend JSONCache: cached in a companion cache, options from @Cacheable. */
@Cacheable({ dataId: "plain-service", ttl: "1h", logging: false })
export class PlainService {
  constructor(private readonly base: number) {}

  @Cached()
  add(x: number): number {
    return this.base + x;
  }

  @Cached({ ttl: "5m" })
  async load(id: number): Promise<User> {
    return { id, name: `user-${id + this.base}` };
  }

  // @ts-expect-error -- a static method has no instance to cache in
  @Cached() static create(): number {
    return 1;
  }
}

/** The management and per-call status helpers keep their types in both dialects. */
export async function usePlain(service: PlainService): Promise<CacheStatus | null> {
  const sum: number = service.add(1);
  const { result, calls } = await withCacheStatus(() => service.load(sum));
  const user: User = result;
  const first: CacheStatus | undefined = calls[0]?.status;
  void [user, first];
  return cacheOf(service).lastCacheStatus;
}
