/**
 * Several apps in one deployment, at the flow level: the install callback refuses another app's
 * `oauth.v2.access` reply (`app_id`) and saves nothing; a state issued for app A is refused on app B's
 * callback with its own code, even when both share one state store; Sign in with Slack likewise.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { OAuthFlow } from "../../src/oauth/flow.js";
import { OpenIDConnectFlow } from "../../src/oidc/flow.js";
import { issueAppState } from "../../src/state/state.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import {
  callback,
  consent,
  expectFailurePage,
  expectNoSecretsInLogs,
  fullInstall,
  type Harness,
  startHarness,
  startInstall,
} from "./flow-harness.js";

const harnesses: Harness[] = [];
afterEach(async () => {
  while (harnesses.length > 0) await harnesses.pop()!.close();
});

async function harness(...args: Parameters<typeof startHarness>): Promise<Harness> {
  const h = await startHarness(...args);
  harnesses.push(h);
  return h;
}

describe("the callback checks oauth.v2.access's app_id against the configured app", () => {
  it("another app's reply: 409 SLACK_OAUTH_APP_MISMATCH, nothing saved, the tokens left alone", async () => {
    const h = await harness({ flow: { appId: "A0NOTTHISAPP" } });
    const started = await startInstall(h);
    const location = await consent(started.authorizeUrl);
    await expectFailurePage(await callback(location, started.cookie), {
      code: ErrorCode.AppMismatch,
      status: 409,
      message: /for another app than this one\. Nothing was saved/,
    });
    expect(h.store.attempts).toBe(0);
    expect(await h.store.listWorkspaces()).toStrictEqual([]);
    expect(h.logger.text).toContain(`answered for app ${h.emu.app.appId}, this flow is app A0NOTTHISAPP`);
    // Not revoked: the tokens belong to the app Slack named, which may be installed and working.
    expect(h.emu.calls("auth.revoke")).toStrictEqual([]);
    expectNoSecretsInLogs(h, [location.searchParams.get("code") ?? ""]);
  });

  it("its own app id: installed as usual", async () => {
    const h = await harness();
    h.reconfigure({ appId: h.emu.app.appId });
    const { response } = await fullInstall(h);
    expect(response.status).toBe(200);
    expect(h.store.saves).toBe(1);
    expect(h.store.saved[0]?.appId).toBe(h.emu.app.appId);
  });

  it("a malformed appId is a configuration error", async () => {
    const h = await harness();
    expect(() => h.reconfigure({ appId: "not-an-app" })).toThrow(/appId must be a Slack app id/);
  });
});

describe("a state issued for app A is refused on app B's callback", () => {
  it("with SLACK_OAUTH_STATE_WRONG_APP, even from one shared state store and a matching cookie", async () => {
    const shared = new MemoryStateStore();
    const h = await harness({
      stateStore: shared,
      emulator: { apps: [{ name: "App B" }] },
    });
    const started = await startInstall(h);
    const location = await consent(started.authorizeUrl);
    const appB = h.emu.apps[1]!;
    const flowB = new OAuthFlow({
      clientId: appB.clientId,
      clientSecret: appB.clientSecret,
      appId: appB.appId,
      stateStore: shared,
      installationStore: new MemoryInstallationStore(),
      api: { oauthV2Access: async () => ({}), oauthAccess: async () => ({}), authTest: async () => ({}) } as never,
      stateCookieName: "slack-app-oauth-state-b",
      logger: h.logger,
    });
    // Without B's cookie (the usual case: each app has its own cookie name) the cookie check refuses it first.
    const plain = new Request(location.href.replace(h.url, "http://127.0.0.1"), {
      headers: { cookie: `slack-app-oauth-state=${started.state}` },
    });
    expect((await flowB.handleCallback(plain)).headers.get("x-slack-oauth-error")).toBe(ErrorCode.StateCookieMissing);
    // The browser sends B's cookie holding A's state: only the app check can tell.
    const request = new Request(location.href.replace(h.url, "http://127.0.0.1"), {
      headers: { cookie: `slack-app-oauth-state-b=${started.state}` },
    });
    const refused = await flowB.handleCallback(request);
    expect(refused.status).toBe(400);
    expect(refused.headers.get("x-slack-oauth-error")).toBe(ErrorCode.StateWrongApp);
    expect(await refused.text()).toMatch(/belongs to another app/);
    // B deletes its own cookie, never A's.
    const deleted = refused.headers.getSetCookie().map((c) => c.split("=")[0]);
    expect(deleted).toStrictEqual(["slack-app-oauth-state-b"]);
    expect(h.store.attempts).toBe(0);
  });

  it("states carry their app; a state issued before apps existed (no app) is still accepted", async () => {
    const h = await harness();
    const started = await startInstall(h);
    expect(h.states.issued.get(started.state)?.app).toBe(h.emu.app.clientId);
    const legacy = await h.states.inner.issue({ t: "install" });
    const location = await consent(started.authorizeUrl);
    const url = new URL(location);
    url.searchParams.set("state", legacy);
    const response = await callback(url, legacy);
    expect(response.status, await response.text()).toBe(200);
  });
});

describe("Sign in with Slack: per-app states", () => {
  it("a sign-in state of app A is refused by app B's flow (SLACK_OAUTH_STATE_WRONG_APP)", async () => {
    const shared = new MemoryStateStore();
    const flow = (clientId: string) =>
      new OpenIDConnectFlow({
        clientId,
        stateCookieName: "slack-signin-state-b",
        clientSecret: "test-secret-not-real",
        redirectUri: "http://localhost:3000/slack/login/callback",
        stateStore: shared,
        api: {} as never,
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      });
    const b = flow("2222222222.2222222222");
    const state = await issueAppState(shared, "1111111111.1111111111", { t: "oidc", nonce: "n" });
    const response = await b.handleCallback(
      new Request(`http://localhost:3000/slack/login/callback?code=c&state=${state}`, {
        headers: { cookie: `slack-signin-state-b=${state}` },
      }),
    );
    expect(response.status).toBe(400);
    expect(response.headers.get("x-slack-oauth-error")).toBe(ErrorCode.StateWrongApp);
  });
});
