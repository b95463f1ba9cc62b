/**
 * `npx cacherator`: inspect and maintain the cache files of a directory (and, with --dynamodb-table,
 * the DynamoDB tier). Parses arguments, runs a command from commands.ts, renders its data as aligned
 * tables (or JSON with --json), and exits with 0 (success), 1 (failed, or nothing found) or 2 (usage).
 */
import { inspect, parseArgs } from "node:util";
import { CacheLog, type CacheLogger } from "../logger.js";
import { durationToMs } from "../duration.js";
import { createDynamoDBTier, type DynamoDBTier } from "../store/dynamodb/index.js";
import {
  CliError,
  cacheStats,
  clearCache,
  closest,
  getEntry,
  listCaches,
  pruneCaches,
  showCache,
  type ClearResult,
  type Context,
  type GetResult,
  type ListResult,
  type PruneResult,
  type ShowResult,
  type StatsResult,
} from "./commands.js";
import { formatBytes, formatDuration, renderFields, renderTable } from "./table.js";

const OPTIONS = {
  dir: { type: "string" },
  json: { type: "boolean" },
  ttl: { type: "string" },
  "dry-run": { type: "boolean" },
  "dynamodb-table": { type: "string" },
  "dynamodb-endpoint": { type: "string" },
  "dynamodb-region": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type OptionName = keyof typeof OPTIONS;

const COMMON: OptionName[] = ["dir", "json", "help"];
const L2: OptionName[] = ["dynamodb-table", "dynamodb-endpoint", "dynamodb-region"];

interface CommandSpec {
  /** Positional arguments; `[x]` is optional. */
  args: string[];
  options: OptionName[];
  summary: string;
  details: string;
}

const COMMANDS: Record<string, CommandSpec> = {
  list: {
    args: [],
    options: [...COMMON, ...L2],
    summary: "the caches in the directory: entries, size, oldest and newest entry",
    details:
      "Lists every cache file of the directory (journals included) with its number of entries and of\n" +
      "functions, its size on disk (file and journal) and the computation time of its oldest and newest\n" +
      "entry. Files the Python library wrote record no dataId: they are named by their file name.\n" +
      "Files that are not usable caches are listed as unreadable and left untouched.\n" +
      "With --dynamodb-table, adds each object's number of unexpired entries in DynamoDB.",
  },
  show: {
    args: ["<dataId>"],
    options: [...COMMON, "ttl", ...L2],
    summary: "one cache: entries per function, and each entry's age, expiry and status",
    details:
      "Shows the attributes a cache persists, its entries per function, and for each entry its key,\n" +
      "function, computation time, age, expiry and status (live or expired) under --ttl. <dataId> is the\n" +
      "object's dataId, or its file name without .json.\n" +
      "With --dynamodb-table, entries of DynamoDB are shown too, with where they are (l1, l2, l1+l2).",
  },
  get: {
    args: ["<dataId>", "<key>"],
    options: [...COMMON, ...L2],
    summary: "the cached value of one call key",
    details:
      "Prints the value stored under <key> (a call key as `show` lists it, e.g. \"fetch('foo',){}\"), as\n" +
      "the program gets it; with --json, as the file stores it (tagged JSON) under \"encoded\".\n" +
      "Exits with 1 when the key is absent, naming the closest keys of the same function.\n" +
      "With --dynamodb-table, a key absent from the file is looked up in DynamoDB.",
  },
  clear: {
    args: ["<dataId>", "[function]"],
    options: [...COMMON, ...L2],
    summary: "remove every entry of a cache, or one function's (exact name)",
    details:
      "Removes the entries of <dataId> (attributes are kept), or only those of [function]: `fetch`\n" +
      "does not clear `fetchAll`. Safe while an application uses the cache: the removal is written\n" +
      "under the cache's lock file, merged with what the application wrote, and the application drops\n" +
      "the removed entries at its next read or write. Reports how many entries were removed.\n" +
      "With --dynamodb-table, removes them from DynamoDB too.",
  },
  prune: {
    args: ["[dataId]"],
    options: [...COMMON, "ttl", "dry-run"],
    summary: "remove expired entries (of every cache, or of one)",
    details:
      "Removes entries older than --ttl (entries that carry their own TTL use theirs). The TTL of a\n" +
      "method is in its code, not in the file: give the shortest TTL that applies to the caches you prune,\n" +
      "or prune one cache at a time. --dry-run lists what would be removed. Safe while an application\n" +
      "uses the caches (see clear).",
  },
  stats: {
    args: [],
    options: [...COMMON, "ttl", ...L2],
    summary: "totals over the directory: objects, entries, live and expired, bytes on disk",
    details:
      "Counts the caches of the directory, their entries (live and expired under --ttl) and functions,\n" +
      "and their bytes on disk, journals included.\n" +
      "With --dynamodb-table, adds the unexpired DynamoDB entries of the objects found locally.",
  },
  help: {
    args: ["[command]"],
    options: ["help"],
    summary: "this help, or a command's",
    details: "Prints the help of cacherator, or of one command.",
  },
};

const OPTION_HELP: Record<OptionName, string> = {
  dir: "--dir <directory>          the cache directory (default: data/cache)",
  json: "--json                     JSON output, for scripts",
  ttl: "--ttl <days>               TTL that tells live from expired entries, in days or as \"6h\" (default: 999; inf for none)",
  "dry-run": "--dry-run                  only list what would be removed",
  "dynamodb-table": "--dynamodb-table <name>    also the DynamoDB (L2) tier in this table",
  "dynamodb-endpoint": "--dynamodb-endpoint <url>  DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, then the SDK's)",
  "dynamodb-region": "--dynamodb-region <name>   DynamoDB region (default: the SDK's chain, e.g. AWS_REGION)",
  help: "-h, --help                 help",
};

function globalHelp(): string {
  const commands = Object.entries(COMMANDS).map(([name, spec]) => [`${name} ${spec.args.join(" ")}`.trim(), spec.summary] as const);
  const width = Math.max(...commands.map(([usage]) => usage.length));
  return (
    "cacherator: inspect and maintain cacherator cache files\n\n" +
    "Usage: cacherator <command> [arguments] [options]\n\n" +
    "Commands:\n" +
    commands.map(([usage, summary]) => `  ${usage.padEnd(width)}  ${summary}`).join("\n") +
    "\n\nOptions:\n" +
    (Object.keys(OPTIONS) as OptionName[]).map((name) => `  ${OPTION_HELP[name]}`).join("\n") +
    "\n\nExit codes: 0 success, 1 failed or not found, 2 usage error.\n" +
    "Run 'cacherator <command> --help' for the details of a command.\n"
  );
}

function commandHelp(name: string): string {
  const spec = COMMANDS[name] as CommandSpec;
  return (
    `Usage: cacherator ${name}${spec.args.map((a) => ` ${a}`).join("")}${spec.options.length > 1 ? " [options]" : ""}\n\n` +
    `${spec.details}\n\n` +
    "Options:\n" +
    spec.options.map((option) => `  ${OPTION_HELP[option]}`).join("\n") +
    "\n"
  );
}

// ---------------------------------------------------------------------------------------------------
// Parsing

interface Invocation {
  command: string;
  positionals: string[];
  values: Partial<Record<OptionName, string | boolean>>;
}

function usageError(message: string, command?: string): CliError {
  return new CliError(`${message}; see cacherator ${command ? `${command} ` : ""}--help`, 2);
}

function parse(argv: string[]): Invocation {
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

function check(invocation: Invocation): void {
  const { command, positionals, values } = invocation;
  const spec = COMMANDS[command] as CommandSpec;
  for (const option of Object.keys(values) as OptionName[]) {
    if (!spec.options.includes(option)) throw usageError(`option --${option} does not apply to ${command}`, command);
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
function parseTtl(text: string | undefined, command: string): number {
  if (text === undefined) return 999 * 86_400_000;
  const trimmed = text.trim();
  const ms = /^(inf|infinity)$/i.test(trimmed) ? Infinity : durationToMs(/^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed);
  if (typeof ms === "string") throw usageError(`invalid --ttl "${text}": a number of days, 0 or more (fractions allowed), a duration such as "6h", or inf`, command);
  return ms;
}

// ---------------------------------------------------------------------------------------------------
// Rendering

const time = (iso: string | null) => (iso === null ? "-" : iso.replace(/\.\d{3}Z$/, "Z"));
const days = (value: number | null) => (value === null ? "infinite" : `${value} day${value === 1 ? "" : "s"}`);
const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

function renderList(result: ListResult): string {
  const usable = result.caches.filter((item) => item.error === undefined);
  const broken = result.caches.filter((item) => item.error !== undefined);
  if (result.caches.length === 0) return `no caches in ${result.directory}\n`;
  const withL2 = result.table !== undefined;
  const columns = [
    { header: "DATA ID" },
    { header: "FILE" },
    { header: "ENTRIES", align: "right" as const },
    { header: "FUNCTIONS", align: "right" as const },
    { header: "SIZE", align: "right" as const },
    { header: "OLDEST" },
    { header: "NEWEST" },
    ...(withL2 ? [{ header: "L2 ENTRIES", align: "right" as const }] : []),
  ];
  const rows = usable.map((item) => [
    item.name,
    item.file,
    String(item.entries),
    String(item.functions),
    formatBytes(item.bytes),
    time(item.oldest),
    time(item.newest),
    ...(withL2 ? [item.l2Entries === undefined ? "-" : String(item.l2Entries)] : []),
  ]);
  let out = usable.length > 0 ? renderTable(columns, rows) : "";
  for (const item of broken) out += `unreadable: ${item.file} is ${item.error ?? ""}\n`;
  return out;
}

function renderShow(result: ShowResult): string {
  const live = result.entries.filter((e) => e.status === "live").length;
  let out = renderFields([
    ["data id", result.dataId],
    ["file", result.file === null ? "(none)" : `${result.file} (${formatBytes(result.bytes)})`],
    ...(result.table ? [["dynamodb table", result.table] as const] : []),
    ["ttl", days(result.ttlDays)],
    ["attributes", result.attributes.length > 0 ? result.attributes.join(", ") : "(none)"],
    ["entries", `${result.entries.length} (${live} live, ${result.entries.length - live} expired)`],
  ]);
  if (result.entries.length === 0) return out;
  out += "\n";
  out += renderTable(
    [{ header: "FUNCTION" }, { header: "ENTRIES", align: "right" }, { header: "LIVE", align: "right" }, { header: "EXPIRED", align: "right" }],
    result.functions.map((f) => [f.function, String(f.entries), String(f.live), String(f.expired)]),
  );
  out += "\n";
  const withL2 = result.table !== undefined;
  out += renderTable(
    [
      { header: "KEY" },
      { header: "FUNCTION" },
      { header: "COMPUTED AT" },
      { header: "AGE", align: "right" },
      { header: "EXPIRES AT" },
      { header: "STATUS" },
      ...(withL2 ? [{ header: "WHERE" }] : []),
    ],
    result.entries.map((e) => [e.key, e.function, time(e.computedAt), formatDuration(e.ageMs), e.expiresAt === null ? "never" : time(e.expiresAt), e.status, ...(withL2 ? [e.where ?? ""] : [])]),
  );
  return out;
}

function renderGet(result: GetResult): string {
  return `${inspect(result.value, { depth: null, colors: false, maxArrayLength: null, maxStringLength: null, breakLength: 100 })}\n`;
}

function renderClear(result: ClearResult): string {
  const what = result.function === null ? "" : ` of ${result.function}`;
  let out = result.file === null ? `${result.dataId} has no cache file` : `removed ${plural(result.removed, "entry", "entries")}${what} from ${result.dataId} (${result.file})`;
  if (result.l2Removed !== undefined) out += `; ${result.l2Removed} from DynamoDB table ${result.table ?? ""}`;
  return `${out}\n`;
}

function renderPrune(result: PruneResult): string {
  const touched = result.caches.filter((item) => item.removed > 0);
  let out = "";
  if (touched.length > 0) {
    out += renderTable(
      [{ header: "DATA ID" }, { header: "FILE" }, { header: result.dryRun ? "EXPIRED" : "REMOVED", align: "right" }],
      touched.map((item) => [item.name, item.file, String(item.removed)]),
    );
  }
  const verb = result.dryRun ? "would remove" : "removed";
  out += `${verb} ${plural(result.removed, "expired entry", "expired entries")} from ${plural(result.caches.length, "cache")} (ttl ${days(result.ttlDays)})\n`;
  return out;
}

function renderStats(result: StatsResult): string {
  return renderFields([
    ["directory", result.directory],
    ["ttl", days(result.ttlDays)],
    ["objects", String(result.objects) + (result.unreadable > 0 ? ` (and ${result.unreadable} unreadable file${result.unreadable === 1 ? "" : "s"})` : "")],
    ["entries", String(result.entries)],
    ["live", String(result.live)],
    ["expired", String(result.expired)],
    ["functions", String(result.functions)],
    ["on disk", `${formatBytes(result.bytes)} (${result.bytes} bytes, journals ${formatBytes(result.journalBytes)})`],
    ...(result.table !== undefined ? [[`l2 entries (${result.table})`, String(result.l2Entries ?? 0)] as const] : []),
  ]);
}

// ---------------------------------------------------------------------------------------------------
// Running

interface Output {
  out(text: string): void;
  err(text: string): void;
}

async function run(invocation: Invocation, ctx: Context): Promise<{ data: unknown; text: string }> {
  const [first, second] = invocation.positionals;
  const dryRun = invocation.values["dry-run"] === true;
  switch (invocation.command) {
    case "list": {
      const data = await listCaches(ctx);
      return { data, text: renderList(data) };
    }
    case "show": {
      const data = await showCache(ctx, first as string);
      return { data, text: renderShow(data) };
    }
    case "get": {
      const data = await getEntry(ctx, first as string, second as string);
      const json: Partial<GetResult> = { ...data };
      delete json.value; // not JSON: the encoded form stands for it
      return { data: json, text: renderGet(data) };
    }
    case "clear": {
      const data = await clearCache(ctx, first as string, second);
      return { data, text: renderClear(data) };
    }
    case "prune": {
      const data = await pruneCaches(ctx, first, dryRun);
      return { data, text: renderPrune(data) };
    }
    case "stats": {
      const data = await cacheStats(ctx);
      return { data, text: renderStats(data) };
    }
  }
  throw new CliError(`unknown command ${invocation.command}`, 2);
}

function openTier(values: Invocation["values"], warnings: string[]): DynamoDBTier | undefined {
  const table = values["dynamodb-table"];
  if (typeof table !== "string") return undefined;
  const keep = (message: string) => void warnings.push(message.replace(/^\[cacherator\] /, ""));
  const logger: CacheLogger = { debug: () => undefined, info: () => undefined, warn: keep, error: keep };
  const endpoint = values["dynamodb-endpoint"];
  const region = values["dynamodb-region"];
  return createDynamoDBTier({
    table,
    log: new CacheLog(true, logger),
    timeoutMs: 10_000,
    createTable: false, // an inspector never creates tables (a typo must not make one)
    ...(typeof endpoint === "string" ? { endpoint } : {}),
    ...(typeof region === "string" ? { region } : {}),
  });
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[], io: Output = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) }): Promise<number> {
  let json = argv.includes("--json");
  const warnings: string[] = [];
  let tier: DynamoDBTier | undefined;
  try {
    const invocation = parse(argv);
    json = invocation.values.json === true;
    const { command, positionals, values } = invocation;
    if (command === "" || command === "help") {
      const topic = command === "help" ? positionals[0] : undefined;
      if (topic !== undefined && COMMANDS[topic] === undefined) throw usageError(`unknown command "${topic}"`);
      if (command === "help" && values.help === true) {
        io.out(commandHelp("help"));
        return 0;
      }
      if (command === "" && values.help !== true) {
        io.err(globalHelp());
        return 2;
      }
      io.out(topic === undefined ? globalHelp() : commandHelp(topic));
      return 0;
    }
    if (COMMANDS[command] === undefined) {
      const [near] = closest(command, Object.keys(COMMANDS), 1);
      throw usageError(`unknown command "${command}"${near !== undefined && near.length > 1 ? ` (did you mean ${near}?)` : ""}`);
    }
    if (values.help === true) {
      io.out(commandHelp(command));
      return 0;
    }
    check(invocation);
    const ctx: Context = {
      dir: typeof values.dir === "string" ? values.dir : "data/cache",
      ttlMs: parseTtl(typeof values.ttl === "string" ? values.ttl : undefined, command),
      now: Date.now(),
      warnings,
    };
    tier = openTier(values, warnings);
    if (tier !== undefined) {
      const ready = await tier.ready(60_000);
      if (!ready.ok) throw new CliError(`DynamoDB table ${tier.table}: ${ready.message} (${ready.reason})`);
      ctx.l2 = tier;
    }
    const { data, text } = await run(invocation, ctx);
    io.out(json ? `${JSON.stringify(data, null, 2)}\n` : text);
    return 0;
  } catch (error) {
    const failure = error instanceof CliError ? error : new CliError(error instanceof Error ? (error.stack ?? error.message) : String(error));
    io.err(`cacherator: ${failure.message}\n`);
    if (json && failure.exitCode === 1) io.out(`${JSON.stringify({ error: failure.message, ...failure.details }, null, 2)}\n`);
    return failure.exitCode;
  } finally {
    for (const warning of warnings) io.err(`cacherator: warning: ${warning}\n`);
    tier?.close();
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// A DynamoDB client may keep sockets open for a while: do not wait for them once all output is written.
setTimeout(() => process.exit(code), 2_000).unref();
