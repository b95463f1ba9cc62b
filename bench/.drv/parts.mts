import * as fs from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { JSONCache, Cached } from "../../src/index.js";
JSONCache.setLogging(false);
const dir = fs.mkdtempSync(join(os.tmpdir(), "drv-"));
class T extends JSONCache { constructor() { super({ dataId: "t", directory: dir }); } @Cached() double(n: number) { return n * 2; } }
const t = new T();
let n = 0;
const med = (a: number[]) => (a.sort((x, y) => x - y)[a.length >> 1] / 1000).toFixed(2);
for (let round = 0; round < 3; round++) {
  const a: number[] = [], b: number[] = [], c: number[] = [];
  for (let i = 0; i < 5000; i++) {
    let s = process.hrtime.bigint(); t.double(n++); a.push(Number(process.hrtime.bigint() - s));
    s = process.hrtime.bigint(); const p = JSONCache.flushAll(); b.push(Number(process.hrtime.bigint() - s));
    s = process.hrtime.bigint(); await p; c.push(Number(process.hrtime.bigint() - s));
  }
  console.log("miss call", med(a), "flushAll sync part", med(b), "await", med(c));
}
fs.rmSync(dir, { recursive: true });
