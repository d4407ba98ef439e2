/**
 * The reference server's operator console (`/console`): the installations of every app this server runs,
 * paginated and searchable, with their health, and four actions (check now, refresh now, delete after a
 * confirmation, a reinstall link to copy). A refresh records its outcome in the store's health, as the
 * refresh scheduler does (`refresh_failed` with Slack's error, or `ok` for a new token). Reached through Sign in with Slack and open only to the users
 * named in `CONSOLE_ADMINS` (`team_id:user_id` pairs); with none named the console is off (404).
 *
 * Cross-site protection of every action (a `POST`):
 * - `Sec-Fetch-Site: same-origin`, or else an `Origin` equal to the server's: a request with neither is
 *   refused (fail closed), not waved through as a non-browser;
 * - a per-session CSRF token: a random value kept in the console's own cookie (signed, `HttpOnly`,
 *   `SameSite=Strict`, `__Host-` over https, one hour) and repeated in each form, compared in constant time;
 * - a one-time ticket from the state store (shared across processes, ten minutes), bound to the admin and
 *   to the session's token: a replayed form (same cookie, same body) finds its ticket spent. A delete's
 *   confirmation carries a ticket of its own that names what it deletes.
 *
 * Every action is logged with the acting admin (`team_id:user_id`), the app and the workspace; Slack's
 * error codes pass through `redact()`, and no token ever reaches a page or a log line.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ErrorCode } from "../errors.js";
import { checkInstallationHealth, type HealthCheckOptions } from "../health/check.js";
import type { Installation } from "../model/installation.js";
import { escapeHtml, HTML_HEADERS, layout } from "../oauth/html.js";
import { SessionCookie } from "../oidc/session.js";
import { type Logger, redact } from "../redact.js";
import type { BotRotation, RotationCoordinator, UserRotation } from "../rotation/coordinator.js";
import { consumeState, type StateStore } from "../state/state.js";
import type { HealthEntry, InstallationHealthStatus, TokenHealth } from "../stores/health.js";
import type { InstallationStore, TokenExpectation, WorkspaceInstallations } from "../stores/installation-store.js";

/** Where the console lives. */
export const CONSOLE_PATH = "/console";
/** The environment variable naming the console's admins. */
export const CONSOLE_ADMINS_VARIABLE = "CONSOLE_ADMINS";
/** Workspaces per console page. */
export const CONSOLE_PAGE_SIZE = 25;

/** One admin: a workspace (`T…`) or org (`E…`) id and a user id (`U…` or `W…`), as Slack writes them. */
const ADMIN_RE = /^[TE][A-Z0-9]{2,31}:[UW][A-Z0-9]{2,31}$/;
/** A team or enterprise id in a form field. */
const ID_RE = /^[TE][A-Z0-9]{2,31}$/;
/** The largest form body an action accepts. */
const MAX_FORM_BYTES = 8 * 1024;
/** The console cookie's lifetime. */
const CONSOLE_SESSION_SECONDS = 3600;
/** The longest search text kept. */
const MAX_QUERY = 100;
/** An error code a health record accepts (see `checkHealthWrite`). */
const HEALTH_ERROR_RE = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Reads `CONSOLE_ADMINS`: `team_id:user_id` pairs separated by commas and/or spaces
 * (`T0123ABCD:U0123ABCD, E0123ABCD:W0123ABCD`). Empty or unset: no admin (the console is off). Every entry
 * that is not exactly such a pair is a problem (the server then stops with exit code 2).
 */
export function parseConsoleAdmins(value: string | undefined): { admins: string[]; problems: string[] } {
  const admins: string[] = [];
  const problems: string[] = [];
  for (const entry of (value ?? "").split(/[\s,]+/).filter(Boolean)) {
    if (!ADMIN_RE.test(entry)) {
      problems.push(
        `${CONSOLE_ADMINS_VARIABLE}: ${shownEntry(entry)} is not a team_id:user_id pair (e.g. T0123ABCD:U0123ABCD; an org's admins E…:U…)`,
      );
    } else if (!admins.includes(entry)) admins.push(entry);
  }
  return { admins, problems };
}

/**
 * A wrong `CONSOLE_ADMINS` entry as a configuration message shows it: quoted when it is made of what ids
 * are made of (upper-case letters, digits, `:`), else only its length (a secret pasted into the wrong
 * variable is never printed).
 */
function shownEntry(entry: string): string {
  return /^[A-Z0-9:;]{1,40}$/.test(entry) ? `"${entry}"` : `an entry of ${entry.length} characters`;
}

/** What the console shows of a workspace's health (from the store's health records). */
export interface ConsoleHealthRecord {
  /** The bot token's status, else the worst of the users' tokens. */
  status: InstallationHealthStatus;
  /** Epoch seconds of the latest check of any of its tokens. */
  checkedAt: number;
  /** Slack's (or this library's) error code of that status (never a token). */
  lastError?: string | undefined;
  /** Each checked token: `bot` or `user U…`, its status and error. */
  tokens: Array<{ label: string; status: InstallationHealthStatus; error?: string | undefined }>;
}

/** One app the console lists: its store partition and what its actions need. */
export interface ConsoleApp {
  /** Display name. */
  name: string;
  /** Client id: the store partition, and the app's key in forms. */
  clientId: string;
  store: InstallationStore;
  /** Refreshes rotating tokens through the store's locks (absent: refresh is not offered). */
  coordinator?: RotationCoordinator | undefined;
  /** The install route of this app, absolute or relative to the console's URL (a reinstall link adds `?team=`). */
  installUrl: string;
}

/** Where the console reads and updates health. */
export interface ConsoleHealth {
  /** The last recorded check of each workspace of an app that has one, keyed by {@link consoleWorkspaceKey}. */
  readAll(app: ConsoleApp): Promise<Map<string, ConsoleHealthRecord>>;
  /** Checks a workspace's tokens now (`auth.test`) and records the result. */
  check(app: ConsoleApp, workspace: WorkspaceInstallations): Promise<ConsoleHealthRecord>;
}

/** Worse statuses rank higher: a workspace with no bot shows its worst user token. */
const STATUS_RANK: Record<InstallationHealthStatus, number> = {
  ok: 0,
  missing_scopes: 1,
  unknown: 2,
  expired: 3,
  refresh_failed: 4,
  invalid: 5,
  revoked: 6,
};

/** One workspace's record from its tokens' health entries (bot first); `undefined` when none was checked. */
export function summarizeHealth(
  entries: ReadonlyArray<{ kind: "bot" | "user"; userId?: string | undefined; health: TokenHealth }>,
): ConsoleHealthRecord | undefined {
  if (entries.length === 0) return undefined;
  const bot = entries.find((e) => e.kind === "bot");
  const main = bot ?? entries.reduce((a, b) => (STATUS_RANK[b.health.status] > STATUS_RANK[a.health.status] ? b : a));
  return {
    status: main.health.status,
    checkedAt: Math.max(...entries.map((e) => e.health.checkedAt)),
    ...(main.health.error ? { lastError: main.health.error } : {}),
    tokens: [...entries]
      .sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "bot" ? -1 : 1))
      .map((e) => ({
        label: e.kind === "bot" ? "bot" : `user ${e.userId ?? "?"}`,
        status: e.health.status,
        ...(e.health.error ? { error: e.health.error } : {}),
      })),
  };
}

/**
 * Health as the stores keep it (`listHealth`, written by `slack-oauth-kit/health`): the list reads each
 * app's records at once; "check now" runs `checkInstallationHealth` on the workspace (bot and users'
 * tokens; a rotating token about to expire is refreshed first through the app's coordinator, a failed
 * refresh is `refresh_failed`), which records its verdicts in the store.
 */
export function storeConsoleHealth(
  options: Pick<HealthCheckOptions, "api" | "apiUrl" | "logger" | "nowSeconds" | "maxRateLimitWaitSeconds">,
): ConsoleHealth {
  return {
    async readAll(app) {
      const byWorkspace = new Map<string, HealthEntry[]>();
      for (const entry of await app.store.listHealth()) {
        const key = consoleWorkspaceKey(app, entry);
        byWorkspace.set(key, [...(byWorkspace.get(key) ?? []), entry]);
      }
      const out = new Map<string, ConsoleHealthRecord>();
      for (const [key, entries] of byWorkspace) {
        const record = summarizeHealth(entries);
        if (record) out.set(key, record);
      }
      return out;
    },
    async check(app, w) {
      const report = await checkInstallationHealth(
        {
          // An operator waits on the page: a rate-limited token is reported unknown after a short wait.
          maxRateLimitWaitSeconds: 10,
          ...options,
          installationStore: app.store,
          ...(app.coordinator ? { coordinator: app.coordinator } : {}),
        },
        {
          ...(w.enterpriseId ? { enterpriseId: w.enterpriseId } : {}),
          ...(w.teamId ? { teamId: w.teamId } : {}),
          isEnterpriseInstall: w.isEnterpriseInstall,
        },
      );
      const record = summarizeHealth(
        report.items.map((i) => ({
          kind: i.kind,
          userId: i.userId,
          health: { status: i.status, checkedAt: i.checkedAt, ...(i.error ? { error: i.error } : {}) },
        })),
      );
      return (
        record ?? {
          status: "unknown",
          checkedAt: Math.floor(report.finishedAt),
          lastError: "no_token",
          tokens: [],
        }
      );
    },
  };
}

/** Options of {@link createConsole}. */
export interface ConsoleOptions {
  /** `team_id:user_id` pairs (see {@link parseConsoleAdmins}); empty: the console answers 404. */
  admins: readonly string[];
  apps: readonly ConsoleApp[];
  /**
   * The signed-in Slack user of a request (a Sign in with Slack session), if any; with `logoutPath`, where
   * that session signs out (with several apps, each app's sign-in has its own).
   */
  currentUser(
    request: Request,
  ): { teamId: string; userId: string; enterpriseId?: string | undefined; logoutPath?: string | undefined } | undefined;
  /**
   * Where a signed-out visitor is sent to sign in (the console adds `?next=/console`). With several apps,
   * `currentUser` may accept the session of any app's sign-in.
   */
  loginPath: string;
  /** Where its Sign out button posts (the sign-in routes' logout), unless the session names its own. */
  logoutPath?: string | undefined;
  /** Issues and consumes the one-time tickets (shared across processes). */
  stateStore: StateStore;
  /** Signs the console cookie (32+ bytes; the server's `SESSION_SECRET`, or a random one). */
  sessionSecret: string | Uint8Array;
  /** Origins a `POST` may come from (default: the request URL's own). */
  allowedOrigins?: readonly string[] | undefined;
  health: ConsoleHealth;
  logger: Logger;
  /** Clock, epoch ms (default `Date.now`). */
  nowMs?: (() => number) | undefined;
  /** Workspaces per page (default {@link CONSOLE_PAGE_SIZE}). */
  pageSize?: number | undefined;
}

/** The console's routes. */
export interface OperatorConsole {
  /** Answers `/console` and `/console/…`; `undefined` for any other path. */
  handle(request: Request): Promise<Response | undefined>;
}

/** The console cookie's data: the admin it belongs to and the session's CSRF token. */
interface ConsoleSession {
  u: string;
  c: string;
}

/** A workspace of an app, as the console shows it. */
interface Row {
  app: ConsoleApp;
  w: WorkspaceInstallations;
  health: ConsoleHealthRecord | undefined;
}

type Action = "check" | "refresh" | "delete" | "reinstall";
const ACTIONS: readonly Action[] = ["check", "refresh", "delete", "reinstall"];

/** The key of an app's workspace (or org) in {@link ConsoleHealth.readAll}'s map. */
export function consoleWorkspaceKey(
  app: Pick<ConsoleApp, "clientId">,
  w: { enterpriseId?: string | undefined; teamId?: string | undefined },
): string {
  return `${app.clientId}|${w.enterpriseId ?? ""}|${w.teamId ?? ""}`;
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Constant-time equality of two strings (hashed first, so lengths leak nothing either). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** The copy button's script, allowed by its hash in the reinstall page's `Content-Security-Policy`. */
const COPY_SCRIPT = `document.getElementById("copy").addEventListener("click",function(){var i=document.getElementById("reinstall-link");i.select();if(navigator.clipboard){navigator.clipboard.writeText(i.value).then(function(){document.getElementById("copied").textContent="Copied."},function(){document.getElementById("copied").textContent="Select the link and copy it."})}});`;
const COPY_SCRIPT_HASH = createHash("sha256").update(COPY_SCRIPT).digest("base64");

const CONSOLE_CSS = `
main{max-width:60rem}button{font:inherit;font-weight:600}
form{display:inline}.inline{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.5rem 0}
input[type=search],input[type=text]{font:inherit;color:var(--fg);background:var(--card);border:1px solid var(--muted);border-radius:6px;padding:.5rem .6rem;min-width:0;flex:1 1 12rem;max-width:100%}
button.danger{background:var(--bad);border-color:var(--bad)}button.quiet{background:transparent;color:var(--accent)}
.inst{border:1px solid var(--line);border-radius:8px;padding:.6rem .75rem;margin:.6rem 0}
.inst h2{font-size:1.05rem;margin:0 0 .35rem}
.inst dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .75rem;margin:.25rem 0 .5rem;font-size:.9rem}
.inst dt{color:var(--muted)}.inst dd{margin:0;min-width:0}
@media (max-width:30rem){.inst dl{grid-template-columns:1fr}.inst dd{margin-bottom:.3rem}}
.status{font-weight:700}.status-ok{color:var(--ok)}.status-bad{color:var(--bad)}
.notice{border-left:4px solid var(--accent);padding:.25rem .75rem}
`;

/** Builds the console. With no admin it answers every console path 404. */
export function createConsole(o: ConsoleOptions): OperatorConsole {
  const admins = new Set(o.admins);
  const pageSize = o.pageSize ?? CONSOLE_PAGE_SIZE;
  const now = o.nowMs ?? Date.now;
  const sessions = new SessionCookie<ConsoleSession>({
    secret: o.sessionSecret,
    name: "slack-console",
    sameSite: "Strict",
    maxAgeSeconds: CONSOLE_SESSION_SECONDS,
    nowMs: now,
  });

  /** The admin key of a signed-in user, or why not. */
  function adminOf(
    request: Request,
  ):
    | { admin: string; logoutPath: string | undefined }
    | { refused: "signed-out" | "not-admin"; who?: string | undefined } {
    const user = o.currentUser(request);
    if (!user) return { refused: "signed-out" };
    const keys = [`${user.teamId}:${user.userId}`];
    if (user.enterpriseId) keys.push(`${user.enterpriseId}:${user.userId}`);
    const admin = keys.find((k) => admins.has(k));
    return admin ? { admin, logoutPath: user.logoutPath ?? o.logoutPath } : { refused: "not-admin", who: keys[0] };
  }

  /** Signed out: to the sign-in, back to the console afterwards. */
  function signInFirst(): Response {
    return new Response(null, {
      status: 303,
      headers: { Location: `${o.loginPath}?next=${encodeURIComponent(CONSOLE_PATH)}`, "Cache-Control": "no-store" },
    });
  }

  function page(
    title: string,
    body: string,
    status = 200,
    extra: Record<string, string> = {},
    kind: "ok" | "bad" | "plain" = "plain",
  ): Response {
    return new Response(layout(title, body, kind, CONSOLE_CSS), { status, headers: { ...HTML_HEADERS, ...extra } });
  }

  function refuse(status: 403 | 404 | 400, code: string | undefined, heading: string, text: string): Response {
    const body = `<h1>${escapeHtml(heading)}</h1><p id="refusal">${escapeHtml(text)}</p>
<p><a class="button" href="${CONSOLE_PATH}">Back to the console</a> <a href="/">Home</a></p>${code ? `<p class="muted">Error code: <code>${escapeHtml(code)}</code></p>` : ""}`;
    return page(heading, body, status, code ? { "X-Slack-OAuth-Error": code } : {}, "bad");
  }

  function notFound(): Response {
    return page("Not found", '<h1>Not found</h1><p><a href="/">Home</a></p>', 404, {}, "bad");
  }

  function forbidden(who: string | undefined): Response {
    o.logger.warn(`console: refused a signed-in user who is not an admin (${ErrorCode.ConsoleForbidden})`, {
      user: who,
    });
    return refuse(
      403,
      ErrorCode.ConsoleForbidden,
      "Not allowed",
      `You are signed in with Slack as ${who ?? "someone"}, who is not an operator of this server. Operators are listed in CONSOLE_ADMINS.`,
    );
  }

  /** True when a POST comes from this server's own pages (fail closed: no header, no pass). */
  function sameOrigin(request: Request): boolean {
    const site = request.headers.get("sec-fetch-site");
    if (site !== null) return site === "same-origin";
    const origin = request.headers.get("origin");
    if (origin === null) return false;
    return (o.allowedOrigins ?? [new URL(request.url).origin]).includes(origin);
  }

  async function rows(): Promise<Row[]> {
    const out: Row[] = [];
    for (const app of o.apps) {
      const health = await o.health.readAll(app);
      for (const w of await app.store.listWorkspaces())
        out.push({ app, w, health: health.get(consoleWorkspaceKey(app, w)) });
    }
    return out;
  }

  function installerOf(w: WorkspaceInstallations): Installation | undefined {
    return w.installations[0];
  }

  function searchText(r: Row): string {
    const i = installerOf(r.w);
    return [
      r.app.name,
      r.app.clientId,
      r.w.enterpriseId,
      r.w.teamId,
      i?.teamName ?? r.w.bot?.teamName,
      i?.enterpriseName ?? r.w.bot?.enterpriseName,
      ...r.w.installations.map((x) => x.userId),
      r.health?.status ?? "unchecked",
    ]
      .filter(Boolean)
      .join(" ")
      .toLowerCase();
  }

  function when(epochSeconds: number | undefined): string {
    if (epochSeconds === undefined) return "never";
    return new Date(epochSeconds * 1000).toISOString().replace(".000Z", "Z");
  }

  function expiry(epochSeconds: number | undefined): string {
    if (epochSeconds === undefined) return "does not expire";
    const left = epochSeconds - now() / 1000;
    const inTime = left >= 7200 ? `in ${Math.round(left / 3600)} h` : `in ${Math.max(1, Math.round(left / 60))} min`;
    return `${when(epochSeconds)} (${left <= 0 ? "expired" : inTime})`;
  }

  function targetFields(r: Row): string {
    return `<input type="hidden" name="app" value="${escapeHtml(r.app.clientId)}"><input type="hidden" name="enterprise" value="${escapeHtml(r.w.enterpriseId ?? "")}"><input type="hidden" name="team" value="${escapeHtml(r.w.teamId ?? "")}">`;
  }

  function statusHtml(h: ConsoleHealthRecord | undefined): string {
    if (!h) return `<span class="status">unchecked</span>`;
    return `${statusBadge(h.status)}${h.lastError ? ` <code>${escapeHtml(h.lastError)}</code>` : ""}`;
  }

  function statusBadge(status: InstallationHealthStatus): string {
    const cls = status === "ok" ? "status-ok" : status === "unknown" ? "" : "status-bad";
    return `<span class="status ${cls}">${escapeHtml(status)}</span>`;
  }

  /** Each token's verdict, when there is more than one token. */
  function tokensHtml(h: ConsoleHealthRecord | undefined): string {
    if (!h || h.tokens.length < 2) return "";
    return `<dt>Tokens</dt><dd class="muted">${h.tokens
      .map((t) => `${escapeHtml(t.label)}: ${escapeHtml(t.status)}${t.error ? ` (${escapeHtml(t.error)})` : ""}`)
      .join("; ")}</dd>`;
  }

  function card(r: Row, n: number, secrets: string): string {
    const w = r.w;
    const i = installerOf(w);
    const teamName = i?.teamName ?? w.bot?.teamName;
    const orgName = i?.enterpriseName ?? w.bot?.enterpriseName;
    const where = w.isEnterpriseInstall
      ? `Org ${escapeHtml(orgName ?? "")} <code>${escapeHtml(w.enterpriseId ?? "")}</code> (org-wide)`
      : `${escapeHtml(teamName ?? "")} <code>${escapeHtml(w.teamId ?? "")}</code>${w.enterpriseId ? ` in org <code>${escapeHtml(w.enterpriseId)}</code>` : ""}`;
    const users = w.installations.length;
    const button = (action: Action, label: string, cls = "") =>
      `<form method="post" action="${CONSOLE_PATH}/${action}">${secrets}${targetFields(r)}<button type="submit" name="do" value="${action}"${cls ? ` class="${cls}"` : ""} id="${action}-${n}">${escapeHtml(label)}</button></form>`;
    return `<article class="inst" id="inst-${n}" data-team="${escapeHtml(w.teamId ?? w.enterpriseId ?? "")}">
<h2>${where}</h2>
<dl>
<dt>App</dt><dd>${escapeHtml(r.app.name)}</dd>
<dt>Status</dt><dd id="status-${n}">${statusHtml(r.health)}</dd>
<dt>Last check</dt><dd>${escapeHtml(when(r.health?.checkedAt))}</dd>${tokensHtml(r.health)}
<dt>Installed by</dt><dd><code>${escapeHtml(i?.userId ?? "")}</code>${users > 1 ? ` and ${users - 1} more user${users > 2 ? "s" : ""}` : ""}, ${escapeHtml(when(i?.installedAt))}</dd>
<dt>Bot scopes</dt><dd>${w.bot ? escapeHtml(w.bot.botScopes.join(", ") || "none") : "no bot"}</dd>
<dt>User scopes</dt><dd>${escapeHtml(i?.userScopes.join(", ") || "none")}</dd>
<dt>Bot token</dt><dd>${w.bot ? escapeHtml(expiry(w.bot.botTokenExpiresAt)) : "none"}</dd>
${i?.userToken ? `<dt>User token</dt><dd>${escapeHtml(expiry(i.userTokenExpiresAt))}</dd>` : ""}
</dl>
<div class="inline">${button("check", "Check now")}${r.app.coordinator ? button("refresh", "Refresh now") : ""}${button("reinstall", "Reinstall link", "quiet")}${button("delete", "Delete…", "danger")}</div>
</article>`;
  }

  /** The console's cookie for this admin: the one the request carries, or a new one (with its Set-Cookie). */
  function sessionFor(request: Request, admin: string): { session: ConsoleSession; setCookie?: string } {
    const current = sessions.read(request);
    if (current && typeof current.c === "string" && current.u === admin) return { session: current };
    const session = { u: admin, c: randomBytes(32).toString("base64url") };
    return { session, setCookie: sessions.serialize(session, request.url) };
  }

  async function ticket(type: string, admin: string, session: ConsoleSession, extra: Record<string, unknown> = {}) {
    return o.stateStore.issue({ t: type, u: admin, h: sha256(session.c).toString("base64url"), ...extra });
  }

  function secretFields(session: ConsoleSession, t: string): string {
    return `<input type="hidden" name="csrf" value="${escapeHtml(session.c)}"><input type="hidden" name="ticket" value="${escapeHtml(t)}">`;
  }

  async function list(request: Request, admin: string, logoutPath: string | undefined): Promise<Response> {
    const url = new URL(request.url);
    const q = (url.searchParams.get("q") ?? "").trim().slice(0, MAX_QUERY);
    let all: Row[];
    try {
      all = await rows();
    } catch (error) {
      o.logger.error(`console: listing installations failed: ${redact(String((error as Error)?.message ?? error))}`);
      return page(
        "Operator console",
        `<h1>Operator console</h1><p id="unavailable">The installations cannot be listed right now (the store did not answer). Try again in a moment.</p><p><a class="button" href="${CONSOLE_PATH}">Retry</a></p>`,
        503,
        {},
        "bad",
      );
    }
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    const found = words.length ? all.filter((r) => words.every((w) => searchText(r).includes(w))) : all;
    const pages = Math.max(1, Math.ceil(found.length / pageSize));
    const asked = Number(url.searchParams.get("page") ?? "1");
    const p = Number.isInteger(asked) ? Math.min(Math.max(asked, 1), pages) : 1;
    const { session, setCookie } = sessionFor(request, admin);
    const t = await ticket("console", admin, session);
    const secrets = secretFields(session, t);
    const shown = found.slice((p - 1) * pageSize, p * pageSize);
    const link = (n: number) => `${CONSOLE_PATH}?${new URLSearchParams({ ...(q ? { q } : {}), page: String(n) })}`;
    const nav = `<p class="muted" id="pages">Page ${p} of ${pages} · ${found.length} of ${all.length} installation${all.length === 1 ? "" : "s"}${p > 1 ? ` <a rel="prev" href="${escapeHtml(link(p - 1))}">Previous</a>` : ""}${p < pages ? ` <a rel="next" href="${escapeHtml(link(p + 1))}">Next</a>` : ""}</p>`;
    const body = `<h1>Operator console</h1>
<div class="inline"><p class="muted">Signed in as <code>${escapeHtml(admin)}</code>. Actions are logged with your id.</p>${logoutPath ? `<form method="post" action="${escapeHtml(logoutPath)}"><button type="submit" class="quiet" id="sign-out">Sign out</button></form>` : ""}</div>
<form method="get" action="${CONSOLE_PATH}" class="inline" role="search"><label for="q">Search</label><input type="search" id="q" name="q" value="${escapeHtml(q)}" placeholder="workspace, id, user, status"><button type="submit" id="search">Search</button></form>
${nav}
${shown.length ? shown.map((r, n) => card(r, (p - 1) * pageSize + n + 1, secrets)).join("\n") : `<p id="empty">${all.length ? "No installation matches." : "No installation yet."}</p>`}
${pages > 1 ? nav.replace('id="pages"', 'id="pages-bottom"') : ""}`;
    const response = page("Operator console", body);
    if (setCookie) response.headers.append("Set-Cookie", setCookie);
    return response;
  }

  /** Reads and checks an action's form: same origin, admin, CSRF token, one-time ticket. */
  async function verified(
    request: Request,
    admin: string,
    ticketType: string,
  ): Promise<{ form: URLSearchParams; session: ConsoleSession; data: Record<string, unknown> } | Response> {
    const type = request.headers.get("content-type") ?? "";
    const length = Number(request.headers.get("content-length") ?? "0");
    if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded") || length > MAX_FORM_BYTES) {
      return refuse(400, ErrorCode.BadRequest, "Bad request", "The console only accepts its own forms.");
    }
    const text = await request.text();
    if (text.length > MAX_FORM_BYTES)
      return refuse(400, ErrorCode.BadRequest, "Bad request", "The console only accepts its own forms.");
    const form = new URLSearchParams(text);
    const session = sessions.read(request);
    const csrf = form.get("csrf") ?? "";
    if (!session || session.u !== admin || typeof session.c !== "string" || !sameSecret(csrf, session.c)) {
      o.logger.warn(
        `console: refused an action with a missing or wrong CSRF token (${ErrorCode.ConsoleRequestInvalid})`,
        {
          admin,
        },
      );
      return refuse(
        403,
        ErrorCode.ConsoleRequestInvalid,
        "Action refused",
        "This request did not come from your console page (its security token is missing or wrong). Open the console and try again.",
      );
    }
    const consumed = await consumeState(o.stateStore, form.get("ticket") ?? "");
    const data = consumed.ok ? consumed.data : undefined;
    if (
      !data ||
      data.t !== ticketType ||
      data.u !== admin ||
      typeof data.h !== "string" ||
      !sameSecret(data.h, sha256(session.c).toString("base64url"))
    ) {
      o.logger.warn(
        `console: refused an action whose ticket was already used, expired or foreign (${ErrorCode.ConsoleRequestInvalid})`,
        {
          admin,
          reason: consumed.ok ? "foreign" : consumed.reason,
        },
      );
      return refuse(
        403,
        ErrorCode.ConsoleRequestInvalid,
        "Action refused",
        "This form was already used or is too old (each form works once, for ten minutes). Open the console again and retry.",
      );
    }
    return { form, session, data };
  }

  /** The app and workspace an action names. */
  async function target(
    clientId: unknown,
    enterprise: unknown,
    team: unknown,
  ): Promise<{ app: ConsoleApp; w: WorkspaceInstallations } | undefined> {
    const app = o.apps.find((a) => a.clientId === clientId);
    const e = typeof enterprise === "string" && enterprise !== "" ? enterprise : undefined;
    const t = typeof team === "string" && team !== "" ? team : undefined;
    if (!app || (e === undefined && t === undefined)) return undefined;
    if ((e !== undefined && !ID_RE.test(e)) || (t !== undefined && !ID_RE.test(t))) return undefined;
    const listed = await app.store.listWorkspaces({ ...(e ? { enterpriseId: e } : {}), ...(t ? { teamId: t } : {}) });
    const w = listed.find((x) => x.enterpriseId === e && x.teamId === t);
    return w ? { app, w } : undefined;
  }

  function describe(app: ConsoleApp, w: WorkspaceInstallations): string {
    return `${app.name}: ${w.teamId ? `workspace ${w.teamId}` : "org-wide install"}${w.enterpriseId ? ` of org ${w.enterpriseId}` : ""}`;
  }

  function logAction(admin: string, action: string, app: ConsoleApp, w: WorkspaceInstallations, result: string) {
    o.logger.info(`console: ${action}`, {
      admin,
      action,
      app: app.clientId,
      enterpriseId: w.enterpriseId ?? null,
      teamId: w.teamId ?? null,
      result: redact(result),
    });
  }

  function done(heading: string, html: string, kind: "ok" | "bad" = "ok", extra: Record<string, string> = {}) {
    return page(
      heading,
      `<h1>${escapeHtml(heading)}</h1>${html}<p><a class="button" id="back" href="${CONSOLE_PATH}">Back to the console</a></p>`,
      200,
      extra,
      kind,
    );
  }

  async function act(request: Request, admin: string, action: Action | "confirm-delete"): Promise<Response> {
    const checked = await verified(request, admin, action === "confirm-delete" ? "console-delete" : "console");
    if (checked instanceof Response) return checked;
    const { form, session, data } = checked;
    // A confirmation deletes what its own ticket names, whatever the form says.
    const found =
      action === "confirm-delete"
        ? await target(data.app, data.e, data.tm)
        : await target(form.get("app"), form.get("enterprise"), form.get("team"));
    if (!found) {
      return refuse(404, undefined, "No such installation", "That installation is not (or no longer) stored.");
    }
    const { app, w } = found;
    const what = describe(app, w);
    switch (action) {
      case "check": {
        const h = await o.health.check(app, w);
        logAction(admin, "check", app, w, `${h.status}${h.lastError ? ` (${h.lastError})` : ""}`);
        return done(
          "Checked",
          `<p id="result">${escapeHtml(what)}: ${statusHtml(h)} at ${escapeHtml(when(h.checkedAt))}.</p>`,
          h.status === "ok" ? "ok" : "bad",
        );
      }
      case "refresh": {
        const lines = await refresh(app, w);
        logAction(admin, "refresh", app, w, lines.join("; "));
        return done(
          "Refresh",
          `<p>${escapeHtml(what)}:</p><ul id="result">${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join("")}</ul>`,
        );
      }
      case "reinstall": {
        const link = new URL(app.installUrl, request.url);
        link.searchParams.set("team", w.teamId ?? w.enterpriseId ?? "");
        logAction(admin, "reinstall-link", app, w, "link shown");
        return done(
          "Reinstall link",
          `<p>Send this link to an admin of the ${w.teamId ? "workspace" : "org"} (${escapeHtml(what)}). It opens this server's install page with their ${w.teamId ? "workspace" : "org"} preselected on Slack's consent screen.</p>
<p class="inline"><label for="reinstall-link" class="muted">Link</label><input type="text" id="reinstall-link" readonly value="${escapeHtml(link.href)}"><button type="button" id="copy">Copy</button></p><p class="muted" id="copied" aria-live="polite"></p>
<script>${COPY_SCRIPT}</script>`,
          "ok",
          {
            "Content-Security-Policy": `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${COPY_SCRIPT_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
          },
        );
      }
      case "delete": {
        const t = await ticket("console-delete", admin, session, {
          app: app.clientId,
          e: w.enterpriseId ?? "",
          tm: w.teamId ?? "",
        });
        const users = w.installations.length;
        logAction(admin, "delete-requested", app, w, "asked for confirmation");
        return page(
          "Delete this installation?",
          `<h1>Delete this installation?</h1>
<p id="confirm-what">${escapeHtml(what)}: its bot${w.bot ? "" : " (none stored)"} and ${users} user installation${users === 1 ? "" : "s"} will be deleted from this server's store. Slack is not told: the app stays installed there until someone uninstalls it, and the workspace must reinstall to use it again.</p>
<div class="inline"><form method="post" action="${CONSOLE_PATH}/delete/confirm">${secretFields(session, t)}<button type="submit" class="danger" id="confirm-delete">Delete</button></form>
<a class="button secondary" id="cancel" href="${CONSOLE_PATH}">Cancel</a></div>`,
          200,
          {},
          "bad",
        );
      }
      case "confirm-delete": {
        await app.store.deleteAll({
          ...(w.enterpriseId ? { enterpriseId: w.enterpriseId } : {}),
          ...(w.teamId ? { teamId: w.teamId } : {}),
        });
        logAction(admin, "delete", app, w, "deleted");
        return done("Deleted", `<p id="result">${escapeHtml(what)} was deleted.</p>`);
      }
    }
  }

  async function refresh(app: ConsoleApp, w: WorkspaceInstallations): Promise<string[]> {
    const c = app.coordinator;
    if (!c) return ["Token refresh is not set up for this app."];
    const ws = {
      ...(w.enterpriseId ? { enterpriseId: w.enterpriseId } : {}),
      ...(w.teamId ? { teamId: w.teamId } : {}),
      isEnterpriseInstall: w.isEnterpriseInstall,
    };
    const out: string[] = [];
    // As the refresh scheduler does: a failed refresh is recorded as `refresh_failed` (only while the
    // store still holds the refresh token that was tried), a new token as `ok`; a health write that
    // fails is logged, never shown as the refresh's result.
    const record = async (
      q: { enterpriseId?: string; teamId?: string; isEnterpriseInstall: boolean; userId?: string },
      health: TokenHealth,
      expect: TokenExpectation,
    ) => {
      await app.store.recordHealth(q, health, expect).catch((e: unknown) => {
        const code = (e as { code?: unknown })?.code;
        o.logger.warn(`console: cannot record the health of a refresh (${typeof code === "string" ? code : "error"})`, {
          app: app.clientId,
          enterpriseId: q.enterpriseId ?? null,
          teamId: q.teamId ?? null,
        });
        return false;
      });
    };
    const run = async (
      label: string,
      kind: "bot" | "user",
      q: { enterpriseId?: string; teamId?: string; isEnterpriseInstall: boolean; userId?: string },
      seen: string,
      fn: () => Promise<BotRotation | UserRotation>,
    ) => {
      let r: BotRotation | UserRotation;
      try {
        r = await fn();
      } catch (error) {
        const code = (error as { code?: unknown })?.code;
        const slack = (error as { slackError?: unknown })?.slackError;
        const reason = (error as { reason?: unknown })?.reason;
        out.push(
          `${label}: failed (${typeof code === "string" ? code : "error"}${typeof slack === "string" ? `, ${redact(slack)}` : ""})`,
        );
        const recorded = [slack, reason, code].find((v) => typeof v === "string" && HEALTH_ERROR_RE.test(v));
        await record(
          q,
          { status: "refresh_failed", checkedAt: now() / 1000, error: (recorded as string | undefined) ?? "error" },
          kind === "bot" ? { botRefreshToken: seen } : { userRefreshToken: seen },
        );
        return;
      }
      out.push(`${label}: ${r.status.replaceAll("_", " ")}`);
      if (r.status === "refreshed") {
        const fresh = r.kind === "bot" ? r.bot?.botToken : r.installation?.userToken;
        if (typeof fresh === "string") {
          await record(
            q,
            { status: "ok", checkedAt: now() / 1000 },
            kind === "bot" ? { botToken: fresh } : { userToken: fresh },
          );
        }
      }
    };
    const botSeen = w.bot?.botRefreshToken;
    if (botSeen !== undefined) await run("bot token", "bot", ws, botSeen, () => c.refreshBot(ws, { force: true }));
    else if (w.bot) out.push("bot token: does not rotate (long-lived)");
    for (const i of w.installations) {
      if (i.userToken === undefined) continue;
      const seen = i.userRefreshToken;
      const q = { ...ws, userId: i.userId };
      if (seen === undefined) out.push(`user token of ${i.userId}: does not rotate (long-lived)`);
      else await run(`user token of ${i.userId}`, "user", q, seen, () => c.refreshUser(q, { force: true }));
    }
    if (out.length === 0) out.push("no token stored");
    return out;
  }

  return {
    async handle(request) {
      const path = new URL(request.url).pathname;
      if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return undefined;
      // Off unless someone is named: the same 404 as any unknown page.
      if (admins.size === 0) return notFound();
      const sub = path.slice(CONSOLE_PATH.length);
      const action: Action | "confirm-delete" | "list" | undefined =
        sub === "" || sub === "/"
          ? "list"
          : sub === "/delete/confirm"
            ? "confirm-delete"
            : ACTIONS.find((a) => sub === `/${a}`);
      if (action === undefined) return notFound();
      if (action === "list") {
        if (request.method !== "GET" && request.method !== "HEAD") {
          return new Response("Method Not Allowed", { status: 405, headers: { Allow: "GET, HEAD" } });
        }
        const who = adminOf(request);
        if ("refused" in who) {
          if (who.refused === "signed-out") return signInFirst();
          return forbidden(who.who);
        }
        // A HEAD (link checkers) gets the headers only: no listing, no ticket issued.
        if (request.method === "HEAD") return new Response(null, { status: 200, headers: HTML_HEADERS });
        return list(request, who.admin, who.logoutPath);
      }
      if (request.method !== "POST") {
        return new Response("Method Not Allowed", { status: 405, headers: { Allow: "POST" } });
      }
      if (!sameOrigin(request)) {
        o.logger.warn(`console: refused a cross-site action (${ErrorCode.CrossSiteRequest})`);
        return refuse(
          403,
          ErrorCode.CrossSiteRequest,
          "Action refused",
          "This request came from another site (or did not say where it came from), so it was ignored.",
        );
      }
      const who = adminOf(request);
      if ("refused" in who) {
        if (who.refused === "not-admin") return forbidden(who.who);
        return refuse(403, ErrorCode.ConsoleForbidden, "Not signed in", "Sign in with Slack to use the console.");
      }
      return act(request, who.admin, action);
    },
  };
}
