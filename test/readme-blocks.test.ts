/**
 * Every ```ts block of the README type-checks against the built package's types (dist/index.d.ts, what
 * `npm pack` ships), as a module of its own. The helpers the examples call but do not define (an API,
 * a database, a logger) are declared in PRELUDE; a block may instead be marked `<!-- not-checked: why -->`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const PRELUDE = `
import { Cached, JSONCache, cached, CACHE_IDENTITY } from "cacherator";
import { Injectable } from "@nestjs/common";
declare function slowDown(ms: number): void;
declare function fetchWeather(city: string): string;
declare function fetchHistorical(city: string, year: number): number;
declare function fetchData(url: string): Promise<string>;
declare function fetchQuote(item: string): Promise<number>;
declare function expensiveOperation(key: string): string;
declare function newSummarizer(doc: string): string;
declare const api: { rates(base: string): Promise<Record<string, number>> };
declare const auth: { fetchToken(scope: string): Promise<{ expires_in: number; token: string }> };
declare const db: { findUser(id: number): { id: number } | null };
declare const log: { info(message: string): void };
declare const pinoLogger: { debug(m: string): void; info(m: string): void; warn(m: string): void; error(m: string): void };
declare const myLogger: typeof pinoLogger;
declare interface Database { query(sql: string, ...args: unknown[]): unknown }
declare interface Model { predict(features: number[]): number }
declare class Calculator extends JSONCache { expensiveCalculation(x: number, y: number): number }
declare const calc: Calculator;
declare class DataProcessor extends JSONCache { process(item: number): number }
void [Cached, cached, CACHE_IDENTITY, Injectable];
`;

/** The prelude without what the block declares or imports itself. */
function preludeFor(code: string): string {
  const own = new Set([...code.matchAll(/\b(?:class|const|let|function|interface)\s+(\w+)/g)].map((m) => m[1] as string));
  for (const list of code.matchAll(/import\s*\{([^}]*)\}/g)) for (const name of (list[1] as string).split(",")) own.add(name.trim());
  return PRELUDE.split("\n")
    .map((line) => {
      const imported = /^import \{([^}]*)\}(.*)$/.exec(line);
      if (imported) {
        const names = (imported[1] as string).split(",").map((n) => n.trim()).filter((n) => !own.has(n));
        return names.length === 0 ? "" : `import { ${names.join(", ")} }${imported[2] as string}`;
      }
      const declared = /^declare (?:function|const|interface|class) (\w+)/.exec(line)?.[1];
      if (declared !== undefined && own.has(declared)) return "";
      return line.startsWith("void [") ? `void [${[...line.matchAll(/\w+/g)].map((m) => m[0]).filter((n) => n !== "void" && !own.has(n)).join(", ")}];` : line;
    })
    .join("\n");
}

interface Block {
  line: number;
  code: string;
}

function tsBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const pattern = /(<!-- not-checked: [^>]+-->\n)?```ts\n([\s\S]*?)```/g;
  for (const match of markdown.matchAll(pattern)) {
    if (match[1] !== undefined) continue;
    blocks.push({ line: markdown.slice(0, match.index).split("\n").length, code: match[2] as string });
  }
  return blocks;
}

describe("the README's TypeScript", () => {
  const blocks = tsBlocks(readFileSync(join(ROOT, "README.md"), "utf8"));

  it("has code blocks to check", () => {
    expect(blocks.length).toBeGreaterThan(10);
  });

  it("type-checks, block by block, against the package's published types", () => {
    const files = new Map(blocks.map((block, i) => [join(ROOT, `readme-block-${i}.ts`), `${preludeFor(block.code)}\n${block.code}\nexport {};\n`]));
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ["node"],
      lib: ["lib.es2022.d.ts", "lib.esnext.disposable.d.ts", "lib.dom.d.ts"],
      paths: { cacherator: [join(ROOT, "dist/index.d.ts")], "@nestjs/common": [join(ROOT, "test/readme-nest-stub.d.ts")] },
    };
    const host = ts.createCompilerHost(options);
    const readFile = host.readFile.bind(host);
    host.readFile = (name) => files.get(name) ?? readFile(name);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => files.has(name) || fileExists(name);
    const program = ts.createProgram([...files.keys()], options, host);
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const file = diagnostic.file;
      const index = file ? [...files.keys()].indexOf(file.fileName) : -1;
      const at = file && diagnostic.start !== undefined ? file.getLineAndCharacterOfPosition(diagnostic.start).line - PRELUDE.split("\n").length + 1 : 0;
      const where = index >= 0 ? `README.md:${(blocks[index] as Block).line + at}` : (file?.fileName ?? "");
      return `${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`;
    });
    expect(problems).toEqual([]);
  });
});
