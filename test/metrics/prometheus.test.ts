/**
 * Metrics hooks and their Prometheus exposition, without sockets: components with and without `metrics`,
 * the text read back through a strict parser of the exposition format.
 */
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAuthorize, NotInstalledError } from "../../src/authorize/authorize.js";
import type { AuthorizeContext } from "../../src/authorize/context.js";
import { ConfigError, LockTimeoutError } from "../../src/errors.js";
import { SlackRequestHandler } from "../../src/events/handler.js";
import { bindMetrics, type MetricsHooks, measureAuthorize } from "../../src/metrics/hooks.js";
import { bearerCheck, PrometheusMetrics } from "../../src/metrics/prometheus.js";
import type { Installation } from "../../src/model/installation.js";
import { silentLogger } from "../../src/redact.js";
import { RotationCoordinator } from "../../src/rotation/coordinator.js";
import { TokenRefreshError } from "../../src/rotation/errors.js";
import { TokenRotator } from "../../src/rotation/token-rotator.js";
import { SignatureSigner } from "../../src/signature/signature.js";
import { CachingInstallationStore } from "../../src/stores/cache.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { type Family, PromParseError, parsePrometheusText, sampleValue } from "../helpers/prom-text.js";

const SECRET = randomBytes(16).toString("hex");
const signer = new SignatureSigner(SECRET);
const NOW = 1_700_000_000;
const URL_ = "https://app.example.test/slack/events";
const APP = "1234567890.1234567890";

afterEach(() => {
  vi.restoreAllMocks();
});

function installation(teamId: string, extra: Partial<Installation> = {}): Installation {
  return {
    teamId,
    userId: "U0000000001",
    botToken: `xoxb-${randomBytes(6).toString("hex")}`,
    botId: "B0000000001",
    botUserId: "U0BOT00001",
    botScopes: ["commands"],
    userScopes: [],
    isEnterpriseInstall: false,
    installedAt: NOW,
    ...extra,
  } as Installation;
}

function signed(body: string, contentType: string): Request {
  return new Request(URL_, {
    method: "POST",
    headers: { "content-type": contentType, ...signer.headers(body, NOW) },
    body,
  });
}
const command = (teamId: string) =>
  signed(
    new URLSearchParams({ command: "/hello", team_id: teamId, user_id: "U0000000001", text: "" }).toString(),
    "application/x-www-form-urlencoded",
  );
const event = (type: string, teamId: string, extra: Record<string, unknown> = {}) =>
  signed(
    JSON.stringify({
      type: "event_callback",
      team_id: teamId,
      event_id: `Ev${randomBytes(5).toString("hex")}`,
      event: { type, ...extra },
      authorizations: [{ team_id: teamId, user_id: "U0BOT00001", is_bot: true, is_enterprise_install: false }],
    }),
    "application/json",
  );

async function scrape(metrics: PrometheusMetrics): Promise<Map<string, Family>> {
  return parsePrometheusText(await metrics.metrics());
}

describe("the strict exposition parser", () => {
  it("reads families, labels with escapes, histograms; refuses what Prometheus refuses", () => {
    const ok = parsePrometheusText(
      [
        "# HELP a_total A \\\\ counter\\nwith two lines",
        "# TYPE a_total counter",
        'a_total{x="q\\"uote",y="back\\\\slash\\n"} 3',
        "# TYPE h histogram",
        'h_bucket{le="0.1"} 1',
        'h_bucket{le="+Inf"} 2',
        "h_sum 0.5",
        "h_count 2",
        "",
      ].join("\n"),
    );
    expect(ok.get("a_total")?.help).toBe("A \\ counter\nwith two lines");
    expect(sampleValue(ok, "a_total", { x: 'q"uote', y: "back\\slash\n" })).toBe(3);
    expect(sampleValue(ok, "h", {}, "h_count")).toBe(2);
    const bad = [
      "a_total 1\n", // no TYPE before it
      '# TYPE a counter\na{x="\\t"} 1\n', // bad escape
      "# TYPE a counter\na 1\na 2\n", // repeated series
      "# TYPE a counter\na -1\n", // negative counter
      "# TYPE a counter\na one\n", // not a number
      '# TYPE a counter\na{1x="v"} 1\n', // bad label name
      "# TYPE a counter\n# TYPE b counter\nb 1\na 1\n", // outside its family's block
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', // not cumulative
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', // no +Inf
      '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n', // count ≠ +Inf
      "# TYPE a counter\na 1", // no final newline
      "# TYPE a counter\n# TYPE a counter\na 1\n", // second TYPE
    ];
    for (const text of bad) expect(() => parsePrometheusText(text), text).toThrow(Error);
    expect(() => parsePrometheusText("a_total 1\n")).toThrow(PromParseError);
  });
});

describe("metrics hooks in the core", () => {
  it("no metrics: authorize and the request handler make no timing call", async () => {
    const store = new CachingInstallationStore(new MemoryInstallationStore());
    await store.save(installation("T0000000001"));
    const authorize = createAuthorize({ installationStore: store });
    const handler = new SlackRequestHandler({
      signingSecret: SECRET,
      nowSeconds: () => NOW,
      authorize,
      logger: silentLogger,
      onCommand: async (req) => {
        await req.authorize();
      },
    });
    const now = vi.spyOn(performance, "now");
    expect((await handler.handle(command("T0000000001"))).status).toBe(200);
    await authorize({ teamId: "T0000000001", isEnterpriseInstall: false });
    expect(now).not.toHaveBeenCalled();

    // The same with a listener: it is timed.
    const timed = createAuthorize({ installationStore: store, metrics: { hooks: { authorize: () => {} }, app: APP } });
    await timed({ teamId: "T0000000001", isEnterpriseInstall: false });
    expect(now).toHaveBeenCalledTimes(2);
    // Hooks without the authorize method: still no timing.
    now.mockClear();
    const other = createAuthorize({ installationStore: store, metrics: { hooks: { install: () => {} }, app: APP } });
    await other({ teamId: "T0000000001", isEnterpriseInstall: false });
    expect(now).not.toHaveBeenCalled();
  });

  it("a throwing hook never changes what a request gets", async () => {
    const boom = () => {
      throw new Error("sink down");
    };
    const hooks: MetricsHooks = { slackRequest: boom, authorize: boom, uninstall: boom };
    const store = new MemoryInstallationStore();
    await store.save(installation("T0000000001"));
    const handler = new SlackRequestHandler({
      signingSecret: SECRET,
      nowSeconds: () => NOW,
      installationStore: store,
      authorize: createAuthorize({ installationStore: store, metrics: { hooks, app: APP } }),
      logger: silentLogger,
      metrics: { hooks, app: APP },
      onCommand: async (req) => ({ text: (await req.authorize()).teamId ?? "" }),
    });
    const reply = await handler.handle(command("T0000000001"));
    expect(reply.status).toBe(200);
    expect(await reply.json()).toEqual({ text: "T0000000001" });
    expect((await handler.handle(event("app_uninstalled", "T0000000001"))).status).toBe(200);
    expect(await store.findBot({ teamId: "T0000000001" })).toBeUndefined();
  });

  it("measureAuthorize measures an authorize of one's own (cache none), or returns it as it is", async () => {
    const calls: string[] = [];
    const hooks: MetricsHooks = {
      authorize: (app, cache, outcome, seconds) => {
        expect(seconds).toBeGreaterThanOrEqual(0);
        calls.push(`${app} ${cache} ${outcome}`);
      },
    };
    const mine = async (context: AuthorizeContext) => {
      if (context.teamId === "T0000000009") throw new NotInstalledError();
      if (context.teamId === "T0000000008") throw new Error("store down");
      return { botToken: "xoxb-fake" };
    };
    const measured = measureAuthorize(mine, { hooks, app: APP });
    expect(await measured({ teamId: "T0000000001", isEnterpriseInstall: false })).toEqual({ botToken: "xoxb-fake" });
    await expect(measured({ teamId: "T0000000009", isEnterpriseInstall: false })).rejects.toBeInstanceOf(
      NotInstalledError,
    );
    await expect(measured({ teamId: "T0000000008", isEnterpriseInstall: false })).rejects.toThrow("store down");
    expect(calls).toEqual([`${APP} none ok`, `${APP} none not_installed`, `${APP} none error`]);
    expect(measureAuthorize(mine, undefined)).toBe(mine);
    expect(measureAuthorize(mine, { hooks: { install: () => {} }, app: APP })).toBe(mine);
  });

  it("refuses a bad metrics option with a ConfigError", () => {
    const store = new MemoryInstallationStore();
    for (const app of ["", "x".repeat(129), "a\nb", 42 as unknown as string]) {
      expect(() => createAuthorize({ installationStore: store, metrics: { hooks: {}, app } })).toThrow(ConfigError);
    }
    expect(
      () =>
        new SlackRequestHandler({
          signingSecret: SECRET,
          metrics: { hooks: null as unknown as MetricsHooks, app: APP },
        }),
    ).toThrow(ConfigError);
    expect(bindMetrics({ hooks: {}, app: APP }, "x")).toBeUndefined();
  });
});

describe("PrometheusMetrics", () => {
  it("counts Slack requests by kind and status, authorize hits, misses and latency, uninstalls", async () => {
    const prom = new PrometheusMetrics();
    const metrics = prom.forApp(APP);
    const store = new CachingInstallationStore(new MemoryInstallationStore());
    await store.save(installation("T0000000001"));
    await store.save(installation("T0000000002"));
    const handler = new SlackRequestHandler({
      signingSecret: SECRET,
      nowSeconds: () => NOW,
      installationStore: store,
      authorize: createAuthorize({ installationStore: store, metrics }),
      logger: silentLogger,
      metrics,
      onCommand: async (req) => {
        try {
          await req.authorize();
          return { text: "ok" };
        } catch (error) {
          if (error instanceof NotInstalledError) return { text: "install first" };
          throw error;
        }
      },
      onEvent: () => {},
      onInteraction: () => new Response("nope", { status: 503 }),
    });
    const empty = await scrape(prom);
    expect(sampleValue(empty, "slack_oauth_slack_requests_total", { app: APP, kind: "command", status: "200" })).toBe(
      0,
    );

    for (let i = 0; i < 3; i++) expect((await handler.handle(command("T0000000001"))).status).toBe(200);
    await handler.handle(command("T0000000002"));
    await handler.handle(command("T0000000009")); // not installed
    await handler.handle(event("app_mention", "T0000000001"));
    await handler.handle(
      signed(
        `payload=${encodeURIComponent(JSON.stringify({ type: "block_actions" }))}`,
        "application/x-www-form-urlencoded",
      ),
    );
    await handler.handle(signed(JSON.stringify({ type: "url_verification", challenge: "c" }), "application/json"));
    await handler.handle(signed("ssl_check=1&token=x", "application/x-www-form-urlencoded"));
    await handler.handle(
      new Request(URL_, { method: "POST", body: "{}", headers: { "content-type": "application/json" } }),
    );
    await handler.handle(new Request(URL_, { method: "GET" }));
    await handler.handleRaw({ method: "PUT", headers: {}, body: new Uint8Array(), url: URL_ });
    await handler.handle(event("app_uninstalled", "T0000000002"));
    await handler.handle(event("tokens_revoked", "T0000000001", { tokens: { oauth: ["U0000000001"] } }));

    const f = await scrape(prom);
    const req = (kind: string, status: string) =>
      sampleValue(f, "slack_oauth_slack_requests_total", { app: APP, kind, status });
    expect(req("command", "200")).toBe(5);
    expect(req("event", "200")).toBe(3);
    expect(req("interaction", "503")).toBe(1);
    expect(req("url_verification", "200")).toBe(1);
    expect(req("ssl_check", "200")).toBe(1);
    expect(req("invalid", "401")).toBe(1);
    expect(req("invalid", "405")).toBe(2);
    expect(f.get("slack_oauth_slack_requests_total")?.type).toBe("counter");

    const auth = (cache: string, outcome: string) =>
      sampleValue(f, "slack_oauth_authorize_total", { app: APP, cache, outcome });
    // T1: a miss, then two hits; T2: a miss; T9: a miss that finds nothing.
    expect(auth("miss", "ok")).toBe(2);
    expect(auth("hit", "ok")).toBe(2);
    expect(auth("miss", "not_installed")).toBe(1);
    const hist = f.get("slack_oauth_authorize_duration_seconds");
    expect(hist?.type).toBe("histogram");
    expect(
      sampleValue(
        f,
        "slack_oauth_authorize_duration_seconds",
        { app: APP, cache: "hit" },
        "slack_oauth_authorize_duration_seconds_count",
      ),
    ).toBe(2);
    expect(
      sampleValue(
        f,
        "slack_oauth_authorize_duration_seconds",
        { app: APP, cache: "miss" },
        "slack_oauth_authorize_duration_seconds_count",
      ),
    ).toBe(3);
    const sum = sampleValue(
      f,
      "slack_oauth_authorize_duration_seconds",
      { app: APP, cache: "miss" },
      "slack_oauth_authorize_duration_seconds_sum",
    );
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(5);

    expect(sampleValue(f, "slack_oauth_uninstalls_total", { app: APP })).toBe(1);
    expect(sampleValue(f, "slack_oauth_token_revocations_total", { app: APP })).toBe(1);
  });

  it("counts token refreshes by outcome, once per refresh however many callers share it", async () => {
    const prom = new PrometheusMetrics();
    const store = new MemoryInstallationStore();
    const soon = Math.floor(Date.now() / 1000) + 60;
    await store.save(
      installation("T0000000001", {
        botToken: "xoxe.xoxb-1-old",
        botRefreshToken: "xoxe-1-old",
        botTokenExpiresAt: soon,
      }),
    );
    await store.save(
      installation("T0000000002", {
        botToken: "xoxe.xoxb-2-old",
        botRefreshToken: "xoxe-2-old",
        botTokenExpiresAt: soon,
      }),
    );
    let calls = 0;
    const rotator = new TokenRotator({
      clientId: APP,
      clientSecret: "fake-client-secret-0123456789abcd",
      api: {
        oauthV2Refresh: async (args: { refreshToken: string }) => {
          calls++;
          if (args.refreshToken === "xoxe-2-old")
            throw new TokenRefreshError({ kind: "bot", reason: "invalid_refresh_token" });
          return {
            ok: true,
            access_token: "xoxe.xoxb-1-new",
            refresh_token: "xoxe-1-new",
            expires_in: 43200,
            token_type: "bot",
          };
        },
      } as never,
    });
    const coordinator = new RotationCoordinator({ installationStore: store, rotator, metrics: prom.forApp(APP) });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => coordinator.refreshBot({ teamId: "T0000000001" })),
    );
    expect(results.every((r) => r.status === "refreshed")).toBe(true);
    expect(calls).toBe(1);
    await expect(coordinator.refreshBot({ teamId: "T0000000002" })).rejects.toBeInstanceOf(TokenRefreshError);
    expect((await coordinator.refreshBot({ teamId: "T0000000001" })).status).toBe("not_needed");
    const f = await scrape(prom);
    const r = (outcome: string) =>
      sampleValue(f, "slack_oauth_token_refreshes_total", { app: APP, token: "bot", outcome });
    expect(r("refreshed")).toBe(1);
    expect(r("invalid_refresh_token")).toBe(1);
    expect(r("not_needed")).toBe(1);
    // A lock that cannot be had is its own outcome.
    const locked = new RotationCoordinator({
      installationStore: Object.assign(Object.create(store), {
        withLock: () => Promise.reject(new LockTimeoutError("rotation/-/T0000000001/bot", 1)),
      }),
      rotator,
      metrics: prom.forApp(APP),
    });
    await expect(locked.refreshBot({ teamId: "T0000000001" })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(
      sampleValue(await scrape(prom), "slack_oauth_token_refreshes_total", {
        app: APP,
        token: "bot",
        outcome: "lock_timeout",
      }),
    ).toBe(1);
  });

  it("health is a gauge by status; several apps are told apart by label; prefix and registry are the caller's", async () => {
    const prom = new PrometheusMetrics({ prefix: "myapp_" });
    prom.hooks.health?.("A1", "ok", 10);
    prom.hooks.health?.("A1", "ok", 7);
    prom.hooks.health?.("A1", "token_expired", 2);
    prom.hooks.install?.("A1");
    prom.hooks.install?.("A2");
    prom.hooks.install?.("A2");
    prom.hooks.installFailure?.("A2", "SLACK_OAUTH_STATE_INVALID");
    const f = await scrape(prom);
    expect(f.get("myapp_installations")?.type).toBe("gauge");
    expect(sampleValue(f, "myapp_installations", { app: "A1", status: "ok" })).toBe(7);
    expect(sampleValue(f, "myapp_installations", { app: "A1", status: "token_expired" })).toBe(2);
    expect(sampleValue(f, "myapp_installs_total", { app: "A1" })).toBe(1);
    expect(sampleValue(f, "myapp_installs_total", { app: "A2" })).toBe(2);
    expect(sampleValue(f, "myapp_install_failures_total", { app: "A2", code: "SLACK_OAUTH_STATE_INVALID" })).toBe(1);
    expect(f.has("slack_oauth_installs_total")).toBe(false);
    // Bucket bounds are inclusive (le): 1 ms lands in le="0.001", not below it.
    prom.hooks.authorize?.("A1", "hit", "ok", 0.001);
    prom.hooks.authorize?.("A1", "hit", "ok", 7);
    const g = await scrape(prom);
    const bucket = (le: string) =>
      sampleValue(
        g,
        "myapp_authorize_duration_seconds",
        { app: "A1", cache: "hit", le },
        "myapp_authorize_duration_seconds_bucket",
      );
    expect(bucket("0.0005")).toBe(0);
    expect(bucket("0.001")).toBe(1);
    expect(bucket("5")).toBe(1);
    expect(bucket("+Inf")).toBe(2);
    expect(
      sampleValue(
        g,
        "myapp_authorize_duration_seconds",
        { app: "A1", cache: "hit" },
        "myapp_authorize_duration_seconds_sum",
      ),
    ).toBe(7.001);
    prom.registry.resetMetrics();
    const h = await scrape(prom);
    expect(sampleValue(h, "myapp_authorize_total", { app: "A1", cache: "hit", outcome: "ok" })).toBe(0);
    expect(
      sampleValue(
        h,
        "myapp_authorize_duration_seconds",
        { app: "A1", cache: "hit" },
        "myapp_authorize_duration_seconds_count",
      ),
    ).toBe(0);
    expect(() => new PrometheusMetrics({ prefix: "bad-prefix" })).toThrow(ConfigError);
    expect(() => new PrometheusMetrics({ authorizeBuckets: [0.1, 0.01] })).toThrow(ConfigError);
  });

  it("the endpoint: bearer token checked, GET/HEAD only, text format content type", async () => {
    const token = randomBytes(24).toString("base64url");
    const prom = new PrometheusMetrics();
    const serve = prom.handler({ token });
    const get = (headers: Record<string, string> = {}, method = "GET") =>
      serve(new Request("http://localhost/metrics", { method, headers }));
    expect((await get()).status).toBe(401);
    expect((await get()).headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await get({ authorization: `Bearer ${token}x` })).status).toBe(401);
    expect((await get({ authorization: `Bearer ${token.slice(1)}` })).status).toBe(401);
    expect((await get({ authorization: `Basic ${token}` })).status).toBe(401);
    const ok = await get({ authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(parsePrometheusText(await ok.text()).has("slack_oauth_installs_total")).toBe(true);
    expect((await get({ authorization: `bearer ${token}` }, "HEAD")).status).toBe(200);
    expect((await get({ authorization: `Bearer ${token}` }, "POST")).status).toBe(405);
    expect(() => bearerCheck("short")).toThrow(ConfigError);
    expect(() => bearerCheck("sixteen chars ok")).toThrow(ConfigError); // spaces
  });
});
