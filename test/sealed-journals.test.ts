/**
 * The sealed journals one process reads while a fold is under way (store/sealed-journals.ts): each read
 * once, from where this process stopped in it, and the directory listed again whenever a journal may
 * have been sealed since the last listing.
 */
import { appendFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SealedJournals } from "../src/store/sealed-journals.js";
import { journalIdentity } from "../src/store/journal-file.js";
import { tempDir } from "./helpers.js";

function setup(): { journal: string; seal: (name: string) => string; sealed: SealedJournals; lines: string[] } {
  const directory = tempDir();
  const journal = join(directory, "c.json.journal");
  const lines: string[] = [];
  const sealed = new SealedJournals(journal, (line) => lines.push(line));
  let n = 0;
  const seal = (name: string): string => {
    appendFileSync(journal, `{"line": "${name}"}\n`);
    const path = `${journal}.${process.pid}-${(++n).toString(16).padStart(16, "0")}.sealed`;
    renameSync(journal, path);
    return path;
  };
  return { journal, seal, sealed, lines };
}

describe("sealed journals", () => {
  it("reads each sealed journal once, and only what was appended to it since (from where this process stopped)", () => {
    const { seal, sealed, lines } = setup();
    const path = seal("a");
    expect(sealed.readAllNow("lock-1", "j-1")).toBe(true);
    expect(lines).toEqual(['{"line": "a"}']);
    expect(sealed.readAllNow("lock-1", "j-1")).toBe(false);
    // A process appending through a descriptor opened before the seal still reaches the sealed file.
    appendFileSync(path, '{"line": "late"}\n');
    expect(sealed.readAllNow("lock-1", "j-1")).toBe(true);
    expect(lines).toEqual(['{"line": "a"}', '{"line": "late"}']);
    expect(sealed.offsetIn(journalIdentity(path).identity)).toBe(journalIdentity(path).size);
  });

  it("starts from where this process was in the live journal when that journal was sealed", () => {
    const { journal, sealed, lines } = setup();
    appendFileSync(journal, '{"line": "read as live"}\n');
    const { identity, size } = journalIdentity(journal);
    appendFileSync(journal, '{"line": "not yet read"}\n');
    renameSync(journal, `${journal}.${process.pid}-00000000000000aa.sealed`);
    sealed.left(identity, size);
    expect(sealed.readAllNow("lock-1", "j-2")).toBe(true);
    expect(lines).toEqual(['{"line": "not yet read"}']);
  });

  it("lists the directory again once the lock or the live journal is another, and not while both are the same", () => {
    const { journal, seal, sealed, lines } = setup();
    seal("a");
    appendFileSync(journal, '{"line": "live"}\n'); // the live journal after the seal
    const live = journalIdentity(journal).identity;
    sealed.readAllNow("lock-1", live);
    expect(lines).toEqual(['{"line": "a"}']);
    // Under the same lock and live journal no journal can have been sealed: the listing is kept, so a
    // sealed journal put there anyway is not seen yet.
    const planted = `${journal}.${process.pid}-00000000000000ff.sealed`;
    appendFileSync(planted, '{"line": "planted"}\n');
    expect(sealed.readAllNow("lock-1", live)).toBe(false);
    expect(lines).toHaveLength(1);
    // Another lock means a new listing…
    expect(sealed.readAllNow("lock-2", live)).toBe(true);
    expect(lines).toEqual(['{"line": "a"}', '{"line": "planted"}']);
    // …as does a live journal other than the one there at the listing (it was sealed since).
    seal("b");
    appendFileSync(journal, '{"line": "live 2"}\n');
    expect(sealed.readAllNow("lock-2", journalIdentity(journal).identity)).toBe(true);
    expect(lines.slice(2)).toEqual(['{"line": "live"}', '{"line": "b"}']);
    // Without a lock (a seal seen by the journal changing) the directory is always listed.
    seal("c");
    expect(sealed.readAllNow("", "any")).toBe(true);
    seal("d");
    expect(sealed.readAllNow("", "any")).toBe(true);
    expect(lines.slice(4)).toEqual(['{"line": "live 2"}', '{"line": "c"}', '{"line": "d"}']);
  });

  it("forgets how far it read: after a whole reread of the file every sealed journal is read from its start", () => {
    const { seal, sealed, lines } = setup();
    seal("a");
    sealed.readAllNow("", "j-1");
    sealed.forget();
    expect(sealed.readAllNow("", "j-1")).toBe(true);
    expect(lines).toEqual(['{"line": "a"}', '{"line": "a"}']);
  });
});
