/**
 * Results that cannot be written to the file (a function, a cycle…): returned, not persisted, one
 * warning names the method, and after a restart they are computed again while the others are hits.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { recordingLogger, runProgram, tempDir } from "./helpers.js";
import { cachedKeys, resetLoggingAroundEachTest, warnings } from "./failure-helpers.js";

resetLoggingAroundEachTest();

describe("results that cannot be written to the file", () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  const unencodable: [string, () => unknown][] = [
    ["a function inside", () => ({ label: "f", run: () => 1 })],
    [
      "a circular structure",
      () => {
        const node: Record<string, unknown> = { name: "loop" };
        node.self = node;
        return node;
      },
    ],
    ["a class instance", () => ({ at: new Point(1, 2) })],
  ];

  it.each(unencodable)("%s: returned, served from memory, not written, warned about once, and other entries still save", async (_what, make) => {
    const directory = tempDir();
    const log = recordingLogger();
    let runs = 0;
    class Odd extends JSONCache {
      constructor() {
        super({ dataId: "odd", directory, logger: log });
      }
      @Cached() odd(_n: number) {
        runs++;
        return make();
      }
      @Cached() plain(n: number) {
        return n + 1;
      }
    }
    const odd = new Odd();
    const first = odd.odd(1);
    expect(first).toBeTypeOf("object");
    expect(odd.lastCacheStatus).toBe("miss");
    expect(odd.odd(1)).toBe(first);
    expect(odd.lastCacheStatus).toBe("l1");
    odd.odd(2);
    odd.odd(2);
    odd.odd(1);
    expect(runs).toBe(2);
    expect(odd.plain(1)).toBe(2);
    await expect(odd.jsonCacheSave()).resolves.toBe(true);
    expect(cachedKeys(join(directory, "odd.json"))).toEqual(["plain(1,){}"]);
    await expect(odd.jsonCacheSave()).resolves.toBe(true);
    expect(warnings(log)).toHaveLength(1);
    expect(warnings(log)[0]).toContain("odd");
    expect(log.messages).toHaveLength(1);
  });

  it("after a restart an unencodable result is computed again, while the others are hits", async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      class Point { constructor(public x: number) {} }
      const runs = { odd: 0, plain: 0 };
      class Odd extends JSONCache {
        constructor() { super({ dataId: "odd" }); }
        @Cached() odd() { runs.odd++; return new Point(1); }
        @Cached() plain() { runs.plain++; return 1; }
      }
      const o = new Odd();
      o.odd(); const oddStatus = o.lastCacheStatus;
      o.plain(); const plainStatus = o.lastCacheStatus;
      console.log(JSON.stringify({ runs, oddStatus, plainStatus }));
    `;
    const first = await runProgram(program, { cwd });
    expect(first.lines).toEqual([{ runs: { odd: 1, plain: 1 }, oddStatus: "miss", plainStatus: "miss" }]);
    expect(first.stderr.match(/\[cacherator\]/g)).toHaveLength(1);
    const second = await runProgram(program, { cwd });
    expect(second.lines).toEqual([{ runs: { odd: 1, plain: 0 }, oddStatus: "miss", plainStatus: "l1" }]);
  });
});
