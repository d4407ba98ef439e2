import { SqlInstallationStore, validateClientId } from "../sql/core.js";
import { validateTablePrefix } from "../sql/migrations.js";
import { sqliteDialect } from "../sqlite/dialect.js";
import { type BunSQLiteStoreOptions, closeDatabase, executorFor, open } from "./connection.js";
import type { BunSqliteDatabase } from "./executor.js";

/**
 * Options of {@link BunSQLiteInstallationStore}.
 *
 * @example
 * ```ts
 * new BunSQLiteInstallationStore({ filename: "./data/slack.db", clientId: process.env.SLACK_CLIENT_ID });
 * ```
 */
export interface BunSQLiteInstallationStoreOptions extends BunSQLiteStoreOptions {
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
 * `InstallationStore` in SQLite through `bun:sqlite`. Same schema, lookups and guarantees as
 * `SQLiteInstallationStore` (better-sqlite3).
 *
 * @example
 * ```ts
 * import { BunSQLiteInstallationStore } from "slack-oauth-kit/stores/bun-sqlite";
 * const store = new BunSQLiteInstallationStore({ filename: "./data/slack.db" });
 * await store.save(installation);
 * const bot = await store.findBot({ teamId: "T0123456" });
 * await store.close();
 * ```
 */
export class BunSQLiteInstallationStore extends SqlInstallationStore {
  /** The `bun:sqlite` connection in use. */
  readonly database: BunSqliteDatabase;

  constructor(options: BunSQLiteInstallationStoreOptions = {}) {
    // Validate everything before opening, so a bad option never leaves a file handle open.
    validateTablePrefix(options.tablePrefix);
    validateClientId(options.clientId);
    const { db, owned } = open(options, "BunSQLiteInstallationStore");
    const executor = executorFor(db, owned);
    super({
      executor,
      dialect: sqliteDialect,
      tablePrefix: options.tablePrefix,
      clientId: options.clientId,
      historicalData: options.historicalData,
      storeName: "BunSQLiteInstallationStore",
      migrateNow: true,
      release: owned ? () => closeDatabase(executor) : undefined,
    });
    this.database = db;
  }
}
