// Runs against a real PostgreSQL server: POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
// Unreachable: skipped with a warning locally, a failure under CI=true (see test/helpers/backends.ts).
// This process runs in America/New_York, so nothing may depend on the machine's time zone.
process.env.TZ = "America/New_York";

import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import type { DeleteInstallationQuery } from "../../src/stores/installation-store.js";
import {
  PgExecutor,
  type PgPoolLike,
  PostgresInstallationStore,
  PostgresStateStore,
  postgresDialect,
} from "../../src/stores/postgres.js";
import { MIGRATIONS, migrate, SCHEMA_VERSION, tableNames } from "../../src/stores/sql/migrations.js";
import { testInstallationStore, testStateStore } from "../../src/testing/index.js";
import { runner } from "../conformance/runner.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import { expectNoTokenInDump } from "../helpers/encrypted-dump.js";

const URL_ = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const status = await probeBackend("PostgreSQL", URL_, async () => {
  const c = new pg.Client({ connectionString: URL_, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    await c.query("SELECT 1");
  } finally {
    await c.end();
  }
});

const newPool = (options: pg.PoolConfig = {}) => {
  const p = new pg.Pool({ connectionString: URL_, max: 5, ...options });
  p.on("error", () => undefined);
  return p;
};
const randomPrefix = () => `t${randomBytes(5).toString("hex")}_`;
const fakeBotToken = () => `xoxb-test-${randomUUID()}`;
const fakeUserToken = () => `xoxp-test-${randomUUID()}`;
const id = (p: string) => `${p}${randomBytes(5).toString("hex").toUpperCase()}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function install(teamId: string, userId: string, o: Partial<Installation> = {}): Installation {
  return {
    teamId,
    userId,
    botToken: fakeBotToken(),
    botId: id("B"),
    botUserId: id("U"),
    botScopes: ["chat:write"],
    userToken: fakeUserToken(),
    userScopes: [],
    isEnterpriseInstall: false,
    tokenType: "bot",
    installedAt: 1732520000.5,
    customValues: {},
    ...o,
  };
}

describeBackend(status, () => {
  let admin: pg.Pool;
  beforeAll(() => {
    admin = newPool();
  });
  afterAll(async () => {
    await admin?.end();
  });

  async function dropTables(prefix: string): Promise<void> {
    const t = tableNames(prefix);
    const names = [t.installations, t.bots, t.states, t.migrations, t.meta, t.teamAccess, `${prefix}locks`].map(
      (n) => `"${n}"`,
    );
    await admin.query(`DROP TABLE IF EXISTS ${names.join(", ")}`);
  }

  async function countRows(table: string, q: DeleteInstallationQuery, clientId?: string): Promise<number> {
    const where = ["enterprise_id = $1", "team_id = $2"];
    const params = [q.enterpriseId ?? "", q.teamId ?? ""];
    if (q.userId !== undefined) {
      where.push("user_id = $3");
      params.push(q.userId);
    }
    if (clientId !== undefined) {
      params.push(clientId);
      where.push(`client_id = $${params.length}`);
    }
    const r = await admin.query(`SELECT COUNT(*) AS n FROM "${table}" WHERE ${where.join(" AND ")}`, params);
    return Number(r.rows[0].n);
  }

  it("with EncryptedInstallationStore in front, no table row holds a token (value or shape)", async () => {
    const prefix = randomPrefix();
    const inner = new PostgresInstallationStore({ pool: admin, tablePrefix: prefix });
    try {
      await expectNoTokenInDump(inner, async () => {
        const t = tableNames(prefix);
        const out: Record<string, unknown>[] = [];
        for (const table of [t.installations, t.bots])
          out.push(...(await admin.query(`SELECT * FROM "${table}"`)).rows);
        return out;
      });
    } finally {
      await inner.close();
      await dropTables(prefix);
    }
  });

  testInstallationStore(
    runner,
    "postgres (url)",
    async () => {
      const prefix = randomPrefix();
      const store = new PostgresInstallationStore({ url: URL_, tablePrefix: prefix });
      return {
        store,
        cleanup: async () => {
          await store.close();
          await dropTables(prefix);
        },
      };
    },
    {
      supportsHistory: true,
      // Historical mode runs on your own pool (shared by the test's admin queries).
      makeStoreWithHistory: async () => {
        const prefix = randomPrefix();
        const store = new PostgresInstallationStore({ pool: admin, tablePrefix: prefix, historicalData: true });
        return {
          store,
          cleanup: async () => {
            await store.close();
            await dropTables(prefix);
          },
          countHistory: async (q) => ({
            installations: await countRows(store.tables.installations, q),
            bots: await countRows(store.tables.bots, { enterpriseId: q.enterpriseId, teamId: q.teamId }),
          }),
        };
      },
      makeAppStores: async () => {
        const prefix = randomPrefix();
        const open = (clientId?: string) =>
          new PostgresInstallationStore({ url: URL_, tablePrefix: prefix, clientId, historicalData: true });
        const a = open("1111111111.1111111111");
        await a.listWorkspaces(); // migrates once, before the other two open the same tables
        const [b, defaultApp] = [open("2222222222.2222222222"), open()];
        return {
          a,
          b,
          defaultApp,
          countHistory: async (store, q) => {
            const s = store as PostgresInstallationStore;
            return {
              installations: await countRows(s.tables.installations, q, s.clientId),
              bots: await countRows(s.tables.bots, { enterpriseId: q.enterpriseId, teamId: q.teamId }, s.clientId),
            };
          },
          cleanup: async () => {
            await Promise.all([a.close(), b.close(), defaultApp.close()]);
            await dropTables(prefix);
          },
        };
      },
    },
  );

  const stateHandle = (o: { nowMs?: () => number; ttlSeconds?: number } = {}) => {
    const prefix = randomPrefix();
    const store = new PostgresStateStore({ pool: admin, tablePrefix: prefix, ...o });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropTables(prefix);
      },
    };
  };
  testStateStore(runner, "postgres", async () => stateHandle(), {
    clockStore: async (clock, ttlSeconds) =>
      stateHandle(ttlSeconds === undefined ? { nowMs: clock } : { nowMs: clock, ttlSeconds }),
    ttlStore: async (ttlSeconds) => stateHandle({ ttlSeconds }),
    appStores: async () => {
      const h = stateHandle();
      return { a: h.store, b: h.store, cleanup: h.cleanup };
    },
  });

  it("migrations are idempotent, also when two pools migrate at once", async () => {
    const prefix = randomPrefix();
    const a = newPool({ max: 2 });
    const b = newPool({ max: 2 });
    try {
      const [va, vb] = await Promise.all([
        migrate(new PgExecutor(a), postgresDialect, prefix),
        migrate(new PgExecutor(b), postgresDialect, prefix),
      ]);
      expect([va, vb]).toEqual([SCHEMA_VERSION, SCHEMA_VERSION]);
      expect(await migrate(new PgExecutor(a), postgresDialect, prefix)).toBe(SCHEMA_VERSION);
      const r = await admin.query(`SELECT version FROM "${prefix}migrations" ORDER BY version`);
      expect(r.rows.map((x) => Number(x.version))).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await a.end();
      await b.end();
      await dropTables(prefix);
    }
  });

  it("your own pool: used as given, left open by close()", async () => {
    const pool = newPool({ max: 2 });
    const prefix = randomPrefix();
    let queries = 0;
    const counting: PgPoolLike = {
      query: (c) => {
        queries++;
        return pool.query(c);
      },
      connect: () => pool.connect(),
    };
    try {
      const store = new PostgresInstallationStore({ pool: counting, tablePrefix: prefix, clientId: "111.222" });
      const inst = install(id("T"), id("U"));
      await store.save(inst);
      expect((await store.findBot({ teamId: inst.teamId }))?.botToken).toBe(inst.botToken);
      await store.close();
      expect(queries).toBeGreaterThan(0);
      expect((await pool.query("SELECT 1 AS one")).rows[0].one).toBe(1);
      const r = await pool.query(`SELECT client_id FROM "${prefix}bots"`);
      expect(r.rows).toEqual([{ client_id: "111.222" }]);
    } finally {
      await pool.end();
      await dropTables(prefix);
    }
  });

  it("rejects bad options before connecting", () => {
    expect(() => new PostgresInstallationStore({ url: "mysql://x@y/z" })).toThrow(ConfigError);
    expect(() => new PostgresInstallationStore({ url: URL_, tablePrefix: "x; DROP" })).toThrow(ConfigError);
    expect(() => new PostgresStateStore({ pool: {} as PgPoolLike })).toThrow(ConfigError);
  });

  it("a state consumed at once from 2 separate pools: exactly one wins, every time", async () => {
    const prefix = randomPrefix();
    const a = new PostgresStateStore({ url: URL_, tablePrefix: prefix });
    await a.init();
    const b = new PostgresStateStore({ url: URL_, tablePrefix: prefix });
    await b.init();
    try {
      for (let i = 0; i < 20; i++) {
        const data = { i, nonce: randomUUID() };
        const state = await a.issue(data);
        const results = await Promise.all([a.consume(state), b.consume(state)]);
        expect(results.filter((r) => r !== undefined)).toEqual([data]);
      }
    } finally {
      await a.close();
      await b.close();
      await dropTables(prefix);
    }
  });

  it("withLock on one key from 2 pools serialises the holders", async () => {
    const prefix = randomPrefix();
    const a = new PostgresInstallationStore({ url: URL_, tablePrefix: prefix });
    await a.init();
    const b = new PostgresInstallationStore({ url: URL_, tablePrefix: prefix });
    await b.init();
    try {
      const key = `test/${randomUUID()}/bot`;
      let inside = 0;
      let maxInside = 0;
      const order: string[] = [];
      const hold = (name: string) => async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        order.push(`${name}:in`);
        await sleep(150);
        order.push(`${name}:out`);
        inside--;
        return name;
      };
      const results = await Promise.all([
        a.withLock(key, hold("a"), { timeoutMs: 10_000 }),
        b.withLock(key, hold("b"), { timeoutMs: 10_000 }),
        a.withLock(key, hold("a2"), { timeoutMs: 10_000 }),
        b.withLock(key, hold("b2"), { timeoutMs: 10_000 }),
      ]);
      expect(results.sort()).toEqual(["a", "a2", "b", "b2"]);
      expect(maxInside).toBe(1);
      for (let i = 0; i < order.length; i += 2) expect(order[i]?.split(":")[0]).toBe(order[i + 1]?.split(":")[0]);
    } finally {
      await a.close();
      await b.close();
      await dropTables(prefix);
    }
  });

  it("time zone safe: epoch seconds in DOUBLE PRECISION, whatever the process's or the session's zone", async () => {
    expect(new Date(Date.UTC(2024, 10, 25, 12)).getTimezoneOffset()).toBe(300);
    const prefix = randomPrefix();
    const pool = newPool({ max: 2, options: "-c TimeZone=Pacific/Auckland" });
    try {
      const store = new PostgresInstallationStore({ pool, tablePrefix: prefix });
      const inst = install(id("T"), id("U"), {
        installedAt: 1732520000.123,
        botTokenExpiresAt: 1732563200.5,
        userTokenExpiresAt: 1732563201,
      });
      await store.save(inst);
      const read = async (s: PostgresInstallationStore) =>
        s.findInstallation({ teamId: inst.teamId, userId: inst.userId });
      expect(await read(store)).toMatchObject({
        installedAt: 1732520000.123,
        botTokenExpiresAt: 1732563200.5,
        userTokenExpiresAt: 1732563201,
      });
      // Read back through a session in yet another zone.
      const other = new PostgresInstallationStore({ pool: admin, tablePrefix: prefix });
      expect((await read(other))?.installedAt).toBe(1732520000.123);
      const types = await admin.query(
        "SELECT DISTINCT data_type FROM information_schema.columns WHERE table_name LIKE $1",
        [`${prefix}%`],
      );
      const list = types.rows.map((r) => String(r.data_type));
      expect(list).toContain("double precision");
      expect(list.some((t) => t.includes("timestamp") || t.includes("date"))).toBe(false);
    } finally {
      await pool.end();
      await dropTables(prefix);
    }
  });
});
