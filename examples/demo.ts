/**
 * The quick start, on the default local JSON store (data/cache/). Run it twice: the first run computes
 * and writes data/cache/calc.json; the second is served from that file.
 *
 *     npm run demo
 */
import { Cached, JSONCache } from "../src/index.js";

/** Blocks like a slow computation would (a synchronous method cannot await). */
function busyWait(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

class Calculator extends JSONCache {
  constructor() {
    super({ dataId: "calc" });
  }

  @Cached()
  expensiveCalculation(x: number, y: number): number {
    busyWait(1000); // simulate an expensive operation
    return x ** y;
  }

  @Cached({ ttl: 0.25 }) // 6 hours
  async fetchUser(id: number): Promise<{ id: number; name: string; fetchedAt: Date }> {
    await new Promise((resolve) => setTimeout(resolve, 500)); // simulate a slow API
    return { id, name: `user-${id}`, fetchedAt: new Date() };
  }
}

class GameState extends JSONCache {
  declare score: number;

  constructor(gameId: string) {
    super({ dataId: `game_${gameId}` });
    this.score ??= 0;
  }

  async addPoints(points: number): Promise<void> {
    this.score += points;
    await this.jsonCacheSave();
  }
}

async function timed<T>(label: string, call: () => T | Promise<T>, status: () => string | null): Promise<T> {
  const start = performance.now();
  const value = await call();
  const ms = (performance.now() - start).toFixed(1).padStart(7);
  console.log(`${label.padEnd(32)} ${ms} ms   status: ${status()}`);
  return value;
}

const calc = new Calculator();
console.log(`lastCacheStatus before any call: ${calc.lastCacheStatus}\n`);
await timed("expensiveCalculation(2, 10)", () => calc.expensiveCalculation(2, 10), () => calc.lastCacheStatus);
await timed("expensiveCalculation(2, 10) again", () => calc.expensiveCalculation(2, 10), () => calc.lastCacheStatus);
const user = await timed("await fetchUser(42)", () => calc.fetchUser(42), () => calc.lastCacheStatus);
console.log(`  fetchedAt is a ${user.fetchedAt.constructor.name}: ${user.fetchedAt.toISOString()}`);
console.log(`\njsonCacheStats(): ${JSON.stringify(calc.jsonCacheStats())}`);

const game = new GameState("player1");
await game.addPoints(100);
console.log(`GameState score (persisted, grows by 100 per run): ${game.score}`);

console.log("\nCache files are in data/cache/. Run `npm run demo` again: the calls above come from the file (status l1).");
