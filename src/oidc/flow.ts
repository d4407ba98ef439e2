import { timingSafeEqual } from "node:crypto";
import { rejectRenamedClock } from "../clock.js";
import { ConfigError, ErrorCode, SlackOAuthError } from "../errors.js";
import { HTML_HEADERS } from "../oauth/html.js";
import { consoleLogger, type Logger, redact, registerSecret } from "../redact.js";
import { SlackApiError } from "../slack-api/errors.js";
import { buildStateCookie, buildStateCookieDeletion, cookieNameFor, readCookie } from "../state/cookie.js";
import { consumeAppState, issueAppState, type StateStore, StateStoreFullError } from "../state/state.js";
import { OpenIDConnectAuthorizeUrlGenerator, parseOidcScopes, SLACK_OIDC_BASE_URL } from "./authorize-url.js";
import { IdTokenError, SignInError } from "./errors.js";
import { identityFromClaims, type SlackIdentity } from "./identity.js";
import { generateNonce } from "./nonce.js";
import {
  renderSignedInPage,
  renderSignInFailurePage,
  renderSignInPage,
  type SignedInPageContext,
  type SignInFailurePageContext,
  type SignInPageContext,
} from "./pages.js";
import { IdTokenVerifier, type SlackIdTokenClaims } from "./verifier.js";

/** Name of the cookie binding a sign-in's state to the browser (distinct from the install flow's). */
export const OIDC_STATE_COOKIE_NAME = "slack-app-oidc-state";

/** The Slack Web API calls the sign-in flow makes (satisfied by `SlackApiClient`). */
export interface OpenIDConnectFlowApi {
  /** Calls `openid.connect.token` (exchanges the code). */
  openidConnectToken(args: {
    clientId: string;
    clientSecret: string;
    code: string;
    redirectUri?: string;
  }): Promise<Record<string, unknown>>;
  /** Calls `openid.connect.userInfo` with the user's token. */
  openidConnectUserInfo(token: string): Promise<Record<string, unknown>>;
}

/** Per-call sign-in options. */
export interface SignInOptions {
  /** Workspace id to preselect on Slack's page. */
  team?: string | undefined;
  /** Small JSON-serialisable data that travels server-side with the state and reaches `onSignIn`. */
  metadata?: Record<string, unknown> | undefined;
  /** Replaces the flow's redirect URI. */
  redirectUri?: string | undefined;
}

/** The tokens `openid.connect.token` returned. Secrets: never log them or put them in a cookie. */
export interface SignInTokens {
  /** A user token (`xoxp-…`) carrying only the OIDC scopes. */
  accessToken: string;
  refreshToken?: string | undefined;
  expiresIn?: number | undefined;
  /** The verified id_token. */
  idToken: string;
}

/** What `onSignIn` receives. */
export interface SignInHookContext {
  /** Who signed in (id_token claims completed by userInfo). */
  identity: SlackIdentity;
  /** The verified id_token claims, as Slack sent them. */
  claims: SlackIdTokenClaims;
  /** The `openid.connect.userInfo` reply (undefined with `fetchUserInfo: false`). */
  userInfo: Record<string, unknown> | undefined;
  tokens: SignInTokens;
  /** The callback request (cookies, headers). */
  request: Request;
  /** Metadata given when the sign-in started. */
  metadata: Record<string, unknown> | undefined;
}

/**
 * Options of {@link OpenIDConnectFlow}.
 *
 * @example
 * ```ts
 * const options: OpenIDConnectFlowOptions = {
 *   clientId, clientSecret, stateStore: new MemoryStateStore(), api: new SlackApiClient(),
 *   onSignIn: ({ identity }) => Response.redirect(`https://example.com/welcome/${identity.userId}`, 302),
 * };
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export interface OpenIDConnectFlowOptions {
  clientId: string;
  clientSecret: string;
  stateStore: StateStore;
  api: OpenIDConnectFlowApi;
  /**
   * `openid` plus `profile` / `email`.
   *
   * @default all three
   */
  scopes?: readonly string[] | string | undefined;
  /**
   * The callback URL, one of the app's Redirect URLs (default: `callbackPath` on the request's origin, which
   * is wrong behind a proxy that rewrites the host: set it there).
   */
  redirectUri?: string | undefined;
  /**
   * Base of Slack's OIDC endpoints (default `https://slack.com`; `SLACK_OIDC_BASE_URL`): authorize at
   * `{base}/openid/connect/authorize`, keys at `{base}/openid/connect/keys`.
   */
  oidcBaseUrl?: string | undefined;
  /** Overrides `{oidcBaseUrl}/openid/connect/authorize`. */
  authorizationUrl?: string | undefined;
  /** Overrides `{oidcBaseUrl}/openid/connect/keys`. */
  jwksUri?: string | undefined;
  /**
   * The expected `iss`.
   *
   * @default `https://slack.com`, also the emulator's default
   */
  issuer?: string | undefined;
  /** A verifier to share (its JWKS cache) between flows; by default one is built from the options above. */
  verifier?: IdTokenVerifier | undefined;
  /** `fetch` for the JWKS. */
  fetch?: typeof fetch | undefined;
  /**
   * Leeway for `exp`/`iat`, 0–60 s.
   *
   * @default 60
   */
  clockToleranceSeconds?: number | undefined;
  /**
   * At most one JWKS refetch per this interval on an unknown `kid`.
   *
   * @default 30 000 ms
   */
  jwksMinRefetchIntervalMs?: number | undefined;
  /** Clock, epoch ms (default `Date.now`), for the id_token checks and the JWKS cache. */
  nowMs?: (() => number) | undefined;
  /**
   * Call `openid.connect.userInfo` after verifying the id_token.
   *
   * @default true
   */
  fetchUserInfo?: boolean | undefined;
  /**
   * Path of the route that starts a sign-in.
   *
   * @default `/slack/login`
   */
  loginPath?: string | undefined;
  /**
   * Path of the callback route.
   *
   * @default `/slack/login/callback`
   */
  callbackPath?: string | undefined;
  /** Default `slack-app-oidc-state`: an install and a sign-in in the same browser do not clobber each other. */
  stateCookieName?: string | undefined;
  /**
   * State lifetime in seconds, for the cookie. Keep equal to the state store's TTL.
   *
   * @default 600
   */
  stateCookieMaxAge?: number | undefined;
  /** Force the cookie's `Secure` flag (default: on, except for plain http://localhost). */
  secureCookie?: boolean | undefined;
  /** Redirect to Slack straight away instead of rendering the sign-in page. */
  directSignIn?: boolean | undefined;
  /**
   * Runs after every check passed. Create the app's session here. Return a `Response` (typically a redirect
   * with a session cookie) to answer with it, `false` to refuse the user, or nothing for the default.
   */
  onSignIn?:
    | ((ctx: SignInHookContext) => Response | boolean | undefined | Promise<Response | boolean | undefined>)
    | undefined;
  /** Redirect here on success (when `onSignIn` returns no Response) instead of the default page. */
  successUrl?: string | undefined;
  /** Redirect here on failure (with `?error=<code>`) instead of rendering the failure page. */
  failureUrl?: string | undefined;
  /** Renders the sign-in page instead of the default (`renderSignInPage` from `slack-oauth-kit/pages`). */
  renderSignInPage?: ((ctx: SignInPageContext) => string | Response) | undefined;
  /** Renders the signed-in page instead of the default (`renderSignedInPage`). */
  renderSignedInPage?: ((ctx: SignedInPageContext) => string | Response) | undefined;
  /** Renders a failure page instead of the default (`renderSignInFailurePage`). */
  renderFailurePage?: ((ctx: SignInFailurePageContext) => string | Response) | undefined;
  /** Display name on the default sign-in page. */
  appName?: string | undefined;
  logger?: Logger | undefined;
}

/** Response header carrying the stable error code of a failed sign-in. */
export const SIGN_IN_ERROR_HEADER = "X-Slack-OAuth-Error";

const MAX_URL_LENGTH = 8 * 1024;

const MESSAGES: Partial<Record<string, string>> = {
  [ErrorCode.SignInCancelled]: "The sign-in was cancelled on Slack's page. You are not signed in.",
  [ErrorCode.MissingCode]: "Slack did not send an authorization code with this link.",
  [ErrorCode.StateMissing]:
    "This link has no state parameter, so it cannot be tied to your browser. Please sign in from this site.",
  [ErrorCode.StateInvalid]: "This sign-in link is not valid. Please sign in again.",
  [ErrorCode.StateWrongApp]: "This sign-in link belongs to another app. Please sign in again from this app's page.",
  [ErrorCode.StateExpired]: "This sign-in link has expired (links last 10 minutes). Please sign in again.",
  [ErrorCode.StateReused]: "This sign-in link was already used. Each link works once: please sign in again.",
  [ErrorCode.StateCookieMissing]:
    "Your browser did not send the cookie set when the sign-in started (another browser, a private window, or blocked cookies). Please sign in again in this browser.",
  [ErrorCode.StateCookieMismatch]:
    "This sign-in was started in another browser or tab session. Please sign in again in this browser.",
  [ErrorCode.SignInVetoed]: "This app does not accept your account.",
  [ErrorCode.SignInFailed]: "Slack or the app failed while completing the sign-in. Please try again.",
  [ErrorCode.BadRequest]: "The request is malformed.",
};

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Slack errors that mean the code (not Slack) is at fault: the user should simply sign in again. */
const BAD_GRANT_ERRORS = new Set(["invalid_code", "code_already_used", "bad_redirect_uri", "invalid_grant_type"]);

/**
 * Sign in with Slack, framework-neutral: `Request → Response`. Mount `handleLogin` on `GET /slack/login` and
 * `handleCallback` on `GET /slack/login/callback` (or let `handle` route both).
 *
 * The login route issues a one-time state whose server-side data holds a fresh nonce (256 bits), binds the
 * state to the browser with the `slack-app-oidc-state` cookie, and renders the sign-in page (or redirects).
 * The callback checks the state and cookie exactly as the install flow does, exchanges the code with
 * `openid.connect.token`, verifies the id_token (RS256 only, Slack's JWKS, `iss`, `aud`, `exp`/`iat`, the
 * nonce), reads `openid.connect.userInfo`, and hands the result to `onSignIn`. Every refusal is a 4xx page
 * with a stable error code (a 5xx only when Slack or the app's own storage fails).
 *
 * @example
 * ```ts
 * const login = new OpenIDConnectFlow({
 *   clientId: process.env.SLACK_CLIENT_ID ?? "",
 *   clientSecret: process.env.SLACK_CLIENT_SECRET ?? "",
 *   stateStore: new MemoryStateStore(),
 *   api: new SlackApiClient(),
 *   onSignIn: ({ identity, request }) =>
 *     new Response(null, { status: 302, headers: { Location: "/", "Set-Cookie": sessions.serialize(identity, request.url) } }),
 * });
 * const response = await login.handle(new Request("http://localhost:3000/slack/login"));
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export class OpenIDConnectFlow {
  readonly #o: OpenIDConnectFlowOptions;
  readonly #urls: OpenIDConnectAuthorizeUrlGenerator;
  readonly #log: Logger;
  readonly verifier: IdTokenVerifier;
  readonly loginPath: string;
  readonly callbackPath: string;
  readonly #cookieName: string;

  constructor(options: OpenIDConnectFlowOptions) {
    rejectRenamedClock(options, "OpenIDConnectFlow", { now: "nowMs" });
    if (!options || typeof options.clientId !== "string" || options.clientId === "") {
      throw new ConfigError("OpenIDConnectFlow: clientId is required (SLACK_CLIENT_ID)");
    }
    if (typeof options.clientSecret !== "string" || options.clientSecret === "") {
      throw new ConfigError("OpenIDConnectFlow: clientSecret is required (SLACK_CLIENT_SECRET)");
    }
    if (!options.stateStore || !options.api)
      throw new ConfigError("OpenIDConnectFlow: stateStore and api are required");
    registerSecret(options.clientSecret);
    parseOidcScopes(options.scopes); // throws early on app scopes
    this.#o = options;
    this.#log = options.logger ?? consoleLogger;
    this.loginPath = options.loginPath ?? "/slack/login";
    this.callbackPath = options.callbackPath ?? "/slack/login/callback";
    this.#cookieName = options.stateCookieName ?? OIDC_STATE_COOKIE_NAME;
    const base = oidcBase(options.oidcBaseUrl);
    this.#urls = new OpenIDConnectAuthorizeUrlGenerator({
      clientId: options.clientId,
      scopes: options.scopes,
      redirectUri: options.redirectUri,
      authorizationUrl: options.authorizationUrl ?? `${base}/openid/connect/authorize`,
    });
    this.verifier =
      options.verifier ??
      new IdTokenVerifier({
        clientId: options.clientId,
        issuer: options.issuer,
        jwksUri: options.jwksUri ?? `${base}/openid/connect/keys`,
        fetch: options.fetch,
        clockToleranceSeconds: options.clockToleranceSeconds,
        jwksMinRefetchIntervalMs: options.jwksMinRefetchIntervalMs,
        nowMs: options.nowMs,
        logger: this.#log,
      });
    if (this.verifier.clientId !== options.clientId) {
      throw new ConfigError("OpenIDConnectFlow: the verifier was built for another clientId");
    }
  }

  /** Routes `GET loginPath` and `GET callbackPath`; `undefined` for any other request. */
  async handle(request: Request): Promise<Response | undefined> {
    const path = new URL(request.url).pathname;
    if (path === this.loginPath) return this.handleLogin(request);
    if (path === this.callbackPath) return this.handleCallback(request);
    return undefined;
  }

  /** Starts a sign-in: state + nonce, the state cookie, and the sign-in page (or a redirect to Slack). */
  async handleLogin(request: Request, options: SignInOptions = {}): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed", { status: 405, headers: { Allow: "GET, HEAD" } });
    }
    // A HEAD (link checkers, prefetchers) issues no state.
    if (request.method === "HEAD") return new Response(null, { status: 200, headers: HTML_HEADERS });
    let started: { url: string; cookie: string };
    try {
      started = await this.startSignIn(request, options);
    } catch (error) {
      if (error instanceof TypeError || error instanceof ConfigError) throw error;
      if (error instanceof StateStoreFullError) {
        this.#log.warn(`OpenIDConnectFlow: sign-in start refused: the state store is full (${error.limit} states)`);
        const response = this.#failure(
          request,
          this.#err(
            ErrorCode.StateStoreFull,
            429,
            `Too many sign-ins are being started right now. Please try again in ${error.retryAfterSeconds} seconds.`,
            error,
          ),
        );
        response.headers.set("Retry-After", String(error.retryAfterSeconds));
        return response;
      }
      this.#log.error(`OpenIDConnectFlow: could not start a sign-in: ${redact(describeError(error))}`);
      return this.#failure(
        request,
        this.#err(
          ErrorCode.SignInFailed,
          500,
          "The sign-in could not be started. Please try again in a moment.",
          error,
        ),
      );
    }
    const headers = new Headers({ "Cache-Control": "no-store" });
    headers.append("Set-Cookie", started.cookie);
    if (this.#o.directSignIn) {
      headers.set("Location", started.url);
      return new Response(null, { status: 302, headers });
    }
    const page = (this.#o.renderSignInPage ?? renderSignInPage)({ url: started.url, appName: this.#o.appName });
    return this.#page(page, 200, headers);
  }

  /**
   * Issues a state (with a fresh nonce kept server-side) and returns Slack's authorize URL and the
   * `Set-Cookie` value, for apps that render their own button.
   */
  async startSignIn(
    request: Request,
    options: SignInOptions = {},
  ): Promise<{ url: string; state: string; nonce: string; cookie: string }> {
    const nonce = generateNonce();
    const redirectUri = options.redirectUri ?? this.#o.redirectUri ?? new URL(this.callbackPath, request.url).href;
    const data: Record<string, unknown> = { t: "oidc", nonce, redirectUri };
    if (options.metadata !== undefined) data.metadata = options.metadata;
    // Check the URL's inputs before a state is stored for nothing.
    this.#urls.generate("x", { nonce, redirectUri, team: options.team });
    const state = await issueAppState(this.#o.stateStore, this.#o.clientId, data);
    const url = this.#urls.generate(state, { nonce, redirectUri, team: options.team });
    const cookie = buildStateCookie(state, {
      requestUrl: request.url,
      name: this.#cookieName,
      ...(this.#o.stateCookieMaxAge ? { maxAgeSeconds: this.#o.stateCookieMaxAge } : {}),
      ...(this.#o.secureCookie !== undefined ? { secure: this.#o.secureCookie } : {}),
    });
    return { url, state, nonce, cookie };
  }

  /** Handles Slack's redirect back: state and cookie checks, code exchange, id_token verification, `onSignIn`. */
  async handleCallback(request: Request): Promise<Response> {
    try {
      return await this.#callback(request);
    } catch (error) {
      if (error instanceof SlackOAuthError) {
        // Only the code (and, for id_token failures, the technical reason) is logged: never the query.
        const detail = error instanceof IdTokenError ? `: ${redact(error.detail)}` : "";
        const log = error.status >= 500 ? this.#log.error : this.#log.warn;
        log.call(this.#log, `OpenIDConnectFlow: sign-in refused (${error.code}, HTTP ${error.status})${detail}`);
        return this.#failure(request, error);
      }
      this.#log.error(`OpenIDConnectFlow: unexpected failure: ${redact(describeError(error))}`);
      return this.#failure(request, this.#err(ErrorCode.SignInFailed, 500, undefined, error));
    }
  }

  async #callback(request: Request): Promise<Response> {
    if (request.url.length > MAX_URL_LENGTH) {
      throw this.#err(ErrorCode.BadRequest, 414, "The link is far too long to be a sign-in callback.");
    }
    if (request.method !== "GET") {
      throw this.#err(ErrorCode.BadRequest, 405, "This address only accepts the browser's GET from Slack.");
    }
    const query = new URL(request.url).searchParams;
    const error = query.get("error");
    const code = query.get("code");
    const state = query.get("state");
    // Over https only the __Host- cookie counts: a plain-named one may have been planted by a sibling subdomain.
    const cookie = readCookie(
      request.headers,
      cookieNameFor(this.#cookieName, { requestUrl: request.url, secure: this.#o.secureCookie }),
    );

    if (error !== null) {
      if (state && cookie && constantTimeEqual(cookie, state)) {
        await consumeAppState(this.#o.stateStore, state, this.#o.clientId).catch((e: unknown) => {
          this.#log.warn(
            `OpenIDConnectFlow: could not burn the state of a refused sign-in: ${redact(describeError(e))}`,
          );
        });
      }
      if (error === "access_denied") throw this.#err(ErrorCode.SignInCancelled, 400);
      const shown = error.length > 100 ? `${error.slice(0, 100)}…` : error;
      throw this.#err(
        ErrorCode.AuthorizationFailed,
        400,
        `Slack reported an error: "${shown}". You are not signed in.`,
      );
    }
    if (!code) throw this.#err(ErrorCode.MissingCode, 400);
    // No opt-out here: a sign-in without state would let an attacker sign a victim into the attacker's account.
    if (!state) throw this.#err(ErrorCode.StateMissing, 400);
    if (!cookie) throw this.#err(ErrorCode.StateCookieMissing, 400);
    if (!constantTimeEqual(cookie, state)) throw this.#err(ErrorCode.StateCookieMismatch, 400);
    const result = await consumeAppState(this.#o.stateStore, state, this.#o.clientId).catch((e: unknown) => {
      this.#log.error(`OpenIDConnectFlow: the state store failed: ${redact(describeError(e))}`);
      throw this.#err(ErrorCode.SignInFailed, 500, undefined, e);
    });
    if (!result.ok) {
      const byReason = {
        malformed: ErrorCode.StateInvalid,
        unknown: ErrorCode.StateInvalid,
        expired: ErrorCode.StateExpired,
        used: ErrorCode.StateReused,
        other_app: ErrorCode.StateWrongApp,
      } as const;
      throw this.#err(byReason[result.reason], 400);
    }
    const data = result.data;
    // A state issued by the install flow (or anything else) is not a sign-in state.
    if (data.t !== "oidc" || typeof data.nonce !== "string" || data.nonce === "") {
      throw this.#err(ErrorCode.StateInvalid, 400);
    }
    const redirectUri = typeof data.redirectUri === "string" ? data.redirectUri : this.#o.redirectUri;

    const tokens = await this.#exchange(code, redirectUri);
    const claims = await this.verifier.verify(tokens.idToken, { nonce: data.nonce });
    let userInfo: Record<string, unknown> | undefined;
    if (this.#o.fetchUserInfo !== false) {
      try {
        userInfo = await this.#o.api.openidConnectUserInfo(tokens.accessToken);
      } catch (e) {
        this.#log.error(`OpenIDConnectFlow: openid.connect.userInfo failed: ${redact(describeError(e))}`);
        throw this.#err(ErrorCode.SignInFailed, 502, undefined, e);
      }
      // OIDC Core §5.3.4: the userInfo sub must be the id_token's, or its values must not be used.
      if (userInfo.sub !== claims.sub) {
        throw new IdTokenError(ErrorCode.UserInfoMismatch, "userInfo sub differs from the id_token's");
      }
      const infoTeam = userInfo["https://slack.com/team_id"];
      if (infoTeam !== undefined && infoTeam !== claims["https://slack.com/team_id"]) {
        throw new IdTokenError(ErrorCode.UserInfoMismatch, "userInfo team id differs from the id_token's");
      }
    }
    const identity = identityFromClaims(claims, userInfo);
    const metadata = (data.metadata as Record<string, unknown> | undefined) ?? undefined;
    const ctx: SignInHookContext = { identity, claims, userInfo, tokens, request, metadata };
    const headers = new Headers({ "Cache-Control": "no-store" });
    headers.append("Set-Cookie", this.#deleteCookie(request));
    let custom: Response | boolean | undefined;
    try {
      custom = this.#o.onSignIn ? await this.#o.onSignIn(ctx) : undefined;
    } catch (e) {
      this.#log.error(`OpenIDConnectFlow: onSignIn failed: ${redact(describeError(e))}`);
      throw this.#err(ErrorCode.SignInFailed, 500, "The app failed to finish the sign-in. Please try again.", e);
    }
    if (custom === false) throw this.#err(ErrorCode.SignInVetoed, 403);
    this.#log.info(`OpenIDConnectFlow: ${identity.userId} of ${identity.teamId} signed in`);
    if (custom instanceof Response) return withHeaders(custom, headers);
    if (this.#o.successUrl) {
      headers.set("Location", this.#o.successUrl);
      return new Response(null, { status: 302, headers });
    }
    const page = (this.#o.renderSignedInPage ?? renderSignedInPage)({ identity });
    return this.#page(page, 200, headers);
  }

  async #exchange(code: string, redirectUri: string | undefined): Promise<SignInTokens> {
    let reply: Record<string, unknown>;
    try {
      reply = await this.#o.api.openidConnectToken({
        clientId: this.#o.clientId,
        clientSecret: this.#o.clientSecret,
        code,
        ...(redirectUri ? { redirectUri } : {}),
      });
    } catch (e) {
      this.#log.error(`OpenIDConnectFlow: openid.connect.token failed: ${redact(describeError(e))}`);
      // A bad, used or expired code is the link's fault: sign in again (4xx). Slack down is a 502.
      const badGrant = e instanceof SlackApiError && BAD_GRANT_ERRORS.has(e.error);
      throw this.#err(
        ErrorCode.SignInFailed,
        badGrant ? 400 : 502,
        badGrant
          ? "Slack did not accept this sign-in link (it may have been used already). Please sign in again."
          : undefined,
        e,
      );
    }
    const accessToken = reply.access_token;
    const idToken = reply.id_token;
    if (typeof idToken !== "string" || idToken === "") {
      throw new IdTokenError(ErrorCode.IdTokenInvalid, "openid.connect.token returned no id_token");
    }
    if (typeof accessToken !== "string" || accessToken === "") {
      throw this.#err(ErrorCode.SignInFailed, 502, "Slack's reply carried no access token.");
    }
    const tokens: SignInTokens = { accessToken, idToken };
    if (typeof reply.refresh_token === "string") tokens.refreshToken = reply.refresh_token;
    if (typeof reply.expires_in === "number") tokens.expiresIn = reply.expires_in;
    return tokens;
  }

  #err(
    code: (typeof ErrorCode)[keyof typeof ErrorCode],
    status: number,
    message?: string,
    cause?: unknown,
  ): SignInError {
    return new SignInError(code, message ?? MESSAGES[code] ?? "The sign-in failed.", { status, cause });
  }

  #failure(request: Request, error: SlackOAuthError): Response {
    // Never a 2xx/3xx for a failure, whatever status an error carries.
    const status = error.status >= 400 && error.status <= 599 ? error.status : 500;
    const headers = new Headers({ "Cache-Control": "no-store" });
    headers.append("Set-Cookie", this.#deleteCookie(request));
    headers.set(SIGN_IN_ERROR_HEADER, error.code);
    if (status === 405) headers.set("Allow", "GET");
    if (this.#o.failureUrl) {
      const target = new URL(this.#o.failureUrl, request.url);
      target.searchParams.set("error", error.code);
      headers.set("Location", target.toString());
      return new Response(null, { status: 302, headers });
    }
    const page = (this.#o.renderFailurePage ?? renderSignInFailurePage)({
      code: error.code,
      message: error.message,
      status,
      retryUrl: this.loginPath,
    });
    return this.#page(page, status, headers);
  }

  #page(page: string | Response, status: number, headers: Headers): Response {
    if (page instanceof Response) return withHeaders(page, headers);
    for (const [k, v] of Object.entries(HTML_HEADERS)) headers.set(k, v);
    return new Response(page, { status, headers });
  }

  #deleteCookie(request: Request): string {
    return buildStateCookieDeletion({
      requestUrl: request.url,
      name: this.#cookieName,
      ...(this.#o.secureCookie !== undefined ? { secure: this.#o.secureCookie } : {}),
    });
  }
}

/** The OIDC base URL without trailing slashes, checked. */
function oidcBase(input: string | undefined): string {
  const raw = input ?? SLACK_OIDC_BASE_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("OpenIDConnectFlow: oidcBaseUrl must be an absolute http(s) URL (SLACK_OIDC_BASE_URL)");
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password || url.search) {
    throw new ConfigError("OpenIDConnectFlow: oidcBaseUrl must be an http(s) URL without credentials or query");
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, "");
}

/** Adds our headers to a custom Response: our `Set-Cookie`s are appended; other headers only fill gaps. */
function withHeaders(response: Response, extra: Headers): Response {
  const headers = new Headers(response.headers);
  for (const c of extra.getSetCookie()) headers.append("Set-Cookie", c);
  for (const [name, value] of extra) {
    if (name !== "set-cookie" && !headers.has(name)) headers.set(name, value);
  }
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
