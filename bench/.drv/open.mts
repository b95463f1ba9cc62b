import { measureOpen } from "../persistence.js";
import { sectionText } from "../report.js";
const r = await measureOpen([100_000], 7);
console.log(sectionText(r.section));
