/**
 * Restarting on an encrypted store without its key (or with another key under its id) stops `serve` and
 * the admin commands with exit 2 and a message naming SLACK_TOKEN_ENCRYPTION_KEY (or the key id), and
 * leaves the store as it was: SQLite and PostgreSQL (a fresh database of its own).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Installation } from "../../src/model/installation.js";
import { EncryptedInstallationStore, parseEncryptionKeys } from "../../src/stores/encryption.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { PostgresInstallationStore } from "../../src/stores/postgres.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import { runCli } from "./cli-helpers.js";

const ADMIN_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const pgStatus = await probeBackend("PostgreSQL", ADMIN_URL, async () => {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  await c.end();
});

const key = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;
const hex = () => randomBytes(16).toString("hex");
/** Multi-workspace configuration (fake credentials): the server starts only as far as opening the store. */
const serverEnv = (databaseUrl: string, extra: Record<string, string> = {}) => ({
  SLACK_CLIENT_ID: "1234567890.1234567890",
  SLACK_CLIENT_SECRET: hex(),
  SLACK_SIGNING_SECRET: hex(),
  DATABASE_URL: databaseUrl,
  PORT: "0",
  ...extra,
});

const installation = (): Installation => ({
  teamId: "T0000000001",
  teamName: "Northwind",
  userId: "U0000000001",
  botToken: `xoxb-test-${randomUUID()}`,
  botId: "B0000000001",
  botUserId: "U0000000BOT",
  botScopes: ["commands"],
  userToken: `xoxp-test-${randomUUID()}`,
  userScopes: ["search:read"],
  isEnterpriseInstall: false,
  installedAt: 1732520000.5,
  customValues: {},
});

async function seed(inner: InstallationStore, keyEnv: string): Promise<void> {
  const store = new EncryptedInstallationStore(inner, { keys: parseEncryptionKeys(keyEnv) });
  await store.save(installation());
  await store.close();
}

/** The refusals every backend must show; `dump` reads the whole store. */
async function expectRefusals(
  databaseUrl: string,
  k1: string,
  dump: () => Promise<string>,
  full: boolean,
): Promise<void> {
  const before = await dump();
  const serve = await runCli(["serve"], { env: serverEnv(databaseUrl), timeoutMs: 30_000 });
  expect(serve.code, serve.stderr).toBe(2);
  expect(serve.stderr).toContain("SLACK_TOKEN_ENCRYPTION_KEY");
  expect(serve.stderr).toContain('"k1"');
  expect(serve.stdout).not.toContain("is running");

  if (full) await expectWrongKeys(databaseUrl);
  const commands = full
    ? [["installations", "list"], ["installations", "show", "--team", "T0000000001", "--reveal"], ["export"]]
    : [["installations", "list"]];
  for (const args of commands) {
    const r = await runCli(args, { env: { DATABASE_URL: databaseUrl } });
    expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
    expect(r.stderr).toContain("SLACK_TOKEN_ENCRYPTION_KEY");
    expect(r.stdout).not.toContain("enc:v1:");
  }
  expect(await dump()).toBe(before);

  // With the key, the same store opens and reads.
  const ok = await runCli(["installations", "list", "--json"], {
    env: { DATABASE_URL: databaseUrl, SLACK_TOKEN_ENCRYPTION_KEY: k1 },
  });
  expect(ok.code, ok.stderr).toBe(0);
  expect(ok.stdout).toContain("T0000000001");
}

/** Another key under the recorded id, or only another id: exit 2 naming the key id. */
async function expectWrongKeys(databaseUrl: string): Promise<void> {
  const wrong = await runCli(["serve"], {
    env: serverEnv(databaseUrl, { SLACK_TOKEN_ENCRYPTION_KEY: key("k1") }),
    timeoutMs: 30_000,
  });
  expect(wrong.code, wrong.stderr).toBe(2);
  expect(wrong.stderr).toMatch(/key "k1" of SLACK_TOKEN_ENCRYPTION_KEY is not the key/);

  const other = await runCli(["serve"], {
    env: serverEnv(databaseUrl, { SLACK_TOKEN_ENCRYPTION_KEY: key("k2") }),
    timeoutMs: 30_000,
  });
  expect(other.code, other.stderr).toBe(2);
  expect(other.stderr).toMatch(/key "k1", which SLACK_TOKEN_ENCRYPTION_KEY/);
}

describe("SQLite", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "sok-enc-required-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("restart without the key: exit 2 naming SLACK_TOKEN_ENCRYPTION_KEY, store unchanged", async () => {
    const filename = join(dir, "app.db");
    const k1 = key("k1");
    await seed(new SQLiteInstallationStore({ filename }), k1);
    const dump = async () => {
      const db = new Database(filename, { readonly: true });
      try {
        return JSON.stringify(
          ["slack_bots", "slack_installations", "slack_meta"].map((t) => db.prepare(`SELECT * FROM "${t}"`).all()),
        );
      } finally {
        db.close();
      }
    };
    await expectRefusals(`sqlite:${filename}`, k1, dump, true);
  }, 120_000);
});

describeBackend(pgStatus, () => {
  const DB = `sok_enc_${randomBytes(5).toString("hex")}`;
  const dbUrl = (() => {
    const u = new URL(ADMIN_URL);
    u.pathname = `/${DB}`;
    return u.toString();
  })();
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  beforeAll(() => admin(`CREATE DATABASE ${DB}`), 30_000);
  afterAll(() => admin(`DROP DATABASE IF EXISTS ${DB}`).catch(() => undefined));

  it("restart without the key on PostgreSQL: exit 2 naming SLACK_TOKEN_ENCRYPTION_KEY, store unchanged", async () => {
    const k1 = key("k1");
    await seed(new PostgresInstallationStore({ url: dbUrl }), k1);
    const dump = async () => {
      const c = new pg.Client({ connectionString: dbUrl });
      await c.connect();
      try {
        const out = [];
        for (const t of ["slack_bots", "slack_installations", "slack_meta"])
          out.push((await c.query(`SELECT * FROM "${t}" ORDER BY 1`)).rows);
        return JSON.stringify(out);
      } finally {
        await c.end();
      }
    };
    await expectRefusals(dbUrl, k1, dump, false);
  }, 120_000);
});
