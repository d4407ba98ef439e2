import { endPool, SqlInstallationStore, validateClientId } from "../sql/core.js";
import { validateTablePrefix } from "../sql/migrations.js";
import { type MySQLStoreOptions, open } from "./connection.js";
import { mysqlDialect } from "./dialect.js";

/**
 * Options of {@link MySQLInstallationStore}.
 *
 * @example
 * ```ts
 * new MySQLInstallationStore({ url: process.env.DATABASE_URL, historicalData: true });
 * ```
 */
export interface MySQLInstallationStoreOptions extends MySQLStoreOptions {
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
 * `InstallationStore` in MySQL or MariaDB. Lookups are indexed; migrations run on first use.
 *
 * @example
 * ```ts
 * import { MySQLInstallationStore } from "slack-oauth-kit/stores/mysql";
 * const store = new MySQLInstallationStore({ url: "mysql://app@localhost:3306/app" });
 * await store.save(installation);
 * const bot = await store.findBot({ teamId: "T0123456" });
 * await store.close();
 * ```
 */
export class MySQLInstallationStore extends SqlInstallationStore {
  constructor(options: MySQLInstallationStoreOptions) {
    validateTablePrefix(options?.tablePrefix);
    validateClientId(options?.clientId);
    const executor = open(options ?? {}, "MySQLInstallationStore");
    super({
      executor,
      dialect: mysqlDialect,
      tablePrefix: options.tablePrefix,
      clientId: options.clientId,
      historicalData: options.historicalData,
      storeName: "MySQLInstallationStore",
      migrate: options.migrate,
      // Read-only openers (the admin CLI's list/show/export) never create or migrate tables.
      migrateNow: options.migrate !== false,
      release: options.pool === undefined ? () => endPool(executor) : undefined,
    });
  }
}
