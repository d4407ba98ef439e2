/** {@link SQLiteInstallationStore}: the SQL core's installation store on SQLite. */
import { SqlInstallationStore, validateClientId } from "../sql/core.js";
import { validateTablePrefix } from "../sql/migrations.js";
import { closeDatabase, executorFor, open, type SQLiteStoreOptions } from "./connection.js";
import { sqliteDialect } from "./dialect.js";
import type { SQLiteDatabase } from "./executor.js";

/**
 * Options of {@link SQLiteInstallationStore}.
 *
 * @example
 * ```ts
 * new SQLiteInstallationStore({ filename: "./data/slack.db", clientId: process.env.SLACK_CLIENT_ID });
 * ```
 */
export interface SQLiteInstallationStoreOptions extends SQLiteStoreOptions {
  /**
   * Keep one row per save (an audit trail) instead of only the latest per user and workspace.
   *
   * @default false
   */
  historicalData?: boolean | undefined;
  /** Keeps several apps' installations apart in the same tables (the `client_id` column; default `''`). */
  clientId?: string | undefined;
}

/**
 * `InstallationStore` in SQLite: the embedded default. Lookups are indexed and run on cached
 * prepared statements; migrations run on first use.
 *
 * @example
 * ```ts
 * import { SQLiteInstallationStore } from "slack-oauth-kit/stores/sqlite";
 * const store = new SQLiteInstallationStore({ filename: "./data/slack.db" });
 * await store.save(installation);
 * const bot = await store.findBot({ enterpriseId: undefined, teamId: "T0123456" });
 * await store.close();
 * ```
 */
export class SQLiteInstallationStore extends SqlInstallationStore {
  /** The better-sqlite3 connection in use. */
  readonly database: SQLiteDatabase;

  constructor(options: SQLiteInstallationStoreOptions = {}) {
    // Validate everything before opening, so a bad option never leaves a file handle open.
    validateTablePrefix(options.tablePrefix);
    validateClientId(options.clientId);
    const { db, owned } = open(options, "SQLiteInstallationStore");
    const executor = executorFor(db, owned);
    super({
      executor,
      dialect: sqliteDialect,
      tablePrefix: options.tablePrefix,
      clientId: options.clientId,
      historicalData: options.historicalData,
      storeName: "SQLiteInstallationStore",
      migrate: options.migrate,
      // Read-only openers (the admin CLI's list/show/export) never create or migrate tables.
      migrateNow: options.migrate !== false,
      release: owned ? () => closeDatabase(db) : undefined,
    });
    this.database = db;
  }
}
