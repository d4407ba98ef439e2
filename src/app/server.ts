import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createAuthorize } from "../authorize/authorize.js";
import {
  createSingleWorkspaceAuthorize,
  type SingleWorkspaceAuthorize,
  type SingleWorkspaceIdentity,
} from "../authorize/single-workspace.js";
import type { Emulator } from "../emulator/index.js";
import { CodedTypeError, ConfigError, ErrorCode } from "../errors.js";
import { SlackAppRouter } from "../events/app-router.js";
import type { SlackRequestHandler } from "../events/handler.js";
import { RefreshScheduler } from "../health/scheduler.js";
import { clientErrorListener, connectMethodListener, toNodeListener, toNodeSlackListener } from "../http/node.js";
import { type MetricsOptions, measureAuthorize } from "../metrics/hooks.js";
import { OAuthFlow } from "../oauth/flow.js";
import { escapeHtml, HTML_HEADERS, layout } from "../oauth/html.js";
import { renderFailurePage } from "../oauth/pages.js";
import { OIDC_STATE_COOKIE_NAME } from "../oidc/flow.js";
import { SESSION_COOKIE_NAME } from "../oidc/session.js";
import { type Logger, redact } from "../redact.js";
import { RotationCoordinator } from "../rotation/coordinator.js";
import { TokenRotator } from "../rotation/token-rotator.js";
import { SlackApiClient } from "../slack-api/client.js";
import { STATE_COOKIE_NAME } from "../state/cookie.js";
import type { StateStore } from "../state/state.js";
import { CachingInstallationStore } from "../stores/cache.js";
import type { InstallationStore } from "../stores/installation-store.js";
import { APPS_FILE_VARIABLE, type AppConfig, type AppPaths } from "./apps-file.js";
import type { ServerConfig } from "./config.js";
import { CONSOLE_PATH, createConsole, type OperatorConsole, storeConsoleHealth } from "./console.js";
import { capConnectionsPerAddress, clientAddress, RateLimiter, type ServerLimits } from "./limits.js";
import { jsonLogger, requestId } from "./log.js";
import { createServerMetrics, METRICS_PATH } from "./metrics.js";
import { createSignInRoutes, loginRedirectUriFor, type SignInRoutes } from "./sign-in.js";
import { createReferenceSlackApp } from "./slack-app.js";
import { applyStoreOptions, type OpenedStores, openAppsStores, openStores } from "./stores.js";

/** What the reference app needs, resolved (credentials, stores, URLs). */
export interface AppDeps {
  clientId: string;
  clientSecret: string;
  signingSecret: string;
  scopes: string[];
  userScopes: string[];
  redirectUri?: string | undefined;
  apiUrl: string;
  authorizeUrl: string;
  installationStore: InstallationStore;
  stateStore: StateStore;
  logger: Logger;
  /** Display name on the install page. */
  appName?: string | undefined;
  /** Shown on the home page in sandbox mode. */
  sandbox?: { emulatorUrl: string } | undefined;
  /** The Slack Web API client (default a `SlackApiClient` on `apiUrl`); tests pass one without retry delays. */
  api?: SlackApiClient | undefined;
  /** Signature clock for the events endpoint, epoch seconds (tests). */
  nowSeconds?: (() => number) | undefined;
  /** Sign in with Slack: base of the OIDC endpoints (`SLACK_OIDC_BASE_URL`, default `https://slack.com`). */
  oidcBaseUrl?: string | undefined;
  /**
   * Sign in with Slack: expected id_token `iss`.
   *
   * @default `https://slack.com`
   */
  oidcIssuer?: string | undefined;
  /** Sign in with Slack: the login callback URL (default: next to `redirectUri`, else on the request's origin). */
  oidcRedirectUri?: string | undefined;
  /** HMAC key of the session cookie (`SESSION_SECRET`, 32+ characters); random per process when absent. */
  sessionSecret?: string | undefined;
  /**
   * Single-workspace mode: the environment token's source (its `installationStore` must be the one given
   * above). No OAuth flow: `clientId` and `clientSecret` are ignored and the install routes explain the mode.
   */
  singleWorkspace?: SingleWorkspaceAuthorize | undefined;
  /** Reports installs, uninstalls, token refreshes, authorize calls and Slack requests. */
  metrics?: MetricsOptions | undefined;
  /** Several apps (`SLACK_APPS_FILE`), each on its own paths with its own stores: see {@link createApp}. */
  apps?: AppUnitDeps[] | undefined;
  /**
   * The operator console's admins (`CONSOLE_ADMINS`, `team_id:user_id` pairs). Empty or absent: the
   * console is off (404). It needs Sign in with Slack, so single-workspace mode has none. With several
   * apps, admins sign in through the first app and the console lists every app.
   */
  consoleAdmins?: readonly string[] | undefined;
  /**
   * Refresh rotating tokens without traffic: one {@link RefreshScheduler} per app over its store, a pass every
   * this many seconds (`SLACK_REFRESH_INTERVAL_SECONDS`). Absent: tokens are refreshed only when requests
   * need them. Ignored in single-workspace mode. {@link ReferenceApp.schedulers} lists them; the caller
   * starts and stops them (`startServer` does).
   */
  refreshIntervalSeconds?: number | undefined;
}

/**
 * One of several apps a reference server serves (`SLACK_APPS_FILE`): its credentials, paths and stores.
 *
 * @example
 * ```ts
 * const app: AppUnitDeps = { name: "prod", clientId, appId: "A0PROD", clientSecret, signingSecret, scopes: ["commands"],
 *   userScopes: [], paths: { install: "/slack/prod/install", redirect: "/slack/prod/oauth_redirect",
 *   events: "/slack/prod/events", login: "/slack/prod/login" }, installationStore, stateStore };
 * ```
 */
export interface AppUnitDeps {
  /** Short name (paths, cookie names, the home page). */
  name: string;
  clientId: string;
  /** The app id: installs are checked against it, requests naming another app are refused. */
  appId: string;
  clientSecret: string;
  signingSecret: string;
  scopes: string[];
  userScopes: string[];
  redirectUri?: string | undefined;
  /** Install, OAuth callback, events and sign-in paths (sign-in: `<login>`, `<login>/callback`, `<login>/profile`, `<login>/logout`). */
  paths: AppPaths;
  /** This app's partition of the installations. */
  installationStore: InstallationStore;
  stateStore: StateStore;
  /** Display name on its install page (default the name). */
  displayName?: string | undefined;
  /** Metrics labelled with this app. */
  metrics?: MetricsOptions | undefined;
}

/** The reference app: a fetch handler for every route, plus its Slack endpoints for the Node fast path. */
export type ReferenceApp = ((request: Request) => Promise<Response>) & {
  /** The (first) app's request handler. */
  slack: SlackRequestHandler;
  /** Every events path and what answers it (each app's handler; several apps: `/slack/events` routes by app id). */
  slackRoutes: ReadonlyMap<string, Pick<SlackRequestHandler, "handleRaw" | "handle">>;
  /** Paths that issue a state on GET (install and sign-in starts): rate-limited per client address. */
  stateIssuingPaths: ReadonlySet<string>;
  /** One refresh scheduler per app when `refreshIntervalSeconds` is set (not started), else none. */
  schedulers: readonly RefreshScheduler[];
};

/** What one app of the reference app is made of. */
interface Unit {
  name: string | undefined;
  clientId: string;
  clientSecret: string;
  appName: string | undefined;
  redirectUri: string | undefined;
  stateStore: StateStore;
  slack: SlackRequestHandler;
  flow: Pick<OAuthFlow, "installPath" | "handle">;
  signIn: SignInRoutes | undefined;
  store: CachingInstallationStore;
}

/** The events path shared by every app of a multi-app server (requests routed by `api_app_id`). */
export const SHARED_EVENTS_PATH = "/slack/events";

/**
 * Builds the reference app as one `fetch`-style handler. With `deps.apps`, one flow, sign-in and events
 * endpoint per app on its own paths (the single-app fields `clientId`, `clientSecret`, `signingSecret`,
 * `scopes`, `userScopes`, `redirectUri`, `installationStore`, `stateStore`, `metrics` then play no part).
 */
export function createApp(deps: AppDeps): ReferenceApp {
  // Slack waits 3 s for an answer to a command: keep Web API calls well inside that.
  const api = deps.api ?? new SlackApiClient({ baseUrl: deps.apiUrl, logger: deps.logger, timeoutMs: 2500 });
  const multi = deps.apps !== undefined && deps.apps.length > 0;

  function buildUnit(u: {
    name?: string | undefined;
    appId?: string | undefined;
    clientId: string;
    clientSecret: string;
    signingSecret: string;
    scopes: string[];
    userScopes: string[];
    redirectUri?: string | undefined;
    paths?: AppPaths | undefined;
    installationStore: InstallationStore;
    stateStore: StateStore;
    appName?: string | undefined;
    metrics?: MetricsOptions | undefined;
    oidcRedirectUri?: string | undefined;
  }): Unit {
    // One caching store for the install flow, authorize and uninstall handling: every write drops the cache.
    const store =
      u.installationStore instanceof CachingInstallationStore
        ? u.installationStore
        : new CachingInstallationStore(u.installationStore);
    const slack = createReferenceSlackApp({
      signingSecret: u.signingSecret,
      appId: u.appId,
      // Multi-workspace: tokens from apps with rotation on are refreshed before they expire, once per
      // installation across processes (store locks). Single-workspace tokens are long-lived (checked at start).
      authorize:
        (deps.singleWorkspace ? measureAuthorize(deps.singleWorkspace.authorize, u.metrics) : undefined) ??
        createAuthorize({
          installationStore: store,
          rotation: {
            clientId: u.clientId,
            clientSecret: u.clientSecret,
            api,
            logger: deps.logger,
            onError: (error) =>
              deps.logger.warn(
                `token rotation failed${u.name ? ` (app "${u.name}")` : ""}: ${error.code}: ${error.message}`,
              ),
          },
          metrics: u.metrics,
          // Results say which configured scopes an installation lacks: /open-modal then asks for a reinstall.
          requiredScopes: { bot: u.scopes, user: u.userScopes },
        }),
      installationStore: store,
      api,
      logger: deps.logger,
      // Reinstall links: the app's install path, on the public origin the redirect URL names (behind a
      // proxy the request's origin is not the public one).
      installUrl: u.redirectUri
        ? `${new URL(u.redirectUri).origin}${u.paths?.install ?? "/slack/install"}`
        : (u.paths?.install ?? "/slack/install"),
      ...(deps.nowSeconds ? { nowSeconds: deps.nowSeconds } : {}),
      metrics: u.metrics,
    });
    const flow: Pick<OAuthFlow, "installPath" | "handle"> = deps.singleWorkspace
      ? singleWorkspaceRoutes(deps.singleWorkspace)
      : new OAuthFlow({
          clientId: u.clientId,
          clientSecret: u.clientSecret,
          ...(u.appId ? { appId: u.appId } : {}),
          scopes: u.scopes,
          userScopes: u.userScopes,
          ...(u.redirectUri ? { redirectUri: u.redirectUri } : {}),
          authorizationUrl: deps.authorizeUrl,
          stateStore: u.stateStore,
          installationStore: store,
          api,
          logger: deps.logger,
          homeUrl: "/",
          ...(u.appName ? { appName: u.appName } : {}),
          ...(u.metrics ? { metrics: u.metrics } : {}),
          // Several apps: each on its own paths, with its own state cookie (two installs in one browser).
          ...(u.paths && u.name
            ? {
                installPath: u.paths.install,
                redirectPath: u.paths.redirect,
                stateCookieName: `${STATE_COOKIE_NAME}-${u.name}`,
              }
            : {}),
        });
    // Sign in with Slack needs the app's credentials: not in single-workspace mode.
    const signIn =
      deps.singleWorkspace || !u.clientId || !u.clientSecret
        ? undefined
        : createSignInRoutes({
            clientId: u.clientId,
            clientSecret: u.clientSecret,
            stateStore: u.stateStore,
            api,
            logger: deps.logger,
            oidcBaseUrl: deps.oidcBaseUrl,
            oidcIssuer: deps.oidcIssuer,
            redirectUri: u.oidcRedirectUri,
            sessionSecret: deps.sessionSecret,
            sandbox: deps.sandbox !== undefined,
            // Sandbox pages load nothing from outside the machine: the avatar comes from the emulator.
            ...(deps.sandbox ? { imageOrigins: [deps.sandbox.emulatorUrl] } : {}),
            appName: u.appName,
            returnPaths: [CONSOLE_PATH],
            ...(u.paths && u.name
              ? {
                  loginPath: u.paths.login,
                  profilePath: `${u.paths.login}/profile`,
                  logoutPath: `${u.paths.login}/logout`,
                  stateCookieName: `${OIDC_STATE_COOKIE_NAME}-${u.name}`,
                  sessionCookieName: `${SESSION_COOKIE_NAME}-${u.name}`,
                }
              : {}),
          });
    return {
      name: u.name,
      clientId: u.clientId,
      clientSecret: u.clientSecret,
      appName: u.appName,
      redirectUri: u.redirectUri,
      stateStore: u.stateStore,
      slack,
      flow,
      signIn,
      store,
    };
  }

  const units: Unit[] = multi
    ? (deps.apps ?? []).map((a) =>
        buildUnit({
          ...a,
          appName: a.displayName ?? a.name,
          // The login callback next to the install callback's origin (or on the request's origin).
          oidcRedirectUri: a.redirectUri ? new URL(`${a.paths.login}/callback`, a.redirectUri).href : undefined,
        }),
      )
    : [
        buildUnit({
          clientId: deps.clientId,
          clientSecret: deps.clientSecret,
          signingSecret: deps.signingSecret,
          scopes: deps.scopes,
          userScopes: deps.userScopes,
          redirectUri: deps.redirectUri,
          installationStore: deps.installationStore,
          stateStore: deps.stateStore,
          appName: deps.appName,
          metrics: deps.metrics,
          oidcRedirectUri:
            deps.oidcRedirectUri ?? (deps.redirectUri ? loginRedirectUriFor(deps.redirectUri) : undefined),
        }),
      ];
  const first = units[0] as Unit;
  const slackRoutes = new Map<string, Pick<SlackRequestHandler, "handleRaw" | "handle">>();
  if (multi) {
    for (const [i, a] of (deps.apps ?? []).entries()) slackRoutes.set(a.paths.events, (units[i] as Unit).slack);
    // One shared endpoint as well (unless an app claims its path): each request goes to the app it names.
    if (!slackRoutes.has(SHARED_EVENTS_PATH))
      slackRoutes.set(
        SHARED_EVENTS_PATH,
        new SlackAppRouter({ handlers: units.map((u) => u.slack), logger: deps.logger }),
      );
  } else slackRoutes.set(SHARED_EVENTS_PATH, first.slack);
  const installPaths = new Set(units.map((u) => u.flow.installPath));
  const loginPaths = new Set(units.flatMap((u) => (u.signIn ? [u.signIn.loginPath] : [])));
  const stateIssuingPaths = new Set([...installPaths, ...loginPaths]);
  const operatorConsole =
    first.signIn && first.flow instanceof OAuthFlow ? createAppConsole(deps, first.signIn, units, api) : undefined;

  /**
   * The installed workspaces, for the home page. Only in sandbox mode (everything there is this machine's
   * own): outside it the public page names no customer, and reads nothing from the store. Paginated.
   */
  async function installedSection(url: URL): Promise<string> {
    if (!deps.sandbox) {
      return `<p class="muted" id="installations-private">Installed workspaces are not listed on this public page. Operators list them with <code>slack-oauth-kit installations list</code>.</p>`;
    }
    // The home page is informational: a store that fails to list must not take it down.
    const lists = await Promise.all(
      units.map((u) =>
        u.store.listWorkspaces().then(
          (ws) => ws.flatMap((w) => w.installations).map((i) => ({ app: u.name, i })),
          (error: unknown) => {
            deps.logger.warn(`home page: listing installations failed: ${redact(String((error as Error)?.message))}`);
            return undefined;
          },
        ),
      ),
    );
    if (lists.some((l) => l === undefined))
      return `<p class="muted">The installations cannot be listed right now; they are saved all the same.</p>`;
    const installs = lists.flatMap((l) => l ?? []);
    if (installs.length === 0) return `<p class="muted">No workspace has installed the app yet.</p>`;
    const pages = Math.ceil(installs.length / HOME_PAGE_SIZE);
    const asked = Number(url.searchParams.get("page") ?? "1");
    const page = Number.isInteger(asked) ? Math.min(Math.max(asked, 1), pages) : 1;
    const rows = installs
      .slice((page - 1) * HOME_PAGE_SIZE, page * HOME_PAGE_SIZE)
      .map(
        ({ app, i }) =>
          `<tr>${multi ? `<td>${escapeHtml(app ?? "")}</td>` : ""}<td>${escapeHtml(i.enterpriseName ?? i.enterpriseId ?? "")}</td><td>${escapeHtml(i.teamName ?? i.teamId ?? "(org-wide)")}</td><td>${escapeHtml(i.userId)}</td><td>${escapeHtml(new Date(i.installedAt * 1000).toISOString())}</td></tr>`,
      )
      .join("");
    const nav =
      pages === 1
        ? ""
        : `<p class="muted" id="pages">Page ${page} of ${pages} (${installs.length} installations)${page > 1 ? ` <a rel="prev" href="/?page=${page - 1}">Previous</a>` : ""}${page < pages ? ` <a rel="next" href="/?page=${page + 1}">Next</a>` : ""}</p>`;
    return `<table><thead><tr>${multi ? "<th>App</th>" : ""}<th>Org</th><th>Workspace</th><th>Installed by</th><th>When (UTC)</th></tr></thead><tbody>${rows}</tbody></table>${nav}`;
  }

  async function home(url: URL): Promise<Response> {
    const table = await installedSection(url);
    const sandbox =
      multi && deps.sandbox
        ? `<p><strong>Sandbox mode.</strong> A local Slack emulator at <code>${escapeHtml(deps.sandbox.emulatorUrl)}</code>
plays Slack and hosts every app of SLACK_APPS_FILE. Click an app's button, pick a workspace, and press Allow:
everything stays on this machine.</p>`
        : deps.sandbox
          ? `<p><strong>Sandbox mode.</strong> No Slack credentials were given, so a local Slack emulator plays Slack
at <code>${escapeHtml(deps.sandbox.emulatorUrl)}</code>. Click the button, pick a workspace, and press Allow:
everything stays on this machine.</p>
<p class="muted">To use real Slack, set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET.</p>`
          : "";
    const signInLinks = (u: Unit, suffix: string) =>
      u.signIn
        ? `<p><a class="button secondary" id="sign-in${suffix}" href="${escapeHtml(u.signIn.loginPath)}">Sign in with Slack</a> <a href="${escapeHtml(u.signIn.profilePath)}">Your profile</a></p>`
        : "";
    let buttons: string;
    if (deps.singleWorkspace) buttons = `<p>${singleWorkspaceExplanation(deps.singleWorkspace)}</p>`;
    else if (multi)
      buttons = units
        .map(
          (u) =>
            `<h2>${escapeHtml(u.name ?? "")}</h2>\n<p><a class="button" id="install-${escapeHtml(u.name ?? "")}" href="${escapeHtml(u.flow.installPath)}">Add ${escapeHtml(u.name ?? "")} to Slack</a></p>\n${signInLinks(u, `-${u.name}`)}`,
        )
        .join("\n");
    else
      buttons = `<p><a class="button" id="install" href="/slack/install">Add to Slack</a></p>\n${signInLinks(first, "")}`;
    const body = `<h1>slack-oauth-kit</h1>${sandbox}
${buttons}
<h2>Installed workspaces</h2>${table}`;
    return new Response(layout("slack-oauth-kit", body), { headers: HTML_HEADERS });
  }

  // In sandbox mode the emulator redirects to the printed URL's origin: an install started on another name
  // for this server (127.0.0.1 instead of localhost) would set its state cookie where the callback never
  // lands, so send the browser to the printed origin first. Only in sandbox mode: behind a proxy the origin
  // we see is not the public one, and redirecting there would loop.
  const canonicalRedirect = multi ? deps.apps?.[0]?.redirectUri : deps.redirectUri;
  const canonicalOrigin = deps.sandbox && canonicalRedirect ? new URL(canonicalRedirect).origin : undefined;

  const app = async (request: Request): Promise<Response> => {
    const incoming = request.headers.get("x-request-id");
    const id = incoming && REQUEST_ID_RE.test(incoming) ? incoming : requestId();
    const started = performance.now();
    const path = new URL(request.url).pathname;
    let response: Response | undefined;
    try {
      const url = new URL(request.url);
      const events = slackRoutes.get(path);
      if (
        canonicalOrigin &&
        url.origin !== canonicalOrigin &&
        (path === "/" || stateIssuingPaths.has(path) || path === CONSOLE_PATH)
      ) {
        response = new Response(null, { status: 302, headers: { Location: `${canonicalOrigin}${path}${url.search}` } });
      } else if (path === "/" && (request.method === "GET" || request.method === "HEAD"))
        response = await home(new URL(request.url));
      else if (path === "/healthz") response = Response.json({ ok: true });
      else if (events) response = await events.handle(request);
      else {
        const reinstall = url.searchParams.has("team") ? units.find((u) => u.flow.installPath === path) : undefined;
        if (reinstall && reinstall.flow instanceof OAuthFlow) {
          // A reinstall link from the console: the workspace (or org) preselected on Slack's consent screen.
          const team = url.searchParams.get("team") ?? "";
          response = await reinstall.flow.handleInstall(request, TEAM_PARAM_RE.test(team) ? { team } : {});
        } else {
          for (const u of units) {
            response = (await u.flow.handle(request)) ?? (await u.signIn?.handle(request));
            if (response) break;
          }
          response ??= (await operatorConsole?.handle(request)) ?? notFound();
        }
      }
    } catch (error) {
      deps.logger.error(
        `request failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
        {
          requestId: id,
        },
      );
      response = new Response(layout("Server error", "<h1>Something went wrong</h1><p>Please try again.</p>", "bad"), {
        status: 500,
        headers: HTML_HEADERS,
      });
    }
    const headers = new Headers(response.headers);
    headers.set("X-Request-Id", id);
    deps.logger.info("request", {
      requestId: id,
      method: request.method,
      path,
      status: response.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
    return new Response(response.body, { status: response.status, headers });
  };
  // Opt-in refresh without traffic: each app's scheduler works on the same caching store as its requests,
  // so a refreshed token drops the cached one here (and, through the bus, in the other processes).
  const interval = deps.refreshIntervalSeconds;
  const schedulers =
    interval === undefined || deps.singleWorkspace
      ? []
      : units.map(
          (u) =>
            new RefreshScheduler({
              installationStore: u.store,
              rotator: new TokenRotator({
                clientId: u.clientId,
                clientSecret: u.clientSecret,
                api,
                logger: deps.logger,
              }),
              intervalMs: interval * 1000,
              logger: deps.logger,
              onFailure: (item) =>
                deps.logger.warn(
                  `refresh scheduler${u.name ? ` (app "${u.name}")` : ""}: the ${item.kind} token of ${item.teamId ?? `org ${item.enterpriseId ?? "-"}`}${item.userId ? ` (user ${item.userId})` : ""} failed to refresh: ${item.error?.slackError ?? item.error?.reason ?? item.error?.code ?? "error"}`,
                ),
            }),
        );
  return Object.assign(app, { slack: first.slack, slackRoutes, stateIssuingPaths, schedulers });
}

/** The app-independent part of a multi-app server's deps, and one {@link AppUnitDeps} per app of the file. */
function multiAppDeps(
  config: ServerConfig,
  stores: OpenedStores[],
  logger: Logger,
  metrics: { forApp(app: string): MetricsOptions } | undefined,
  redirectUriOf: (app: AppConfig) => string | undefined,
): Omit<AppDeps, "apiUrl" | "authorizeUrl"> {
  const apps = config.apps ?? [];
  const first = stores[0] as OpenedStores;
  return {
    // The single-app fields play no part with `apps` (see createApp).
    clientId: "",
    clientSecret: "",
    signingSecret: "",
    scopes: [],
    userScopes: [],
    installationStore: first.installationStore,
    stateStore: first.stateStore,
    logger,
    apps: apps.map((a, i) => ({
      name: a.name,
      clientId: a.clientId,
      appId: a.appId,
      clientSecret: a.clientSecret,
      signingSecret: a.signingSecret,
      scopes: a.scopes,
      userScopes: a.userScopes,
      redirectUri: redirectUriOf(a),
      paths: a.paths,
      installationStore: (stores[i] ?? first).installationStore,
      stateStore: (stores[i] ?? first).stateStore,
      metrics: metrics?.forApp(a.clientId),
    })),
  };
}

/** The emulator's id_token issuer in sandbox mode (Slack's own, so the flow checks it exactly as in production). */
const SANDBOX_OIDC_ISSUER = "https://slack.com";

/** Installations per page of the sandbox home page. */
const HOME_PAGE_SIZE = 25;

/** A workspace or org id in a reinstall link's `team` parameter (anything else is ignored). */
const TEAM_PARAM_RE = /^[TE][A-Z0-9]{2,31}$/;

/**
 * The reference app's operator console: each app's installations (its store partition), token refresh
 * through the store's locks (as `authorize` does), health checks with `auth.test`. Admins sign in through
 * the first app's Sign in with Slack.
 */
function createAppConsole(
  deps: AppDeps,
  signIn: SignInRoutes,
  units: readonly Unit[],
  api: SlackApiClient,
): OperatorConsole {
  const first = units[0] as Unit;
  const origin = first.redirectUri ? new URL(first.redirectUri).origin : undefined;
  const installUrlOf = (u: Unit) => {
    if (u.redirectUri === undefined || u.name !== undefined) {
      // Absolute on the public origin when known (behind a proxy the request's own origin may not be it).
      const base = u.redirectUri ?? first.redirectUri;
      return base ? new URL(u.flow.installPath, base).href : u.flow.installPath;
    }
    return u.redirectUri.endsWith("/slack/oauth_redirect")
      ? `${u.redirectUri.slice(0, -"/slack/oauth_redirect".length)}/slack/install`
      : "/slack/install";
  };
  return createConsole({
    admins: deps.consoleAdmins ?? [],
    apps: units.map((u) => ({
      name: u.name ?? u.appName ?? "This app",
      clientId: u.clientId,
      store: u.store,
      coordinator: new RotationCoordinator({
        installationStore: u.store,
        rotator: new TokenRotator({
          clientId: u.clientId,
          clientSecret: u.clientSecret,
          api,
          logger: deps.logger,
        }),
        logger: deps.logger,
      }),
      installUrl: installUrlOf(u),
    })),
    currentUser: (request) => signIn.currentUser(request),
    loginPath: signIn.loginPath,
    logoutPath: signIn.logoutPath,
    stateStore: first.stateStore,
    sessionSecret: deps.sessionSecret ?? randomBytes(32),
    allowedOrigins: origin ? [origin] : undefined,
    // Health as the stores record it (slack-oauth-kit/health), "check now" through checkInstallationHealth.
    health: storeConsoleHealth({ apiUrl: deps.apiUrl, logger: deps.logger }),
    logger: deps.logger,
  });
}

/** Request ids accepted from a proxy or client: short and log-safe. */
const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** What single-workspace mode means, for the home and install pages (HTML, ids escaped, no token). */
function singleWorkspaceExplanation(source: SingleWorkspaceAuthorize): string {
  const w = source.workspace;
  const where = w.isEnterpriseInstall
    ? `the org <code>${escapeHtml(w.enterpriseId ?? "")}</code>`
    : `the workspace <code>${escapeHtml(w.teamId ?? "")}</code>${w.teamName ? ` (${escapeHtml(w.teamName)})` : ""}`;
  return `<strong>Single-workspace mode.</strong> This app serves ${where} with the bot token from
<code>SLACK_BOT_TOKEN</code>; there is nothing to install here. To install it on more workspaces, switch
to multi-workspace mode: set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET, unset
SLACK_BOT_TOKEN, and install each workspace through /slack/install.`;
}

/**
 * The install routes in single-workspace mode: no OAuth flow, a page explaining the mode instead (200 on
 * the install route, 404 on the callback route, which no install can reach).
 */
function singleWorkspaceRoutes(source: SingleWorkspaceAuthorize): Pick<OAuthFlow, "installPath" | "handle"> {
  const installPath = "/slack/install";
  const redirectPath = "/slack/oauth_redirect";
  return {
    installPath,
    async handle(request) {
      const path = new URL(request.url).pathname;
      if (path !== installPath && path !== redirectPath) return undefined;
      const page = layout(
        "Single-workspace mode",
        `<h1>Nothing to install</h1><p id="single-workspace">${singleWorkspaceExplanation(source)}</p><p><a href="/">Home</a></p>`,
      );
      return new Response(request.method === "HEAD" ? null : page, {
        status: path === installPath ? 200 : 404,
        headers: { ...HTML_HEADERS, "Cache-Control": "no-store" },
      });
    },
  };
}

function notFound(): Response {
  return new Response(layout("Not found", '<h1>Not found</h1><p><a href="/">Home</a></p>', "bad"), {
    status: 404,
    headers: HTML_HEADERS,
  });
}

/** A running reference server. */
export interface RunningServer {
  url: string;
  server: Server;
  installationStore: InstallationStore;
  /** The in-process emulator in sandbox mode (its test API lets tests drive it). */
  emulator?: Emulator | undefined;
  /** In single-workspace mode: the workspace the environment's token serves (as auth.test reported it). */
  singleWorkspace?: SingleWorkspaceIdentity | undefined;
  /** Where Prometheus scrapes (`METRICS_PORT` / `METRICS_TOKEN`), when metrics are on. */
  metricsUrl?: string | undefined;
  /** Several apps (`SLACK_APPS_FILE`): each app's name and installation store (its partition), in the file's order. */
  apps?: Array<{ name: string; clientId: string; appId: string; installationStore: InstallationStore }> | undefined;
  /** The running refresh schedulers, one per app (`SLACK_REFRESH_INTERVAL_SECONDS`); empty when off. */
  schedulers: readonly RefreshScheduler[];
  close(): Promise<void>;
}

/**
 * Starts the reference server. In sandbox mode (no client id) it starts the emulator in-process first
 * and points itself at it.
 */
export async function startServer(config: ServerConfig, options: StartServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? jsonLogger();
  // Loaded first: a missing prom-client stops the start before anything listens.
  const metrics = config.metrics ? await createServerMetrics(config.metrics) : undefined;
  const metricsOnMain = metrics !== undefined && config.metrics?.port === "main";
  let handler: ReferenceApp | undefined;
  const limits = config.limits;
  const bodyTimeoutMs = limits.bodyTimeoutSeconds * 1000;
  const fetchListener = toNodeListener(
    (request) => (handler ? handler(request) : new Response("starting", { status: 503 })),
    {
      maxBodyBytes: 1024 * 1024,
      bodyTimeoutMs,
      onError: (error) => logger.error(`unhandled error: ${error instanceof Error ? error.message : String(error)}`),
    },
  );
  // POST to an events path is the hot path: served without web Request/Response objects (see
  // toNodeSlackListener), one listener per path (each app's, and the shared one), filled in once the app
  // is built. Failures are logged by the handlers themselves; successful requests are not logged one by one.
  const slackListeners = new Map<string, ReturnType<typeof toNodeSlackListener>>();
  const issuingPaths = new Set(STATE_ISSUING_PATHS);
  const limitStarts = installStartLimiter(limits, logger, issuingPaths);
  // Slow clients: headers must arrive within headersTimeout, a whole request within headers + body
  // timeouts (checked every second, not Node's default 30 s), and each address holds a bounded number of
  // connections, so a few addresses trickling bytes cannot take every socket the server has.
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutSeconds * 1000,
      requestTimeout: (limits.headersTimeoutSeconds + limits.bodyTimeoutSeconds) * 1000,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      if (metricsOnMain && (req.url === METRICS_PATH || req.url?.startsWith(`${METRICS_PATH}?`))) {
        (metrics as NonNullable<typeof metrics>).listener(req, res);
      } else if (req.method === "POST" && slackListeners.size > 0) {
        const url = req.url ?? "/";
        const q = url.indexOf("?");
        const listener = slackListeners.get(q === -1 ? url : url.slice(0, q));
        if (listener) listener(req, res);
        else if (limitStarts(req, res)) fetchListener(req, res);
      } else if (limitStarts(req, res)) {
        fetchListener(req, res);
      }
    },
  );
  capConnectionsPerAddress(server, limits.maxConnectionsPerAddress);
  server.on("connect", connectMethodListener());
  // Requests Node rejects before any handler (a 100 KB callback URL, huge cookies) still get a page.
  server.on(
    "clientError",
    clientErrorListener({
      render: (status) => ({
        contentType: "text/html; charset=utf-8",
        body: renderFailurePage({
          code: ErrorCode.BadRequest,
          status,
          message:
            status === 414
              ? "The link is far too long to be an installation link."
              : status === 408
                ? "The request took too long to arrive. Please try again."
                : "The request is too large or malformed (very large cookies can cause this).",
          retryUrl: "/slack/install",
        }),
      }),
    }),
  );
  await listen(server, config.port, config.host);
  const port = (server.address() as AddressInfo).port;
  const url = config.publicUrl ?? `http://${displayHost(config.host)}:${port}`;
  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  const closeMetricsServer = async () => {
    metricsServer?.closeAllConnections();
    await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
  };
  if (metrics !== undefined && config.metrics && config.metrics.port !== "main") {
    const own = createServer(metrics.listener);
    try {
      await listen(own, config.metrics.port, config.metrics.host);
    } catch (error) {
      await new Promise<void>((r) => server.close(() => r()));
      throw error;
    }
    metricsServer = own;
    metricsUrl = `http://${displayHost(config.metrics.host)}:${(own.address() as AddressInfo).port}${METRICS_PATH}`;
  } else if (metricsOnMain) metricsUrl = `${url}${METRICS_PATH}`;
  let stores: OpenedStores;
  /** Several apps: each app's stores, in the order of `config.apps`. */
  let appStores: OpenedStores[] | undefined;
  try {
    // Single-workspace mode stores nothing: the environment's token lives in memory only (never copied to disk).
    if (config.apps && options.stores)
      throw new ConfigError("startServer: the stores option serves one app; several apps open their own partitions");
    if (config.apps) {
      // Several apps: one partition (and Redis state key space) per app, in the file's order.
      const opened = await openAppsStores(config.databaseUrl, config.apps, {
        redisUrl: config.redisUrl,
        redisKeyPrefix: config.redisKeyPrefix,
        tokenEncryptionKey: config.tokenEncryptionKey,
        maxConnections: config.databaseMaxConnections,
      });
      appStores = opened.stores;
      stores = { ...(opened.stores[0] as OpenedStores), close: opened.close };
    } else
      stores =
        options.stores ??
        (config.singleWorkspace
          ? await openStores("memory:")
          : await applyStoreOptions(
              await openStores(config.databaseUrl, { maxConnections: config.databaseMaxConnections }),
              {
                redisUrl: config.redisUrl,
                redisKeyPrefix: config.redisKeyPrefix,
                tokenEncryptionKey: config.tokenEncryptionKey,
              },
            ));
  } catch (error) {
    await new Promise<void>((r) => server.close(() => r()));
    await closeMetricsServer();
    throw error;
  }
  let emulator: RunningServer["emulator"];
  let singleWorkspace: SingleWorkspaceIdentity | undefined;
  try {
    let deps: AppDeps;
    if (config.singleWorkspace) {
      // auth.test learns the workspace; a refused token stops the start here with a message naming the variable.
      const api = new SlackApiClient({ baseUrl: config.apiUrl, logger, timeoutMs: 10_000 });
      const source = await createSingleWorkspaceAuthorize({
        botToken: config.singleWorkspace.botToken,
        userToken: config.singleWorkspace.userToken,
        api,
        installationStore: stores.installationStore,
        logger,
      });
      deps = {
        clientId: "",
        clientSecret: "",
        signingSecret: config.signingSecret ?? "",
        scopes: [],
        userScopes: [],
        apiUrl: config.apiUrl,
        authorizeUrl: config.authorizeUrl,
        ...stores,
        logger,
        singleWorkspace: source,
      };
    } else if (config.sandbox && config.apps) {
      // The emulator hosts every app of the file: its ids and secrets, its redirect and request URLs here.
      const { startEmulator } = await import("../emulator/index.js");
      const specs = config.apps.map((a) => ({
        name: a.name,
        appId: a.appId,
        clientId: a.clientId,
        clientSecret: a.clientSecret,
        signingSecret: a.signingSecret,
        redirectUrls: [`${url}${a.paths.redirect}`, `${url}${a.paths.login}/callback`],
        requestUrl: `${url}${a.paths.events}`,
        ...(a.sandbox?.tokenRotation !== undefined ? { tokenRotation: a.sandbox.tokenRotation } : {}),
        ...(a.sandbox?.tokenExpiresIn !== undefined ? { tokenExpiresIn: a.sandbox.tokenExpiresIn } : {}),
      }));
      // Each app checked alone first, so that a value the emulator cannot host names its app.
      const { resolveApp } = await import("../emulator/apps.js");
      const refused: string[] = [];
      for (const [i, spec] of specs.entries()) {
        try {
          resolveApp(spec, { appUrl: url, index: i });
        } catch (error) {
          if (!(error instanceof CodedTypeError)) throw error;
          refused.push(`app "${spec.name}": ${error.message.replace(/^emulator: /, "")}`);
        }
      }
      if (refused.length > 0)
        throw new ConfigError(
          `${APPS_FILE_VARIABLE} (sandbox): the built-in emulator cannot host ${refused.join("; ")}`,
        );
      let emu: Emulator;
      try {
        emu = await startEmulator({
          port: 0,
          host: "127.0.0.1",
          appUrl: url,
          oidcIssuer: SANDBOX_OIDC_ISSUER,
          ...specs[0],
          apps: specs.slice(1),
        });
      } catch (error) {
        // A value the emulator cannot host (say, a secret shorter than 8 characters): configuration to fix.
        if (error instanceof CodedTypeError) throw new ConfigError(`${APPS_FILE_VARIABLE} (sandbox): ${error.message}`);
        throw error;
      }
      emulator = emu;
      deps = {
        ...multiAppDeps(config, appStores ?? [stores], logger, metrics, (a) => `${url}${a.paths.redirect}`),
        apiUrl: emu.apiUrl,
        authorizeUrl: `${emu.url}/oauth/v2/authorize`,
        sandbox: { emulatorUrl: emu.url },
        oidcBaseUrl: emu.url,
        oidcIssuer: SANDBOX_OIDC_ISSUER,
        consoleAdmins: config.consoleAdmins,
      };
    } else if (config.apps) {
      deps = {
        ...multiAppDeps(config, appStores ?? [stores], logger, metrics, (a) => a.redirectUri),
        apiUrl: config.apiUrl,
        authorizeUrl: config.authorizeUrl,
        oidcBaseUrl: config.oidcBaseUrl,
        sessionSecret: process.env.SESSION_SECRET?.trim() || undefined,
        consoleAdmins: config.consoleAdmins,
      };
    } else if (config.sandbox) {
      const { startEmulator } = await import("../emulator/index.js");
      const emu = await startEmulator({ port: 0, host: "127.0.0.1", appUrl: url, oidcIssuer: SANDBOX_OIDC_ISSUER });
      emulator = emu;
      deps = {
        clientId: emu.app.clientId,
        clientSecret: emu.app.clientSecret,
        signingSecret: emu.app.signingSecret,
        scopes: config.scopes,
        userScopes: config.userScopes,
        redirectUri: `${url}/slack/oauth_redirect`,
        apiUrl: emu.apiUrl,
        authorizeUrl: `${emu.url}/oauth/v2/authorize`,
        ...stores,
        logger,
        sandbox: { emulatorUrl: emu.url },
        appName: emu.app.name,
        oidcBaseUrl: emu.url,
        oidcIssuer: SANDBOX_OIDC_ISSUER,
        consoleAdmins: config.consoleAdmins,
      };
    } else {
      deps = {
        clientId: config.clientId ?? "",
        clientSecret: config.clientSecret ?? "",
        signingSecret: config.signingSecret ?? "",
        scopes: config.scopes,
        userScopes: config.userScopes,
        redirectUri: config.redirectUri,
        apiUrl: config.apiUrl,
        authorizeUrl: config.authorizeUrl,
        ...stores,
        logger,
        oidcBaseUrl: config.oidcBaseUrl,
        // Read here until loadConfig carries it: a secret, never printed.
        sessionSecret: process.env.SESSION_SECRET?.trim() || undefined,
        consoleAdmins: config.consoleAdmins,
      };
    }
    // The `app` label: METRICS_APP, else the client id (single-workspace mode: the app id auth.test gave).
    if (metrics !== undefined && !deps.apps) {
      deps.metrics = metrics.forApp(deps.clientId || deps.singleWorkspace?.workspace.appId || "single-workspace");
    }
    if (config.refreshIntervalSeconds !== undefined) deps.refreshIntervalSeconds = config.refreshIntervalSeconds;
    const built = createApp(deps);
    for (const [path, h] of built.slackRoutes)
      slackListeners.set(path, toNodeSlackListener(h, { maxBodyBytes: 1024 * 1024, bodyTimeoutMs }));
    for (const p of built.stateIssuingPaths) issuingPaths.add(p);
    handler = built;
    for (const scheduler of built.schedulers) scheduler.start();
    singleWorkspace = deps.singleWorkspace?.workspace;
  } catch (error) {
    await new Promise<void>((r) => server.close(() => r()));
    await closeMetricsServer();
    await stores.close();
    await emulator?.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  const graceMs = options.shutdownGraceMs ?? 10_000;
  return {
    url,
    server,
    installationStore: stores.installationStore,
    emulator,
    singleWorkspace,
    metricsUrl,
    schedulers: handler?.schedulers ?? [],
    apps: config.apps?.map((a, i) => ({
      name: a.name,
      clientId: a.clientId,
      appId: a.appId,
      installationStore: (appStores?.[i] ?? stores).installationStore,
    })),
    close() {
      closing ??= (async () => {
        // No new refresh pass; the one in progress finishes (its refreshes are written) before the stores close.
        await Promise.all((handler?.schedulers ?? []).map((s) => s.stop()));
        // Stop accepting, let in-flight requests finish (up to the grace period), then release the stores.
        await new Promise<void>((r) => {
          const force = setTimeout(() => {
            logger.warn(`shutdown: requests still running after ${graceMs} ms; closing their connections`);
            server.closeAllConnections();
          }, graceMs);
          force.unref();
          // Keep-alive connections that go idle after their last reply are closed as they do.
          const sweep = setInterval(() => server.closeIdleConnections(), 50);
          sweep.unref();
          server.close(() => {
            clearTimeout(force);
            clearInterval(sweep);
            r();
          });
          server.closeIdleConnections();
        });
        await closeMetricsServer();
        await emulator?.close();
        await stores.close();
      })();
      return closing;
    },
  };
}

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /**
   * Where the JSON log lines go.
   *
   * @default stdout
   */
  logger?: Logger;
  /** Use these stores instead of opening `config.databaseUrl` (tests). */
  stores?: OpenedStores;
  /**
   * How long `close()` waits for in-flight requests before cutting them off.
   *
   * @default 10 000 ms
   */
  shutdownGraceMs?: number;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** Paths that issue a state (a row or file per request): the install start and Sign in with Slack's. */
const STATE_ISSUING_PATHS = new Set(["/slack/install", "/slack/login"]);

/**
 * The install-start rate limit: `GET` on a state-issuing path takes a token from the client address's
 * bucket; over the limit the client gets 429 with `Retry-After` (and no state is issued). Returns true
 * when the request may go on.
 */
function installStartLimiter(
  limits: ServerLimits,
  logger: Logger,
  paths: ReadonlySet<string>,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  if (limits.installRateLimit <= 0) return () => true;
  const limiter = new RateLimiter({
    limit: limits.installRateLimit,
    windowMs: limits.installRateWindowSeconds * 1000,
  });
  let lastWarning = Number.NEGATIVE_INFINITY;
  return (req, res) => {
    if (req.method !== "GET") return true;
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (!paths.has(path)) return true;
    const retryAfter = limiter.take(clientAddress(req, limits.trustProxy));
    if (retryAfter === 0) return true;
    const now = performance.now();
    if (now - lastWarning > 10_000) {
      lastWarning = now;
      logger.warn(
        `install starts rate-limited (over ${limits.installRateLimit} per ${limits.installRateWindowSeconds} s from one address)`,
      );
    }
    const body = renderFailurePage({
      code: ErrorCode.RateLimited,
      status: 429,
      message: `Too many installation attempts from your address. Please wait ${retryAfter} seconds and try again.`,
      retryUrl: path,
    });
    res.writeHead(429, {
      "Content-Type": "text/html; charset=utf-8",
      "Cache-Control": "no-store",
      "Retry-After": String(retryAfter),
      "X-Slack-OAuth-Error": ErrorCode.RateLimited,
    });
    res.end(body);
    return false;
  };
}

/** The host name to print for a listening address (`localhost` for loopback and wildcard addresses). */
function displayHost(host: string): string {
  if (host === "0.0.0.0" || host === "127.0.0.1" || host === "::" || host === "::1" || host === "localhost")
    return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}
