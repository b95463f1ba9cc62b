/**
 * Shared test tools: temporary cache directories, a logger that records, and child-process runs of
 * small TypeScript programs against the built package (a restart is a new process).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { afterAll } from "vitest";
import type { CacheLogger } from "../src/index.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = pathToFileURL(join(ROOT, "dist/index.js")).href;

const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh empty directory, removed after the test file. */
export function tempDir(prefix = "cacherator-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export interface RecordedLogger extends CacheLogger {
  readonly messages: { level: string; message: string }[];
  text(): string;
}

/** A logger that keeps every message, to assert on warnings. */
export function recordingLogger(): RecordedLogger {
  const messages: { level: string; message: string }[] = [];
  const at = (level: string) => (message: string) => void messages.push({ level, message });
  return {
    messages,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    text: () => messages.map((m) => `${m.level}: ${m.message}`).join("\n"),
  };
}

export type Dialect = "standard" | "legacy";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON value per line. */
  lines: unknown[];
}

/**
 * Compiles a TypeScript program with decorators in the given dialect to a temporary `.mjs` file, with
 * `import ... from "cacherator"` resolved to the built package. Returns the file's path.
 */
export function compileProgram(source: string, dialect: Dialect = "standard"): string {
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      experimentalDecorators: dialect === "legacy",
      useDefineForClassFields: dialect !== "legacy",
    },
  });
  const file = join(tempDir("cacherator-program-"), "program.mjs");
  writeFileSync(file, outputText.replaceAll(/from\s+["']cacherator["']/g, `from ${JSON.stringify(DIST)}`));
  return file;
}

/** Compiles a TypeScript program (see `compileProgram`) and runs it with node in `cwd`. */
export function runProgram(source: string, options: { cwd: string; dialect?: Dialect; env?: Record<string, string>; timeoutMs?: number }): Promise<RunResult> {
  const file = compileProgram(source, options.dialect);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [file],
      { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
        const lines = stdout.split("\n").flatMap((line) => {
          try {
            return /^\s*[[{]/.test(line) ? [JSON.parse(line) as unknown] : [];
          } catch {
            return []; // a log line that happens to start with a bracket
          }
        });
        resolve({ code, stdout, stderr, lines });
      },
    );
  });
}
