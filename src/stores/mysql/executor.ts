import type { SqlExecutor, SqlResult, SqlRow, SqlStatement, SqlValue } from "../sql/dialect.js";
import { retryRolledBack } from "../sql/lifecycle.js";

/** Options of one mysql2 query, as the MySQL executor passes them. */
export interface MySQLQueryOptions {
  sql: string;
  values: unknown[];
  rowsAsArray: boolean;
}

/**
 * What the MySQL executor calls on a connection: the subset of a `mysql2/promise` `PoolConnection`.
 *
 * @example
 * ```ts
 * const conn: MySQLConnectionLike = await pool.getConnection();
 * ```
 */
export interface MySQLConnectionLike {
  /** Runs one query on this connection. */
  query(options: MySQLQueryOptions): Promise<[unknown, unknown]>;
  /** Gives the connection back to its pool. */
  release(): void;
  /** Closes the connection instead of returning it to the pool (used when it is in an unknown state). */
  destroy?(): void;
}

/**
 * What the MySQL stores call on a pool: the subset of a `mysql2/promise` `Pool` they need, so any
 * compatible pool works (a callback pool: pass `pool.promise()`).
 *
 * @example
 * ```ts
 * import mysql from "mysql2/promise";
 * const pool: MySQLPoolLike = mysql.createPool("mysql://app@localhost:3306/app");
 * ```
 */
export interface MySQLPoolLike {
  /** Runs one query on a pooled connection. */
  query(options: MySQLQueryOptions): Promise<[unknown, unknown]>;
  /** Takes a connection from the pool (for a transaction). */
  getConnection(): Promise<MySQLConnectionLike>;
  /** Closes the pool. */
  end?(): Promise<void>;
}

/** ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT: the transaction was rolled back and may simply run again. */
const RETRYABLE = new Set([1213, 1205]);
const MAX_ATTEMPTS = 8;
const ER_DUP_KEYNAME = 1061;
const ER_DUP_FIELDNAME = 1060;

function errno(e: unknown): number | undefined {
  const n = (e as { errno?: unknown } | null)?.errno;
  return typeof n === "number" ? n : undefined;
}

type Queryable = Pick<MySQLPoolLike, "query">;

async function exec(target: Queryable, sql: string, params: readonly SqlValue[]): Promise<unknown> {
  try {
    const [result] = await target.query({ sql, values: params as unknown[], rowsAsArray: true });
    return result;
  } catch (e) {
    // No CREATE INDEX IF NOT EXISTS in MySQL: an index that is already there is what we wanted.
    if (errno(e) === ER_DUP_KEYNAME && /^\s*CREATE\s+(UNIQUE\s+)?INDEX\b/i.test(sql)) return { affectedRows: 0 };
    // No ADD COLUMN IF NOT EXISTS in MySQL either: columns a crashed migration already added (one ALTER
    // TABLE adds all of a table's columns at once) are what we wanted.
    if (errno(e) === ER_DUP_FIELDNAME && /^\s*ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\b/i.test(sql))
      return { affectedRows: 0 };
    throw e;
  }
}

function over(target: Queryable): Pick<SqlExecutor, "query" | "run"> {
  return {
    query: async (sql, params) => {
      const r = await exec(target, sql, params);
      return Array.isArray(r) ? (r as SqlRow[]) : [];
    },
    run: async (sql, params) => {
      const r = (await exec(target, sql, params)) as { affectedRows?: unknown } | null;
      return { changes: typeof r?.affectedRows === "number" ? r.affectedRows : 0 };
    },
  };
}

/**
 * {@link SqlExecutor} over a `mysql2/promise` pool (or a compatible one). Rows come back as arrays
 * (`rowsAsArray`); a batch is one transaction on one connection, run again (up to 8 times) after a
 * deadlock or lock wait timeout, which InnoDB resolves by rolling one side back; a single statement outside
 * a batch likewise. Transactions run at READ
 * COMMITTED (no gap locks). Named locks (`GET_LOCK`) taken in a batch are released when it ends, so a
 * pooled connection never keeps one.
 *
 * @example
 * ```ts
 * import mysql from "mysql2/promise";
 * const exec = new MySQLExecutor(mysql.createPool("mysql://app@localhost:3306/app"));
 * await exec.query("SELECT 1", []);
 * ```
 */
export class MySQLExecutor implements SqlExecutor {
  readonly #pool: Promise<MySQLPoolLike>;

  /** `pool` may be a promise (the stores import `mysql2` lazily). */
  constructor(pool: MySQLPoolLike | Promise<MySQLPoolLike>) {
    this.#pool = Promise.resolve(pool);
    this.#pool.catch(() => undefined);
  }

  /** The pool, once available. */
  pool(): Promise<MySQLPoolLike> {
    return this.#pool;
  }

  async query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    const target = over(await this.#pool);
    return retryRolledBack(
      () => target.query(sql, params),
      (e) => RETRYABLE.has(errno(e) ?? 0),
      MAX_ATTEMPTS,
    );
  }

  async run(sql: string, params: readonly SqlValue[]): Promise<{ changes: number }> {
    const target = over(await this.#pool);
    return retryRolledBack(
      () => target.run(sql, params),
      (e) => RETRYABLE.has(errno(e) ?? 0),
      MAX_ATTEMPTS,
    );
  }

  /**
   * The statements in one transaction on one connection, run again (up to 8 times, after a short random
   * pause) after a deadlock or lock wait timeout.
   */
  async batch(statements: readonly SqlStatement[]): Promise<SqlResult[]> {
    const pool = await this.#pool;
    const namedLock = statements.some((s) => /\bGET_LOCK\s*\(/i.test(s.sql));
    let retryDelay = 0;
    for (let attempt = 1; ; attempt++) {
      // A short random pause before running a deadlocked transaction again, so the two sides part.
      if (retryDelay > 0) await new Promise((r) => setTimeout(r, retryDelay));
      const conn = await pool.getConnection();
      let broken = false;
      try {
        // READ COMMITTED: no gap locks, so concurrent saves of different workspaces never deadlock on
        // index ranges. Correctness never relied on them: a consume and a compare-and-set of both token
        // parts lock existing rows FOR UPDATE, a racing lease INSERT is ignored on the primary key.
        await exec(conn, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", []);
        await exec(conn, "START TRANSACTION", []);
        try {
          const results: SqlResult[] = [];
          for (const { sql, params } of statements) {
            const r = await exec(conn, sql, params);
            const changes = (r as { affectedRows?: unknown } | null)?.affectedRows;
            results.push({
              rows: Array.isArray(r) ? (r as SqlRow[]) : [],
              changes: typeof changes === "number" ? changes : 0,
            });
          }
          await exec(conn, "COMMIT", []);
          return results;
        } catch (e) {
          try {
            await exec(conn, "ROLLBACK", []);
          } catch {
            broken = true;
          }
          if (attempt < MAX_ATTEMPTS && RETRYABLE.has(errno(e) ?? 0)) {
            retryDelay = Math.random() * 5 * attempt;
            continue;
          }
          throw e;
        }
      } finally {
        if (namedLock && !broken) {
          await exec(conn, "DO RELEASE_ALL_LOCKS()", []).catch(() => {
            broken = true;
          });
        }
        if (broken && conn.destroy) conn.destroy();
        else conn.release();
      }
    }
  }
}
