/**
 * What the install callback answers when the link itself is spent (a used or expired code, a reloaded success
 * page, a replayed callback) and what happens to the new tokens when the install fails after the code exchange:
 * over real sockets against the emulator, whose token records tell which tokens are still valid.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, StoreError } from "../../src/errors.js";
import type { Bot } from "../../src/model/installation.js";
import type { OAuthFlowOptions } from "../../src/oauth/flow.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import type { BotQuery } from "../../src/stores/installation-store.js";
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

async function harness(flow: Partial<OAuthFlowOptions> = {}): Promise<Harness> {
  const h = await startHarness({ flow });
  harnesses.push(h);
  return h;
}

/** The log lines written since `from`, and those at error level among them. */
function linesSince(h: Harness, from: number): { all: string[]; errors: string[]; text: string } {
  const all = h.logger.lines.slice(from);
  return { all, errors: all.filter((l) => l.startsWith("error ")), text: all.join("\n") };
}

describe("a spent code: 400 INVALID_CODE with one warning, not a 502 with two error lines", () => {
  it("the code was already exchanged (a double submit, or someone else used it)", async () => {
    const h = await harness();
    const started = await startInstall(h);
    const location = await consent(started.authorizeUrl);
    // The code is exchanged once behind the flow's back: the callback's own exchange is then refused.
    const api = new SlackApiClient({ baseUrl: h.emu.apiUrl, maxRetries: 0 });
    await api.oauthV2Access({
      clientId: h.emu.app.clientId,
      clientSecret: h.emu.app.clientSecret,
      code: location.searchParams.get("code") ?? "",
      redirectUri: h.redirectUri,
    });
    const from = h.logger.lines.length;
    const html = await expectFailurePage(await callback(location, started.cookie), {
      code: ErrorCode.CodeInvalid,
      status: 400,
      message: /already used, or it is older than 10 minutes/,
    });
    expect(html).not.toMatch(/invalid_code/);
    const log = linesSince(h, from);
    expect(log.errors, log.text).toEqual([]);
    expect(
      log.all.filter((l) => l.includes("OAuthFlow")),
      log.text,
    ).toEqual([
      "warn OAuthFlow: install callback refused (SLACK_OAUTH_CODE_INVALID, HTTP 400): Slack refused the code: invalid_code",
    ]);
    expect(h.store.attempts).toBe(0);
    expectNoSecretsInLogs(h, [location.searchParams.get("code") ?? ""]);
  });

  it("the code is older than Slack's 10 minutes (the state is still valid)", async () => {
    const h = await harness();
    const started = await startInstall(h);
    const location = await consent(started.authorizeUrl);
    h.emu.advanceClock(601);
    const from = h.logger.lines.length;
    await expectFailurePage(await callback(location, started.cookie), {
      code: ErrorCode.CodeInvalid,
      status: 400,
      message: /older than 10 minutes/,
    });
    expect(linesSince(h, from).errors).toEqual([]);
    expect(h.emu.calls("oauth.v2.access")).toMatchObject([{ ok: false, error: "invalid_code" }]);
  });

  it("legacy v1 apps: code_already_used is the same answer", async () => {
    const h = await harness();
    h.reconfigure({ version: "v1", authorizationUrl: `${h.emu.url}/oauth/authorize`, scopes: ["bot", "commands"] });
    const started = await startInstall(h);
    const location = await consent(started.authorizeUrl);
    const api = new SlackApiClient({ baseUrl: h.emu.apiUrl, maxRetries: 0 });
    await api.oauthAccess({
      clientId: h.emu.app.clientId,
      clientSecret: h.emu.app.clientSecret,
      code: location.searchParams.get("code") ?? "",
      redirectUri: h.redirectUri,
    });
    const from = h.logger.lines.length;
    await expectFailurePage(await callback(location, started.cookie), {
      code: ErrorCode.CodeInvalid,
      status: 400,
      message: /already used/,
    });
    expect(linesSince(h, from).text).toContain("Slack refused the code: code_already_used");
    expect(linesSince(h, from).errors).toEqual([]);
  });
});

describe("a used state is STATE_REUSED whatever the cookie, and the page says the install already completed", () => {
  it("reloading the success page (the cookie was deleted by the success) → STATE_REUSED, nothing exchanged", async () => {
    const h = await harness();
    const first = await fullInstall(h);
    expect(first.response.status, first.html).toBe(200);
    // The success response deleted the state cookie: a reload comes back without it.
    expect(first.response.headers.getSetCookie().some((c) => /Max-Age=0/.test(c))).toBe(true);
    const exchanges = h.emu.calls("oauth.v2.access").length;
    for (const cookie of [undefined, "", first.started.cookie]) {
      const html = await expectFailurePage(await callback(first.location, cookie), {
        code: ErrorCode.StateReused,
        status: 400,
        message: /already completed/,
      });
      expect(html).not.toMatch(/private window|did not send the cookie/);
      expect(html).toContain("If you saw &quot;Installation complete&quot;, the app is installed");
    }
    expect(h.emu.calls("oauth.v2.access")).toHaveLength(exchanges);
    expect(h.store.saves).toBe(1);
  });

  it("a replay from another browser (another install's cookie) → STATE_REUSED too", async () => {
    const h = await harness();
    const first = await fullInstall(h);
    expect(first.response.status).toBe(200);
    const other = await startInstall(h);
    await expectFailurePage(await callback(first.location, other.cookie), {
      code: ErrorCode.StateReused,
      status: 400,
      message: /already completed/,
    });
    // The other browser's live state was only looked at, not consumed: it still completes.
    const otherLocation = await consent(other.authorizeUrl, { team: "T0000000002" });
    expect((await callback(otherLocation, other.cookie)).status).toBe(200);
  });

  it("a live state without its cookie is still STATE_COOKIE_MISSING, and stays usable by its own browser", async () => {
    const h = await harness();
    const started = await startInstall(h);
    const location = await consent(started.authorizeUrl);
    await expectFailurePage(await callback(location), {
      code: ErrorCode.StateCookieMissing,
      status: 400,
      message: /did not send the cookie/,
    });
    expect(h.emu.calls("oauth.v2.access")).toHaveLength(0);
    expect((await callback(location, started.cookie)).status).toBe(200);
  });
});

/** The emulator's view of a workspace's tokens: active bot and user tokens of the default app. */
function activeTokens(h: Harness, teamId: string): { bot: number; users: number } {
  const inst = h.emu.world.installations().find((i) => i.teamId === teamId && i.appId === h.emu.app.appId);
  return {
    bot: inst?.bot?.activeTokens ?? 0,
    users: (inst?.users ?? []).reduce((n, u) => n + u.activeTokens, 0),
  };
}

describe("tokens of an install that failed after the code exchange", () => {
  const withUser = { userScopes: ["users:read"] };

  it("save fails on a first install → the new bot and user tokens are revoked with auth.revoke", async () => {
    const h = await harness(withUser);
    h.store.failWith = () => new Error("disk full");
    const from = h.logger.lines.length;
    const { response, html } = await fullInstall(h, { team: "T0000000002" });
    expect(response.status, html).toBe(500);
    expect(response.headers.get("x-slack-oauth-error")).toBe(ErrorCode.InstallFailed);
    expect(h.emu.calls("auth.revoke")).toMatchObject([{ ok: true }, { ok: true }]);
    expect(activeTokens(h, "T0000000002")).toEqual({ bot: 0, users: 0 });
    const log = linesSince(h, from);
    expect(log.text).toContain("saving the installation failed; revoked the new bot token");
    expect(log.text).toContain("saving the installation failed; revoked the new user token");
    expect(log.errors, log.text).toHaveLength(1);
    expectNoSecretsInLogs(h);
  });

  it("auth.test fails on a first install → the new bot token is revoked", async () => {
    const h = await harness();
    h.emu.injectFault({ method: "auth.test", error: "invalid_auth" });
    const { response } = await fullInstall(h, { team: "T0000000003" });
    expect(response.status).toBe(502);
    expect(h.emu.calls("auth.revoke")).toMatchObject([{ ok: true }]);
    expect(activeTokens(h, "T0000000003").bot).toBe(0);
    expect(h.store.attempts).toBe(0);
  });

  it("beforeInstallation refuses → the new token is revoked (403 INSTALL_VETOED)", async () => {
    const h = await harness({ beforeInstallation: () => false });
    const { response } = await fullInstall(h, { team: "T0000000002" });
    expect(response.status).toBe(403);
    expect(activeTokens(h, "T0000000002").bot).toBe(0);
  });

  it("a reinstall whose save fails leaves the existing installation working (Slack handed back its tokens)", async () => {
    const h = await harness(withUser);
    const first = await fullInstall(h);
    expect(first.response.status, first.html).toBe(200);
    const stored = await h.store.findInstallation({ teamId: "T0000000001", userId: "U0000000001" });
    expect(stored?.botToken).toMatch(/^xoxb-/);
    expect(stored?.userToken).toMatch(/^xoxp-/);

    h.store.failWith = () => new Error("disk full");
    const from = h.logger.lines.length;
    const again = await fullInstall(h);
    expect(again.response.status, again.html).toBe(500);
    expect(h.emu.calls("auth.revoke")).toEqual([]);
    const log = linesSince(h, from);
    expect(log.text).toContain("kept the bot token: a stored installation holds this bot's token");
    expect(log.text).toContain("kept the user token");

    // The stored installation still works against Slack.
    expect(h.emu.world.tokenStatus(stored!.botToken!)).toBe("active");
    expect(h.emu.world.tokenStatus(stored!.userToken!)).toBe("active");
    const api = new SlackApiClient({ baseUrl: h.emu.apiUrl, maxRetries: 0 });
    expect((await api.authTest(stored!.botToken!)).team_id).toBe("T0000000001");
    expect(await h.store.findBot({ teamId: "T0000000001" })).toMatchObject({ botToken: stored!.botToken });
  });

  it("a token-rotation reinstall whose save fails keeps the stored (same-family) tokens valid", async () => {
    const h = await startHarness({ emulator: { tokenRotation: true } });
    harnesses.push(h);
    const first = await fullInstall(h);
    expect(first.response.status, first.html).toBe(200);
    const stored = await h.store.findBot({ teamId: "T0000000001" });
    expect(stored?.botToken).toMatch(/^xoxe\.xoxb-/);
    h.store.failWith = () => new Error("disk full");
    expect((await fullInstall(h)).response.status).toBe(500);
    expect(h.emu.calls("auth.revoke")).toEqual([]);
    expect(h.emu.world.tokenStatus(stored!.botToken!)).toBe("active");
  });

  it("the store cannot be read → nothing is revoked and the error code is logged", async () => {
    const h = await harness();
    h.store.failWith = () => new Error("disk full");
    const findBot = h.store.findBot.bind(h.store);
    h.store.findBot = async (_q: BotQuery): Promise<Bot | undefined> => {
      throw new StoreError("database unreachable");
    };
    const from = h.logger.lines.length;
    try {
      expect((await fullInstall(h, { team: "T0000000002" })).response.status).toBe(500);
    } finally {
      h.store.findBot = findBot;
    }
    expect(h.emu.calls("auth.revoke")).toEqual([]);
    expect(activeTokens(h, "T0000000002").bot).toBe(1);
    const log = linesSince(h, from);
    expect(log.text).toContain(
      "warn OAuthFlow: saving the installation failed; revoked nothing: the installation store could not be read (SLACK_OAUTH_STORE_ERROR)",
    );
    expect(log.errors, log.text).toHaveLength(1);
  });
});
