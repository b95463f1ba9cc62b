/**
 * A dataId is one cache: classes that share one share results. Two unrelated classes using one dataId,
 * and a default dataId that looks minified (what a production build makes of class names), are each
 * warned about once, naming the classes and the fix.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Cached, cached, JSONCache } from "../src/index.js";
import { CacheLog } from "../src/logger.js";
import { recordingLogger, tempDir } from "./helpers.js";

afterEach(() => CacheLog.resetReported());

const warnings = (logger: ReturnType<typeof recordingLogger>) => logger.messages.filter((m) => m.level === "warn").map((m) => m.message);

describe("a dataId used by two classes", () => {
  it("two unrelated classes given one dataId: one warning naming both and telling to pass dataId", () => {
    const logger = recordingLogger();
    const directory = tempDir();
    class Users extends JSONCache {
      constructor() { super({ dataId: "shared", directory, logger }); }
      @Cached() get(id: number) { return `user ${id}`; }
    }
    class Orders extends JSONCache {
      constructor() { super({ dataId: "shared", directory, logger }); }
      @Cached() get(id: number) { return `order ${id}`; }
    }
    new Users().get(1);
    expect(warnings(logger)).toEqual([]);
    new Orders();
    new Orders();
    new Users();
    expect(warnings(logger)).toHaveLength(1);
    expect(warnings(logger)[0]).toMatch(/dataId "shared" is used by two unrelated classes or functions, Users and Orders/);
    expect(warnings(logger)[0]).toMatch(/pass \{ dataId: "\.\.\." \} to super\(\)/);
    // The sharing the warning is about: Orders gets Users' result.
    expect(new Orders().get(1)).toBe("user 1");
  });

  it("a subclass, another directory, and cached() functions of different names sharing a dataId are not warned about", () => {
    const logger = recordingLogger();
    const directory = tempDir();
    class Base extends JSONCache {
      constructor() { super({ dataId: "family", directory, logger }); }
    }
    class Child extends Base {}
    new Base();
    new Child();
    class Elsewhere extends JSONCache {
      constructor() { super({ dataId: "family", directory: tempDir(), logger }); }
    }
    new Elsewhere();
    cached(function area(x: number) { return x * x; }, { dataId: "math", directory, logger });
    cached(function perimeter(x: number) { return 4 * x; }, { dataId: "math", directory, logger });
    expect(warnings(logger)).toEqual([]);
    cached((x: number) => x + 1, { name: "area", dataId: "math", directory, logger });
    expect(warnings(logger)).toHaveLength(1);
    expect(warnings(logger)[0]).toMatch(/cached\(area\) and cached\(area\)/);
  });
});

describe("a default dataId that looks minified", () => {
  it.each([["e"], ["Ae"], ["_a"], ["$t"]])("class %s without a dataId: one warning that production builds should pass dataId", (name) => {
    const logger = recordingLogger();
    const directory = tempDir();
    const Minified = { [name]: class extends JSONCache {} }[name]!;
    expect(Minified.name).toBe(name);
    new Minified({ directory, logger });
    new Minified({ directory, logger });
    expect(warnings(logger)).toHaveLength(1);
    expect(warnings(logger)[0]).toContain(`class "${name}" uses the dataId "${name}-`);
    expect(warnings(logger)[0]).toMatch(/uses the dataId "[^"]+-[0-9a-f]{12}" by default/);
    expect(warnings(logger)[0]).toMatch(/carries a hash of its code/);
    expect(warnings(logger)[0]).toMatch(/Production builds should pass a dataId/);
  });

  it("an anonymous class, and an anonymous-looking function name, are warned about; real names and given dataIds are not", () => {
    const logger = recordingLogger();
    const directory = tempDir();
    const Anonymous = (() => class extends JSONCache {})();
    new Anonymous({ directory, logger });
    expect(warnings(logger)[0]).toMatch(/an anonymous class uses the dataId "anonymous-[0-9a-f]{12}"/);
    const t = (x: number) => x;
    cached(t, { directory, logger });
    expect(warnings(logger)[1]).toMatch(/function "t" uses the dataId "t-[0-9a-f]{12}" by default.*pass \{ name: "\.\.\.", dataId: "\.\.\." \} to cached\(\)/);
    class Calculator extends JSONCache {}
    new Calculator({ directory, logger });
    const e = class extends JSONCache {};
    new e({ directory, logger, dataId: "given" });
    expect(warnings(logger)).toHaveLength(2);
  });
});
