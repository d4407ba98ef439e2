/**
 * The log-grep test: capture ALL log output of full runs — the built server's stdout and stderr (its JSON
 * logger with debug on, and anything else it prints), the library loggers used in-process, and the
 * emulator's log — through an install, a token rotation, commands, an interaction, failures and an
 * uninstall; then grep it for every secret in play. None may appear: no `xox`, no client secret, no
 * signing secret, no OAuth code, no refresh token.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import type { Installation } from "../../src/model/installation.js";
import { applyRefreshResponse } from "../../src/model/parse.js";
import type { Logger } from "../../src/redact.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { freePort, runCli, spawnCli } from "../cli/cli-helpers.js";
import { install } from "../emulator/helpers.js";
import { callback, consent, startInstall } from "../oauth/flow-harness.js";

const dirs: string[] = [];
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every log line of every source, tagged with where it came from. */
class Capture {
  readonly lines: string[] = [];
  add(source: string, text: string): void {
    for (const l of text.split("\n")) if (l.trim()) this.lines.push(`[${source}] ${l}`);
  }
  logger(source: string): Logger {
    const f =
      (level: string) =>
      (m: string, ...a: unknown[]) =>
        this.add(source, `${level} ${m} ${a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" ")}`);
    return { debug: f("debug"), info: f("info"), warn: f("warn"), error: f("error") };
  }
  emulatorLogger(): { info(m: string): void; warn(m: string): void; error(m: string): void; debug(m: string): void } {
    return {
      info: (m) => this.add("emulator", m),
      warn: (m) => this.add("emulator", m),
      error: (m) => this.add("emulator", m),
      debug: (m) => this.add("emulator", m),
    };
  }
  text(): string {
    return this.lines.join("\n");
  }
}

/** Asserts that no secret (nor a long piece of one) appears anywhere in the captured logs. */
function expectClean(logs: string, secrets: string[]): void {
  const offending = logs.split("\n").filter((l) => /xox|xapp-/i.test(l));
  expect(offending, "log lines holding a Slack token prefix").toEqual([]);
  for (const s of secrets) {
    if (!s) continue;
    expect(logs.includes(s), `a secret of ${s.length} characters appears in the logs`).toBe(false);
    // A secret cut by a width limit or a partial mask still counts.
    if (s.length >= 24) expect(logs.includes(s.slice(-16)), "the end of a secret appears in the logs").toBe(false);
  }
}

async function signingEnv(emu: Emulator): Promise<Record<string, string>> {
  return {
    SLACK_SIGNING_SECRET: emu.app.signingSecret,
    SLACK_API_URL: emu.apiUrl,
    HOST: "127.0.0.1",
    SLACK_OAUTH_DEBUG: "1",
  };
}

describe("log-grep: no secret in any log", () => {
  it("the grep itself catches a leak (a test that cannot fail is a defect)", () => {
    const secret = `${Date.now()}abcdef0123456789abcdef`;
    expect(() => expectClean(`ok\n{"msg":"token xoxb-1-2-abc"}`, [])).toThrow();
    expect(() => expectClean(`ok\n{"msg":"xoxe-1-abcdef"}`, [])).toThrow();
    expect(() => expectClean(`ok\nsecret=${secret}`, [secret])).toThrow();
    expect(() => expectClean(`ok\ncut …${secret.slice(-16)}`, [secret])).toThrow();
    expect(() => expectClean("ok\n[bot-token] and ****", [secret])).not.toThrow();
  });

  it("multi-workspace: install, rotation, command, interaction, failures, uninstall", async () => {
    const capture = new Capture();
    const secrets: string[] = [];
    const port = await freePort();
    const appUrl = `http://127.0.0.1:${port}`;
    const emu = await startEmulator({
      appUrl,
      tokenRotation: true,
      tokenExpiresIn: 3600,
      logger: capture.emulatorLogger(),
    });
    cleanup.push(() => emu.close());
    secrets.push(emu.app.clientSecret, emu.app.signingSecret);
    const dir = mkdtempSync(join(tmpdir(), "sok-loggrep-"));
    dirs.push(dir);
    const dbPath = join(dir, "slack.db");

    const server = spawnCli(["serve"], {
      ...(await signingEnv(emu)),
      SLACK_CLIENT_ID: emu.app.clientId,
      SLACK_CLIENT_SECRET: emu.app.clientSecret,
      SLACK_AUTHORIZE_URL: emu.authorizeUrl,
      SLACK_REDIRECT_URI: `${appUrl}/slack/oauth_redirect`,
      SLACK_SCOPES: "commands,chat:write,incoming-webhook",
      SLACK_USER_SCOPES: "chat:write",
      DATABASE_URL: `sqlite:${dbPath}`,
      PORT: String(port),
    });
    cleanup.push(() => server.stop());
    await server.waitFor(/running on/);

    // 1. Install through the server, as a browser would.
    const started = await startInstall({ url: appUrl });
    const location = await consent(started.authorizeUrl, { team: "T0000000001", user: "U0000000001" });
    const code = location.searchParams.get("code") ?? "";
    expect(code).not.toBe("");
    secrets.push(code, started.state, started.cookie);
    const done = await callback(location, started.cookie);
    expect(done.status).toBe(200);
    // A replay of the same callback (a code in a URL that reaches the failure path and its log line).
    const replay = await callback(location, started.cookie);
    expect(replay.status).toBeGreaterThanOrEqual(400);
    // A denied install and a callback with a made-up code.
    const other = await startInstall({ url: appUrl });
    const denied = await consent(other.authorizeUrl, { team: "T0000000002", decision: "deny" });
    expect((await callback(denied, other.cookie)).status).toBeGreaterThanOrEqual(400);
    const fakeCode = `${Date.now()}.${Date.now()}.${"ab".repeat(32)}`;
    secrets.push(fakeCode);
    await callback(`${appUrl}/slack/oauth_redirect?code=${fakeCode}&state=nope`, "nope");

    const store = new SQLiteInstallationStore({ filename: dbPath });
    cleanup.push(() => store.close());
    const installed = await store.findInstallation({ teamId: "T0000000001", userId: "U0000000001" });
    expect(installed?.botToken).toMatch(/^xoxe\.xoxb-/);
    expect(installed?.userToken).toMatch(/^xoxe\.xoxp-/);
    const first = installed as Installation;
    for (const t of [first.botToken, first.botRefreshToken, first.userToken, first.userRefreshToken])
      secrets.push(t ?? "");
    secrets.push(first.incomingWebhookUrl ?? "");

    // 2. Token rotation: the tokens expire; a refresh job (another process's library code) renews them.
    emu.advanceClock(3700);
    const api = new SlackApiClient({ baseUrl: emu.apiUrl, logger: capture.logger("library:slack-api") });
    let next = first;
    for (const refreshToken of [first.botRefreshToken, first.userRefreshToken]) {
      const reply = await api.oauthV2Refresh({
        clientId: emu.app.clientId,
        clientSecret: emu.app.clientSecret,
        refreshToken: refreshToken ?? "",
      });
      next = applyRefreshResponse(next, reply as unknown as Record<string, unknown>);
    }
    await store.save(next);
    for (const t of [next.botToken, next.botRefreshToken, next.userToken, next.userRefreshToken]) secrets.push(t ?? "");
    expect(next.botToken).not.toBe(first.botToken);
    // A refresh with a used-up token fails: its error path is logged too.
    await expect(
      new SlackApiClient({ baseUrl: emu.apiUrl, logger: capture.logger("library:slack-api"), maxRetries: 0 }).authTest(
        first.botToken ?? "",
      ),
    ).rejects.toThrow(/token_expired|token_revoked/);

    // 3. Events: the command (with the refreshed token), the modal's submission, a failing views.open.
    const cmd = await emu.sendSlashCommand({ teamId: "T0000000001", command: "/open-modal", userId: "U0000000001" });
    expect(cmd.status).toBe(200);
    expect(emu.views()).toHaveLength(1);
    const submitted = await emu.sendInteraction({
      type: "view_submission",
      teamId: "T0000000001",
      userId: "U0000000001",
      payload: {
        view: {
          callback_id: "modal-id",
          state: { values: { "input-block": { "input-action": { type: "plain_text_input", value: "hello" } } } },
        },
      },
    });
    expect(submitted.status).toBe(200);
    emu.injectFault({ method: "views.open", error: "invalid_auth" });
    const failing = await emu.sendSlashCommand({ teamId: "T0000000001", command: "/open-modal" });
    expect(failing.body).toMatch(/no longer valid/);
    const unknown = await emu.sendSlashCommand({ teamId: "T0000000001", command: "/other" });
    expect(unknown.status).toBe(200);

    // 4. Uninstall: app_uninstalled + tokens_revoked delivered to the server.
    const gone = await emu.uninstall({ teamId: "T0000000001" });
    expect(gone.deliveries.length).toBeGreaterThan(0);
    expect(gone.deliveries.every((d) => d.ok)).toBe(true);
    await emu.idle();

    const stopped = await server.stop();
    expect(stopped.code).toBe(0);
    capture.add("server:stdout", server.stdout());
    capture.add("server:stderr", server.stderr());

    const logs = capture.text();
    // The capture saw the whole run (a test that greps nothing proves nothing).
    expect(logs).toMatch(/"path":"\/slack\/install"/);
    expect(logs).toMatch(/"path":"\/slack\/oauth_redirect","status":200/);
    expect(logs).toMatch(/modal-id submitted/);
    expect(logs).toMatch(/app_uninstalled: deleted every installation of T0000000001/);
    expect(logs).toMatch(/views\.open failed/);
    expect(logs).toMatch(/\[emulator\]/);
    expect(logs).toMatch(/\[library:slack-api\]/);
    expect(logs).toMatch(/"level":"debug"|"level":"error"/);
    expectClean(logs, secrets);
  }, 60_000);

  it("single-workspace: start, command, interaction, uninstall, then a start with the revoked token", async () => {
    const capture = new Capture();
    const port = await freePort();
    const appUrl = `http://127.0.0.1:${port}`;
    const emu = await startEmulator({ appUrl, logger: capture.emulatorLogger() });
    cleanup.push(() => emu.close());
    const reply = await install(emu, { user_scope: "chat:write" }, { team: "T0000000001", user: "U0000000001" });
    const botToken = String(reply.access_token);
    const userToken = String(reply.authed_user.access_token);
    const secrets = [botToken, userToken, emu.app.clientSecret, emu.app.signingSecret];
    const env = {
      ...(await signingEnv(emu)),
      SLACK_BOT_TOKEN: botToken,
      SLACK_USER_TOKEN: userToken,
      PORT: String(port),
    };
    const server = spawnCli(["serve"], env);
    cleanup.push(() => server.stop());
    await server.waitFor(/SINGLE-WORKSPACE/);
    expect((await emu.sendSlashCommand({ teamId: "T0000000001", command: "/open-modal" })).status).toBe(200);
    expect(emu.views()).toHaveLength(1);
    await emu.sendInteraction({
      type: "view_submission",
      teamId: "T0000000001",
      payload: { view: { callback_id: "modal-id", state: { values: {} } } },
    });
    emu.injectFault({ method: "views.open", error: "token_revoked" });
    await emu.sendSlashCommand({ teamId: "T0000000001", command: "/open-modal" });
    await emu.uninstall({ teamId: "T0000000001" });
    await emu.idle();
    await server.stop();
    capture.add("server:stdout", server.stdout());
    capture.add("server:stderr", server.stderr());
    // A start with the now revoked token.
    const again = await runCli(["serve"], { env });
    expect(again.code).toBe(2);
    capture.add("server2:stdout", again.stdout);
    capture.add("server2:stderr", again.stderr);

    const logs = capture.text();
    expect(logs).toMatch(/single-workspace mode: workspace T0000000001/);
    expect(logs).toMatch(/app_uninstalled/);
    expect(logs).toMatch(/SLACK_BOT_TOKEN was refused by Slack/);
    expectClean(logs, secrets);
  }, 60_000);
});
