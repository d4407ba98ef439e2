/** `loadConfig`: environment → server configuration, every problem listed, secrets never echoed. */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigProblems, loadConfig } from "../../src/app/config.js";

/** Fake credentials, generated per run (never real-looking constants in the code). */
const fakeSecret = () => randomBytes(16).toString("hex");

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigProblems);
    return (error as ConfigProblems).problems;
  }
  throw new Error("expected ConfigProblems");
}

describe("loadConfig", () => {
  it("no SLACK_CLIENT_ID → sandbox mode with the documented defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      sandbox: true,
      port: 3000,
      host: "127.0.0.1",
      scopes: ["commands", "chat:write"],
      userScopes: [],
      apiUrl: "https://slack.com/api/",
      authorizeUrl: "https://slack.com/oauth/v2/authorize",
      oidcBaseUrl: "https://slack.com",
      databaseUrl: "sqlite:./data/slack-oauth-kit.db",
    });
    expect(c.clientId).toBeUndefined();
    expect(c.warnings).toEqual([]);
  });

  it("real mode reads every variable", () => {
    const secret = fakeSecret();
    const signing = fakeSecret();
    const c = loadConfig({
      SLACK_CLIENT_ID: "1111111111.2222222222",
      SLACK_CLIENT_SECRET: secret,
      SLACK_SIGNING_SECRET: signing,
      SLACK_SCOPES: "commands, chat:write  incoming-webhook",
      SLACK_USER_SCOPES: "search:read",
      SLACK_REDIRECT_URI: "https://app.example.com/slack/oauth_redirect",
      SLACK_API_URL: "http://127.0.0.1:9999/api/",
      DATABASE_URL: "sqlite:/tmp/x.db",
      PORT: "8080",
      HOST: "0.0.0.0",
    });
    expect(c).toMatchObject({
      sandbox: false,
      clientId: "1111111111.2222222222",
      clientSecret: secret,
      signingSecret: signing,
      scopes: ["commands", "chat:write", "incoming-webhook"],
      userScopes: ["search:read"],
      redirectUri: "https://app.example.com/slack/oauth_redirect",
      apiUrl: "http://127.0.0.1:9999/api/",
      databaseUrl: "sqlite:/tmp/x.db",
      port: 8080,
      host: "0.0.0.0",
    });
    expect(c.warnings).toEqual([]);
  });

  it("PORT=0 means any free port; an empty PORT means the default", () => {
    expect(loadConfig({ PORT: "0" }).port).toBe(0);
    expect(loadConfig({ PORT: "" }).port).toBe(3000);
  });

  it.each(["abc", "-1", "65536", "3000.5", "0x10", "1e3", "80 80"])("bad PORT %j → ConfigProblems", (port) => {
    expect(problems({ PORT: port }).join("\n")).toMatch(/PORT must be an integer 0-65535/);
  });

  it.each(["chat write!", "commands,bad&scope", "x=y"])("bad scopes %j → ConfigProblems", (scopes) => {
    expect(problems({ SLACK_SCOPES: scopes }).join("\n")).toMatch(/is not a Slack scope/);
  });

  it("a bad user scope is reported too", () => {
    expect(problems({ SLACK_USER_SCOPES: "search:read,<script>" }).join("\n")).toMatch(/is not a Slack scope/);
  });

  it("client id without secrets → one problem per missing secret, all listed at once", () => {
    const p = problems({ SLACK_CLIENT_ID: "1111111111.2222222222", PORT: "nope" });
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/SLACK_CLIENT_SECRET is required/),
        expect.stringMatching(/SLACK_SIGNING_SECRET is required/),
        expect.stringMatching(/PORT/),
      ]),
    );
    expect(p).toHaveLength(3);
  });

  it("invalid URLs → ConfigProblems", () => {
    const p = problems({ SLACK_API_URL: "not a url", SLACK_REDIRECT_URI: "ftp://x/y" });
    expect(p.join("\n")).toMatch(/SLACK_API_URL is not a valid URL/);
    expect(p.join("\n")).toMatch(/SLACK_REDIRECT_URI must be an http\(s\) URL/);
  });

  it("secrets are never echoed, in problems or warnings", () => {
    const oddSecret = `not-hex-${randomBytes(12).toString("base64url")}`;
    const oddSigning = `also-odd-${randomBytes(12).toString("base64url")}`;
    // Warnings (odd-looking secrets) mention the variable, never the value.
    const c = loadConfig({
      SLACK_CLIENT_ID: "1111111111.2222222222",
      SLACK_CLIENT_SECRET: oddSecret,
      SLACK_SIGNING_SECRET: oddSigning,
    });
    expect(c.warnings.join("\n")).toMatch(/SLACK_CLIENT_SECRET should be 32 hex characters/);
    expect(c.warnings.join("\n")).not.toContain(oddSecret);
    expect(c.warnings.join("\n")).not.toContain(oddSigning);
    expect(c.warnings.join("\n")).not.toContain(oddSecret.slice(0, 10));
    // Problems alongside a secret: the message holds no secret either.
    try {
      loadConfig({ SLACK_CLIENT_ID: "1111111111.2222222222", SLACK_CLIENT_SECRET: oddSecret, PORT: "x" });
      throw new Error("expected ConfigProblems");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigProblems);
      const text = `${(error as Error).message}\n${String(error)}\n${JSON.stringify(error)}`;
      expect(text).toMatch(/SLACK_SIGNING_SECRET is required/);
      expect(text).not.toContain(oddSecret);
    }
  });

  it("secrets without a client id → a warning that they are ignored (sandbox mode)", () => {
    const secret = fakeSecret();
    const c = loadConfig({ SLACK_CLIENT_SECRET: secret });
    expect(c.sandbox).toBe(true);
    expect(c.warnings.join("\n")).toMatch(/SLACK_CLIENT_ID is not: running in sandbox mode/);
    expect(c.warnings.join("\n")).not.toContain(secret);
    expect(c.clientSecret).toBeUndefined();
  });
});
