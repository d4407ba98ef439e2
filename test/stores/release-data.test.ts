/**
 * Data written without a client id by the last single-app release (893aa8f; fixtures in
 * `fixtures/release-0.1`, see its `generate.ts`) belongs to the default app: the store opened without a
 * client id (what a single-app deployment and a multi-app configuration's `default: true` app open)
 * reads and rotates it; another app's store sees none of it and never touches it.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { FileInstallationStore } from "../../src/stores/file.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { MySQLInstallationStore } from "../../src/stores/mysql.js";
import { PostgresInstallationStore } from "../../src/stores/postgres.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";

const FIXTURES = join(import.meta.dirname, "fixtures", "release-0.1");
const rowsOf = (name: string): Rows => JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as Rows;
const APP_B = "2222222222.2222222222";
const PG_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const MY_URL = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

/** What every backend must show for the release data, from the default app and from app B. */
async function checkReleaseData(open: (clientId?: string) => InstallationStore): Promise<void> {
  const def = open();
  const b = open(APP_B);
  try {
    const ws = { teamId: "T0RELEASE01" };
    // The default app owns the old rows.
    expect((await def.findBot(ws))?.botToken).toBe("xoxb-test-release-bot-1");
    expect((await def.findInstallation(ws))?.userToken).toBe("xoxp-test-release-user-2");
    expect((await def.findInstallation({ ...ws, userId: "U0RELEASE01" }))?.userToken).toBe("xoxp-test-release-user-1");
    const org = { enterpriseId: "E0RELEASE01", teamId: "T0ANY", isEnterpriseInstall: true };
    expect((await def.findBot(org))?.botToken).toBe("xoxb-test-release-bot-org");
    expect((await def.listWorkspaces()).length).toBe(2);
    // Another app sees none of it.
    expect(await b.findBot(ws)).toBeUndefined();
    expect(await b.findInstallation({ ...ws, userId: "U0RELEASE01" })).toBeUndefined();
    expect(await b.findBot(org)).toBeUndefined();
    expect(await b.listWorkspaces()).toStrictEqual([]);
    // B installs the same workspace, rotates and uninstalls it: the old rows stay the default app's.
    await b.save({
      teamId: "T0RELEASE01",
      userId: "U0RELEASE01",
      userToken: "xoxp-test-app-b-user",
      userScopes: [],
      botToken: "xoxb-test-app-b-bot",
      botScopes: ["chat:write"],
      isEnterpriseInstall: false,
      installedAt: 1732600000,
      customValues: {},
    });
    expect(await b.updateTokens(ws, { botToken: "xoxb-test-app-b-bot-2" })).toBe(true);
    expect((await b.findBot(ws))?.botToken).toBe("xoxb-test-app-b-bot-2");
    expect((await def.findBot(ws))?.botToken).toBe("xoxb-test-release-bot-1");
    await b.deleteAll(ws);
    expect((await def.findInstallation({ ...ws, userId: "U0RELEASE01" }))?.userToken).toBe("xoxp-test-release-user-1");
    // The default app rotates its own (release) token with a compare-and-set on the old refresh token.
    expect(
      await def.updateTokens(
        ws,
        { botToken: "xoxb-test-release-bot-1b" },
        { botRefreshToken: "xoxe-1-test-release-refresh-1" },
      ),
    ).toBe(true);
    expect((await def.findBot(ws))?.botToken).toBe("xoxb-test-release-bot-1b");
  } finally {
    await Promise.all([def.close(), b.close()]);
  }
}

async function tempCopy(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sok-release-"));
  await cp(join(FIXTURES, name), join(dir, name), { recursive: true });
  return dir;
}

/** git keeps no 0600/0700: give the copied file store the modes the store writes. */
async function restrictModes(path: string): Promise<void> {
  await chmod(path, 0o700);
  for (const e of await readdir(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) await restrictModes(p);
    else await chmod(p, 0o600);
  }
}

describe("data written by the single-app release belongs to the default app", () => {
  it("SQLite", async () => {
    const dir = await tempCopy("slack.db");
    try {
      await checkReleaseData((clientId) => new SQLiteInstallationStore({ filename: join(dir, "slack.db"), clientId }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("file store (the _default directory)", async () => {
    const dir = await tempCopy("files");
    try {
      await restrictModes(join(dir, "files"));
      await checkReleaseData((clientId) => new FileInstallationStore({ baseDir: join(dir, "files"), clientId }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

type Rows = Record<string, Record<string, unknown>[]>;

/** Loads the release's rows (without their ids) into freshly migrated tables. */
async function loadRows(rows: Rows, insert: (table: string, columns: string[], values: unknown[]) => Promise<void>) {
  for (const table of ["installations", "bots"]) {
    for (const row of rows[table] ?? []) {
      const { id: _id, ...rest } = row;
      await insert(table, Object.keys(rest), Object.values(rest));
    }
  }
}

const pgStatus = await probeBackend("PostgreSQL", PG_URL, async () => {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  await c.end();
});
describeBackend(pgStatus, () => {
  it("PostgreSQL", async () => {
    const prefix = `rel${randomBytes(5).toString("hex")}_`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const first = new PostgresInstallationStore({ url: PG_URL, tablePrefix: prefix });
      await first.listWorkspaces(); // the current schema
      await first.close();
      await loadRows(rowsOf("postgres-rows.json"), async (t, cols, values) => {
        const list = cols.map((c) => `"${c}"`).join(", ");
        const params = values.map((_, i) => `$${i + 1}`).join(", ");
        await admin.query(`INSERT INTO "${prefix}${t}" (${list}) VALUES (${params})`, values);
      });
      await checkReleaseData(
        (clientId) => new PostgresInstallationStore({ url: PG_URL, tablePrefix: prefix, clientId }),
      );
    } finally {
      for (const t of ["installations", "bots", "states", "migrations", "locks"])
        await admin.query(`DROP TABLE IF EXISTS "${prefix}${t}"`);
      await admin.end();
    }
  });
});

const myStatus = await probeBackend("MySQL", MY_URL, async () => {
  const c = await mysql.createConnection({ uri: MY_URL, connectTimeout: 3000 });
  await c.end();
});
describeBackend(myStatus, () => {
  it("MySQL / MariaDB", async () => {
    const prefix = `rel${randomBytes(5).toString("hex")}_`;
    const admin = await mysql.createConnection({ uri: MY_URL });
    try {
      const first = new MySQLInstallationStore({ url: MY_URL, tablePrefix: prefix });
      await first.listWorkspaces();
      await first.close();
      await loadRows(rowsOf("mysql-rows.json"), async (t, cols, values) => {
        const list = cols.map((c) => `\`${c}\``).join(", ");
        await admin.query(`INSERT INTO \`${prefix}${t}\` (${list}) VALUES (${cols.map(() => "?").join(", ")})`, values);
      });
      await checkReleaseData((clientId) => new MySQLInstallationStore({ url: MY_URL, tablePrefix: prefix, clientId }));
    } finally {
      for (const t of ["installations", "bots", "states", "migrations", "locks"])
        await admin.query(`DROP TABLE IF EXISTS \`${prefix}${t}\``);
      await admin.end();
    }
  });
});
