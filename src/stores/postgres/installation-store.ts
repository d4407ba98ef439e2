import { endPool, SqlInstallationStore, validateClientId } from "../sql/core.js";
import { validateTablePrefix } from "../sql/migrations.js";
import { open, type PostgresStoreOptions } from "./connection.js";
import { postgresDialect } from "./dialect.js";

/**
 * Options of {@link PostgresInstallationStore}.
 *
 * @example
 * ```ts
 * new PostgresInstallationStore({ url: process.env.DATABASE_URL, clientId: process.env.SLACK_CLIENT_ID });
 * ```
 */
export interface PostgresInstallationStoreOptions extends PostgresStoreOptions {
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
 * `InstallationStore` in PostgreSQL. Lookups are indexed (`ORDER BY id DESC LIMIT 1` on the key);
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
      migrate: options.migrate,
      // Read-only openers (the admin CLI's list/show/export) never create or migrate tables.
      migrateNow: options.migrate !== false,
      release: owned ? () => endPool(executor) : undefined,
    });
  }
}
