/**
 * {@link getWorkspaceToken}: a valid token for work that no request started (a cron job, a queue worker,
 * a scheduled message).
 */
import { NotInstalledError } from "../authorize/authorize.js";
import { CodedTypeError, ConfigError } from "../errors.js";
import type { Bot, Installation } from "../model/installation.js";
import { RotationCoordinator } from "../rotation/coordinator.js";
import { TokenRefreshError } from "../rotation/errors.js";
import { TokenRotator } from "../rotation/token-rotator.js";
import { type InstallationStore, normalizeQuery, partitionOf } from "../stores/installation-store.js";
import { requireStore } from "../stores/store-helpers.js";

/**
 * Options of {@link getWorkspaceToken}. Give a `coordinator`, or a `rotator`, or the client credentials;
 * without any, rotating tokens are returned as stored (and an expired one is refused). Reuse one options
 * object: the coordinator built from it is kept, so concurrent calls in the process share one refresh.
 *
 * @example
 * ```ts
 * const tokens: WorkspaceTokenOptions = { installationStore: store, clientId, clientSecret };
 * ```
 */
export interface WorkspaceTokenOptions {
  /** The store of the app (its client id): where the token is read and the refreshed one written. */
  installationStore: InstallationStore;
  /** Refreshes through it (one refresh per token across processes: the store's lock and compare-and-set). */
  coordinator?: RotationCoordinator | undefined;
  /** Builds a coordinator when no `coordinator` is given. */
  rotator?: TokenRotator | undefined;
  /** With `clientSecret` (and `apiUrl`): builds a rotator when neither `coordinator` nor `rotator` is given. */
  clientId?: string | undefined;
  /** See `clientId`. */
  clientSecret?: string | undefined;
  /**
   * Web API base URL of the rotator built from the credentials.
   *
   * @default `https://slack.com/api/`
   */
  apiUrl?: string | undefined;
  /**
   * Refresh a rotating token first when it expires within this many seconds.
   *
   * @default the rotator's window (7200)
   */
  refreshBeforeSeconds?: number | undefined;
  /**
   * Clock in epoch ms (to tell an expired token).
   *
   * @default `Date.now`
   */
  nowMs?: (() => number) | undefined;
}

/**
 * Which token {@link getWorkspaceToken} returns: the workspace's (or org's) bot token, or with `userId`
 * that user's user token.
 *
 * @example
 * ```ts
 * const q: WorkspaceTokenQuery = { enterpriseId: "E0123", teamId: "T0123", userId: "U0123" };
 * ```
 */
export interface WorkspaceTokenQuery {
  enterpriseId?: string | undefined;
  /**
   * The workspace. With `isEnterpriseInstall`, the org's workspace the work is for: one an org admin
   * removed from the org-wide install is `NotInstalledError`, as `authorize` answers.
   */
  teamId?: string | undefined;
  /** True for an org-wide install (found by `enterpriseId` alone). */
  isEnterpriseInstall?: boolean | undefined;
  /** That user's user token instead of the bot token. */
  userId?: string | undefined;
}

/**
 * A token {@link getWorkspaceToken} returned. Holds a secret: never log it.
 *
 * @example
 * ```ts
 * const { token, expiresAt } = await getWorkspaceToken(options, { teamId: "T0123" });
 * ```
 */
export interface WorkspaceToken {
  kind: "bot" | "user";
  /** The access token (`xoxb-…`, `xoxp-…`, `xoxe.…`). */
  token: string;
  /** Epoch seconds; absent for a token that does not expire. */
  expiresAt?: number;
  /**
   * True when the token was refreshed for this call: by it, or by a call of this process it shared the
   * refresh with (single flight). False when it was still valid, or another process had refreshed it.
   */
  refreshed: boolean;
  /** The bot's user id (bot tokens), e.g. to post as the bot. */
  botUserId?: string;
  /** The bot id (bot tokens). */
  botId?: string;
}

const coordinators = new WeakMap<WorkspaceTokenOptions, RotationCoordinator>();

function coordinatorOf(options: WorkspaceTokenOptions): RotationCoordinator | undefined {
  if (options.coordinator !== undefined) return options.coordinator;
  const kept = coordinators.get(options);
  if (kept !== undefined) return kept;
  let rotator = options.rotator;
  if (rotator === undefined && options.clientId !== undefined && options.clientSecret !== undefined)
    rotator = new TokenRotator({
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      apiUrl: options.apiUrl,
      nowMs: options.nowMs,
    });
  if (rotator === undefined) return undefined;
  const app = partitionOf(options.installationStore);
  if (app !== "" && rotator.clientId !== app)
    throw new ConfigError("getWorkspaceToken: the rotator's client id is not the store's app (client id)");
  const coordinator = new RotationCoordinator({ installationStore: options.installationStore, rotator });
  coordinators.set(options, coordinator);
  return coordinator;
}

/**
 * Returns a valid bot token (or, with `userId`, that user's user token) of one app's installation in a
 * workspace, for work outside any request. A rotating token that expires within `refreshBeforeSeconds` is
 * refreshed first, through {@link RotationCoordinator}: however many processes ask at once, the token is
 * refreshed once and every caller gets the new one. When the refresh fails but the stored token is still
 * valid, the stored token is returned (`refreshed: false`); when it has expired, the refresh's
 * `TokenRefreshError` is thrown. An expired token without a refresh token is never returned: that is a
 * `TokenRefreshError` (`SLACK_OAUTH_TOKEN_REFRESH_FAILED`, `reason: "no_refresh_token"`,
 * `tokenExpired: true`); only a reinstall helps. Throws `NotInstalledError` (`SLACK_OAUTH_NOT_INSTALLED`) when the app
 * has no such installation (or token), or when an org-wide install is asked for a workspace an org admin
 * removed from it (`teamId` with `isEnterpriseInstall`); `InvalidArgumentError` for a bad query.
 *
 * @example
 * ```ts
 * import { getWorkspaceToken } from "slack-oauth-kit/health";
 * const tokens = { installationStore: store, clientId, clientSecret }; // build once, reuse
 * const { token } = await getWorkspaceToken(tokens, { teamId: "T0123" });
 * await fetch("https://slack.com/api/chat.postMessage", {
 *   method: "POST",
 *   headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
 *   body: JSON.stringify({ channel: "C0123", text: "Nightly report" }),
 * });
 * ```
 * @see https://docs.slack.dev/authentication/using-token-rotation
 */
export async function getWorkspaceToken(
  options: WorkspaceTokenOptions,
  query: WorkspaceTokenQuery,
): Promise<WorkspaceToken> {
  if (options === null || typeof options !== "object")
    throw new CodedTypeError("getWorkspaceToken: options { installationStore } are required");
  const store = options.installationStore;
  if (store === null || typeof store !== "object")
    throw new ConfigError("getWorkspaceToken: installationStore is required");
  requireStore(store, "getWorkspaceToken");
  const window = options.refreshBeforeSeconds;
  if (window !== undefined && (typeof window !== "number" || !(window >= 0) || !Number.isFinite(window)))
    throw new CodedTypeError("getWorkspaceToken: refreshBeforeSeconds must be a non-negative number");
  const q = normalizeQuery({ ...query }, "getWorkspaceToken");
  const kind: "bot" | "user" = q.userId === undefined ? "bot" : "user";
  const coordinator = coordinatorOf(options);
  const now = () => (options.nowMs ?? Date.now)() / 1000;
  const ws = { enterpriseId: q.enterpriseId, teamId: q.teamId, isEnterpriseInstall: q.isEnterpriseInstall };

  let record: Bot | Installation | undefined =
    kind === "bot" ? await store.findBot(ws) : await store.findInstallation({ ...ws, userId: q.userId });
  if (kind === "user" && (record as Installation | undefined)?.userId !== q.userId) record = undefined;
  let current = tokensOf(kind, record);
  if (current === undefined) throw new NotInstalledError(notInstalled(kind, q));
  // As `authorize`: an org-wide install no longer answers for a workspace an org admin removed from it.
  if (
    q.isEnterpriseInstall === true &&
    q.enterpriseId !== undefined &&
    q.teamId !== undefined &&
    q.teamId !== q.enterpriseId &&
    typeof store.findTeamAccess === "function" &&
    (await store.findTeamAccess(q.enterpriseId)).revoked.includes(q.teamId)
  )
    throw new NotInstalledError(`The app's org-wide installation no longer has access to workspace ${q.teamId}`);

  let refreshed = false;
  const windowSeconds = window ?? coordinator?.rotator.windowSeconds;
  const due =
    current.refreshToken !== undefined &&
    current.expiresAt !== undefined &&
    windowSeconds !== undefined &&
    current.expiresAt - now() <= windowSeconds;
  if (due && coordinator !== undefined) {
    try {
      const r =
        kind === "bot"
          ? await coordinator.refreshBot(ws, { seenRefreshToken: current.refreshToken, windowSeconds })
          : await coordinator.refreshUser(
              { ...ws, userId: q.userId as string },
              { seenRefreshToken: current.refreshToken, windowSeconds },
            );
      const after = r.kind === "bot" ? r.bot : r.installation;
      if (r.status === "not_found" || after === undefined) throw new NotInstalledError(notInstalled(kind, q));
      const next = tokensOf(kind, after);
      if (next === undefined) throw new NotInstalledError(notInstalled(kind, q));
      refreshed = r.status === "refreshed";
      current = next;
      record = after;
    } catch (error) {
      // Still valid: the caller can work now; the next call (or the scheduler) tries again.
      if (!(error instanceof TokenRefreshError) || !(current.expiresAt !== undefined && current.expiresAt > now()))
        throw error instanceof TokenRefreshError ? error.withExpiredToken() : error;
    }
  }
  // Never hand out a token known to have expired.
  if (current.expiresAt !== undefined && current.expiresAt <= now()) {
    if (coordinator === undefined && current.refreshToken !== undefined)
      throw new ConfigError(
        "getWorkspaceToken: the token has expired and nothing can refresh it: give a coordinator, a rotator, or clientId and clientSecret",
      );
    // No refresh token (or a coordinator that answered with an expired one): only a reinstall helps.
    throw new TokenRefreshError({
      kind,
      reason: "no_refresh_token",
      tokenExpired: true,
      enterpriseId: q.enterpriseId,
      teamId: q.teamId,
      userId: kind === "user" ? q.userId : undefined,
    });
  }
  const out: WorkspaceToken = { kind, token: current.token, refreshed };
  if (current.expiresAt !== undefined) out.expiresAt = current.expiresAt;
  if (kind === "bot") {
    const bot = record as Bot;
    if (bot.botUserId !== undefined) out.botUserId = bot.botUserId;
    if (bot.botId !== undefined) out.botId = bot.botId;
  }
  return out;
}

function tokensOf(
  kind: "bot" | "user",
  r: Bot | Installation | undefined,
): { token: string; refreshToken?: string; expiresAt?: number } | undefined {
  if (r === undefined) return undefined;
  const [token, refreshToken, expiresAt] =
    kind === "bot"
      ? [r.botToken, r.botRefreshToken, r.botTokenExpiresAt]
      : [(r as Installation).userToken, (r as Installation).userRefreshToken, (r as Installation).userTokenExpiresAt];
  if (!token) return undefined;
  const out: { token: string; refreshToken?: string; expiresAt?: number } = { token };
  if (refreshToken) out.refreshToken = refreshToken;
  if (typeof expiresAt === "number") out.expiresAt = expiresAt;
  return out;
}

function notInstalled(kind: "bot" | "user", q: WorkspaceTokenQuery): string {
  const where = q.isEnterpriseInstall || !q.teamId ? `org ${q.enterpriseId ?? "-"}` : `workspace ${q.teamId}`;
  return kind === "bot"
    ? `The app has no bot token for ${where}`
    : `The app has no user token of ${q.userId ?? "-"} in ${where}`;
}
