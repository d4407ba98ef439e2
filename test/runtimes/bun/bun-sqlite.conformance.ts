/**
 * The shared store conformance suites on `bun:sqlite`, run by Bun's own test runner (`bun test`, which
 * answers the suites' `vitest` imports itself). Started by test/runtimes/runtimes.test.ts; not a Vitest file.
 * Test functions must not take a parameter here: `bun test` reads one as a `done` callback.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LockTimeoutError } from "../../../src/errors.js";
import {
  BunSQLiteInstallationStore,
  BunSQLiteStateStore,
  type BunSqliteDatabase,
} from "../../../src/stores/bun-sqlite.js";
import type { DeleteInstallationQuery } from "../../../src/stores/installation-store.js";
import { testInstallationStore, testStateStore } from "../../../src/testing/index.js";
import { runner } from "../../conformance/runner.js";

function tempFile(): { filename: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "bun-sqlite-"));
  return { filename: join(dir, "slack.db"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Rows of one workspace (and user) in a table. */
function countRows(db: BunSqliteDatabase, table: string, q: DeleteInstallationQuery): number {
  const where = ["enterprise_id = ?", "team_id = ?"];
  const params = [q.enterpriseId ?? "", q.teamId ?? ""];
  if (q.userId !== undefined) {
    where.push("user_id = ?");
    params.push(q.userId);
  }
  return db.prepare(`SELECT COUNT(*) FROM "${table}" WHERE ${where.join(" AND ")}`).values(...params)[0]?.[0] as number;
}

function fileStore(options: { historicalData?: boolean } = {}) {
  const file = tempFile();
  const store = new BunSQLiteInstallationStore({ filename: file.filename, ...options });
  return {
    store,
    cleanup: async () => {
      await store.close();
      file.remove();
    },
    countHistory: async (q: DeleteInstallationQuery) => ({
      installations: countRows(store.database, store.tables.installations, q),
      bots: countRows(store.database, store.tables.bots, { enterpriseId: q.enterpriseId, teamId: q.teamId }),
    }),
  };
}

testInstallationStore(runner, "bun:sqlite (file)", async () => fileStore(), {
  supportsHistory: true,
  makeStoreWithHistory: async () => fileStore({ historicalData: true }),
});

testInstallationStore(runner, "bun:sqlite (:memory:)", async () => {
  const store = new BunSQLiteInstallationStore({ filename: ":memory:" });
  return { store, cleanup: () => store.close() };
});

testStateStore(runner, "bun:sqlite (file)", async () => {
  const file = tempFile();
  const store = new BunSQLiteStateStore({ filename: file.filename });
  return {
    store,
    cleanup: async () => {
      await store.close();
      file.remove();
    },
  };
});

describe("bun:sqlite withLock across connections", () => {
  it("one holder of a key at a time across two stores on one file; a waiter gives up after timeoutMs", async () => {
    const file = tempFile();
    const a = new BunSQLiteInstallationStore({ filename: file.filename });
    const b = new BunSQLiteInstallationStore({ filename: file.filename });
    try {
      let inside = 0;
      let most = 0;
      const work = (i: number) => async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((r) => setTimeout(r, 2));
        inside--;
        return i;
      };
      const results = await Promise.all([0, 1, 2, 3].map((i) => (i % 2 ? a : b).withLock("test/T1/bot", work(i))));
      expect(results).toEqual([0, 1, 2, 3]);
      expect(most).toBe(1);
      let release!: () => void;
      const holder = a.withLock("test/T2/bot", () => new Promise<void>((r) => (release = r)));
      let ran = false;
      const waiter = b.withLock("test/T2/bot", async () => (ran = true), { timeoutMs: 50 });
      await expect(waiter).rejects.toBeInstanceOf(LockTimeoutError);
      expect(ran).toBe(false);
      expect(await a.withLock("test/T3/bot", async () => "other key", { timeoutMs: 50 })).toBe("other key");
      release();
      await holder;
    } finally {
      await a.close();
      await b.close();
      file.remove();
    }
  });
});
