/**
 * Large caches: event-loop stalls, exit time, memory per entry and very large files, measured with
 * real files and real child processes (scale-child.ts). Files are written directly in the library's
 * format by streaming (scale-files.ts), so a 100 MB or 1 GB cache takes seconds to prepare.
 *
 * `measureScale(settings, progress)` returns a section and its targets; `SCALE_QUICK` / `SCALE_FULL`
 * (or `scaleSettings(quick)`) are the two configurations. A FAIL never fails the run.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { callKey } from "../src/keys/call-key.js";
import { formatBytes, formatCount, formatRatio, type Section } from "./report.js";
import { cachePath, describeShape, keyOf, persisted, sizeOf, writeCacheFileStreaming, writeJournal, type EntryShape } from "./scale-files.js";

/** Scenario 3b: how long P, making no call, has to read another process's appends before F folds. */
const REFRESH_FOLLOW_MS = 4000;
/** Entries of scenario 3d's cache: about 8 MB, a size every writer's exit folds. */
const FEW_MB_ENTRIES = 40_000;
import { freshDir, removeDir } from "./temp.js";
import { median } from "./timing.js";

export interface ScaleSettings {
  label: "quick" | "full";
  /** Entries of `row(i)` (~190 bytes a line) in the cache of scenarios 1–3: ~100 MB full, ~15 MB quick. */
  bigEntries: number;
  /** Timed opens (and parses) in scenario 1, after one warm-up. */
  openSamples: number;
  /** Hits served before and after the other process's fold in scenario 3, ms. */
  hitMs: number;
  /** Scenario 4: runs of the baseline child (no cache) whose exit time is the reference. */
  exitBaselineRuns: number;
  /** Scenario 4a: caches, each with one pending miss, at exit. */
  exitCaches: number;
  /** Scenario 4b: entries of the one cache open at exit. */
  exitEntries: number;
  /** Scenario 5: entries opened (5a) and computed (5b). */
  memoryEntries: number;
  /** Scenario 6 (huge files): only in full runs. */
  huge: boolean;
  /** Scenario 6a: bytes of the cache file (past the 512 MB string limit). */
  hugeBytes: number;
  /** Scenario 6b: entries of `double(i)`. */
  tinyEntries: number;
  /** Scenario 6b: the open is killed after this long. */
  hugeTimeoutMs: number;
}

export const SCALE_QUICK: ScaleSettings = {
  label: "quick",
  bigEntries: 80_000,
  openSamples: 2,
  hitMs: 1_000,
  exitBaselineRuns: 1,
  exitCaches: 2_000,
  exitEntries: 100_000,
  memoryEntries: 100_000,
  huge: false,
  hugeBytes: 0,
  tinyEntries: 0,
  hugeTimeoutMs: 120_000,
};

export const SCALE_FULL: ScaleSettings = {
  label: "full",
  bigEntries: 550_000,
  openSamples: 3,
  hitMs: 2_000,
  exitBaselineRuns: 3,
  exitCaches: 10_000,
  exitEntries: 1_000_000,
  memoryEntries: 1_000_000,
  huge: true,
  hugeBytes: 560 * 1024 * 1024,
  tinyEntries: 10_000_000,
  hugeTimeoutMs: 120_000,
};

export function scaleSettings(quick: boolean): ScaleSettings {
  return quick ? SCALE_QUICK : SCALE_FULL;
}

/** The shape of run.ts's targets. */
export interface ScaleTarget {
  name: string;
  goal: string;
  measured: string;
  pass: boolean;
  verdict?: string;
}

export interface ScaleResults {
  section: Section;
  targets: ScaleTarget[];
}

const STALL_GOAL_MS = 20;
const MIN_FREE_FOR_HUGE = 4 * 1024 ** 3;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CHILD = fileURLToPath(new URL("./scale-child.ts", import.meta.url));
const DATA_ID = "scale";

// --- Child processes ------------------------------------------------------------------------------

type Json = Record<string, unknown>;

interface ChildRun {
  result: Json | undefined;
  events: Json[];
  logs: { level: string; message: string }[];
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Wall-clock ms when the parent saw the child's `exit`. */
  exitAt: number;
  timedOut: boolean;
  ms: number;
}

interface ChildOptions {
  timeoutMs?: number;
  /** Called for each `{"event": …}` line, with a function that writes a line to the child's stdin. */
  onEvent?: (event: Json, send: (line: string) => void) => void;
}

function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

function runChild(mode: string, params: Json, options: ChildOptions = {}): Promise<ChildRun> {
  const started = performance.now();
  const child = spawn(process.execPath, ["--expose-gc", "--max-old-space-size=12288", "--import", "tsx", CHILD, mode, JSON.stringify(params)], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const run: ChildRun = { result: undefined, events: [], logs: [], stderr: "", code: null, signal: null, exitAt: 0, timedOut: false, ms: 0 };
  const send = (line: string) => child.stdin.write(`${line}\n`);
  let pending = "";
  child.stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      let parsed: Json;
      try {
        parsed = JSON.parse(line) as Json;
      } catch {
        run.stderr += `(stdout) ${line}\n`;
        continue;
      }
      if ("result" in parsed) run.result = parsed.result as Json;
      else if ("log" in parsed) run.logs.push({ level: String(parsed.log), message: String(parsed.message) });
      else if ("event" in parsed) {
        run.events.push(parsed);
        options.onEvent?.(parsed, send);
      }
    }
  });
  child.stderr.on("data", (chunk: Buffer) => {
    if (run.stderr.length < 20_000) run.stderr += chunk.toString();
  });
  child.stdin.on("error", () => undefined);
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          run.timedOut = true;
          child.kill("SIGKILL");
        }, options.timeoutMs);
  child.on("exit", (code, signal) => {
    run.exitAt = wallMs();
    run.code = code;
    run.signal = signal;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", () => {
      if (timer !== undefined) clearTimeout(timer);
      run.ms = performance.now() - started;
      resolve(run);
    });
  });
}

/** The child's failure, if it failed: its exit status and the end of its stderr. */
function failure(run: ChildRun): string | undefined {
  if (run.timedOut) return "timed out";
  if (run.code === 0) return undefined;
  const tail = run.stderr.trim().split("\n").slice(-3).join(" / ");
  return `child exited with ${run.code ?? run.signal}${tail === "" ? "" : `: ${tail.slice(0, 300)}`}`;
}

function event(run: ChildRun, name: string): Json | undefined {
  return run.events.find((e) => e.event === name);
}

/** The library's messages (warnings and errors) of a child, shortened for a table cell. */
function messagesOf(run: ChildRun, levels = ["warn", "error"]): string {
  const shown = run.logs.filter((l) => levels.includes(l.level)).map((l) => `${l.level}: ${l.message}`);
  if (shown.length === 0) return "none";
  const text = shown.join(" | ");
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

// --- Formatting -----------------------------------------------------------------------------------

const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(value < 10 ? 1 : 0)} ms` : "n/a");
const seconds = (value: number) => `${(value / 1000).toFixed(1)} s`;
const num = (value: unknown) => (typeof value === "number" ? value : Number.NaN);
const signedBytes = (value: number) => (value < 0 ? `−${formatBytes(-value)}` : `+${formatBytes(value)}`);
const nums = (value: unknown) => (Array.isArray(value) ? value.map(num) : []);

function stallTarget(name: string, stallMs: number, note?: string): ScaleTarget {
  return { name, goal: `≤ ${STALL_GOAL_MS} ms`, measured: Number.isFinite(stallMs) ? `${ms(stallMs)}${note ?? ""}` : "not measured", pass: stallMs <= STALL_GOAL_MS, ...(Number.isFinite(stallMs) ? {} : { verdict: "n/a" }) };
}

// --- Scenarios ------------------------------------------------------------------------------------

interface Scenario {
  rows: string[][];
  targets: ScaleTarget[];
  notes: string[];
}

/** A cache file of `row(i)` entries, shared by scenarios 1–3 (each copies it). */
interface BigFile {
  path: string;
  bytes: number;
  entries: number;
  config: string;
}

function config(entries: number, bytes: number, shape: EntryShape, extra = ""): string {
  return `${formatCount(entries)} × ${shape === "row" ? "row(i) ~100-char string" : "double(i) small int"}, file ${formatBytes(bytes)}${extra}`;
}

async function scenarioOpen(big: BigFile, settings: ScaleSettings, work: string): Promise<Scenario> {
  // One child per sample: the store an openAsync loads is held until its process ends, and the tables of
  // earlier samples would make every later open and parse pay GC over them.
  const r: Json = { opens: [], parses: [], openStalls: [], parseStalls: [], asyncOpens: [], asyncStalls: [] };
  for (let sample = 0; sample < settings.openSamples; sample++) {
    const run = await runChild("open", { source: big.path, dataId: DATA_ID, samples: 1, work });
    const problem = failure(run);
    if (problem !== undefined || run.result === undefined) {
      return { rows: [["1. open (sync)", big.config, `failed: ${problem ?? "no result"}`, "", ""]], targets: [{ name: `open of ${formatBytes(big.bytes)} vs JSON.parse`, goal: "≤ 1.2×", measured: "failed", pass: false }], notes: [] };
    }
    for (const [name, value] of Object.entries(run.result)) r[name] = Array.isArray(value) ? [...((r[name] as unknown[] | undefined) ?? []), ...value] : value;
  }
  const open = median(nums(r.opens));
  const parse = median(nums(r.parses));
  const ratio = open / parse;
  const rows = [
    ["1. open (sync `new X()`)", `${big.config}; ${formatCount(num(r.entries))} entries live`, `${ms(open)} vs JSON.parse ${ms(parse)} = ${formatRatio(ratio)}`, `${ms(median(nums(r.openStalls)))} (worst ${ms(Math.max(...nums(r.openStalls)))})`, `JSON.parse stall ${ms(median(nums(r.parseStalls)))} (worst ${ms(Math.max(...nums(r.parseStalls)))}); idle ${ms(num(r.idleStallMs))}`],
  ];
  const targets: ScaleTarget[] = [{ name: `open of ${formatBytes(big.bytes)} (${formatCount(big.entries)} entries) vs JSON.parse`, goal: "≤ 1.2×", measured: formatRatio(ratio), pass: ratio <= 1.2 }];
  if (r.asyncOpenAvailable === true) {
    const asyncStall = Math.max(...nums(r.asyncStalls));
    rows.push(["1. open (`await JSONCache.openAsync()`, then `new X()`)", big.config, `${ms(median(nums(r.asyncOpens)))} = ${formatRatio(median(nums(r.asyncOpens)) / parse)} JSON.parse`, ms(asyncStall), "read in 64 KB parts, the event loop running whenever the parts since it last ran took 2 ms (or made 1 MB); stall = the longest over the samples"]);
    targets.push(stallTarget(`stall during JSONCache.openAsync of ${formatBytes(big.bytes)}`, asyncStall));
  } else {
    rows.push(["1. open (non-blocking)", big.config, "not available in the library yet (hook: scale-child.ts `asyncOpen`)", "", ""]);
  }
  return {
    rows,
    targets,
    notes: [`1. open: median of ${settings.openSamples} samples, each in its own child process after 1 warm-up (a parse and a sync open), of \`new X()\` on a fresh copy of the file vs \`JSON.parse(fs.readFileSync(path, "utf8"))\` of the same bytes, then \`openAsync\`, GC before each and nothing of one left alive in the next; the open is synchronous, so its stall is its whole duration (plus any GC right after); stall = median over the samples of each one's longest stall (worst in brackets)`],
  };
}

async function scenarioFold(settings: ScaleSettings): Promise<Scenario> {
  const dir = freshDir("scale-fold");
  const time = Date.now();
  const { path, bytes } = writeCacheFileStreaming(dir, DATA_ID, "row", settings.bigEntries, time);
  // Other processes recomputed every entry and added 10% new ones: the journal outgrows the file.
  const extra = Math.ceil(settings.bigEntries * 0.1);
  const journalBytes = writeJournal(path, "row", 0, settings.bigEntries + extra, time + 1);
  const run = await runChild("fold", { dir, dataId: DATA_ID, missAt: settings.bigEntries + extra + 1 });
  removeDir(dir);
  const cfg = `${config(settings.bigEntries, bytes, "row")} + journal ${formatBytes(journalBytes)} (${formatCount(settings.bigEntries + extra)} set lines: every entry again + 10% new)`;
  const problem = failure(run);
  if (problem !== undefined || run.result === undefined) {
    return { rows: [["2. fold", cfg, `failed: ${problem ?? "no result"}`, "", ""]], targets: [stallTarget("stall during a fold of a large journal", Number.NaN)], notes: [] };
  }
  const r = run.result;
  const after = r.after as Json;
  const folded = r.folded === true;
  return {
    rows: [
      [
        "2. fold (one miss + `await flushAll()`, then the background fold)",
        cfg,
        `flush and fold ${ms(num(r.flushMs))} (${folded ? `folded: file now ${formatBytes(num(after.file))}, journal ${formatBytes(num(after.journal))}` : "NO fold happened"})`,
        ms(num(r.stallMs)),
        `open took ${ms(num(r.openMs))}; messages: ${messagesOf(run)}`,
      ],
    ],
    targets: [stallTarget(`stall during a fold (${formatBytes(bytes)} file + ${formatBytes(journalBytes)} journal)`, num(r.stallMs), folded ? "" : " (no fold happened)")],
    notes: ["2. fold: the child opens the file and its journal (not timed), then one miss and `await JSONCache.flushAll()`: the journal is bigger than the file, so a fold follows in the background (seal, merge, snapshot, write, rename); measured until the file is replaced"],
  };
}

/**
 * Scenario 3, in three variants. "mid-fold": P read a journal past what the fold's trail keeps at open,
 * serves hits, and makes a miss while F's fold is under way. "idle": P makes no call at all while
 * another process appends as much to the journal and F folds; P reads it in the background.
 * "idle-fold-first": P makes no call while F folds and then another process appends as much to the
 * journal F's fold started; P follows the fold and reads that journal in the background. "two-folds":
 * a cache of a few MB (folded at every writer's exit), P idle while F folds twice within a moment (a
 * compaction, then its exit's fold); P follows both along the chained trail.
 */
type RefreshVariant = "mid-fold" | "idle" | "idle-fold-first" | "two-folds";

const REFRESH_LABELS: Record<RefreshVariant, string> = {
  "mid-fold": "3a. refresh after another's fold (P: a miss during it, one after, hits)",
  idle: "3b. refresh after another's fold, P idle before (P: a miss after, hits)",
  "idle-fold-first": "3c. P idle through another's fold and the appends after it (P: a miss after, hits)",
  "two-folds": "3d. P idle through two quick folds by another process (P: a miss after, hits)",
};

const REFRESH_NOTES: Record<RefreshVariant, string> = {
  "mid-fold":
    "3a. refresh: P opens the cache and its journal and serves hits; F (another process) opens it, makes one miss, folds the journal into the file (`JSONCache.compactAll()`: the file is rewritten, leaving a trail of the journal's end) and exits; P makes one miss while F's fold is under way (seen by its lock and the sealed journal; that miss reads the rest of the sealed journal), then one after F has exited, and serves hits again; stall = longest in P from F's start to the end of the hits and a final flush",
  idle: "3b. refresh, P idle: P opens the cache, collects garbage (the collections its open left due, outside the window) and makes no call; the parent appends journal lines (as another process's misses would) and waits; then F folds as in 3a; then P makes one miss and serves hits; stall = longest in P from the appends to the end of the hits and a final flush (P reads the appends in the background meanwhile)",
  "idle-fold-first":
    "3c. P idle through a fold: as 3b, but F folds first and the parent then appends the journal lines to the journal F's fold started, and waits; then P makes one miss and serves hits; stall = longest in P from F's start to the end of the hits and a final flush (P follows the fold's trail and reads the new journal in the background meanwhile; without that, its miss would read the whole new journal)",
  "two-folds":
    "3d. P idle through two quick folds: a cache of a few MB (every writer's exit folds one of that size); P opens it and makes no call; F opens it, makes one miss, `JSONCache.compactAll()`, one more miss, and exits (its exit folds again, within a second of the first fold); the parent waits; then P makes one miss and serves hits; stall = longest in P from F's start to the end of the hits and a final flush (P follows both folds along the chained trail, in the background; with only the last fold's trail it would read the file whole)",
};

async function scenarioRefresh(big: BigFile, settings: ScaleSettings, variant: RefreshVariant): Promise<Scenario> {
  const dir = freshDir(`scale-refresh-${variant}`);
  fs.copyFileSync(big.path, cachePath(dir, DATA_ID));
  const path = cachePath(dir, DATA_ID);
  // A sixth of the file's entries again as journal lines: more than a fold's trail keeps (an eighth of
  // the file), so P can follow the trail only from near where it stopped reading.
  const journalLines = Math.ceil(big.entries / 6);
  let journalBytes = variant === "mid-fold" ? writeJournal(path, "row", 0, journalLines, Date.now()) : 0;
  const inoBefore = fs.statSync(path).ino;
  const otherMiss = big.entries + 10;
  let folder: ChildRun | undefined;
  let inoAfter = inoBefore;
  const reader = await runChild(
    "reader",
    { dir, dataId: DATA_ID, entries: big.entries, missAt: big.entries + 20, midFoldMiss: variant === "mid-fold" ? big.entries + 30 : undefined, otherMiss, hitMs: settings.hitMs, idle: variant !== "mid-fold" },
    {
      onEvent: (e, send) => {
        if (e.event !== "ready") return;
        void (async () => {
          const appendAndWait = async () => {
            // Another process's misses while P makes no call; P has REFRESH_FOLLOW_MS to read them in the background.
            journalBytes = writeJournal(path, "row", 0, journalLines, Date.now());
            await new Promise((resolve) => setTimeout(resolve, REFRESH_FOLLOW_MS));
          };
          if (variant === "idle") await appendAndWait();
          // Process F: opens the same cache, one miss, folds the journal into the file, exits.
          folder = await runChild("fold-one", { dir, dataId: DATA_ID, shape: "row", missAt: otherMiss, ...(variant === "two-folds" ? { thenMissAt: otherMiss + 1 } : {}) });
          inoAfter = sizeOf(path) > 0 ? fs.statSync(path).ino : inoBefore;
          if (variant === "idle-fold-first") await appendAndWait();
          if (variant === "two-folds") await new Promise((resolve) => setTimeout(resolve, REFRESH_FOLLOW_MS));
          send("go");
        })();
      },
    },
  );
  removeDir(dir);
  const label = REFRESH_LABELS[variant];
  const appended = variant === "idle" ? "appended by another process after P opened" : "appended by another process to the journal F's fold started";
  const journalText =
    variant === "two-folds"
      ? `no journal; F folds twice, P making no call for ${seconds(REFRESH_FOLLOW_MS)} after`
      : `journal ${formatBytes(journalBytes)} (${formatCount(journalLines)} set lines, ${variant === "mid-fold" ? "read by P at open" : `${appended}, P making no call for ${seconds(REFRESH_FOLLOW_MS)}`})`;
  const cfg = `${big.config} + ${journalText}; refreshInterval 1000 ms (default); hits of random keys, 20 per ms, ${seconds(settings.hitMs)} ${variant === "mid-fold" ? "before and " : ""}after`;
  const problem = failure(reader) ?? (folder === undefined ? "the folding process did not run" : failure(folder));
  const situation: Record<RefreshVariant, string> = {
    "mid-fold": "during and after another process's fold",
    idle: "after another process's fold, having made no call before it",
    "idle-fold-first": "idle through another process's fold and the appends after it",
    "two-folds": "idle through two quick folds by another process",
  };
  const targetName = `stall in P ${situation[variant]} (${formatBytes(big.bytes)})`;
  if (problem !== undefined || reader.result === undefined) {
    return { rows: [[label, cfg, `failed: ${problem ?? "no result"}`, "", ""]], targets: [stallTarget(targetName, Number.NaN)], notes: [] };
  }
  const r = reader.result;
  const rewritten = inoAfter !== inoBefore;
  const before = r.before as Json | undefined;
  const after = r.after as Json;
  const midFold = r.midFold as Json | undefined;
  const midFoldText = variant !== "mid-fold" ? "" : midFold === undefined ? "P made no miss during F's fold (not seen under way); " : `P's miss during F's fold ${ms(num(midFold.missMs))} (${String(midFold.status)}); `;
  const beforeText = before === undefined ? "" : ` (before ${ms(num(before.slowestHitMs))})`;
  return {
    rows: [
      [
        label,
        cfg,
        `${midFoldText}miss after ${ms(num(r.missMs))} (${String(r.missStatus)}); slowest hit after ${ms(num(after.slowestHitMs))}${beforeText}; F's entry ${r.otherStatus === "l1" ? "seen" : `NOT seen (${String(r.otherStatus)})`}`,
        ms(num(r.afterStallMs)),
        `${before === undefined ? "" : `stall before the fold ${ms(num(r.beforeStallMs))}; `}file ${rewritten ? "rewritten by F's fold" : "NOT rewritten by F"} (F's exit ${ms(num(event(folder as ChildRun, "handlers-done")?.at) - num(event(folder as ChildRun, "exiting")?.at))})`,
      ],
    ],
    targets: [stallTarget(targetName, num(r.afterStallMs), (rewritten ? "" : " (file not rewritten)") + (variant === "mid-fold" && midFold === undefined ? " (no miss during the fold)" : ""))],
    notes: [REFRESH_NOTES[variant]],
  };
}

interface ExitMeasure {
  totalMs: number;
  handlerMs: number;
}

function exitTimes(run: ChildRun): ExitMeasure {
  const exiting = num(event(run, "exiting")?.at);
  const done = num(event(run, "handlers-done")?.at);
  return { totalMs: run.exitAt - exiting, handlerMs: done - exiting };
}

async function scenarioExit(settings: ScaleSettings): Promise<Scenario> {
  const rows: string[][] = [];
  const targets: ScaleTarget[] = [];
  // Baseline: a child with no caches.
  const empties: ExitMeasure[] = [];
  for (let k = 0; k < settings.exitBaselineRuns; k++) empties.push(exitTimes(await runChild("exit-empty", {})));
  const baseline = median(empties.map((e) => e.totalMs));
  rows.push(["4. exit, baseline", "a child with no cache", `${ms(baseline)} to the parent's 'exit'`, "", `median of ${settings.exitBaselineRuns}`]);

  // (a) many caches, one pending miss each.
  const dirA = freshDir("scale-exit-many");
  const many = await runChild("exit-many", { dir: dirA, count: settings.exitCaches });
  const cfgA = `${formatCount(settings.exitCaches)} JSONCache instances, distinct dataIds, one pending miss each (double(i))`;
  let problem = failure(many);
  if (problem !== undefined) {
    rows.push(["4a. exit, many caches", cfgA, `failed: ${problem}`, "", ""]);
    targets.push({ name: `exit with ${formatCount(settings.exitCaches)} caches`, goal: "< 1 s", measured: "failed", pass: false });
  } else {
    let missing = 0;
    for (let i = 0; i < settings.exitCaches; i++) if (!persisted(dirA, `c${i}`, callKey("double", [i]))) missing++;
    const t = exitTimes(many);
    const files = fs.readdirSync(dirA);
    const onDisk = files.reduce((sum, name) => sum + sizeOf(join(dirA, name)), 0);
    rows.push([
      "4a. exit, many caches",
      `${cfgA}; after exit: ${formatCount(files.length)} files, ${formatBytes(onDisk)} in all`,
      `${ms(t.totalMs)} from process.exit to the parent's 'exit'; exit handlers ${ms(t.handlerMs)}; ${missing === 0 ? "every miss on disk" : `${formatCount(missing)} misses NOT on disk`}`,
      ms(t.handlerMs),
      `setup ${ms(num(event(many, "exiting")?.setupMs))}; messages: ${messagesOf(many)}`,
    ]);
    targets.push({ name: `exit with ${formatCount(settings.exitCaches)} caches, one pending miss each`, goal: "< 1 s", measured: `${ms(t.totalMs)}${missing === 0 ? "" : `, ${missing} lost`}`, pass: t.totalMs < 1000 && missing === 0 });
    targets.push(stallTarget(`stall at exit, ${formatCount(settings.exitCaches)} caches (exit handlers)`, t.handlerMs));
  }
  removeDir(dirA);

  // (b) one big cache, one pending miss.
  const dirB = freshDir("scale-exit-big");
  const { bytes } = writeCacheFileStreaming(dirB, DATA_ID, "small", settings.exitEntries);
  const one = await runChild("exit-one", { dir: dirB, dataId: DATA_ID, shape: "small", missAt: settings.exitEntries + 1 });
  const cfgB = `one cache, ${config(settings.exitEntries, bytes, "small")}, one pending miss`;
  problem = failure(one);
  if (problem !== undefined) {
    rows.push(["4b. exit, one big cache", cfgB, `failed: ${problem}`, "", ""]);
    targets.push({ name: `exit with one ${formatCount(settings.exitEntries)}-entry cache`, goal: "< 1 s", measured: "failed", pass: false });
  } else {
    const ok = persisted(dirB, DATA_ID, keyOf("small", settings.exitEntries + 1));
    const path = cachePath(dirB, DATA_ID);
    const t = exitTimes(one);
    rows.push([
      "4b. exit, one big cache",
      cfgB,
      `${ms(t.totalMs)} from process.exit to the parent's 'exit'; exit handlers ${ms(t.handlerMs)}; the miss ${ok ? "is" : "is NOT"} on disk`,
      ms(t.handlerMs),
      `file after ${formatBytes(sizeOf(path))}, journal ${formatBytes(sizeOf(`${path}.journal`))} (${sizeOf(`${path}.journal`) === 0 ? "folded at exit" : "not folded"}); open took ${ms(num(event(one, "exiting")?.openMs))}; messages: ${messagesOf(one)}`,
    ]);
    targets.push({ name: `exit with one ${formatCount(settings.exitEntries)}-entry cache, one pending miss`, goal: "< 1 s", measured: `${ms(t.totalMs)}${ok ? "" : ", miss lost"}`, pass: t.totalMs < 1000 && ok });
    targets.push(stallTarget(`stall at exit, one ${formatCount(settings.exitEntries)}-entry cache (exit handlers)`, t.handlerMs));
  }
  removeDir(dirB);
  return {
    rows,
    targets,
    notes: [
      "4. exit: the child prints the time right before `process.exit(0)`; exit time = until the parent sees the child's 'exit' (includes process teardown: see the baseline); exit handlers = until a listener registered after the library's own ran (the library's synchronous exit work, which blocks the process: its stall); then every miss is looked for in its file or journal",
    ],
  };
}

async function scenarioMemory(settings: ScaleSettings): Promise<Scenario> {
  const n = settings.memoryEntries;
  const rows: string[][] = [];
  const targets: ScaleTarget[] = [];
  const dirA = freshDir("scale-mem-open");
  const { bytes } = writeCacheFileStreaming(dirA, DATA_ID, "small", n);
  const opened = await runChild("mem-open", { dir: dirA, dataId: DATA_ID });
  removeDir(dirA);
  let problem = failure(opened);
  if (problem !== undefined || opened.result === undefined) {
    rows.push(["5a. memory, opened", config(n, bytes, "small"), `failed: ${problem ?? "no result"}`, "", ""]);
    targets.push({ name: "heap per entry, opened", goal: "≤ 150 B", measured: "failed", pass: false });
  } else {
    const per = num(opened.result.heapBytes) / n;
    rows.push(["5a. memory, opened", config(n, bytes, "small"), `${per.toFixed(0)} B/entry heap`, "", `rss ${signedBytes(num(opened.result.rssBytes))} (after GC; not a target); open ${ms(num(opened.result.openMs))}`]);
    targets.push({ name: `heap per entry, opened (${formatCount(n)} small entries)`, goal: "≤ 150 B", measured: `${per.toFixed(0)} B`, pass: per <= 150 });
  }
  const dirB = freshDir("scale-mem-writer");
  const writer = await runChild("mem-writer", { dir: dirB, dataId: DATA_ID, entries: n });
  removeDir(dirB);
  problem = failure(writer);
  const cfgB = `${formatCount(n)} misses of double(i) in a fresh cache (a turn of the event loop every 10,000), then \`await flushAll()\``;
  if (problem !== undefined || writer.result === undefined) {
    rows.push(["5b. memory, writer", cfgB, `failed: ${problem ?? "no result"}`, "", ""]);
    targets.push({ name: "heap per entry, writer", goal: "≤ 300 B", measured: "failed", pass: false });
  } else {
    const r = writer.result;
    const per = num(r.heapBytes) / n;
    rows.push(["5b. memory, writer", cfgB, `${per.toFixed(0)} B/entry heap`, "", `took ${seconds(num(r.computeMs))}; file ${formatBytes(num(r.fileBytes))}, journal ${formatBytes(num(r.journalBytes))}; messages: ${messagesOf(writer)}`]);
    targets.push({ name: `heap per entry, writer (${formatCount(n)} computed)`, goal: "≤ 300 B", measured: `${per.toFixed(0)} B`, pass: per <= 300 });
  }
  return {
    rows,
    targets,
    notes: ["5. memory: in a child run with --expose-gc, heapUsed after a full GC with the cache held, minus before, divided by the entries"],
  };
}

function freeBytes(path: string): number {
  const stat = fs.statfsSync(path);
  return stat.bavail * stat.bsize;
}

async function scenarioHuge(settings: ScaleSettings, progress: (text: string) => void): Promise<Scenario> {
  if (!settings.huge) {
    return {
      rows: [["6. huge files", "a > 512 MB file; 10,000,000 tiny entries", "skipped (quick run; full run only)", "", ""]],
      targets: [
        { name: "a > 512 MB cache keeps working", goal: "writes persist, no error", measured: "skipped (quick)", pass: false, verdict: "skipped" },
        { name: "10,000,000-entry cache", goal: "opens or is refused, not hung", measured: "skipped (quick)", pass: false, verdict: "skipped" },
      ],
      notes: [],
    };
  }
  const free = freeBytes(tmpdir());
  if (free < MIN_FREE_FOR_HUGE) {
    return {
      rows: [["6. huge files", "", `skipped: only ${formatBytes(free)} free in ${tmpdir()} (needs 4 GB)`, "", ""]],
      targets: [
        { name: "a > 512 MB cache keeps working", goal: "writes persist, no error", measured: "skipped (disk)", pass: false, verdict: "skipped" },
        { name: "10,000,000-entry cache", goal: "opens or is refused, not hung", measured: "skipped (disk)", pass: false, verdict: "skipped" },
      ],
      notes: [],
    };
  }
  const rows: string[][] = [];
  const targets: ScaleTarget[] = [];

  // (a) past 512 MB.
  const entries = Math.ceil(settings.hugeBytes / 190);
  progress(`scale: writing a ${formatBytes(settings.hugeBytes)} cache file`);
  const dirA = freshDir("scale-huge");
  const { path, bytes } = writeCacheFileStreaming(dirA, DATA_ID, "row", entries);
  progress(`scale: a child opens the ${formatBytes(bytes)} file, writes, exits`);
  const missAt = entries + 1;
  const exitMissAt = entries + 2;
  const run = await runChild("huge-write", { dir: dirA, dataId: DATA_ID, probe: Math.floor(entries / 2), missAt, exitMissAt }, { timeoutMs: 600_000 });
  const flushed = event(run, "flushed");
  const missOk = persisted(dirA, DATA_ID, keyOf("row", missAt));
  const exitOk = persisted(dirA, DATA_ID, keyOf("row", exitMissAt));
  const aside = fs.readdirSync(dirA).filter((name) => name.includes(".unreadable-"));
  const after = { file: sizeOf(path), journal: sizeOf(`${path}.journal`) };
  const cfgA = config(entries, bytes, "row");
  const problem = failure(run);
  const errors = run.logs.filter((l) => l.level === "warn" || l.level === "error");
  const working = problem === undefined && flushed !== undefined && flushed.knownHit === true && missOk && exitOk && errors.length === 0 && aside.length === 0;
  rows.push([
    "6a. > 512 MB file",
    cfgA,
    flushed === undefined
      ? `failed: ${problem ?? "no result"}`
      : `opened in ${seconds(num(flushed.openMs))} with ${formatCount(num(flushed.entries))} entries (a loaded key ${flushed.knownHit === true ? "hits" : "MISSES"}); miss + flush ${ms(num(flushed.flushMs))}: ${missOk ? "persisted" : "NOT persisted"}; miss + exit: ${exitOk ? "persisted" : "NOT persisted"}`,
    "",
    `after: file ${formatBytes(after.file)}, journal ${formatBytes(after.journal)}${aside.length > 0 ? `, set aside: ${aside.join(", ")}` : ""}; messages: ${messagesOf(run)}`,
  ]);
  targets.push({ name: `a ${formatBytes(bytes)} cache keeps working`, goal: "writes persist, no error", measured: working ? "works" : errors.length > 0 ? `${errors.length} message(s), see 6a` : "does not work, see 6a", pass: working });
  removeDir(dirA);

  // (b) ten million tiny entries.
  progress(`scale: writing ${formatCount(settings.tinyEntries)} tiny entries`);
  const dirB = freshDir("scale-tiny");
  const tiny = writeCacheFileStreaming(dirB, DATA_ID, "small", settings.tinyEntries);
  progress(`scale: a child opens ${formatCount(settings.tinyEntries)} entries (${formatBytes(tiny.bytes)}), up to ${seconds(settings.hugeTimeoutMs)}`);
  const opened = await runChild("huge-open", { dir: dirB, dataId: DATA_ID }, { timeoutMs: settings.hugeTimeoutMs });
  const asideB = fs.readdirSync(dirB).filter((name) => name.includes(".unreadable-"));
  removeDir(dirB);
  const warnings = opened.logs.filter((l) => l.level === "warn" || l.level === "error");
  let outcome: string;
  let pass: boolean;
  if (opened.timedOut) {
    outcome = `hung (killed after ${seconds(settings.hugeTimeoutMs)})`;
    pass = false;
  } else if (opened.result === undefined) {
    outcome = `crashed: ${failure(opened) ?? "no result"}`;
    pass = false;
  } else if (num(opened.result.entries) === 0 && warnings.length > 0) {
    outcome = `refused: opened EMPTY in ${seconds(num(opened.result.openMs))}, with message: ${messagesOf(opened)}`;
    pass = true;
  } else {
    outcome = `opened in ${seconds(num(opened.result.openMs))} with ${formatCount(num(opened.result.entries))} entries, rss ${formatBytes(num(opened.result.rss))}`;
    pass = num(opened.result.entries) === settings.tinyEntries;
  }
  rows.push(["6b. 10M tiny entries", config(settings.tinyEntries, tiny.bytes, "small"), outcome, "", `${asideB.length > 0 ? `set aside: ${asideB.join(", ")}; ` : ""}messages: ${messagesOf(opened)}`]);
  targets.push({ name: `${formatCount(settings.tinyEntries)}-entry cache (${formatBytes(tiny.bytes)})`, goal: "opens or is refused, not hung", measured: outcome.length > 60 ? `${outcome.slice(0, 60)}…` : outcome, pass });
  return {
    rows,
    targets,
    notes: [
      "6a: a child opens the file, reads one loaded key, makes a miss and `await flushAll()`, then another miss and `process.exit(0)` (its exit work folds if it can); both misses are then looked for in the file and journal; works = both persisted, the loaded key hits, no warning or error, nothing set aside",
      `6b: a child opens the file; killed after ${seconds(settings.hugeTimeoutMs)}; "refused" = opened empty with a message`,
    ],
  };
}

// --- The section ----------------------------------------------------------------------------------

export async function measureScale(settings: ScaleSettings, progress: (text: string) => void): Promise<ScaleResults> {
  const started = performance.now();
  const rows: string[][] = [];
  const targets: ScaleTarget[] = [];
  const notes: string[] = [
    `${settings.label.toUpperCase()} configuration; every scenario runs in child processes (node --expose-gc --import tsx bench/scale-child.ts) on real files in ${tmpdir()}`,
    `cache files are written directly in the library's format; entry shapes: ${describeShape("row")}; ${describeShape("small")}`,
    "stall = the longest gap between two ticks of a 1 ms `setInterval` in the process concerned during the operation (idle ≈ 1–2 ms); `monitorEventLoopDelay` is not used: on Node 20 here its max did not see a 200 ms busy loop after a reset",
  ];
  const timings: string[] = [];
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    progress(`scale: ${name}`);
    const result = await work();
    timings.push(`${name} ${seconds(performance.now() - start)}`);
    return result;
  };
  const add = (scenario: Scenario) => {
    rows.push(...scenario.rows);
    targets.push(...scenario.targets);
    notes.push(...scenario.notes);
  };

  const bigDir = freshDir("scale-big");
  try {
    const written = writeCacheFileStreaming(bigDir, DATA_ID, "row", settings.bigEntries);
    const big: BigFile = { path: written.path, bytes: written.bytes, entries: settings.bigEntries, config: config(settings.bigEntries, written.bytes, "row") };
    add(await timed("1. open", () => scenarioOpen(big, settings, join(bigDir, "work"))));
    add(await timed("2. fold", () => scenarioFold(settings)));
    add(await timed("3a. refresh after another's fold", () => scenarioRefresh(big, settings, "mid-fold")));
    add(await timed("3b. refresh after another's fold, P idle", () => scenarioRefresh(big, settings, "idle")));
    add(await timed("3c. P idle through another's fold", () => scenarioRefresh(big, settings, "idle-fold-first")));
    const few = writeCacheFileStreaming(join(bigDir, "few"), DATA_ID, "row", FEW_MB_ENTRIES);
    const fewMb: BigFile = { path: few.path, bytes: few.bytes, entries: FEW_MB_ENTRIES, config: config(FEW_MB_ENTRIES, few.bytes, "row") };
    add(await timed("3d. P idle through two quick folds", () => scenarioRefresh(fewMb, settings, "two-folds")));
  } finally {
    removeDir(bigDir);
  }
  add(await timed("4. exit", () => scenarioExit(settings)));
  add(await timed("5. memory", () => scenarioMemory(settings)));
  add(await timed("6. huge files", () => scenarioHuge(settings, progress)));

  return {
    targets,
    section: {
      title: "Large caches: stalls, exit, memory, huge files",
      notes,
      tables: [{ headers: ["scenario", "configuration", "measured", "longest stall", "details"], rows, right: [3] }],
      after: [`time per scenario: ${timings.join("; ")}; total ${seconds(performance.now() - started)}`],
    },
  };
}
