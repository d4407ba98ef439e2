import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator } from "../../src/emulator/index.js";
import { api, authorize, closeAll, exchange, install, type Json, pkcePair, receiver, start } from "./helpers.js";

afterEach(closeAll);

const APP_URL = "http://localhost:3000";

describe("rate limits", () => {
  it("answers 429 with Retry-After and ratelimited once a method's per-minute limit is used up", async () => {
    let now = Date.UTC(2030, 0, 1);
    const emu = await start({ appUrl: APP_URL, rateLimits: { "auth.test": 2 }, nowMs: () => now });
    const { access_token: token } = await install(emu);
    expect((await api(emu, "auth.test", {}, { token })).status).toBe(200);
    expect((await api(emu, "auth.test", {}, { token })).status).toBe(200);
    const limited = await api(emu, "auth.test", {}, { token });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect(limited.body).toEqual({ ok: false, error: "ratelimited" });
    // Per workspace: another workspace is not limited.
    const other = await install(emu, {}, { team: "T0000000002" });
    expect((await api(emu, "auth.test", {}, { token: other.access_token })).status).toBe(200);
    now += 45_000;
    expect((await api(emu, "auth.test", {}, { token })).headers.get("retry-after")).toBe("15");
    now += 15_000;
    expect((await api(emu, "auth.test", {}, { token })).status).toBe(200);
    expect(emu.counters().methods["auth.test"]).toEqual({ calls: 6, ok: 4, errors: 2, ratelimited: 2 });
  });

  it("a method's limit and window can be set at start and changed while running (test API and object)", async () => {
    let now = Date.UTC(2030, 0, 1);
    const emu = await start({
      appUrl: APP_URL,
      rateLimits: { "auth.test": 1 },
      rateLimitWindows: { "auth.test": 10 },
      nowMs: () => now,
    });
    const { access_token: token } = await install(emu);
    expect((await api(emu, "auth.test", {}, { token })).status).toBe(200);
    const limited = await api(emu, "auth.test", {}, { token });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("10");
    now += 10_000;
    expect((await api(emu, "auth.test", {}, { token })).status).toBe(200);
    // Over HTTP: 3 per 5 s; the current window starts over.
    const set = await fetch(`${emu.url}/_emulator/rate-limits`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ method: "auth.test", limit: 3, windowSeconds: 5 }),
    });
    expect(await set.json()).toEqual({ ok: true, rateLimit: { method: "auth.test", limit: 3, windowSeconds: 5 } });
    for (let i = 0; i < 3; i++) expect((await api(emu, "auth.test", {}, { token })).status).toBe(200);
    expect((await api(emu, "auth.test", {}, { token })).headers.get("retry-after")).toBe("5");
    // The object: no limit at all; the log says when each call was answered.
    expect(emu.setRateLimit("auth.test", Number.POSITIVE_INFINITY)).toEqual({
      method: "auth.test",
      limit: Number.POSITIVE_INFINITY,
      windowSeconds: 5,
    });
    expect((await api(emu, "auth.test", {}, { token })).status).toBe(200);
    expect(emu.calls("auth.test", { details: true }).at(-1)?.at).toBe(now);
    for (const bad of [{ method: "auth.test", limit: 0 }, { method: "auth.test", windowSeconds: -1 }, { limit: 3 }]) {
      const r = await fetch(`${emu.url}/_emulator/rate-limits`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(bad),
      });
      expect(r.status).toBe(400);
      expect(((await r.json()) as Json).error).toBe("invalid_arguments");
    }
    expect(() => emu.setRateLimit("auth.test", 1, Number.NaN)).toThrow(TypeError);
  });

  it("limits oauth.v2.access per app (default 600/min)", async () => {
    const emu = await start({ appUrl: APP_URL, rateLimits: { "oauth.v2.access": 1 } });
    const code = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    expect((await exchange(emu, "nope")).error).toBe("invalid_code");
    const r = await api(emu, "oauth.v2.access", {
      client_id: emu.app.clientId,
      client_secret: emu.app.clientSecret,
      code,
    });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("rejects a nonsensical limit", async () => {
    await expect(startEmulator({ rateLimits: { "auth.test": 0 } })).rejects.toThrow(TypeError);
  });
});

describe("fault injection", () => {
  it("a Slack error for the next N calls, then normal answers", async () => {
    const emu = await start({ appUrl: APP_URL });
    const { access_token: token } = await install(emu);
    const res = await fetch(`${emu.url}/_emulator/faults`, {
      method: "POST",
      body: JSON.stringify({ method: "auth.test", error: "account_inactive", count: 2 }),
    });
    expect(res.status).toBe(200);
    expect((await api(emu, "auth.test", {}, { token })).body).toEqual({ ok: false, error: "account_inactive" });
    expect((await api(emu, "auth.test", {}, { token })).body.error).toBe("account_inactive");
    expect((await api(emu, "auth.test", {}, { token })).body.ok).toBe(true);
  });

  it("HTTP 5xx, ratelimited and latency", async () => {
    const emu = await start({ appUrl: APP_URL });
    emu.injectFault({ method: "oauth.v2.access", status: 503 });
    const code = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    const r = await api(emu, "oauth.v2.access", {
      client_id: emu.app.clientId,
      client_secret: emu.app.clientSecret,
      code,
    });
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ ok: false, error: "service_unavailable" });
    // The fault did not use the code up.
    expect((await exchange(emu, code)).ok).toBe(true);

    emu.injectFault({ method: "*", ratelimited: true, retryAfter: 7 });
    const limited = await api(emu, "api.test");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(limited.body.error).toBe("ratelimited");

    emu.injectFault({ method: "api.test", latencyMs: 300 });
    const started = Date.now();
    const slow = await api(emu, "api.test");
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(slow.body.ok).toBe(true);
  });

  it("validates faults and clears them", async () => {
    const emu = await start({ appUrl: APP_URL });
    const bad = await fetch(`${emu.url}/_emulator/faults`, { method: "POST", body: JSON.stringify({ status: 200 }) });
    expect(bad.status).toBe(400);
    emu.injectFault({ method: "api.test", error: "fatal_error", count: 5 });
    expect(((await (await fetch(`${emu.url}/_emulator/faults`)).json()) as Json)[0]).toMatchObject({
      remaining: 5,
    });
    await fetch(`${emu.url}/_emulator/faults`, { method: "DELETE" });
    expect((await api(emu, "api.test")).body.ok).toBe(true);
  });
});

describe("test API", () => {
  it("the call log is oldest first, filterable, and never holds a secret", async () => {
    const app = await receiver();
    const emu = await start({ appUrl: app.url, tokenRotation: true, pkce: true });
    const secrets: string[] = [emu.app.clientSecret, emu.app.signingSecret];
    const { verifier, challenge } = pkcePair();
    const code = await authorize(emu, {
      client_id: emu.app.clientId,
      scope: "commands,chat:write,incoming-webhook",
      user_scope: "identify",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    secrets.push(code, verifier);
    await exchange(emu, code, { code_verifier: "wrong-verifier-wrong-verifier-wrong-verifier" });
    const reply = await exchange(emu, code, { code_verifier: verifier });
    expect(reply.ok).toBe(true);
    secrets.push(
      reply.access_token,
      reply.refresh_token,
      reply.authed_user.access_token,
      reply.authed_user.refresh_token,
      reply.incoming_webhook.url,
      new URL(reply.incoming_webhook.url).pathname.split("/").at(-1)!,
    );
    await api(emu, "auth.test", {}, { token: reply.access_token });
    await api(emu, "auth.test", {}, { token: "xoxb-0-0-notatoken" });
    const refreshed = await api(emu, "oauth.v2.access", {
      client_id: emu.app.clientId,
      client_secret: emu.app.clientSecret,
      grant_type: "refresh_token",
      refresh_token: reply.refresh_token,
    });
    secrets.push(refreshed.body.access_token, refreshed.body.refresh_token);
    await emu.sendSlashCommand({ teamId: "T0000000001", command: "/x" });
    const form = new URLSearchParams(app.requests[0]!.body);
    secrets.push(form.get("response_url")!, form.get("trigger_id")!);
    await api(emu, "chat.postMessage", { channel: "#general", text: "hi" }, { token: reply.access_token });
    await emu.uninstall({ teamId: "T0000000001" });
    // Secrets pasted where a method name or an error code goes are not logged either.
    await api(emu, emu.app.clientSecret.replace(/^\d/, "a"));
    secrets.push(emu.app.clientSecret.replace(/^\d/, "a"));
    await api(emu, "api.test", { error: reply.access_token });

    const res = await fetch(`${emu.url}/_emulator/calls`);
    expect(res.status).toBe(200);
    const calls = (await res.json()) as Json;
    expect(calls).toEqual([
      { method: "oauth.v2.access", teamId: "T0000000001", ok: false, error: "invalid_code_verifier" },
      { method: "oauth.v2.access", teamId: "T0000000001", ok: true, error: null },
      { method: "auth.test", teamId: "T0000000001", ok: true, error: null },
      { method: "auth.test", teamId: null, ok: false, error: "invalid_auth" },
      { method: "oauth.v2.access", teamId: "T0000000001", ok: true, error: null },
      { method: "chat.postMessage", teamId: "T0000000001", ok: true, error: null },
      { method: "api.test", teamId: null, ok: false, error: "unknown" },
    ]);
    const filtered = (await (await fetch(`${emu.url}/_emulator/calls?method=auth.test`)).json()) as Json;
    expect(filtered).toHaveLength(2);
    for (const path of ["calls", "state", "counters", "deliveries", "messages", "views", "faults"]) {
      const text = await (await fetch(`${emu.url}/_emulator/${path}`)).text();
      for (const s of secrets) expect(text, `${path} leaks a secret`).not.toContain(s);
    }
    const index = await (await fetch(`${emu.url}/`)).text();
    for (const s of secrets) expect(index).not.toContain(s);
    expect(index).toContain(emu.app.clientId);
  });

  it("state, counters, token status, clock and reset", async () => {
    const emu = await start({ appUrl: APP_URL, tokenRotation: true });
    const reply = await install(emu, { user_scope: "identify" });
    const state = (await (await fetch(`${emu.url}/_emulator/state`)).json()) as Json;
    expect(state.apps[0]).toMatchObject({ clientId: emu.app.clientId, tokenRotation: true });
    expect(state.apps[0].clientSecret).toBeUndefined();
    expect(state.workspaces.map((w: { id: string }) => w.id)).toEqual([
      "T0000000001",
      "T0000000002",
      "T0000000003",
      "T0000000004",
      "T0000000005",
    ]);
    expect(state.installations).toEqual([
      expect.objectContaining({
        teamId: "T0000000001",
        bot: expect.objectContaining({ userId: reply.bot_user_id, activeTokens: 1 }),
        users: [{ userId: "U0000000001", scopes: ["identify"], activeTokens: 1 }],
      }),
    ]);
    const status = async (token: string) =>
      (
        (await (
          await fetch(`${emu.url}/_emulator/token-status`, { method: "POST", body: JSON.stringify({ token }) })
        ).json()) as Json
      ).status;
    expect(await status(reply.access_token)).toBe("active");
    const clock = await fetch(`${emu.url}/_emulator/clock`, {
      method: "POST",
      body: JSON.stringify({ advanceSeconds: 43_201 }),
    });
    expect(((await clock.json()) as Json).ok).toBe(true);
    expect(await status(reply.access_token)).toBe("expired");
    expect(await status("xoxb-unknown")).toBe("unknown");
    expect(((await (await fetch(`${emu.url}/_emulator/counters`)).json()) as Json).installations).toBe(1);
    const reset = await fetch(`${emu.url}/_emulator/reset`, { method: "POST" });
    expect((await reset.json()) as Json).toEqual({ ok: true });
    expect(emu.world.installations()).toEqual([]);
    expect(emu.calls()).toEqual([]);
    expect(await status(reply.access_token)).toBe("unknown");
    expect((await fetch(`${emu.url}/_emulator/nope`)).status).toBe(404);
  });

  it("takes a custom world from a JSON file and validates it", async () => {
    const file = join(tmpdir(), `emulator-world-${process.pid}-${Date.now()}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        workspaces: [{ id: "TCUSTOM0001", name: "Custom", domain: "custom" }],
        users: [{ id: "UCUSTOM0001", teamId: "TCUSTOM0001", name: "zed", isAdmin: true }],
      }),
    );
    const emu = await start({ appUrl: APP_URL, worldFile: file });
    expect(emu.world.workspaces.map((w) => w.id)).toEqual(["TCUSTOM0001"]);
    const reply = await install(emu);
    expect(reply.team).toEqual({ id: "TCUSTOM0001", name: "Custom" });
    expect(reply.authed_user.id).toBe("UCUSTOM0001");
    await expect(
      startEmulator({ world: { workspaces: [{ id: "bad", name: "x", domain: "x" }], users: [] } }),
    ).rejects.toThrow(TypeError);
  });

  it("listens on the requested port and uses given credentials", async () => {
    const first = await start({ clientId: "1111111111.2222222222", clientSecret: "a".repeat(32) });
    expect(first.app.clientId).toBe("1111111111.2222222222");
    expect(first.app.clientSecret).toBe("a".repeat(32));
    expect(first.app.signingSecret).toMatch(/^[0-9a-f]{32}$/);
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.apiUrl).toBe(`${first.url}/api/`);
    expect(first.app.redirectUrls).toEqual([
      "http://localhost:3000/slack/oauth_redirect",
      "http://localhost:3000/slack/login/callback",
    ]);
    expect(first.app.requestUrl).toBe("http://localhost:3000/slack/events");
    const port = Number(new URL(first.url).port);
    await first.close();
    const second = await start({ port });
    expect(second.url).toBe(`http://127.0.0.1:${port}`);
    const random = await start();
    expect(random.app.clientId).toMatch(/^\d{10}\.\d{13}$/);
    expect(random.app.clientSecret).not.toBe(second.app.clientSecret);
    await expect(startEmulator({ clientId: "nope" })).rejects.toThrow(TypeError);
  });
});
