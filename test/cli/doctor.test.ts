/**
 * `slack-oauth-kit doctor` as an operator runs it (the built CLI), against the emulator and a temporary
 * SQLite store: a good configuration passes; each kind of problem is listed with what to fix (exit 1).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { DoctorReport } from "../../src/cli/doctor.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { install } from "../emulator/helpers.js";
import { runCli } from "./cli-helpers.js";

const dirs: string[] = [];
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "sok-doctor-"));
  dirs.push(d);
  return d;
}

interface World {
  emu: Emulator;
  botToken: string;
  dbUrl: string;
  env: Record<string, string>;
  /** Every secret in play: none may ever be printed. */
  secrets: string[];
}

/** An emulator, a real install of T0000000001 saved in a migrated SQLite store, and a good environment. */
async function world(): Promise<World> {
  const emu = await startEmulator({ appUrl: "http://127.0.0.1:3999" });
  cleanup.push(() => emu.close());
  const reply = await install(emu, {}, { team: "T0000000001" });
  const dbPath = join(tempDir(), "slack.db");
  const store = new SQLiteInstallationStore({ filename: dbPath });
  await store.save({
    teamId: "T0000000001",
    botToken: String(reply.access_token),
    botUserId: String(reply.bot_user_id),
    botId: "B0000000001",
    botScopes: ["commands", "chat:write"],
    userId: String(reply.authed_user.id),
    userScopes: [],
    isEnterpriseInstall: false,
    installedAt: Date.now() / 1000,
    customValues: {},
  });
  await store.close();
  const env = {
    SLACK_CLIENT_ID: emu.app.clientId,
    SLACK_CLIENT_SECRET: emu.app.clientSecret,
    SLACK_SIGNING_SECRET: emu.app.signingSecret,
    SLACK_REDIRECT_URI: "https://app.example.com/slack/oauth_redirect",
    SLACK_API_URL: emu.apiUrl,
    SLACK_SCOPES: "commands,chat:write",
    DATABASE_URL: `sqlite:${dbPath}`,
  };
  return {
    emu,
    botToken: String(reply.access_token),
    dbUrl: `sqlite:${dbPath}`,
    env,
    secrets: [emu.app.clientSecret, emu.app.signingSecret, String(reply.access_token)],
  };
}

async function doctor(env: Record<string, string>, ...args: string[]) {
  const r = await runCli(["doctor", ...args], { env });
  return r;
}

async function doctorJson(env: Record<string, string>, ...args: string[]) {
  const r = await doctor(env, "--json", ...args);
  return { ...r, report: JSON.parse(r.stdout) as DoctorReport };
}

function expectNoSecret(text: string, secrets: string[]): void {
  for (const s of secrets) {
    expect(text).not.toContain(s);
    expect(text).not.toContain(s.slice(-12));
  }
}

describe("doctor: a good configuration", () => {
  it("multi-workspace: exit 0, every check ok (credentials, redirect URI, scopes, store, Slack, stored tokens)", async () => {
    const w = await world();
    const { code, report, stdout, stderr } = await doctorJson(w.env);
    expect(stderr).toBe("");
    expect(report.mode).toBe("multi-workspace");
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ["SLACK_CLIENT_ID", "ok"],
      ["SLACK_CLIENT_SECRET", "ok"],
      ["SLACK_SIGNING_SECRET", "ok"],
      ["SLACK_REDIRECT_URI", "ok"],
      ["SLACK_SCOPES", "ok"],
      ["store", "ok"],
      ["encryption", "ok"],
      ["slack", "ok"],
      ["tokens", "ok"],
    ]);
    expect(report.checks.find((c) => c.name === "tokens")?.message).toMatch(/^1 stored bot token\(s\) valid/);
    expect(code).toBe(0);
    expectNoSecret(stdout, w.secrets);
    expect(w.emu.calls("auth.test")).toEqual([expect.objectContaining({ teamId: "T0000000001", ok: true })]);
  });

  it("the text report: one line per check, and a verdict", async () => {
    const w = await world();
    const r = await doctor(w.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^slack-oauth-kit doctor: multi-workspace mode \(SLACK_CLIENT_ID is set\)/);
    expect(r.stdout).toMatch(/^ {2}ok {4}SLACK_CLIENT_SECRET +present, 32 hex characters$/m);
    expect(r.stdout).toMatch(/^ {2}ok {4}store +SQLite database .*slack\.db, schema version \d+$/m);
    expect(r.stdout).not.toMatch(/FAIL|WARN/);
    expect(r.stdout.trimEnd()).toMatch(/Everything looks right\.$/);
    expectNoSecret(r.stdout, w.secrets);
  });

  it("single-workspace: the token is checked with auth.test; the store is not used", async () => {
    const w = await world();
    const env = {
      SLACK_BOT_TOKEN: w.botToken,
      SLACK_SIGNING_SECRET: w.emu.app.signingSecret,
      SLACK_API_URL: w.emu.apiUrl,
    };
    const { code, report, stdout } = await doctorJson(env);
    expect(report.mode).toBe("single-workspace");
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ["SLACK_BOT_TOKEN", "ok"],
      ["SLACK_SIGNING_SECRET", "ok"],
      ["store", "skip"],
      ["auth.test", "ok"],
    ]);
    expect(report.checks.at(-1)?.message).toMatch(
      /SLACK_BOT_TOKEN is valid: workspace T0000000001 \(Northwind Traders\), bot B/,
    );
    expect(code).toBe(0);
    expectNoSecret(stdout, w.secrets);
  });

  it("--offline makes no call to Slack", async () => {
    const w = await world();
    const before = w.emu.calls().length;
    const { code, report } = await doctorJson(w.env, "--offline");
    expect(code).toBe(0);
    expect(report.checks.find((c) => c.name === "slack")).toEqual(expect.objectContaining({ status: "skip" }));
    expect(w.emu.calls()).toHaveLength(before);
  });
});

describe("doctor: encryption at rest", () => {
  it("counts plaintext tokens once a key is set, is clean after rekey, and fails without the key", async () => {
    const w = await world();
    const key = `k1:${randomBytes(32).toString("base64")}`;
    const check = (r: DoctorReport) => r.checks.find((c) => c.name === "encryption");
    const off = await doctorJson(w.env, "--offline");
    expect(check(off.report)).toMatchObject({
      status: "ok",
      message: expect.stringMatching(/^off .*1 token\(s\) stored in plaintext/),
    });
    const over = await doctorJson({ ...w.env, SLACK_TOKEN_ENCRYPTION_KEY: key }, "--offline");
    expect(check(over.report)).toMatchObject({
      status: "warn",
      message: expect.stringMatching(/^1 token\(s\) still stored in plaintext/),
    });
    expect(check(over.report)?.fix).toMatch(/slack-oauth-kit rekey/);
    const rekeyed = await runCli(["rekey"], { env: { DATABASE_URL: w.dbUrl, SLACK_TOKEN_ENCRYPTION_KEY: key } });
    expect(rekeyed.code, rekeyed.stderr).toBe(0);
    const on = await doctorJson({ ...w.env, SLACK_TOKEN_ENCRYPTION_KEY: key }, "--offline");
    expect(check(on.report)).toMatchObject({ status: "ok", message: 'on: 1 under key "k1"' });
    const missing = await doctorJson(w.env, "--offline");
    expect(check(missing.report)).toMatchObject({
      status: "fail",
      message: expect.stringContaining("SLACK_TOKEN_ENCRYPTION_KEY"),
    });
    expect(missing.code).toBe(1);
    expectNoSecret(missing.stdout + on.stdout + over.stdout, [...w.secrets, key]);
  });
});

describe("doctor: problems are listed with what to fix (exit 1)", () => {
  it("a badly shaped secret (32 hex expected): FAIL naming the variable, never the value", async () => {
    const w = await world();
    const odd = `not-hex-${randomBytes(9).toString("base64url")}`;
    const r = await doctor({ ...w.env, SLACK_CLIENT_SECRET: odd });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^ {2}FAIL {2}SLACK_CLIENT_SECRET +SLACK_CLIENT_SECRET should be 32 hex characters, got a \d+-character value$/m,
    );
    expect(r.stdout).toMatch(/fix: copy it again from the App Credentials of your app's settings/);
    expectNoSecret(r.stdout, [...w.secrets, odd]);
  });

  it("a token pasted as the signing secret, and a missing client secret", async () => {
    const w = await world();
    const { SLACK_CLIENT_SECRET: _dropped, ...env } = w.env;
    const r = await doctorJson({ ...env, SLACK_SIGNING_SECRET: w.botToken });
    expect(r.code).toBe(1);
    expect(r.report.checks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: "SLACK_CLIENT_SECRET",
          status: "fail",
          message: expect.stringMatching(/is required/),
        }),
        expect.objectContaining({
          name: "SLACK_SIGNING_SECRET",
          status: "fail",
          message: expect.stringMatching(/holds a bot token \(xoxb-\), not a secret/),
        }),
      ]),
    );
    expectNoSecret(r.stdout, w.secrets);
  });

  it("an http redirect URI on a public host", async () => {
    const w = await world();
    const r = await doctorJson({ ...w.env, SLACK_REDIRECT_URI: "http://app.example.com/slack/oauth_redirect" });
    expect(r.code).toBe(1);
    expect(r.report.checks.filter((c) => c.name === "SLACK_REDIRECT_URI")).toEqual([
      {
        name: "SLACK_REDIRECT_URI",
        status: "fail",
        message: expect.stringMatching(/uses http \(app\.example\.com\)/),
        fix: "use https://app.example.com/slack/oauth_redirect",
      },
    ]);
  });

  it("http on localhost is only a warning (fine against the emulator)", async () => {
    const w = await world();
    const r = await doctorJson({ ...w.env, SLACK_REDIRECT_URI: "http://localhost:3000/slack/oauth_redirect" });
    expect(r.code).toBe(0);
    expect(r.report.checks.find((c) => c.name === "SLACK_REDIRECT_URI")?.status).toBe("warn");
  });

  it("a redirect path other than /slack/oauth_redirect", async () => {
    const w = await world();
    const r = await doctor({ ...w.env, SLACK_REDIRECT_URI: "https://app.example.com/oauth/callback" });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /FAIL {2}SLACK_REDIRECT_URI +its path is \/oauth\/callback, but this server answers the OAuth callback at \/slack\/oauth_redirect/,
    );
    expect(r.stdout).toMatch(/fix: use https:\/\/app\.example\.com\/slack\/oauth_redirect/);
  });

  it("a redirect URI on another origin than PUBLIC_URL", async () => {
    const w = await world();
    const r = await doctorJson({ ...w.env, PUBLIC_URL: "https://other.example.com" });
    expect(r.code).toBe(1);
    expect(r.report.checks).toContainEqual(
      expect.objectContaining({
        name: "SLACK_REDIRECT_URI",
        status: "fail",
        message: expect.stringMatching(/PUBLIC_URL/),
      }),
    );
  });

  it("an unknown scope (with a suggestion), a Sign in with Slack scope, a classic scope; --known-scope accepts a new one", async () => {
    const w = await world();
    const r = await doctorJson({ ...w.env, SLACK_SCOPES: "commands,chat:wirte,openid,bot,brand-new:read" });
    expect(r.code).toBe(1);
    const scopes = r.report.checks.filter((c) => c.name === "SLACK_SCOPES");
    expect(scopes.map((c) => c.message)).toEqual([
      '"chat:wirte" is not a Slack scope (did you mean "chat:write"?)',
      '"openid" is a Sign in with Slack scope: it cannot be requested in an app install',
      '"bot" is a classic-app scope: this server installs with OAuth v2, which refuses it',
      expect.stringMatching(/^"brand-new:read" is not a Slack scope/),
    ]);
    expect(scopes.every((c) => c.status === "fail" && c.fix)).toBe(true);
    const known = await doctorJson(
      { ...w.env, SLACK_SCOPES: "commands,brand-new:read" },
      "--known-scope",
      "brand-new:read",
    );
    expect(known.code).toBe(0);
  });

  it("a store that cannot be read", async () => {
    const w = await world();
    const junk = join(tempDir(), "junk.db");
    writeFileSync(junk, "definitely not sqlite ".repeat(200));
    const r = await doctorJson({ ...w.env, DATABASE_URL: `sqlite:${junk}` });
    expect(r.code).toBe(1);
    expect(r.report.checks.find((c) => c.name === "store")).toEqual({
      name: "store",
      status: "fail",
      message: expect.stringMatching(/junk\.db cannot be read: file is not a database/),
      fix: expect.stringMatching(/check DATABASE_URL/),
    });
    expect(r.report.checks.find((c) => c.name === "tokens")?.status).toBe("skip");
  });

  it("a store that cannot be created (its directory is a file); --database-url wins over DATABASE_URL", async () => {
    const w = await world();
    const file = join(tempDir(), "a-file");
    writeFileSync(file, "x");
    const r = await doctorJson(w.env, "--database-url", `sqlite:${file}/sub/slack.db`);
    expect(r.code).toBe(1);
    expect(r.report.checks.find((c) => c.name === "store")).toMatchObject({
      status: "fail",
      message: expect.stringMatching(/cannot be created: .*a-file is not a directory/),
    });
  });

  it("an unreachable PostgreSQL server: the store check FAILS", async () => {
    const w = await world();
    const r = await doctorJson({ ...w.env, DATABASE_URL: `postgres://app:${randomBytes(6).toString("hex")}@db/app` });
    expect(r.code).toBe(1);
    expect(r.report.checks.find((c) => c.name === "store")).toMatchObject({ status: "fail" });
  });

  it("a stored token Slack revoked: FAIL with the command that removes it", async () => {
    const w = await world();
    await w.emu.revoke({ teamId: "T0000000001" });
    const r = await doctor(w.env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /FAIL {2}token T0000000001 +auth\.test: token_revoked: the app was uninstalled or its token revoked/,
    );
    expect(r.stdout).toMatch(/fix: remove it: slack-oauth-kit installations delete --team T0000000001/);
    expectNoSecret(r.stdout, w.secrets);
  });

  it("single-workspace: a revoked SLACK_BOT_TOKEN, named but never printed", async () => {
    const w = await world();
    await w.emu.revoke({ teamId: "T0000000001" });
    const env = {
      SLACK_BOT_TOKEN: w.botToken,
      SLACK_SIGNING_SECRET: w.emu.app.signingSecret,
      SLACK_API_URL: w.emu.apiUrl,
    };
    const r = await doctor(env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL {2}auth\.test +SLACK_BOT_TOKEN was refused by Slack \(auth\.test: token_revoked\)/);
    expectNoSecret(r.stdout, w.secrets);
  });

  it("single-workspace: a user token in SLACK_BOT_TOKEN (no call to Slack for it)", async () => {
    const w = await world();
    const user = `xoxp-${randomBytes(16).toString("hex")}`;
    const r = await doctorJson({
      SLACK_BOT_TOKEN: user,
      SLACK_SIGNING_SECRET: w.emu.app.signingSecret,
      SLACK_API_URL: w.emu.apiUrl,
    });
    expect(r.code).toBe(1);
    expect(r.report.checks[0]).toMatchObject({
      name: "SLACK_BOT_TOKEN",
      status: "fail",
      message: expect.stringMatching(/SLACK_BOT_TOKEN holds a user token/),
    });
    expect(r.report.checks.find((c) => c.name === "auth.test")?.status).toBe("skip");
    expect(r.stdout).not.toContain(user.slice(5));
  });

  it("Slack unreachable", async () => {
    const w = await world();
    const r = await doctorJson({ ...w.env, SLACK_API_URL: "http://127.0.0.1:9/api/" });
    expect(r.code).toBe(1);
    expect(r.report.checks.find((c) => c.name === "slack")).toMatchObject({
      status: "fail",
      message: expect.stringMatching(/does not answer/),
    });
  });

  it("everything wrong at once: every problem listed, with a fix each, and the verdict", async () => {
    const w = await world();
    const r = await doctor({
      ...w.env,
      SLACK_CLIENT_SECRET: "short",
      SLACK_REDIRECT_URI: "http://app.example.com/callback",
      SLACK_SCOPES: "commands,chat:wirte",
      DATABASE_URL: `sqlite:${join(tempDir(), "absent.db")}`,
    });
    expect(r.code).toBe(1);
    const fails = r.stdout.split("\n").filter((l) => /^ {2}FAIL/.test(l));
    expect(fails.length).toBeGreaterThanOrEqual(4);
    expect(r.stdout.match(/fix: /g)?.length ?? 0).toBeGreaterThanOrEqual(fails.length);
    expect(r.stdout).toMatch(
      /\d+ problem\(s\).*: fix the lines marked FAIL, then run `slack-oauth-kit doctor` again\./,
    );
  });
});

describe("doctor is read-only", () => {
  it("a missing database is a warning, and is not created", async () => {
    const w = await world();
    const path = join(tempDir(), "later.db");
    const r = await doctorJson({ ...w.env, DATABASE_URL: `sqlite:${path}` });
    expect(r.report.checks.find((c) => c.name === "store")).toMatchObject({
      status: "warn",
      message: expect.stringMatching(/does not exist yet; the server creates it at first start/),
    });
    expect(r.code).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it("an unmigrated database is reported as pending, and is left unmigrated", async () => {
    const w = await world();
    const path = join(tempDir(), "old.db");
    const db = new Database(path);
    db.exec("CREATE TABLE unrelated (x INTEGER)");
    db.close();
    const r = await doctorJson({ ...w.env, DATABASE_URL: `sqlite:${path}` });
    expect(r.report.checks.find((c) => c.name === "store")).toMatchObject({ status: "warn" });
    const after = new Database(path, { readonly: true });
    const tables = after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
    after.close();
    expect(tables).toEqual([{ name: "unrelated" }]);
  });
});

describe("doctor: help and usage", () => {
  it("--help: the usage with the exit codes, exit 0", async () => {
    const r = await runCli(["doctor", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: slack-oauth-kit doctor/);
    expect(r.stdout).toMatch(/Exit codes: 0 nothing to fix \(warnings allowed\), 1 something to fix/);
  });

  it("bad usage: exit 2", async () => {
    for (const args of [
      ["doctor", "--max-token-checks", "-1"],
      ["doctor", "extra"],
      ["doctor", "--client-secret", "x"],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(" ")).toBe(2);
    }
  });
});
