import type {
  Authorize as BoltAuthorizeType,
  InstallationStore as BoltInstallationStoreType,
  Installation as BoltInstallationType,
} from "@slack/bolt";
import { App, LogLevel } from "@slack/bolt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthorize, NotInstalledError } from "../../src/authorize/authorize.js";
import {
  type BoltInstallation,
  fromBoltInstallation,
  toBoltAuthorize,
  toBoltInstallation,
  toBoltInstallationStore,
} from "../../src/bolt/index.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { installationFromV2Response } from "../../src/model/parse.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { install } from "../emulator/helpers.js";
import { freePort } from "../helpers/ports.js";

const TEAM = "T0000000001";

// Compile-time: our structural types are what Bolt's options accept.
const _storeFits = (s: ReturnType<typeof toBoltInstallationStore>): BoltInstallationStoreType => s;
const _authorizeFits = (a: ReturnType<typeof toBoltAuthorize>): BoltAuthorizeType<boolean> => a;
const _installationFits = (i: BoltInstallationType): BoltInstallation => i;
void _storeFits;
void _authorizeFits;
void _installationFits;

describe("toBoltInstallation / fromBoltInstallation", () => {
  it("round-trips Bolt's nested shape (rotation, webhook, org, metadata, authVersion)", () => {
    const b: BoltInstallation = {
      team: undefined,
      enterprise: { id: "E0000000001", name: "Acme Corp" },
      enterpriseUrl: "https://acme-org.enterprise.slack.com/",
      user: {
        token: "xoxe.xoxp-1-test",
        refreshToken: "xoxe-1-user",
        expiresAt: 1_900_000_000,
        scopes: ["identify"],
        id: "W0000000010",
      },
      bot: {
        token: "xoxe.xoxb-1-test",
        refreshToken: "xoxe-1-bot",
        expiresAt: 1_900_000_100,
        scopes: ["commands", "chat:write"],
        id: "B0000000001",
        userId: "W0000000099",
      },
      incomingWebhook: {
        url: "https://hooks.example.com/services/T/B/x",
        channel: "#general",
        channelId: "C0000000001",
        configurationUrl: "https://example.com/config",
      },
      appId: "A0000000001",
      tokenType: "bot",
      isEnterpriseInstall: true,
      authVersion: "v2",
      metadata: '{"from":"test"}',
    };
    const flat = fromBoltInstallation(b, 1_800_000_000);
    expect(flat).toMatchObject({
      enterpriseId: "E0000000001",
      botToken: "xoxe.xoxb-1-test",
      botTokenExpiresAt: 1_900_000_100,
      userRefreshToken: "xoxe-1-user",
      incomingWebhookChannelId: "C0000000001",
      isEnterpriseInstall: true,
      installedAt: 1_800_000_000,
    });
    expect(flat.teamId).toBeUndefined();
    expect(toBoltInstallation(flat)).toEqual(b);
  });
});

describe("a Bolt App on our SQLite store, against the emulator", () => {
  let emu: Emulator;
  let app: InstanceType<typeof App>;
  let url: string;
  const store = new SQLiteInstallationStore({ filename: ":memory:" });
  const seen: Array<string | undefined> = [];

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    emu = await startEmulator({ appUrl: url });
    app = new App({
      signingSecret: emu.app.signingSecret,
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      stateSecret: "test-state-secret-not-real",
      scopes: ["commands", "chat:write"],
      installationStore: toBoltInstallationStore(store),
      installerOptions: { authorizationUrl: emu.authorizeUrl, directInstall: true },
      clientOptions: { slackApiUrl: emu.apiUrl },
      logLevel: LogLevel.ERROR,
    });
    app.command("/hello", async ({ ack, context }) => {
      seen.push(context.botToken);
      await ack("hi");
    });
    await app.start(port);
  });

  afterAll(async () => {
    await app?.stop();
    await emu?.close();
    await store.close?.();
  });

  it("installs: Bolt's install path → consent → callback; the installation lands in our store", async () => {
    const install = await fetch(`${url}/slack/install`, { redirect: "manual" });
    await install.text();
    expect(install.status).toBe(302);
    const cookie = install.headers
      .getSetCookie()
      .find((c) => c.startsWith("slack-app-oauth-state="))
      ?.split(";")[0];
    expect(cookie).toBeDefined();
    const authorizeUrl = install.headers.get("location")!;
    expect(authorizeUrl.startsWith(emu.authorizeUrl)).toBe(true);
    const consent = await fetch(authorizeUrl, {
      method: "POST",
      body: new URLSearchParams({ team: TEAM, decision: "allow" }),
      redirect: "manual",
    });
    await consent.text();
    expect(consent.status).toBe(302);
    const back = new URL(consent.headers.get("location")!);
    expect(back.origin).toBe(url);
    const done = await fetch(back, { headers: { cookie: cookie! }, redirect: "manual" });
    const html = await done.text();
    expect(done.status, html).toBe(200);
    const saved = await store.findInstallation({ teamId: TEAM });
    expect(saved?.botToken).toMatch(/^xoxb-/);
    expect(saved?.botUserId).toBeTruthy();
    expect(saved?.customValues).toEqual({ bolt: { authVersion: "v2" } });
  });

  it("answers a signed slash command with the bot token our store returns", async () => {
    const answer = await emu.sendSlashCommand({ teamId: TEAM, command: "/hello" });
    expect(answer.status, answer.body).toBe(200);
    const saved = await store.findBot({ teamId: TEAM });
    expect(seen).toEqual([saved?.botToken]);
  });

  it("fetchInstallation for another user of the workspace gives the bot only; unknown workspaces throw", async () => {
    const bs = toBoltInstallationStore(store);
    const other = await bs.fetchInstallation({
      teamId: TEAM,
      enterpriseId: undefined,
      userId: "U0000000003",
      isEnterpriseInstall: false,
    });
    expect(other.bot?.token).toMatch(/^xoxb-/);
    expect(other.user.token).toBeUndefined();
    await expect(
      bs.fetchInstallation({ teamId: "T0000000002", enterpriseId: undefined, isEnterpriseInstall: false }),
    ).rejects.toThrow(/No installation/);
  });

  it("toBoltAuthorize presents createAuthorize as Bolt's authorize", async () => {
    const authorize = toBoltAuthorize(createAuthorize({ installationStore: store }));
    const saved = await store.findBot({ teamId: TEAM });
    const result = await authorize({
      teamId: TEAM,
      enterpriseId: undefined,
      userId: "U0000000002",
      isEnterpriseInstall: false,
    });
    expect(result).toMatchObject({ botToken: saved?.botToken, botUserId: saved?.botUserId, teamId: TEAM });
  });

  it("deleteInstallation without a user removes the workspace", async () => {
    const bs = toBoltInstallationStore(store);
    await bs.deleteInstallation({ teamId: TEAM, enterpriseId: undefined, isEnterpriseInstall: false });
    expect(await store.findInstallation({ teamId: TEAM })).toBeUndefined();
  });
});

describe("a Bolt App whose authorize is toBoltAuthorize(createAuthorize(...))", () => {
  let emu: Emulator;
  let app: InstanceType<typeof App>;
  const store = new SQLiteInstallationStore({ filename: ":memory:" });
  const seen: Array<string | undefined> = [];

  beforeAll(async () => {
    const port = await freePort();
    emu = await startEmulator({ appUrl: `http://127.0.0.1:${port}` });
    // Installed outside Bolt (e.g. by OAuthFlow): the emulator's oauth.v2.access reply, saved in our store.
    await store.save(installationFromV2Response(await install(emu)));
    app = new App({
      signingSecret: emu.app.signingSecret,
      authorize: toBoltAuthorize(createAuthorize({ installationStore: store })),
      clientOptions: { slackApiUrl: emu.apiUrl },
      logLevel: LogLevel.ERROR,
    });
    app.command("/open", async ({ ack, body, client, context }) => {
      seen.push(context.botToken);
      await client.views.open({
        trigger_id: body.trigger_id,
        view: { type: "modal", title: { type: "plain_text", text: "Hi" }, blocks: [] },
      });
      await ack();
    });
    await app.start(port);
  });

  afterAll(async () => {
    await app?.stop();
    await emu?.close();
    await store.close?.();
  });

  it("handles a signed slash command with our token and calls Slack with it (views.open)", async () => {
    const answer = await emu.sendSlashCommand({ teamId: TEAM, command: "/open" });
    expect(answer.status, answer.body).toBe(200);
    const bot = await store.findBot({ teamId: TEAM });
    expect(seen).toEqual([bot?.botToken]);
    expect(emu.views().length).toBe(1);
  });

  it("a workspace without an installation: toBoltAuthorize rejects with our NotInstalledError", async () => {
    const authorize = toBoltAuthorize(createAuthorize({ installationStore: store }));
    await expect(
      authorize({ teamId: "T0000000002", enterpriseId: undefined, isEnterpriseInstall: false }),
    ).rejects.toBeInstanceOf(NotInstalledError);
  });
});
