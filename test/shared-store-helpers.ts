/**
 * Tools for the shared-store tests: long-running child programs that can be paused, killed and
 * signalled through marker files; stale locks; what a cache holds on disk; a writer that knows nothing
 * of cacherator (as the Python library writes); and one program prelude that every child shares.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { randomBytes } from "node:crypto";
import { compileProgram, tempDir, type RunResult } from "./helpers.js";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 10 ms; throws naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * The start of every child program: the `Calc` class (dataId from `DATA_ID`, default `calc`; directory
 * from `CACHE_DIR`, default `data/cache`), whose `put(key, size)` returns a value made from its key, so
 * a torn or swapped value is recognisable; `runs` counts executions. Markers: `say` prints one JSON
 * line, `waitForFile` polls for a file the test writes, `mark` writes one.
 */
export const PRELUDE = `
import { JSONCache, Cached } from "cacherator";
import { existsSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitForFile(path: string) { while (!existsSync(path)) await sleep(5); }
function mark(path: string) { writeFileSync(path, String(process.pid)); }
function say(value: unknown) { console.log(JSON.stringify(value)); }
function valueFor(key: string, size: number) { return key + ":" + "x".repeat(size) + ":" + key; }
function crash(): never { process.kill(process.pid, "SIGKILL"); throw new Error("unreachable"); }
let runs = 0;
class Calc extends JSONCache {
  declare score: number;
  constructor(options: Record<string, unknown> = {}) {
    super({
      dataId: process.env.DATA_ID ?? "calc",
      ...(process.env.CACHE_DIR ? { directory: process.env.CACHE_DIR } : {}),
      ...options,
    });
    this.score ??= 0;
  }
  @Cached() put(key: string, size: number) { runs++; return valueFor(key, size); }
}
`;

/** The value `Calc.put(key, size)` returns. */
export function valueFor(key: string, size: number): string {
  return `${key}:${"x".repeat(size)}:${key}`;
}

/** The call key of `put(key, size)`. */
export function putKey(key: string, size: number): string {
  return `put('${key}', ${size}){}`;
}

export interface Started {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout lines parsed as JSON so far (others are skipped). */
  readonly lines: unknown[];
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited, with its output. */
  readonly done: Promise<RunResult & { signal: NodeJS.Signals | null }>;
  /** Waits for a stdout line (parsed JSON) that satisfies `test`, and returns it. */
  line<T = Record<string, unknown>>(test: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<T>;
}

export interface StartOptions {
  cwd: string;
  env?: Record<string, string>;
  /** A command the node invocation is wrapped in, e.g. `["setpriv", "--reuid=nobody", …]`. */
  prefix?: string[];
  /** Killed (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
}

/** Compiles `PRELUDE + body` (see helpers.compileProgram) and returns the program's path. */
export function compileWithPrelude(body: string): string {
  return compileProgram(PRELUDE + body);
}

/** Starts a compiled program (see `compileWithPrelude`) in the background. */
export function startFile(file: string, options: StartOptions): Started {
  const [command, ...args] = [...(options.prefix ?? []), process.execPath, file];
  const child = spawn(command as string, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const lines: unknown[] = [];
  let pending = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    pending += chunk.toString();
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const part of parts) {
      if (!/^\s*[[{]/.test(part)) continue;
      try {
        lines.push(JSON.parse(part) as unknown);
      } catch {
        // a line cut by a kill, or a log line that starts with a bracket
      }
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const done = new Promise<RunResult & { signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err, lines });
    });
  });
  return {
    child,
    pid: child.pid as number,
    lines,
    stdout: () => out,
    stderr: () => err,
    done,
    async line<T>(test: (line: Record<string, unknown>) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
      let exited = false;
      void done.then(() => (exited = true));
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find((l) => typeof l === "object" && l !== null && test(l as Record<string, unknown>));
        if (found !== undefined) return found as T;
        if (exited || Date.now() > deadline) {
          throw new Error(`no line for ${what} (${exited ? "the process exited" : "timed out"}); stdout: ${out.slice(-2_000)} stderr: ${err.slice(-2_000)}`);
        }
        await sleep(10);
      }
    },
  };
}

/** Compiles and starts `PRELUDE + body`. */
export function start(body: string, options: StartOptions): Started {
  return startFile(compileWithPrelude(body), options);
}

/** Compiles and runs `PRELUDE + body` to its end. */
export function run(body: string, options: StartOptions): Promise<RunResult & { signal: NodeJS.Signals | null }> {
  return start(body, options).done;
}

/** The pid of a process that has exited (and so names no process of this host). */
export async function deadPid(): Promise<number> {
  const child = spawn("true", [], { stdio: "ignore" });
  const pid = child.pid as number;
  await new Promise((resolve) => child.on("exit", resolve));
  return pid;
}

/** The content of a lock file naming `pid` on this host. */
export function lockText(pid: number, nonce = randomBytes(8).toString("hex")): string {
  return JSON.stringify({ pid, host: hostname(), start: "", nonce });
}

/** Writes the lock of a process that has exited at `lockPath` (replacing any file there). */
export async function plantStaleLock(lockPath: string): Promise<void> {
  writeFileSync(lockPath, lockText(await deadPid()));
}

/** The pid a lock file names (the JSON form, or an older "pid nonce" form); undefined when absent. */
export function lockOwner(lockPath: string): { pid: number; text: string } | undefined {
  let text: string;
  try {
    text = readFileSync(lockPath, "utf8");
  } catch {
    return undefined;
  }
  try {
    return { pid: Number((JSON.parse(text) as { pid: unknown }).pid), text };
  } catch {
    return { pid: Number.parseInt(text, 10), text };
  }
}

export interface CacheFileData {
  _json_cache_func_cache: Record<string, { value: unknown; date?: string; epoch_ms?: number }>;
  _json_cache_last_save_date?: string;
  _json_cache_variable_cache?: Record<string, unknown>;
  _cacherator?: unknown;
}

export function readCacheFile(file: string): CacheFileData {
  return JSON.parse(readFileSync(file, "utf8")) as CacheFileData;
}

/**
 * The values a cache holds on disk: its file, then its journal's complete lines (entries set and
 * removed) applied in order.
 */
export function valuesOnDisk(file: string): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  if (existsSync(file)) {
    for (const [key, entry] of Object.entries(readCacheFile(file)._json_cache_func_cache)) values[key] = entry.value;
  }
  const journal = `${file}.journal`;
  if (!existsSync(journal)) return values;
  const text = readFileSync(journal, "utf8");
  for (const line of text.slice(0, text.lastIndexOf("\n") + 1).split("\n")) {
    let op: { k?: string; e?: { value: unknown }; del?: string[] };
    try {
      op = JSON.parse(line) as typeof op;
    } catch {
      continue;
    }
    if (typeof op !== "object" || op === null) continue;
    if (op.k !== undefined && op.e !== undefined) values[op.k] = op.e.value;
    for (const key of op.del ?? []) delete values[key];
  }
  return values;
}

/** A naive local ISO time with six fraction digits, as the Python library writes it. */
export function pythonDate(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `.${pad(d.getMilliseconds(), 3)}000`
  );
}

/**
 * A cache file as a writer without the `_cacherator` marker writes it (the Python library): entries
 * with a value and a naive date only.
 */
export function foreignFileText(entries: Record<string, unknown>, variables: Record<string, unknown>, saveDateMs = Date.now()): string {
  const func: Record<string, { value: unknown; date: string }> = {};
  const date = pythonDate(saveDateMs);
  for (const [key, value] of Object.entries(entries)) func[key] = { value, date };
  return JSON.stringify(
    { _json_cache_func_cache: func, _json_cache_last_save_date: date, _json_cache_variable_cache: variables },
    null,
    4,
  );
}

/**
 * A plain Node program (no cacherator) that rewrites `file` in place, truncating it and writing it in
 * small chunks with pauses, like a writer that uses `open(path, "w")` and `json.dump`. It loops until
 * the file `stop` exists: reads the file (keeping its last good copy when the read is not JSON), adds
 * its own entry `p<i>`, and rewrites. Prints `{"wrote": [keys]}` after each complete rewrite.
 */
export function foreignWriterProgram(): string {
  const source = `
    import { existsSync, openSync, readFileSync, writeSync, closeSync } from "node:fs";
    const file = process.env.FILE;
    const stop = process.env.STOP;
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    ${pythonDate.toString()}
    let known = {};
    const mine = {};
    for (let i = 0; !existsSync(stop); i++) {
      try {
        const data = JSON.parse(readFileSync(file, "utf8"));
        known = {};
        for (const [key, entry] of Object.entries(data._json_cache_func_cache)) known[key] = { value: entry.value, date: entry.date };
      } catch {
        // missing, or caught half-way through our own rewrite: keep the last good copy
      }
      const key = "put('p" + i + "', 10){}";
      mine[key] = { value: "p" + i + ":" + "x".repeat(10) + ":p" + i, date: pythonDate(Date.now()) };
      const text = JSON.stringify({
        _json_cache_func_cache: { ...known, ...mine },
        _json_cache_last_save_date: pythonDate(Date.now()),
        _json_cache_variable_cache: {},
      }, null, 4);
      const fd = openSync(file, "w");
      for (let at = 0; at < text.length; at += 512) {
        writeSync(fd, text.slice(at, at + 512));
        if ((at / 512) % 4 === 3) await sleep(1);
      }
      closeSync(fd);
      console.log(JSON.stringify({ wrote: Object.keys(mine) }));
      await sleep(5);
    }
  `;
  const file = join(tempDir("cacherator-program-"), "foreign-writer.mjs");
  writeFileSync(file, source);
  return file;
}

/** Runs a command to its end; resolves with its exit code and output. */
export function runCommand(command: string, args: string[], options: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/** Makes a compiled program (and its folder) readable by any user, for runs under another uid. */
export function shareProgram(file: string): void {
  // The package must be reachable too, wherever the project is checked out (its folder may be private):
  // the program imports a copy of dist/ in a folder anyone may read.
  const dist = fileURLToPath(new URL("../dist", import.meta.url));
  const shared = tempDir("cacherator-shared-dist-");
  chmodSync(shared, 0o755);
  cpSync(dist, join(shared, "dist"), { recursive: true });
  // and its runtime dependency
  cpSync(fileURLToPath(new URL("../node_modules/unidecode", import.meta.url)), join(shared, "node_modules", "unidecode"), { recursive: true });
  const from = pathToFileURL(join(dist, "index.js")).href;
  const to = pathToFileURL(join(shared, "dist", "index.js")).href;
  writeFileSync(file, readFileSync(file, "utf8").replaceAll(JSON.stringify(from), JSON.stringify(to)));
  chmodSync(dirname(file), 0o755);
  chmodSync(file, 0o644);
}

/** Seeds the cache `name` in `cwd` with `count` entries of `size` characters through the library, so its file is large. */
export async function seedLargeCache(cwd: string, count = 100, size = 1_000, env: Record<string, string> = {}): Promise<void> {
  const result = await run(
    `
    const calc = new Calc();
    for (let i = 0; i < ${count}; i++) calc.put("seed-" + i, ${size});
    say({ seeded: await calc.jsonCacheSave() });
  `,
    { cwd, env },
  );
  if (result.code !== 0 || !result.stdout.includes('"seeded":true')) throw new Error(`seeding failed: ${result.stdout} ${result.stderr}`);
}
