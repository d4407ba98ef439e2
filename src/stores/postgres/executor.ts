import type { SqlExecutor, SqlResult, SqlRow, SqlStatement, SqlValue } from "../sql/dialect.js";
import { retryRolledBack } from "../sql/lifecycle.js";

/**
 * What the PostgreSQL executor calls on a connection: the subset of `pg.PoolClient` it needs.
 *
 * @example
 * ```ts
 * const client: PgClientLike = await pool.connect();
 * ```
 */
export interface PgClientLike {
  /** Runs one query on this client. */
  query(config: {
    text: string;
    values: unknown[];
    rowMode: "array";
  }): Promise<{ rows: unknown[]; rowCount: number | null }>;
  /** Returns the connection to the pool; with an error, the pool discards it. */
  release(err?: Error | boolean): void;
}

/**
 * What the PostgreSQL stores call on a pool: the subset of `pg.Pool` they need (like kysely's
 * `PostgresPool`), so any compatible pool works.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * const pool: PgPoolLike = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * ```
 */
export interface PgPoolLike {
  /** Runs one query on a pooled client. */
  query(config: {
    text: string;
    values: unknown[];
    rowMode: "array";
  }): Promise<{ rows: unknown[]; rowCount: number | null }>;
  /** Takes a client from the pool (for a transaction). */
  connect(): Promise<PgClientLike>;
  /** Closes the pool. */
  end?(): Promise<void>;
}

/** SQLSTATEs after which a whole transaction may simply be run again. */
const RETRYABLE = new Set(["40001", "40P01"]);
/** A concurrent `CREATE … IF NOT EXISTS` of the same object can still fail on the catalog. */
const CREATE_RACE = new Set(["23505", "42P07", "42710"]);
const MAX_ATTEMPTS = 5;

function code(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : undefined;
}

type Queryable = Pick<PgPoolLike, "query">;

async function exec(target: Queryable, sql: string, params: readonly SqlValue[]) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await target.query({ text: sql, values: params as unknown[], rowMode: "array" });
    } catch (e) {
      if (attempt < 3 && CREATE_RACE.has(code(e) ?? "") && /^CREATE\b[^;]*\bIF NOT EXISTS\b/i.test(sql)) continue;
      throw e;
    }
  }
}

function over(target: Queryable): Pick<SqlExecutor, "query" | "run"> {
  return {
    query: async (sql, params) => (await exec(target, sql, params)).rows as SqlRow[],
    run: async (sql, params) => ({ changes: (await exec(target, sql, params)).rowCount ?? 0 }),
  };
}

/**
 * {@link SqlExecutor} over a `pg` pool (or a compatible one). Rows come back as arrays
 * (`rowMode: "array"`); a batch is one transaction on one connection, run again (up to 5 times) after a
 * deadlock or serialization failure; a single statement outside a batch likewise.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * const exec = new PgExecutor(new pg.Pool({ connectionString: "postgres://localhost/app" }));
 * await exec.query("SELECT 1", []);
 * ```
 */
export class PgExecutor implements SqlExecutor {
  readonly #pool: Promise<PgPoolLike>;

  /** `pool` may be a promise (the stores import `pg` lazily). */
  constructor(pool: PgPoolLike | Promise<PgPoolLike>) {
    this.#pool = Promise.resolve(pool);
    // A failed lazy import surfaces on first use, not as an unhandled rejection.
    this.#pool.catch(() => undefined);
  }

  /** The pool, once available. */
  pool(): Promise<PgPoolLike> {
    return this.#pool;
  }

  async query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    const target = over(await this.#pool);
    return retryRolledBack(
      () => target.query(sql, params),
      (e) => RETRYABLE.has(code(e) ?? ""),
      MAX_ATTEMPTS,
    );
  }

  async run(sql: string, params: readonly SqlValue[]): Promise<{ changes: number }> {
    const target = over(await this.#pool);
    return retryRolledBack(
      () => target.run(sql, params),
      (e) => RETRYABLE.has(code(e) ?? ""),
      MAX_ATTEMPTS,
    );
  }

  /** The statements in one transaction on one connection, run again (up to 5 times) after a deadlock or serialization failure. */
  async batch(statements: readonly SqlStatement[]): Promise<SqlResult[]> {
    const pool = await this.#pool;
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query({ text: "BEGIN", values: [], rowMode: "array" });
        try {
          const results: SqlResult[] = [];
          for (const { sql, params } of statements) {
            const r = await exec(client, sql, params);
            results.push({ rows: r.rows as SqlRow[], changes: r.rowCount ?? 0 });
          }
          await client.query({ text: "COMMIT", values: [], rowMode: "array" });
          return results;
        } catch (e) {
          try {
            await client.query({ text: "ROLLBACK", values: [], rowMode: "array" });
          } catch (rollbackError) {
            broken = rollbackError as Error;
          }
          if (attempt < MAX_ATTEMPTS && RETRYABLE.has(code(e) ?? "")) continue;
          throw e;
        }
      } finally {
        client.release(broken ?? false);
      }
    }
  }
}
