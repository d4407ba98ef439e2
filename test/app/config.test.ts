/** `loadConfig`: environment → server configuration, every problem listed, secrets never echoed. */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigProblems, inspectConfig, loadConfig } from "../../src/app/config.js";

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
});

describe("no accidental sandbox", () => {
  const key = () => `k1:${randomBytes(32).toString("base64")}`;
  const productionLike: Array<[string, Record<string, string>]> = [
    ["SLACK_CLIENT_SECRET", { SLACK_CLIENT_SECRET: fakeSecret() }],
    ["SLACK_SIGNING_SECRET", { SLACK_SIGNING_SECRET: fakeSecret() }],
    ["SLACK_TOKEN_ENCRYPTION_KEY", { SLACK_TOKEN_ENCRYPTION_KEY: key() }],
    ["DATABASE_URL", { DATABASE_URL: "postgres://app@db.internal:5432/app" }],
    ["PUBLIC_URL", { PUBLIC_URL: "https://slack.example.com" }],
    ["HOST", { HOST: "0.0.0.0" }],
  ];
  it.each(productionLike)("%s without SLACK_CLIENT_ID or SLACK_BOT_TOKEN stops the start, naming it", (name, env) => {
    const found = problems(env);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^${name} `));
    expect(found[0]).toMatch(/neither SLACK_CLIENT_ID nor SLACK_BOT_TOKEN is set/);
    expect(found[0]).toContain("SLACK_SANDBOX=1");
    // Secrets are never echoed (a host is not a secret).
    if (name.startsWith("SLACK_")) for (const v of Object.values(env)) expect(found[0]).not.toContain(v.slice(-12));
  });

  it("loopback PUBLIC_URL / HOST, memory:, and nothing at all: the sandbox, as before", () => {
    for (const env of [
      {},
      { PUBLIC_URL: "http://localhost:3000", HOST: "127.0.0.1" },
      { HOST: "::1" },
      { DATABASE_URL: "memory:" },
    ]) {
      expect(loadConfig(env).sandbox).toBe(true);
    }
  });

  it("SLACK_SANDBOX=1 asks for the sandbox with production-like settings, and refuses Slack credentials", () => {
    const c = loadConfig({ SLACK_SANDBOX: "1", DATABASE_URL: "sqlite:./data/sandbox.db", HOST: "0.0.0.0" });
    expect(c.sandbox).toBe(true);
    expect(c.clientId).toBeUndefined();
    for (const name of ["SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN"]) {
      const value =
        name === "SLACK_CLIENT_ID"
          ? "1234567890.1234567890"
          : name === "SLACK_BOT_TOKEN"
            ? `xoxb-1-${fakeSecret()}`
            : fakeSecret();
      const found = problems({ SLACK_SANDBOX: "1", [name]: value });
      expect(found.join("\n")).toMatch(
        new RegExp(`SLACK_SANDBOX=1 \\(or --sandbox\\) runs against the built-in emulator, but ${name} is set`),
      );
    }
  });
});

describe("REDIS_KEY_PREFIX", () => {
  it("sets the prefix of every Redis key; spaces or over 100 characters are refused", () => {
    const base = { SLACK_SANDBOX: "1", REDIS_URL: "redis://127.0.0.1:6379" };
    expect(loadConfig({ ...base, REDIS_KEY_PREFIX: "team-a:" }).redisKeyPrefix).toBe("team-a:");
    expect(loadConfig(base).redisKeyPrefix).toBeUndefined();
    for (const bad of ["a b", "x".repeat(101)])
      expect(() => loadConfig({ ...base, REDIS_KEY_PREFIX: bad })).toThrow(/REDIS_KEY_PREFIX must be 1-100 printable/);
  });

  it("a bad prefix is reported under its own finding code, and doctor's fix is about the prefix, not a URL", async () => {
    const base = { SLACK_SANDBOX: "1", REDIS_URL: "redis://127.0.0.1:6379", REDIS_KEY_PREFIX: "a b" };
    const findings = inspectConfig(base).findings.filter((f) => f.variable === "REDIS_KEY_PREFIX");
    expect(findings.map((f) => [f.level, f.code])).toStrictEqual([["problem", "redis-key-prefix"]]);
    const { runDoctor } = await import("../../src/cli/doctor.js");
    const report = await runDoctor(base, { offline: true, databaseUrl: "memory:" });
    const check = report.checks.find((c) => c.name === "REDIS_KEY_PREFIX");
    expect(check?.status).toBe("fail");
    expect(check?.fix).toMatch(/printable ASCII/);
  });
});

describe("DATABASE_MAX_CONNECTIONS", () => {
  const real = (extra: Record<string, string>) => ({
    SLACK_CLIENT_ID: "1111111111.2222222222",
    SLACK_CLIENT_SECRET: fakeSecret(),
    SLACK_SIGNING_SECRET: fakeSecret(),
    ...extra,
  });

  it("sizes the PostgreSQL / MySQL pools; out of 1-1000 or not a whole number is refused", () => {
    for (const url of ["postgres://db/app", "postgresql://db/app", "mysql://db/app", "mariadb://db/app"])
      expect(loadConfig(real({ DATABASE_URL: url, DATABASE_MAX_CONNECTIONS: "25" })).databaseMaxConnections).toBe(25);
    expect(loadConfig(real({ DATABASE_URL: "postgres://db/app" })).databaseMaxConnections).toBeUndefined();
    for (const bad of ["0", "1001", "2.5", "-3", "ten", "1e2"])
      expect(problems(real({ DATABASE_URL: "postgres://db/app", DATABASE_MAX_CONNECTIONS: bad })).join("\n")).toMatch(
        /DATABASE_MAX_CONNECTIONS must be a whole number of connections from 1 to 1000/,
      );
  });

  it("is ignored with a warning where there is no pool (SQLite, files, memory)", () => {
    for (const url of ["sqlite:./data/x.db", "file:./data/x", "memory:"]) {
      const c = loadConfig(real({ DATABASE_URL: url, DATABASE_MAX_CONNECTIONS: "5" }));
      expect(c.databaseMaxConnections).toBeUndefined();
      expect(c.warnings.join("\n")).toMatch(
        /DATABASE_MAX_CONNECTIONS is set but DATABASE_URL is not a PostgreSQL or MySQL/,
      );
    }
  });

  it("a bad value has its own finding code and doctor's fix", async () => {
    const env = real({ DATABASE_URL: "postgres://db/app", DATABASE_MAX_CONNECTIONS: "0" });
    const findings = inspectConfig(env).findings.filter((f) => f.variable === "DATABASE_MAX_CONNECTIONS");
    expect(findings.map((f) => [f.level, f.code])).toStrictEqual([["problem", "database-max-connections"]]);
    const { runDoctor } = await import("../../src/cli/doctor.js");
    const report = await runDoctor(env, { offline: true, databaseUrl: "memory:" });
    const check = report.checks.find((c) => c.name === "DATABASE_MAX_CONNECTIONS");
    expect(check?.status).toBe("fail");
    expect(check?.fix).toMatch(/from 1 to 1000/);
  });
});
