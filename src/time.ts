/**
 * Timestamps in the cache file. Each entry keeps its computation time twice: `epoch_ms`, which is
 * unambiguous and is what this library reads, and `date`, the naive local ISO form that the Python
 * cacherator reads (always with six fraction digits: Python's own writer drops them when they are
 * zero and then fails to read its own file).
 *
 * The fraction is never `.000000`: Python reads such a date, but writes it back without a fraction
 * (`isoformat()` drops a zero one) and every later Python process then fails on it. A time on a whole
 * second is written one microsecond later (`.000001`), which reads back as the same millisecond.
 */

/** The last second formatted (`YYYY-MM-DDTHH:MM:SS.`) and the local offset it was formatted with. */
let formattedSecond = Number.NaN;
let formattedOffset = Number.NaN;
let secondPrefix = "";

/** `YYYY-MM-DDTHH:MM:SS.ffffff` in local time, as Python's `datetime.now().isoformat()` writes it, never `.000000`. */
export function pythonLocalTimestamp(epochMs: number): string {
  const ms = ((epochMs % 1000) + 1000) % 1000;
  const second = epochMs - ms;
  // Entries written together share their second: its local form is made once, and made again only
  // if the local offset differs (`process.env.TZ` may change while the process runs).
  const d = new Date(second);
  const offset = d.getTimezoneOffset();
  if (second !== formattedSecond || offset !== formattedOffset) {
    secondPrefix =
      `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1, 2)}-${pad(d.getDate(), 2)}` +
      `T${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.`;
    formattedSecond = second;
    formattedOffset = offset;
  }
  if (ms === 0) return `${secondPrefix}000001`;
  return `${secondPrefix}${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}000`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses an ISO timestamp to epoch milliseconds. A timestamp without an offset is local time (how the
 * Python library writes them); the fraction is optional. Returns `undefined` for anything else.
 */
export function parseTimestamp(text: string): number | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction = "", zone] = m;
  const ms = Number(fraction.padEnd(3, "0").slice(0, 3));
  // Reject days and times that do not exist (month 13, 30 February, 25:00), as Python's strptime does.
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  if (
    check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) || check.getUTCMinutes() !== Number(mi) || check.getUTCSeconds() !== Number(s)
  ) {
    return undefined;
  }
  if (zone === undefined) {
    const local = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms).getTime();
    return Number.isNaN(local) ? undefined : local;
  }
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone === "Z") return utc;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.replace(/[+:-]/g, "");
  const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
  return utc - sign * offsetMin * 60_000;
}
