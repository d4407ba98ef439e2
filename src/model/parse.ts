import { rejectRenamedClock } from "../clock.js";
import { InvalidResponseError } from "../errors.js";
import { type Installation, nowSeconds, parseScopes } from "./installation.js";

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}
function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
  return undefined;
}
function bool(v: unknown): boolean {
  return v === true || v === "true" || v === 1 || v === "1";
}
/** Like T, but optional keys may hold `undefined` while the object is being built. */
type Loose<T> = { [K in keyof T]: T[K] | undefined };
/** Drops `undefined` values so objects compare and serialise cleanly. */
function compact<T extends object>(o: Loose<T>): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o as T;
}
function expiresAt(expiresIn: unknown, now: number): number | undefined {
  const n = num(expiresIn);
  return n === undefined ? undefined : Math.floor(now) + n;
}

/** The `auth.test` reply fields the builders use. */
export interface AuthTestReply {
  url?: string;
  team?: string;
  team_id?: string;
  user_id?: string;
  bot_id?: string;
  enterprise_id?: string;
  is_enterprise_install?: boolean;
  [key: string]: unknown;
}

/** Options of the installation builders. */
export interface BuildOptions {
  /** The `auth.test` reply for the bot token: gives `botId`, and the org URL of org-wide installs. */
  authTest?: AuthTestReply | undefined;
  /** Clock in epoch seconds (tests); default the system clock. */
  nowSeconds?: (() => number) | undefined;
  customValues?: Record<string, unknown> | undefined;
}

/**
 * Builds an {@link Installation} from an `oauth.v2.access` reply (workspace, org-wide, user-only,
 * rotating tokens, incoming webhook).
 * @see https://docs.slack.dev/reference/methods/oauth.v2.access
 */
export function installationFromV2Response(reply: Record<string, unknown>, options: BuildOptions = {}): Installation {
  rejectRenamedClock(options, "installationFromV2Response", { now: "nowSeconds" });
  const now = options.nowSeconds?.() ?? nowSeconds();
  const team = obj(reply.team);
  const enterprise = obj(reply.enterprise);
  const authedUser = obj(reply.authed_user) ?? {};
  const webhook = obj(reply.incoming_webhook) ?? {};
  const isEnterpriseInstall = bool(reply.is_enterprise_install);
  const authTest = options.authTest;
  const userId = str(authedUser.id);
  if (!userId) throw new InvalidResponseError("oauth.v2.access reply has no authed_user.id");
  const teamId = str(team?.id);
  const enterpriseId = str(enterprise?.id);
  if (!teamId && !enterpriseId) {
    throw new InvalidResponseError("oauth.v2.access reply names neither a team nor an enterprise");
  }
  const hasBot = str(reply.access_token) !== undefined && reply.token_type !== "user";
  const inst: Loose<Installation> = {
    appId: str(reply.app_id),
    enterpriseId,
    enterpriseName: str(enterprise?.name),
    enterpriseUrl: isEnterpriseInstall ? str(authTest?.url) : undefined,
    teamId: isEnterpriseInstall ? undefined : teamId,
    teamName: isEnterpriseInstall ? undefined : str(team?.name),
    botToken: hasBot ? str(reply.access_token) : undefined,
    botId: hasBot ? str(authTest?.bot_id) : undefined,
    botUserId: hasBot ? str(reply.bot_user_id) : undefined,
    botScopes: hasBot ? parseScopes(reply.scope) : [],
    botRefreshToken: hasBot ? str(reply.refresh_token) : undefined,
    botTokenExpiresAt: hasBot ? expiresAt(reply.expires_in, now) : undefined,
    userId,
    userToken: str(authedUser.access_token),
    userScopes: parseScopes(authedUser.scope),
    userRefreshToken: str(authedUser.refresh_token),
    userTokenExpiresAt: expiresAt(authedUser.expires_in, now),
    incomingWebhookUrl: str(webhook.url),
    incomingWebhookChannel: str(webhook.channel),
    incomingWebhookChannelId: str(webhook.channel_id),
    incomingWebhookConfigurationUrl: str(webhook.configuration_url),
    isEnterpriseInstall,
    tokenType: hasBot ? "bot" : "user",
    installedAt: now,
    customValues: { ...(options.customValues ?? {}) },
  };
  return compact<Installation>(inst);
}

/**
 * Builds an {@link Installation} from a legacy v1 `oauth.access` reply. The top-level token is the
 * installing user's; the bot token is `bot.bot_access_token`.
 * @see https://api.slack.com/methods/oauth.access
 */
export function installationFromV1Response(reply: Record<string, unknown>, options: BuildOptions = {}): Installation {
  rejectRenamedClock(options, "installationFromV1Response", { now: "nowSeconds" });
  const now = options.nowSeconds?.() ?? nowSeconds();
  const bot = obj(reply.bot) ?? {};
  const webhook = obj(reply.incoming_webhook) ?? {};
  const userId = str(reply.user_id);
  if (!userId) throw new InvalidResponseError("oauth.access reply has no user_id");
  const teamId = str(reply.team_id);
  if (!teamId) throw new InvalidResponseError("oauth.access reply has no team_id");
  const botToken = str(bot.bot_access_token);
  const inst: Loose<Installation> = {
    appId: str(reply.app_id) ?? str(options.authTest?.app_id),
    enterpriseId: str(reply.enterprise_id),
    teamId,
    teamName: str(reply.team_name),
    botToken,
    botId: botToken ? str(options.authTest?.bot_id) : undefined,
    botUserId: str(bot.bot_user_id),
    botScopes: [],
    userId,
    userToken: str(reply.access_token),
    userScopes: parseScopes(reply.scope),
    incomingWebhookUrl: str(webhook.url),
    incomingWebhookChannel: str(webhook.channel),
    incomingWebhookChannelId: str(webhook.channel_id),
    incomingWebhookConfigurationUrl: str(webhook.configuration_url),
    isEnterpriseInstall: false,
    tokenType: "user",
    installedAt: now,
    customValues: { ...(options.customValues ?? {}) },
  };
  return compact<Installation>(inst);
}

/**
 * Applies a refresh reply (`oauth.v2.access` with `grant_type=refresh_token`) to an installation and
 * returns a new one. Only the refreshed token's fields change; the other token is left untouched.
 */
export function applyRefreshResponse(
  installation: Installation,
  reply: Record<string, unknown>,
  options: { nowSeconds?: (() => number) | undefined } = {},
): Installation {
  rejectRenamedClock(options, "applyRefreshResponse", { now: "nowSeconds" });
  const now = options.nowSeconds?.() ?? nowSeconds();
  const token = str(reply.access_token);
  if (!token) throw new InvalidResponseError("refresh reply has no access_token");
  const kind = reply.token_type === "user" ? "user" : reply.token_type === "bot" ? "bot" : undefined;
  const isUser = kind === "user" || (kind === undefined && /^xoxe\.xoxp-|^xoxp-/.test(token));
  const next: Installation = {
    ...installation,
    botScopes: [...installation.botScopes],
    userScopes: [...installation.userScopes],
    customValues: { ...installation.customValues },
  };
  const refresh = str(reply.refresh_token);
  const exp = expiresAt(reply.expires_in, now);
  const scopes = parseScopes(reply.scope);
  if (isUser) {
    next.userToken = token;
    if (refresh) next.userRefreshToken = refresh;
    if (exp !== undefined) next.userTokenExpiresAt = exp;
    if (scopes.length > 0) next.userScopes = scopes;
  } else {
    next.botToken = token;
    if (refresh) next.botRefreshToken = refresh;
    if (exp !== undefined) next.botTokenExpiresAt = exp;
    if (scopes.length > 0) next.botScopes = scopes;
    const botUserId = str(reply.bot_user_id);
    if (botUserId) next.botUserId = botUserId;
  }
  return next;
}
