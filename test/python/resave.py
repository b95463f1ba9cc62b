"""What the Python cacherator 1.2.8 does with a cache file between two runs, done by hand.

Loads the file as its loader does (json.load; every entry's "date" and the last save date through
strptime with mandatory microseconds), writes it back as its writer does (json.dump, indent=4,
ensure_ascii=False, datetimes through isoformat(), UTF-8, truncating in place), then loads it again
the same way. Prints {"values": {key: value}, "variables": {...}} from the second load. Any step that
fails in the Python library fails here too, with a non-zero exit.
"""
import json
import sys
from datetime import datetime

FMT = "%Y-%m-%dT%H:%M:%S.%f"


class DateTimeEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, datetime):
            return o.isoformat()
        return super().default(o)


def load(path):
    with open(path, encoding="utf8") as f:
        data = json.load(f)
    entries = {}
    for key, entry in data["_json_cache_func_cache"].items():
        if isinstance(entry.get("date"), str):
            entry["date"] = datetime.strptime(entry["date"], FMT)
        entries[key] = entry
    last = data.get("_json_cache_last_save_date")
    if last is not None:
        datetime.strptime(last, FMT)
    return entries, data.get("_json_cache_variable_cache", {})


path = sys.argv[1]
entries, variables = load(path)
with open(path, "w", encoding="utf8") as f:
    json.dump(
        {
            "_json_cache_func_cache": dict(sorted(entries.items())),
            "_json_cache_last_save_date": datetime.now(),
            "_json_cache_variable_cache": dict(sorted(variables.items())),
        },
        f, indent=4, ensure_ascii=False, cls=DateTimeEncoder,
    )
entries, variables = load(path)
json.dump({"values": {k: e["value"] for k, e in entries.items()}, "variables": variables}, sys.stdout, allow_nan=True)
