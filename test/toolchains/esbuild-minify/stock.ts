import { Cached, JSONCache } from "cacherator";

/** No dataId: the class name is the default, and a minifier renames classes. */
export function openStock() {
  class Stock extends JSONCache {
    @Cached()
    get(item: string): string {
      return `stock of ${item}`;
    }
  }
  return new Stock();
}
