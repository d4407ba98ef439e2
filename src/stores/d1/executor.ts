import { StoreError } from "../../errors.js";
import type { SqlExecutor, SqlResult, SqlRow, SqlStatement, SqlValue } from "../sql/dialect.js";

/**
 * The part of a Cloudflare D1 binding (`env.DB`) this library uses, written out so that the library
 * compiles without `@cloudflare/workers-types`; a real `D1Database` fits it as is.
 *
 * @example
 * ```ts
 * export default {
 *   async fetch(request: Request, env: { DB: D1Database }) {
 *     const store = new D1InstallationStore({ database: env.DB });
 *     return new Response(String(await store.findBot({ teamId: "T0123" })));
 *   },
 * };
 * ```
 * @see https://developers.cloudflare.com/d1/worker-api/d1-database/
 */
export interface D1Database {
  /** Compiles a statement (nothing runs yet). */
  prepare(query: string): D1PreparedStatement;
  /** Runs the statements in order in one implicit transaction: all of them, or none when one fails. */
  batch(statements: D1PreparedStatement[]): Promise<D1Result[]>;
}

/** A D1 prepared statement (the calls this library makes). */
export interface D1PreparedStatement {
  /** A copy of the statement with its `?` placeholders bound. */
  bind(...values: unknown[]): D1PreparedStatement;
  /** Runs the statement; its `meta.changes` says how many rows it changed. */
  run(): Promise<D1Result>;
  /** Runs the statement and returns its rows as arrays of column values. */
  raw(): Promise<unknown[][]>;
}

/** What D1 answers for one statement (of `run()` or of a `batch()`). */
export interface D1Result {
  /** The rows, as objects keyed by column name. */
  results?: Record<string, unknown>[] | undefined;
  /** Statistics; `changes` is the number of rows the statement changed. */
  meta?: { changes?: number | undefined } | undefined;
}

/**
 * {@link SqlExecutor} over a Cloudflare D1 database: every call is one D1 request.
 *
 * - `query` runs one statement and reads its rows with `raw()` (arrays, in SELECT order);
 * - `run` runs one statement and reports `meta.changes`;
 * - `batch` is D1's `batch()`: the statements run in order inside one transaction that D1 commits, or
 *   rolls back when one fails. A D1 database has a single writer, so no other request's statement runs
 *   between two of them. This is all the SQL core needs for its compare-and-set token updates, one-time
 *   state consumption and rotation leases: none of them uses an interactive transaction.
 *
 * A batch returns rows as objects; they are turned back into arrays in the order of their keys, which is
 * the SELECT order for the column names the core uses (never duplicated, never numeric).
 *
 * @example
 * ```ts
 * const exec = new D1Executor(env.DB);
 * await exec.run("CREATE TABLE IF NOT EXISTS t (x INTEGER)", []);
 * const rows = await exec.query("SELECT x FROM t", []);
 * ```
 */
export class D1Executor implements SqlExecutor {
  /** The D1 binding. */
  readonly database: D1Database;

  constructor(database: D1Database) {
    if (
      database === null ||
      typeof database !== "object" ||
      typeof (database as D1Database).prepare !== "function" ||
      typeof (database as D1Database).batch !== "function"
    ) {
      throw new StoreError("D1Executor: database must be a D1 binding (env.DB), with prepare() and batch()");
    }
    this.database = database;
  }

  /**
   * A statement prepared for this call. Never cached: a D1 statement belongs to the request that
   * prepared it (workerd refuses "I/O on behalf of a different request"), while a store is shared by
   * every request of the isolate.
   */
  #bound(sql: string, params: readonly SqlValue[]): D1PreparedStatement {
    const s = this.database.prepare(sql);
    return params.length === 0 ? s : s.bind(...params.map(bindable));
  }

  async query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    return (await this.#bound(sql, params).raw()) as SqlRow[];
  }

  async run(sql: string, params: readonly SqlValue[]): Promise<{ changes: number }> {
    const r = await this.#bound(sql, params).run();
    return { changes: changesOf(r) };
  }

  async batch(statements: readonly SqlStatement[]): Promise<SqlResult[]> {
    if (statements.length === 0) return [];
    const results = await this.database.batch(statements.map(({ sql, params }) => this.#bound(sql, params)));
    return results.map((r) => ({
      rows: (r.results ?? []).map((row) => Object.values(row)),
      changes: changesOf(r),
    }));
  }
}

function changesOf(r: D1Result | undefined): number {
  const n = r?.meta?.changes;
  return typeof n === "number" && Number.isFinite(n) ? n : 0;
}

/** D1 binds numbers, strings and null; a bigint becomes a number when that loses nothing. */
function bindable(v: SqlValue): string | number | null {
  if (typeof v !== "bigint") return v;
  if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  throw new StoreError("D1Executor: an integer parameter is outside JavaScript's safe range");
}
