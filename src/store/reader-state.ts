/**
 * What one process knows of a cache file and its journals, shared by the ways it reads them: the look
 * of a call (disk-reader.ts), the open in slices (open-in-slices.ts) and the following of folds' trails
 * (trail-following.ts). Each changes what is known only through the methods here, so the three agree
 * on what "the file this process read" means.
 */
import * as fs from "node:fs";
import type { CacheLog } from "../logger.js";
import { DiskMerge } from "./disk-merge.js";
import type { FileTooLargeError } from "./large-file.js";
import { LiveJournal } from "./live-journal.js";
import type { MemoryTable } from "./memory-table.js";
import type { ReplacedFile } from "./replaced-file.js";
import { SealedJournals } from "./sealed-journals.js";
import { statIdentity } from "./snapshot-file.js";

export type ReadState = "read" | "missing" | "busy" | "aside";

export class ReaderState {
  /** Identity of the file as last read or written; "" when it must be read. */
  known = "";
  /** Size of the cache file as last read or written; decides between rewriting and appending. */
  fileBytes = 0;
  /** The file at the path was written by this library (not rewritten in place by another program). */
  fileIsOurs = true;
  /** Set when our file could be neither read nor moved aside: writing would destroy it. */
  frozen = false;
  /** The next refresh must look at the file, not only the journal (disk-reader.ts `refresh`). */
  recheckFile = true;
  /** Another program's file that a fold of ours replaced, watched for late writes (replaced-file.ts). */
  replaced: ReplacedFile | undefined;
  readonly lockPath: string;
  /** Merges what is read into the memory table. */
  readonly merge: DiskMerge;
  /** Applies one journal line. */
  readonly onLine: (line: string) => void;
  /** The live journal: which one this process read, and how far. */
  readonly live: LiveJournal;
  /** Journals sealed by a fold under way (or left by a dead one), and how far this process read each. */
  readonly sealed: SealedJournals;

  constructor(
    readonly path: string,
    readonly journalPath: string,
    readonly table: MemoryTable,
    readonly log: CacheLog,
  ) {
    this.lockPath = `${path}.lock`;
    this.merge = new DiskMerge(table, log, journalPath);
    const onLine = (line: string, onDisk: Set<string> | undefined) => this.merge.line(line, onDisk);
    this.onLine = (line) => onLine(line, undefined);
    this.sealed = new SealedJournals(journalPath, onLine);
    this.live = new LiveJournal(journalPath, this.sealed, onLine);
  }

  /** Whether the file is the one this process last read or wrote. */
  unchanged(): boolean {
    return this.known !== "" && fileIdentity(this.path) === this.known;
  }

  /** The file `identity` of `bytes` is the one this process now knows (read whole, followed to, or written). */
  adopt(identity: string, bytes: number, ours: boolean): void {
    this.known = identity;
    this.fileBytes = bytes;
    this.fileIsOurs = ours;
  }

  /** A file too large for this process: never written, never set aside; the cache works in memory. */
  tooLarge(error: FileTooLargeError, identity: string): ReadState {
    this.frozen = true;
    this.known = identity;
    this.log.once("error", `too-large:${this.path}`, error.message);
    return "aside";
  }
}

/**
 * Which fold lock is at `path` ("" when there is none, or it cannot be looked at: a directory that is
 * missing, not a directory, or not searchable): each fold takes a lock file of its own.
 */
export function lockIdentity(path: string): string {
  try {
    const stat = fs.lstatSync(path);
    return `${stat.ino}:${stat.birthtimeMs}`;
  } catch {
    return "";
  }
}

/** What identifies one version of the file at `path` (snapshot-file.ts `statIdentity`); "none" if there is none. */
export function fileIdentity(path: string): string {
  try {
    return statIdentity(fs.statSync(path, { bigint: true }));
  } catch {
    return "none";
  }
}
