import { afterEach, describe, expect, it } from "vitest";
import { api, authorize, closeAll, exchange, start } from "./helpers.js";

afterEach(closeAll);

const APP_URL = "http://localhost:3000";

async function rotatingInstall(refreshGraceSeconds = 60) {
  let now = Date.UTC(2030, 0, 1, 12);
  const emu = await start({ appUrl: APP_URL, tokenRotation: true, refreshGraceSeconds, nowMs: () => now });
  const code = await authorize(emu, {
    client_id: emu.app.clientId,
    scope: "commands,chat:write",
    user_scope: "identify",
  });
  const reply = await exchange(emu, code);
  const refresh = (token: string, extra: Record<string, string> = {}) =>
    api(emu, "oauth.v2.access", {
      client_id: emu.app.clientId,
      client_secret: emu.app.clientSecret,
      grant_type: "refresh_token",
      refresh_token: token,
      ...extra,
    }).then((r) => r.body);
  return { emu, reply, refresh, advance: (s: number) => (now += s * 1000) };
}

describe("token rotation", () => {
  it("issues xoxe tokens with expires_in and refresh tokens on both parts", async () => {
    const { reply } = await rotatingInstall();
    expect(reply.access_token).toMatch(/^xoxe\.xoxb-1-[A-Za-z0-9]+$/);
    expect(reply.refresh_token).toMatch(/^xoxe-1-[A-Za-z0-9]+$/);
    expect(reply.expires_in).toBe(43200);
    expect(reply.authed_user.access_token).toMatch(/^xoxe\.xoxp-1-/);
    expect(reply.authed_user.refresh_token).toMatch(/^xoxe-1-/);
    expect(reply.authed_user.expires_in).toBe(43200);
  });

  it("honours tokenExpiresIn", async () => {
    const emu = await start({ appUrl: APP_URL, tokenRotation: true, tokenExpiresIn: 120 });
    const reply = await exchange(emu, await authorize(emu, { client_id: emu.app.clientId, scope: "commands" }));
    expect(reply.expires_in).toBe(120);
  });

  it("refresh grant returns Slack's flat reply", async () => {
    const { emu, reply, refresh, advance } = await rotatingInstall();
    advance(3600);
    const r = await refresh(reply.refresh_token);
    expect(r).toMatchObject({
      ok: true,
      app_id: emu.app.appId,
      token_type: "bot",
      scope: "commands,chat:write",
      bot_user_id: reply.bot_user_id,
      team: { id: "T0000000001", name: "Northwind Traders" },
      enterprise: null,
      is_enterprise_install: false,
      expires_in: 43200,
    });
    expect(r.access_token).toMatch(/^xoxe\.xoxb-1-/);
    expect(r.access_token).not.toBe(reply.access_token);
    expect(r.refresh_token).toMatch(/^xoxe-1-/);
    expect(r.refresh_token).not.toBe(reply.refresh_token);
    expect(r.authed_user).toBeUndefined();
    const auth = await api(emu, "auth.test", {}, { token: r.access_token });
    expect(auth.body.ok).toBe(true);
    expect(auth.body.expires_in).toBe(43200);

    const u = await refresh(reply.authed_user.refresh_token);
    expect(u).toMatchObject({ ok: true, token_type: "user", scope: "identify" });
    expect(u.access_token).toMatch(/^xoxe\.xoxp-1-/);
    expect(u.bot_user_id).toBeUndefined();
  });

  it("a refresh token is single-use: within the grace period it replays the same pair, then fails", async () => {
    const { reply, refresh, advance } = await rotatingInstall(30);
    const first = await refresh(reply.refresh_token);
    advance(10);
    const again = await refresh(reply.refresh_token);
    expect(again.ok).toBe(true);
    expect(again.access_token).toBe(first.access_token);
    expect(again.refresh_token).toBe(first.refresh_token);
    advance(25);
    expect(await refresh(reply.refresh_token)).toEqual({ ok: false, error: "invalid_refresh_token" });
    // The new refresh token works.
    expect((await refresh(first.refresh_token)).ok).toBe(true);
  });

  it("with no grace period a second use fails at once", async () => {
    const { reply, refresh } = await rotatingInstall(0);
    expect((await refresh(reply.refresh_token)).ok).toBe(true);
    expect((await refresh(reply.refresh_token)).error).toBe("invalid_refresh_token");
  });

  it("keeps at most two active access tokens per installation and kind", async () => {
    const { emu, reply, refresh } = await rotatingInstall();
    const r1 = await refresh(reply.refresh_token);
    expect(emu.world.tokenStatus(reply.access_token)).toBe("active");
    expect(emu.world.tokenStatus(r1.access_token)).toBe("active");
    const r2 = await refresh(r1.refresh_token);
    expect(emu.world.tokenStatus(reply.access_token)).toBe("revoked");
    expect(emu.world.tokenStatus(r1.access_token)).toBe("active");
    expect(emu.world.tokenStatus(r2.access_token)).toBe("active");
    expect((await api(emu, "auth.test", {}, { token: reply.access_token })).body.error).toBe("token_revoked");
    // The user's tokens are another family: untouched.
    expect(emu.world.tokenStatus(reply.authed_user.access_token)).toBe("active");
    expect(emu.world.installations()[0]!.bot!.activeTokens).toBe(2);
  });

  it("expired access tokens answer token_expired", async () => {
    const { emu, reply, refresh, advance } = await rotatingInstall();
    advance(43199);
    expect((await api(emu, "auth.test", {}, { token: reply.access_token })).body.ok).toBe(true);
    advance(2);
    expect((await api(emu, "auth.test", {}, { token: reply.access_token })).body).toEqual({
      ok: false,
      error: "token_expired",
    });
    expect(
      (await api(emu, "chat.postMessage", { channel: "#general", text: "hi" }, { token: reply.access_token })).body
        .error,
    ).toBe("token_expired");
    // The refresh token still works after the access token expired.
    const r = await refresh(reply.refresh_token);
    expect(r.ok).toBe(true);
    expect((await api(emu, "auth.test", {}, { token: r.access_token })).body.ok).toBe(true);
  });

  it("refresh errors: unknown token, other app, missing token, bad secret", async () => {
    const { emu, reply, refresh } = await rotatingInstall();
    expect((await refresh("xoxe-1-nope")).error).toBe("invalid_refresh_token");
    expect((await refresh("")).error).toBe("invalid_arguments");
    expect((await refresh(reply.refresh_token, { client_secret: "0".repeat(32) })).error).toBe("bad_client_secret");
    expect(
      (
        await api(emu, "oauth.v2.access", {
          client_id: emu.app.clientId,
          client_secret: emu.app.clientSecret,
          grant_type: "refresh_token",
          refresh_token: reply.access_token,
        })
      ).body.error,
    ).toBe("invalid_refresh_token");
  });

  it("uninstall makes refresh tokens invalid", async () => {
    const { emu, reply, refresh } = await rotatingInstall();
    await emu.uninstall({ teamId: "T0000000001" });
    expect((await refresh(reply.refresh_token)).error).toBe("invalid_refresh_token");
  });

  it("long-lived tokens are never rejected as expired", async () => {
    let now = Date.UTC(2030, 0, 1);
    const emu = await start({ appUrl: APP_URL, nowMs: () => now });
    const reply = await exchange(emu, await authorize(emu, { client_id: emu.app.clientId, scope: "commands" }));
    expect(reply.expires_in).toBeUndefined();
    expect(reply.refresh_token).toBeUndefined();
    now += 365 * 86_400_000;
    expect((await api(emu, "auth.test", {}, { token: reply.access_token })).body.ok).toBe(true);
  });
});
