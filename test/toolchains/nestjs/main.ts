import "reflect-metadata";
import { Injectable, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { Cached, JSONCache } from "cacherator";

let runs = 0;

@Injectable()
export class PriceService extends JSONCache {
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

@Module({ providers: [PriceService] })
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  const shop = app.get(PriceService);
  const price = shop.price("apple");
  const quote = await shop.quote("pear");
  await app.close();
  console.log(JSON.stringify({ price, quote, runs, status: shop.cacheStatus }));
}

void main();
