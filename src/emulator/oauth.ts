/**
 * Token endpoints: `oauth.v2.access` (code and refresh grants), legacy `oauth.access` and
 * `openid.connect.token`. Replies follow slack-protocol.md §2, §3 and §7.
 */
import { timingSafeEqual } from "node:crypto";
import type { EmulatedApp } from "./apps.js";
import type { ApiCall, ApiResult } from "./calls.js";
import { redirectUriAllowed } from "./consent.js";
import { appByClientId, type EmulatorContext } from "./context.js";
import { pkceS256, randomString, slackId } from "./ids.js";
import { idTokenClaims } from "./oidc.js";
import {
  type CodeRecord,
  type InstallationRecord,
  installKeyOf,
  type RefreshRecord,
  type TokenRecord,
} from "./state.js";

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function fail(error: string, teamId: string | null = null): ApiResult {
  return { body: { ok: false, error }, teamId };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The client_id a call names (HTTP Basic first, then the body): used for rate-limit keys too. */
export function callClientId(call: ApiCall): string | undefined {
  return call.basic?.id ?? str(call.args.client_id);
}

type ClientAuth = { ok: true; app: EmulatedApp } | { ok: false; error: string };

/**
 * Authenticates the client: HTTP Basic wins over body fields when both are sent. Without a secret, a
 * PKCE `code_verifier` authenticates a code exchange, and a refresh needs nothing more than the client id,
 * but only when the app allows PKCE (a public client has no secret).
 */
function authenticateClient(ctx: EmulatorContext, call: ApiCall, grant: "code" | "refresh" | "legacy"): ClientAuth {
  const id = callClientId(call);
  if (!id) return { ok: false, error: "invalid_client_id" };
  const app = appByClientId(ctx, id);
  if (!app) return { ok: false, error: "invalid_client_id" };
  const secret = call.basic ? call.basic.secret : str(call.args.client_secret);
  if (secret !== undefined && secret !== "") {
    return safeEqual(secret, app.clientSecret) ? { ok: true, app } : { ok: false, error: "bad_client_secret" };
  }
  if (grant === "code" && str(call.args.code_verifier)) {
    return app.pkce ? { ok: true, app } : { ok: false, error: "pkce_not_allowed" };
  }
  if (grant === "refresh" && app.pkce) return { ok: true, app };
  return { ok: false, error: "bad_client_secret" };
}

type CodeCheck = { ok: true; code: CodeRecord } | { ok: false; result: ApiResult };

/** The checks every code exchange shares. A failed check does not use the code up. */
function checkCode(ctx: EmulatorContext, call: ApiCall, app: EmulatedApp, flow: CodeRecord["flow"]): CodeCheck {
  const value = str(call.args.code);
  if (!value) return { ok: false, result: fail("invalid_arguments") };
  const code = ctx.state.codes.get(value);
  // Another app's code, another flow's code and an unknown code look alike.
  if (!code || code.flow !== flow || code.appId !== app.appId) return { ok: false, result: fail("invalid_code") };
  const teamId = code.teamId ?? code.enterpriseId;
  if (code.used) {
    if (ctx.settings.revokeOnCodeReuse) {
      // RFC 6749 §4.1.2: a reused code SHOULD revoke the tokens issued from it (opt-in here; Slack's
      // behaviour is not confirmed).
      for (const t of code.issuedTokens) {
        const rec = ctx.state.tokens.get(t);
        if (rec) ctx.state.revokeGroup(rec.groupKey);
      }
    }
    return { ok: false, result: fail(flow === "v1" ? "code_already_used" : "invalid_code", teamId) };
  }
  if (ctx.now() >= code.expiresAt) return { ok: false, result: fail("invalid_code", teamId) };
  const redirectUri = str(call.args.redirect_uri);
  if (code.redirectUri !== null) {
    if (redirectUri !== code.redirectUri) return { ok: false, result: fail("bad_redirect_uri", teamId) };
  } else if (redirectUri !== undefined && !redirectUriAllowed(app, redirectUri)) {
    return { ok: false, result: fail("bad_redirect_uri", teamId) };
  }
  const verifier = str(call.args.code_verifier);
  if (code.codeChallenge !== null || verifier !== undefined) {
    if (!app.pkce) return { ok: false, result: fail("pkce_not_allowed", teamId) };
    if (code.codeChallenge === null || verifier === undefined || pkceS256(verifier) !== code.codeChallenge) {
      return { ok: false, result: fail("invalid_code_verifier", teamId) };
    }
  }
  return { ok: true, code };
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

function installationFor(ctx: EmulatorContext, app: EmulatedApp, code: CodeRecord): InstallationRecord {
  const key = installKeyOf(app.appId, code);
  let inst = ctx.state.installations.get(key);
  if (!inst) {
    inst = {
      key,
      appId: app.appId,
      teamId: code.teamId,
      enterpriseId: code.enterpriseId,
      isEnterpriseInstall: code.isEnterpriseInstall,
      installerUserId: code.userId,
      installedAt: ctx.now(),
      bot: null,
      users: new Map(),
      webhooks: [],
    };
    ctx.state.installations.set(key, inst);
  }
  return inst;
}

function teamObject(ctx: EmulatorContext, inst: { teamId: string | null; isEnterpriseInstall: boolean }) {
  if (inst.isEnterpriseInstall || inst.teamId === null) return null;
  const w = ctx.world.workspace(inst.teamId)!;
  return { id: w.id, name: w.name };
}

function enterpriseObject(ctx: EmulatorContext, enterpriseId: string | null) {
  const e = ctx.world.enterprise(enterpriseId ?? undefined);
  return e ? { id: e.id, name: e.name } : null;
}

function expiresIn(ctx: EmulatorContext, t: TokenRecord): number {
  return t.expiresAt === null ? 0 : Math.max(0, Math.ceil((t.expiresAt - ctx.now()) / 1000));
}

function rotationFields(ctx: EmulatorContext, access: TokenRecord, refresh: RefreshRecord | null) {
  return refresh ? { refresh_token: refresh.value, expires_in: expiresIn(ctx, access) } : {};
}

/** Installs (or re-installs: scopes add up) and issues the tokens of a v2 or v1 code. */
function install(ctx: EmulatorContext, app: EmulatedApp, code: CodeRecord, userScopes: string[]) {
  const inst = installationFor(ctx, app, code);
  inst.installerUserId = code.userId;
  inst.installedAt = ctx.now();
  const grid = code.enterpriseId !== null;
  let bot: { access: TokenRecord; refresh: RefreshRecord | null } | null = null;
  const botScopes = code.flow === "v1" ? (code.botScopes.includes("bot") ? ["bot"] : []) : code.botScopes;
  if (botScopes.length > 0) {
    inst.bot ??= { userId: slackId(grid ? "W" : "U"), botId: slackId("B"), scopes: [] };
    inst.bot.scopes = union(inst.bot.scopes, botScopes);
    bot = ctx.state.issue(app, inst, "bot", inst.bot.userId, inst.bot.scopes);
  }
  let user: { access: TokenRecord; refresh: RefreshRecord | null; scopes: string[] } | null = null;
  if (userScopes.length > 0) {
    const grant = inst.users.get(code.userId) ?? { scopes: [] };
    grant.scopes = union(grant.scopes, userScopes);
    inst.users.set(code.userId, grant);
    user = { ...ctx.state.issue(app, inst, "user", code.userId, grant.scopes), scopes: grant.scopes };
  }
  let webhook: { channel: string; channel_id: string; configuration_url: string; url: string } | null = null;
  if (code.webhookChannelId !== null && code.teamId !== null) {
    const workspace = ctx.world.workspace(code.teamId)!;
    const channel = workspace.channels.find((c) => c.id === code.webhookChannelId)!;
    const hookId = slackId("B");
    const path = `${workspace.id}/${hookId}/${randomString(24)}`;
    inst.webhooks.push({
      channelId: channel.id,
      channelName: channel.name,
      configurationUrl: `https://${workspace.domain}.slack.com/services/${hookId}`,
      path,
    });
    webhook = {
      channel: `#${channel.name}`,
      channel_id: channel.id,
      configuration_url: `https://${workspace.domain}.slack.com/services/${hookId}`,
      url: `${ctx.url}/services/${path}`,
    };
  }
  code.used = true;
  for (const t of [bot?.access, user?.access]) if (t) code.issuedTokens.push(t.value);
  ctx.logger?.info(`emulator: installed app ${app.appId} on ${inst.teamId ?? inst.enterpriseId}`);
  return { inst, bot, user, webhook };
}

/** `oauth.v2.access`: authorization_code and refresh_token grants. */
export function oauthV2Access(ctx: EmulatorContext, call: ApiCall): ApiResult {
  const grantType = str(call.args.grant_type) ?? "authorization_code";
  if (grantType !== "authorization_code" && grantType !== "refresh_token") return fail("invalid_grant_type");
  const auth = authenticateClient(ctx, call, grantType === "authorization_code" ? "code" : "refresh");
  if (!auth.ok) return fail(auth.error);
  const app = auth.app;
  if (grantType === "refresh_token") return refreshGrant(ctx, call, app);

  const checked = checkCode(ctx, call, app, "v2");
  if (!checked.ok) return checked.result;
  const code = checked.code;
  if (!code.isEnterpriseInstall && code.enterpriseId !== null && code.teamId !== null) {
    const orgKey = installKeyOf(app.appId, {
      teamId: null,
      enterpriseId: code.enterpriseId,
      isEnterpriseInstall: true,
    });
    if (ctx.state.installations.has(orgKey)) return fail("cannot_install_an_org_installed_app", code.teamId);
  }
  const { inst, bot, user, webhook } = install(ctx, app, code, code.userScopes);
  const body: Record<string, unknown> = {
    ok: true,
    app_id: app.appId,
    authed_user: user
      ? {
          id: code.userId,
          scope: user.scopes.join(","),
          access_token: user.access.value,
          token_type: "user",
          ...rotationFields(ctx, user.access, user.refresh),
        }
      : { id: code.userId },
  };
  if (bot && inst.bot) {
    body.scope = inst.bot.scopes.join(",");
    body.token_type = "bot";
    body.access_token = bot.access.value;
    body.bot_user_id = inst.bot.userId;
    Object.assign(body, rotationFields(ctx, bot.access, bot.refresh));
  }
  body.team = teamObject(ctx, inst);
  body.enterprise = enterpriseObject(ctx, inst.enterpriseId);
  body.is_enterprise_install = inst.isEnterpriseInstall;
  if (webhook) body.incoming_webhook = webhook;
  return { body, teamId: inst.teamId ?? inst.enterpriseId };
}

/**
 * The refresh grant. A refresh token is single-use: exchanging it again within `refreshGraceSeconds` of its
 * first use returns the same new pair (an idempotent retry; Slack's exact behaviour is not confirmed),
 * later it is `invalid_refresh_token`.
 */
function refreshGrant(ctx: EmulatorContext, call: ApiCall, app: EmulatedApp): ApiResult {
  const value = str(call.args.refresh_token);
  if (!value) return fail("invalid_arguments");
  const rec = ctx.state.refreshTokens.get(value);
  if (!rec || rec.appId !== app.appId || rec.revoked) return fail("invalid_refresh_token");
  const first = ctx.state.groups.get(rec.groupKey)?.[0];
  const inst = first ? ctx.state.installations.get(first.installKey) : undefined;
  if (!first || !inst) return fail("invalid_refresh_token");
  const teamId = inst.teamId ?? inst.enterpriseId;
  let access: TokenRecord;
  let refresh: RefreshRecord;
  if (rec.usedAt !== null) {
    const replayed = rec.replacement ? ctx.state.tokens.get(rec.replacement.access) : undefined;
    const replayedRefresh = rec.replacement ? ctx.state.refreshTokens.get(rec.replacement.refresh) : undefined;
    const withinGrace = ctx.now() - rec.usedAt < ctx.settings.refreshGraceSeconds * 1000;
    if (!withinGrace || !replayed || !replayedRefresh || !ctx.state.isActive(replayed) || replayedRefresh.revoked) {
      rec.revoked = true;
      return fail("invalid_refresh_token", teamId);
    }
    access = replayed;
    refresh = replayedRefresh;
  } else {
    const scopes = rec.kind === "bot" ? inst.bot?.scopes : inst.users.get(first.userId)?.scopes;
    if (!scopes) return fail("invalid_refresh_token", teamId);
    const issued = ctx.state.issue(app, inst, rec.kind, first.userId, scopes);
    if (!issued.refresh) return fail("invalid_refresh_token", teamId);
    access = issued.access;
    refresh = issued.refresh;
    rec.usedAt = ctx.now();
    rec.replacement = { access: access.value, refresh: refresh.value };
  }
  const body: Record<string, unknown> = {
    ok: true,
    app_id: app.appId,
    access_token: access.value,
    expires_in: expiresIn(ctx, access),
    refresh_token: refresh.value,
    token_type: rec.kind,
    scope: access.scopes.join(","),
  };
  if (rec.kind === "bot") body.bot_user_id = access.userId;
  else body.user_id = access.userId;
  body.team = teamObject(ctx, inst);
  body.enterprise = enterpriseObject(ctx, inst.enterpriseId);
  body.is_enterprise_install = inst.isEnterpriseInstall;
  return { body, teamId };
}

/**
 * `oauth.v2.exchange`: converts a long-lived `xoxb-`/`xoxp-` token of an app that has since turned token
 * rotation on into a rotating pair (slack-protocol.md §8). Client credentials in the body (or Basic), the
 * token as `token` or `Authorization: Bearer`. Nothing is revoked: the long-lived token keeps working
 * until the rotation rule revokes it (at most two active tokens per family, so the first refresh after
 * the exchange retires it). Slack documents no sample reply; this one has the refresh grant's flat shape.
 * Errors: `invalid_client_id`, `bad_client_secret`, `token_rotation_not_enabled`, `not_authed`,
 * `invalid_auth` (unknown, revoked or another app's token), `invalid_token` (already a rotating token),
 * `token_already_exchanged`.
 */
export function oauthV2Exchange(ctx: EmulatorContext, call: ApiCall): ApiResult {
  const auth = authenticateClient(ctx, call, "legacy");
  if (!auth.ok) return fail(auth.error);
  const app = auth.app;
  if (!app.tokenRotation) return fail("token_rotation_not_enabled");
  if (call.token === undefined) return fail("not_authed");
  const rec = ctx.state.tokens.get(call.token);
  if (!rec || rec.appId !== app.appId || rec.revoked) return fail("invalid_auth");
  const inst = ctx.state.installations.get(rec.installKey);
  const teamId = inst ? (inst.teamId ?? inst.enterpriseId) : null;
  if (rec.expiresAt !== null) return fail("invalid_token", teamId);
  if (rec.exchanged) return fail("token_already_exchanged", teamId);
  const scopes = rec.kind === "bot" ? inst?.bot?.scopes : inst?.users.get(rec.userId)?.scopes;
  if (!inst || !scopes) return fail("invalid_auth", teamId);
  const issued = ctx.state.issue(app, inst, rec.kind, rec.userId, scopes);
  if (!issued.refresh) return fail("internal_error", teamId);
  rec.exchanged = true;
  const body: Record<string, unknown> = {
    ok: true,
    app_id: app.appId,
    access_token: issued.access.value,
    token_type: rec.kind,
    scope: issued.access.scopes.join(","),
    expires_in: expiresIn(ctx, issued.access),
    refresh_token: issued.refresh.value,
  };
  if (rec.kind === "bot") body.bot_user_id = rec.userId;
  else body.user_id = rec.userId;
  body.team = teamObject(ctx, inst);
  body.enterprise = enterpriseObject(ctx, inst.enterpriseId);
  body.is_enterprise_install = inst.isEnterpriseInstall;
  return { body, teamId };
}

/** Legacy `oauth.access` (v1): the top-level token is the user's; the bot token sits in `bot`. */
export function oauthAccess(ctx: EmulatorContext, call: ApiCall): ApiResult {
  const auth = authenticateClient(ctx, call, "legacy");
  if (!auth.ok) return fail(auth.error);
  const app = auth.app;
  const checked = checkCode(ctx, call, app, "v1");
  if (!checked.ok) return checked.result;
  const code = checked.code;
  const userScopes = code.botScopes.filter((s) => s !== "bot");
  // A v1 install always yields a user token (at least `identify`). v1 tokens never rotate.
  const legacyApp = { ...app, tokenRotation: false };
  const { inst, bot, user, webhook } = install(ctx, legacyApp, code, userScopes.length > 0 ? userScopes : ["identify"]);
  const workspace = ctx.world.workspace(code.teamId ?? undefined)!;
  const body: Record<string, unknown> = {
    ok: true,
    access_token: user!.access.value,
    scope: union(user!.scopes, inst.bot ? ["bot"] : []).join(","),
    team_name: workspace.name,
    team_id: workspace.id,
    enterprise_id: code.enterpriseId,
    user_id: code.userId,
  };
  if (webhook) {
    body.incoming_webhook = {
      url: webhook.url,
      channel: webhook.channel,
      configuration_url: webhook.configuration_url,
    };
  }
  if (bot && inst.bot) body.bot = { bot_user_id: inst.bot.userId, bot_access_token: bot.access.value };
  return { body, teamId: workspace.id };
}

/** `openid.connect.token`: exchanges a Sign in with Slack code for a user token and an id_token. */
export function openidConnectToken(ctx: EmulatorContext, call: ApiCall): ApiResult {
  const grantType = str(call.args.grant_type) ?? "authorization_code";
  if (grantType !== "authorization_code" && grantType !== "refresh_token") return fail("invalid_grant_type");
  const auth = authenticateClient(ctx, call, grantType === "authorization_code" ? "code" : "refresh");
  if (!auth.ok) return fail(auth.error);
  const app = auth.app;
  if (grantType === "refresh_token") {
    const r = refreshGrant(ctx, call, app);
    if (r.body.ok !== true) return r;
    return {
      body: {
        ok: true,
        access_token: r.body.access_token,
        token_type: "Bearer",
        refresh_token: r.body.refresh_token,
        expires_in: r.body.expires_in,
      },
      teamId: r.teamId,
    };
  }
  const checked = checkCode(ctx, call, app, "oidc");
  if (!checked.ok) return checked.result;
  const code = checked.code;
  const inst = installationFor(ctx, app, code);
  const grant = inst.users.get(code.userId) ?? { scopes: [] };
  grant.scopes = union(grant.scopes, code.userScopes);
  inst.users.set(code.userId, grant);
  const issued = ctx.state.issue(app, inst, "user", code.userId, grant.scopes);
  code.used = true;
  code.issuedTokens.push(issued.access.value);
  const user = ctx.world.user(code.userId)!;
  const idToken = ctx.oidc.sign(
    idTokenClaims({
      baseUrl: ctx.url,
      world: ctx.world,
      app,
      issuer: ctx.settings.oidcIssuer,
      user,
      scopes: code.userScopes,
      nonce: code.nonce,
      accessToken: issued.access.value,
      nowMs: ctx.now(),
    }),
  );
  return {
    body: {
      ok: true,
      access_token: issued.access.value,
      token_type: "Bearer",
      id_token: idToken,
      ...rotationFields(ctx, issued.access, issued.refresh),
    },
    teamId: code.teamId,
  };
}
