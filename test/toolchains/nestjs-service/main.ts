import "reflect-metadata";
import { Injectable, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { Cacheable, Cached, cacheOf, withCacheStatus } from "cacherator";

let runs = 0;

@Injectable()
export class PriceList {
  rate(item: string): number {
    return item.length;
  }
}

/** A service that does not extend JSONCache, with a constructor-injected dependency. */
@Injectable()
@Cacheable({ dataId: "shop-service", directory: "cache", ttl: "1h" })
export class PriceService {
  constructor(private readonly prices: PriceList) {}

  @Cached()
  price(item: string): number {
    runs++;
    return this.prices.rate(item) * 10;
  }

  @Cached()
  async quote(item: string): Promise<string> {
    runs++;
    return `quote for ${item}`;
  }
}

@Module({ providers: [PriceList, PriceService] })
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  const shop = app.get(PriceService);
  const price = shop.price("apple");
  const { result: quote, calls } = await withCacheStatus(() => shop.quote("pear"));
  await cacheOf(shop).save();
  await app.close();
  console.log(JSON.stringify({ price, quote, runs, status: cacheOf(shop).cacheStatus, calls: calls.map((call) => call.status) }));
}

void main();
