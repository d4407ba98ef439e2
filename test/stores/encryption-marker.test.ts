/**
 * The persistent encryption marker, on every backend that keeps data (SQLite, PostgreSQL, MySQL/MariaDB,
 * files) and through the wrappers the encryption may sit on: once a token was stored encrypted, the store
 * refuses to be read or written without the key (no ciphertext handed out, no plaintext written), names
 * the key id a wrong or missing key is about, and `rekey` records and prunes the marker.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAuthorize } from "../../src/authorize/authorize.js";
import { EncryptionError, ErrorCode } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import { redactValue } from "../../src/redact.js";
import { CachingInstallationStore } from "../../src/stores/cache.js";
import { EncryptedInstallationStore, type EncryptionKey, rekey } from "../../src/stores/encryption.js";
import { FileInstallationStore } from "../../src/stores/file.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { MySQLInstallationStore } from "../../src/stores/mysql.js";
import { PostgresInstallationStore } from "../../src/stores/postgres.js";
import { tableNames } from "../../src/stores/sql/migrations.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";

const PG_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_URL = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";
const pgStatus = await probeBackend("PostgreSQL", PG_URL, async () => {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  await c.end();
});
const mysqlStatus = await probeBackend("MySQL", MYSQL_URL, async () => {
  const c = await mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 3000 });
  await c.end();
});

const newKey = (id: string): EncryptionKey => ({ id, key: randomBytes(32) });
const hex = () => randomBytes(5).toString("hex").toUpperCase();

function install(o: Partial<Installation> = {}): Installation {
  return {
    teamId: `T${hex()}`,
    userId: `U${hex()}`,
    botToken: `xoxb-test-${randomUUID()}`,
    botId: `B${hex()}`,
    botUserId: `U${hex()}`,
    botScopes: ["chat:write"],
    userToken: `xoxp-test-${randomUUID()}`,
    userScopes: [],
    isEnterpriseInstall: false,
    installedAt: 1732520000.5,
    customValues: {},
    ...o,
  };
}

/** A backend: opens a fresh store on the same data each call; `dump` reads every stored token column/file. */
interface Backend {
  open(): InstallationStore;
  dump(): Promise<string>;
  cleanup(): Promise<void>;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

function expectKeyMissing(e: unknown): void {
  expect(e).toBeInstanceOf(EncryptionError);
  expect((e as EncryptionError).code).toBe(ErrorCode.Encryption);
  expect((e as EncryptionError).reason).toBe("key-missing");
  expect((e as Error).message).toContain("SLACK_TOKEN_ENCRYPTION_KEY");
}

function markerSuite(name: string, make: () => Promise<Backend>): void {
  describe(name, () => {
    let backend: Backend;
    beforeEach(async () => {
      backend = await make();
    }, 30_000);
    afterEach(async () => {
      await backend?.cleanup();
    });

    it("once encrypted, refuses every call without the key, and a missing or wrong key id at open", async () => {
      const k1 = newKey("k1");
      const plainFirst = install();
      // Plaintext first: turning encryption on over it is allowed, and the plaintext stays readable.
      const plain = backend.open();
      await plain.save(plainFirst);
      expect((await plain.encryptionMarker?.read())?.size).toBe(0);
      await plain.close?.();

      const enc = new EncryptedInstallationStore(backend.open(), { keys: [k1] });
      await enc.open();
      expect((await enc.findBot({ teamId: plainFirst.teamId }))?.botToken).toBe(plainFirst.botToken);
      const secret = install();
      await enc.save(secret);
      expect((await enc.findBot({ teamId: secret.teamId }))?.botToken).toBe(secret.botToken);
      await enc.close();
      const before = await backend.dump();
      expect(before).not.toContain(secret.botToken);

      // Without the key: every call refuses, naming the variable; nothing is read or written.
      const bare = backend.open();
      expect([...((await bare.encryptionMarker?.read()) ?? new Map()).keys()]).toEqual(["k1"]);
      for (const call of [
        () => bare.findBot({ teamId: secret.teamId }),
        () => bare.findInstallation({ teamId: plainFirst.teamId }),
        () => bare.save(install()),
        () => bare.deleteAll({ teamId: secret.teamId }),
        () => bare.listWorkspaces?.() ?? Promise.reject(new Error("no listWorkspaces")),
      ]) {
        expectKeyMissing(await rejection(call()));
      }
      await bare.close?.();
      expect(await backend.dump()).toBe(before);

      // A key set that lacks k1, or another key under the id k1: refused at open, the key id named.
      const without = new EncryptedInstallationStore(backend.open(), { keys: [newKey("k2")] });
      const e1 = (await rejection(without.open())) as EncryptionError;
      expect([e1.reason, e1.keyId]).toEqual(["unknown-key", "k1"]);
      await expect(without.findBot({ teamId: secret.teamId })).rejects.toMatchObject({ keyId: "k1" });
      await without.close();
      const wrong = new EncryptedInstallationStore(backend.open(), { keys: [newKey("k1")] });
      const e2 = (await rejection(wrong.save(install()))) as EncryptionError;
      expect([e2.reason, e2.keyId]).toEqual(["decrypt-failed", "k1"]);
      await wrong.close();
      expect(await backend.dump()).toBe(before);

      // Rotation: rekey to k2 encrypts the plaintext record too, then k1 leaves the marker.
      const k2 = newKey("k2");
      const both = new EncryptedInstallationStore(backend.open(), { keys: [k2, k1] });
      const counts = await rekey(both);
      expect(counts.conflicts).toBe(0);
      await both.close();
      const after = await backend.dump();
      expect(after).not.toContain(plainFirst.botToken);
      expect(after).not.toContain("enc:v1:k1:");
      const only2 = new EncryptedInstallationStore(backend.open(), { keys: [k2] });
      await only2.open();
      expect((await only2.findBot({ teamId: plainFirst.teamId }))?.botToken).toBe(plainFirst.botToken);
      expect([...((await only2.inner.encryptionMarker?.read()) ?? new Map()).keys()]).toEqual(["k2"]);
      await only2.close();
    });

    it("the marker passes through a cache under the encryption", async () => {
      const k = newKey("kc");
      const store = new EncryptedInstallationStore(new CachingInstallationStore(backend.open()), { keys: [k] });
      const i = install();
      await store.save(i);
      expect((await store.findBot({ teamId: i.teamId }))?.botToken).toBe(i.botToken);
      await store.close();
      const bare = new CachingInstallationStore(backend.open());
      expect([...((await bare.encryptionMarker?.read()) ?? new Map()).keys()]).toContain("kc");
      expectKeyMissing(await rejection(bare.findBot({ teamId: i.teamId })));
      await bare.close?.();
    });
  });
}

markerSuite("SQLite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sok-marker-"));
  const filename = join(dir, "m.db");
  return {
    open: () => new SQLiteInstallationStore({ filename }),
    dump: async () => {
      const { default: Database } = await import("better-sqlite3");
      const db = new Database(filename, { readonly: true });
      try {
        const t = tableNames("slack_");
        return JSON.stringify([t.bots, t.installations].map((n) => db.prepare(`SELECT * FROM "${n}"`).all()));
      } finally {
        db.close();
      }
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

markerSuite("file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sok-marker-files-"));
  const { readdirSync, readFileSync, statSync } = await import("node:fs");
  const walk = (d: string): string[] =>
    readdirSync(d)
      .sort()
      .flatMap((n) => {
        const p = join(d, n);
        return statSync(p).isDirectory()
          ? walk(p)
          : [`${p}:${n.includes("encryption") ? "" : readFileSync(p, "utf8")}`];
      });
  return {
    open: () => new FileInstallationStore({ baseDir: dir }),
    dump: async () => walk(join(dir, "_default")).join("\n"),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describeBackend(pgStatus, () => {
  markerSuite("PostgreSQL", async () => {
    const prefix = `m${randomBytes(5).toString("hex")}_`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
    const t = tableNames(prefix);
    return {
      open: () => new PostgresInstallationStore({ pool, tablePrefix: prefix }),
      dump: async () =>
        JSON.stringify(
          await Promise.all(
            [t.bots, t.installations].map(async (n) => (await pool.query(`SELECT * FROM "${n}" ORDER BY id`)).rows),
          ),
        ),
      cleanup: async () => {
        const names = [t.installations, t.bots, t.states, t.migrations, t.meta, t.teamAccess, `${prefix}locks`];
        await pool.query(`DROP TABLE IF EXISTS ${names.map((n) => `"${n}"`).join(", ")}`);
        await pool.end();
      },
    };
  });
});

describeBackend(mysqlStatus, () => {
  markerSuite("MySQL", async () => {
    const prefix = `m${randomBytes(5).toString("hex")}_`;
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 4 });
    const t = tableNames(prefix);
    return {
      open: () => new MySQLInstallationStore({ pool, tablePrefix: prefix }),
      dump: async () =>
        JSON.stringify(
          await Promise.all(
            [t.bots, t.installations].map(async (n) => (await pool.query(`SELECT * FROM \`${n}\` ORDER BY id`))[0]),
          ),
        ),
      cleanup: async () => {
        const names = [t.installations, t.bots, t.states, t.migrations, t.meta, t.teamAccess, `${prefix}locks`];
        await pool.query(`DROP TABLE IF EXISTS ${names.map((n) => `\`${n}\``).join(", ")}`);
        await pool.end();
      },
    };
  });
});

describe("a ciphertext without a marker (written before markers existed)", () => {
  it("is never handed out as a token by a store opened without the key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sok-legacy-"));
    try {
      const filename = join(dir, "l.db");
      const enc = new EncryptedInstallationStore(new SQLiteInstallationStore({ filename }), { keys: [newKey("k1")] });
      const i = install();
      await enc.save(i);
      await enc.close();
      const { default: Database } = await import("better-sqlite3");
      const db = new Database(filename);
      db.prepare('DELETE FROM "slack_meta"').run(); // as an older version left it: ciphertexts, no marker
      db.close();
      const bare = new SQLiteInstallationStore({ filename });
      expectKeyMissing(await rejection(bare.findBot({ teamId: i.teamId })));
      expectKeyMissing(await rejection(bare.findInstallation({ teamId: i.teamId, userId: i.userId })));
      await bare.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a wrong key at request time", () => {
  it("reaches the caller (and its log line) as EncryptionError with the key id and stable code", async () => {
    const inner = new MemoryInstallationStore(); // keeps no marker: only the ciphertexts tell
    const i = install();
    await new EncryptedInstallationStore(inner, { keys: [newKey("k1")] }).save(i);
    const authorize = createAuthorize({
      installationStore: new EncryptedInstallationStore(inner, { keys: [newKey("k1")] }),
    });
    const error = await rejection(authorize({ teamId: i.teamId, isEnterpriseInstall: false }));
    expect(error).toBeInstanceOf(EncryptionError);
    expect(error).toMatchObject({ code: "SLACK_OAUTH_ENCRYPTION_ERROR", reason: "decrypt-failed", keyId: "k1" });
    const line = redactValue(error);
    expect(line).toContain("SLACK_OAUTH_ENCRYPTION_ERROR");
    expect(line).toContain("key id k1");
    expect(line).not.toContain("the installation store failed");
    expect(line).not.toContain(i.botToken);
  });
});
