import "reflect-metadata";
import { Injectable, Logger, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { Cached, JSONCache } from "cacherator";

let runs = 0;

@Injectable()
export class PriceService extends JSONCache {
  constructor() {
    // Nest's own Logger is a logger the library takes (it has `log`, not `info`).
    super({ dataId: "shop", directory: "cache", logger: new Logger(PriceService.name) });
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
