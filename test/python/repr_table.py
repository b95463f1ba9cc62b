"""Which code points Python's repr() escapes in a string, as ranges: the oracle for call keys.

Prints JSON: {"python": version, "unicode": unidata version, "escaped": [[first, last], ...]}. A code
point counts as escaped when repr() of the one-character string shows anything but the character
itself between the quotes. Run with the Python whose keys should match (3.11: Unicode 14.0.0).
"""
import json
import sys
import unicodedata

ranges = []
start = None
for cp in range(0x110000):
    ch = chr(cp)
    escaped = repr(ch)[1:-1] != ch
    if escaped and start is None:
        start = cp
    elif not escaped and start is not None:
        ranges.append([start, cp - 1])
        start = None
if start is not None:
    ranges.append([start, 0x10FFFF])
json.dump({"python": sys.version.split()[0], "unicode": unicodedata.unidata_version, "escaped": ranges}, sys.stdout)
