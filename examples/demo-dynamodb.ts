/**
 * Two "machines" share one cache through DynamoDB: two processes, each with its own local directory,
 * and one table on an embedded DynamoDB Local. The first scrapes; the second gets the result from L2
 * without scraping.
 *
 *     npm run demo:dynamodb
 *
 * Needs Java 17 for DynamoDB Local. With DYNAMODB_ENDPOINT set, that server is used instead.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startDynamoDBLocal, waitForDynamoDB, type DynamoDBLocal } from "../scripts/dynamodb-local.js";

const given = process.env.DYNAMODB_ENDPOINT;
let server: DynamoDBLocal | undefined;
if (given === undefined) {
  console.log("starting DynamoDB Local (Java) on a free loopback port…");
  server = await startDynamoDBLocal();
}
const endpoint = given ?? (server as DynamoDBLocal).endpoint;
await waitForDynamoDB(endpoint);

const table = `cacherator-demo-${Date.now().toString(36)}`;
const root = mkdtempSync(join(tmpdir(), "cacherator-demo-"));
const machine = fileURLToPath(new URL("dynamodb-machine.ts", import.meta.url));
const tsx = fileURLToPath(new URL("../node_modules/tsx/dist/cli.mjs", import.meta.url));
try {
  console.log(`table ${table} at ${endpoint}\n`);
  for (const name of ["A", "B", "B"]) {
    const output = execFileSync(process.execPath, [tsx, machine], {
      env: {
        ...process.env,
        MACHINE: name,
        MACHINE_DIR: join(root, `machine-${name}`),
        TABLE: table,
        ENDPOINT: endpoint,
        // DynamoDB Local accepts any credentials; a real table uses the AWS SDK's usual chain.
        AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "local",
        AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "local",
        AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
        AWS_EC2_METADATA_DISABLED: "true",
        NODE_NO_WARNINGS: "1",
      },
      encoding: "utf8",
    });
    process.stdout.write(output);
  }
  console.log("\nA missed and scraped; B, with an empty local directory, got A's result from DynamoDB (l2),");
  console.log("then from its own local file (l1).");
} finally {
  rmSync(root, { recursive: true, force: true });
  await server?.stop();
}
