/**
 * TTLs: a number of days (the Python library's unit, fractions allowed) or a readable duration such as
 * `"90s"`, `"15m"`, `"6h"`, `"3d"`, `"2w"` or `"1h30m"`. A bare number in a string (`"10"`) is
 * ambiguous and rejected, as are unknown units.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;

/** The units of a duration string. */
export type DurationUnit = "ms" | "s" | "m" | "h" | "d" | "w";
type DurationPart = `${number}${DurationUnit}`;

/**
 * A TTL: a number of days (fractions allowed, `Infinity` for never), or a duration string of one or
 * two parts (`"90s"`, `"6h"`, `"1h30m"`, `"500ms"`) or `"Infinity"`. A string without a unit (`"10"`)
 * does not compile; a string from elsewhere (configuration) is checked at run time: cast it with
 * `as Duration`, and a bad one fails with a `CacheOptionsError` naming it.
 */
export type Duration = number | DurationPart | `${DurationPart}${DurationPart}` | "Infinity" | "infinity";

/** A TTL in milliseconds, or a sentence saying what is wrong with it. */
export function durationToMs(value: unknown): number | string {
  if (typeof value === "number") {
    if (Number.isNaN(value) || value < 0) return "a number of days must be 0 or more";
    return value * UNIT_MS.d!;
  }
  if (typeof value !== "string") return "it must be a number of days or a duration string";
  const text = value.trim().replace(/\s+/g, "");
  if (text === "Infinity" || text === "infinity") return Number.POSITIVE_INFINITY;
  if (!WHOLE.test(text)) {
    return /^\d+(\.\d+)?$/.test(text)
      ? `"${value}" has no unit: write "${text}d" for days, "${text}h" for hours, "${text}m" for minutes or "${text}s" for seconds`
      : `"${value}" is not a duration: use numbers with units ms, s, m, h, d or w, as in "90s", "6h" or "1h30m"`;
  }
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_MS[unit as string]!;
  return total;
}
