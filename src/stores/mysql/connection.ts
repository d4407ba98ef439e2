/**
 * How the MySQL stores open (or borrow) their connection: the options both stores share and the
 * helpers their constructors call. The public entry point is `slack-oauth-kit/stores/mysql`.
 *
 * @internal
 */
import { ConfigError, StoreError } from "../../errors.js";
import { redact } from "../../redact.js";
import { MySQLExecutor, type MySQLPoolLike } from "./executor.js";

/**
 * Options shared by {@link MySQLInstallationStore} and {@link MySQLStateStore}.
 *
 * @example
 * ```ts
 * const options: MySQLStoreOptions = { url: "mysql://app@db.internal:3306/app", tablePrefix: "myapp_" };
 * ```
 */
export interface MySQLStoreOptions {
  /**
   * `false`: never create or migrate tables (the schema is managed elsewhere, or the opener only reads);
   * a call on a database without them fails. Default: migrate when the store opens.
   */
  migrate?: boolean | undefined;
  /** Connection string (`mysql://user:password@host:3306/db`, `mariadb://` also accepted); the store creates its own pool. */
  url?: string | undefined;
  /** Your own `mysql2/promise` pool; `close()` leaves it open. Takes precedence over `url`. */
  pool?: MySQLPoolLike | undefined;
  /**
   * Largest number of connections of the pool the store creates.
   *
   * @default 10
   */
  maxConnections?: number | undefined;
  /**
   * Table prefix, `^[a-z_][a-z0-9_]{0,30}$`.
   *
   * @default `slack_`
   */
  tablePrefix?: string | undefined;
}

export async function createPool(url: string, max: number, storeName: string): Promise<MySQLPoolLike> {
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

export function open(options: MySQLStoreOptions, storeName: string): MySQLExecutor {
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
