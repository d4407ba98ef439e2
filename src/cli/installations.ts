/**
 * `slack-oauth-kit installations list|show|delete`: see and manage what a store holds, on every backend,
 * without writing SQL. Tokens are masked (`xoxb-****`) unless `show --reveal`; deleting asks first.
 */
import { configuredScopes } from "../app/config.js";
import type { Bot, Installation } from "../model/installation.js";
import { needsReinstall, type RequiredScopes, type ScopeDrift, scopeDrift } from "../model/scopes.js";
import { maskToken, redact } from "../redact.js";
import { HEALTH_STATUSES, type HealthEntry, isHealthStatus, type TokenHealth } from "../stores/health.js";
import { isValidId, type WorkspaceInstallations, type WorkspaceQuery } from "../stores/installation-store.js";
import { databaseUrlOf, openAdminStores, StoreUnavailableError } from "./admin-store.js";
import {
  APP_OPTIONS,
  appJson,
  appUsage,
  describeApp,
  type SelectedApp,
  selectApp,
  selectedAppScopes,
} from "./app-option.js";
import { type Command, ExitCode, parseOptions, UsageError } from "./command.js";
import { type CliIO, confirm, processIO } from "./io.js";

/**
 * One workspace in `installations list --json`. Every key is always present (`null` when unknown); times
 * are epoch seconds (UTC). No token, refresh token or webhook URL ever appears.
 *
 * @example
 * ```ts
 * const rows = JSON.parse(stdout) as WorkspaceListing[];
 * const expiring = rows.filter((r) => r.botTokenExpiresAt !== null && r.botTokenExpiresAt < Date.now() / 1000 + 3600);
 * ```
 */
export interface WorkspaceListing {
  enterpriseId: string | null;
  /** `null` for an org-wide install. */
  teamId: string | null;
  isEnterpriseInstall: boolean;
  botId: string | null;
  botUserId: string | null;
  /** The latest installation of each user, newest first, with its user token's health (`null`: never checked). */
  users: Array<{ userId: string; installedAt: number; userTokenExpiresAt: number | null; health: TokenHealth | null }>;
  /** The latest installation (or bot) of the workspace. */
  installedAt: number;
  /** `null` when the bot token does not expire, or there is no bot. */
  botTokenExpiresAt: number | null;
  /** The bot token's health as last recorded (`slack-oauth-kit health`); `null`: never checked, or no bot. */
  botHealth: TokenHealth | null;
}

/** Recorded health by place: `<enterprise>|<team>|` for the bot, `…|<userId>` for a user. */
export type HealthIndex = ReadonlyMap<string, TokenHealth>;

/** Indexes `listHealth` entries by place (see {@link HealthIndex}). */
export function indexHealth(entries: readonly HealthEntry[]): HealthIndex {
  const out = new Map<string, TokenHealth>();
  for (const e of entries) out.set(`${e.enterpriseId ?? ""}|${e.teamId ?? ""}|${e.userId ?? ""}`, e.health);
  return out;
}

function healthOf(health: HealthIndex | undefined, w: WorkspaceInstallations, userId?: string): TokenHealth | null {
  return health?.get(`${w.enterpriseId ?? ""}|${w.teamId ?? ""}|${userId ?? ""}`) ?? null;
}

/** The status of the bot token (`undefined`: no bot) and of each user token (`unchecked`: never checked). */
function statusesOf(w: WorkspaceInstallations, health: HealthIndex): { bot: string | undefined; users: string[] } {
  return {
    bot: w.bot ? (healthOf(health, w)?.status ?? "unchecked") : undefined,
    users: w.installations.filter((i) => i.userToken).map((i) => healthOf(health, w, i.userId)?.status ?? "unchecked"),
  };
}

/** The listing of one workspace (no secrets), with the health recorded for its tokens. */
export function toListing(w: WorkspaceInstallations, health?: HealthIndex): WorkspaceListing {
  const times = [w.bot?.installedAt, ...w.installations.map((i) => i.installedAt)].filter(
    (t): t is number => typeof t === "number",
  );
  return {
    enterpriseId: w.enterpriseId ?? null,
    teamId: w.teamId ?? null,
    isEnterpriseInstall: w.isEnterpriseInstall,
    botId: w.bot?.botId ?? null,
    botUserId: w.bot?.botUserId ?? null,
    users: w.installations.map((i) => ({
      userId: i.userId,
      installedAt: i.installedAt,
      userTokenExpiresAt: i.userToken && i.userTokenExpiresAt !== undefined ? i.userTokenExpiresAt : null,
      health: i.userToken ? healthOf(health, w, i.userId) : null,
    })),
    installedAt: times.length > 0 ? Math.max(...times) : 0,
    botTokenExpiresAt: w.bot?.botTokenExpiresAt ?? null,
    botHealth: w.bot ? healthOf(health, w) : null,
  };
}

const USAGE = [
  "slack-oauth-kit installations <list|show|delete> [options]",
  "",
  "  list                       one line per workspace (or org-wide install): enterprise, team, bot,",
  "                             users, installed at, token expiry, health (as `health` last recorded it)",
  "    --team T…                only this workspace",
  "    --status S               only workspaces with a token in status S: ok, revoked, invalid, expired,",
  "                             refresh_failed, unknown, or unchecked (never checked)",
  "    --enterprise E…          only this Enterprise Grid org (its org-wide install and workspaces)",
  "    --needs-reinstall        only workspaces lacking a scope the app asks for now, compared with",
  "                             --scopes / --user-scopes, else --app's scopes in the apps file, else",
  "                             SLACK_SCOPES / SLACK_USER_SCOPES as the server reads them (default",
  "                             commands,chat:write); a first line names the lists and their source",
  "                             (on stderr with --json)",
  "    --json                   a JSON array instead of the table (no token values):",
  "                             [{ enterpriseId, teamId, isEnterpriseInstall, botId, botUserId,",
  "                                users: [{ userId, installedAt, userTokenExpiresAt, health }],",
  "                                installedAt, botTokenExpiresAt, botHealth }]  (times: epoch seconds,",
  "                             null = none; health: { status, checkedAt, error? } or null = never checked)",
  "",
  "  show --team T… | --enterprise E…",
  "                             everything stored for one workspace or org-wide install; tokens masked",
  "    --reveal                 print the tokens in full (a warning goes to stderr; mind your scrollback)",
  "    --json                   the same as JSON",
  "",
  "  delete --team T… | --enterprise E… [--user U…]",
  "                             delete the workspace's bot and every user installation (or one user's",
  "                             installation with --user); the app stays installed in Slack",
  "    --yes                    do not ask for confirmation (required when stdin is not a terminal)",
  "",
  "  --database-url URL         the store (default: DATABASE_URL, else sqlite:./data/slack-oauth-kit.db);",
  "                             sqlite:PATH or file:DIR",
  ...appUsage(29),
  "  --client-id ID             the store partition named ID as it is (what --app ID does, without the",
  "                             apps file's default app): kept for scripts written before --app",
  "",
  "With --app, the table starts with a line naming the app, and each JSON object has",
  '"app": { name, clientId, defaultPartition } (null when unknown).',
  "",
  "Exit codes: 0 done; 1 failed (store unreachable, no such workspace, or the deletion was not",
  "confirmed: nothing was deleted); 2 bad usage (including delete without a terminal and without --yes).",
].join("\n");

const OPTIONS = {
  team: { type: "string" },
  enterprise: { type: "string" },
  status: { type: "string" },
  user: { type: "string" },
  json: { type: "boolean" },
  reveal: { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  "database-url": { type: "string" },
  "client-id": { type: "string" },
  ...APP_OPTIONS,
  "needs-reinstall": { type: "boolean" },
  scopes: { type: "string" },
  "user-scopes": { type: "string" },
} as const;

type Values = ReturnType<typeof parseOptions<typeof OPTIONS>>["values"];

/** Only the options a sub-command accepts (a `--reveal` on `delete` is a mistake worth reporting). */
const ALLOWED: Record<string, ReadonlySet<string>> = {
  list: new Set([
    "team",
    "enterprise",
    "status",
    "json",
    "database-url",
    "client-id",
    "app",
    "apps-file",
    "needs-reinstall",
    "scopes",
    "user-scopes",
  ]),
  show: new Set(["team", "enterprise", "json", "reveal", "database-url", "client-id", "app", "apps-file"]),
  delete: new Set(["team", "enterprise", "user", "yes", "database-url", "client-id", "app", "apps-file"]),
};

function idOption(values: Values, name: "team" | "enterprise" | "user"): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (!isValidId(v)) throw new UsageError(`--${name} must be a Slack id such as ${name[0]?.toUpperCase()}0123456789`);
  return v;
}

function filterOf(values: Values): WorkspaceQuery | undefined {
  const teamId = idOption(values, "team");
  const enterpriseId = idOption(values, "enterprise");
  if (teamId === undefined && enterpriseId === undefined) return undefined;
  const q: WorkspaceQuery = {};
  if (teamId !== undefined) q.teamId = teamId;
  if (enterpriseId !== undefined) q.enterpriseId = enterpriseId;
  return q;
}

/**
 * The scopes `--needs-reinstall` compares with: `--scopes` / `--user-scopes`, else `--app`'s scopes in the
 * apps file, else `SLACK_SCOPES` / `SLACK_USER_SCOPES` as the server reads them (its default bot scopes when
 * `SLACK_SCOPES` is unset: the same list the server asks for), with `source`, a line saying which lists were
 * used and where they came from. `undefined` without `--needs-reinstall`.
 */
function requiredScopesOf(
  values: Values,
  env: Record<string, string | undefined>,
  app: SelectedApp | undefined,
): { required: RequiredScopes; source: string } | undefined {
  if (!values["needs-reinstall"]) {
    if (values.scopes !== undefined || values["user-scopes"] !== undefined)
      throw new UsageError("--scopes and --user-scopes go with --needs-reinstall");
    return undefined;
  }
  // With --app, the app's own scopes in the apps file come before SLACK_SCOPES.
  const ofApp = selectedAppScopes(app, values["apps-file"], env);
  const fromEnv = configuredScopes({
    ...env,
    ...(ofApp !== undefined ? { SLACK_SCOPES: ofApp.bot.join(","), SLACK_USER_SCOPES: ofApp.user.join(",") } : {}),
    ...(values.scopes !== undefined ? { SLACK_SCOPES: values.scopes } : {}),
    ...(values["user-scopes"] !== undefined ? { SLACK_USER_SCOPES: values["user-scopes"] } : {}),
  });
  const bad = fromEnv.invalid[0];
  if (bad !== undefined) throw new UsageError(`"${redact(bad.slice(0, 40))}" is not a Slack scope`);
  // configuredScopes always yields the server's bot scopes (its default when SLACK_SCOPES is unset), so there
  // is always a list to compare with; the line below says which one and where it came from.
  const inFile = app !== undefined ? `the apps file's ${describeApp(app)}` : "the apps file";
  const whence = (flag: "scopes" | "user-scopes", variable: string) =>
    values[flag] !== undefined
      ? `--${flag}`
      : ofApp !== undefined
        ? inFile
        : env[variable] !== undefined
          ? variable
          : `the server's default: ${variable} is unset`;
  const names = (scopes: string[]) => (scopes.length > 0 ? scopes.join(",") : "(none)");
  const source =
    `Compared with bot scopes ${names(fromEnv.bot)} (from ${whence("scopes", "SLACK_SCOPES")})` +
    ` and user scopes ${names(fromEnv.user)} (from ${whence("user-scopes", "SLACK_USER_SCOPES")}).`;
  return { required: { bot: fromEnv.bot, user: fromEnv.user }, source };
}

/** One workspace of `list --needs-reinstall --json`: the listing plus what it lacks. */
export interface ReinstallListing extends WorkspaceListing {
  /** Configured bot scopes the latest bot lacks. */
  missingBotScopes: string[];
  /** Installing users whose user token lacks configured user scopes. */
  missingUserScopes: Array<{ userId: string; scopes: string[] }>;
}

function reinstallListing(w: WorkspaceInstallations, drift: ScopeDrift, health: HealthIndex): ReinstallListing {
  return {
    ...toListing(w, health),
    missingBotScopes: drift.missingBotScopes,
    missingUserScopes: drift.users.map((u) => ({ userId: u.userId, scopes: u.missingUserScopes })),
  };
}

function missingText(drift: ScopeDrift): string {
  const parts: string[] = [];
  if (drift.missingBotScopes.length > 0) parts.push(`bot: ${drift.missingBotScopes.join(",")}`);
  for (const u of drift.users) parts.push(`${u.userId}: ${u.missingUserScopes.join(",")}`);
  return parts.join("; ");
}

const iso = (epochSeconds: number | undefined | null): string =>
  epochSeconds === undefined || epochSeconds === null || !Number.isFinite(epochSeconds)
    ? "-"
    : `${new Date(epochSeconds * 1000).toISOString().slice(0, 19).replace("T", " ")}Z`;

function expiry(expiresAt: number | null | undefined, now: number, hasToken: boolean): string {
  if (!hasToken) return "-";
  if (expiresAt === null || expiresAt === undefined) return "never";
  return `${iso(expiresAt)}${expiresAt <= now ? " (expired)" : ""}`;
}

function label(id: string | null | undefined, name: string | undefined): string {
  if (!id) return "-";
  return name ? `${id} (${name})` : id;
}

/** Strips control characters from names that came from Slack before they reach a terminal. */
const clean = (s: string | undefined): string | undefined => s?.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ")).join("\n");
}

/** The STATUS cell: the bot's status, and the users' that differ from `ok` (`unchecked`: never checked). */
function statusCell(w: WorkspaceInstallations, health: HealthIndex): string {
  const { bot, users: statuses } = statusesOf(w, health);
  const users = new Map<string, number>();
  for (const s of statuses) if (s !== "ok" && s !== bot) users.set(s, (users.get(s) ?? 0) + 1);
  const extra = [...users].map(([s, n]) => `${n} user${n === 1 ? "" : "s"} ${s}`).join(", ");
  return [bot, extra ? `(${extra})` : ""].filter(Boolean).join(" ") || "-";
}

function listTable(
  workspaces: WorkspaceInstallations[],
  now: number,
  health: HealthIndex,
  drift?: ReadonlyMap<WorkspaceInstallations, ScopeDrift>,
): string {
  const rows = [["ENTERPRISE", "TEAM", "BOT", "USERS", "INSTALLED AT (UTC)", "BOT TOKEN EXPIRES (UTC)", "STATUS"]];
  if (drift) rows[0]?.push("MISSING SCOPES");
  for (const w of workspaces) {
    const l = toListing(w, health);
    const names = w.bot ?? w.installations[0];
    const users = l.users.map((u) => u.userId);
    rows.push([
      label(l.enterpriseId, clean(names?.enterpriseName)),
      l.isEnterpriseInstall ? "(org-wide)" : label(l.teamId, clean(names?.teamName)),
      l.botId ? `${l.botId}${l.botUserId ? `/${l.botUserId}` : ""}` : "-",
      users.length <= 3 ? users.join(",") || "-" : `${users.slice(0, 3).join(",")} +${users.length - 3}`,
      iso(l.installedAt),
      expiry(l.botTokenExpiresAt, now, w.bot !== undefined),
      statusCell(w, health),
    ]);
    const d = drift?.get(w);
    if (d) rows.at(-1)?.push(missingText(d));
  }
  return table(rows);
}

/** Finds the single workspace `show`/`delete` is about, or explains why there is none or several. */
async function selectWorkspace(
  list: (filter?: WorkspaceQuery) => Promise<WorkspaceInstallations[]>,
  values: Values,
  sub: string,
): Promise<WorkspaceInstallations> {
  const filter = filterOf(values);
  if (filter === undefined) throw new UsageError(`installations ${sub} needs --team T… or --enterprise E…`);
  let found = await list(filter);
  // --enterprise alone means the org-wide install; its workspaces are selected with --team.
  if (filter.teamId === undefined) found = found.filter((w) => w.isEnterpriseInstall);
  const first = found[0];
  if (first === undefined || found.length > 1) {
    const what = filter.teamId
      ? `workspace ${filter.teamId}${filter.enterpriseId ? ` of ${filter.enterpriseId}` : ""}`
      : `org-wide installation of ${filter.enterpriseId}`;
    if (first === undefined) {
      throw new StoreUnavailableError(
        `No ${what} in the store. \`slack-oauth-kit installations list${filter.enterpriseId ? ` --enterprise ${filter.enterpriseId}` : ""}\` shows what there is.`,
      );
    }
    throw new UsageError(`${what} matches ${found.length} installations: add --enterprise to choose one`);
  }
  return first;
}

function secret(value: string | undefined, reveal: boolean): string {
  if (!value) return "-";
  return reveal ? value : maskToken(value);
}

function webhook(url: string | undefined, reveal: boolean): string {
  if (!url) return "-";
  if (reveal) return url;
  try {
    return `${new URL(url).origin}/****`;
  } catch {
    return "****";
  }
}

interface ShowJson extends Omit<WorkspaceListing, "users"> {
  enterpriseName: string | null;
  enterpriseUrl: string | null;
  teamName: string | null;
  appId: string | null;
  bot: {
    botId: string | null;
    botUserId: string | null;
    botScopes: string[];
    botToken: string;
    botRefreshToken: string | null;
    botTokenExpiresAt: number | null;
    installedAt: number;
  } | null;
  users: Array<{
    userId: string;
    installedAt: number;
    userScopes: string[];
    userToken: string | null;
    userRefreshToken: string | null;
    userTokenExpiresAt: number | null;
    incomingWebhook: {
      channel: string | null;
      channelId: string | null;
      url: string;
      configurationUrl: string | null;
    } | null;
    tokenType: string | null;
    customValues: Record<string, unknown>;
  }>;
}

function showJson(w: WorkspaceInstallations, reveal: boolean): ShowJson {
  const l = toListing(w);
  const names: Bot | Installation | undefined = w.bot ?? w.installations[0];
  const bot = w.bot;
  return {
    ...l,
    enterpriseName: names?.enterpriseName ?? null,
    enterpriseUrl: names?.enterpriseUrl ?? null,
    teamName: names?.teamName ?? null,
    appId: names?.appId ?? null,
    bot: bot
      ? {
          botId: bot.botId ?? null,
          botUserId: bot.botUserId ?? null,
          botScopes: [...bot.botScopes],
          botToken: secret(bot.botToken, reveal),
          botRefreshToken: bot.botRefreshToken ? secret(bot.botRefreshToken, reveal) : null,
          botTokenExpiresAt: bot.botTokenExpiresAt ?? null,
          installedAt: bot.installedAt,
        }
      : null,
    users: w.installations.map((i) => ({
      userId: i.userId,
      installedAt: i.installedAt,
      userScopes: [...i.userScopes],
      userToken: i.userToken ? secret(i.userToken, reveal) : null,
      userRefreshToken: i.userRefreshToken ? secret(i.userRefreshToken, reveal) : null,
      userTokenExpiresAt: i.userToken && i.userTokenExpiresAt !== undefined ? i.userTokenExpiresAt : null,
      incomingWebhook: i.incomingWebhookUrl
        ? {
            channel: i.incomingWebhookChannel ?? null,
            channelId: i.incomingWebhookChannelId ?? null,
            url: webhook(i.incomingWebhookUrl, reveal),
            configurationUrl: i.incomingWebhookConfigurationUrl ?? null,
          }
        : null,
      tokenType: i.tokenType ?? null,
      customValues: i.customValues ?? {},
    })),
  };
}

function showText(w: WorkspaceInstallations, reveal: boolean, now: number): string {
  const j = showJson(w, reveal);
  const lines = [
    w.isEnterpriseInstall
      ? `Org-wide installation on ${label(j.enterpriseId, clean(j.enterpriseName ?? undefined))}`
      : `Workspace ${label(j.teamId, clean(j.teamName ?? undefined))}`,
    `  enterprise:        ${label(j.enterpriseId, clean(j.enterpriseName ?? undefined))}`,
    `  enterprise url:    ${clean(j.enterpriseUrl ?? undefined) ?? "-"}`,
    `  app id:            ${j.appId ?? "-"}`,
    `  installed at:      ${iso(j.installedAt)}`,
    "",
  ];
  if (j.bot) {
    lines.push(
      "Bot",
      `  bot id:            ${j.bot.botId ?? "-"}`,
      `  bot user id:       ${j.bot.botUserId ?? "-"}`,
      `  scopes:            ${j.bot.botScopes.join(", ") || "-"}`,
      `  token:             ${j.bot.botToken}`,
      `  refresh token:     ${j.bot.botRefreshToken ?? "-"}`,
      `  token expires:     ${expiry(j.bot.botTokenExpiresAt, now, true)}`,
      "",
    );
  } else lines.push("Bot: none (user-token-only installation)", "");
  lines.push(`Users (${j.users.length})`);
  for (const u of j.users) {
    lines.push(
      `  ${u.userId}`,
      `    installed at:    ${iso(u.installedAt)}`,
      `    scopes:          ${u.userScopes.join(", ") || "-"}`,
      `    token:           ${u.userToken ?? "-"}`,
      `    refresh token:   ${u.userRefreshToken ?? "-"}`,
      `    token expires:   ${expiry(u.userTokenExpiresAt, now, u.userToken !== null)}`,
      `    token type:      ${clean(u.tokenType ?? undefined) ?? "-"}`,
      `    custom values:   ${Object.keys(u.customValues).length > 0 ? clean(JSON.stringify(u.customValues)) : "-"}`,
    );
    if (u.incomingWebhook) {
      lines.push(
        `    webhook:         ${clean(u.incomingWebhook.channel ?? undefined) ?? "-"} (${u.incomingWebhook.channelId ?? "-"}) ${u.incomingWebhook.url}`,
        `    webhook config:  ${clean(u.incomingWebhook.configurationUrl ?? undefined) ?? "-"}`,
      );
    }
  }
  return lines.join("\n");
}

/**
 * Builds the `installations` command on a terminal (tests pass a fake one).
 *
 * @example
 * ```ts
 * const code = await createInstallationsCommand(processIO()).run(["list", "--json"]);
 * ```
 */
export function createInstallationsCommand(ioFactory: () => CliIO = processIO): Command {
  return {
    name: "installations",
    summary: "List, show (tokens masked) and delete stored installations.",
    usage: USAGE,
    async run(argv) {
      const io = ioFactory();
      const { values, positionals } = parseOptions(argv, OPTIONS);
      const [sub, ...extra] = positionals;
      if (sub === undefined) throw new UsageError("installations needs a sub-command: list, show or delete");
      const allowed = ALLOWED[sub];
      if (allowed === undefined) throw new UsageError(`unknown sub-command "${redact(sub.slice(0, 40))}"`);
      if (extra.length > 0) throw new UsageError(`unexpected argument "${redact((extra[0] ?? "").slice(0, 40))}"`);
      for (const key of Object.keys(values)) {
        if (!allowed.has(key)) throw new UsageError(`--${key} does not apply to installations ${sub}`);
      }
      // Validate ids (and the status) before touching the store.
      filterOf(values);
      const status = values.status;
      if (status !== undefined && status !== "unchecked" && !isHealthStatus(status))
        throw new UsageError(
          `--status must be ${HEALTH_STATUSES.join(", ")} or unchecked, got "${redact(status.slice(0, 40))}"`,
        );
      idOption(values, "user");
      const app = selectApp(values, io.env, io.err);
      const clientId = app?.partition;
      const reinstall = requiredScopesOf(values, io.env, app);
      if (sub === "delete" && !values.yes && !io.isTTY) {
        throw new UsageError(
          "installations delete: refusing to delete without confirmation: stdin is not a terminal. Pass --yes to delete from a script.",
        );
      }
      let stores: Awaited<ReturnType<typeof openAdminStores>>;
      try {
        stores = await openAdminStores(databaseUrlOf(values["database-url"], io.env), { clientId });
      } catch (error) {
        if (error instanceof StoreUnavailableError) {
          io.err(`${error.message}\n`);
          return ExitCode.Failure;
        }
        throw error;
      }
      try {
        const store = stores.installationStore;
        const list = store.listWorkspaces.bind(store);
        const now = Date.now() / 1000;
        const title = app === undefined ? "" : `App: ${describeApp(app)}\n`;
        const hasStatus = (w: WorkspaceInstallations, health: HealthIndex) => {
          if (status === undefined) return true;
          const s = statusesOf(w, health);
          return s.bot === status || s.users.includes(status);
        };
        if (sub === "list" && reinstall !== undefined) {
          const { required, source } = reinstall;
          const filter = filterOf(values);
          const [all, entries] = await Promise.all([list(filter), store.listHealth(filter)]);
          const health = indexHealth(entries);
          const drift = new Map<WorkspaceInstallations, ScopeDrift>();
          for (const w of all) {
            const d = scopeDrift(w, required);
            if (needsReinstall(d) && hasStatus(w, health)) drift.set(w, d);
          }
          const workspaces = [...drift.keys()];
          // Which scope lists were compared, and where they came from: on stderr with --json (stdout stays JSON).
          if (values.json) io.err(`${source}\n`);
          if (values.json)
            io.out(
              `${JSON.stringify(
                workspaces.map((w) => reinstallListing(w, drift.get(w) as ScopeDrift, health)),
                null,
                2,
              )}\n`,
            );
          else if (workspaces.length === 0) io.out(`${title}${source}\nNo installation lacks these scopes.\n`);
          else io.out(`${title}${source}\n${listTable(workspaces, now, health, drift)}\n`);
          return ExitCode.Ok;
        }
        if (sub === "list") {
          const filter = filterOf(values);
          const [all, entries] = await Promise.all([list(filter), store.listHealth(filter)]);
          const health = indexHealth(entries);
          const workspaces = all.filter((w) => hasStatus(w, health));
          if (values.json)
            io.out(
              `${JSON.stringify(
                workspaces.map((w) =>
                  app === undefined ? toListing(w, health) : { app: appJson(app), ...toListing(w, health) },
                ),
                null,
                2,
              )}\n`,
            );
          else if (workspaces.length === 0)
            io.out(`${title}No installations${status === undefined ? "" : ` with a token in status ${status}`}.\n`);
          else io.out(`${title}${listTable(workspaces, now, health)}\n`);
          return ExitCode.Ok;
        }
        const w = await selectWorkspace(list, values, sub);
        if (sub === "show") {
          const reveal = values.reveal === true;
          if (reveal) {
            io.err(
              "warning: --reveal prints live tokens. Anyone who sees this output (terminal scrollback, logs, screen sharing) can act as the app: clear it when done.\n",
            );
          }
          io.out(
            values.json
              ? `${JSON.stringify(app === undefined ? showJson(w, reveal) : { app: appJson(app), ...showJson(w, reveal) }, null, 2)}\n`
              : `${title}${showText(w, reveal, now)}\n`,
          );
          return ExitCode.Ok;
        }
        // delete
        const where = { enterpriseId: w.enterpriseId, teamId: w.teamId };
        const name = `${
          w.isEnterpriseInstall
            ? `the org-wide installation of ${label(w.enterpriseId, clean((w.bot ?? w.installations[0])?.enterpriseName))}`
            : `workspace ${label(w.teamId, clean((w.bot ?? w.installations[0])?.teamName))}`
        }${app === undefined ? "" : ` for ${describeApp(app)}`}`;
        const userId = idOption(values, "user");
        if (userId !== undefined && !w.installations.some((i) => i.userId === userId)) {
          io.err(`No installation of user ${userId} in ${name}.\n`);
          return ExitCode.Failure;
        }
        const what =
          userId !== undefined
            ? `the installation of user ${userId} (and its user token) in ${name}`
            : `${w.bot ? "the bot and " : ""}${w.installations.length} user installation(s) of ${name}`;
        if (!values.yes && !(await confirm(io, `Delete ${what}? This cannot be undone.`))) {
          io.err("Nothing deleted.\n");
          return ExitCode.Failure;
        }
        if (userId !== undefined) await store.deleteInstallation({ ...where, userId });
        else await store.deleteAll(where);
        io.out(`Deleted ${what}.\n`);
        io.err(
          "Note: the app is still installed in Slack and the tokens still work there; uninstall it in Slack to revoke them. A running server may use its cached copy for up to a minute.\n",
        );
        return ExitCode.Ok;
      } catch (error) {
        if (error instanceof StoreUnavailableError) {
          io.err(`${error.message}\n`);
          return ExitCode.Failure;
        }
        throw error;
      } finally {
        await stores.close();
      }
    },
  };
}

/** `slack-oauth-kit installations …` on the process's terminal. */
export const installationsCommand: Command = createInstallationsCommand();
