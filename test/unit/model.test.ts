import { describe, expect, it } from "vitest";
import { InvalidResponseError, toBot } from "../../src/index.js";
import {
  applyRefreshResponse,
  installationFromV1Response,
  installationFromV2Response,
  parseScopes,
} from "../../src/stores/index.js";

const NOW = 1_732_520_000.25;

const workspaceReply = {
  ok: true,
  access_token: "xoxb-17653672481-19874698323-fakefakefake",
  token_type: "bot",
  scope: "commands, incoming-webhook ,chat:write",
  bot_user_id: "U0KRQLJ9H",
  app_id: "A0KRD7HC3",
  team: { name: "Slack Softball Team", id: "T9TK3CUKW" },
  enterprise: { name: "slack-sports", id: "E12345678" },
  is_enterprise_install: false,
  authed_user: { id: "U1234", scope: "chat:write", access_token: "xoxp-1234-fake", token_type: "user" },
  incoming_webhook: {
    channel: "#general",
    channel_id: "C05002EAE",
    configuration_url: "https://workspacename.slack.com/services/BXXXXX",
    url: "https://hooks.slack.com/TXXXXX/BXXXXX/XXXXXXXXXX",
  },
};

describe("installationFromV2Response", () => {
  it("maps a workspace install with bot, user token and webhook", () => {
    const inst = installationFromV2Response(workspaceReply, { nowSeconds: () => NOW, authTest: { bot_id: "B111" } });
    expect(inst).toEqual({
      appId: "A0KRD7HC3",
      enterpriseId: "E12345678",
      enterpriseName: "slack-sports",
      teamId: "T9TK3CUKW",
      teamName: "Slack Softball Team",
      botToken: workspaceReply.access_token,
      botId: "B111",
      botUserId: "U0KRQLJ9H",
      botScopes: ["commands", "incoming-webhook", "chat:write"],
      userId: "U1234",
      userToken: "xoxp-1234-fake",
      userScopes: ["chat:write"],
      incomingWebhookUrl: "https://hooks.slack.com/TXXXXX/BXXXXX/XXXXXXXXXX",
      incomingWebhookChannel: "#general",
      incomingWebhookChannelId: "C05002EAE",
      incomingWebhookConfigurationUrl: "https://workspacename.slack.com/services/BXXXXX",
      isEnterpriseInstall: false,
      tokenType: "bot",
      installedAt: NOW,
      customValues: {},
    });
  });

  it("maps an org-wide install: no team, org URL from auth.test", () => {
    const inst = installationFromV2Response(
      {
        ok: true,
        access_token: "xoxb-XXXX",
        token_type: "bot",
        scope: "identify,users:read",
        bot_user_id: "W0XXXX",
        app_id: "A0UXXXX",
        team: null,
        enterprise: { id: "E1XXX", name: "Starship" },
        is_enterprise_install: true,
        authed_user: { id: "WXXXX", access_token: "xoxp-XXXX", scope: "", token_type: "user" },
      },
      { nowSeconds: () => NOW, authTest: { bot_id: "B9", url: "https://starship.enterprise.slack.com/" } },
    );
    expect(inst.teamId).toBeUndefined();
    expect(inst.enterpriseId).toBe("E1XXX");
    expect(inst.enterpriseUrl).toBe("https://starship.enterprise.slack.com/");
    expect(inst.isEnterpriseInstall).toBe(true);
    expect(inst.userScopes).toEqual([]);
    expect(inst.botId).toBe("B9");
  });

  it("maps a user-only install (no bot)", () => {
    const inst = installationFromV2Response(
      {
        ok: true,
        app_id: "A1",
        team: { id: "T1", name: "t" },
        enterprise: null,
        authed_user: { id: "U9", scope: "search:read", access_token: "xoxp-9", token_type: "user" },
      },
      { nowSeconds: () => NOW },
    );
    expect(inst.botToken).toBeUndefined();
    expect(inst.botScopes).toEqual([]);
    expect(inst.tokenType).toBe("user");
    expect(inst.enterpriseId).toBeUndefined();
    expect(inst.userToken).toBe("xoxp-9");
  });

  it("turns expires_in into absolute epoch seconds for both tokens", () => {
    const inst = installationFromV2Response(
      {
        ...workspaceReply,
        access_token: "xoxe.xoxb-1-abc",
        expires_in: 43200,
        refresh_token: "xoxe-1-bot",
        authed_user: { ...workspaceReply.authed_user, expires_in: 3600, refresh_token: "xoxe-1-user" },
      },
      { nowSeconds: () => NOW },
    );
    expect(inst.botTokenExpiresAt).toBe(Math.floor(NOW) + 43200);
    expect(inst.userTokenExpiresAt).toBe(Math.floor(NOW) + 3600);
    expect(inst.botRefreshToken).toBe("xoxe-1-bot");
    expect(inst.userRefreshToken).toBe("xoxe-1-user");
  });

  it("rejects replies with neither team nor enterprise, or no user", () => {
    expect(() => installationFromV2Response({ ok: true, authed_user: { id: "U1" } })).toThrow(InvalidResponseError);
    expect(() => installationFromV2Response({ ok: true, team: { id: "T1" } })).toThrow(/authed_user/);
  });

  it("keeps customValues as a copy", () => {
    const custom = { tenant: { id: 7 } };
    const inst = installationFromV2Response(workspaceReply, { customValues: custom });
    expect(inst.customValues).toEqual(custom);
    inst.customValues.extra = 1;
    expect(custom).not.toHaveProperty("extra");
  });
});

describe("installationFromV1Response", () => {
  it("maps a legacy install: user token on top, bot token nested", () => {
    const inst = installationFromV1Response(
      {
        ok: true,
        access_token: "xoxp-v1-user",
        scope: "incoming-webhook,commands,bot",
        team_name: "Team Installing Your Hook",
        team_id: "TXXXXXXXXX",
        enterprise_id: null,
        user_id: "UXXXXXXXX",
        incoming_webhook: { url: "https://hooks.slack.com/x", channel: "#channel", configuration_url: "https://c" },
        bot: { bot_user_id: "UTTTTTTTTTTR", bot_access_token: "xoxb-v1-bot" },
      },
      { nowSeconds: () => NOW },
    );
    expect(inst.userToken).toBe("xoxp-v1-user");
    expect(inst.botToken).toBe("xoxb-v1-bot");
    expect(inst.botUserId).toBe("UTTTTTTTTTTR");
    expect(inst.userScopes).toEqual(["incoming-webhook", "commands", "bot"]);
    expect(inst.enterpriseId).toBeUndefined();
    expect(inst.teamId).toBe("TXXXXXXXXX");
    expect(inst.incomingWebhookChannel).toBe("#channel");
  });
});

describe("applyRefreshResponse", () => {
  const base = installationFromV2Response(
    {
      ...workspaceReply,
      access_token: "xoxe.xoxb-1-old",
      refresh_token: "xoxe-1-oldbot",
      expires_in: 10,
      authed_user: {
        ...workspaceReply.authed_user,
        access_token: "xoxe.xoxp-1-old",
        refresh_token: "xoxe-1-olduser",
        expires_in: 10,
      },
    },
    { nowSeconds: () => NOW },
  );

  it("updates only the bot token fields on a bot refresh", () => {
    const next = applyRefreshResponse(
      base,
      {
        ok: true,
        access_token: "xoxe.xoxb-1-new",
        refresh_token: "xoxe-1-newbot",
        expires_in: 43200,
        token_type: "bot",
        scope: "chat:write",
      },
      { nowSeconds: () => NOW + 100 },
    );
    expect(next.botToken).toBe("xoxe.xoxb-1-new");
    expect(next.botRefreshToken).toBe("xoxe-1-newbot");
    expect(next.botTokenExpiresAt).toBe(Math.floor(NOW + 100) + 43200);
    expect(next.botScopes).toEqual(["chat:write"]);
    expect(next.userToken).toBe("xoxe.xoxp-1-old");
    expect(next.userRefreshToken).toBe("xoxe-1-olduser");
    expect(base.botToken).toBe("xoxe.xoxb-1-old");
  });

  it("updates only the user token fields on a user refresh", () => {
    const next = applyRefreshResponse(
      base,
      { ok: true, access_token: "xoxe.xoxp-1-new", refresh_token: "xoxe-1-nu", expires_in: 5, token_type: "user" },
      { nowSeconds: () => NOW },
    );
    expect(next.userToken).toBe("xoxe.xoxp-1-new");
    expect(next.botToken).toBe("xoxe.xoxb-1-old");
  });

  it("rejects a reply without a token", () => {
    expect(() => applyRefreshResponse(base, { ok: true })).toThrow(InvalidResponseError);
  });
});

describe("parseScopes / toBot", () => {
  it("trims and drops empties", () => {
    expect(parseScopes(" a, b ,,c ")).toEqual(["a", "b", "c"]);
    expect(parseScopes("a b")).toEqual(["a", "b"]);
    expect(parseScopes(undefined)).toEqual([]);
    expect(parseScopes("")).toEqual([]);
  });
  it("extracts the bot part, or nothing without a bot token", () => {
    const inst = installationFromV2Response(workspaceReply, { nowSeconds: () => NOW });
    const bot = toBot(inst);
    expect(bot?.botToken).toBe(workspaceReply.access_token);
    expect(bot).not.toHaveProperty("userToken");
    expect(toBot({ ...inst, botToken: undefined } as never)).toBeUndefined();
  });
});
