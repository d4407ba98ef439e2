/**
 * `slack-oauth-kit doctor` with SLACK_APPS_FILE (the built CLI): every app of the file is checked — its
 * fields and secrets, redirect URI, scopes, its partition of the store and its stored tokens — and each
 * line about an app is named after it. Two emulated apps installed into one workspace, each saved in its
 * own partition of one SQLite file.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DoctorReport } from "../../src/cli/doctor.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { installationFromV2Response } from "../../src/model/parse.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { api, authorize } from "../emulator/helpers.js";
import { runCli } from "./cli-helpers.js";

const TEAM = "T0000000001";

describe("doctor checks every app of SLACK_APPS_FILE", () => {
  let emu: Emulator;
  let dir = "";
  let env: Record<string, string> = {};
  let secrets: string[] = [];
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    emu = await startEmulator({
      name: "Alpha",
      appUrl: "https://slack.example.test",
      apps: [{ name: "Beta", appUrl: "https://slack.example.test" }],
    });
    const [a, b] = [emu.apps[0]!, emu.apps[1]!];
    dir = mkdtempSync(join(tmpdir(), "sok-doctor-apps-"));
    const dbPath = join(dir, "slack.db");
    // A in the default partition (it is the default app), B in its own.
    for (const [app, clientId] of [
      [a, undefined],
      [b, b.clientId],
    ] as const) {
      const code = await authorize(emu, { client_id: app.clientId, scope: "commands,chat:write" });
      const reply = (
        await api(emu, "oauth.v2.access", { client_id: app.clientId, client_secret: app.clientSecret, code })
      ).body;
      const store = new SQLiteInstallationStore({ filename: dbPath, clientId });
      await store.save(installationFromV2Response(reply));
      await store.close();
      tokens[app.appId] = String(reply.access_token);
    }
    const file = join(dir, "apps.json");
    writeFileSync(
      file,
      JSON.stringify({
        apps: [
          {
            name: "alpha",
            default: true,
            clientId: a.clientId,
            appId: a.appId,
            clientSecret: a.clientSecret,
            signingSecret: a.signingSecret,
            scopes: ["commands", "chat:write"],
            redirectUri: "https://slack.example.test/slack/alpha/oauth_redirect",
          },
          {
            name: "beta",
            clientId: b.clientId,
            appId: b.appId,
            clientSecret: { env: "BETA_CLIENT_SECRET" },
            signingSecret: { env: "BETA_SIGNING_SECRET" },
            scopes: ["commands", "chat:write", "chat:wrte"],
            redirectUri: "https://slack.example.test/slack/beta/oauth_redirect",
          },
        ],
      }),
    );
    chmodSync(file, 0o600);
    env = {
      SLACK_APPS_FILE: file,
      BETA_CLIENT_SECRET: b.clientSecret,
      BETA_SIGNING_SECRET: b.signingSecret,
      SLACK_API_URL: emu.apiUrl,
      DATABASE_URL: `sqlite:${dbPath}`,
    };
    secrets = [a.clientSecret, a.signingSecret, b.clientSecret, b.signingSecret, ...Object.values(tokens)];
  });

  afterAll(async () => {
    await emu?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const expectNoSecret = (text: string) => {
    for (const s of secrets) expect(text).not.toContain(s.slice(-12));
  };

  it("names each app's lines: its credentials, scopes, partition and tokens; a revoked token of B only", async () => {
    const [a, b] = [emu.apps[0]!, emu.apps[1]!];
    // B's token revoked at Slack, still in B's partition: only B is reported.
    await emu.revoke({ teamId: TEAM, appId: b.appId });
    const r = await runCli(["doctor", "--json"], { env });
    expectNoSecret(`${r.stdout}${r.stderr}`);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.apps).toStrictEqual(["alpha", "beta"]);
    const of = (name: string) => report.checks.filter((c) => c.name === name);
    expect(of("SLACK_APPS_FILE")[0]).toMatchObject({ status: "ok" });
    expect(of("app alpha").map((c) => c.status)).not.toContain("fail");
    expect(of("app alpha").map((c) => c.message)).toEqual(
      expect.arrayContaining([
        `client id ${a.clientId}, app id ${a.appId}; clientSecret and signingSecret present`,
        "redirectUri https, on /slack/alpha/oauth_redirect",
        expect.stringMatching(/^encryption: off/),
        expect.stringMatching(/^1 stored bot token\(s\) valid/),
      ]),
    );
    const betaFails = of("app beta").filter((c) => c.status === "fail");
    expect(betaFails.map((c) => c.message)).toEqual([
      expect.stringMatching(/^scopes: "chat:wrte" is not a Slack scope \(did you mean "chat:write"\?\)/),
      expect.stringMatching(/^token T0000000001: auth\.test: token_revoked/),
    ]);
    expect(betaFails[1]?.fix).toContain("installations delete --app beta --team T0000000001");

    // The text report starts with the apps.
    const text = await runCli(["doctor", "--offline"], { env });
    expect(text.stdout).toMatch(
      /^slack-oauth-kit doctor: multi-workspace mode, 2 app\(s\) from SLACK_APPS_FILE \(alpha, beta\)/,
    );
    expect(text.stdout).toMatch(/FAIL {2}app beta +scopes: "chat:wrte"/);
    expectNoSecret(`${text.stdout}${text.stderr}`);
  });

  it("a file problem names the app and the field (a missing secret), exit 1, nothing secret printed", async () => {
    const r = await runCli(["doctor", "--offline", "--json"], { env: { ...env, BETA_SIGNING_SECRET: "" } });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.checks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: "app beta",
          status: "fail",
          message: 'app "beta": signingSecret is missing: the environment variable BETA_SIGNING_SECRET is not set',
        }),
      ]),
    );
    expectNoSecret(r.stdout);
  });
});
