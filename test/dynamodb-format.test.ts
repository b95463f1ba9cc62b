/**
 * The DynamoDB item layout of cache entries: what is stored, when it is compressed, how big DynamoDB
 * counts it, and when it expires. Pure functions, no server.
 */
import { randomBytes } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { encodeValue } from "../src/codec.js";
import {
  COMPRESS_THRESHOLD,
  MAX_ITEM_BYTES,
  MAX_TEXT_BYTES,
  tooLargeForTable,
  STATE_ENTRY,
  decodeEntryItem,
  encodeEntryItem,
  encodeStateItem,
  entrySortKey,
  expiryOf,
  functionOfEntryKey,
  functionPrefix,
  isExpired,
  itemSize,
  itemText,
} from "../src/store/dynamodb-format.js";

const DAY = 86_400_000;

describe("an entry round-trips through its DynamoDB item", () => {
  it("a small value is stored as its codec JSON text under cache_id and f#<call key>", () => {
    const text = JSON.stringify(encodeValue({ when: new Date(0), tags: new Set(["a"]), name: "Zoë ☃" }));
    const entry = { key: "fetch('foo',){}", text, time: 1_700_000_000_123, async: true };
    const { item, compressed } = encodeEntryItem("Feed_1", entry, 2 * DAY);
    expect(compressed).toBe(false);
    expect(item).toMatchObject({ cache_id: "Feed_1", entry: "f#fetch('foo',){}", value: text, epoch_ms: entry.time, async: true });
    expect(item.value_gz).toBeUndefined();
    expect(decodeEntryItem(item)).toEqual(entry);
  });

  it("a sync entry carries no async attribute and reads back as sync", () => {
    const { item } = encodeEntryItem("o", { key: "f(1,){}", text: "1", time: 5, async: false }, DAY);
    expect("async" in item).toBe(false);
    expect(decodeEntryItem(item)?.async).toBe(false);
  });

  it("the state item and malformed items are not read as entries", () => {
    const { item: state } = encodeStateItem("o", '{"score": 1}', 10);
    expect(state.entry).toBe(STATE_ENTRY);
    expect(itemText(state)).toBe('{"score": 1}');
    expect(decodeEntryItem(state)).toBeUndefined();
    expect(decodeEntryItem({ cache_id: "o", entry: "f#f(){}", value: "1" })).toBeUndefined(); // no time
    expect(decodeEntryItem({ cache_id: "o", entry: "f#f(){}", epoch_ms: 1 })).toBeUndefined(); // no value
    expect(decodeEntryItem({ cache_id: "o", entry: "f#f(){}", epoch_ms: 1, value_gz: new Uint8Array([1, 2, 3]) })).toBeUndefined(); // not gzip
  });
});

describe("values over 100 KB are gzip-compressed", () => {
  it("a text of exactly 100 KB is stored plain, one byte more is compressed and reads back the same", () => {
    const under = `"${"a".repeat(COMPRESS_THRESHOLD - 2)}"`;
    const over = `"${"a".repeat(COMPRESS_THRESHOLD - 1)}"`;
    expect(Buffer.byteLength(under)).toBe(100 * 1024);
    const plain = encodeEntryItem("o", { key: "f(){}", text: under, time: 1, async: false }, DAY);
    expect(plain.compressed).toBe(false);
    expect(plain.item.value).toBe(under);

    const packed = encodeEntryItem("o", { key: "f(){}", text: over, time: 1, async: false }, DAY);
    expect(packed.compressed).toBe(true);
    expect(packed.item.value).toBeUndefined();
    expect(packed.item.value_gz).toBeInstanceOf(Uint8Array);
    expect(gunzipSync(packed.item.value_gz as Uint8Array).toString("utf8")).toBe(over);
    expect(decodeEntryItem(packed.item)?.text).toBe(over);
  });

  it("the threshold counts UTF-8 bytes, not characters", () => {
    const text = `"${"é".repeat(60_000)}"`; // 60,002 characters, 120,002 bytes
    const { compressed, item } = encodeEntryItem("o", { key: "f(){}", text, time: 1, async: false }, DAY);
    expect(compressed).toBe(true);
    expect(decodeEntryItem(item)?.text).toBe(text);
  });

  it("large object state is compressed the same way", () => {
    const text = JSON.stringify({ blob: "xyz".repeat(50_000) });
    const { compressed, item } = encodeStateItem("o", text, 1);
    expect(compressed).toBe(true);
    expect(itemText(item)).toBe(text);
  });
});

describe("item size is computed as DynamoDB counts it against the 400 KB limit", () => {
  it("attribute names plus values: strings in UTF-8 bytes, numbers by significant digits, booleans one byte", () => {
    const item = { cache_id: "abc", entry: "f#é", value: "xyz", epoch_ms: 1_700_000_000_123, async: true };
    // cache_id 8+3, entry 5+4 (é is two bytes), value 5+3, epoch_ms 8+(13 digits → 7+1), async 5+1
    expect(itemSize(item)).toBe(11 + 9 + 8 + 16 + 6);
    expect(itemSize({ value_gz: new Uint8Array(1000) })).toBe(8 + 1000);
    expect(itemSize({ n: 1000 })).toBe(1 + 2); // trailing zeros trimmed: one digit
  });

  it("a 300 KB compressible value fits; ~600 KB of random base64 is over the limit even compressed", () => {
    const compressible = JSON.stringify("0123456789abcdef".repeat(20_000)); // ~320 KB
    const small = encodeEntryItem("o", { key: "big(){}", text: compressible, time: 1, async: false }, DAY);
    expect(small.compressed).toBe(true);
    expect(small.size).toBeLessThan(MAX_ITEM_BYTES);
    expect(small.size).toBe(itemSize(small.item));

    const random = JSON.stringify(randomBytes(450_000).toString("base64")); // 600 KB of base64
    const large = encodeEntryItem("o", { key: "big(){}", text: random, time: 1, async: false }, DAY);
    expect(large.compressed).toBe(true);
    expect(large.size).toBeGreaterThan(MAX_ITEM_BYTES);
  });

  it("a value just under the limit uncompressed is counted with its attribute names and keys", () => {
    const text = "x".repeat(COMPRESS_THRESHOLD); // at the threshold: stored plain
    const { size, item } = encodeEntryItem("obj", { key: "k(){}", text, time: 1, async: false }, DAY);
    expect(item.value).toBe(text);
    expect(size).toBeGreaterThan(COMPRESS_THRESHOLD);
    expect(size).toBeLessThan(COMPRESS_THRESHOLD + 200);
  });
});

describe("each item carries its own expiry", () => {
  it("ttl is the expiry in epoch seconds rounded up, expires_ms the exact instant", () => {
    expect(expiryOf(1_000_000, 1500)).toEqual({ expiresMs: 1_001_500, ttlSeconds: 1002 });
    expect(expiryOf(1_000_000, 2000)).toEqual({ expiresMs: 1_002_000, ttlSeconds: 1002 });
    const { item } = encodeEntryItem("o", { key: "f(){}", text: "1", time: 1_000_000, async: false }, 1500);
    expect(item.ttl).toBe(1002);
    expect(item.expires_ms).toBe(1_001_500);
  });

  it("an infinite TTL stores no expiry, and such an item never expires", () => {
    expect(expiryOf(1_000_000, Infinity)).toBeUndefined();
    const { item } = encodeEntryItem("o", { key: "f(){}", text: "1", time: 1_000_000, async: false }, Infinity);
    expect("ttl" in item || "expires_ms" in item).toBe(false);
    expect(isExpired(item, Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it("an item is expired from its exact expiry on, not a second later", () => {
    const { item } = encodeEntryItem("o", { key: "f(){}", text: "1", time: 1_000_000, async: false }, 1500);
    expect(isExpired(item, 1_001_499)).toBe(false);
    expect(isExpired(item, 1_001_500)).toBe(true);
    // An item written by something that only set `ttl` (seconds) expires at that second.
    expect(isExpired({ ttl: 1002 }, 1_001_999)).toBe(false);
    expect(isExpired({ ttl: 1002 }, 1_002_000)).toBe(true);
  });
});

describe("one function's entries are found by an exact-name prefix", () => {
  it("fetch( matches fetch's keys but not fetchAll's", () => {
    const prefix = functionPrefix("fetch");
    expect(entrySortKey("fetch('a',){}").startsWith(prefix)).toBe(true);
    expect(entrySortKey("fetch(){}").startsWith(prefix)).toBe(true);
    expect(entrySortKey("fetchAll('a',){}").startsWith(prefix)).toBe(false);
    expect(functionOfEntryKey("fetchAll('a',){}")).toBe("fetchAll");
  });
});

describe("a compressed value is bounded both ways: 16 MB of JSON", () => {
  it("a gzipped value that inflates past 16 MB (a 64 KB bomb of 64 MB) is not read: inflating stops at the bound", () => {
    const bomb = new Uint8Array(gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x30), { level: 9 }));
    expect(bomb.length).toBeLessThan(MAX_ITEM_BYTES);
    const item = { cache_id: "obj", entry: entrySortKey("bomb(1,){}"), value_gz: bomb, epoch_ms: 1 };
    expect(itemText(item)).toBeUndefined();
    expect(decodeEntryItem(item)).toBeUndefined();
  });

  it("a value of exactly 16 MB of JSON is written and read back; one byte more is kept local", () => {
    const at = "x".repeat(MAX_TEXT_BYTES - 2);
    const atEntry = { key: "page(1,){}", text: JSON.stringify(at), time: 1, async: false };
    expect(Buffer.byteLength(atEntry.text)).toBe(MAX_TEXT_BYTES);
    const encoded = encodeEntryItem("obj", atEntry, DAY);
    expect(tooLargeForTable(encoded)).toBeUndefined();
    expect(decodeEntryItem(encoded.item)?.text).toBe(atEntry.text);
    const over = encodeEntryItem("obj", { ...atEntry, text: JSON.stringify(`${at}y`) }, DAY);
    expect(tooLargeForTable(over)).toMatch(/16\.0 MB of JSON, over the 16 MB/);
    expect(over.item.value_gz).toBeUndefined(); // not compressed for nothing
    expect(tooLargeForTable(encodeStateItem("obj", JSON.stringify({ blob: `${at}y` }), 1))).toMatch(/MB of JSON/);
  });
});
