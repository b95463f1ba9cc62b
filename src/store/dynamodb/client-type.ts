/**
 * What the `dynamodbClient` option accepts, described by its shape rather than imported from the AWS
 * SDK: the SDK is an optional peer dependency, and a type import of it in the published declarations
 * would fail the type check (`skipLibCheck: false`) of every program that does not install it. The
 * SDK's `DynamoDBClient` has this shape.
 */
export interface DynamoDBClient {
  /** Sends one command (the SDK's `send(command, { abortSignal })`). */
  send(command: never, options?: never): Promise<unknown>;
  /** Closes the client's connections (never called on a client you pass). */
  destroy(): void;
  /** The client's resolved configuration (the SDK's `config`). */
  readonly config: object;
}
