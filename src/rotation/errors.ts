import { ErrorCode, InvalidResponseError, SlackOAuthError } from "../errors.js";
import type { Installation } from "../model/installation.js";
import { redact } from "../redact.js";
import { SlackApiError, SlackNetworkError, SlackTimeoutError } from "../slack-api/errors.js";

/** The two token families of an installation: the workspace's bot, and each user who granted user scopes. */
export type TokenFamily = "bot" | "user";

/**
 * Why a refresh failed:
 * - `invalid_refresh_token`: Slack refused the refresh token (used already, revoked, app uninstalled):
 *   retrying cannot help, the installation needs a new install;
 * - `slack_error`: another `{ ok: false }` answer (`bad_client_secret`, `internal_error`, …: see `slackError`);
 * - `ratelimited`: HTTP 429 beyond what the client waits for;
 * - `network`: Slack could not be reached, or did not answer with its JSON;
 * - `timeout`: the call took longer than the client's timeout;
 * - `invalid_response`: the answer lacks an access token, or is for the other kind of token;
 * - `no_refresh_token`: the token has expired and there is no refresh token to renew it.
 *
 * @example
 * ```ts
 * const permanent: TokenRefreshFailure[] = ["invalid_refresh_token", "no_refresh_token"];
 * ```
 */
export type TokenRefreshFailure =
  | "invalid_refresh_token"
  | "slack_error"
  | "ratelimited"
  | "network"
  | "timeout"
  | "invalid_response"
  | "no_refresh_token";

/** Where a failed token belongs (ids only). */
export interface TokenOwner {
  enterpriseId?: string | undefined;
  teamId?: string | undefined;
  userId?: string | undefined;
}

/**
 * Constructor input of {@link TokenRefreshError}.
 *
 * @example
 * ```ts
 * const init: TokenRefreshErrorInit = { kind: "bot", reason: "network", teamId: "T0123" };
 * ```
 */
export interface TokenRefreshErrorInit extends TokenOwner {
  kind: TokenFamily;
  reason: TokenRefreshFailure;
  slackError?: string | undefined;
  /** The current token has expired as well: there is no valid token to fall back on. */
  tokenExpired?: boolean | undefined;
  /** From `TokenRotator.rotate`: the installation with the tokens that did refresh (save it!). */
  partial?: Installation | undefined;
  /** Every failure when both tokens of an installation failed (this error is the first of them). */
  errors?: TokenRefreshError[] | undefined;
  /**
   * The operation that failed.
   *
   * @default `refresh`
   */
  operation?: "refresh" | "exchange" | undefined;
  cause?: unknown;
}

const PERMANENT: ReadonlySet<TokenRefreshFailure> = new Set(["invalid_refresh_token", "no_refresh_token"]);

/**
 * A rotating token could not be refreshed (or a long-lived one converted). Match on `reason` and
 * `retryable`; Slack's own code is `slackError`; the original error (`SlackApiError`,
 * `SlackNetworkError`, `SlackTimeoutError`) is the `cause`. Never holds a token.
 *
 * @example
 * ```ts
 * try {
 *   await authorize(context);
 * } catch (e) {
 *   if (e instanceof TokenRefreshError && e.reason === "invalid_refresh_token") {
 *     // the installation's refresh token is dead: ask the workspace to reinstall
 *   }
 * }
 * ```
 * @see https://docs.slack.dev/authentication/using-token-rotation
 */
export class TokenRefreshError extends SlackOAuthError {
  readonly kind: TokenFamily;
  readonly reason: TokenRefreshFailure;
  /** Slack's error code when Slack answered `{ ok: false }` (`invalid_refresh_token`, `ratelimited`, …). */
  readonly slackError?: string;
  /** True when trying again later may succeed (network, timeout, rate limit, Slack's 5xx-like errors). */
  readonly retryable: boolean;
  /** The current token has expired too: nothing valid could be handed out. */
  readonly tokenExpired: boolean;
  readonly enterpriseId?: string;
  readonly teamId?: string;
  readonly userId?: string;
  /**
   * From `TokenRotator.rotate`: the installation with whatever did refresh applied. Persist it: the
   * refresh token it replaced is spent. Not enumerable (it holds tokens).
   */
  declare readonly partial?: Installation;
  /** Both failures, when the bot and the user token both failed. */
  readonly errors?: TokenRefreshError[];
  readonly operation: "refresh" | "exchange";

  constructor(init: TokenRefreshErrorInit) {
    const where = init.teamId ?? init.enterpriseId ?? "an unknown workspace";
    const who =
      init.kind === "user" ? `the user token of ${init.userId ?? "a user"} in ${where}` : `the bot token of ${where}`;
    const op = init.operation === "exchange" ? "Converting" : "Refreshing";
    const detail = init.slackError !== undefined ? `${init.reason} (${init.slackError})` : init.reason;
    const hint = PERMANENT.has(init.reason) ? "; the installation must be reinstalled" : "";
    const expired = init.tokenExpired ? "; the current token has expired" : "";
    super(ErrorCode.TokenRefreshFailed, redact(`${op} ${who} failed: ${detail}${expired}${hint}`), {
      cause: init.cause,
      status: 502,
    });
    this.kind = init.kind;
    this.reason = init.reason;
    if (init.slackError !== undefined) this.slackError = redact(init.slackError);
    this.retryable = !PERMANENT.has(init.reason) && init.reason !== "invalid_response" && !isPermanentSlackError(init);
    this.tokenExpired = init.tokenExpired === true;
    if (init.enterpriseId !== undefined) this.enterpriseId = init.enterpriseId;
    if (init.teamId !== undefined) this.teamId = init.teamId;
    if (init.userId !== undefined) this.userId = init.userId;
    // Holds tokens: not enumerable, so that JSON.stringify(error) or a logger dumping the error's
    // fields never prints them.
    if (init.partial !== undefined)
      Object.defineProperty(this, "partial", { value: init.partial, enumerable: false, writable: false });
    if (init.errors !== undefined) this.errors = init.errors;
    this.operation = init.operation ?? "refresh";
  }

  /**
   * Builds the error for a failed Slack call (`SlackApiError`, `SlackNetworkError`, `SlackTimeoutError`,
   * `InvalidResponseError`); any other error is classified as `network`… unless it is already one of ours.
   *
   * @example
   * ```ts
   * throw TokenRefreshError.from(error, { kind: "bot", teamId: "T0123" });
   * ```
   */
  static from(
    error: unknown,
    init: TokenOwner & { kind: TokenFamily; operation?: "refresh" | "exchange" | undefined },
  ): TokenRefreshError {
    if (error instanceof TokenRefreshError) return error;
    const base = { ...init, cause: error };
    if (error instanceof SlackApiError) {
      const code = error.error;
      const reason: TokenRefreshFailure =
        code === "invalid_refresh_token" || code === "invalid_grant"
          ? "invalid_refresh_token"
          : code === "ratelimited"
            ? "ratelimited"
            : "slack_error";
      return new TokenRefreshError({ ...base, reason, slackError: code });
    }
    if (error instanceof SlackTimeoutError) return new TokenRefreshError({ ...base, reason: "timeout" });
    if (error instanceof SlackNetworkError) return new TokenRefreshError({ ...base, reason: "network" });
    if (error instanceof InvalidResponseError) return new TokenRefreshError({ ...base, reason: "invalid_response" });
    return new TokenRefreshError({ ...base, reason: "network" });
  }

  /**
   * The same error, saying that the current token has expired as well (so nothing valid was returned).
   *
   * @example
   * ```ts
   * throw error.withExpiredToken();
   * ```
   */
  withExpiredToken(): TokenRefreshError {
    if (this.tokenExpired) return this;
    const init: TokenRefreshErrorInit = {
      kind: this.kind,
      reason: this.reason,
      slackError: this.slackError,
      tokenExpired: true,
      enterpriseId: this.enterpriseId,
      teamId: this.teamId,
      userId: this.userId,
      operation: this.operation,
      cause: this.cause,
    };
    if (this.partial !== undefined) init.partial = this.partial;
    if (this.errors !== undefined) init.errors = this.errors;
    return new TokenRefreshError(init);
  }
}

// Slack errors that repeat until someone changes the configuration: retrying is pointless.
const PERMANENT_SLACK = new Set([
  "bad_client_secret",
  "invalid_client_id",
  "invalid_grant_type",
  "invalid_arguments",
  "token_revoked",
  "token_expired",
  "invalid_token",
  "token_already_exchanged",
  "token_rotation_not_enabled",
  "invalid_auth",
  "not_authed",
  "account_inactive",
]);

function isPermanentSlackError(init: TokenRefreshErrorInit): boolean {
  return init.reason === "slack_error" && init.slackError !== undefined && PERMANENT_SLACK.has(init.slackError);
}
