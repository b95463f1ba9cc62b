/**
 * A program-like module that must type-check under both decorator dialects: TC39 standard decorators
 * (tsconfig.standard.json) and `experimentalDecorators` (tsconfig.legacy.json). `npm run typecheck`
 * compiles it with both.
 */
import { JSONCache, Cached } from "../../src/index.js";

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

/** Misuse: @Cached on a class that does not extend JSONCache must fail to compile. */
export class NotACache {
  // @ts-expect-error -- @Cached only applies to methods of JSONCache subclasses
  @Cached() compute(): number {
    return 1;
  }
}
