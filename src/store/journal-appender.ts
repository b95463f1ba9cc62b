/**
 * Appends to a journal, lock-free, through descriptors kept open, and makes appends durable by group
 * commit. The journal's file operations are journal-file.ts's.
 *
 * Invariants:
 * - An append is one `write()` of whole lines to a descriptor opened with O_APPEND and O_NOFOLLOW
 *   (a symlink planted at the journal's path is refused, never followed) and kept open; appends of
 *   several processes never interleave within a line. At most 256 such descriptors stay open.
 * - A fold seals the journal (renames it aside) before reading it: after each write the appender
 *   checks (one `lstat`) that the path still names the file it wrote to, and writes its lines again to
 *   the new journal if not, so no append is lost to a fold.
 * - Durability by group commit: `sync()` calls made while an fdatasync runs share the next one.
 */
import * as fs from "node:fs";
import { NEWLINE, identityOf, writeAll } from "./journal-file.js";
import { NON_BLOCKING, openRegularSync } from "./regular-file.js";

const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = fs.constants;

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
