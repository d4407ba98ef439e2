/**
 * The SQL stores' row format: the columns of the installations and bots tables, the parameters a save
 * binds, and rows (arrays, in SELECT order) mapped back to {@link Bot} and {@link Installation}.
 *
 * @internal
 */
import { InvalidArgumentError } from "../../errors.js";
import type { Bot, Installation } from "../../model/installation.js";
import type { SqlRow, SqlValue } from "./dialect.js";

export function str(v: unknown): string | undefined {
  return v === null || v === undefined ? undefined : String(v);
}
export function key(v: unknown): string | undefined {
  return v === null || v === undefined || v === "" ? undefined : String(v);
}
export function num(v: unknown): number | undefined {
  return v === null || v === undefined ? undefined : Number(v);
}
/**
 * Scope lists already parsed, by their JSON text. Most workspaces of an app share a handful of scope
 * sets, and parsing the JSON costs more than the lookup's own row copy: a hit is an array copy. Bounded:
 * emptied when full.
 */
const parsedScopes = new Map<string, readonly string[]>();
const PARSED_SCOPES_MAX = 256;

export function scopes(v: unknown): string[] {
  if (v === null || v === undefined || v === "" || v === "[]") return [];
  const text = String(v);
  const hit = parsedScopes.get(text);
  if (hit !== undefined) return hit.slice();
  const parsed: unknown = JSON.parse(text);
  const list = Array.isArray(parsed) ? parsed.map(String) : [];
  if (parsedScopes.size >= PARSED_SCOPES_MAX) parsedScopes.clear();
  parsedScopes.set(text, list);
  return list.slice();
}
export function custom(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined || v === "" || v === "{}") return {};
  const parsed: unknown = JSON.parse(String(v));
  return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : {};
}
export function set(o: Record<string, unknown>, k: string, v: unknown): void {
  if (v !== undefined) o[k] = v;
}
export function json(v: unknown, field: string): string {
  try {
    return JSON.stringify(v);
  } catch (e) {
    throw new InvalidArgumentError(`${field} must be JSON-serialisable`, { cause: e });
  }
}

/** Columns of the bot part, in insert order (installations and bots tables share them). */
export const BOT_COLUMNS = [
  "client_id",
  "app_id",
  "enterprise_id",
  "enterprise_name",
  "enterprise_url",
  "team_id",
  "team_name",
  "bot_token",
  "bot_id",
  "bot_user_id",
  "bot_scopes",
  "bot_refresh_token",
  "bot_token_expires_at",
  "is_enterprise_install",
  "installed_at",
  "custom_values",
] as const;
export const USER_COLUMNS = [
  "user_id",
  "user_token",
  "user_scopes",
  "user_refresh_token",
  "user_token_expires_at",
  "incoming_webhook_url",
  "incoming_webhook_channel",
  "incoming_webhook_channel_id",
  "incoming_webhook_configuration_url",
  "token_type",
] as const;
export const INSTALLATION_COLUMNS = [...BOT_COLUMNS, ...USER_COLUMNS];

/**
 * What `findBot` selects; rowToBot reads it by index. Not the key columns: the query's key holds their
 * values already, and every column less is one string less to copy out of SQLite on the hot path.
 */
export const BOT_SELECT = [
  "app_id",
  "enterprise_name",
  "enterprise_url",
  "team_name",
  "bot_token",
  "bot_id",
  "bot_user_id",
  "bot_scopes",
  "bot_refresh_token",
  "bot_token_expires_at",
  "is_enterprise_install",
  "installed_at",
  "custom_values",
] as const;
/**
 * {@link BOT_SELECT} as one text value, for SQLite's `findBot` and `findInstallation`: each column as `=` +
 * its text (`''` for NULL, so an empty string and NULL stay apart), joined by U+001F. SQLite keeps this
 * expression in the lookup index itself, so a lookup copies one string out of the database instead of
 * thirteen values (on Node 20 better-sqlite3 hands a row's values to V8 one call each). Nothing is escaped
 * (escaping every text column with `replace()` made each save about 3.5 µs slower): a value holding U+001F
 * has more than thirteen fields, {@link unpackBotRow} refuses it, and the store reads the columns instead.
 */
export const PACKED_BOT_SELECT = BOT_SELECT.map((c) => `ifnull('=' || ${c}, '')`).join(" || char(31) || ");
/** Per {@link BOT_SELECT} position: true for the numeric columns (their text is turned back into numbers). */
const PACKED_IS_NUMBER = BOT_SELECT.map((c) =>
  ["bot_token_expires_at", "is_enterprise_install", "installed_at"].includes(c),
);

/**
 * Fields `first` to `first + count - 1` of a {@link PACKED_BOT_SELECT} value (numbers as numbers, as SQLite
 * gives them; its `Inf` as `Infinity`); `undefined` unless the value has exactly one field per column. One
 * pass of `indexOf`, one string per field read (twice as fast as `split` and a slice per field).
 */
function unpackFields(v: SqlValue | undefined, first: number, count: number): SqlValue[] | undefined {
  if (typeof v !== "string") return undefined;
  const out: SqlValue[] = new Array<SqlValue>(count);
  const last = BOT_SELECT.length - 1;
  let p = 0;
  for (let k = 0; k <= last; k++) {
    let q = v.indexOf("\x1f", p);
    if (q === -1) {
      if (k !== last) return undefined;
      q = v.length;
    } else if (k === last) {
      return undefined;
    }
    if (k >= first && k < first + count) {
      let f: SqlValue = null;
      if (q > p) {
        const text = v.slice(p + 1, q);
        f = PACKED_IS_NUMBER[k]
          ? text === "Inf"
            ? Number.POSITIVE_INFINITY
            : text === "-Inf"
              ? Number.NEGATIVE_INFINITY
              : Number(text)
          : text;
      }
      out[k - first] = f;
    }
    p = q + 1;
  }
  return out;
}

/** A {@link PACKED_BOT_SELECT} value → the row {@link rowToBot} reads; `undefined` for anything else. */
export function unpackBotRow(v: SqlValue | undefined): SqlValue[] | undefined {
  return unpackFields(v, 0, BOT_SELECT.length);
}

/** The six fields that `findInstallation` takes from the latest bot. */
export const LATEST_BOT_COLUMNS = [
  "bot_token",
  "bot_id",
  "bot_user_id",
  "bot_scopes",
  "bot_refresh_token",
  "bot_token_expires_at",
] as const;
/** What `findInstallation` selects from the installation row (then the LATEST_BOT_COLUMNS of the latest bot). */
export const INSTALLATION_SELECT = [
  "app_id",
  "enterprise_id",
  "enterprise_name",
  "enterprise_url",
  "team_id",
  "team_name",
  "is_enterprise_install",
  "installed_at",
  "custom_values",
  ...USER_COLUMNS,
] as const;

export function botParams(clientId: string, i: Installation): SqlValue[] {
  return [
    clientId,
    i.appId ?? null,
    i.enterpriseId ?? "",
    i.enterpriseName ?? null,
    i.enterpriseUrl ?? null,
    i.isEnterpriseInstall ? "" : (i.teamId ?? ""),
    i.teamName ?? null,
    i.botToken ?? null,
    i.botId ?? null,
    i.botUserId ?? null,
    json(i.botScopes, "installation.botScopes"),
    i.botRefreshToken ?? null,
    i.botTokenExpiresAt ?? null,
    i.isEnterpriseInstall ? 1 : 0,
    i.installedAt,
    json(i.customValues, "installation.customValues"),
  ];
}

export function installationParams(clientId: string, i: Installation): SqlValue[] {
  const p = botParams(clientId, i);
  // The bot's secrets live in the bots table only: an installation row never keeps a copy (bot fields of
  // `findInstallation` always come from the latest bot), so there is one place to rotate, re-key or delete.
  p[7] = null; // bot_token
  p[11] = null; // bot_refresh_token
  p.push(
    i.userId,
    i.userToken ?? null,
    json(i.userScopes, "installation.userScopes"),
    i.userRefreshToken ?? null,
    i.userTokenExpiresAt ?? null,
    i.incomingWebhookUrl ?? null,
    i.incomingWebhookChannel ?? null,
    i.incomingWebhookChannelId ?? null,
    i.incomingWebhookConfigurationUrl ?? null,
    i.tokenType ?? null,
  );
  return p;
}

/**
 * A row of {@link BOT_SELECT} → {@link Bot}; `undefined` for no row. `enterpriseId` and `teamId` are the
 * row's key as queried (`''` for none): the bot's ids come from them, not from the row.
 */
export function rowToBot(r: SqlRow | undefined, enterpriseId: string, teamId: string): Bot | undefined {
  if (r === undefined) return undefined;
  // The required fields in one literal (one object shape for every bot), then the optional ones that are set.
  const b: Bot = {
    botToken: String(r[4]),
    botScopes: scopes(r[7]),
    isEnterpriseInstall: Number(r[10]) === 1,
    installedAt: Number(r[11]),
    customValues: custom(r[12]),
  };
  if (r[0] != null) b.appId = String(r[0]);
  if (enterpriseId !== "") b.enterpriseId = enterpriseId;
  if (r[1] != null) b.enterpriseName = String(r[1]);
  if (r[2] != null) b.enterpriseUrl = String(r[2]);
  if (teamId !== "") b.teamId = teamId;
  if (r[3] != null) b.teamName = String(r[3]);
  if (r[5] != null) b.botId = String(r[5]);
  if (r[6] != null) b.botUserId = String(r[6]);
  if (r[8] != null) b.botRefreshToken = String(r[8]);
  if (r[9] != null) b.botTokenExpiresAt = Number(r[9]);
  return b;
}

/** Where {@link LATEST_BOT_COLUMNS} start in {@link BOT_SELECT} (they follow each other there, in order). */
const LATEST_AT = BOT_SELECT.indexOf(LATEST_BOT_COLUMNS[0]);
/** The positions of {@link LATEST_BOT_COLUMNS} in a {@link BOT_SELECT} row. */
export const LATEST_IN_BOT_SELECT: readonly number[] = LATEST_BOT_COLUMNS.map((_, i) => LATEST_AT + i);
if (LATEST_BOT_COLUMNS.some((c, i) => BOT_SELECT[LATEST_AT + i] !== c)) {
  throw new Error("LATEST_BOT_COLUMNS must be a run of BOT_SELECT");
}

/** What {@link packedRowToInstallation} returns for a latest bot it cannot unpack (read the columns instead). */
export const UNPACKABLE: unique symbol = Symbol("unpackable");

/**
 * A row of {@link INSTALLATION_SELECT} + the latest bot as one {@link PACKED_BOT_SELECT} value →
 * {@link Installation} (SQLite's `findInstallation`); {@link UNPACKABLE} when the bot's value has a field
 * holding U+001F (then the caller reads the columns).
 */
export function packedRowToInstallation(r: SqlRow | undefined): Installation | undefined | typeof UNPACKABLE {
  if (r === undefined) return undefined;
  const packed = r[INSTALLATION_SELECT.length];
  if (packed === null || packed === undefined) return rowToInstallation(r);
  const bot = unpackFields(packed as SqlValue, LATEST_AT, LATEST_BOT_COLUMNS.length);
  if (bot === undefined) return UNPACKABLE;
  const row = r.slice(0, INSTALLATION_SELECT.length);
  for (const v of bot) row.push(v);
  return rowToInstallation(row);
}

/**
 * A row of {@link INSTALLATION_SELECT} + {@link LATEST_BOT_COLUMNS} → {@link Installation}. The bot
 * fields come from the latest bot — a later user-only install never hides it — and are absent when the
 * workspace has no bot any more (deleted or revoked): a deleted bot's token is never handed out.
 */
export function rowToInstallation(r: SqlRow | undefined): Installation | undefined {
  if (r === undefined) return undefined;
  const i: Record<string, unknown> = {};
  set(i, "appId", str(r[0]));
  set(i, "enterpriseId", key(r[1]));
  set(i, "enterpriseName", str(r[2]));
  set(i, "enterpriseUrl", str(r[3]));
  set(i, "teamId", key(r[4]));
  set(i, "teamName", str(r[5]));
  const hasBot = r[19] !== null && r[19] !== undefined;
  if (hasBot) {
    i.botToken = String(r[19]);
    set(i, "botId", str(r[20]));
    set(i, "botUserId", str(r[21]));
  }
  i.botScopes = hasBot ? scopes(r[22]) : [];
  if (hasBot) {
    set(i, "botRefreshToken", str(r[23]));
    set(i, "botTokenExpiresAt", num(r[24]));
  }
  i.userId = String(r[9]);
  set(i, "userToken", str(r[10]));
  i.userScopes = scopes(r[11]);
  set(i, "userRefreshToken", str(r[12]));
  set(i, "userTokenExpiresAt", num(r[13]));
  set(i, "incomingWebhookUrl", str(r[14]));
  set(i, "incomingWebhookChannel", str(r[15]));
  set(i, "incomingWebhookChannelId", str(r[16]));
  set(i, "incomingWebhookConfigurationUrl", str(r[17]));
  i.isEnterpriseInstall = Number(r[6]) === 1;
  set(i, "tokenType", str(r[18]));
  i.installedAt = Number(r[7]);
  i.customValues = custom(r[8]);
  return i as unknown as Installation;
}
