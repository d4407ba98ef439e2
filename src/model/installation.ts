/**
 * The `Installation` model: one app installed on one workspace (or one Enterprise Grid org), by one user.
 * Flat and camelCase, like `slack_sdk.oauth`'s `Installation`. Times are epoch seconds (UTC).
 *
 * @see https://docs.slack.dev/authentication/installing-with-oauth
 */
export interface Installation {
  appId?: string;
  enterpriseId?: string;
  enterpriseName?: string;
  /** Org URL (from `auth.test`) for org-wide installs. */
  enterpriseUrl?: string;
  teamId?: string;
  teamName?: string;
  botToken?: string;
  botId?: string;
  botUserId?: string;
  botScopes: string[];
  botRefreshToken?: string;
  /** Epoch seconds at which `botToken` expires (token rotation). */
  botTokenExpiresAt?: number;
  /** The installing user. Always present for OAuth installs. */
  userId: string;
  userToken?: string;
  userScopes: string[];
  userRefreshToken?: string;
  /** Epoch seconds at which `userToken` expires (token rotation). */
  userTokenExpiresAt?: number;
  incomingWebhookUrl?: string;
  incomingWebhookChannel?: string;
  incomingWebhookChannelId?: string;
  incomingWebhookConfigurationUrl?: string;
  /** True for an org-wide install on Enterprise Grid: there is no `teamId`. */
  isEnterpriseInstall: boolean;
  /** `bot` for v2 installs with a bot, `user` for user-only or legacy installs. */
  tokenType?: string;
  /** Epoch seconds with sub-second precision (ms / 1000). */
  installedAt: number;
  /** Any JSON-serialisable values the app attaches (hooks); kept by every store. */
  customValues: Record<string, unknown>;
}

/** The bot part of an {@link Installation}: what token lookup needs for bot calls. */
export interface Bot {
  appId?: string;
  enterpriseId?: string;
  enterpriseName?: string;
  enterpriseUrl?: string;
  teamId?: string;
  teamName?: string;
  botToken: string;
  botId?: string;
  botUserId?: string;
  botScopes: string[];
  botRefreshToken?: string;
  botTokenExpiresAt?: number;
  isEnterpriseInstall: boolean;
  installedAt: number;
  customValues: Record<string, unknown>;
}

/** Keys of {@link Installation}, in a stable order (stores and exports rely on it). */
export const INSTALLATION_FIELDS = [
  "appId",
  "enterpriseId",
  "enterpriseName",
  "enterpriseUrl",
  "teamId",
  "teamName",
  "botToken",
  "botId",
  "botUserId",
  "botScopes",
  "botRefreshToken",
  "botTokenExpiresAt",
  "userId",
  "userToken",
  "userScopes",
  "userRefreshToken",
  "userTokenExpiresAt",
  "incomingWebhookUrl",
  "incomingWebhookChannel",
  "incomingWebhookChannelId",
  "incomingWebhookConfigurationUrl",
  "isEnterpriseInstall",
  "tokenType",
  "installedAt",
  "customValues",
] as const satisfies readonly (keyof Installation)[];

/** Keys of {@link Bot}. */
export const BOT_FIELDS = [
  "appId",
  "enterpriseId",
  "enterpriseName",
  "enterpriseUrl",
  "teamId",
  "teamName",
  "botToken",
  "botId",
  "botUserId",
  "botScopes",
  "botRefreshToken",
  "botTokenExpiresAt",
  "isEnterpriseInstall",
  "installedAt",
  "customValues",
] as const satisfies readonly (keyof Bot)[];

/** Extracts the bot part of an installation, or `undefined` when it has no bot token. */
export function toBot(installation: Installation): Bot | undefined {
  if (!installation.botToken) return undefined;
  const bot: Record<string, unknown> = {};
  for (const k of BOT_FIELDS) {
    const v = installation[k];
    if (v !== undefined) bot[k] = v;
  }
  bot.botScopes = [...installation.botScopes];
  bot.customValues = { ...installation.customValues };
  return bot as unknown as Bot;
}

/** Splits a Slack scope string (comma- or space-separated) into trimmed, non-empty scopes. */
export function parseScopes(value: unknown): string[] {
  if (Array.isArray(value)) return value.map((s) => String(s).trim()).filter((s) => s.length > 0);
  if (typeof value !== "string") return [];
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Current time in epoch seconds with sub-second precision. */
export function nowSeconds(): number {
  return Date.now() / 1000;
}
