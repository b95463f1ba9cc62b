/**
 * Names of the short-lived files beside a cache file: `<base>.<pid>-<random>.<kind>`. The random part
 * makes them unpredictable (created exclusively, so a file planted under a guessed name is never
 * written through); the pid lets a later process remove what a killed one left behind.
 *
 * A cache directory is scanned for leftovers once per process (a directory of ten thousand caches is
 * not listed ten thousand times), again after a dead process's lock was taken over, and again by a
 * fold once the last scan is a minute old: a process that died after a fold that could neither
 * complete nor put back its sealed journal (a full disk) held no lock anyone takes over, and a
 * long-running process would otherwise never fold in the lines it left.
 */
import * as fs from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";

export type PrivateKind = "tmp" | "new" | "stale" | "sealed";

export function privateName(base: string, kind: PrivateKind): string {
  return `${base}.${process.pid}-${randomBytes(8).toString("hex")}.${kind}`;
}

const PRIVATE = /^(.*)\.(\d+)-[0-9a-f]{16}\.(tmp|new|stale|sealed)$/;

/** Sealed journals found by the last scan of each directory, by the journal they were sealed from, and when it was made. */
const scanned = new Map<string, { at: number; sealed: Map<string, string[]> }>();
/** A scan older than this is made again. */
export const RESCAN_AFTER_MS = 60_000;

/**
 * The journals sealed from `journalPath` and not folded in, oldest first, as the directory's last listing
 * found them: a fold under way when it was listed may have removed its own since, the others are what
 * folds that died or failed left behind. Removes the temporary files of dead processes on the way.
 * Lists the directory again when `rescan` (after a takeover) or when the last listing is
 * `RESCAN_AFTER_MS` old. Sealed journals hold data: they are folded in, never removed here.
 */
export function leftovers(journalPath: string, isAlive: (pid: number) => boolean, rescan: boolean, now = Date.now()): string[] {
  const directory = dirname(journalPath);
  let scan = rescan ? undefined : scanned.get(directory);
  if (scan === undefined || now - scan.at >= RESCAN_AFTER_MS) {
    scan = { at: now, sealed: scanDirectory(directory, isAlive) };
    scanned.set(directory, scan);
  }
  return scan.sealed.get(basename(journalPath)) ?? [];
}

/**
 * Every journal sealed from `journalPath` that is there now, whoever sealed it (a fold under way in a
 * live process too): one listing of the directory, not remembered. Empty when it cannot be listed.
 */
export function sealedJournalsNow(journalPath: string): string[] {
  const directory = dirname(journalPath);
  const base = basename(journalPath);
  let names: string[];
  try {
    names = fs.readdirSync(directory);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const match = PRIVATE.exec(name);
    return match !== null && match[3] === "sealed" && match[1] === base ? [join(directory, name)] : [];
  });
}

/** The leftovers of `journalPath` were folded in and removed. */
export function forgetLeftovers(journalPath: string): void {
  scanned.get(dirname(journalPath))?.sealed.delete(basename(journalPath));
}

function scanDirectory(directory: string, isAlive: (pid: number) => boolean): Map<string, string[]> {
  const sealed = new Map<string, { path: string; mtime: number }[]>();
  let names: string[];
  try {
    names = fs.readdirSync(directory);
  } catch {
    return new Map();
  }
  for (const name of names) {
    const match = PRIVATE.exec(name);
    if (match === null) continue;
    const pid = Number(match[2]);
    const path = join(directory, name);
    if (match[3] === "sealed") {
      const list = sealed.get(match[1] as string) ?? [];
      list.push({ path, mtime: mtimeOf(path) });
      sealed.set(match[1] as string, list);
    } else if (pid !== process.pid && !isAlive(pid)) {
      try {
        fs.unlinkSync(path);
      } catch {
        // Removed by another process first.
      }
    }
  }
  return new Map([...sealed].map(([base, list]) => [base, list.sort((a, b) => a.mtime - b.mtime).map((item) => item.path)]));
}

function mtimeOf(path: string): number {
  try {
    return fs.statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
