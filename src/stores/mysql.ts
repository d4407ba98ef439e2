/**
 * MySQL and MariaDB stores (`mysql2`, an optional peer dependency imported on first use): the shared
 * SQL core (`sql/`) with the MySQL dialect and a `mysql2/promise` pool executor.
 *
 * - Build them from a URL (the store creates, and `close()` ends, its own pool) or from your own pool
 *   (`{ pool }`, a `mysql2/promise` pool or anything with `query(options)` and `getConnection()`; it
 *   stays open).
 * - Migrations run on first use, serialised across processes by `GET_LOCK`. MySQL DDL is not
 *   transactional: a migration interrupted half-way is completed by the next run (tables use
 *   `IF NOT EXISTS`, a duplicate index name is ignored).
 * - Times are `DOUBLE` epoch seconds, never `DATETIME`/`TIMESTAMP`: no time zone is involved anywhere.
 * - Tables are `utf8mb4` with the binary (case-sensitive) collation.
 *
 * @see https://sidorares.github.io/node-mysql2/docs
 */

export type { MySQLStoreOptions } from "./mysql/connection.js";
export { mysqlDialect } from "./mysql/dialect.js";
export {
  type MySQLConnectionLike,
  MySQLExecutor,
  type MySQLPoolLike,
  type MySQLQueryOptions,
} from "./mysql/executor.js";
export { MySQLInstallationStore, type MySQLInstallationStoreOptions } from "./mysql/installation-store.js";
export { MySQLStateStore, type MySQLStateStoreOptions } from "./mysql/state-store.js";
