/**
 * Every error this library throws on purpose is a {@link SlackOAuthError} with a stable `code`.
 * Codes are part of the public contract: match on `error.code`, never on the message.
 */
export const ErrorCode = {
  /**
   * A caller passed an argument of the wrong shape (missing ids, wrong types, an option out of range). Thrown
   * as {@link InvalidArgumentError}, or as {@link CodedTypeError} (a `TypeError`) for a call's arguments and options.
   */
  InvalidArgument: "SLACK_OAUTH_INVALID_ARGUMENT",
  /** Slack answered `{ ok: false }` (or HTTP 429 after retries). */
  SlackApi: "SLACK_OAUTH_SLACK_API_ERROR",
  /** Slack could not be reached, or the reply was not Slack's JSON. */
  Network: "SLACK_OAUTH_NETWORK_ERROR",
  /** A call took longer than its timeout. */
  Timeout: "SLACK_OAUTH_TIMEOUT",
  /** A Slack reply lacks what the model needs (e.g. no team and no enterprise). */
  InvalidResponse: "SLACK_OAUTH_INVALID_RESPONSE",
  /** A store could not read or write. */
  Store: "SLACK_OAUTH_STORE_ERROR",
  /** A state value is malformed, unknown, expired or already used. */
  StateInvalid: "SLACK_OAUTH_STATE_INVALID",
  /** Configuration is missing or malformed (empty signing secret, bad option). */
  Config: "SLACK_OAUTH_CONFIG_ERROR",
  /** The database schema is newer than this version of the library knows (upgrade the library). */
  SchemaTooNew: "SLACK_OAUTH_SCHEMA_TOO_NEW",
  /** OAuth callback: the user pressed Cancel on Slack's consent page (`error=access_denied`). */
  InstallCancelled: "SLACK_OAUTH_INSTALL_CANCELLED",
  /** OAuth callback: Slack redirected back with another `error=` value. */
  AuthorizationFailed: "SLACK_OAUTH_AUTHORIZATION_FAILED",
  /** OAuth callback without `code`. */
  MissingCode: "SLACK_OAUTH_MISSING_CODE",
  /** OAuth callback without `state`. */
  StateMissing: "SLACK_OAUTH_STATE_MISSING",
  /** The state was valid once but has expired. */
  StateExpired: "SLACK_OAUTH_STATE_EXPIRED",
  /** The state was already used (a replayed callback). */
  StateReused: "SLACK_OAUTH_STATE_REUSED",
  /** The browser does not carry the state cookie (another browser, cookies blocked, cookie expired). */
  StateCookieMissing: "SLACK_OAUTH_STATE_COOKIE_MISSING",
  /** The state cookie does not match the `state` parameter (a state from another browser). */
  StateCookieMismatch: "SLACK_OAUTH_STATE_COOKIE_MISMATCH",
  /** The state was issued for another app (another client id) than the one whose callback received it. */
  StateWrongApp: "SLACK_OAUTH_STATE_WRONG_APP",
  /**
   * OAuth callback: Slack's `oauth.v2.access` reply names another app (`app_id`) than the one configured:
   * nothing is saved (a credentials mix-up between apps).
   */
  AppMismatch: "SLACK_OAUTH_APP_MISMATCH",
  /**
   * OAuth callback: Slack refused the authorization code as spent (`invalid_code`, `code_already_used`,
   * `code_expired`): the link was already used or is older than Slack's 10 minutes. Start again.
   */
  CodeInvalid: "SLACK_OAUTH_CODE_INVALID",
  /** A `beforeInstallation` hook refused the installation. */
  InstallVetoed: "SLACK_OAUTH_INSTALL_VETOED",
  /** The code exchange, `auth.test` or the store failed: nothing was saved. */
  InstallFailed: "SLACK_OAUTH_INSTALL_FAILED",
  /** The installation was saved, but the app's `afterInstallation` hook failed. */
  AfterInstallationFailed: "SLACK_OAUTH_AFTER_INSTALLATION_FAILED",
  /** `authorize`: no installation matches the request's workspace (not installed, or uninstalled). */
  NotInstalled: "SLACK_OAUTH_NOT_INSTALLED",
  /** The request itself is unacceptable (too long, wrong method). */
  BadRequest: "SLACK_OAUTH_BAD_REQUEST",
  /** Sign in with Slack: the user pressed Cancel on Slack's page (`error=access_denied`). */
  SignInCancelled: "SLACK_OAUTH_SIGN_IN_CANCELLED",
  /** Sign in with Slack: the code exchange (`openid.connect.token`) or `openid.connect.userInfo` failed. */
  SignInFailed: "SLACK_OAUTH_SIGN_IN_FAILED",
  /** Sign in with Slack: the app's `onSignIn` hook refused the user. */
  SignInVetoed: "SLACK_OAUTH_SIGN_IN_VETOED",
  /** The id_token is malformed, lacks a required claim, or is not yet valid (`iat` in the future). */
  IdTokenInvalid: "SLACK_OAUTH_ID_TOKEN_INVALID",
  /** The id_token's signature does not verify (a tampered header or payload, or a forged signature). */
  IdTokenSignatureInvalid: "SLACK_OAUTH_ID_TOKEN_SIGNATURE_INVALID",
  /** The id_token uses an algorithm other than RS256 (`none`, `HS256`…). */
  IdTokenAlgorithmNotAllowed: "SLACK_OAUTH_ID_TOKEN_ALGORITHM_NOT_ALLOWED",
  /** The id_token's `kid` is not in the issuer's JWKS, even after a refetch. */
  IdTokenKeyNotFound: "SLACK_OAUTH_ID_TOKEN_KEY_NOT_FOUND",
  /** The id_token has expired (`exp`, or `iat` too far in the past, beyond the clock tolerance). */
  IdTokenExpired: "SLACK_OAUTH_ID_TOKEN_EXPIRED",
  /** The id_token's `iss` is not the expected issuer. */
  IdTokenIssuerMismatch: "SLACK_OAUTH_ID_TOKEN_ISSUER_MISMATCH",
  /** The id_token's `aud` is not this app's client id. */
  IdTokenAudienceMismatch: "SLACK_OAUTH_ID_TOKEN_AUDIENCE_MISMATCH",
  /** The id_token's `nonce` is missing or differs from the one issued with the state. */
  IdTokenNonceMismatch: "SLACK_OAUTH_ID_TOKEN_NONCE_MISMATCH",
  /** `openid.connect.userInfo` describes another user or workspace than the id_token. */
  UserInfoMismatch: "SLACK_OAUTH_USERINFO_MISMATCH",
  /** The issuer's JWKS could not be fetched or is malformed, and no cached copy can verify the token. */
  JwksUnavailable: "SLACK_OAUTH_JWKS_UNAVAILABLE",
  /** A state-changing request came from another site (`Origin` / `Sec-Fetch-Site` check). */
  CrossSiteRequest: "SLACK_OAUTH_CROSS_SITE_REQUEST",
  /** Operator console: the signed-in Slack user is not one of `CONSOLE_ADMINS`: 403. */
  ConsoleForbidden: "SLACK_OAUTH_CONSOLE_FORBIDDEN",
  /** Operator console: an action's CSRF token is missing or wrong, or its one-time ticket was already used or expired: 403. */
  ConsoleRequestInvalid: "SLACK_OAUTH_CONSOLE_REQUEST_INVALID",
  /** Token rotation: refreshing (or converting) a rotating token failed; see `TokenRefreshError`. */
  TokenRefreshFailed: "SLACK_OAUTH_TOKEN_REFRESH_FAILED",
  /** A per-installation lock could not be taken in time (another process holds it). */
  LockTimeout: "SLACK_OAUTH_LOCK_TIMEOUT",
  /** A stored token could not be decrypted (unknown key id, wrong key, tampered or moved ciphertext). */
  Encryption: "SLACK_OAUTH_ENCRYPTION_ERROR",
  /** A request body is larger than the limit (declared by `Content-Length` or counted while reading): 413. */
  BodyTooLarge: "SLACK_OAUTH_BODY_TOO_LARGE",
  /** A request body did not arrive completely within the read timeout: 408. */
  BodyReadTimeout: "SLACK_OAUTH_BODY_READ_TIMEOUT",
  /** A Lambda adapter got an event it does not serve (not a function URL / API Gateway HTTP event, not a job). */
  UnsupportedEvent: "SLACK_OAUTH_UNSUPPORTED_EVENT",
  /** "Acknowledge, then hand off": handing the work over failed, or a handed-off job is malformed, forged or too old. */
  HandOffFailed: "SLACK_OAUTH_HAND_OFF_FAILED",
  /** Too many install (or sign-in) starts from one client address: 429 with `Retry-After`. */
  RateLimited: "SLACK_OAUTH_RATE_LIMITED",
  /** A state store is at its cap of live states: no new state until some expire (429 with `Retry-After`). */
  StateStoreFull: "SLACK_OAUTH_STATE_STORE_FULL",
  /** An optional peer dependency a feature needs is not installed (e.g. `better-sqlite3` for the SQLite store). */
  MissingDependency: "SLACK_OAUTH_MISSING_DEPENDENCY",
  /** Express adapter: a body parser read the request body before `slackRouter()` (signatures need the raw bytes). */
  BodyAlreadyConsumed: "SLACK_OAUTH_BODY_ALREADY_CONSUMED",
  /** CLI: bad command-line usage (unknown option, missing argument); exit code 2. */
  Usage: "SLACK_OAUTH_USAGE",
  /** Slack emulator: a request to the emulator was refused (its HTTP status and Slack-style error say why). */
  EmulatorRequest: "SLACK_OAUTH_EMULATOR_REQUEST",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error thrown by slack-oauth-kit. */
export class SlackOAuthError extends Error {
  readonly code: ErrorCode;
  /** HTTP status that best describes this error when it reaches an HTTP response. */
  readonly status: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options?.status ?? 500;
  }
}

/**
 * An argument or option of a library call has the wrong type, shape or range (a programming error, found
 * before anything was done). It is a `TypeError`, so `instanceof TypeError` checks keep working, and it
 * carries a stable `code` like every {@link SlackOAuthError} (`SLACK_OAUTH_INVALID_ARGUMENT` unless told
 * otherwise). {@link isCodedError} accepts both.
 *
 * @example
 * ```ts
 * try {
 *   new AuthorizeUrlGenerator({ clientId: "", scopes: [] });
 * } catch (e) {
 *   if (e instanceof CodedTypeError) console.error(e.code); // "SLACK_OAUTH_INVALID_ARGUMENT"
 * }
 * ```
 */
export class CodedTypeError extends TypeError {
  readonly code: ErrorCode;
  /** HTTP status if it reaches a response: 500, since a wrong argument is the program's fault. */
  readonly status: number;
  constructor(message: string, options?: { code?: ErrorCode; cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options?.code ?? ErrorCode.InvalidArgument;
    this.status = options?.status ?? 500;
  }
}

/**
 * True for every error this library throws on purpose: a {@link SlackOAuthError} or a {@link CodedTypeError}
 * (both carry a stable `code` from {@link ErrorCode}).
 *
 * @example
 * ```ts
 * try { await run(); } catch (e) { if (isCodedError(e)) console.error(e.code); else throw e; }
 * ```
 */
export function isCodedError(error: unknown): error is SlackOAuthError | CodedTypeError {
  return error instanceof SlackOAuthError || error instanceof CodedTypeError;
}

/**
 * A feature needs an optional peer dependency that is not installed (the SQLite store needs `better-sqlite3`).
 * `packageName` names it; install it next to slack-oauth-kit.
 *
 * @example
 * ```ts
 * try {
 *   new SQLiteInstallationStore();
 * } catch (e) {
 *   if (e instanceof MissingDependencyError) console.error(`npm install ${e.packageName}`);
 * }
 * ```
 */
export class MissingDependencyError extends SlackOAuthError {
  /** The npm package to install. */
  readonly packageName: string;
  constructor(packageName: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCode.MissingDependency, message, { ...options, status: 500 });
    this.packageName = packageName;
  }
}

/** Invalid input to a library call: nothing was written. */
export class InvalidArgumentError extends SlackOAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidArgument, message, { ...options, status: 400 });
  }
}

/** A Slack reply is missing what we need to build the model. */
export class InvalidResponseError extends SlackOAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidResponse, message, { ...options, status: 502 });
  }
}

/** A store backend failed; the store's data is unchanged. */
export class StoreError extends SlackOAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Store, message, { ...options, status: 500 });
  }
}

/** Misconfiguration detected at construction time. */
export class ConfigError extends SlackOAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Config, message, { ...options, status: 500 });
  }
}

/**
 * A SQL store found a database migrated by a newer version of this library: it refuses to read or
 * write rather than misread the data. Upgrade the library (or point it at another database).
 */
export class SchemaVersionError extends SlackOAuthError {
  /** Highest migration version recorded in the database. */
  readonly databaseVersion: number;
  /** Highest migration version this library knows. */
  readonly supportedVersion: number;
  constructor(databaseVersion: number, supportedVersion: number, table: string) {
    super(
      ErrorCode.SchemaTooNew,
      `database schema version ${databaseVersion} (table ${table}) is newer than this library supports (${supportedVersion}); upgrade slack-oauth-kit`,
    );
    this.databaseVersion = databaseVersion;
    this.supportedVersion = supportedVersion;
  }
}

/**
 * A store's per-key lock (`InstallationStore.withLock`) was not acquired within its timeout: another
 * caller (in this process or another one) held it the whole time. Nothing was done under the lock.
 *
 * @example
 * ```ts
 * try {
 *   await store.withLock?.("rotation/T0123/bot", async () => refresh(), { timeoutMs: 5_000 });
 * } catch (e) {
 *   if (e instanceof LockTimeoutError) console.warn(`busy: ${e.key}`);
 * }
 * ```
 */
export class LockTimeoutError extends SlackOAuthError {
  /** The lock's key (ids only: keys never hold secrets). */
  readonly key: string;
  /** How long the caller waited, in ms. */
  readonly timeoutMs: number;
  constructor(key: string, timeoutMs: number, options?: { cause?: unknown; message?: string }) {
    super(
      ErrorCode.LockTimeout,
      options?.message ?? `lock ${JSON.stringify(key)} not acquired within ${timeoutMs} ms`,
      {
        cause: options?.cause,
        status: 503,
      },
    );
    this.key = key;
    this.timeoutMs = timeoutMs;
  }
}

/** Why an {@link EncryptionError} was thrown. */
export type EncryptionErrorReason = "unknown-key" | "decrypt-failed" | "malformed" | "key-missing";

/**
 * A token stored encrypted (`EncryptedInstallationStore`) could not be decrypted: its key id is not among
 * the configured keys (`unknown-key`), the key is wrong or the ciphertext was tampered with or moved to
 * another installation or field (`decrypt-failed`), or the stored value is not a ciphertext this library
 * wrote (`malformed`), or a store that holds encrypted tokens was opened without any key (`key-missing`:
 * set `SLACK_TOKEN_ENCRYPTION_KEY`). Names the key id and field, never a key or a token. Nothing was changed.
 *
 * @example
 * ```ts
 * try {
 *   await store.findBot({ teamId: "T0123" });
 * } catch (e) {
 *   if (e instanceof EncryptionError) console.error(`cannot decrypt with key ${e.keyId}: ${e.reason}`);
 * }
 * ```
 */
export class EncryptionError extends SlackOAuthError {
  /** Id of the key the value was encrypted with (when it could be read). */
  readonly keyId: string | undefined;
  /** Why decryption failed. */
  readonly reason: EncryptionErrorReason;
  constructor(
    reason: EncryptionErrorReason,
    message: string,
    options?: { keyId?: string | undefined; cause?: unknown },
  ) {
    super(ErrorCode.Encryption, message, { cause: options?.cause, status: 500 });
    this.reason = reason;
    this.keyId = options?.keyId;
  }
}
