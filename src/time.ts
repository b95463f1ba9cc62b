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

/** The second of the last timestamp made, the local offset then, and its text up to the fraction. */
let lastSecond = Number.NaN;
let lastOffset = Number.NaN;
let lastSecondText = "";
/** Times up to this far from 1970 are valid Dates. */
const MAX_DATE_MS = 8.64e15;

/** `YYYY-MM-DDTHH:MM:SS.ffffff` in local time, as Python's `datetime.now().isoformat()` writes it, never `.000000`. */
export function pythonLocalTimestamp(epochMs: number): string {
  const ms = Math.trunc(epochMs); // what a Date keeps of it
  if (!(Math.abs(ms) <= MAX_DATE_MS)) return `${secondText(new Date(Number.NaN))}000001`;
  const second = Math.floor(ms / 1000);
  // Entries written together mostly share their second: its local form is made once, and again only if
  // the local offset differs (`process.env.TZ` may change while the process runs). A local time's
  // fields change only on whole seconds (offsets change on whole minutes).
  const date = new Date(ms);
  const offset = date.getTimezoneOffset();
  if (second !== lastSecond || offset !== lastOffset) {
    lastSecondText = secondText(date);
    lastSecond = second;
    lastOffset = offset;
  }
  return lastSecondText + pad((ms - second * 1000) * 1000 || 1, 6);
}

/** `YYYY-MM-DDTHH:MM:SS.` of a Date, in local time. */
function secondText(d: Date): string {
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.`;
}

function pad(n: number, width = 2): string {
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

const DAY_MS = 86_400_000;
/** Now plus a day, refreshed only when a time passes it (so a million entries cost no million clock reads). */
let futureLimit = 0;

/**
 * A computation time more than a day ahead of this clock: a broken clock, file or peer, or a hostile
 * one. Such an entry would never expire and would win every merge, so it is never adopted — from a
 * file, a journal line or DynamoDB.
 */
export function fromTheFuture(time: number): boolean {
  return time > futureLimit && time > (futureLimit = Date.now() + DAY_MS);
}
