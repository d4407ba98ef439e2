import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, EncryptionError, ErrorCode } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import {
  EncryptedInstallationStore,
  type EncryptionKey,
  encryptedKeyId,
  parseEncryptionKeys,
  rekey,
  TokenCipher,
} from "../../src/stores/encryption.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { testInstallationStore } from "../../src/testing/index.js";
import { runner } from "../conformance/runner.js";

const newKey = (id: string): EncryptionKey => ({ id, key: randomBytes(32) });
const k1 = newKey("k1");
const k2 = newKey("k2");
const tempDir = () => mkdtempSync(join(tmpdir(), "slack-oauth-kit-enc-"));
const id = (prefix: string) => `${prefix}${randomBytes(5).toString("hex").toUpperCase()}`;

function install(o: Partial<Record<keyof Installation, unknown>> = {}): Installation {
  const out = {
    enterpriseId: id("E"),
    teamId: id("T"),
    userId: id("U"),
    botToken: `xoxb-test-${randomUUID()}`,
    botId: id("B"),
    botUserId: id("U"),
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
    ...o,
  } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out as unknown as Installation;
}

const TOKEN_FIELDS = ["botToken", "botRefreshToken", "userToken", "userRefreshToken"] as const;

testInstallationStore(
  runner,
  "encrypted memory",
  async () => ({
    store: new EncryptedInstallationStore(new MemoryInstallationStore(), { keys: [k1] }),
  }),
  {
    supportsHistory: true,
    makeStoreWithHistory: async () => {
      const inner = new MemoryInstallationStore({ historicalData: true });
      return {
        store: new EncryptedInstallationStore(inner, { keys: [k1] }),
        countHistory: async (q) => {
          const h = await inner.listHistory(q);
          return { installations: h.installations.length, bots: h.bots.length };
        },
      };
    },
  },
);

testInstallationStore(runner, "encrypted SQLite", async () => {
  const dir = tempDir();
  const store = new EncryptedInstallationStore(new SQLiteInstallationStore({ filename: join(dir, "t.db") }), {
    keys: [k2, k1],
  });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("EncryptedInstallationStore", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("stores every token field as enc:v1:<keyId>:… and returns plaintext", async () => {
    const inner = new MemoryInstallationStore();
    const store = new EncryptedInstallationStore(inner, { keys: [k1] });
    const i = install();
    await store.save(i);
    const raw = await inner.findInstallation({ enterpriseId: i.enterpriseId, teamId: i.teamId, userId: i.userId });
    for (const f of TOKEN_FIELDS) {
      expect(raw?.[f]).toMatch(/^enc:v1:k1:[A-Za-z0-9_-]+$/);
      // A token's shape, not the bare letters: random ciphertext spells "xox" now and then.
      expect(raw?.[f]).not.toMatch(/xox[abpe]-/);
    }
    expect(
      await store.findInstallation({ enterpriseId: i.enterpriseId, teamId: i.teamId, userId: i.userId }),
    ).toStrictEqual(i);
    const listed = await store.listWorkspaces!({ enterpriseId: i.enterpriseId!, teamId: i.teamId! });
    expect(listed[0]?.bot?.botToken).toBe(i.botToken);
    expect(listed[0]?.installations[0]?.userToken).toBe(i.userToken);
  });

  it("SQLite: neither the file bytes nor any table row holds an xox string", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const filename = join(dir, "app.db");
    const store = new EncryptedInstallationStore(new SQLiteInstallationStore({ filename }), { keys: [k1] });
    const a = install();
    const b = install({ isEnterpriseInstall: true, teamId: undefined });
    await store.save(a);
    await store.save(b);
    await store.save(install({ enterpriseId: a.enterpriseId!, teamId: a.teamId!, botToken: undefined }));
    expect(
      await store.updateTokens!(
        { enterpriseId: a.enterpriseId, teamId: a.teamId },
        { botToken: `xoxb-test-${randomUUID()}`, botRefreshToken: `xoxe-1-test-${randomUUID()}` },
        { botRefreshToken: a.botRefreshToken! },
      ),
    ).toBe(true);
    expect((await store.findBot({ enterpriseId: b.enterpriseId, isEnterpriseInstall: true }))?.botToken).toBe(
      b.botToken,
    );
    await store.close();
    for (const f of readdirSync(dir))
      expect(readFileSync(join(dir, f)).toString("latin1"), f).not.toMatch(/xox[abpe]-/);
    const db = new Database(filename, { readonly: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      expect(tables.length).toBeGreaterThan(0);
      let rows = 0;
      for (const { name } of tables) {
        for (const row of db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).all()) {
          rows++;
          expect(JSON.stringify(row), name).not.toMatch(/xox[abpe]-/);
        }
      }
      expect(rows).toBeGreaterThan(2);
    } finally {
      db.close();
    }
  });

  it("a ciphertext copied to another installation or field fails to decrypt (AAD)", async () => {
    const inner = new MemoryInstallationStore();
    const store = new EncryptedInstallationStore(inner, { keys: [k1] });
    const a = install();
    const b = install();
    await store.save(a);
    await store.save(b);
    const rawA = await inner.findBot({ enterpriseId: a.enterpriseId, teamId: a.teamId });
    // Moved to another workspace.
    await inner.updateTokens!({ enterpriseId: b.enterpriseId, teamId: b.teamId }, { botToken: rawA!.botToken });
    const err = await store.findBot({ enterpriseId: b.enterpriseId, teamId: b.teamId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncryptionError);
    expect((err as EncryptionError).code).toBe(ErrorCode.Encryption);
    expect((err as EncryptionError).reason).toBe("decrypt-failed");
    expect((err as EncryptionError).keyId).toBe("k1");
    expect(String((err as Error).message)).not.toContain("xox");
    // Moved to another field of the same installation.
    await inner.updateTokens!({ enterpriseId: a.enterpriseId, teamId: a.teamId }, { botRefreshToken: rawA!.botToken });
    await expect(store.findBot({ enterpriseId: a.enterpriseId, teamId: a.teamId })).rejects.toBeInstanceOf(
      EncryptionError,
    );
    // Moved from the bot to a user token.
    await inner.updateTokens!(
      { enterpriseId: a.enterpriseId, teamId: a.teamId, userId: a.userId },
      { userToken: rawA!.botToken },
    );
    await expect(
      store.findInstallation({ enterpriseId: a.enterpriseId, teamId: a.teamId, userId: a.userId }),
    ).rejects.toBeInstanceOf(EncryptionError);
  });

  it("reads plaintext already stored; rekey converts it", async () => {
    const inner = new MemoryInstallationStore();
    const plain = install();
    await inner.save(plain);
    const store = new EncryptedInstallationStore(inner, { keys: [k1] });
    expect(
      await store.findInstallation({ enterpriseId: plain.enterpriseId, teamId: plain.teamId, userId: plain.userId }),
    ).toStrictEqual(plain);
    const counts = await rekey(store);
    expect(counts).toStrictEqual({ workspaces: 1, updated: 2, skipped: 0, conflicts: 0 });
    const raw = await inner.findInstallation({
      enterpriseId: plain.enterpriseId,
      teamId: plain.teamId,
      userId: plain.userId,
    });
    for (const f of TOKEN_FIELDS) expect(encryptedKeyId(raw![f]!)).toBe("k1");
    expect(
      await store.findInstallation({ enterpriseId: plain.enterpriseId, teamId: plain.teamId, userId: plain.userId }),
    ).toStrictEqual(plain);
  });

  it("key rotation: k1 → [k2, k1] readable → rekey → [k2] alone readable; rekey is idempotent", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const filename = join(dir, "app.db");
    const installs = [install(), install(), install({ isEnterpriseInstall: true, teamId: undefined })];
    const first = new EncryptedInstallationStore(new SQLiteInstallationStore({ filename }), { keys: [k1] });
    for (const i of installs) await first.save(i);
    // A second user in the first workspace.
    const second = install({ enterpriseId: installs[0]!.enterpriseId!, teamId: installs[0]!.teamId! });
    await first.save(second);
    await first.close();

    const rotating = new EncryptedInstallationStore(new SQLiteInstallationStore({ filename }), { keys: [k2, k1] });
    const before = await rotating.listWorkspaces!();
    const seen: number[] = [];
    const counts = await rekey(rotating, { onProgress: (p) => seen.push(p.workspaces) });
    expect(counts).toStrictEqual({ workspaces: 3, updated: 3 + 4, skipped: 0, conflicts: 0 });
    expect(seen).toStrictEqual([1, 2, 3]);
    expect(await rotating.listWorkspaces!()).toStrictEqual(before);
    for (const w of await rotating.inner.listWorkspaces!()) {
      for (const f of ["botToken", "botRefreshToken"] as const) expect(encryptedKeyId(w.bot![f]!)).toBe("k2");
      for (const i of w.installations)
        for (const f of ["userToken", "userRefreshToken"] as const) expect(encryptedKeyId(i[f]!)).toBe("k2");
    }
    expect(await rekey(rotating)).toStrictEqual({ workspaces: 3, updated: 0, skipped: 7, conflicts: 0 });
    await rotating.close();

    const only = new EncryptedInstallationStore(new SQLiteInstallationStore({ filename }), { keys: [k2] });
    try {
      expect(await only.listWorkspaces!()).toStrictEqual(before);
      const q0 = { enterpriseId: installs[0]!.enterpriseId, teamId: installs[0]!.teamId };
      expect((await only.findInstallation({ ...q0, userId: second.userId }))?.userToken).toBe(second.userToken);
      expect((await only.findBot(q0))?.botToken).toBe(second.botToken);
      const org = installs[2]!;
      expect(
        (await only.findInstallation({ enterpriseId: org.enterpriseId, isEnterpriseInstall: true }))?.userToken,
      ).toBe(org.userToken);
    } finally {
      await only.close();
    }
  });

  it("a wrong or missing key is a typed error naming the key id; data is untouched", async () => {
    const inner = new MemoryInstallationStore();
    const i = install();
    await new EncryptedInstallationStore(inner, { keys: [k1] }).save(i);
    const q = { enterpriseId: i.enterpriseId, teamId: i.teamId, userId: i.userId };
    const rawBefore = await inner.findInstallation(q);

    const wrong = new EncryptedInstallationStore(inner, { keys: [{ id: "k1", key: randomBytes(32) }] });
    const e1 = await wrong.findBot(q).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(EncryptionError);
    expect((e1 as EncryptionError).message).toContain('"k1"');
    expect((e1 as EncryptionError).reason).toBe("decrypt-failed");
    await expect(wrong.updateTokens!(q, { botToken: "xoxb-test-x" }, { botToken: i.botToken! })).rejects.toBeInstanceOf(
      EncryptionError,
    );

    const missing = new EncryptedInstallationStore(inner, { keys: [k2] });
    const e2 = await missing.findInstallation(q).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(EncryptionError);
    expect((e2 as EncryptionError).reason).toBe("unknown-key");
    expect((e2 as EncryptionError).keyId).toBe("k1");
    expect((e2 as Error).message).toContain('"k1"');
    const e3 = await rekey(missing).catch((e: unknown) => e);
    expect(e3).toBeInstanceOf(EncryptionError);

    for (const e of [e1, e2, e3]) {
      const text = `${(e as Error).message} ${JSON.stringify(e)}`;
      expect(text).not.toContain("xox");
      expect(text).not.toContain(k1.key.toString("base64"));
    }
    expect(await inner.findInstallation(q)).toStrictEqual(rawBefore);
    expect(await new EncryptedInstallationStore(inner, { keys: [k1] }).findInstallation(q)).toStrictEqual(i);
  });

  it("updateTokens compare-and-set works on plaintext expectations", async () => {
    const inner = new MemoryInstallationStore();
    const store = new EncryptedInstallationStore(inner, { keys: [k1] });
    const i = install();
    await store.save(i);
    const q = { enterpriseId: i.enterpriseId, teamId: i.teamId, userId: i.userId };
    const next = `xoxb-test-${randomUUID()}`;
    expect(await store.updateTokens!(q, { botToken: next }, { botRefreshToken: "xoxe-1-test-stale" })).toBe(false);
    expect(await store.updateTokens!(q, { botToken: next }, { botRefreshToken: i.botRefreshToken! })).toBe(true);
    expect((await store.findBot(q))?.botToken).toBe(next);
    const nextUser = `xoxp-test-${randomUUID()}`;
    expect(await store.updateTokens!(q, { userToken: nextUser }, { userRefreshToken: i.userRefreshToken! })).toBe(true);
    expect((await store.findInstallation(q))?.userToken).toBe(nextUser);
    expect(await store.updateTokens!({ ...q, userId: "UNOBODY" }, { userToken: nextUser })).toBe(false);
    expect(await store.updateTokens!({ teamId: "TNOBODY" }, { botToken: next })).toBe(false);
    expect(await store.updateTokens!(q, { botTokenExpiresAt: 1 })).toBe(true);
    expect(typeof store.withLock).toBe("function");
    expect(await store.withLock!("rotation/x", async () => 5)).toBe(5);
  });

  it("TokenCipher round-trips unicode and rejects truncated or malformed values", () => {
    const c = new TokenCipher([k1]);
    const owner = { teamId: "T1" };
    const v = c.encrypt("xoxb-test-ü🚀", owner, "botToken");
    expect(c.decrypt(v, owner, "botToken")).toBe("xoxb-test-ü🚀");
    expect(c.encrypt("same", owner, "botToken")).not.toBe(c.encrypt("same", owner, "botToken"));
    expect(() => c.decrypt("enc:v1:k1:AAAA", owner, "botToken")).toThrow(EncryptionError);
    expect(() => c.decrypt("enc:v9:k1:AAAA", owner, "botToken")).toThrow(EncryptionError);
    expect(c.decrypt("xoxb-plain", owner, "botToken")).toBe("xoxb-plain");
  });

  it("rejects bad key configuration with ConfigError", () => {
    const inner = new MemoryInstallationStore();
    const bad: unknown[] = [
      [],
      undefined,
      [{ id: "k1", key: randomBytes(16) }],
      [{ id: "bad:id", key: randomBytes(32) }],
      [k1, { id: "k1", key: randomBytes(32) }],
      [{ id: "k1", key: "x".repeat(32) }],
    ];
    for (const keys of bad)
      expect(() => new EncryptedInstallationStore(inner, { keys: keys as EncryptionKey[] })).toThrow(ConfigError);
  });
});

describe("parseEncryptionKeys", () => {
  it("parses id:base64 lists (first encrypts) and a single bare key as k1", () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const keys = parseEncryptionKeys(`k2:${a.toString("base64")}, k1:${b.toString("base64url")}`);
    expect(keys.map((k) => k.id)).toStrictEqual(["k2", "k1"]);
    expect(keys[0]?.key.equals(a)).toBe(true);
    expect(keys[1]?.key.equals(b)).toBe(true);
    const single = parseEncryptionKeys(a.toString("base64"));
    expect(single).toHaveLength(1);
    expect(single[0]?.id).toBe("k1");
    expect(single[0]?.key.equals(a)).toBe(true);
  });

  it("rejects malformed values with ConfigError that never contains the key", () => {
    const good = randomBytes(32).toString("base64");
    const short = randomBytes(16).toString("base64");
    const cases: [string | undefined, RegExp][] = [
      [undefined, /empty/],
      ["  ", /empty/],
      [short, /"k1" must decode to 32 bytes, got 16/],
      [`k1:${good},${good}`, /entry #2 lacks/],
      [`bad id:${good}`, /entry #1: the key id/],
      [`k1:${good},k1:${good}`, /"k1" appears twice/],
      ["k1:not*base64!", /"k1" is not base64/],
      [`k3:${short}`, /"k3" must decode to 32 bytes/],
    ];
    for (const [value, message] of cases) {
      let err: unknown;
      try {
        parseEncryptionKeys(value);
      } catch (e) {
        err = e;
      }
      expect(err, String(value)).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain(good);
      expect((err as Error).message).not.toContain(short);
    }
  });
});
