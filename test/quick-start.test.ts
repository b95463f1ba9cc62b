import { describe, expect, it } from "vitest";
import { Cached, JSONCache } from "../src/index.js";
import { runProgram, tempDir } from "./helpers.js";

describe("quick start", () => {
  it("runs the method once and serves the second call from the cache", () => {
    const directory = tempDir();
    let runs = 0;
    class Calculator extends JSONCache {
      constructor() {
        super({ dataId: "calc", directory });
      }
      @Cached() expensiveCalculation(x: number, y: number) {
        runs++;
        return x ** y;
      }
    }
    const calc = new Calculator();
    expect(calc.lastCacheStatus).toBeNull();
    expect(calc.expensiveCalculation(2, 10)).toBe(1024);
    expect(calc.lastCacheStatus).toBe("miss");
    expect(calc.expensiveCalculation(2, 10)).toBe(1024);
    expect(calc.lastCacheStatus).toBe("l1");
    expect(runs).toBe(1);
  });

  it("serves the result from the file after a restart (a new process)", async () => {
    const cwd = tempDir();
    const program = `
      import { JSONCache, Cached } from "cacherator";
      let runs = 0;
      class Calculator extends JSONCache {
        constructor() { super({ dataId: "calc" }); }
        @Cached() expensiveCalculation(x: number, y: number) { runs++; return x ** y; }
      }
      const calc = new Calculator();
      const value = calc.expensiveCalculation(2, 10);
      console.log(JSON.stringify({ value, runs, status: calc.lastCacheStatus }));
    `;
    const first = await runProgram(program, { cwd });
    expect(first.stderr).toBe("");
    expect(first.lines).toEqual([{ value: 1024, runs: 1, status: "miss" }]);
    const second = await runProgram(program, { cwd });
    expect(second.lines).toEqual([{ value: 1024, runs: 0, status: "l1" }]);
  });
});
