/**
 * Bolt JS interop: present any of this library's `InstallationStore`s as Bolt's `installationStore`
 * (Bolt's nested installation shape, both ways), and `createAuthorize(...)` as Bolt's `authorize`.
 * The types below mirror `@slack/oauth`'s `Installation` / `InstallationQuery` and `@slack/bolt`'s
 * `Authorize` structurally, so this module needs neither package at runtime nor for its types.
 *
 * @example
 * ```ts
 * import { App } from "@slack/bolt";
 * import { toBoltInstallationStore } from "slack-oauth-kit/bolt";
 * import { SQLiteInstallationStore } from "slack-oauth-kit/stores/sqlite";
 *
 * const app = new App({
 *   signingSecret, clientId, clientSecret, stateSecret, scopes: ["commands"],
 *   installationStore: toBoltInstallationStore(new SQLiteInstallationStore({ filename: "./data/app.db" })),
 * });
 * ```
 */
import type { AuthorizeFn } from "../authorize/authorize.js";
import { ErrorCode, SlackOAuthError } from "../errors.js";
import type { Installation } from "../model/installation.js";
import type { InstallationStore } from "../stores/installation-store.js";

/** `@slack/oauth`'s `Installation` (the nested shape Bolt stores and fetches). Times are epoch seconds. */
export interface BoltInstallation {
  team: { id: string; name?: string } | undefined;
  enterprise: { id: string; name?: string } | undefined;
  user: {
    token: string | undefined;
    refreshToken?: string | undefined;
    expiresAt?: number | undefined;
    scopes: string[] | undefined;
    id: string;
  };
  bot?: { token: string; refreshToken?: string; expiresAt?: number; scopes: string[]; id: string; userId: string };
  incomingWebhook?: { url: string; channel?: string; channelId?: string; configurationUrl?: string };
  appId?: string | undefined;
  tokenType?: "bot";
  enterpriseUrl?: string | undefined;
  isEnterpriseInstall?: boolean;
  authVersion?: "v1" | "v2";
  metadata?: string;
}

/** `@slack/oauth`'s `InstallationQuery`. */
export interface BoltInstallationQuery {
  teamId: string | undefined;
  enterpriseId: string | undefined;
  userId?: string | undefined;
  conversationId?: string | undefined;
  isEnterpriseInstall: boolean;
}

/** `@slack/oauth`'s `InstallationStore` (what Bolt's `installationStore` option takes). */
export interface BoltInstallationStore {
  /** Saves an installation Bolt hands over after an install. */
  storeInstallation(installation: BoltInstallation): Promise<void>;
  /** Finds the installation for a Bolt query; rejects when there is none. */
  fetchInstallation(query: BoltInstallationQuery): Promise<BoltInstallation>;
  /** Deletes the installations a Bolt query matches. */
  deleteInstallation(query: BoltInstallationQuery): Promise<void>;
}

/** `@slack/bolt`'s `AuthorizeSourceData`. */
export interface BoltAuthorizeSource {
  teamId?: string | undefined;
  enterpriseId?: string | undefined;
  userId?: string | undefined;
  conversationId?: string | undefined;
  isEnterpriseInstall: boolean;
}

/** `@slack/bolt`'s `AuthorizeResult`. */
export interface BoltAuthorizeResult {
  botToken?: string;
  userToken?: string;
  botId?: string;
  botUserId?: string;
  userId?: string;
  teamId?: string;
  enterpriseId?: string;
}

/** Where Bolt-only fields (`authVersion`, `metadata`) are kept in `Installation.customValues`. */
export const BOLT_CUSTOM_VALUES_KEY = "bolt";

/** Bolt's stores throw when nothing is found; so does this one (`code` is `ErrorCode.NotInstalled`). */
export class BoltInstallationNotFoundError extends SlackOAuthError {
  constructor(message: string) {
    super(ErrorCode.NotInstalled, message, { status: 404 });
  }
}

function set<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined | null): void {
  if (value !== undefined && value !== null) target[key] = value;
}

/**
 * Converts Bolt's nested installation to this library's flat {@link Installation}. `authVersion` and
 * `metadata` go to `customValues.bolt`.
 *
 * @example
 * ```ts
 * const installation = fromBoltInstallation(boltInstallation);
 * ```
 */
export function fromBoltInstallation(b: BoltInstallation, installedAt = Date.now() / 1000): Installation {
  const extra: Record<string, unknown> = {};
  set(extra, "authVersion", b.authVersion);
  set(extra, "metadata", b.metadata);
  const i: Installation = {
    botScopes: b.bot ? [...b.bot.scopes] : [],
    userId: b.user.id,
    userScopes: b.user.scopes ? [...b.user.scopes] : [],
    isEnterpriseInstall: b.isEnterpriseInstall === true,
    installedAt,
    customValues: Object.keys(extra).length > 0 ? { [BOLT_CUSTOM_VALUES_KEY]: extra } : {},
  };
  set(i, "appId", b.appId);
  set(i, "enterpriseId", b.enterprise?.id);
  set(i, "enterpriseName", b.enterprise?.name);
  set(i, "enterpriseUrl", b.enterpriseUrl);
  set(i, "teamId", b.team?.id);
  set(i, "teamName", b.team?.name);
  if (b.bot) {
    set(i, "botToken", b.bot.token);
    set(i, "botId", b.bot.id);
    set(i, "botUserId", b.bot.userId);
    set(i, "botRefreshToken", b.bot.refreshToken);
    set(i, "botTokenExpiresAt", b.bot.expiresAt);
  }
  set(i, "userToken", b.user.token);
  set(i, "userRefreshToken", b.user.refreshToken);
  set(i, "userTokenExpiresAt", b.user.expiresAt);
  if (b.incomingWebhook) {
    set(i, "incomingWebhookUrl", b.incomingWebhook.url);
    set(i, "incomingWebhookChannel", b.incomingWebhook.channel);
    set(i, "incomingWebhookChannelId", b.incomingWebhook.channelId);
    set(i, "incomingWebhookConfigurationUrl", b.incomingWebhook.configurationUrl);
  }
  set(i, "tokenType", b.tokenType ?? (b.bot ? "bot" : "user"));
  return i;
}

/**
 * Converts this library's flat {@link Installation} to Bolt's nested shape.
 *
 * @example
 * ```ts
 * const boltInstallation = toBoltInstallation(await store.findInstallation({ teamId: "T0123" }));
 * ```
 */
export function toBoltInstallation(i: Installation): BoltInstallation {
  const extra = i.customValues?.[BOLT_CUSTOM_VALUES_KEY] as { authVersion?: unknown; metadata?: unknown } | undefined;
  const user: BoltInstallation["user"] = { token: i.userToken, scopes: [...i.userScopes], id: i.userId };
  set(user, "refreshToken", i.userRefreshToken);
  set(user, "expiresAt", i.userTokenExpiresAt);
  const team: BoltInstallation["team"] = i.teamId ? { id: i.teamId } : undefined;
  if (team) set(team, "name", i.teamName);
  const enterprise: BoltInstallation["enterprise"] = i.enterpriseId ? { id: i.enterpriseId } : undefined;
  if (enterprise) set(enterprise, "name", i.enterpriseName);
  const b: BoltInstallation = {
    team,
    enterprise,
    user,
    isEnterpriseInstall: i.isEnterpriseInstall,
    authVersion: extra?.authVersion === "v1" ? "v1" : "v2",
  };
  if (i.botToken) {
    const bot: NonNullable<BoltInstallation["bot"]> = {
      token: i.botToken,
      scopes: [...i.botScopes],
      id: i.botId ?? "",
      userId: i.botUserId ?? "",
    };
    set(bot, "refreshToken", i.botRefreshToken);
    set(bot, "expiresAt", i.botTokenExpiresAt);
    b.bot = bot;
  }
  if (i.incomingWebhookUrl) {
    const hook: NonNullable<BoltInstallation["incomingWebhook"]> = { url: i.incomingWebhookUrl };
    set(hook, "channel", i.incomingWebhookChannel);
    set(hook, "channelId", i.incomingWebhookChannelId);
    set(hook, "configurationUrl", i.incomingWebhookConfigurationUrl);
    b.incomingWebhook = hook;
  }
  set(b, "appId", i.appId);
  set(b, "enterpriseUrl", i.enterpriseUrl);
  if (i.tokenType === "bot") b.tokenType = "bot";
  if (typeof extra?.metadata === "string") b.metadata = extra.metadata;
  return b;
}

function workspaceOf(q: BoltInstallationQuery): { enterpriseId?: string; teamId?: string } {
  const w: { enterpriseId?: string; teamId?: string } = {};
  if (q.enterpriseId) w.enterpriseId = q.enterpriseId;
  // Org-wide installs are keyed by the enterprise alone.
  if (q.teamId && !q.isEnterpriseInstall) w.teamId = q.teamId;
  return w;
}

/**
 * Presents an {@link InstallationStore} as Bolt's `installationStore`.
 *
 * - `fetchInstallation` with a `userId`: that user's latest installation; when that user never installed,
 *   the workspace's latest installation **without its user token** (the bot only), as `createAuthorize`
 *   does: another user's token is never handed out. Throws {@link BoltInstallationNotFoundError} when
 *   the workspace has no installation (as Bolt's own stores throw).
 * - `deleteInstallation` with a `userId` deletes that user's installations, without one everything of the
 *   workspace (or org).
 *
 * @example
 * ```ts
 * const app = new App({ ..., installationStore: toBoltInstallationStore(store) });
 * ```
 */
export function toBoltInstallationStore(store: InstallationStore): BoltInstallationStore {
  return {
    async storeInstallation(installation) {
      await store.save(fromBoltInstallation(installation));
    },
    async fetchInstallation(query) {
      const w = workspaceOf(query);
      const q = { ...w, isEnterpriseInstall: query.isEnterpriseInstall };
      let found = query.userId ? await store.findInstallation({ ...q, userId: query.userId }) : undefined;
      if (!found) {
        const latest = await store.findInstallation(q);
        if (latest && query.userId && latest.userId !== query.userId) {
          const { userToken: _t, userRefreshToken: _r, userTokenExpiresAt: _e, ...rest } = latest;
          found = { ...rest, userScopes: [] };
        } else found = latest;
      }
      if (!found) throw new BoltInstallationNotFoundError("No installation found for this workspace");
      return toBoltInstallation(found);
    },
    async deleteInstallation(query) {
      const w = workspaceOf(query);
      if (query.userId) await store.deleteInstallation({ ...w, userId: query.userId });
      else await store.deleteAll(w);
    },
  };
}

/**
 * Presents an `authorize` built by `createAuthorize(...)` (token rotation, caching and all) as Bolt's
 * `authorize` option. Its `NotInstalledError` reaches Bolt as the authorization error.
 *
 * @example
 * ```ts
 * const app = new App({ signingSecret, authorize: toBoltAuthorize(createAuthorize({ installationStore: store })) });
 * ```
 */
export function toBoltAuthorize(authorize: AuthorizeFn): (source: BoltAuthorizeSource) => Promise<BoltAuthorizeResult> {
  return async (source) => {
    const r = await authorize({
      enterpriseId: source.enterpriseId,
      teamId: source.teamId,
      userId: source.userId,
      isEnterpriseInstall: source.isEnterpriseInstall === true,
    });
    const out: BoltAuthorizeResult = {};
    set(out, "botToken", r.botToken);
    set(out, "botId", r.botId);
    set(out, "botUserId", r.botUserId);
    set(out, "userToken", r.userToken);
    set(out, "userId", r.userId);
    set(out, "teamId", r.teamId ?? source.teamId);
    set(out, "enterpriseId", r.enterpriseId ?? source.enterpriseId);
    return out;
  };
}
