/**
 * The AWS SDK, loaded on first use, and the clients built from it.
 *
 * - `@aws-sdk/client-dynamodb` and `@aws-sdk/lib-dynamodb` are imported by the first operation only, so
 *   programs without a table pay nothing; when they are missing the failure says what to install.
 * - Their names are computed at run time, so bundlers (esbuild, webpack, Rollup, Vite) neither try to
 *   resolve them — an application without the optional SDK bundles — nor inline them: the bundled
 *   program loads them from `node_modules` at run time. A program bundled without `node_modules` hands
 *   the modules over with `JSONCache.useDynamoDBSdk()`.
 * - Every request is bounded by the timeout twice over: by the HTTP handler and by an abort signal, so a
 *   hung server cannot stall a caller whatever the SDK does.
 */
import { CacheOptionsError } from "../../errors.js";
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

/** The SDK's two modules, as a program hands them over (`JSONCache.useDynamoDBSdk`); typed by shape. */
export interface DynamoDBSdkModules {
  /** The exports of `@aws-sdk/client-dynamodb`. */
  clientDynamodb: { readonly DynamoDBClient: abstract new (...args: never[]) => unknown };
  /** The exports of `@aws-sdk/lib-dynamodb`. */
  libDynamodb: { readonly DynamoDBDocumentClient: { from(...args: never[]): unknown } };
}

let given: Sdk | undefined;

/** Uses these modules instead of importing the SDK (for connections not loaded yet). */
export function useDynamoDBSdk(modules: DynamoDBSdkModules): void {
  const { clientDynamodb, libDynamodb } = (modules ?? {}) as Partial<DynamoDBSdkModules>;
  if (typeof clientDynamodb?.DynamoDBClient !== "function" || typeof libDynamodb?.DynamoDBDocumentClient?.from !== "function") {
    throw new CacheOptionsError(
      'JSONCache.useDynamoDBSdk(clientDynamodb, libDynamodb) takes the modules themselves: useDynamoDBSdk(await import("@aws-sdk/client-dynamodb"), await import("@aws-sdk/lib-dynamodb")).',
    );
  }
  given = { ddb: clientDynamodb as unknown as Ddb, doc: libDynamodb as unknown as Doc };
}

/**
 * Imports an optional package by a name bundlers cannot see: built at run time, and marked for
 * webpack and Vite to leave as a native `import()`.
 */
function importOptional(...parts: string[]): Promise<unknown> {
  const specifier = parts.join("/");
  return import(/* webpackIgnore: true */ /* @vite-ignore */ specifier);
}

/** Imports both SDK modules; rejects with the import's error when they are not installed. */
export async function importSdk(): Promise<Sdk> {
  if (given !== undefined) return given;
  const [ddb, doc] = await Promise.all([importOptional("@aws-sdk", "client-dynamodb"), importOptional("@aws-sdk", "lib-dynamodb")]);
  return { ddb: ddb as Ddb, doc: doc as Doc };
}

/** Loads the SDK once; shared by every connection of the process. */
export class SdkLoader {
  #load: Promise<Sdk | L2Failure> | undefined;

  load(): Promise<Sdk | L2Failure> {
    this.#load ??= importSdk().catch(
      (error: unknown) =>
        new L2Failure(
          "sdk-missing",
          `a DynamoDB table is configured but the AWS SDK could not be loaded (${errorText(error)}). Install it: ${INSTALL_HINT} ` +
            "(a program bundled without node_modules passes the modules to JSONCache.useDynamoDBSdk() instead); until then only the local cache is used",
        ),
    );
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
