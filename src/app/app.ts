/**
 * The reference app as a fetch handler (`createApp`): install, OAuth callback, events, sign-in, the
 * operator console and the home page, for one app or several (`SLACK_APPS_FILE`). `server.ts` starts it.
 */
import { randomBytes } from "node:crypto";
import { createAuthorize } from "../authorize/authorize.js";
import type { SingleWorkspaceAuthorize } from "../authorize/single-workspace.js";
import { SlackAppRouter } from "../events/app-router.js";
import type { SlackRequestHandler } from "../events/handler.js";
import { RefreshScheduler } from "../health/scheduler.js";
import { type MetricsOptions, measureAuthorize } from "../metrics/hooks.js";
import { OAuthFlow } from "../oauth/flow.js";
import { escapeHtml, HTML_HEADERS, layout } from "../oauth/html.js";
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
import type { AppPaths } from "./apps-file.js";
import { CONSOLE_PATH, createConsole, type OperatorConsole, storeConsoleHealth } from "./console.js";
import { requestId } from "./log.js";
import { createSignInRoutes, loginRedirectUriFor, type SignInRoutes } from "./sign-in.js";
import { createReferenceSlackApp } from "./slack-app.js";

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

/** Installations per page of the sandbox home page. */
const HOME_PAGE_SIZE = 25;

/** A workspace or org id in a reinstall link's `team` parameter (anything else is ignored). */
const TEAM_PARAM_RE = /^[TE][A-Z0-9]{2,31}$/;

/**
 * The reference app's operator console: each app's installations (its store partition), token refresh
 * through the store's locks (as `authorize` does), health checks with `auth.test`. Admins sign in through
 * any app's Sign in with Slack (each has its own session cookie); a signed-out visitor is sent to the first's.
 */
function createAppConsole(
  deps: AppDeps,
  signIn: SignInRoutes,
  units: readonly Unit[],
  api: SlackApiClient,
): OperatorConsole {
  const signIns = units.flatMap((u) => (u.signIn ? [u.signIn] : []));
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
    // The first app whose session the request carries: its user, and where that session signs out.
    currentUser: (request) => {
      for (const s of signIns) {
        const user = s.currentUser(request);
        if (user) return { ...user, logoutPath: s.logoutPath };
      }
      return undefined;
    },
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
