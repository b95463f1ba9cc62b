/** Formatting: aligned plain-text tables for the terminal, and the same content as Markdown. */

export interface Table {
  headers: string[];
  rows: string[][];
  /** Columns to right-align (numbers). */
  right?: number[];
}

export interface Section {
  title: string;
  /** Paragraph lines printed before the tables (definitions, configurations). */
  notes: string[];
  tables: Table[];
  /** Lines printed after the tables. */
  after?: string[];
}

export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return "n/a";
  if (ns < 1_000) return `${ns.toFixed(ns < 10 ? 2 : ns < 100 ? 1 : 0)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(ns < 10_000 ? 2 : 1)} µs`;
  if (ns < 1_000_000_000) return `${(ns / 1_000_000).toFixed(ns < 10_000_000 ? 2 : 1)} ms`;
  return `${(ns / 1_000_000_000).toFixed(2)} s`;
}

export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return "n/a";
  return `${ratio.toFixed(ratio < 10 ? 2 : ratio < 100 ? 1 : 0)}×`;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "n/a";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

function width(text: string): number {
  return Array.from(text).length;
}

function pad(text: string, size: number, right: boolean): string {
  const fill = " ".repeat(Math.max(0, size - width(text)));
  return right ? fill + text : text + fill;
}

export function tableText(table: Table): string {
  const widths = table.headers.map((h, i) => Math.max(width(h), ...table.rows.map((r) => width(r[i] ?? ""))));
  const right = new Set(table.right ?? []);
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i] as number, right.has(i))).join("  ").trimEnd();
  return [line(table.headers), widths.map((w) => "-".repeat(w)).join("  "), ...table.rows.map(line)].join("\n");
}

export function tableMarkdown(table: Table): string {
  const right = new Set(table.right ?? []);
  const escape = (c: string) => c.replace(/\|/g, "\\|");
  const header = `| ${table.headers.map(escape).join(" | ")} |`;
  const rule = `|${table.headers.map((_, i) => (right.has(i) ? "---:" : "---")).join("|")}|`;
  return [header, rule, ...table.rows.map((r) => `| ${r.map(escape).join(" | ")} |`)].join("\n");
}

export function sectionText(section: Section): string {
  const parts = [`\n== ${section.title} ==`];
  if (section.notes.length > 0) parts.push(section.notes.map((n) => `  ${n}`).join("\n"));
  for (const table of section.tables) parts.push(tableText(table));
  if (section.after && section.after.length > 0) parts.push(section.after.map((n) => `  ${n}`).join("\n"));
  return parts.join("\n\n");
}

export function sectionMarkdown(section: Section): string {
  const parts = [`## ${section.title}`];
  if (section.notes.length > 0) parts.push(section.notes.map((n) => (n.startsWith("  ") ? `  - ${n.trimStart()}` : `- ${n}`)).join("\n"));
  for (const table of section.tables) parts.push(tableMarkdown(table));
  if (section.after && section.after.length > 0) parts.push(section.after.map((n) => `- ${n}`).join("\n"));
  return parts.join("\n\n");
}
