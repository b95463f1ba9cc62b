/**
 * Timing helpers. Every figure is the median of several samples; a sample times a batch of calls
 * with `process.hrtime.bigint()` and divides by the batch size. Contenders of one comparison are
 * measured interleaved (round 1: A, B, C; round 2: A, B, C; …) so that drift on a shared machine
 * hits all of them alike and the ratios stay meaningful.
 */

/** Runs `n` calls and returns something derived from the results (kept, so nothing is optimised away). */
export type SyncBatch = (n: number) => number;
export type AsyncBatch = (n: number) => Promise<number>;

export interface BatchContender {
  name: string;
  batch: SyncBatch | AsyncBatch;
}

export interface SampleOptions {
  /** Calls per timed batch. */
  batchSize: number;
  /** Timed batches per contender. */
  samples: number;
  /** Untimed batches per contender before timing. */
  warmupBatches: number;
}

let sink = 0;

/** Keeps results observable so the optimiser cannot drop the work. */
export function consume(value: number): void {
  sink = (sink + value) | 0;
}

export function sinkValue(): number {
  return sink;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function nowNs(): bigint {
  return process.hrtime.bigint();
}

export function elapsedNs(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

/** Median ns per call of each contender, measured interleaved. */
export async function measureInterleaved(contenders: readonly BatchContender[], options: SampleOptions): Promise<Map<string, number>> {
  for (let w = 0; w < options.warmupBatches; w++) {
    for (const contender of contenders) consume(await contender.batch(options.batchSize));
  }
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let s = 0; s < options.samples; s++) {
    // Rotate the starting contender so none is always measured right after another's garbage.
    for (let k = 0; k < contenders.length; k++) {
      const contender = contenders[(s + k) % contenders.length] as BatchContender;
      const start = nowNs();
      const result = await contender.batch(options.batchSize);
      const ns = elapsedNs(start);
      consume(result);
      samples.get(contender.name)?.push(ns / options.batchSize);
    }
  }
  return new Map([...samples].map(([name, values]) => [name, median(values)]));
}

export function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect !== undefined) {
    collect();
    collect();
  }
}

export function hasGc(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === "function";
}
