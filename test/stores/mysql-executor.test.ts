/**
 * MySQLExecutor over a fake pool (no server): a single statement that InnoDB rolled back as a deadlock
 * victim (ER_LOCK_DEADLOCK 1213) or after a lock wait timeout (1205) runs again; any other error, and the
 * last allowed attempt, reach the caller. Seen for real: a health write racing a token refresh on MariaDB
 * made `updateTokens` fail with ER_LOCK_DEADLOCK.
 */
import { describe, expect, it } from "vitest";
import { MySQLExecutor, type MySQLPoolLike } from "../../src/stores/mysql.js";

function mysqlError(errno: number, message: string): Error {
  return Object.assign(new Error(message), { errno, code: errno === 1213 ? "ER_LOCK_DEADLOCK" : "ER_OTHER" });
}

/** A pool whose `query` throws the given errors first, then answers `result`. */
function flakyPool(errors: Error[], result: unknown): { pool: MySQLPoolLike; calls: () => number } {
  let calls = 0;
  const pool = {
    query: async () => {
      calls++;
      const e = errors.shift();
      if (e) throw e;
      return [result, []];
    },
    getConnection: async () => {
      throw new Error("no transaction expected");
    },
  } as unknown as MySQLPoolLike;
  return { pool, calls: () => calls };
}

describe("MySQLExecutor: single statements rolled back by InnoDB run again", () => {
  it("run: a deadlock victim runs again and its result is returned", async () => {
    const { pool, calls } = flakyPool([mysqlError(1213, "Deadlock found"), mysqlError(1205, "Lock wait timeout")], {
      affectedRows: 1,
    });
    expect(await new MySQLExecutor(pool).run("UPDATE t SET a = ? WHERE b = ?", [1, 2])).toEqual({ changes: 1 });
    expect(calls()).toBe(3);
  });

  it("query: a deadlock victim runs again", async () => {
    const { pool, calls } = flakyPool([mysqlError(1213, "Deadlock found")], [[1, "x"]]);
    expect(await new MySQLExecutor(pool).query("SELECT a, b FROM t", [])).toEqual([[1, "x"]]);
    expect(calls()).toBe(2);
  });

  it("any other error is not retried", async () => {
    const { pool, calls } = flakyPool([mysqlError(1062, "Duplicate entry")], { affectedRows: 1 });
    await expect(new MySQLExecutor(pool).run("INSERT INTO t VALUES (?)", [1])).rejects.toMatchObject({ errno: 1062 });
    expect(calls()).toBe(1);
  });

  it("gives up after 8 attempts with the driver's error", async () => {
    const { pool, calls } = flakyPool(
      Array.from({ length: 20 }, () => mysqlError(1213, "Deadlock found")),
      { affectedRows: 1 },
    );
    await expect(new MySQLExecutor(pool).run("UPDATE t SET a = 1", [])).rejects.toMatchObject({ errno: 1213 });
    expect(calls()).toBe(8);
  });
});
