/**
 * A result the method did return is returned, whatever its encoding meets (a throwing getter or Proxy
 * trap, a revoked Proxy, an invalid Date, nesting deeper than the stack): kept in memory for this
 * process only, not written, and warned about once per method. A call that ran the method and failed
 * leaves "miss" as the last status. And `@Cached` of one copy of the library on a JSONCache of another.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Cached, CacheUsageError, JSONCache } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { recordingLogger, runProgram, tempDir } from "./helpers.js";

afterEach(() => CacheLog.resetReported());

function nested(depth: number): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = { child: value };
  return value;
}

const revoked = () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};

// An async method resolving to a revoked Proxy rejects by JavaScript's own rules (resolving reads
// `then`), so that case is sync only.
const cases: [string, () => unknown, boolean][] = [
  ["a throwing getter", () => ({ get boom() { throw new Error("getter says no"); } }), true],
  ["a throwing Proxy trap", () => new Proxy({}, { ownKeys() { throw new Error("trap says no"); } }), true],
  ["a revoked Proxy", revoked, false],
  ["nesting 20,000 levels deep", () => nested(20_000), true],
];

describe("results whose encoding throws", () => {
  it.each(cases)("%s: returned, served from memory, not written, one warning per method", async (_what, make, async) => {
    const logger = recordingLogger();
    const directory = tempDir();
    let runs = 0;
    class Odd extends JSONCache {
      constructor() { super({ dataId: "odd", directory, logger }); }
      @Cached() make(n: number) { runs++; return n === 0 ? "plain" : make(); }
      @Cached() async makeAsync(_n: number) { runs++; return make(); }
    }
    const odd = new Odd();
    const first = odd.make(1);
    expect(odd.lastCacheStatus).toBe("miss");
    expect(odd.make(1)).toBe(first);
    expect(odd.lastCacheStatus).toBe("l1");
    odd.make(2);
    expect(odd.make(0)).toBe("plain");
    if (async) {
      const firstAsync = await odd.makeAsync(1);
      expect(await odd.makeAsync(1)).toBe(firstAsync);
    }
    expect(runs).toBe(async ? 4 : 3);
    const warnings = logger.messages.filter((m) => m.level === "warn").map((m) => m.message);
    expect(warnings).toHaveLength(async ? 2 : 1);
    expect(warnings[0]).toMatch(/Odd\.make returned a value that cannot be written to the cache file: .*in memory for this process only/);
    if (async) expect(warnings[1]).toMatch(/Odd\.makeAsync returned/);
    expect(await odd.jsonCacheSave()).toBe(true);
    const file = JSON.parse(readFileSync(join(directory, "odd.json"), "utf8")) as { _json_cache_func_cache: object };
    expect(Object.keys(file._json_cache_func_cache)).toEqual(["make(0,){}"]);
  });
});

describe("an invalid Date", () => {
  it("is returned, and a hit returns it", () => {
    class Dates extends JSONCache {
      constructor() { super({ dataId: "dates", directory: tempDir() }); }
      @Cached() when() { return { at: new Date(Number.NaN) }; }
    }
    const dates = new Dates();
    const first = dates.when();
    expect(Number.isNaN(first.at.getTime())).toBe(true);
    expect(dates.when()).toBe(first);
    expect(dates.lastCacheStatus).toBe("l1");
  });
});

describe("the last status after a failed call", () => {
  it('a rejected first call leaves "miss" (the method ran), not null', async () => {
    class Flaky extends JSONCache {
      constructor() { super({ dataId: "flaky", directory: tempDir() }); }
      @Cached() async load(): Promise<number> { throw new Error("down"); }
      @Cached() loadSync(): number { throw new Error("down"); }
    }
    const flaky = new Flaky();
    expect(flaky.lastCacheStatus).toBeNull();
    await expect(flaky.load()).rejects.toThrow("down");
    expect(flaky.lastCacheStatus).toBe("miss");
    expect(flaky.cacheStatus).toEqual({});
    const other = new Flaky();
    expect(() => other.loadSync()).toThrow("down");
    expect(other.lastCacheStatus).toBe("miss");
  });
});

describe("two copies of the library", () => {
  it("@Cached of the CommonJS build on a class of the ES module build says two copies are loaded and what to do", async () => {
    const source = `
      import { createRequire } from "node:module";
      import { JSONCache } from "cacherator";
      const commonjs = createRequire(import.meta.url)(process.env.CACHERATOR_CJS);
      class Report extends JSONCache {
        constructor() { super({ dataId: "report", directory: "cache" }); }
        build() { return 1; }
      }
      const descriptor = Object.getOwnPropertyDescriptor(Report.prototype, "build")!;
      Object.defineProperty(Report.prototype, "build", commonjs.Cached()(Report.prototype, "build", descriptor));
      try {
        new Report().build();
        console.log("no error");
      } catch (error) {
        console.log(JSON.stringify({ name: error.name, sameClass: error instanceof commonjs.CacheUsageError, message: error.message }));
      }
    `;
    const result = await runProgram(source, { cwd: tempDir(), env: { CACHERATOR_CJS: fileURLToPath(new URL("../dist/index.cjs", import.meta.url)) } });
    const out = JSON.parse(result.stdout) as { name: string; sameClass: boolean; message: string };
    expect(out.name).toBe("CacheUsageError");
    expect(out.sameClass).toBe(true);
    expect(out.message).toMatch(/another copy of cacherator \(file:.*index\.js\) than this @Cached \(file:.*index\.cjs\)/);
    expect(out.message).toMatch(/Two copies of the library are loaded: usually its ES module and its CommonJS build/);
    expect(out.message).toMatch(/npm ls cacherator/);
  });

  it("a call without an object keeps the plain message", () => {
    class Plain {
      build() { return 1; }
    }
    const descriptor = Object.getOwnPropertyDescriptor(Plain.prototype, "build")!;
    Object.defineProperty(Plain.prototype, "build", (Cached() as (...args: unknown[]) => PropertyDescriptor)(Plain.prototype, "build", descriptor));
    const { build } = Plain.prototype;
    expect(() => build.call(undefined)).toThrow(CacheUsageError);
    expect(() => build.call(undefined)).toThrow(/without its object/);
  });
});
