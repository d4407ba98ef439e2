// Also run under another time zone: `TZ=America/New_York npx vitest run test/stores`.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import { normalizeQuery } from "../../src/stores/installation-store.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import { checkQuery } from "../../src/stores/store-helpers.js";
import { testInstallationStore, testStateStore } from "../../src/testing/index.js";
import { runner } from "../conformance/runner.js";

testInstallationStore(runner, "memory", async () => ({ store: new MemoryInstallationStore() }), {
  supportsHistory: true,
  makeStoreWithHistory: async () => {
    const store = new MemoryInstallationStore({ historicalData: true });
    return {
      store,
      countHistory: async (q) => {
        const h = await store.listHistory(q);
        return { installations: h.installations.length, bots: h.bots.length };
      },
    };
  },
  makeAppStores: async () => {
    const root = new MemoryInstallationStore({ historicalData: true });
    return {
      a: root.forApp("1111111111.1111111111"),
      b: root.forApp("2222222222.2222222222"),
      defaultApp: root,
      countHistory: async (store, q) => {
        const h = await (store as MemoryInstallationStore).listHistory(q);
        return { installations: h.installations.length, bots: h.bots.length };
      },
    };
  },
});

testStateStore(runner, "memory", async () => ({ store: new MemoryStateStore() }), {
  clockStore: async (clock, ttlSeconds) => ({ store: new MemoryStateStore({ nowMs: clock, ttlSeconds }) }),
  ttlStore: async (ttlSeconds) => ({ store: new MemoryStateStore({ ttlSeconds }) }),
  appStores: async () => {
    const shared = new MemoryStateStore();
    return { a: shared, b: shared };
  },
});

function inst(teamId: string, userId: string): Installation {
  return {
    teamId,
    userId,
    botToken: `xoxb-test-${randomUUID()}`,
    botScopes: ["chat:write"],
    userScopes: [],
    isEnterpriseInstall: false,
    installedAt: 1732520000.123,
    customValues: {},
  };
}

describe("MemoryInstallationStore specifics", () => {
  it("keeps nothing but the latest without historicalData", async () => {
    const store = new MemoryInstallationStore();
    await store.save(inst("T1", "U1"));
    await store.save(inst("T1", "U1"));
    expect(await store.listHistory({ teamId: "T1" })).toStrictEqual({ installations: [], bots: [] });
  });

  it("listHistory returns saved rows oldest first, as copies", async () => {
    const store = new MemoryInstallationStore({ historicalData: true });
    const a = inst("T1", "U1");
    const b = inst("T1", "U2");
    await store.save(a);
    await store.save(b);
    const h = await store.listHistory({ teamId: "T1" });
    expect(h.installations.map((i) => i.botToken)).toStrictEqual([a.botToken, b.botToken]);
    expect(h.bots.map((x) => x.botToken)).toStrictEqual([a.botToken, b.botToken]);
    h.installations[0]?.botScopes.push("admin");
    expect((await store.listHistory({ teamId: "T1", userId: "U1" })).installations[0]?.botScopes).toStrictEqual([
      "chat:write",
    ]);
  });

  it("stores customValues as JSON, like every other backend", async () => {
    const store = new MemoryInstallationStore();
    const i = inst("T1", "U1");
    i.customValues = { when: new Date(Date.UTC(2024, 10, 25)), skip: undefined };
    await store.save(i);
    expect((await store.findInstallation({ teamId: "T1" }))?.customValues).toStrictEqual({
      when: "2024-11-25T00:00:00.000Z",
    });
  });

  it("a customValues value that JSON cannot carry is an InvalidArgumentError", async () => {
    const store = new MemoryInstallationStore();
    const i = inst("T1", "U1");
    i.customValues = { n: 10n };
    await expect(store.save(i)).rejects.toMatchObject({ code: "SLACK_OAUTH_INVALID_ARGUMENT" });
    i.customValues = { f: () => 1 };
    await expect(store.save(i)).rejects.toMatchObject({ code: "SLACK_OAUTH_INVALID_ARGUMENT" });
    expect(await store.findBot({ teamId: "T1" })).toBeUndefined();
  });

  it("a customValues key named __proto__ stays data", async () => {
    const store = new MemoryInstallationStore();
    const i = inst("T1", "U1");
    i.customValues = JSON.parse('{"__proto__": {"polluted": true}}');
    await store.save(i);
    const found = await store.findInstallation({ teamId: "T1" });
    expect(Object.getPrototypeOf(found?.customValues)).toBe(Object.prototype);
    expect(Object.hasOwn(found?.customValues ?? {}, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("MemoryStateStore specifics", () => {
  it("sweeps expired states as calls come in", async () => {
    let now = 1_732_520_000_000;
    const store = new MemoryStateStore({ nowMs: () => now, ttlSeconds: 60 });
    for (let i = 0; i < 100; i++) await store.issue({ i });
    const used = await store.issue();
    await store.consume(used);
    expect(store.size).toBe(101);
    now += 60_000 * 2 + 1;
    const fresh = await store.issue();
    expect(store.size).toBe(1);
    expect(await store.consume(fresh)).toStrictEqual({});
  });

  it("removeExpired drops everything past its lifetime now", async () => {
    let now = 0;
    const store = new MemoryStateStore({ nowMs: () => now, ttlSeconds: 10 });
    await store.issue();
    await store.issue();
    now = 5_000;
    const live = await store.issue();
    now = 10_000;
    expect(store.removeExpired()).toBe(2);
    expect(await store.consume(live)).toStrictEqual({});
  });

  it("consumeDetailed tells malformed, unknown, used and expired apart", async () => {
    let now = 0;
    const store = new MemoryStateStore({ nowMs: () => now, ttlSeconds: 10 });
    const a = await store.issue({ a: 1 });
    const b = await store.issue();
    expect(await store.consumeDetailed("nope")).toStrictEqual({ ok: false, reason: "malformed" });
    expect(await store.consumeDetailed("A".repeat(43))).toStrictEqual({ ok: false, reason: "unknown" });
    expect(await store.consumeDetailed(a)).toStrictEqual({ ok: true, data: { a: 1 } });
    expect(await store.consumeDetailed(a)).toStrictEqual({ ok: false, reason: "used" });
    now = 10_000;
    expect(await store.consumeDetailed(b)).toStrictEqual({ ok: false, reason: "expired" });
    expect(await store.consumeDetailed(b)).toStrictEqual({ ok: false, reason: "expired" });
  });

  it("rejects a bad ttlSeconds or clock with ConfigError", () => {
    for (const ttlSeconds of [0, -1, Number.NaN, Infinity, "600" as unknown as number]) {
      expect(() => new MemoryStateStore({ ttlSeconds })).toThrow(ConfigError);
    }
    expect(() => new MemoryStateStore({ nowMs: 5 as unknown as () => number })).toThrow(ConfigError);
  });
});

describe("checkQuery (the lookup fast path) agrees with normalizeQuery", () => {
  const ids: unknown[] = [
    undefined,
    null,
    "",
    "E1",
    "T10",
    "a.b-c_d",
    "../x",
    "x..y",
    "T/1",
    42,
    "A".repeat(64),
    "A".repeat(65),
  ];
  const flags: unknown[] = [undefined, true, false, "true", null, 1];
  const outcome = (f: () => unknown) => {
    try {
      const q = f() as Record<string, unknown>;
      return { ok: [q.enterpriseId || undefined, q.teamId || undefined, q.userId || undefined, q.isEnterpriseInstall] };
    } catch (e) {
      return { error: [(e as Error).constructor.name, (e as Error).message] };
    }
  };

  it("on every combination of ids and flags, and on non-objects", () => {
    let accepted = 0;
    let rejected = 0;
    const cases: unknown[] = [null, undefined, "T1", 7];
    for (const enterpriseId of ids)
      for (const teamId of ids)
        for (const userId of [undefined, "U1", "U1/x", null])
          for (const isEnterpriseInstall of flags) cases.push({ enterpriseId, teamId, userId, isEnterpriseInstall });
    for (const q of cases) {
      const a = outcome(() => normalizeQuery(q as never, "op"));
      expect(
        outcome(() => checkQuery(q as never, "op")),
        JSON.stringify(q),
      ).toStrictEqual(a);
      if ("ok" in a) accepted++;
      else rejected++;
    }
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });
});
