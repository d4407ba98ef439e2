/**
 * The apps of one deployment share their connections (`openAppsStores`): one PostgreSQL pool (at most 10
 * connections, however many apps) and one pair
 * of Redis connections (commands, invalidation subscriber) however many apps there are, where opening
 * each app as a single-app deployment does (`openStores` + `applyStoreOptions` per app) grows with them.
 * `close()` leaves no connection open. Connections are counted on the servers: PostgreSQL's
 * `pg_stat_activity` by the `application_name` and Redis's `CLIENT LIST` by the client name this run sets
 * in the URLs.
 *
 * Needs PostgreSQL (a throwaway database) and Redis (a key prefix of this run's own); unreachable: skipped
 * with a warning, or a failure under CI=true.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { applyStoreOptions, openAppsStores, openStores } from "../../src/app/stores.js";
import type { Installation } from "../../src/model/installation.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import {
  createDatabase,
  deleteRedisKeys,
  dropDatabase,
  PG_URL,
  probePostgresAndRedis,
  REDIS_URL,
} from "../helpers/instances.js";

const status = await probePostgresAndRedis();
const tag = randomBytes(4).toString("hex");
const NAME = `sok-conn-${tag}`;
const PREFIX = `sok-conn-${tag}:`;
const TEAM = `T${tag.toUpperCase()}01`;

/** `n` apps, the first owning the default partition. */
const appsOf = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ clientId: `${1000 + i}.${tag.length + i}`, default: i === 0 }));

function install(clientId: string): Installation {
  return {
    teamId: TEAM,
    userId: "U0000000001",
    botToken: `xoxb-${clientId}-${randomUUID()}`,
    botId: "B0000000001",
    botUserId: "U0000000002",
    botScopes: ["chat:write"],
    userScopes: [],
    isEnterpriseInstall: false,
    installedAt: 1732520000.5,
    customValues: {},
  };
}

describeBackend(status, () => {
  const dbName = `sok_conn_${tag}`;
  let dbUrl = "";
  let redisUrl = "";
  let admin: pg.Client;
  let redis: Redis;

  beforeAll(async () => {
    const base = await createDatabase(dbName);
    const u = new URL(base);
    u.searchParams.set("application_name", NAME);
    dbUrl = u.toString();
    const r = new URL(REDIS_URL);
    r.searchParams.set("connectionName", NAME);
    redisUrl = r.toString();
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    await admin?.end().catch(() => {});
    await redis?.quit().catch(() => {});
    await deleteRedisKeys(`${PREFIX}*`);
    await dropDatabase(dbName);
  });

  const pgConnections = async () =>
    Number(
      (
        await admin.query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2", [
          dbName,
          NAME,
        ])
      ).rows[0].n,
    );
  const redisConnections = async () =>
    String(await redis.client("LIST"))
      .split("\n")
      .filter((line) => line.includes(` name=${NAME} `)).length;

  /** Every piece of every app used once (installation, cache, lock, state), one app after the other. */
  async function exercise(stores: Awaited<ReturnType<typeof openStores>>[], apps: ReturnType<typeof appsOf>) {
    for (const [i, s] of stores.entries()) {
      const mine = install(apps[i]!.clientId);
      await s.installationStore.withLock("rotation/test", () => s.installationStore.save(mine));
      expect((await s.installationStore.findBot({ teamId: TEAM }))?.botToken).toBe(mine.botToken);
      const state = await s.stateStore.issue({ app: apps[i]!.clientId });
      expect(await s.stateStore.consume(state)).toEqual({ app: apps[i]!.clientId });
    }
    // Each app still finds its own bot: one database, one Redis, partitions kept apart.
    for (const [i, s] of stores.entries())
      expect((await s.installationStore.findBot({ teamId: TEAM }))?.botToken).toContain(`xoxb-${apps[i]!.clientId}-`);
  }

  const options = () => ({ redisUrl, redisKeyPrefix: PREFIX });

  /** Opens `n` apps with `openAppsStores`; the connections while open, and whether all closed after. */
  async function shared(n: number) {
    const apps = appsOf(n);
    const opened = await openAppsStores(dbUrl, apps, options());
    await exercise(opened.stores, apps);
    // Redis: one command connection and one subscriber; PostgreSQL: the one pool's (used one app at a time).
    await expect.poll(redisConnections).toBe(2);
    const counts = { pg: await pgConnections(), redis: await redisConnections() };
    await opened.close();
    return counts;
  }

  /** The same `n` apps, each opened as its own single-app deployment (what openAppsStores did before). */
  async function perApp(n: number) {
    const apps = appsOf(n);
    const stores = [];
    for (const app of apps) {
      const clientId = app.default ? undefined : app.clientId;
      stores.push(await applyStoreOptions(await openStores(dbUrl, { clientId }), { ...options(), clientId }));
    }
    try {
      await exercise(stores, apps);
      // Per app: lock, state store, bus publisher and bus subscriber.
      await expect.poll(redisConnections).toBe(4 * n);
      return { pg: await pgConnections(), redis: await redisConnections() };
    } finally {
      for (const s of stores) await s.close();
    }
  }

  it("2, 5 and 12 apps share one pool and two Redis connections; close() leaves none open", async () => {
    const figures: Record<string, { pg: number; redis: number }> = {};
    for (const n of [2, 5, 12]) {
      if (n <= 5) {
        figures[`per-app ${n}`] = await perApp(n);
        await expect.poll(pgConnections).toBe(0);
        await expect.poll(redisConnections).toBe(0);
      }
      figures[`shared ${n}`] = await shared(n);
      // close() closed the shared pool and both Redis connections.
      await expect.poll(pgConnections).toBe(0);
      await expect.poll(redisConnections).toBe(0);
    }
    console.log(`connections (PostgreSQL, Redis): ${JSON.stringify(figures)}`);
    // Shared: two Redis connections whatever the number of apps; PostgreSQL within the one pool's size
    // (10), even with 12 apps that each wrote (a pool per app would hold at least 12).
    for (const n of [2, 5, 12]) {
      expect(figures[`shared ${n}`]!.redis).toBe(2);
      expect(figures[`shared ${n}`]!.pg).toBeGreaterThanOrEqual(1);
      expect(figures[`shared ${n}`]!.pg).toBeLessThanOrEqual(10);
    }
    // Per app: each app its own pools (installation and state store) and its own Redis connections.
    expect(figures["per-app 5"]!.pg).toBeGreaterThanOrEqual(5);
    expect(figures["per-app 5"]!.pg).toBeGreaterThan(figures["shared 5"]!.pg);
  });

  it("maxConnections (DATABASE_MAX_CONNECTIONS) caps the shared pool, and each pool of a single app", async () => {
    // Many statements at once, each wanting a connection: the pools grow to their cap and no further.
    const burst = (stores: Awaited<ReturnType<typeof openStores>>[], apps: ReturnType<typeof appsOf>) =>
      Promise.all(
        Array.from({ length: 24 }, async (_, k) => {
          const i = k % stores.length;
          await stores[i]!.installationStore.save(install(apps[i]!.clientId));
          await stores[i]!.stateStore.issue({ k });
        }),
      );
    const apps = appsOf(4);
    const opened = await openAppsStores(dbUrl, apps, { ...options(), maxConnections: 2 });
    let peak = 0;
    try {
      await burst(opened.stores, apps);
      peak = await pgConnections();
      await burst(opened.stores, apps);
      peak = Math.max(peak, await pgConnections());
    } finally {
      await opened.close();
    }
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(2);
    await expect.poll(pgConnections).toBe(0);
    // One app: its installation store and state store each have a pool of at most 1.
    const single = await openStores(dbUrl, { maxConnections: 1 });
    try {
      await burst([single], [{ clientId: "", default: true }]);
      expect(await pgConnections()).toBeLessThanOrEqual(2);
    } finally {
      await single.close();
    }
    await expect(openAppsStores(dbUrl, apps, { maxConnections: 0 })).rejects.toThrow(
      /maxConnections must be a positive integer/,
    );
  });
});

/** Two apps on one database: each saves and finds its own bot (isolated), then `close()`. */
async function twoApps(url: string): Promise<{ close(): Promise<void> }> {
  const apps = appsOf(2);
  const opened = await openAppsStores(url, apps);
  for (const [i, s] of opened.stores.entries()) await s.installationStore.save(install(apps[i]!.clientId));
  for (const [i, s] of opened.stores.entries())
    expect((await s.installationStore.findBot({ teamId: TEAM }))?.botToken).toContain(`xoxb-${apps[i]!.clientId}-`);
  return opened;
}

it.runIf(existsSync("/proc/self/fd"))(
  "SQLite: the apps share one connection to the file, closed by close()",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "sok-conn-"));
    const file = join(dir, "apps.db");
    // Descriptors of this process open on the database file itself (one per connection).
    const open = async () => {
      let n = 0;
      for (const fd of await readdir("/proc/self/fd"))
        if ((await readlink(`/proc/self/fd/${fd}`).catch(() => "")) === file) n++;
      return n;
    };
    try {
      const opened = await twoApps(`sqlite:${file}`);
      expect(await open()).toBe(1);
      await opened.close();
      expect(await open()).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

const MYSQL_URL = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";
const mysqlStatus = await probeBackend("MySQL", MYSQL_URL, async () => {
  const c = await mysql.createConnection(MYSQL_URL);
  await c.end();
});

describeBackend(mysqlStatus, () => {
  it("MySQL: the apps share one pool, closed by close()", async () => {
    const db = `sok_conn_${tag}`;
    const admin = await mysql.createConnection(MYSQL_URL);
    const u = new URL(MYSQL_URL);
    u.pathname = `/${db}`;
    const connections = async () => {
      const [rows] = await admin.query("SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?", [db]);
      return Number((rows as Array<{ n: number }>)[0]!.n);
    };
    try {
      await admin.query(`CREATE DATABASE ${db}`);
      const opened = await twoApps(u.toString());
      // One pool: the apps' stores opened one after the other reuse its idle connection.
      const n = await connections();
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(10);
      await opened.close();
      await expect.poll(connections).toBe(0);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${db}`);
      await admin.end();
    }
  });
});
