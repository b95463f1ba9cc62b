import * as fs from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { JSONCache, Cached } from "../../src/index.js";
import { flushAllSync } from "../../src/store/registry.js";
JSONCache.setLogging(false);
const dir = fs.mkdtempSync(join(os.tmpdir(), "drv-exit-"));
class T extends JSONCache { constructor(id: string) { super({ dataId: id, directory: dir }); } @Cached() double(n: number) { return n * 2; } }
const N = Number(process.argv[2] ?? 2000);
let s = performance.now();
const all: T[] = [];
for (let i = 0; i < N; i++) { const t = new T("e" + i); t.double(i); all.push(t); }
console.log("create+miss", (performance.now() - s).toFixed(0), "ms");
s = performance.now();
flushAllSync();
console.log("flushAllSync", (performance.now() - s).toFixed(0), "ms");
let folded = 0; for (let i = 0; i < N; i++) if (fs.readFileSync(join(dir, `e${i}.json`), "utf8").includes("double(")) folded++;
console.log("folded", folded);
fs.rmSync(dir, { recursive: true });
