/**
 * Names of the short-lived files beside a cache file: `<base>.<pid>-<random>.<kind>`. The random part
 * makes them unpredictable (created exclusively, so a file planted under a guessed name is never
 * written through); the pid lets a later process remove what a killed one left behind.
 */
import * as fs from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";

export type PrivateKind = "tmp" | "new" | "stale" | "sealed";

export function privateName(base: string, kind: PrivateKind): string {
  return `${base}.${process.pid}-${randomBytes(8).toString("hex")}.${kind}`;
}

const PRIVATE = /^(.*)\.(\d+)-[0-9a-f]{16}\.(tmp|new|stale)$/;

/**
 * Removes the temporary files that processes no longer alive left beside `cachePath` (a kill during a
 * write). Sealed journals are not touched here: they hold data, and a compaction folds them in.
 */
export function removeLeftovers(cachePath: string, isAlive: (pid: number) => boolean): number {
  const base = basename(cachePath);
  let names: string[];
  try {
    names = fs.readdirSync(dirname(cachePath));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const match = PRIVATE.exec(name);
    if (match === null || !(match[1] as string).startsWith(base)) continue;
    const pid = Number(match[2]);
    if (pid === process.pid || isAlive(pid)) continue;
    try {
      fs.unlinkSync(join(dirname(cachePath), name));
      removed++;
    } catch {
      // Removed by another process first.
    }
  }
  return removed;
}
