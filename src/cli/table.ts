/**
 * Aligned plain-text tables for the CLI's human output: a header row, then one row per item, columns
 * separated by two spaces; text is left-aligned, numbers right-aligned. No colours, no borders, so the
 * output stays readable in logs and easy to grep.
 */

export interface Column {
  header: string;
  /** Right-align for numbers and sizes; default left. */
  align?: "left" | "right";
}

const GAP = "  ";

/** Display width of a string: code points (good enough for keys and dates; wide CJK glyphs count as one). */
export function displayWidth(text: string): number {
  return Array.from(text).length;
}

function pad(text: string, width: number, align: "left" | "right"): string {
  const fill = " ".repeat(Math.max(0, width - displayWidth(text)));
  return align === "right" ? fill + text : text + fill;
}

/** The table as lines of text, without trailing spaces, ending with a newline. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, i) => Math.max(displayWidth(column.header), ...rows.map((row) => displayWidth(row[i] ?? ""))));
  const line = (cells: readonly string[]) =>
    columns
      .map((column, i) => pad(cells[i] ?? "", widths[i] ?? 0, column.align ?? "left"))
      .join(GAP)
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join("\n") + "\n";
}

/** `key: value` lines with the values aligned, for the header of a detail view. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...fields.map(([name]) => displayWidth(name) + 1));
  return fields.map(([name, value]) => `${pad(`${name}:`, width, "left")} ${value}`.trimEnd()).join("\n") + "\n";
}

/** Bytes as a short human size: `512 B`, `1.5 KiB`, `12.3 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

const UNITS = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const;

/** A duration as its two largest units: `3d 4h`, `5m 12s`, `0.4s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "forever";
  if (Math.abs(ms) > 8.64e15) return "invalid";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  if (rest < 10_000) return `${sign}${(rest / 1000).toFixed(1)}s`;
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0 || parts.length > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
    if (parts.length === 2) break;
  }
  return sign + parts.join(" ");
}

/** A TTL exactly, in the units a TTL is written in: `1s`, `6h`, `1h 30m`, `999d`, `250ms`, `infinite`. */
export function formatTtl(ms: number): string {
  if (!Number.isFinite(ms)) return "infinite";
  if (ms === 0) return "0s";
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join(" ");
}
