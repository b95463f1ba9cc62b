/**
 * What every command gets: the directory, the fallback TTL, the clock, the optional DynamoDB tier, and
 * a place for warnings; and the one error type the CLI reports.
 */
import type { DynamoDBTier, L2Outcome } from "../store/dynamodb/index.js";

/** A failure the CLI reports with a message and an exit code (1: failed or not found; 2: usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    /** Extra fields for the `--json` error object (e.g. the closest keys). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface Context {
  /** The cache directory, as given. */
  dir: string;
  /** TTL for entries that record no expiry of their own (files of older versions, of the Python library). */
  ttlMs: number;
  /** --ttl was given: it judges every entry, whatever expiry the entry records. */
  ttlGiven?: boolean;
  now: number;
  /** The DynamoDB tier, with --dynamodb-table. */
  l2?: DynamoDBTier;
  /** Warnings of the stores and the tier (printed to stderr by main). */
  warnings: string[];
}

/** What a command was given: its positional arguments and its flags. */
export interface Invocation {
  command: string;
  positionals: string[];
  values: Partial<Record<string, string | boolean>>;
}

/** A command's result: what --json prints, and the text for humans. */
export interface Output {
  data: unknown;
  text: string;
}

export interface Command {
  /** Positional arguments; `[x]` is optional. */
  args: string[];
  /** The options it accepts besides the common ones. */
  options: string[];
  summary: string;
  details: string;
  run(ctx: Context, invocation: Invocation): Promise<Output>;
}

/** The value of a DynamoDB outcome, or a CliError naming the table and the reason. */
export async function l2Value<T>(ctx: Context, outcome: Promise<L2Outcome<T>>): Promise<T> {
  const result = await outcome;
  if (!result.ok) throw new CliError(`DynamoDB table ${ctx.l2?.table ?? ""}: ${result.message} (${result.reason})`);
  return result.value;
}

/** Runs `work` over `items`, at most `limit` at a time, keeping the order of the results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
