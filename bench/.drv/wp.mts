import { JSONCache } from "../../src/index.js";
import { measureWritePath } from "../write-path.js";
import { sectionText } from "../report.js";
JSONCache.setLogging(false);
const r = await measureWritePath({ rounds: 13, warmupRounds: 2, largeSize: 100_000 }, (t) => process.stderr.write(t + "\n"));
console.log(sectionText(r.section));
console.log(r.targets);
