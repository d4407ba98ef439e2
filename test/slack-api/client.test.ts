import { beforeEach, describe, expect, it } from "vitest";
import { installationFromV2Response } from "../../src/model/parse.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { SlackApiError } from "../../src/slack-api/errors.js";
import { fake, json, ok, useFakeSlack } from "./fake-slack.js";

const slack = useFakeSlack();
let client: SlackApiClient;

beforeEach(() => {
  slack.script(ok());
  client = new SlackApiClient({ baseUrl: slack.baseUrl, maxRetries: 0 });
});

function form(body: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body));
}
function basic(header: string | undefined): [string, string] {
  expect(header).toMatch(/^Basic [A-Za-z0-9+/=]+$/);
  const decoded = Buffer.from((header ?? "").slice(6), "base64").toString("utf8");
  const i = decoded.indexOf(":");
  // RFC 6749 §2.3.1: both halves are form-urlencoded before base64.
  const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));
  return [dec(decoded.slice(0, i)), dec(decoded.slice(i + 1))];
}
function last() {
  const r = slack.requests.at(-1);
  if (!r) throw new Error("no request");
  return r;
}

describe("SlackApiClient: request shapes", () => {
  it("oauthV2Access sends the code as a form and the client credentials by HTTP Basic", async () => {
    const clientId = "111.222";
    const clientSecret = fake("secret");
    const code = fake("code");
    const reply = {
      ok: true,
      access_token: fake("xoxb-fake-"),
      token_type: "bot",
      scope: "chat:write",
      bot_user_id: "U0BOT",
      app_id: "A0APP",
      team: { id: "T0TEAM", name: "Team" },
      enterprise: null,
      is_enterprise_install: false,
      authed_user: { id: "U0USER" },
    };
    slack.script(json(200, reply));
    const res = await client.oauthV2Access({
      clientId,
      clientSecret,
      code,
      redirectUri: "https://example.test/slack/oauth_redirect",
    });
    expect(res).toEqual(reply);
    // The reply feeds the model builders as is.
    expect(installationFromV2Response(res).teamId).toBe("T0TEAM");
    const req = last();
    expect(req.httpMethod).toBe("POST");
    expect(req.url).toBe("/api/oauth.v2.access");
    expect(req.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(basic(req.headers.authorization)).toEqual([clientId, clientSecret]);
    expect(form(req.body)).toEqual({ code, redirect_uri: "https://example.test/slack/oauth_redirect" });
    expect(req.body).not.toContain(clientSecret);
  });

  it("url-encodes the client id and secret before base64 (RFC 6749 §2.3.1)", async () => {
    const clientId = "id:with space";
    const clientSecret = `s&c:r+t/${fake("x")}`;
    await client.oauthV2Access({ clientId, clientSecret, code: fake("code") });
    const raw = Buffer.from((last().headers.authorization ?? "").slice(6), "base64").toString("utf8");
    expect(raw.split(":")).toHaveLength(2); // the ':' inside the id and secret were encoded
    expect(raw.startsWith("id%3Awith+space:s%26c%3Ar%2Bt%2F")).toBe(true);
    expect(basic(last().headers.authorization)).toEqual([clientId, clientSecret]);
  });

  it("oauthV2Access as a PKCE public client sends client_id and code_verifier, no Authorization", async () => {
    const code = fake("code");
    const codeVerifier = fake("verifier-").padEnd(43, "x");
    await client.oauthV2Access({ clientId: "111.222", code, codeVerifier });
    const req = last();
    expect(req.headers.authorization).toBeUndefined();
    expect(form(req.body)).toEqual({ code, code_verifier: codeVerifier, client_id: "111.222" });
  });

  it("oauthV2Access with a secret and a verifier uses Basic and sends the verifier", async () => {
    const codeVerifier = fake("v").padEnd(43, "y");
    const clientSecret = fake("secret");
    await client.oauthV2Access({ clientId: "1.2", clientSecret, code: "c1", codeVerifier });
    expect(basic(last().headers.authorization)).toEqual(["1.2", clientSecret]);
    expect(form(last().body)).toEqual({ code: "c1", code_verifier: codeVerifier });
  });

  it("oauthV2Access without a secret or a verifier is a TypeError and sends nothing", async () => {
    await expect(client.oauthV2Access({ clientId: "1.2", code: "c" })).rejects.toThrow(TypeError);
    await expect(client.oauthV2Access({ clientId: "", clientSecret: "s", code: "c" })).rejects.toThrow(TypeError);
    await expect(client.oauthV2Access({ clientId: "1.2", clientSecret: "s", code: "" })).rejects.toThrow(TypeError);
    expect(slack.requests).toHaveLength(0);
  });

  it("oauthV2Refresh sends grant_type=refresh_token with Basic", async () => {
    const refreshToken = fake("xoxe-1-fake");
    const clientSecret = fake("secret");
    await client.oauthV2Refresh({ clientId: "1.2", clientSecret, refreshToken });
    expect(last().url).toBe("/api/oauth.v2.access");
    expect(basic(last().headers.authorization)).toEqual(["1.2", clientSecret]);
    expect(form(last().body)).toEqual({ grant_type: "refresh_token", refresh_token: refreshToken });
  });

  it("oauthAccess (v1) sends client_id, client_secret, code and redirect_uri in the body", async () => {
    const clientSecret = fake("secret");
    await client.oauthAccess({ clientId: "1.2", clientSecret, code: "abc", redirectUri: "https://e.test/cb" });
    expect(last().url).toBe("/api/oauth.access");
    expect(last().headers.authorization).toBeUndefined();
    expect(form(last().body)).toEqual({
      client_id: "1.2",
      client_secret: clientSecret,
      code: "abc",
      redirect_uri: "https://e.test/cb",
    });
  });

  it("oauthV2Exchange sends the token as Bearer and the client credentials in the body", async () => {
    const token = fake("xoxb-fake-");
    const clientSecret = fake("secret");
    await client.oauthV2Exchange({ clientId: "1.2", clientSecret, token });
    expect(last().url).toBe("/api/oauth.v2.exchange");
    expect(last().headers.authorization).toBe(`Bearer ${token}`);
    expect(form(last().body)).toEqual({ client_id: "1.2", client_secret: clientSecret });
  });

  it("authTest sends the token only as Bearer (never in the URL or body)", async () => {
    const token = fake("xoxb-fake-");
    slack.script(json(200, { ok: true, team_id: "T1", bot_id: "B1", url: "https://x.slack.test/" }));
    const res = await client.authTest(token);
    expect(res.bot_id).toBe("B1");
    expect(last().url).toBe("/api/auth.test");
    expect(last().headers.authorization).toBe(`Bearer ${token}`);
    expect(last().body).toBe("");
    expect(last().url).not.toContain(token);
  });

  it("authRevoke sends test=1 only when asked", async () => {
    const token = fake("xoxp-fake-");
    slack.script(json(200, { ok: true, revoked: true }));
    expect((await client.authRevoke(token)).revoked).toBe(true);
    expect(last().body).toBe("");
    await client.authRevoke(token, { test: true });
    expect(form(last().body)).toEqual({ test: "1" });
    expect(last().headers.authorization).toBe(`Bearer ${token}`);
  });

  it("appsUninstall sends Bearer plus client credentials in the body", async () => {
    const token = fake("xoxb-fake-");
    const clientSecret = fake("secret");
    await client.appsUninstall({ token, clientId: "1.2", clientSecret });
    expect(last().url).toBe("/api/apps.uninstall");
    expect(last().headers.authorization).toBe(`Bearer ${token}`);
    expect(form(last().body)).toEqual({ client_id: "1.2", client_secret: clientSecret });
  });

  it("openidConnectToken: code grant and refresh grant, with Basic", async () => {
    const clientSecret = fake("secret");
    await client.openidConnectToken({ clientId: "1.2", clientSecret, code: "oc", redirectUri: "https://e.test/login" });
    expect(last().url).toBe("/api/openid.connect.token");
    expect(basic(last().headers.authorization)).toEqual(["1.2", clientSecret]);
    expect(form(last().body)).toEqual({ code: "oc", redirect_uri: "https://e.test/login" });
    const refreshToken = fake("xoxe-1-fake");
    await client.openidConnectToken({ clientId: "1.2", clientSecret, refreshToken });
    expect(form(last().body)).toEqual({ grant_type: "refresh_token", refresh_token: refreshToken });
    await expect(client.openidConnectToken({ clientId: "1.2", clientSecret })).rejects.toThrow(TypeError);
    await expect(
      client.openidConnectToken({ clientId: "1.2", clientSecret, grantType: "refresh_token" }),
    ).rejects.toThrow(TypeError);
  });

  it("openidConnectUserInfo sends the token as Bearer", async () => {
    const token = fake("xoxp-fake-");
    slack.script(json(200, { ok: true, sub: "U1", email: "a@example.test" }));
    expect((await client.openidConnectUserInfo(token)).sub).toBe("U1");
    expect(last().url).toBe("/api/openid.connect.userInfo");
    expect(last().headers.authorization).toBe(`Bearer ${token}`);
  });

  it("viewsOpen sends JSON with trigger_id and view", async () => {
    const token = fake("xoxb-fake-");
    const view = { type: "modal", title: { type: "plain_text", text: "Hi" }, blocks: [] };
    slack.script(json(200, { ok: true, view: { id: "V1" } }));
    const res = await client.viewsOpen(token, { triggerId: "123.456.abc", view });
    expect(res.view?.id).toBe("V1");
    expect(last().headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(last().headers.authorization).toBe(`Bearer ${token}`);
    expect(JSON.parse(last().body)).toEqual({ trigger_id: "123.456.abc", view });
    await expect(client.viewsOpen(token, { view })).rejects.toThrow(TypeError);
    await expect(client.viewsOpen(token, { view, triggerId: "a", interactivityPointer: "b" })).rejects.toThrow(
      TypeError,
    );
  });

  it("chatPostMessage sends JSON with snake_case fields and no token in the body", async () => {
    const token = fake("xoxb-fake-");
    slack.script(json(200, { ok: true, channel: "C1", ts: "1.2" }));
    const res = await client.chatPostMessage(token, {
      channel: "C1",
      text: "hello",
      threadTs: "1.1",
      unfurlLinks: false,
      extra: { parse: "none" },
    });
    expect(res.ts).toBe("1.2");
    expect(JSON.parse(last().body)).toEqual({
      channel: "C1",
      text: "hello",
      thread_ts: "1.1",
      unfurl_links: false,
      parse: "none",
    });
    expect(last().body).not.toContain(token);
    await expect(client.chatPostMessage(token, { channel: "C1" })).rejects.toThrow(TypeError);
    await expect(client.chatPostMessage(token, { channel: "C1", text: "x", extra: { token } })).rejects.toThrow(
      TypeError,
    );
  });

  it("call() form-encodes args (objects as JSON), JSON when asked, token as Bearer", async () => {
    const token = fake("xoxb-fake-");
    await client.call(
      "conversations.list",
      { limit: 10, exclude_archived: true, types: ["public_channel"], x: undefined },
      { token },
    );
    expect(last().url).toBe("/api/conversations.list");
    expect(form(last().body)).toEqual({ limit: "10", exclude_archived: "true", types: '["public_channel"]' });
    expect(last().headers.authorization).toBe(`Bearer ${token}`);
    await client.call("chat.update", { channel: "C1", ts: "1", text: "t" }, { token, json: true });
    expect(JSON.parse(last().body)).toEqual({ channel: "C1", ts: "1", text: "t" });
    await expect(client.call("auth.test", { token })).rejects.toThrow(TypeError);
    for (const bad of ["../admin", "auth.test?x=1", "auth", "a b.c", "auth.test#x", "https://evil.test/x.y"]) {
      await expect(client.call(bad)).rejects.toThrow(TypeError);
    }
  });

  it("accepts a base URL with or without the trailing slash, keeping its path", async () => {
    const a = new SlackApiClient({ baseUrl: slack.baseUrl.replace(/\/$/, "") });
    const b = new SlackApiClient({ baseUrl: slack.baseUrl });
    expect(a.baseUrl).toBe(b.baseUrl);
    await a.authTest(fake("xoxb-fake-"));
    expect(last().url).toBe("/api/auth.test");
    expect(new SlackApiClient().baseUrl).toBe("https://slack.com/api/");
    expect(() => new SlackApiClient({ baseUrl: "ftp://slack.test/api" })).toThrow(TypeError);
    expect(() => new SlackApiClient({ baseUrl: "not a url" })).toThrow(TypeError);
    expect(() => new SlackApiClient({ baseUrl: "https://user:pw@slack.test/api" })).toThrow(TypeError);
    expect(() => new SlackApiClient({ timeoutMs: 0 })).toThrow(TypeError);
    expect(() => new SlackApiClient({ maxRetries: 1.5 })).toThrow(TypeError);
  });

  it("sends the User-Agent and Accept headers", async () => {
    const c = new SlackApiClient({ baseUrl: slack.baseUrl, userAgent: "my-app/1.0" });
    await c.authTest(fake("xoxb-fake-"));
    expect(last().headers["user-agent"]).toBe("my-app/1.0");
    expect(last().headers.accept).toBe("application/json");
    await client.authTest(fake("xoxb-fake-"));
    expect(last().headers["user-agent"]).toBe("slack-oauth-kit");
  });

  it("rejects a token that is empty or would break the header, without sending", async () => {
    await expect(client.authTest("")).rejects.toThrow(TypeError);
    await expect(client.authTest("xoxb-a\r\nX-Evil: 1")).rejects.toThrow(TypeError);
    await expect(client.authTest("tok en")).rejects.toThrow(TypeError);
    expect(slack.requests).toHaveLength(0);
  });
});

describe("SlackApiClient: replies", () => {
  it("turns { ok: false } into SlackApiError with Slack's code, method, status and scopes", async () => {
    slack.script(
      json(200, { ok: false, error: "missing_scope", needed: "chat:write", provided: "commands", warning: "x" }),
    );
    const err = await client.chatPostMessage(fake("xoxb-fake-"), { channel: "C1", text: "hi" }).catch((e) => e);
    expect(err).toBeInstanceOf(SlackApiError);
    expect(err).toMatchObject({
      name: "SlackApiError",
      code: "SLACK_OAUTH_SLACK_API_ERROR",
      error: "missing_scope",
      method: "chat.postMessage",
      httpStatus: 200,
      needed: "chat:write",
      provided: "commands",
    });
    expect(err.message).toContain("missing_scope");
    expect(err.data).toMatchObject({ ok: false, error: "missing_scope" });
  });

  it("keeps invalid_code on a failed code exchange", async () => {
    slack.script(json(200, { ok: false, error: "invalid_code" }));
    const err = await client.oauthV2Access({ clientId: "1.2", clientSecret: fake("s"), code: "c" }).catch((e) => e);
    expect(err).toBeInstanceOf(SlackApiError);
    expect(err.error).toBe("invalid_code");
    expect(err.method).toBe("oauth.v2.access");
  });

  it("uses unknown_error when Slack's reply has ok:false and no error", async () => {
    slack.script(json(200, { ok: false }));
    const err = await client.authTest(fake("xoxb-fake-")).catch((e) => e);
    expect(err.error).toBe("unknown_error");
  });
});

describe("SlackApiClient: any fetch", () => {
  it("works with an injected fetch and no server at all", async () => {
    const calls: { url: string; init: RequestInit | undefined }[] = [];
    const fetchImpl: typeof fetch = async (input, init) => {
      calls.push({ url: String(input), init });
      return new Response(JSON.stringify({ ok: true, user_id: "U1" }), {
        headers: { "Content-Type": "application/json" },
      });
    };
    const c = new SlackApiClient({ fetch: fetchImpl });
    const res = await c.authTest("faketoken123");
    expect(res.user_id).toBe("U1");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe("https://slack.com/api/auth.test");
    expect(calls[0]?.init?.method).toBe("POST");
    expect(calls[0]?.init?.redirect).toBe("error");
    expect(new Headers(calls[0]?.init?.headers).get("authorization")).toBe("Bearer faketoken123");
  });
});
