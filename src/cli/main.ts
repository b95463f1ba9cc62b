/**
 * `npx cacherator`: inspect and maintain the cache files of a directory (and, with --dynamodb-table,
 * the DynamoDB tier). Parses arguments, runs one command of commands/, prints its text (or JSON with
 * --json), and exits with 0 (success), 1 (failed, or nothing found) or 2 (usage).
 */
import { readFileSync } from "node:fs";
import { CacheLog, type CacheLogger } from "../logger.js";
import { createDynamoDBTier, type DynamoDBTier } from "../store/dynamodb/index.js";
import { attributes } from "./commands/attributes.js";
import { clear } from "./commands/clear.js";
import { get } from "./commands/get.js";
import { list } from "./commands/list.js";
import { prune } from "./commands/prune.js";
import { show } from "./commands/show.js";
import { stats } from "./commands/stats.js";
import { CliError, type Command, type Context, type Invocation } from "./context.js";
import { commandHelp, globalHelp } from "./help.js";
import { closest } from "./hints.js";
import { check, parse, parseTtl, usageError } from "./options.js";

const help: Command = {
  args: ["[command]"],
  options: [],
  summary: "this help, or a command's",
  details: "Prints the help of cacherator, or of one command.",
  run: () => Promise.reject(new Error("help is answered by main")),
};

const COMMANDS: Record<string, Command> = { list, show, get, attributes, clear, prune, stats, help };

/** The version of the installed package (dist/cli.js sits one folder below its package.json). */
function version(): string {
  for (const path of ["../package.json", "../../package.json"]) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (manifest.name === "cacherator" && typeof manifest.version === "string") return manifest.version;
    } catch {
      // not there: the next candidate
    }
  }
  return "unknown";
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

interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** Help and version requests: the text to print and the exit code, or undefined for a command to run. */
function answerWithoutRunning(invocation: Invocation, io: Io): number | undefined {
  const { command, positionals, values } = invocation;
  if (values.version === true) {
    if (command !== "" || positionals.length > 0) throw usageError("--version takes no command");
    io.out(`${version()}\n`);
    return 0;
  }
  if (command === "" || command === "help") {
    const topic = command === "help" ? positionals[0] : undefined;
    if (topic !== undefined && COMMANDS[topic] === undefined) throw usageError(`unknown command "${topic}"`);
    if (command === "" && values.help !== true) {
      io.err(globalHelp(COMMANDS));
      return 2;
    }
    const shown = command === "help" && values.help === true ? "help" : topic;
    io.out(shown === undefined ? globalHelp(COMMANDS) : commandHelp(shown, COMMANDS[shown] as Command));
    return 0;
  }
  if (COMMANDS[command] === undefined) {
    const [near] = closest(command, Object.keys(COMMANDS), 1);
    throw usageError(`unknown command "${command}"${near !== undefined && near.length > 1 ? ` (did you mean ${near}?)` : ""}`);
  }
  if (values.help === true) {
    io.out(commandHelp(command, COMMANDS[command] as Command));
    return 0;
  }
  return undefined;
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[], io: Io = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) }): Promise<number> {
  let json = argv.includes("--json");
  const warnings: string[] = [];
  let tier: DynamoDBTier | undefined;
  try {
    const invocation = parse(argv);
    json = invocation.values.json === true;
    const answered = answerWithoutRunning(invocation, io);
    if (answered !== undefined) return answered;
    const command = COMMANDS[invocation.command] as Command;
    check(invocation, command);
    const { values } = invocation;
    const ctx: Context = {
      dir: typeof values.dir === "string" ? values.dir : "data/cache",
      ttlMs: parseTtl(typeof values.ttl === "string" ? values.ttl : undefined, invocation.command),
      ttlGiven: typeof values.ttl === "string",
      now: Date.now(),
      warnings,
    };
    tier = openTier(values, warnings);
    if (tier !== undefined) {
      const ready = await tier.ready(60_000);
      if (!ready.ok) throw new CliError(`DynamoDB table ${tier.table}: ${ready.message} (${ready.reason})`);
      ctx.l2 = tier;
    }
    const { data, text } = await command.run(ctx, invocation);
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
