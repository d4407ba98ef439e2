/**
 * Installation health and token upkeep without traffic, for one app's store:
 *
 * - {@link runHealthCheck} / {@link checkInstallationHealth}: `auth.test` on stored tokens, honouring
 *   Slack's rate limits, each verdict recorded in the store (`ok`, `revoked`, `invalid`, `expired`,
 *   `refresh_failed`, `unknown`; see {@link InstallationHealthStatus}).
 * - {@link RefreshScheduler}: rotating tokens refreshed before they expire, with no request needed, once
 *   per token however many processes run it.
 * - {@link getWorkspaceToken}: a valid bot or user token for work outside any request (cron, queues),
 *   refreshed first when due.
 *
 * The data model (statuses, {@link TokenHealth}, the store methods `recordHealth`, `listHealth`,
 * `listExpiringTokens`) belongs to the `InstallationStore` contract in `slack-oauth-kit/stores`.
 *
 * @module
 */
export type {
  ExpiringToken,
  HealthEntry,
  HealthTokenKind,
  InstallationHealthStatus,
  TokenHealth,
} from "../stores/health.js";
export { HEALTH_STATUSES, isHealthStatus } from "../stores/health.js";
export {
  checkInstallationHealth,
  HEALTH_ERROR_STATUS,
  type HealthCheckItem,
  type HealthCheckOptions,
  type HealthReport,
  runHealthCheck,
} from "./check.js";
export {
  getWorkspaceToken,
  type WorkspaceToken,
  type WorkspaceTokenOptions,
  type WorkspaceTokenQuery,
} from "./outbound.js";
export {
  type RefreshPassReport,
  RefreshScheduler,
  type RefreshSchedulerOptions,
  type ScheduledRefresh,
} from "./scheduler.js";
