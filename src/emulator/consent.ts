/**
 * Consent pages: `GET|POST /oauth/v2/authorize`, `/oauth/authorize` (v1) and `/openid/connect/authorize`.
 *
 * A page is a `<form method="post">` with a workspace choice named `team`, an optional `user` (and
 * `channel` for incoming webhooks), and submit buttons `decision=allow|deny`, so that both a browser and
 * a plain HTTP client can drive it. Errors in the request itself are shown as a 400 page and NEVER
 * redirected (a redirect would hand an attacker-chosen redirect_uri a response).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { EmulatedApp } from "./apps.js";
import { appByClientId, type EmulatorContext } from "./context.js";
import { parseForm, queryRecord, readBody, redirect, sendHtml, withQuery } from "./http.js";
import { authorizationCode } from "./ids.js";
import type { CodeFlow, CodeRecord } from "./state.js";
import type { EmulatedUser, EmulatedWorkspace } from "./world.js";

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const OIDC_SCOPES = new Set(["openid", "profile", "email"]);
const SCOPE_RE = /^[a-z][a-z0-9_.:-]*$/;
const PKCE_CHALLENGE_RE = /^[A-Za-z0-9_-]{43,128}$/;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Whether `uri` may be used as a redirect_uri for `app`: no fragment, HTTPS (emulator relaxation: plain
 * http is accepted for localhost / 127.0.0.1 / [::1]), and equal to or below (a subdirectory of) one of
 * the app's redirect URLs, same scheme, host and port.
 */
export function redirectUriAllowed(app: EmulatedApp, uri: string): boolean {
  if (uri.includes("#")) return false;
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  if (u.protocol !== "https:" && !(u.protocol === "http:" && LOOPBACK_HOSTS.has(u.hostname))) return false;
  if (u.username || u.password) return false;
  return app.redirectUrls.some((configured) => {
    let c: URL;
    try {
      c = new URL(configured);
    } catch {
      return false;
    }
    if (c.protocol !== u.protocol || c.host !== u.host) return false;
    if (u.pathname === c.pathname) return true;
    const base = c.pathname.endsWith("/") ? c.pathname : `${c.pathname}/`;
    return u.pathname.startsWith(base);
  });
}

interface AuthorizeRequest {
  flow: CodeFlow;
  app: EmulatedApp;
  params: Record<string, string>;
  /** Where to send the browser back. */
  redirectTarget: string;
  /** The redirect_uri as sent, or null (then the code is not bound to one). */
  redirectUri: string | null;
  botScopes: string[];
  userScopes: string[];
  codeChallenge: string | null;
  nonce: string | null;
}

type Validation = { ok: true; req: AuthorizeRequest } | { ok: false; error: string; description: string };

function splitScopes(raw: string | undefined, flow: CodeFlow): string[] {
  if (raw === undefined) return [];
  // v2: comma-separated (strict: spaces make an unknown scope). v1 and OIDC: space- or comma-separated, as
  // Slack accepts (slack_sdk's OpenIDConnectAuthorizeUrlGenerator joins the OIDC scopes with commas).
  const parts = flow === "v2" ? raw.split(",") : raw.split(/[ ,]+/);
  return [...new Set(parts.filter((s) => s !== ""))];
}

function validateAuthorize(ctx: EmulatorContext, flow: CodeFlow, params: Record<string, string>): Validation {
  const fail = (error: string, description: string): Validation => ({ ok: false, error, description });
  if (!params.client_id) return fail("invalid_client_id", "The request is missing client_id.");
  const app = appByClientId(ctx, params.client_id);
  if (!app) return fail("invalid_client_id", "No app has this client_id.");

  let redirectUri: string | null = null;
  if (params.redirect_uri !== undefined) {
    if (!redirectUriAllowed(app, params.redirect_uri)) {
      return fail(
        "bad_redirect_uri",
        "redirect_uri must be HTTPS (http is accepted for localhost only), carry no #fragment, and match or be " +
          "below one of the app's Redirect URLs.",
      );
    }
    redirectUri = params.redirect_uri;
  } else if (flow === "oidc") {
    return fail("bad_redirect_uri", "Sign in with Slack requires redirect_uri.");
  }
  const redirectTarget = redirectUri ?? app.redirectUrls[0];
  if (!redirectTarget) return fail("bad_redirect_uri", "The app has no Redirect URL configured.");

  let botScopes: string[] = [];
  let userScopes: string[] = [];
  let nonce: string | null = null;
  if (flow === "oidc") {
    if (params.response_type !== "code") {
      return fail("unsupported_response_type", "response_type must be code.");
    }
    userScopes = splitScopes(params.scope, flow);
    if (!userScopes.includes("openid")) return fail("invalid_scope", "Sign in with Slack requires the openid scope.");
    const bad = userScopes.filter((s) => !OIDC_SCOPES.has(s));
    if (bad.length > 0) {
      return fail("invalid_scope", `Only openid, profile and email may be requested here, not: ${bad.join(", ")}.`);
    }
    nonce = params.nonce ?? null;
  } else {
    botScopes = splitScopes(params.scope, flow);
    userScopes = flow === "v2" ? splitScopes(params.user_scope, flow) : [];
    if (botScopes.length === 0 && userScopes.length === 0) return fail("no_scopes", "No scopes were requested.");
    const allowedBot = new Set(flow === "v1" ? [...app.botScopes, ...app.userScopes, "bot"] : app.botScopes);
    const allowedUser = new Set(app.userScopes.filter((s) => !OIDC_SCOPES.has(s)));
    const badBot = botScopes.filter((s) => !SCOPE_RE.test(s) || !allowedBot.has(s));
    const badUser = userScopes.filter((s) => !SCOPE_RE.test(s) || !allowedUser.has(s));
    if (badBot.length > 0 || badUser.length > 0) {
      const oidcMixed = [...badBot, ...badUser].some((s) => OIDC_SCOPES.has(s));
      return fail(
        "invalid_scope",
        `Invalid permissions requested: ${[...badBot, ...badUser].join(", ")}.` +
          (oidcMixed ? " openid, profile and email can only be requested at /openid/connect/authorize." : ""),
      );
    }
  }

  let codeChallenge: string | null = null;
  if (params.code_challenge !== undefined || params.code_challenge_method !== undefined) {
    if (flow === "v1") return fail("invalid_request", "PKCE is not available for legacy apps.");
    if (params.code_challenge_method !== "S256") {
      return fail("invalid_code_challenge_method", "code_challenge_method must be S256.");
    }
    if (params.code_challenge === undefined || !PKCE_CHALLENGE_RE.test(params.code_challenge)) {
      return fail("invalid_code_challenge", "code_challenge must be 43 to 128 base64url characters.");
    }
    codeChallenge = params.code_challenge;
  }
  return {
    ok: true,
    req: { flow, app, params, redirectTarget, redirectUri, botScopes, userScopes, codeChallenge, nonce },
  };
}

/** Handles one authorize request (GET shows the page, POST takes the decision). */
export async function handleAuthorize(
  ctx: EmulatorContext,
  flow: CodeFlow,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const query = queryRecord(url);
  let params = query;
  let form: Record<string, string> = {};
  if (req.method === "POST") {
    form = parseForm(await readBody(req));
    // The original parameters come back as hidden inputs and in the action URL; the choices in the body.
    params = { ...query, ...form };
    for (const k of ["team", "user", "channel", "decision"]) delete params[k];
    if (query.team !== undefined) params.team = query.team;
  } else if (req.method !== "GET") {
    sendHtml(res, 405, errorPage("method_not_allowed", "Use GET to show the page and POST to answer it."));
    return;
  }
  const v = validateAuthorize(ctx, flow, params);
  if (!v.ok) {
    sendHtml(res, 400, errorPage(v.error, v.description));
    return;
  }
  const r = v.req;
  if (req.method === "GET") {
    sendHtml(res, 200, consentPage(ctx, r, url));
    return;
  }
  const state = params.state;
  if (form.decision === "deny") {
    redirect(res, withQuery(r.redirectTarget, { error: "access_denied", state }));
    return;
  }
  if (form.decision !== "allow") {
    sendHtml(res, 400, errorPage("invalid_decision", "Answer with decision=allow or decision=deny."));
    return;
  }
  const choice = resolveChoice(ctx, r, form.team ?? params.team, form.user, form.channel);
  if (!choice.ok) {
    sendHtml(res, 400, errorPage(choice.error, choice.description));
    return;
  }
  const now = ctx.now();
  const numberSource = choice.enterpriseId && choice.isEnterpriseInstall ? choice.enterpriseId : choice.teamId;
  const code: CodeRecord = {
    value: authorizationCode(ctx.world.numberOf(numberSource ?? "T0")),
    flow: r.flow,
    appId: r.app.appId,
    redirectUri: r.redirectUri,
    teamId: choice.teamId,
    enterpriseId: choice.enterpriseId,
    isEnterpriseInstall: choice.isEnterpriseInstall,
    userId: choice.user.id,
    botScopes: r.botScopes,
    userScopes: r.userScopes,
    codeChallenge: r.codeChallenge,
    nonce: r.nonce,
    webhookChannelId: choice.channelId,
    issuedAt: now,
    expiresAt: now + ctx.settings.codeTtlSeconds * 1000,
    used: false,
    issuedTokens: [],
  };
  ctx.state.codes.set(code.value, code);
  ctx.logger?.info(`emulator: consent allowed (${r.flow}) for ${choice.teamId ?? choice.enterpriseId}`);
  redirect(res, withQuery(r.redirectTarget, { code: code.value, state }));
}

type Choice =
  | {
      ok: true;
      teamId: string | null;
      enterpriseId: string | null;
      isEnterpriseInstall: boolean;
      user: EmulatedUser;
      channelId: string | null;
    }
  | { ok: false; error: string; description: string };

function resolveChoice(
  ctx: EmulatorContext,
  r: AuthorizeRequest,
  team: string | undefined,
  userChoice: string | undefined,
  channelChoice: string | undefined,
): Choice {
  const { world } = ctx;
  const chosen = team || world.workspaces[0]!.id;
  const wantsWebhook = r.botScopes.includes("incoming-webhook");
  if (chosen.startsWith("E")) {
    const enterprise = world.enterprise(chosen);
    if (!enterprise) return { ok: false, error: "invalid_team", description: "Unknown organization." };
    if (r.flow !== "v2" || !r.app.orgDeployEnabled) {
      return { ok: false, error: "invalid_team", description: "This app cannot be installed on a whole organization." };
    }
    const admins = world.orgAdminsOf(enterprise.id);
    const user = userChoice ? world.user(userChoice) : admins[0];
    if (!user || !admins.some((a) => a.id === user.id)) {
      return {
        ok: false,
        error: "not_authorized",
        description: "Only an org admin can install an app on the whole organization.",
      };
    }
    return { ok: true, teamId: null, enterpriseId: enterprise.id, isEnterpriseInstall: true, user, channelId: null };
  }
  const workspace = world.workspace(chosen);
  if (!workspace) return { ok: false, error: "invalid_team", description: "Unknown workspace." };
  const members = world.usersOf(workspace.id);
  const user = userChoice ? world.user(userChoice) : (members.find((u) => u.isAdmin) ?? members[0]);
  if (!user || user.teamId !== workspace.id) {
    return { ok: false, error: "invalid_user", description: "That user is not a member of the chosen workspace." };
  }
  let channelId: string | null = null;
  if (wantsWebhook) {
    const channel = channelChoice
      ? workspace.channels.find((c) => c.id === channelChoice)
      : (workspace.channels.find((c) => c.name === "general") ?? workspace.channels[0]);
    if (!channel) {
      return { ok: false, error: "invalid_channel", description: "Pick a channel of the chosen workspace." };
    }
    channelId = channel.id;
  }
  return {
    ok: true,
    teamId: workspace.id,
    enterpriseId: workspace.enterpriseId ?? null,
    isEnterpriseInstall: false,
    user,
    channelId,
  };
}

const SCOPE_TEXT: Record<string, string> = {
  commands: "Add shortcuts and/or slash commands that people can use",
  "chat:write": "Send messages",
  "chat:write.public": "Send messages to channels it isn't a member of",
  "incoming-webhook": "Post messages to a specific channel",
  "users:read": "View people in the workspace",
  "users:read.email": "View email addresses of people in the workspace",
  "channels:read": "View basic information about public channels",
  "channels:history": "View messages in public channels",
  identify: "View information about your identity",
  openid: "View your identity (Sign in with Slack)",
  profile: "View your name and profile picture",
  email: "View your email address",
  bot: "Add a bot user",
};

function scopeList(scopes: string[]): string {
  return `<ul class="scopes">${scopes
    .map((s) => `<li><code>${escapeHtml(s)}</code> ${escapeHtml(SCOPE_TEXT[s] ?? "")}</li>`)
    .join("")}</ul>`;
}

const STYLE = `body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;background:#f8f8f8;color:#1d1c1d;margin:0}
main{max-width:560px;margin:48px auto;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15);padding:32px}
h1{font-size:22px;margin:0 0 8px}.logo{font-weight:900;color:#4a154b;letter-spacing:-.5px}.muted{color:#616061;font-size:14px}
label{display:block;font-weight:700;margin:16px 0 6px}select{width:100%;padding:8px;font-size:15px}
ul.scopes{padding-left:20px}ul.scopes li{margin:6px 0}code{background:#f4f4f4;padding:1px 4px;border-radius:3px}
.actions{display:flex;gap:12px;justify-content:flex-end;margin-top:24px}
button{font-size:15px;font-weight:700;padding:10px 20px;border-radius:4px;border:1px solid #616061;background:#fff;color:#1d1c1d;cursor:pointer}
button.allow{background:#007a5a;color:#fff;border-color:#007a5a}.error{color:#e01e5a}`;

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>
<p class="logo">slack <span class="muted">emulator</span></p>${body}</main></body></html>`;
}

/** A Slack-like error page (shown with status 400; never a redirect). */
export function errorPage(error: string, description: string): string {
  return layout(
    "Something went wrong",
    `<h1>Something went wrong when authorizing this app.</h1>
<p class="error">Error: <code id="error">${escapeHtml(error)}</code></p><p>${escapeHtml(description)}</p>
<p class="muted">Try going back and installing again, or contact the app's developer.</p>`,
  );
}

function workspaceLabel(w: EmulatedWorkspace): string {
  return `${w.name} (${w.domain}.slack.com)`;
}

function consentPage(ctx: EmulatorContext, r: AuthorizeRequest, url: URL): string {
  const { world } = ctx;
  const preselect = r.params.team;
  const hidden = Object.entries(r.params)
    .filter(([k]) => !["team", "user", "channel", "decision"].includes(k))
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join("\n");
  const teamOptions: string[] = world.workspaces.map(
    (w) =>
      `<option value="${escapeHtml(w.id)}"${w.id === preselect ? " selected" : ""}>${escapeHtml(workspaceLabel(w))}</option>`,
  );
  if (r.flow === "v2" && r.app.orgDeployEnabled) {
    for (const e of world.enterprises) {
      teamOptions.push(
        `<option value="${escapeHtml(e.id)}"${e.id === preselect ? " selected" : ""}>${escapeHtml(e.name)} — entire organization (org-wide install)</option>`,
      );
    }
  }
  const userOptions = world.workspaces
    .map(
      (w) =>
        `<optgroup label="${escapeHtml(w.name)}">${world
          .usersOf(w.id)
          .map(
            (u) =>
              `<option value="${escapeHtml(u.id)}">${escapeHtml(u.realName)} (@${escapeHtml(u.name)})${u.isAdmin ? " — admin" : ""}</option>`,
          )
          .join("")}</optgroup>`,
    )
    .join("");
  const channelSelect = r.botScopes.includes("incoming-webhook")
    ? `<label for="channel">Where should ${escapeHtml(r.app.name)} post?</label><select id="channel" name="channel">
<option value="">#general of the chosen workspace</option>${world.workspaces
        .map(
          (w) =>
            `<optgroup label="${escapeHtml(w.name)}">${w.channels
              .map((c) => `<option value="${escapeHtml(c.id)}">#${escapeHtml(c.name)}</option>`)
              .join("")}</optgroup>`,
        )
        .join("")}</select>`
    : "";
  const intro =
    r.flow === "oidc"
      ? `<h1>Sign in to <strong>${escapeHtml(r.app.name)}</strong> with Slack</h1>
<p>${escapeHtml(r.app.name)} will be able to:</p>${scopeList(r.userScopes)}`
      : `<h1><strong>${escapeHtml(r.app.name)}</strong> is requesting permission to access a Slack workspace</h1>` +
        (r.botScopes.length > 0
          ? `<p>What will ${escapeHtml(r.app.name)} be able to view and do?</p>${scopeList(r.botScopes)}`
          : "") +
        (r.userScopes.length > 0
          ? `<p>What will ${escapeHtml(r.app.name)} be able to do on your behalf?</p>${scopeList(r.userScopes)}`
          : "");
  const action = `${url.pathname}${url.search}`;
  return layout(
    r.flow === "oidc" ? `Sign in to ${r.app.name}` : `Install ${r.app.name}`,
    `${intro}
<form method="post" action="${escapeHtml(action)}">
${hidden}
<label for="team">Workspace</label><select id="team" name="team">${teamOptions.join("")}</select>
<label for="user">Signed in as</label><select id="user" name="user"><option value="">The workspace's admin (default)</option>${userOptions}</select>
${channelSelect}
<div class="actions"><button type="submit" name="decision" value="deny">Cancel</button>
<button type="submit" class="allow" name="decision" value="allow">Allow</button></div>
</form>
<p class="muted">Redirects to ${escapeHtml(new URL(r.redirectTarget).origin)} after you answer.</p>`,
  );
}
