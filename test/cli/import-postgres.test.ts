/**
 * `slack-oauth-kit import` into PostgreSQL: a slack_sdk source holding two apps lands in two partitions
 * (the store's `client_id` column) of a fresh database created for this run, each equal to what slack_sdk
 * reads back, and `installations list --client-id` shows each partition alone. With an apps file naming
 * both apps (one `default`), `import` puts the default app's into the default partition, and
 * `export --app` then `import` into another fresh database keeps each installation in its app.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PostgresInstallationStore } from "../../src/stores/postgres.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import { runCli } from "./cli-helpers.js";
import { compareWithSlackSdk, expected, FIXTURES, type Line } from "./fixtures/slack-sdk-readback.js";

const ADMIN_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const DB = `sok_import_${randomBytes(5).toString("hex")}`;
const urlOf = (db: string) => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${db}`;
  return u.toString();
};
const dbUrl = urlOf(DB);
const APPS_DBS = [`${DB}_a`, `${DB}_b`];

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
  beforeAll(async () => {
    for (const db of [DB, ...APPS_DBS]) await admin(`CREATE DATABASE ${db}`);
  }, 30_000);
  afterAll(async () => {
    for (const db of [DB, ...APPS_DBS]) await admin(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
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

  it("with an apps file: each client id lands in its app (the default app's in the default partition); export --app then import keeps each in its app", async () => {
    const exp = expected("sqlite-two-apps");
    const [a, b] = exp.clients.map((c) => c.client_id as string);
    const dir = mkdtempSync(join(tmpdir(), "sok-apps-pg-"));
    try {
      const appsFile = join(dir, "apps.json");
      const ref = { env: "UNSET_IN_THIS_TEST" };
      writeFileSync(
        appsFile,
        JSON.stringify({
          apps: [
            { name: "alpha", default: true, clientId: a, appId: "A0000000001", clientSecret: ref, signingSecret: ref },
            { name: "beta", clientId: b, appId: "A0000000002", clientSecret: ref, signingSecret: ref },
          ],
        }),
      );
      const [first, second] = APPS_DBS.map(
        (db): Record<string, string> => ({
          DATABASE_URL: urlOf(db),
          SLACK_APPS_FILE: appsFile,
        }),
      ) as [Record<string, string>, Record<string, string>];
      const r = await runCli(["import", "--from", "slack-sdk-sqlite", join(FIXTURES, "sqlite-two-apps.db")], {
        env: first,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`app "alpha" (client id ${a}, default partition): imported 8,`);
      expect(r.stdout).toContain(`app "beta" (client id ${b}): imported 2,`);
      // alpha is the default app: its installations are the default partition (read in this process).
      const teams = async (clientId: string | undefined) => {
        const store = new PostgresInstallationStore({ url: urlOf(APPS_DBS[0]!), clientId, migrate: false });
        try {
          return (await store.listWorkspaces()).map((w) => w.teamId ?? w.enterpriseId).sort();
        } finally {
          await store.close();
        }
      };
      expect(await teams(undefined)).toHaveLength(7);
      expect(await teams(a)).toEqual([]);
      expect(await teams(b)).toEqual(["T0000000001", "T0000000007"]);

      const exports: string[] = [];
      for (const app of ["alpha", "beta"]) {
        const out = await runCli(["export", "--app", app], { env: first });
        expect(out.code, out.stderr).toBe(0);
        exports.push(out.stdout);
      }
      const backup = join(dir, "both.jsonl");
      writeFileSync(backup, exports.join(""));
      const back = await runCli(["import", "--from", "jsonl", backup], { env: second });
      expect(back.code, back.stderr).toBe(0);
      expect(back.stdout).toContain("Imported 10, unchanged 0, skipped 0");
      for (const [i, app] of ["alpha", "beta"].entries()) {
        const again = await runCli(["export", "--app", app], { env: second });
        expect(again.stdout.split("\n").sort()).toEqual((exports[i] ?? "").split("\n").sort());
      }
      // The same workspace and user in both apps kept their own tokens.
      const line = (text: string) =>
        text
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Line)
          .find((l) => l.teamId === "T0000000001" && l.userId === "U0000000001");
      expect(line(exports[0] ?? "")?.botToken).toBe("xoxb-fixture-A0000000001-T0000000001-v2");
      expect(line(exports[1] ?? "")?.botToken).toBe("xoxb-fixture-A0000000002-T0000000001-app-b");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
