/** `attributes <dataId> [name]`: the attributes a cache persists (what `jsonCacheSave()` wrote), with their values. */
import { decodeValue } from "../../codec.js";
import { openById, unknownCache } from "../caches.js";
import { CliError, type Command, type Context } from "../context.js";
import { closest } from "../hints.js";
import { renderFields } from "../table.js";
import { showValue } from "./get.js";

export interface AttributesResult {
  dataId: string;
  file: string;
  /** Each attribute as the file stores it (tagged JSON). */
  encoded: Record<string, unknown>;
  /** Each attribute as the program gets it. */
  values: Record<string, unknown>;
}

export function readAttributes(ctx: Context, id: string, name: string | undefined): AttributesResult {
  const opened = openById(ctx, id);
  if (opened === undefined) throw unknownCache(ctx, id);
  const encoded: Record<string, unknown> = {};
  const values: Record<string, unknown> = {};
  const names = [...opened.store.variables.keys()].sort();
  if (name !== undefined && !names.includes(name)) {
    const near = closest(name, names, 3);
    throw new CliError(`${opened.ref.name} has no attribute ${name}${names.length > 0 ? ` (closest: ${near.join(", ")})` : " (it has no attributes)"}`, 1, { closest: near });
  }
  for (const attribute of name === undefined ? names : [name]) {
    const raw = JSON.parse(opened.store.variables.get(attribute) as string) as unknown;
    encoded[attribute] = raw;
    try {
      values[attribute] = decodeValue(raw);
    } catch (error) {
      throw new CliError(`the attribute ${attribute} of ${opened.ref.name} cannot be decoded (${(error as Error).message})`);
    }
  }
  return { dataId: opened.ref.name, file: opened.ref.file, encoded, values };
}

function render(result: AttributesResult, name: string | undefined): string {
  if (name !== undefined) return showValue(result.values[name]);
  const names = Object.keys(result.values);
  if (names.length === 0) return `${result.dataId} persists no attributes\n`;
  return renderFields(names.map((attribute) => [attribute, showValue(result.values[attribute]).trimEnd()]));
}

export const attributes: Command = {
  args: ["<dataId>", "[name]"],
  options: [],
  summary: "the attributes a cache persists, with their values",
  details:
    "Prints the attributes <dataId> persists (what jsonCacheSave() wrote), each with its value as the\n" +
    "program gets it; with [name], only that attribute's value. With --json, the values as the file\n" +
    "stores them (tagged JSON) under \"encoded\". Exits with 1 for an unknown attribute, naming the\n" +
    "closest.",
  async run(ctx, { positionals }) {
    const [id, name] = positionals;
    const data = readAttributes(ctx, id as string, name);
    return { data: { dataId: data.dataId, file: data.file, encoded: data.encoded }, text: render(data, name) };
  },
};
