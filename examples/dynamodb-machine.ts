/**
 * One "machine" of `npm run demo:dynamodb`: the seed's WebScraper, with its own local cache directory
 * (MACHINE_DIR) and the shared DynamoDB table (TABLE at ENDPOINT).
 */
import { Cached, JSONCache } from "../src/index.js";

class WebScraper extends JSONCache {
  constructor() {
    super({
      dataId: "web-scraper",
      directory: process.env.MACHINE_DIR,
      dynamodbTable: process.env.TABLE,
      dynamodbEndpoint: process.env.ENDPOINT,
      logging: false,
    });
  }

  @Cached({ ttl: 7 })
  async scrapeExpensiveData(url: string): Promise<{ url: string; title: string; scrapedBy: string }> {
    await new Promise((resolve) => setTimeout(resolve, 1000)); // a slow scrape
    return { url, title: `Title of ${url}`, scrapedBy: process.env.MACHINE ?? "?" };
  }
}

const scraper = new WebScraper();
const start = performance.now();
const data = await scraper.scrapeExpensiveData("https://example.com");
const ms = (performance.now() - start).toFixed(0).padStart(5);
console.log(`machine ${process.env.MACHINE}: ${ms} ms, status ${scraper.lastCacheStatus}, scraped by machine ${data.scrapedBy}`);
await scraper.jsonCacheSave();
