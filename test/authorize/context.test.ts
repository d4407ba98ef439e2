/**
 * `extractContext` against the payload shapes Slack documents (Events API wrappers, slash commands,
 * interactivity payloads), written after the examples on docs.slack.dev. Tokens are obvious fakes.
 */
import { describe, expect, it } from "vitest";
import { extractContext } from "../../src/authorize/context.js";

type J = Record<string, unknown>;

/** An Events API wrapper as documented (https://docs.slack.dev/apis/events-api/#callback-field). */
function eventWrapper(event: J, extra: J = {}): J {
  return {
    token: "fake-verification-token",
    team_id: "T123ABC456",
    api_app_id: "A123ABC456",
    event: { event_ts: "1234567890.123456", ...event },
    type: "event_callback",
    event_id: "Ev123ABC456",
    event_time: 1234567890,
    authorizations: [
      {
        enterprise_id: null,
        team_id: "T123ABC456",
        user_id: "U0BOTUSER1",
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
    event_context: "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
    ...extra,
  };
}

/** The slash command of slack-protocol.md §6 (Slack's signing example), parsed as the handler does. */
function command(fields: Record<string, string> = {}): J {
  const form = new URLSearchParams(
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
  );
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  return Object.fromEntries(form);
}

describe("extractContext: Events API", () => {
  it("takes team and enterprise from authorizations[0] and the user from the event", () => {
    const body = eventWrapper(
      { type: "app_mention", user: "U061F7AUR", text: "<@U0LAN0Z89> is it everything?", channel: "C0LAN2Q65" },
      {
        enterprise_id: "E0ABCDEF12",
        authorizations: [
          {
            enterprise_id: "E0ABCDEF12",
            team_id: "T123ABC456",
            user_id: "U0BOTUSER1",
            is_bot: true,
            is_enterprise_install: false,
          },
        ],
      },
    );
    expect(extractContext(body)).toStrictEqual({
      enterpriseId: "E0ABCDEF12",
      teamId: "T123ABC456",
      userId: "U061F7AUR",
      isEnterpriseInstall: false,
    });
  });

  it("shared channel: authorizations[0].team_id wins over the wrapper's team_id (the other workspace)", () => {
    const body = eventWrapper(
      {
        type: "message",
        channel: "C0SHARED01",
        user: "U0OTHERORG",
        text: "hello from the partner workspace",
        ts: "1355517523.000005",
        team: "T0PARTNER1",
      },
      {
        team_id: "T0PARTNER1",
        is_ext_shared_channel: true,
        authorizations: [
          {
            enterprise_id: null,
            team_id: "T0OURTEAM1",
            user_id: "U0BOTUSER1",
            is_bot: true,
            is_enterprise_install: false,
          },
        ],
      },
    );
    const ctx = extractContext(body);
    expect(ctx.teamId).toBe("T0OURTEAM1");
    expect(ctx.userId).toBe("U0OTHERORG");
    expect(ctx.isEnterpriseInstall).toBe(false);
    expect(ctx.enterpriseId).toBeUndefined();
  });

  it("never uses authorizations[0].user_id (the installation's user or bot) as the acting user", () => {
    const body = eventWrapper({ type: "reaction_added", user: "U0ACTOR001", reaction: "thumbsup" });
    expect(extractContext(body).userId).toBe("U0ACTOR001");
    const noUser = eventWrapper({ type: "app_uninstalled" });
    expect(extractContext(noUser).userId).toBeUndefined();
  });

  it("falls back to the wrapper's team_id / enterprise_id without authorizations (older deliveries)", () => {
    const body = eventWrapper({ type: "message", user: "U0ABC12345", text: "hi" }, { enterprise_id: "E0ABCDEF12" });
    delete body.authorizations;
    expect(extractContext(body)).toStrictEqual({
      enterpriseId: "E0ABCDEF12",
      teamId: "T123ABC456",
      userId: "U0ABC12345",
      isEnterpriseInstall: false,
    });
  });

  it("org-wide install: is_enterprise_install from authorizations, team_id null there → the wrapper's", () => {
    const body = eventWrapper(
      { type: "app_home_opened", user: "W0GRIDUSR1", channel: "D0APPHOME1", tab: "home" },
      {
        team_id: "T0GRIDWS01",
        enterprise_id: "E0GRIDORG1",
        authorizations: [
          {
            enterprise_id: "E0GRIDORG1",
            team_id: null,
            user_id: "W0BOTUSER1",
            is_bot: true,
            is_enterprise_install: true,
          },
        ],
      },
    );
    expect(extractContext(body)).toStrictEqual({
      enterpriseId: "E0GRIDORG1",
      teamId: "T0GRIDWS01",
      userId: "W0GRIDUSR1",
      isEnterpriseInstall: true,
    });
  });

  it("reads user objects (team_join, user_change) and channel/subteam creators", () => {
    const teamJoin = eventWrapper({ type: "team_join", user: { id: "U0NEWUSER1", team_id: "T123ABC456", name: "n" } });
    expect(extractContext(teamJoin).userId).toBe("U0NEWUSER1");
    const created = eventWrapper({
      type: "channel_created",
      channel: { id: "C0NEWCHAN1", name: "fun", created: 1360782804, creator: "U0CREATOR1" },
    });
    expect(extractContext(created).userId).toBe("U0CREATOR1");
    const subteam = eventWrapper({ type: "subteam_created", subteam: { id: "S0GROUP001", created_by: "U0GROUPER1" } });
    expect(extractContext(subteam).userId).toBe("U0GROUPER1");
  });

  it("tokens_revoked / app_uninstalled name the installation and no user", () => {
    const body = eventWrapper({ type: "tokens_revoked", tokens: { oauth: ["U0ABC12345"], bot: ["U0BOTUSER1"] } });
    expect(extractContext(body)).toStrictEqual({ teamId: "T123ABC456", isEnterpriseInstall: false });
  });

  it("app_rate_limited (no event): the wrapper's team", () => {
    const body = {
      token: "fake",
      type: "app_rate_limited",
      team_id: "T123ABC456",
      minute_rate_limited: 1518467820,
      api_app_id: "A123ABC456",
    };
    expect(extractContext(body)).toStrictEqual({ teamId: "T123ABC456", isEnterpriseInstall: false });
  });
});

describe("extractContext: slash commands", () => {
  it("reads team_id / user_id form fields (Slack's signing example)", () => {
    expect(extractContext(command())).toStrictEqual({
      teamId: "T1DC2JH3J",
      userId: "U2CERLKJA",
      isEnterpriseInstall: false,
    });
  });

  it('is_enterprise_install "true" is an org-wide install, "false" is not', () => {
    const grid = { enterprise_id: "E0GRIDORG1", enterprise_name: "Grid", team_id: "T0GRIDWS01", user_id: "W0GRIDUSR1" };
    expect(extractContext(command({ ...grid, is_enterprise_install: "true" }))).toStrictEqual({
      enterpriseId: "E0GRIDORG1",
      teamId: "T0GRIDWS01",
      userId: "W0GRIDUSR1",
      isEnterpriseInstall: true,
    });
    expect(extractContext(command({ ...grid, is_enterprise_install: "false" })).isEnterpriseInstall).toBe(false);
    // The string "false" is truthy: a naive Boolean() would get this wrong.
    expect(extractContext(command({ is_enterprise_install: "False" })).isEnterpriseInstall).toBe(false);
  });
});

describe("extractContext: interactivity payloads", () => {
  it("block_actions outside Grid (enterprise null)", () => {
    const payload = {
      type: "block_actions",
      team: { id: "T9TK3CUKW", domain: "example" },
      user: { id: "UA8RXUSPL", username: "jtorrance", team_id: "T9TK3CUKW" },
      api_app_id: "AABA1ABCD",
      token: "fake-verification-token",
      container: { type: "message", message_ts: "1548261231.000200", channel_id: "CBR2V3XEX", is_ephemeral: false },
      trigger_id: "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
      channel: { id: "CBR2V3XEX", name: "review-updates" },
      message: { type: "message", user: "U0MESSAGE1", text: "a message by someone else", ts: "1548261231.000200" },
      response_url: "https://hooks.slack.com/actions/AABA1ABCD/1232321423432/fake",
      actions: [{ action_id: "WaXA", block_id: "=qXel", value: "click_me_123", type: "button", action_ts: "1" }],
      is_enterprise_install: false,
      enterprise: null,
    };
    expect(extractContext(payload)).toStrictEqual({
      teamId: "T9TK3CUKW",
      userId: "UA8RXUSPL",
      isEnterpriseInstall: false,
    });
  });

  it("block_actions in a Grid workspace: enterprise from `enterprise`, or from team.enterprise_id", () => {
    const payload: J = {
      type: "block_actions",
      team: { id: "T0GRIDWS01", domain: "acme-eng", enterprise_id: "E0GRIDORG1", enterprise_name: "Acme" },
      user: { id: "W0GRIDUSR1", username: "judy", team_id: "T0GRIDWS01" },
      actions: [],
      is_enterprise_install: false,
      enterprise: { id: "E0GRIDORG1", name: "Acme" },
    };
    const expected = {
      enterpriseId: "E0GRIDORG1",
      teamId: "T0GRIDWS01",
      userId: "W0GRIDUSR1",
      isEnterpriseInstall: false,
    };
    expect(extractContext(payload)).toStrictEqual(expected);
    expect(extractContext({ ...payload, enterprise: null })).toStrictEqual(expected);
  });

  it("view_submission of an org-wide install: team null → user.team_id; is_enterprise_install true", () => {
    const payload = {
      type: "view_submission",
      team: null,
      user: { id: "W0GRIDUSR1", username: "judy", name: "judy", team_id: "T0GRIDWS01" },
      api_app_id: "A0APP00001",
      token: "fake-verification-token",
      trigger_id: "1.2.fake",
      view: {
        id: "V0VIEW0001",
        team_id: "T0GRIDWS01",
        type: "modal",
        callback_id: "modal-id",
        state: { values: { "input-block": { "input-action": { type: "plain_text_input", value: "hi" } } } },
      },
      response_urls: [],
      is_enterprise_install: true,
      enterprise: { id: "E0GRIDORG1", name: "Acme" },
    };
    expect(extractContext(payload)).toStrictEqual({
      enterpriseId: "E0GRIDORG1",
      teamId: "T0GRIDWS01",
      userId: "W0GRIDUSR1",
      isEnterpriseInstall: true,
    });
  });

  it("view_closed: from team and user", () => {
    const payload = {
      type: "view_closed",
      team: { id: "T0ABCDEF12", domain: "x" },
      user: { id: "U0ABCDEF12", team_id: "T0ABCDEF12" },
      view: { id: "V0VIEW0001", team_id: "T0ABCDEF12", callback_id: "modal-id" },
      is_cleared: false,
      is_enterprise_install: false,
      enterprise: null,
    };
    expect(extractContext(payload)).toStrictEqual({
      teamId: "T0ABCDEF12",
      userId: "U0ABCDEF12",
      isEnterpriseInstall: false,
    });
  });

  it("global shortcut", () => {
    const payload = {
      type: "shortcut",
      token: "fake-verification-token",
      action_ts: "1581106241.371594",
      team: { id: "TXXXXXXXX1", domain: "shortcuts-test" },
      user: { id: "UXXXXXXXX1", username: "aman", team_id: "TXXXXXXXX1" },
      callback_id: "shortcut_create_task",
      trigger_id: "944799105734.773906753841.38b5894552bdd4a780554ee59d1f3638",
      is_enterprise_install: false,
      enterprise: null,
    };
    expect(extractContext(payload)).toStrictEqual({
      teamId: "TXXXXXXXX1",
      userId: "UXXXXXXXX1",
      isEnterpriseInstall: false,
    });
  });

  it("message_action: the acting user, not the message's author", () => {
    const payload = {
      callback_id: "report_message",
      type: "message_action",
      trigger_id: "13345224609.8534564800.6f8ab1f53e13d0cd15f96106292d5536",
      response_url: "https://hooks.slack.com/app-actions/T0MJR11A4/21974584944/fake",
      team: { id: "T0MJRM1A7", domain: "pandamonium" },
      channel: { id: "D0LFFBKLZ", name: "cats" },
      user: { id: "U0D15K92L", name: "dr_maomao" },
      message: { type: "message", user: "U0G9QF9C6", text: "Let's make a pact.", ts: "1516229207.000133" },
    };
    expect(extractContext(payload)).toStrictEqual({
      teamId: "T0MJRM1A7",
      userId: "U0D15K92L",
      isEnterpriseInstall: false,
    });
  });

  it("options payloads: block_suggestion and the legacy dialog_suggestion", () => {
    const blockSuggestion = {
      type: "block_suggestion",
      user: { id: "UA8RXUSPL", name: "jtorrance", team_id: "T9TK3CUKW" },
      container: { type: "view", view_id: "VNM522E2U" },
      api_app_id: "AAD3351BQ",
      token: "fake-verification-token",
      action_id: "external_select",
      block_id: "select_block",
      value: "ab",
      team: { id: "T9TK3CUKW", domain: "example" },
      enterprise: null,
      is_enterprise_install: false,
    };
    expect(extractContext(blockSuggestion)).toStrictEqual({
      teamId: "T9TK3CUKW",
      userId: "UA8RXUSPL",
      isEnterpriseInstall: false,
    });
    const dialogSuggestion = {
      type: "dialog_suggestion",
      token: "fake-verification-token",
      action_ts: "1481670445.010908",
      team: { id: "T012AB0A1", domain: "pocket-calculator" },
      user: { id: "U012A1BCD", name: "musik" },
      channel: { id: "C012AB3CD", name: "bot-testing" },
      name: "external_data",
      value: "",
      callback_id: "bugs",
    };
    expect(extractContext(dialogSuggestion)).toStrictEqual({
      teamId: "T012AB0A1",
      userId: "U012A1BCD",
      isEnterpriseInstall: false,
    });
  });
});

describe("extractContext: anything else", () => {
  it("never throws and gives an empty context for shapes it does not know", () => {
    for (const body of [{}, { type: 42 }, { event: "x", authorizations: [null] }, { team: [], user: "x", type: "a" }]) {
      const ctx = extractContext(body as J);
      expect(ctx.isEnterpriseInstall).toBe(false);
      expect(ctx.teamId).toBeUndefined();
    }
    expect(extractContext(null as unknown as J)).toStrictEqual({ isEnterpriseInstall: false });
  });
});
