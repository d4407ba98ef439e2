// Also run under another time zone: `TZ=America/New_York npx vitest run test/stores`.
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, StoreError } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import { generateState } from "../../src/state/state.js";
import { FileInstallationStore, FileStateStore } from "../../src/stores/file.js";
import { testInstallationStore, testStateStore } from "../../src/testing/index.js";
import { runner } from "../conformance/runner.js";

const tempDir = () => mkdtemp(join(tmpdir(), "slack-oauth-kit-file-"));
const removeDir = (dir: string) => rm(dir, { recursive: true, force: true });
/** A state directory's state files and tombstones (without the `.expiry` index). */
const stateFiles = async (dir: string) => (await readdir(dir)).filter((n) => n !== ".expiry");
async function closeAndRemove(store: { close(): Promise<void> }, dir: string): Promise<void> {
  await store.close();
  await removeDir(dir);
}

testInstallationStore(
  runner,
  "file",
  async () => {
    const dir = await tempDir();
    const store = new FileInstallationStore({ baseDir: dir });
    return { store, cleanup: () => closeAndRemove(store, dir) };
  },
  {
    supportsHistory: true,
    makeStoreWithHistory: async () => {
      const dir = await tempDir();
      const store = new FileInstallationStore({ baseDir: dir, historicalData: true });
      return {
        store,
        cleanup: () => closeAndRemove(store, dir),
        countHistory: async (q) => {
          const h = await store.listHistory(q);
          return { installations: h.installations.length, bots: h.bots.length };
        },
      };
    },
    makeAppStores: async () => {
      const dir = await tempDir();
      const open = (clientId?: string) => new FileInstallationStore({ baseDir: dir, clientId, historicalData: true });
      const [a, b, defaultApp] = [open("1111111111.1111111111"), open("2222222222.2222222222"), open()];
      return {
        a,
        b,
        defaultApp,
        countHistory: async (store, q) => {
          const h = await (store as FileInstallationStore).listHistory(q);
          return { installations: h.installations.length, bots: h.bots.length };
        },
        cleanup: async () => {
          await Promise.all([a.close(), b.close(), defaultApp.close()]);
          await removeDir(dir);
        },
      };
    },
  },
);

testInstallationStore(runner, "file (syncReads)", async () => {
  const dir = await tempDir();
  const store = new FileInstallationStore({ baseDir: dir, syncReads: true });
  return { store, cleanup: () => closeAndRemove(store, dir) };
});

testStateStore(
  runner,
  "file",
  async () => {
    const dir = await tempDir();
    const store = new FileStateStore({ baseDir: join(dir, "states") });
    return { store, cleanup: () => closeAndRemove(store, dir) };
  },
  {
    clockStore: async (clock, ttlSeconds) => {
      const dir = await tempDir();
      const store = new FileStateStore({ baseDir: dir, nowMs: clock, ttlSeconds });
      return { store, cleanup: () => closeAndRemove(store, dir) };
    },
    ttlStore: async (ttlSeconds) => {
      const dir = await tempDir();
      const store = new FileStateStore({ baseDir: dir, ttlSeconds });
      return { store, cleanup: () => closeAndRemove(store, dir) };
    },
    appStores: async () => {
      const dir = await tempDir();
      const shared = new FileStateStore({ baseDir: dir });
      return { a: shared, b: shared, cleanup: () => closeAndRemove(shared, dir) };
    },
  },
);

// The multi-process race needs the children to open the parent's directory, so it gets its own fixture.
{
  let dir = "";
  testStateStore(
    runner,
    "file (4 OS processes)",
    async () => {
      dir = await tempDir();
      const store = new FileStateStore({ baseDir: dir });
      return { store, cleanup: () => closeAndRemove(store, dir) };
    },
    {
      multiProcess: {
        command: process.execPath,
        args: (states) => ["--import", "tsx", join(import.meta.dirname, "../helpers/consume-state.ts"), dir, ...states],
        processes: 4,
      },
    },
  );
}

function inst(teamId: string, userId: string, o: Partial<Installation> = {}): Installation {
  return {
    teamId,
    userId,
    botToken: `xoxb-test-${randomUUID()}`,
    botScopes: ["chat:write"],
    userToken: `xoxp-test-${randomUUID()}`,
    userScopes: [],
    isEnterpriseInstall: false,
    installedAt: 1732520000.123,
    customValues: {},
    ...o,
  };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...(await walk(p)));
  }
  return out;
}

describe("FileInstallationStore specifics", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  it("lays files out by validated ids, with placeholders no id can produce", async () => {
    const store = new FileInstallationStore({ baseDir: dir, clientId: "111.222" });
    await store.save(inst("T1", "U1", { enterpriseId: "E1" }));
    await store.save(inst("T2", "U1"));
    await store.save({ ...inst("T3", "U2", { enterpriseId: "E1" }), isEnterpriseInstall: true });
    const files = (await walk(dir)).map((p) => p.slice(dir.length + 1)).sort();
    expect(files).toStrictEqual([
      "111.222",
      "111.222/E1+T1",
      "111.222/E1+T1/bot-latest.json",
      "111.222/E1+T1/installer+U1+latest.json",
      "111.222/E1+T1/installer-latest.json",
      "111.222/E1+_org",
      "111.222/E1+_org/bot-latest.json",
      "111.222/E1+_org/installer+U2+latest.json",
      "111.222/E1+_org/installer-latest.json",
      "111.222/_none+T2",
      "111.222/_none+T2/bot-latest.json",
      "111.222/_none+T2/installer+U1+latest.json",
      "111.222/_none+T2/installer-latest.json",
    ]);
  });

  it("the expiry index drops an hour folder once its entries are stale (no empty folder per hour piles up)", async () => {
    const store = new FileInstallationStore({ baseDir: dir });
    const hour = 500_000; // epoch hours
    await store.save(inst("T1", "U1", { botRefreshToken: "xoxe-1-refresh-a", botTokenExpiresAt: hour * 3600 + 60 }));
    const hours = async () => (await readdir(join(dir, "_default", ".expiry"))).sort();
    expect(await hours()).toStrictEqual([String(hour)]);
    // Refreshed: it now expires twelve hours later; the old hour's entry is stale.
    expect(
      await store.updateTokens(
        { teamId: "T1" },
        { botToken: "xoxe.xoxb-1-new", botRefreshToken: "xoxe-1-refresh-b", botTokenExpiresAt: (hour + 12) * 3600 },
        { botRefreshToken: "xoxe-1-refresh-a" },
      ),
    ).toBe(true);
    expect(await store.listExpiringTokens((hour + 1) * 3600)).toStrictEqual([]);
    expect(await hours()).toStrictEqual([String(hour + 12)]);
    expect((await store.listExpiringTokens((hour + 13) * 3600)).map((t) => [t.kind, t.teamId])).toStrictEqual([
      ["bot", "T1"],
    ]);
  });

  it("creates directories 0700 and files 0600, and leaves no temp files", async () => {
    const store = new FileInstallationStore({ baseDir: dir, historicalData: true });
    await store.save(inst("T1", "U1"));
    for (const p of await walk(dir)) {
      const st = await stat(p);
      expect(st.mode & 0o777, p).toBe(st.isDirectory() ? 0o700 : 0o600);
      expect(p).not.toMatch(/\.tmp-/);
    }
  });

  it("a write by another store instance (another process) is seen at the next lookup", async () => {
    const a = new FileInstallationStore({ baseDir: dir });
    const b = new FileInstallationStore({ baseDir: dir });
    const first = inst("T1", "U1");
    await a.save(first);
    expect((await b.findBot({ teamId: "T1" }))?.botToken).toBe(first.botToken);
    const second = inst("T1", "U1");
    await b.save(second);
    expect((await a.findBot({ teamId: "T1" }))?.botToken).toBe(second.botToken);
    expect((await a.findInstallation({ teamId: "T1" }))?.userToken).toBe(second.userToken);
    await a.deleteAll({ teamId: "T1" });
    expect(await b.findBot({ teamId: "T1" })).toBeUndefined();
  });

  it("a later save by another instance wins even within the same millisecond (sequence stored on disk)", async () => {
    const a = new FileInstallationStore({ baseDir: dir });
    const b = new FileInstallationStore({ baseDir: dir });
    const x = inst("T1", "U1");
    const y = inst("T1", "U2");
    const z = inst("T1", "U3");
    await a.save(x);
    await b.save(y);
    await a.save(z);
    await b.deleteInstallation({ teamId: "T1", userId: "U3" });
    expect((await a.findInstallation({ teamId: "T1" }))?.userId).toBe("U2");
  });

  it("keeps history as one file per save and lists it oldest first", async () => {
    const store = new FileInstallationStore({ baseDir: dir, historicalData: true });
    const userOnly = inst("T1", "U10");
    delete userOnly.botToken;
    const saves = [inst("T1", "U1"), inst("T1", "U1"), userOnly];
    for (const s of saves) await store.save(s);
    const names = await readdir(join(dir, "_default", "_none+T1", "history"));
    expect(names.filter((n) => n.startsWith("installer+U1+"))).toHaveLength(2);
    expect(names.filter((n) => n.startsWith("installer+U10+"))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith("bot+"))).toHaveLength(2);
    const h = await store.listHistory({ teamId: "T1", userId: "U1" });
    expect(h.installations.map((i) => i.userToken)).toStrictEqual([saves[0]?.userToken, saves[1]?.userToken]);
  });

  it("a corrupt file is a StoreError, not a silent miss", async () => {
    const store = new FileInstallationStore({ baseDir: dir });
    await store.save(inst("T1", "U1"));
    await writeFile(join(dir, "_default", "_none+T1", "bot-latest.json"), "{not json");
    await expect(store.findBot({ teamId: "T1" })).rejects.toBeInstanceOf(StoreError);
    await writeFile(join(dir, "_default", "_none+T1", "bot-latest.json"), '{"v":2}');
    await expect(store.findBot({ teamId: "T1" })).rejects.toBeInstanceOf(StoreError);
  });

  it("a damaged workspace file does not block later saves or user deletion", async () => {
    const store = new FileInstallationStore({ baseDir: dir });
    const a = inst("T1", "U1");
    const b = inst("T1", "U2");
    await store.save(a);
    await store.save(b);
    const ws = join(dir, "_default", "_none+T1");
    await writeFile(join(ws, "installer-latest.json"), "{damaged");
    await expect(store.findInstallation({ teamId: "T1" })).rejects.toBeInstanceOf(StoreError);
    await store.deleteInstallation({ teamId: "T1", userId: "U2" });
    expect((await store.findInstallation({ teamId: "T1" }))?.userToken).toBe(a.userToken);
    await writeFile(join(ws, "installer-latest.json"), "{damaged");
    const c = inst("T1", "U3");
    await store.save(c);
    expect((await store.findInstallation({ teamId: "T1" }))?.userToken).toBe(c.userToken);
  });

  it("a rejected save leaves the directory untouched", async () => {
    const store = new FileInstallationStore({ baseDir: dir });
    await expect(store.save(inst("../../escape", "U1"))).rejects.toMatchObject({
      code: "SLACK_OAUTH_INVALID_ARGUMENT",
    });
    await expect(store.save(inst("T1", "U1/../../x"))).rejects.toMatchObject({ code: "SLACK_OAUTH_INVALID_ARGUMENT" });
    expect(await readdir(dir)).toStrictEqual([]);
  });

  it("rejects a missing baseDir or an unsafe clientId with ConfigError", () => {
    expect(() => new FileInstallationStore({ baseDir: "" })).toThrow(ConfigError);
    expect(() => new FileInstallationStore(undefined as unknown as { baseDir: string })).toThrow(ConfigError);
    expect(() => new FileInstallationStore({ baseDir: dir, clientId: "../x" })).toThrow(ConfigError);
  });
});

describe("FileStateStore specifics", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  it("creates its directory 0700 and state files 0600", async () => {
    const base = join(dir, "a", "states");
    const store = new FileStateStore({ baseDir: base });
    const state = await store.issue({ x: 1 });
    expect((await stat(base)).mode & 0o777).toBe(0o700);
    expect((await stat(join(base, `${state}.json`))).mode & 0o777).toBe(0o600);
    await store.close();
  });

  it("a malformed state never touches the disk", async () => {
    const base = join(dir, "states");
    const store = new FileStateStore({ baseDir: base });
    expect(await store.consume("../../etc/passwd")).toBeUndefined();
    await expect(stat(base)).rejects.toMatchObject({ code: "ENOENT" });
    await writeFile(join(dir, "victim.json"), "{}");
    expect(await store.consume("../victim")).toBeUndefined();
    expect(await stateFiles(dir)).toStrictEqual(["victim.json"]);
  });

  it("after consumption only a tombstone without the data is left", async () => {
    const store = new FileStateStore({ baseDir: dir });
    const secret = randomUUID();
    const state = await store.issue({ secret });
    expect(await store.consume(state)).toStrictEqual({ secret });
    expect(await stateFiles(dir)).toStrictEqual([`${state}.used`]);
    expect(await readFile(join(dir, `${state}.used`), "utf8")).not.toContain(secret);
    expect(await store.consumeDetailed(state)).toStrictEqual({ ok: false, reason: "used" });
    await store.close();
  });

  it("consumeDetailed tells malformed, unknown, used and expired apart", async () => {
    let now = 1_732_520_000_000;
    const store = new FileStateStore({ baseDir: dir, nowMs: () => now, ttlSeconds: 10 });
    const a = await store.issue({ a: 1 });
    const b = await store.issue();
    expect(await store.consumeDetailed("nope")).toStrictEqual({ ok: false, reason: "malformed" });
    expect(await store.consumeDetailed(generateState())).toStrictEqual({ ok: false, reason: "unknown" });
    expect(await store.consumeDetailed(a)).toStrictEqual({ ok: true, data: { a: 1 } });
    expect(await store.consumeDetailed(a)).toStrictEqual({ ok: false, reason: "used" });
    now += 10_000;
    expect(await store.consumeDetailed(b)).toStrictEqual({ ok: false, reason: "expired" });
    expect(await store.consumeDetailed(b)).toStrictEqual({ ok: false, reason: "expired" });
    await store.close();
  });

  it("cleans up expired files in the background, at most once per interval", async () => {
    let now = 1_732_520_000_000;
    const store = new FileStateStore({ baseDir: dir, nowMs: () => now, ttlSeconds: 60, cleanupIntervalSeconds: 30 });
    const old = await Promise.all(Array.from({ length: 20 }, (_, i) => store.issue({ i })));
    await store.consume(old[0] ?? "");
    await store.close();
    expect(await stateFiles(dir)).toHaveLength(20);
    now += 61_000; // past expiry: live states go, the tombstone stays one more lifetime
    const fresh = await store.issue();
    await store.close();
    expect((await stateFiles(dir)).sort()).toStrictEqual([`${fresh}.json`, `${old[0]}.used`].sort());
    now += 59_500; // the tombstone is a lifetime past expiry now; `fresh` still lives (0.5 s left)
    const fresher = await store.issue();
    await store.close();
    expect((await stateFiles(dir)).sort()).toStrictEqual([`${fresh}.json`, `${fresher}.json`].sort());
    // A file no index lists (an older version's) waits for the full sweep, at most once per interval.
    const unindexed = `${generateState()}.json`;
    await writeFile(join(dir, unindexed), JSON.stringify({ v: 1, expiresAt: now - 1, data: {} }));
    now += 10_000; // within the interval: no full sweep, but `fresh`'s index slot has ended
    await store.issue();
    await store.close();
    expect(await stateFiles(dir)).toContain(unindexed);
    expect(await stateFiles(dir)).not.toContain(`${fresh}.json`);
    now += 30_000;
    await store.issue();
    await store.close();
    expect(await stateFiles(dir)).not.toContain(unindexed);
  });

  it("keeps pace with a steady flood: at most 1.5 × rate × lifetime files, whatever the batch size", async () => {
    let now = 1_732_520_000_000;
    // The old cleanup examined a batch per interval: with these settings it could never keep up.
    const store = new FileStateStore({
      baseDir: dir,
      nowMs: () => now,
      ttlSeconds: 8,
      cleanupIntervalSeconds: 60,
      cleanupBatchSize: 10,
    });
    const perSecond = 20;
    const counts: number[] = [];
    for (let step = 0; step < 3 * 8 * 5; step++) {
      // 4 starts every 200 ms (20 per second), one in ten consumed (its tombstone stays a lifetime longer)
      for (let i = 0; i < 4; i++) {
        const s = await store.issue();
        if ((step * 4 + i) % 10 === 0) await store.consume(s);
      }
      now += 200;
      await store.close(); // the background cleanup a call started has finished
      counts.push((await stateFiles(dir)).length);
    }
    expect(Math.max(...counts)).toBeLessThanOrEqual(1.5 * perSecond * 8);
    // Flat after the first lifetime (not growing): the last lifetime holds no more than the second, give
    // or take one step's starts (slot boundaries fall differently).
    const second = Math.max(...counts.slice(40, 80));
    expect(Math.max(...counts.slice(80))).toBeLessThanOrEqual(second + 4);
    expect(Math.min(...counts.slice(80))).toBeGreaterThanOrEqual(perSecond * 8 * 0.9);
    // The index holds one small file per slot, not one per state.
    expect((await readdir(join(dir, ".expiry"))).length).toBeLessThanOrEqual(20);
    await store.close();
  });

  it("removeExpired removes everything past its lifetime now, and stale temp files", async () => {
    let now = 0;
    const store = new FileStateStore({ baseDir: dir, nowMs: () => now, ttlSeconds: 10, cleanupIntervalSeconds: 3600 });
    const a = await store.issue();
    await store.issue();
    await store.consume(a);
    await writeFile(join(dir, ".tmp-leftover"), "x");
    const { utimes } = await import("node:fs/promises");
    await utimes(join(dir, ".tmp-leftover"), new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000));
    now = 10_000;
    expect(await store.removeExpired()).toBe(2);
    expect(await stateFiles(dir)).toStrictEqual([]);
  });

  it("rejects bad options with ConfigError", () => {
    expect(() => new FileStateStore({ baseDir: "" })).toThrow(ConfigError);
    expect(() => new FileStateStore({ baseDir: dir, ttlSeconds: -5 })).toThrow(ConfigError);
    expect(() => new FileStateStore({ baseDir: dir, cleanupIntervalSeconds: -1 })).toThrow(ConfigError);
    expect(() => new FileStateStore({ baseDir: dir, cleanupBatchSize: 0 })).toThrow(ConfigError);
  });
});
