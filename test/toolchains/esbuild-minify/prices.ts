import { Cached, JSONCache } from "cacherator";

/** No dataId: the class name is the default, and a minifier renames classes. */
export function openPrices() {
  class Prices extends JSONCache {
    @Cached()
    get(item: string): string {
      return `price of ${item}`;
    }
  }
  return new Prices();
}
