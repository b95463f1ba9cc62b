/**
 * What can go wrong between this process and DynamoDB, as values: every operation of the tier resolves
 * to an `L2Outcome`, and every SDK or network error is classified here into one `L2FailureReason`.
 */

/**
 * Why an operation did not reach DynamoDB or did not complete:
 * - `sdk-missing`: the AWS SDK packages are not installed (permanent for the process).
 * - `timeout`, `unreachable`, `throttled`, `access-denied`, `credentials`, `region`, `server-error`:
 *   DynamoDB cannot be used right now; the breaker is open for a cool-down.
 * - `circuit-open`: refused without trying, during a cool-down after one of the above.
 * - `table-not-ready`: the table is being checked or created; try later.
 * - `table-missing`: the table disappeared; it is checked (and re-created) again by the next operation.
 * - `table-schema`: the table exists with another key schema (permanent).
 * - `table-name`: the name is not a valid DynamoDB table name (permanent).
 * - `closed`: the tier was closed.
 * - `error`: DynamoDB rejected this request (e.g. a validation error); other requests may work.
 */
export type L2FailureReason =
  | "sdk-missing"
  | "timeout"
  | "unreachable"
  | "throttled"
  | "access-denied"
  | "credentials"
  | "region"
  | "server-error"
  | "circuit-open"
  | "table-not-ready"
  | "table-missing"
  | "table-schema"
  | "table-name"
  | "closed"
  | "error";

export type L2Outcome<T> = { ok: true; value: T } | { ok: false; reason: L2FailureReason; message: string };

/** Causes after which DynamoDB is considered unusable for a cool-down. */
export const BREAKER_CAUSES: ReadonlySet<L2FailureReason> = new Set<L2FailureReason>([
  "timeout", "unreachable", "throttled", "access-denied", "credentials", "region", "server-error", "sdk-missing",
]);

/** Causes that no retry in this process can cure: what failed for them is not worth keeping. */
export const PERMANENT_CAUSES: ReadonlySet<L2FailureReason> = new Set<L2FailureReason>(["sdk-missing", "table-schema", "table-name", "closed", "error"]);

export class L2Failure extends Error {
  constructor(
    readonly reason: L2FailureReason,
    message: string,
  ) {
    super(message);
  }
}

export function failureOutcome(f: L2Failure): { ok: false; reason: L2FailureReason; message: string } {
  return { ok: false, reason: f.reason, message: f.message };
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ECONNABORTED", "EPROTO"]);
const THROTTLING = new Set(["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "LimitExceededException"]);
const DENIED = new Set([
  "AccessDeniedException",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "ExpiredTokenException",
  "MissingAuthenticationTokenException",
  "InvalidClientTokenId",
  "IncompleteSignatureException",
]);

/** Maps an SDK or network error to a failure reason. */
export function classify(error: unknown): L2Failure {
  if (error instanceof L2Failure) return error;
  const name = errorName(error);
  const text = errorText(error);
  const code = errorCode(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  if (name === "TimeoutError" || name === "AbortError" || name === "RequestTimeout" || code === "ETIMEDOUT" || code === "ESOCKETTIMEDOUT") {
    return new L2Failure("timeout", `no answer in time (${text})`);
  }
  if ((code && NETWORK_CODES.has(code)) || /socket hang up|ECONNREFUSED|ECONNRESET/i.test(text)) return new L2Failure("unreachable", `cannot connect (${text})`);
  if (THROTTLING.has(name)) return new L2Failure("throttled", `throttled (${name})`);
  if (DENIED.has(name) || status === 403) return new L2Failure("access-denied", `access denied (${name}: ${text})`);
  if (name === "CredentialsProviderError" || /could not load credentials|credential/i.test(text)) {
    return new L2Failure("credentials", `no AWS credentials (${text}); set them as for any AWS SDK program (environment, profile, role)`);
  }
  if (/region/i.test(text) && /missing|not (?:set|found|configured)|required/i.test(text)) {
    return new L2Failure("region", `no AWS region (${text}); set AWS_REGION or the region option`);
  }
  if (name === "ResourceNotFoundException") return new L2Failure("table-missing", "the table does not exist (any more); it will be checked again");
  if ((status !== undefined && status >= 500) || name === "InternalServerError" || name === "ServiceUnavailable") {
    return new L2Failure("server-error", `DynamoDB failed (${name}: ${text})`);
  }
  return new L2Failure("error", `${name}: ${text}`);
}

export function errorName(error: unknown): string {
  return typeof error === "object" && error !== null && typeof (error as { name?: unknown }).name === "string" ? (error as { name: string }).name : "Error";
}

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; typeof e === "object" && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
