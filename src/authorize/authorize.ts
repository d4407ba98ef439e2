import {
  ConfigError,
  EncryptionError,
  ErrorCode,
  InvalidArgumentError,
  SlackOAuthError,
  StoreError,
} from "../errors.js";
import {
  type AuthorizeCacheResult,
  type AuthorizeOutcome,
  bindMetrics,
  type MetricsOptions,
} from "../metrics/hooks.js";
import type { Bot, Installation } from "../model/installation.js";
import { missingScopes, type RequiredScopes } from "../model/scopes.js";
import type { Logger } from "../redact.js";
import { RotationCoordinator } from "../rotation/coordinator.js";
import { type TokenFamily, TokenRefreshError } from "../rotation/errors.js";
import { TokenRotator, type TokenRotatorOptions } from "../rotation/token-rotator.js";
import { CachingInstallationStore } from "../stores/cache.js";
import { type BotQuery, type InstallationStore, isValidId } from "../stores/installation-store.js";
import type { AuthorizeContext } from "./context.js";

/**
 * What a request handler needs to call Slack on behalf of an installation.
 *
 * @example
 * ```ts
 * const { botToken, userToken } = await authorize(context);
 * const token = userToken ?? botToken; // act as the user when they granted user scopes
 * ```
 */
export interface AuthorizeResult {
  enterpriseId?: string | undefined;
  /** The request's workspace (for org-wide installs: the workspace the request came from). */
  teamId?: string | undefined;
  /** The requesting user, when the request names one. */
  userId?: string | undefined;
  isEnterpriseInstall: boolean;
  appId?: string | undefined;
  /** The workspace's (or org's) bot token; absent for user-token-only installs. */
  botToken?: string | undefined;
  botId?: string | undefined;
  botUserId?: string | undefined;
  botScopes: string[];
  /** Epoch seconds at which `botToken` expires (token rotation). */
  botTokenExpiresAt?: number | undefined;
  /** The requesting user's own token, only when that very user installed with user scopes. */
  userToken?: string | undefined;
  userScopes: string[];
  /** Epoch seconds at which `userToken` expires (token rotation). */
  userTokenExpiresAt?: number | undefined;
  /**
   * With {@link AuthorizeOptions.requiredScopes}: the configured bot scopes the bot was not granted
   * (empty when it has them all). A non-empty list means the workspace needs a reinstall for them.
   */
  missingBotScopes?: string[] | undefined;
  /**
   * With {@link AuthorizeOptions.requiredScopes}: the configured user scopes that `userToken` was not
   * granted (empty when there is no user token: the user never authorized, nothing to reinstall).
   */
  missingUserScopes?: string[] | undefined;
  /**
   * With `userTokenResolution: "actor"`: where the acting user's own installation (the one `userToken`
   * comes from) was found, when it is another workspace than the request's (Slack Connect).
   */
  actorTeamId?: string | undefined;
  /** With `userTokenResolution: "actor"`: the acting user's org, when known and another than the request's. */
  actorEnterpriseId?: string | undefined;
}

/**
 * No installation matches the request: the app is not installed there, was uninstalled, or the request
 * names no workspace a store could hold. Distinct from `StoreError` (the store failed: try again later).
 *
 * @example
 * ```ts
 * try {
 *   await authorize(context);
 * } catch (e) {
 *   if (e instanceof NotInstalledError) return "Please install this app first!";
 *   throw e;
 * }
 * ```
 */
export class NotInstalledError extends SlackOAuthError {
  constructor(message = "The app is not installed on this workspace") {
    super(ErrorCode.NotInstalled, message, { status: 404 });
  }
}

/**
 * Options of {@link createAuthorize}.
 *
 * @example
 * ```ts
 * const options: AuthorizeOptions = { installationStore: new CachingInstallationStore(store) };
 * ```
 */
export interface AuthorizeOptions {
  /**
   * Where installations live. Wrap it in `CachingInstallationStore` for the hot path, and give the very
   * same object to the events handler so that uninstalls drop the cached tokens.
   */
  installationStore: InstallationStore;
  /**
   * Token rotation: tokens that expire within the window (default 2 h) are refreshed before they are
   * returned — once per token across concurrent requests and processes (see {@link AuthorizeRotationOptions}).
   * Give the app's client credentials (a `TokenRotator` is built from them), a `TokenRotator`, or a
   * `RotationCoordinator` built on this same store. Without it, stored tokens are returned as they are.
   */
  rotation?: AuthorizeRotationOptions | TokenRotator | RotationCoordinator | undefined;
  /**
   * The app's configured scopes (the lists its authorize URL asks for). When given, every result says
   * which of them the installation lacks (`missingBotScopes`, `missingUserScopes`): an app that added a
   * scope can answer "please reinstall" instead of failing on Slack's `missing_scope`.
   */
  requiredScopes?: RequiredScopes | undefined;
  /**
   * Whose user token `userToken` is:
   * - `"requester"`: the requesting user's own token in the installation's workspace (or org), only when
   *   that very user installed there with user scopes;
   * - `"actor"`: the acting user's token from their own workspace's (or org's) installation: the
   *   context's `actorTeamId` / `actorEnterpriseId` (from `event.user_team`, `user.team_id`, …), so that in
   *   a Slack Connect channel a user of another organisation who installed the app there with user
   *   scopes gets their own token. Falls back to the request's workspace when the payload names none.
   *   None when the actor has no installation with user scopes.
   *
   * The bot token is the request's installation's either way.
   *
   * @default "requester"
   */
  userTokenResolution?: "requester" | "actor" | undefined;
  /**
   * Reports every call (cache hit or miss, outcome, seconds) and, for the coordinator built from
   * `rotation` options or a `TokenRotator`, every token refresh. Nothing is timed without it.
   */
  metrics?: MetricsOptions | undefined;
}

/**
 * Token rotation in `authorize`: the rotator's options plus how to coordinate and what to do when a
 * refresh fails.
 *
 * When a refresh fails (Slack down, `invalid_refresh_token`, lock timeout), the current token is still
 * returned if it stays valid for at least `minValiditySeconds`: a request should not fail while a usable
 * token exists, and the refresh is retried after `retryAfterFailureSeconds`. The error is not lost: it
 * goes to `onError` (and the logger). Once the token has expired (or is about to), the error is thrown
 * to the caller instead — an expired token is never handed out.
 *
 * @example
 * ```ts
 * const authorize = createAuthorize({
 *   installationStore: store,
 *   rotation: { clientId, clientSecret, windowSeconds: 7200, onError: (e) => metrics.increment(e.code) },
 * });
 * ```
 */
export interface AuthorizeRotationOptions extends TokenRotatorOptions {
  /**
   * How long a request waits for another process's refresh of the same token.
   *
   * @default 10 s
   */
  lockTimeoutMs?: number | undefined;
  /**
   * Lease of a lock whose holder died.
   *
   * @default 60 s
   */
  lockLeaseMs?: number | undefined;
  /**
   * After a failed refresh, the current token is returned only if valid at least this long.
   *
   * @default 60 s
   */
  minValiditySeconds?: number | undefined;
  /**
   * After a failed refresh, requests use the still-valid token without retrying for this long.
   *
   * @default 30 s
   */
  retryAfterFailureSeconds?: number | undefined;
  /** Told about every failed refresh, including those answered with the still-valid token. */
  onError?: ((error: SlackOAuthError, info: RotationFailureInfo) => void) | undefined;
}

/**
 * What {@link AuthorizeRotationOptions.onError} is told besides the error.
 *
 * @example
 * ```ts
 * const onError = (e: SlackOAuthError, info: RotationFailureInfo) => console.warn(e.code, info.kind, info.usedCurrentToken);
 * ```
 */
export interface RotationFailureInfo {
  kind: TokenFamily;
  enterpriseId?: string | undefined;
  teamId?: string | undefined;
  userId?: string | undefined;
  /** True when the still-valid current token was returned; false when the error was thrown. */
  usedCurrentToken: boolean;
}

/**
 * Looks up the tokens for a request context.
 *
 * @example
 * ```ts
 * const authorize: AuthorizeFn = createAuthorize({ installationStore: store });
 * ```
 */
export type AuthorizeFn = (context: AuthorizeContext) => Promise<AuthorizeResult>;

/**
 * Builds `authorize(context)`: finds the installation for a request's enterprise / team / user and returns
 * its bot token, and the user's own token when that user installed with user scopes (another user of the
 * same workspace gets the bot token only). Org-wide installs are found by `enterpriseId` for any `teamId`
 * when `isEnterpriseInstall` is true.
 *
 * Throws {@link NotInstalledError} when nothing matches (including contexts no store could match: no
 * team and no enterprise, malformed ids) and `StoreError` (with the store's error as `cause`) when the
 * store fails — never confuse the two: the first means "ask to install", the second "try again".
 *
 * @example
 * ```ts
 * const authorize = createAuthorize({ installationStore: new CachingInstallationStore(store) });
 * const { botToken } = await authorize({ teamId: "T0123", userId: "U0123", isEnterpriseInstall: false });
 * ```
 * @see https://docs.slack.dev/authentication/installing-with-oauth
 */
export function createAuthorize(options: AuthorizeOptions): AuthorizeFn {
  const store = options?.installationStore;
  if (store === null || typeof store !== "object" || typeof store.findBot !== "function") {
    throw new ConfigError("createAuthorize: installationStore is required");
  }
  const rotate = options.rotation === undefined ? undefined : rotationStep(store, options.rotation, options.metrics);
  const resolution = options.userTokenResolution ?? "requester";
  if (resolution !== "requester" && resolution !== "actor")
    throw new ConfigError('createAuthorize: userTokenResolution must be "requester" or "actor"');
  const required = checkRequiredScopes(options.requiredScopes);
  // A store written before team access existed cannot have recorded a revocation: nothing to check.
  const teamAccess = typeof store.findTeamAccess === "function";
  const onAuthorize = bindMetrics(options.metrics, "createAuthorize")?.authorize;
  const fast = store instanceof CachingInstallationStore ? store : undefined;
  // A subclass that changes how lookups are answered keeps being asked on every call.
  const peek =
    fast !== undefined &&
    fast.findForAuthorize === CachingInstallationStore.prototype.findForAuthorize &&
    fast.peekForAuthorize === CachingInstallationStore.prototype.peekForAuthorize;
  /**
   * `probe` is given only when a metrics hook listens: it learns whether the cache answered, and the call
   * is reported from inside (a wrapper around the promise would cost more than the rest of a cache hit).
   */
  const lookup = async (context: AuthorizeContext, probe: Probe | undefined): Promise<AuthorizeResult> => {
    try {
      if (context === null || typeof context !== "object") {
        throw new InvalidArgumentError(
          "authorize: expected a context { enterpriseId?, teamId?, userId?, isEnterpriseInstall }",
        );
      }
      const query = lookupQuery(context);
      if (query === undefined) {
        throw new NotInstalledError("The app is not installed here: the request names no workspace or org");
      }
      // A user id no store would accept cannot have an installation of its own: look up the bot only.
      const userId = isValidId(context.userId) ? context.userId : undefined;
      let bot: Bot | undefined;
      let mine: Installation | undefined;
      try {
        if (fast !== undefined) {
          // One cache entry, no copies: the result below copies what it hands out.
          // A hit costs no promise of its own.
          let found = peek ? fast.peekForAuthorize(query, userId) : undefined;
          if (probe !== undefined) probe.cache = found !== undefined ? "hit" : peek ? "miss" : "none";
          found ??= await fast.findForAuthorize(query, userId);
          bot = found.bot as Bot | undefined;
          mine = found.own as Installation | undefined;
        } else {
          [bot, mine] = await Promise.all([
            store.findBot(query),
            userId !== undefined ? store.findInstallation({ ...query, userId }) : undefined,
          ]);
        }
      } catch (error) {
        // A token that does not decrypt (wrong key) keeps its code and key id for the log line.
        if (error instanceof StoreError || error instanceof InvalidArgumentError || error instanceof EncryptionError)
          throw error;
        throw new StoreError("authorize: the installation store failed", { cause: error });
      }
      // Only the requesting user's own installation gives a user token (stores answer per user, but a
      // custom store falling back to "the latest installation" must not hand out someone else's token).
      let own = mine !== undefined && mine.userId === userId && mine.userToken ? mine : undefined;
      if (bot === undefined && own === undefined) throw new NotInstalledError();
      // An org-wide install answers for the org's workspaces until an org admin removes one.
      if (teamAccess && query.isEnterpriseInstall === true && query.enterpriseId !== undefined) {
        const teamId = context.teamId;
        const cached = peek ? fast?.peekTeamAccess(query.enterpriseId) : undefined;
        const revoked = cached !== undefined ? cached.revoked.includes(teamId ?? "") : undefined;
        if (
          teamId &&
          teamId !== query.enterpriseId &&
          (revoked ?? (await revokedTeam(store, query.enterpriseId, teamId)))
        ) {
          throw new NotInstalledError("The app's org-wide installation no longer has access to this workspace");
        }
      }
      // The acting user's own token, from their own workspace's installation (Slack Connect).
      let userQuery: BotQuery = query;
      if (resolution === "actor" && userId !== undefined) {
        const actor = await actorInstallation(store, context, query, userId, teamAccess);
        if (actor !== undefined) {
          userQuery = actor.query;
          own = actor.installation;
        }
      }
      // The hot path pays two comparisons per token; only a token that is due goes any further.
      if (rotate !== undefined && (rotate.due("bot", bot) || rotate.due("user", own))) {
        [bot, own] = await Promise.all([rotate.bot(query, bot), rotate.user(userQuery, own)]);
        if (bot === undefined && own === undefined) throw new NotInstalledError();
      }

      const result: AuthorizeResult = {
        isEnterpriseInstall: query.isEnterpriseInstall === true,
        botScopes: bot ? [...bot.botScopes] : [],
        userScopes: own ? [...own.userScopes] : [],
      };
      const enterpriseId = query.enterpriseId ?? bot?.enterpriseId ?? own?.enterpriseId;
      if (enterpriseId) result.enterpriseId = enterpriseId;
      const teamId = context.teamId || bot?.teamId || own?.teamId;
      if (teamId) result.teamId = teamId;
      if (context.userId) result.userId = context.userId;
      const appId = bot?.appId ?? own?.appId;
      if (appId) result.appId = appId;
      if (bot) {
        result.botToken = bot.botToken;
        if (bot.botId) result.botId = bot.botId;
        if (bot.botUserId) result.botUserId = bot.botUserId;
        if (bot.botTokenExpiresAt !== undefined) result.botTokenExpiresAt = bot.botTokenExpiresAt;
      }
      if (own?.userToken) {
        result.userToken = own.userToken;
        if (own.userTokenExpiresAt !== undefined) result.userTokenExpiresAt = own.userTokenExpiresAt;
        if (userQuery !== query) {
          if (userQuery.teamId) result.actorTeamId = userQuery.teamId;
          if (userQuery.enterpriseId && userQuery.enterpriseId !== result.enterpriseId)
            result.actorEnterpriseId = userQuery.enterpriseId;
        }
      }
      if (required !== undefined) {
        result.missingBotScopes = missingScopes(bot?.botScopes ?? [], required.bot);
        result.missingUserScopes = own?.userToken ? missingScopes(own.userScopes, required.user) : [];
      }
      if (probe !== undefined) report(probe, "ok");
      return result;
    } catch (error) {
      if (probe !== undefined) report(probe, error instanceof NotInstalledError ? "not_installed" : "error");
      throw error;
    }
  };
  /** Tells the hook how a measured call ended (only when one listens). */
  const report = (probe: Probe, outcome: AuthorizeOutcome) =>
    onAuthorize?.(probe.cache, outcome, (performance.now() - probe.started) / 1000);
  if (onAuthorize === undefined) return (context) => lookup(context, undefined);
  return (context) => lookup(context, { cache: "none", started: performance.now() });
}

/** Validates `requiredScopes` once, at construction (a copy, so later changes to the caller's arrays do not count). */
function checkRequiredScopes(value: RequiredScopes | undefined): { bot: string[]; user: string[] } | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== "object")
    throw new ConfigError("createAuthorize: requiredScopes must be { bot?: string[], user?: string[] }");
  const list = (v: unknown, name: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || s === ""))
      throw new ConfigError(`createAuthorize: requiredScopes.${name} must be an array of scope names`);
    return [...(v as string[])];
  };
  return { bot: list(value.bot, "bot"), user: list(value.user, "user") };
}

/** True when the org's recorded access says `teamId` was removed from its org-wide install. */
async function revokedTeam(store: InstallationStore, enterpriseId: string, teamId: string): Promise<boolean> {
  let revoked: readonly string[];
  try {
    revoked = (await store.findTeamAccess(enterpriseId)).revoked;
  } catch (error) {
    if (error instanceof StoreError || error instanceof EncryptionError) throw error;
    throw new StoreError("authorize: the installation store failed", { cause: error });
  }
  return revoked.includes(teamId);
}

/**
 * The acting user's own installation with a user token, looked up in the actor's workspace (then, for a
 * Grid actor, their org's org-wide installation, unless an org admin removed the actor's workspace from
 * it); `undefined` when the payload names no other workspace (the request's lookup already answered) or
 * the actor has none.
 */
async function actorInstallation(
  store: InstallationStore,
  context: AuthorizeContext,
  query: BotQuery,
  userId: string,
  teamAccess: boolean,
): Promise<{ query: BotQuery; installation: Installation | undefined } | undefined> {
  const teamId = isValidId(context.actorTeamId) ? context.actorTeamId : undefined;
  const enterpriseId = isValidId(context.actorEnterpriseId) ? context.actorEnterpriseId : undefined;
  if (teamId === undefined && enterpriseId === undefined) return undefined;
  const candidates: BotQuery[] = [];
  if (teamId !== undefined) {
    candidates.push(
      enterpriseId === undefined
        ? { teamId, isEnterpriseInstall: false }
        : { enterpriseId, teamId, isEnterpriseInstall: false },
    );
  }
  if (enterpriseId !== undefined) candidates.push({ enterpriseId, isEnterpriseInstall: true });
  const same = (q: BotQuery) =>
    q.isEnterpriseInstall === query.isEnterpriseInstall &&
    (q.enterpriseId ?? "") === (query.enterpriseId ?? "") &&
    (q.isEnterpriseInstall === true || (q.teamId ?? "") === (query.teamId ?? ""));
  // The request's own workspace was already asked: nothing more to find there.
  if (candidates.every(same)) return undefined;
  for (const q of candidates) {
    let found: Installation | undefined;
    try {
      found = await store.findInstallation({ ...q, userId });
    } catch (error) {
      if (error instanceof StoreError || error instanceof InvalidArgumentError || error instanceof EncryptionError)
        throw error;
      throw new StoreError("authorize: the installation store failed", { cause: error });
    }
    if (found === undefined || found.userId !== userId || !found.userToken) continue;
    // As for the bot: an org-wide installation no longer answers for a workspace an org admin removed.
    const org = found.enterpriseId ?? q.enterpriseId;
    if (
      teamAccess &&
      teamId !== undefined &&
      (found.isEnterpriseInstall === true || q.isEnterpriseInstall === true) &&
      org !== undefined &&
      teamId !== org &&
      (await revokedTeam(store, org, teamId))
    )
      continue;
    return { query: q, installation: found };
  }
  // The actor has no installation with user scopes of their own: no user token, not the requester's.
  return { query: candidates[0] as BotQuery, installation: undefined };
}

/** What one measured `authorize` call learns on its way (only when a metrics hook listens). */
interface Probe {
  cache: AuthorizeCacheResult;
  /** `performance.now()` when the call started. */
  started: number;
}

/**
 * The store query for a context, or `undefined` when no installation can match it: no team and no
 * enterprise, an org-wide context without its org, or ids that no store accepts (stores validate ids on
 * save, so such an installation cannot exist). Contexts come from request payloads: "not installed" is
 * the right answer for them, not a bad-argument error.
 */
function lookupQuery(context: AuthorizeContext): BotQuery | undefined {
  const enterpriseId = context.enterpriseId || undefined;
  const teamId = context.teamId || undefined;
  if (enterpriseId !== undefined && !isValidId(enterpriseId)) return undefined;
  // Org-wide: the org alone identifies the installation, whatever workspace the request came from. An
  // org without a workspace is looked up the same way (every store reads "no team" as the org).
  if (context.isEnterpriseInstall === true || teamId === undefined) {
    return enterpriseId === undefined ? undefined : { enterpriseId, isEnterpriseInstall: true };
  }
  if (!isValidId(teamId)) return undefined;
  return enterpriseId === undefined
    ? { teamId, isEnterpriseInstall: false }
    : { enterpriseId, teamId, isEnterpriseInstall: false };
}

/** The rotation step of `authorize`: refreshes what expires soon, falls back as documented. */
function rotationStep(
  store: InstallationStore,
  rotation: AuthorizeRotationOptions | TokenRotator | RotationCoordinator,
  metrics: MetricsOptions | undefined,
): {
  due(kind: TokenFamily, value: Bot | Installation | undefined): boolean;
  bot(q: BotQuery, bot: Bot | undefined): Promise<Bot | undefined>;
  user(q: BotQuery, own: Installation | undefined): Promise<Installation | undefined>;
} {
  if (rotation === null || typeof rotation !== "object")
    throw new ConfigError("createAuthorize: rotation must be options, a TokenRotator or a RotationCoordinator");
  const opts: Partial<AuthorizeRotationOptions> =
    rotation instanceof TokenRotator || rotation instanceof RotationCoordinator ? {} : rotation;
  const coordinator =
    rotation instanceof RotationCoordinator
      ? rotation
      : new RotationCoordinator({
          installationStore: store,
          rotator: rotation instanceof TokenRotator ? rotation : new TokenRotator(rotation),
          lockTimeoutMs: opts.lockTimeoutMs,
          lockLeaseMs: opts.lockLeaseMs,
          logger: opts.logger,
          metrics,
        });
  const rotator = coordinator.rotator;
  const minValidity = opts.minValiditySeconds ?? 60;
  const retryAfterMs = (opts.retryAfterFailureSeconds ?? 30) * 1000;
  const logger: Logger | undefined = opts.logger;
  /** Token families whose last refresh failed: no retry before the time stored (epoch ms). */
  const failed = new Map<string, number>();

  const report = (error: SlackOAuthError, info: RotationFailureInfo) => {
    logger?.warn(`authorize: ${error.message}${info.usedCurrentToken ? "; using the current token meanwhile" : ""}`);
    try {
      opts.onError?.(error, info);
    } catch {
      // a failing reporter must not change what the request gets
    }
  };

  async function step<T extends Bot | Installation>(
    kind: TokenFamily,
    q: BotQuery,
    value: T,
    refresh: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const v = value as Partial<Installation>;
    const [token, refreshToken, expiresAt] =
      kind === "bot"
        ? [v.botToken, v.botRefreshToken, v.botTokenExpiresAt]
        : [v.userToken, v.userRefreshToken, v.userTokenExpiresAt];
    const owner = { enterpriseId: q.enterpriseId, teamId: q.teamId, userId: kind === "user" ? v.userId : undefined };
    if (token === undefined) return value;
    if (refreshToken === undefined) {
      // Long-lived (no expiry) or an expired token without a way to renew it: never hand that out.
      if (rotator.isValid(expiresAt)) return value;
      const error = new TokenRefreshError({ ...owner, kind, reason: "no_refresh_token", tokenExpired: true });
      report(error, { kind, ...owner, usedCurrentToken: false });
      throw error;
    }
    if (!rotator.expiresWithin(expiresAt)) return value;
    const key = RotationCoordinator.lockKey(kind, q, owner.userId);
    const usable = rotator.isValid(expiresAt, minValidity);
    const until = failed.get(key);
    if (usable && until !== undefined && Date.now() < until) return value;
    try {
      const fresh = await refresh();
      failed.delete(key);
      return fresh;
    } catch (e) {
      const error = e instanceof SlackOAuthError ? e : new StoreError("authorize: token rotation failed", { cause: e });
      if (usable) {
        if (failed.size > 10_000) failed.clear();
        failed.set(key, Date.now() + retryAfterMs);
        report(error, { kind, ...owner, usedCurrentToken: true });
        return value;
      }
      const thrown = error instanceof TokenRefreshError ? error.withExpiredToken() : error;
      report(thrown, { kind, ...owner, usedCurrentToken: false });
      throw thrown;
    }
  }

  return {
    /** True when the token must be refreshed, or checked because it has expired. */
    due: (kind, value) => {
      if (value === undefined) return false;
      const v = value as Partial<Installation>;
      const [token, refreshToken, expiresAt] =
        kind === "bot"
          ? [v.botToken, v.botRefreshToken, v.botTokenExpiresAt]
          : [v.userToken, v.userRefreshToken, v.userTokenExpiresAt];
      if (token === undefined || expiresAt === undefined) return false;
      return refreshToken === undefined ? !rotator.isValid(expiresAt) : rotator.expiresWithin(expiresAt);
    },
    bot: async (q, bot) => {
      if (bot === undefined) return undefined;
      return step("bot", q, bot, async () => {
        const r = await coordinator.refreshBot(q, { seenRefreshToken: bot.botRefreshToken });
        return checked("bot", q, r.bot);
      });
    },
    user: async (q, own) => {
      if (own === undefined) return undefined;
      return step("user", q, own, async () => {
        const r = await coordinator.refreshUser(
          { ...q, userId: own.userId },
          { seenRefreshToken: own.userRefreshToken },
        );
        return checked("user", q, r.installation);
      });
    },
  };

  /** What the coordinator returns is handed out only while valid (e.g. not a token that expired meanwhile). */
  function checked<T extends Bot | Installation>(kind: TokenFamily, q: BotQuery, value: T | undefined): T | undefined {
    if (value === undefined) return undefined;
    const v = value as Partial<Installation>;
    const exp = kind === "bot" ? v.botTokenExpiresAt : v.userTokenExpiresAt;
    if (rotator.isValid(exp)) return value;
    throw new TokenRefreshError({
      kind,
      reason: "no_refresh_token",
      tokenExpired: true,
      enterpriseId: q.enterpriseId,
      teamId: q.teamId,
      userId: kind === "user" ? v.userId : undefined,
    });
  }
}
