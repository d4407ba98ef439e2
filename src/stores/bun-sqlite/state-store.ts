import { rejectRenamedClock } from "../../clock.js";
import { SqlStateStore, validateTtl } from "../sql/core.js";
import { validateTablePrefix } from "../sql/migrations.js";
import { sqliteDialect } from "../sqlite/dialect.js";
import { type BunSQLiteStoreOptions, closeDatabase, executorFor, open } from "./connection.js";
import type { BunSqliteDatabase } from "./executor.js";

/**
 * Options of {@link BunSQLiteStateStore}.
 *
 * @example
 * ```ts
 * new BunSQLiteStateStore({ filename: "./data/slack.db", ttlSeconds: 300 });
 * ```
 */
export interface BunSQLiteStateStoreOptions extends BunSQLiteStoreOptions {
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
 * `StateStore` in SQLite through `bun:sqlite`: one-time OAuth states, safe across processes sharing
 * the file.
 *
 * @example
 * ```ts
 * import { BunSQLiteStateStore } from "slack-oauth-kit/stores/bun-sqlite";
 * const states = new BunSQLiteStateStore({ filename: "./data/slack.db", ttlSeconds: 600 });
 * const state = await states.issue({ returnTo: "/welcome" });
 * ```
 */
export class BunSQLiteStateStore extends SqlStateStore {
  /** The `bun:sqlite` connection in use. */
  readonly database: BunSqliteDatabase;

  constructor(options: BunSQLiteStateStoreOptions = {}) {
    rejectRenamedClock(options, "BunSQLiteStateStore", { clock: "nowMs" });
    validateTablePrefix(options.tablePrefix);
    validateTtl(options.ttlSeconds);
    const { db, owned } = open(options, "BunSQLiteStateStore");
    const executor = executorFor(db, owned);
    super({
      executor,
      dialect: sqliteDialect,
      tablePrefix: options.tablePrefix,
      ttlSeconds: options.ttlSeconds,
      nowMs: options.nowMs,
      storeName: "BunSQLiteStateStore",
      migrateNow: true,
      release: owned ? () => closeDatabase(executor) : undefined,
    });
    this.database = db;
  }
}
