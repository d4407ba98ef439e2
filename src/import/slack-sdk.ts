/**
 * Readers for Python `slack_sdk.oauth` stores:
 *
 * - `FileInstallationStore`: `<base_dir>[/<client_id>]/<enterprise_id|none>-<team_id|none>/` holding
 *   `installer-<user_id>-latest` (one per user), `installer-latest`, `bot-latest` and timestamped history
 *   files; each a JSON object with snake_case fields. Only the `*-latest` files are read.
 * - `SQLite3InstallationStore`: tables `slack_installations` and `slack_bots` (the latest row per
 *   client/enterprise/team/user is the one with the largest `id`), datetimes as `YYYY-MM-DD HH:MM:SS`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Bot, type Installation, parseScopes } from "../model/installation.js";
import { epochSeconds, type ImportRecord, type ReadResult, str } from "./common.js";

/** Maps a slack_sdk `Installation.__dict__` (or a table row) to our {@link Installation}. */
export function fromSnake(d: Record<string, unknown>): Installation {
  const out: Record<string, unknown> = {
    appId: str(d.app_id),
    enterpriseId: str(d.enterprise_id),
    enterpriseName: str(d.enterprise_name),
    enterpriseUrl: str(d.enterprise_url),
    teamId: str(d.team_id),
    teamName: str(d.team_name),
    botToken: str(d.bot_token),
    botId: str(d.bot_id),
    botUserId: str(d.bot_user_id),
    botScopes: parseScopes(d.bot_scopes),
    botRefreshToken: str(d.bot_refresh_token),
    botTokenExpiresAt: epochSeconds(d.bot_token_expires_at),
    userId: str(d.user_id),
    userToken: str(d.user_token),
    userScopes: parseScopes(d.user_scopes),
    userRefreshToken: str(d.user_refresh_token),
    userTokenExpiresAt: epochSeconds(d.user_token_expires_at),
    incomingWebhookUrl: str(d.incoming_webhook_url),
    incomingWebhookChannel: str(d.incoming_webhook_channel),
    incomingWebhookChannelId: str(d.incoming_webhook_channel_id),
    incomingWebhookConfigurationUrl: str(d.incoming_webhook_configuration_url),
    isEnterpriseInstall: d.is_enterprise_install === true || d.is_enterprise_install === 1,
    tokenType: str(d.token_type),
    installedAt: epochSeconds(d.installed_at) ?? 0,
    customValues:
      d.custom_values !== null && typeof d.custom_values === "object" && !Array.isArray(d.custom_values)
        ? d.custom_values
        : {},
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as unknown as Installation;
}

function botOf(i: Installation): Bot {
  const { userId: _u, userToken: _t, userScopes: _s, userRefreshToken: _r, userTokenExpiresAt: _e, ...rest } = i;
  const b = { ...rest } as Record<string, unknown>;
  for (const k of [
    "incomingWebhookUrl",
    "incomingWebhookChannel",
    "incomingWebhookChannelId",
    "incomingWebhookConfigurationUrl",
    "tokenType",
  ])
    delete b[k];
  return b as unknown as Bot;
}

/** Reads a slack_sdk `FileInstallationStore` base directory (with or without its client_id level). */
export function readSlackSdkFile(baseDir: string): ReadResult {
  const records: ImportRecord[] = [];
  const skipped: string[] = [];
  const workspaceDirs: string[] = [];
  const isWorkspaceDir = (name: string) => /^[^/]+-[^/]+$/.test(name);
  const scan = (dir: string, depth: number) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (!statSync(p).isDirectory()) continue;
      if (isWorkspaceDir(name) && existsSync(join(p, "bot-latest"))) workspaceDirs.push(p);
      else if (isWorkspaceDir(name) && readdirSync(p).some((f) => /^installer-.*latest$/.test(f)))
        workspaceDirs.push(p);
      else if (depth === 0) scan(p, 1); // <base_dir>/<client_id>/
    }
  };
  scan(baseDir, 0);
  for (const dir of workspaceDirs) {
    const files = readdirSync(dir).sort();
    const users = files.filter((f) => /^installer-.+-latest$/.test(f));
    const chosen = users.length > 0 ? users : files.filter((f) => f === "installer-latest");
    const source = (f: string) => `${dir.slice(baseDir.length + 1)}/${f}`;
    let parsed = 0;
    for (const f of chosen) {
      try {
        const d = JSON.parse(readFileSync(join(dir, f), "utf8")) as Record<string, unknown>;
        const i = fromSnake(d);
        if (i.userId === undefined) {
          skipped.push(`skipped ${source(f)}: no user_id`);
          continue;
        }
        records.push({ kind: "installation", installation: i, source: source(f) });
        parsed++;
      } catch {
        skipped.push(`skipped ${source(f)}: not JSON`);
      }
    }
    if (parsed === 0 && files.includes("bot-latest")) {
      try {
        const b = botOf(
          fromSnake(JSON.parse(readFileSync(join(dir, "bot-latest"), "utf8")) as Record<string, unknown>),
        );
        if (b.botToken) records.push({ kind: "bot", bot: b, source: source("bot-latest") });
      } catch {
        skipped.push(`skipped ${source("bot-latest")}: not JSON`);
      }
    }
  }
  return { records, skipped };
}

/** Reads a slack_sdk `SQLite3InstallationStore` database (read-only): the latest row of each user and bot. */
export async function readSlackSdkSqlite(filename: string): Promise<ReadResult> {
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(filename, { readonly: true, fileMustExist: true });
  try {
    const records: ImportRecord[] = [];
    const skipped: string[] = [];
    const rows = db
      .prepare(
        `SELECT * FROM slack_installations WHERE id IN (SELECT MAX(id) FROM slack_installations
           GROUP BY client_id, enterprise_id, team_id, user_id) ORDER BY id`,
      )
      .all() as Record<string, unknown>[];
    const seen = new Set<string>();
    for (const row of rows) {
      const i = fromSnake(row);
      const source = `slack_installations row ${String(row.id)}`;
      if (i.userId === undefined) {
        skipped.push(`skipped ${source}: no user_id`);
        continue;
      }
      seen.add(`${i.enterpriseId ?? ""}|${i.teamId ?? ""}`);
      records.push({ kind: "installation", installation: i, source });
    }
    const hasBots = db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name='slack_bots'").get();
    if (hasBots !== undefined) {
      const bots = db
        .prepare(
          `SELECT * FROM slack_bots WHERE id IN (SELECT MAX(id) FROM slack_bots
             GROUP BY client_id, enterprise_id, team_id) ORDER BY id`,
        )
        .all() as Record<string, unknown>[];
      for (const row of bots) {
        const b = botOf(fromSnake({ ...row, user_id: "x" }));
        if (seen.has(`${b.enterpriseId ?? ""}|${b.teamId ?? ""}`) || !b.botToken) continue;
        records.push({ kind: "bot", bot: b, source: `slack_bots row ${String(row.id)}` });
      }
    }
    return { records, skipped };
  } finally {
    db.close();
  }
}
