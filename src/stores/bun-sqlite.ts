/**
 * SQLite stores on Bun's built-in `bun:sqlite`: the shared SQL core (`sql/`) with the SQLite
 * dialect and the same executor as the better-sqlite3 stores (`bun-sqlite/executor.ts` adapts Bun's
 * driver to it), so the schema, the migrations and every guarantee are those of
 * `slack-oauth-kit/stores/sqlite`: a file written by one is read by the other.
 *
 * Bun only: on Node, constructing a store throws a `ConfigError` (use `slack-oauth-kit/stores/sqlite`).
 * Nothing here loads `node:fs`; the database's directory must exist (it is not created).
 *
 * @see https://bun.sh/docs/api/sqlite
 */

export type { BunSQLiteStoreOptions } from "./bun-sqlite/connection.js";
export {
  BunSqliteConnection,
  type BunSqliteDatabase,
  type BunSqliteStatement,
  bunSqliteExecutor,
} from "./bun-sqlite/executor.js";
export { BunSQLiteInstallationStore, type BunSQLiteInstallationStoreOptions } from "./bun-sqlite/installation-store.js";
export { BunSQLiteStateStore, type BunSQLiteStateStoreOptions } from "./bun-sqlite/state-store.js";
export { sqliteDialect } from "./sqlite/dialect.js";
