/**
 * The AWS SDK, loaded on first use, and the clients built from it.
 *
 * - `@aws-sdk/client-dynamodb` and `@aws-sdk/lib-dynamodb` are imported by the first operation only, so
 *   programs without a table pay nothing; when they are missing the failure says what to install.
 * - Every request is bounded by the timeout twice over: by the HTTP handler and by an abort signal, so a
 *   hung server cannot stall a caller whatever the SDK does.
 */
import { L2Failure, classify, errorText } from "./failures.js";

export type DynamoDBClient = import("@aws-sdk/client-dynamodb").DynamoDBClient;
export type DocumentClient = import("@aws-sdk/lib-dynamodb").DynamoDBDocumentClient;
export type Ddb = typeof import("@aws-sdk/client-dynamodb");
export type Doc = typeof import("@aws-sdk/lib-dynamodb");
/** The output type of an SDK command class. */
export type Output<C extends abstract new (...args: never) => { resolveMiddleware: (...args: never) => unknown }> = Awaited<
  ReturnType<ReturnType<InstanceType<C>["resolveMiddleware"]>>
>["output"];

export interface Sdk {
  ddb: Ddb;
  doc: Doc;
}

export interface Clients {
  sdk: Sdk;
  client: DynamoDBClient;
  doc: DocumentClient;
}

export interface ClientConfig {
  /** A caller's ready client: used as is (its own timeouts and retries apply) and never destroyed. */
  client?: object;
  endpoint?: string;
  region?: string;
}

/** Anything with the SDK's `send(command, { abortSignal })`. */
export interface Sender<O> {
  send(command: never, options?: { abortSignal?: AbortSignal }): Promise<O>;
}

export const INSTALL_HINT = "npm install @aws-sdk/client-dynamodb @aws-sdk/lib-dynamodb";

/** Loads the SDK once; shared by every connection of the process. */
export class SdkLoader {
  #load: Promise<Sdk | L2Failure> | undefined;

  load(): Promise<Sdk | L2Failure> {
    this.#load ??= (async () => {
      try {
        const [ddb, doc] = await Promise.all([import("@aws-sdk/client-dynamodb"), import("@aws-sdk/lib-dynamodb")]);
        return { ddb, doc };
      } catch (error) {
        return new L2Failure("sdk-missing", `the AWS SDK could not be loaded (${errorText(error)}); to use a DynamoDB table: ${INSTALL_HINT}`);
      }
    })();
    return this.#load;
  }
}

/** The low-level and document clients for a configuration (the caller's client, or a new one). */
export function buildClients(sdk: Sdk, config: ClientConfig, timeoutMs: number): Clients | L2Failure {
  try {
    let client = config.client as DynamoDBClient | undefined;
    if (client === undefined) {
      client = new sdk.ddb.DynamoDBClient({
        ...(config.region ? { region: config.region } : {}),
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
        maxAttempts: 2,
        // Options for the SDK's own NodeHttpHandler (from @smithy/node-http-handler, which the SDK
        // depends on): importing that package here would make bundlers inline it. Without
        // `throwOnRequestTimeout` a request over `requestTimeout` only logs a warning.
        requestHandler: {
          connectionTimeout: timeoutMs,
          requestTimeout: timeoutMs,
          throwOnRequestTimeout: true,
          logger: { debug() {}, info() {}, warn() {}, error() {} },
        } as never,
      });
    }
    const doc = sdk.doc.DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    return { sdk, client, doc };
  } catch (error) {
    return classify(error);
  }
}

/** Sends one request, bounded by `timeoutMs` whatever the SDK does. */
export async function sendWithin<O>(client: Sender<O>, command: unknown, timeoutMs: number): Promise<O> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new L2Failure("timeout", `no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([client.send(command as never, { abortSignal: controller.signal }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
