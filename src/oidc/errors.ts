import { ErrorCode, SlackOAuthError } from "../errors.js";

/** The codes an {@link IdTokenError} can carry. */
export type IdTokenErrorCode =
  | typeof ErrorCode.IdTokenInvalid
  | typeof ErrorCode.IdTokenSignatureInvalid
  | typeof ErrorCode.IdTokenAlgorithmNotAllowed
  | typeof ErrorCode.IdTokenKeyNotFound
  | typeof ErrorCode.IdTokenExpired
  | typeof ErrorCode.IdTokenIssuerMismatch
  | typeof ErrorCode.IdTokenAudienceMismatch
  | typeof ErrorCode.IdTokenNonceMismatch
  | typeof ErrorCode.UserInfoMismatch
  | typeof ErrorCode.JwksUnavailable;

/** Plain-words messages, safe to show on a page (no token, no claim value). */
const ID_TOKEN_MESSAGES: Record<IdTokenErrorCode, string> = {
  [ErrorCode.IdTokenInvalid]: "Slack's sign-in answer is malformed or incomplete, so it cannot be trusted.",
  [ErrorCode.IdTokenSignatureInvalid]:
    "Slack's sign-in answer carries an invalid signature: it may have been tampered with.",
  [ErrorCode.IdTokenAlgorithmNotAllowed]:
    "Slack's sign-in answer is signed with an algorithm this app does not accept.",
  [ErrorCode.IdTokenKeyNotFound]: "Slack's sign-in answer is signed with a key Slack does not publish.",
  [ErrorCode.IdTokenExpired]: "Slack's sign-in answer has expired. Please sign in again.",
  [ErrorCode.IdTokenIssuerMismatch]: "Slack's sign-in answer was issued by someone other than Slack.",
  [ErrorCode.IdTokenAudienceMismatch]: "Slack's sign-in answer was issued for another app.",
  [ErrorCode.IdTokenNonceMismatch]:
    "Slack's sign-in answer does not belong to the sign-in started in this browser (nonce mismatch).",
  [ErrorCode.UserInfoMismatch]: "Slack described a different user than the one who signed in.",
  [ErrorCode.JwksUnavailable]:
    "Slack's signing keys could not be fetched, so the sign-in cannot be verified. Please try again.",
};

/**
 * An id_token (or the keys to check it) failed verification. `code` says which check failed; the message
 * is safe to show; `detail` is the technical reason for logs (never a token or claim value).
 *
 * @example
 * ```ts
 * try {
 *   await verifier.verify(idToken, { nonce });
 * } catch (e) {
 *   if (e instanceof IdTokenError && e.code === ErrorCode.IdTokenExpired) console.warn("stale id_token");
 * }
 * ```
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */
export class IdTokenError extends SlackOAuthError {
  declare readonly code: IdTokenErrorCode;
  /** The technical reason (e.g. jose's message), for logs. */
  readonly detail: string;
  constructor(code: IdTokenErrorCode, detail: string, options?: { cause?: unknown }) {
    super(code, ID_TOKEN_MESSAGES[code], {
      status: code === ErrorCode.JwksUnavailable ? 502 : 401,
      ...(options?.cause === undefined ? {} : { cause: options.cause }),
    });
    this.detail = detail;
  }
}

/**
 * A Sign in with Slack callback or start failed for a reason that is not the id_token itself (state, cookie,
 * cancellation, code exchange, veto). `status` is the HTTP status of its page.
 *
 * @example
 * ```ts
 * const error = new SignInError(ErrorCode.SignInVetoed, "This app refused the sign-in.", { status: 403 });
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export class SignInError extends SlackOAuthError {}
