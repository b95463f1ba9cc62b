/**
 * Another program (the Python library rewrites its cache file in place, on every miss) may still write
 * into the file a fold of ours replaced, through a descriptor it opened before our rename. What it
 * writes there reaches no reader of the path: the library watches the replaced file until it settles,
 * and merges what it received.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CacheLog } from "../src/logger.js";
import { LocalFileStore } from "../src/store/local-file-store.js";
import { loadedEntry } from "../src/store/stored-entry.js";
import { pythonLocalTimestamp } from "../src/time.js";
import { tempDir } from "./helpers.js";

const log = new CacheLog(false);

/** A cache file as the Python library writes it (no marker of ours). */
function pythonFile(entries: Record<string, string>): string {
  const funcs: Record<string, { value: string; date: string }> = {};
  for (const [key, value] of Object.entries(entries)) funcs[key] = { value, date: pythonLocalTimestamp(Date.now()) };
  return JSON.stringify({ _json_cache_func_cache: funcs, _json_cache_variable_cache: {} }, null, 4);
}

/**
 * A Python file opened by this library, then by the other program (to rewrite it in place), then
 * replaced by this library's fold: the other program's descriptor now points at the replaced file.
 */
async function replacedUnderForeignWriter(): Promise<{ path: string; store: LocalFileStore; foreign: number }> {
  const path = join(tempDir(), "py.json");
  writeFileSync(path, pythonFile({ "a(1,){}": "a" }));
  const store = new LocalFileStore({ path, dataId: "py", log });
  store.load();
  const foreign = openSync(path, "r+");
  store.set("b(1,){}", loadedEntry("b", Date.now(), false, undefined));
  expect(await store.compact()).toBe(true); // the file at the path is now ours (renamed into place)
  return { path, store, foreign };
}

describe("a file of another program that a fold replaced", () => {
  it("what that program writes into it afterwards, through a descriptor opened before the fold, is merged and written to the file at the path", async () => {
    const { path, store, foreign } = await replacedUnderForeignWriter();
    try {
      // The other program's save lands in the file it opened: the one our fold replaced.
      const text = pythonFile({ "a(1,){}": "a", "p(1,){}": "p" });
      ftruncateSync(foreign, 0);
      writeSync(foreign, text, 0);
    } finally {
      closeSync(foreign);
    }
    expect(readFileSync(path, "utf8")).not.toContain("p(1,){}");
    store.refreshNow(); // a look: the replaced file is checked
    expect(store.get("p(1,){}")).toBeDefined();
    expect(await store.compact()).toBe(true);
    const file = readFileSync(path, "utf8");
    expect(file).toContain("p(1,){}");
    expect(file).toContain("b(1,){}");
    expect(file).toContain("a(1,){}");
  });

  it("a save still being written into it (unreadable yet) is looked at again at the next look, and merged once whole", async () => {
    const { store, foreign } = await replacedUnderForeignWriter();
    try {
      const text = pythonFile({ "a(1,){}": "a", "q(1,){}": "q" });
      ftruncateSync(foreign, 0);
      writeSync(foreign, text.slice(0, text.length >> 1), 0); // half written
      store.refreshNow();
      expect(store.get("q(1,){}")).toBeUndefined();
      writeSync(foreign, text.slice(text.length >> 1), text.length >> 1); // the rest
    } finally {
      closeSync(foreign);
    }
    await new Promise((resolve) => setTimeout(resolve, 2)); // another millisecond: a look looks again
    store.refreshNow();
    expect(store.get("q(1,){}")).toBeDefined();
  });
});
