/**
 * The journal on disk: lock-free appends, sealing for compaction, and reading in bounded chunks.
 *
 * Invariants:
 * - An append is one `write()` of whole lines to a descriptor opened with O_APPEND and O_NOFOLLOW
 *   (a symlink planted at the journal's path is refused, never followed) and kept open; appends of
 *   several processes never interleave within a line. At most 256 such descriptors stay open.
 * - Every append starts with a newline, so a line another process left torn (a crash or a full disk
 *   mid-append) stays one unreadable line and never swallows the next one. Readers skip empty lines.
 * - Compaction first renames the journal aside ("seals" it) and only then reads it: after each write
 *   the appender checks (one `lstat`) that the path still names the file it wrote to, and writes its
 *   lines again to the new journal if not, so no append is lost to a fold.
 * - Durability by group commit: `sync()` calls made while an fdatasync runs share the next one.
 * - A FIFO, socket or device at a journal's path is never waited on: it is refused (regular-file.ts),
 *   an append fails with an error that says so, and a read finds no lines.
 */
import * as fs from "node:fs";
import { basename, dirname, join } from "node:path";
import { privateName } from "./private-names.js";
import { NON_BLOCKING, openRegularSync, readRegularFileSync } from "./regular-file.js";

const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = fs.constants;
/** Lines are read in chunks of this size, so a journal larger than a string can hold still opens. */
const READ_CHUNK_BYTES = 16 * 1024 * 1024;

/** Where an append went: the bytes written (a repairing newline included) and where they start. */
export interface AppendResult {
  bytes: number;
  /** Offset in the journal at which the bytes start; -1 when another process appended meanwhile. */
  at: number;
  /** The journal's size right after the append (others' appends included). */
  size: number;
  /** Which journal file it went to (as `journalIdentity` in disk-reader.ts names it). */
  identity: string;
}

/** At most this many journal descriptors stay open in a process (the least recently used are closed). */
const MAX_OPEN_JOURNALS = 256;

interface OpenJournal {
  fd: number;
  ino: number;
  dev: number;
  /** As `journalIdentity` in disk-reader.ts names the file. */
  identity: string;
  /** fdatasyncs under way on this descriptor: it is not closed before they finish. */
  syncing: number;
  /** Closed (or to be closed once its syncs finish) because it left the pool. */
  retired: boolean;
}

/** Background opens (`warm`) under way, and at most how many. */
let warmingNow = 0;
const MAX_WARMING = 8;

/** The open journal descriptors of this process, by path, least recently used first. */
const openJournals = new Map<string, OpenJournal>();
/** `lstat` options: a missing journal is an answer, not an error. */
const NO_THROW = { throwIfNoEntry: false } as const;

/** The one last in `openJournals` after its last use (so using it again needs no reordering). */
let lastUsed: OpenJournal | undefined;

/**
 * Appends to one journal through a descriptor kept open (one `write()` and one `lstat` per append), and
 * makes appends durable by group commit: a `sync()` asked for while another is under way is served by
 * the next fdatasync, shared by every caller that asked meanwhile.
 */
export class JournalAppender {
  #syncing: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  /** The background open of `warm()` while it runs: resolved once the file exists or could not be made. */
  #warming: Promise<void> | undefined;

  constructor(
    readonly path: string,
    private readonly mode: () => number,
    /** Called for each fdatasync started. */
    private readonly onSync: () => void = noop,
  ) {}

  /**
   * Appends `lines` (whole lines). Synchronous: one `write()` of a few hundred bytes costs less than
   * the promise that would wait for it.
   * @throws the file-system error when the journal cannot be written (full disk, a symlink at its path…).
   */
  append(lines: string | Buffer): AppendResult {
    // A leading newline ends a line another process left torn (a crash or a full disk mid-append),
    // so the torn part stays one unreadable line and never swallows ours. Readers skip empty lines.
    const body = typeof lines === "string" ? `\n${lines}` : Buffer.concat([NEWLINE, lines]);
    const length = typeof body === "string" ? Buffer.byteLength(body) : body.length;
    for (let attempt = 0; ; attempt++) {
      const journal = this.#open(true) as OpenJournal;
      try {
        writeAll(journal.fd, body, length);
      } catch (error) {
        this.#retire(journal);
        throw error;
      }
      // Sealed by a fold (or removed) while we wrote? Then write the lines again to the new journal.
      const named = fs.lstatSync(this.path, NO_THROW);
      if (named !== undefined && named.ino === journal.ino && named.dev === journal.dev) {
        const at = named.size - length;
        return { bytes: length, at, size: named.size, identity: journal.identity };
      }
      // Closed on the thread pool: ours may be the last reference to a sealed journal a fold removed,
      // and freeing a large file's blocks would hold the event loop.
      this.#retire(journal, true);
      if (attempt >= 8) return { bytes: length, at: -1, size: named?.size ?? 0, identity: "" };
    }
  }

  /** Makes every append so far durable: one fdatasync, shared with the callers that ask while one runs. */
  sync(): Promise<void> {
    if (this.#syncing === undefined) return this.#startSync();
    this.#next ??= this.#syncing.then(noop, noop).then(() => {
      this.#next = undefined;
      return this.#startSync();
    });
    return this.#next;
  }

  /**
   * Opens (creating) the journal in the background, so that the first append — perhaps at exit, when
   * ten thousand caches append at once — need not create a file (a create costs far more than a write).
   */
  warm(): void {
    // Opens finish on the thread pool while the event loop may be busy for long (ten thousand caches
    // constructed in one go): a few at a time, so descriptors never pile up past the process's limit.
    if (this.#warming !== undefined || warmingNow >= MAX_WARMING || openJournals.has(this.path)) return;
    warmingNow++;
    this.#warming = new Promise((opened) => {
      fs.open(this.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | NON_BLOCKING, this.mode(), (error, fd) => {
        this.#warming = undefined;
        warmingNow--;
        opened();
        if (error) return; // the append will say why
        fs.fstat(fd, (statError, stat) => {
          if (statError || !stat.isFile() || openJournals.has(this.path)) {
            fs.close(fd, noop);
            return;
          }
          lastUsed = openJournal(fd, stat);
          openJournals.set(this.path, lastUsed);
          if (openJournals.size > MAX_OPEN_JOURNALS) evictOldest();
        });
      });
    });
  }

  /**
   * While `warm()`'s open runs: a promise of its end. It may create the file (it is what creates it),
   * so whoever promises that nothing touches the directory any more waits for it. `undefined` otherwise.
   */
  warming(): Promise<void> | undefined {
    return this.#warming;
  }

  /** Creates the journal now if there is none (a new cache), without keeping a descriptor. Never throws. */
  create(): void {
    try {
      fs.closeSync(openRegularSync(this.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, this.mode()).fd);
    } catch {
      // The append will say why.
    }
  }

  #startSync(): Promise<void> {
    let journal: OpenJournal | undefined;
    try {
      journal = this.#open(false);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (journal === undefined) return Promise.resolve(); // no journal: nothing appended to sync
    const held = journal;
    held.syncing++;
    this.onSync();
    const done = new Promise<void>((resolve, reject) => {
      fs.fdatasync(held.fd, (error) => {
        held.syncing--;
        if (held.retired && held.syncing === 0) fs.close(held.fd, noop);
        if (error) reject(error);
        else resolve();
      });
    });
    this.#syncing = done;
    const clear = () => {
      if (this.#syncing === done) this.#syncing = undefined;
    };
    done.then(clear, clear);
    return done;
  }

  /** The pooled descriptor of the journal, opened (and with `create`, created) when needed. */
  #open(create: boolean): OpenJournal | undefined {
    const pooled = openJournals.get(this.path);
    if (pooled !== undefined) {
      if (lastUsed !== pooled) {
        openJournals.delete(this.path); // re-inserted last: the most recently used
        openJournals.set(this.path, pooled);
        lastUsed = pooled;
      }
      return pooled;
    }
    let opened: { fd: number; stat: fs.Stats };
    try {
      opened = openRegularSync(this.path, O_WRONLY | O_APPEND | O_NOFOLLOW | (create ? O_CREAT : 0), this.mode());
    } catch (error) {
      if (!create && (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    const journal = openJournal(opened.fd, opened.stat);
    openJournals.set(this.path, journal);
    lastUsed = journal;
    if (openJournals.size > MAX_OPEN_JOURNALS) evictOldest();
    return journal;
  }

  #retire(journal: OpenJournal, inBackground = false): void {
    if (openJournals.get(this.path) === journal) openJournals.delete(this.path);
    retire(journal, inBackground);
  }
}

function openJournal(fd: number, stat: fs.Stats): OpenJournal {
  return { fd, ino: stat.ino, dev: stat.dev, identity: identityOf(stat), syncing: 0, retired: false };
}

/** Closes a descriptor that left the pool, once its syncs finish; `inBackground`: on the thread pool. */
function retire(journal: OpenJournal, inBackground = false): void {
  if (lastUsed === journal) lastUsed = undefined;
  if (journal.retired) return;
  journal.retired = true;
  if (journal.syncing !== 0) return; // the last sync closes it
  if (inBackground) fs.close(journal.fd, noop);
  else closeQuietly(journal.fd);
}

function evictOldest(): void {
  for (const [path, journal] of openJournals) {
    if (openJournals.size <= MAX_OPEN_JOURNALS) return;
    openJournals.delete(path);
    retire(journal);
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Closed already.
  }
}

function noop(): void {}

/** Appends whole lines with a descriptor of its own (a sealed journal put back; rare). */
export function appendToJournalSync(path: string, lines: Buffer, mode: number): void {
  const { fd } = openRegularSync(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, mode);
  try {
    writeAll(fd, Buffer.concat([NEWLINE, lines]));
  } finally {
    fs.closeSync(fd);
  }
}

const NEWLINE = Buffer.from("\n");

/**
 * Writes all of `data` (`length` bytes). A string is written as it is (no Buffer made for it); in the
 * rare short write (a signal, a disk filling up) the rest goes from its bytes.
 */
function writeAll(fd: number, data: string | Buffer, length = data.length): void {
  let written = typeof data === "string" ? fs.writeSync(fd, data) : 0;
  if (written >= length) return;
  const buffer = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  while (written < length) written += fs.writeSync(fd, buffer, written, length - written);
}

/** Renames the journal aside for a fold; `undefined` when there is none. */
export function sealJournal(path: string): string | undefined {
  const sealed = join(dirname(path), privateName(basename(path), "sealed"));
  try {
    fs.renameSync(path, sealed);
    return sealed;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Puts back a journal sealed for a fold that did not complete: under its name again if no journal was
 * started since, else its complete lines are appended to the new one (lines apply in any order).
 */
export function unsealJournal(sealed: string, path: string, mode: number): void {
  try {
    fs.linkSync(sealed, path);
    fs.unlinkSync(sealed);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const content = readRegularFileSync(sealed, O_NOFOLLOW);
  const complete = content.lastIndexOf(0x0a) + 1;
  if (complete > 0) appendToJournalSync(path, content.subarray(0, complete), mode);
  fs.unlinkSync(sealed);
}

/** A journal's identity: a rename keeps it, a new journal at the same path has another. */
export function identityOf(stat: fs.Stats): string {
  return `${stat.dev}:${stat.ino}:${stat.birthtimeMs}`;
}

/** Which journal file is at `path` (it only grows, so its size is not part of its identity), and its size. */
export function journalIdentity(path: string): { identity: string; size: number } {
  try {
    const stat = fs.lstatSync(path);
    return { identity: identityOf(stat), size: stat.size };
  } catch {
    return { identity: "none", size: 0 };
  }
}

/**
 * Reads the complete lines of a journal from `offset` on, in chunks, handing each to `onLine`. Returns
 * the offset after the last complete line (a line still being written is read next time). With
 * `limitBytes`, reads at most that many bytes (a slice: the caller reads on from the offset returned).
 * With `identity`, reads nothing unless the journal opened is that one: a fold may seal the journal
 * between the caller's `lstat` and this `open`, and the caller would take what it read, and the offset
 * returned, for the journal it looked at.
 */
export function readJournalLines(path: string, offset: number, onLine: (line: string) => void, limitBytes = Number.POSITIVE_INFINITY, identity?: string): number {
  let fd: number;
  let stat: fs.Stats;
  try {
    ({ fd, stat } = openRegularSync(path, fs.constants.O_RDONLY | O_NOFOLLOW));
  } catch {
    return offset; // none, or not a file (regular-file.ts): no lines
  }
  try {
    // Another journal at the path since the caller looked (a fold sealed the one it knows).
    if (identity !== undefined && identityOf(stat) !== identity) return offset;
    const size = Math.min(stat.size, offset + limitBytes);
    let position = offset;
    let carry = Buffer.alloc(0);
    while (position < size) {
      const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, size - position));
      const read = fs.readSync(fd, chunk, 0, chunk.length, position);
      if (read === 0) break;
      position += read;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, read)]) : chunk.subarray(0, read);
      const complete = data.lastIndexOf(0x0a) + 1;
      if (complete > 0) {
        for (const line of data.subarray(0, complete).toString("utf8").split("\n")) if (line.length > 0) onLine(line);
      }
      carry = Buffer.from(data.subarray(complete));
      if (carry.length > READ_CHUNK_BYTES) carry = Buffer.alloc(0); // one line past any sane size: skipped
    }
    return position - carry.length;
  } finally {
    fs.closeSync(fd);
  }
}
