/** {@link D1StateStore}: the SQL core's one-time OAuth state store on Cloudflare D1. */
import { rejectRenamedClock } from "../../clock.js";
import { SqlStateStore, validateTtl } from "../sql/core.js";
import { validateTablePrefix } from "../sql/migrations.js";
import { sqliteDialect } from "../sqlite/dialect.js";
import { type D1StoreOptions, executorFor } from "./connection.js";
import type { D1Database } from "./executor.js";

/**
 * Options of {@link D1StateStore}.
 *
 * @example
 * ```ts
 * new D1StateStore({ database: env.DB, ttlSeconds: 300 });
 * ```
 */
export interface D1StateStoreOptions extends D1StoreOptions {
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
 * `StateStore` in Cloudflare D1: one-time OAuth states. A state is consumed by one `batch()` (read it,
 * mark it used if it is live, or expired if it is past its lifetime), which D1 runs as one transaction on
 * its single writer: of any number of racing callbacks, in any number of isolates, exactly one gets the
 * data. States never live in KV (eventually consistent: a state could be spent twice).
 *
 * @example
 * ```ts
 * import { D1StateStore } from "slack-oauth-kit/stores/d1";
 * const states = new D1StateStore({ database: env.DB, ttlSeconds: 600 });
 * const state = await states.issue({ returnTo: "/welcome" });
 * ```
 */
export class D1StateStore extends SqlStateStore {
  /** The D1 binding in use. */
  readonly database: D1Database;

  constructor(options: D1StateStoreOptions) {
    rejectRenamedClock(options, "D1StateStore", { clock: "nowMs" });
    validateTablePrefix(options?.tablePrefix);
    validateTtl(options?.ttlSeconds);
    const executor = executorFor(options, "D1StateStore");
    super({
      executor,
      dialect: sqliteDialect,
      tablePrefix: options.tablePrefix,
      ttlSeconds: options.ttlSeconds,
      nowMs: options.nowMs,
      storeName: "D1StateStore",
      migrate: options.migrate,
    });
    this.database = executor.database;
  }
}
