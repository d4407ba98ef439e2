/**
 * The refresh scheduler and getWorkspaceToken in one process, against the emulator (no app server: no
 * request ever arrives). Time moves with the emulator's clock; retry waits are recorded, not slept.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { NotInstalledError } from "../../src/authorize/authorize.js";
import type { Emulator } from "../../src/emulator/index.js";
import { ErrorCode } from "../../src/errors.js";
import { getWorkspaceToken, type RefreshPassReport, RefreshScheduler } from "../../src/health/index.js";
import { TokenRefreshError } from "../../src/rotation/errors.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { closeAll, install, refreshCalls, rotatingEmulator, teamOf, userOf } from "../rotation/helpers.js";

afterEach(async () => {
  vi.useRealTimers();
  await closeAll();
});

/** 12 h rotating tokens in `n` workspaces, saved into a memory store. */
async function setup(n: number) {
  const emu = await rotatingEmulator(n, { tokenExpiresIn: 43_200 });
  const store = new MemoryInstallationStore();
  for (let i = 1; i <= n; i++) await store.save((await install(emu, i)).installation);
  return { emu, store };
}

function schedulerOf(emu: Emulator, store: MemoryInstallationStore, extra: object = {}) {
  const waits: number[] = [];
  const failures: string[] = [];
  const scheduler = new RefreshScheduler({
    installationStore: store,
    clientId: emu.app.clientId,
    clientSecret: emu.app.clientSecret,
    apiUrl: emu.apiUrl,
    nowMs: () => emu.advanceClock(0),
    sleepMs: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
    onFailure: (i) => failures.push(`${i.kind} ${i.teamId} ${i.error?.slackError ?? i.error?.reason}`),
    ...extra,
  });
  return { scheduler, waits, failures };
}

describe("RefreshScheduler", () => {
  it("refreshes only what the expiry index says is due, once; retries what may pass; records refresh_failed", async () => {
    const { emu, store } = await setup(3);
    const { scheduler, waits, failures } = schedulerOf(emu, store, { concurrency: 1 });
    expect(await scheduler.runOnce()).toMatchObject({ due: 0, refreshed: 0, failed: 0 });
    expect(refreshCalls(emu).total).toBe(0);
    emu.advanceClock(11 * 3600);
    // The first refresh meets two 503s: retried after 0.75 s and 1.5 s of backoff (base 1 s, doubling,
    // jitter at its middle).
    emu.injectFault({ method: "oauth.v2.access", status: 503, count: 2 });
    const report = await scheduler.runOnce();
    expect(report.due).toBe(6);
    expect(report.refreshed + report.failed).toBe(6);
    expect(report.failed).toBe(0);
    expect(waits).toStrictEqual([750, 1500]);
    expect(report.items.map((i) => i.attempts).sort()).toStrictEqual([1, 1, 1, 1, 1, 3]);
    expect(refreshCalls(emu)).toEqual({ total: 8, ok: 6, bot: 3, user: 3, failed: 2 });
    expect((await store.listHealth()).map((h) => h.health.status)).toStrictEqual(Array(6).fill("ok"));
    expect((await scheduler.runOnce()).due).toBe(0);

    emu.advanceClock(11 * 3600);
    emu.injectFault({ method: "oauth.v2.access", error: "invalid_refresh_token", count: 1 });
    const second = await scheduler.runOnce();
    expect(second.failed).toBe(1);
    expect(second.refreshed).toBe(5);
    const failed = second.items.find((i) => i.status === "failed");
    expect(failed).toMatchObject({ attempts: 1, error: { reason: "invalid_refresh_token", retryable: false } });
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/invalid_refresh_token$/);
    const health = await store.listHealth();
    const bad = health.filter((h) => h.health.status === "refresh_failed");
    expect(bad).toHaveLength(1);
    expect(bad[0]?.health.error).toBe("invalid_refresh_token");
    expect(bad[0]?.kind).toBe(failed?.kind);
  });

  it("start runs a pass at once, then one per interval ± jitter; stop waits for the pass in progress", async () => {
    const store = new MemoryInstallationStore();
    const passes: RefreshPassReport[] = [];
    let next: () => void = () => {};
    const passed = () =>
      new Promise<void>((resolve) => {
        next = resolve;
      });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const scheduler = new RefreshScheduler({
      installationStore: store,
      clientId: "111.222",
      clientSecret: "secret",
      intervalMs: 60_000,
      jitter: 0.2,
      random: () => 0.5,
      onPass: (r) => {
        passes.push(r);
        next();
      },
    });
    let first = passed();
    scheduler.start();
    scheduler.start(); // harmless
    await first;
    expect(passes).toHaveLength(1);
    first = passed();
    await vi.advanceTimersByTimeAsync(59_999);
    expect(passes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await first;
    expect(passes).toHaveLength(2);
    await scheduler.stop();
    expect(scheduler.started).toBe(false);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(passes).toHaveLength(2);
    // The jitter: interval × (1 ± 0.2).
    const low = new RefreshScheduler({
      installationStore: store,
      clientId: "1.2",
      clientSecret: "s",
      intervalMs: 1000,
      jitter: 0.2,
      random: () => 0,
    });
    const high = new RefreshScheduler({
      installationStore: store,
      clientId: "1.2",
      clientSecret: "s",
      intervalMs: 1000,
      jitter: 0.2,
      random: () => 0.999999,
    });
    expect([low.nextDelayMs(), high.nextDelayMs()]).toStrictEqual([800, 1200]);
    expect(low.refreshBeforeSeconds).toBe(7200);
  });

  it("start and stop in any order, stop not awaited: one timer at most; a start during a stopping pass runs once", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const store = new MemoryInstallationStore();
    const list = store.listExpiringTokens.bind(store);
    // Each pass hangs in its listing until the test lets it go.
    const held: Array<() => void> = [];
    store.listExpiringTokens = async (...args) => {
      await new Promise<void>((resolve) => held.push(resolve));
      return list(...args);
    };
    let passes = 0;
    const scheduler = new RefreshScheduler({
      installationStore: store,
      clientId: "111.222",
      clientSecret: "secret",
      intervalMs: 60_000,
      jitter: 0,
      onPass: () => {
        passes++;
      },
    });
    const release = async () => {
      for (const go of held.splice(0)) go();
      await vi.advanceTimersByTimeAsync(0);
    };
    scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(held).toHaveLength(1); // the first pass is in its listing
    const stopping = scheduler.stop(); // not awaited
    scheduler.start();
    void scheduler.stop();
    scheduler.start();
    await release(); // the stopped pass ends; the last start's own pass begins
    expect(passes).toBe(1);
    expect(held).toHaveLength(1);
    await stopping;
    expect(vi.getTimerCount()).toBe(0);
    await release();
    expect(passes).toBe(2);
    expect(vi.getTimerCount()).toBe(1); // one chain, not two or three
    await vi.advanceTimersByTimeAsync(60_000);
    expect(held).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
    await release();
    expect(passes).toBe(3);
    expect(vi.getTimerCount()).toBe(1);
    // Stop then start while idle (a timer pending): still one timer.
    void scheduler.stop();
    scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    await release();
    expect(passes).toBe(4);
    expect(vi.getTimerCount()).toBe(1);
    await scheduler.stop();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(held).toHaveLength(0);
    expect(passes).toBe(4);
  });

  it("a store failure fails the pass (reported, never thrown); the next pass tries again", async () => {
    const store = new MemoryInstallationStore();
    const reports: RefreshPassReport[] = [];
    const scheduler = new RefreshScheduler({
      installationStore: store,
      clientId: "111.222",
      clientSecret: "secret",
      onPass: (r) => reports.push(r),
    });
    const list = store.listExpiringTokens.bind(store);
    store.listExpiringTokens = async () => {
      throw Object.assign(new Error("connection reset"), { code: ErrorCode.Store });
    };
    expect((await scheduler.runOnce()).error).toStrictEqual({ code: ErrorCode.Store, message: "connection reset" });
    store.listExpiringTokens = list;
    expect((await scheduler.runOnce()).error).toBeUndefined();
    expect(reports).toHaveLength(2);
  });

  it("refuses bad options with coded errors", () => {
    const store = new MemoryInstallationStore({ clientId: "111.222" });
    const base = { installationStore: store, clientId: "111.222", clientSecret: "s" };
    for (const bad of [
      { intervalMs: 0 },
      { jitter: 1 },
      { refreshBeforeSeconds: -1 },
      { concurrency: 0 },
      { maxAttempts: 1.5 },
    ])
      expect(() => new RefreshScheduler({ ...base, ...bad })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument }),
      );
    expect(() => new RefreshScheduler({ installationStore: store })).toThrow(
      expect.objectContaining({ code: ErrorCode.Config }),
    );
    // Another app's credentials on this app's store.
    expect(() => new RefreshScheduler({ ...base, clientId: "999.999" })).toThrow(
      expect.objectContaining({ code: ErrorCode.Config }),
    );
  });
});

describe("getWorkspaceToken", () => {
  it("returns the stored token while valid, refreshes it first when due, and tells who refreshed", async () => {
    const { emu, store } = await setup(2);
    const options = {
      installationStore: store,
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      apiUrl: emu.apiUrl,
      nowMs: () => emu.advanceClock(0),
    };
    const stored = await store.findInstallation({ teamId: teamOf(1), userId: userOf(1, 1) });
    const now = await getWorkspaceToken(options, { teamId: teamOf(1) });
    expect(now).toEqual({
      kind: "bot",
      token: stored?.botToken,
      expiresAt: stored?.botTokenExpiresAt,
      refreshed: false,
      botUserId: stored?.botUserId,
      botId: stored?.botId,
    });
    expect(refreshCalls(emu).total).toBe(0);
    emu.advanceClock(11 * 3600);
    // Ten callers at once in the process: one refresh, shared by all of them (single flight).
    const many = await Promise.all(
      Array.from({ length: 10 }, () => getWorkspaceToken(options, { teamId: teamOf(1), userId: userOf(1, 1) })),
    );
    expect(new Set(many.map((t) => t.token)).size).toBe(1);
    expect(many.every((t) => t.refreshed)).toBe(true);
    expect(many[0]?.kind).toBe("user");
    expect(refreshCalls(emu)).toEqual({ total: 1, ok: 1, bot: 0, user: 1, failed: 0 });
    expect((await store.findInstallation({ teamId: teamOf(1), userId: userOf(1, 1) }))?.userToken).toBe(many[0]?.token);

    // A refresh that fails while the token is still valid: the stored token, not an error.
    emu.injectFault({ method: "oauth.v2.access", status: 503, count: 1 });
    const kept = await getWorkspaceToken(options, { teamId: teamOf(2) });
    expect(kept.refreshed).toBe(false);
    expect(kept.token).toBe((await store.findBot({ teamId: teamOf(2) }))?.botToken);
    // Expired, and the refresh fails: the refresh error, saying the token has expired.
    emu.advanceClock(2 * 3600);
    emu.injectFault({ method: "oauth.v2.access", error: "invalid_refresh_token", count: 1 });
    const err = await getWorkspaceToken(options, { teamId: teamOf(2) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenRefreshError);
    expect(err).toMatchObject({ reason: "invalid_refresh_token", tokenExpired: true });
    // Without credentials an expired token cannot be helped: a configuration error.
    await expect(
      getWorkspaceToken({ installationStore: store, nowMs: () => emu.advanceClock(0) }, { teamId: teamOf(2) }),
    ).rejects.toMatchObject({ code: ErrorCode.Config });
  });

  it("not installed, another user's token, bad queries: coded errors", async () => {
    const { emu, store } = await setup(1);
    const options = {
      installationStore: store,
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      apiUrl: emu.apiUrl,
    };
    await expect(getWorkspaceToken(options, { teamId: teamOf(9) })).rejects.toBeInstanceOf(NotInstalledError);
    await expect(getWorkspaceToken(options, { teamId: teamOf(1), userId: userOf(1, 2) })).rejects.toMatchObject({
      code: ErrorCode.NotInstalled,
    });
    await expect(getWorkspaceToken(options, { teamId: "../x" })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
    await expect(
      getWorkspaceToken(
        { installationStore: new MemoryInstallationStore({ clientId: "999.1" }), clientId: "1.2", clientSecret: "s" },
        { teamId: teamOf(1) },
      ),
    ).rejects.toMatchObject({ code: ErrorCode.Config });
  });
});
