/**
 * The reference server's opt-in schedule (`SLACK_REFRESH_INTERVAL_SECONDS`): with it, a due token is refreshed
 * without any request reaching the server; without it, nothing runs. The pass is awaited, never slept on.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ConfigProblems, loadConfig } from "../../src/app/config.js";
import { jsonLogger } from "../../src/app/log.js";
import { type RunningServer, startServer } from "../../src/app/server.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import { closeAll, install, refreshCalls, rotatingEmulator, teamOf } from "../rotation/helpers.js";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
  await closeAll();
});

describe("reference server: SLACK_REFRESH_INTERVAL_SECONDS", () => {
  it("is checked: a whole number of seconds from 10 to 86400; ignored (with a warning) in single-workspace mode", () => {
    for (const bad of ["0", "9", "86401", "5m", "-1", "1.5"]) {
      expect(() => loadConfig({ SLACK_SANDBOX: "1", SLACK_REFRESH_INTERVAL_SECONDS: bad })).toThrow(ConfigProblems);
    }
    expect(loadConfig({ SLACK_SANDBOX: "1", SLACK_REFRESH_INTERVAL_SECONDS: "300" }).refreshIntervalSeconds).toBe(300);
    expect(loadConfig({ SLACK_SANDBOX: "1" }).refreshIntervalSeconds).toBeUndefined();
  });

  it("refreshes a due token at start with no request at all, and stops with the server", async () => {
    // 1 h tokens against the 2 h window: due as soon as they are issued.
    const emu = await rotatingEmulator(2, { tokenExpiresIn: 3600 });
    const store = new MemoryInstallationStore();
    for (const i of [1, 2]) await store.save((await install(emu, i)).installation);
    const before = await store.findBot({ teamId: teamOf(1) });
    // Refreshed tokens live 12 h: a pass after the first one finds nothing due.
    emu.updateApp({ tokenExpiresIn: 43_200 });
    const start = async (extra: Record<string, string>): Promise<RunningServer> => {
      const running = await startServer(
        loadConfig({
          PORT: "0",
          SLACK_CLIENT_ID: emu.app.clientId,
          SLACK_CLIENT_SECRET: emu.app.clientSecret,
          SLACK_SIGNING_SECRET: emu.app.signingSecret,
          SLACK_API_URL: emu.apiUrl,
          SLACK_AUTHORIZE_URL: `${emu.url}/oauth/v2/authorize`,
          ...extra,
        }),
        {
          logger: jsonLogger(() => {}),
          stores: { installationStore: store, stateStore: new MemoryStateStore(), close: async () => {} },
        },
      );
      cleanup.push(() => running.close());
      return running;
    };
    const off = await start({});
    expect(off.schedulers).toStrictEqual([]);
    await off.close();
    expect(refreshCalls(emu).total).toBe(0);

    const on = await start({ SLACK_REFRESH_INTERVAL_SECONDS: "3600" });
    expect(on.schedulers).toHaveLength(1);
    const scheduler = on.schedulers[0]!;
    expect(scheduler.started).toBe(true);
    expect(scheduler.intervalMs).toBe(3_600_000);
    await scheduler.runOnce(); // the pass started at start-up (or, if it is over, one that finds nothing due)
    expect(refreshCalls(emu)).toEqual({ total: 4, ok: 4, bot: 2, user: 2, failed: 0 });
    expect((await store.findBot({ teamId: teamOf(1) }))?.botToken).not.toBe(before?.botToken);
    expect(emu.deliveries()).toStrictEqual([]); // no request reached the server
    await on.close();
    expect(scheduler.started).toBe(false);
  });
});
