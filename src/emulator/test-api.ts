/**
 * The test API under `/_emulator/` (JSON in, JSON out) and the operations behind it, which the
 * programmatic {@link Emulator} helpers share. Nothing it returns holds a secret.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { publicAppInfo } from "./apps.js";
import { appById, type EmulatorContext } from "./context.js";
import type { AppResponse } from "./deliver.js";
import {
  changeTeamAccess,
  type EventInput,
  type InteractionInput,
  type RevocationResult,
  revoke,
  type SlashCommandInput,
  sendEvent,
  sendInteraction,
  sendSlashCommand,
  sendUrlVerification,
  type TeamAccessResult,
  TestApiError,
  uninstall,
} from "./events.js";
import { parseFault } from "./faults.js";
import { HttpError, parseJsonObject, readBody, sendJson } from "./http.js";
import { type CallRecord, type InstallationRecord, installKeyOf } from "./state.js";

/** Which installation an uninstall or revoke targets. */
export interface InstallationTarget {
  /** Workspace-level installation on this workspace. */
  teamId?: string;
  /** Org-wide installation on this Enterprise Grid org. */
  enterpriseId?: string;
  /** Default: the default app. */
  appId?: string;
}

/** What to revoke (default: the bot and every user). */
export interface RevokeTarget extends InstallationTarget {
  userIds?: string[];
  bot?: boolean;
}

/** An installation as the test API shows it (no tokens). */
export interface InstallationSummary {
  appId: string;
  teamId: string | null;
  enterpriseId: string | null;
  isEnterpriseInstall: boolean;
  installerUserId: string;
  /** Epoch ms (emulator clock). */
  installedAt: number;
  bot: { userId: string; botId: string; scopes: string[]; activeTokens: number } | null;
  users: Array<{ userId: string; scopes: string[]; activeTokens: number }>;
  incomingWebhooks: Array<{ channelId: string; channelName: string }>;
}

/** Per-method and overall counters. */
export interface Counters {
  calls: number;
  methods: Record<string, { calls: number; ok: number; errors: number; ratelimited: number }>;
  deliveries: { total: number; ok: number; failed: number };
  installations: number;
  activeTokens: number;
  views: number;
  messages: number;
}

/** Status of a token as the emulator sees it. */
export type TokenStatus = "active" | "revoked" | "expired" | "unknown";

export function summarize(ctx: EmulatorContext, inst: InstallationRecord): InstallationSummary {
  return {
    appId: inst.appId,
    teamId: inst.teamId,
    enterpriseId: inst.enterpriseId,
    isEnterpriseInstall: inst.isEnterpriseInstall,
    installerUserId: inst.installerUserId,
    installedAt: inst.installedAt,
    bot: inst.bot
      ? { ...inst.bot, scopes: inst.bot.scopes.slice(), activeTokens: ctx.state.activeCount(`${inst.key}|bot`) }
      : null,
    users: [...inst.users].map(([userId, g]) => ({
      userId,
      scopes: g.scopes.slice(),
      activeTokens: ctx.state.activeCount(`${inst.key}|user:${userId}`),
    })),
    incomingWebhooks: inst.webhooks.map((w) => ({ channelId: w.channelId, channelName: w.channelName })),
  };
}

export function installations(ctx: EmulatorContext): InstallationSummary[] {
  return [...ctx.state.installations.values()].map((i) => summarize(ctx, i));
}

/**
 * The call log. By default each entry is `{ method, teamId, ok, error }`; with `details`, token-endpoint
 * entries also say `grantType` (refresh grants) and `tokenType` (which family a refresh or exchange issued).
 */
export function calls(ctx: EmulatorContext, method?: string, details = false): CallRecord[] {
  return ctx.state.calls
    .filter((c) => method === undefined || c.method === method)
    .map((c) => (details ? { ...c } : { method: c.method, teamId: c.teamId, ok: c.ok, error: c.error }));
}

export function counters(ctx: EmulatorContext): Counters {
  const methods: Counters["methods"] = {};
  for (const c of ctx.state.calls) {
    const m = methods[c.method] ?? { calls: 0, ok: 0, errors: 0, ratelimited: 0 };
    methods[c.method] = m;
    m.calls++;
    if (c.ok) m.ok++;
    else m.errors++;
    if (c.error === "ratelimited") m.ratelimited++;
  }
  const okDeliveries = ctx.state.deliveries.filter((d) => d.ok).length;
  return {
    calls: ctx.state.calls.length,
    methods,
    deliveries: {
      total: ctx.state.deliveries.length,
      ok: okDeliveries,
      failed: ctx.state.deliveries.length - okDeliveries,
    },
    installations: ctx.state.installations.size,
    activeTokens: [...ctx.state.tokens.values()].filter((t) => ctx.state.isActive(t)).length,
    views: ctx.state.views.length,
    messages: ctx.state.messages.length,
  };
}

export function tokenStatus(ctx: EmulatorContext, token: string): TokenStatus {
  const check = ctx.state.checkToken(token);
  if (check.ok) return "active";
  return check.error === "token_revoked" ? "revoked" : check.error === "token_expired" ? "expired" : "unknown";
}

export function stateSummary(ctx: EmulatorContext) {
  return {
    url: ctx.url,
    now: ctx.now(),
    settings: { ...ctx.settings },
    apps: ctx.apps.map(publicAppInfo),
    enterprises: ctx.world.enterprises,
    workspaces: ctx.world.workspaces,
    users: ctx.world.users,
    installations: installations(ctx),
    oidcKeyId: ctx.oidc.currentKid,
  };
}

function appOf(ctx: EmulatorContext, appId: string | undefined) {
  const app = appById(ctx, appId);
  if (!app) throw new TestApiError(404, "app_not_found", `no app ${appId}`);
  return app;
}

function findInstallation(ctx: EmulatorContext, target: InstallationTarget) {
  const app = appOf(ctx, target.appId);
  if (!target.teamId === !target.enterpriseId) {
    throw new TestApiError(400, "invalid_arguments", "give exactly one of teamId or enterpriseId");
  }
  const key = target.enterpriseId
    ? installKeyOf(app.appId, { teamId: null, enterpriseId: target.enterpriseId, isEnterpriseInstall: true })
    : installKeyOf(app.appId, { teamId: target.teamId!, enterpriseId: null, isEnterpriseInstall: false });
  const inst = ctx.state.installations.get(key);
  if (!inst) throw new TestApiError(409, "not_installed", "the app has no such installation");
  return { app, inst };
}

/** Uninstalls (revokes everything, delivers `app_uninstalled` and `tokens_revoked`, waits for the app). */
export function opUninstall(ctx: EmulatorContext, target: InstallationTarget): Promise<RevocationResult> {
  const { app, inst } = findInstallation(ctx, target);
  return uninstall(ctx, app, inst);
}

/** Revokes tokens (delivers `tokens_revoked`, waits for the app). */
export function opRevoke(ctx: EmulatorContext, target: RevokeTarget): Promise<RevocationResult> {
  const { app, inst } = findInstallation(ctx, target);
  if (target.userIds !== undefined && !Array.isArray(target.userIds)) {
    throw new TestApiError(400, "invalid_arguments", "userIds must be an array of user ids");
  }
  const everything = target.userIds === undefined && target.bot === undefined;
  return revoke(ctx, app, inst, {
    bot: everything || target.bot === true,
    userIds: everything ? "all" : (target.userIds ?? []),
  });
}

/** Which workspaces an org admin adds to or removes from an org-wide installation. */
export interface TeamAccessTarget {
  /** The org of the org-wide installation. */
  enterpriseId: string;
  /** Workspaces of that org. */
  teamIds: string[];
  /** `revoked`: removed from the app; `granted`: added back. */
  access: "granted" | "revoked";
  /**
   * Deliver `team_access_revoked` / `team_access_granted` to the app; false loses the event (the app
   * must find the change through `auth.teams.list`).
   *
   * @default true
   */
  deliver?: boolean;
  /** Default: the default app. */
  appId?: string;
}

/** Adds or removes workspaces of an org-wide installation (delivers the event unless told not to). */
export function opTeamAccess(ctx: EmulatorContext, target: TeamAccessTarget): Promise<TeamAccessResult> {
  if (target.access !== "granted" && target.access !== "revoked") {
    throw new TestApiError(400, "invalid_arguments", 'access must be "granted" or "revoked"');
  }
  if (!Array.isArray(target.teamIds) || !target.teamIds.every((t) => typeof t === "string")) {
    throw new TestApiError(400, "invalid_arguments", "teamIds must be an array of workspace ids");
  }
  if (target.deliver !== undefined && typeof target.deliver !== "boolean") {
    throw new TestApiError(400, "invalid_arguments", "deliver must be a boolean");
  }
  const { app, inst } = findInstallation(ctx, {
    enterpriseId: target.enterpriseId,
    ...(target.appId !== undefined ? { appId: target.appId } : {}),
  });
  return changeTeamAccess(ctx, app, inst, [...new Set(target.teamIds)], target.access, target.deliver !== false);
}

export function opSendCommand(ctx: EmulatorContext, input: SlashCommandInput): Promise<AppResponse> {
  return sendSlashCommand(ctx, appOf(ctx, input.appId), input);
}

export function opSendInteraction(ctx: EmulatorContext, input: InteractionInput): Promise<AppResponse> {
  return sendInteraction(ctx, appOf(ctx, input.appId), input);
}

export function opSendEvent(ctx: EmulatorContext, input: EventInput): Promise<AppResponse> {
  return sendEvent(ctx, appOf(ctx, input.appId), input);
}

export function opSendUrlVerification(ctx: EmulatorContext, appId?: string) {
  return sendUrlVerification(ctx, appOf(ctx, appId));
}

/** App settings that can change while the emulator runs (as in the app's settings page on Slack). */
export interface AppSettingsUpdate {
  /** Default: the default app. */
  appId?: string;
  /** Turns token rotation on (or off) for tokens issued from now on; existing tokens keep their kind. */
  tokenRotation?: boolean;
  /** Lifetime of rotating access tokens issued from now on, in seconds. */
  tokenExpiresIn?: number;
}

/** Changes an app's token settings; returns its public settings. */
export function opUpdateApp(ctx: EmulatorContext, update: AppSettingsUpdate) {
  const app = appOf(ctx, update.appId);
  if (update.tokenRotation !== undefined && typeof update.tokenRotation !== "boolean") {
    throw new TestApiError(400, "invalid_arguments", "tokenRotation must be a boolean");
  }
  if (
    update.tokenExpiresIn !== undefined &&
    !(typeof update.tokenExpiresIn === "number" && Number.isInteger(update.tokenExpiresIn) && update.tokenExpiresIn > 0)
  ) {
    throw new TestApiError(400, "invalid_arguments", "tokenExpiresIn must be a positive integer number of seconds");
  }
  if (update.tokenRotation !== undefined) app.tokenRotation = update.tokenRotation;
  if (update.tokenExpiresIn !== undefined) app.tokenExpiresIn = update.tokenExpiresIn;
  return { appId: app.appId, tokenRotation: app.tokenRotation, tokenExpiresIn: app.tokenExpiresIn };
}

/**
 * Changes a method's rate limit (calls per window per workspace) and/or window (seconds); returns the
 * method's limit and window now. Throws `TypeError` for bad values.
 */
export function opSetRateLimit(
  ctx: EmulatorContext,
  method: string,
  limit: number | undefined,
  windowSeconds: number | undefined,
): { method: string; limit: number; windowSeconds: number } {
  ctx.rateLimiter.set(method, limit, windowSeconds);
  return { method, limit: ctx.rateLimiter.limitOf(method), windowSeconds: ctx.rateLimiter.windowOf(method) };
}

/** Hooks the test API needs from the emulator object (clock, reset). */
export interface TestApiHooks {
  reset(): void;
  advanceClock(seconds: number): number;
}

function requireString(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== "string" || v === "") throw new TestApiError(400, "invalid_arguments", `${key} is required`);
  return v;
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new TestApiError(400, "invalid_arguments", `${key} must be a string`);
  return v;
}

function optionalNumber(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new TestApiError(400, "invalid_arguments", `${key} must be a number`);
  return v;
}

function target(body: Record<string, unknown>): InstallationTarget {
  const out: InstallationTarget = {};
  const teamId = optionalString(body, "teamId");
  const enterpriseId = optionalString(body, "enterpriseId");
  const appId = optionalString(body, "appId");
  if (teamId !== undefined) out.teamId = teamId;
  if (enterpriseId !== undefined) out.enterpriseId = enterpriseId;
  if (appId !== undefined) out.appId = appId;
  return out;
}

function appResponseJson(r: AppResponse) {
  return { ok: r.ok, status: r.status, body: r.body, contentType: r.contentType, error: r.error };
}

/** Handles `/_emulator/*`. */
export async function handleTestApi(
  ctx: EmulatorContext,
  hooks: TestApiHooks,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const route = `${req.method} ${url.pathname.replace(/\/+$/, "")}`;
  try {
    const body = req.method === "POST" ? parseJsonObject(await readBody(req)) : {};
    switch (route) {
      case "GET /_emulator/calls":
        return sendJson(
          res,
          200,
          calls(ctx, url.searchParams.get("method") ?? undefined, url.searchParams.get("details") === "1"),
        );
      case "GET /_emulator/counters":
        return sendJson(res, 200, counters(ctx));
      case "GET /_emulator/state":
        return sendJson(res, 200, stateSummary(ctx));
      case "GET /_emulator/views":
        return sendJson(res, 200, ctx.state.views);
      case "GET /_emulator/messages":
        return sendJson(res, 200, ctx.state.messages);
      case "GET /_emulator/deliveries":
        return sendJson(res, 200, ctx.state.deliveries);
      case "GET /_emulator/faults":
        return sendJson(res, 200, ctx.faults.list());
      case "POST /_emulator/faults": {
        let fault: ReturnType<typeof parseFault>;
        try {
          fault = parseFault(body);
        } catch (e) {
          throw new TestApiError(400, "invalid_arguments", (e as Error).message);
        }
        ctx.faults.add(fault);
        return sendJson(res, 200, { ok: true, faults: ctx.faults.list() });
      }
      case "DELETE /_emulator/faults":
        ctx.faults.clear();
        return sendJson(res, 200, { ok: true });
      case "POST /_emulator/uninstall":
        return sendJson(res, 200, { ok: true, ...(await opUninstall(ctx, target(body))) });
      case "POST /_emulator/revoke": {
        const t: RevokeTarget = target(body);
        if (body.userIds !== undefined) {
          if (!Array.isArray(body.userIds) || !body.userIds.every((u) => typeof u === "string")) {
            throw new TestApiError(400, "invalid_arguments", "userIds must be an array of user ids");
          }
          t.userIds = body.userIds as string[];
        }
        if (body.bot !== undefined) t.bot = body.bot === true;
        return sendJson(res, 200, { ok: true, ...(await opRevoke(ctx, t)) });
      }
      case "POST /_emulator/org/team-access": {
        const t: TeamAccessTarget = {
          enterpriseId: requireString(body, "enterpriseId"),
          teamIds: body.teamIds as string[],
          access: requireString(body, "access") as TeamAccessTarget["access"],
        };
        const appId = optionalString(body, "appId");
        if (appId !== undefined) t.appId = appId;
        if (body.deliver !== undefined) t.deliver = body.deliver as boolean;
        return sendJson(res, 200, { ok: true, ...(await opTeamAccess(ctx, t)) });
      }
      case "POST /_emulator/send/command": {
        const input: SlashCommandInput = {
          teamId: requireString(body, "teamId"),
          command: requireString(body, "command"),
        };
        const userId = optionalString(body, "userId");
        const text = optionalString(body, "text");
        const channelId = optionalString(body, "channelId");
        const appId = optionalString(body, "appId");
        const timestamp = optionalNumber(body, "timestamp");
        if (userId !== undefined) input.userId = userId;
        if (text !== undefined) input.text = text;
        if (channelId !== undefined) input.channelId = channelId;
        if (appId !== undefined) input.appId = appId;
        if (timestamp !== undefined) input.timestamp = timestamp;
        return sendJson(res, 200, appResponseJson(await opSendCommand(ctx, input)));
      }
      case "POST /_emulator/send/interaction": {
        const input: InteractionInput = { type: requireString(body, "type"), teamId: requireString(body, "teamId") };
        const userId = optionalString(body, "userId");
        const appId = optionalString(body, "appId");
        const timestamp = optionalNumber(body, "timestamp");
        if (userId !== undefined) input.userId = userId;
        if (appId !== undefined) input.appId = appId;
        if (timestamp !== undefined) input.timestamp = timestamp;
        if (body.payload !== undefined) {
          if (typeof body.payload !== "object" || body.payload === null || Array.isArray(body.payload)) {
            throw new TestApiError(400, "invalid_arguments", "payload must be an object");
          }
          input.payload = body.payload as Record<string, unknown>;
        }
        return sendJson(res, 200, appResponseJson(await opSendInteraction(ctx, input)));
      }
      case "POST /_emulator/send/event": {
        if (typeof body.event !== "object" || body.event === null || Array.isArray(body.event)) {
          throw new TestApiError(400, "invalid_arguments", "event must be an object with a type");
        }
        const input: EventInput = {
          teamId: requireString(body, "teamId"),
          event: body.event as Record<string, unknown>,
        };
        const appId = optionalString(body, "appId");
        const timestamp = optionalNumber(body, "timestamp");
        if (appId !== undefined) input.appId = appId;
        if (timestamp !== undefined) input.timestamp = timestamp;
        return sendJson(res, 200, appResponseJson(await opSendEvent(ctx, input)));
      }
      case "POST /_emulator/send/url-verification": {
        const r = await opSendUrlVerification(ctx, optionalString(body, "appId"));
        return sendJson(res, 200, { ...appResponseJson(r), verified: r.verified });
      }
      case "POST /_emulator/reset":
        hooks.reset();
        return sendJson(res, 200, { ok: true });
      case "POST /_emulator/oidc/rotate-key":
        return sendJson(res, 200, { ok: true, kid: await ctx.oidc.rotate() });
      case "POST /_emulator/oidc/drop-old-keys":
        return sendJson(res, 200, { ok: true, dropped: ctx.oidc.dropOld() });
      case "GET /_emulator/clock":
        return sendJson(res, 200, { now: ctx.now() });
      case "POST /_emulator/clock": {
        const seconds = optionalNumber(body, "advanceSeconds");
        if (seconds === undefined || seconds < 0) {
          throw new TestApiError(400, "invalid_arguments", "advanceSeconds must be a non-negative number");
        }
        return sendJson(res, 200, { ok: true, now: hooks.advanceClock(seconds) });
      }
      case "POST /_emulator/apps/settings": {
        const update: AppSettingsUpdate = {};
        const appId = optionalString(body, "appId");
        if (appId !== undefined) update.appId = appId;
        if (body.tokenRotation !== undefined) update.tokenRotation = body.tokenRotation as boolean;
        if (body.tokenExpiresIn !== undefined) update.tokenExpiresIn = body.tokenExpiresIn as number;
        return sendJson(res, 200, { ok: true, app: opUpdateApp(ctx, update) });
      }
      case "POST /_emulator/rate-limits": {
        const method = requireString(body, "method");
        const limit = body.limit === null ? Number.POSITIVE_INFINITY : optionalNumber(body, "limit");
        const windowSeconds = optionalNumber(body, "windowSeconds");
        try {
          return sendJson(res, 200, { ok: true, rateLimit: opSetRateLimit(ctx, method, limit, windowSeconds) });
        } catch (e) {
          throw new TestApiError(400, "invalid_arguments", (e as Error).message);
        }
      }
      case "POST /_emulator/token-status":
        return sendJson(res, 200, { status: tokenStatus(ctx, requireString(body, "token")) });
      default:
        return sendJson(res, 404, { ok: false, error: "not_found", message: `no test API route ${route}` });
    }
  } catch (err) {
    if (err instanceof TestApiError) {
      return sendJson(res, err.status, { ok: false, error: err.slackError, message: err.message });
    }
    if (err instanceof HttpError) {
      return sendJson(res, err.status, { ok: false, error: err.message });
    }
    throw err;
  }
}
