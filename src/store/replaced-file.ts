/**
 * Another program's cache file that a fold of ours replaced. That program (the Python library rewrites
 * the file in place on every miss) may still write into it, through a descriptor it opened before our
 * rename: what it writes there would be lost. So the replaced file is held open and watched at each
 * look, until it has not changed for `SETTLE_MS`; what it received meanwhile is handed over to be
 * merged.
 */
import * as fs from "node:fs";
import { SETTLE_MS } from "./quarantine.js";
import { openRegularSync } from "./regular-file.js";

export class ReplacedFile {
  readonly #fd: number;
  #size: number;
  #mtimeMs: number;

  private constructor(fd: number, stat: fs.Stats) {
    this.#fd = fd;
    this.#size = stat.size;
    this.#mtimeMs = stat.mtimeMs;
  }

  /** Opens the file at `path` to watch it; `undefined` when it is gone already (nothing can be written into it). */
  static open(path: string): ReplacedFile | undefined {
    try {
      const { fd, stat } = openRegularSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      return new ReplacedFile(fd, stat);
    } catch {
      return undefined;
    }
  }

  /**
   * Whether the watch is over: the file settled unchanged, is gone, or what it received was merged
   * (`merge` is given its whole text, and throws if it cannot be read yet: it is still being written,
   * and is looked at again next time). Closed once over.
   */
  check(merge: (text: string) => void): boolean {
    let stat: fs.Stats;
    try {
      stat = fs.fstatSync(this.#fd);
    } catch {
      return this.close();
    }
    if (stat.size === this.#size && stat.mtimeMs === this.#mtimeMs) return Date.now() - stat.mtimeMs >= SETTLE_MS ? this.close() : false;
    const buffer = Buffer.alloc(stat.size);
    const read = fs.readSync(this.#fd, buffer, 0, buffer.length, 0);
    try {
      merge(buffer.subarray(0, read).toString("utf8"));
    } catch {
      this.#size = stat.size;
      this.#mtimeMs = stat.mtimeMs;
      return false;
    }
    return this.close();
  }

  /** Stops watching; true. */
  close(): true {
    try {
      fs.closeSync(this.#fd);
    } catch {
      // Closed already.
    }
    return true;
  }
}
