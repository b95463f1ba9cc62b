/**
 * The optional reference stores of the write-path section (bench/write-path.ts): lmdb, better-sqlite3
 * and cacache, installed in bench/anchors/ (a package of its own, so the library never depends on them)
 * and loaded from there with `createRequire`.
 *
 * When bench/anchors/node_modules is missing, `npm ci --prefix bench/anchors` is tried once. A store
 * that still does not load is reported with the reason; nothing here ever throws.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The parts of lmdb-js (`lmdb`) the bench uses. */
export interface LmdbDatabase {
  put(key: string, value: unknown): Promise<boolean>;
  get(key: string): unknown;
  /** Resolves once every previous write is committed and flushed to disk. */
  readonly flushed: PromiseLike<unknown>;
  close(): Promise<void>;
}
export interface LmdbModule {
  open(options: { path: string; [option: string]: unknown }): LmdbDatabase;
}

/** The parts of better-sqlite3 the bench uses. */
export interface SqliteStatement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
}
export interface SqliteDatabase {
  pragma(source: string, options?: { simple: boolean }): unknown;
  exec(source: string): unknown;
  prepare(source: string): SqliteStatement;
  transaction<F extends (...args: never[]) => unknown>(fn: F): F;
  close(): unknown;
}
export type SqliteConstructor = new (path: string) => SqliteDatabase;

/** The parts of npm's cacache the bench uses. */
export interface CacacheModule {
  put(cache: string, key: string, data: string | Buffer): Promise<unknown>;
  get(cache: string, key: string): Promise<{ data: Buffer }>;
}

export type Loaded<T> = { ok: true; module: T; version: string } | { ok: false; reason: string };

export interface Anchors {
  lmdb: Loaded<LmdbModule>;
  sqlite: Loaded<SqliteConstructor>;
  cacache: Loaded<CacacheModule>;
  /** What the install attempt said, when one was made. */
  install: string | undefined;
}

export const ANCHORS_DIR = fileURLToPath(new URL("./anchors/", import.meta.url));
const INSTALL_TIMEOUT_MS = 10 * 60_000;

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split("\n").find((line) => line.trim() !== "") ?? text).trim().slice(0, 160);
}

/** Runs `npm ci --prefix bench/anchors` once if its node_modules is missing; returns what happened, or undefined. */
function installOnce(progress: (text: string) => void): string | undefined {
  if (fs.existsSync(join(ANCHORS_DIR, "node_modules"))) return undefined;
  progress("write path: bench/anchors/node_modules is missing; running `npm ci --prefix bench/anchors` once (builds better-sqlite3; a few minutes)");
  const started = Date.now();
  const result = spawnSync("npm", ["ci", "--prefix", ANCHORS_DIR, "--no-audit", "--no-fund", "--no-progress"], {
    stdio: ["ignore", 2, 2],
    timeout: INSTALL_TIMEOUT_MS,
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (result.error !== undefined) return `npm ci failed to run (${firstLine(result.error)})`;
  if (result.status !== 0) return `npm ci exited with ${result.status ?? result.signal} after ${seconds} s`;
  return `installed by npm ci in ${seconds} s`;
}

function load<T>(require: NodeJS.Require, name: string, pick: (module: unknown) => T, installNote: string | undefined): Loaded<T> {
  try {
    const module = pick(require(name));
    let version = "?";
    try {
      // Read directly: a package's exports map may hide its package.json from require.resolve.
      version = (JSON.parse(fs.readFileSync(join(ANCHORS_DIR, "node_modules", name, "package.json"), "utf8")) as { version?: string }).version ?? "?";
    } catch {
      // The version is only shown.
    }
    return { ok: true, module, version };
  } catch (error) {
    const reason = firstLine(error);
    return { ok: false, reason: installNote === undefined ? reason : `${reason}; ${installNote}` };
  }
}

export function loadAnchors(progress: (text: string) => void): Anchors {
  let install: string | undefined;
  try {
    install = installOnce(progress);
  } catch (error) {
    install = `install attempt failed (${firstLine(error)})`;
  }
  const require = createRequire(join(ANCHORS_DIR, "package.json"));
  const failedInstall = install !== undefined && !install.startsWith("installed") ? install : undefined;
  return {
    lmdb: load(require, "lmdb", (m) => {
      const open = (m as Partial<LmdbModule>).open;
      if (typeof open !== "function") throw new Error("lmdb has no open()");
      return m as LmdbModule;
    }, failedInstall),
    sqlite: load(require, "better-sqlite3", (m) => {
      if (typeof m !== "function") throw new Error("better-sqlite3 did not export a constructor");
      // The native addon loads on first construction: a missing build shows here, not mid-measurement.
      const Database = m as SqliteConstructor;
      new Database(":memory:").close();
      return Database;
    }, failedInstall),
    cacache: load(require, "cacache", (m) => {
      if (typeof (m as Partial<CacacheModule>).put !== "function") throw new Error("cacache has no put()");
      return m as CacacheModule;
    }, failedInstall),
    install,
  };
}
