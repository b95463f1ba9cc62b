/**
 * Where cacherator's warnings go. Local JSON work is silent; problems (an unreadable file, a value that
 * cannot be persisted, a failed write) are reported once per cause, not once per call.
 */

/** Anything with these four methods can receive cacherator's messages: `console`, pino, winston… */
export interface CacheLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

type Level = keyof CacheLogger;

let globalLogging = true;
let globalLogger: CacheLogger = console;

/** Turns every instance's messages on or off, including instances that already exist. */
export function setGlobalLogging(enabled: boolean): void {
  globalLogging = enabled;
}

/** Replaces the logger used by instances that were not given one of their own. */
export function setGlobalLogger(logger: CacheLogger): void {
  globalLogger = logger;
}

export function isCacheLogger(value: unknown): value is CacheLogger {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (["debug", "info", "warn", "error"] as const).every((m) => typeof candidate[m] === "function");
}

/**
 * The logging channel of one instance (or of one store). `enabled` is the instance's own switch; the
 * global switch is read at each message so `JSONCache.setLogging(false)` silences everything at once.
 */
export class CacheLog {
  /** Causes already reported by any channel, so a recurring problem is logged once per process. */
  static readonly #reported = new Set<string>();

  constructor(
    private readonly enabled: boolean = true,
    private readonly logger?: CacheLogger,
  ) {}

  write(level: Level, message: string): void {
    if (!this.enabled || !globalLogging) return;
    try {
      (this.logger ?? globalLogger)[level](`[cacherator] ${message}`);
    } catch {
      // A broken logger must never break the caller's program.
    }
  }

  /** Logs `message` unless a message with the same `cause` was logged before in this process. */
  once(level: Level, cause: string, message: string): void {
    if (CacheLog.#reported.has(cause)) return;
    if (!this.enabled || !globalLogging) return;
    CacheLog.#reported.add(cause);
    this.write(level, message);
  }

  /** Forgets which causes were reported; for tests. */
  static resetReported(): void {
    CacheLog.#reported.clear();
  }
}
