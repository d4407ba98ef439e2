/**
 * `slack-oauth-kit rotate` as cron runs it: the built CLI in child processes, over a SQLite file, against
 * the emulator.
 */
import { spawn } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Progress, parseDuration } from "../../src/cli/rotate.js";
import { installationFromV2Response } from "../../src/model/index.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { authorize as consentCode } from "../emulator/helpers.js";
import { api, closeAll, install, openStore, ROOT, refreshCalls, rotatingEmulator, teamOf, userOf } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await closeAll();
});

const now = () => Math.floor(Date.now() / 1000);

function runCli(args: string[], env: Record<string, string | undefined>) {
  const full: Record<string, string | undefined> = { ...process.env, ...env };
  for (const k of ["DATABASE_URL", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_API_URL"]) {
    if (!(k in env)) delete full[k];
  }
  const child = spawn(process.execPath, ["bin/slack-oauth-kit.js", "rotate", ...args], {
    cwd: ROOT,
    env: full as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
}

/** `n` installations (bot + installer's user token, 12 h tokens) in a SQLite file. */
async function setup(n: number) {
  const emu = await rotatingEmulator(n);
  const s = await openStore("sqlite");
  cleanups.push(s.cleanup);
  for (let i = 1; i <= n; i++) await s.store.save((await install(emu, i)).installation);
  const env = {
    SLACK_CLIENT_ID: emu.app.clientId,
    SLACK_CLIENT_SECRET: emu.app.clientSecret,
    SLACK_API_URL: emu.apiUrl,
  };
  return { emu, ...s, env };
}

/** Makes stored tokens look as if they expire in 10 minutes. */
async function due(store: InstallationStore, bots: number[], users: number[] = []) {
  for (const i of bots) await store.updateTokens!({ teamId: teamOf(i) }, { botTokenExpiresAt: now() + 600 });
  for (const i of users)
    await store.updateTokens!({ teamId: teamOf(i), userId: userOf(i, 1) }, { userTokenExpiresAt: now() + 600 });
}

describe("slack-oauth-kit rotate", () => {
  it("dry run lists what is due; a run refreshes exactly that, prints a summary and exits 0", async () => {
    const { emu, store, spec, env } = await setup(6);
    await due(store, [1, 2, 3], [4]);
    const before = await store.findBot({ teamId: teamOf(1) });

    const dry = await runCli(["--dry-run", "--json", "--database-url", spec], {});
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.rotation).toMatchObject({ workspaces: 6, tokens: 12, due: 4, failed: 0, counts: { due: 4 } });
    expect(plan.rotation.items.map((i: { kind: string; teamId: string }) => `${i.kind}:${i.teamId}`)).toEqual([
      `bot:${teamOf(1)}`,
      `bot:${teamOf(2)}`,
      `bot:${teamOf(3)}`,
      `user:${teamOf(4)}`,
    ]);
    expect(refreshCalls(emu).total).toBe(0);
    expect(dry.stdout).not.toMatch(/xox/);

    const run = await runCli(["--database-url", spec, "--window", "1h"], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("Tokens expiring within 1h");
    expect(run.stdout).toContain("workspaces: 6, due: 4 of 12 tokens");
    expect(run.stdout).toContain("refreshed: 4");
    expect(run.stdout).not.toMatch(/xox|failed/);
    expect(run.stderr).toMatch(/^rotate: 0\/4$/m); // not a terminal: plain progress lines
    expect(run.stderr).toMatch(/^rotate: 4\/4$/m);
    expect(refreshCalls(emu)).toMatchObject({ total: 4, ok: 4, bot: 3, user: 1 });
    const after = await store.findBot({ teamId: teamOf(1) });
    expect(after?.botToken).not.toBe(before?.botToken);
    expect((await api(emu, "auth.test", {}, { token: after!.botToken })).body.ok).toBe(true);

    // Nothing is due any more.
    const again = await runCli(["--database-url", spec, "--json"], env);
    expect(JSON.parse(again.stdout).rotation).toMatchObject({ due: 0, failed: 0 });
    expect(refreshCalls(emu).total).toBe(4);
  }, 30_000);

  it("--app NAME refreshes that app's tokens with the apps file's credentials; the other app's stay as they were", async () => {
    const emu = await rotatingEmulator(1, { apps: [{ name: "second", tokenRotation: true }] });
    const s = await openStore("sqlite");
    cleanups.push(s.cleanup);
    const [main, second] = [emu.apps[0]!, emu.apps[1]!];
    // Both apps installed into the same workspace by the same user: the main app in the default partition.
    await s.store.save((await install(emu, 1)).installation);
    const code = await consentCode(
      emu,
      { client_id: second.clientId, scope: "commands,chat:write" },
      { team: teamOf(1), user: userOf(1, 1) },
    );
    const reply = await api(emu, "oauth.v2.access", {
      client_id: second.clientId,
      client_secret: second.clientSecret,
      code,
    });
    expect(reply.body.ok, JSON.stringify(reply.body.error)).toBe(true);
    const other = new SQLiteInstallationStore({ filename: join(s.dir, "app.db"), clientId: second.clientId });
    cleanups.push(async () => other.close());
    await other.save(installationFromV2Response(reply.body));
    await due(s.store, [1]);
    await due(other, [1]);
    const apps = join(s.dir, "apps.json");
    writeFileSync(
      apps,
      JSON.stringify({
        apps: [
          {
            name: "main",
            default: true,
            clientId: main.clientId,
            appId: main.appId,
            clientSecret: main.clientSecret,
            signingSecret: main.signingSecret,
          },
          {
            name: "second",
            clientId: second.clientId,
            appId: second.appId,
            clientSecret: second.clientSecret,
            signingSecret: second.signingSecret,
          },
        ],
      }),
    );
    chmodSync(apps, 0o600);
    const mainBefore = await s.store.findBot({ teamId: teamOf(1) });
    const secondBefore = await other.findBot({ teamId: teamOf(1) });

    // SLACK_CLIENT_ID/SECRET name the main app: --app second uses second's own from the apps file.
    const env = { SLACK_CLIENT_ID: main.clientId, SLACK_CLIENT_SECRET: main.clientSecret, SLACK_API_URL: emu.apiUrl };
    const run = await runCli(["--database-url", s.spec, "--app", "second", "--apps-file", apps, "--json"], env);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.app).toEqual({ name: "second", clientId: second.clientId, defaultPartition: false });
    expect(report.rotation).toMatchObject({ workspaces: 1, due: 1, failed: 0, counts: { refreshed: 1 } });
    // One refresh, accepted: the emulator refuses a refresh token presented with another app's credentials.
    expect(refreshCalls(emu)).toMatchObject({ total: 1, ok: 1, bot: 1, failed: 0 });
    const secondAfter = await other.findBot({ teamId: teamOf(1) });
    expect(secondAfter?.botToken).not.toBe(secondBefore?.botToken);
    expect((await api(emu, "auth.test", {}, { token: secondAfter!.botToken })).body.ok).toBe(true);
    expect(await s.store.findBot({ teamId: teamOf(1) })).toStrictEqual(mainBefore);
    expect(run.stdout + run.stderr).not.toContain(second.clientSecret);
  }, 30_000);

  it("exits 1 when a refresh fails, and says which and why; the others are refreshed", async () => {
    const { emu, store, spec, env } = await setup(3);
    await due(store, [1, 2]);
    const bot2 = await store.findBot({ teamId: teamOf(2) });
    // Workspace 2's refresh token was spent elsewhere (single-use, no grace): Slack refuses it now.
    const spent = await api(emu, "oauth.v2.access", {
      client_id: env.SLACK_CLIENT_ID,
      client_secret: env.SLACK_CLIENT_SECRET,
      grant_type: "refresh_token",
      refresh_token: bot2!.botRefreshToken!,
    });
    expect(spent.body.ok).toBe(true);

    const run = await runCli(["--database-url", spec, "--json"], env);
    expect(run.code).toBe(1);
    const { rotation } = JSON.parse(run.stdout);
    expect(rotation).toMatchObject({ due: 2, failed: 1, counts: { refreshed: 1, failed: 1 } });
    const failure = rotation.items.find((i: { status: string }) => i.status === "failed");
    expect(failure).toMatchObject({
      kind: "bot",
      teamId: teamOf(2),
      error: { code: "SLACK_OAUTH_TOKEN_REFRESH_FAILED", reason: "invalid_refresh_token", retryable: false },
    });
    expect(await store.findBot({ teamId: teamOf(2) })).toStrictEqual(bot2); // unchanged
    expect(run.stdout).not.toMatch(/xox/);

    const text = await runCli(["--database-url", spec], env);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`bot  ${teamOf(2)}: invalid_refresh_token (needs a reinstall)`);
    expect(text.stderr).toContain("(1 failed)");
  }, 30_000);

  it("two rotate processes at once (cron on two hosts) refresh each token exactly once", async () => {
    const n = 20;
    const { emu, store, spec, env } = await setup(n);
    await due(
      store,
      Array.from({ length: n }, (_, k) => k + 1),
    );
    // Slow refreshes, so that both runs are at work at the same time.
    emu.injectFault({ method: "oauth.v2.access", latencyMs: 40, count: 1000 });
    const [a, b] = await Promise.all([
      runCli(["--database-url", spec, "--json", "--concurrency", "3"], env),
      runCli(["--database-url", spec, "--json", "--concurrency", "3"], env),
    ]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    const ra = JSON.parse(a.stdout).rotation;
    const rb = JSON.parse(b.stdout).rotation;
    expect(refreshCalls(emu)).toMatchObject({ total: n, ok: n, bot: n, failed: 0 });
    expect((ra.counts.refreshed ?? 0) + (rb.counts.refreshed ?? 0)).toBe(n);
    expect(ra.failed + rb.failed).toBe(0);
    for (let i = 1; i <= n; i++) {
      const bot = await store.findBot({ teamId: teamOf(i) });
      expect(bot!.botTokenExpiresAt! - now()).toBeGreaterThan(40_000);
    }
  }, 30_000);

  it("takes credentials from the environment only, and checks its options (exit 2)", async () => {
    const { spec } = await setup(1);
    const noCreds = await runCli(["--database-url", spec], {});
    expect(noCreds.code).toBe(2);
    expect(noCreds.stderr).toContain("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET");
    expect((await runCli(["--client-secret", "x", "--database-url", spec], {})).code).toBe(2);
    expect((await runCli(["--window", "soon", "--dry-run", "--database-url", spec], {})).code).toBe(2);
    expect((await runCli(["--concurrency", "0", "--dry-run", "--database-url", spec], {})).code).toBe(2);
  }, 30_000);

  it("converts long-lived tokens with --convert-long-lived", async () => {
    const emu = await rotatingEmulator(2, { tokenRotation: false });
    const s = await openStore("sqlite");
    cleanups.push(s.cleanup);
    for (const i of [1, 2]) await s.store.save((await install(emu, i)).installation);
    emu.updateApp({ tokenRotation: true });
    const env = {
      SLACK_CLIENT_ID: emu.app.clientId,
      SLACK_CLIENT_SECRET: emu.app.clientSecret,
      SLACK_API_URL: emu.apiUrl,
    };
    const run = await runCli(["--convert-long-lived", "--database-url", s.spec], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("converted: 4");
    expect((await s.store.findBot({ teamId: teamOf(1) }))?.botToken).toMatch(/^xoxe\.xoxb-/);
  }, 30_000);
});

describe("progress and options", () => {
  it("draws a bar in place on a terminal", () => {
    let out = "";
    const tty = {
      isTTY: true,
      columns: 80,
      write: (s: string) => {
        out += s;
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    const p = new Progress(tty, "rotate");
    p.update(0, 4, undefined);
    p.update(2, 4, { kind: "bot", isEnterpriseInstall: false, status: "failed" });
    p.update(4, 4, { kind: "bot", isEnterpriseInstall: false, status: "refreshed" });
    expect(out).toContain("\rrotate [");
    expect(out).toMatch(/\[#{20}-{20}\] 2\/4, 1 failed/);
    expect(out).toMatch(/\[#{40}\] 4\/4, 1 failed\x1b\[K\n$/);
  });

  it("parses durations", () => {
    expect([
      parseDuration("7200"),
      parseDuration("90m"),
      parseDuration("2h"),
      parseDuration("1d"),
      parseDuration("1.5h"),
    ]).toEqual([7200, 5400, 7200, 86400, 5400]);
    expect(() => parseDuration("2 hours")).toThrow(/--window/);
  });
});
