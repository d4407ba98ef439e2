/**
 * The D1 stores in workerd: the shared installation- and state-store conformance suites (concurrent
 * compare-and-set, 20 concurrent consumes of one state, app isolation, history, locks) drive stores that
 * run inside workerd (Miniflare 3, local D1 and KV), through the proxies of test/workers/store-proxy.ts.
 * The installation suite runs on D1 (default and historicalData modes, app isolation), and again on D1
 * behind the KV cache (default mode and app isolation). Then D1 specifics.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeleteInstallationQuery, InstallationStore } from "../../src/stores/installation-store.js";
import { tableNames } from "../../src/stores/sql/migrations.js";
import { testInstallationStore, testStateStore } from "../../src/testing/index.js";
import { runner } from "../conformance/runner.js";
import { type ProxyInstallationStore, StoreWorker } from "../workers/store-proxy.js";
import { bundleWorker, startIsolates, startWorker } from "../workers/workerd.js";

const code = await bundleWorker("test/workers/d1-store.worker.ts");

/**
 * One workerd (one D1 database, one KV namespace) per `describe` block: started before its tests, stopped
 * after them.
 */
function inWorkerd(fn: (w: () => StoreWorker) => void): void {
  let worker: StoreWorker | undefined;
  beforeAll(async () => {
    worker = new StoreWorker(await startWorker(code, { d1Databases: ["DB"], kvNamespaces: ["KV"] }));
  });
  afterAll(async () => {
    await worker?.mf.dispose();
  });
  fn(() => {
    if (worker === undefined) throw new Error("workerd is not running");
    return worker;
  });
}

const prefix = () => `d1_${randomBytes(5).toString("hex")}_`;
/**
 * The suites' stores all share one set of tables, as several deployments sharing a database would (the
 * suites use random ids, so tests never see each other's rows): the same SQL texts over and over, as in
 * production, and migrations only once. Thousands of distinct texts (a prefix per test) grow the
 * statement cache of Miniflare's D1 object until workerd 1.20250718 crashes (kj HashIndex inconsistency,
 * then SIGSEGV).
 */
const SUITE_PREFIX = "d1_suite_";

/** Drops every table a store with this prefix may have created. */
async function dropTables(w: StoreWorker, tablePrefix: string): Promise<void> {
  const t = tableNames(tablePrefix);
  await w.drop([t.installations, t.bots, t.states, t.migrations, t.meta, t.teamAccess, `${tablePrefix}locks`]);
}

/** Counts a workspace's rows in D1 (of one app partition), read in workerd. */
async function countRows(w: StoreWorker, table: string, q: DeleteInstallationQuery, clientId: string) {
  const where = ["client_id = ?", "enterprise_id = ?", "team_id = ?"];
  const params: string[] = [clientId, q.enterpriseId ?? "", q.teamId ?? ""];
  if (q.userId !== undefined) {
    where.push("user_id = ?");
    params.push(q.userId);
  }
  const rows = await w.sql(`SELECT COUNT(*) FROM "${table}" WHERE ${where.join(" AND ")}`, params);
  return Number(rows[0]?.[0]);
}

function history(w: StoreWorker, store: ProxyInstallationStore, tablePrefix: string) {
  return async (q: DeleteInstallationQuery) => {
    const t = tableNames(tablePrefix);
    return {
      installations: await countRows(w, t.installations, q, store.clientId),
      bots: await countRows(w, t.bots, { enterpriseId: q.enterpriseId, teamId: q.teamId }, store.clientId),
    };
  };
}

for (const kv of [false, true]) {
  describe(kv ? "D1 behind the KV cache" : "D1", () => {
    inWorkerd((w) => {
      const open = async (historicalData = false) => {
        const tablePrefix = SUITE_PREFIX;
        const store = await w().installationStore({ tablePrefix, historicalData, kv });
        return {
          store,
          cleanup: () => store.close(),
          countHistory: history(w(), store, tablePrefix),
        };
      };
      testInstallationStore(runner, kv ? "D1 + KV cache, in workerd" : "D1, in workerd", () => open(), {
        // Behind the cache only the default mode (plus app isolation, with history) runs again: history is
        // D1's business, which the cache passes every write to, and the run stays within the time budget.
        ...(kv ? {} : { supportsHistory: true, makeStoreWithHistory: () => open(true) }),
        makeAppStores: async () => {
          const tablePrefix = SUITE_PREFIX;
          const at = (clientId?: string) =>
            w().installationStore({ tablePrefix, historicalData: true, kv, ...(clientId ? { clientId } : {}) });
          // One after the other: the first creates the tables.
          const a = await at("1111111111.1111111111");
          const b = await at("2222222222.2222222222");
          const defaultApp = await at();
          return {
            a,
            b,
            defaultApp,
            countHistory: (store: InstallationStore, q: DeleteInstallationQuery) =>
              history(w(), store as unknown as ProxyInstallationStore, tablePrefix)(q),
            cleanup: async () => {
              await Promise.all([a.close(), b.close(), defaultApp.close()]);
            },
          };
        },
      });
    });
  });
}

describe("D1 states", () => {
  // Five isolates of the store Worker on one D1 database: the suite's store lives in w0, and each of the
  // four racing OS processes consumes through an isolate of its own (w1…w4), as separate instances of a
  // deployed Worker would.
  const ISOLATES = 5;
  let worker: StoreWorker | undefined;
  let urls: string[] = [];
  beforeAll(async () => {
    const started = await startIsolates(code, ISOLATES);
    worker = new StoreWorker(started.mf);
    urls = started.urls;
  });
  afterAll(async () => {
    await worker?.mf.dispose();
  });
  const w = () => {
    if (worker === undefined) throw new Error("workerd is not running");
    return worker;
  };
  const open = async (o: { clock?: () => number; ttlSeconds?: number } = {}) => {
    const store = await w().stateStore({ tablePrefix: SUITE_PREFIX, ...o });
    return { store, cleanup: () => store.close() };
  };
  let child = 0;
  testStateStore(runner, "D1, in workerd (4 more isolates racing from 4 OS processes)", () => open(), {
    clockStore: (clock, ttlSeconds) => open(ttlSeconds === undefined ? { clock } : { clock, ttlSeconds }),
    ttlStore: (ttlSeconds) => open({ ttlSeconds }),
    appStores: async () => {
      const h = await open();
      return { a: h.store, b: h.store, cleanup: h.cleanup };
    },
    multiProcess: {
      command: process.execPath,
      // Child k talks to isolate w(1 + k % 4) only.
      args: (states) => [
        join(import.meta.dirname, "../workers/consume-states.mjs"),
        urls[1 + (child++ % (ISOLATES - 1))] ?? "",
        SUITE_PREFIX,
        ...states,
      ],
      processes: ISOLATES - 1,
    },
  });
});

describe("D1 specifics (in workerd)", () => {
  inWorkerd((w) => {
    const exec = (body: Record<string, unknown>) => w().post("/executor", body);

    it("the executor's batch is all or nothing, and reports rows and changes per statement", async () => {
      const t = `${prefix()}t`;
      await exec({ op: "run", sql: `CREATE TABLE "${t}" (k TEXT PRIMARY KEY, v INTEGER)`, params: [] });
      const results = (await exec({
        op: "batch",
        statements: [
          { sql: `INSERT INTO "${t}" (k, v) VALUES (?, ?)`, params: ["a", 1] },
          { sql: `INSERT INTO "${t}" (k, v) VALUES (?, ?)`, params: ["b", 2] },
          { sql: `SELECT k, v FROM "${t}" ORDER BY k`, params: [] },
          { sql: `UPDATE "${t}" SET v = v + 1 WHERE v >= ?`, params: [1] },
        ],
      })) as { rows: unknown[][]; changes: number }[];
      expect(results.map((r) => r.changes)).toEqual([1, 1, 0, 2]);
      expect(results[2]?.rows).toEqual([
        ["a", 1],
        ["b", 2],
      ]);
      // The second insert breaks the primary key: the first (and the update before it) are rolled back.
      const failed = await exec({
        op: "batch",
        statements: [
          { sql: `UPDATE "${t}" SET v = 100`, params: [] },
          { sql: `INSERT INTO "${t}" (k, v) VALUES (?, ?)`, params: ["c", 3] },
          { sql: `INSERT INTO "${t}" (k, v) VALUES (?, ?)`, params: ["a", 9] },
        ],
      }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(failed?.message).toMatch(/UNIQUE|constraint/i);
      expect(await exec({ op: "query", sql: `SELECT k, v FROM "${t}" ORDER BY k`, params: [] })).toEqual([
        ["a", 2],
        ["b", 3],
      ]);
      expect(await exec({ op: "run", sql: `DELETE FROM "${t}" WHERE k = ?`, params: ["zzz"] })).toEqual({ changes: 0 });
      await w().drop([t]);
    });

    it("the KV cache serves lookups from KV, drops the workspace's entries on every write, and holds no state", async () => {
      const tablePrefix = prefix();
      const store = await w().installationStore({ tablePrefix, kv: true });
      const states = await w().stateStore({ tablePrefix });
      const team = `T${randomBytes(5).toString("hex").toUpperCase()}`;
      const installation = {
        teamId: team,
        userId: "U1",
        botToken: `xoxb-${randomBytes(8).toString("hex")}`,
        botId: "B1",
        botUserId: "U2",
        botScopes: ["commands"],
        userScopes: [],
        isEnterpriseInstall: false,
        tokenType: "bot" as const,
        installedAt: 1_732_520_000,
        customValues: {},
      };
      await store.save(installation);
      const keys = async () => Object.keys((await w().post("/kv", { prefix: tablePrefix })) as object).sort();
      expect(await keys()).toEqual([]); // misses and saves put nothing in KV
      const bot = await store.findBot({ teamId: team });
      expect(bot?.botToken).toBe(installation.botToken);
      await store.findInstallation({ teamId: team, userId: "U1" });
      expect(await keys()).toEqual([`${tablePrefix}::${team}:bot`, `${tablePrefix}::${team}:user:U1`]);
      // A hit comes from KV: D1 changed behind the cache's back, the cached bot is still answered.
      const t = tableNames(tablePrefix);
      await w().sql(`UPDATE "${t.bots}" SET bot_id = 'B9'`);
      expect((await store.findBot({ teamId: team }))?.botId).toBe("B1");
      // A write through the cache drops every entry of the workspace.
      expect(
        await store.updateTokens({ teamId: team }, { botToken: "xoxb-new" }, { botToken: installation.botToken }),
      ).toBe(true);
      expect(await keys()).toEqual([]);
      expect(await store.findBot({ teamId: team })).toMatchObject({ botId: "B9", botToken: "xoxb-new" });
      // States go to D1 only.
      const state = await states.issue({ returnTo: "/x" });
      expect(await keys()).toEqual([`${tablePrefix}::${team}:bot`]);
      expect(await states.consume(state)).toEqual({ returnTo: "/x" });
      await store.deleteAll({ teamId: team });
      expect(await keys()).toEqual([]);
      await Promise.all([store.close(), states.close()]);
      await dropTables(w(), tablePrefix);
    });
  });
});

describe("D1 stores: options", () => {
  it("refuse a missing or wrong binding with a ConfigError, before any I/O", async () => {
    const { D1InstallationStore, D1StateStore, KvCachedInstallationStore } = await import("../../src/stores/d1.js");
    const { ConfigError, CodedTypeError } = await import("../../src/errors.js");
    expect(() => new D1InstallationStore({} as never)).toThrow(ConfigError);
    expect(() => new D1StateStore({ database: { prepare: () => undefined } } as never)).toThrow(/batch/);
    expect(() => new D1InstallationStore({ database: {} as never, tablePrefix: "bad prefix" })).toThrow(ConfigError);
    const fake = { prepare: () => ({}), batch: async () => [] } as never;
    const inner = new D1InstallationStore({ database: fake });
    expect(() => new KvCachedInstallationStore(inner, { namespace: undefined as never })).toThrow(CodedTypeError);
    const kv = {
      get: async () => null,
      put: async () => undefined,
      delete: async () => undefined,
      list: async () => ({ keys: [], list_complete: true }),
    };
    expect(() => new KvCachedInstallationStore(inner, { namespace: kv, ttlSeconds: 10 })).toThrow(/60/);
    expect(() => new KvCachedInstallationStore(inner, { namespace: kv, keyPrefix: "a b" })).toThrow(CodedTypeError);
  });
});
