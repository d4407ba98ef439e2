/**
 * What Slack sends to the app: event_callback wrappers (`app_uninstalled`, `tokens_revoked`, any event),
 * slash commands, interactions and URL verification; and the uninstall / revoke operations that cause
 * the lifecycle events.
 */
import { ErrorCode, SlackOAuthError } from "../errors.js";
import type { EmulatedApp } from "./apps.js";
import type { EmulatorContext } from "./context.js";
import type { AppResponse } from "./deliver.js";
import { eventId, randomDigits, randomString, slackId, triggerId } from "./ids.js";
import type { InstallationRecord } from "./state.js";
import type { EmulatedUser, EmulatedWorkspace } from "./world.js";

/** Where an installation lives (captured before it is deleted). */
interface InstallationSnapshot {
  teamId: string | null;
  enterpriseId: string | null;
  isEnterpriseInstall: boolean;
  botUserId: string | null;
  installerUserId: string;
}

function snapshot(inst: InstallationRecord): InstallationSnapshot {
  return {
    teamId: inst.teamId,
    enterpriseId: inst.enterpriseId,
    isEnterpriseInstall: inst.isEnterpriseInstall,
    botUserId: inst.bot?.userId ?? null,
    installerUserId: inst.installerUserId,
  };
}

/**
 * An event_callback body. `teamId` is the workspace the event happened in; for an org-wide installation
 * with no workspace (app_uninstalled, tokens_revoked) the enterprise id stands in `team_id` (Slack's exact
 * choice here is not confirmed).
 */
export function eventCallback(
  app: EmulatedApp,
  inst: InstallationSnapshot,
  teamId: string | null,
  event: Record<string, unknown>,
  nowMs: number,
): Record<string, unknown> {
  const seconds = Math.floor(nowMs / 1000);
  const teamField = teamId ?? inst.enterpriseId;
  return {
    token: app.verificationToken,
    team_id: teamField,
    ...(inst.enterpriseId ? { enterprise_id: inst.enterpriseId } : {}),
    context_team_id: teamId,
    context_enterprise_id: inst.enterpriseId,
    api_app_id: app.appId,
    event: { event_ts: `${seconds}.${randomDigits(6)}`, ...event },
    type: "event_callback",
    event_id: eventId(),
    event_time: seconds,
    authorizations: [
      {
        enterprise_id: inst.enterpriseId,
        team_id: inst.isEnterpriseInstall ? null : inst.teamId,
        user_id: inst.botUserId ?? inst.installerUserId,
        is_bot: inst.botUserId !== null,
        is_enterprise_install: inst.isEnterpriseInstall,
      },
    ],
    is_ext_shared_channel: false,
    event_context: `4-${randomString(40)}`,
  };
}

async function deliverEvent(
  ctx: EmulatorContext,
  app: EmulatedApp,
  inst: InstallationSnapshot,
  teamId: string | null,
  event: Record<string, unknown>,
  timestamp?: number,
): Promise<AppResponse> {
  const body = JSON.stringify(eventCallback(app, inst, teamId, event, Date.now()));
  return ctx.deliverer.deliver(app, {
    kind: "event",
    type: String(event.type),
    teamId: teamId ?? inst.teamId,
    body,
    contentType: "application/json",
    ...(timestamp !== undefined ? { timestamp } : {}),
  });
}

/** Result of an uninstall or revocation: what was revoked and how the app answered the events. */
export interface RevocationResult {
  revoked: { bot: string[]; oauth: string[] };
  deliveries: Array<{ type: string; status: number | null; ok: boolean }>;
}

/**
 * Uninstalls: revokes every token of the installation, deletes it and delivers `app_uninstalled` and
 * `tokens_revoked` (in that order here; Slack does not guarantee an order).
 */
export async function uninstall(
  ctx: EmulatorContext,
  app: EmulatedApp,
  inst: InstallationRecord,
): Promise<RevocationResult> {
  const snap = snapshot(inst);
  const revoked = ctx.state.revokeGrants(inst, { bot: true, userIds: "all" });
  ctx.state.installations.delete(inst.key);
  ctx.logger?.info(`emulator: uninstalled app ${app.appId} from ${snap.teamId ?? snap.enterpriseId}`);
  const deliveries: RevocationResult["deliveries"] = [];
  const a = await deliverEvent(ctx, app, snap, snap.teamId, { type: "app_uninstalled" });
  deliveries.push({ type: "app_uninstalled", status: a.status, ok: a.ok });
  const b = await deliverEvent(ctx, app, snap, snap.teamId, { type: "tokens_revoked", tokens: revoked });
  deliveries.push({ type: "tokens_revoked", status: b.status, ok: b.ok });
  return { revoked, deliveries };
}

/** Revokes the bot and/or user tokens of an installation and delivers `tokens_revoked`. */
export async function revoke(
  ctx: EmulatorContext,
  app: EmulatedApp,
  inst: InstallationRecord,
  what: { bot: boolean; userIds: string[] | "all" },
): Promise<RevocationResult> {
  const snap = snapshot(inst);
  const revoked = ctx.state.revokeGrants(inst, what);
  const deliveries: RevocationResult["deliveries"] = [];
  if (revoked.bot.length > 0 || revoked.oauth.length > 0) {
    const r = await deliverEvent(ctx, app, snap, snap.teamId, { type: "tokens_revoked", tokens: revoked });
    deliveries.push({ type: "tokens_revoked", status: r.status, ok: r.ok });
  }
  return { revoked, deliveries };
}

/** Result of an org admin adding or removing workspaces: what changed and how the app answered the event. */
export interface TeamAccessResult {
  /** The org's workspaces the installation may act in now. */
  allowed: string[];
  /** The org's workspaces removed from it now. */
  revoked: string[];
  /** The event delivered (none when `deliver` was false: the event is lost). */
  deliveries: Array<{ type: string; status: number | null; ok: boolean }>;
}

/**
 * An org admin removes workspaces from (`revoked`) or adds them back to (`granted`) an org-wide
 * installation: the installation's access changes (`auth.teams.list` follows) and, unless `deliver` is
 * false, `team_access_revoked` / `team_access_granted` with the `team_ids` is delivered.
 */
export async function changeTeamAccess(
  ctx: EmulatorContext,
  app: EmulatedApp,
  inst: InstallationRecord,
  teamIds: string[],
  access: "granted" | "revoked",
  deliver: boolean,
): Promise<TeamAccessResult> {
  if (!inst.isEnterpriseInstall || inst.enterpriseId === null) {
    throw new TestApiError(400, "not_org_wide", "workspace access changes only for org-wide installations");
  }
  const orgTeams = new Set(ctx.world.workspacesOf(inst.enterpriseId).map((w) => w.id));
  if (teamIds.length === 0) throw new TestApiError(400, "invalid_arguments", "teamIds must name workspaces");
  for (const t of teamIds) {
    if (!orgTeams.has(t))
      throw new TestApiError(404, "team_not_found", `${t} is not a workspace of ${inst.enterpriseId}`);
  }
  inst.revokedTeams ??= new Set();
  for (const t of teamIds) {
    if (access === "revoked") inst.revokedTeams.add(t);
    else inst.revokedTeams.delete(t);
  }
  ctx.logger?.info(
    `emulator: ${access === "revoked" ? "removed" : "added"} ${teamIds.join(", ")} (org ${inst.enterpriseId})`,
  );
  const deliveries: TeamAccessResult["deliveries"] = [];
  if (deliver) {
    const type = access === "revoked" ? "team_access_revoked" : "team_access_granted";
    const r = await deliverEvent(ctx, app, snapshot(inst), null, { type, team_ids: [...teamIds] });
    deliveries.push({ type, status: r.status, ok: r.ok });
  }
  const revoked = [...orgTeams].filter((t) => inst.revokedTeams?.has(t));
  return { allowed: [...orgTeams].filter((t) => !inst.revokedTeams?.has(t)), revoked, deliveries };
}

/** Finds the installation of `app` covering `teamId` (its own or its org's), or throws a coded error. */
export function installationCovering(
  ctx: EmulatorContext,
  app: EmulatedApp,
  teamId: string,
): { inst: InstallationRecord; workspace: EmulatedWorkspace } {
  const workspace = ctx.world.workspace(teamId);
  if (!workspace) throw new TestApiError(404, "team_not_found", `no workspace ${teamId}`);
  const inst = ctx.state.installationFor(app.appId, teamId, workspace.enterpriseId);
  if (!inst) throw new TestApiError(409, "not_installed", `the app is not installed on ${teamId}`);
  return { inst, workspace };
}

/** An error of the test API, with an HTTP status and a Slack-style error (`slackError`, e.g. `team_not_found`). */
export class TestApiError extends SlackOAuthError {
  constructor(
    status: number,
    readonly slackError: string,
    message: string,
  ) {
    super(ErrorCode.EmulatorRequest, message, { status });
  }
}

function pickUser(ctx: EmulatorContext, workspace: EmulatedWorkspace, userId: string | undefined): EmulatedUser {
  const members = ctx.world.usersOf(workspace.id);
  const user = userId ? ctx.world.user(userId) : (members.find((u) => !u.isAdmin) ?? members[0]);
  if (!user || user.teamId !== workspace.id) {
    throw new TestApiError(400, "user_not_found", `user ${userId} is not a member of ${workspace.id}`);
  }
  return user;
}

function newTrigger(ctx: EmulatorContext, app: EmulatedApp, workspace: EmulatedWorkspace, user: EmulatedUser): string {
  const value = triggerId(ctx.world.numberOf(workspace.id));
  ctx.state.triggers.set(value, {
    value,
    appId: app.appId,
    teamId: workspace.id,
    userId: user.id,
    expiresAt: ctx.now() + ctx.settings.triggerTtlSeconds * 1000,
    used: false,
  });
  return value;
}

function newResponseUrl(
  ctx: EmulatorContext,
  app: EmulatedApp,
  workspace: EmulatedWorkspace,
  channelId: string | null,
): string {
  const path = `${workspace.id}/${randomDigits(13)}/${randomString(24)}`;
  ctx.state.responseUrls.set(path, { appId: app.appId, teamId: workspace.id, channelId });
  return `${ctx.url}/commands/${path}`;
}

/** Input of `Emulator.sendSlashCommand`. */
export interface SlashCommandInput {
  teamId: string;
  /** Default: a non-admin member of the workspace. */
  userId?: string;
  /** E.g. `/deploy`. */
  command: string;
  text?: string;
  /** Default: the workspace's first channel. */
  channelId?: string;
  appId?: string;
  /** Signature timestamp (epoch seconds), e.g. an old one to test replay protection. */
  timestamp?: number;
}

export async function sendSlashCommand(
  ctx: EmulatorContext,
  app: EmulatedApp,
  input: SlashCommandInput,
): Promise<AppResponse> {
  if (typeof input.command !== "string" || !/^\/[\w-]{1,32}$/.test(input.command)) {
    throw new TestApiError(400, "invalid_command", "command must look like /name");
  }
  const { inst, workspace } = installationCovering(ctx, app, input.teamId);
  const user = pickUser(ctx, workspace, input.userId);
  const channel = input.channelId ? workspace.channels.find((c) => c.id === input.channelId) : workspace.channels[0];
  if (!channel) throw new TestApiError(400, "channel_not_found", `no channel ${input.channelId} in ${workspace.id}`);
  const enterprise = ctx.world.enterprise(workspace.enterpriseId);
  const form = new URLSearchParams();
  form.set("token", app.verificationToken);
  form.set("team_id", workspace.id);
  form.set("team_domain", workspace.domain);
  if (enterprise) {
    form.set("enterprise_id", enterprise.id);
    form.set("enterprise_name", enterprise.name);
  }
  form.set("channel_id", channel.id);
  form.set("channel_name", channel.name);
  form.set("user_id", user.id);
  form.set("user_name", user.name);
  form.set("command", input.command);
  form.set("text", input.text ?? "");
  form.set("api_app_id", app.appId);
  form.set("is_enterprise_install", String(inst.isEnterpriseInstall));
  form.set("response_url", newResponseUrl(ctx, app, workspace, channel.id));
  form.set("trigger_id", newTrigger(ctx, app, workspace, user));
  return ctx.deliverer.deliver(app, {
    kind: "command",
    type: input.command,
    teamId: workspace.id,
    body: form.toString(),
    contentType: "application/x-www-form-urlencoded",
    ...(input.timestamp !== undefined ? { timestamp: input.timestamp } : {}),
  });
}

/** Input of `Emulator.sendInteraction`. */
export interface InteractionInput {
  /** `block_actions`, `view_submission`, `view_closed`, `shortcut`, `message_action`… */
  type: string;
  teamId: string;
  userId?: string;
  /** Merged (shallowly) over the generated payload. */
  payload?: Record<string, unknown>;
  appId?: string;
  timestamp?: number;
}

export async function sendInteraction(
  ctx: EmulatorContext,
  app: EmulatedApp,
  input: InteractionInput,
): Promise<AppResponse> {
  if (typeof input.type !== "string" || !/^[a-z_]{1,40}$/.test(input.type)) {
    throw new TestApiError(400, "invalid_type", "type must be an interaction type such as block_actions");
  }
  const { inst, workspace } = installationCovering(ctx, app, input.teamId);
  const user = pickUser(ctx, workspace, input.userId);
  const enterprise = ctx.world.enterprise(workspace.enterpriseId);
  const channel = workspace.channels[0]!;
  const base: Record<string, unknown> = {
    type: input.type,
    team: {
      id: workspace.id,
      domain: workspace.domain,
      ...(enterprise ? { enterprise_id: enterprise.id, enterprise_name: enterprise.name } : {}),
    },
    user: { id: user.id, username: user.name, name: user.name, team_id: workspace.id },
    api_app_id: app.appId,
    token: app.verificationToken,
    trigger_id: newTrigger(ctx, app, workspace, user),
    is_enterprise_install: inst.isEnterpriseInstall,
    enterprise: enterprise ? { id: enterprise.id, name: enterprise.name } : null,
  };
  if (input.type === "view_submission" || input.type === "view_closed") {
    base.view = {
      id: slackId("V"),
      team_id: workspace.id,
      type: "modal",
      callback_id: "",
      private_metadata: "",
      state: { values: {} },
      hash: `${Math.floor(Date.now() / 1000)}.${randomString(8)}`,
      app_id: app.appId,
      bot_id: inst.bot?.botId ?? null,
    };
    if (input.type === "view_submission") base.response_urls = [];
  } else if (input.type === "block_actions" || input.type === "message_action") {
    base.channel = { id: channel.id, name: channel.name };
    base.response_url = newResponseUrl(ctx, app, workspace, channel.id);
    if (input.type === "block_actions") {
      base.container = { type: "message", channel_id: channel.id, is_ephemeral: false };
      base.actions = [];
    }
  }
  const payload = { ...base, ...(input.payload ?? {}) };
  const form = new URLSearchParams({ payload: JSON.stringify(payload) });
  return ctx.deliverer.deliver(app, {
    kind: "interaction",
    type: input.type,
    teamId: workspace.id,
    body: form.toString(),
    contentType: "application/x-www-form-urlencoded",
    ...(input.timestamp !== undefined ? { timestamp: input.timestamp } : {}),
  });
}

/** Input of `Emulator.sendEvent`. */
export interface EventInput {
  teamId: string;
  /** The inner event; needs a `type`. `event_ts` is added when missing. */
  event: Record<string, unknown>;
  appId?: string;
  timestamp?: number;
}

export async function sendEvent(ctx: EmulatorContext, app: EmulatedApp, input: EventInput): Promise<AppResponse> {
  if (typeof input.event !== "object" || input.event === null || typeof input.event.type !== "string") {
    throw new TestApiError(400, "invalid_event", "event must be an object with a type");
  }
  const { inst, workspace } = installationCovering(ctx, app, input.teamId);
  return deliverEvent(ctx, app, snapshot(inst), workspace.id, input.event, input.timestamp);
}

/** Sends `url_verification` and tells whether the app echoed the challenge. */
export async function sendUrlVerification(
  ctx: EmulatorContext,
  app: EmulatedApp,
): Promise<AppResponse & { verified: boolean }> {
  const challenge = randomString(48);
  const body = JSON.stringify({ token: app.verificationToken, challenge, type: "url_verification" });
  const res = await ctx.deliverer.deliver(app, {
    kind: "url_verification",
    type: "url_verification",
    teamId: null,
    body,
    contentType: "application/json",
  });
  let echoed = res.body.trim();
  try {
    const parsed = JSON.parse(echoed) as { challenge?: unknown };
    if (typeof parsed === "object" && parsed !== null && typeof parsed.challenge === "string") {
      echoed = parsed.challenge;
    }
  } catch {
    // plain-text answer
  }
  return { ...res, verified: res.ok && echoed === challenge };
}
