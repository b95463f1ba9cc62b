/**
 * Where cacherator's messages go. Local JSON work is silent; problems (an unreadable file, a value that
 * cannot be persisted, a failed write) are reported once per cause, not once per call.
 *
 * - Messages go to stderr by default (a program's stdout is its output, not ours).
 * - A level decides what is shown: `warn` by default, so DynamoDB's per-request chatter (`debug`) and
 *   table set-up (`info`) stay quiet unless asked for.
 * - The common logger shapes are accepted as they are: `console`, pino, winston (`info`) and NestJS's
 *   `Logger` (`log` for info, `verbose` for debug).
 */

/**
 * Anything that can receive cacherator's messages: an object with `warn`, `error` and `info` (console,
 * pino, winston) or `log` (NestJS's `Logger`); `debug` (or `verbose`) is used when present. One of
 * `info` and `log` is required: a logger with neither is refused at construction, naming it.
 */
export interface CacheLogger {
  warn(message: string): unknown;
  error(message: string): unknown;
  info?(message: string): unknown;
  /** Used for info messages when there is no `info` (NestJS). */
  log?(message: string): unknown;
  debug?(message: string): unknown;
  /** Used for debug messages by loggers with `log` and no `info` (NestJS), else when there is no `debug`. */
  verbose?(message: string): unknown;
}

/** How much is reported: each level shows itself and the levels after it; `"silent"` shows nothing. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

type Level = Exclude<LogLevel, "silent">;

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** The default destination: stderr, through `console` so test runners and debuggers still see it. */
const STDERR_LOGGER: CacheLogger = {
  debug: (message) => console.error(message),
  info: (message) => console.error(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};

let globalLogging = true;
let globalLevel: LogLevel = "warn";
let globalLogger: CacheLogger = STDERR_LOGGER;

/** Turns every instance's messages on or off, including instances that already exist. */
export function setGlobalLogging(enabled: boolean): void {
  globalLogging = enabled;
}

/** The level of instances without a `logLevel` of their own, existing ones included. */
export function setGlobalLogLevel(level: LogLevel): void {
  globalLevel = level;
}

/** Replaces the logger used by instances that were not given one of their own. */
export function setGlobalLogger(logger: CacheLogger): void {
  globalLogger = logger;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * What keeps `value` from being a logger, as a phrase ("an object without info (or log) method");
 * `undefined` for a usable logger.
 */
export function loggerProblem(value: unknown): string | undefined {
  if (typeof value === "function") return "a function (pass an object with methods, such as console)";
  if (typeof value !== "object" || value === null) return value === null ? "null" : typeof value === "string" ? JSON.stringify(value) : String(value);
  const candidate = value as Record<string, unknown>;
  const has = (name: string) => typeof candidate[name] === "function";
  const missing: string[] = ["warn", "error"].filter((name) => !has(name));
  if (!has("info") && !has("log")) missing.push("info (or log)");
  if (missing.length === 0) return undefined;
  return `an object without ${missing.length === 1 ? `a ${missing[0]} method` : `${missing.slice(0, -1).join(", ")} and ${missing.at(-1)} methods`}`;
}

export function isCacheLogger(value: unknown): value is CacheLogger {
  return loggerProblem(value) === undefined;
}

/** The method of `logger` for `level`, called with the logger as `this` (pino needs it); none for debug without one. */
function send(logger: CacheLogger, level: Level, message: string): void {
  const target = logger;
  switch (level) {
    case "warn":
    case "error":
      target[level](message);
      return;
    case "info":
      if (typeof target.info === "function") target.info(message);
      else target.log?.(message);
      return;
    case "debug":
      // NestJS's Logger (`log`, no `info`): its `verbose` is the chattiest level, where per-request lines belong.
      if (typeof target.info !== "function" && typeof target.verbose === "function") target.verbose(message);
      else if (typeof target.debug === "function") target.debug(message);
      else target.verbose?.(message);
  }
}

/**
 * The logging channel of one instance (or of one store). `enabled` and `level` are the instance's own;
 * the global switch and level are read at each message, so `JSONCache.setLogging(false)` and
 * `JSONCache.setLogLevel()` reach existing instances too.
 */
export class CacheLog {
  /** Causes already reported by any channel, so a recurring problem is logged once per process. */
  static readonly #reported = new Set<string>();

  constructor(
    private readonly enabled: boolean = true,
    private readonly logger?: CacheLogger,
    private readonly level?: LogLevel,
  ) {}

  /** Whether a message at `level` would be shown now. */
  shows(level: Level): boolean {
    return this.enabled && globalLogging && RANK[level] >= RANK[this.level ?? globalLevel];
  }

  write(level: Level, message: string): void {
    if (!this.shows(level)) return;
    try {
      send(this.logger ?? globalLogger, level, `[cacherator] ${message}`);
    } catch {
      // A broken logger must never break the caller's program.
    }
  }

  /** Logs `message` unless a message with the same `cause` was logged before in this process. */
  once(level: Level, cause: string, message: string): void {
    if (CacheLog.#reported.has(cause)) return;
    if (!this.shows(level)) return;
    CacheLog.#reported.add(cause);
    this.write(level, message);
  }

  /** Forgets which causes were reported; for tests. */
  static resetReported(): void {
    CacheLog.#reported.clear();
  }
}
