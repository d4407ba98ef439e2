/**
 * {@link runHealthCheck} and {@link checkInstallationHealth}: `auth.test` on stored tokens, with bounded
 * concurrency that honours Slack's rate limits, and the verdicts recorded in the store.
 */

import { reconcileTeamAccess, type TeamAccessReconciliation } from "../authorize/team-access.js";
import { rejectRenamedClock } from "../clock.js";
import { CodedTypeError, ConfigError, ErrorCode, isCodedError } from "../errors.js";
import { bindMetrics, type MetricsOptions } from "../metrics/hooks.js";
import type { Bot, Installation } from "../model/installation.js";
import { missingScopes, type RequiredScopes } from "../model/scopes.js";
import { type Logger, redact, silentLogger } from "../redact.js";
import type { RotationCoordinator } from "../rotation/coordinator.js";
import { TokenRefreshError } from "../rotation/errors.js";
import { DEFAULT_ROTATION_WINDOW_SECONDS } from "../rotation/token-rotator.js";
import { SlackApiClient } from "../slack-api/client.js";
import { SlackApiError } from "../slack-api/errors.js";
import { CachingInstallationStore } from "../stores/cache.js";
import {
  HEALTH_STATUSES,
  type HealthTokenKind,
  type InstallationHealthStatus,
  type TokenHealth,
} from "../stores/health.js";
import {
  type InstallationQuery,
  type InstallationStore,
  normalizeQuery,
  type TokenExpectation,
  type WorkspaceQuery,
} from "../stores/installation-store.js";
import { requireStore } from "../stores/store-helpers.js";
import { type JobOutcome, type PoolJob, runPool, timerSleep } from "./pool.js";

/**
 * Slack's error codes and the status each one means. Anything else (`ratelimited` once the wait budget is
 * spent, `internal_error`, `fatal_error`, `service_unavailable`, …) is `unknown`: never taken for a
 * revoked installation.
 *
 * @example
 * ```ts
 * HEALTH_ERROR_STATUS.token_revoked; // "revoked"
 * ```
 * @see https://docs.slack.dev/reference/methods/auth.test
 */
export const HEALTH_ERROR_STATUS: Readonly<Record<string, InstallationHealthStatus>> = Object.freeze({
  token_revoked: "revoked",
  account_inactive: "revoked",
  invalid_auth: "invalid",
  not_authed: "invalid",
  token_expired: "expired",
});

/**
 * Options of {@link runHealthCheck} and {@link checkInstallationHealth}.
 *
 * @example
 * ```ts
 * const options: HealthCheckOptions = { installationStore: store, apiUrl: process.env.SLACK_API_URL, concurrency: 8 };
 * ```
 */
export interface HealthCheckOptions {
  /** The store of one app (one client id): its tokens are checked and its health records written. */
  installationStore: InstallationStore;
  /**
   * The Web API client. The default one gives every `429` back at once (`maxRetryAfterSeconds: 0`) so
   * that the sweep, not the client, waits out `Retry-After` for the whole workspace; a client of yours
   * may wait on its own first.
   */
  api?: SlackApiClient | undefined;
  /**
   * Web API base URL of the default client.
   *
   * @default `https://slack.com/api/`
   */
  apiUrl?: string | undefined;
  /**
   * `auth.test` calls in flight at once, over every workspace.
   *
   * @default 8
   */
  concurrency?: number | undefined;
  /**
   * `auth.test` calls in flight at once on one workspace (Slack's limits are per workspace and method).
   *
   * @default 2
   */
  perWorkspaceConcurrency?: number | undefined;
  /**
   * How long one token may wait in total for rate limits (`Retry-After`) before it is reported `unknown`
   * with error `ratelimited`.
   *
   * @default 300
   */
  maxRateLimitWaitSeconds?: number | undefined;
  /**
   * Check users' tokens too (each user's latest installation), not only bots.
   *
   * @default true
   */
  users?: boolean | undefined;
  /** Only this enterprise (and team). */
  filter?: WorkspaceQuery | undefined;
  /**
   * When given, a rotating token that expires within `refreshBeforeSeconds` (or has expired) is refreshed
   * through it first, once across processes; a refresh that fails is recorded as `refresh_failed`.
   * Without it an expired token is reported `expired` (Slack's `token_expired`).
   */
  coordinator?: RotationCoordinator | undefined;
  /**
   * The refresh window used with `coordinator`.
   *
   * @default 7200
   */
  refreshBeforeSeconds?: number | undefined;
  /**
   * Write each verdict to the store (`recordHealth`, a compare-and-set on the checked token).
   *
   * @default true
   */
  record?: boolean | undefined;
  /**
   * Clock in epoch seconds (`checkedAt`).
   *
   * @default `Date.now() / 1000`
   */
  nowSeconds?: (() => number) | undefined;
  /**
   * Waits `ms` before a rate-limited workspace is tried again (resolving early when `signal` aborts).
   * Tests pass one that moves a fake clock.
   *
   * @default a timer
   */
  sleepMs?: ((ms: number, signal: AbortSignal) => Promise<void>) | undefined;
  /** Called once with 0 before the first check, then after each token. */
  onProgress?: ((done: number, total: number, item: HealthCheckItem | undefined) => void) | undefined;
  /**
   * The app's configured scopes (`SLACK_SCOPES` / `SLACK_USER_SCOPES`): a token `auth.test` accepts but
   * that was granted fewer of them (the app added scopes since it was installed) is `missing_scopes`,
   * with the missing ones in `missingScopes`. Without it scopes are not compared.
   */
  requiredScopes?: RequiredScopes | undefined;
  /**
   * After the sweep of {@link runHealthCheck}, reconcile the workspaces of every org-wide installation
   * with `auth.teams.list` (`reconcileTeamAccess`), so that a workspace removed by an org admin whose
   * event was lost is found; the result is the report's `teamAccess`.
   *
   * @default true
   */
  teamAccess?: boolean | undefined;
  /** Reports, after a sweep, how many tokens are in each status (`MetricsHooks.health`). */
  metrics?: MetricsOptions | undefined;
  /** Stops the sweep (it rejects with the signal's reason). */
  signal?: AbortSignal | undefined;
  /** Redacted logger (default: silent). */
  logger?: Logger | undefined;
}

/**
 * The verdict on one token (ids, times and codes only: never a token).
 *
 * @example
 * ```ts
 * const item: HealthCheckItem = { kind: "bot", teamId: "T0123", isEnterpriseInstall: false, status: "revoked", checkedAt: 1767225600, error: "token_revoked", recorded: true };
 * ```
 */
export interface HealthCheckItem {
  kind: HealthTokenKind;
  enterpriseId?: string;
  teamId?: string;
  isEnterpriseInstall: boolean;
  userId?: string;
  status: InstallationHealthStatus;
  /** Epoch seconds. */
  checkedAt: number;
  /** Slack's error code, or this library's `SLACK_OAUTH_…` code (a token that cannot be decrypted, …). */
  error?: string;
  /** True when the verdict was written; false when not asked to, or when the token changed meanwhile. */
  recorded: boolean;
  /** The token was refreshed (through `coordinator`) before the check. */
  refreshed?: boolean;
  /** How many `429`s were waited out for this token. */
  rateLimited?: number;
  /** The store failed on this token (reading it or recording): its error code. */
  storeError?: string;
  /** With `requiredScopes`: the configured scopes this token was not granted (status `missing_scopes`). */
  missingScopes?: string[];
}

/**
 * What a sweep found.
 *
 * @example
 * ```ts
 * const report: HealthReport = await runHealthCheck({ installationStore: store });
 * process.exitCode = report.healthy ? 0 : 1;
 * ```
 */
export interface HealthReport {
  /** One item per token, in listing order. */
  items: HealthCheckItem[];
  /** How many tokens ended in each status (every status present, 0 when none). */
  counts: Record<InstallationHealthStatus, number>;
  /** True when every token is `ok` and the store never failed. */
  healthy: boolean;
  /** Tokens whose store read or write failed (the sweep went on). */
  storeFailures: number;
  /** `429` answers waited out (every one honoured its `Retry-After`). */
  rateLimited: number;
  /** Epoch seconds. */
  startedAt: number;
  /** Epoch seconds. */
  finishedAt: number;
  /**
   * {@link runHealthCheck} only (unless `teamAccess: false`): what the reconcile of each org-wide
   * installation's workspaces with `auth.teams.list` found (an org whose token may not list them has
   * `error`).
   */
  teamAccess?: TeamAccessReconciliation[];
  /** The reconcile could not run at all (the store failed): its error code. */
  teamAccessError?: string;
}

/** One token to check. */
interface Target {
  kind: HealthTokenKind;
  ws: { enterpriseId?: string; teamId?: string; isEnterpriseInstall: boolean };
  userId?: string;
}

interface Resolved {
  store: InstallationStore;
  source: InstallationStore;
  listing: InstallationStore;
  api: SlackApiClient;
  concurrency: number;
  perWorkspace: number;
  maxWaitMs: number;
  users: boolean;
  coordinator: RotationCoordinator | undefined;
  window: number;
  record: boolean;
  required: RequiredScopes | undefined;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  logger: Logger;
}

function positiveInt(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1)
    throw new CodedTypeError(`health check: ${name} must be a positive integer`);
  return v;
}

function resolve(options: HealthCheckOptions): Resolved {
  if (options === null || typeof options !== "object")
    throw new CodedTypeError("health check: options { installationStore } are required");
  rejectRenamedClock(options, "health check", { now: "nowSeconds" });
  const store = options.installationStore;
  if (store === null || typeof store !== "object") throw new ConfigError("health check: installationStore is required");
  requireStore(store, "health check");
  const maxWait = options.maxRateLimitWaitSeconds ?? 300;
  if (typeof maxWait !== "number" || !(maxWait >= 0) || !Number.isFinite(maxWait))
    throw new CodedTypeError("health check: maxRateLimitWaitSeconds must be a non-negative number");
  const window = options.refreshBeforeSeconds ?? DEFAULT_ROTATION_WINDOW_SECONDS;
  if (typeof window !== "number" || !(window >= 0) || !Number.isFinite(window))
    throw new CodedTypeError("health check: refreshBeforeSeconds must be a non-negative number");
  if (options.api !== undefined && !(options.api instanceof SlackApiClient))
    throw new CodedTypeError("health check: api must be a SlackApiClient");
  // Reads go past a cache (a token refreshed by another process is only in the store); the listing
  // comes from the innermost store, whose records are not decrypted: one token that cannot be decrypted
  // must not hide every other one.
  const source = store instanceof CachingInstallationStore ? store.inner : store;
  let listing: InstallationStore = store;
  for (let i = 0; i < 8; i++) {
    const inner = (listing as { inner?: unknown }).inner;
    if (
      inner === null ||
      typeof inner !== "object" ||
      typeof (inner as InstallationStore).listWorkspaces !== "function"
    )
      break;
    listing = inner as InstallationStore;
  }
  return {
    store,
    source,
    listing,
    api: options.api ?? new SlackApiClient({ baseUrl: options.apiUrl, maxRetryAfterSeconds: 0 }),
    concurrency: positiveInt(options.concurrency, "concurrency", 8),
    perWorkspace: positiveInt(options.perWorkspaceConcurrency, "perWorkspaceConcurrency", 2),
    maxWaitMs: maxWait * 1000,
    users: options.users !== false,
    coordinator: options.coordinator,
    window,
    record: options.record !== false,
    required: options.requiredScopes,
    now: options.nowSeconds ?? (() => Date.now() / 1000),
    sleep: options.sleepMs ?? timerSleep,
    logger: options.logger ?? silentLogger,
  };
}

/**
 * Checks every installation of the store (one app): the latest bot of each workspace and, unless
 * `users: false`, each user's latest token, with `auth.test`, `concurrency` calls at a time and at most
 * `perWorkspaceConcurrency` per workspace. A `429` pauses that workspace for its `Retry-After` and the
 * token is tried again; a token that would wait longer than `maxRateLimitWaitSeconds` in all is
 * `unknown` (`ratelimited`). Each verdict is recorded (`recordHealth`, compare-and-set on the checked
 * token, so a verdict on a token refreshed meanwhile is dropped).
 *
 * Never throws for one token: Slack unreachable or answering 5xx is `unknown`, never `revoked`; a token
 * that cannot be decrypted is `unknown` with the encryption error's code; a store failure on one token is
 * reported (`storeError`, `storeFailures`) and the sweep goes on. Rejects only when the listing itself
 * fails, on bad options, or when `signal` aborts.
 *
 * @example
 * ```ts
 * import { runHealthCheck } from "slack-oauth-kit/health";
 * const report = await runHealthCheck({ installationStore: store });
 * for (const i of report.items) if (i.status !== "ok") console.log(i.teamId, i.userId ?? "bot", i.status, i.error);
 * ```
 * @see https://docs.slack.dev/reference/methods/auth.test
 * @see https://docs.slack.dev/apis/web-api/rate-limits
 */
export async function runHealthCheck(options: HealthCheckOptions): Promise<HealthReport> {
  const r = resolve(options);
  const list = await r.listing.listWorkspaces(options.filter);
  const targets: Target[] = [];
  for (const w of list) {
    const ws = where(w);
    if (w.bot?.botToken) targets.push({ kind: "bot", ws });
    if (r.users) for (const i of w.installations) if (i.userToken) targets.push({ kind: "user", ws, userId: i.userId });
  }
  const report = await sweep(r, options, targets);
  if (options.teamAccess !== false && list.some((w) => w.isEnterpriseInstall)) {
    // After the sweep: tokens it refreshed are the ones asked with. A failure here never fails the sweep.
    try {
      const filter = options.filter?.enterpriseId !== undefined ? { enterpriseId: options.filter.enterpriseId } : {};
      report.teamAccess = await reconcileTeamAccess({ installationStore: r.store, api: r.api, ...filter });
    } catch (e) {
      report.teamAccessError = codeOf(e);
      r.logger.warn(
        redact(`health: reconciling the workspaces of org-wide installs failed: ${report.teamAccessError}`),
      );
    }
  }
  return report;
}

/**
 * Checks one installation now: the workspace's (or org's) bot and its users' tokens, or with `userId`
 * that user's token only. The same checks, rate-limit handling and recording as {@link runHealthCheck}
 * (the "check now" of an admin page).
 *
 * @example
 * ```ts
 * const { items } = await checkInstallationHealth({ installationStore: store }, { teamId: "T0123" });
 * ```
 */
export async function checkInstallationHealth(
  options: HealthCheckOptions,
  query: InstallationQuery,
): Promise<HealthReport> {
  const r = resolve(options);
  const q = normalizeQuery(query, "checkInstallationHealth");
  const org = q.isEnterpriseInstall === true || !q.teamId;
  const filter: WorkspaceQuery = org ? { enterpriseId: q.enterpriseId } : { teamId: q.teamId };
  if (!org && q.enterpriseId !== undefined) filter.enterpriseId = q.enterpriseId;
  const list = (await r.listing.listWorkspaces(filter)).filter((w) => (org ? w.teamId === undefined : true));
  const targets: Target[] = [];
  for (const w of list) {
    const ws = where(w);
    if (q.userId === undefined && w.bot?.botToken) targets.push({ kind: "bot", ws });
    for (const i of w.installations) {
      if (!i.userToken || (q.userId !== undefined ? i.userId !== q.userId : !r.users)) continue;
      targets.push({ kind: "user", ws, userId: i.userId });
    }
  }
  return sweep(r, options, targets);
}

function where(w: { enterpriseId?: string; teamId?: string; isEnterpriseInstall: boolean }): Target["ws"] {
  const ws: Target["ws"] = { isEnterpriseInstall: w.isEnterpriseInstall };
  if (w.enterpriseId !== undefined) ws.enterpriseId = w.enterpriseId;
  if (w.teamId !== undefined) ws.teamId = w.teamId;
  return ws;
}

async function sweep(r: Resolved, options: HealthCheckOptions, targets: Target[]): Promise<HealthReport> {
  const startedAt = r.now();
  const items: (HealthCheckItem | undefined)[] = new Array(targets.length).fill(undefined);
  let done = 0;
  options.onProgress?.(0, targets.length, undefined);
  const jobs: PoolJob[] = targets.map((target, index) => {
    const state: TokenState = { waitedMs: 0, rateLimited: 0 };
    return {
      key: `${target.ws.enterpriseId ?? "-"}/${target.ws.teamId ?? "-"}`,
      run: async (): Promise<JobOutcome> => {
        const outcome = await checkOne(r, target, state);
        if ("retryAfterMs" in outcome) return { done: false, retryAfterMs: outcome.retryAfterMs };
        items[index] = outcome;
        done++;
        options.onProgress?.(done, targets.length, outcome);
        return { done: true };
      },
    };
  });
  await runPool(jobs, {
    concurrency: r.concurrency,
    perWorkspace: r.perWorkspace,
    nowMs: () => r.now() * 1000,
    sleepMs: r.sleep,
    signal: options.signal,
  });
  const list = items.filter((i): i is HealthCheckItem => i !== undefined);
  const counts = Object.fromEntries(HEALTH_STATUSES.map((s) => [s, 0])) as Record<InstallationHealthStatus, number>;
  let storeFailures = 0;
  let rateLimited = 0;
  for (const i of list) {
    counts[i.status] = (counts[i.status] ?? 0) + 1;
    if (i.storeError !== undefined) storeFailures++;
    rateLimited += i.rateLimited ?? 0;
  }
  const report = bindMetrics(options.metrics, "runHealthCheck")?.health;
  if (report !== undefined) for (const s of HEALTH_STATUSES) report(s, counts[s]);
  return {
    items: list,
    counts,
    healthy: storeFailures === 0 && list.every((i) => i.status === "ok"),
    storeFailures,
    rateLimited,
    startedAt,
    finishedAt: r.now(),
  };
}

/** What one token has waited for so far. */
interface TokenState {
  waitedMs: number;
  rateLimited: number;
}

function codeOf(e: unknown): string {
  if (e instanceof SlackApiError) return e.error;
  if (isCodedError(e)) return e.code;
  return ErrorCode.Store;
}

/** One token: read, refresh when due (with a coordinator), `auth.test`, record. */
async function checkOne(
  r: Resolved,
  t: Target,
  state: TokenState,
): Promise<HealthCheckItem | { retryAfterMs: number }> {
  const item: HealthCheckItem = {
    kind: t.kind,
    ...t.ws,
    ...(t.userId !== undefined ? { userId: t.userId } : {}),
    status: "unknown",
    checkedAt: r.now(),
    recorded: false,
  };
  const q: InstallationQuery = t.kind === "bot" ? { ...t.ws } : { ...t.ws, userId: t.userId };
  // 1. The token, decrypted. A record that cannot be read is reported with its code, never skipped.
  let token: string | undefined;
  let refreshToken: string | undefined;
  let expiresAt: number | undefined;
  let scopes: readonly string[] = [];
  try {
    if (t.kind === "bot") {
      const bot: Bot | undefined = await r.source.findBot(q);
      token = bot?.botToken;
      refreshToken = bot?.botRefreshToken;
      expiresAt = bot?.botTokenExpiresAt;
      scopes = bot?.botScopes ?? [];
    } else {
      const inst: Installation | undefined = await r.source.findInstallation(q);
      if (inst?.userId === t.userId) {
        token = inst?.userToken;
        refreshToken = inst?.userRefreshToken;
        expiresAt = inst?.userTokenExpiresAt;
        scopes = inst?.userScopes ?? [];
      }
    }
  } catch (e) {
    item.error = codeOf(e);
    if (e instanceof Error && (e as { code?: unknown }).code === ErrorCode.Encryption) {
      // The token is there but unreadable with the configured keys: recorded as such, no expectation.
      await record(r, item, q, undefined);
    } else {
      item.storeError = item.error;
      r.logger.warn(redact(`health: cannot read the ${t.kind} token of ${describe(t)}: ${item.error}`));
    }
    return item;
  }
  if (token === undefined) {
    item.error = "not_installed"; // uninstalled between the listing and now
    return item;
  }
  // 2. Refresh first when a coordinator is given and the token is due (or already expired).
  if (r.coordinator !== undefined && refreshToken !== undefined && expiresAt !== undefined) {
    if (expiresAt - r.now() <= r.window) {
      try {
        const rotated =
          t.kind === "bot"
            ? (await r.coordinator.refreshBot(q, { seenRefreshToken: refreshToken, windowSeconds: r.window })).bot
            : (
                await r.coordinator.refreshUser(
                  { ...t.ws, userId: t.userId as string },
                  { seenRefreshToken: refreshToken, windowSeconds: r.window },
                )
              ).installation;
        const fresh = t.kind === "bot" ? rotated?.botToken : (rotated as Installation | undefined)?.userToken;
        if (fresh !== undefined && fresh !== token) item.refreshed = true;
        token = fresh ?? token;
      } catch (e) {
        item.status = "refresh_failed";
        item.error = e instanceof TokenRefreshError ? (e.slackError ?? e.reason) : codeOf(e);
        await record(
          r,
          item,
          q,
          t.kind === "bot" ? { botRefreshToken: refreshToken } : { userRefreshToken: refreshToken },
        );
        return item;
      }
    }
  }
  // 3. auth.test.
  try {
    await r.api.authTest(token);
    item.status = "ok";
    // Valid, but granted fewer scopes than the app asks for now: a reinstall is due.
    const missing = r.required ? missingScopes(scopes, t.kind === "bot" ? r.required.bot : r.required.user) : [];
    if (missing.length > 0) {
      item.status = "missing_scopes";
      item.missingScopes = missing;
      item.error = "missing_scope";
    }
  } catch (e) {
    if (e instanceof SlackApiError && e.error === "ratelimited") {
      const waitMs = Math.max(1, e.retryAfter ?? 1) * 1000;
      if (state.waitedMs + waitMs <= r.maxWaitMs) {
        state.waitedMs += waitMs;
        state.rateLimited++;
        return { retryAfterMs: waitMs };
      }
    }
    item.error = codeOf(e);
    item.status = e instanceof SlackApiError ? (HEALTH_ERROR_STATUS[e.error] ?? "unknown") : "unknown";
  }
  if (state.rateLimited > 0) item.rateLimited = state.rateLimited;
  item.checkedAt = r.now();
  await record(r, item, q, t.kind === "bot" ? { botToken: token } : { userToken: token });
  return item;
}

async function record(
  r: Resolved,
  item: HealthCheckItem,
  q: InstallationQuery,
  expect: TokenExpectation | undefined,
): Promise<void> {
  if (!r.record) return;
  const health: TokenHealth = { status: item.status, checkedAt: item.checkedAt };
  if (item.error !== undefined) health.error = item.error.slice(0, 128);
  try {
    item.recorded = await r.store.recordHealth(q, health, expect);
  } catch (e) {
    item.storeError = codeOf(e);
    r.logger.warn(redact(`health: cannot record the health of ${describe(item)}: ${item.storeError}`));
  }
}

function describe(t: {
  kind?: string;
  ws?: Target["ws"];
  teamId?: string;
  enterpriseId?: string;
  userId?: string;
}): string {
  const ws = t.ws ?? t;
  const where = ws.teamId ?? `org ${ws.enterpriseId ?? "-"}`;
  return t.userId === undefined ? `${where} (bot)` : `${t.userId} in ${where}`;
}
