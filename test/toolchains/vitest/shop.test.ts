import { writeFileSync } from "node:fs";
import { expect, it } from "vitest";
import { report } from "./shop.js";

it("answers from the cache", async () => {
  const line = await report();
  writeFileSync("report.json", line);
  expect(JSON.parse(line)).toMatchObject({ price: 50, quote: "quote for pear" });
});
