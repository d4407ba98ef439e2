/**
 * {@link TokenRotator} on its own (no store, no lock), against the emulator over real HTTP: what expires
 * is refreshed (bot and user in parallel), only those fields change, and every failure is a typed
 * {@link TokenRefreshError} — with the part that did refresh kept in `partial`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import { TokenRefreshError } from "../../src/rotation/errors.js";
import { DEFAULT_ROTATION_WINDOW_SECONDS, TokenRotator } from "../../src/rotation/token-rotator.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { api, closeAll, closedPortUrl, install, refreshCalls, rotatingEmulator } from "./helpers.js";

afterEach(closeAll);

const now = () => Math.floor(Date.now() / 1000);

async function setup(options = {}) {
  const emu = await rotatingEmulator(1, options);
  const { installation } = await install(emu, 1);
  const rotator = new TokenRotator({
    clientId: emu.app.clientId,
    clientSecret: emu.app.clientSecret,
    apiUrl: emu.apiUrl,
  });
  const spend = async (refreshToken: string) =>
    api(emu, "oauth.v2.access", {
      client_id: emu.app.clientId,
      client_secret: emu.app.clientSecret,
      grant_type: "refresh_token",
      refresh_token: refreshToken,
    });
  return { emu, installation, rotator, spend };
}

const due = (i: Installation): Installation => ({
  ...i,
  botTokenExpiresAt: now() + 60,
  userTokenExpiresAt: now() + 60,
});

describe("TokenRotator", () => {
  it("knows what is due: within the window (2 h by default), with a refresh token", () => {
    let t = 1_000_000_000_000;
    const r = new TokenRotator({ clientId: "1.2", clientSecret: "s".repeat(32), nowMs: () => t });
    const s = t / 1000;
    expect(r.windowSeconds).toBe(DEFAULT_ROTATION_WINDOW_SECONDS);
    expect(r.expiresWithin(s + 7200)).toBe(true);
    expect(r.expiresWithin(s + 7201)).toBe(false);
    expect(r.expiresWithin(s - 5)).toBe(true);
    expect(r.expiresWithin(undefined)).toBe(false);
    expect(r.isValid(s + 61, 60)).toBe(true);
    expect(r.isValid(s + 59, 60)).toBe(false);
    expect(r.isValid(undefined)).toBe(true);
    const inst = {
      botToken: "xoxe.xoxb-1-a",
      botRefreshToken: "xoxe-1-a",
      botTokenExpiresAt: s + 100,
      userToken: "xoxe.xoxp-1-b",
      userRefreshToken: "xoxe-1-b",
      userTokenExpiresAt: s + 10_000,
    } as Installation;
    expect(r.expiring(inst)).toEqual({ bot: true, user: false });
    expect(r.expiring(inst, 20_000)).toEqual({ bot: true, user: true });
    expect(r.expiring({ ...inst, botRefreshToken: undefined } as unknown as Installation)).toEqual({
      bot: false,
      user: false,
    });
    t += 10_000 * 1000;
    expect(r.expiring(inst)).toEqual({ bot: true, user: true });
  });

  it("refreshes the bot and the user token in parallel and changes only their fields", async () => {
    const { emu, installation, rotator } = await setup();
    const before = due(installation);
    const after = await rotator.rotate(before);
    expect(refreshCalls(emu)).toMatchObject({ total: 2, bot: 1, user: 1 });
    expect(after.botToken).not.toBe(before.botToken);
    expect(after.userToken).not.toBe(before.userToken);
    expect(after.botRefreshToken).not.toBe(before.botRefreshToken);
    expect(after.userRefreshToken).not.toBe(before.userRefreshToken);
    expect(after.botTokenExpiresAt! - now()).toBeGreaterThan(43_000);
    const unchanged = (i: Installation) => {
      const { botToken, botRefreshToken, botTokenExpiresAt, userToken, userRefreshToken, userTokenExpiresAt, ...rest } =
        i;
      return rest;
    };
    expect(unchanged(after)).toStrictEqual(unchanged(before));
    for (const t of [after.botToken!, after.userToken!])
      expect((await api(emu, "auth.test", {}, { token: t })).body.ok).toBe(true);
  });

  it("returns the same installation, calling nothing, when nothing is due (unless forced)", async () => {
    const { emu, installation, rotator } = await setup();
    expect(await rotator.rotate(installation)).toBe(installation);
    expect(refreshCalls(emu).total).toBe(0);
    const forced = await rotator.rotate(installation, { force: true });
    expect(forced.botToken).not.toBe(installation.botToken);
    expect(refreshCalls(emu)).toMatchObject({ bot: 1, user: 1 });
  });

  it("one token failing: TokenRefreshError with the other, refreshed one in `partial`", async () => {
    const { installation, rotator, spend } = await setup();
    expect((await spend(installation.userRefreshToken!)).body.ok).toBe(true);
    const err = (await rotator.rotate(due(installation)).catch((e) => e)) as TokenRefreshError;
    expect(err).toBeInstanceOf(TokenRefreshError);
    expect([err.kind, err.reason, err.slackError]).toEqual(["user", "invalid_refresh_token", "invalid_refresh_token"]);
    expect(err.partial?.botToken).toBeDefined();
    expect(err.partial?.botToken).not.toBe(installation.botToken);
    expect(err.partial?.userToken).toBe(installation.userToken);
    expect(err.errors).toBeUndefined();
  });

  it("both failing: the first error carries both", async () => {
    const { emu, installation, rotator } = await setup();
    emu.injectFault({ method: "oauth.v2.access", error: "internal_error", count: 2 });
    const err = (await rotator.rotate(due(installation)).catch((e) => e)) as TokenRefreshError;
    expect(err.reason).toBe("slack_error");
    expect(err.slackError).toBe("internal_error");
    expect(err.retryable).toBe(true);
    expect(err.errors?.map((e) => e.kind).sort()).toEqual(["bot", "user"]);
    expect(err.partial).toBeUndefined();
  });

  it("classifies network errors, timeouts, rate limits and configuration errors", async () => {
    const { emu, installation } = await setup();
    const make = (client: SlackApiClient) =>
      new TokenRotator({ clientId: emu.app.clientId, clientSecret: emu.app.clientSecret, api: client });
    const reasonOf = async (r: TokenRotator, kind: "bot" | "user" = "bot", token = installation.botRefreshToken!) =>
      (await r.refreshToken(kind, token, { teamId: installation.teamId }).catch((e) => e)) as TokenRefreshError;

    const net = await reasonOf(make(new SlackApiClient({ baseUrl: await closedPortUrl(), retryBaseDelayMs: 1 })));
    expect([net.reason, net.retryable, net.teamId]).toEqual(["network", true, installation.teamId]);

    // A timed-out refresh may still be processed by Slack (here: after 300 ms), so it gets a token of
    // its own: the user's.
    emu.injectFault({ method: "oauth.v2.access", latencyMs: 300 });
    const slow = await reasonOf(
      make(new SlackApiClient({ baseUrl: emu.apiUrl, timeoutMs: 50 })),
      "user",
      installation.userRefreshToken!,
    );
    expect([slow.reason, slow.retryable, slow.kind]).toEqual(["timeout", true, "user"]);

    emu.injectFault({ method: "oauth.v2.access", ratelimited: true, retryAfter: 120 });
    const limited = await reasonOf(make(new SlackApiClient({ baseUrl: emu.apiUrl })));
    expect([limited.reason, limited.slackError, limited.retryable]).toEqual(["ratelimited", "ratelimited", true]);

    const badSecret = await reasonOf(
      new TokenRotator({ clientId: emu.app.clientId, clientSecret: "0".repeat(32), apiUrl: emu.apiUrl }),
    );
    expect([badSecret.reason, badSecret.slackError, badSecret.retryable]).toEqual([
      "slack_error",
      "bad_client_secret",
      false,
    ]);
    // None of the others spent the bot's refresh token (a faulted call has no effect): it still works.
    const ok = await make(new SlackApiClient({ baseUrl: emu.apiUrl })).refreshToken(
      "bot",
      installation.botRefreshToken!,
    );
    expect(ok.patch.botToken).toMatch(/^xoxe\.xoxb-/);
    expect(ok.patch.botRefreshToken).toMatch(/^xoxe-1-/);
    for (const e of [net, slow, limited, badSecret]) expect(e.message).not.toMatch(/xox|[0-9a-f]{32}/);
  });

  it("refuses a reply for the other kind of token (invalid_response)", async () => {
    const { installation, rotator } = await setup();
    const err = (await rotator
      .refreshToken("user", installation.botRefreshToken!)
      .catch((e) => e)) as TokenRefreshError;
    expect([err.reason, err.kind, err.retryable]).toEqual(["invalid_response", "user", false]);
  });

  it("logs refreshes and failures without a token or the client secret", async () => {
    const { emu, installation, spend } = await setup();
    const lines: string[] = [];
    const log = (m: string, ...a: unknown[]) => lines.push([m, ...a.map(String)].join(" "));
    const rotator = new TokenRotator({
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      apiUrl: emu.apiUrl,
      logger: { debug: log, info: log, warn: log, error: log },
    });
    await spend(installation.userRefreshToken!);
    const err = (await rotator.rotate(due(installation)).catch((e) => e)) as TokenRefreshError;
    expect(err.partial?.botToken).toBeDefined();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const text = lines.join("\n");
    for (const secret of [emu.app.clientSecret, installation.botRefreshToken!, err.partial!.botToken!]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(/xox/);
    expect(`${err.message} ${JSON.stringify(err)}`).not.toMatch(/xox/);
  });

  it("needs client credentials and a sane window", () => {
    expect(() => new TokenRotator({ clientId: "", clientSecret: "x" })).toThrow(ConfigError);
    expect(() => new TokenRotator({ clientId: "1.2", clientSecret: "" })).toThrow(ConfigError);
    expect(() => new TokenRotator({ clientId: "1.2", clientSecret: "x", windowSeconds: -1 })).toThrow(ConfigError);
  });
});
