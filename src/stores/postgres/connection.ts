/**
 * How the Postgres stores open (or borrow) their connection: the options both stores share and the
 * helpers their constructors call. The public entry point is `slack-oauth-kit/stores/postgres`.
 *
 * @internal
 */
import { ConfigError, StoreError } from "../../errors.js";
import { redact } from "../../redact.js";
import { PgExecutor, type PgPoolLike } from "./executor.js";

/**
 * Options shared by {@link PostgresInstallationStore} and {@link PostgresStateStore}.
 *
 * @example
 * ```ts
 * const options: PostgresStoreOptions = { url: "postgres://app@db.internal:5432/app", tablePrefix: "myapp_" };
 * ```
 */
export interface PostgresStoreOptions {
  /**
   * `false`: never create or migrate tables (the schema is managed elsewhere, or the opener only reads);
   * a call on a database without them fails. Default: migrate when the store opens.
   */
  migrate?: boolean | undefined;
  /** Connection string (`postgres://user:password@host:5432/db`); the store creates its own pool. */
  url?: string | undefined;
  /** Your own pool (e.g. `new pg.Pool(...)`); `close()` leaves it open. Takes precedence over `url`. */
  pool?: PgPoolLike | undefined;
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

export interface Opened {
  executor: PgExecutor;
  owned: boolean;
}

export async function createPool(url: string, max: number, storeName: string): Promise<PgPoolLike> {
  let mod: { default?: { Pool?: unknown }; Pool?: unknown };
  try {
    mod = (await import("pg")) as typeof mod;
  } catch (e) {
    throw new ConfigError(`${storeName}: the "pg" package is required for PostgreSQL stores (npm install pg)`, {
      cause: e,
    });
  }
  const Pool = (mod.default?.Pool ?? mod.Pool) as new (
    config: object,
  ) => PgPoolLike & { on(ev: string, l: (e: unknown) => void): void };
  try {
    const pool = new Pool({ connectionString: url, max, connectionTimeoutMillis: 10_000 });
    // An idle connection dropped by the server must not crash the process; the next query reconnects.
    pool.on("error", () => undefined);
    return pool;
  } catch (e) {
    throw new StoreError(`${storeName}: cannot create the PostgreSQL pool: ${redact(String((e as Error)?.message))}`, {
      cause: e,
    });
  }
}

export function open(options: PostgresStoreOptions, storeName: string): Opened {
  if (options.pool !== undefined) {
    const p = options.pool as Partial<PgPoolLike> | null;
    if (p === null || typeof p.query !== "function" || typeof p.connect !== "function") {
      throw new ConfigError(`${storeName}: pool must have query() and connect() (like pg.Pool)`);
    }
    return { executor: new PgExecutor(options.pool), owned: false };
  }
  const url = options.url;
  if (typeof url !== "string" || !/^postgres(ql)?:\/\//i.test(url)) {
    throw new ConfigError(`${storeName}: url must be a postgres:// or postgresql:// connection string, or pass pool`);
  }
  const max = options.maxConnections ?? 10;
  if (!Number.isInteger(max) || max < 1)
    throw new ConfigError(`${storeName}: maxConnections must be a positive integer`);
  return { executor: new PgExecutor(createPool(url, max, storeName)), owned: true };
}
