import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createSingleWorkspaceAuthorize, type SingleWorkspaceIdentity } from "../authorize/single-workspace.js";
import type { Emulator } from "../emulator/index.js";
import { CodedTypeError, ConfigError, ErrorCode } from "../errors.js";
import type { RefreshScheduler } from "../health/scheduler.js";
import { clientErrorListener, connectMethodListener, toNodeListener, toNodeSlackListener } from "../http/node.js";
import type { MetricsOptions } from "../metrics/hooks.js";
import { renderFailurePage } from "../oauth/pages.js";
import type { Logger } from "../redact.js";
import { SlackApiClient } from "../slack-api/client.js";
import type { InstallationStore } from "../stores/installation-store.js";
import { type AppDeps, createApp, type ReferenceApp } from "./app.js";
import { APPS_FILE_VARIABLE, type AppConfig } from "./apps-file.js";
import type { ServerConfig } from "./config.js";
import { capConnectionsPerAddress, clientAddress, RateLimiter, type ServerLimits } from "./limits.js";
import { jsonLogger } from "./log.js";
import { createServerMetrics, METRICS_PATH } from "./metrics.js";
import { applyStoreOptions, type OpenedStores, openAppsStores, openStores } from "./stores.js";

export { type AppDeps, type AppUnitDeps, createApp, type ReferenceApp, SHARED_EVENTS_PATH } from "./app.js";

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
