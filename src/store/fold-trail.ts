/**
 * The trail a fold leaves for the other processes sharing a cache: `<file>.journal.folded`. Without it,
 * every process that sees a new file must read it whole (a 100 MB file: most of a second on its event
 * loop) although it already holds nearly all of it: the old file, and the journal it has been reading.
 * The new file is exactly those two merged — plus changes the folder had not appended yet, which it
 * appends afterwards like any change. So a process that knew the old file reads only the part of the
 * sealed journal it had not read, from the trail:
 *
 *     {"cacherator_trail": 1, "from": <old file>, "to": <new file>, "journal": <sealed journal>, "start": S, "bytes": B, "file_bytes": F}
 *     <bytes S..B of the sealed journal>
 *
 * `from` and `to` are file identities (inode, size, mtime, birth time), `journal` the sealed journal's
 * identity, so a trail is followed only by a process that read exactly that file and that journal,
 * and only to exactly that new file: anything else (another program rewrote the file, two folds
 * happened, the reader was further behind than S) falls back to reading the file whole. A trail is
 * left only by a fold that sealed one journal over a file it had read, and only for files of 1 MB or
 * more (smaller ones are read whole in a few milliseconds). It is replaced by the next fold's.
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { journalIdentity, readJournalLines } from "./journal-file.js";
import { nextTurn } from "./next-turn.js";
import { privateName } from "./private-names.js";

/** Folds of files smaller than this leave no trail. */
export const TRAIL_FROM_BYTES = 1024 * 1024;
/**
 * The trail holds this much of the sealed journal's end: an eighth of the new file's size, at least
 * 2 MB and at most 16 MB. A reader further behind reads the file whole, which costs it about eight
 * times what the trail costs the folder to write (idle processes keep up in the background:
 * journal-follower.ts).
 */
const TRAIL_TAIL_MIN_BYTES = 2 * 1024 * 1024;
const TRAIL_TAIL_MAX_BYTES = 16 * 1024 * 1024;
/** The header line is never longer than this. */
const HEADER_MAX_BYTES = 4096;

export interface TrailHeader {
  from: string;
  to: string;
  journal: string;
  /** The sealed journal's bytes `start`..`bytes` follow the header. */
  start: number;
  bytes: number;
  fileBytes: number;
}

export function trailPath(journalPath: string): string {
  return `${journalPath}.folded`;
}

/** Writes the trail of a fold (never throws: without a trail, others read the file whole). */
export function leaveTrail(journalPath: string, sealedPath: string, header: Omit<TrailHeader, "start">, mode: number): void {
  const path = trailPath(journalPath);
  const tmp = join(dirname(path), privateName(basename(path), "tmp"));
  try {
    const start = tailStart(header);
    const { trail, tailAt } = trailBuffer(header, start);
    const source = fs.openSync(sealedPath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      for (let at = tailAt; at < trail.length; ) {
        const read = fs.readSync(source, trail, at, trail.length - at, start + at - tailAt);
        if (read === 0) throw new Error("the sealed journal is shorter than was read");
        at += read;
      }
    } finally {
      fs.closeSync(source);
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
    const start = tailStart(header);
    const { trail, tailAt } = trailBuffer(header, start);
    const source = await fsp.open(sealedPath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      for (let at = tailAt; at < trail.length; ) {
        const { bytesRead } = await source.read(trail, at, trail.length - at, start + at - tailAt);
        if (bytesRead === 0) throw new Error("the sealed journal is shorter than was read");
        at += bytesRead;
      }
    } finally {
      await source.close();
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

function tailStart(header: Omit<TrailHeader, "start">): number {
  const keep = Math.min(TRAIL_TAIL_MAX_BYTES, Math.max(TRAIL_TAIL_MIN_BYTES, Math.floor(header.fileBytes / 8)));
  return Math.max(0, header.bytes - keep);
}

/** The trail's bytes: its header line, then room for the journal's tail (read into it at `tailAt`; not zero-filled first). */
function trailBuffer(header: Omit<TrailHeader, "start">, start: number): { trail: Buffer; tailAt: number } {
  const line = headerLine(header, start);
  const trail = Buffer.allocUnsafe(line.length + header.bytes - start);
  line.copy(trail, 0);
  return { trail, tailAt: line.length };
}

function headerLine({ from, to, journal, bytes, fileBytes }: Omit<TrailHeader, "start">, start: number): Buffer {
  return Buffer.from(`${JSON.stringify({ cacherator_trail: 1, from, to, journal, start, bytes, file_bytes: fileBytes })}\n`);
}

/** The trail's header and where the journal bytes start in it; `undefined` if there is none or it is unreadable. */
export function readTrailHeader(journalPath: string): { header: TrailHeader; base: number } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(trailPath(journalPath), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const buffer = Buffer.alloc(HEADER_MAX_BYTES);
    const read = fs.readSync(fd, buffer, 0, buffer.length, 0);
    const end = buffer.subarray(0, read).indexOf(0x0a);
    if (end < 0) return undefined;
    const data = JSON.parse(buffer.subarray(0, end).toString("utf8")) as Record<string, unknown>;
    const { from, to, journal, start, bytes, file_bytes: fileBytes } = data;
    if (data.cacherator_trail !== 1 || typeof from !== "string" || typeof to !== "string" || typeof journal !== "string") return undefined;
    if (!isCount(start) || !isCount(bytes) || !isCount(fileBytes) || start > bytes) return undefined;
    return { header: { from, to, journal, start, bytes, fileBytes }, base: end + 1 };
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

// --- Following a trail (disk-reader.ts) -------------------------------------------------------------

/** What a process reads of the last fold's trail: the lines it has not read, from `at` to `end` of the trail file. */
export interface TrailStep {
  header: TrailHeader;
  at: number;
  end: number;
  /** The trail file's identity, taken before its header was read. */
  identity: string;
}

/**
 * The last fold's trail, if it leads from the file this process read (`known`), through the journal that
 * fold sealed (read by this process at least up to where the trail starts: `offsetIn`), to the file at
 * the path now (`fileNow`); `undefined` otherwise (then the file is read whole).
 */
export function trailToFollow(journalPath: string, known: string, fileNow: () => string, offsetIn: (journal: string) => number | undefined): TrailStep | undefined {
  if (known === "" || known === "none") return undefined;
  const identity = journalIdentity(trailPath(journalPath)).identity;
  const trail = readTrailHeader(journalPath);
  if (trail === undefined) return undefined;
  const { header, base } = trail;
  if (header.from !== known || fileNow() !== header.to) return undefined;
  const offset = offsetIn(header.journal) ?? 0;
  if (offset < header.start) return undefined;
  return { header, at: base + offset - header.start, end: base + header.bytes - header.start, identity };
}

/** Reads the step's lines at once. False when another fold's trail replaced it meanwhile: what was read may not lead to the file. */
export function readTrailStep(journalPath: string, step: TrailStep, onLine: (line: string) => void): boolean {
  if (step.at >= step.end) return true;
  readJournalLines(trailPath(journalPath), step.at, onLine);
  return readTrailHeader(journalPath)?.header.to === step.header.to;
}

/**
 * Reads the step's lines in slices of `sliceBytes`, the event loop running after each; each slice reads
 * only from the trail file the step was found in. False when that trail was replaced, a line is longer
 * than a slice, or `still()`, asked after each turn, says the step no longer applies.
 */
export async function readTrailStepInSlices(journalPath: string, step: TrailStep, onLine: (line: string) => void, sliceBytes: number, still: () => boolean): Promise<boolean> {
  const path = trailPath(journalPath);
  for (let at = step.at; at < step.end; ) {
    const next = readJournalLines(path, at, onLine, sliceBytes, step.identity);
    if (next === at) return false;
    at = next;
    await nextTurn();
    if (!still()) return false;
  }
  return readTrailHeader(journalPath)?.header.to === step.header.to;
}
