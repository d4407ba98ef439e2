/** {@link D1InstallationStore}: the SQL core's installation store on Cloudflare D1. */
import { SqlInstallationStore, validateClientId } from "../sql/core.js";
import { validateTablePrefix } from "../sql/migrations.js";
import { sqliteDialect } from "../sqlite/dialect.js";
import { type D1StoreOptions, executorFor } from "./connection.js";
import type { D1Database } from "./executor.js";

/**
 * Options of {@link D1InstallationStore}.
 *
 * @example
 * ```ts
 * new D1InstallationStore({ database: env.DB, clientId: env.SLACK_CLIENT_ID });
 * ```
 */
export interface D1InstallationStoreOptions extends D1StoreOptions {
  /**
   * Keep one row per save (an audit trail) instead of only the latest per user and workspace.
   *
   * @default false
   */
  historicalData?: boolean | undefined;
  /**
   * Keeps several apps' installations apart in the same tables (the `client_id` column).
   *
   * @default `''`
   */
  clientId?: string | undefined;
}

/**
 * `InstallationStore` in Cloudflare D1 (SQLite), for Workers. Same schema, lookups and guarantees as
 * `SQLiteInstallationStore`: a save is one `batch()`, a token rotation one conditional `UPDATE` (or one
 * batch for bot and user tokens together), a rotation lock a lease row taken with single statements.
 * Every lookup is one D1 request; put {@link KvCachedInstallationStore} in front to serve hot lookups
 * from KV.
 *
 * @example
 * ```ts
 * import { D1InstallationStore } from "slack-oauth-kit/stores/d1";
 * const store = new D1InstallationStore({ database: env.DB });
 * await store.save(installation);
 * const bot = await store.findBot({ teamId: "T0123456" });
 * ```
 */
export class D1InstallationStore extends SqlInstallationStore {
  /** The D1 binding in use. */
  readonly database: D1Database;

  constructor(options: D1InstallationStoreOptions) {
    validateTablePrefix(options?.tablePrefix);
    validateClientId(options?.clientId);
    const executor = executorFor(options, "D1InstallationStore");
    super({
      executor,
      dialect: sqliteDialect,
      tablePrefix: options.tablePrefix,
      clientId: options.clientId,
      historicalData: options.historicalData,
      storeName: "D1InstallationStore",
      migrate: options.migrate,
    });
    this.database = executor.database;
  }
}
