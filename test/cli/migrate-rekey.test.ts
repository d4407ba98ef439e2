/**
 * `slack-oauth-kit migrate` and `rekey` on SQLite temp files, through the built CLI.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import type { Installation } from "../../src/model/installation.js";
import { SCHEMA_VERSION } from "../../src/stores/sql/migrations.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { runCli } from "./cli-helpers.js";
import { fakeToken } from "./fixtures/formats.js";

const root = mkdtempSync(join(tmpdir(), "sok-migrate-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const tmp = (name: string) => join(root, `${n++}-${name}`);
const env = (db: string, extra: Record<string, string> = {}) => ({ DATABASE_URL: `sqlite:${db}`, ...extra });

function version(db: string): number {
  const d = new Database(db, { readonly: true });
  try {
    return Number((d.prepare("SELECT MAX(version) AS v FROM slack_migrations").get() as { v: number }).v);
  } finally {
    d.close();
  }
}

describe("migrate", () => {
  it("--dry-run lists pending migrations and changes nothing; then migrates; then is up to date", async () => {
    const db = tmp("m.db");
    new Database(db).close(); // an empty SQLite file: schema version 0
    const dry = await runCli(["migrate", "--dry-run"], { env: env(db) });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/schema version 0/);
    expect(dry.stdout).toMatch(/would apply 1:/);
    const d = new Database(db, { readonly: true });
    expect(d.prepare("SELECT COUNT(*) AS n FROM sqlite_master").get()).toEqual({ n: 0 });
    d.close();
    const r = await runCli(["migrate"], { env: env(db) });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`schema version 0 -> ${SCHEMA_VERSION}`));
    expect(version(db)).toBe(SCHEMA_VERSION);
    const again = await runCli(["migrate", "--database-url", `sqlite:${db}`]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Up to date/);
  });

  it("--dry-run on a missing file creates nothing", async () => {
    const db = tmp("missing.db");
    const r = await runCli(["migrate", "--dry-run"], { env: env(db) });
    expect(r.code).toBe(0);
    expect(existsSync(db)).toBe(false);
  });

  it("a database newer than the library: exit 1; non-SQL store or bad flag: exit 2; --help", async () => {
    const db = tmp("new.db");
    await new SQLiteInstallationStore({ filename: db }).init();
    const d = new Database(db);
    d.prepare("INSERT INTO slack_migrations (version, description, applied_at) VALUES (999, 'future', 0)").run();
    d.close();
    const r = await runCli(["migrate"], { env: env(db) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/newer/);
    expect((await runCli(["migrate", "--database-url", `file:${root}`])).code).toBe(2);
    expect((await runCli(["migrate", "--nope"])).code).toBe(2);
    const h = await runCli(["migrate", "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/--dry-run/);
  });
});

function inst(over: Partial<Installation> & Pick<Installation, "userId" | "installedAt">): Installation {
  return { isEnterpriseInstall: false, botScopes: [], userScopes: [], customValues: {}, ...over };
}
const key = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;

function dump(db: string): string {
  const d = new Database(db, { readonly: true });
  try {
    return JSON.stringify([
      d.prepare("SELECT * FROM slack_installations ORDER BY id").all(),
      d.prepare("SELECT * FROM slack_bots ORDER BY id").all(),
    ]);
  } finally {
    d.close();
  }
}

describe("rekey", () => {
  it("encrypts plaintext tokens, is resumable, rotates keys, and refuses a wrong key without changing anything", async () => {
    const tokens: string[] = [];
    const db = tmp("r.db");
    const store = new SQLiteInstallationStore({ filename: db });
    for (let i = 1; i <= 3; i++) {
      await store.save(
        inst({
          teamId: `T000000000${i}`,
          botToken: fakeToken("xoxb-", tokens),
          userId: `U000000000${i}`,
          userToken: fakeToken("xoxp-", tokens),
          userRefreshToken: fakeToken("xoxe-1-", tokens),
          installedAt: 1700000000 + i,
        }),
      );
    }
    await store.close();
    const k1 = key("k1");
    const first = await runCli(["rekey"], { env: env(db, { SLACK_TOKEN_ENCRYPTION_KEY: k1 }) });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Re-keyed to "k1": 3 workspaces, 6 records re-encrypted, 0 already current/);
    expect(first.stderr).toMatch(/rekey: 3\/3 workspaces/);
    const raw = dump(db);
    // User tokens and the bots table are encrypted; installation rows keep no copy of the bot's secrets.
    const [rows, bots] = JSON.parse(raw) as [Record<string, unknown>[], Record<string, unknown>[]];
    for (const r of rows) for (const c of ["user_token", "user_refresh_token"]) expect(r[c]).toMatch(/^enc:v1:k1:/);
    for (const r of rows) expect([r.bot_token, r.bot_refresh_token]).toEqual([null, null]);
    // No token, by value or by shape (the bare letters "xox" turn up in random ciphertext now and then).
    for (const t of tokens) expect(raw).not.toContain(t);
    expect(raw).not.toMatch(/xox[abpe]-/);
    for (const b of bots) expect(b.bot_token).toMatch(/^enc:v1:k1:/);

    const second = await runCli(["rekey"], { env: env(db, { SLACK_TOKEN_ENCRYPTION_KEY: k1 }) });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/0 records re-encrypted, 6 already current/);
    expect(dump(db)).toBe(raw);

    const k2 = key("k2");
    const rotated = await runCli(["rekey"], { env: env(db, { SLACK_TOKEN_ENCRYPTION_KEY: `${k2},${k1}` }) });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/Re-keyed to "k2": 3 workspaces, 6 records re-encrypted/);
    const raw2 = dump(db);
    expect(raw2).not.toContain("enc:v1:k1:");
    expect(raw2).toContain("enc:v1:k2:");

    // Export decrypts with the key: the backup holds the original tokens.
    const exp = await runCli(["export"], { env: env(db, { SLACK_TOKEN_ENCRYPTION_KEY: k2 }) });
    expect(exp.code).toBe(0);
    for (const t of tokens) expect(exp.stdout).toContain(t);

    // Key k2 missing, or a different key under the id k2: exit 1, the key id named, nothing changed.
    const missing = await runCli(["rekey"], { env: env(db, { SLACK_TOKEN_ENCRYPTION_KEY: key("k3") }) });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/key "k2"/);
    expect(missing.stderr).toMatch(/Nothing was changed/);
    const wrong = await runCli(["rekey"], {
      env: env(db, { SLACK_TOKEN_ENCRYPTION_KEY: `${key("k3")},${key("k2")}` }),
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/key "k2"/);
    expect(dump(db)).toBe(raw2);

    for (const r of [first, second, rotated, missing, wrong])
      for (const t of tokens) expect(r.stdout + r.stderr).not.toContain(t);
  });

  it("no key: exit 2 (the key is never a flag); --help", async () => {
    const db = tmp("k.db");
    await new SQLiteInstallationStore({ filename: db }).init();
    const r = await runCli(["rekey"], { env: env(db) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SLACK_TOKEN_ENCRYPTION_KEY/);
    expect((await runCli(["rekey", "--key", "x"], { env: env(db) })).code).toBe(2);
    const h = await runCli(["rekey", "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/SLACK_TOKEN_ENCRYPTION_KEY/);
  });
});
