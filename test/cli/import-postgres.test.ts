/**
 * `slack-oauth-kit import` into PostgreSQL: a slack_sdk source holding two apps lands in two partitions
 * (the store's `client_id` column) of a fresh database created for this run, each equal to what slack_sdk
 * reads back, and `installations list --client-id` shows each partition alone.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import { runCli } from "./cli-helpers.js";
import { compareWithSlackSdk, expected, FIXTURES, type Line } from "./fixtures/slack-sdk-readback.js";

const ADMIN_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const DB = `sok_import_${randomBytes(5).toString("hex")}`;
const dbUrl = (() => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${DB}`;
  return u.toString();
})();

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

const status = await probeBackend("PostgreSQL", ADMIN_URL, () => admin("SELECT 1"));

describeBackend(status, () => {
  beforeAll(() => admin(`CREATE DATABASE ${DB}`), 30_000);
  afterAll(async () => {
    await admin(`DROP DATABASE IF EXISTS ${DB}`).catch(() => undefined);
  });
  const env = { DATABASE_URL: dbUrl };

  it("two apps of a slack_sdk SQLite database: two partitions, each as slack_sdk reads it back", async () => {
    const exp = expected("sqlite-two-apps");
    const r = await runCli(["import", "--from", "slack-sdk-sqlite", join(FIXTURES, "sqlite-two-apps.db")], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Imported 10, unchanged 0, skipped 0");
    for (const c of exp.clients) {
      const clientId = c.client_id as string;
      const out = await runCli(["export", "--client-id", clientId], { env });
      expect(out.code, out.stderr).toBe(0);
      const lines = out.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Line);
      compareWithSlackSdk(lines, c.workspaces, "sqlite");
      const list = await runCli(["installations", "list", "--json", "--client-id", clientId], { env });
      expect(list.code, list.stderr).toBe(0);
      const teams = (JSON.parse(list.stdout) as Array<{ teamId: string | null; enterpriseId: string | null }>)
        .map((w) => w.teamId ?? w.enterpriseId)
        .sort();
      expect(teams).toEqual(c.workspaces.map((w) => (w.is_enterprise_install ? w.enterprise_id : w.team_id)).sort());
    }
    const none = await runCli(["installations", "list", "--json"], { env });
    expect(JSON.parse(none.stdout)).toEqual([]);
    const again = await runCli(["import", "--from", "slack-sdk-sqlite", join(FIXTURES, "sqlite-two-apps.db")], {
      env,
    });
    expect(again.stdout).toContain("Imported 0, unchanged 10, skipped 0");
  }, 60_000);
});
