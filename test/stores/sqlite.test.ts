// Also run under another time zone: `TZ=America/New_York npx vitest run test/stores/sqlite.test.ts`.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, ErrorCode, InvalidArgumentError, SchemaVersionError, StoreError } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import { generateState } from "../../src/state/state.js";
import type { DeleteInstallationQuery } from "../../src/stores/installation-store.js";
import { SqlInstallationStore, SqlStateStore } from "../../src/stores/sql/core.js";
import type { Dialect, SqlExecutor } from "../../src/stores/sql/dialect.js";
import {
  MIGRATIONS,
  type Migration,
  migrate,
  renderMigrations,
  SCHEMA_VERSION,
  tableNames,
  validateTablePrefix,
} from "../../src/stores/sql/migrations.js";
import {
  BetterSqlite3Executor,
  DEFAULT_SQLITE_FILENAME,
  type SQLiteDatabase,
  SQLiteInstallationStore,
  SQLiteStateStore,
  sqliteDialect,
} from "../../src/stores/sqlite.js";
import { testInstallationStore, testStateStore } from "../../src/testing/index.js";
import { runner } from "../conformance/runner.js";
import { childInstallation } from "./fixtures/sqlite-child-data.js";

const CONSUME_CHILD = join(import.meta.dirname, "fixtures", "sqlite-consume-state.ts");
const SAVE_CHILD = join(import.meta.dirname, "fixtures", "sqlite-save-installations.ts");

const tempDir = () => mkdtempSync(join(tmpdir(), "slack-oauth-kit-sqlite-"));
const removeDir = (dir: string) => rmSync(dir, { recursive: true, force: true });
const fakeBotToken = () => `xoxb-test-${randomUUID()}`;
const fakeUserToken = () => `xoxp-test-${randomUUID()}`;
const id = (prefix: string) => `${prefix}${randomBytes(5).toString("hex").toUpperCase()}`;
const nextTurn = () => new Promise((r) => setImmediate(r));

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

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
}

/** Counts rows of a table matching a workspace (and user), of one app partition when `clientId` is given. */
function countRows(db: SQLiteDatabase, table: string, q: DeleteInstallationQuery, clientId?: string) {
  const where = ["enterprise_id = ?", "team_id = ?"];
  const params = [q.enterpriseId ?? "", q.teamId ?? ""];
  if (clientId !== undefined) {
    where.push("client_id = ?");
    params.push(clientId);
  }
  if (q.userId !== undefined) {
    where.push("user_id = ?");
    params.push(q.userId);
  }
  return db
    .prepare(`SELECT COUNT(*) FROM "${table}" WHERE ${where.join(" AND ")}`)
    .pluck()
    .get(...params) as number;
}

// ---------------------------------------------------------------------------------------------------
// Shared conformance suites: a file in a temp dir, and ":memory:".
// ---------------------------------------------------------------------------------------------------

function fileStore(options: { historicalData?: boolean } = {}) {
  const dir = tempDir();
  const store = new SQLiteInstallationStore({ filename: join(dir, "slack.db"), ...options });
  return {
    store,
    cleanup: async () => {
      await store.close();
      removeDir(dir);
    },
    countHistory: async (q: DeleteInstallationQuery) => ({
      installations: countRows(store.database, store.tables.installations, q),
      bots: countRows(store.database, store.tables.bots, { enterpriseId: q.enterpriseId, teamId: q.teamId }),
    }),
  };
}

testInstallationStore(runner, "sqlite (file)", async () => fileStore(), {
  supportsHistory: true,
  makeStoreWithHistory: async () => fileStore({ historicalData: true }),
  makeAppStores: async () => {
    const dir = tempDir();
    const filename = join(dir, "slack.db");
    const open = (clientId?: string) => new SQLiteInstallationStore({ filename, clientId, historicalData: true });
    const [a, b, defaultApp] = [open("1111111111.1111111111"), open("2222222222.2222222222"), open()];
    return {
      a,
      b,
      defaultApp,
      countHistory: async (store, q) => {
        const s = store as SQLiteInstallationStore;
        const ws = { enterpriseId: q.enterpriseId, teamId: q.teamId };
        return {
          installations: countRows(s.database, s.tables.installations, q, s.clientId),
          bots: countRows(s.database, s.tables.bots, ws, s.clientId),
        };
      },
      cleanup: async () => {
        await Promise.all([a.close(), b.close(), defaultApp.close()]);
        removeDir(dir);
      },
    };
  },
});

testInstallationStore(runner, "sqlite (:memory:)", async () => {
  const store = new SQLiteInstallationStore({ filename: ":memory:" });
  return { store, cleanup: () => store.close() };
});

testInstallationStore(runner, "sqlite (your own connection, custom prefix and clientId)", async () => {
  const db = new Database(":memory:");
  const store = new SQLiteInstallationStore({ database: db, tablePrefix: "app2_", clientId: "1234567890.987654321" });
  return {
    store,
    cleanup: async () => {
      await store.close();
      db.close();
    },
  };
});

{
  let filename = "";
  const open = (o: { nowMs?: () => number; ttlSeconds?: number } = {}) => {
    const dir = tempDir();
    filename = join(dir, "states.db");
    const store = new SQLiteStateStore({ filename, ...o });
    return {
      store,
      cleanup: async () => {
        await store.close();
        removeDir(dir);
      },
    };
  };
  testStateStore(runner, "sqlite (file, 4 OS processes)", async () => open(), {
    clockStore: async (clock, ttlSeconds) =>
      open(ttlSeconds === undefined ? { nowMs: clock } : { nowMs: clock, ttlSeconds }),
    ttlStore: async (ttlSeconds) => open({ ttlSeconds }),
    appStores: async () => {
      const h = open();
      return { a: h.store, b: h.store, cleanup: h.cleanup };
    },
    multiProcess: {
      command: process.execPath,
      args: (states) => ["--import", "tsx", CONSUME_CHILD, filename, ...states],
      processes: 4,
    },
  });
}

testStateStore(
  runner,
  "sqlite (:memory:)",
  async () => {
    const store = new SQLiteStateStore({ filename: ":memory:" });
    return { store, cleanup: () => store.close() };
  },
  {
    clockStore: async (clock, ttlSeconds) => {
      const store = new SQLiteStateStore(
        ttlSeconds === undefined
          ? { filename: ":memory:", nowMs: clock }
          : { filename: ":memory:", nowMs: clock, ttlSeconds },
      );
      return { store, cleanup: () => store.close() };
    },
  },
);

// ---------------------------------------------------------------------------------------------------
// SQLite specifics.
// ---------------------------------------------------------------------------------------------------

describe("SQLiteInstallationStore: opening and closing", () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => removeDir(dir));

  it("opens with WAL, busy_timeout 5000 and synchronous=NORMAL, creating the parent directories", async () => {
    const filename = join(dir, "a", "b", "c", "slack.db");
    const store = new SQLiteInstallationStore({ filename });
    await store.init();
    expect(existsSync(filename)).toBe(true);
    expect(store.database.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(store.database.pragma("busy_timeout", { simple: true })).toBe(5000);
    expect(store.database.pragma("synchronous", { simple: true })).toBe(1);
    expect(store.database.pragma("mmap_size", { simple: true })).toBe(256 * 1024 * 1024);
    await store.close();
    expect(store.database.open).toBe(false);
    const noMmap = new SQLiteStateStore({ filename, mmapSizeBytes: 0, busyTimeoutMs: 100 });
    expect(noMmap.database.pragma("mmap_size", { simple: true })).toBe(0);
    expect(noMmap.database.pragma("busy_timeout", { simple: true })).toBe(100);
    await noMmap.close();
  });

  it("defaults to ./data/slack-oauth-kit.db under the working directory", async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const store = new SQLiteInstallationStore();
      await store.save(install("T1", "U1"));
      await store.close();
      expect(DEFAULT_SQLITE_FILENAME).toBe("./data/slack-oauth-kit.db");
      expect(existsSync(join(dir, "data", "slack-oauth-kit.db"))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  it("keeps data across reopening the file", async () => {
    const filename = join(dir, "slack.db");
    const inst = install(id("T"), id("U"), { customValues: { n: 1 } });
    const a = new SQLiteInstallationStore({ filename });
    await a.save(inst);
    await a.close();
    const b = new SQLiteInstallationStore({ filename });
    expect(await b.findInstallation({ teamId: inst.teamId })).toStrictEqual(inst);
    await b.close();
  });

  it("leaves your own connection open and its pragmas alone", async () => {
    const db = new Database(join(dir, "own.db"));
    const store = new SQLiteInstallationStore({ database: db });
    await store.save(install("T1", "U1"));
    expect(store.database).toBe(db);
    expect(db.pragma("journal_mode", { simple: true })).toBe("delete");
    await store.close();
    expect(db.open).toBe(true);
    expect((await new SQLiteInstallationStore({ database: db }).findBot({ teamId: "T1" }))?.teamId).toBe("T1");
    db.close();
  });

  it("after close() every call rejects with StoreError carrying the cause, and close() is idempotent", async () => {
    const store = new SQLiteInstallationStore({ filename: join(dir, "slack.db") });
    const inst = install("T1", "U1");
    await store.save(inst);
    await store.close();
    await store.close();
    for (const call of [
      () => store.findBot({ teamId: "T1" }),
      () => store.findInstallation({ teamId: "T1" }),
      () => store.save(inst),
      () => store.deleteBot({ teamId: "T1" }),
      () => store.deleteInstallation({ teamId: "T1", userId: "U1" }),
      () => store.deleteAll({ teamId: "T1" }),
    ]) {
      const err = await rejection(call());
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe(ErrorCode.Store);
      expect((err as StoreError).cause).toBeInstanceOf(Error);
      expect((err as StoreError).message).toMatch(/^SQLiteInstallationStore\.\w+ failed: /);
      expect((err as StoreError).message).not.toContain(inst.botToken);
      expect((err as StoreError).message).not.toContain(inst.userToken);
    }
  });

  it("close() lets a save already started finish", async () => {
    const filename = join(dir, "slack.db");
    const store = new SQLiteInstallationStore({ filename });
    const insts = Array.from({ length: 5 }, (_, i) => install(`T${i}`, "U1"));
    await Promise.all([...insts.map((i) => store.save(i)), store.close()]);
    expect(store.database.open).toBe(false);
    const again = new SQLiteInstallationStore({ filename });
    for (const i of insts) expect((await again.findBot({ teamId: i.teamId }))?.botToken).toBe(i.botToken);
    await again.close();
  });

  it("SQLITE_BUSY after the busy timeout is a StoreError; the store works again once the lock is gone", async () => {
    const filename = join(dir, "slack.db");
    const store = new SQLiteInstallationStore({ filename, busyTimeoutMs: 50 });
    await store.init();
    const other = new Database(filename);
    other.exec("BEGIN IMMEDIATE");
    try {
      const inst = install("T1", "U1");
      const err = await rejection(store.save(inst));
      expect(err).toBeInstanceOf(StoreError);
      expect(((err as StoreError).cause as { code?: string }).code).toBe("SQLITE_BUSY");
      expect((err as StoreError).message).toContain("SQLITE_BUSY");
      expect((err as StoreError).message).not.toContain(inst.botToken);
      // Readers are not blocked by a writer (WAL).
      expect(await store.findBot({ teamId: "T1" })).toBeUndefined();
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    const inst = install("T1", "U1");
    await store.save(inst);
    expect((await store.findBot({ teamId: "T1" }))?.botToken).toBe(inst.botToken);
    await store.close();
  });

  it.each(["", "A_", "1x", "x-y", "x;drop", 'x"', "a".repeat(32), 42])(
    "rejects tablePrefix %j with ConfigError before opening anything",
    (tablePrefix) => {
      const filename = join(dir, "never.db");
      expect(() => new SQLiteInstallationStore({ filename, tablePrefix: tablePrefix as string })).toThrow(ConfigError);
      expect(() => new SQLiteStateStore({ filename, tablePrefix: tablePrefix as string })).toThrow(ConfigError);
      expect(existsSync(filename)).toBe(false);
    },
  );

  it("rejects bad clientId, ttlSeconds, busyTimeoutMs and mmapSizeBytes with ConfigError", () => {
    const filename = join(dir, "never.db");
    expect(() => new SQLiteInstallationStore({ filename, clientId: "a b" })).toThrow(ConfigError);
    expect(() => new SQLiteInstallationStore({ filename, clientId: "x".repeat(129) })).toThrow(ConfigError);
    expect(() => new SQLiteStateStore({ filename, ttlSeconds: 0 })).toThrow(ConfigError);
    expect(() => new SQLiteStateStore({ filename, ttlSeconds: Number.NaN })).toThrow(ConfigError);
    expect(() => new SQLiteInstallationStore({ filename, busyTimeoutMs: -1 })).toThrow(ConfigError);
    expect(() => new SQLiteInstallationStore({ filename, mmapSizeBytes: 1.5 })).toThrow(ConfigError);
    expect(existsSync(filename)).toBe(false);
  });

  it("a failure to open is a StoreError", () => {
    const blocker = join(dir, "file");
    new Database(blocker).close();
    expect(() => new SQLiteInstallationStore({ filename: join(blocker, "sub", "slack.db") })).toThrow(StoreError);
  });
});

describe("SQLiteInstallationStore: schema and storage", () => {
  let store: SQLiteInstallationStore;
  beforeEach(async () => {
    store = new SQLiteInstallationStore({ filename: ":memory:" });
    await store.init();
  });
  afterEach(() => store.close());

  const columns = (table: string) =>
    store.database.prepare(`PRAGMA table_info("${table}")`).all() as {
      name: string;
      type: string;
      notnull: number;
      dflt_value: string | null;
    }[];

  it("creates prefixed tables; key columns are NOT NULL DEFAULT '', times REAL, never DATETIME", () => {
    const t = tableNames("slack_");
    expect(store.tables).toStrictEqual(t);
    for (const table of [t.installations, t.bots]) {
      const cols = columns(table);
      for (const k of ["client_id", "enterprise_id", "team_id"]) {
        expect(
          cols.find((c) => c.name === k),
          `${table}.${k}`,
        ).toMatchObject({ notnull: 1, dflt_value: "''" });
      }
      expect(cols.find((c) => c.name === "id")).toMatchObject({ type: "INTEGER" });
      expect(cols.find((c) => c.name === "installed_at")?.type).toBe("REAL");
      expect(cols.find((c) => c.name === "bot_token_expires_at")?.type).toBe("REAL");
      expect(cols.find((c) => c.name === "is_enterprise_install")?.type).toBe("INTEGER");
    }
    expect(columns(t.installations).find((c) => c.name === "user_id")).toMatchObject({ notnull: 1, dflt_value: "''" });
    expect(columns(t.states).find((c) => c.name === "expires_at")?.type).toBe("REAL");
    const ddl = (store.database.prepare("SELECT group_concat(sql, ';') FROM sqlite_master").pluck().get() as string)
      .toUpperCase()
      .replaceAll(/"[^"]*"/g, "");
    expect(ddl).not.toMatch(/DATE|TIME(?!OUT)/);
  });

  it("stores '' (not NULL) for missing keys, JSON for scopes and custom values, 0/1 for booleans, REAL for times", async () => {
    const inst = install("T1", "U1", { botScopes: ["chat:write", "commands"], customValues: { a: { b: [1] } } });
    await store.save(inst);
    await store.save({
      enterpriseId: "E1",
      userId: "U2",
      userToken: fakeUserToken(),
      botScopes: [],
      userScopes: [],
      isEnterpriseInstall: true,
      installedAt: 1732520000.125,
      customValues: {},
    });
    const row = (sql: string) => store.database.prepare(sql).get() as Record<string, unknown>;
    expect(
      row(
        `SELECT enterprise_id, team_id, user_id, client_id, bot_scopes, user_scopes, custom_values, is_enterprise_install,
        typeof(installed_at) AS t, enterprise_name FROM slack_installations WHERE team_id = 'T1'`,
      ),
    ).toStrictEqual({
      enterprise_id: "",
      team_id: "T1",
      user_id: "U1",
      client_id: "",
      bot_scopes: '["chat:write","commands"]',
      user_scopes: "[]",
      custom_values: '{"a":{"b":[1]}}',
      is_enterprise_install: 0,
      t: "real",
      enterprise_name: null,
    });
    expect(
      row("SELECT team_id, is_enterprise_install FROM slack_installations WHERE enterprise_id = 'E1'"),
    ).toStrictEqual({ team_id: "", is_enterprise_install: 1 });
    expect(row("SELECT COUNT(*) AS n FROM slack_bots WHERE enterprise_id = 'E1'")).toStrictEqual({ n: 0 });
  });

  it("keeps one row per user and one bot per workspace by default, with ever-increasing ids", async () => {
    for (let i = 0; i < 5; i++) await store.save(install("T1", "U1"));
    await store.save(install("T1", "U2"));
    const rows = store.database.prepare("SELECT id, user_id FROM slack_installations ORDER BY id").all() as {
      id: number;
      user_id: string;
    }[];
    expect(rows.map((r) => r.user_id)).toStrictEqual(["U1", "U2"]);
    expect(rows[1]!.id).toBeGreaterThan(rows[0]!.id);
    expect(store.database.prepare("SELECT COUNT(*) FROM slack_bots").pluck().get()).toBe(1);
  });

  it("keeps every save with historicalData: true", async () => {
    const h = new SQLiteInstallationStore({ database: store.database, historicalData: true });
    for (let i = 0; i < 5; i++) await h.save(install("T9", "U1"));
    const userOnly = install("T9", "U2", { botScopes: [], tokenType: "user" });
    delete userOnly.botToken;
    await h.save(userOnly);
    expect(countRows(store.database, "slack_installations", { teamId: "T9" })).toBe(6);
    expect(countRows(store.database, "slack_bots", { teamId: "T9" })).toBe(5);
  });

  it("keeps several apps apart with clientId", async () => {
    const a = new SQLiteInstallationStore({ database: store.database, clientId: "111.111" });
    const b = new SQLiteInstallationStore({ database: store.database, clientId: "222.222" });
    const ia = install("T1", "U1");
    const ib = install("T1", "U1");
    await a.save(ia);
    await b.save(ib);
    expect((await a.findBot({ teamId: "T1" }))?.botToken).toBe(ia.botToken);
    expect((await b.findInstallation({ teamId: "T1", userId: "U1" }))?.userToken).toBe(ib.userToken);
    expect(await store.findBot({ teamId: "T1" })).toBeUndefined();
    await a.deleteAll({ teamId: "T1" });
    expect(await a.findBot({ teamId: "T1" })).toBeUndefined();
    expect((await b.findBot({ teamId: "T1" }))?.botToken).toBe(ib.botToken);
  });

  it("keeps table prefixes apart in one file", async () => {
    const other = new SQLiteInstallationStore({ database: store.database, tablePrefix: "other_" });
    await other.save(install("T1", "U1"));
    expect(other.tables.installations).toBe("other_installations");
    expect(await store.findBot({ teamId: "T1" })).toBeUndefined();
    expect(await other.findBot({ teamId: "T1" })).toBeDefined();
  });

  it("a bad installation writes nothing (no row in any table)", async () => {
    const err = await rejection(store.save({ ...install("T1", "U1"), botScopes: "x" as unknown as string[] }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(store.database.prepare("SELECT COUNT(*) FROM slack_installations").pluck().get()).toBe(0);
    expect(store.database.prepare("SELECT COUNT(*) FROM slack_bots").pluck().get()).toBe(0);
  });

  it("custom values that JSON cannot hold are an InvalidArgumentError", async () => {
    const err = await rejection(store.save(install("T1", "U1", { customValues: { n: 10n } })));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(store.database.prepare("SELECT COUNT(*) FROM slack_installations").pluck().get()).toBe(0);
  });

  it("caches one prepared statement per SQL text", async () => {
    const saved = install("T1", "U1");
    await store.save(saved);
    const exec = new BetterSqlite3Executor(store.database, { readSnapshot: false });
    const reader = exec.syncReader();
    for (let i = 0; i < 1000; i++) reader?.first(store.statements.findBot, ["", "", `T${i % 10}`]);
    expect(exec.cachedStatements).toBe(1);
    // Column 4 of findBot's row is bot_token (the key columns are not selected: the query holds them).
    expect(reader?.first(store.statements.findBot, ["", "", "T1"])?.[4]).toBe(saved.botToken);
    await exec.run(store.statements.deleteBot, ["", "", "T1"]);
    expect(exec.cachedStatements).toBe(2);
  });

  it("opening a database with the earlier lookup indexes (every column; client-first, team-first) swaps them for the packed one", async () => {
    const db = new Database(":memory:");
    const first = new SQLiteInstallationStore({ database: db });
    await first.init();
    const indexes = () =>
      db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'slack_bots_%lookup_idx'")
        .pluck()
        .all();
    expect(indexes()).toEqual(["slack_bots_packed_lookup_idx"]);
    const cols =
      "app_id, enterprise_name, enterprise_url, team_name, bot_token, bot_id, bot_user_id, bot_scopes, bot_refresh_token, bot_token_expires_at, is_enterprise_install, installed_at, custom_values";
    db.exec(`CREATE INDEX "slack_bots_lookup_idx" ON "slack_bots" (client_id, enterprise_id, team_id, id, ${cols})`);
    db.exec(
      `CREATE INDEX "slack_bots_team_lookup_idx" ON "slack_bots" (team_id, enterprise_id, client_id, id, ${cols})`,
    );
    const saved = install("T1", "U1");
    await first.save(saved);
    await new SQLiteInstallationStore({ database: db }).init();
    expect(indexes()).toEqual(["slack_bots_packed_lookup_idx"]);
    expect((await first.findBot({ teamId: "T1" }))?.botToken).toBe(saved.botToken);
    db.close();
  });

  it("findBot reads the same bot through prepareKeyed, a sync reader without it, and query() alone", async () => {
    const saved = install("T1", "U1");
    await store.save(saved);
    const { teamId: _none, ...orgWide } = install("T0", "U2", { enterpriseId: "E1", isEnterpriseInstall: true });
    await store.save(orgWide);
    const exec = new BetterSqlite3Executor(store.database);
    const keyed = exec.syncReader().prepareKeyed?.(store.statements.findBot);
    expect(keyed?.("", "", "T1")?.[4]).toBe(saved.botToken);
    const executors: Record<string, SqlExecutor> = {
      keyed: exec,
      // A synchronous driver of your own that offers only `first`.
      firstOnly: {
        query: (sql, p) => exec.query(sql, p),
        run: (sql, p) => exec.run(sql, p),
        batch: (st) => exec.batch(st),
        syncReader: () => ({ first: (sql, p) => exec.syncReader().first(sql, p) }),
      },
      // An asynchronous driver (PostgreSQL, MySQL, D1): query() only.
      queryOnly: {
        query: (sql, p) => exec.query(sql, p),
        run: (sql, p) => exec.run(sql, p),
        batch: (st) => exec.batch(st),
      },
    };
    const found: Record<string, unknown[]> = {};
    for (const [name, executor] of Object.entries(executors)) {
      const s = new SqlInstallationStore({ executor, dialect: sqliteDialect });
      found[name] = [
        await s.findBot({ teamId: "T1" }),
        await s.findBot({ enterpriseId: "E1", isEnterpriseInstall: true }),
        // Any team of the org finds the org-wide bot only when asked org-wide; a workspace query does not.
        await s.findBot({ enterpriseId: "E1", teamId: "T9", isEnterpriseInstall: false }),
        await s.findBot({ teamId: "T404" }),
      ];
      await expect(s.findBot({ teamId: "../x" })).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(found.keyed?.[0]).toMatchObject({ teamId: "T1", botToken: saved.botToken, botScopes: saved.botScopes });
    expect(found.keyed?.[1]).toMatchObject({ enterpriseId: "E1", isEnterpriseInstall: true });
    expect(found.keyed?.[1]).not.toHaveProperty("teamId");
    expect(found.keyed?.[2]).toBeUndefined();
    expect(found.keyed?.[3]).toBeUndefined();
    expect(found.firstOnly).toEqual(found.keyed);
    expect(found.queryOnly).toEqual(found.keyed);
  });
});

describe("SQLiteInstallationStore: every lookup and delete uses an index (EXPLAIN QUERY PLAN)", () => {
  it("finds, deletes and state statements SEARCH an index; only the one-row latest-bot sub-select is scanned", async () => {
    const store = new SQLiteInstallationStore({ filename: ":memory:" });
    const states = new SQLiteStateStore({ database: store.database });
    // With data and statistics, so the planner has a real choice.
    for (let i = 0; i < 300; i++) await store.save(install(`T${i % 50}`, `U${i}`, { enterpriseId: `E${i % 3}` }));
    for (let i = 0; i < 100; i++) await states.issue({ i });
    store.database.exec("ANALYZE");
    const plans: Record<string, string[]> = {};
    // Realistic parameters: the planner has statistics (ANALYZE) and uses the bound values.
    const now = Date.now() / 1000;
    const state = generateState();
    const params: Record<string, unknown[]> = {
      findBot: ["", "E1", "T1"],
      findBotPacked: ["", "E1", "T1"],
      findInstallation: ["", "E1", "T1", "", "E1", "T1"],
      findUserInstallation: ["", "E1", "T1", "", "E1", "T1", "U1"],
      deleteBot: ["", "E1", "T1"],
      deleteInstallations: ["", "E1", "T1"],
      deleteUserInstallations: ["", "E1", "T1", "U1"],
      select: [state],
      peek: [state],
      markConsumed: [now, state, now],
      markExpired: [state, now],
      deleteExpired: [now],
      expiringBots: ["", now + 7200, 100],
      expiringUsers: ["", now + 7200, 100],
    };
    const all = { ...store.statements, ...states.statements };
    for (const [name, sql] of Object.entries(all)) {
      if (name.startsWith("insert")) continue;
      const p = params[name] ?? [];
      expect(p, name).toHaveLength((sql.match(/\?/g) ?? []).length);
      plans[name] = (store.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...p) as { detail: string }[]).map(
        (r) => r.detail,
      );
    }
    expect(Object.keys(plans).sort()).toStrictEqual(
      [
        "deleteBot",
        "deleteExpired",
        "deleteInstallations",
        "deleteUserInstallations",
        "expiringBots",
        "expiringUsers",
        "findBot",
        "findBotPacked",
        "findInstallation",
        "findUserInstallation",
        "markConsumed",
        "markExpired",
        "peek",
        "select",
      ].sort(),
    );
    for (const [name, lines] of Object.entries(plans)) {
      const text = lines.join(" | ");
      expect(text, name).toMatch(/SEARCH \S+ USING (COVERING )?INDEX|USING (INTEGER )?PRIMARY KEY/);
      expect(text, name).not.toMatch(/TEMP B-TREE/);
      for (const line of lines) {
        if (line.startsWith("SCAN")) expect(line, `${name}: ${text}`).toBe("SCAN b LEFT-JOIN");
        if (line.startsWith("SEARCH")) expect(line, name).toMatch(/USING (COVERING )?INDEX|PRIMARY KEY/);
      }
    }
    // findBot's packed read uses the lookup index alone: no second search in the table.
    expect(plans.findBotPacked?.join()).toContain("COVERING INDEX slack_bots_packed_lookup_idx");
    // findInstallation's latest bot too (the packed value, from the index alone).
    expect(plans.findInstallation?.join()).toContain("COVERING INDEX slack_bots_packed_lookup_idx");
    expect(plans.findUserInstallation?.join()).toContain("COVERING INDEX slack_bots_packed_lookup_idx");
    expect(plans.findBot?.join()).toMatch(/SEARCH slack_bots USING INDEX slack_bots_(workspace|packed_lookup)_idx/);
    expect(plans.findInstallation?.join()).toContain("slack_installations_workspace_idx");
    expect(plans.findUserInstallation?.join()).toContain("slack_installations_user_idx");
    expect(plans.deleteUserInstallations?.join()).toContain("slack_installations_user_idx");
    expect(plans.deleteExpired?.join()).toContain("slack_oauth_states_expires_idx");
    // The refresh scheduler's queries: a range of the expiry index, never the whole table.
    expect(plans.expiringBots?.join()).toContain("slack_bots_expiry_idx");
    expect(plans.expiringUsers?.join()).toContain("slack_installations_expiry_idx");
    await store.close();
  });
});

describe("SQLiteInstallationStore: one connection, many callers", () => {
  it("a lookup during a save on the same connection never sees a half-done save", async () => {
    const store = new SQLiteInstallationStore({ filename: ":memory:" });
    await store.save(install("T1", "U1"));
    for (let i = 0; i < 200; i++) {
      const [, bot, inst] = await Promise.all([
        store.save(install("T1", "U1")),
        store.findBot({ teamId: "T1" }),
        store.findInstallation({ teamId: "T1", userId: "U1" }),
      ]);
      expect(bot?.botToken).toBeDefined();
      expect(inst?.userToken).toBeDefined();
    }
    await store.close();
  });

  it("an installation store and a state store on one connection interleave safely", async () => {
    const store = new SQLiteInstallationStore({ filename: ":memory:" });
    const states = new SQLiteStateStore({ database: store.database });
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      work.push(store.save(install(`T${i}`, "U1")));
      work.push(states.issue({ i }).then((s) => states.consume(s)));
      work.push(store.deleteAll({ teamId: `T${i - 1}` }));
    }
    const results = await Promise.all(work);
    expect(results.filter((_, k) => k % 3 === 1)).toStrictEqual(Array.from({ length: 50 }, (_, i) => ({ i })));
    expect((await store.findBot({ teamId: "T49" }))?.teamId).toBe("T49");
    expect(await store.findBot({ teamId: "T10" })).toBeUndefined();
    await store.close();
  });
});

describe("BetterSqlite3Executor: read snapshots", () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => removeDir(dir));

  it("a burst of lookups shares a read transaction that ends with the event-loop turn", async () => {
    const store = new SQLiteInstallationStore({ filename: join(dir, "s.db") });
    await store.save(install("T1", "U1"));
    expect(store.database.inTransaction).toBe(false);
    await store.findBot({ teamId: "T1" });
    expect(store.database.inTransaction).toBe(false); // the first lookup of a turn runs alone
    await store.findBot({ teamId: "T1" });
    expect(store.database.inTransaction).toBe(true);
    await nextTurn();
    expect(store.database.inTransaction).toBe(false);
    await store.close();
  });

  it("writes of this process are seen at once, also through another connection", async () => {
    const filename = join(dir, "s.db");
    const a = new SQLiteInstallationStore({ filename });
    const b = new SQLiteInstallationStore({ filename });
    await a.save(install("T1", "U1"));
    for (let i = 0; i < 3; i++) await b.findBot({ teamId: "T1" }); // b holds a snapshot now
    const next = install("T1", "U1");
    await a.save(next);
    expect((await b.findBot({ teamId: "T1" }))?.botToken).toBe(next.botToken);
    await a.deleteBot({ teamId: "T1" });
    expect(await b.findBot({ teamId: "T1" })).toBeUndefined();
    await a.close();
    await b.close();
  });

  /** Stands for another process: a plain connection that does not tell our executors about its writes. */
  function foreignWriter(filename: string) {
    const db = new Database(filename);
    const insert = db.prepare(
      `INSERT INTO "slack_bots" (team_id, bot_token, bot_scopes, is_enterprise_install, installed_at, custom_values)
       VALUES (?, ?, '[]', 0, 1, '{}')`,
    );
    return {
      addBot: (teamId: string) => {
        const token = fakeBotToken();
        insert.run(teamId, token);
        return token;
      },
      close: () => db.close(),
    };
  }

  it("a write by another process is seen after maxReads reads, or at the next turn", async () => {
    const filename = join(dir, "s.db");
    const store = new SQLiteInstallationStore({ filename });
    await store.save(install("T1", "U1"));
    const exec = new BetterSqlite3Executor(new Database(filename), { readSnapshot: { maxReads: 3, maxMs: 60_000 } });
    const foreign = foreignWriter(filename);
    const token = () => exec.syncReader()?.first(store.statements.findBot, ["", "", "T1"])?.[4]; // bot_token
    token(); // first of the turn: alone
    const before = token(); // opens the snapshot
    const added = foreign.addBot("T1");
    expect(token()).toBe(before); // same snapshot: read 2 of 3
    expect(token()).toBe(added); // read 3: a new snapshot
    const again = foreign.addBot("T1");
    expect(token()).toBe(added);
    await nextTurn();
    expect(token()).toBe(again);
    exec.db.close();
    foreign.close();
    await store.close();
  });

  it("a write by another process is seen after at most maxMs (1 ms by default)", async () => {
    const filename = join(dir, "s.db");
    const store = new SQLiteInstallationStore({ filename });
    await store.save(install("T1", "U1"));
    const foreign = foreignWriter(filename);
    for (let i = 0; i < 3; i++) await store.findBot({ teamId: "T1" });
    const added = foreign.addBot("T1");
    const t0 = performance.now();
    while (performance.now() - t0 < 3); // past maxMs, without leaving the turn
    expect((await store.findBot({ teamId: "T1" }))?.botToken).toBe(added);
    foreign.close();
    await store.close();
  });

  it("two connections of one process to one file never wait for each other inside SQLite", async () => {
    const filename = join(dir, "s.db");
    const a = new SQLiteInstallationStore({ filename, busyTimeoutMs: 3000 });
    const b = new SQLiteInstallationStore({ filename, busyTimeoutMs: 3000 });
    const states = new SQLiteStateStore({ filename, busyTimeoutMs: 3000 });
    const t0 = performance.now();
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      work.push(a.save(install(`TA${i}`, "U1")), b.save(install(`TB${i}`, "U1")));
      work.push(states.issue({ i }).then((s) => states.consume(s)));
      work.push(a.deleteAll({ teamId: `TB${i}` }), b.deleteBot({ teamId: `TA${i - 1}` }));
    }
    await Promise.all(work);
    // A stall would last busyTimeoutMs (3 s) per collision.
    expect(performance.now() - t0).toBeLessThan(2500);
    for (const s of [a, b, states]) await s.close();
  });

  it("is off on a connection you pass in", async () => {
    const db = new Database(join(dir, "own.db"));
    const store = new SQLiteInstallationStore({ database: db });
    await store.save(install("T1", "U1"));
    for (let i = 0; i < 3; i++) await store.findBot({ teamId: "T1" });
    expect(db.inTransaction).toBe(false);
    db.close();
  });
});

describe("migrations", () => {
  let db: Database.Database;
  let exec: BetterSqlite3Executor;
  beforeEach(() => {
    db = new Database(":memory:");
    exec = new BetterSqlite3Executor(db, { readSnapshot: false });
  });
  afterEach(() => db.close());

  const versions = (prefix = "slack_") =>
    db.prepare(`SELECT version FROM "${prefix}migrations" ORDER BY version`).pluck().all() as number[];
  const tables = () =>
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];

  it("records every applied version with its time, and is idempotent", async () => {
    expect(await migrate(exec, sqliteDialect, "slack_")).toBe(SCHEMA_VERSION);
    expect(await migrate(exec, sqliteDialect, "slack_")).toBe(SCHEMA_VERSION);
    expect(versions()).toStrictEqual(MIGRATIONS.map((m) => m.version));
    const row = db.prepare('SELECT description, applied_at FROM "slack_migrations"').get() as {
      description: string;
      applied_at: number;
    };
    expect(row.description).toBe(MIGRATIONS[0]?.description);
    expect(Math.abs(row.applied_at - Date.now() / 1000)).toBeLessThan(60);
    expect(tables()).toStrictEqual([
      "slack_bots",
      "slack_installations",
      "slack_meta",
      "slack_migrations",
      "slack_oauth_states",
      "slack_team_access",
    ]);
  });

  it("applies new versions in order, each in its own transaction; a failing one leaves nothing behind", async () => {
    const extra: Migration[] = [
      ...MIGRATIONS,
      {
        version: SCHEMA_VERSION + 1,
        description: "two",
        steps: (t) => [{ sql: { sqlite: [`CREATE TABLE "${t.bots}_two" (x)`] } }],
      },
      {
        version: SCHEMA_VERSION + 2,
        description: "broken",
        steps: (t) => [{ sql: { sqlite: [`CREATE TABLE "${t.bots}_three" (x)`, "THIS IS NOT SQL"] } }],
      },
    ];
    await migrate(exec, sqliteDialect, "slack_");
    await expect(migrate(exec, sqliteDialect, "slack_", extra)).rejects.toThrow(/syntax error/);
    expect(versions()).toStrictEqual([...MIGRATIONS.map((m) => m.version), SCHEMA_VERSION + 1]);
    expect(tables()).toContain("slack_bots_two");
    expect(tables()).not.toContain("slack_bots_three");
    expect(db.inTransaction).toBe(false);
  });

  it("refuses a database migrated by a newer version: SchemaVersionError, nothing written", async () => {
    await migrate(exec, sqliteDialect, "slack_");
    db.prepare('INSERT INTO "slack_migrations" (version, description, applied_at) VALUES (99, ?, 0)').run("future");
    const store = new SQLiteInstallationStore({ database: db });
    for (const call of [() => store.findBot({ teamId: "T1" }), () => store.save(install("T1", "U1"))]) {
      const err = await rejection(call());
      expect(err).toBeInstanceOf(SchemaVersionError);
      expect((err as SchemaVersionError).code).toBe("SLACK_OAUTH_SCHEMA_TOO_NEW");
      expect((err as SchemaVersionError).databaseVersion).toBe(99);
      expect((err as SchemaVersionError).supportedVersion).toBe(SCHEMA_VERSION);
    }
    expect(db.prepare('SELECT COUNT(*) FROM "slack_installations"').pluck().get()).toBe(0);
    const states = new SQLiteStateStore({ database: db });
    await expect(states.issue()).rejects.toBeInstanceOf(SchemaVersionError);
    await expect(migrate(exec, sqliteDialect, "slack_")).rejects.toBeInstanceOf(SchemaVersionError);
  });

  it("rejects migration lists that are not strictly increasing, and raw SQL missing for the dialect", async () => {
    const bad: Migration[] = [
      { version: 2, description: "a", steps: () => [] },
      { version: 2, description: "b", steps: () => [] },
    ];
    await expect(migrate(exec, sqliteDialect, "slack_", bad)).rejects.toBeInstanceOf(ConfigError);
    const other: Migration[] = [
      { version: 1, description: "pg only", steps: () => [{ sql: { postgres: ["SELECT 1"] } }] },
    ];
    await expect(migrate(exec, sqliteDialect, "slack_", other)).rejects.toBeInstanceOf(ConfigError);
  });

  it("several stores migrating one new file at once apply each version exactly once", async () => {
    const dir = tempDir();
    try {
      const filename = join(dir, "m.db");
      const stores = Array.from({ length: 4 }, () => new SQLiteInstallationStore({ filename }));
      await Promise.all(stores.map((s) => s.findBot({ teamId: "T1" })));
      const check = new Database(filename);
      expect(check.prepare('SELECT version FROM "slack_migrations"').pluck().all()).toStrictEqual(
        MIGRATIONS.map((m) => m.version),
      );
      check.close();
      for (const s of stores) await s.close();
    } finally {
      removeDir(dir);
    }
  });

  it("renders the DDL of each version for review, with the prefix", () => {
    const rendered = renderMigrations(sqliteDialect, "app_");
    expect(rendered.map((r) => r.version)).toStrictEqual([1, 2, 3, 4]);
    const v3 = rendered[2]?.sql.join(";\n") ?? "";
    expect(v3).toContain('ALTER TABLE "app_bots" ADD COLUMN health_status TEXT');
    expect(v3).toContain('ALTER TABLE "app_installations" ADD COLUMN health_checked_at REAL');
    expect(v3).toContain(
      'CREATE INDEX IF NOT EXISTS "app_bots_expiry_idx" ON "app_bots" ("client_id", "bot_token_expires_at")',
    );
    const sql = rendered[0]?.sql.join(";\n") ?? "";
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "app_installations"');
    expect(sql).toContain('"id" INTEGER PRIMARY KEY');
    expect(sql).toContain('CREATE INDEX IF NOT EXISTS "app_bots_workspace_idx"');
    expect(() => renderMigrations(sqliteDialect, "Bad")).toThrow(ConfigError);
    expect(rendered[1]?.sql.join(";\n")).toContain('CREATE TABLE IF NOT EXISTS "app_meta"');
    expect(rendered[3]?.sql.join(";\n")).toContain('CREATE TABLE IF NOT EXISTS "app_team_access"');
    expect(validateTablePrefix(undefined)).toBe("slack_");
  });

  it("the core runs on any dialect: placeholders are rewritten by finalize", () => {
    const pgLike: Dialect = { ...sqliteDialect, name: "numbered", finalize: (sql) => numbered(sql) };
    const s = new SqlStateStore({ executor: exec, dialect: pgLike, migrate: false });
    expect(s.statements.markConsumed).toMatch(/consumed_at = \$1, data = NULL WHERE state = \$2 .* expires_at > \$3$/);
  });
});

function numbered(sql: string): string {
  let n = 0;
  return sql.replaceAll("?", () => `$${++n}`);
}

describe("SQLiteStateStore specifics", () => {
  it("tells why a state was refused: malformed, unknown, used, expired", async () => {
    let now = Date.UTC(2024, 10, 25, 8, 0, 0);
    const states = new SQLiteStateStore({ filename: ":memory:", nowMs: () => now, ttlSeconds: 60 });
    expect(await states.consumeDetailed("../x")).toStrictEqual({ ok: false, reason: "malformed" });
    expect(await states.consumeDetailed(generateState())).toStrictEqual({ ok: false, reason: "unknown" });
    const used = await states.issue({ a: 1 });
    expect(await states.consumeDetailed(used)).toStrictEqual({ ok: true, data: { a: 1 } });
    expect(await states.consumeDetailed(used)).toStrictEqual({ ok: false, reason: "used" });
    const old = await states.issue();
    now += 61_000;
    expect(await states.consumeDetailed(old)).toStrictEqual({ ok: false, reason: "expired" });
    now -= 30_000;
    expect(await states.consumeDetailed(old)).toStrictEqual({ ok: false, reason: "expired" });
    await states.close();
  });

  it("a consumed state keeps no data; its tombstone goes with the expired rows", async () => {
    let now = Date.UTC(2024, 10, 25, 8, 0, 0);
    const states = new SQLiteStateStore({ filename: ":memory:", nowMs: () => now, ttlSeconds: 60 });
    const s = await states.issue({ secret: "x" });
    await states.consume(s);
    const row = states.database
      .prepare('SELECT data, consumed_at FROM "slack_oauth_states" WHERE state = ?')
      .get(s) as {
      data: unknown;
      consumed_at: number;
    };
    expect(row.data).toBeNull();
    expect(row.consumed_at).toBe(now / 1000);
    now += 61_000;
    expect(await states.purgeExpired()).toBe(1);
    expect(states.database.prepare('SELECT COUNT(*) FROM "slack_oauth_states"').pluck().get()).toBe(0);
    await states.close();
  });

  it("issue cleans expired states up at most once a minute, in bounded batches", async () => {
    let now = Date.UTC(2024, 10, 25, 8, 0, 0);
    const db = new Database(":memory:");
    const exec = new BetterSqlite3Executor(db, { readSnapshot: false });
    const states = new SqlStateStore({
      executor: exec,
      dialect: sqliteDialect,
      nowMs: () => now,
      ttlSeconds: 60,
      cleanupBatchSize: 10,
    });
    const count = () => db.prepare('SELECT COUNT(*) FROM "slack_oauth_states"').pluck().get() as number;
    for (let i = 0; i < 25; i++) await states.issue({ i });
    expect(count()).toBe(25);
    now += 61_000; // all 25 expired; a minute has passed since the first clean-up
    await states.issue(); // deletes a batch of 10
    expect(count()).toBe(16);
    await states.issue(); // the batch was full: go on at once
    expect(count()).toBe(7);
    await states.issue(); // 5 left: the last batch
    expect(count()).toBe(3);
    await states.issue(); // nothing expired left: wait a minute before trying again
    now += 30_000;
    await states.issue();
    expect(count()).toBe(5);
    expect(await states.purgeExpired()).toBe(0);
    db.close();
  });

  it("a malformed state never reaches the database", async () => {
    const db = new Database(":memory:");
    const inner = new BetterSqlite3Executor(db);
    let calls = 0;
    const counting: SqlExecutor = {
      query: (sql, p) => {
        calls++;
        return inner.query(sql, p);
      },
      run: (sql, p) => {
        calls++;
        return inner.run(sql, p);
      },
      batch: (statements) => {
        calls++;
        return inner.batch(statements);
      },
    };
    const states = new SqlStateStore({ executor: counting, dialect: sqliteDialect });
    await states.init();
    calls = 0;
    for (const bad of ["", "../../etc/passwd", "x".repeat(44), `${generateState()}'--`, 42, null]) {
      expect(await states.consume(bad as string)).toBeUndefined();
    }
    expect(calls).toBe(0);
    db.close();
  });

  it("state data is stored as JSON and expiry as REAL epoch seconds", async () => {
    const now = Date.UTC(2024, 10, 25, 8, 0, 0, 250);
    const states = new SQLiteStateStore({ filename: ":memory:", nowMs: () => now, ttlSeconds: 600 });
    const s = await states.issue({ redirect: "/après" });
    const row = states.database
      .prepare('SELECT data, expires_at, typeof(expires_at) AS t FROM "slack_oauth_states" WHERE state = ?')
      .get(s);
    expect(row).toStrictEqual({ data: '{"redirect":"/après"}', expires_at: now / 1000 + 600, t: "real" });
    await states.close();
  });
});

// ---------------------------------------------------------------------------------------------------
// Several OS processes on one file.
// ---------------------------------------------------------------------------------------------------

interface Child {
  proc: ChildProcessWithoutNullStreams;
  lines: string[];
  ready: Promise<void>;
  exit: Promise<number | null>;
  stderr: () => string;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  let stderr = "";
  proc.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const exit = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout }).on("line", (line) => {
      if (line === "ready") resolve();
      else lines.push(line);
    });
    void exit.then((code) => reject(new Error(`child exited (${code}) before ready: ${stderr}`)));
  });
  return { proc, lines, ready, exit, stderr: () => stderr };
}

async function race(children: Child[]): Promise<void> {
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.proc.stdin.write("go\n");
    const codes = await Promise.all(children.map((c) => c.exit));
    expect(codes, children.map((c) => c.stderr()).join("\n")).toStrictEqual(children.map(() => 0));
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
  }
}

describe("several OS processes on one SQLite file", () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => removeDir(dir));

  it("4 processes consume the same state at once: exactly one gets the data", async () => {
    const filename = join(dir, "states.db");
    const states = new SQLiteStateStore({ filename });
    for (let round = 0; round < 3; round++) {
      const data = { round, nonce: randomUUID() };
      const state = await states.issue(data);
      const children = Array.from({ length: 4 }, () => startChild([CONSUME_CHILD, filename, state]));
      await race(children);
      const got = children.map((c) => (JSON.parse(c.lines[0] ?? "null") as { data: unknown } | null)?.data);
      expect(got.filter((d) => d !== null && d !== undefined)).toStrictEqual([data]);
      expect(await states.consume(state)).toBeUndefined();
    }
    await states.close();
  }, 60_000);

  it("4 processes saving at once lose nothing (busy timeout, BEGIN IMMEDIATE)", async () => {
    const filename = join(dir, "installs.db");
    const store = new SQLiteInstallationStore({ filename });
    await store.init();
    const nonce = randomUUID().slice(0, 8);
    const workers = ["W1", "W2", "W3", "W4"];
    const count = 40;
    const shared = "TSHARED";
    const children = workers.map((w) => startChild([SAVE_CHILD, filename, nonce, w, String(count), shared]));
    await race(children);
    for (const w of workers) {
      for (let i = 0; i < count; i++) {
        const own = childInstallation(nonce, w, i, undefined);
        expect(await store.findInstallation({ teamId: own.teamId })).toStrictEqual(own);
        const mine = childInstallation(nonce, w, i, shared);
        expect((await store.findInstallation({ teamId: shared, userId: mine.userId }))?.userToken).toBe(mine.userToken);
      }
    }
    expect(countRows(store.database, store.tables.installations, { teamId: shared })).toBe(workers.length * count);
    expect(countRows(store.database, store.tables.bots, { teamId: shared })).toBe(1);
    const latest = await store.findInstallation({ teamId: shared });
    expect(latest?.botToken).toBe((await store.findBot({ teamId: shared }))?.botToken);
    await store.close();
  }, 60_000);
});
