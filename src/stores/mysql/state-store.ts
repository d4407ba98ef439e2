import { rejectRenamedClock } from "../../clock.js";
import { endPool, SqlStateStore, validateTtl } from "../sql/core.js";
import { validateTablePrefix } from "../sql/migrations.js";
import { type MySQLStoreOptions, open } from "./connection.js";
import { mysqlDialect } from "./dialect.js";

/**
 * Options of {@link MySQLStateStore}.
 *
 * @example
 * ```ts
 * new MySQLStateStore({ url: process.env.DATABASE_URL, ttlSeconds: 300 });
 * ```
 */
export interface MySQLStateStoreOptions extends MySQLStoreOptions {
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
 * `StateStore` in MySQL or MariaDB: one-time OAuth states, safe across processes and hosts
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
    rejectRenamedClock(options, "MySQLStateStore", { clock: "nowMs" });
    validateTablePrefix(options?.tablePrefix);
    validateTtl(options?.ttlSeconds);
    const executor = open(options ?? {}, "MySQLStateStore");
    super({
      executor,
      dialect: mysqlDialect,
      tablePrefix: options.tablePrefix,
      ttlSeconds: options.ttlSeconds,
      nowMs: options.nowMs,
      storeName: "MySQLStateStore",
      migrate: options.migrate,
      // Read-only openers (the admin CLI's list/show/export) never create or migrate tables.
      migrateNow: options.migrate !== false,
      release: options.pool === undefined ? () => endPool(executor) : undefined,
    });
  }
}
