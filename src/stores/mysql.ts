/**
 * MySQL and MariaDB stores (`mysql2`, an optional peer dependency imported on first use): the shared
 * SQL core (`sql/core.ts`) with the MySQL dialect and a `mysql2/promise` pool executor.
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
import { ConfigError, StoreError } from "../errors.js";
import { redact } from "../redact.js";
import { endPool, SqlInstallationStore, SqlStateStore, validateClientId, validateTtl } from "./sql/core.js";
import { validateTablePrefix } from "./sql/migrations.js";
import { mysqlDialect } from "./mysql/dialect.js";
import { MySQLExecutor, type MySQLPoolLike } from "./mysql/executor.js";

export { mysqlDialect } from "./mysql/dialect.js";
export {
  type MySQLConnectionLike,
  MySQLExecutor,
  type MySQLPoolLike,
  type MySQLQueryOptions,
} from "./mysql/executor.js";

/**
 * Options shared by {@link MySQLInstallationStore} and {@link MySQLStateStore}.
 *
 * @example
 * ```ts
 * const options: MySQLStoreOptions = { url: "mysql://app@db.internal:3306/app", tablePrefix: "myapp_" };
 * ```
 */
export interface MySQLStoreOptions {
  /** Connection string (`mysql://user:password@host:3306/db`, `mariadb://` also accepted); the store creates its own pool. */
  url?: string | undefined;
  /** Your own `mysql2/promise` pool; `close()` leaves it open. Takes precedence over `url`. */
  pool?: MySQLPoolLike | undefined;
  /** Largest number of connections of the pool the store creates (default 10). */
  maxConnections?: number | undefined;
  /** Table prefix, `^[a-z_][a-z0-9_]{0,30}$` (default `slack_`). */
  tablePrefix?: string | undefined;
}

/**
 * Options of {@link MySQLInstallationStore}.
 *
 * @example
 * ```ts
 * new MySQLInstallationStore({ url: process.env.DATABASE_URL, historicalData: true });
 * ```
 */
export interface MySQLInstallationStoreOptions extends MySQLStoreOptions {
  /** Keep one row per save (an audit trail) instead of only the latest per user and workspace (default false). */
  historicalData?: boolean | undefined;
  /** Keeps several apps' installations apart in the same tables (the `client_id` column; default `''`). */
  clientId?: string | undefined;
}

/**
 * Options of {@link MySQLStateStore}.
 *
 * @example
 * ```ts
 * new MySQLStateStore({ url: process.env.DATABASE_URL, ttlSeconds: 300 });
 * ```
 */
export interface MySQLStateStoreOptions extends MySQLStoreOptions {
  /** Lifetime of a state in seconds (default 600). */
  ttlSeconds?: number | undefined;
  /** Returns now in epoch milliseconds, like `Date.now` (the default); injectable for tests. */
  clock?: (() => number) | undefined;
}

async function createPool(url: string, max: number, storeName: string): Promise<MySQLPoolLike> {
  let mod: { default?: { createPool?: unknown }; createPool?: unknown };
  try {
    mod = (await import("mysql2/promise")) as typeof mod;
  } catch (e) {
    throw new ConfigError(`${storeName}: the "mysql2" package is required for MySQL stores (npm install mysql2)`, {
      cause: e,
    });
  }
  const create = (mod.default?.createPool ?? mod.createPool) as (config: object) => MySQLPoolLike;
  try {
    return create({
      uri: url.replace(/^mariadb:/i, "mysql:"),
      connectionLimit: max,
      charset: "utf8mb4",
      // Ids fit in a double; never hand out strings for BIGINT / DECIMAL.
      supportBigNumbers: false,
    });
  } catch (e) {
    throw new StoreError(`${storeName}: cannot create the MySQL pool: ${redact(String((e as Error)?.message))}`, {
      cause: e,
    });
  }
}

function open(options: MySQLStoreOptions, storeName: string): MySQLExecutor {
  if (options.pool !== undefined) {
    const p = options.pool as Partial<MySQLPoolLike> | null;
    if (p === null || typeof p.query !== "function" || typeof p.getConnection !== "function") {
      throw new ConfigError(`${storeName}: pool must be a mysql2/promise pool (query() and getConnection())`);
    }
    return new MySQLExecutor(options.pool);
  }
  const url = options.url;
  if (typeof url !== "string" || !/^(mysql|mariadb):\/\//i.test(url)) {
    throw new ConfigError(`${storeName}: url must be a mysql:// or mariadb:// connection string, or pass pool`);
  }
  const max = options.maxConnections ?? 10;
  if (!Number.isInteger(max) || max < 1)
    throw new ConfigError(`${storeName}: maxConnections must be a positive integer`);
  return new MySQLExecutor(createPool(url, max, storeName));
}

/**
 * {@link InstallationStore} in MySQL or MariaDB. Lookups are indexed; migrations run on first use.
 *
 * @example
 * ```ts
 * import { MySQLInstallationStore } from "slack-oauth-kit/stores/mysql";
 * const store = new MySQLInstallationStore({ url: "mysql://app@localhost:3306/app" });
 * await store.save(installation);
 * const bot = await store.findBot({ teamId: "T0123456" });
 * await store.close();
 * ```
 */
export class MySQLInstallationStore extends SqlInstallationStore {
  constructor(options: MySQLInstallationStoreOptions) {
    validateTablePrefix(options?.tablePrefix);
    validateClientId(options?.clientId);
    const executor = open(options ?? {}, "MySQLInstallationStore");
    super({
      executor,
      dialect: mysqlDialect,
      tablePrefix: options.tablePrefix,
      clientId: options.clientId,
      historicalData: options.historicalData,
      storeName: "MySQLInstallationStore",
      migrateNow: true,
      release: options.pool === undefined ? () => endPool(executor) : undefined,
    });
  }
}

/**
 * {@link StateStore} in MySQL or MariaDB: one-time OAuth states, safe across processes and hosts
 * (`consume` reads the row `FOR UPDATE`; exactly one consumer wins).
 *
 * @example
 * ```ts
 * import { MySQLStateStore } from "slack-oauth-kit/stores/mysql";
 * const states = new MySQLStateStore({ url: "mysql://app@localhost:3306/app" });
 * const state = await states.issue({ returnTo: "/welcome" });
 * await states.consume(state); // { returnTo: "/welcome" }, then undefined
 * ```
 */
export class MySQLStateStore extends SqlStateStore {
  constructor(options: MySQLStateStoreOptions) {
    validateTablePrefix(options?.tablePrefix);
    validateTtl(options?.ttlSeconds);
    const executor = open(options ?? {}, "MySQLStateStore");
    super({
      executor,
      dialect: mysqlDialect,
      tablePrefix: options.tablePrefix,
      ttlSeconds: options.ttlSeconds,
      clock: options.clock,
      storeName: "MySQLStateStore",
      migrateNow: true,
      release: options.pool === undefined ? () => endPool(executor) : undefined,
    });
  }
}
