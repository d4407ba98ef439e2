/**
 * Web API dispatch: `/api/<method>` with form or JSON bodies, tokens, faults, rate limits and the call log.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { EmulatedApp } from "./apps.js";
import type { ApiCall, ApiResult } from "./calls.js";
import { appByClientId, appById, type EmulatorContext } from "./context.js";
import { revoke, uninstall } from "./events.js";
import {
  basicCredentials,
  bearerToken,
  HttpError,
  mediaType,
  parseForm,
  parseJsonObject,
  queryRecord,
  readBody,
  sendBodyError,
  sendJson,
  sleep,
} from "./http.js";
import { messageTs, slackId } from "./ids.js";
import { callClientId, oauthAccess, oauthV2Access, oauthV2Exchange, openidConnectToken } from "./oauth.js";
import { userInfo } from "./oidc.js";
import type { CallRecord, TokenRecord } from "./state.js";

export type { ApiCall, ApiResult } from "./calls.js";

type Handler = (ctx: EmulatorContext, call: ApiCall) => ApiResult | Promise<ApiResult>;

interface MethodSpec {
  handler: Handler;
  /** "token": needs a valid token; "client": client credentials (OAuth); "none". */
  auth: "token" | "client" | "none";
  /**
   * Slack documents only form bodies for the token endpoints: a JSON body is not read (its fields are
   * missing, as they would be for Slack), which catches a client that posts JSON there.
   */
  formOnly?: boolean;
}

const METHODS: Record<string, MethodSpec> = {
  "oauth.v2.access": { handler: oauthV2Access, auth: "client", formOnly: true },
  "oauth.access": { handler: oauthAccess, auth: "client", formOnly: true },
  // Client credentials and a token: the handler checks both, the credentials first (as Slack's errors list them).
  "oauth.v2.exchange": { handler: oauthV2Exchange, auth: "client", formOnly: true },
  "openid.connect.token": { handler: openidConnectToken, auth: "client", formOnly: true },
  "openid.connect.userInfo": { handler: openidUserInfo, auth: "token" },
  "auth.test": { handler: authTest, auth: "token" },
  "auth.revoke": { handler: authRevoke, auth: "token" },
  "auth.teams.list": { handler: authTeamsList, auth: "token" },
  "apps.uninstall": { handler: appsUninstall, auth: "token" },
  "views.open": { handler: viewsOpen, auth: "token" },
  "chat.postMessage": { handler: chatPostMessage, auth: "token" },
  "api.test": { handler: apiTest, auth: "none" },
};

/** Names of the Web API methods the emulator implements. */
export const IMPLEMENTED_METHODS: readonly string[] = Object.keys(METHODS);

const METHOD_RE = /^[A-Za-z][A-Za-z0-9.]{0,80}$/;
/** `family.method` names (dots required), so that a secret pasted into a path never reaches the log. */
const LOGGABLE_METHOD_RE = /^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)+$/;
const ERROR_CODE_RE = /^[a-z0-9_]{1,64}$/;

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function tokenTeam(t: TokenRecord): string | null {
  return t.teamId ?? t.enterpriseId;
}

function defaultFaultError(status: number | undefined): string {
  if (status === 503) return "service_unavailable";
  if (status === 504) return "request_timeout";
  if (status !== undefined && status >= 500) return "internal_error";
  return "fatal_error";
}

/** Handles `/api/<method>`. */
export async function handleApi(
  ctx: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  method: string,
): Promise<void> {
  // The call log never holds a secret: only method names shaped like Slack's and error codes are kept.
  let refreshGrant = false;
  const record = (teamId: string | null, body: Record<string, unknown>) => {
    if (!LOGGABLE_METHOD_RE.test(method)) return;
    const error = typeof body.error === "string" && ERROR_CODE_RE.test(body.error) ? body.error : "unknown";
    const entry: CallRecord = { method, teamId, ok: body.ok === true, error: body.ok === true ? null : error };
    entry.at = ctx.now();
    if (refreshGrant) entry.grantType = "refresh_token";
    if (body.ok === true && (refreshGrant || method === "oauth.v2.exchange")) {
      if (body.token_type === "bot" || body.token_type === "user") entry.tokenType = body.token_type;
      // openid.connect.token answers "Bearer": its refreshes are always user tokens.
      else if (refreshGrant && method === "openid.connect.token") entry.tokenType = "user";
    }
    ctx.state.calls.push(entry);
  };
  const reply = (status: number, teamId: string | null, body: Record<string, unknown>, headers = {}) => {
    record(teamId, body);
    sendJson(res, status, body, headers);
  };

  if (req.method !== "GET" && req.method !== "POST") {
    sendJson(res, 405, { ok: false, error: "method_not_allowed" }, { allow: "GET, POST" });
    return;
  }
  if (!METHOD_RE.test(method)) {
    sendJson(res, 200, { ok: false, error: "unknown_method" });
    return;
  }

  // Parse the call.
  const spec = METHODS[method];
  const query = queryRecord(url);
  let args: Record<string, unknown> = { ...query };
  let token = bearerToken(req);
  try {
    if (req.method === "POST") {
      const raw = await readBody(req);
      if (mediaType(req) === "application/json") {
        if (spec?.formOnly) throw new HttpError(415, "form_only");
        // JSON bodies: the token must come in the Authorization header (Slack ignores a `token` field here).
        const json = parseJsonObject(raw);
        delete json.token;
        args = { ...args, ...json };
      } else {
        args = { ...args, ...parseForm(raw) };
      }
    }
  } catch (err) {
    if (sendBodyError(res, err)) return;
    if (!(err instanceof HttpError && err.status === 415)) {
      reply(200, null, { ok: false, error: "invalid_json" });
      return;
    }
  }
  if (token === undefined && typeof args.token === "string" && args.token !== "") token = args.token;
  delete args.token;
  refreshGrant =
    (method === "oauth.v2.access" || method === "openid.connect.token") && args.grant_type === "refresh_token";
  const call: ApiCall = { method, args, token, basic: basicCredentials(req) };

  if (!spec) {
    reply(200, null, { ok: false, error: "unknown_method", req_method: method });
    return;
  }

  // Rate-limit key and token check (the token is looked up before the fault so the log has the team).
  const check = spec.auth === "token" && token !== undefined ? ctx.state.checkToken(token) : undefined;
  const teamForLog = check?.ok ? tokenTeam(check.token) : null;

  const fault = ctx.faults.take(method);
  if (fault) {
    if (fault.latencyMs) await sleep(fault.latencyMs);
    if (fault.ratelimited) {
      reply(429, teamForLog, { ok: false, error: "ratelimited" }, { "retry-after": String(fault.retryAfter ?? 1) });
      return;
    }
    if (fault.status !== undefined || fault.error !== undefined) {
      const status = fault.status ?? 200;
      reply(status, teamForLog, { ok: false, error: fault.error ?? defaultFaultError(fault.status) });
      return;
    }
  }

  const rateKey =
    spec.auth === "client"
      ? `client:${callClientId(call) ?? "-"}`
      : check?.ok
        ? `team:${tokenTeam(check.token)}`
        : `anonymous`;
  const retryAfter = ctx.rateLimiter.take(method, rateKey);
  if (retryAfter !== undefined) {
    reply(429, teamForLog, { ok: false, error: "ratelimited" }, { "retry-after": String(retryAfter) });
    return;
  }

  if (spec.auth === "token") {
    if (token === undefined) {
      reply(200, null, { ok: false, error: "not_authed" });
      return;
    }
    if (!check!.ok) {
      reply(200, null, { ok: false, error: check!.error });
      return;
    }
    call.tokenRecord = check!.token;
  }
  let result: ApiResult;
  try {
    result = await spec.handler(ctx, call);
  } catch (err) {
    ctx.logger?.error(`emulator: ${method} failed: ${(err as Error).name}`);
    result = { body: { ok: false, error: "internal_error" }, teamId: teamForLog };
  }
  ctx.logger?.debug?.(`emulator: ${method} → ${result.body.ok === true ? "ok" : String(result.body.error)}`);
  reply(200, result.teamId, result.body);
}

function ok(body: Record<string, unknown>, teamId: string | null): ApiResult {
  return { body: { ok: true, ...body }, teamId };
}

function err(error: string, teamId: string | null, extra: Record<string, unknown> = {}): ApiResult {
  return { body: { ok: false, error, ...extra }, teamId };
}

function botName(app: EmulatedApp): string {
  return (
    app.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "_")
      .replace(/^_|_$/g, "") || "bot"
  );
}

function authTest(ctx: EmulatorContext, call: ApiCall): ApiResult {
  const t = call.tokenRecord!;
  const app = appById(ctx, t.appId)!;
  const team = tokenTeam(t);
  const body: Record<string, unknown> = {};
  if (t.isEnterpriseInstall) {
    // Org-wide token: the org's URL and name (team_id holding the enterprise id is not confirmed).
    const e = ctx.world.enterprise(t.enterpriseId ?? undefined)!;
    Object.assign(body, { url: ctx.world.enterpriseUrl(e), team: e.name });
  } else {
    const w = ctx.world.workspace(t.teamId ?? undefined)!;
    Object.assign(body, { url: ctx.world.workspaceUrl(w), team: w.name });
  }
  body.user = t.kind === "bot" ? botName(app) : (ctx.world.user(t.userId)?.name ?? "user");
  body.team_id = team;
  body.user_id = t.userId;
  if (t.kind === "bot") {
    const inst = ctx.state.installations.get(t.installKey);
    body.bot_id = inst?.bot?.botId ?? null;
  }
  if (t.enterpriseId) body.enterprise_id = t.enterpriseId;
  body.is_enterprise_install = t.isEnterpriseInstall;
  if (t.kind === "bot") {
    body.app_id = app.appId;
    body.app_name = app.name;
  }
  if (t.expiresAt !== null) body.expires_in = Math.max(0, Math.ceil((t.expiresAt - ctx.now()) / 1000));
  return ok(body, team);
}

/**
 * `auth.teams.list`: the workspaces the token's app may act in. For an org-wide installation, the org's
 * workspaces except those an org admin removed; for a workspace installation, that workspace. Paginated
 * with `limit` (1–1000, default 100) and an opaque `cursor`.
 */
function authTeamsList(ctx: EmulatorContext, call: ApiCall): ApiResult {
  const t = call.tokenRecord!;
  const team = tokenTeam(t);
  let workspaces: { id: string; name: string }[];
  if (t.isEnterpriseInstall) {
    const inst = ctx.state.installations.get(t.installKey);
    const revoked = inst?.revokedTeams ?? new Set<string>();
    workspaces = ctx.world.workspacesOf(t.enterpriseId ?? "").filter((w) => !revoked.has(w.id));
  } else {
    const w = ctx.world.workspace(t.teamId ?? undefined);
    workspaces = w ? [w] : [];
  }
  const limitArg = call.args.limit;
  const limit = limitArg === undefined || limitArg === "" ? 100 : Number(limitArg);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return err("invalid_limit", team);
  let offset = 0;
  const cursor = str(call.args.cursor);
  if (cursor !== undefined) {
    const decoded = /^[A-Za-z0-9+/=]{1,40}$/.test(cursor) ? Buffer.from(cursor, "base64").toString("utf8") : "";
    const n = /^team:(\d{1,9})$/.exec(decoded)?.[1];
    if (n === undefined) return err("invalid_cursor", team);
    offset = Number(n);
  }
  const page = workspaces.slice(offset, offset + limit);
  const next = offset + limit < workspaces.length ? Buffer.from(`team:${offset + limit}`).toString("base64") : "";
  return ok(
    {
      teams: page.map((w) => ({ id: w.id, name: w.name })),
      response_metadata: { next_cursor: next },
    },
    team,
  );
}

function backgroundFailure(ctx: EmulatorContext, what: string) {
  return (e: unknown) => ctx.logger?.error(`emulator: delivering ${what} failed: ${(e as Error)?.name ?? "error"}`);
}

function truthy(v: unknown): boolean {
  return v === true || v === 1 || v === "1" || v === "true";
}

/** `auth.revoke` revokes the token's whole family (the bot, or that user's grant) and sends `tokens_revoked`. */
function authRevoke(ctx: EmulatorContext, call: ApiCall): ApiResult {
  const t = call.tokenRecord!;
  const team = tokenTeam(t);
  if (truthy(call.args.test)) return ok({ revoked: false }, team);
  const app = appById(ctx, t.appId)!;
  const inst = ctx.state.installations.get(t.installKey);
  if (inst) {
    revoke(ctx, app, inst, { bot: t.kind === "bot", userIds: t.kind === "user" ? [t.userId] : [] }).catch(
      backgroundFailure(ctx, "tokens_revoked"),
    );
  } else {
    ctx.state.revokeGroup(t.groupKey);
  }
  return ok({ revoked: true }, team);
}

function appsUninstall(ctx: EmulatorContext, call: ApiCall): ApiResult {
  const t = call.tokenRecord!;
  const team = tokenTeam(t);
  const app = appByClientId(ctx, call.basic?.id ?? str(call.args.client_id));
  if (!app) return err("invalid_client_id", team);
  const secret = call.basic?.secret ?? str(call.args.client_secret) ?? "";
  if (!safeEqual(secret, app.clientSecret)) return err("bad_client_secret", team);
  if (app.appId !== t.appId) return err("client_id_token_mismatch", team);
  const inst = ctx.state.installations.get(t.installKey);
  // The events go out in the background, as with Slack (the app answers them while we reply).
  if (inst) uninstall(ctx, app, inst).catch(backgroundFailure(ctx, "app_uninstalled"));
  return ok({}, team);
}

function parseMaybeJson(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

function viewsOpen(ctx: EmulatorContext, call: ApiCall): ApiResult {
  const t = call.tokenRecord!;
  const team = tokenTeam(t);
  const triggerId = str(call.args.trigger_id);
  if (call.args.view === undefined || triggerId === undefined) return err("invalid_arguments", team);
  const view = parseMaybeJson(call.args.view);
  if (typeof view !== "object" || view === null || Array.isArray(view)) return err("invalid_arguments", team);
  const v = view as Record<string, unknown>;
  if (v.type !== "modal" || (v.blocks !== undefined && !Array.isArray(v.blocks))) return err("invalid_arguments", team);
  const trigger = ctx.state.triggers.get(triggerId);
  const sameTeam =
    trigger &&
    (trigger.teamId === t.teamId ||
      (t.isEnterpriseInstall && ctx.world.workspace(trigger.teamId)?.enterpriseId === t.enterpriseId));
  if (!trigger || trigger.appId !== t.appId || !sameTeam) return err("invalid_trigger_id", team);
  if (trigger.used) return err("exchanged_trigger_id", team);
  if (ctx.now() >= trigger.expiresAt) return err("expired_trigger_id", team);
  trigger.used = true;
  const inst = ctx.state.installations.get(t.installKey);
  const id = slackId("V");
  const recorded = { id, appId: t.appId, teamId: trigger.teamId, userId: trigger.userId, view: v };
  ctx.state.views.push(recorded);
  return ok(
    {
      view: {
        id,
        team_id: trigger.teamId,
        type: "modal",
        blocks: v.blocks ?? [],
        private_metadata: v.private_metadata ?? "",
        callback_id: v.callback_id ?? "",
        state: { values: {} },
        hash: `${Math.floor(ctx.now() / 1000)}.${id.slice(1, 9)}`,
        title: v.title ?? null,
        close: v.close ?? null,
        submit: v.submit ?? null,
        clear_on_close: v.clear_on_close === true,
        notify_on_close: v.notify_on_close === true,
        root_view_id: id,
        previous_view_id: null,
        app_id: t.appId,
        external_id: v.external_id ?? "",
        bot_id: inst?.bot?.botId ?? null,
      },
    },
    team,
  );
}

function chatPostMessage(ctx: EmulatorContext, call: ApiCall): ApiResult {
  const t = call.tokenRecord!;
  const team = tokenTeam(t);
  if (!t.scopes.includes("chat:write")) {
    return err("missing_scope", team, { needed: "chat:write", provided: t.scopes.join(",") });
  }
  const channelArg = str(call.args.channel);
  if (!channelArg) return err("channel_not_found", team);
  const workspaces = t.isEnterpriseInstall
    ? ctx.world.workspacesOf(t.enterpriseId ?? "")
    : [ctx.world.workspace(t.teamId ?? undefined)!];
  let channelId: string | undefined;
  let teamId: string | null = t.teamId;
  for (const w of workspaces) {
    const c = w.channels.find((x) => x.id === channelArg || `#${x.name}` === channelArg || x.name === channelArg);
    const u = ctx.world.usersOf(w.id).find((x) => x.id === channelArg);
    if (c) channelId = c.id;
    else if (u) channelId = `D${u.id.slice(1)}`;
    if (channelId) {
      teamId = w.id;
      break;
    }
  }
  if (!channelId) return err("channel_not_found", team);
  const blocks = call.args.blocks === undefined ? undefined : parseMaybeJson(call.args.blocks);
  if (call.args.blocks !== undefined && !Array.isArray(blocks)) return err("invalid_blocks", team);
  const text = typeof call.args.text === "string" ? call.args.text : undefined;
  if (!text && !(Array.isArray(blocks) && blocks.length > 0) && call.args.attachments === undefined) {
    return err("no_text", team);
  }
  const ts = messageTs(ctx.now());
  ctx.state.messages.push({
    source: "chat.postMessage",
    appId: t.appId,
    teamId,
    channel: channelId,
    ts,
    text: text ?? null,
    blocks: blocks ?? null,
  });
  const inst = ctx.state.installations.get(t.installKey);
  return ok(
    {
      channel: channelId,
      ts,
      message: {
        type: "message",
        text: text ?? "",
        user: t.userId,
        ...(t.kind === "bot" ? { bot_id: inst?.bot?.botId ?? null, app_id: t.appId } : {}),
        ts,
        team: teamId,
        ...(blocks ? { blocks } : {}),
      },
    },
    team,
  );
}

function openidUserInfo(ctx: EmulatorContext, call: ApiCall): ApiResult {
  const t = call.tokenRecord!;
  const team = tokenTeam(t);
  if (t.kind !== "user" || !t.scopes.includes("openid")) {
    return err("missing_scope", team, { needed: "openid", provided: t.scopes.join(",") });
  }
  const user = ctx.world.user(t.userId)!;
  return { body: userInfo(ctx.url, ctx.world, user, t.scopes), teamId: team };
}

function apiTest(_ctx: EmulatorContext, call: ApiCall): ApiResult {
  const args: Record<string, unknown> = { ...call.args };
  if (typeof args.error === "string" && args.error !== "") return err(args.error, null, { args });
  return ok(Object.keys(args).length > 0 ? { args } : {}, null);
}
