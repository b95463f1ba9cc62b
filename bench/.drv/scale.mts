import { measureScale, scaleSettings } from "../scale.ts";
import { sectionText } from "../report.ts";
const quick = !process.argv.includes("--full");
const started = Date.now();
const { section, targets } = await measureScale(scaleSettings(quick), (t) => process.stderr.write(`… ${t}\n`));
console.log(sectionText(section));
console.log(sectionText({ title: "Targets", notes: [], tables: [{ headers: ["target", "goal", "measured", "result"], rows: targets.map((t) => [t.name, t.goal, t.measured, t.verdict ?? (t.pass ? "PASS" : "FAIL")]) }] }));
console.log(`driver total ${((Date.now() - started) / 1000).toFixed(1)} s`);
