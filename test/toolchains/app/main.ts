import { report } from "./shop.js";

void report().then((line) => console.log(line));
