/**
 * Mutable emulator state: installations, tokens (with rotation rules), codes, triggers and what the
 * app did (views opened, messages posted, calls made).
 */
import type { EmulatedApp } from "./apps.js";
import { botToken, idNumber, refreshToken, rotatingToken, userToken } from "./ids.js";

/** Whose token the emulator issued: the bot's or a user's. */
export type TokenKind = "bot" | "user";

/** An access token. `value` is a secret: never copy a record into the call log or a page. */
export interface TokenRecord {
  value: string;
  kind: TokenKind;
  appId: string;
  installKey: string;
  /** One "token family": the bot of an installation, or one user of it. */
  groupKey: string;
  teamId: string | null;
  enterpriseId: string | null;
  isEnterpriseInstall: boolean;
  /** Bot user id for bot tokens, the user's id for user tokens. */
  userId: string;
  scopes: string[];
  /** Epoch ms. */
  issuedAt: number;
  /** Epoch ms; null for long-lived tokens. */
  expiresAt: number | null;
  revoked: boolean;
  /** A long-lived token already converted with `oauth.v2.exchange` (it cannot be converted twice). */
  exchanged?: boolean;
}

/** A refresh token (rotation). */
export interface RefreshRecord {
  value: string;
  appId: string;
  groupKey: string;
  kind: TokenKind;
  issuedAt: number;
  /** When it was first exchanged (epoch ms). */
  usedAt: number | null;
  /** What the first exchange returned: replayed within the grace period. */
  replacement: { access: string; refresh: string } | null;
  revoked: boolean;
}

export interface UserGrant {
  scopes: string[];
}

export interface BotGrant {
  userId: string;
  botId: string;
  scopes: string[];
}

export interface IncomingWebhook {
  channelId: string;
  channelName: string;
  configurationUrl: string;
  /** The path part after `/services/`: holds a secret segment. */
  path: string;
}

export interface InstallationRecord {
  key: string;
  appId: string;
  teamId: string | null;
  enterpriseId: string | null;
  isEnterpriseInstall: boolean;
  installerUserId: string;
  installedAt: number;
  bot: BotGrant | null;
  users: Map<string, UserGrant>;
  webhooks: IncomingWebhook[];
  /**
   * Org-wide installations: the org's workspaces an org admin removed from the app (every workspace of
   * the org is allowed until removed). Absent or empty: all of them.
   */
  revokedTeams?: Set<string>;
}

export type CodeFlow = "v2" | "v1" | "oidc";

export interface CodeRecord {
  value: string;
  flow: CodeFlow;
  appId: string;
  /** The redirect_uri sent to the authorize endpoint, or null when none was sent. */
  redirectUri: string | null;
  teamId: string | null;
  enterpriseId: string | null;
  isEnterpriseInstall: boolean;
  userId: string;
  botScopes: string[];
  userScopes: string[];
  codeChallenge: string | null;
  nonce: string | null;
  webhookChannelId: string | null;
  issuedAt: number;
  expiresAt: number;
  used: boolean;
  /** Tokens issued from this code (revoked on reuse when `revokeOnCodeReuse` is on). */
  issuedTokens: string[];
}

export interface TriggerRecord {
  value: string;
  appId: string;
  teamId: string;
  userId: string;
  expiresAt: number;
  used: boolean;
}

/** One entry of the call log: never holds a secret. */
export interface CallRecord {
  method: string;
  teamId: string | null;
  ok: boolean;
  error: string | null;
  /** Only on token-endpoint calls with `grant_type=refresh_token` (a refresh, not an install); shown with `details`. */
  grantType?: "refresh_token";
  /** Only on successful refreshes and `oauth.v2.exchange` calls: which token family was issued; shown with `details`. */
  tokenType?: TokenKind;
  /** When the call was answered, epoch ms on the emulator's clock; shown with `details`. */
  at?: number;
}

/** A view recorded by `views.open`. */
export interface RecordedView {
  id: string;
  appId: string;
  teamId: string | null;
  userId: string;
  view: Record<string, unknown>;
}

/** A message recorded from `chat.postMessage`, an incoming webhook or a `response_url`. */
export interface RecordedMessage {
  source: "chat.postMessage" | "incoming_webhook" | "response_url";
  appId: string | null;
  teamId: string | null;
  channel: string | null;
  ts: string;
  text: string | null;
  blocks: unknown;
}

/** One delivery to the app's request URL (no secrets: no body, no signature). */
export interface DeliveryRecord {
  kind: "event" | "command" | "interaction" | "url_verification";
  type: string;
  appId: string;
  teamId: string | null;
  /** HTTP status from the app, or null when it could not be reached. */
  status: number | null;
  ok: boolean;
  error: string | null;
  attempt: number;
}

export type TokenCheck =
  | { ok: true; token: TokenRecord }
  | { ok: false; error: "invalid_auth" | "token_revoked" | "token_expired" };

export function installKeyOf(
  appId: string,
  where: { teamId: string | null; enterpriseId: string | null; isEnterpriseInstall: boolean },
): string {
  return where.isEnterpriseInstall ? `${appId}|E|${where.enterpriseId}` : `${appId}|T|${where.teamId}`;
}

/** All mutable state; `reset()` returns to a fresh start (apps, world and keys are kept). */
export class EmulatorState {
  installations = new Map<string, InstallationRecord>();
  tokens = new Map<string, TokenRecord>();
  groups = new Map<string, TokenRecord[]>();
  refreshTokens = new Map<string, RefreshRecord>();
  codes = new Map<string, CodeRecord>();
  triggers = new Map<string, TriggerRecord>();
  /** response_url paths (after `/commands/`) handed out with commands and interactions. */
  responseUrls = new Map<string, { appId: string; teamId: string; channelId: string | null }>();
  views: RecordedView[] = [];
  messages: RecordedMessage[] = [];
  calls: CallRecord[] = [];
  deliveries: DeliveryRecord[] = [];

  constructor(private readonly now: () => number) {}

  reset(): void {
    this.installations.clear();
    this.tokens.clear();
    this.groups.clear();
    this.refreshTokens.clear();
    this.codes.clear();
    this.triggers.clear();
    this.responseUrls.clear();
    this.views = [];
    this.messages = [];
    this.calls = [];
    this.deliveries = [];
  }

  /** Looks a token up and tells why it cannot be used, if it cannot. */
  checkToken(value: string): TokenCheck {
    const token = this.tokens.get(value);
    if (!token) return { ok: false, error: "invalid_auth" };
    if (token.revoked) return { ok: false, error: "token_revoked" };
    if (token.expiresAt !== null && this.now() >= token.expiresAt) return { ok: false, error: "token_expired" };
    return { ok: true, token };
  }

  isActive(t: TokenRecord): boolean {
    return !t.revoked && (t.expiresAt === null || this.now() < t.expiresAt);
  }

  /**
   * Issues an access token for a token family. Long-lived tokens are reused while valid (Slack hands the
   * same bot token back on reinstall; not confirmed for every case); rotating tokens are always new,
   * with a refresh token, and at most two stay active per family (the oldest extra one is revoked).
   */
  issue(
    app: EmulatedApp,
    inst: InstallationRecord,
    kind: TokenKind,
    userId: string,
    scopes: string[],
  ): { access: TokenRecord; refresh: RefreshRecord | null } {
    const groupKey = kind === "bot" ? `${inst.key}|bot` : `${inst.key}|user:${userId}`;
    const group = this.groups.get(groupKey) ?? [];
    this.groups.set(groupKey, group);
    const numberSource = inst.isEnterpriseInstall ? inst.enterpriseId : inst.teamId;
    const teamNumber = idNumber(numberSource ?? "T0");
    if (!app.tokenRotation) {
      const existing = group.find((t) => t.expiresAt === null && !t.revoked);
      if (existing) {
        existing.scopes = scopes.slice();
        return { access: existing, refresh: null };
      }
    }
    const now = this.now();
    const access: TokenRecord = {
      value: app.tokenRotation ? rotatingToken(kind) : kind === "bot" ? botToken(teamNumber) : userToken(teamNumber),
      kind,
      appId: app.appId,
      installKey: inst.key,
      groupKey,
      teamId: inst.teamId,
      enterpriseId: inst.enterpriseId,
      isEnterpriseInstall: inst.isEnterpriseInstall,
      userId,
      scopes: scopes.slice(),
      issuedAt: now,
      expiresAt: app.tokenRotation ? now + app.tokenExpiresIn * 1000 : null,
      revoked: false,
    };
    this.tokens.set(access.value, access);
    group.push(access);
    let refresh: RefreshRecord | null = null;
    if (app.tokenRotation) {
      refresh = {
        value: refreshToken(),
        appId: app.appId,
        groupKey,
        kind,
        issuedAt: now,
        usedAt: null,
        replacement: null,
        revoked: false,
      };
      this.refreshTokens.set(refresh.value, refresh);
      // At most two access tokens stay active per family: issuing a third revokes the oldest.
      const active = group.filter((t) => this.isActive(t));
      for (let i = 0; i < active.length - 2; i++) active[i]!.revoked = true;
    }
    return { access, refresh };
  }

  /** Revokes every access and refresh token of a family. Returns whether anything was active. */
  revokeGroup(groupKey: string): boolean {
    let any = false;
    for (const t of this.groups.get(groupKey) ?? []) {
      if (!t.revoked) any = true;
      t.revoked = true;
    }
    for (const r of this.refreshTokens.values()) if (r.groupKey === groupKey) r.revoked = true;
    return any;
  }

  /**
   * Revokes the bot and/or some users of an installation. Returns the bot user ids and user ids whose
   * tokens were revoked (for the `tokens_revoked` event). Deletes the installation once nothing is left.
   */
  revokeGrants(
    inst: InstallationRecord,
    what: { bot: boolean; userIds: string[] | "all" },
  ): {
    bot: string[];
    oauth: string[];
  } {
    const out = { bot: [] as string[], oauth: [] as string[] };
    if (what.bot && inst.bot) {
      this.revokeGroup(`${inst.key}|bot`);
      out.bot.push(inst.bot.userId);
      inst.bot = null;
      inst.webhooks = [];
    }
    const userIds = what.userIds === "all" ? [...inst.users.keys()] : what.userIds;
    for (const uid of userIds) {
      if (!inst.users.has(uid)) continue;
      this.revokeGroup(`${inst.key}|user:${uid}`);
      inst.users.delete(uid);
      out.oauth.push(uid);
    }
    if (!inst.bot && inst.users.size === 0) this.installations.delete(inst.key);
    return out;
  }

  /** The installation of an app that covers a workspace: its own, or its org's org-wide one. */
  installationFor(appId: string, teamId: string, enterpriseId: string | undefined): InstallationRecord | undefined {
    return (
      this.installations.get(installKeyOf(appId, { teamId, enterpriseId: null, isEnterpriseInstall: false })) ??
      (enterpriseId
        ? this.installations.get(installKeyOf(appId, { teamId: null, enterpriseId, isEnterpriseInstall: true }))
        : undefined)
    );
  }

  /** Active token count of a family. */
  activeCount(groupKey: string): number {
    return (this.groups.get(groupKey) ?? []).filter((t) => this.isActive(t)).length;
  }
}
