/** Fresh temporary directories for file-backed caches, all removed at the end of the run. */
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const created = new Set<string>();

export function freshDir(label: string): string {
  const dir = fs.mkdtempSync(join(tmpdir(), `cacherator-bench-${label}-`));
  created.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  created.delete(dir);
}

export function removeAllDirs(): void {
  for (const dir of [...created]) removeDir(dir);
}
