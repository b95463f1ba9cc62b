/**
 * Logging: messages go to stderr, never stdout; a level (`logLevel`, `JSONCache.setLogLevel`) decides
 * what is shown, `warn` by default, so DynamoDB's per-request lines stay quiet unless asked for; the
 * common logger shapes (console, pino-like, winston-like, NestJS's Logger) are accepted, and a logger
 * missing a method is refused naming it.
 */
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { Cached, CacheOptionsError, JSONCache } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { waitForDynamoDB } from "./setup/dynamodb.js";
import { recordingLogger, runProgram, tempDir } from "./helpers.js";

afterEach(() => {
  JSONCache.setLogLevel("warn");
  JSONCache.setLogging(true);
  JSONCache.setLogger(console);
  CacheLog.resetReported();
});

describe("levels", () => {
  it("a channel shows its level and the levels after it; the process's level applies to channels without their own", () => {
    const logger = recordingLogger();
    const levels = ["debug", "info", "warn", "error"] as const;
    const emitAll = (log: CacheLog) => levels.forEach((level) => log.write(level, level));
    emitAll(new CacheLog(true, logger));
    expect(logger.messages.map((m) => m.level)).toEqual(["warn", "error"]);

    logger.messages.length = 0;
    emitAll(new CacheLog(true, logger, "debug"));
    expect(logger.messages.map((m) => m.level)).toEqual(["debug", "info", "warn", "error"]);

    logger.messages.length = 0;
    JSONCache.setLogLevel("info");
    emitAll(new CacheLog(true, logger));
    emitAll(new CacheLog(true, logger, "error"));
    emitAll(new CacheLog(true, logger, "silent"));
    expect(logger.messages.map((m) => m.level)).toEqual(["info", "warn", "error", "error"]);

    logger.messages.length = 0;
    JSONCache.setLogging(false); // still silences everything, whatever the level
    emitAll(new CacheLog(true, logger, "debug"));
    expect(logger.messages).toEqual([]);
  });

  it("a message below the level does not use up its once-per-cause report", () => {
    const logger = recordingLogger();
    new CacheLog(true, logger, "error").once("warn", "cause-x", "first");
    new CacheLog(true, logger).once("warn", "cause-x", "second");
    expect(logger.messages.map((m) => m.message)).toEqual(["[cacherator] second"]);
  });

  it("bad levels are CacheOptionsErrors naming the value and the choices", () => {
    expect(() => JSONCache.setLogLevel("verbose" as never)).toThrow(/setLogLevel.*"debug", "info", "warn", "error", "silent".*"verbose"/);
    class Leveled extends JSONCache {}
    expect(() => new Leveled({ directory: tempDir(), logLevel: "loud" as never })).toThrow(CacheOptionsError);
    expect(() => new Leveled({ directory: tempDir(), logLevel: "loud" as never })).toThrow(/option "logLevel" must be one of .*; got "loud"/);
  });
});

describe("logger shapes", () => {
  class Noisy extends JSONCache {
    @Cached() odd(n: number) {
      return { n, f: () => n }; // cannot be written: one warning
    }
  }

  it("accepts a NestJS-style logger (log, no info): warnings to warn, info to log, debug to verbose", () => {
    const seen: string[] = [];
    const nest = {
      log: (m: string) => void seen.push(`log ${m}`),
      warn: (m: string) => void seen.push(`warn ${m}`),
      error: (m: string) => void seen.push(`error ${m}`),
      debug: (m: string) => void seen.push(`debug ${m}`),
      verbose: (m: string) => void seen.push(`verbose ${m}`),
      fatal: (m: string) => void seen.push(`fatal ${m}`),
    };
    const log = new CacheLog(true, nest, "debug");
    log.write("debug", "d");
    log.write("info", "i");
    log.write("warn", "w");
    expect(seen).toEqual(["verbose [cacherator] d", "log [cacherator] i", "warn [cacherator] w"]);
    new Noisy({ directory: tempDir(), logger: nest }).odd(1);
    expect(seen.at(-1)).toMatch(/^warn .*odd/);
  });

  it("calls a pino-style logger's methods on the logger (they use `this`)", () => {
    const lines: string[] = [];
    class PinoLike {
      prefix = "pino";
      info(m: string) { lines.push(`${this.prefix} info ${m}`); }
      warn(m: string) { lines.push(`${this.prefix} warn ${m}`); }
      error(m: string) { lines.push(`${this.prefix} error ${m}`); }
      debug(m: string) { lines.push(`${this.prefix} debug ${m}`); }
    }
    JSONCache.setLogger(new PinoLike());
    JSONCache.setLogLevel("debug");
    new CacheLog().write("debug", "x");
    new CacheLog().write("warn", "y");
    expect(lines).toEqual(["pino debug [cacherator] x", "pino warn [cacherator] y"]);
  });

  it("a logger missing methods is refused, naming what is missing", () => {
    class Logged extends JSONCache {}
    const noInfo = { warn() {}, error() {}, debug() {} };
    expect(() => new Logged({ directory: tempDir(), logger: noInfo as never })).toThrow(/option "logger" .* got an object without a info \(or log\) method/);
    expect(() => new Logged({ directory: tempDir(), logger: { info() {} } as never })).toThrow(/without warn, error methods|without warn and error methods/);
    expect(() => JSONCache.setLogger({ log() {}, warn() {} } as never)).toThrow(/setLogger: .*without a error method/);
    expect(() => JSONCache.setLogger((() => undefined) as never)).toThrow(CacheOptionsError);
  });
});

describe("in a program", () => {
  const endpoint = inject("dynamodbEndpoint");
  beforeAll(() => waitForDynamoDB(endpoint));

  const program = (options: string, before = "") => `
    import { JSONCache, Cached } from "cacherator";
    ${before}
    class Quotes extends JSONCache {
      constructor() { super({ dataId: "quotes", directory: "cache", ${options} }); }
      @Cached() async quote(symbol: string) { return symbol.length; }
      @Cached() broken() { return { f: () => 1 }; }
    }
    const quotes = new Quotes();
    await quotes.quote("ACME");
    await quotes.quote("ACME");
    quotes.broken();
    await quotes.jsonCacheSave();
    console.log("done");
  `;
  const table = () => `dynamodbTable: "logs-${Date.now()}-${Math.random().toString(36).slice(2, 8)}", dynamodbEndpoint: "${endpoint}", dynamodbRegion: "us-east-1", dynamodbTimeout: 10000`;
  const env = { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" };

  it("by default, stdout is the program's own; warnings go to stderr and DynamoDB's requests are not shown", async () => {
    const result = await runProgram(program(table()), { cwd: tempDir(), env });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("done\n");
    expect(result.stderr).toMatch(/\[cacherator\] .*broken returned a value that cannot be written/);
    expect(result.stderr).not.toMatch(/L2 (get|put)/);
    expect(result.stderr).not.toMatch(/creating DynamoDB table/);
  });

  it('logLevel "debug" shows every DynamoDB request, on stderr; setLogLevel does it process-wide', async () => {
    const own = await runProgram(program(`${table()}, logLevel: "debug"`), { cwd: tempDir(), env });
    expect(own.stdout).toBe("done\n");
    expect(own.stderr).toMatch(/\[cacherator\] creating DynamoDB table/);
    expect(own.stderr).toMatch(/\[cacherator\] L2 get .*quote\('ACME',\)\{\}: miss/);
    expect(own.stderr).toMatch(/\[cacherator\] L2 put .*quote\('ACME',\)\{\}/);

    const global = await runProgram(program(table(), `JSONCache.setLogLevel("debug");`), { cwd: tempDir(), env });
    expect(global.stdout).toBe("done\n");
    expect(global.stderr).toMatch(/L2 get/);

    const silent = await runProgram(program(`${table()}, logLevel: "silent"`), { cwd: tempDir(), env });
    expect(silent.stderr).not.toMatch(/\[cacherator\]/); // the SDK may print its own notices
  });
});
