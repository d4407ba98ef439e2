import { ErrorCode, SlackOAuthError } from "../errors.js";
import { redact } from "../redact.js";

/**
 * Slack answered `{ ok: false, error }` (or kept answering HTTP 429 until the retries ran out, in which
 * case `error` is `"ratelimited"` and `retryAfter` is set).
 *
 * Match on `error.error` (Slack's own code, e.g. `"invalid_code"`), never on the message. Nothing secret
 * is kept: the message is redacted and `data` is the reply with token-like fields masked.
 *
 * @example
 * ```ts
 * try {
 *   await client.oauthV2Access({ clientId, clientSecret, code });
 * } catch (e) {
 *   if (e instanceof SlackApiError && e.error === "invalid_code") {
 *     // the code was already used or has expired: restart the install
 *   }
 * }
 * ```
 * @see https://docs.slack.dev/apis/web-api/#responses
 */
export class SlackApiError extends SlackOAuthError {
  /** Slack's error code string, e.g. `"invalid_code"`, `"token_revoked"`, `"ratelimited"`. */
  readonly error: string;
  /** The Web API method, e.g. `"oauth.v2.access"`. */
  readonly method: string;
  /** The HTTP status of the reply (200 for ordinary `ok: false` replies, 429 when rate limited). */
  readonly httpStatus: number;
  /** Seconds Slack asked us to wait (HTTP 429 `Retry-After`). */
  readonly retryAfter?: number;
  /** Scopes the call needed (`missing_scope` replies). */
  readonly needed?: string;
  /** Scopes the token has (`missing_scope` replies). */
  readonly provided?: string;
  /** The reply body with every token, secret and code masked. */
  readonly data?: Record<string, unknown>;

  constructor(init: {
    method: string;
    error: string;
    httpStatus: number;
    retryAfter?: number | undefined;
    needed?: string | undefined;
    provided?: string | undefined;
    data?: Record<string, unknown> | undefined;
  }) {
    const error = redact(init.error);
    const method = redact(init.method);
    let message = `Slack API ${method} failed: ${error} (HTTP ${init.httpStatus})`;
    if (init.needed !== undefined) message += `; needed: ${init.needed}`;
    if (init.provided !== undefined) message += `; provided: ${init.provided}`;
    if (init.retryAfter !== undefined) message += `; retry after ${init.retryAfter}s`;
    super(ErrorCode.SlackApi, redact(message), { status: init.httpStatus === 429 ? 503 : 502 });
    this.error = error;
    this.method = method;
    this.httpStatus = init.httpStatus;
    if (init.retryAfter !== undefined) this.retryAfter = init.retryAfter;
    if (init.needed !== undefined) this.needed = redact(init.needed);
    if (init.provided !== undefined) this.provided = redact(init.provided);
    if (init.data !== undefined) this.data = sanitizeReply(init.data);
  }
}

/**
 * Slack could not be reached (DNS, refused or reset connection, TLS), or it answered something that is
 * not Slack's JSON (an HTML error page from a proxy, an empty body). The original error, if any, is the
 * `cause`; `httpStatus` is set when an HTTP reply was received.
 *
 * @example
 * ```ts
 * try {
 *   await client.authTest(token);
 * } catch (e) {
 *   if (e instanceof SlackNetworkError) console.warn("Slack unreachable", e.httpStatus);
 * }
 * ```
 * @see https://docs.slack.dev/apis/web-api/
 */
export class SlackNetworkError extends SlackOAuthError {
  /** The Web API method, e.g. `"auth.test"`. */
  readonly method: string;
  /** The HTTP status when a (non-JSON) reply was received; absent when no reply arrived at all. */
  readonly httpStatus?: number;

  constructor(init: { method: string; reason: string; httpStatus?: number | undefined; cause?: unknown }) {
    const method = redact(init.method);
    const status = init.httpStatus === undefined ? "" : ` (HTTP ${init.httpStatus})`;
    super(ErrorCode.Network, redact(`Slack API ${method} failed: ${init.reason}${status}`), {
      cause: init.cause,
      status: 502,
    });
    this.method = method;
    if (init.httpStatus !== undefined) this.httpStatus = init.httpStatus;
  }
}

/**
 * A Slack API call took longer than the client's `timeoutMs` (per attempt) and was aborted.
 *
 * @example
 * ```ts
 * const client = new SlackApiClient({ timeoutMs: 2_000 });
 * try {
 *   await client.authTest(token);
 * } catch (e) {
 *   if (e instanceof SlackTimeoutError) console.warn(`${e.method} timed out after ${e.timeoutMs} ms`);
 * }
 * ```
 * @see https://docs.slack.dev/apis/web-api/
 */
export class SlackTimeoutError extends SlackOAuthError {
  /** The Web API method, e.g. `"auth.test"`. */
  readonly method: string;
  /** The per-attempt timeout that was exceeded, in milliseconds. */
  readonly timeoutMs: number;

  constructor(init: { method: string; timeoutMs: number; cause?: unknown }) {
    const method = redact(init.method);
    super(ErrorCode.Timeout, redact(`Slack API ${method} timed out after ${init.timeoutMs} ms`), {
      cause: init.cause,
      status: 504,
    });
    this.method = method;
    this.timeoutMs = init.timeoutMs;
  }
}

// Keys whose values are credentials in Slack replies and requests (access_token, refresh_token,
// id_token, bot_access_token, client_secret, code, code_verifier, token, …).
const SENSITIVE_KEY = /(?:^|_)(?:token|tokens|secret|code|verifier|password|authorization)(?:$|_)/i;
const MAX_DEPTH = 6;

/**
 * Returns a deep copy of a Slack reply with every credential-like field masked and every string
 * redacted, safe to keep on an error or to log.
 */
export function sanitizeReply(reply: Record<string, unknown>): Record<string, unknown> {
  return sanitize(reply, 0) as Record<string, unknown>;
}

function sanitize(value: unknown, depth: number): unknown {
  if (typeof value === "string") return redact(value);
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[…]";
  if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // `token_type` ("bot"/"user") is not a credential and is useful when debugging.
    out[k] =
      SENSITIVE_KEY.test(k) && k !== "token_type" && v !== null && v !== undefined ? "****" : sanitize(v, depth + 1);
  }
  return out;
}
