import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAuthorize } from "../authorize/authorize.js";
import type { Emulator } from "../emulator/index.js";
import { ErrorCode } from "../errors.js";
import { clientErrorListener, toNodeListener } from "../http/node.js";
import { OAuthFlow } from "../oauth/flow.js";
import { escapeHtml, HTML_HEADERS, layout } from "../oauth/html.js";
import { renderFailurePage } from "../oauth/pages.js";
import type { Logger } from "../redact.js";
import { SlackApiClient } from "../slack-api/client.js";
import type { StateStore } from "../state/state.js";
import { CachingInstallationStore } from "../stores/cache.js";
import type { InstallationStore } from "../stores/installation-store.js";
import type { ServerConfig } from "./config.js";
import { jsonLogger, requestId } from "./log.js";
import { createReferenceSlackApp } from "./slack-app.js";
import { type OpenedStores, openStores } from "./stores.js";

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
  clock?: (() => number) | undefined;
}

/** Builds the reference app as one `fetch`-style handler. */
export function createApp(deps: AppDeps): (request: Request) => Promise<Response> {
  // Slack waits 3 s for an answer to a command: keep Web API calls well inside that.
  const api = deps.api ?? new SlackApiClient({ baseUrl: deps.apiUrl, logger: deps.logger, timeoutMs: 2500 });
  // One caching store for the install flow, authorize and uninstall handling: every write drops the cache.
  const store =
    deps.installationStore instanceof CachingInstallationStore
      ? deps.installationStore
      : new CachingInstallationStore(deps.installationStore);
  const slack = createReferenceSlackApp({
    signingSecret: deps.signingSecret,
    authorize: createAuthorize({ installationStore: store }),
    installationStore: store,
    api,
    logger: deps.logger,
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  const flow = new OAuthFlow({
    clientId: deps.clientId,
    clientSecret: deps.clientSecret,
    scopes: deps.scopes,
    userScopes: deps.userScopes,
    ...(deps.redirectUri ? { redirectUri: deps.redirectUri } : {}),
    authorizationUrl: deps.authorizeUrl,
    stateStore: deps.stateStore,
    installationStore: store,
    api,
    logger: deps.logger,
    ...(deps.appName ? { appName: deps.appName } : {}),
  });

  async function home(): Promise<Response> {
    const workspaces = store.listWorkspaces ? await store.listWorkspaces() : undefined;
    const installs = workspaces?.flatMap((w) => w.installations);
    const rows = (installs ?? [])
      .map(
        (i) =>
          `<tr><td>${escapeHtml(i.enterpriseName ?? i.enterpriseId ?? "")}</td><td>${escapeHtml(i.teamName ?? i.teamId ?? "(org-wide)")}</td><td>${escapeHtml(i.userId)}</td><td>${escapeHtml(new Date(i.installedAt * 1000).toISOString())}</td></tr>`,
      )
      .join("");
    const table =
      installs === undefined
        ? `<p class="muted">This store cannot list installations; they are saved all the same.</p>`
        : installs.length === 0
          ? `<p class="muted">No workspace has installed the app yet.</p>`
          : `<table><thead><tr><th>Org</th><th>Workspace</th><th>Installed by</th><th>When (UTC)</th></tr></thead><tbody>${rows}</tbody></table>`;
    const sandbox = deps.sandbox
      ? `<p><strong>Sandbox mode.</strong> No Slack credentials were given, so a local Slack emulator plays Slack
at <code>${escapeHtml(deps.sandbox.emulatorUrl)}</code>. Click the button, pick a workspace, and press Allow:
everything stays on this machine.</p>
<p class="muted">To use real Slack, set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET.</p>`
      : "";
    const body = `<h1>slack-oauth-kit</h1>${sandbox}
<p><a class="button" id="install" href="/slack/install">Add to Slack</a></p>
<h2>Installed workspaces</h2>${table}`;
    return new Response(layout("slack-oauth-kit", body), { headers: HTML_HEADERS });
  }

  // In sandbox mode the emulator redirects to the printed URL's origin: an install started on another name
  // for this server (127.0.0.1 instead of localhost) would set its state cookie where the callback never
  // lands, so send the browser to the printed origin first. Only in sandbox mode: behind a proxy the origin
  // we see is not the public one, and redirecting there would loop.
  const canonicalOrigin = deps.sandbox && deps.redirectUri ? new URL(deps.redirectUri).origin : undefined;

  return async (request: Request): Promise<Response> => {
    const incoming = request.headers.get("x-request-id");
    const id = incoming && REQUEST_ID_RE.test(incoming) ? incoming : requestId();
    const started = performance.now();
    const path = new URL(request.url).pathname;
    let response: Response;
    try {
      const url = new URL(request.url);
      if (canonicalOrigin && url.origin !== canonicalOrigin && (path === "/" || path === flow.installPath)) {
        response = new Response(null, { status: 302, headers: { Location: `${canonicalOrigin}${path}${url.search}` } });
      } else if (path === "/" && (request.method === "GET" || request.method === "HEAD")) response = await home();
      else if (path === "/healthz") response = Response.json({ ok: true });
      else if (path === "/slack/events") response = await slack.handle(request);
      else response = (await flow.handle(request)) ?? notFound();
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
}

/** Request ids accepted from a proxy or client: short and log-safe. */
const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

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
  close(): Promise<void>;
}

/**
 * Starts the reference server. In sandbox mode (no client id) it starts the emulator in-process first
 * and points itself at it.
 */
export async function startServer(config: ServerConfig, options: StartServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? jsonLogger();
  let handler: ((r: Request) => Promise<Response>) | undefined;
  const server = createServer(
    toNodeListener((request) => (handler ? handler(request) : new Response("starting", { status: 503 })), {
      maxBodyBytes: 1024 * 1024,
      onError: (error) => logger.error(`unhandled error: ${error instanceof Error ? error.message : String(error)}`),
    }),
  );
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
              : "The request is too large or malformed (very large cookies can cause this).",
          retryUrl: "/slack/install",
        }),
      }),
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = config.publicUrl ?? `http://${displayHost(config.host)}:${port}`;
  let stores: OpenedStores;
  try {
    stores = options.stores ?? (await openStores(config.databaseUrl));
  } catch (error) {
    await new Promise<void>((r) => server.close(() => r()));
    throw error;
  }
  let emulator: RunningServer["emulator"];
  try {
    let deps: AppDeps;
    if (config.sandbox) {
      const { startEmulator } = await import("../emulator/index.js");
      const emu = await startEmulator({ port: 0, host: "127.0.0.1", appUrl: url });
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
      };
    }
    handler = createApp(deps);
  } catch (error) {
    await new Promise<void>((r) => server.close(() => r()));
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
    close() {
      closing ??= (async () => {
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
        await emulator?.close();
        await stores.close();
      })();
      return closing;
    },
  };
}

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** Where the JSON log lines go (default stdout). */
  logger?: Logger;
  /** Use these stores instead of opening `config.databaseUrl` (tests). */
  stores?: OpenedStores;
  /** How long `close()` waits for in-flight requests before cutting them off (default 10 000 ms). */
  shutdownGraceMs?: number;
}

/** The host name to print for a listening address (`localhost` for loopback and wildcard addresses). */
function displayHost(host: string): string {
  if (host === "0.0.0.0" || host === "127.0.0.1" || host === "::" || host === "::1" || host === "localhost")
    return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}
