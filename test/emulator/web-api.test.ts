import { afterEach, describe, expect, it } from "vitest";
import { api, authorize, closeAll, consent, install, type Json, start } from "./helpers.js";

afterEach(closeAll);

const APP_URL = "http://localhost:3000";

describe("Web API basics", () => {
  it("unknown method → 200 unknown_method", async () => {
    const emu = await start({ appUrl: APP_URL });
    const r = await api(emu, "nope.nothing");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: false, error: "unknown_method" });
  });

  it("no token → not_authed; unknown token → invalid_auth", async () => {
    const emu = await start({ appUrl: APP_URL });
    expect((await api(emu, "auth.test")).body).toEqual({ ok: false, error: "not_authed" });
    expect((await api(emu, "auth.test", {}, { token: "xoxb-1-2-abc" })).body).toEqual({
      ok: false,
      error: "invalid_auth",
    });
    const get = await fetch(`${emu.apiUrl}auth.test`);
    expect((await get.json()) as Json).toEqual({ ok: false, error: "not_authed" });
  });

  it("accepts the token as a Bearer header, a form field or a query parameter; not in a JSON body", async () => {
    const emu = await start({ appUrl: APP_URL });
    const { access_token: token } = await install(emu);
    expect((await api(emu, "auth.test", {}, { token })).body.ok).toBe(true);
    expect((await api(emu, "auth.test", {}, { token, formToken: true })).body.ok).toBe(true);
    expect((await api(emu, "auth.test", {}, { token, json: true })).body.ok).toBe(true);
    expect(((await (await fetch(`${emu.apiUrl}auth.test?token=${encodeURIComponent(token)}`)).json()) as Json).ok).toBe(
      true,
    );
    const jsonField = await fetch(`${emu.apiUrl}auth.test`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    expect((await jsonField.json()) as Json).toEqual({ ok: false, error: "not_authed" });
  });

  it("takes form and JSON bodies alike (chat.postMessage)", async () => {
    const emu = await start({ appUrl: APP_URL });
    const { access_token: token } = await install(emu);
    const form = await api(emu, "chat.postMessage", { channel: "#general", text: "form" }, { token });
    expect(form.body).toMatchObject({ ok: true, channel: emu.world.workspaces[0]!.channels[0]!.id });
    const blocks = [{ type: "section", text: { type: "mrkdwn", text: "json" } }];
    const json = await api(emu, "chat.postMessage", { channel: "random", blocks }, { token, json: true });
    expect(json.body).toMatchObject({ ok: true, message: { blocks } });
    expect(json.body.ts).toMatch(/^\d+\.\d{6}$/);
    expect(emu.messages().map((m) => [m.text, m.channel])).toEqual([
      ["form", emu.world.workspaces[0]!.channels[0]!.id],
      [null, emu.world.workspaces[0]!.channels[1]!.id],
    ]);
    expect((await api(emu, "chat.postMessage", { channel: "#nope", text: "x" }, { token })).body.error).toBe(
      "channel_not_found",
    );
    expect((await api(emu, "chat.postMessage", { channel: "#general" }, { token })).body.error).toBe("no_text");
    const bad = await fetch(`${emu.apiUrl}chat.postMessage`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: "{not json",
    });
    expect((await bad.json()) as Json).toEqual({ ok: false, error: "invalid_json" });
  });

  it("token endpoints read form bodies only (Slack documents no JSON there)", async () => {
    const emu = await start({ appUrl: APP_URL });
    const code = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    const args = { client_id: emu.app.clientId, client_secret: emu.app.clientSecret, code };
    expect((await api(emu, "oauth.v2.access", args, { json: true })).body).toEqual({
      ok: false,
      error: "invalid_client_id",
    });
    expect((await api(emu, "oauth.v2.access", args)).body.ok).toBe(true);
  });

  it("chat.postMessage needs chat:write", async () => {
    const emu = await start({ appUrl: APP_URL });
    const { access_token: token } = await install(emu, { scope: "commands" });
    expect((await api(emu, "chat.postMessage", { channel: "#general", text: "x" }, { token })).body).toEqual({
      ok: false,
      error: "missing_scope",
      needed: "chat:write",
      provided: "commands",
    });
  });

  it("auth.test with a user token", async () => {
    const emu = await start({ appUrl: APP_URL });
    const reply = await install(emu, { user_scope: "identify" }, { team: "T0000000004" });
    const r = await api(emu, "auth.test", {}, { token: reply.authed_user.access_token });
    expect(r.body).toEqual({
      ok: true,
      url: "https://acme-eng.slack.com/",
      team: "Acme Engineering",
      user: "judy",
      team_id: "T0000000004",
      user_id: "W0000000010",
      enterprise_id: "E0000000001",
      is_enterprise_install: false,
    });
  });

  it("api.test echoes its arguments and an error", async () => {
    const emu = await start({ appUrl: APP_URL });
    expect((await api(emu, "api.test", { foo: "bar" })).body).toEqual({ ok: true, args: { foo: "bar" } });
    expect((await api(emu, "api.test", { error: "my_error" })).body).toMatchObject({ ok: false, error: "my_error" });
  });
});

describe("legacy v1 OAuth", () => {
  it("oauth/authorize (space-separated scopes) → oauth.access with the user token on top and the bot inside", async () => {
    const emu = await start({ appUrl: APP_URL });
    const code = await authorize(
      emu,
      { client_id: emu.app.clientId, scope: "bot commands incoming-webhook", state: "v1" },
      { team: "T0000000003" },
      "/oauth/authorize",
    );
    const r = await api(emu, "oauth.access", {
      client_id: emu.app.clientId,
      client_secret: emu.app.clientSecret,
      code,
    });
    expect(r.body).toMatchObject({
      ok: true,
      team_name: "Initech",
      team_id: "T0000000003",
      enterprise_id: null,
      user_id: "U0000000007",
      bot: { bot_user_id: expect.stringMatching(/^U/), bot_access_token: expect.stringMatching(/^xoxb-/) },
      incoming_webhook: { channel: "#general" },
    });
    expect(r.body.access_token).toMatch(/^xoxp-/);
    expect(r.body.scope.split(",")).toEqual(expect.arrayContaining(["commands", "incoming-webhook", "bot"]));
    const again = await api(emu, "oauth.access", {
      client_id: emu.app.clientId,
      client_secret: emu.app.clientSecret,
      code,
    });
    expect(again.body).toEqual({ ok: false, error: "code_already_used" });
  });

  it("v1 and v2 codes are not interchangeable", async () => {
    const emu = await start({ appUrl: APP_URL });
    const v1 = await authorize(emu, { client_id: emu.app.clientId, scope: "bot" }, {}, "/oauth/authorize");
    const r = await api(emu, "oauth.v2.access", {
      client_id: emu.app.clientId,
      client_secret: emu.app.clientSecret,
      code: v1,
    });
    expect(r.body.error).toBe("invalid_code");
    const page = await consent(emu, { client_id: emu.app.clientId }, {}, "/oauth/authorize");
    expect(page.status).toBe(400);
  });
});
