import { rejectRenamedClock } from "../../clock.js";
import { endPool, SqlStateStore, validateTtl } from "../sql/core.js";
import { validateTablePrefix } from "../sql/migrations.js";
import { open, type PostgresStoreOptions } from "./connection.js";
import { postgresDialect } from "./dialect.js";

/**
 * Options of {@link PostgresStateStore}.
 *
 * @example
 * ```ts
 * new PostgresStateStore({ url: process.env.DATABASE_URL, ttlSeconds: 300 });
 * ```
 */
export interface PostgresStateStoreOptions extends PostgresStoreOptions {
  /**
   * Lifetime of a state in seconds.
   *
   * @default 600
   */
  ttlSeconds?: number | undefined;
  /** Returns now in epoch milliseconds, like `Date.now` (the default); injectable for tests. */
  nowMs?: (() => number) | undefined;
}

/**
 * `StateStore` in PostgreSQL: one-time OAuth states, safe across processes and hosts (`consume`
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
    rejectRenamedClock(options, "PostgresStateStore", { clock: "nowMs" });
    validateTablePrefix(options?.tablePrefix);
    validateTtl(options?.ttlSeconds);
    const { executor, owned } = open(options ?? {}, "PostgresStateStore");
    super({
      executor,
      dialect: postgresDialect,
      tablePrefix: options.tablePrefix,
      ttlSeconds: options.ttlSeconds,
      nowMs: options.nowMs,
      storeName: "PostgresStateStore",
      migrate: options.migrate,
      // Read-only openers (the admin CLI's list/show/export) never create or migrate tables.
      migrateNow: options.migrate !== false,
      release: owned ? () => endPool(executor) : undefined,
    });
  }
}
