/**
 * Letting the event loop run between the slices of a long read (an async open, the background reading
 * of a journal).
 */
import { performance } from "node:perf_hooks";

/** A turn of the event loop that took longer than this ran other work: the garbage collector, or the program's. */
const BUSY_TURN_MS = 1;
/**
 * Resolves once the event loop has run (timers and I/O included). V8 runs its scavenges and the end of
 * its marking as tasks of the event loop, after the timers and right before the immediates that resume
 * a read: when the turn was long, the loop runs once more before more is read, so that the timers due
 * meanwhile are served in between. A stall is then the longer of such a pause and a slice, not their sum.
 */
export async function nextTurn(): Promise<void> {
  const yieldedAt = performance.now();
  await immediate();
  if (performance.now() - yieldedAt > BUSY_TURN_MS) await immediate();
}

function immediate(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
