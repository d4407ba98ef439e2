import { afterEach, describe, expect, it } from "vitest";
import { api, authorize, closeAll, consent, exchange, install, pkcePair, start } from "./helpers.js";

afterEach(closeAll);

const APP_URL = "http://localhost:3000";

describe("consent page", () => {
  it("is a POST form with a team choice and allow/deny buttons, preserving the query", async () => {
    const emu = await start({ appUrl: APP_URL });
    const params = { client_id: emu.app.clientId, scope: "commands,chat:write", user_scope: "identify", state: "st1" };
    const res = await fetch(`${emu.url}/oauth/v2/authorize?${new URLSearchParams(params)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/<form method="post" action="\/oauth\/v2\/authorize\?[^"]*client_id=/);
    expect(html).toContain('<select id="team" name="team">');
    expect(html).toContain('<option value="T0000000001"');
    expect(html).toContain('<option value="E0000000001"'); // org-wide choice
    expect(html).toContain('name="decision" value="allow"');
    expect(html).toContain('name="decision" value="deny"');
    expect(html).toContain('<input type="hidden" name="state" value="st1">');
    expect(html).toContain("Emulated App");
    expect(html).toContain("<code>chat:write</code>");
    expect(html).toContain("<code>identify</code>");
  });

  it("escapes everything it echoes", async () => {
    const emu = await start({ appUrl: APP_URL, name: "<b>App</b>" });
    const res = await fetch(
      `${emu.url}/oauth/v2/authorize?${new URLSearchParams({
        client_id: emu.app.clientId,
        scope: "commands",
        state: `"><script>alert(1)</script>`,
      })}`,
    );
    const html = await res.text();
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<b>App</b>");
    expect(html).toContain("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("shows a 400 error page and never redirects on a bad request", async () => {
    const emu = await start({ appUrl: APP_URL });
    const id = emu.app.clientId;
    const cases: Array<[Record<string, string>, string]> = [
      [{ client_id: "999.999", scope: "commands" }, "invalid_client_id"],
      [{ scope: "commands" }, "invalid_client_id"],
      [{ client_id: id, scope: "commands", redirect_uri: "https://evil.example.com/cb" }, "bad_redirect_uri"],
      [{ client_id: id, scope: "commands", redirect_uri: `${APP_URL}/slack/oauth_redirect#x` }, "bad_redirect_uri"],
      [{ client_id: id, scope: "commands", redirect_uri: `${APP_URL}/slack/oauth_redirect2` }, "bad_redirect_uri"],
      [{ client_id: id, scope: "commands", redirect_uri: `${APP_URL}/other` }, "bad_redirect_uri"],
      [{ client_id: id, scope: "commands,admin" }, "invalid_scope"],
      [{ client_id: id, scope: "commands chat:write" }, "invalid_scope"], // v2 scopes are comma-separated
      [{ client_id: id, user_scope: "openid" }, "invalid_scope"], // OIDC scopes only at /openid/connect/authorize
      [{ client_id: id }, "no_scopes"],
      [
        { client_id: id, scope: "commands", code_challenge: "a".repeat(43), code_challenge_method: "plain" },
        "invalid_code_challenge_method",
      ],
      [{ client_id: id, scope: "commands", code_challenge: "a".repeat(43) }, "invalid_code_challenge_method"],
      [
        { client_id: id, scope: "commands", code_challenge: "short", code_challenge_method: "S256" },
        "invalid_code_challenge",
      ],
    ];
    for (const [params, error] of cases) {
      const url = `${emu.url}/oauth/v2/authorize?${new URLSearchParams(params)}`;
      for (const method of ["GET", "POST"]) {
        const res = await fetch(url, {
          method,
          redirect: "manual",
          ...(method === "POST" ? { body: new URLSearchParams({ team: "T0000000001", decision: "allow" }) } : {}),
        });
        expect(res.status, `${method} ${JSON.stringify(params)}`).toBe(400);
        expect(res.headers.get("location")).toBeNull();
        expect(await res.text()).toContain(`<code id="error">${error}</code>`);
      }
    }
  });

  it("accepts a plain-http redirect_uri only on loopback hosts (emulator relaxation)", async () => {
    const emu = await start({ appUrl: "http://app.example.com" });
    const r = await consent(emu, {
      client_id: emu.app.clientId,
      scope: "commands",
      redirect_uri: "http://app.example.com/slack/oauth_redirect",
    });
    expect(r.status).toBe(400);
    const emu2 = await start({ appUrl: "https://app.example.com" });
    const ok = await consent(emu2, {
      client_id: emu2.app.clientId,
      scope: "commands",
      redirect_uri: "https://app.example.com/slack/oauth_redirect/sub/dir",
    });
    expect(ok.status).toBe(302);
    expect(ok.location?.pathname).toBe("/slack/oauth_redirect/sub/dir");
  });
});

describe("oauth.v2.access", () => {
  it("allow → code → workspace install with bot and user tokens (Slack's payload)", async () => {
    const emu = await start({ appUrl: APP_URL });
    const r = await consent(
      emu,
      {
        client_id: emu.app.clientId,
        scope: "commands,chat:write",
        user_scope: "identify,users:read",
        redirect_uri: `${APP_URL}/slack/oauth_redirect`,
        state: "abc",
      },
      { team: "T0000000002" },
    );
    expect(r.status).toBe(302);
    expect(r.location?.origin + r.location!.pathname).toBe(`${APP_URL}/slack/oauth_redirect`);
    expect(r.location?.searchParams.get("state")).toBe("abc");
    const code = r.location!.searchParams.get("code")!;
    expect(code).toMatch(/^\d+\.\d+\.[0-9a-f]{64}$/);
    const reply = await exchange(emu, code, { redirect_uri: `${APP_URL}/slack/oauth_redirect` });
    expect(reply).toMatchObject({
      ok: true,
      app_id: emu.app.appId,
      scope: "commands,chat:write",
      token_type: "bot",
      team: { id: "T0000000002", name: "Globex" },
      enterprise: null,
      is_enterprise_install: false,
      authed_user: { id: "U0000000004", scope: "identify,users:read", token_type: "user" },
    });
    expect(Object.keys(reply)).toEqual([
      "ok",
      "app_id",
      "authed_user",
      "scope",
      "token_type",
      "access_token",
      "bot_user_id",
      "team",
      "enterprise",
      "is_enterprise_install",
    ]);
    expect(reply.access_token).toMatch(/^xoxb-\d+-\d+-[A-Za-z0-9]{24}$/);
    expect(reply.authed_user.access_token).toMatch(/^xoxp-\d+-\d+-\d+-[0-9a-f]{32}$/);
    expect(reply.bot_user_id).toMatch(/^U[A-Z0-9]{8,10}$/);
    expect(reply.incoming_webhook).toBeUndefined();
    const auth = await api(emu, "auth.test", {}, { token: reply.access_token });
    expect(auth.body).toMatchObject({
      ok: true,
      url: "https://globex.slack.com/",
      team: "Globex",
      team_id: "T0000000002",
      user_id: reply.bot_user_id,
      is_enterprise_install: false,
    });
    expect(auth.body.bot_id).toMatch(/^B[A-Z0-9]{8,10}$/);
    expect(auth.body.enterprise_id).toBeUndefined();
  });

  it("the chosen user is the authed user; a user of another workspace is refused", async () => {
    const emu = await start({ appUrl: APP_URL });
    const params = { client_id: emu.app.clientId, scope: "commands", user_scope: "identify" };
    const code = await authorize(emu, params, { team: "T0000000001", user: "U0000000002" });
    const reply = await exchange(emu, code);
    expect(reply.authed_user.id).toBe("U0000000002");
    const bad = await consent(emu, params, { team: "T0000000001", user: "U0000000005" });
    expect(bad.status).toBe(400);
    expect(bad.location).toBeNull();
  });

  it("deny → redirect with error=access_denied and the state", async () => {
    const emu = await start({ appUrl: APP_URL });
    const r = await consent(
      emu,
      { client_id: emu.app.clientId, scope: "commands", state: "s-1" },
      { decision: "deny" },
    );
    expect(r.status).toBe(302);
    expect(r.location?.searchParams.get("error")).toBe("access_denied");
    expect(r.location?.searchParams.get("state")).toBe("s-1");
    expect(r.location?.searchParams.get("code")).toBeNull();
  });

  it("org-wide install: team null, enterprise set, W ids, org URL in auth.test", async () => {
    const emu = await start({ appUrl: APP_URL });
    const code = await authorize(
      emu,
      { client_id: emu.app.clientId, scope: "commands,users:read", user_scope: "identify" },
      { team: "E0000000001" },
    );
    const reply = await exchange(emu, code);
    expect(reply).toMatchObject({
      ok: true,
      team: null,
      enterprise: { id: "E0000000001", name: "Acme Corp" },
      is_enterprise_install: true,
      token_type: "bot",
    });
    expect(reply.bot_user_id).toMatch(/^W/);
    expect(reply.authed_user.id).toMatch(/^W/);
    const auth = await api(emu, "auth.test", {}, { token: reply.access_token });
    expect(auth.body).toMatchObject({
      ok: true,
      url: "https://acme-org.enterprise.slack.com/",
      enterprise_id: "E0000000001",
      is_enterprise_install: true,
    });
    // A workspace of that org can no longer be installed on its own.
    const code2 = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" }, { team: "T0000000004" });
    expect((await exchange(emu, code2)).error).toBe("cannot_install_an_org_installed_app");
    // Only org admins may install org-wide.
    const notAdmin = await consent(
      emu,
      { client_id: emu.app.clientId, scope: "commands" },
      { team: "E0000000001", user: "W0000000011" },
    );
    expect(notAdmin.status).toBe(400);
  });

  it("a Grid workspace install carries the enterprise", async () => {
    const emu = await start({ appUrl: APP_URL });
    const reply = await install(emu, {}, { team: "T0000000005" });
    expect(reply.team).toEqual({ id: "T0000000005", name: "Acme Sales" });
    expect(reply.enterprise).toEqual({ id: "E0000000001", name: "Acme Corp" });
    expect(reply.is_enterprise_install).toBe(false);
    expect(reply.bot_user_id).toMatch(/^W/);
  });

  it("user-only install has no top-level access_token or bot_user_id", async () => {
    const emu = await start({ appUrl: APP_URL });
    const code = await authorize(emu, { client_id: emu.app.clientId, user_scope: "identify" });
    const reply = await exchange(emu, code);
    expect(reply.ok).toBe(true);
    expect(reply.access_token).toBeUndefined();
    expect(reply.bot_user_id).toBeUndefined();
    expect(reply.token_type).toBeUndefined();
    expect(reply.authed_user).toMatchObject({ id: "U0000000001", scope: "identify", token_type: "user" });
    expect(reply.authed_user.access_token).toMatch(/^xoxp-/);
    expect(reply.team).toEqual({ id: "T0000000001", name: "Northwind Traders" });
  });

  it("incoming-webhook adds incoming_webhook for the chosen channel, and the URL accepts posts", async () => {
    const emu = await start({ appUrl: APP_URL });
    const code = await authorize(
      emu,
      { client_id: emu.app.clientId, scope: "incoming-webhook" },
      { team: "T0000000001", channel: emu.world.workspaces[0]!.channels[1]!.id },
    );
    const reply = await exchange(emu, code);
    expect(reply.incoming_webhook).toMatchObject({
      channel: "#random",
      channel_id: emu.world.workspaces[0]!.channels[1]!.id,
      configuration_url: expect.stringMatching(/^https:\/\/northwind\.slack\.com\/services\/B[A-Z0-9]+$/),
    });
    const post = await fetch(reply.incoming_webhook.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "hello" }),
    });
    expect(post.status).toBe(200);
    expect(await post.text()).toBe("ok");
    expect(emu.messages()).toMatchObject([{ source: "incoming_webhook", text: "hello", teamId: "T0000000001" }]);
  });

  it("codes are single-use", async () => {
    const emu = await start({ appUrl: APP_URL });
    const code = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    const first = await exchange(emu, code);
    expect(first.ok).toBe(true);
    expect(await exchange(emu, code)).toEqual({ ok: false, error: "invalid_code" });
    // Tokens from the first exchange stay valid by default.
    expect(emu.world.tokenStatus(first.access_token)).toBe("active");
  });

  it("revokeOnCodeReuse revokes the tokens issued from a replayed code", async () => {
    const emu = await start({ appUrl: APP_URL, revokeOnCodeReuse: true });
    const code = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    const first = await exchange(emu, code);
    expect((await exchange(emu, code)).error).toBe("invalid_code");
    expect(emu.world.tokenStatus(first.access_token)).toBe("revoked");
  });

  it("codes expire after 10 minutes (injectable clock)", async () => {
    let now = Date.UTC(2030, 0, 1);
    const emu = await start({ appUrl: APP_URL, nowMs: () => now });
    const c1 = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    const c2 = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    now += 599_000;
    expect((await exchange(emu, c1)).ok).toBe(true);
    now += 2_000;
    expect(await exchange(emu, c2)).toEqual({ ok: false, error: "invalid_code" });
  });

  it("binds the code to the redirect_uri sent to authorize", async () => {
    const emu = await start({ appUrl: APP_URL });
    const redirect = `${APP_URL}/slack/oauth_redirect`;
    const code = await authorize(emu, { client_id: emu.app.clientId, scope: "commands", redirect_uri: redirect });
    expect((await exchange(emu, code)).error).toBe("bad_redirect_uri");
    expect((await exchange(emu, code, { redirect_uri: `${redirect}/x` })).error).toBe("bad_redirect_uri");
    // A failed check does not use the code up.
    expect((await exchange(emu, code, { redirect_uri: redirect })).ok).toBe(true);
  });

  it("binds the code to its client", async () => {
    const emu = await start({ appUrl: APP_URL, apps: [{ name: "Other" }] });
    const other = emu.apps[1]!;
    const code = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    const r = await api(emu, "oauth.v2.access", { client_id: other.clientId, client_secret: other.clientSecret, code });
    expect(r.body).toEqual({ ok: false, error: "invalid_code" });
    expect((await exchange(emu, code)).ok).toBe(true);
  });

  it("client credentials: body or HTTP Basic; errors for unknown id and bad secret", async () => {
    const emu = await start({ appUrl: APP_URL });
    const c1 = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    const basic = await api(emu, "oauth.v2.access", { code: c1 }, { basic: [emu.app.clientId, emu.app.clientSecret] });
    expect(basic.status).toBe(200);
    expect(basic.body.ok).toBe(true);
    const c2 = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    expect(
      (await api(emu, "oauth.v2.access", { code: c2 }, { basic: [emu.app.clientId, "0".repeat(32)] })).body.error,
    ).toBe("bad_client_secret");
    expect((await exchange(emu, c2, { client_secret: "f".repeat(32) })).error).toBe("bad_client_secret");
    expect((await exchange(emu, c2, { client_secret: "" })).error).toBe("bad_client_secret");
    expect((await exchange(emu, c2, { client_id: "123.456" })).error).toBe("invalid_client_id");
    expect((await api(emu, "oauth.v2.access", { code: c2 })).body.error).toBe("invalid_client_id");
    expect((await exchange(emu, c2, { grant_type: "password" })).error).toBe("invalid_grant_type");
    expect((await exchange(emu, "")).error).toBe("invalid_arguments");
    expect((await exchange(emu, "nope")).error).toBe("invalid_code");
    expect((await exchange(emu, c2)).ok).toBe(true);
  });

  it("reinstalling adds scopes and keeps the long-lived bot token", async () => {
    const emu = await start({ appUrl: APP_URL });
    const a = await install(emu, { scope: "commands" });
    const b = await install(emu, { scope: "chat:write" });
    expect(b.access_token).toBe(a.access_token);
    expect(b.scope).toBe("commands,chat:write");
  });
});

describe("PKCE", () => {
  it("a PKCE app exchanges with the verifier and no secret", async () => {
    const emu = await start({ appUrl: APP_URL, pkce: true });
    const { verifier, challenge } = pkcePair();
    const code = await authorize(emu, {
      client_id: emu.app.clientId,
      scope: "commands",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const r = await api(emu, "oauth.v2.access", { client_id: emu.app.clientId, code, code_verifier: verifier });
    expect(r.body.ok).toBe(true);
    expect(r.body.access_token).toMatch(/^xoxb-/);
  });

  it("wrong or missing verifier → invalid_code_verifier (and the secret does not replace it)", async () => {
    const emu = await start({ appUrl: APP_URL, pkce: true });
    const { verifier, challenge } = pkcePair();
    const code = await authorize(emu, {
      client_id: emu.app.clientId,
      scope: "commands",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const wrong = await api(emu, "oauth.v2.access", {
      client_id: emu.app.clientId,
      code,
      code_verifier: pkcePair().verifier,
    });
    expect(wrong.body.error).toBe("invalid_code_verifier");
    expect((await exchange(emu, code)).error).toBe("invalid_code_verifier");
    expect((await api(emu, "oauth.v2.access", { client_id: emu.app.clientId, code })).body.error).toBe(
      "bad_client_secret",
    );
    expect((await exchange(emu, code, { code_verifier: verifier })).ok).toBe(true);
  });

  it("PKCE on an app that does not allow it → pkce_not_allowed", async () => {
    const emu = await start({ appUrl: APP_URL });
    const { verifier, challenge } = pkcePair();
    const code = await authorize(emu, {
      client_id: emu.app.clientId,
      scope: "commands",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const r = await api(emu, "oauth.v2.access", { client_id: emu.app.clientId, code, code_verifier: verifier });
    expect(r.body.error).toBe("pkce_not_allowed");
    expect((await exchange(emu, code, { code_verifier: verifier })).error).toBe("pkce_not_allowed");
  });
});
