/**
 * Token hygiene at the door: each token's kind is checked by prefix where it enters (the environment), and
 * a wrong one is reported by variable and kind, never by value — in the library and through the CLI.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigProblems, inspectConfig, loadConfig } from "../../src/app/config.js";
import { TokenRejectedError } from "../../src/authorize/single-workspace.js";
import { ConfigError } from "../../src/errors.js";
import { redact } from "../../src/redact.js";
import { checkTokenKind, looksLikeSlackToken, TokenKindError, tokenKind } from "../../src/tokens.js";
import { runCli } from "../cli/cli-helpers.js";

const rnd = (n = 12) => randomBytes(n).toString("hex");
/** Fake tokens of every kind, generated per run (never real-looking constants in the code). */
const fake = {
  bot: () => `xoxb-${rnd(6)}-${rnd(6)}-${rnd(12)}`,
  user: () => `xoxp-${rnd(6)}-${rnd(6)}-${rnd(12)}`,
  rotatingBot: () => `xoxe.xoxb-1-${rnd(24)}`,
  rotatingUser: () => `xoxe.xoxp-1-${rnd(24)}`,
  refresh: () => `xoxe-1-${rnd(24)}`,
  app: () => `xapp-1-A${rnd(4)}-${rnd(6)}-${rnd(16)}`,
  workflow: () => `xwfp-${rnd(16)}`,
  legacy: () => `xoxa-2-${rnd(16)}`,
  session: () => `xoxs-${rnd(16)}`,
  garbage: () => `hunter2-${rnd(10)}`,
};
const secret = () => randomBytes(16).toString("hex");

describe("tokenKind", () => {
  it.each([
    [fake.bot(), "bot"],
    [fake.user(), "user"],
    [fake.rotatingBot(), "rotating-bot"],
    [fake.rotatingUser(), "rotating-user"],
    [fake.refresh(), "refresh"],
    [fake.app(), "app"],
    [fake.workflow(), "workflow"],
    [fake.legacy(), "legacy-workspace"],
    [fake.session(), "other-slack"],
    [fake.garbage(), "not-a-token"],
    ["", "empty"],
    ["   ", "empty"],
    [`"${fake.bot()}"`, "not-a-token"],
    [`${fake.bot()} ${rnd(4)}`, "not-a-token"],
    ["xoxb-", "not-a-token"],
    ["XOXB-abc", "not-a-token"],
  ])("case %# (the value stays out of the test name)", (value, kind) => {
    expect(tokenKind(value)).toBe(kind);
  });

  it("surrounding whitespace (a trailing newline from a secrets file) is ignored", () => {
    expect(tokenKind(`  ${fake.bot()}\n`)).toBe("bot");
    const t = fake.bot();
    expect(checkTokenKind(`${t}\n`, "bot", "SLACK_BOT_TOKEN")).toBe(t);
  });

  it("looksLikeSlackToken", () => {
    expect(looksLikeSlackToken(fake.app())).toBe(true);
    expect(looksLikeSlackToken(secret())).toBe(false);
    expect(looksLikeSlackToken(undefined)).toBe(false);
  });
});

describe("checkTokenKind", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["user token as the bot token", fake.user(), /SLACK_BOT_TOKEN holds a user token \(xoxp-\).*Bot User OAuth Token/],
    ["app-level token", fake.app(), /SLACK_BOT_TOKEN holds an app-level token \(xapp-\).*Socket Mode/],
    ["refresh token", fake.refresh(), /SLACK_BOT_TOKEN holds a refresh token \(xoxe-\).*cannot call Slack/],
    ["rotating token", fake.rotatingBot(), /SLACK_BOT_TOKEN holds a rotating bot token.*expire/],
    ["garbage", fake.garbage(), /SLACK_BOT_TOKEN is not a Slack token \(a \d+-character value\)/],
    ["quoted", `'${fake.bot()}'`, /wrapped in quotes/],
    ["empty", "", /SLACK_BOT_TOKEN is empty/],
  ];
  it.each(cases)("%s → TokenKindError naming the variable and the kind, never the value", (_name, value, message) => {
    let error: unknown;
    try {
      checkTokenKind(value, "bot", "SLACK_BOT_TOKEN");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenKindError);
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as TokenKindError;
    expect(e.code).toBe("SLACK_OAUTH_CONFIG_ERROR");
    expect(e.variable).toBe("SLACK_BOT_TOKEN");
    expect(e.expected).toEqual(["bot"]);
    expect(e.message).toMatch(message);
    // The CLI prints errors through the redaction helper: the message must survive it unchanged.
    expect(redact(e.message)).toBe(e.message);
    const text = `${e.message}\n${String(e)}\n${JSON.stringify(e)}\n${e.stack ?? ""}`;
    if (value.trim().length > 0) {
      expect(text).not.toContain(value.trim());
      // Not even the random part of it.
      expect(text).not.toContain(
        value
          .trim()
          .replace(/^['"]?x[a-z.]+-(?:1-)?/, "")
          .slice(0, 12),
      );
    }
  });

  it("accepts a list of kinds", () => {
    const t = fake.rotatingBot();
    expect(checkTokenKind(t, ["bot", "rotating-bot"], "BOT")).toBe(t);
  });

  it("a bot token given as the user token", () => {
    expect(() => checkTokenKind(fake.bot(), "user", "SLACK_USER_TOKEN")).toThrow(
      /SLACK_USER_TOKEN holds a bot token \(xoxb-\), but a user token \(xoxp-\) is needed/,
    );
  });
});

describe("messages survive the redaction helper unchanged (the CLI prints errors through it)", () => {
  it.each(["token_revoked", "invalid_auth", "not_authed", "account_inactive", "token_expired", "other_error"])(
    "TokenRejectedError %s",
    (code) => {
      const e = new TokenRejectedError("SLACK_BOT_TOKEN", code);
      expect(e.message).toMatch(new RegExp(`^SLACK_BOT_TOKEN was refused by Slack \\(auth\\.test: ${code}\\): `));
      expect(redact(e.message)).toBe(e.message);
    },
  );

  it("every configuration finding", () => {
    const envs: Array<Record<string, string>> = [
      { SLACK_BOT_TOKEN: fake.user() },
      { SLACK_BOT_TOKEN: fake.rotatingBot(), SLACK_USER_TOKEN: fake.refresh(), SLACK_CLIENT_SECRET: secret() },
      { SLACK_USER_TOKEN: fake.user() },
      { SLACK_CLIENT_ID: "x", SLACK_BOT_TOKEN: fake.bot(), SLACK_SIGNING_SECRET: fake.app() },
      { SLACK_CLIENT_ID: "1.2", SLACK_CLIENT_SECRET: "short", SLACK_SIGNING_SECRET: "also-short", PORT: "x" },
      { SLACK_APP_TOKEN: fake.bot(), SLACK_REDIRECT_URI: "nope" },
    ];
    let n = 0;
    for (const env of envs) {
      for (const f of inspectConfig(env).findings) {
        n++;
        expect(redact(f.message), f.message).toBe(f.message);
      }
    }
    expect(n).toBeGreaterThan(10);
  });
});

describe("loadConfig: tokens from the environment", () => {
  it("SLACK_BOT_TOKEN without SLACK_CLIENT_ID → single-workspace mode", () => {
    const bot = fake.bot();
    const user = fake.user();
    const signing = secret();
    const c = loadConfig({ SLACK_BOT_TOKEN: bot, SLACK_USER_TOKEN: user, SLACK_SIGNING_SECRET: signing });
    expect(c.sandbox).toBe(false);
    expect(c.singleWorkspace).toEqual({ botToken: bot, userToken: user });
    expect(c.signingSecret).toBe(signing);
    expect(c.warnings).toEqual([]);
  });

  it("single-workspace mode needs the signing secret", () => {
    expect(() => loadConfig({ SLACK_BOT_TOKEN: fake.bot() })).toThrow(
      /SLACK_SIGNING_SECRET is required with SLACK_BOT_TOKEN/,
    );
  });

  it("SLACK_BOT_TOKEN together with SLACK_CLIENT_ID is refused (one mode or the other)", () => {
    const bot = fake.bot();
    const e = (() => {
      try {
        loadConfig({
          SLACK_CLIENT_ID: "1111111111.2222222222",
          SLACK_CLIENT_SECRET: secret(),
          SLACK_SIGNING_SECRET: secret(),
          SLACK_BOT_TOKEN: bot,
        });
      } catch (error) {
        return error as ConfigProblems;
      }
      throw new Error("expected ConfigProblems");
    })();
    expect(e).toBeInstanceOf(ConfigProblems);
    expect(e.message).toMatch(/SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set/);
    expect(e.message).not.toContain(bot);
  });

  it("SLACK_USER_TOKEN alone is refused", () => {
    expect(() => loadConfig({ SLACK_USER_TOKEN: fake.user(), SLACK_SIGNING_SECRET: secret() })).toThrow(
      /SLACK_USER_TOKEN is set without SLACK_BOT_TOKEN/,
    );
  });

  it("a token pasted into a secret's variable is a problem naming the kind", () => {
    const bot = fake.bot();
    const { findings } = inspectConfig({
      SLACK_CLIENT_ID: "1111111111.2222222222",
      SLACK_CLIENT_SECRET: secret(),
      SLACK_SIGNING_SECRET: bot,
    });
    expect(findings).toEqual([
      expect.objectContaining({ variable: "SLACK_SIGNING_SECRET", level: "problem", code: "secret-is-token" }),
    ]);
    expect(JSON.stringify(findings)).not.toContain(bot);
  });

  it("SLACK_APP_TOKEN: an xapp- token is ignored with a warning; any other kind is a problem", () => {
    expect(inspectConfig({ SLACK_APP_TOKEN: fake.app() }).findings).toEqual([
      expect.objectContaining({ variable: "SLACK_APP_TOKEN", level: "warning" }),
    ]);
    expect(inspectConfig({ SLACK_APP_TOKEN: fake.bot() }).findings).toEqual([
      expect.objectContaining({ variable: "SLACK_APP_TOKEN", level: "problem", code: "token-kind" }),
    ]);
  });
});

describe("`slack-oauth-kit serve` with a token of the wrong kind: exit 2, the variable named, the value never printed", () => {
  const cases: Array<[string, Record<string, string>, string, RegExp]> = (() => {
    const user = fake.user();
    const app = fake.app();
    const refresh = fake.refresh();
    const garbage = fake.garbage();
    const botAsUser = fake.bot();
    const botAsSecret = fake.bot();
    const signing = secret();
    return [
      [
        "user token as SLACK_BOT_TOKEN",
        { SLACK_BOT_TOKEN: user, SLACK_SIGNING_SECRET: signing },
        user,
        /SLACK_BOT_TOKEN holds a user token/,
      ],
      [
        "xapp- token as SLACK_BOT_TOKEN",
        { SLACK_BOT_TOKEN: app, SLACK_SIGNING_SECRET: signing },
        app,
        /SLACK_BOT_TOKEN holds an app-level token/,
      ],
      [
        "refresh token as SLACK_BOT_TOKEN",
        { SLACK_BOT_TOKEN: refresh, SLACK_SIGNING_SECRET: signing },
        refresh,
        /SLACK_BOT_TOKEN holds a refresh token/,
      ],
      [
        "garbage as SLACK_BOT_TOKEN",
        { SLACK_BOT_TOKEN: garbage, SLACK_SIGNING_SECRET: signing },
        garbage,
        /SLACK_BOT_TOKEN is not a Slack token/,
      ],
      [
        "bot token as SLACK_USER_TOKEN",
        { SLACK_BOT_TOKEN: fake.bot(), SLACK_USER_TOKEN: botAsUser, SLACK_SIGNING_SECRET: signing },
        botAsUser,
        /SLACK_USER_TOKEN holds a bot token/,
      ],
      [
        "bot token as SLACK_SIGNING_SECRET",
        { SLACK_CLIENT_ID: "1111111111.2222222222", SLACK_CLIENT_SECRET: secret(), SLACK_SIGNING_SECRET: botAsSecret },
        botAsSecret,
        /SLACK_SIGNING_SECRET holds a bot token/,
      ],
    ];
  })();

  it.each(cases)("%s", async (_name, env, value, message) => {
    const r = await runCli(["serve"], { env: { ...env, PORT: "0", DATABASE_URL: "memory:" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    const all = `${r.stdout}${r.stderr}`;
    expect(all).not.toContain(value);
    expect(all).not.toContain(value.slice(-16));
    expect(r.stdout).not.toMatch(/running/);
  });
});
