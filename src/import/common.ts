/**
 * Shared pieces of `slack-oauth-kit import`: the record a format reader yields, id validation, and the
 * idempotent writer (an installation identical to the stored one is left alone, so a re-run writes nothing).
 */
import { BOT_FIELDS, type Bot, INSTALLATION_FIELDS, type Installation } from "../model/installation.js";
import type { InstallationStore } from "../stores/installation-store.js";

/** One record read from a source: an installation, or the bot of a workspace without installations. */
export type ImportRecord =
  | { kind: "installation"; installation: Installation; source: string }
  | { kind: "bot"; bot: Bot; source: string };

/** What a format reader returns: the records, and warnings for what it skipped (never a token). */
export interface ReadResult {
  records: ImportRecord[];
  skipped: string[];
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

/** Counts reported by {@link importRecords}. */
export interface ImportSummary {
  imported: number;
  unchanged: number;
  skipped: number;
}

const BOT_ONLY_USER = "USLACKOAUTHKITIMPORT";

/**
 * Writes records oldest first (so the latest stays the latest), skipping those identical to what is
 * stored and those with a malformed id (reported through `warn`, by source and reason, never a token).
 */
export async function importRecords(
  store: InstallationStore,
  records: readonly ImportRecord[],
  options: { warn(text: string): void; onProgress?(done: number, total: number): void },
): Promise<ImportSummary> {
  const summary: ImportSummary = { imported: 0, unchanged: 0, skipped: 0 };
  const at = (r: ImportRecord) => (r.kind === "bot" ? r.bot.installedAt : r.installation.installedAt);
  const sorted = [...records].sort((a, b) => at(a) - at(b));
  let done = 0;
  options.onProgress?.(0, sorted.length);
  for (const r of sorted) {
    const value = r.kind === "bot" ? r.bot : r.installation;
    const bad = badId(value as Partial<Installation>) ?? (r.kind === "installation" && !value ? "empty" : undefined);
    if (bad !== undefined) {
      summary.skipped++;
      options.warn(`skipped ${r.source}: ${bad}`);
    } else if (r.kind === "installation") {
      const i = r.installation;
      const stored = await store.findInstallation({
        enterpriseId: i.enterpriseId,
        teamId: i.teamId,
        userId: i.userId,
        isEnterpriseInstall: i.isEnterpriseInstall,
      });
      if (stored !== undefined && stored.userId === i.userId && canonical(stored) === canonical(i)) {
        summary.unchanged++;
      } else if (stored !== undefined && stored.userId === i.userId && stored.installedAt > i.installedAt) {
        // Never roll a user back to an older installation than the one stored.
        summary.skipped++;
        options.warn(`skipped ${r.source}: the store holds a newer installation of this user`);
      } else {
        await store.save(i);
        summary.imported++;
      }
    } else {
      const b = r.bot;
      const q = { enterpriseId: b.enterpriseId, teamId: b.teamId, isEnterpriseInstall: b.isEnterpriseInstall };
      const stored = await store.findBot(q);
      if (stored !== undefined && canonical(stored, BOT_FIELDS) === canonical(b, BOT_FIELDS)) {
        summary.unchanged++;
      } else {
        // A bot without an installation: save it through a placeholder installation, then remove that.
        await store.save({ ...b, userId: BOT_ONLY_USER, userScopes: [] });
        await store.deleteInstallation({ enterpriseId: b.enterpriseId, teamId: b.teamId, userId: BOT_ONLY_USER });
        summary.imported++;
      }
    }
    done++;
    options.onProgress?.(done, sorted.length);
  }
  return summary;
}
