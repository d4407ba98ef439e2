/**
 * PostgreSQL stores (`pg`, an optional peer dependency imported on first use): the shared SQL core
 * (`sql/core.ts`) with the PostgreSQL dialect and a `pg` pool executor.
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
import { ConfigError, StoreError } from "../errors.js";
import { redact } from "../redact.js";
import { endPool, SqlInstallationStore, SqlStateStore, validateClientId, validateTtl } from "./sql/core.js";
import { validateTablePrefix } from "./sql/migrations.js";
import { postgresDialect } from "./postgres/dialect.js";
import { PgExecutor, type PgPoolLike } from "./postgres/executor.js";

export { postgresDialect } from "./postgres/dialect.js";
export { type PgClientLike, PgExecutor, type PgPoolLike } from "./postgres/executor.js";

/**
 * Options shared by {@link PostgresInstallationStore} and {@link PostgresStateStore}.
 *
 * @example
 * ```ts
 * const options: PostgresStoreOptions = { url: "postgres://app@db.internal:5432/app", tablePrefix: "myapp_" };
 * ```
 */
export interface PostgresStoreOptions {
  /** Connection string (`postgres://user:password@host:5432/db`); the store creates its own pool. */
  url?: string | undefined;
  /** Your own pool (e.g. `new pg.Pool(...)`); `close()` leaves it open. Takes precedence over `url`. */
  pool?: PgPoolLike | undefined;
  /** Largest number of connections of the pool the store creates (default 10). */
  maxConnections?: number | undefined;
  /** Table prefix, `^[a-z_][a-z0-9_]{0,30}$` (default `slack_`). */
  tablePrefix?: string | undefined;
}

/**
 * Options of {@link PostgresInstallationStore}.
 *
 * @example
 * ```ts
 * new PostgresInstallationStore({ url: process.env.DATABASE_URL, clientId: process.env.SLACK_CLIENT_ID });
 * ```
 */
export interface PostgresInstallationStoreOptions extends PostgresStoreOptions {
  /** Keep one row per save (an audit trail) instead of only the latest per user and workspace (default false). */
  historicalData?: boolean | undefined;
  /** Keeps several apps' installations apart in the same tables (the `client_id` column; default `''`). */
  clientId?: string | undefined;
}

/**
 * Options of {@link PostgresStateStore}.
 *
 * @example
 * ```ts
 * new PostgresStateStore({ url: process.env.DATABASE_URL, ttlSeconds: 300 });
 * ```
 */
export interface PostgresStateStoreOptions extends PostgresStoreOptions {
  /** Lifetime of a state in seconds (default 600). */
  ttlSeconds?: number | undefined;
  /** Returns now in epoch milliseconds, like `Date.now` (the default); injectable for tests. */
  clock?: (() => number) | undefined;
}

interface Opened {
  executor: PgExecutor;
  owned: boolean;
}

async function createPool(url: string, max: number, storeName: string): Promise<PgPoolLike> {
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

function open(options: PostgresStoreOptions, storeName: string): Opened {
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

/**
 * {@link InstallationStore} in PostgreSQL. Lookups are indexed (`ORDER BY id DESC LIMIT 1` on the key);
 * migrations run on first use.
 *
 * @example
 * ```ts
 * import { PostgresInstallationStore } from "slack-oauth-kit/stores/postgres";
 * const store = new PostgresInstallationStore({ url: "postgres://app@localhost:5432/app" });
 * await store.save(installation);
 * const bot = await store.findBot({ teamId: "T0123456" });
 * await store.close();
 * ```
 */
export class PostgresInstallationStore extends SqlInstallationStore {
  constructor(options: PostgresInstallationStoreOptions) {
    validateTablePrefix(options?.tablePrefix);
    validateClientId(options?.clientId);
    const { executor, owned } = open(options ?? {}, "PostgresInstallationStore");
    super({
      executor,
      dialect: postgresDialect,
      tablePrefix: options.tablePrefix,
      clientId: options.clientId,
      historicalData: options.historicalData,
      storeName: "PostgresInstallationStore",
      migrateNow: true,
      release: owned ? () => endPool(executor) : undefined,
    });
  }
}

/**
 * {@link StateStore} in PostgreSQL: one-time OAuth states, safe across processes and hosts (`consume`
 * reads the row `FOR UPDATE`; exactly one consumer wins).
 *
 * @example
 * ```ts
 * import { PostgresStateStore } from "slack-oauth-kit/stores/postgres";
 * const states = new PostgresStateStore({ url: "postgres://app@localhost:5432/app" });
 * const state = await states.issue({ returnTo: "/welcome" });
 * await states.consume(state); // { returnTo: "/welcome" }, then undefined
 * ```
 */
export class PostgresStateStore extends SqlStateStore {
  constructor(options: PostgresStateStoreOptions) {
    validateTablePrefix(options?.tablePrefix);
    validateTtl(options?.ttlSeconds);
    const { executor, owned } = open(options ?? {}, "PostgresStateStore");
    super({
      executor,
      dialect: postgresDialect,
      tablePrefix: options.tablePrefix,
      ttlSeconds: options.ttlSeconds,
      clock: options.clock,
      storeName: "PostgresStateStore",
      migrateNow: true,
      release: owned ? () => endPool(executor) : undefined,
    });
  }
}
