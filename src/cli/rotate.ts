import { redact } from "../redact.js";
import type { BatchReport, RotationItem } from "../rotation/batch.js";
import { APP_OPTIONS, appConfigs, appJson, appsFileOf, appUsage, describeApp, selectApp } from "./app-option.js";
import { type Command, ExitCode, parseOptions, UsageError } from "./command.js";

const DEFAULT_DATABASE_URL = "sqlite:./data/slack-oauth-kit.db";

/**
 * Parses a duration: `90` or `90s` (seconds), `45m`, `2h`, `1d`, decimals allowed (`1.5h`). Returns seconds.
 *
 * @example
 * ```ts
 * parseDuration("2h"); // 7200
 * ```
 */
export function parseDuration(value: string, flag = "--window"): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)?$/.exec(value.trim());
  if (!m) throw new UsageError(`${flag} must be a duration such as 7200, 90m, 2h or 1d, got "${value}"`);
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  return n * { s: 1, m: 60, h: 3600, d: 86400 }[unit as "s" | "m" | "h" | "d"];
}

/** A database URL fit to print: no password, redacted. */
function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "****";
    if (u.username) u.username = "****";
    return redact(u.protocol === "sqlite:" || u.protocol === "file:" ? url : u.toString());
  } catch {
    return redact(url);
  }
}

function formatSeconds(s: number): string {
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** Progress on stderr: a bar redrawn in place on a terminal, a few plain `done/total` lines otherwise. */
export class Progress {
  readonly #out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly #label: string;
  #lastLine = -1;
  #failed = 0;

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, label: string) {
    this.#out = out;
    this.#label = label;
  }

  update(done: number, total: number, item: RotationItem | undefined): void {
    if (item?.status === "failed") this.#failed++;
    if (this.#out.isTTY) {
      const width = Math.max(10, Math.min(40, (this.#out.columns ?? 80) - 40));
      const filled = total === 0 ? width : Math.round((done / total) * width);
      const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
      const failed = this.#failed > 0 ? `, ${this.#failed} failed` : "";
      this.#out.write(`\r${this.#label} [${bar}] ${done}/${total}${failed}\x1b[K`);
      if (done === total) this.#out.write("\n");
      return;
    }
    // Not a terminal (cron, CI, a pipe): at most ~10 lines, always the first and the last.
    const step = Math.max(1, Math.ceil(total / 10));
    if (done === total || done === 0 || done - this.#lastLine >= step) {
      this.#lastLine = done;
      this.#out.write(`${this.#label}: ${done}/${total}${this.#failed > 0 ? ` (${this.#failed} failed)` : ""}\n`);
    }
  }
}

const STATUS_LABELS: [RotationItem["status"], string][] = [
  ["refreshed", "refreshed"],
  ["converted", "converted"],
  ["refreshed_elsewhere", "refreshed by another process"],
  ["not_needed", "no longer due"],
  ["superseded", "changed meanwhile (reinstalled)"],
  ["not_rotating", "not rotating"],
  ["not_found", "gone (uninstalled)"],
  ["due", "due"],
  ["failed", "failed"],
];

function where(i: RotationItem): string {
  const ws = i.teamId ?? `org ${i.enterpriseId ?? "?"}`;
  return i.kind === "bot" ? `bot  ${ws}` : `user ${i.userId ?? "?"} in ${ws}`;
}

function summary(title: string, r: BatchReport, dueLabel: string): string[] {
  const counts = STATUS_LABELS.filter(([s]) => (r.counts[s] ?? 0) > 0).map(([s, l]) => `${l}: ${r.counts[s]}`);
  const lines = [title, `  workspaces: ${r.workspaces}, ${dueLabel}: ${r.due} of ${r.tokens} tokens`];
  if (counts.length > 0) lines.push(`  ${counts.join(", ")}`);
  const failures = r.items.filter((i) => i.status === "failed");
  if (failures.length > 0) {
    lines.push("  failures:");
    for (const f of failures) {
      const why = f.error?.slackError ?? f.error?.reason ?? f.error?.code ?? "error";
      lines.push(`    ${where(f)}: ${why}${f.error?.retryable === false ? " (needs a reinstall)" : ""}`);
    }
  }
  if (r.counts.due) for (const i of r.items) lines.push(`    ${where(i)}`);
  return lines;
}

/**
 * `slack-oauth-kit rotate`: refreshes every rotating token expiring within a window (cron-safe on several
 * hosts at once: each token is refreshed once), optionally converting long-lived tokens first.
 */
export const rotateCommand: Command = {
  name: "rotate",
  summary: "Refresh the rotating tokens that expire soon (safe to run from cron on several hosts).",
  usage: [
    "slack-oauth-kit rotate [--window 2h] [--database-url URL] [--concurrency N] [--json] [--dry-run]",
    "                       [--convert-long-lived] [--app NAME|ID]",
    "",
    "  --window D            refresh tokens expiring within D (default 2h; 7200, 90m, 2h, 1d)",
    "  --database-url URL    sqlite:PATH, file:DIR (default: env DATABASE_URL, else sqlite:./data/slack-oauth-kit.db)",
    "  --concurrency N       tokens refreshed at once (default 4)",
    "  --json                print the report as JSON on stdout (progress stays on stderr)",
    "  --dry-run             list what is due, change nothing (no credentials needed)",
    "  --convert-long-lived  first convert long-lived tokens with oauth.v2.exchange (turn token rotation",
    "                        on in the app's settings before)",
    ...appUsage(24),
    "",
    "Credentials come from the environment only: SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, and SLACK_API_URL",
    "(default https://slack.com/api/); with --app NAME, the app's client id and secret from the apps file",
    "(inline, or the environment variables it names). Exit code 1 when any token failed, 0 otherwise.",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      window: { type: "string" },
      "database-url": { type: "string" },
      concurrency: { type: "string" },
      json: { type: "boolean" },
      "dry-run": { type: "boolean" },
      "convert-long-lived": { type: "boolean" },
      ...APP_OPTIONS,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${redact(positionals[0] ?? "")}"`);
    const windowSeconds = parseDuration(values.window ?? "2h");
    const concurrency = values.concurrency === undefined ? 4 : Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
      throw new UsageError("--concurrency must be an integer from 1 to 256");
    const dryRun = values["dry-run"] === true;
    const app = selectApp(values, process.env, (t) => process.stderr.write(t));
    let clientId = process.env.SLACK_CLIENT_ID || undefined;
    let clientSecret = process.env.SLACK_CLIENT_SECRET || undefined;
    if (app?.name !== undefined && !dryRun) {
      // The apps file names the app: its own credentials (the file read again, secrets resolved this time).
      const file = appsFileOf(values["apps-file"], process.env) ?? "";
      const config = appConfigs(file, process.env).find((a) => a.name === app.name);
      clientId = config?.clientId;
      clientSecret = config?.clientSecret;
    } else if (app?.clientId !== undefined) {
      if (clientId !== undefined && clientId !== app.clientId)
        throw new UsageError(
          `SLACK_CLIENT_ID is ${redact(clientId)}, another app than --app ${app.clientId}: unset it or name the app of the apps file`,
        );
      clientId = app.clientId;
    }
    if (!dryRun && (clientId === undefined || clientSecret === undefined))
      throw new UsageError("set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET in the environment (never as flags)");
    const databaseUrl = values["database-url"] ?? (process.env.DATABASE_URL || DEFAULT_DATABASE_URL);

    const [{ applyStoreOptions, openStores }, { convertToRotatingTokens, rotateExpiringTokens }, { TokenRotator }] =
      await Promise.all([
        import("../app/stores.js"),
        import("../rotation/batch.js"),
        import("../rotation/token-rotator.js"),
      ]);
    const stores = await applyStoreOptions(await openStores(databaseUrl, { clientId: app?.partition }), {
      redisUrl: process.env.REDIS_URL || undefined,
      tokenEncryptionKey: process.env.SLACK_TOKEN_ENCRYPTION_KEY || undefined,
    });
    try {
      const store = stores.installationStore;
      const rotator =
        clientId !== undefined && clientSecret !== undefined
          ? new TokenRotator({ clientId, clientSecret, apiUrl: process.env.SLACK_API_URL || undefined, windowSeconds })
          : undefined;
      const common = { installationStore: store, rotator, concurrency, dryRun };
      let conversion: BatchReport | undefined;
      if (values["convert-long-lived"]) {
        const progress = new Progress(process.stderr, "convert");
        conversion = await convertToRotatingTokens({
          ...common,
          onProgress: (d, t, i) => progress.update(d, t, i),
        });
      }
      const progress = new Progress(process.stderr, "rotate");
      const rotation = await rotateExpiringTokens({
        ...common,
        windowSeconds,
        onProgress: (d, t, i) => progress.update(d, t, i),
      });
      const failed = rotation.failed + (conversion?.failed ?? 0);
      if (values.json) {
        const out: Record<string, unknown> = { window: windowSeconds, dryRun, rotation };
        if (app !== undefined) out.app = appJson(app);
        if (conversion) out.conversion = conversion;
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } else {
        const lines: string[] = [];
        const db = `${displayUrl(databaseUrl)}${app === undefined ? "" : ` for ${describeApp(app)}`}`;
        if (conversion)
          lines.push(
            ...summary(`Long-lived tokens in ${db}${dryRun ? " (dry run)" : ""}:`, conversion, "long-lived"),
            "",
          );
        lines.push(
          ...summary(
            `Tokens expiring within ${formatSeconds(windowSeconds)} in ${db}${dryRun ? " (dry run)" : ""}:`,
            rotation,
            "due",
          ),
        );
        process.stdout.write(`${lines.join("\n")}\n`);
      }
      return failed > 0 ? ExitCode.Failure : ExitCode.Ok;
    } finally {
      await stores.close();
    }
  },
};
