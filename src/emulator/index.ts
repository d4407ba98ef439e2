/**
 * A faithful local Slack for development, demos and tests: consent pages, the OAuth and OIDC endpoints,
 * the few Web API methods an OAuth toolkit needs, signed events and commands, and a test API.
 *
 * It shares no parsing or response-building code with the library (it exists to catch the library's
 * mistakes); its library imports are the request signer and the HTTP core's transport basics (the
 * bounded body reader and its coded 413/408 replies, the same as every adapter's).
 *
 * @see ../../docs/emulator.md
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { rejectRenamedClock } from "../clock.js";
import { CodedTypeError } from "../errors.js";
import { connectMethodListener } from "../http/node.js";
import { handleApi, IMPLEMENTED_METHODS } from "./api.js";
import {
  credentialsOf,
  type EmulatedApp,
  type EmulatorAppCredentials,
  type EmulatorAppOptions,
  resolveApp,
} from "./apps.js";
import { escapeHtml, handleAuthorize } from "./consent.js";
import type { EmulatorContext, EmulatorLogger, EmulatorSettings } from "./context.js";
import { type AppResponse, Deliverer } from "./deliver.js";
import type { EventInput, InteractionInput, RevocationResult, SlashCommandInput, TeamAccessResult } from "./events.js";
import { FaultInjector, type FaultSpec } from "./faults.js";
import {
  HttpError,
  parseForm,
  parseJsonObject,
  readBody,
  sendBodyError,
  sendHtml,
  sendJson,
  sendText,
} from "./http.js";
import { messageTs } from "./ids.js";
import { avatarSvg, discoveryDocument, OidcKeys } from "./oidc.js";
import { RateLimiter } from "./rate-limit.js";
import {
  type CallRecord,
  type DeliveryRecord,
  EmulatorState,
  type RecordedMessage,
  type RecordedView,
} from "./state.js";
import {
  type AppSettingsUpdate,
  type Counters,
  calls,
  counters,
  handleTestApi,
  type InstallationSummary,
  type InstallationTarget,
  installations,
  opRevoke,
  opSendCommand,
  opSendEvent,
  opSendInteraction,
  opSendUrlVerification,
  opSetRateLimit,
  opTeamAccess,
  opUninstall,
  opUpdateApp,
  type RevokeTarget,
  type TeamAccessTarget,
  type TokenStatus,
  tokenStatus,
} from "./test-api.js";
import {
  defaultWorldSpec,
  type EmulatedEnterprise,
  type EmulatedUser,
  type EmulatedWorkspace,
  readWorldFile,
  World,
  type WorldSpec,
} from "./world.js";

export { DEFAULT_BOT_SCOPES, DEFAULT_USER_SCOPES } from "./apps.js";
export { DEFAULT_RATE_LIMITS } from "./rate-limit.js";
export type { TokenKind } from "./state.js";
export type { EmulatedChannel } from "./world.js";
export type {
  AppResponse,
  AppSettingsUpdate,
  CallRecord,
  Counters,
  DeliveryRecord,
  EmulatedEnterprise,
  EmulatedUser,
  EmulatedWorkspace,
  EmulatorAppCredentials,
  EmulatorAppOptions,
  EmulatorLogger,
  EventInput,
  FaultSpec,
  InstallationSummary,
  InstallationTarget,
  InteractionInput,
  RecordedMessage,
  RecordedView,
  RevocationResult,
  RevokeTarget,
  SlashCommandInput,
  TeamAccessResult,
  TeamAccessTarget,
  TokenStatus,
  WorldSpec,
};

/**
 * Options of {@link startEmulator}. The app settings at the top level describe the default app;
 * `apps` adds more apps.
 *
 * @example
 * ```ts
 * const options: EmulatorOptions = {
 *   appUrl: "http://localhost:3000",
 *   tokenRotation: true,
 *   refreshGraceSeconds: 0, // every second use of a refresh token fails at once
 *   rateLimits: { "auth.test": 5 },
 *   apps: [{ name: "Second app", pkce: true }],
 * };
 * ```
 */
export interface EmulatorOptions extends EmulatorAppOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /**
   * Interface to listen on.
   *
   * @default `127.0.0.1`
   */
  host?: string;
  /** More apps (each inherits `appUrl` unless it sets its own). */
  apps?: EmulatorAppOptions[];
  /** A custom world instead of the default one. */
  world?: WorldSpec;
  /** Path of a JSON file holding a {@link WorldSpec}. */
  worldFile?: string;
  /** Calls per window (a minute unless `rateLimitWindows` says) per method and workspace, over {@link DEFAULT_RATE_LIMITS} (`Infinity` for none). */
  rateLimits?: Record<string, number>;
  /**
   * Length of the rate-limit window per method, in seconds (e.g. `{ "auth.test": 10 }`).
   *
   * @default 60 for every method
   */
  rateLimitWindows?: Record<string, number>;
  /**
   * Seconds a refresh token still answers after its first use, with the same new pair (default 60; Slack
   * says "a short grace period" without a number).
   */
  refreshGraceSeconds?: number;
  /** Revoke the tokens issued from a code when it is exchanged again (RFC 6749 §4.1.2; default false). */
  revokeOnCodeReuse?: boolean;
  /**
   * `iss` of id_tokens and the discovery document.
   *
   * @default `https://slack.com`, what real clients check
   */
  oidcIssuer?: string;
  /** Clock in epoch ms (default `Date.now`); `advanceClock` adds to it. */
  nowMs?: () => number;
  /** Where to log requests and deliveries (never secrets). Default: silent. */
  logger?: EmulatorLogger;
  /**
   * How long a client may take to send a request's headers, ms; then the emulator answers 408 and closes
   * the connection (checked every second). A whole request may take three times as long.
   *
   * @default 10000
   */
  headersTimeoutMs?: number;
  /**
   * How long to wait for the app when delivering, ms.
   *
   * @default 3000, Slack's limit
   */
  deliveryTimeoutMs?: number;
  /**
   * Event retries after a failed delivery. Slack retries up to 3 times.
   *
   * @default 0
   */
  eventRetries?: number;
  /**
   * Delays before retries, ms. Slack waits ~1 min then ~5 min.
   *
   * @default [1000, 5000, 10000]
   */
  eventRetryDelaysMs?: number[];
}

/** Read access to the world and installations, for tests. */
export interface EmulatorWorld {
  readonly enterprises: readonly EmulatedEnterprise[];
  readonly workspaces: readonly EmulatedWorkspace[];
  readonly users: readonly EmulatedUser[];
  /** Current installations (without tokens). */
  installations(): InstallationSummary[];
  /** Whether a token is active, revoked, expired or unknown. */
  tokenStatus(token: string): TokenStatus;
}

/** A running emulator. */
export interface Emulator {
  /** Base URL such as `http://127.0.0.1:54321` (no trailing slash). */
  readonly url: string;
  /** `${url}/api/`: use as the Web API base URL (`SLACK_API_URL`). */
  readonly apiUrl: string;
  /** `${url}/oauth/v2/authorize` (`SLACK_AUTHORIZE_URL`). */
  readonly authorizeUrl: string;
  /** The default app's credentials (secrets included: for the CLI and tests, never for a page). */
  readonly app: EmulatorAppCredentials;
  /** Every app, the default one first. */
  readonly apps: readonly EmulatorAppCredentials[];
  readonly world: EmulatorWorld;
  /** Stops listening (waits for deliveries in flight). */
  close(): Promise<void>;
  /** Uninstalls and delivers `app_uninstalled` + `tokens_revoked`; resolves once the app has answered. */
  uninstall(target: InstallationTarget): Promise<RevocationResult>;
  /** Revokes tokens (default: bot and all users) and delivers `tokens_revoked`. */
  revoke(target: RevokeTarget): Promise<RevocationResult>;
  /**
   * An org admin removes workspaces from (`access: "revoked"`) or adds them back to (`"granted"`) an
   * org-wide installation: `auth.teams.list` follows, and `team_access_revoked` / `team_access_granted`
   * is delivered unless `deliver: false` (a lost event). Resolves once the app has answered.
   */
  setTeamAccess(target: TeamAccessTarget): Promise<TeamAccessResult>;
  /** Sends a signed slash command to the app; resolves with the app's answer. */
  sendSlashCommand(input: SlashCommandInput): Promise<AppResponse>;
  /** Sends a signed event_callback to the app. */
  sendEvent(input: EventInput): Promise<AppResponse>;
  /** Sends a signed interaction (`payload` form field) to the app. */
  sendInteraction(input: InteractionInput): Promise<AppResponse>;
  /** Sends `url_verification`; `verified` tells whether the app echoed the challenge. */
  sendUrlVerification(appId?: string): Promise<AppResponse & { verified: boolean }>;
  /** Adds a fault for the next `count` calls of a method. */
  injectFault(fault: FaultSpec): void;
  /** Removes every fault injected with `fault`. */
  clearFaults(): void;
  /** Forgets installations, tokens, codes, logs, faults and rate-limit windows (keeps apps, world, keys). */
  reset(): void;
  /**
   * The call log, oldest first (never holds a secret). With `{ details: true }`, refresh grants carry
   * `grantType: "refresh_token"` and successful refreshes / exchanges `tokenType` (`bot` or `user`).
   */
  calls(method?: string, options?: { details?: boolean }): CallRecord[];
  /** Calls counted so far, by Web API method and endpoint. */
  counters(): Counters;
  /** Views opened with `views.open`, oldest first. */
  views(): RecordedView[];
  /** Messages posted with `chat.postMessage` or to a `response_url`, oldest first. */
  messages(): RecordedMessage[];
  /** Events, commands and interactions delivered to the app, oldest first. */
  deliveries(): DeliveryRecord[];
  /** Resolves once every delivery in flight (e.g. after `apps.uninstall`) has finished. */
  idle(): Promise<void>;
  /** Moves the emulator clock forward (codes, tokens, triggers, rate-limit windows); returns the new now. */
  advanceClock(seconds: number): number;
  /**
   * Changes a method's rate limit from now on: calls per window per workspace (`Infinity` for none) and/or
   * the window's length in seconds; its current windows start over. Throws `TypeError` for bad values.
   */
  setRateLimit(
    method: string,
    limit?: number,
    windowSeconds?: number,
  ): { method: string; limit: number; windowSeconds: number };
  /**
   * Changes an app's token settings from now on, as its settings page on Slack would: e.g. turn token
   * rotation on for an app whose installations hold long-lived tokens (then convert them with
   * `oauth.v2.exchange`). Throws `TypeError` for bad values.
   */
  updateApp(update: AppSettingsUpdate): { appId: string; tokenRotation: boolean; tokenExpiresIn: number };
  /** Adds a new OIDC signing key (old keys stay published); returns its kid. */
  rotateOidcKey(): Promise<string>;
  /** Stops publishing old OIDC keys; returns their kids. */
  dropOldOidcKeys(): string[];
}

function validatePort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CodedTypeError("emulator: port must be 0-65535");
}

/** `headersTimeoutMs`, checked: a positive whole number of milliseconds. */
function validateHeadersTimeout(ms: number): number {
  if (!Number.isInteger(ms) || ms < 1) {
    throw new CodedTypeError("emulator: headersTimeoutMs must be a positive integer (milliseconds)");
  }
  return ms;
}

/**
 * Starts the Slack emulator.
 *
 * @example
 * ```ts
 * import { startEmulator } from "slack-oauth-kit/emulator";
 *
 * const slack = await startEmulator({ appUrl: "http://localhost:3000", tokenRotation: true });
 * console.log(`authorize at ${slack.authorizeUrl}?client_id=${slack.app.clientId}&scope=commands`);
 * // … drive the consent page, then:
 * await slack.uninstall({ teamId: "T0000000001" });
 * await slack.close();
 * ```
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  rejectRenamedClock(options, "startEmulator", { now: "nowMs" });
  const port = options.port ?? 0;
  validatePort(port);
  const headersTimeout = validateHeadersTimeout(options.headersTimeoutMs ?? 10_000);
  const host = options.host ?? "127.0.0.1";
  const appUrl = options.appUrl ?? "http://localhost:3000";
  const apps: EmulatedApp[] = [resolveApp(options, { appUrl, index: 0 })];
  (options.apps ?? []).forEach((spec, i) => {
    apps.push(resolveApp({ appUrl, ...spec }, { appUrl, index: i + 1 }));
  });
  const ids = new Set<string>();
  for (const a of apps) {
    for (const id of [a.appId, a.clientId]) {
      if (ids.has(id)) throw new CodedTypeError(`emulator: two apps share ${id}`);
      ids.add(id);
    }
  }
  const world = new World(options.world ?? (options.worldFile ? readWorldFile(options.worldFile) : defaultWorldSpec()));
  const settings: EmulatorSettings = {
    refreshGraceSeconds: options.refreshGraceSeconds ?? 60,
    revokeOnCodeReuse: options.revokeOnCodeReuse ?? false,
    oidcIssuer: options.oidcIssuer ?? "https://slack.com",
    codeTtlSeconds: 600,
    triggerTtlSeconds: 3,
  };
  if (!(settings.refreshGraceSeconds >= 0)) throw new CodedTypeError("emulator: refreshGraceSeconds must be >= 0");
  let offsetMs = 0;
  const baseNow = options.nowMs ?? Date.now;
  const now = () => baseNow() + offsetMs;
  const state = new EmulatorState(now);
  const logger = options.logger;
  const ctx: EmulatorContext = {
    url: "",
    apps,
    world,
    state,
    settings,
    oidc: await OidcKeys.create(),
    rateLimiter: new RateLimiter(options.rateLimits, now, options.rateLimitWindows),
    faults: new FaultInjector(),
    deliverer: new Deliverer({
      timeoutMs: options.deliveryTimeoutMs ?? 3000,
      eventRetries: options.eventRetries ?? 0,
      retryDelaysMs: options.eventRetryDelaysMs ?? [1000, 5000, 10000],
      logger,
      record: (r) => state.deliveries.push(r),
    }),
    logger,
    now,
  };
  const hooks = {
    reset: () => {
      state.reset();
      ctx.faults.clear();
      ctx.rateLimiter.reset();
    },
    advanceClock: (seconds: number) => {
      if (!(seconds >= 0)) throw new CodedTypeError("emulator: advanceClock takes a non-negative number of seconds");
      offsetMs += seconds * 1000;
      return now();
    },
  };

  // A client that sends part of a request and stops gets a 408 after headersTimeoutMs, not Node's 60 s
  // (checked every second rather than every 30 s), so a stuck test client never holds a socket for long.
  const serverOptions = { headersTimeout, requestTimeout: headersTimeout * 3, connectionsCheckingInterval: 1000 };
  const server = createServer(serverOptions, (req, res) => {
    route(ctx, hooks, req, res).catch((err: unknown) => {
      logger?.error(`emulator: ${req.method} ${safePath(req)} failed: ${(err as Error)?.name ?? "error"}`);
      if (!res.headersSent) {
        if (sendBodyError(res, err)) return;
        if (err instanceof HttpError) sendJson(res, err.status, { ok: false, error: err.message });
        else sendJson(res, 500, { ok: false, error: "internal_error" });
      } else {
        res.destroy();
      }
    });
  });
  server.on("connect", connectMethodListener());
  await listen(server, port, host);
  const address = server.address() as AddressInfo;
  const urlHost =
    address.address === "0.0.0.0" || address.address === "::"
      ? "127.0.0.1"
      : address.family === "IPv6"
        ? `[${address.address}]`
        : address.address;
  ctx.url = `http://${urlHost}:${address.port}`;
  logger?.info(`emulator: listening on ${ctx.url}`);

  const creds = apps.map(credentialsOf);
  let closed = false;
  return {
    url: ctx.url,
    apiUrl: `${ctx.url}/api/`,
    authorizeUrl: `${ctx.url}/oauth/v2/authorize`,
    app: creds[0]!,
    apps: creds,
    world: {
      enterprises: world.enterprises,
      workspaces: world.workspaces,
      users: world.users,
      installations: () => installations(ctx),
      tokenStatus: (token) => tokenStatus(ctx, token),
    },
    async close() {
      if (closed) return;
      closed = true;
      await ctx.deliverer.idle();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    uninstall: (target) => opUninstall(ctx, target),
    revoke: (target) => opRevoke(ctx, target),
    setTeamAccess: (target) => opTeamAccess(ctx, target),
    sendSlashCommand: (input) => opSendCommand(ctx, input),
    sendEvent: (input) => opSendEvent(ctx, input),
    sendInteraction: (input) => opSendInteraction(ctx, input),
    sendUrlVerification: (appId) => opSendUrlVerification(ctx, appId),
    injectFault: (fault) => ctx.faults.add(fault),
    clearFaults: () => ctx.faults.clear(),
    reset: hooks.reset,
    calls: (method, options) => calls(ctx, method, options?.details === true),
    counters: () => counters(ctx),
    views: () => ctx.state.views.slice(),
    messages: () => ctx.state.messages.slice(),
    deliveries: () => ctx.state.deliveries.slice(),
    idle: () => ctx.deliverer.idle(),
    advanceClock: hooks.advanceClock,
    setRateLimit: (method, limit, windowSeconds) => opSetRateLimit(ctx, method, limit, windowSeconds),
    updateApp: (update) => {
      try {
        return opUpdateApp(ctx, update);
      } catch (e) {
        throw new CodedTypeError(`emulator: ${(e as Error).message}`);
      }
    },
    rotateOidcKey: () => ctx.oidc.rotate(),
    dropOldOidcKeys: () => ctx.oidc.dropOld(),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** The request path for logs: the secret segments of webhook and response URLs are cut off. */
function safePath(req: IncomingMessage): string {
  const path = (req.url ?? "/").split("?")[0]!;
  if (path.startsWith("/services/")) return "/services/…";
  if (path.startsWith("/commands/")) return "/commands/…";
  return path.slice(0, 120);
}

async function route(
  ctx: EmulatorContext,
  hooks: { reset(): void; advanceClock(s: number): number },
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  res.on("finish", () => ctx.logger?.debug?.(`emulator: ${req.method} ${safePath(req)} ${res.statusCode}`));
  const target = req.url ?? "/";
  // `//host/path` (or `/\\host`) would parse as another host's URL, or not at all: no such resource here.
  if (target.startsWith("//") || target.startsWith("/\\")) return notFound(res);
  let url: URL;
  try {
    url = new URL(target, "http://emulator.invalid");
  } catch {
    return notFound(res);
  }
  if (url.host !== "emulator.invalid") return notFound(res);
  const path = url.pathname;
  if (path.startsWith("/api/")) return handleApi(ctx, req, res, url, path.slice("/api/".length));
  if (path === "/oauth/v2/authorize") return handleAuthorize(ctx, "v2", req, res, url);
  if (path === "/oauth/authorize") return handleAuthorize(ctx, "v1", req, res, url);
  if (path === "/openid/connect/authorize") return handleAuthorize(ctx, "oidc", req, res, url);
  if (path.startsWith("/_emulator/")) {
    // A web page in the developer's browser must not drive the test API (a `text/plain` POST needs no preflight).
    const refused = testApiRefusal(ctx, req);
    if (refused) return sendJson(res, 403, { ok: false, error: "forbidden", detail: refused });
    return handleTestApi(ctx, hooks, req, res, url);
  }
  if ((req.method === "GET" || req.method === "HEAD") && path.startsWith("/avatars/")) {
    const svg = avatarSvg(ctx.world, path);
    if (svg === undefined) return notFound(res);
    res.writeHead(200, {
      "content-type": "image/svg+xml",
      "content-length": Buffer.byteLength(svg),
      "cache-control": "public, max-age=86400",
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
    });
    res.end(req.method === "HEAD" ? undefined : svg);
    return;
  }
  if (req.method === "GET" && path === "/openid/connect/keys") return sendJson(res, 200, ctx.oidc.jwks());
  if (req.method === "GET" && path === "/.well-known/openid-configuration") {
    return sendJson(res, 200, discoveryDocument(ctx.url, ctx.settings.oidcIssuer));
  }
  if (req.method === "POST" && path.startsWith("/services/")) return incomingWebhook(ctx, req, res, path);
  if (req.method === "POST" && path.startsWith("/commands/")) return responseUrl(ctx, req, res, path);
  if (req.method === "GET" && path === "/") return sendHtml(res, 200, indexPage(ctx));
  if (req.method === "GET" && path === "/favicon.ico") {
    res.writeHead(204).end();
    return;
  }
  notFound(res);
}

function notFound(res: ServerResponse): void {
  sendHtml(
    res,
    404,
    `<!doctype html><title>Not found</title><p>Not found. See <a href="/">the emulator's index</a>.</p>`,
  );
}

/**
 * Why a test-API request is refused, or `undefined` when it may go on: its `Host` must be one of the
 * emulator's own names (`127.0.0.1`, `localhost`, `[::1]` or the address it listens on, with its port),
 * and an `Origin`, when present, must be the emulator itself. This stops a page on another site (or a DNS
 * rebinding of one) from deleting installations or injecting events from the developer's browser.
 */
function testApiRefusal(ctx: EmulatorContext, req: IncomingMessage): string | undefined {
  const own = new URL(ctx.url);
  const names = new Set([`127.0.0.1:${own.port}`, `localhost:${own.port}`, `[::1]:${own.port}`, own.host]);
  const host = (req.headers.host ?? "").toLowerCase();
  if (!names.has(host)) return "the Host header is not one of the emulator's own names";
  const origin = req.headers.origin?.toLowerCase();
  if (origin !== undefined && !(origin.startsWith("http://") && names.has(origin.slice("http://".length)))) {
    return "requests from web pages of other origins are refused";
  }
  return undefined;
}

async function messageBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req);
  const type = (req.headers["content-type"] ?? "").toLowerCase();
  if (type.startsWith("application/x-www-form-urlencoded")) {
    const form = parseForm(raw);
    return form.payload ? parseJsonObject(form.payload) : form;
  }
  return parseJsonObject(raw);
}

function recordMessage(
  ctx: EmulatorContext,
  source: RecordedMessage["source"],
  where: { appId: string; teamId: string; channel: string | null },
  body: Record<string, unknown>,
): void {
  ctx.state.messages.push({
    source,
    appId: where.appId,
    teamId: where.teamId,
    channel: where.channel,
    ts: messageTs(ctx.now()),
    text: typeof body.text === "string" ? body.text : null,
    blocks: body.blocks ?? null,
  });
}

async function incomingWebhook(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse, path: string) {
  const hookPath = path.slice("/services/".length);
  for (const inst of ctx.state.installations.values()) {
    const hook = inst.webhooks.find((w) => w.path === hookPath);
    if (!hook) continue;
    let body: Record<string, unknown>;
    try {
      body = await messageBody(req);
    } catch {
      return sendText(res, 400, "invalid_payload");
    }
    if (typeof body.text !== "string" && !Array.isArray(body.blocks)) return sendText(res, 400, "no_text");
    recordMessage(
      ctx,
      "incoming_webhook",
      { appId: inst.appId, teamId: inst.teamId ?? "", channel: hook.channelId },
      body,
    );
    return sendText(res, 200, "ok");
  }
  sendText(res, 404, "no_service");
}

async function responseUrl(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse, path: string) {
  const where = ctx.state.responseUrls.get(path.slice("/commands/".length));
  if (!where) return sendJson(res, 404, { ok: false, error: "expired_url" });
  let body: Record<string, unknown>;
  try {
    body = await messageBody(req);
  } catch {
    return sendJson(res, 400, { ok: false, error: "invalid_payload" });
  }
  recordMessage(ctx, "response_url", { appId: where.appId, teamId: where.teamId, channel: where.channelId }, body);
  sendJson(res, 200, { ok: true });
}

/** The index page: workspaces, the apps' client ids and URLs. Never a secret. */
function indexPage(ctx: EmulatorContext): string {
  const e = escapeHtml;
  const apps = ctx.apps
    .map((a) => {
      const install = `/oauth/v2/authorize?${new URLSearchParams({
        client_id: a.clientId,
        scope: a.botScopes.filter((s) => s !== "incoming-webhook").join(","),
      })}`;
      const signIn = `/openid/connect/authorize?${new URLSearchParams({
        response_type: "code",
        client_id: a.clientId,
        scope: "openid profile email",
        redirect_uri: a.redirectUrls.find((u) => u.endsWith("/slack/login/callback")) ?? a.redirectUrls[0] ?? "",
      })}`;
      return `<li><strong>${e(a.name)}</strong> (<code>${e(a.appId)}</code>) client id <code>${e(a.clientId)}</code>
<br>Redirect URLs: ${a.redirectUrls.map((u) => `<code>${e(u)}</code>`).join(", ")}
<br>Request URL: <code>${e(a.requestUrl)}</code>${a.tokenRotation ? " · token rotation on" : ""}${a.pkce ? " · PKCE allowed" : ""}
<br><a href="${e(install)}">Install (bot scopes)</a> · <a href="${e(signIn)}">Sign in with Slack</a></li>`;
    })
    .join("");
  const workspaces = ctx.world.workspaces
    .map((w) => {
      const ent = ctx.world.enterprise(w.enterpriseId);
      const users = ctx.world
        .usersOf(w.id)
        .map((u) => `${e(u.realName)} <code>${e(u.id)}</code>${u.isAdmin ? " (admin)" : ""}`)
        .join(", ");
      return `<li><strong>${e(w.name)}</strong> <code>${e(w.id)}</code>${ent ? ` in ${e(ent.name)} <code>${e(ent.id)}</code>` : ""}<br>${users}</li>`;
    })
    .join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Slack emulator</title>
<style>body{font-family:system-ui,sans-serif;max-width:860px;margin:32px auto;padding:0 16px;color:#1d1c1d}code{background:#f4f4f4;padding:1px 4px}li{margin:10px 0}</style></head>
<body><h1>Slack emulator</h1>
<p>Web API: <code>${e(ctx.url)}/api/</code> · OIDC discovery: <a href="/.well-known/openid-configuration">/.well-known/openid-configuration</a> · test API: <a href="/_emulator/state">/_emulator/state</a>, <a href="/_emulator/calls">/_emulator/calls</a></p>
<h2>Apps</h2><ul>${apps}</ul>
<h2>Workspaces</h2><ul>${workspaces}</ul>
<p>Implemented methods: ${IMPLEMENTED_METHODS.map((m) => `<code>${e(m)}</code>`).join(" ")}</p>
</body></html>`;
}
