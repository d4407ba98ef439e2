/**
 * For store authors: the {@link InstallationStore} and {@link StateStore} contracts, the validation every
 * store applies to its input, the lock helpers, and the model helpers that turn Slack's replies into
 * installations. Apps pick a ready store from `slack-oauth-kit/stores/sqlite` (and siblings) instead.
 * Run `slack-oauth-kit/testing`'s conformance suites against a store you write.
 *
 * @module
 */
export {
  applyRefreshResponse,
  BOT_FIELDS,
  type Bot,
  INSTALLATION_FIELDS,
  type Installation,
  installationFromV1Response,
  installationFromV2Response,
  nowSeconds,
  parseScopes,
} from "../model/index.js";
export {
  type AppConsumeResult,
  type ConsumeResult,
  consumeAppState,
  consumeState,
  inspectState,
  issueAppState,
  isWellFormedState,
  type StateRejection,
  type StateStatus,
  type StateStore,
  StateStoreFullError,
} from "../state/state.js";
export { TokenCipher, type TokenField, type TokenOwnerIds } from "./encryption.js";
export type { EncryptionMarker } from "./encryption-marker.js";
export {
  checkExpiringQuery,
  checkHealthWrite,
  DEFAULT_EXPIRING_LIMIT,
  type ExpiringToken,
  HEALTH_STATUSES,
  type HealthEntry,
  type HealthTokenKind,
  healthIsNewer,
  type InstallationHealthStatus,
  isHealthStatus,
  type TokenHealth,
} from "./health.js";
export {
  assertOptionalId,
  type BotQuery,
  checkEnterpriseId,
  checkLock,
  checkPartition,
  checkTeamAccessChange,
  checkTokenUpdate,
  DEFAULT_LOCK_LEASE_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  type DeleteInstallationQuery,
  type InstallationQuery,
  type InstallationStore,
  isValidId,
  type LockOptions,
  normalizeQuery,
  partitionOf,
  type TeamAccess,
  type TeamAccessChange,
  type TokenExpectation,
  type TokenPatch,
  validateInstallation,
  type WorkspaceInstallations,
  type WorkspaceQuery,
} from "./installation-store.js";
export type {
  ColumnDef,
  ColumnType,
  Dialect,
  IndexDef,
  SqlExecutor,
  SqlResult,
  SqlRow,
  SqlStatement,
  SqlValue,
  SyncKeyedRead,
  SyncKeyedValueRead,
  SyncSqlReader,
  TableDef,
} from "./sql/dialect.js";
export type {
  InstallationStoreStatements,
  StoredTokenField,
  StoredTokenRewrite,
} from "./sql/installation-store.js";
export type { TableNames } from "./sql/migrations.js";
export type { StateStoreStatements } from "./sql/state-store.js";
export type { BetterSqlite3ExecutorOptions, SqliteConnection, SqliteStatement } from "./sqlite/executor.js";
