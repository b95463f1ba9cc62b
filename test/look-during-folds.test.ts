/**
 * Every look sees every result saved before it, while another process folds the cache after each save:
 * the journal holding a result is sealed, folded into a new file and removed within a millisecond or
 * two, so looks keep landing in the middle of a fold (the lock taken, the journal sealed, the file
 * replaced, the sealed journal gone). Real processes, real files.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CacheLog } from "../src/logger.js";
import { LocalFileStore } from "../src/store/local-file-store.js";
import { tempDir } from "./helpers.js";
import { compileWithPrelude, putKey, startFile, until } from "./shared-store-helpers.js";

/** Saves `put('k<i>', 10)`, then says so in PUBLISHED, then folds; for MS milliseconds. */
const WRITER = `
const calc = new Calc();
await waitForFile(process.env.GO!);
const end = Date.now() + Number(process.env.MS);
let i = 0;
while (Date.now() < end) {
  calc.put("k" + i, 10);
  await JSONCache.flushAll(); // appended to the journal
  appendFileSync(process.env.PUBLISHED!, i + "\\n");
  await JSONCache.compactAll(); // folded: the journal sealed, the file replaced, the sealed journal removed
  i++;
}
say({ saved: i });
`;

describe("looks while another process folds after every save", () => {
  it("a look made after a result was saved always has it (whatever part of a fold it lands in)", async () => {
    const root = tempDir();
    const cacheDir = join(root, "cache");
    const published = join(root, "published");
    const go = join(root, "go");
    writeFileSync(published, "");
    const writer = startFile(compileWithPrelude(WRITER), { cwd: root, env: { CACHE_DIR: cacheDir, PUBLISHED: published, GO: go, MS: "5000" }, timeoutMs: 30_000 });
    let finished = false;
    void writer.done.then(() => {
      finished = true;
    });
    writeFileSync(go, "");
    await until(() => readFileSync(published, "utf8").length > 0, "the first save");
    const store = new LocalFileStore({ path: join(cacheDir, "calc.json"), dataId: "calc", log: new CacheLog(false), refreshIntervalMs: 0 });
    store.load();
    const missed: number[] = [];
    let checked = 0;
    let looks = 0;
    while (!finished) {
      // What was saved before this look began…
      const count = readFileSync(published, "utf8").split("\n").filter((line) => line !== "").length;
      store.refreshNow();
      looks++;
      // …is what it must have.
      for (let k = checked; k < count; k++) if (store.get(putKey(`k${k}`, 10)) === undefined) missed.push(k);
      checked = count;
      if (looks % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const result = await writer.done;
    expect(result.code, result.stderr).toBe(0);
    expect(checked).toBeGreaterThan(200); // folds enough for looks to land inside them
    expect(missed, `${missed.length} of ${checked} saved results missing from the look after their save (${looks} looks)`).toEqual([]);
  }, 60_000);
});
