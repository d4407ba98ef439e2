// listWorkspaces on the SQL stores reads two statements (every latest bot, every user's latest
// installation) instead of a lookup per workspace and user. Oracle: the memory store, which keeps the same
// rules (the conformance suites check both), given the same random sequence of saves and deletes.
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { Installation } from "../../src/model/installation.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { MySQLInstallationStore } from "../../src/stores/mysql.js";
import { PostgresInstallationStore } from "../../src/stores/postgres.js";
import { tableNames } from "../../src/stores/sql/migrations.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";

const PG_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_URL = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

/** A small reproducible generator (xorshift32). */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/** The same random saves and deletes on every store, over 2 orgs × 6 workspaces, org-wide installs and 4 users. */
async function play(stores: InstallationStore[], seed: number, steps: number): Promise<void> {
  const rnd = prng(seed);
  const orgs = ["E0LIST0001", "E0LIST0002", undefined];
  for (let n = 0; n < steps; n++) {
    const enterpriseId = orgs[rnd(3)];
    const orgWide = enterpriseId !== undefined && rnd(6) === 0;
    const teamId = orgWide ? undefined : `T0LIST000${rnd(6)}`;
    const userId = `U0LIST000${rnd(4)}`;
    const op = rnd(10);
    const where = { ...(enterpriseId ? { enterpriseId } : {}), ...(teamId ? { teamId } : {}) };
    if (op < 7) {
      const withBot = rnd(4) !== 0;
      const i: Installation = {
        ...where,
        teamName: teamId ? `Team ${teamId}` : undefined,
        enterpriseName: enterpriseId ? `Org ${enterpriseId}` : undefined,
        userId,
        userToken: rnd(3) ? `xoxp-${n}-${randomBytes(4).toString("hex")}` : undefined,
        userScopes: ["search:read"],
        ...(withBot
          ? {
              botToken: `xoxb-${n}-${randomBytes(4).toString("hex")}`,
              botId: `B0LIST${n}`,
              botUserId: `U0BOT${n}`,
              botScopes: ["chat:write", `scope${n % 3}`],
              ...(rnd(2) ? { botRefreshToken: `xoxe-1-${n}`, botTokenExpiresAt: 1732520000 + n } : {}),
            }
          : { botScopes: [] }),
        isEnterpriseInstall: orgWide,
        tokenType: "bot",
        installedAt: 1732520000 + n + 0.25,
        customValues: { n },
      } as Installation;
      for (const k of Object.keys(i) as (keyof Installation)[]) if (i[k] === undefined) delete i[k];
      for (const s of stores) await s.save(structuredClone(i));
    } else if (op === 7) {
      for (const s of stores) await s.deleteInstallation({ ...where, userId });
    } else if (op === 8) {
      for (const s of stores) await s.deleteBot(where);
    } else if (rnd(4) === 0) {
      for (const s of stores) await s.deleteAll(where);
    }
  }
}

async function expectSameListings(store: InstallationStore, oracle: InstallationStore): Promise<void> {
  const all = await oracle.listWorkspaces();
  expect(all.length).toBeGreaterThan(3);
  expect(await store.listWorkspaces()).toStrictEqual(all);
  for (const f of [
    { enterpriseId: "E0LIST0001" },
    { teamId: "T0LIST0003" },
    { enterpriseId: "E0LIST0002", teamId: "T0LIST0001" },
    { teamId: "T0NOWHERE1" },
  ]) {
    expect(await store.listWorkspaces(f), JSON.stringify(f)).toStrictEqual(await oracle.listWorkspaces(f));
  }
}

describe("SQLite listWorkspaces agrees with the memory store", () => {
  for (const historicalData of [false, true]) {
    for (const seed of [1, 2, 3]) {
      it(`seed ${seed}${historicalData ? ", historicalData" : ""}`, async () => {
        const sqlite = new SQLiteInstallationStore({ filename: ":memory:", historicalData });
        const memory = new MemoryInstallationStore({ historicalData });
        try {
          await play([sqlite, memory], seed, 150);
          await expectSameListings(sqlite, memory);
        } finally {
          await sqlite.close();
        }
      });
    }
  }
});

const status = await probeBackend("PostgreSQL", PG_URL, async () => {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  await c.end();
});

describeBackend(status, () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      for (const p of prefixes) {
        const t = tableNames(p);
        const names = [t.installations, t.bots, t.states, t.migrations, t.meta, t.teamAccess, `${p}locks`];
        await c.query(`DROP TABLE IF EXISTS ${names.map((n) => `"${n}"`).join(", ")}`);
      }
    } finally {
      await c.end();
    }
  });

  it("PostgreSQL listWorkspaces agrees with the memory store (history on)", async () => {
    const tablePrefix = `lw_${randomBytes(4).toString("hex")}_`;
    prefixes.push(tablePrefix);
    const store = new PostgresInstallationStore({ url: PG_URL, tablePrefix, historicalData: true });
    const memory = new MemoryInstallationStore({ historicalData: true });
    try {
      await play([store, memory], 7, 120);
      await expectSameListings(store, memory);
    } finally {
      await store.close();
    }
  });
});

const mysqlStatus = await probeBackend("MySQL", MYSQL_URL, async () => {
  const c = await mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 3000 });
  await c.end();
});

describeBackend(mysqlStatus, () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    const c = await mysql.createConnection({ uri: MYSQL_URL });
    try {
      for (const p of prefixes) {
        const t = tableNames(p);
        for (const n of [t.installations, t.bots, t.states, t.migrations, t.meta, t.teamAccess, `${p}locks`])
          await c.query(`DROP TABLE IF EXISTS \`${n}\``);
      }
    } finally {
      await c.end();
    }
  });

  it("MySQL listWorkspaces agrees with the memory store", async () => {
    const tablePrefix = `lw_${randomBytes(4).toString("hex")}_`;
    prefixes.push(tablePrefix);
    const store = new MySQLInstallationStore({ url: MYSQL_URL, tablePrefix });
    const memory = new MemoryInstallationStore();
    try {
      await play([store, memory], 11, 120);
      await expectSameListings(store, memory);
    } finally {
      await store.close();
    }
  });
});
