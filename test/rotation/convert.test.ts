/**
 * Enabling rotation on an existing app: installations hold long-lived tokens; the app's settings turn
 * rotation on; each long-lived token is converted once with `oauth.v2.exchange`
 * ({@link convertToRotatingTokens}); from then on the tokens rotate like any other. Plus the emulator's
 * `oauth.v2.exchange` itself.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createAuthorize } from "../../src/authorize/authorize.js";
import { convertToRotatingTokens } from "../../src/rotation/batch.js";
import { TokenRotator } from "../../src/rotation/token-rotator.js";
import { api, closeAll, install, openStore, refreshCalls, rotatingEmulator, teamOf, userOf } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await closeAll();
});

const now = () => Math.floor(Date.now() / 1000);

/** Two workspaces installed while rotation was off: long-lived bot and user tokens. */
async function legacyApp() {
  const emu = await rotatingEmulator(2, { tokenRotation: false });
  const s = await openStore("sqlite");
  cleanups.push(s.cleanup);
  const installs = [];
  for (const i of [1, 2]) {
    const { installation } = await install(emu, i);
    expect(installation.botToken).toMatch(/^xoxb-/);
    expect(installation.botRefreshToken).toBeUndefined();
    await s.store.save(installation);
    installs.push(installation);
  }
  const rotator = new TokenRotator({
    clientId: emu.app.clientId,
    clientSecret: emu.app.clientSecret,
    apiUrl: emu.apiUrl,
  });
  return { emu, ...s, installs, rotator };
}

describe("convertToRotatingTokens", () => {
  it("converts every long-lived token once; the converted tokens then rotate", async () => {
    const { emu, store, installs, rotator } = await legacyApp();
    emu.updateApp({ tokenRotation: true });

    const dry = await convertToRotatingTokens({ installationStore: store, rotator, dryRun: true });
    expect([dry.workspaces, dry.tokens, dry.due, dry.counts.due]).toEqual([2, 4, 4, 4]);
    expect(emu.calls("oauth.v2.exchange")).toHaveLength(0);

    const report = await convertToRotatingTokens({ installationStore: store, rotator });
    expect(report.failed).toBe(0);
    expect(report.counts.converted).toBe(4);
    const exchanges = emu.calls("oauth.v2.exchange", { details: true });
    expect(exchanges.map((c) => [c.ok, c.tokenType]).sort()).toEqual([
      [true, "bot"],
      [true, "bot"],
      [true, "user"],
      [true, "user"],
    ]);
    for (const [k, old] of installs.entries()) {
      const now1 = await store.findInstallation({ teamId: teamOf(k + 1), userId: userOf(k + 1, 1) });
      expect(now1?.botToken).toMatch(/^xoxe\.xoxb-/);
      expect(now1?.userToken).toMatch(/^xoxe\.xoxp-/);
      expect(now1?.botRefreshToken).toMatch(/^xoxe-1-/);
      expect(now1?.userRefreshToken).toMatch(/^xoxe-1-/);
      expect(now1!.botTokenExpiresAt! - now()).toBeGreaterThan(43_000);
      // Everything else as installed.
      expect(now1?.botScopes).toEqual(old.botScopes);
      expect(now1?.installedAt).toBe(old.installedAt);
      expect((await api(emu, "auth.test", {}, { token: now1!.botToken! })).body.ok).toBe(true);
      // Converting revokes nothing: the long-lived token still works until the first refresh retires it.
      expect(emu.world.tokenStatus(old.botToken!)).toBe("active");
      // …and cannot be converted twice.
      const again = await api(emu, "oauth.v2.exchange", {
        client_id: emu.app.clientId,
        client_secret: emu.app.clientSecret,
        token: old.botToken!,
      });
      expect(again.body).toMatchObject({ ok: false, error: "token_already_exchanged" });
    }

    // Nothing long-lived is left: a second run has nothing to do.
    const second = await convertToRotatingTokens({ installationStore: store, rotator });
    expect([second.tokens, second.due, second.failed]).toEqual([0, 0, 0]);

    // The converted tokens rotate: authorize refreshes one that is about to expire.
    await store.updateTokens!({ teamId: teamOf(1) }, { botTokenExpiresAt: now() + 300 });
    const authorize = createAuthorize({ installationStore: store, rotation: rotator });
    const before = await store.findBot({ teamId: teamOf(1) });
    const r = await authorize({ teamId: teamOf(1), isEnterpriseInstall: false });
    expect(r.botToken).not.toBe(before?.botToken);
    expect(refreshCalls(emu)).toMatchObject({ ok: 1, bot: 1 });
    expect((await api(emu, "auth.test", {}, { token: r.botToken! })).body.ok).toBe(true);
  });

  it("before rotation is turned on: each token fails with token_rotation_not_enabled, nothing changes", async () => {
    const { emu, store, rotator } = await legacyApp();
    const before = await store.listWorkspaces!();
    const report = await convertToRotatingTokens({ installationStore: store, rotator, concurrency: 2 });
    expect(report.failed).toBe(4);
    expect(report.items.every((i) => i.error?.slackError === "token_rotation_not_enabled")).toBe(true);
    expect(report.items[0]?.error?.code).toBe("SLACK_OAUTH_TOKEN_REFRESH_FAILED");
    expect(await store.listWorkspaces!()).toStrictEqual(before);
    expect(emu.calls("oauth.v2.exchange").every((c) => !c.ok)).toBe(true);
  });
});

describe("emulator: oauth.v2.exchange", () => {
  it("answers Slack's errors for bad credentials, tokens and settings", async () => {
    const emu = await rotatingEmulator(1, { tokenRotation: false });
    const { installation } = await install(emu, 1);
    const exchange = (args: Record<string, string>, opts: { token?: string } = {}) =>
      api(emu, "oauth.v2.exchange", args, opts).then((r) => r.body);
    const creds = { client_id: emu.app.clientId, client_secret: emu.app.clientSecret };
    expect(await exchange({ ...creds, token: installation.botToken! })).toEqual({
      ok: false,
      error: "token_rotation_not_enabled",
    });
    // The settings change over the test API, as an app's settings page would.
    const res = await fetch(`${emu.url}/_emulator/apps/settings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tokenRotation: true }),
    });
    expect(await res.json()).toMatchObject({ ok: true, app: { tokenRotation: true, tokenExpiresIn: 43200 } });
    expect(
      await exchange({ client_id: "1.2", client_secret: emu.app.clientSecret, token: installation.botToken! }),
    ).toEqual({ ok: false, error: "invalid_client_id" });
    expect(await exchange({ ...creds, client_secret: "0".repeat(32), token: installation.botToken! })).toEqual({
      ok: false,
      error: "bad_client_secret",
    });
    expect(await exchange(creds)).toEqual({ ok: false, error: "not_authed" });
    expect(await exchange({ ...creds, token: "xoxb-0-0-unknown" })).toEqual({ ok: false, error: "invalid_auth" });

    // The token may come as Authorization: Bearer too; the reply is the refresh grant's flat shape.
    const ok = await exchange(creds, { token: installation.userToken! });
    expect(ok).toMatchObject({
      ok: true,
      app_id: emu.app.appId,
      token_type: "user",
      user_id: userOf(1, 1),
      scope: "identify,chat:write",
      expires_in: 43200,
      team: { id: teamOf(1) },
      is_enterprise_install: false,
    });
    expect(ok.access_token).toMatch(/^xoxe\.xoxp-1-/);
    expect(ok.refresh_token).toMatch(/^xoxe-1-/);
    expect(await exchange({ ...creds, token: ok.access_token })).toMatchObject({ ok: false, error: "invalid_token" });
    // The log says which family was converted, and holds no secret.
    const log = emu.calls("oauth.v2.exchange", { details: true });
    expect(log.at(-2)).toEqual({
      method: "oauth.v2.exchange",
      teamId: teamOf(1),
      ok: true,
      error: null,
      tokenType: "user",
      at: expect.any(Number),
    });
    expect(JSON.stringify(log)).not.toMatch(/xox|[0-9a-f]{32}/);
    // The converted token's refresh works, logged as a refresh grant of a user token.
    const refreshed = await api(emu, "oauth.v2.access", {
      ...creds,
      grant_type: "refresh_token",
      refresh_token: ok.refresh_token,
    });
    expect(refreshed.body.ok).toBe(true);
    expect(emu.calls("oauth.v2.access", { details: true }).at(-1)).toMatchObject({
      grantType: "refresh_token",
      tokenType: "user",
      ok: true,
    });
    // Over HTTP too; without `details` the entries keep their historical four fields.
    const detailed = (await (
      await fetch(`${emu.url}/_emulator/calls?method=oauth.v2.access&details=1`)
    ).json()) as object[];
    expect(detailed.at(-1)).toMatchObject({ grantType: "refresh_token", tokenType: "user" });
    const plainLog = (await (await fetch(`${emu.url}/_emulator/calls?method=oauth.v2.access`)).json()) as object[];
    expect(Object.keys(plainLog.at(-1) ?? {}).sort()).toEqual(["error", "method", "ok", "teamId"]);
    expect(() => emu.updateApp({ tokenExpiresIn: -1 })).toThrow(TypeError);
  });
});
