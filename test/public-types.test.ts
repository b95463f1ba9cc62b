/**
 * The public types reject misuse at compile time. Checked by `npm run typecheck` (the
 * `@ts-expect-error` lines fail it if they compile) and, for `expectTypeOf`, by the same run; at run
 * time these tests only construct what they type.
 */
import { DynamoDBClient as SdkDynamoDBClient } from "@aws-sdk/client-dynamodb";
import { describe, expectTypeOf, it } from "vitest";
import {
  Cacheable,
  Cached,
  cached,
  cacheOf,
  JSONCache,
  withCacheStatus,
  type CachedCallStatus,
  type CacheableOptions,
  type CacheLogger,
  type CacheStats,
  type CacheStatus,
  type CacheStatusReport,
  type Duration,
  type InstanceCache,
  type JSONCacheOptions,
  type LogLevel,
} from "../src/index.js";
import { tempDir } from "./helpers.js";

interface User {
  id: number;
  name: string;
}

describe("@Cached callbacks are typed against the method", () => {
  it("annotated shouldCache and ttl must match the method's result and arguments", () => {
    class Users extends JSONCache {
      @Cached({ shouldCache: (user: User | null) => user !== null })
      find(id: number): User | null { return id > 0 ? { id, name: "a" } : null; }

      @Cached({ ttl: (token: { expires_in: number }) => `${token.expires_in}s` })
      async token(_scope: string) { return { expires_in: 60 }; }

      @Cached({ key: (url: string, _signal?: AbortSignal) => url })
      async page(url: string, _signal?: AbortSignal) { return url; }

      // @ts-expect-error -- shouldCache expects a User, the method returns a string
      @Cached({ shouldCache: (user: User) => user.id > 0 }) label(id: number) { return `#${id}`; }

      // @ts-expect-error -- the ttl function reads a number argument, the method takes a string
      @Cached({ ttl: (_result: string, args: [number]) => args[0] }) echo(text: string) { return text; }

      @Cached({ key: () => "all" }) // a key may ignore the arguments
      everything(_filter: string) { return [1, 2]; }

      @Cached({ shouldCache: (user) => user !== undefined }) // unannotated callbacks still accept any method
      loose(id: number) { return id; }
    }
    expectTypeOf(Users.prototype.find).returns.toEqualTypeOf<User | null>();
  });

  it("cached() infers the callbacks' types from the function", () => {
    const find = cached((id: number): User | null => ({ id, name: "a" }), { name: "find", directory: tempDir(), shouldCache: (user) => user !== null });
    expectTypeOf(find).returns.toEqualTypeOf<User | null>();
    // @ts-expect-error -- the result is a User or null, not a string
    cached((id: number): User | null => ({ id, name: "a" }), { name: "find2", directory: tempDir(), shouldCache: (user: string) => user !== "" });
  });
});

describe("durations", () => {
  it("numbers and duration strings compile; a string without a unit does not", () => {
    const ok: Duration[] = [0.25, Infinity, "90s", "15m", "6h", "1d", "2w", "500ms", "1h30m", "Infinity"];
    expectTypeOf(ok).toEqualTypeOf<Duration[]>();
    // @ts-expect-error -- no unit: days? hours?
    const bare: Duration = "10";
    // @ts-expect-error -- not a unit
    const parsecs: Duration = "5pc";
    // Defined, never run: the bad options would also be refused at run time.
    const define = () => class Timed extends JSONCache {
      constructor() {
        // @ts-expect-error -- "10" is ambiguous
        super({ ttl: "10" });
      }
      // @ts-expect-error -- "soon" is not a duration
      @Cached({ ttl: "soon" }) value() { return 1; }
      @Cached({ ttl: "6h", staleTtl: "1d" }) other() { return 1; }
    };
    void [bare, parsecs, define];
  });
});

describe("options", () => {
  it("dynamodbClient takes the SDK's DynamoDBClient and refuses other values", () => {
    expectTypeOf<SdkDynamoDBClient>().toMatchTypeOf<NonNullable<JSONCacheOptions["dynamodbClient"]>>();
    const options: JSONCacheOptions = { dynamodbTable: "t", dynamodbClient: new SdkDynamoDBClient({ region: "us-east-1" }) };
    // @ts-expect-error -- a table name is not a client
    const wrong: JSONCacheOptions = { dynamodbClient: "my-table" };
    void [options, wrong];
  });

  it("logLevel takes the five levels; loggers of the common shapes compile", () => {
    expectTypeOf<LogLevel>().toEqualTypeOf<"debug" | "info" | "warn" | "error" | "silent">();
    // @ts-expect-error -- not a level
    const loud: JSONCacheOptions = { logLevel: "verbose" };
    const nest = { log(_message: unknown, _context?: string) {}, warn(_m: unknown) {}, error(_m: unknown) {}, verbose(_m: unknown) {} };
    const withNest: JSONCacheOptions = { logger: nest };
    const withConsole: JSONCacheOptions = { logger: console };
    expectTypeOf(nest).toMatchTypeOf<CacheLogger>();
    void [loud, withNest, withConsole];
  });
});

describe("any class, and status per call", () => {
  it("@Cached compiles on a class that does not extend JSONCache; static methods are still refused", () => {
    @Cacheable({ dataId: "typed-plain", directory: tempDir(), ttl: "1h" })
    class Plain {
      constructor(private readonly factor: number) {}
      @Cached() times(x: number) { return x * this.factor; }
      @Cached({ shouldCache: (user: User | null) => user !== null }) find(id: number): User | null { return { id, name: "a" }; }
    }
    expectTypeOf(new Plain(2).times).returns.toEqualTypeOf<number>();
    // Defined, never run: a static method is also refused at run time.
    const define = () => class WithStatic {
      // @ts-expect-error -- a static method has no instance to cache in
      @Cached() static make() { return 1; }
    };
    void define;
  });

  it("@Cacheable takes JSONCache's options for results, not exclude, and decorates classes only", () => {
    // @ts-expect-error -- attributes are JSONCache's: exclude is not an option of @Cacheable
    const excluding: CacheableOptions = { exclude: ["token"] };
    // @ts-expect-error -- "soon" is not a duration
    const soon: CacheableOptions = { ttl: "soon" };
    const table: CacheableOptions = { dataId: "rates", dynamodbTable: "cache", logLevel: "error" };
    const define = () => {
      class Methods {
        // @ts-expect-error -- @Cacheable decorates a class, not a method
        @Cacheable() run() { return 1; }
      }
      return Methods;
    };
    void [excluding, soon, table, define];
  });

  it("cacheOf takes an object and gives the cache's status and management", () => {
    expectTypeOf(cacheOf).parameter(0).toEqualTypeOf<object>();
    expectTypeOf(cacheOf).returns.toEqualTypeOf<InstanceCache>();
    expectTypeOf<InstanceCache["lastCacheStatus"]>().toEqualTypeOf<CacheStatus | null>();
    expectTypeOf<InstanceCache["cacheStatus"]>().toEqualTypeOf<Record<string, CacheStatus>>();
    expectTypeOf<ReturnType<InstanceCache["clear"]>>().toEqualTypeOf<Promise<boolean>>();
    expectTypeOf<ReturnType<InstanceCache["save"]>>().toEqualTypeOf<Promise<boolean>>();
    const check = (cache: InstanceCache) => {
      expectTypeOf(cache.stats()).toEqualTypeOf<CacheStats>();
      expectTypeOf(cache.stats({ l2: true })).toEqualTypeOf<Promise<CacheStats & { l2: CacheStats | undefined }>>();
      // @ts-expect-error -- a number is not an instance
      cacheOf(42);
    };
    void check;
  });

  it("withCacheStatus: an async function gives a promise of its report, a sync one the report itself", () => {
    const check = async (load: (id: number) => Promise<User>, name: (id: number) => string) => {
      expectTypeOf(withCacheStatus(() => load(1))).toEqualTypeOf<Promise<CacheStatusReport<User>>>();
      expectTypeOf(withCacheStatus(() => name(1))).toEqualTypeOf<CacheStatusReport<string>>();
      const { result, calls } = await withCacheStatus(() => load(1));
      expectTypeOf(result).toEqualTypeOf<User>();
      expectTypeOf(calls).toEqualTypeOf<CachedCallStatus[]>();
      expectTypeOf<CachedCallStatus>().toEqualTypeOf<{ dataId: string; method: string; key: string; status: CacheStatus; failed: boolean }>();
      // @ts-expect-error -- a function is expected, not its result
      withCacheStatus(load(1));
    };
    void check;
  });
});
