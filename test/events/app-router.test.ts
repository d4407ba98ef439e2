/**
 * SlackAppRouter: one endpoint, several apps. Requests go to the app they name (`api_app_id`), are
 * verified with that app's signing secret, and reach only that app's store: uninstall and token
 * revocation of A never touch B, A's request never gets B's token.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { createAuthorize } from "../../src/authorize/authorize.js";
import { ConfigError } from "../../src/errors.js";
import { peekAppId, SlackAppRouter } from "../../src/events/app-router.js";
import { type SlackRequest, SlackRequestHandler } from "../../src/events/handler.js";
import type { Installation } from "../../src/model/installation.js";
import { SignatureSigner } from "../../src/signature/signature.js";
import { CachingInstallationStore, LocalInvalidationBus } from "../../src/stores/cache.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";

const NOW = 1_700_000_000;
const URL_ = "https://app.example.test/slack/events";
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const tid = () => `T${randomBytes(5).toString("hex").toUpperCase()}`;

interface App {
  appId: string;
  secret: string;
  store: CachingInstallationStore;
  handler: SlackRequestHandler;
  seen: string[];
}

function request(body: string, contentType: string, secret: string): Request {
  return new Request(URL_, {
    method: "POST",
    headers: { "content-type": contentType, ...new SignatureSigner(secret).headers(body, NOW) },
    body,
  });
}
const event = (appId: string | undefined, teamId: string, ev: Record<string, unknown>, secret: string) =>
  request(
    JSON.stringify({
      type: "event_callback",
      ...(appId ? { api_app_id: appId } : {}),
      team_id: teamId,
      event_id: `Ev${randomBytes(6).toString("hex").toUpperCase()}`,
      event: ev,
      authorizations: [{ team_id: teamId, user_id: "U0BOT", is_bot: true, is_enterprise_install: false }],
    }),
    "application/json",
    secret,
  );
const command = (appId: string, teamId: string, secret: string) =>
  request(
    new URLSearchParams({ command: "/open-modal", team_id: teamId, user_id: "U0USER1", api_app_id: appId }).toString(),
    "application/x-www-form-urlencoded",
    secret,
  );
const interaction = (appId: string, teamId: string, secret: string) =>
  request(
    new URLSearchParams({
      payload: JSON.stringify({
        type: "block_actions",
        api_app_id: appId,
        team: { id: teamId },
        user: { id: "U0USER1" },
      }),
    }).toString(),
    "application/x-www-form-urlencoded",
    secret,
  );

function install(teamId: string, label: string): Installation {
  return {
    teamId,
    userId: "U0USER1",
    userToken: `xoxp-test-${label}-${randomUUID()}`,
    userScopes: [],
    botToken: `xoxb-test-${label}-${randomUUID()}`,
    botScopes: ["commands"],
    isEnterpriseInstall: false,
    installedAt: NOW,
    customValues: {},
  };
}

describe("SlackAppRouter", () => {
  let a: App;
  let b: App;
  let router: SlackAppRouter;
  beforeEach(() => {
    const root = new MemoryInstallationStore();
    const bus = new LocalInvalidationBus();
    const app = (appId: string, clientId: string): App => {
      const secret = randomBytes(16).toString("hex");
      const store = new CachingInstallationStore(root.forApp(clientId), { invalidation: bus });
      const authorize = createAuthorize({ installationStore: store });
      const seen: string[] = [];
      const answer = async (req: SlackRequest) => {
        const { botToken } = await req.authorize();
        seen.push(botToken ?? "");
        return { text: appId };
      };
      const handler = new SlackRequestHandler({
        appId,
        signingSecret: secret,
        authorize,
        installationStore: store,
        nowSeconds: () => NOW,
        logger: quiet,
        onCommand: answer,
        onInteraction: answer,
        onEvent: async () => undefined,
      });
      return { appId, secret, store, handler, seen };
    };
    a = app("A0AAAAAAAA1", "1111111111.1111111111");
    b = app("A0BBBBBBBB2", "2222222222.2222222222");
    router = new SlackAppRouter({ handlers: [a.handler, b.handler], logger: quiet });
  });

  it("routes commands and interactions to the app they name: each gets its own bot token, same workspace", async () => {
    const t = tid();
    const [ia, ib] = [install(t, "a"), install(t, "b")];
    await a.store.save(ia);
    await b.store.save(ib);
    for (const app of [a, b]) {
      const r1 = await router.handle(command(app.appId, t, app.secret));
      expect(r1.status).toBe(200);
      expect(await r1.json()).toStrictEqual({ text: app.appId });
      const r2 = await router.handle(interaction(app.appId, t, app.secret));
      expect(r2.status).toBe(200);
    }
    expect(a.seen).toStrictEqual([ia.botToken, ia.botToken]);
    expect(b.seen).toStrictEqual([ib.botToken, ib.botToken]);
  });

  it("A's request signed with B's secret: 401; an unknown app: 404 naming no app", async () => {
    const t = tid();
    await a.store.save(install(t, "a"));
    const forged = await router.handle(command(a.appId, t, b.secret));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toStrictEqual({ ok: false, error: "invalid_signature" });
    for (const r of [
      await router.handle(command("A0UNKNOWN99", t, a.secret)),
      await router.handle(event("A0UNKNOWN99", t, { type: "app_mention" }, a.secret)),
      await router.handle(interaction("A0UNKNOWN99", t, a.secret)),
    ]) {
      expect(r.status).toBe(404);
      const text = await r.text();
      expect(JSON.parse(text)).toStrictEqual({ ok: false, error: "unknown_app" });
      expect(text).not.toContain(a.appId);
      expect(text).not.toContain(b.appId);
    }
    // A handler with appId also refuses a verified request naming another app (a shared secret).
    const direct = await a.handler.handle(command(b.appId, t, a.secret));
    expect(direct.status).toBe(404);
    expect(a.seen).toStrictEqual([]);
  });

  it("a request naming no app (URL verification) goes to the app whose secret verifies it, else 401", async () => {
    const body = JSON.stringify({ type: "url_verification", challenge: "c-123", token: "x" });
    const ok = await router.handle(request(body, "application/json", b.secret));
    expect(await ok.json()).toStrictEqual({ challenge: "c-123" });
    const bad = await router.handle(request(body, "application/json", randomBytes(16).toString("hex")));
    expect(bad.status).toBe(401);
  });

  it("app_uninstalled and tokens_revoked of A never touch B's installation of the same workspace", async () => {
    const t = tid();
    const [ia, ib] = [install(t, "a"), install(t, "b")];
    await a.store.save(ia);
    await b.store.save(ib);
    const revoked = await router.handle(
      event(a.appId, t, { type: "tokens_revoked", tokens: { oauth: ["U0USER1"], bot: ["U0BOT"] } }, a.secret),
    );
    expect(revoked.status).toBe(200);
    expect(await a.store.findInstallation({ teamId: t, userId: "U0USER1" })).toBeUndefined();
    expect((await b.store.findInstallation({ teamId: t, userId: "U0USER1" }))?.userToken).toBe(ib.userToken);
    await a.store.save(ia);
    expect((await router.handle(event(a.appId, t, { type: "app_uninstalled" }, a.secret))).status).toBe(200);
    expect(await a.store.findBot({ teamId: t })).toBeUndefined();
    expect((await b.store.findBot({ teamId: t }))?.botToken).toBe(ib.botToken);
    const stillB = await router.handle(command(b.appId, t, b.secret));
    expect(stillB.status).toBe(200);
    expect(b.seen).toStrictEqual([ib.botToken]);
  });

  it("refuses a bad configuration: no handlers, a handler without appId, an app listed twice", () => {
    const h = (appId?: string) => new SlackRequestHandler({ appId, signingSecret: "s".repeat(32), logger: quiet });
    expect(() => new SlackAppRouter({ handlers: [] })).toThrow(ConfigError);
    expect(() => new SlackAppRouter({ handlers: [h()] })).toThrow(/has no appId/);
    expect(() => new SlackAppRouter({ handlers: [h("A0AAAAAAAA1"), h("A0AAAAAAAA1")] })).toThrow(/listed twice/);
  });

  it("peekAppId reads api_app_id from JSON, forms and interaction payloads; anything else is not an app", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(peekAppId(enc('{"type":"event_callback","api_app_id":"A0123"}'), "application/json")).toBe("A0123");
    expect(peekAppId(enc("command=%2Fx&api_app_id=A0XY"), "application/x-www-form-urlencoded")).toBe("A0XY");
    const payload = new URLSearchParams({ payload: '{"api_app_id":"A0PAY"}' }).toString();
    expect(peekAppId(enc(payload), "application/x-www-form-urlencoded; charset=utf-8")).toBe("A0PAY");
    expect(peekAppId(enc('{"type":"url_verification"}'), "application/json")).toBeUndefined();
    expect(peekAppId(enc('{"api_app_id":"../etc"}'), "application/json")).toBe("");
    expect(peekAppId(enc('{"api_app_id":"A0123"}'), "text/plain")).toBeUndefined();
  });
});
