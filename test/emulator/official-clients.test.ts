/**
 * Fidelity with Slack's official Node clients: `@slack/web-api`'s WebClient and `@slack/oauth`'s InstallProvider
 * run unmodified against the emulator (only their base URLs point at it). If these fail while the plain-HTTP
 * tests pass, the emulator answers in a shape real clients do not accept.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type CodedError,
  type Installation,
  type InstallationQuery,
  type InstallationStore,
  InstallProvider,
  type InstallURLOptions,
  ErrorCode as OAuthErrorCode,
} from "@slack/oauth";
import {
  ErrorCode,
  type Logger,
  LogLevel,
  type WebAPIHTTPError,
  type WebAPIPlatformError,
  type WebAPIRateLimitedError,
  WebClient,
} from "@slack/web-api";
import { afterEach, describe, expect, it } from "vitest";
import type { Emulator, EmulatorOptions } from "../../src/emulator/index.js";
import { api, authorize, closeAll, receiver, start } from "./helpers.js";

const servers: Server[] = [];

afterEach(async () => {
  while (servers.length > 0) {
    const server = servers.pop()!;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
  await closeAll();
});

/** A logger for the official clients that keeps quiet but remembers errors (to show them when a test fails). */
function quietLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  let level = LogLevel.ERROR;
  return {
    errors,
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (...msg: unknown[]) => {
      errors.push(msg.map((m) => (m instanceof Error ? m.message : String(m))).join(" "));
    },
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

/** Runs `fn` expecting it to reject; returns the error. */
async function rejection<E = unknown>(fn: () => Promise<unknown>): Promise<E> {
  try {
    await fn();
  } catch (error) {
    return error as E;
  }
  throw new Error("expected a rejection");
}

const MODAL = {
  type: "modal" as const,
  title: { type: "plain_text" as const, text: "Fidelity" },
  blocks: [{ type: "section" as const, text: { type: "mrkdwn" as const, text: "Opened by @slack/web-api" } }],
};

describe("@slack/web-api WebClient against the emulator", () => {
  function client(emu: Emulator, token?: string, extra: ConstructorParameters<typeof WebClient>[1] = {}): WebClient {
    return new WebClient(token, { slackApiUrl: emu.apiUrl, logger: quietLogger(), ...extra });
  }

  it("oauth.v2.access, auth.test and views.open succeed", async () => {
    const app = await receiver();
    const emu = await start({ appUrl: app.url });
    const code = await authorize(emu, {
      client_id: emu.app.clientId,
      scope: "commands,chat:write",
      user_scope: "identify",
      state: "st",
    });

    const access = await client(emu).oauth.v2.access({
      client_id: emu.app.clientId,
      client_secret: emu.app.clientSecret,
      code,
    });
    expect(access).toMatchObject({
      ok: true,
      app_id: emu.app.appId,
      token_type: "bot",
      scope: "commands,chat:write",
      team: { id: "T0000000001", name: "Northwind Traders" },
      enterprise: null,
      is_enterprise_install: false,
      authed_user: { id: "U0000000001", scope: "identify", token_type: "user" },
    });
    const botToken = access.access_token!;
    expect(botToken).toMatch(/^xoxb-/);

    const bot = client(emu, botToken);
    const test = await bot.auth.test();
    expect(test).toMatchObject({
      ok: true,
      team_id: "T0000000001",
      team: "Northwind Traders",
      url: "https://northwind.slack.com/",
      user_id: access.bot_user_id,
      is_enterprise_install: false,
    });
    expect(test.bot_id).toMatch(/^B[A-Z0-9]{10}$/);

    // A trigger id comes with a slash command the emulator sends to the app.
    const sent = await emu.sendSlashCommand({ teamId: "T0000000001", command: "/fidelity" });
    expect(sent.ok).toBe(true);
    const triggerId = new URLSearchParams(app.requests.at(-1)!.body).get("trigger_id")!;
    const opened = await bot.views.open({ trigger_id: triggerId, view: MODAL });
    expect(opened).toMatchObject({ ok: true, view: { type: "modal", team_id: "T0000000001", app_id: emu.app.appId } });
    expect(opened.view?.id).toMatch(/^V/);
    expect(emu.views()).toMatchObject([{ appId: emu.app.appId, teamId: "T0000000001", view: { type: "modal" } }]);

    // A second use of the same trigger is a platform error, as on Slack.
    const again = await rejection<WebAPIPlatformError>(() => bot.views.open({ trigger_id: triggerId, view: MODAL }));
    expect(again.code).toBe(ErrorCode.PlatformError);
    expect(again.data.error).toBe("exchanged_trigger_id");
    expect(emu.calls().map((c) => [c.method, c.ok])).toEqual([
      ["oauth.v2.access", true],
      ["auth.test", true],
      ["views.open", true],
      ["views.open", false],
    ]);
  });

  it("surfaces emulator errors as platform errors with data.error", async () => {
    const emu = await start();
    const bad = await rejection<WebAPIPlatformError>(() => client(emu, "xoxb-1-2-nope").auth.test());
    expect(bad.code).toBe(ErrorCode.PlatformError);
    expect(bad.data).toMatchObject({ ok: false, error: "invalid_auth" });

    const secret = await rejection<WebAPIPlatformError>(() =>
      client(emu).oauth.v2.access({ client_id: emu.app.clientId, client_secret: "0".repeat(32), code: "1.2.3" }),
    );
    expect(secret.code).toBe(ErrorCode.PlatformError);
    expect(secret.data.error).toBe("bad_client_secret");
  });

  it("sees a rate-limited reply as a rate-limited error with retryAfter", async () => {
    const emu = await start({ rateLimits: { "auth.test": 1 } });
    const code = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    const { access_token: token } = (
      await api(emu, "oauth.v2.access", { client_id: emu.app.clientId, client_secret: emu.app.clientSecret, code })
    ).body;
    const bot = client(emu, token, { rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
    expect((await bot.auth.test()).ok).toBe(true);
    const limited = await rejection<WebAPIRateLimitedError>(() => bot.auth.test());
    expect(limited.code).toBe(ErrorCode.RateLimitedError);
    expect(limited.retryAfter).toBeGreaterThan(0);
    expect(limited.retryAfter).toBeLessThanOrEqual(60);
    expect(emu.counters().methods["auth.test"]).toMatchObject({ calls: 2, ok: 1, ratelimited: 1 });
  });

  it("sees an injected 5xx as an HTTP error", async () => {
    const emu = await start();
    emu.injectFault({ method: "api.test", status: 503 });
    const failed = await rejection<WebAPIHTTPError>(() =>
      client(emu, undefined, { retryConfig: { retries: 0 } }).api.test(),
    );
    expect(failed.code).toBe(ErrorCode.HTTPError);
    expect(failed.statusCode).toBe(503);
    expect(await client(emu).apiCall("api.test", { foo: "bar" })).toMatchObject({ ok: true, args: { foo: "bar" } });
  });
});

/** A simple installation store that keeps every stored installation (newest last). */
function recordingStore(): InstallationStore & { stored: Installation[] } {
  const stored: Installation[] = [];
  return {
    stored,
    async storeInstallation(installation) {
      stored.push(structuredClone(installation) as Installation);
    },
    async fetchInstallation(query: InstallationQuery<boolean>) {
      const found = stored.findLast((i) =>
        query.isEnterpriseInstall
          ? i.isEnterpriseInstall === true && i.enterprise?.id === query.enterpriseId
          : i.team?.id === query.teamId,
      );
      if (!found) throw new Error("no installation");
      return structuredClone(found) as Installation;
    },
  };
}

interface Kit {
  emu: Emulator;
  provider: InstallProvider;
  store: ReturnType<typeof recordingStore>;
  appUrl: string;
  redirectUri: string;
  outcomes: Array<{ ok: true; installation: Installation } | { ok: false; error: CodedError }>;
  logger: ReturnType<typeof quietLogger>;
}

const INSTALL_OPTIONS = { scopes: ["commands", "chat:write"], userScopes: ["identify"] };

/** An app server using InstallProvider for /slack/install and /slack/oauth_redirect, and an emulator for it. */
async function installKit(
  options: EmulatorOptions = {},
  flow: { authVersion?: "v1" | "v2"; installOptions?: Omit<InstallURLOptions, "redirectUri"> } = {},
): Promise<Kit> {
  let kit: Kit | undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://app.invalid").pathname;
    const fail = (error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(error));
    };
    if (!kit) return fail("not ready");
    const installUrlOptions: InstallURLOptions = {
      ...(flow.installOptions ?? INSTALL_OPTIONS),
      redirectUri: kit.redirectUri,
    };
    if (path === "/slack/install") {
      kit.provider.handleInstallPath(req, res, {}, installUrlOptions).catch(fail);
    } else if (path === "/slack/oauth_redirect") {
      const outcomes = kit.outcomes;
      kit.provider
        .handleCallback(req, res, {
          success: (installation, _options, _req, callbackRes) => {
            outcomes.push({ ok: true, installation });
            callbackRes.writeHead(200, { "content-type": "text/plain" });
            callbackRes.end("installed");
          },
          failure: (error, _options, _req, callbackRes) => {
            outcomes.push({ ok: false, error });
            callbackRes.writeHead(400, { "content-type": "text/plain" });
            callbackRes.end(`failed: ${error.code}`);
          },
        })
        .catch(fail);
    } else {
      res.writeHead(404).end();
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const emu = await start({ appUrl, ...options });
  const store = recordingStore();
  const logger = quietLogger();
  const provider = new InstallProvider({
    clientId: emu.app.clientId,
    clientSecret: emu.app.clientSecret,
    stateSecret: "emulator-fidelity-state-secret",
    installationStore: store,
    // v1 (classic) apps authorize at /oauth/authorize, as on slack.com.
    authorizationUrl: flow.authVersion === "v1" ? `${emu.url}/oauth/authorize` : emu.authorizeUrl,
    directInstall: true,
    ...(flow.authVersion ? { authVersion: flow.authVersion } : {}),
    logger,
    clientOptions: { slackApiUrl: emu.apiUrl },
  });
  kit = { emu, provider, store, appUrl, redirectUri: `${appUrl}/slack/oauth_redirect`, outcomes: [], logger };
  return kit;
}

/**
 * A browser's walk through the install, with plain fetch and a hand-kept cookie: the app's install path, the
 * consent page, the decision, and the callback.
 */
async function walkInstall(
  kit: Kit,
  form: Record<string, string>,
): Promise<{ authorizeUrl: URL; callback: URL; status: number; body: string; cookies: string[] }> {
  const start = await fetch(`${kit.appUrl}/slack/install`, { redirect: "manual" });
  expect(start.status).toBe(302);
  const stateCookie = start.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .find((c) => c.startsWith("slack-app-oauth-state="));
  expect(stateCookie).toBeDefined();
  const authorizeUrl = new URL(start.headers.get("location")!);

  const page = await fetch(authorizeUrl, { redirect: "manual" });
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('name="decision" value="allow"');
  const decided = await fetch(authorizeUrl, { method: "POST", body: new URLSearchParams(form), redirect: "manual" });
  expect(decided.status).toBe(302);
  const callback = new URL(decided.headers.get("location")!);
  expect(`${callback.origin}${callback.pathname}`).toBe(kit.redirectUri);

  const done = await fetch(callback, { headers: { cookie: stateCookie! }, redirect: "manual" });
  return {
    authorizeUrl,
    callback,
    status: done.status,
    body: await done.text(),
    cookies: done.headers.getSetCookie(),
  };
}

describe("@slack/oauth InstallProvider against the emulator", () => {
  it("completes a workspace install: install path → consent → callback → installation store", async () => {
    const kit = await installKit();
    const { emu } = kit;
    const r = await walkInstall(kit, { team: "T0000000002", decision: "allow" });

    expect(`${r.authorizeUrl.origin}${r.authorizeUrl.pathname}`).toBe(emu.authorizeUrl);
    expect(Object.fromEntries(r.authorizeUrl.searchParams)).toMatchObject({
      client_id: emu.app.clientId,
      scope: "commands,chat:write",
      user_scope: "identify",
      redirect_uri: kit.redirectUri,
      state: expect.any(String),
    });
    expect(r.callback.searchParams.get("state")).toBe(r.authorizeUrl.searchParams.get("state"));
    expect({ status: r.status, body: r.body, errors: kit.logger.errors }).toEqual({
      status: 200,
      body: "installed",
      errors: [],
    });
    expect(r.cookies.some((c) => c.startsWith("slack-app-oauth-state=deleted"))).toBe(true);

    expect(kit.store.stored).toHaveLength(1);
    const installation = kit.store.stored[0]!;
    const test = (await api(emu, "auth.test", {}, { token: installation.bot!.token })).body;
    expect(test).toMatchObject({ ok: true, team_id: "T0000000002" });
    expect(installation).toMatchObject({
      team: { id: "T0000000002", name: "Globex" },
      appId: emu.app.appId,
      tokenType: "bot",
      isEnterpriseInstall: false,
      authVersion: "v2",
      bot: { id: test.bot_id, userId: test.user_id, scopes: ["commands", "chat:write"] },
      user: { id: "U0000000004", scopes: ["identify"] },
    });
    expect(installation.enterprise).toBeUndefined();
    expect(installation.bot!.token).toMatch(/^xoxb-/);
    expect(installation.user.token).toMatch(/^xoxp-/);

    const auth = await kit.provider.authorize({
      teamId: "T0000000002",
      enterpriseId: undefined,
      isEnterpriseInstall: false,
    });
    expect(auth).toMatchObject({ botToken: installation.bot!.token, botId: test.bot_id, teamId: "T0000000002" });
    // InstallProvider called auth.test itself, through the emulator.
    expect(emu.calls().map((c) => [c.method, c.ok, c.teamId])).toEqual([
      ["oauth.v2.access", true, "T0000000002"],
      ["auth.test", true, "T0000000002"],
      ["auth.test", true, "T0000000002"],
    ]);
  });

  it("completes an org-wide install (isEnterpriseInstall)", async () => {
    const kit = await installKit();
    const r = await walkInstall(kit, { team: "E0000000001", decision: "allow" });
    expect({ status: r.status, errors: kit.logger.errors }).toEqual({ status: 200, errors: [] });
    const installation = kit.store.stored[0]!;
    const test = (await api(kit.emu, "auth.test", {}, { token: installation.bot!.token })).body;
    expect(test).toMatchObject({ ok: true, is_enterprise_install: true, enterprise_id: "E0000000001" });
    expect(installation).toMatchObject({
      enterprise: { id: "E0000000001", name: "Acme Corp" },
      isEnterpriseInstall: true,
      enterpriseUrl: "https://acme-org.enterprise.slack.com/",
      bot: { id: test.bot_id, userId: test.user_id },
      user: { id: "W0000000010" },
    });
    expect(installation.team).toBeUndefined();
    expect(installation.bot!.userId).toMatch(/^W/);
    const auth = await kit.provider.authorize({
      teamId: "T0000000005",
      enterpriseId: "E0000000001",
      isEnterpriseInstall: true,
    });
    expect(auth).toMatchObject({
      botToken: installation.bot!.token,
      enterpriseId: "E0000000001",
      teamId: "T0000000005",
    });
  });

  it("stores rotating tokens and refreshes them through authorize()", async () => {
    // Expiring within InstallProvider's two-hour window, so authorize() refreshes at once.
    const kit = await installKit({ tokenRotation: true, tokenExpiresIn: 3600 });
    const r = await walkInstall(kit, { team: "T0000000001", decision: "allow" });
    expect({ status: r.status, errors: kit.logger.errors }).toEqual({ status: 200, errors: [] });
    const first = kit.store.stored[0]!;
    expect(first.bot!.token).toMatch(/^xoxe\.xoxb-1-/);
    expect(first.bot!.refreshToken).toMatch(/^xoxe-1-/);
    expect(first.user.token).toMatch(/^xoxe\.xoxp-1-/);
    expect(first.user.refreshToken).toMatch(/^xoxe-1-/);
    const nowSec = Date.now() / 1000;
    expect(first.bot!.expiresAt).toBeGreaterThan(nowSec + 3500);
    expect(first.bot!.expiresAt).toBeLessThanOrEqual(nowSec + 3601);

    const auth = await kit.provider.authorize({
      teamId: "T0000000001",
      enterpriseId: undefined,
      isEnterpriseInstall: false,
    });
    expect(kit.logger.errors).toEqual([]);
    expect(auth.botToken).toMatch(/^xoxe\.xoxb-1-/);
    expect(auth.botToken).not.toBe(first.bot!.token);
    expect(auth.userToken).not.toBe(first.user.token);
    expect(kit.store.stored).toHaveLength(2);
    expect(kit.store.stored[1]!.bot!.token).toBe(auth.botToken);
    expect((await api(kit.emu, "auth.test", {}, { token: auth.botToken! })).body.ok).toBe(true);
    expect((await api(kit.emu, "auth.test", {}, { token: auth.userToken! })).body.ok).toBe(true);
    expect(kit.emu.calls("oauth.v2.access").map((c) => c.ok)).toEqual([true, true, true]);
  });

  it("completes a legacy v1 install (authVersion v1, oauth.access)", async () => {
    const kit = await installKit({}, { authVersion: "v1", installOptions: { scopes: ["bot", "commands"] } });
    const r = await walkInstall(kit, { team: "T0000000003", decision: "allow" });
    expect(`${r.authorizeUrl.origin}${r.authorizeUrl.pathname}`).toBe(`${kit.emu.url}/oauth/authorize`);
    expect({ status: r.status, errors: kit.logger.errors }).toEqual({ status: 200, errors: [] });
    const installation = kit.store.stored[0]!;
    const test = (await api(kit.emu, "auth.test", {}, { token: installation.bot!.token })).body;
    expect(installation).toMatchObject({
      team: { id: "T0000000003", name: "Initech" },
      authVersion: "v1",
      isEnterpriseInstall: false,
      user: { id: "U0000000007", scopes: expect.arrayContaining(["commands"]) },
      bot: { id: test.bot_id, userId: test.user_id, scopes: ["bot"] },
    });
    expect(installation.enterprise).toBeUndefined();
    expect(installation.user.token).toMatch(/^xoxp-/);
    expect(kit.emu.calls().map((c) => [c.method, c.ok])).toEqual([
      ["oauth.access", true],
      ["auth.test", true],
      ["auth.test", true],
    ]);
  });

  it("a denied consent reaches InstallProvider's failure handler, and nothing is stored", async () => {
    const kit = await installKit();
    const r = await walkInstall(kit, { team: "T0000000001", decision: "deny" });
    expect(r.callback.searchParams.get("error")).toBe("access_denied");
    expect(r.status).toBe(400);
    expect(kit.outcomes).toHaveLength(1);
    expect(kit.outcomes[0]).toMatchObject({ ok: false, error: { code: OAuthErrorCode.AuthorizationError } });
    expect(kit.store.stored).toEqual([]);
    expect(kit.emu.calls()).toEqual([]);
  });
});
