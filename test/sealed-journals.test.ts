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
    const { seal, sealed, lines } = setup();
    seal("a");
    sealed.readAllNow("lock-1", "j-1");
    // Under the same lock and live journal no journal can have been sealed: the listing is kept, so a
    // journal that appeared anyway is not seen yet.
    seal("b");
    expect(sealed.readAllNow("lock-1", "j-1")).toBe(false);
    expect(lines).toEqual(['{"line": "a"}']);
    // A new live journal (the one read was sealed) means a new listing, as does another lock.
    expect(sealed.readAllNow("lock-1", "j-2")).toBe(true);
    expect(lines).toEqual(['{"line": "a"}', '{"line": "b"}']);
    seal("c");
    expect(sealed.readAllNow("lock-2", "j-2")).toBe(true);
    expect(lines).toHaveLength(3);
    // Without a lock (a seal seen by the journal changing) the directory is always listed.
    seal("d");
    expect(sealed.readAllNow("", "j-2")).toBe(true);
    seal("e");
    expect(sealed.readAllNow("", "j-2")).toBe(true);
    expect(lines).toHaveLength(5);
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
