/**
 * `slack-oauth-kit health`: `auth.test` on every stored token of one app, each verdict recorded in the store,
 * a table (with a progress bar on stderr) or JSON. Exit 0 all healthy, 1 something unhealthy (or a store
 * failure), 2 bad usage or configuration.
 */
import { configuredScopes } from "../app/config.js";
import { ConfigError } from "../errors.js";
import type { HealthCheckItem, HealthReport } from "../health/check.js";
import { redact } from "../redact.js";
import { HEALTH_STATUSES } from "../stores/health.js";
import { isValidId, type WorkspaceQuery } from "../stores/installation-store.js";
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

const USAGE = [
  "slack-oauth-kit health [--team T…] [--enterprise E…] [--no-users] [--concurrency N] [--per-workspace N]",
  "                       [--max-wait D] [--json] [--database-url URL] [--app NAME|ID]",
  "",
  "  Checks every stored bot token (and each user's token) with auth.test and records the verdict in the",
  "  store: ok, revoked (token_revoked, account_inactive), invalid (invalid_auth, not_authed), expired",
  "  (token_expired) or unknown (rate limits exhausted, Slack unreachable or 5xx, a token that cannot be",
  "  decrypted; never taken for revoked). `installations list --status S` then filters by it.",
  "  With --app's scopes in the apps file, or SLACK_SCOPES / SLACK_USER_SCOPES set, a valid token granted",
  "  fewer of those scopes is missing_scopes (the app added scopes since it was installed: reinstall). The",
  "  workspaces of org-wide installations are reconciled with auth.teams.list (a workspace an org admin",
  "  removed is then refused by the server even when its event was lost); shown after the table.",
  "",
  "  --team T…            only this workspace",
  "  --enterprise E…      only this Enterprise Grid org",
  "  --no-users           bot tokens only",
  "  --concurrency N      auth.test calls at once (default 8)",
  "  --per-workspace N    calls at once on one workspace (default 2; Slack's limits are per workspace)",
  "  --max-wait D         longest a token may wait for rate limits (Retry-After) in all before it is",
  "                       unknown (default 300s; 90, 90s, 5m)",
  "  --json               the report as JSON on stdout: { counts, healthy, storeFailures, rateLimited,",
  "                       items: [{ kind, enterpriseId, teamId, userId, status, checkedAt, error, ... }] }",
  "  --database-url URL   the store (default: DATABASE_URL, else sqlite:./data/slack-oauth-kit.db)",
  ...appUsage(23),
  "",
  "SLACK_API_URL points at another Web API (default https://slack.com/api/). A progress bar goes to stderr.",
  "Exit codes: 0 every token ok; 1 a token is not ok, or the store failed on one (the sweep goes on);",
  "2 bad usage or configuration (no such database, schema not migrated, missing encryption key).",
].join("\n");

const OPTIONS = {
  team: { type: "string" },
  enterprise: { type: "string" },
  "no-users": { type: "boolean" },
  concurrency: { type: "string" },
  "per-workspace": { type: "string" },
  "max-wait": { type: "string" },
  json: { type: "boolean" },
  "database-url": { type: "string" },
  ...APP_OPTIONS,
} as const;

function intOption(value: string | undefined, flag: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}`);
  return n;
}

function secondsOption(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const m = /^(\d+)(s|m)?$/.exec(value.trim());
  if (!m)
    throw new UsageError(`--max-wait must be a duration such as 90, 90s or 5m, got "${redact(value.slice(0, 40))}"`);
  return Number(m[1]) * (m[2] === "m" ? 60 : 1);
}

/** Progress on stderr: a bar redrawn in place on a terminal, a few plain lines otherwise. */
class HealthProgress {
  #last = -1;
  #bad = 0;
  constructor(readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }) {}

  update(done: number, total: number, item: HealthCheckItem | undefined): void {
    if (item !== undefined && (item.status !== "ok" || item.storeError !== undefined)) this.#bad++;
    const bad = this.#bad > 0 ? `, ${this.#bad} not ok` : "";
    if (this.out.isTTY) {
      const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - 40));
      const filled = total === 0 ? width : Math.round((done / total) * width);
      this.out.write(`\rhealth [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total}${bad}\x1b[K`);
      if (done === total) this.out.write("\n");
      return;
    }
    const step = Math.max(1, Math.ceil(total / 10));
    if (done === total || done === 0 || done - this.#last >= step) {
      this.#last = done;
      this.out.write(`health: ${done}/${total}${bad}\n`);
    }
  }
}

const iso = (s: number) => `${new Date(s * 1000).toISOString().slice(0, 19).replace("T", " ")}Z`;

function table(report: HealthReport): string {
  const rows = [["STATUS", "TOKEN", "ENTERPRISE", "TEAM", "USER", "CHECKED AT (UTC)", "ERROR"]];
  // Not ok first: what needs a look is at the top.
  const items = [...report.items].sort((a, b) => Number(a.status === "ok") - Number(b.status === "ok"));
  for (const i of items) {
    rows.push([
      i.status,
      i.kind,
      i.enterpriseId ?? "-",
      i.isEnterpriseInstall ? "(org-wide)" : (i.teamId ?? "-"),
      i.userId ?? "-",
      iso(i.checkedAt),
      [i.error, i.storeError && i.storeError !== i.error ? `store: ${i.storeError}` : undefined]
        .filter(Boolean)
        .join("; ") || "-",
    ]);
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? [];
  const lines = rows.map((r) =>
    r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] ?? 0))).join("  "),
  );
  const counts = HEALTH_STATUSES.filter((s) => report.counts[s] > 0).map((s) => `${s}: ${report.counts[s]}`);
  lines.push(
    "",
    `${report.items.length} token(s): ${counts.join(", ") || "none"}${report.storeFailures > 0 ? `; store failures: ${report.storeFailures}` : ""}${report.rateLimited > 0 ? `; rate-limited ${report.rateLimited} time(s), every Retry-After honoured` : ""}`,
  );
  return lines.join("\n");
}

/**
 * `requiredScopes`: `--app`'s scopes in the apps file, else `SLACK_SCOPES` / `SLACK_USER_SCOPES` when one
 * is set; none otherwise (scopes are not compared).
 */
function requiredScopesOf(
  app: SelectedApp | undefined,
  appsFileFlag: string | undefined,
  env: Record<string, string | undefined>,
): { requiredScopes?: { bot: string[]; user: string[] } } {
  const ofApp = selectedAppScopes(app, appsFileFlag, env);
  if (ofApp !== undefined) return { requiredScopes: ofApp };
  if (env.SLACK_SCOPES === undefined && env.SLACK_USER_SCOPES === undefined) return {};
  const scopes = configuredScopes(env);
  const bad = scopes.invalid[0];
  if (bad !== undefined)
    throw new UsageError(`SLACK_SCOPES / SLACK_USER_SCOPES: "${redact(bad.slice(0, 40))}" is not a Slack scope`);
  return { requiredScopes: { bot: scopes.bot, user: scopes.user } };
}

/** `slack-oauth-kit health`. */
export const healthCommand: Command = {
  name: "health",
  summary: "Check every stored token with auth.test and record its health (exit 1 when any is not ok).",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, OPTIONS);
    if (positionals.length > 0)
      throw new UsageError(`unexpected argument "${redact((positionals[0] ?? "").slice(0, 40))}"`);
    const filter: WorkspaceQuery = {};
    for (const [flag, key] of [
      ["team", "teamId"],
      ["enterprise", "enterpriseId"],
    ] as const) {
      const v = values[flag];
      if (v === undefined) continue;
      if (!isValidId(v))
        throw new UsageError(`--${flag} must be a Slack id such as ${flag === "team" ? "T" : "E"}0123456789`);
      filter[key] = v;
    }
    const concurrency = intOption(values.concurrency, "--concurrency", 8, 256);
    const perWorkspace = intOption(values["per-workspace"], "--per-workspace", 2, 64);
    const maxWait = secondsOption(values["max-wait"], 300);
    const apiUrl = process.env.SLACK_API_URL?.trim() || undefined;
    if (apiUrl !== undefined) {
      try {
        const u = new URL(apiUrl);
        if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error("scheme");
      } catch {
        throw new UsageError("SLACK_API_URL must be an http(s) URL");
      }
    }
    const app = selectApp(values, process.env, (t) => process.stderr.write(t));
    let stores: Awaited<ReturnType<typeof openAdminStores>>;
    try {
      stores = await openAdminStores(databaseUrlOf(values["database-url"], process.env), { clientId: app?.partition });
    } catch (error) {
      // The database is not there, or not migrated: configuration to fix before a sweep means anything.
      if (error instanceof StoreUnavailableError) throw new UsageError(error.message);
      throw error;
    }
    try {
      const { runHealthCheck } = await import("../health/check.js");
      const progress = new HealthProgress(process.stderr);
      let report: HealthReport;
      try {
        report = await runHealthCheck({
          installationStore: stores.installationStore,
          apiUrl,
          concurrency,
          perWorkspaceConcurrency: perWorkspace,
          maxRateLimitWaitSeconds: maxWait,
          users: values["no-users"] !== true,
          ...requiredScopesOf(app, values["apps-file"], process.env),
          filter: Object.keys(filter).length > 0 ? filter : undefined,
          onProgress: (done, total, item) => progress.update(done, total, item),
        });
      } catch (error) {
        if (error instanceof ConfigError) throw new UsageError(error.message);
        throw error;
      }
      if (values.json) {
        const out: Record<string, unknown> = { ...report };
        if (app !== undefined) out.app = appJson(app);
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } else {
        const title = app === undefined ? "" : `App: ${describeApp(app)}\n`;
        process.stdout.write(report.items.length === 0 ? `${title}No installations.\n` : `${title}${table(report)}\n`);
        for (const t of report.teamAccess ?? []) {
          const what = t.error
            ? `not reconciled (${t.error})`
            : `${t.allowed.length} workspace(s) allowed, ${t.revoked.length} removed${t.newlyRevoked.length > 0 ? `; newly removed: ${t.newlyRevoked.join(", ")}` : ""}${t.newlyGranted.length > 0 ? `; added back: ${t.newlyGranted.join(", ")}` : ""}`;
          process.stdout.write(`Org ${t.enterpriseId}: ${what}\n`);
        }
      }
      return report.healthy ? ExitCode.Ok : ExitCode.Failure;
    } finally {
      await stores.close();
    }
  },
};
