/**
 * The names a dataId's cache file can have. The Python cacherator names a file `slugify(dataId).json`
 * (python-slugify's default pipeline); this library uses that same name, so both libraries share the
 * file, unless another dataId already owns it (file-claim.ts decides). Then, and for ids whose Python
 * name cannot be used, it uses `<slug>_<16 hex of sha256(dataId)>.json`, which no Python name has
 * (a slug has no `_`). Every name stays inside the cache directory whatever the id contains.
 */
import { createHash } from "node:crypto";
import unidecode from "unidecode";

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;
const MAX_SLUG = 100;
/** File names longer than this many bytes are refused by common file systems. */
const MAX_NAME_BYTES = 255;

/** The collision-free name: `<slug>_<16 hex of sha256(id)>.json`. */
export function hashedFileName(dataId: string): string {
  const slug = slugify(dataId).slice(0, MAX_SLUG).replace(/-+$/, "") || "cache";
  return `${slug}_${sha256(dataId).slice(0, 16)}.json`;
}

/**
 * The names the Python library gives the dataId's file, most likely first: with text-unidecode (what
 * `pip install cacherator` brings), then with Unidecode installed, when that differs. Empty when the
 * Python name cannot be used: an id of symbols only (Python's `.json`), a reserved Windows device
 * name, or a name too long for the file system.
 */
export function pythonFileNames(dataId: string): string[] {
  const base = pythonBase(dataId);
  const names = [`${slugify(base)}.json`, `${slugify(base, hepburnKana)}.json`];
  return [...new Set(names)].filter(
    (name) => name !== ".json" && !WINDOWS_RESERVED.test(name.slice(0, -5)) && Buffer.byteLength(name) <= MAX_NAME_BYTES,
  );
}

/** The Python library's name for the dataId with text-unidecode, usable or not (`.json` for an id of symbols). */
export function pythonFileName(dataId: string): string {
  return `${slugify(pythonBase(dataId))}.json`;
}

/** Ids of 180 code points or more are cut to 140 plus `-<sha256 of the id>`, as Python does. */
function pythonBase(dataId: string): string {
  if (dataId.length < 180) return dataId;
  const codePoints = Array.from(dataId);
  return codePoints.length < 180 ? dataId : `${codePoints.slice(0, 140).join("")}-${sha256(dataId)}`;
}

/**
 * python-slugify's default pipeline (8.x): quotes to `-`, NFKD, ASCII transliteration, HTML entities,
 * NFKD, lower case, digit-grouping commas removed, every other run of characters outside `[a-z0-9-]`
 * to one `-`, no `-` at either end.
 */
export function slugify(text: string, prepare: (text: string) => string = (t) => t): string {
  const ascii = transliterate(prepare(text.replace(/'+/g, "-").normalize("NFKD")));
  return decodeEntities(ascii)
    .normalize("NFKD")
    .toLowerCase()
    .replace(/'+/g, "")
    .replace(/(?<=\d),(?=\d)/g, "")
    .replace(/[^-a-z0-9]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "");
}

/**
 * text-unidecode's transliteration. Its tables are Text::Unidecode's, as are those of the `unidecode`
 * package, with three differences: C1 control characters become nothing, characters of the blocks
 * text-unidecode has no table for become `[?]` (here a space: either separates words), and so do the
 * few characters the package's tables know and text-unidecode's do not. Over every code point of the
 * BMP the result matches text-unidecode's (checked against its output in the tests).
 */
function transliterate(text: string): string {
  if (!/[^\x00-\x7f]/.test(text)) return text;
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (code < 0x80) out += char;
    else if (code < 0xa0) continue;
    else if (NOT_IN_TEXT_UNIDECODE.test(char)) out += code < 0x2ec ? "" : " ";
    else {
      const ascii = unidecode(char);
      out += ascii === "" && inBlockWithoutTable(code) ? " " : ascii;
    }
  }
  return out;
}

/**
 * Characters the `unidecode` package transliterates but text-unidecode does not: it drops the tone
 * letters U+02E5–U+02EB and writes `[?]` for the rest.
 */
const NOT_IN_TEXT_UNIDECODE = /[\u02e5-\u02eb\u02ef\u02f3\u03f6-\u03f8\u03fc-\u03ff\u06ff\u0af1\u0af9\u13f5\u13f8-\u13fd\u1efa-\u1eff\u25f4-\u25f7\ua7f1\ufdfd]/;

/** The 256-code-point blocks of the BMP for which text-unidecode has no table. */
function inBlockWithoutTable(code: number): boolean {
  const block = code >> 8;
  return (
    block === 0x08 || (block >= 0x19 && block <= 0x1d) || (block >= 0x29 && block <= 0x2d) ||
    (block >= 0x34 && block <= 0x4c) || (block >= 0xa5 && block <= 0xab) || (block >= 0xe0 && block <= 0xf8)
  );
}

/**
 * Unidecode (which python-slugify prefers when it is installed) romanises the kana of shi, chi and tsu
 * as Hepburn does; text-unidecode writes si, ti, tu. Applied after NFKD, which has split off voicing marks.
 */
function hepburnKana(text: string): string {
  return text.replace(/[しシ]/g, "shi").replace(/[ちチ]/g, "chi").replace(/[っつッツ]/g, "tsu");
}

const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

/** `&name;`, `&#NNN;` and `&#xHH;` as python-slugify decodes them (named ones: the common few). */
function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text
    .replace(/&([a-zA-Z]+);/g, (match, name: string) => NAMED_ENTITIES[name] ?? match)
    .replace(/&#(\d+);/g, (match, digits: string) => codePoint(Number(digits)) ?? match)
    .replace(/&#x([\da-fA-F]+);/g, (match, digits: string) => codePoint(parseInt(digits, 16)) ?? match);
}

function codePoint(code: number): string | undefined {
  return code <= 0x10ffff ? String.fromCodePoint(code) : undefined;
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
