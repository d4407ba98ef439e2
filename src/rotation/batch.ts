/**
 * Whole-store operations for admin tools and cron: {@link rotateExpiringTokens} refreshes every token
 * that expires within a window, {@link convertToRotatingTokens} converts every long-lived token once.
 * Both go through {@link RotationCoordinator}, so several copies may run at once (cron on several hosts)
 * and each token is still refreshed (or converted) exactly once.
 */

import { rejectRenamedClock } from "../clock.js";
import { ConfigError, SlackOAuthError } from "../errors.js";
import { redact } from "../redact.js";
import type { InstallationStore, WorkspaceQuery } from "../stores/installation-store.js";
import { RotationCoordinator, type RotationStatus } from "./coordinator.js";
import { type TokenFamily, TokenRefreshError } from "./errors.js";
import { TokenRotator, type TokenRotatorOptions } from "./token-rotator.js";

/**
 * One token a batch looked at (ids and times only: never a token).
 *
 * @example
 * ```ts
 * const item: RotationItem = { kind: "bot", teamId: "T0123", isEnterpriseInstall: false, status: "refreshed" };
 * ```
 */
export interface RotationItem {
  kind: TokenFamily;
  enterpriseId?: string;
  teamId?: string;
  userId?: string;
  isEnterpriseInstall: boolean;
  /** Epoch seconds at which the token expired (or expires), as listed. */
  expiresAt?: number;
  /** What happened; `due` in a dry run (would be refreshed / converted). */
  status: RotationStatus | "failed" | "due";
  /** Why it failed (no secrets). */
  error?: { code: string; reason?: string; slackError?: string; retryable?: boolean; message: string };
}

/**
 * What a batch did.
 *
 * @example
 * ```ts
 * const report: BatchReport = await rotateExpiringTokens({ installationStore: store, rotator });
 * if (report.failed > 0) process.exitCode = 1;
 * ```
 */
export interface BatchReport {
  /** Workspaces (and orgs) listed. */
  workspaces: number;
  /** Tokens of the kind the batch handles (rotating for rotation, long-lived for conversion). */
  tokens: number;
  /** Tokens that needed work (expiring within the window; long-lived). */
  due: number;
  /** How many ended in each status. */
  counts: Partial<Record<RotationItem["status"], number>>;
  /** How many failed (also `counts.failed`). */
  failed: number;
  /** One entry per due token, in listing order. */
  items: RotationItem[];
}

/**
 * Options shared by the batch operations. Give a `coordinator`, or a `rotator`, or the client
 * credentials (a rotator is built from them).
 *
 * @example
 * ```ts
 * const options: BatchOptions = { installationStore: store, clientId, clientSecret, concurrency: 8 };
 * ```
 */
export interface BatchOptions extends Partial<TokenRotatorOptions> {
  installationStore: InstallationStore;
  rotator?: TokenRotator | undefined;
  coordinator?: RotationCoordinator | undefined;
  /** Only this enterprise (and team). */
  filter?: WorkspaceQuery | undefined;
  /**
   * Tokens handled at once.
   *
   * @default 4
   */
  concurrency?: number | undefined;
  /** List what would be done, do nothing. */
  dryRun?: boolean | undefined;
  /** Called after each token (and once with 0 done before the first), e.g. for a progress bar. */
  onProgress?: ((done: number, total: number, item: RotationItem | undefined) => void) | undefined;
  lockTimeoutMs?: number | undefined;
}

/**
 * Options of {@link rotateExpiringTokens}.
 *
 * @example
 * ```ts
 * const options: RotateExpiringOptions = { installationStore: store, rotator, windowSeconds: 7200 };
 * ```
 */
export interface RotateExpiringOptions extends BatchOptions {
  /** Refresh tokens expiring within this many seconds (default: the rotator's window, 2 h). */
  windowSeconds?: number | undefined;
}

/** A token to handle: where it is and what the listing saw. */
interface Job {
  item: RotationItem;
  run: () => Promise<RotationStatus>;
}

function coordinatorOf(options: BatchOptions): RotationCoordinator {
  if (options.coordinator) return options.coordinator;
  const rotator =
    options.rotator ??
    (options.clientId !== undefined && options.clientSecret !== undefined
      ? new TokenRotator({ ...options, clientId: options.clientId, clientSecret: options.clientSecret })
      : undefined);
  if (rotator === undefined) throw new ConfigError("a rotator (or clientId and clientSecret) is required");
  return new RotationCoordinator({
    installationStore: options.installationStore,
    rotator,
    lockTimeoutMs: options.lockTimeoutMs,
    logger: options.logger,
  });
}

async function list(options: BatchOptions) {
  return options.installationStore.listWorkspaces(options.filter);
}

function where(w: { enterpriseId?: string; teamId?: string; isEnterpriseInstall: boolean }) {
  const out: { enterpriseId?: string; teamId?: string; isEnterpriseInstall: boolean } = {
    isEnterpriseInstall: w.isEnterpriseInstall,
  };
  if (w.enterpriseId !== undefined) out.enterpriseId = w.enterpriseId;
  if (w.teamId !== undefined) out.teamId = w.teamId;
  return out;
}

/**
 * Refreshes every rotating token of the store that expires within the window (bot tokens and each
 * user's token), `concurrency` at a time. Each token goes through {@link RotationCoordinator}: lock,
 * re-read, refresh, compare-and-set; a token another process refreshed meanwhile is reported as
 * `refreshed_elsewhere` and not refreshed again. Failures are reported per token (never thrown);
 * the report's `failed` counts them.
 *
 * @example
 * ```ts
 * const report = await rotateExpiringTokens({ installationStore: store, clientId, clientSecret });
 * console.log(report.counts.refreshed ?? 0, "refreshed;", report.failed, "failed");
 * ```
 * @see https://docs.slack.dev/authentication/using-token-rotation
 */
export async function rotateExpiringTokens(options: RotateExpiringOptions): Promise<BatchReport> {
  rejectRenamedClock(options, "rotateExpiringTokens", { now: "nowMs" });
  const coordinator =
    options.dryRun && !options.coordinator && !options.rotator && !options.clientId
      ? undefined
      : coordinatorOf(options);
  const window = options.windowSeconds ?? coordinator?.rotator.windowSeconds ?? 7200;
  const now = coordinator ? coordinator.rotator.nowSeconds() : (options.nowMs ?? Date.now)() / 1000;
  const expiring = (exp: number | undefined) => exp !== undefined && exp - now <= window;
  const workspaces = await list(options);
  let tokens = 0;
  const jobs: Job[] = [];
  for (const w of workspaces) {
    const ws = where(w);
    const bot = w.bot;
    if (bot?.botRefreshToken !== undefined) {
      tokens++;
      if (expiring(bot.botTokenExpiresAt)) {
        const seen = bot.botRefreshToken;
        const item: RotationItem = { kind: "bot", ...ws, status: "due" };
        if (bot.botTokenExpiresAt !== undefined) item.expiresAt = bot.botTokenExpiresAt;
        jobs.push({
          item,
          run: async () =>
            (await coordinator!.refreshBot(ws, { seenRefreshToken: seen, windowSeconds: window })).status,
        });
      }
    }
    for (const inst of w.installations) {
      if (inst.userToken === undefined || inst.userRefreshToken === undefined) continue;
      tokens++;
      if (!expiring(inst.userTokenExpiresAt)) continue;
      const seen = inst.userRefreshToken;
      const userId = inst.userId;
      const item: RotationItem = { kind: "user", ...ws, userId, status: "due" };
      if (inst.userTokenExpiresAt !== undefined) item.expiresAt = inst.userTokenExpiresAt;
      jobs.push({
        item,
        run: async () =>
          (await coordinator!.refreshUser({ ...ws, userId }, { seenRefreshToken: seen, windowSeconds: window })).status,
      });
    }
  }
  return runJobs(jobs, workspaces.length, tokens, options);
}

/**
 * Options of {@link convertToRotatingTokens}.
 *
 * @example
 * ```ts
 * const options: ConvertOptions = { installationStore: store, clientId, clientSecret, dryRun: true };
 * ```
 */
export interface ConvertOptions extends BatchOptions {}

/**
 * Converts every long-lived token of the store (bot tokens and users' tokens without a refresh token)
 * into rotating ones with `oauth.v2.exchange`, once: turn token rotation on in the app's settings
 * first (Slack answers `token_rotation_not_enabled` otherwise). Each conversion takes the token's lock
 * and compares the old token before writing, so it is safe to run while the app serves requests and
 * from several hosts at once. Failures are reported per token.
 *
 * @example
 * ```ts
 * const report = await convertToRotatingTokens({ installationStore: store, clientId, clientSecret });
 * console.log(`${report.counts.converted ?? 0} converted, ${report.failed} failed`);
 * ```
 * @see https://docs.slack.dev/reference/methods/oauth.v2.exchange
 */
export async function convertToRotatingTokens(options: ConvertOptions): Promise<BatchReport> {
  const coordinator =
    options.dryRun && !options.coordinator && !options.rotator && !options.clientId
      ? undefined
      : coordinatorOf(options);
  const workspaces = await list(options);
  const longLived = (token: string | undefined, refresh: string | undefined) =>
    token !== undefined && refresh === undefined && !token.startsWith("xoxe.");
  let tokens = 0;
  const jobs: Job[] = [];
  for (const w of workspaces) {
    const ws = where(w);
    if (w.bot && longLived(w.bot.botToken, w.bot.botRefreshToken)) {
      tokens++;
      jobs.push({
        item: { kind: "bot", ...ws, status: "due" },
        run: async () => (await coordinator!.convertBot(ws)).status,
      });
    }
    for (const inst of w.installations) {
      if (!longLived(inst.userToken, inst.userRefreshToken)) continue;
      tokens++;
      const userId = inst.userId;
      jobs.push({
        item: { kind: "user", ...ws, userId, status: "due" },
        run: async () => (await coordinator!.convertUser({ ...ws, userId })).status,
      });
    }
  }
  return runJobs(jobs, workspaces.length, tokens, options);
}

async function runJobs(jobs: Job[], workspaces: number, tokens: number, options: BatchOptions): Promise<BatchReport> {
  const report: BatchReport = { workspaces, tokens, due: jobs.length, counts: {}, failed: 0, items: [] };
  report.items = jobs.map((j) => j.item);
  const count = (status: RotationItem["status"]) => {
    report.counts[status] = (report.counts[status] ?? 0) + 1;
  };
  if (options.dryRun) {
    for (const j of jobs) count(j.item.status);
    return report;
  }
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new ConfigError("concurrency must be a positive integer");
  let next = 0;
  let done = 0;
  options.onProgress?.(0, jobs.length, undefined);
  const worker = async () => {
    for (let i = next++; i < jobs.length; i = next++) {
      const job = jobs[i] as Job;
      try {
        job.item.status = await job.run();
      } catch (error) {
        job.item.status = "failed";
        job.item.error = describeError(error);
      }
      count(job.item.status);
      if (job.item.status === "failed") report.failed++;
      options.onProgress?.(++done, jobs.length, job.item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, jobs.length)) }, worker));
  return report;
}

function describeError(error: unknown): NonNullable<RotationItem["error"]> {
  if (error instanceof TokenRefreshError) {
    const out: NonNullable<RotationItem["error"]> = {
      code: error.code,
      reason: error.reason,
      retryable: error.retryable,
      message: error.message,
    };
    if (error.slackError !== undefined) out.slackError = error.slackError;
    return out;
  }
  if (error instanceof SlackOAuthError) return { code: error.code, message: redact(error.message) };
  return { code: "UNKNOWN", message: redact(error instanceof Error ? error.message : String(error)) };
}
