/**
 * PostgreSQL stores (`pg`, an optional peer dependency imported on first use): the shared SQL core
 * (`sql/`) with the PostgreSQL dialect and a `pg` pool executor.
 *
 * - Build them from a URL (the store creates, and `close()` ends, its own pool) or from your own pool
 *   (`{ pool }`, any object with `query(config)` and `connect()` like `pg.Pool`; it stays open).
 * - Migrations run on first use, serialised across processes by a transaction advisory lock.
 * - Times are `DOUBLE PRECISION` epoch seconds, never `timestamptz`: no time zone is involved anywhere.
 * - On the default isolation (READ COMMITTED) two simultaneous saves of the same key may leave one extra
 *   row until the next save; reads always return the latest (largest id).
 *
 * @see https://node-postgres.com/apis/pool
 */

export type { PostgresStoreOptions } from "./postgres/connection.js";
export { postgresDialect } from "./postgres/dialect.js";
export { type PgClientLike, PgExecutor, type PgPoolLike } from "./postgres/executor.js";
export { PostgresInstallationStore, type PostgresInstallationStoreOptions } from "./postgres/installation-store.js";
export { PostgresStateStore, type PostgresStateStoreOptions } from "./postgres/state-store.js";
