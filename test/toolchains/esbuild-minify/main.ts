import { openPrices } from "./prices.js";
import { openStock } from "./stock.js";

const prices = openPrices();
const stock = openStock();
console.log(JSON.stringify({ price: prices.get("apple"), stock: stock.get("apple") }));
await prices.jsonCacheSave();
await stock.jsonCacheSave();
