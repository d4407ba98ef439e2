/**
 * MySQLExecutor and PgExecutor over fake pools (no server): a single statement that the database rolled
 * back as a deadlock victim (MySQL ER_LOCK_DEADLOCK 1213, lock wait timeout 1205; PostgreSQL 40P01, 40001)
 * runs again; any other error, and the last allowed attempt, reach the caller. Seen for real: a health write
 * racing a token refresh on MariaDB made `updateTokens` fail with ER_LOCK_DEADLOCK.
 */
import { describe, expect, it } from "vitest";
import { MySQLExecutor, type MySQLPoolLike } from "../../src/stores/mysql.js";
import { PgExecutor, type PgPoolLike } from "../../src/stores/postgres.js";

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

function pgError(code: string): Error {
  return Object.assign(new Error(`pg ${code}`), { code });
}

/** A pg pool whose `query` throws the given errors first, then answers `rows`. */
function flakyPg(errors: Error[], rows: unknown[][]): { pool: PgPoolLike; calls: () => number } {
  let calls = 0;
  const pool = {
    query: async () => {
      calls++;
      const e = errors.shift();
      if (e) throw e;
      return { rows, rowCount: rows.length };
    },
    connect: async () => {
      throw new Error("no transaction expected");
    },
  } as unknown as PgPoolLike;
  return { pool, calls: () => calls };
}

describe("PgExecutor: single statements aborted as deadlock victims run again", () => {
  it("run and query retry 40P01 / 40001 and return the result", async () => {
    const a = flakyPg([pgError("40P01"), pgError("40001")], [[1]]);
    expect(await new PgExecutor(a.pool).run("UPDATE t SET a = 1", [])).toEqual({ changes: 1 });
    expect(a.calls()).toBe(3);
    const b = flakyPg([pgError("40P01")], [["x"]]);
    expect(await new PgExecutor(b.pool).query("SELECT a FROM t", [])).toEqual([["x"]]);
    expect(b.calls()).toBe(2);
  });

  it("other errors are not retried; the last attempt's error reaches the caller", async () => {
    const a = flakyPg([pgError("23505")], []);
    await expect(new PgExecutor(a.pool).run("INSERT INTO t VALUES (1)", [])).rejects.toMatchObject({ code: "23505" });
    expect(a.calls()).toBe(1);
    const b = flakyPg(
      Array.from({ length: 20 }, () => pgError("40P01")),
      [],
    );
    await expect(new PgExecutor(b.pool).run("UPDATE t SET a = 1", [])).rejects.toMatchObject({ code: "40P01" });
    expect(b.calls()).toBe(5);
  });
});
