/**
 * A process killed in the middle of writing (SIGKILL at random moments): the file is always complete
 * JSON that a new process opens without a warning.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JSONCache } from "../src/index.js";
import { compileProgram, recordingLogger, tempDir } from "./helpers.js";
import { keysOnDisk, resetLoggingAroundEachTest, valuesOnDisk } from "./failure-helpers.js";

resetLoggingAroundEachTest();

describe("a process killed in the middle of writing", () => {
  const STORM = `
    import { JSONCache, Cached } from "cacherator";
    class Storm extends JSONCache {
      constructor() { super({ dataId: "storm", writeDelay: 0 }); }
      @Cached() item(n: number) { return { n, text: "x".repeat(300), when: new Date(n), tags: new Set([n % 7]) }; }
    }
    const storm = new Storm();
    let n = 0;
    function burst() {
      for (let k = 0; k < 100; k++) storm.item(n++);
      setImmediate(burst);
    }
    burst();
    console.log("started");
  `;

  /** Starts the storm in `cwd` and SIGKILLs it `afterMs` after it started. */
  function stormAndKill(program: string, cwd: string, afterMs: number): Promise<NodeJS.Signals | null> {
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, [program], { cwd, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.once("data", () => setTimeout(() => child.kill("SIGKILL"), afterMs));
      child.on("error", fail);
      child.on("exit", (code, signal) => (code !== null && code !== 0 ? fail(new Error(`storm exited ${code}: ${stderr}`)) : done(signal)));
    });
  }

  it("after SIGKILL at random moments the file is always complete JSON that a new process opens without a warning", async () => {
    const program = compileProgram(STORM);
    const trials = Array.from({ length: 15 }, (_, i) => ({ cwd: tempDir(), afterMs: 10 + Math.floor(Math.random() * 300) + i }));
    const outcomes: { entries: number }[] = [];
    for (let start = 0; start < trials.length; start += 5) {
      const batch = trials.slice(start, start + 5);
      const signals = await Promise.all(batch.map((t) => stormAndKill(program, t.cwd, t.afterMs)));
      expect(signals.every((s) => s === "SIGKILL")).toBe(true);
      for (const trial of batch) {
        const directory = join(trial.cwd, "data/cache");
        const file = join(directory, "storm.json");
        if (!existsSync(file)) {
          outcomes.push({ entries: -1 });
          continue;
        }
        const text = readFileSync(file, "utf8");
        expect(text.endsWith("}\n"), `trial ${JSON.stringify(trial)}: the file ends mid-way`).toBe(true);
        const keys = keysOnDisk(file);
        // No torn entry: every stored value is the one its key computes.
        for (const [key, value] of Object.entries(valuesOnDisk(file))) {
          const n = Number(/item\((\d+),\)/.exec(key)?.[1]);
          expect(value, key).toMatchObject({ n, text: "x".repeat(300) });
        }
        const log = recordingLogger();
        class Storm extends JSONCache {
          constructor() {
            super({ dataId: "storm", directory, logger: log });
          }
        }
        const reopened = new Storm();
        expect(log.messages).toEqual([]);
        // The file's entries, and those of the journal (a kill during a fold leaves it sealed beside the file).
        expect(reopened.jsonCacheStats().totalEntries).toBeGreaterThanOrEqual(keys.length);
        outcomes.push({ entries: keys.length });
      }
    }
    expect(outcomes).toHaveLength(15);
    // The trials did exercise files with content, not only kills before the first write.
    expect(outcomes.some((o) => o.entries > 0)).toBe(true);
  });
});
