/**
 * The trail folds leave for the other processes sharing a cache: `<file>.journal.folded`. Without it,
 * every process that sees a new file must read it whole (a 100 MB file: most of a second on its event
 * loop) although it already holds nearly all of it: the old file, and the journal it has been reading.
 * The new file is exactly those two merged — plus changes the folder had not appended yet, which it
 * appends afterwards like any change. So a process that knew the old file reads only the part of the
 * sealed journal it had not read, from the trail.
 *
 * A trail is a chain of such steps, one per fold, oldest first, with their journal bytes after the
 * header in the same order:
 *
 *     {"cacherator_trail": 2, "steps": [{"from": <file>, "to": <file>, "journal": <sealed journal>, "start": S, "bytes": B, "file_bytes": F}, …]}
 *     <bytes S..B of the first step's sealed journal><bytes 0..B of the next step's>…
 *
 * `from` and `to` are file identities (inode, size, mtime, birth time), `journal` the sealed journal's
 * identity. A process that read exactly the file of one step's `from`, and that step's journal at least
 * up to S, reads its lines from there through the step whose `to` is the file at the path now: so it
 * follows folds that happened while it did not look (two short-lived writers folding within a second
 * while a server was idle). A fold extends the chain when it folded the file the last step led to and
 * kept its whole journal (S = 0: a process arriving from an earlier step never read that journal);
 * else its trail starts anew. Anything else (another program rewrote the file, a fold without a trail,
 * the reader further behind than S) falls back to reading the file whole. A trail is left only by a
 * fold that sealed one journal over a file it had read, and only for files of 1 MB or more (smaller ones
 * are read whole in a few milliseconds). A trail of the earlier single-step form
 * (`"cacherator_trail": 1`, the step's fields in the header itself) is followed as a chain of one.
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { identityOf, readJournalLines } from "./journal-file.js";
import { nextTurn } from "./next-turn.js";
import { privateName } from "./private-names.js";
import { openRegular, openRegularSync } from "./regular-file.js";

/** Folds of files smaller than this leave no trail. */
export const TRAIL_FROM_BYTES = 1024 * 1024;
/**
 * A trail holds at most this much journal, all its steps together: an eighth of the new file's size,
 * at least 2 MB and at most 16 MB. A reader further behind reads the file whole, which costs it about
 * eight times what the trail costs the folder to write (idle processes keep up in the background:
 * journal-follower.ts).
 */
const TRAIL_TAIL_MIN_BYTES = 2 * 1024 * 1024;
const TRAIL_TAIL_MAX_BYTES = 16 * 1024 * 1024;
/** Folds a trail chains at most (its header stays short). */
const MAX_STEPS = 8;
/** The header line is never longer than this. */
const HEADER_MAX_BYTES = 8192;

/** One fold of a trail: from the file it read to the file it wrote, through the sealed journal's bytes `start`..`bytes`. */
export interface TrailHeader {
  from: string;
  to: string;
  journal: string;
  start: number;
  bytes: number;
  fileBytes: number;
}

/** A trail as read: its steps, oldest first, and where their journal bytes start in the trail file. */
interface Trail {
  steps: TrailHeader[];
  base: number;
  /** The trail file's identity (of the descriptor its header was read from). */
  identity: string;
}

export function trailPath(journalPath: string): string {
  return `${journalPath}.folded`;
}

/** Where a new trail's bytes come from: its header line, then runs of bytes of other files. */
interface TrailPlan {
  line: Buffer;
  parts: { path: string; identity?: string; position: number; length: number }[];
  length: number;
}

/**
 * The trail of a fold from `header.from` to `header.to`: the sealed journal's end, after the steps of
 * the trail there now that lead to `header.from`, when its whole journal fits (oldest steps dropped
 * first, to stay within the trail's size).
 */
function planTrail(journalPath: string, sealedPath: string, header: Omit<TrailHeader, "start">): TrailPlan {
  const keep = Math.min(TRAIL_TAIL_MAX_BYTES, Math.max(TRAIL_TAIL_MIN_BYTES, Math.floor(header.fileBytes / 8)));
  const start = Math.max(0, header.bytes - keep);
  const step: TrailHeader = { ...header, start };
  const parts: TrailPlan["parts"] = [];
  const steps: TrailHeader[] = [];
  const before = start === 0 ? readTrail(journalPath) : undefined;
  if (before !== undefined && before.steps.at(-1)?.to === header.from) {
    // The longest run of the last steps that fits beside this one.
    let first = before.steps.length;
    let bytes = header.bytes;
    while (first > 0 && before.steps.length - first < MAX_STEPS - 1) {
      const earlier = before.steps[first - 1] as TrailHeader;
      if (bytes + stepBytes(earlier) > keep) break;
      bytes += stepBytes(earlier);
      first--;
    }
    const kept = before.steps.slice(first);
    if (kept.length > 0) {
      const skipped = before.steps.slice(0, first).reduce((sum, s) => sum + stepBytes(s), 0);
      const length = kept.reduce((sum, s) => sum + stepBytes(s), 0);
      steps.push(...kept);
      parts.push({ path: trailPath(journalPath), identity: before.identity, position: before.base + skipped, length });
    }
  }
  steps.push(step);
  parts.push({ path: sealedPath, position: start, length: header.bytes - start });
  const line = headerLine(steps);
  return { line, parts, length: parts.reduce((sum, part) => sum + part.length, line.length) };
}

function stepBytes(step: TrailHeader): number {
  return step.bytes - step.start;
}

function headerLine(steps: TrailHeader[]): Buffer {
  const listed = steps.map(({ from, to, journal, start, bytes, fileBytes }) => ({ from, to, journal, start, bytes, file_bytes: fileBytes }));
  return Buffer.from(`${JSON.stringify({ cacherator_trail: 2, steps: listed })}\n`);
}

const SHORT = "a file the trail is made from is shorter than was read";

/** Writes the trail of a fold (never throws: without a trail, others read the file whole). */
export function leaveTrail(journalPath: string, sealedPath: string, header: Omit<TrailHeader, "start">, mode: number): void {
  const path = trailPath(journalPath);
  const tmp = join(dirname(path), privateName(basename(path), "tmp"));
  try {
    const plan = planTrail(journalPath, sealedPath, header);
    const trail = Buffer.allocUnsafe(plan.length); // every byte is filled below, or the trail is not written
    plan.line.copy(trail, 0);
    let at = plan.line.length;
    for (const part of plan.parts) {
      const { fd: source, stat } = openRegularSync(part.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        if (part.identity !== undefined && identityOf(stat) !== part.identity) throw new Error("the trail was replaced");
        for (let done = 0; done < part.length; ) {
          const read = fs.readSync(source, trail, at + done, part.length - done, part.position + done);
          if (read === 0) throw new Error(SHORT);
          done += read;
        }
      } finally {
        fs.closeSync(source);
      }
      at += part.length;
    }
    fs.writeFileSync(tmp, trail, { flag: "wx", mode });
    fs.renameSync(tmp, path);
  } catch {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(path, { force: true });
  }
}

/**
 * `leaveTrail` in two steps, so that the fold's commit (lock check, trail, rename of the file) does
 * not wait for the disk: the trail is written to a private file without blocking, and put in place
 * by `placeTrail` at the commit. Resolves the private file, or `undefined` if it could not be written.
 */
export async function writeTrail(journalPath: string, sealedPath: string, header: Omit<TrailHeader, "start">, mode: number): Promise<string | undefined> {
  const path = trailPath(journalPath);
  const tmp = join(dirname(path), privateName(basename(path), "tmp"));
  try {
    const plan = planTrail(journalPath, sealedPath, header);
    const trail = Buffer.allocUnsafe(plan.length);
    plan.line.copy(trail, 0);
    let at = plan.line.length;
    for (const part of plan.parts) {
      const source = await openRegular(part.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        if (part.identity !== undefined && identityOf(await source.stat()) !== part.identity) throw new Error("the trail was replaced");
        for (let done = 0; done < part.length; ) {
          const { bytesRead } = await source.read(trail, at + done, part.length - done, part.position + done);
          if (bytesRead === 0) throw new Error(SHORT);
          done += bytesRead;
        }
      } finally {
        await source.close();
      }
      at += part.length;
    }
    await fsp.writeFile(tmp, trail, { flag: "wx", mode });
    return tmp;
  } catch {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    return undefined;
  }
}

/** Puts a trail `writeTrail` wrote in place (never throws; a trail that cannot be placed is removed, as is the one there). */
export function placeTrail(journalPath: string, written: string): void {
  const path = trailPath(journalPath);
  try {
    fs.renameSync(written, path);
  } catch {
    fs.rmSync(written, { force: true });
    fs.rmSync(path, { force: true });
  }
}

/** The trail at the path, its header read from one descriptor with its identity; `undefined` if there is none or it is unreadable. */
function readTrail(journalPath: string): Trail | undefined {
  let fd: number;
  let stat: fs.Stats;
  try {
    ({ fd, stat } = openRegularSync(trailPath(journalPath), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW));
  } catch {
    return undefined; // none, or not a file (regular-file.ts)
  }
  try {
    const identity = identityOf(stat);
    const buffer = Buffer.alloc(HEADER_MAX_BYTES);
    const read = fs.readSync(fd, buffer, 0, buffer.length, 0);
    const end = buffer.subarray(0, read).indexOf(0x0a);
    if (end < 0) return undefined;
    const steps = stepsOf(JSON.parse(buffer.subarray(0, end).toString("utf8")));
    return steps === undefined ? undefined : { steps, base: end + 1, identity };
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** A trail header's steps (version 2: a list; version 1: one step, in the header itself); `undefined` for anything else. */
function stepsOf(data: unknown): TrailHeader[] | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const { cacherator_trail: version, steps } = data as Record<string, unknown>;
  const listed = version === 2 && Array.isArray(steps) ? (steps as unknown[]) : version === 1 ? [data] : [];
  const parsed = listed.map(stepOf);
  return parsed.length > 0 && parsed.every((step) => step !== undefined) ? (parsed as TrailHeader[]) : undefined;
}

function stepOf(data: unknown): TrailHeader | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const { from, to, journal, start, bytes, file_bytes: fileBytes } = data as Record<string, unknown>;
  if (typeof from !== "string" || typeof to !== "string" || typeof journal !== "string") return undefined;
  if (!isCount(start) || !isCount(bytes) || !isCount(fileBytes) || start > bytes) return undefined;
  return { from, to, journal, start, bytes, fileBytes };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

// --- Following a trail (disk-reader.ts) -------------------------------------------------------------

/**
 * What a process reads of a trail: the lines it has not read, from `at` to `end` of the trail file
 * (whose identity is `identity`), taking it from the file `from` to the file `to`.
 */
export interface TrailStep {
  from: string;
  to: string;
  /** The size of the file `to`. */
  fileBytes: number;
  at: number;
  end: number;
  identity: string;
}

/**
 * The way along the trail from the file this process read (`known`), through the journal of that step's
 * fold (read by this process at least up to where the step starts: `offsetIn`), to the file at the path
 * now (`fileNow`); `undefined` when there is none (then the file is read whole).
 */
export function trailToFollow(journalPath: string, known: string, fileNow: () => string, offsetIn: (journal: string) => number | undefined): TrailStep | undefined {
  if (known === "" || known === "none") return undefined;
  const trail = readTrail(journalPath);
  if (trail === undefined) return undefined;
  const { steps, base } = trail;
  const first = steps.findIndex((step) => step.from === known);
  if (first < 0) return undefined;
  const now = fileNow();
  let last = first;
  while (last < steps.length && (steps[last] as TrailHeader).to !== now) last++;
  if (last === steps.length) return undefined;
  // Past the first step, a step is followed from its journal's start (a process arriving from an earlier step never read it).
  if (steps.slice(first + 1, last + 1).some((step) => step.start !== 0)) return undefined;
  const step = steps[first] as TrailHeader;
  // A process may have read past the fold's end in the sealed journal: lines appended after the seal, which their writers appended again to the next journal.
  const offset = Math.min(offsetIn(step.journal) ?? 0, step.bytes);
  if (offset < step.start) return undefined;
  const at = base + steps.slice(0, first).reduce((sum, s) => sum + stepBytes(s), 0) + offset - step.start;
  const end = base + steps.slice(0, last + 1).reduce((sum, s) => sum + stepBytes(s), 0);
  const to = steps[last] as TrailHeader;
  return { from: known, to: to.to, fileBytes: to.fileBytes, at, end, identity: trail.identity };
}

/** Reads the step's lines at once, from the trail file it was found in; false if that file is no longer there (another fold replaced it). */
export function readTrailStep(journalPath: string, step: TrailStep, onLine: (line: string) => void): boolean {
  if (step.at >= step.end) return true;
  return readJournalLines(trailPath(journalPath), step.at, onLine, step.end - step.at, step.identity) === step.end;
}

/**
 * Reads the step's lines in slices of `sliceBytes`, the event loop running after each; each slice reads
 * only from the trail file the step was found in. False when that trail was replaced, a line is longer
 * than a slice, or `still()`, asked after each turn, says the step no longer applies.
 */
export async function readTrailStepInSlices(journalPath: string, step: TrailStep, onLine: (line: string) => void, sliceBytes: number, still: () => boolean): Promise<boolean> {
  const path = trailPath(journalPath);
  for (let at = step.at; at < step.end; ) {
    const next = readJournalLines(path, at, onLine, Math.min(sliceBytes, step.end - at), step.identity);
    if (next === at) return false;
    at = next;
    await nextTurn();
    if (!still()) return false;
  }
  return true;
}
