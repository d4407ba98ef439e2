/**
 * The small object that holds every difference between SQL databases. The store logic
 * (`core.ts`) and the migrations (`migrations.ts`) are written once against it; adding a database
 * is one dialect plus one driver adapter (a {@link SqlExecutor} over the driver).
 *
 * Core SQL is written with `?` placeholders and standard syntax only; {@link Dialect.finalize}
 * turns it into the database's own form (`$1, $2…` for PostgreSQL).
 */

/**
 * A value bound to a placeholder. Booleans are bound as 0/1, never as `true`/`false`.
 *
 * @example
 * ```ts
 * const params: SqlValue[] = ["", "E123", "T123", 1, null];
 * ```
 */
export type SqlValue = string | number | bigint | null;

/**
 * One row, as an array of column values in SELECT order. Arrays rather than objects: they are cheaper
 * to build (better-sqlite3 `raw`, pg `rowMode: "array"`, mysql2 `rowsAsArray`) and the core always
 * knows the column order of its own SELECTs.
 *
 * @example
 * ```ts
 * const [row] = await executor.query("SELECT bot_token, installed_at FROM slack_bots LIMIT 1", []);
 * const token = row?.[0];
 * ```
 */
export type SqlRow = readonly unknown[];

/**
 * One statement of a {@link SqlExecutor.batch}.
 *
 * @example
 * ```ts
 * const s: SqlStatement = { sql: "DELETE FROM t WHERE id = ?", params: [1] };
 * ```
 */
export interface SqlStatement {
  sql: string;
  params: readonly SqlValue[];
}

/**
 * What one statement of a batch returned: its rows (statements that return rows) and how many rows it
 * changed (the others).
 *
 * @example
 * ```ts
 * const [{ rows }, { changes }] = await executor.batch([select, update]);
 * ```
 */
export interface SqlResult {
  rows: SqlRow[];
  changes: number;
}

/**
 * The driver adapter the SQL core runs on: single statements and batches, all async so that network
 * databases fit. There is no interactive transaction: every write the core makes (a save, a
 * compare-and-set token update, a state consumed, a lease lock) is one statement or one batch whose
 * statements are all known before the first runs, which Cloudflare D1's `batch()` can run as it is.
 * A synchronous driver (better-sqlite3) may also expose {@link SqlExecutor.syncReader} so that the hot
 * lookups skip the promise machinery.
 *
 * @example
 * ```ts
 * const rows = await executor.query("SELECT 1 AS one", []);
 * await executor.batch([
 *   { sql: "DELETE FROM t WHERE k = ?", params: ["a"] },
 *   { sql: "INSERT INTO t (k) VALUES (?)", params: ["a"] },
 * ]);
 * ```
 */
export interface SqlExecutor {
  /** Runs a statement that returns rows (SELECT, or DELETE … RETURNING). */
  query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]>;
  /** Runs a statement that returns no rows; resolves to the number of rows it changed. */
  run(sql: string, params: readonly SqlValue[]): Promise<{ changes: number }>;
  /**
   * Runs the statements in order, atomically: all of them take effect, or (when one fails) none, and no
   * other writer's statement runs between two of them where the database serialises writers (SQLite,
   * D1); PostgreSQL and MySQL run them in one transaction, in which a `SELECT … FOR UPDATE` among them
   * locks its rows until the end. Resolves with one result per statement, in order.
   */
  batch(statements: readonly SqlStatement[]): Promise<SqlResult[]>;
  /**
   * For synchronous drivers only: a reader to use right now, or `undefined` when it cannot be used
   * (then the core falls back to {@link SqlExecutor.query}).
   */
  syncReader?(): SyncSqlReader | undefined;
}

/**
 * Synchronous single-row read, offered by in-process databases (see {@link SqlExecutor.syncReader}).
 *
 * @example
 * ```ts
 * const row = executor.syncReader?.()?.first("SELECT 1", []);
 * ```
 */
export interface SyncSqlReader {
  /** Returns the first row of `sql`, or `undefined`. Throws the driver's error. */
  first(sql: string, params: readonly SqlValue[]): SqlRow | undefined;
  /**
   * Optional: `sql` (a statement with exactly three parameters, a workspace key) prepared once, as a
   * function returning its first row. The hot `findBot` path calls it with the key's three values: no
   * parameter array, no statement look-up per call. Without it the core uses {@link SyncSqlReader.first}.
   */
  prepareKeyed?(sql: string): SyncKeyedRead;
  /**
   * Optional: as {@link SyncSqlReader.prepareKeyed} for a statement of one column, returning that
   * column's value of the first row (`undefined` for no row) without building a row array. Without it the
   * core reads the row and takes its first value.
   */
  prepareKeyedValue?(sql: string): SyncKeyedValueRead;
}

/**
 * A prepared single-value read of a one-column statement with three parameters, from
 * {@link SyncSqlReader.prepareKeyedValue}: the first row's value, or `undefined` for no row. Throws the
 * driver's error.
 *
 * @example
 * ```ts
 * const read = executor.syncReader?.()?.prepareKeyedValue?.("SELECT bot_id FROM bots WHERE client_id = ? AND enterprise_id = ? AND team_id = ?");
 * const botId = read?.("", "", "T0123456");
 * ```
 */
export type SyncKeyedValueRead = (a: SqlValue, b: SqlValue, c: SqlValue) => SqlValue | undefined;

/**
 * A prepared single-row read of a statement with three parameters, from {@link SyncSqlReader.prepareKeyed}:
 * returns the first row, or `undefined`. Throws the driver's error.
 *
 * @example
 * ```ts
 * const read: SyncKeyedRead | undefined = executor.syncReader?.()?.prepareKeyed?.(store.statements.findBot);
 * const row = read?.("", "", "T0123456");
 * ```
 */
export type SyncKeyedRead = (a: SqlValue, b: SqlValue, c: SqlValue) => SqlRow | undefined;

/**
 * Portable column types used by the migrations; each dialect maps them to its own.
 *
 * - `id`: auto-incrementing 64-bit integer primary key (defines "latest": a later insert has a larger id);
 * - `key`: short indexed string, `NOT NULL DEFAULT ''` (`''` stands for "none", see {@link Dialect});
 * - `string`: short string (ids, token type), nullable;
 * - `text`: unbounded string (tokens, URLs, names), nullable;
 * - `json`: JSON text (scopes, custom values), nullable;
 * - `integer`: 64-bit integer, nullable (migration versions);
 * - `double`: 64-bit float (epoch seconds), nullable;
 * - `boolean`: 0/1 integer.
 *
 * @example
 * ```ts
 * const type: ColumnType = "double"; // REAL in SQLite, DOUBLE PRECISION in PostgreSQL, DOUBLE in MySQL
 * ```
 */
export type ColumnType = "id" | "key" | "string" | "text" | "json" | "integer" | "double" | "boolean";

/**
 * A column in a migration.
 *
 * @example
 * ```ts
 * const col: ColumnDef = { name: "team_id", type: "key", length: 64 };
 * ```
 */
export interface ColumnDef {
  name: string;
  type: ColumnType;
  /** Maximum length for `key` and `string` columns (characters). */
  length?: number;
  /** Adds `NOT NULL` (implied for `id`, `key` and `boolean`). */
  notNull?: boolean;
}

/**
 * A table in a migration. Exactly one of: an `id` column, or `primaryKey`.
 *
 * @example
 * ```ts
 * const t: TableDef = { name: "x_states", columns: [{ name: "state", type: "key" }], primaryKey: ["state"] };
 * ```
 */
export interface TableDef {
  name: string;
  columns: readonly ColumnDef[];
  /** Primary key columns when the table has no `id` column. */
  primaryKey?: readonly string[];
}

/**
 * An index in a migration. Names are global in some databases, so they carry the table prefix.
 *
 * @example
 * ```ts
 * const i: IndexDef = { name: "slack_bots_workspace_idx", table: "slack_bots", columns: ["client_id", "id"] };
 * ```
 */
export interface IndexDef {
  name: string;
  table: string;
  columns: readonly string[];
  unique?: boolean;
}

/**
 * Everything that differs between SQL databases. Keep it small: if a difference can be expressed
 * as data here, the store logic stays one copy.
 *
 * Key columns (`client_id`, `enterprise_id`, `team_id`, `user_id`) hold `''` rather than `NULL`
 * for "none" in every dialect: `NULL = NULL` is not true in SQL, so with `NULL` every lookup would need
 * `IS NULL` branches and unique indexes would not see duplicates. With `''` one equality predicate and
 * one index serve every lookup everywhere.
 *
 * @example
 * ```ts
 * import { sqliteDialect } from "../sqlite/dialect.js";
 * const sql = sqliteDialect.finalize("SELECT * FROM t WHERE a = ? AND b = ?");
 * ```
 */
export interface Dialect {
  /** `sqlite`, `postgres`, `mysql`: informative, and selects raw SQL steps in migrations. */
  readonly name: string;
  /** Quotes an identifier (already validated: `[a-z0-9_]`). */
  quoteId(name: string): string;
  /** Rewrites core SQL written with `?` placeholders into the dialect's (`$1…` for PostgreSQL). */
  finalize(sql: string): string;
  /** The column type for a portable {@link ColumnType} (without NULL / DEFAULT). */
  columnType(column: ColumnDef): string;
  /** DDL creating a table if it does not exist. */
  createTable(table: TableDef): string[];
  /** DDL creating an index if it does not exist. */
  createIndex(index: IndexDef): string[];
  /**
   * A DELETE of at most `limit` rows of `table` matching `where` (core SQL with `?`).
   * SQLite and PostgreSQL use a `rowid`/key sub-select; MySQL has `DELETE … LIMIT`.
   */
  boundedDelete(table: string, keyColumn: string, where: string, limit: number): string;
  /**
   * Indexes that only make lookups faster, created (if missing) after the versioned migrations and not
   * recorded as a schema version: an older version of the library reads the same tables and ignores them.
   * SQLite's holds every column `findBot` returns (one B-tree read instead of two); server databases
   * have none (their index entries have size limits a token row may exceed). May also drop an index an
   * earlier version created for the same purpose (`DROP INDEX IF EXISTS`).
   */
  lookupIndexes(tables: { bots: string }): string[];
  /**
   * Optional: the SQL expression `findBot` selects, on a synchronous driver, instead of its columns (one
   * text value holding them all; see `PACKED_BOT_SELECT` in `sql/rows.ts`). Set by SQLite, whose
   * {@link Dialect.lookupIndexes} index this very expression, so the lookup reads the index alone.
   */
  readonly packedBotSelect?: string;
  /**
   * Optional: a hint, with its leading space, that makes a table reference use `index` (MySQL:
   * `` FORCE INDEX (`name`)``). Used where a planner without fresh statistics picks a worse index for a
   * correlated sub-select (MariaDB re-scanned the app's rows per due token: 0.9 s instead of 5 ms for
   * 2,000 bots); `''` or absent elsewhere.
   */
  indexHint?(index: string): string;
  /**
   * An `INSERT … VALUES (…)` (core SQL) that does nothing, instead of failing, when the row's primary
   * key is taken: `INSERT OR IGNORE` (SQLite), `… ON CONFLICT DO NOTHING` (PostgreSQL), `INSERT IGNORE`
   * (MySQL). Its change count says whether it inserted.
   */
  insertIgnore(insertSql: string): string;
  /**
   * Suffix, with its leading space, taking row locks in a SELECT inside a transaction (`" FOR UPDATE"`),
   * or `''` when writes are serialised anyway (SQLite).
   */
  readonly forUpdate: string;
  /**
   * A statement run first in every migration batch so that two processes never migrate at once
   * (PostgreSQL: `LOCK TABLE … IN EXCLUSIVE MODE`), or `undefined` when the transaction already
   * serialises writers (SQLite's `BEGIN IMMEDIATE`).
   */
  migrationLock(migrationsTable: string): string | undefined;
}

/**
 * Builds `CREATE TABLE IF NOT EXISTS` from a {@link TableDef} with the dialect's column types; the
 * dialect supplies the auto-increment `id` column's SQL. A helper for {@link Dialect.createTable}.
 *
 * @example
 * ```ts
 * renderCreateTable(sqliteDialect, table, (c) => `"${c.name}" INTEGER PRIMARY KEY`);
 * ```
 */
export function renderCreateTable(d: Dialect, t: TableDef, idColumnSql: (c: ColumnDef) => string): string {
  const parts: string[] = [];
  for (const c of t.columns) {
    if (c.type === "id") {
      parts.push(idColumnSql(c));
      continue;
    }
    let col = `${d.quoteId(c.name)} ${d.columnType(c)}`;
    if (c.type === "key") col += " NOT NULL DEFAULT ''";
    else if (c.type === "boolean") col += " NOT NULL DEFAULT 0";
    else if (c.notNull) col += " NOT NULL";
    parts.push(col);
  }
  if (t.primaryKey) parts.push(`PRIMARY KEY (${t.primaryKey.map((c) => d.quoteId(c)).join(", ")})`);
  return `CREATE TABLE IF NOT EXISTS ${d.quoteId(t.name)} (${parts.join(", ")})`;
}
