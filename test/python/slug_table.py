"""Python's file-name slug of every code point, the oracle for file names.

python-slugify 8.x's default pipeline (quotes to "-", NFKD, transliteration, HTML entities, NFKD,
lower case, digit commas, runs of other characters to "-", trimmed) with text-unidecode, which
`pip install cacherator` brings. For each code point of the BMP (surrogates excepted) it slugs
"a" + character + "b" and keeps what lies between: "" (dropped), "-" (a separator) or letters.
Prints JSON: {"python": ..., "unicode": ..., "slugs": {"<code point>": "<middle>", ...}}, listing
only the code points whose middle is not "" (most are dropped or letters of themselves).
"""
import json
import re
import sys
import unicodedata
from html.entities import name2codepoint

import text_unidecode

ENTITY = re.compile(r"&(%s);" % "|".join(name2codepoint))
DECIMAL = re.compile(r"&#(\d+);")
HEXADECIMAL = re.compile(r"&#x([\da-fA-F]+);")


def slugify(text):
    text = re.sub(r"[']+", "-", text)
    text = unicodedata.normalize("NFKD", text)
    text = text_unidecode.unidecode(text)
    text = ENTITY.sub(lambda m: chr(name2codepoint[m.group(1)]), text)
    text = DECIMAL.sub(lambda m: chr(int(m.group(1))), text)
    text = HEXADECIMAL.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = unicodedata.normalize("NFKD", text).lower()
    text = re.sub(r"[']+", "", text)
    text = re.sub(r"(?<=\d),(?=\d)", "", text)
    text = re.sub(r"[^-a-z0-9]+", "-", text)
    return re.sub(r"-{2,}", "-", text).strip("-")


if __name__ == "__main__":
    slugs = {}
    for cp in range(0x80, 0x10000):
        if 0xD800 <= cp < 0xE000:
            continue
        middle = slugify("a" + chr(cp) + "b")[1:-1]
        if middle:
            slugs[str(cp)] = middle
    json.dump({"python": "%d.%d" % sys.version_info[:2], "unicode": unicodedata.unidata_version, "slugs": slugs}, sys.stdout)
