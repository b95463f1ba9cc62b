/**
 * Where an object's cache file lives. The dataId is made safe for the file system and stays inside
 * the cache directory whatever it contains (`../x`, `/etc/passwd`, `a\b`). Distinct dataIds never
 * share a file: an id that is not already a safe name gets a hash of the full id in its file name.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";

const SAFE_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;
const MAX_SLUG = 100;

/**
 * `<id>.json` when the id is a lowercase slug already (the name the Python library would use too);
 * otherwise `<slug>_<16 hex of sha256(id)>.json`. The `_` cannot occur in a safe id, so the two
 * forms never meet.
 */
export function cacheFileName(dataId: string): string {
  if (dataId.length < 180 && SAFE_ID.test(dataId) && !WINDOWS_RESERVED.test(dataId)) return `${dataId}.json`;
  const slug = slugify(dataId).slice(0, MAX_SLUG).replace(/-+$/, "") || "cache";
  return `${slug}_${sha256(dataId).slice(0, 16)}.json`;
}

export function cacheFilePath(directory: string, dataId: string): string {
  return join(directory, cacheFileName(dataId));
}

/**
 * The file name the Python cacherator 1.2.8 uses for a dataId: `slugify(id)`, with ids of 180 code
 * points or more cut to 140 plus `-<sha256>`. Read when our own file does not exist yet, so caches
 * written by the Python library are picked up. Python transliterates non-ASCII letters with
 * unidecode; this covers the Latin letters, so exotic ids may not find their Python file.
 */
export function legacyPythonFileName(dataId: string): string {
  const codePoints = Array.from(dataId);
  const base = codePoints.length < 180 ? dataId : `${codePoints.slice(0, 140).join("")}-${sha256(dataId)}`;
  return `${slugify(base)}.json`;
}

const LETTERS: Record<string, string> = {
  ß: "ss", æ: "ae", Æ: "AE", ø: "o", Ø: "O", œ: "oe", Œ: "OE", đ: "d", Đ: "D", ł: "l", Ł: "L", þ: "th", Þ: "TH",
};

/** python-slugify's default pipeline, for the characters that occur in practice. */
export function slugify(text: string): string {
  return text
    .replace(/'+/g, "-")
    .normalize("NFKD")
    .replace(/[ßæÆøØœŒđĐłŁþÞ]/g, (c) => LETTERS[c] ?? "")
    .replace(/\p{M}/gu, "")
    .replace(/[^\x00-\x7f]/g, "")
    .toLowerCase()
    .replace(/'/g, "")
    .replace(/(\d),(?=\d)/g, "$1")
    .replace(/[^-a-z0-9]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "");
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
