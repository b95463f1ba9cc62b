/**
 * The program every toolchain project builds: one sync and one async cached method. Each run prints
 * one line of JSON: the values, how often the methods ran, and where the answers came from.
 */
import { Cached, JSONCache } from "cacherator";

let runs = 0;

export class Shop extends JSONCache {
  constructor() {
    super({ dataId: "shop", directory: "cache" });
  }

  @Cached({ ttl: "1h" })
  price(item: string): number {
    runs++;
    return item.length * 10;
  }

  @Cached({ ttl: "1h" })
  async quote(item: string): Promise<string> {
    runs++;
    return `quote for ${item}`;
  }
}

export async function report(): Promise<string> {
  const shop = new Shop();
  const price = shop.price("apple");
  const quote = await shop.quote("pear");
  await shop.jsonCacheSave();
  return JSON.stringify({ price, quote, runs, status: shop.cacheStatus });
}
