/** The DynamoDB (L2) tier: what the rest of the library and the inspector use of it. */
export { createDynamoDBTier, DEFAULT_L2_TIMEOUT_MS, DynamoDBTier, type DynamoDBTierOptions, type EntryWriteResult } from "./operations.js";
export type { L2FailureReason, L2Outcome } from "./failures.js";
export type { RemoteEntry } from "../dynamodb-format.js";
export type { L2Write } from "./writes.js";
export { isValidTableName } from "./table-name.js";
export { useDynamoDBSdk, type DynamoDBSdkModules } from "./client.js";
