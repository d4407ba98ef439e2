/** {@link SQLiteStateStore}: the SQL core's one-time OAuth state store on SQLite. */

import { rejectRenamedClock } from "../../clock.js";
import { SqlStateStore, validateTtl } from "../sql/core.js";
import { validateTablePrefix } from "../sql/migrations.js";
import { closeDatabase, executorFor, open, type SQLiteStoreOptions } from "./connection.js";
import { sqliteDialect } from "./dialect.js";
import type { SQLiteDatabase } from "./executor.js";

/**
 * Options of {@link SQLiteStateStore}.
 *
 * @example
 * ```ts
 * new SQLiteStateStore({ filename: "./data/slack.db", ttlSeconds: 300 });
 * ```
 */
export interface SQLiteStateStoreOptions extends SQLiteStoreOptions {
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
 * `StateStore` in SQLite: one-time OAuth states, safe across processes sharing the file.
 *
 * @example
 * ```ts
 * import { SQLiteStateStore } from "slack-oauth-kit/stores/sqlite";
 * const states = new SQLiteStateStore({ filename: "./data/slack.db", ttlSeconds: 600 });
 * const state = await states.issue({ returnTo: "/welcome" });
 * const data = await states.consume(state); // { returnTo: "/welcome" }, then undefined
 * ```
 */
export class SQLiteStateStore extends SqlStateStore {
  /** The better-sqlite3 connection in use. */
  readonly database: SQLiteDatabase;

  constructor(options: SQLiteStateStoreOptions = {}) {
    rejectRenamedClock(options, "SQLiteStateStore", { clock: "nowMs" });
    // Validate everything before opening, so a bad option never leaves a file handle open.
    validateTablePrefix(options.tablePrefix);
    validateTtl(options.ttlSeconds);
    const { db, owned } = open(options, "SQLiteStateStore");
    const executor = executorFor(db, owned);
    super({
      executor,
      dialect: sqliteDialect,
      tablePrefix: options.tablePrefix,
      ttlSeconds: options.ttlSeconds,
      nowMs: options.nowMs,
      storeName: "SQLiteStateStore",
      migrate: options.migrate,
      // Read-only openers (the admin CLI's list/show/export) never create or migrate tables.
      migrateNow: options.migrate !== false,
      release: owned ? () => closeDatabase(db) : undefined,
    });
    this.database = db;
  }
}
