/**
 * The admin commands on PostgreSQL: `installations list --json`, `show` (masked / `--reveal`) and
 * `delete --yes`, through the built CLI, against a fresh database created for this run.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Installation } from "../../src/model/installation.js";
import { PostgresInstallationStore } from "../../src/stores/postgres.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import { runCli } from "./cli-helpers.js";

const ADMIN_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const DB = `sok_cli_${randomBytes(5).toString("hex")}`;
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

const fake = (prefix: string) => `${prefix}test-${randomBytes(8).toString("hex")}`;
const inst = (teamId: string, userId: string): Installation => ({
  teamId,
  teamName: `Team ${teamId}`,
  userId,
  botToken: fake("xoxb-"),
  botId: "B0000000001",
  botUserId: "U0000000BOT",
  botScopes: ["commands"],
  userToken: fake("xoxp-"),
  userScopes: ["search:read"],
  isEnterpriseInstall: false,
  installedAt: 1_732_520_000.5,
  customValues: {},
});

describeBackend(status, () => {
  const saved: Installation[] = [];
  beforeAll(async () => {
    await admin(`CREATE DATABASE ${DB}`);
    const store = new PostgresInstallationStore({ url: dbUrl });
    for (const i of [inst("T0000000001", "U0000000001"), inst("T0000000002", "U0000000002")]) {
      await store.save(i);
      saved.push(i);
    }
    await store.close();
  }, 30_000);
  afterAll(async () => {
    await admin(`DROP DATABASE IF EXISTS ${DB}`).catch(() => undefined);
  });

  const env = () => ({ DATABASE_URL: dbUrl });

  it("lists, shows (masked and revealed) and deletes installations stored in PostgreSQL", async () => {
    const list = await runCli(["installations", "list", "--json"], { env: env() });
    expect(list.code, list.stderr).toBe(0);
    const rows = JSON.parse(list.stdout) as { teamId: string; botId: string; users: { userId: string }[] }[];
    expect(rows.map((r) => r.teamId)).toEqual(["T0000000001", "T0000000002"]);
    expect(rows[0]?.users.map((u) => u.userId)).toEqual(["U0000000001"]);
    expect(list.stdout).not.toContain("xox");

    const shown = await runCli(["installations", "show", "--team", "T0000000001"], { env: env() });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("xoxb-****");
    expect(shown.stdout).not.toContain(saved[0]?.botToken);
    const revealed = await runCli(["installations", "show", "--team", "T0000000001", "--reveal"], { env: env() });
    expect(revealed.code).toBe(0);
    expect(revealed.stdout).toContain(saved[0]?.botToken);

    const deleted = await runCli(["installations", "delete", "--team", "T0000000002", "--yes"], { env: env() });
    expect(deleted.code, deleted.stderr).toBe(0);
    const after = JSON.parse((await runCli(["installations", "list", "--json"], { env: env() })).stdout) as {
      teamId: string;
    }[];
    expect(after.map((r) => r.teamId)).toEqual(["T0000000001"]);
  }, 60_000);
});
