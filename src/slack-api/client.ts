import { CodedTypeError } from "../errors.js";
import { type Logger, redact, registerSecret, silentLogger } from "../redact.js";
import { SlackApiError, SlackNetworkError, SlackTimeoutError } from "./errors.js";
import { scrubString, scrubValue } from "./scrub.js";
import {
  fetchIsCustomised,
  fetchTransport,
  isNodeLike,
  nodeTransport,
  type Transport,
  type TransportRequest,
} from "./transport.js";
import type {
  AppsUninstallResponse,
  AuthRevokeResponse,
  AuthTeamsListResponse,
  AuthTestResponse,
  ChatPostMessageResponse,
  OAuthAccessResponse,
  OAuthV2AccessResponse,
  OAuthV2ExchangeResponse,
  OAuthV2RefreshResponse,
  OpenIDConnectTokenResponse,
  OpenIDConnectUserInfoResponse,
  SlackApiResponse,
  ViewsOpenResponse,
} from "./types.js";

/** Slack's Web API base URL. */
export const DEFAULT_SLACK_API_URL = "https://slack.com/api/";
/** The `User-Agent` sent when none is configured. */
export const DEFAULT_USER_AGENT = "slack-oauth-kit";

/**
 * Options of {@link SlackApiClient}.
 *
 * @example
 * ```ts
 * const options: SlackApiClientOptions = { baseUrl: "http://127.0.0.1:3001/api/", timeoutMs: 5_000 };
 * const client = new SlackApiClient(options);
 * ```
 * @see https://docs.slack.dev/apis/web-api/
 */
export interface SlackApiClientOptions {
  /** Web API base URL, with or without the trailing slash. Default `https://slack.com/api/`. */
  baseUrl?: string | undefined;
  /** Timeout of each attempt (request + reading the reply), in ms. Default 10 000. */
  timeoutMs?: number | undefined;
  /** How many times a failed call may be repeated (see the retry policy on {@link SlackApiClient}). Default 2. */
  maxRetries?: number | undefined;
  /**
   * The `fetch` to use (any WHATWG-compatible implementation). Default: on Node, Node's own `http`/`https`
   * with keep-alive (several times cheaper than Node's fetch per call); elsewhere, or when
   * `globalThis.fetch` has been replaced (a test double, an interceptor), `globalThis.fetch`.
   */
  fetch?: typeof fetch | undefined;
  /** Where retries and failures are reported. Every line is redacted. Default: silent. */
  logger?: Logger | undefined;
  /** `User-Agent` header. Default `slack-oauth-kit`. */
  userAgent?: string | undefined;
  /** Retry HTTP 5xx replies of methods that are safe to repeat. Default true. */
  retryOn5xx?: boolean | undefined;
  /**
   * Longest `Retry-After` (seconds) the client will wait before repeating a rate-limited call. When Slack
   * asks for longer, the call fails at once with `SlackApiError` `ratelimited` and `retryAfter` set, so
   * the caller decides. Default 30.
   */
  maxRetryAfterSeconds?: number | undefined;
  /** First backoff delay after a 5xx or network error, in ms; doubled each time, with jitter. Default 500. */
  retryBaseDelayMs?: number | undefined;
}

/**
 * Per-call options of {@link SlackApiClient.call}.
 *
 * @example
 * ```ts
 * await client.call("conversations.info", { channel: "C123" }, { token, idempotent: true });
 * ```
 * @see https://docs.slack.dev/apis/web-api/
 */
export interface CallOptions {
  /** Sent as `Authorization: Bearer <token>`; never in the URL or the body. */
  token?: string | undefined;
  /** Send the arguments as JSON (`application/json; charset=utf-8`) instead of a form. Default false. */
  json?: boolean | undefined;
  /**
   * True when repeating the call after Slack may already have processed it is harmless (reads). Only
   * such calls are retried after a 5xx, a timeout or a connection lost mid-request. Default false.
   */
  idempotent?: boolean | undefined;
  /** Aborts the call (and any wait between retries); the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/**
 * Arguments of {@link SlackApiClient.oauthV2Access}.
 *
 * @example
 * ```ts
 * const args: OAuthV2AccessArgs = { clientId, clientSecret, code, redirectUri: "https://example.com/slack/oauth_redirect" };
 * ```
 * @see https://docs.slack.dev/reference/methods/oauth.v2.access
 */
export interface OAuthV2AccessArgs {
  clientId: string;
  /** Omit only for a PKCE public client (then `codeVerifier` is required). */
  clientSecret?: string | undefined;
  code: string;
  /** Must be identical to the `redirect_uri` sent to the authorize URL, if one was sent. */
  redirectUri?: string | undefined;
  /** PKCE code verifier matching the `code_challenge` sent to the authorize URL. */
  codeVerifier?: string | undefined;
}

/**
 * Arguments of {@link SlackApiClient.oauthV2Refresh}.
 *
 * @example
 * ```ts
 * const args: OAuthV2RefreshArgs = { clientId, clientSecret, refreshToken: installation.botRefreshToken! };
 * ```
 * @see https://docs.slack.dev/authentication/using-token-rotation
 */
export interface OAuthV2RefreshArgs {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

/**
 * Arguments of {@link SlackApiClient.oauthAccess} (legacy v1 apps).
 *
 * @example
 * ```ts
 * const args: OAuthAccessArgs = { clientId, clientSecret, code };
 * ```
 * @see https://docs.slack.dev/reference/methods/oauth.access
 */
export interface OAuthAccessArgs {
  clientId: string;
  clientSecret: string;
  code: string;
  redirectUri?: string | undefined;
}

/**
 * Arguments of {@link SlackApiClient.oauthV2Exchange}.
 *
 * @example
 * ```ts
 * const args: OAuthV2ExchangeArgs = { clientId, clientSecret, token: legacyBotToken };
 * ```
 * @see https://docs.slack.dev/reference/methods/oauth.v2.exchange
 */
export interface OAuthV2ExchangeArgs {
  clientId: string;
  clientSecret: string;
  /** The long-lived `xoxb-`/`xoxp-` token to convert. */
  token: string;
}

/**
 * Arguments of {@link SlackApiClient.appsUninstall}.
 *
 * @example
 * ```ts
 * const args: AppsUninstallArgs = { token: botToken, clientId, clientSecret };
 * ```
 * @see https://docs.slack.dev/reference/methods/apps.uninstall
 */
export interface AppsUninstallArgs {
  token: string;
  clientId: string;
  clientSecret: string;
}

/**
 * Arguments of {@link SlackApiClient.openidConnectToken}.
 *
 * @example
 * ```ts
 * const args: OpenIDConnectTokenArgs = { clientId, clientSecret, code, redirectUri };
 * ```
 * @see https://docs.slack.dev/reference/methods/openid.connect.token
 */
export interface OpenIDConnectTokenArgs {
  clientId: string;
  clientSecret: string;
  code?: string | undefined;
  redirectUri?: string | undefined;
  /** `authorization_code` (default when `code` is given) or `refresh_token` (default when `refreshToken` is). */
  grantType?: "authorization_code" | "refresh_token" | undefined;
  refreshToken?: string | undefined;
}

/**
 * Arguments of {@link SlackApiClient.viewsOpen}. Exactly one of `triggerId` and `interactivityPointer`.
 *
 * @example
 * ```ts
 * const args: ViewsOpenArgs = { triggerId, view: { type: "modal", title: { type: "plain_text", text: "Hi" }, blocks: [] } };
 * ```
 * @see https://docs.slack.dev/reference/methods/views.open
 */
export interface ViewsOpenArgs {
  triggerId?: string | undefined;
  interactivityPointer?: string | undefined;
  view: Record<string, unknown>;
}

/**
 * Arguments of {@link SlackApiClient.chatPostMessage}. At least one of `text`, `blocks`, `attachments`.
 *
 * @example
 * ```ts
 * const args: ChatPostMessageArgs = { channel: "C123", text: "Installed!", threadTs: "1700000000.000100" };
 * ```
 * @see https://docs.slack.dev/reference/methods/chat.postMessage
 */
export interface ChatPostMessageArgs {
  channel: string;
  text?: string | undefined;
  blocks?: unknown[] | undefined;
  attachments?: unknown[] | undefined;
  threadTs?: string | undefined;
  replyBroadcast?: boolean | undefined;
  mrkdwn?: boolean | undefined;
  unfurlLinks?: boolean | undefined;
  unfurlMedia?: boolean | undefined;
  username?: string | undefined;
  iconEmoji?: string | undefined;
  iconUrl?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  /** Any other `chat.postMessage` argument, in Slack's snake_case. */
  extra?: Record<string, unknown> | undefined;
}

interface RequestSpec {
  method: string;
  body: { kind: "form"; params: URLSearchParams } | { kind: "json"; value: unknown };
  token?: string | undefined;
  basic?: { id: string; secret: string } | undefined;
  idempotent: boolean;
  signal?: AbortSignal | undefined;
}

type Outcome =
  | {
      kind: "response";
      status: number;
      headers: { get(name: string): string | null };
      body: Record<string, unknown> | undefined;
      parseError?: unknown;
    }
  | { kind: "network"; cause: unknown; mayHaveReachedSlack: boolean }
  | { kind: "timeout"; cause: unknown };

// Request fields holding credentials: their values are scrubbed from anything Slack sends back.
const SECRET_FIELD_RE = /(?:^|_)(?:token|secret|code|verifier|password)(?:$|_)/i;
const ERROR_CODE_RE = /^[A-Za-z0-9_.:-]{1,100}$/;
const SCOPES_RE = /^[A-Za-z0-9_.:,-]{1,2000}$/;
const METHOD_RE = /^[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)+$/;
// Printable ASCII without spaces: keeps a credential from breaking (or being echoed by) header validation.
const CREDENTIAL_RE = /^[\x21-\x7e]+$/;
// Error codes meaning the connection was never established, so Slack cannot have seen the request.
const NOT_CONNECTED_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);
const MAX_BACKOFF_MS = 30_000;

/** `globalThis.fetch` as this module found it: a different one at call time means someone replaced it. */
const NATIVE_FETCH = globalThis.fetch;
const NODE_TRANSPORT = isNodeLike() ? nodeTransport() : undefined;
/**
 * The default transport: Node's `http` on Node (much cheaper than fetch there), unless fetch has been set
 * up to go elsewhere — `globalThis.fetch` replaced since this module loaded, or an undici global dispatcher
 * such as a `MockAgent` or a `ProxyAgent` (see {@link fetchIsCustomised}): then fetch is used, as it is on
 * every other runtime. Decided per call.
 */
const defaultTransport: Transport = (url, request) =>
  NODE_TRANSPORT !== undefined && !fetchIsCustomised(NATIVE_FETCH)
    ? NODE_TRANSPORT(url, request)
    : fetchTransport(globalThis.fetch)(url, request);

/**
 * A small Slack Web API client: the calls an OAuth installation needs, with per-attempt timeouts, bounded
 * retries and typed errors. No runtime dependencies: Node's `http` on Node, any `fetch` elsewhere.
 *
 * Retry policy (at most `maxRetries` repeats):
 * - HTTP 429 is retried for every method, after `Retry-After` seconds: Slack did not process the call.
 *   When `Retry-After` exceeds `maxRetryAfterSeconds`, or retries run out, it throws `SlackApiError`
 *   `ratelimited` with `retryAfter`.
 * - A connection that was never established (ECONNREFUSED, DNS failure, connect timeout) is retried for
 *   every method, with exponential backoff and jitter: the request cannot have reached Slack.
 * - HTTP 5xx, timeouts and connections lost mid-request are retried only for methods that are safe to
 *   repeat (`auth.test`, `openid.connect.userInfo`, `auth.revoke` with `test`, or `call(..., { idempotent: true })`).
 *   They are NOT retried for grants and side effects: an authorization code, a refresh token and a
 *   `trigger_id` are single-use, so once Slack may have processed the first request a repeat can only fail
 *   (`invalid_code`, `invalid_refresh_token`, `exchanged_trigger_id`) and would hide the real outcome;
 *   repeating `chat.postMessage` could post twice, and repeating `auth.revoke`/`apps.uninstall` after
 *   success would report a misleading `invalid_auth`.
 *
 * Credentials: client credentials go in HTTP Basic auth where Slack accepts it (`oauth.v2.access`,
 * `openid.connect.token`); tokens go in `Authorization: Bearer`. Nothing secret is logged or put in an
 * error message. Redirects are refused, so a client secret in a body is never replayed to another host.
 *
 * @example
 * ```ts
 * const client = new SlackApiClient({ baseUrl: process.env.SLACK_API_URL });
 * const reply = await client.oauthV2Access({ clientId, clientSecret, code, redirectUri });
 * const who = await client.authTest(reply.access_token!);
 * ```
 * @see https://docs.slack.dev/apis/web-api/
 * @see https://docs.slack.dev/apis/web-api/rate-limits
 */
export class SlackApiClient {
  /** The normalised base URL (always ends with `/`). */
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  private readonly transport: Transport;
  private readonly logger: Logger;
  private readonly userAgent: string;
  private readonly retryOn5xx: boolean;
  private readonly maxRetryAfterSeconds: number;
  private readonly retryBaseDelayMs: number;

  constructor(options: SlackApiClientOptions = {}) {
    this.baseUrl = normaliseBaseUrl(options.baseUrl ?? DEFAULT_SLACK_API_URL);
    this.timeoutMs = checkNumber("timeoutMs", options.timeoutMs ?? 10_000, { min: 1 });
    this.maxRetries = checkNumber("maxRetries", options.maxRetries ?? 2, { min: 0, integer: true });
    this.maxRetryAfterSeconds = checkNumber("maxRetryAfterSeconds", options.maxRetryAfterSeconds ?? 30, { min: 0 });
    this.retryBaseDelayMs = checkNumber("retryBaseDelayMs", options.retryBaseDelayMs ?? 500, { min: 0 });
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new CodedTypeError("SlackApiClient: no fetch available; pass options.fetch");
    this.transport = options.fetch ? fetchTransport(options.fetch) : defaultTransport;
    this.logger = options.logger ?? silentLogger;
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.retryOn5xx = options.retryOn5xx ?? true;
  }

  /**
   * Exchanges an authorization code for tokens (`oauth.v2.access`). The code is single-use, so this call
   * is not repeated after Slack may have processed it (see the class's retry policy).
   *
   * With a `clientSecret`, the client authenticates with HTTP Basic. Without one, a `codeVerifier` is
   * required and `client_id` goes in the body (PKCE public client).
   *
   * @example
   * ```ts
   * const reply = await client.oauthV2Access({ clientId, clientSecret, code, redirectUri });
   * const installation = installationFromV2Response(reply);
   * ```
   * @see https://docs.slack.dev/reference/methods/oauth.v2.access
   */
  async oauthV2Access(args: OAuthV2AccessArgs): Promise<OAuthV2AccessResponse> {
    const method = "oauth.v2.access";
    requireString(method, "clientId", args.clientId);
    requireString(method, "code", args.code);
    const params = new URLSearchParams();
    params.set("code", args.code);
    setIf(params, "redirect_uri", optionalString(method, "redirectUri", args.redirectUri));
    const verifier = optionalString(method, "codeVerifier", args.codeVerifier);
    setIf(params, "code_verifier", verifier);
    const secret = optionalString(method, "clientSecret", args.clientSecret);
    let basic: RequestSpec["basic"];
    if (secret !== undefined) {
      basic = { id: args.clientId, secret };
    } else if (verifier !== undefined) {
      params.set("client_id", args.clientId);
    } else {
      throw new CodedTypeError(`${method}: expected clientSecret, or codeVerifier for a PKCE public client`);
    }
    return this.request({ method, body: { kind: "form", params }, basic, idempotent: false });
  }

  /**
   * Refreshes a rotating token (`oauth.v2.access` with `grant_type=refresh_token`). Refresh tokens are
   * single-use: callers must serialise refreshes per installation; this call is never repeated after
   * Slack may have processed it.
   *
   * @example
   * ```ts
   * const reply = await client.oauthV2Refresh({ clientId, clientSecret, refreshToken });
   * const next = applyRefreshResponse(installation, reply);
   * ```
   * @see https://docs.slack.dev/authentication/using-token-rotation
   */
  async oauthV2Refresh(args: OAuthV2RefreshArgs): Promise<OAuthV2RefreshResponse> {
    const method = "oauth.v2.access";
    requireString(method, "clientId", args.clientId);
    requireString(method, "clientSecret", args.clientSecret);
    requireString(method, "refreshToken", args.refreshToken);
    const params = new URLSearchParams({ grant_type: "refresh_token", refresh_token: args.refreshToken });
    return this.request({
      method,
      body: { kind: "form", params },
      basic: { id: args.clientId, secret: args.clientSecret },
      idempotent: false,
    });
  }

  /**
   * Exchanges a code with the legacy v1 `oauth.access`. Credentials go in the body, as the legacy method
   * documents them.
   *
   * @example
   * ```ts
   * const reply = await client.oauthAccess({ clientId, clientSecret, code });
   * const installation = installationFromV1Response(reply);
   * ```
   * @see https://docs.slack.dev/reference/methods/oauth.access
   */
  async oauthAccess(args: OAuthAccessArgs): Promise<OAuthAccessResponse> {
    const method = "oauth.access";
    requireString(method, "clientId", args.clientId);
    requireString(method, "clientSecret", args.clientSecret);
    requireString(method, "code", args.code);
    registerSecret(args.clientSecret);
    const params = new URLSearchParams({ client_id: args.clientId, client_secret: args.clientSecret, code: args.code });
    setIf(params, "redirect_uri", optionalString(method, "redirectUri", args.redirectUri));
    return this.request({ method, body: { kind: "form", params }, idempotent: false });
  }

  /**
   * Converts a long-lived token to a rotating one (`oauth.v2.exchange`). The token to convert is sent as
   * `Authorization: Bearer` (Slack reads a method's `token` argument from that header), the client
   * credentials in the body. Not repeated after Slack may have processed it: the exchange happens once.
   *
   * @example
   * ```ts
   * const reply = await client.oauthV2Exchange({ clientId, clientSecret, token: legacyToken });
   * ```
   * @see https://docs.slack.dev/reference/methods/oauth.v2.exchange
   */
  async oauthV2Exchange(args: OAuthV2ExchangeArgs): Promise<OAuthV2ExchangeResponse> {
    const method = "oauth.v2.exchange";
    requireString(method, "clientId", args.clientId);
    requireString(method, "clientSecret", args.clientSecret);
    registerSecret(args.clientSecret);
    const params = new URLSearchParams({ client_id: args.clientId, client_secret: args.clientSecret });
    return this.request({ method, body: { kind: "form", params }, token: args.token, idempotent: false });
  }

  /**
   * Tells who a token belongs to (`auth.test`): team, user, bot id, org URL. Safe to repeat.
   *
   * @example
   * ```ts
   * const { bot_id, url } = await client.authTest(botToken);
   * ```
   * @see https://docs.slack.dev/reference/methods/auth.test
   */
  async authTest(token: string): Promise<AuthTestResponse> {
    return this.request({ method: "auth.test", body: emptyForm(), token, idempotent: true });
  }

  /**
   * One page of the workspaces a token may act in (`auth.teams.list`): for an org-wide installation, the
   * org's workspaces the app was added to. Pass `response_metadata.next_cursor` as `cursor` for the next
   * page (an empty cursor: the last page).
   *
   * @example
   * ```ts
   * const { teams } = await client.authTeamsList(orgBotToken, { limit: 200 });
   * ```
   * @see https://docs.slack.dev/reference/methods/auth.teams.list
   */
  async authTeamsList(
    token: string,
    options: { cursor?: string | undefined; limit?: number | undefined } = {},
  ): Promise<AuthTeamsListResponse> {
    const method = "auth.teams.list";
    const params = new URLSearchParams();
    const cursor = optionalString(method, "cursor", options.cursor);
    if (cursor !== undefined) params.set("cursor", cursor);
    if (options.limit !== undefined) {
      if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > 1000)
        throw new CodedTypeError(`${method}: limit must be an integer from 1 to 1000`);
      params.set("limit", String(options.limit));
    }
    return this.request({ method, body: { kind: "form", params }, token, idempotent: true });
  }

  /**
   * Revokes a token (`auth.revoke`); with `test: true` only checks that it could (sends `test=1`).
   *
   * @example
   * ```ts
   * const { revoked } = await client.authRevoke(userToken);
   * ```
   * @see https://docs.slack.dev/reference/methods/auth.revoke
   */
  async authRevoke(token: string, options: { test?: boolean | undefined } = {}): Promise<AuthRevokeResponse> {
    const params = new URLSearchParams();
    if (options.test) params.set("test", "1");
    return this.request({ method: "auth.revoke", body: { kind: "form", params }, token, idempotent: !!options.test });
  }

  /**
   * Uninstalls the app from the token's workspace (`apps.uninstall`), revoking all its tokens. The token
   * goes in `Authorization: Bearer`, the client credentials in the body.
   *
   * @example
   * ```ts
   * await client.appsUninstall({ token: botToken, clientId, clientSecret });
   * ```
   * @see https://docs.slack.dev/reference/methods/apps.uninstall
   */
  async appsUninstall(args: AppsUninstallArgs): Promise<AppsUninstallResponse> {
    const method = "apps.uninstall";
    requireString(method, "clientId", args.clientId);
    requireString(method, "clientSecret", args.clientSecret);
    registerSecret(args.clientSecret);
    const params = new URLSearchParams({ client_id: args.clientId, client_secret: args.clientSecret });
    return this.request({ method, body: { kind: "form", params }, token: args.token, idempotent: false });
  }

  /**
   * Exchanges a Sign in with Slack code (or refresh token) for tokens and an `id_token`
   * (`openid.connect.token`), authenticating with HTTP Basic (`client_secret_basic`). Single-use grant:
   * not repeated after Slack may have processed it. Verify the `id_token` before trusting it.
   *
   * @example
   * ```ts
   * const { id_token } = await client.openidConnectToken({ clientId, clientSecret, code, redirectUri });
   * ```
   * @see https://docs.slack.dev/reference/methods/openid.connect.token
   */
  async openidConnectToken(args: OpenIDConnectTokenArgs): Promise<OpenIDConnectTokenResponse> {
    const method = "openid.connect.token";
    requireString(method, "clientId", args.clientId);
    requireString(method, "clientSecret", args.clientSecret);
    const code = optionalString(method, "code", args.code);
    const refreshToken = optionalString(method, "refreshToken", args.refreshToken);
    const grantType =
      args.grantType ?? (code === undefined && refreshToken !== undefined ? "refresh_token" : undefined);
    const params = new URLSearchParams();
    if (grantType === "refresh_token") {
      if (refreshToken === undefined)
        throw new CodedTypeError(`${method}: grant_type refresh_token needs refreshToken`);
      params.set("grant_type", "refresh_token");
      params.set("refresh_token", refreshToken);
    } else {
      if (code === undefined) throw new CodedTypeError(`${method}: expected code (or refreshToken)`);
      if (grantType !== undefined) params.set("grant_type", grantType);
      params.set("code", code);
    }
    setIf(params, "redirect_uri", optionalString(method, "redirectUri", args.redirectUri));
    return this.request({
      method,
      body: { kind: "form", params },
      basic: { id: args.clientId, secret: args.clientSecret },
      idempotent: false,
    });
  }

  /**
   * Reads the signed-in user's OpenID claims (`openid.connect.userInfo`). Safe to repeat.
   *
   * @example
   * ```ts
   * const { sub, email } = await client.openidConnectUserInfo(userToken);
   * ```
   * @see https://docs.slack.dev/reference/methods/openid.connect.userInfo
   */
  async openidConnectUserInfo(token: string): Promise<OpenIDConnectUserInfoResponse> {
    return this.request({ method: "openid.connect.userInfo", body: emptyForm(), token, idempotent: true });
  }

  /**
   * Opens a modal (`views.open`, JSON body). A `trigger_id` is single-use and expires after 3 s, so the
   * call is not repeated after Slack may have processed it.
   *
   * @example
   * ```ts
   * await client.viewsOpen(botToken, { triggerId, view: { type: "modal", title: { type: "plain_text", text: "Hi" }, blocks: [] } });
   * ```
   * @see https://docs.slack.dev/reference/methods/views.open
   */
  async viewsOpen(token: string, args: ViewsOpenArgs): Promise<ViewsOpenResponse> {
    const method = "views.open";
    const triggerId = optionalString(method, "triggerId", args.triggerId);
    const pointer = optionalString(method, "interactivityPointer", args.interactivityPointer);
    if ((triggerId === undefined) === (pointer === undefined)) {
      throw new CodedTypeError(`${method}: expected exactly one of triggerId and interactivityPointer`);
    }
    if (args.view === null || typeof args.view !== "object")
      throw new CodedTypeError(`${method}: expected a view object`);
    const value = { trigger_id: triggerId, interactivity_pointer: pointer, view: args.view };
    return this.request({ method, body: { kind: "json", value }, token, idempotent: false });
  }

  /**
   * Posts a message (`chat.postMessage`, JSON body). Not repeated after Slack may have processed it, so
   * a message is never posted twice by a retry.
   *
   * @example
   * ```ts
   * const { ts } = await client.chatPostMessage(botToken, { channel: "C123", text: "Thanks for installing!" });
   * ```
   * @see https://docs.slack.dev/reference/methods/chat.postMessage
   */
  async chatPostMessage(token: string, args: ChatPostMessageArgs): Promise<ChatPostMessageResponse> {
    const method = "chat.postMessage";
    requireString(method, "channel", args.channel);
    if (args.text === undefined && args.blocks === undefined && args.attachments === undefined) {
      throw new CodedTypeError(`${method}: expected text, blocks or attachments`);
    }
    const value = {
      ...args.extra,
      channel: args.channel,
      text: args.text,
      blocks: args.blocks,
      attachments: args.attachments,
      thread_ts: args.threadTs,
      reply_broadcast: args.replyBroadcast,
      mrkdwn: args.mrkdwn,
      unfurl_links: args.unfurlLinks,
      unfurl_media: args.unfurlMedia,
      username: args.username,
      icon_emoji: args.iconEmoji,
      icon_url: args.iconUrl,
      metadata: args.metadata,
    };
    if ("token" in value) throw new CodedTypeError(`${method}: pass the token as the first argument, not in extra`);
    return this.request({ method, body: { kind: "json", value }, token, idempotent: false });
  }

  /**
   * Calls any Web API method. Arguments are form-encoded (objects and arrays as JSON strings, `undefined`
   * and `null` dropped) unless `json` is set. The token goes in `options.token`, never in `args`.
   * Not repeated after Slack may have processed it unless `idempotent` is set.
   *
   * @example
   * ```ts
   * const info = await client.call<SlackApiResponse & { team?: { name?: string } }>(
   *   "team.info", {}, { token: botToken, idempotent: true },
   * );
   * ```
   * @see https://docs.slack.dev/reference/methods
   */
  async call<T extends SlackApiResponse = SlackApiResponse>(
    method: string,
    args: Record<string, unknown> = {},
    options: CallOptions = {},
  ): Promise<T> {
    if (typeof method !== "string" || !METHOD_RE.test(method)) {
      throw new CodedTypeError("call: expected a Web API method name such as 'auth.test'");
    }
    if (args === null || typeof args !== "object" || Array.isArray(args)) {
      throw new CodedTypeError(`${method}: expected args to be an object`);
    }
    if ("token" in args) throw new CodedTypeError(`${method}: pass the token as options.token, not in args`);
    for (const key of ["client_secret", "clientSecret"]) {
      const v = args[key];
      if (typeof v === "string") registerSecret(v);
    }
    const body: RequestSpec["body"] = options.json
      ? { kind: "json", value: args }
      : { kind: "form", params: toForm(args) };
    return this.request({
      method,
      body,
      token: options.token,
      idempotent: options.idempotent ?? false,
      signal: options.signal,
    });
  }

  private async request<T>(spec: RequestSpec): Promise<T> {
    if (spec.token !== undefined) checkCredential(spec.method, "token", spec.token);
    if (spec.basic) {
      // Basic credentials are form-urlencoded before base64, so any character is safe there.
      requireString(spec.method, "clientId", spec.basic.id);
      requireString(spec.method, "clientSecret", spec.basic.secret);
      registerSecret(spec.basic.secret);
    }
    const secrets = requestSecrets(spec);
    const scrubBody = (b: Record<string, unknown> | undefined) =>
      b === undefined ? undefined : (scrubValue(b, secrets) as Record<string, unknown>);
    // A reply field is echoed into the error only if it has the expected shape and holds no credential.
    const shaped = (v: unknown, re: RegExp) =>
      typeof v === "string" && re.test(v) && scrubString(v, secrets) === v ? v : undefined;
    const attempts = this.maxRetries + 1;
    for (let attempt = 1; ; attempt++) {
      spec.signal?.throwIfAborted();
      this.log("debug", `${spec.method}: attempt ${attempt}/${attempts}`);
      const outcome = await this.once(spec);
      const canRetry = attempt < attempts;

      if (outcome.kind === "timeout") {
        if (canRetry && spec.idempotent) {
          await this.backoff(spec, attempt, `timed out after ${this.timeoutMs} ms`);
          continue;
        }
        throw new SlackTimeoutError({ method: spec.method, timeoutMs: this.timeoutMs, cause: outcome.cause });
      }

      if (outcome.kind === "network") {
        const reason = `network error: ${describeError(outcome.cause)}`;
        // A connection that was never established cannot have delivered the request: safe to repeat
        // even a single-use code exchange.
        if (canRetry && (spec.idempotent || !outcome.mayHaveReachedSlack)) {
          await this.backoff(spec, attempt, reason);
          continue;
        }
        this.log("warn", `${spec.method}: ${reason}; giving up after ${attempt} attempt(s)`);
        throw new SlackNetworkError({ method: spec.method, reason, cause: outcome.cause });
      }

      const { status, headers, body } = outcome;
      if (status === 429) {
        const retryAfter = parseRetryAfter(headers.get("retry-after")) ?? 1;
        if (canRetry && retryAfter <= this.maxRetryAfterSeconds) {
          this.log("warn", `${spec.method}: rate limited (HTTP 429); retrying in ${retryAfter}s`);
          await sleep(retryAfter * 1000, spec.signal);
          continue;
        }
        this.log("warn", `${spec.method}: rate limited (HTTP 429), retry after ${retryAfter}s; giving up`);
        throw new SlackApiError({
          method: spec.method,
          error: "ratelimited",
          httpStatus: 429,
          retryAfter,
          data: scrubBody(body),
        });
      }

      if (status >= 500 && canRetry && this.retryOn5xx && spec.idempotent) {
        await this.backoff(spec, attempt, `HTTP ${status}`, parseRetryAfter(headers.get("retry-after")));
        continue;
      }

      if (body === undefined) {
        this.log("warn", `${spec.method}: HTTP ${status} reply was not Slack's JSON`);
        throw new SlackNetworkError({
          method: spec.method,
          reason: "the reply was not Slack's JSON",
          httpStatus: status,
          cause: outcome.parseError,
        });
      }
      if (body.ok === false) {
        throw new SlackApiError({
          method: spec.method,
          // Slack's codes are snake_case words; anything else (a proxy's prose, an echo) stays in `data`
          // only, so the message cannot carry it.
          error: shaped(body.error, ERROR_CODE_RE) ?? "unknown_error",
          httpStatus: status,
          needed: shaped(body.needed, SCOPES_RE),
          provided: shaped(body.provided, SCOPES_RE),
          data: scrubBody(body),
        });
      }
      if (body.ok !== true || status < 200 || status >= 300) {
        throw new SlackNetworkError({
          method: spec.method,
          reason: "the reply was not a Slack API reply",
          httpStatus: status,
        });
      }
      return body as T;
    }
  }

  /** One attempt: never throws except when the caller's signal aborts. */
  private async once(spec: RequestSpec): Promise<Outcome> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException("Slack API call timed out", "TimeoutError"));
    }, this.timeoutMs);
    const onAbort = () => controller.abort(spec.signal?.reason);
    spec.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await this.transport(this.urlFor(spec.method), this.init(spec, controller.signal));
      const text = response.text;
      let body: Record<string, unknown> | undefined;
      let parseError: unknown;
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
          body = parsed as Record<string, unknown>;
        } else {
          parseError = new CodedTypeError("reply is JSON but not an object");
        }
      } catch (e) {
        parseError = e;
      }
      return parseError === undefined
        ? { kind: "response", status: response.status, headers: response.headers, body }
        : { kind: "response", status: response.status, headers: response.headers, body: undefined, parseError };
    } catch (e) {
      if (spec.signal?.aborted) throw spec.signal.reason;
      if (timedOut) return { kind: "timeout", cause: e };
      const replyStarted = (e as { replyStarted?: unknown } | null)?.replyStarted === true;
      return { kind: "network", cause: e, mayHaveReachedSlack: replyStarted || !neverConnected(e) };
    } finally {
      clearTimeout(timer);
      spec.signal?.removeEventListener("abort", onAbort);
    }
  }

  private urlFor(method: string): string {
    return new URL(method, this.baseUrl).toString();
  }

  private init(spec: RequestSpec, signal: AbortSignal): TransportRequest {
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": this.userAgent };
    if (spec.token !== undefined) headers.Authorization = `Bearer ${spec.token}`;
    else if (spec.basic) headers.Authorization = `Basic ${basicCredentials(spec.basic.id, spec.basic.secret)}`;
    let body: string;
    if (spec.body.kind === "json") {
      headers["Content-Type"] = "application/json; charset=utf-8";
      body = JSON.stringify(spec.body.value);
    } else {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = spec.body.params.toString();
    }
    // Never redirected (both transports): a redirected POST would replay the body (possibly a client
    // secret) elsewhere.
    return { method: "POST", headers, body, signal };
  }

  private async backoff(spec: RequestSpec, attempt: number, reason: string, retryAfter?: number): Promise<void> {
    const exp = Math.min(MAX_BACKOFF_MS, this.retryBaseDelayMs * 2 ** (attempt - 1));
    let delay = Math.round(exp / 2 + (Math.random() * exp) / 2);
    if (retryAfter !== undefined && retryAfter <= this.maxRetryAfterSeconds) delay = Math.max(delay, retryAfter * 1000);
    this.log("warn", `${spec.method}: ${reason}; retrying in ${delay} ms`);
    await sleep(delay, spec.signal);
  }

  private log(level: "debug" | "warn", message: string): void {
    this.logger[level](redact(`slack-api ${message}`));
  }
}

/** The credential values a request carries: the token, the Basic secret and any secret-named field. */
function requestSecrets(spec: RequestSpec): string[] {
  const out: string[] = [];
  if (spec.token !== undefined) out.push(spec.token);
  if (spec.basic) out.push(spec.basic.secret, basicCredentials(spec.basic.id, spec.basic.secret));
  const entries: [string, unknown][] =
    spec.body.kind === "form"
      ? [...spec.body.params.entries()]
      : spec.body.value !== null && typeof spec.body.value === "object"
        ? Object.entries(spec.body.value)
        : [];
  for (const [key, value] of entries) {
    if (SECRET_FIELD_RE.test(key) && typeof value === "string" && value !== "") out.push(value);
  }
  // Longest first, so a secret containing another is replaced whole.
  return out.sort((a, b) => b.length - a.length);
}

function normaliseBaseUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new CodedTypeError("SlackApiClient: baseUrl must be an absolute http(s) URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new CodedTypeError("SlackApiClient: baseUrl must be an absolute http(s) URL");
  }
  if (url.username || url.password) throw new CodedTypeError("SlackApiClient: baseUrl must not contain credentials");
  url.search = "";
  url.hash = "";
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url.toString();
}

function checkNumber(name: string, value: number, rule: { min: number; integer?: boolean }): number {
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    value < rule.min ||
    (rule.integer && !Number.isInteger(value))
  ) {
    throw new CodedTypeError(
      `SlackApiClient: ${name} must be ${rule.integer ? "an integer" : "a number"} >= ${rule.min}`,
    );
  }
  return value;
}

function requireString(method: string, name: string, value: unknown): asserts value is string {
  if (typeof value !== "string" || value === "")
    throw new CodedTypeError(`${method}: expected ${name} to be a non-empty string`);
}

function optionalString(method: string, name: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new CodedTypeError(`${method}: expected ${name} to be a string`);
  return value;
}

function checkCredential(method: string, name: string, value: unknown): void {
  // The message never echoes the value: a header validator's own TypeError would.
  if (typeof value !== "string" || !CREDENTIAL_RE.test(value)) {
    throw new CodedTypeError(`${method}: expected ${name} to be a non-empty string of printable ASCII characters`);
  }
}

function setIf(params: URLSearchParams, name: string, value: string | undefined): void {
  if (value !== undefined) params.set(name, value);
}

function emptyForm(): RequestSpec["body"] {
  return { kind: "form", params: new URLSearchParams() };
}

function toForm(args: Record<string, unknown>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || value === null) continue;
    params.set(key, typeof value === "object" ? JSON.stringify(value) : String(value));
  }
  return params;
}

/** `base64(urlencode(id) ":" urlencode(secret))`, as RFC 6749 §2.3.1 specifies for HTTP Basic. */
function basicCredentials(id: string, secret: string): string {
  const enc = (s: string) => new URLSearchParams([["", s]]).toString().slice(1);
  return btoa(`${enc(id)}:${enc(secret)}`);
}

/** Seconds from a `Retry-After` header (delta-seconds or HTTP date); undefined when absent or invalid. */
function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** True when the error (or one of its causes) says no connection was ever made. */
function neverConnected(error: unknown): boolean {
  const seen = new Set<unknown>();
  const stack: unknown[] = [error];
  while (stack.length > 0) {
    const e = stack.pop();
    if (e === null || typeof e !== "object" || seen.has(e) || seen.size > 20) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NOT_CONNECTED_CODES.has(code)) return true;
    stack.push((e as { cause?: unknown }).cause);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) {
      // AggregateError (several addresses tried): never connected only if every attempt failed to connect.
      return errors.length > 0 && errors.every((x) => neverConnected(x));
    }
  }
  return false;
}

/** A short, secret-free description of a network error: its code (ECONNRESET…) or its class name. */
function describeError(error: unknown): string {
  let e: unknown = error;
  for (let i = 0; i < 5 && e !== null && typeof e === "object"; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return error instanceof Error && /^[A-Za-z]{1,40}$/.test(error.name) ? error.name : "unknown";
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
