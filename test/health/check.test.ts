/**
 * The health check against the emulator over real HTTP, with no app server listening (no event can reach
 * the app: only the check can notice a revoked token). Time moves with the emulator's clock: a rate-limit
 * wait advances it instead of sleeping.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/index.js";
import { ErrorCode } from "../../src/errors.js";
import { checkInstallationHealth, type HealthCheckOptions, runHealthCheck } from "../../src/health/index.js";
import { RotationCoordinator } from "../../src/rotation/coordinator.js";
import { TokenRotator } from "../../src/rotation/token-rotator.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { EncryptedInstallationStore } from "../../src/stores/encryption.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { closeAll, closedPortUrl, install, rotatingEmulator, teamOf, userOf } from "../rotation/helpers.js";

afterEach(closeAll);

/** An emulator whose app URL answers nothing, `n` workspaces installed by their first user into a memory store. */
async function setup(n: number, options: Parameters<typeof rotatingEmulator>[1] = {}) {
  const emu = await rotatingEmulator(n, { appUrl: (await closedPortUrl()).replace("/api/", ""), ...options });
  const store = new MemoryInstallationStore();
  for (let i = 1; i <= n; i++) await store.save((await install(emu, i)).installation);
  return { emu, store };
}

/** Options whose clock is the emulator's and whose waits move it (no sleeping). */
function clocked(emu: Emulator, store: InstallationStore, extra: Partial<HealthCheckOptions> = {}) {
  let now = emu.advanceClock(0);
  const waits: number[] = [];
  const options: HealthCheckOptions = {
    installationStore: store,
    apiUrl: `${emu.url}/api/`,
    nowSeconds: () => now / 1000,
    sleepMs: async (ms) => {
      waits.push(ms);
      now = emu.advanceClock(ms / 1000);
    },
    ...extra,
  };
  return { options, waits };
}

describe("runHealthCheck", () => {
  it("a bot token revoked in the emulator is `revoked` after the next run; untouched ones stay `ok`; recorded per app", async () => {
    const { emu, store } = await setup(3, { tokenRotation: false });
    const first = clocked(emu, store);
    const before = await runHealthCheck(first.options);
    expect(before.healthy).toBe(true);
    expect(before.items).toHaveLength(6); // 3 bots, 3 users
    expect(before.counts.ok).toBe(6);
    // Revoked at Slack; the app server is down, so the store still holds the token.
    await emu.revoke({ teamId: teamOf(2), bot: true });
    expect(await store.findBot({ teamId: teamOf(2) })).toBeDefined();
    const events: [string, number][] = [];
    const progress: number[] = [];
    const after = await runHealthCheck({
      ...clocked(emu, store).options,
      metrics: { app: "A1", hooks: { health: (_app, status, n) => events.push([status, n]) } },
      onProgress: (done) => progress.push(done),
    });
    expect(after.healthy).toBe(false);
    const revoked = after.items.filter((i) => i.status !== "ok");
    expect(revoked).toStrictEqual([
      {
        kind: "bot",
        teamId: teamOf(2),
        isEnterpriseInstall: false,
        status: "revoked",
        checkedAt: expect.any(Number),
        error: "token_revoked",
        recorded: true,
      },
    ]);
    expect(after.counts).toStrictEqual({
      ok: 5,
      revoked: 1,
      invalid: 0,
      expired: 0,
      refresh_failed: 0,
      missing_scopes: 0,
      unknown: 0,
    });
    expect(progress).toStrictEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(events).toContainEqual(["revoked", 1]);
    expect(events).toContainEqual(["ok", 5]);
    // Stored: the bot's record says revoked; the other bots and users say ok.
    const health = await store.listHealth();
    expect(health).toHaveLength(6);
    expect(health.find((h) => h.kind === "bot" && h.teamId === teamOf(2))?.health).toMatchObject({
      status: "revoked",
      error: "token_revoked",
    });
    expect(health.filter((h) => h.health.status === "ok")).toHaveLength(5);
    // "Check now" on one installation: only its tokens are called.
    const calls = emu.calls("auth.test").length;
    const one = await checkInstallationHealth(clocked(emu, store).options, { teamId: teamOf(1) });
    expect(one.items.map((i) => [i.kind, i.teamId, i.status])).toStrictEqual([
      ["bot", teamOf(1), "ok"],
      ["user", teamOf(1), "ok"],
    ]);
    expect(emu.calls("auth.test").length - calls).toBe(2);
    const user = await checkInstallationHealth(clocked(emu, store).options, {
      teamId: teamOf(3),
      userId: userOf(3, 1),
    });
    expect(user.items.map((i) => [i.kind, i.userId])).toStrictEqual([["user", userOf(3, 1)]]);
  });

  it("honours Retry-After per workspace: waits out each 429 on the emulator's clock, and every token ends `ok`", async () => {
    const { emu, store } = await setup(2, { tokenRotation: false });
    // Two more users in each workspace: 4 tokens per workspace, 2 calls per 10 s allowed.
    for (const i of [1, 2]) for (const u of [2, 3]) await store.save((await install(emu, i, u)).installation);
    emu.setRateLimit("auth.test", 2, 10);
    const { options, waits } = clocked(emu, store, { concurrency: 4, perWorkspaceConcurrency: 2 });
    const report = await runHealthCheck(options);
    expect(report.counts.ok).toBe(8);
    expect(report.healthy).toBe(true);
    const log = emu.calls("auth.test", { details: true });
    const limited = log.filter((c) => c.error === "ratelimited");
    expect(report.rateLimited).toBe(limited.length);
    expect(report.rateLimited).toBeGreaterThan(0);
    expect(waits.length).toBeGreaterThan(0);
    // Per workspace, never more than 2 accepted calls in one 10 s window, and after a 429 the workspace
    // sent nothing until the window had passed (at most the calls already in flight were refused).
    for (const team of [teamOf(1), teamOf(2)]) {
      const mine = log.filter((c) => c.teamId === team);
      const accepted = mine.filter((c) => c.ok).map((c) => c.at as number);
      expect(accepted).toHaveLength(4);
      for (let i = 2; i < accepted.length; i++)
        expect((accepted[i] as number) - (accepted[i - 2] as number)).toBeGreaterThanOrEqual(10_000);
      expect(mine.filter((c) => c.error === "ratelimited").length).toBeLessThanOrEqual(2);
    }
    // The clock moved by about one window: the limit alone needs one wait per workspace.
    const elapsed = report.finishedAt - report.startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(10);
    expect(elapsed).toBeLessThan(12);
  });

  it("rate limits past the wait budget, Slack 5xx and an unreachable Slack are `unknown`, never `revoked`", async () => {
    const { emu, store } = await setup(1, { tokenRotation: false });
    emu.setRateLimit("auth.test", 1, 600);
    const limited = await runHealthCheck(clocked(emu, store, { maxRateLimitWaitSeconds: 30 }).options);
    expect(limited.items.map((i) => [i.kind, i.status, i.error])).toStrictEqual([
      ["bot", "ok", undefined],
      ["user", "unknown", "ratelimited"],
    ]);
    emu.setRateLimit("auth.test", Number.POSITIVE_INFINITY);
    emu.injectFault({ method: "auth.test", status: 503, count: 100 });
    // A client that backs off 1 ms between its own retries of a 5xx or a refused connection.
    const quick = (baseUrl: string) => new SlackApiClient({ baseUrl, maxRetryAfterSeconds: 0, retryBaseDelayMs: 1 });
    const down = await runHealthCheck({ ...clocked(emu, store).options, api: quick(`${emu.url}/api/`) });
    expect(down.items.map((i) => [i.status, i.error])).toStrictEqual([
      ["unknown", "service_unavailable"],
      ["unknown", "service_unavailable"],
    ]);
    emu.clearFaults();
    const unreachable = await runHealthCheck({ ...clocked(emu, store).options, api: quick(await closedPortUrl()) });
    expect(unreachable.items.map((i) => [i.status, i.error])).toStrictEqual([
      ["unknown", ErrorCode.Network],
      ["unknown", ErrorCode.Network],
    ]);
    expect(unreachable.healthy).toBe(false);
    expect((await store.listHealth()).map((h) => h.health.status)).toStrictEqual(["unknown", "unknown"]);
  });

  it("a store failure mid-sweep is reported and the sweep goes on; an undecryptable token is reported with its code", async () => {
    const { emu, store } = await setup(3, { tokenRotation: false });
    const key = Buffer.alloc(32, 7);
    const encrypted = new EncryptedInstallationStore(new MemoryInstallationStore(), { keys: [{ id: "k1", key }] });
    for (const w of await store.listWorkspaces())
      for (const i of w.installations) await encrypted.save({ ...i, ...(w.bot ?? {}) });
    // Workspace 1's bot token is damaged at rest; workspace 2's store reads fail.
    const inner = encrypted.inner as MemoryInstallationStore;
    expect(await inner.updateTokens({ teamId: teamOf(1) }, { botToken: "enc:v1:k1:AAAA" })).toBe(true);
    const findBot = inner.findBot.bind(inner);
    inner.findBot = async (q) => {
      if (q.teamId === teamOf(2)) throw Object.assign(new Error("disk on fire"), { code: ErrorCode.Store });
      return findBot(q);
    };
    const report = await runHealthCheck(clocked(emu, encrypted).options);
    const byTeam = (t: string) => report.items.find((i) => i.kind === "bot" && i.teamId === t);
    expect(byTeam(teamOf(1))).toMatchObject({ status: "unknown", error: ErrorCode.Encryption, recorded: true });
    expect(byTeam(teamOf(2))).toMatchObject({ status: "unknown", storeError: ErrorCode.Store, recorded: false });
    expect(byTeam(teamOf(3))).toMatchObject({ status: "ok", recorded: true });
    // Workspace 1's user installations carry the (damaged) bot fields: reported the same way.
    expect(report.items.filter((i) => i.kind === "user").map((i) => [i.status, i.error])).toStrictEqual([
      ["unknown", ErrorCode.Encryption],
      ["ok", undefined],
      ["ok", undefined],
    ]);
    expect(report.storeFailures).toBe(1);
    expect(report.healthy).toBe(false);
  });

  it("with a coordinator, a due token is refreshed first; a refresh that fails is `refresh_failed`", async () => {
    const { emu, store } = await setup(2, { tokenExpiresIn: 3600 });
    const rotator = new TokenRotator({
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      apiUrl: `${emu.url}/api/`,
      nowMs: () => emu.advanceClock(0),
    });
    const coordinator = new RotationCoordinator({ installationStore: store, rotator });
    const before = await store.findBot({ teamId: teamOf(1) });
    emu.advanceClock(3000); // within the 2 h window
    emu.injectFault({ method: "oauth.v2.access", error: "invalid_refresh_token", count: 1 });
    const report = await runHealthCheck({
      ...clocked(emu, store).options,
      coordinator,
      users: false,
      concurrency: 1,
    });
    expect(report.items.map((i) => [i.teamId, i.status, i.error ?? null, i.refreshed ?? false])).toStrictEqual([
      [teamOf(1), "refresh_failed", "invalid_refresh_token", false],
      [teamOf(2), "ok", null, true],
    ]);
    expect((await store.findBot({ teamId: teamOf(1) }))?.botToken).toBe(before?.botToken);
    const health = await store.listHealth();
    expect(health.map((h) => [h.teamId, h.health.status])).toStrictEqual([
      [teamOf(1), "refresh_failed"],
      [teamOf(2), "ok"],
    ]);
  });

  it("refuses bad options with coded errors", async () => {
    const store = new MemoryInstallationStore();
    await expect(runHealthCheck({ installationStore: store, concurrency: 0 })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    await expect(runHealthCheck({ installationStore: {} as InstallationStore })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    await expect(checkInstallationHealth({ installationStore: store }, { teamId: "../etc" })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
  });
});
