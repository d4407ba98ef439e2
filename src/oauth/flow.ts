import { timingSafeEqual } from "node:crypto";
import { ConfigError, ErrorCode, SlackOAuthError } from "../errors.js";
import { type BoundMetrics, bindMetrics, type MetricsOptions } from "../metrics/hooks.js";
import type { Installation } from "../model/installation.js";
import { type AuthTestReply, installationFromV1Response, installationFromV2Response } from "../model/parse.js";
import { consoleLogger, type Logger, redact, registerSecret } from "../redact.js";
import { SlackApiError } from "../slack-api/errors.js";
import {
  buildStateCookie,
  buildStateCookieDeletion,
  cookieNameFor,
  readCookie,
  STATE_COOKIE_NAME,
} from "../state/cookie.js";
import { consumeAppState, inspectState, issueAppState, type StateStore, StateStoreFullError } from "../state/state.js";
import type { InstallationStore } from "../stores/installation-store.js";
import { AuthorizeUrlGenerator, generatePkce } from "./authorize-url.js";
import { HTML_HEADERS } from "./html.js";
import {
  type FailurePageContext,
  type InstallPageContext,
  renderFailurePage,
  renderInstallPage,
  renderSuccessPage,
  type SuccessPageContext,
} from "./pages.js";

/** The Slack Web API calls the install flow makes (satisfied by `SlackApiClient`). */
export interface OAuthFlowApi {
  /** Calls `oauth.v2.access` (exchanges the code). */
  oauthV2Access(args: {
    clientId: string;
    clientSecret?: string;
    code: string;
    redirectUri?: string;
    codeVerifier?: string;
  }): Promise<Record<string, unknown>>;
  /** Calls `oauth.access` (the legacy exchange). */
  oauthAccess(args: {
    clientId: string;
    clientSecret: string;
    code: string;
    redirectUri?: string;
  }): Promise<Record<string, unknown>>;
  /** Calls `auth.test` with a token. */
  authTest(token: string): Promise<Record<string, unknown>>;
  /**
   * `auth.revoke`: used to revoke the tokens of an install that failed after the code exchange (auth.test,
   * `beforeInstallation` or saving failed) and that no stored installation holds. Without it they stay valid
   * (a warning says so).
   */
  authRevoke?(token: string): Promise<Record<string, unknown>>;
}

/** Per-call install options (override the flow's config). */
export interface InstallOptions {
  scopes?: string[];
  userScopes?: string[];
  redirectUri?: string;
  /** Workspace id to preselect on Slack's consent page. */
  team?: string;
  /** Small JSON-serialisable data that travels server-side with the state and reaches the hooks. */
  metadata?: Record<string, unknown>;
}

/** What the installation hooks receive. */
export interface InstallationHookContext {
  installation: Installation;
  /** The callback request: cookies and headers let the app link the install to its own user account. */
  request: Request;
  /** Metadata given when the install started. */
  metadata: Record<string, unknown> | undefined;
}

/** Options of {@link OAuthFlow}. */
export interface OAuthFlowOptions {
  clientId: string;
  /**
   * The app's id (`A…`). When set, the callback checks that Slack's `oauth.v2.access` reply is for this app
   * (`app_id`): another app's reply is refused with `SLACK_OAUTH_APP_MISMATCH` (409) and nothing is saved.
   */
  appId?: string | undefined;
  /** Required unless `pkce` is on and the app is a public client. */
  clientSecret?: string;
  scopes?: string[];
  userScopes?: string[];
  /** Must equal one of the app's configured Redirect URLs; sent to Slack on authorize and on exchange. */
  redirectUri?: string;
  stateStore: StateStore;
  installationStore: InstallationStore;
  api: OAuthFlowApi;
  /**
   * Slack's authorize URL.
   *
   * @default `https://slack.com/oauth/v2/authorize`, or `/oauth/authorize` for v1
   */
  authorizationUrl?: string;
  /** `v2` (default) for Slack apps; `v1` for legacy (classic) apps using `oauth.access`. */
  version?: "v2" | "v1";
  /** Add PKCE (S256) to every install: the verifier is kept server-side with the state. */
  pkce?: boolean;
  /** Redirect to Slack straight away instead of rendering the install page. */
  directInstall?: boolean;
  /** Path of the install route (default `/slack/install`), used for "start again" links. */
  installPath?: string;
  /**
   * Path of the callback route.
   *
   * @default `/slack/oauth_redirect`
   */
  redirectPath?: string;
  stateCookieName?: string;
  /**
   * State lifetime in seconds, for the cookie. Keep equal to the state store's TTL.
   *
   * @default 600
   */
  stateCookieMaxAge?: number;
  /** Force the cookie's `Secure` flag (default: on, except for plain http://localhost). */
  secureCookie?: boolean;
  /** Runs before saving. Return `false` to refuse the installation; may change `installation.customValues`. */
  beforeInstallation?: (ctx: InstallationHookContext) => boolean | undefined | Promise<boolean | undefined>;
  /** Runs after saving. May return a `Response` to replace the success page. */
  afterInstallation?: (ctx: InstallationHookContext) => Response | undefined | Promise<Response | undefined>;
  /** Redirect here on success instead of rendering the success page. */
  successUrl?: string;
  /** The app's home page: the default success and failure pages link back to it ("Back to the app"). */
  homeUrl?: string;
  /** Redirect here on failure (with `?error=<code>`) instead of rendering the failure page. */
  failureUrl?: string;
  /** Renders the install page instead of the default (`renderInstallPage` from `slack-oauth-kit/pages`). */
  renderInstallPage?: (ctx: InstallPageContext) => string | Response;
  /** Renders the success page instead of the default (`renderSuccessPage`). */
  renderSuccessPage?: (ctx: SuccessPageContext) => string | Response;
  /** Renders a failure page instead of the default (`renderFailurePage`). */
  renderFailurePage?: (ctx: FailurePageContext) => string | Response;
  /** Display name on the default install page. */
  appName?: string;
  logger?: Logger;
  /**
   * > [!WARNING]
   * > Accepts callbacks that carry no `state` at all: installs started from the App Directory or from
   * > "Install to workspace" in the app's settings, which Slack sends without a state. Such a callback is
   * > not bound to any browser, so an attacker can make a victim's browser complete an install of the
   * > attacker's choosing (login CSRF). Callbacks that DO carry a state are still fully checked.
   * > Every state-less install is logged as a warning.
   */
  dangerouslyAllowInstallsWithoutState?: boolean;
  /** Reports every saved installation and every refused or failed callback (by its error code). */
  metrics?: MetricsOptions;
}

/** Response header carrying the stable error code of a failed install or callback. */
export const ERROR_HEADER = "X-Slack-OAuth-Error";

/** Largest callback URL we read (Slack's are a few hundred bytes). */
const MAX_URL_LENGTH = 8 * 1024;
/** A workspace or org id in an install link's `team` parameter (as Slack's authorize URL accepts it). */
const INSTALL_TEAM_RE = /^[A-Za-z0-9]{1,32}$/;

/** Plain-words messages for each callback failure. */
const MESSAGES: Partial<Record<string, string>> = {
  [ErrorCode.InstallCancelled]: "The installation was cancelled on Slack's page. Nothing was installed.",
  [ErrorCode.MissingCode]: "Slack did not send an authorization code with this link.",
  [ErrorCode.StateMissing]:
    "This link has no state parameter, so it cannot be tied to your browser. Please start the installation from this site.",
  [ErrorCode.StateInvalid]: "This installation link is not valid. Please start again.",
  [ErrorCode.StateExpired]: "This installation link has expired (links last 10 minutes). Please start again.",
  [ErrorCode.StateReused]:
    'This installation link was already used: the installation it belongs to already completed (reloading the success page, or opening Slack\'s link again, lands here). If you saw "Installation complete", the app is installed and there is nothing more to do. To install again, or on another workspace, start again.',
  [ErrorCode.CodeInvalid]:
    "Slack did not accept this installation link's code: it was already used, or it is older than 10 minutes. Nothing was installed by this link; please start again.",
  [ErrorCode.StateCookieMissing]:
    "Your browser did not send the cookie set when the installation started (another browser, a private window, or blocked cookies). Please start again in this browser.",
  [ErrorCode.StateCookieMismatch]:
    "This installation was started in another browser or tab session. Please start again in this browser.",
  [ErrorCode.StateWrongApp]: "This installation link belongs to another app. Please start again from this app's page.",
  [ErrorCode.AppMismatch]:
    "Slack completed the installation for another app than this one. Nothing was saved; the app's settings need checking.",
  [ErrorCode.InstallVetoed]: "The app refused this installation.",
  [ErrorCode.InstallFailed]:
    "Slack or the app's storage failed while completing the installation. Nothing was saved; please try again.",
  [ErrorCode.BadRequest]: "The request is malformed.",
};

/** An install-flow failure with a stable code and the HTTP status of its page. */
export class OAuthFlowError extends SlackOAuthError {}

/** Slack's answers to a code exchange that mean the code is spent or stale: the link's fault, a 4xx. */
const SPENT_CODE_ERRORS: ReadonlySet<string> = new Set(["invalid_code", "code_already_used", "code_expired"]);

/** What a failure's single log line adds after its code (already redacted): kept beside the error, never shown. */
const logDetails = new WeakMap<OAuthFlowError, string>();

/** The tokens a successful code exchange handed out, and whose they are (to revoke them if nothing keeps them). */
interface IssuedTokens {
  botToken?: string | undefined;
  userToken?: string | undefined;
  enterpriseId?: string | undefined;
  teamId?: string | undefined;
  userId?: string | undefined;
  isEnterpriseInstall: boolean;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The tokens of an `oauth.v2.access` (or v1 `oauth.access`) reply and the ids that say whose they are. */
function issuedFromReply(reply: Record<string, unknown>, version: "v1" | "v2"): IssuedTokens {
  if (version === "v1") {
    const bot = (reply.bot ?? {}) as Record<string, unknown>;
    return {
      botToken: text(bot.bot_access_token),
      userToken: text(reply.access_token),
      enterpriseId: text(reply.enterprise_id),
      teamId: text(reply.team_id),
      userId: text(reply.user_id),
      isEnterpriseInstall: false,
    };
  }
  const user = (reply.authed_user ?? {}) as Record<string, unknown>;
  const team = (reply.team ?? {}) as Record<string, unknown>;
  const enterprise = (reply.enterprise ?? {}) as Record<string, unknown>;
  const isEnterpriseInstall = reply.is_enterprise_install === true;
  return {
    botToken: reply.token_type !== "user" ? text(reply.access_token) : undefined,
    userToken: text(user.access_token),
    enterpriseId: text(enterprise.id),
    teamId: isEnterpriseInstall ? undefined : text(team.id),
    userId: text(user.id),
    isEnterpriseInstall,
  };
}

/** An error's name and message (never its stack or cause), for a log line that is redacted next. */
function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The install flow, framework-neutral: `Request → Response`. Mount `handleInstall` on `GET /slack/install`
 * and `handleCallback` on `GET /slack/oauth_redirect` (or let `handle` route both).
 *
 * @example
 * ```ts
 * const flow = new OAuthFlow({
 *   clientId: process.env.SLACK_CLIENT_ID ?? "",
 *   clientSecret: process.env.SLACK_CLIENT_SECRET ?? "",
 *   scopes: ["commands", "chat:write"],
 *   stateStore: new MemoryStateStore(),
 *   installationStore: new MemoryInstallationStore(),
 *   api: new SlackApiClient(),
 * });
 * const response = await flow.handle(new Request("http://localhost:3000/slack/install"));
 * ```
 * @see https://docs.slack.dev/authentication/installing-with-oauth
 */
export class OAuthFlow {
  readonly #o: OAuthFlowOptions;
  readonly #urls: AuthorizeUrlGenerator;
  readonly #log: Logger;
  readonly #metrics: BoundMetrics | undefined;
  readonly installPath: string;
  readonly redirectPath: string;

  constructor(options: OAuthFlowOptions) {
    if (!options || typeof options.clientId !== "string" || options.clientId.length === 0) {
      throw new ConfigError("OAuthFlow: clientId is required (SLACK_CLIENT_ID)");
    }
    if (!options.clientSecret && !options.pkce) {
      throw new ConfigError("OAuthFlow: clientSecret is required (SLACK_CLIENT_SECRET) unless pkce is on");
    }
    if (options.version === "v1" && !options.clientSecret)
      throw new ConfigError("OAuthFlow: v1 apps need clientSecret");
    if (options.version === "v1" && options.pkce) throw new ConfigError("OAuthFlow: PKCE is only available to v2 apps");
    if (!options.stateStore || !options.installationStore || !options.api) {
      throw new ConfigError("OAuthFlow: stateStore, installationStore and api are required");
    }
    if (options.appId !== undefined && (typeof options.appId !== "string" || !/^A[A-Z0-9]{1,30}$/.test(options.appId)))
      throw new ConfigError("OAuthFlow: appId must be a Slack app id (A followed by capital letters and digits)");
    registerSecret(options.clientSecret);
    this.#o = options;
    this.#log = options.logger ?? consoleLogger;
    this.#metrics = bindMetrics(options.metrics, "OAuthFlow");
    this.installPath = options.installPath ?? "/slack/install";
    this.redirectPath = options.redirectPath ?? "/slack/oauth_redirect";
    const version = options.version ?? "v2";
    this.#urls = new AuthorizeUrlGenerator({
      clientId: options.clientId,
      scopes: options.scopes ?? [],
      userScopes: options.userScopes ?? [],
      ...(options.redirectUri ? { redirectUri: options.redirectUri } : {}),
      ...(options.authorizationUrl ? { authorizationUrl: options.authorizationUrl } : {}),
      version,
    });
    if (options.dangerouslyAllowInstallsWithoutState) {
      this.#log.warn(
        "OAuthFlow: dangerouslyAllowInstallsWithoutState is ON: callbacks without a state are accepted unbound to any browser",
      );
    }
  }

  /** Routes `GET installPath` and `GET redirectPath`; returns `undefined` for any other request. */
  async handle(request: Request): Promise<Response | undefined> {
    const path = new URL(request.url).pathname;
    if (path === this.installPath) return this.handleInstall(request);
    if (path === this.redirectPath) return this.handleCallback(request);
    return undefined;
  }

  /**
   * Starts an install: issues a one-time state (data kept server-side), binds it to the browser with the
   * state cookie, and renders the install page (or redirects to Slack with `directInstall`).
   */
  async handleInstall(request: Request, options: InstallOptions = {}): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed", { status: 405, headers: { Allow: "GET, HEAD" } });
    }
    // A HEAD (link checkers, uptime probes) gets the page's head without issuing a state nobody will use.
    if (request.method === "HEAD") return new Response(null, { status: 200, headers: HTML_HEADERS });
    // `?team=T…` (a reinstall link, see `installLinkFor`) pre-selects the workspace or org on Slack's page.
    const team = options.team === undefined ? new URL(request.url).searchParams.get("team") : null;
    if (team !== null && team !== "") {
      if (!INSTALL_TEAM_RE.test(team)) {
        return this.#failure(
          request,
          this.#err(ErrorCode.BadRequest, 400, "The team in this install link is not a Slack workspace or org id."),
        );
      }
      options = { ...options, team };
    }
    let started: { url: string; cookie: string };
    try {
      started = await this.startInstall(request, options);
    } catch (error) {
      if (error instanceof TypeError || error instanceof ConfigError) throw error; // a programming error: surface it
      if (error instanceof StateStoreFullError) {
        // A flood filled the state store: say when to come back; issued states stay valid.
        this.#log.warn(`OAuthFlow: install start refused: the state store is full (${error.limit} states)`);
        const response = this.#failure(
          request,
          this.#err(
            ErrorCode.StateStoreFull,
            429,
            `Too many installations are being started right now. Please try again in ${error.retryAfterSeconds} seconds.`,
            error,
          ),
        );
        response.headers.set("Retry-After", String(error.retryAfterSeconds));
        return response;
      }
      this.#log.error(`OAuthFlow: could not start an install: ${redact(describeError(error))}`);
      return this.#failure(
        request,
        this.#err(
          ErrorCode.InstallFailed,
          500,
          "The installation could not be started. Please try again in a moment.",
          error,
        ),
      );
    }
    const { url, cookie } = started;
    const headers = new Headers({ "Cache-Control": "no-store" });
    headers.append("Set-Cookie", cookie);
    if (this.#o.directInstall) {
      headers.set("Location", url);
      return new Response(null, { status: 302, headers });
    }
    const page = (this.#o.renderInstallPage ?? renderInstallPage)({ url, appName: this.#o.appName });
    return this.#page(page, 200, headers);
  }

  /**
   * Issues a state and returns the authorize URL and the `Set-Cookie` value, for apps that render their
   * own page or button.
   */
  async startInstall(
    request: Request,
    options: InstallOptions = {},
  ): Promise<{ url: string; state: string; cookie: string }> {
    const data: Record<string, unknown> = { t: "install" };
    const redirectUri = options.redirectUri ?? this.#o.redirectUri;
    if (redirectUri) data.redirectUri = redirectUri;
    if (options.metadata !== undefined) data.metadata = options.metadata;
    let codeChallenge: string | undefined;
    if (this.#o.pkce) {
      const pkce = await generatePkce();
      data.codeVerifier = pkce.codeVerifier;
      codeChallenge = pkce.codeChallenge;
    }
    // The state carries its app: another app's callback refuses it (STATE_WRONG_APP), even in a shared store.
    const state = await issueAppState(this.#o.stateStore, this.#o.clientId, data);
    const url = this.#urls.generate(state, {
      ...(options.scopes ? { scopes: options.scopes } : {}),
      ...(options.userScopes ? { userScopes: options.userScopes } : {}),
      ...(redirectUri ? { redirectUri } : {}),
      ...(options.team ? { team: options.team } : {}),
      ...(codeChallenge ? { codeChallenge } : {}),
    });
    return { url, state, cookie: this.#cookie(request, state) };
  }

  /** Handles Slack's redirect back: checks, exchanges the code, saves the installation, renders the result. */
  async handleCallback(request: Request): Promise<Response> {
    try {
      return await this.#callback(request);
    } catch (error) {
      if (error instanceof OAuthFlowError) {
        // One line per failure, at error level only for 5xx. The stable code and a redacted detail are
        // logged; the query (code, state, error text) stays out of the logs.
        const detail = logDetails.get(error);
        const log = error.status >= 500 ? this.#log.error : this.#log.warn;
        log.call(
          this.#log,
          `OAuthFlow: install callback refused (${error.code}, HTTP ${error.status})${detail ? `: ${detail}` : ""}`,
        );
        this.#metrics?.installFailure?.(error.code);
        return this.#failure(request, error);
      }
      this.#log.error(`OAuthFlow: unexpected failure: ${redact(describeError(error))}`);
      this.#metrics?.installFailure?.(ErrorCode.InstallFailed);
      return this.#failure(request, this.#err(ErrorCode.InstallFailed, 500, undefined, error));
    }
  }

  async #callback(request: Request): Promise<Response> {
    if (request.url.length > MAX_URL_LENGTH)
      throw this.#err(ErrorCode.BadRequest, 414, "The link is far too long to be an installation callback.");
    // Not HEAD either: a callback consumes its state, and a HEAD (link checkers, prefetchers) must not.
    if (request.method !== "GET")
      throw this.#err(ErrorCode.BadRequest, 405, "This address only accepts the browser's GET from Slack.");
    const query = new URL(request.url).searchParams;
    const error = query.get("error");
    const code = query.get("code");
    const state = query.get("state");
    // Over https only the __Host- cookie counts: a plain-named one may have been planted by a sibling subdomain.
    const cookie = readCookie(
      request.headers,
      cookieNameFor(this.#o.stateCookieName ?? STATE_COOKIE_NAME, {
        requestUrl: request.url,
        secure: this.#o.secureCookie,
      }),
    );

    if (error !== null) {
      // Burn the state when it belongs to this browser, so the link cannot be replayed.
      if (state && cookie && constantTimeEqual(cookie, state)) {
        await consumeAppState(this.#o.stateStore, state, this.#o.clientId).catch((e: unknown) => {
          this.#log.warn(`OAuthFlow: could not burn the state of a refused install: ${redact(describeError(e))}`);
        });
      }
      if (error === "access_denied") throw this.#err(ErrorCode.InstallCancelled, 400);
      // Shown escaped (pages escape everything) and shortened: the value comes from the URL, not from Slack.
      const shown = error.length > 100 ? `${error.slice(0, 100)}…` : error;
      throw this.#err(
        ErrorCode.AuthorizationFailed,
        400,
        `Slack reported an error: "${shown}". Nothing was installed.`,
      );
    }
    if (!code) throw this.#err(ErrorCode.MissingCode, 400);

    let data: Record<string, unknown> = {};
    if (!state) {
      if (!this.#o.dangerouslyAllowInstallsWithoutState) throw this.#err(ErrorCode.StateMissing, 400);
      this.#log.warn("OAuthFlow: accepting an install callback WITHOUT state (dangerouslyAllowInstallsWithoutState)");
    } else {
      if (!cookie || !constantTimeEqual(cookie, state)) {
        // A used state is STATE_REUSED whatever the cookie: the success page deletes the cookie, so a reload
        // or a replay of Slack's link comes back without it. The state is only looked at, never consumed
        // here: another browser's live state must stay usable by that browser.
        const status = await inspectState(this.#o.stateStore, state).catch((e: unknown) => {
          this.#log.warn(`OAuthFlow: could not look up the state of a callback: ${redact(describeError(e))}`);
          return undefined;
        });
        if (status === "used") throw this.#err(ErrorCode.StateReused, 400);
        throw this.#err(cookie ? ErrorCode.StateCookieMismatch : ErrorCode.StateCookieMissing, 400);
      }
      const result = await consumeAppState(this.#o.stateStore, state, this.#o.clientId).catch((e: unknown) => {
        throw this.#err(
          ErrorCode.InstallFailed,
          500,
          undefined,
          e,
          `the state store failed: ${redact(describeError(e))}`,
        );
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
      data = result.data;
    }

    const reply = await this.#exchange(code, data);
    if (this.#o.appId !== undefined && this.#o.version !== "v1" && reply.app_id !== this.#o.appId) {
      // Not ours: never saved, and never revoked either (the tokens are the other app's, whose working
      // installation a revoke could end).
      const got = typeof reply.app_id === "string" && /^A[A-Z0-9]{1,30}$/.test(reply.app_id) ? reply.app_id : "none";
      throw this.#err(
        ErrorCode.AppMismatch,
        409,
        undefined,
        undefined,
        `oauth.v2.access answered for app ${got}, this flow is app ${this.#o.appId}: nothing saved`,
      );
    }
    const issued = issuedFromReply(reply, this.#o.version ?? "v2");
    let installation: Installation;
    try {
      installation = await this.#complete(reply);
    } catch (e) {
      await this.#revokeUnheld(issued, "auth.test failed");
      throw e;
    }
    const metadata = (data.metadata as Record<string, unknown> | undefined) ?? undefined;
    const ctx: InstallationHookContext = { installation, request, metadata };
    if (this.#o.beforeInstallation) {
      let verdict: boolean | undefined;
      try {
        verdict = await this.#o.beforeInstallation(ctx);
      } catch (e) {
        await this.#revokeUnheld(issued, "beforeInstallation failed");
        throw e;
      }
      if (verdict === false) {
        await this.#revokeUnheld(issued, "beforeInstallation refused the installation");
        throw this.#err(ErrorCode.InstallVetoed, 403);
      }
    }
    try {
      await this.#o.installationStore.save(ctx.installation);
    } catch (e) {
      await this.#revokeUnheld(issued, "saving the installation failed");
      throw this.#err(
        ErrorCode.InstallFailed,
        500,
        undefined,
        e,
        `saving the installation failed: ${redact(describeError(e))}`,
      );
    }
    this.#metrics?.install?.();
    this.#log.info(
      `OAuthFlow: installed app ${ctx.installation.appId ?? "?"} on ${ctx.installation.enterpriseId ?? "-"}/${ctx.installation.teamId ?? "-"} by ${ctx.installation.userId}`,
    );
    const headers = new Headers({ "Cache-Control": "no-store" });
    headers.append("Set-Cookie", this.#deleteCookie(request));
    let custom: Response | undefined;
    try {
      custom = this.#o.afterInstallation ? await this.#o.afterInstallation(ctx) : undefined;
    } catch (e) {
      // The installation IS saved: say so, rather than the "nothing was saved" of INSTALL_FAILED before saving.
      throw this.#err(
        ErrorCode.AfterInstallationFailed,
        500,
        "The app was installed, but finishing the setup failed. Please start again; reinstalling is safe.",
        e,
        `afterInstallation failed after the installation was saved: ${redact(describeError(e))}`,
      );
    }
    if (custom) return withCookie(custom, headers);
    if (this.#o.successUrl) {
      headers.set("Location", this.#o.successUrl);
      return new Response(null, { status: 302, headers });
    }
    const page = (this.#o.renderSuccessPage ?? renderSuccessPage)({
      ...successContext(ctx.installation),
      ...(this.#o.homeUrl ? { homeUrl: this.#o.homeUrl } : {}),
    });
    return this.#page(page, 200, headers);
  }

  /** The code exchange alone: Slack's reply, or a failure (a spent code is the link's fault: 400). */
  async #exchange(code: string, data: Record<string, unknown>): Promise<Record<string, unknown>> {
    const o = this.#o;
    const redirectUri = typeof data.redirectUri === "string" ? data.redirectUri : o.redirectUri;
    try {
      if (o.version === "v1") {
        return await o.api.oauthAccess({
          clientId: o.clientId,
          clientSecret: o.clientSecret ?? "",
          code,
          ...(redirectUri ? { redirectUri } : {}),
        });
      }
      return await o.api.oauthV2Access({
        clientId: o.clientId,
        ...(o.clientSecret ? { clientSecret: o.clientSecret } : {}),
        code,
        ...(redirectUri ? { redirectUri } : {}),
        ...(typeof data.codeVerifier === "string" ? { codeVerifier: data.codeVerifier } : {}),
      });
    } catch (e) {
      if (e instanceof SlackApiError && SPENT_CODE_ERRORS.has(e.error)) {
        throw this.#err(ErrorCode.CodeInvalid, 400, undefined, e, `Slack refused the code: ${e.error}`);
      }
      throw this.#err(ErrorCode.InstallFailed, 502, undefined, e, `code exchange failed: ${redact(describeError(e))}`);
    }
  }

  /** `auth.test` with the new token, then the installation built from both replies. */
  async #complete(reply: Record<string, unknown>): Promise<Installation> {
    const o = this.#o;
    try {
      if (o.version === "v1") {
        const bot = (reply.bot ?? {}) as Record<string, unknown>;
        const authTest =
          typeof bot.bot_access_token === "string"
            ? ((await o.api.authTest(bot.bot_access_token)) as AuthTestReply)
            : undefined;
        const installation = installationFromV1Response(reply, { authTest });
        // oauth.access carries no app_id; auth.test does, and the success page's deep link needs it.
        if (!installation.appId && typeof authTest?.app_id === "string" && authTest.app_id)
          installation.appId = authTest.app_id;
        return installation;
      }
      const botToken =
        reply.token_type !== "user" && typeof reply.access_token === "string" ? reply.access_token : undefined;
      const userToken = (reply.authed_user as Record<string, unknown> | undefined)?.access_token;
      // auth.test gives the bot id (not in oauth.v2.access) and the org URL of org-wide installs.
      const authTestToken =
        botToken ?? (reply.is_enterprise_install === true && typeof userToken === "string" ? userToken : undefined);
      const authTest = authTestToken ? ((await o.api.authTest(authTestToken)) as AuthTestReply) : undefined;
      // With only a user token, keep auth.test's org URL but never take its bot_id.
      const botInfo: AuthTestReply | undefined = botToken
        ? authTest
        : authTest?.url
          ? { url: authTest.url }
          : undefined;
      return installationFromV2Response(reply, { authTest: botInfo });
    } catch (e) {
      throw this.#err(
        ErrorCode.InstallFailed,
        502,
        undefined,
        e,
        `auth.test or reading Slack's reply failed after the code exchange: ${redact(describeError(e))}`,
      );
    }
  }

  /**
   * After a failure that follows a successful code exchange: revokes (`auth.revoke`) each new token whose
   * place no stored installation fills. Slack hands back the same bot token on a reinstall (and, with token
   * rotation, one of the same family, which a revoke would end too), so a token is kept whenever the store
   * holds a bot token for that workspace (or org), or a user token for that user there: the installation
   * that works today keeps working. When the store cannot be read, nothing is revoked and the code is logged.
   * Never throws: the failure being reported stays the one the user sees.
   */
  async #revokeUnheld(issued: IssuedTokens, why: string): Promise<void> {
    if (!issued.botToken && !issued.userToken) return;
    const api = this.#o.api;
    if (!api.authRevoke) {
      this.#log.warn(`OAuthFlow: ${why}; the new tokens stay valid (the api has no authRevoke)`);
      return;
    }
    if (!issued.teamId && !issued.enterpriseId) {
      this.#log.warn(`OAuthFlow: ${why}; revoked nothing: Slack's reply names no workspace to check the store against`);
      return;
    }
    const store = this.#o.installationStore;
    const where = {
      enterpriseId: issued.enterpriseId,
      teamId: issued.teamId,
      isEnterpriseInstall: issued.isEnterpriseInstall,
    };
    let keepBot = false;
    let keepUser = false;
    try {
      if (issued.botToken) keepBot = (await store.findBot(where))?.botToken !== undefined;
      if (issued.userToken && issued.userId) {
        keepUser = (await store.findInstallation({ ...where, userId: issued.userId }))?.userToken !== undefined;
      }
    } catch (e) {
      const code = e instanceof SlackOAuthError ? e.code : ErrorCode.Store;
      this.#log.warn(`OAuthFlow: ${why}; revoked nothing: the installation store could not be read (${code})`);
      return;
    }
    const revoke = async (kind: "bot" | "user", token: string | undefined, keep: boolean) => {
      if (!token) return;
      if (keep) {
        this.#log.info(`OAuthFlow: ${why}; kept the ${kind} token: a stored installation holds this ${kind}'s token`);
        return;
      }
      try {
        await api.authRevoke!(token);
        this.#log.info(`OAuthFlow: ${why}; revoked the new ${kind} token, which no stored installation holds`);
      } catch (e) {
        this.#log.warn(`OAuthFlow: ${why}; could not revoke the new ${kind} token: ${redact(describeError(e))}`);
      }
    };
    await revoke("bot", issued.botToken, keepBot);
    await revoke("user", issued.userToken, keepUser);
  }

  #err(
    code: (typeof ErrorCode)[keyof typeof ErrorCode],
    status: number,
    message?: string,
    cause?: unknown,
    logDetail?: string,
  ): OAuthFlowError {
    const error = new OAuthFlowError(code, message ?? MESSAGES[code] ?? "The installation failed.", { status, cause });
    if (logDetail) logDetails.set(error, logDetail);
    return error;
  }

  #failure(request: Request, error: OAuthFlowError): Response {
    const headers = new Headers({ "Cache-Control": "no-store" });
    headers.append("Set-Cookie", this.#deleteCookie(request));
    // The stable code, for scripts and monitoring (the page shows it too).
    headers.set(ERROR_HEADER, error.code);
    if (error.status === 405) headers.set("Allow", "GET");
    if (this.#o.failureUrl) {
      const target = new URL(this.#o.failureUrl, request.url);
      target.searchParams.set("error", error.code);
      headers.set("Location", target.toString());
      return new Response(null, { status: 302, headers });
    }
    const retryUrl = this.installPath;
    const page = (this.#o.renderFailurePage ?? renderFailurePage)({
      code: error.code,
      message: error.message,
      status: error.status,
      retryUrl,
      ...(this.#o.homeUrl ? { homeUrl: this.#o.homeUrl } : {}),
    });
    return this.#page(page, error.status, headers);
  }

  #page(page: string | Response, status: number, headers: Headers): Response {
    if (page instanceof Response) return withCookie(page, headers);
    for (const [k, v] of Object.entries(HTML_HEADERS)) headers.set(k, v);
    return new Response(page, { status, headers });
  }

  #cookie(request: Request, state: string): string {
    return buildStateCookie(state, {
      requestUrl: request.url,
      ...(this.#o.stateCookieName ? { name: this.#o.stateCookieName } : {}),
      ...(this.#o.stateCookieMaxAge ? { maxAgeSeconds: this.#o.stateCookieMaxAge } : {}),
      ...(this.#o.secureCookie !== undefined ? { secure: this.#o.secureCookie } : {}),
    });
  }

  #deleteCookie(request: Request): string {
    return buildStateCookieDeletion({
      requestUrl: request.url,
      ...(this.#o.stateCookieName ? { name: this.#o.stateCookieName } : {}),
      ...(this.#o.secureCookie !== undefined ? { secure: this.#o.secureCookie } : {}),
    });
  }
}

/**
 * Adds our headers to a custom Response: our `Set-Cookie`s (the cookie deletion) are appended to its own,
 * never replacing them; our other headers fill in only what it did not set.
 */
function withCookie(response: Response, extra: Headers): Response {
  const headers = new Headers(response.headers);
  for (const c of extra.getSetCookie()) headers.append("Set-Cookie", c);
  for (const [name, value] of extra) {
    if (name !== "set-cookie" && !headers.has(name)) headers.set(name, value);
  }
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** The org URL from `auth.test`, only when it is a plain https URL (it ends up in an `href`). */
function safeOrgUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const u = new URL(value);
    if (u.protocol !== "https:" || u.username || u.password) return undefined;
    return u.href.endsWith("/") ? u.href : `${u.href}/`;
  } catch {
    return undefined;
  }
}

function successContext(i: Installation): SuccessPageContext {
  const orgUrl = i.isEnterpriseInstall ? safeOrgUrl(i.enterpriseUrl) : undefined;
  if (orgUrl && i.appId) {
    // Org-wide installs end on the org's app-management page, where an admin adds the app to workspaces.
    return {
      installation: i,
      openUrl: `${orgUrl}manage/organization/apps/profile/${encodeURIComponent(i.appId)}/workspaces/add`,
    };
  }
  const team = i.teamId ?? i.enterpriseId ?? "";
  if (!i.appId) {
    // Legacy v1 replies carry no app id: open the workspace instead of a broken app link.
    return { installation: i, openUrl: `slack://open?team=${encodeURIComponent(team)}` };
  }
  const app = i.appId;
  return {
    installation: i,
    openUrl: `slack://app?team=${encodeURIComponent(team)}&id=${encodeURIComponent(app)}`,
    webUrl: `https://slack.com/app_redirect?app=${encodeURIComponent(app)}&team=${encodeURIComponent(team)}`,
  };
}
