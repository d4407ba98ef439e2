import { afterEach, describe, expect, it } from "vitest";
import { api, closeAll, install, type Json, receiver, slackSignatureValid, start, until } from "./helpers.js";

afterEach(closeAll);

async function setup(options: Parameters<typeof start>[0] = {}) {
  const app = await receiver();
  const emu = await start({ appUrl: app.url, ...options });
  return { app, emu };
}

function events(app: Awaited<ReturnType<typeof receiver>>) {
  return app.requests.map((r) => JSON.parse(r.body) as Json);
}

describe("uninstall and revocation events", () => {
  it("test API uninstall revokes every token and delivers signed app_uninstalled + tokens_revoked", async () => {
    const { app, emu } = await setup();
    const reply = await install(emu, { user_scope: "identify" });
    const result = await emu.uninstall({ teamId: "T0000000001" });
    expect(result.deliveries).toEqual([
      { type: "app_uninstalled", status: 200, ok: true },
      { type: "tokens_revoked", status: 200, ok: true },
    ]);
    expect(app.requests).toHaveLength(2);
    for (const r of app.requests) {
      expect(r.method).toBe("POST");
      expect(r.path).toBe("/slack/events");
      expect(r.headers["content-type"]).toBe("application/json");
      expect(slackSignatureValid(emu.app.signingSecret, r.headers, r.body)).toBe(true);
      expect(slackSignatureValid("0".repeat(32), r.headers, r.body)).toBe(false);
      expect(r.headers["x-slack-retry-num"]).toBeUndefined();
    }
    const [uninstalled, revoked] = events(app);
    expect(uninstalled).toMatchObject({
      type: "event_callback",
      team_id: "T0000000001",
      api_app_id: emu.app.appId,
      event: { type: "app_uninstalled" },
      authorizations: [
        {
          enterprise_id: null,
          team_id: "T0000000001",
          user_id: reply.bot_user_id,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
    });
    expect(uninstalled!.event_id).toMatch(/^Ev[A-Z0-9]+$/);
    expect(typeof uninstalled!.event_time).toBe("number");
    expect(uninstalled!.enterprise_id).toBeUndefined();
    expect(revoked!.event).toMatchObject({
      type: "tokens_revoked",
      tokens: { oauth: [reply.authed_user.id], bot: [reply.bot_user_id] },
    });
    expect((await api(emu, "auth.test", {}, { token: reply.access_token })).body.error).toBe("token_revoked");
    expect((await api(emu, "auth.test", {}, { token: reply.authed_user.access_token })).body.error).toBe(
      "token_revoked",
    );
    expect(emu.world.installations()).toEqual([]);
  });

  it("HTTP test API uninstall of an org-wide installation carries the enterprise", async () => {
    const { app, emu } = await setup();
    await install(emu, {}, { team: "E0000000001" });
    const res = await fetch(`${emu.url}/_emulator/uninstall`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ enterpriseId: "E0000000001" }),
    });
    expect(res.status).toBe(200);
    expect((await res.json()) as Json).toMatchObject({ ok: true, deliveries: [{ ok: true }, { ok: true }] });
    const [uninstalled] = events(app);
    expect(uninstalled).toMatchObject({
      enterprise_id: "E0000000001",
      authorizations: [{ enterprise_id: "E0000000001", team_id: null, is_enterprise_install: true }],
    });
    const again = await fetch(`${emu.url}/_emulator/uninstall`, {
      method: "POST",
      body: JSON.stringify({ enterpriseId: "E0000000001" }),
    });
    expect(again.status).toBe(409);
    expect(((await again.json()) as Json).error).toBe("not_installed");
  });

  it("apps.uninstall revokes the installation and delivers the events in the background", async () => {
    const { app, emu } = await setup();
    const reply = await install(emu);
    const bad = await api(
      emu,
      "apps.uninstall",
      { client_id: emu.app.clientId, client_secret: "0".repeat(32) },
      { token: reply.access_token },
    );
    expect(bad.body.error).toBe("bad_client_secret");
    const r = await api(
      emu,
      "apps.uninstall",
      { client_id: emu.app.clientId, client_secret: emu.app.clientSecret },
      { token: reply.access_token },
    );
    expect(r.body).toEqual({ ok: true });
    await emu.idle();
    expect(events(app).map((e) => e.event.type)).toEqual(["app_uninstalled", "tokens_revoked"]);
    expect(emu.world.tokenStatus(reply.access_token)).toBe("revoked");
  });

  it("apps.uninstall refuses another app's client id", async () => {
    const { emu } = await setup({ apps: [{ name: "Other" }] });
    const reply = await install(emu);
    const other = emu.apps[1]!;
    const r = await api(
      emu,
      "apps.uninstall",
      { client_id: other.clientId, client_secret: other.clientSecret },
      { token: reply.access_token },
    );
    expect(r.body.error).toBe("client_id_token_mismatch");
  });

  it("revoke (test API) of one user delivers tokens_revoked for that user only", async () => {
    const { app, emu } = await setup();
    const reply = await install(emu, { user_scope: "identify" });
    const res = await fetch(`${emu.url}/_emulator/revoke`, {
      method: "POST",
      body: JSON.stringify({ teamId: "T0000000001", userIds: [reply.authed_user.id] }),
    });
    expect((await res.json()) as Json).toMatchObject({
      ok: true,
      revoked: { bot: [], oauth: [reply.authed_user.id] },
    });
    expect(events(app)[0]!.event).toEqual({
      type: "tokens_revoked",
      tokens: { oauth: [reply.authed_user.id], bot: [] },
      event_ts: expect.any(String),
    });
    expect(slackSignatureValid(emu.app.signingSecret, app.requests[0]!.headers, app.requests[0]!.body)).toBe(true);
    expect(emu.world.tokenStatus(reply.authed_user.access_token)).toBe("revoked");
    expect(emu.world.tokenStatus(reply.access_token)).toBe("active");
  });

  it("auth.revoke: test=1 is a dry run; otherwise revokes and delivers tokens_revoked", async () => {
    const { app, emu } = await setup();
    const reply = await install(emu);
    expect((await api(emu, "auth.revoke", { test: "1" }, { token: reply.access_token })).body).toEqual({
      ok: true,
      revoked: false,
    });
    expect(emu.world.tokenStatus(reply.access_token)).toBe("active");
    expect((await api(emu, "auth.revoke", {}, { token: reply.access_token })).body).toEqual({
      ok: true,
      revoked: true,
    });
    expect((await api(emu, "auth.test", {}, { token: reply.access_token })).body.error).toBe("token_revoked");
    await emu.idle();
    expect(events(app)[0]!.event).toMatchObject({ type: "tokens_revoked", tokens: { bot: [reply.bot_user_id] } });
  });

  it("records failed deliveries and retries events with X-Slack-Retry-Num when asked", async () => {
    let calls = 0;
    const app = await receiver(() => (++calls === 1 ? { status: 500 } : {}));
    const emu = await start({ appUrl: app.url, eventRetries: 2, eventRetryDelaysMs: [10] });
    await install(emu);
    const r = await emu.sendEvent({ teamId: "T0000000001", event: { type: "app_mention", text: "hi" } });
    expect(r.ok).toBe(true);
    expect(app.requests).toHaveLength(2);
    expect(app.requests[1]!.headers["x-slack-retry-num"]).toBe("1");
    expect(app.requests[1]!.headers["x-slack-retry-reason"]).toBe("http_error");
    expect(app.requests[0]!.body).toBe(app.requests[1]!.body);
    expect(emu.deliveries().map((d) => [d.status, d.attempt])).toEqual([
      [500, 0],
      [200, 1],
    ]);
  });

  it("reports an unreachable app", async () => {
    const emu = await start({ appUrl: "http://127.0.0.1:9" });
    await install(emu);
    const r = await emu.sendEvent({ teamId: "T0000000001", event: { type: "app_mention" } });
    expect(r).toMatchObject({ ok: false, status: null, error: "connection_failed" });
  });
});

describe("commands, interactions, events", () => {
  it("sends a signed form-encoded slash command and returns the app's answer", async () => {
    const app = await receiver(() => ({ body: '{"text":"pong"}', contentType: "application/json" }));
    const emu = await start({ appUrl: app.url });
    await install(emu);
    const res = await fetch(`${emu.url}/_emulator/send/command`, {
      method: "POST",
      body: JSON.stringify({ teamId: "T0000000001", userId: "U0000000002", command: "/ping", text: "a b" }),
    });
    expect((await res.json()) as Json).toEqual({
      ok: true,
      status: 200,
      body: '{"text":"pong"}',
      contentType: "application/json",
      error: null,
    });
    const r = app.requests[0]!;
    expect(r.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(slackSignatureValid(emu.app.signingSecret, r.headers, r.body)).toBe(true);
    const form = Object.fromEntries(new URLSearchParams(r.body));
    expect(form).toMatchObject({
      team_id: "T0000000001",
      team_domain: "northwind",
      user_id: "U0000000002",
      user_name: "bob",
      command: "/ping",
      text: "a b",
      api_app_id: emu.app.appId,
      is_enterprise_install: "false",
    });
    expect(form.enterprise_id).toBeUndefined();
    expect(form.trigger_id).toMatch(/^\d+\.\d+\.[0-9a-f]{32}$/);
    expect(form.response_url).toMatch(new RegExp(`^${emu.url}/commands/T0000000001/`));
    // The response_url accepts a message.
    const post = await fetch(form.response_url!, { method: "POST", body: JSON.stringify({ text: "later" }) });
    expect(post.status).toBe(200);
    expect(emu.messages()).toMatchObject([{ source: "response_url", text: "later" }]);
  });

  it("a command's trigger_id opens a view once, within 3 seconds", async () => {
    let now = Date.UTC(2030, 0, 1);
    const app = await receiver();
    const emu = await start({ appUrl: app.url, nowMs: () => now });
    const reply = await install(emu);
    await emu.sendSlashCommand({ teamId: "T0000000001", command: "/modal" });
    const triggerId = new URLSearchParams(app.requests[0]!.body).get("trigger_id")!;
    const view = { type: "modal", title: { type: "plain_text", text: "Hi" }, blocks: [] };
    expect((await api(emu, "views.open", { view }, { token: reply.access_token })).body.error).toBe(
      "invalid_arguments",
    );
    expect(
      (await api(emu, "views.open", { trigger_id: "1.2.3", view }, { token: reply.access_token })).body.error,
    ).toBe("invalid_trigger_id");
    expect(
      (await api(emu, "views.open", { trigger_id: triggerId, view: "{" }, { token: reply.access_token })).body.error,
    ).toBe("invalid_arguments");
    const ok = await api(emu, "views.open", { trigger_id: triggerId, view }, { token: reply.access_token, json: true });
    expect(ok.body).toMatchObject({ ok: true, view: { type: "modal", team_id: "T0000000001", app_id: emu.app.appId } });
    expect(ok.body.view.id).toMatch(/^V/);
    expect(
      (await api(emu, "views.open", { trigger_id: triggerId, view }, { token: reply.access_token })).body.error,
    ).toBe("exchanged_trigger_id");
    expect(emu.views()).toHaveLength(1);
    expect((await (await fetch(`${emu.url}/_emulator/views`)).json()) as Json).toMatchObject([
      { view: { type: "modal" } },
    ]);
    await emu.sendSlashCommand({ teamId: "T0000000001", command: "/modal" });
    const late = new URLSearchParams(app.requests[1]!.body).get("trigger_id")!;
    now += 3001;
    expect((await api(emu, "views.open", { trigger_id: late, view }, { token: reply.access_token })).body.error).toBe(
      "expired_trigger_id",
    );
  });

  it("sends interactions as a signed payload form field", async () => {
    const app = await receiver();
    const emu = await start({ appUrl: app.url });
    await install(emu, {}, { team: "T0000000004" });
    const r = await emu.sendInteraction({
      type: "view_submission",
      teamId: "T0000000004",
      payload: { view: { callback_id: "cb", state: { values: { a: { b: { value: "x" } } } } } },
    });
    expect(r.ok).toBe(true);
    const req = app.requests[0]!;
    expect(slackSignatureValid(emu.app.signingSecret, req.headers, req.body)).toBe(true);
    const payload = JSON.parse(new URLSearchParams(req.body).get("payload")!);
    expect(payload).toMatchObject({
      type: "view_submission",
      team: { id: "T0000000004", enterprise_id: "E0000000001" },
      api_app_id: emu.app.appId,
      is_enterprise_install: false,
      enterprise: { id: "E0000000001", name: "Acme Corp" },
      view: { callback_id: "cb" },
    });
    expect(payload.user.id).toMatch(/^W/);
  });

  it("sends events for an org-wide installation from one of its workspaces", async () => {
    const app = await receiver();
    const emu = await start({ appUrl: app.url });
    await install(emu, {}, { team: "E0000000001" });
    const r = await emu.sendEvent({ teamId: "T0000000005", event: { type: "app_mention", text: "<@W1> hi" } });
    expect(r.ok).toBe(true);
    const body = JSON.parse(app.requests[0]!.body);
    expect(body).toMatchObject({
      type: "event_callback",
      team_id: "T0000000005",
      enterprise_id: "E0000000001",
      event: { type: "app_mention", text: "<@W1> hi" },
      authorizations: [{ is_enterprise_install: true, team_id: null, enterprise_id: "E0000000001" }],
    });
  });

  it("refuses to send to a workspace where the app is not installed", async () => {
    const { emu } = await setup();
    const res = await fetch(`${emu.url}/_emulator/send/event`, {
      method: "POST",
      body: JSON.stringify({ teamId: "T0000000002", event: { type: "app_mention" } }),
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as Json).error).toBe("not_installed");
    await expect(emu.sendSlashCommand({ teamId: "T0000000002", command: "/x" })).rejects.toThrow(/not installed/);
  });

  it("url_verification tells whether the app echoed the challenge", async () => {
    const app = await receiver((r) => ({ body: JSON.parse(r.body).challenge }));
    const emu = await start({ appUrl: app.url });
    expect((await emu.sendUrlVerification()).verified).toBe(true);
    const res = await fetch(`${emu.url}/_emulator/send/url-verification`, { method: "POST" });
    expect((await res.json()) as Json).toMatchObject({ ok: true, verified: true });
    const wrong = await receiver(() => ({ body: "nope" }));
    const emu2 = await start({ appUrl: wrong.url });
    expect((await emu2.sendUrlVerification()).verified).toBe(false);
  });

  it("a signature timestamp can be set to test replay protection", async () => {
    const { app, emu } = await setup();
    await install(emu);
    await emu.sendEvent({ teamId: "T0000000001", event: { type: "app_mention" }, timestamp: 1_000_000 });
    await until(() => app.requests.length === 1);
    expect(app.requests[0]!.headers["x-slack-request-timestamp"]).toBe("1000000");
    expect(slackSignatureValid(emu.app.signingSecret, app.requests[0]!.headers, app.requests[0]!.body)).toBe(false);
  });
});
