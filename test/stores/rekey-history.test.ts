/**
 * `rekey` and history (`historicalData: true`): on the SQL stores every row is re-encrypted, the history
 * included, before the older key ids leave the marker, so a store opened with the newest key alone still
 * reads all of it. A store that keeps a history `rekey` cannot rewrite (the file store) keeps the older
 * key ids recorded instead. SQLite always; PostgreSQL when it answers (POSTGRES_URL).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { Installation } from "../../src/model/installation.js";
import { EncryptedInstallationStore, type EncryptionKey, encryptedKeyId, rekey } from "../../src/stores/encryption.js";
import { FileInstallationStore } from "../../src/stores/file.js";
import { PostgresInstallationStore } from "../../src/stores/postgres.js";
import type { SqlInstallationStore, StoredTokenField } from "../../src/stores/sql/core.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";

const k1: EncryptionKey = { id: "k1", key: randomBytes(32) };
const k2: EncryptionKey = { id: "k2", key: randomBytes(32) };
const PG_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function install(teamId: string, userId: string): Installation {
  return {
    enterpriseId: "E0HIST0001",
    teamId,
    userId,
    botToken: `xoxb-test-${randomUUID()}`,
    botId: "B0HIST0001",
    botUserId: "U0HISTBOT1",
    botScopes: ["chat:write"],
    botRefreshToken: `xoxe-1-test-${randomUUID()}`,
    botTokenExpiresAt: 1732563200,
    userToken: `xoxp-test-${randomUUID()}`,
    userRefreshToken: `xoxe-1-test-${randomUUID()}`,
    userScopes: ["search:read"],
    isEnterpriseInstall: false,
    tokenType: "bot",
    installedAt: 1732520000.5,
    customValues: {},
  };
}

/** Every stored token value (history included), read through `rewriteStoredTokens` without changing any. */
async function storedValues(store: SqlInstallationStore) {
  const seen: {
    value: string;
    owner: { enterpriseId: string; teamId: string; userId: string };
    field: StoredTokenField;
  }[] = [];
  await store.rewriteStoredTokens((value, owner, field) => {
    seen.push({ value, owner, field });
    return undefined;
  });
  return seen;
}

/** The scenario on one SQL backend; `open` gives a fresh store over the same tables each time. */
async function historyIsReencrypted(open: () => SqlInstallationStore): Promise<void> {
  const first = new EncryptedInstallationStore(open(), { keys: [k1] });
  // Three saves of one user (two of them history now), a second user, another workspace.
  const saves = [install("T0HIST0001", "U0HIST0001"), install("T0HIST0001", "U0HIST0001")];
  saves.push(
    install("T0HIST0001", "U0HIST0001"),
    install("T0HIST0001", "U0HIST0002"),
    install("T0HIST0002", "U0HIST0003"),
  );
  for (const i of saves) await first.save(i);
  await first.close();

  const inner = open();
  const before = await storedValues(inner);
  // 5 bot rows (2 tokens) + 5 installation rows (2 user tokens): the history is there, under k1.
  expect(before).toHaveLength(20);
  expect(new Set(before.map((v) => encryptedKeyId(v.value)))).toEqual(new Set(["k1"]));

  const rotating = new EncryptedInstallationStore(inner, { keys: [k2, k1] });
  const counts = await rekey(rotating);
  expect(counts.conflicts).toBe(0);
  expect(counts.keptOldKeys).toBeUndefined();
  // 2 workspaces' latest bots (2 tokens each) and 3 users' latest installations (2 each) by the latest
  // pass, then the 10 history values.
  expect(counts.updated).toBe(2 + 3 + 10);
  await rotating.close();

  // The newest key alone opens the store (k1 left the marker) and decrypts every row, history included.
  const only = new EncryptedInstallationStore(open(), { keys: [k2] });
  await only.open();
  const after = await storedValues(only.inner as SqlInstallationStore);
  expect(after).toHaveLength(20);
  const plain = new Set(after.map((v) => only.cipher.decrypt(v.value, v.owner, v.field)));
  for (const i of saves) {
    for (const t of [i.botToken, i.botRefreshToken, i.userToken, i.userRefreshToken]) expect(plain.has(t!)).toBe(true);
  }
  expect(new Set(after.map((v) => encryptedKeyId(v.value)))).toEqual(new Set(["k2"]));
  // Nothing left to do the second time.
  const again = new EncryptedInstallationStore(only.inner, { keys: [k2] });
  expect(await rekey(again)).toMatchObject({ updated: 0, conflicts: 0 });
  await again.close();
}

describe("rekey re-encrypts the history of SQL stores", () => {
  it("SQLite", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slack-oauth-kit-rekey-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const filename = join(dir, "h.db");
    await historyIsReencrypted(() => new SQLiteInstallationStore({ filename, historicalData: true }));
  });

  it("a store whose history it cannot rewrite (file) keeps the older key ids recorded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slack-oauth-kit-rekey-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = new EncryptedInstallationStore(new FileInstallationStore({ baseDir: dir, historicalData: true }), {
      keys: [k1],
    });
    await first.save(install("T0HIST0001", "U0HIST0001"));
    await first.save(install("T0HIST0001", "U0HIST0001"));
    const rotating = new EncryptedInstallationStore(new FileInstallationStore({ baseDir: dir, historicalData: true }), {
      keys: [k2, k1],
    });
    const counts = await rekey(rotating);
    expect(counts).toMatchObject({ keptOldKeys: "history", conflicts: 0 });
    expect(await rotating.forgetOldKeys()).toBe(false);
    expect([...(await rotating.inner.encryptionMarker!.read()).keys()].sort()).toEqual(["k1", "k2"]);
    // Without history the same store forgets them.
    const plainDir = mkdtempSync(join(tmpdir(), "slack-oauth-kit-rekey-"));
    cleanups.push(() => rmSync(plainDir, { recursive: true, force: true }));
    await new EncryptedInstallationStore(new FileInstallationStore({ baseDir: plainDir }), { keys: [k1] }).save(
      install("T0HIST0001", "U0HIST0001"),
    );
    const latestOnly = new EncryptedInstallationStore(new FileInstallationStore({ baseDir: plainDir }), {
      keys: [k2, k1],
    });
    expect((await rekey(latestOnly)).keptOldKeys).toBeUndefined();
    expect([...(await latestOnly.inner.encryptionMarker!.read()).keys()]).toEqual(["k2"]);
  });
});

const pgStatus = await probeBackend("PostgreSQL", PG_URL, async () => {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  await c.end();
});

describeBackend(pgStatus, () => {
  describe("rekey re-encrypts the history of SQL stores", () => {
    it("PostgreSQL", async () => {
      const prefix = `rk_${randomBytes(4).toString("hex")}_`;
      const opened: SqlInstallationStore[] = [];
      cleanups.push(async () => {
        for (const s of opened) await s.close();
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        try {
          const { rows } = await c.query<{ tablename: string }>(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE $1",
            [`${prefix}%`],
          );
          for (const r of rows) await c.query(`DROP TABLE IF EXISTS "${r.tablename}" CASCADE`);
        } finally {
          await c.end();
        }
      });
      await historyIsReencrypted(() => {
        const s = new PostgresInstallationStore({ url: PG_URL, tablePrefix: prefix, historicalData: true });
        opened.push(s);
        return s;
      });
    });
  });
});
