/**
 * Single-workspace mode: the reference server (in-process and as the built CLI) with SLACK_BOT_TOKEN from
 * the environment, against the emulator over real sockets; and the library source on its own.
 */
import { createHmac, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/app/config.js";
import { jsonLogger } from "../../src/app/log.js";
import { type RunningServer, startServer } from "../../src/app/server.js";
import { INSTALL_PROMPT } from "../../src/app/slack-app.js";
import { NotInstalledError } from "../../src/authorize/authorize.js";
import { createSingleWorkspaceAuthorize, TokenRejectedError } from "../../src/authorize/single-workspace.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { TokenKindError } from "../../src/tokens.js";
import { freePort, runCli, spawnCli } from "../cli/cli-helpers.js";
import { install } from "../emulator/helpers.js";

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const TEAM = "T0000000001";
const OTHER_TEAM = "T0000000002";

interface Setup {
  emu: Emulator;
  port: number;
  appUrl: string;
  botToken: string;
  userToken: string;
  userId: string;
  env: Record<string, string>;
}

/** An emulator whose app lives at a port chosen up front, installed on TEAM (and OTHER_TEAM) for real tokens. */
async function setup(): Promise<Setup> {
  const port = await freePort();
  const appUrl = `http://127.0.0.1:${port}`;
  const emu = await startEmulator({ appUrl });
  cleanup.push(() => emu.close());
  const reply = await install(emu, { user_scope: "chat:write" }, { team: TEAM });
  await install(emu, {}, { team: OTHER_TEAM });
  const env = {
    SLACK_BOT_TOKEN: String(reply.access_token),
    SLACK_SIGNING_SECRET: emu.app.signingSecret,
    SLACK_API_URL: emu.apiUrl,
    PORT: String(port),
    HOST: "127.0.0.1",
  };
  return {
    emu,
    port,
    appUrl,
    botToken: String(reply.access_token),
    userToken: String(reply.authed_user.access_token),
    userId: String(reply.authed_user.id),
    env,
  };
}

async function startSingle(env: Record<string, string>): Promise<{ running: RunningServer; lines: string[] }> {
  const lines: string[] = [];
  const running = await startServer(loadConfig(env), { logger: jsonLogger((l) => lines.push(l)) });
  cleanup.push(() => running.close());
  return { running, lines };
}

/** Posts a slash command signed with node:crypto (for a workspace the emulator no longer sends to). */
async function signedCommand(url: string, secret: string, fields: Record<string, string>): Promise<Response> {
  const body = new URLSearchParams(fields).toString();
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = `v0=${createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex")}`;
  return fetch(`${url}/slack/events`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-signature": sig,
      "x-slack-request-timestamp": ts,
    },
    body,
  });
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

function ephemeralText(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { text?: string }).text;
  } catch {
    return undefined;
  }
}

describe("reference server in single-workspace mode (in-process)", () => {
  it("auth.test at start learns the workspace; a signed /open-modal opens a modal with the environment's token", async () => {
    const s = await setup();
    const { running } = await startSingle(s.env);
    expect(running.singleWorkspace).toMatchObject({ teamId: TEAM, isEnterpriseInstall: false });
    expect(running.singleWorkspace?.botId).toMatch(/^B/);
    expect(running.singleWorkspace?.botUserId).toMatch(/^U/);
    expect(s.emu.calls("auth.test")).toEqual([expect.objectContaining({ teamId: TEAM, ok: true })]);

    const answer = await s.emu.sendSlashCommand({ teamId: TEAM, command: "/open-modal" });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe("");
    const views = s.emu.views();
    expect(views).toHaveLength(1);
    // views.open was authorised by a token of TEAM: the only token the server has is the environment's.
    expect(views[0]).toMatchObject({ teamId: TEAM, view: expect.objectContaining({ callback_id: "modal-id" }) });
    expect(s.emu.calls("views.open")).toEqual([expect.objectContaining({ teamId: TEAM, ok: true })]);
  });

  it("another workspace (where the app is installed, but not this server's) gets the install prompt", async () => {
    const s = await setup();
    await startSingle(s.env);
    const answer = await s.emu.sendSlashCommand({ teamId: OTHER_TEAM, command: "/open-modal" });
    expect(answer.status).toBe(200);
    expect(ephemeralText(answer.body)).toBe(INSTALL_PROMPT);
    expect(s.emu.views()).toHaveLength(0);
  });

  it("/slack/install explains single-workspace mode: no OAuth, no state cookie, not a 5xx", async () => {
    const s = await setup();
    const { running } = await startSingle(s.env);
    const res = await fetch(`${running.url}/slack/install`, { redirect: "manual" });
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toMatch(/Single-workspace mode/);
    expect(html).toContain(TEAM);
    expect(html).toContain("SLACK_BOT_TOKEN");
    expect(html).not.toContain("oauth/v2/authorize");
    expect(html).not.toMatch(/xox/);
    expect(res.headers.get("set-cookie")).toBeNull();
    const cb = await fetch(`${running.url}/slack/oauth_redirect?code=123.456.abc&state=x`, { redirect: "manual" });
    expect(cb.status).toBe(404);
    expect(await cb.text()).toMatch(/Single-workspace mode/);
    expect(s.emu.calls("oauth.v2.access")).toHaveLength(2); // only the test's own installs
    const home = await (await fetch(`${running.url}/`)).text();
    expect(home).toMatch(/Single-workspace mode/);
    expect(home).not.toContain('id="install"');
  });

  it("app_uninstalled makes /open-modal answer the install prompt (the token is forgotten)", async () => {
    const s = await setup();
    const { running } = await startSingle(s.env);
    expect((await s.emu.sendSlashCommand({ teamId: TEAM, command: "/open-modal" })).body).toBe("");
    const ev = await s.emu.sendEvent({ teamId: TEAM, event: { type: "app_uninstalled" } });
    expect(ev.status).toBe(200);
    const after = await s.emu.sendSlashCommand({ teamId: TEAM, command: "/open-modal" });
    expect(ephemeralText(after.body)).toBe(INSTALL_PROMPT);
    expect(s.emu.views()).toHaveLength(1);
    expect(await running.installationStore.findBot({ teamId: TEAM })).toBeUndefined();
  });

  it("a real uninstall at Slack (events delivered by the emulator) has the same effect", async () => {
    const s = await setup();
    const { running } = await startSingle(s.env);
    const result = await s.emu.uninstall({ teamId: TEAM });
    expect(result.deliveries.every((d) => d.ok)).toBe(true);
    // The emulator no longer sends to an uninstalled workspace: sign the command ourselves.
    const res = await signedCommand(running.url, s.emu.app.signingSecret, {
      team_id: TEAM,
      user_id: "U0000000002",
      command: "/open-modal",
      trigger_id: "1.2.3",
      is_enterprise_install: "false",
    });
    expect(res.status).toBe(200);
    expect(ephemeralText(await res.text())).toBe(INSTALL_PROMPT);
  });

  it("tokens_revoked for the bot forgets the bot token too", async () => {
    const s = await setup();
    await startSingle(s.env);
    const bot = await fetch(`${s.emu.apiUrl}auth.test`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.botToken}` },
    }).then((r) => r.json() as Promise<{ user_id: string }>);
    const ev = await s.emu.sendEvent({
      teamId: TEAM,
      event: { type: "tokens_revoked", tokens: { oauth: [], bot: [bot.user_id] } },
    });
    expect(ev.status).toBe(200);
    const after = await s.emu.sendSlashCommand({ teamId: TEAM, command: "/open-modal" });
    expect(ephemeralText(after.body)).toBe(INSTALL_PROMPT);
  });

  it("a revoked token stops the start with TokenRejectedError naming SLACK_BOT_TOKEN, and frees the port", async () => {
    const s = await setup();
    await s.emu.revoke({ teamId: TEAM });
    const error = await startSingle(s.env).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TokenRejectedError);
    expect((error as TokenRejectedError).variable).toBe("SLACK_BOT_TOKEN");
    expect((error as Error).message).toMatch(/SLACK_BOT_TOKEN was refused by Slack \(auth\.test: token_revoked\)/);
    expect((error as Error).message).not.toContain(s.botToken);
    // The port was released: a second server can take it.
    const again = await startSingle({
      ...s.env,
      SLACK_BOT_TOKEN: (await install(s.emu, {}, { team: TEAM })).access_token,
    });
    expect(again.running.url).toBe(`http://localhost:${s.port}`);
  });
});

describe("single-workspace mode through the built CLI (`slack-oauth-kit serve`)", () => {
  it("serves the workspace: a signed /open-modal opens a modal; /slack/install explains the mode", async () => {
    const s = await setup();
    const cli = spawnCli(["serve"], s.env);
    cleanup.push(() => cli.stop());
    const out = await cli.waitFor(/SINGLE-WORKSPACE mode/);
    expect(out).toContain(`workspace ${TEAM}`);
    const answer = await s.emu.sendSlashCommand({ teamId: TEAM, command: "/open-modal" });
    expect(answer.status).toBe(200);
    expect(s.emu.views()).toEqual([expect.objectContaining({ teamId: TEAM })]);
    const page = await fetch(`${s.appUrl}/slack/install`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/Single-workspace mode/);
    const stopped = await cli.stop();
    expect(stopped.code).toBe(0);
    expect(`${cli.stdout()}${cli.stderr()}`).not.toContain(s.botToken);
    expect(`${cli.stdout()}${cli.stderr()}`).not.toMatch(/xox/);
  });

  it("a revoked token at start: a clear message naming SLACK_BOT_TOKEN (not its value), exit code 2", async () => {
    const s = await setup();
    await s.emu.revoke({ teamId: TEAM });
    const r = await runCli(["serve"], { env: s.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SLACK_BOT_TOKEN was refused by Slack \(auth\.test: token_revoked\)/);
    expect(r.stderr).toMatch(/Reinstall the app/);
    expect(`${r.stdout}${r.stderr}`).not.toContain(s.botToken);
    expect(`${r.stdout}${r.stderr}`).not.toContain(s.botToken.slice(5, 25));
    expect(r.stdout).not.toMatch(/running on/);
  });

  it("Slack unreachable at start: exit code 1, the variable named, the token never printed", async () => {
    const s = await setup();
    const r = await runCli(["serve"], {
      env: { ...s.env, SLACK_API_URL: `http://127.0.0.1:${await freePort()}/api/` },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SLACK_BOT_TOKEN could not be checked with Slack's auth\.test/);
    expect(`${r.stdout}${r.stderr}`).not.toContain(s.botToken);
  }, 40_000);
});

describe("createSingleWorkspaceAuthorize (library)", () => {
  it("answers for its workspace only; the user token only for its owner", async () => {
    const s = await setup();
    const api = new SlackApiClient({ baseUrl: s.emu.apiUrl });
    const source = await createSingleWorkspaceAuthorize({ botToken: s.botToken, userToken: s.userToken, api });
    expect(source.workspace).toMatchObject({ teamId: TEAM, userId: s.userId, isEnterpriseInstall: false });
    const mine = await source.authorize({ teamId: TEAM, userId: s.userId, isEnterpriseInstall: false });
    expect(mine.botToken).toBe(s.botToken);
    expect(mine.userToken).toBe(s.userToken);
    const someoneElse = await source.authorize({ teamId: TEAM, userId: "U0000000003", isEnterpriseInstall: false });
    expect(someoneElse.botToken).toBe(s.botToken);
    expect(someoneElse.userToken).toBeUndefined();
    await expect(source.authorize({ teamId: OTHER_TEAM, isEnterpriseInstall: false })).rejects.toBeInstanceOf(
      NotInstalledError,
    );
    await expect(
      source.authorize({ enterpriseId: "E0000000001", teamId: TEAM, isEnterpriseInstall: false }),
    ).rejects.toBeInstanceOf(NotInstalledError);
    // Uninstall through the store (what the events handler does): the token is gone.
    await source.installationStore.deleteAll({ teamId: TEAM });
    await expect(source.authorize({ teamId: TEAM, isEnterpriseInstall: false })).rejects.toBeInstanceOf(
      NotInstalledError,
    );
  });

  it("an org-wide bot token answers for every workspace of its org", async () => {
    const port = await freePort();
    const emu = await startEmulator({ appUrl: `http://127.0.0.1:${port}` });
    cleanup.push(() => emu.close());
    const reply = await install(emu, {}, { team: "E0000000001", user: "W0000000010" });
    expect(reply.is_enterprise_install).toBe(true);
    const source = await createSingleWorkspaceAuthorize({
      botToken: String(reply.access_token),
      api: new SlackApiClient({ baseUrl: emu.apiUrl }),
    });
    expect(source.workspace).toMatchObject({ enterpriseId: "E0000000001", isEnterpriseInstall: true });
    expect(source.workspace.teamId).toBeUndefined();
    for (const teamId of ["T0000000004", "T0000000005"]) {
      const r = await source.authorize({ enterpriseId: "E0000000001", teamId, isEnterpriseInstall: true });
      expect(r.botToken).toBe(reply.access_token);
    }
    await expect(source.authorize({ teamId: TEAM, isEnterpriseInstall: false })).rejects.toBeInstanceOf(
      NotInstalledError,
    );
  });

  it("a user token of another workspace is refused, naming both variables and neither value", async () => {
    const s = await setup();
    const other = await install(s.emu, { user_scope: "chat:write" }, { team: OTHER_TEAM });
    const error = await rejection(
      createSingleWorkspaceAuthorize({
        botToken: s.botToken,
        userToken: String(other.authed_user.access_token),
        api: new SlackApiClient({ baseUrl: s.emu.apiUrl }),
      }),
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/SLACK_USER_TOKEN belongs to another workspace .* than SLACK_BOT_TOKEN/);
    expect(error.message).not.toMatch(/xox/);
  });

  it("wrong kinds are refused before any network call, naming the variable and never the value", async () => {
    let calls = 0;
    const api = {
      authTest: async () => {
        calls++;
        return {};
      },
    };
    const fakeUser = `xoxp-${randomBytes(12).toString("hex")}`;
    const e1 = await rejection(createSingleWorkspaceAuthorize({ botToken: fakeUser, api }));
    expect(e1).toBeInstanceOf(TokenKindError);
    expect(e1.message).toMatch(/^SLACK_BOT_TOKEN holds a user token/);
    expect(e1.message).not.toContain(fakeUser.slice(5));
    const e2 = await rejection(
      createSingleWorkspaceAuthorize({
        botToken: `xoxb-${randomBytes(12).toString("hex")}`,
        userToken: `xoxb-${randomBytes(12).toString("hex")}`,
        api,
        variableNames: { userToken: "MY_USER_TOKEN" },
      }),
    );
    expect(e2).toBeInstanceOf(TokenKindError);
    expect(e2.message).toMatch(/^MY_USER_TOKEN holds a bot token/);
    expect(calls).toBe(0);
  });
});
