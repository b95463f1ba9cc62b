/** The help texts: of the CLI (every command and option) and of one command. */
import type { Command } from "./context.js";
import { COMMON_OPTIONS, OPTION_HELP, OPTIONS, type OptionName } from "./options.js";

export function globalHelp(commands: Record<string, Command>): string {
  const rows = Object.entries(commands).map(([name, spec]) => [`${name} ${spec.args.join(" ")}`.trim(), spec.summary] as const);
  const width = Math.max(...rows.map(([usage]) => usage.length));
  return (
    "cacherator: inspect and maintain cacherator cache files\n\n" +
    "Usage: cacherator <command> [arguments] [options]\n\n" +
    "Commands:\n" +
    rows.map(([usage, summary]) => `  ${usage.padEnd(width)}  ${summary}`).join("\n") +
    "\n\nOptions:\n" +
    (Object.keys(OPTIONS) as OptionName[]).map((name) => `  ${OPTION_HELP[name]}`).join("\n") +
    "\n\nExit codes: 0 success, 1 failed or not found, 2 usage error.\n" +
    "Run 'cacherator <command> --help' for the details of a command.\n"
  );
}

export function commandHelp(name: string, spec: Command): string {
  const options = [...COMMON_OPTIONS, ...spec.options] as OptionName[];
  return (
    `Usage: cacherator ${name}${spec.args.map((a) => ` ${a}`).join("")} [options]\n\n` +
    `${spec.details}\n\n` +
    "Options:\n" +
    options.map((option) => `  ${OPTION_HELP[option]}`).join("\n") +
    "\n"
  );
}
