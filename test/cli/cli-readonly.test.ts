/**
 * The admin CLI: read-only commands never create or migrate tables (an empty PostgreSQL database stays
 * empty, an empty SQLite file too), `--version`, `keygen`, `export --out` into a missing folder fails before
 * reading anything, and `show` prints every stored field.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEncryptionKeys } from "../../src/stores/encryption.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import { ROOT, runCli } from "./cli-helpers.js";

const ADMIN_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const pgStatus = await probeBackend("PostgreSQL", ADMIN_URL, async () => {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  await c.end();
});

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sok-cli-ro-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("CLI basics", () => {
  it("--version prints the package's version", async () => {
    const { version } = (await import(join(ROOT, "package.json"), { with: { type: "json" } })).default as {
      version: string;
    };
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`slack-oauth-kit ${version}`);
  });

  it("keygen prints a fresh key SLACK_TOKEN_ENCRYPTION_KEY accepts", async () => {
    const [a, b] = await Promise.all([runCli(["keygen"]), runCli(["keygen", "--id", "k2"])]);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^k1:[A-Za-z0-9+/]{43}=\n$/);
    expect(b.stdout).toMatch(/^k2:/);
    expect(a.stdout.slice(3)).not.toBe(b.stdout.slice(3));
    expect(parseEncryptionKeys(`${b.stdout.trim()},${a.stdout.trim()}`).map((k) => k.id)).toEqual(["k2", "k1"]);
    expect((await runCli(["keygen", "--id", "bad id"])).code).toBe(2);
  });
});

describe("read-only commands on SQLite", () => {
  it("an empty database file stays empty: exit 1 naming the file", async () => {
    const filename = join(dir, "empty.db");
    writeFileSync(filename, "");
    for (const args of [["installations", "list"], ["export"]]) {
      const r = await runCli(args, { env: { DATABASE_URL: `sqlite:${filename}` } });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(filename);
      expect(r.stderr).toMatch(/no tables of this library.*Nothing was created/);
    }
    const db = new Database(filename, { readonly: true });
    expect(db.prepare("SELECT COUNT(*) FROM sqlite_master").pluck().get()).toBe(0);
    db.close();
  });

  it("export --out into a missing folder fails before reading the store or printing progress", async () => {
    const filename = join(dir, "one.db");
    const store = new SQLiteInstallationStore({ filename });
    await store.save({
      enterpriseId: "E0000000001",
      enterpriseName: "Acme",
      enterpriseUrl: "https://acme.enterprise.slack.com/",
      teamId: "T0000000001",
      teamName: "Acme Eng",
      userId: "U0000000001",
      userToken: `xoxp-test-${randomBytes(8).toString("hex")}`,
      userScopes: ["chat:write"],
      botScopes: [],
      incomingWebhookUrl: "https://hooks.slack.com/services/T0000000001/B0000000001/xyz",
      incomingWebhookChannel: "#general",
      incomingWebhookChannelId: "C0000000001",
      incomingWebhookConfigurationUrl: "https://acme.slack.com/services/B0000000001",
      tokenType: "user",
      isEnterpriseInstall: false,
      installedAt: 1732520000,
      customValues: { plan: "pro" },
    });
    await store.close();
    const out = join(dir, "missing", "backup.jsonl");
    const r = await runCli(["export", "--out", out], { env: { DATABASE_URL: `sqlite:${filename}` } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `export: cannot write ${out}: the folder ${join(dir, "missing")} does not exist. Nothing was read.\n`,
    );

    const shown = await runCli(["installations", "show", "--team", "T0000000001", "--enterprise", "E0000000001"], {
      env: { DATABASE_URL: `sqlite:${filename}` },
    });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/enterprise url: +https:\/\/acme\.enterprise\.slack\.com\//);
    expect(shown.stdout).toMatch(/webhook config: +https:\/\/acme\.slack\.com\/services\/B0000000001/);
    expect(shown.stdout).toMatch(/token type: +user/);
    expect(shown.stdout).toMatch(/custom values: +\{"plan":"pro"\}/);
  });
});

describeBackend(pgStatus, () => {
  const DB = `sok_ro_${randomBytes(5).toString("hex")}`;
  const dbUrl = (() => {
    const u = new URL(ADMIN_URL);
    u.pathname = `/${DB}`;
    return u.toString();
  })();
  const admin = async (sql: string, url = ADMIN_URL) => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    await c.connect();
    try {
      return (await c.query(sql)).rows as Array<Record<string, unknown>>;
    } finally {
      await c.end();
    }
  };
  beforeAll(() => admin(`CREATE DATABASE ${DB}`), 30_000);
  afterAll(() => admin(`DROP DATABASE IF EXISTS ${DB}`).catch(() => undefined));

  it("installations list / show and export on an empty PostgreSQL database leave it empty (exit 1, URL named)", async () => {
    for (const args of [["installations", "list"], ["installations", "show", "--team", "T0000000001"], ["export"]]) {
      const r = await runCli(args, { env: { DATABASE_URL: dbUrl } });
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`/${DB}`);
      expect(r.stderr).toMatch(/has no slack-oauth-kit tables.*Nothing was created or changed/);
    }
    const tables = await admin("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", dbUrl);
    expect(tables).toEqual([]);
  });
});
