import * as fs from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { JSONCache, Cached } from "../../src/index.js";
JSONCache.setLogging(false);
const dir = fs.mkdtempSync(join(os.tmpdir(), "drv-"));
class T extends JSONCache { constructor() { super({ dataId: "t", directory: dir }); } @Cached() double(n: number) { return n * 2; } }
const t = new T();
let n = 0;
async function run(label: string, count: number) {
  const times: number[] = [];
  for (let i = 0; i < count; i++) { const s = process.hrtime.bigint(); t.double(n++); await JSONCache.flushAll(); times.push(Number(process.hrtime.bigint() - s)); }
  times.sort((a, b) => a - b);
  console.log(label, (times[times.length >> 1] / 1000).toFixed(2), "µs median");
}
await run("warm", 200);
await run("miss+flushAll", 2000);
const fd = fs.openSync(join(dir, "raw"), "a");
const line = Buffer.from('{"k": "double(123456,){}", "e": {"value": 246912, "date": "2026-12-01T18:00:00.123456", "epoch_ms": 1796000000123}}\n');
const times: number[] = [];
for (let i = 0; i < 2000; i++) { const s = process.hrtime.bigint(); fs.writeSync(fd, line); times.push(Number(process.hrtime.bigint() - s)); }
times.sort((a, b) => a - b); console.log("raw", (times[1000] / 1000).toFixed(2));
const s2 = process.hrtime.bigint(); for (let i = 0; i < 300; i++) { t.double(n++); await t.jsonCacheSave(); } console.log("durable", Number(process.hrtime.bigint() - s2) / 300 / 1000);
const s3 = process.hrtime.bigint(); for (let i = 0; i < 300; i++) { fs.writeSync(fd, line); await new Promise<void>((r) => fs.fdatasync(fd, () => r())); } console.log("raw durable", Number(process.hrtime.bigint() - s3) / 300 / 1000);
