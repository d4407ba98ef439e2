/**
 * Shared pieces of `slack-oauth-kit import`: the record a format reader yields, id validation, and the
 * idempotent writer (an installation identical to the stored one is left alone, so a re-run writes nothing).
 */
import { BOT_FIELDS, type Bot, INSTALLATION_FIELDS, type Installation } from "../model/installation.js";
import type { InstallationStore } from "../stores/installation-store.js";

/**
 * One record read from a source: an installation, or the latest bot of a workspace. `clientId` is the app
 * (Slack client id) the source files it under, when it keeps several apps apart; it becomes the partition
 * (`clientId` option of the SQL and file stores) the record is imported into.
 */
export type ImportRecord =
  | { kind: "installation"; installation: Installation; source: string; clientId?: string | undefined }
  | { kind: "bot"; bot: Bot; source: string; clientId?: string | undefined };

/**
 * What a format reader returns: the records; `skipped`, one line per record not imported with its reason
 * (`skipped <source>: <reason>`); `warnings`, what was read but changed on the way (never a token).
 */
export interface ReadResult {
  records: ImportRecord[];
  skipped: string[];
  warnings: string[];
}

/** Slack client ids (`1234567890.1234567890`) as a source may name them: letters, digits, `.`, `-`, `_`. */
const CLIENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** True when `v` can name an import partition (a client id). */
export function isClientId(v: unknown): v is string {
  return typeof v === "string" && CLIENT_ID_RE.test(v) && !v.includes("..");
}

/**
 * Collects the sources whose scopes were one comma-separated string (slack_sdk's SQLite columns, or a
 * string where slack_sdk's files hold a list) and turns them into one warning per field.
 */
export class ScopeStrings {
  readonly #seen = new Map<string, string[]>();

  /** Notes `source` when `value` (the raw `field` of a record) is a non-empty string. */
  note(field: string, value: unknown, source: string): void {
    if (typeof value !== "string" || value.trim() === "") return;
    const list = this.#seen.get(field) ?? [];
    list.push(source);
    this.#seen.set(field, list);
  }

  /** One warning per field, naming the sources (rows are given as ranges). */
  warnings(): string[] {
    return [...this.#seen].map(
      ([field, sources]) => `${field} held as one comma-separated string, split into scopes: ${listSources(sources)}`,
    );
  }
}

/** `slack_installations rows 1-3, 5`, `a/b, c/d`: consecutive "<table> row N" sources collapsed into ranges. */
export function listSources(sources: readonly string[]): string {
  const out: string[] = [];
  const rows = new Map<string, number[]>();
  for (const s of sources) {
    const m = /^(.*) row (\d+)$/.exec(s);
    if (m?.[1] !== undefined) {
      const list = rows.get(m[1]) ?? [];
      list.push(Number(m[2]));
      rows.set(m[1], list);
    } else out.push(s);
  }
  for (const [table, ids] of rows) {
    ids.sort((a, b) => a - b);
    const parts: string[] = [];
    for (let i = 0; i < ids.length; ) {
      let j = i;
      while (j + 1 < ids.length && ids[j + 1] === (ids[j] ?? 0) + 1) j++;
      parts.push(i === j ? `${ids[i]}` : `${ids[i]}-${ids[j]}`);
      i = j + 1;
    }
    out.push(`${table} row${ids.length > 1 ? "s" : ""} ${parts.join(", ")}`);
  }
  return out.join("; ");
}

/** Slack ids (team, enterprise, user, bot, app): uppercase letters and digits. */
const ID_RE = /^[A-Z0-9][A-Z0-9_-]{1,63}$/;

/** A description of the first malformed id of a record, or `undefined` when every id is valid. */
export function badId(r: Partial<Installation>): string | undefined {
  for (const k of ["enterpriseId", "teamId", "userId", "appId", "botId", "botUserId"] as const) {
    const v = r[k];
    if (v === undefined) continue;
    if (typeof v !== "string" || !ID_RE.test(v)) return `${k} is not a Slack id`;
  }
  if (r.teamId === undefined && r.enterpriseId === undefined) return "neither teamId nor enterpriseId";
  if (r.isEnterpriseInstall === true && r.enterpriseId === undefined) return "org-wide install without enterpriseId";
  return undefined;
}

/** A string, or `undefined` for null, empty and non-strings. */
export function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/** Epoch seconds from a number, a numeric string or a date string (`YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC). */
export function epochSeconds(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v !== "string" || v.trim() === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  let s = v.trim().replace(" ", "T");
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(s)) s += "Z";
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/** A canonical JSON form of a record (fixed key order, no undefined), to compare with what is stored. */
export function canonical(r: Installation | Bot, fields: readonly string[] = INSTALLATION_FIELDS): string {
  const o: Record<string, unknown> = {};
  for (const k of fields) {
    const v = (r as unknown as Record<string, unknown>)[k];
    if (v === undefined || v === null) continue;
    o[k] = k === "customValues" ? sortKeys(v) : v;
  }
  return JSON.stringify(o);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(
    Object.keys(v as object)
      .sort()
      .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
  );
}

/** The bot fields of an installation: those that always come from the workspace's latest bot. */
const BOT_TOKEN_FIELDS = [
  "botToken",
  "botId",
  "botUserId",
  "botScopes",
  "botRefreshToken",
  "botTokenExpiresAt",
] as const;

/** The key of the workspace (or org-wide install) a record belongs to, within its partition. */
function workspaceKey(clientId: string | undefined, r: Bot | Installation): string {
  const team = r.isEnterpriseInstall ? "" : (r.teamId ?? "");
  return `${clientId ?? ""}|${r.enterpriseId ?? ""}|${team}`;
}

/**
 * Gives every installation of a workspace the workspace's latest bot, as slack_sdk and `@slack/oauth` do when
 * they read an installation back (and as every store of this library returns it): the source's own latest
 * bot record when it has one (`bot-latest`, the newest `slack_bots` row, `app-latest`), else the bot of the
 * newest installation that has one. A bot record is kept only for a workspace whose installations have no
 * bot (a bot-only workspace, or user-only installs). Without this, an older user's installation would bring
 * back an older bot token, and a re-run would not be idempotent.
 */
export function settleBots(records: readonly ImportRecord[]): ImportRecord[] {
  const at = (r: ImportRecord) => (r.kind === "bot" ? r.bot.installedAt : r.installation.installedAt);
  const latest = new Map<string, { bot: Partial<Installation>; at: number; explicit: boolean }>();
  const withBot = new Set<string>();
  records.forEach((r) => {
    const value = r.kind === "bot" ? r.bot : r.installation;
    if (!value.botToken) return;
    const key = workspaceKey(r.clientId, value);
    if (r.kind === "installation") withBot.add(key);
    const cur = latest.get(key);
    const explicit = r.kind === "bot";
    // An explicit latest bot always wins over the bots inside installations; among equals, the newest.
    if (cur === undefined || (explicit && !cur.explicit) || (explicit === cur.explicit && at(r) >= cur.at))
      latest.set(key, { bot: value, at: at(r), explicit });
  });
  const out: ImportRecord[] = [];
  for (const r of records) {
    if (r.kind === "bot") {
      if (!withBot.has(workspaceKey(r.clientId, r.bot))) out.push(r);
      continue;
    }
    const i = r.installation;
    const bot = latest.get(workspaceKey(r.clientId, i));
    if (!i.botToken || bot === undefined) {
      out.push(r);
      continue;
    }
    const settled = { ...i } as Record<string, unknown>;
    for (const f of BOT_TOKEN_FIELDS) {
      const v = bot.bot[f];
      if (v === undefined) delete settled[f];
      else settled[f] = Array.isArray(v) ? [...v] : v;
    }
    out.push({ ...r, installation: settled as unknown as Installation });
  }
  return out;
}

/** Counts reported by {@link importRecords}. */
export interface ImportSummary {
  imported: number;
  unchanged: number;
  skipped: number;
}

const BOT_ONLY_USER = "USLACKOAUTHKITIMPORT";

/** An installation as compared with the record: without bot fields when the record has no bot. */
function comparable(stored: Installation, record: Installation): string {
  if (record.botToken) return canonical(stored);
  const s = { ...stored } as Record<string, unknown>;
  for (const f of BOT_TOKEN_FIELDS) delete s[f];
  s.botScopes = [];
  return canonical(s as unknown as Installation);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Writes records (after {@link settleBots}) oldest first (so the latest stays the latest), skipping those
 * identical to what is stored and those with a malformed id or refused by the store (reported through
 * `warn`, by source and reason, never a token). Every record goes into `store`: call it once per partition.
 */
export async function importRecords(
  store: InstallationStore,
  records: readonly ImportRecord[],
  options: { warn(text: string): void; onProgress?(done: number, total: number): void },
): Promise<ImportSummary> {
  const summary: ImportSummary = { imported: 0, unchanged: 0, skipped: 0 };
  const at = (r: ImportRecord) => (r.kind === "bot" ? r.bot.installedAt : r.installation.installedAt);
  const sorted = settleBots(records).sort((a, b) => at(a) - at(b));
  let done = 0;
  options.onProgress?.(0, sorted.length);
  const skip = (r: ImportRecord, why: string) => {
    summary.skipped++;
    options.warn(`skipped ${r.source}: ${why}`);
  };
  for (const r of sorted) {
    const value = r.kind === "bot" ? r.bot : r.installation;
    const bad = badId(value as Partial<Installation>);
    if (bad !== undefined) {
      skip(r, bad);
    } else if (r.kind === "installation") {
      const i = r.installation;
      const stored = await store.findInstallation({
        enterpriseId: i.enterpriseId,
        teamId: i.teamId,
        userId: i.userId,
        isEnterpriseInstall: i.isEnterpriseInstall,
      });
      if (stored !== undefined && stored.userId === i.userId && comparable(stored, i) === canonical(i)) {
        summary.unchanged++;
      } else if (stored !== undefined && stored.userId === i.userId && stored.installedAt > i.installedAt) {
        // Never roll a user back to an older installation than the one stored.
        skip(r, "the store holds a newer installation of this user");
      } else {
        try {
          await store.save(i);
          summary.imported++;
        } catch (error) {
          skip(r, `refused by the store: ${reason(error)}`);
        }
      }
    } else {
      const b = r.bot;
      const q = { enterpriseId: b.enterpriseId, teamId: b.teamId, isEnterpriseInstall: b.isEnterpriseInstall };
      const stored = await store.findBot(q);
      if (stored !== undefined && canonical(stored, BOT_FIELDS) === canonical(b, BOT_FIELDS)) {
        summary.unchanged++;
      } else if (stored !== undefined && stored.installedAt > b.installedAt) {
        skip(r, "the store holds a newer bot of this workspace");
      } else {
        try {
          // A bot without an installation: save it through a placeholder installation, then remove that.
          await store.save({ ...b, userId: BOT_ONLY_USER, userScopes: [] });
          await store.deleteInstallation({ enterpriseId: b.enterpriseId, teamId: b.teamId, userId: BOT_ONLY_USER });
          summary.imported++;
        } catch (error) {
          skip(r, `refused by the store: ${reason(error)}`);
        }
      }
    }
    done++;
    options.onProgress?.(done, sorted.length);
  }
  return summary;
}
