/**
 * The live journal as one process reads it (store/live-journal.ts): from where it left off, a journal
 * sealed under it handed to the sealed journals with how far it was read, a journal shorter than what
 * was read read again from its start, and this process's own appends not read back.
 */
import { appendFileSync, renameSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LiveJournal } from "../src/store/live-journal.js";
import { SealedJournals } from "../src/store/sealed-journals.js";
import { journalIdentity } from "../src/store/journal-file.js";
import { tempDir } from "./helpers.js";

function setup(): { path: string; live: LiveJournal; sealed: SealedJournals; lines: string[] } {
  const path = join(tempDir(), "c.json.journal");
  const lines: string[] = [];
  const onLine = (line: string) => lines.push(line);
  const sealed = new SealedJournals(path, onLine);
  return { path, live: new LiveJournal(path, sealed, onLine), sealed, lines };
}

describe("the live journal", () => {
  it("applies only the complete lines past what it read; a line still being written is read once complete", () => {
    const { path, live, lines } = setup();
    expect(live.apply(undefined)).toBe(false); // no journal yet
    appendFileSync(path, '\n{"n": 1}\n{"n": 2');
    expect(live.apply(undefined)).toBe(true);
    expect(lines).toEqual(['{"n": 1}']);
    appendFileSync(path, "}\n");
    expect(live.applyKnown(journalIdentity(path).size)).toBe(true);
    expect(lines).toEqual(['{"n": 1}', '{"n": 2}']);
    expect(live.apply(undefined)).toBe(false);
  });

  it("a journal sealed under it: the new one is read from its start, the sealed one from where this process stopped", () => {
    const { path, live, sealed, lines } = setup();
    appendFileSync(path, '{"n": 1}\n');
    live.apply(undefined);
    const old = journalIdentity(path).identity;
    appendFileSync(path, '{"n": 2}\n'); // not read before the seal
    renameSync(path, `${path}.${process.pid}-00000000000000bb.sealed`);
    appendFileSync(path, '{"n": 3}\n');
    expect(live.apply(undefined)).toBe(true);
    expect(live.identity).not.toBe(old);
    expect(lines).toEqual(['{"n": 1}', '{"n": 3}']);
    expect(sealed.offsetIn(old)).toBe('{"n": 1}\n'.length);
    expect(sealed.readAllNow("", live.identity)).toBe(true);
    expect(lines).toEqual(['{"n": 1}', '{"n": 3}', '{"n": 2}']);
  });

  it("a journal shorter than what was read of it is read from its start; the fast path hands it to a full look", () => {
    const { path, live, lines } = setup();
    appendFileSync(path, '{"n": 1}\n{"n": 2}\n');
    live.apply(undefined);
    truncateSync(path, 0);
    appendFileSync(path, '{"n": 3}\n');
    expect(live.applyKnown(journalIdentity(path).size)).toBeUndefined();
    expect(live.apply(undefined)).toBe(true);
    expect(lines).toEqual(['{"n": 1}', '{"n": 2}', '{"n": 3}']);
  });

  it("this process's own append right after what it read is not read back; one after others' unread lines is", () => {
    const { path, live, lines } = setup();
    appendFileSync(path, '{"n": 1}\n');
    live.apply(undefined);
    const { identity, size } = journalIdentity(path);
    appendFileSync(path, '{"own": 1}\n');
    live.appended({ at: size, bytes: '{"own": 1}\n'.length, identity });
    expect(live.apply(undefined)).toBe(false);
    appendFileSync(path, '{"other": 1}\n{"own": 2}\n');
    live.appended({ at: journalIdentity(path).size - '{"own": 2}\n'.length, bytes: '{"own": 2}\n'.length, identity });
    expect(live.apply(undefined)).toBe(true);
    expect(lines).toEqual(['{"n": 1}', '{"other": 1}', '{"own": 2}']);
  });
});
