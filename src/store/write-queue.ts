/**
 * One queue for the writes of every store in the process: at most `MAX_CONCURRENT_WRITES` run at once,
 * so ten thousand caches written together do not exhaust file descriptors. (Small enough to own: the
 * well-known limiter packages are ESM-only, and this package also ships CommonJS.)
 */
const MAX_CONCURRENT_WRITES = 16;

let running = 0;
const waiting: (() => void)[] = [];

export async function inWriteSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_WRITES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Delay before retrying a failed write: 1 s, doubling up to a minute. */
export function retryDelayMs(failures: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, failures - 1));
}
