/** The CLI's options and arguments: their definitions, parsing, and the checks that give exit code 2. */
import { parseArgs } from "node:util";
import { durationToMs } from "../duration.js";
import { CliError, type Command, type Invocation } from "./context.js";

export const OPTIONS = {
  dir: { type: "string" },
  json: { type: "boolean" },
  ttl: { type: "string" },
  "dry-run": { type: "boolean" },
  "dynamodb-table": { type: "string" },
  "dynamodb-endpoint": { type: "string" },
  "dynamodb-region": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

export type OptionName = keyof typeof OPTIONS;

/** Options every command takes. */
export const COMMON_OPTIONS: OptionName[] = ["dir", "json", "help"];
export const L2_OPTIONS: OptionName[] = ["dynamodb-table", "dynamodb-endpoint", "dynamodb-region"];

export const OPTION_HELP: Record<OptionName, string> = {
  dir: "--dir <directory>          the cache directory (default: data/cache)",
  json: "--json                     JSON output, for scripts",
  ttl: "--ttl <days>               judge every entry by this TTL, in days or as \"6h\" (inf for none); without it, each entry's recorded expiry, else 999 days",
  "dry-run": "--dry-run                  only list what would be removed",
  "dynamodb-table": "--dynamodb-table <name>    also the DynamoDB (L2) tier in this table",
  "dynamodb-endpoint": "--dynamodb-endpoint <url>  DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, then the SDK's)",
  "dynamodb-region": "--dynamodb-region <name>   DynamoDB region (default: the SDK's chain, e.g. AWS_REGION)",
  help: "-h, --help                 help",
  version: "--version                  the version of cacherator",
};

export function usageError(message: string, command?: string): CliError {
  return new CliError(`${message}; see cacherator ${command ? `${command} ` : ""}--help`, 2);
}

export function parse(argv: string[]): Invocation {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const quoted = /'([^']+)'/.exec((error as Error).message)?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw usageError(`unknown option ${quoted}`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const option = quoted.split(" ")[0] ?? quoted;
      const dashed = /ambiguous/.test((error as Error).message) ? ` (for a value starting with "-", write ${option}=<value>)` : "";
      throw usageError(`option ${option} needs a value${dashed}`);
    }
    throw usageError((error as Error).message);
  }
  const [command, ...positionals] = parsed.positionals;
  return { command: command ?? "", positionals, values: parsed.values as Invocation["values"] };
}

/** Checks an invocation against its command's arguments and options. */
export function check(invocation: Invocation, spec: Command): void {
  const { command, positionals, values } = invocation;
  const allowed: string[] = [...COMMON_OPTIONS, ...spec.options];
  for (const option of Object.keys(values)) {
    if (!allowed.includes(option)) throw usageError(`option --${option} does not apply to ${command}`, command);
  }
  const required = spec.args.filter((a) => a.startsWith("<")).length;
  if (positionals.length < required) throw usageError(`${command} needs ${spec.args[positionals.length] ?? "an argument"}`, command);
  if (positionals.length > spec.args.length) throw usageError(`unexpected argument "${positionals[spec.args.length] ?? ""}" for ${command}`, command);
  if (values["dynamodb-table"] === undefined && (values["dynamodb-endpoint"] !== undefined || values["dynamodb-region"] !== undefined)) {
    throw usageError("--dynamodb-endpoint and --dynamodb-region need --dynamodb-table", command);
  }
  for (const option of ["dir", "dynamodb-table", "dynamodb-endpoint", "dynamodb-region"] as const) {
    if (values[option] === "") throw usageError(`option --${option} needs a value`, command);
  }
}

/** `--ttl`: a number of days (the CLI's unit), `inf`, or a duration such as "6h", as the library takes. */
export function parseTtl(text: string | undefined, command: string): number {
  if (text === undefined) return 999 * 86_400_000;
  const trimmed = text.trim();
  const ms = /^(inf|infinity)$/i.test(trimmed) ? Infinity : durationToMs(/^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed);
  if (typeof ms === "string") throw usageError(`invalid --ttl "${text}": a number of days, 0 or more (fractions allowed), a duration such as "6h", or inf`, command);
  return ms;
}
