/**
 * Every error this library throws on purpose is a {@link SlackOAuthError} with a stable `code`.
 * Codes are part of the public contract: match on `error.code`, never on the message.
 */
export const ErrorCode = {
  /** A caller passed an argument of the wrong shape (missing ids, wrong types). */
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
