/**
 * SQLite stores (better-sqlite3): the embedded default. One file holds every workspace's tokens and the
 * OAuth states; several processes may share it (WAL, busy timeout, `BEGIN IMMEDIATE`).
 *
 * They are the shared SQL core (`sql/`) with the SQLite dialect and a better-sqlite3 executor:
 * - lookups run synchronously on cached prepared statements, one settled promise per call, and a burst
 *   of lookups shares one read transaction (see {@link BetterSqlite3Executor}); a lookup never misses a
 *   write of this process, and one of another process for at most 1 ms within a burst;
 * - the stores of one process that share a file queue their writes in JavaScript rather than in
 *   SQLite's busy handler, which would block the only thread;
 * - missing ids are stored as `''` (not NULL) in key columns, times as REAL epoch seconds, scopes and
 *   custom values as JSON text, booleans as 0/1: nothing depends on the machine's time zone.
 *
 * @see https://docs.slack.dev/authentication/installing-with-oauth
 */

export { DEFAULT_SQLITE_FILENAME, type SQLiteStoreOptions } from "./sqlite/connection.js";
export { sqliteDialect } from "./sqlite/dialect.js";
export {
  BetterSqlite3Executor,
  type SQLiteDatabase,
  type SQLiteDatabaseStatement,
} from "./sqlite/executor.js";
export { SQLiteInstallationStore, type SQLiteInstallationStoreOptions } from "./sqlite/installation-store.js";
export { SQLiteStateStore, type SQLiteStateStoreOptions } from "./sqlite/state-store.js";
