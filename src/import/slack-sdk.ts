/**
 * Readers for Python `slack_sdk.oauth` stores (slack_sdk 3.x):
 *
 * - `FileInstallationStore`: `<base_dir>[/<client_id>]/<enterprise_id|none>-<team_id|none>/` holding
 *   `installer-<user_id>-latest` (one per user), `installer-latest`, `bot-latest` and timestamped history
 *   files; each a JSON object with snake_case fields. Only `installer-<user_id>-latest` and `bot-latest`
 *   are read (history is not imported). Each `<client_id>` folder is an app of its own.
 * - `SQLite3InstallationStore`: tables `slack_installations` and `slack_bots`, one row per save; the latest
 *   row per client/enterprise/team/user is the one with the largest `id`; datetimes as
 *   `YYYY-MM-DD HH:MM:SS`, scopes as comma-separated text. Each `client_id` is an app of its own.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { type Bot, type Installation, parseScopes } from "../model/installation.js";
import { loadBetterSqlite3 } from "../stores/sqlite/driver.js";
import type { SQLiteDatabase } from "../stores/sqlite/executor.js";
import { epochSeconds, type ImportRecord, isClientId, type ReadResult, ScopeStrings, str } from "./common.js";

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
    isEnterpriseInstall:
      d.is_enterprise_install === true || d.is_enterprise_install === 1 || d.is_enterprise_install === "1",
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
    "enterpriseUrl",
    "incomingWebhookUrl",
    "incomingWebhookChannel",
    "incomingWebhookChannelId",
    "incomingWebhookConfigurationUrl",
    "tokenType",
  ])
    delete b[k];
  return b as unknown as Bot;
}

/** `E…-T…`, `none-T…`, `E…-none`: a workspace folder of slack_sdk's file store. */
const WORKSPACE_DIR_RE = /^(E[A-Z0-9]{2,63}|none)-(T[A-Z0-9]{2,63}|none)$/;
const USER_LATEST_RE = /^installer-(.+)-latest$/;

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The workspace folders directly in `dir`. */
function workspaceDirs(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .filter((n) => WORKSPACE_DIR_RE.test(n) && n !== "none-none" && isDir(join(dir, n)));
}

/**
 * Reads a slack_sdk `FileInstallationStore` base directory: its workspace folders (an app without
 * `client_id`), and each `<client_id>` folder holding workspace folders (one app each).
 */
export function readSlackSdkFile(baseDir: string): ReadResult {
  const records: ImportRecord[] = [];
  const skipped: string[] = [];
  const scopes = new ScopeStrings();
  const groups: Array<{ clientId: string | undefined; dir: string; prefix: string }> = [
    { clientId: undefined, dir: baseDir, prefix: "" },
  ];
  for (const name of readdirSync(baseDir).sort()) {
    const p = join(baseDir, name);
    if (WORKSPACE_DIR_RE.test(name) || !isDir(p) || workspaceDirs(p).length === 0) continue;
    if (!isClientId(name)) {
      skipped.push(`skipped ${name}/: "${name}" is not a client id`);
      continue;
    }
    groups.push({ clientId: name, dir: p, prefix: `${name}/` });
  }
  for (const { clientId, dir: root, prefix } of groups) {
    for (const ws of workspaceDirs(root)) {
      const dir = join(root, ws);
      const m = WORKSPACE_DIR_RE.exec(ws);
      const folder = {
        enterpriseId: m?.[1] === "none" ? undefined : m?.[1],
        teamId: m?.[2] === "none" ? undefined : m?.[2],
      };
      const source = (f: string) => `${prefix}${ws}/${f}`;
      const files = readdirSync(dir).sort();
      const parse = (f: string): Record<string, unknown> | undefined => {
        try {
          const d = JSON.parse(readFileSync(join(dir, f), "utf8")) as unknown;
          if (d !== null && typeof d === "object" && !Array.isArray(d)) return d as Record<string, unknown>;
          skipped.push(`skipped ${source(f)}: not a JSON object`);
        } catch {
          skipped.push(`skipped ${source(f)}: not JSON`);
        }
        return undefined;
      };
      const mismatch = (i: Installation) => {
        const team = i.isEnterpriseInstall ? undefined : i.teamId;
        if ((i.enterpriseId ?? undefined) !== folder.enterpriseId || (team ?? undefined) !== folder.teamId)
          return `holds enterprise ${i.enterpriseId ?? "none"} / team ${team ?? "none"}, not those of its folder ${ws}`;
        return undefined;
      };
      for (const f of files.filter((n) => USER_LATEST_RE.test(n))) {
        const d = parse(f);
        if (d === undefined) continue;
        scopes.note("bot_scopes", d.bot_scopes, source(f));
        scopes.note("user_scopes", d.user_scopes, source(f));
        const i = fromSnake(d);
        const why = i.userId === undefined ? "no user_id" : mismatch(i);
        if (why !== undefined) skipped.push(`skipped ${source(f)}: ${why}`);
        else records.push({ kind: "installation", installation: i, source: source(f), clientId });
      }
      if (files.includes("bot-latest")) {
        const d = parse("bot-latest");
        if (d === undefined) continue;
        scopes.note("bot_scopes", d.bot_scopes, source("bot-latest"));
        const b = botOf(fromSnake({ ...d, user_id: "x" }));
        const why = !b.botToken ? "no bot_token" : mismatch({ ...b, userId: "x", userScopes: [] });
        if (why !== undefined) skipped.push(`skipped ${source("bot-latest")}: ${why}`);
        else records.push({ kind: "bot", bot: b, source: source("bot-latest"), clientId });
      }
    }
  }
  return { records, skipped, warnings: scopes.warnings() };
}

/** Reads a slack_sdk `SQLite3InstallationStore` database (read-only): the latest row of each user and bot. */
export async function readSlackSdkSqlite(filename: string): Promise<ReadResult> {
  const Database = loadBetterSqlite3("import from a slack_sdk SQLite database");
  let db: SQLiteDatabase;
  try {
    db = new Database(filename, { readonly: true, fileMustExist: true });
    db.prepare("SELECT name FROM sqlite_master LIMIT 1").get();
  } catch (error) {
    throw new InvalidArgumentError(
      `${filename} is not a SQLite database: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  try {
    const records: ImportRecord[] = [];
    const skipped: string[] = [];
    const scopes = new ScopeStrings();
    const has = (t: string) =>
      db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name=?").get(t) !== undefined;
    const clientOf = (row: Record<string, unknown>, source: string): string | undefined | false => {
      const c = row.client_id;
      if (c === null || c === undefined || c === "") return undefined;
      if (isClientId(c)) return c;
      skipped.push(`skipped ${source}: client_id is not a client id`);
      return false;
    };
    if (has("slack_installations")) {
      const rows = db
        .prepare(
          `SELECT * FROM slack_installations WHERE id IN (SELECT MAX(id) FROM slack_installations
             GROUP BY client_id, enterprise_id, team_id, user_id) ORDER BY id`,
        )
        .all() as Record<string, unknown>[];
      for (const row of rows) {
        const source = `slack_installations row ${String(row.id)}`;
        const clientId = clientOf(row, source);
        if (clientId === false) continue;
        scopes.note("bot_scopes", row.bot_scopes, source);
        scopes.note("user_scopes", row.user_scopes, source);
        const i = fromSnake(row);
        if (i.userId === undefined) {
          skipped.push(`skipped ${source}: no user_id`);
          continue;
        }
        records.push({ kind: "installation", installation: i, source, clientId });
      }
    }
    if (has("slack_bots")) {
      const bots = db
        .prepare(
          `SELECT * FROM slack_bots WHERE id IN (SELECT MAX(id) FROM slack_bots
             GROUP BY client_id, enterprise_id, team_id) ORDER BY id`,
        )
        .all() as Record<string, unknown>[];
      for (const row of bots) {
        const source = `slack_bots row ${String(row.id)}`;
        const clientId = clientOf(row, source);
        if (clientId === false) continue;
        scopes.note("bot_scopes", row.bot_scopes, source);
        const b = botOf(fromSnake({ ...row, user_id: "x" }));
        if (!b.botToken) {
          skipped.push(`skipped ${source}: no bot_token`);
          continue;
        }
        records.push({ kind: "bot", bot: b, source, clientId });
      }
    }
    return { records, skipped, warnings: scopes.warnings() };
  } finally {
    db.close();
  }
}
