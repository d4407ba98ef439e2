import { InvalidArgumentError } from "../errors.js";
import type { Bot, Installation } from "../model/installation.js";
import type { EncryptionMarker } from "./encryption-marker.js";

/**
 * What the last check of a token found:
 * - `ok`: `auth.test` accepted it;
 * - `revoked`: Slack said `token_revoked` or `account_inactive` (uninstalled, revoked, deactivated user);
 * - `invalid`: `invalid_auth` or `not_authed` (a token Slack does not know);
 * - `expired`: `token_expired` (a rotating token past its expiry that nobody refreshed);
 * - `refresh_failed`: a refresh of the token was tried and failed;
 * - `missing_scopes`: `auth.test` accepted it, but it was granted fewer scopes than the app is configured
 *   with (the app added scopes since): the installation needs a reinstall;
 * - `unknown`: no answer could be had (rate limits exhausted, network, Slack 5xx, a token that cannot be
 *   decrypted): never taken for `revoked`.
 *
 * More statuses may be added in later versions (listed in `HEALTH_STATUSES`): treat one you do not
 * know as "not ok".
 *
 * @example
 * ```ts
 * const bad: InstallationHealthStatus[] = ["revoked", "invalid", "expired", "refresh_failed"];
 * ```
 */
export type InstallationHealthStatus =
  | "ok"
  | "revoked"
  | "invalid"
  | "expired"
  | "refresh_failed"
  | "missing_scopes"
  | "unknown";

/**
 * The health of one stored token (the workspace's bot token, or one user's token). Holds no secret.
 *
 * @example
 * ```ts
 * const health: TokenHealth = { status: "revoked", checkedAt: 1767225600, error: "token_revoked" };
 * ```
 */
export interface TokenHealth {
  status: InstallationHealthStatus;
  /** When it was checked, epoch seconds. */
  checkedAt: number;
  /** The last error code: Slack's (`token_revoked`, `ratelimited`, …) or this library's (`SLACK_OAUTH_…`). Absent when `ok`. */
  error?: string;
}

/**
 * Which token a health record is about: `bot` (the workspace's, or org's, latest bot) or `user` (one
 * user's latest installation).
 *
 * @example
 * ```ts
 * const kind: HealthTokenKind = "bot";
 * ```
 */
export type HealthTokenKind = "bot" | "user";

/**
 * One recorded health, as {@link InstallationStore.listHealth} lists it: where, which token, and its
 * {@link TokenHealth}. Tokens never checked have no entry.
 *
 * @example
 * ```ts
 * const entry: HealthEntry = { kind: "bot", teamId: "T0123", isEnterpriseInstall: false, health };
 * ```
 */
export interface HealthEntry {
  kind: HealthTokenKind;
  enterpriseId?: string;
  /** Absent for org-wide installs. */
  teamId?: string;
  isEnterpriseInstall: boolean;
  /** The user whose token it is (`kind: "user"` only). */
  userId?: string;
  health: TokenHealth;
}

/**
 * A rotating token that expires by a given time, as {@link InstallationStore.listExpiringTokens} finds it
 * through the store's expiry index. Ids and times only, never a token.
 *
 * @example
 * ```ts
 * const due: ExpiringToken = { kind: "user", teamId: "T0123", isEnterpriseInstall: false, userId: "U0123", expiresAt: 1767225600 };
 * ```
 */
export interface ExpiringToken {
  kind: HealthTokenKind;
  enterpriseId?: string;
  /** Absent for org-wide installs. */
  teamId?: string;
  isEnterpriseInstall: boolean;
  /** The user whose token it is (`kind: "user"` only). */
  userId?: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** Finds a workspace's (or an org's) bot. */
export interface BotQuery {
  enterpriseId?: string | undefined;
  teamId?: string | undefined;
  /** True for org-wide installs: matched by `enterpriseId` alone, whatever `teamId` says. */
  isEnterpriseInstall?: boolean | undefined;
}
/** Finds an installation; with `userId`, that user's latest one. */
export interface InstallationQuery extends BotQuery {
  userId?: string | undefined;
}
/** Identifies a workspace (or an org, with no `teamId`). */
export interface WorkspaceQuery {
  enterpriseId?: string | undefined;
  teamId?: string | undefined;
}
export interface DeleteInstallationQuery extends WorkspaceQuery {
  userId?: string | undefined;
}

/**
 * Where installations live. Every backend (memory, file, SQLite, PostgreSQL, MySQL) implements it with
 * identical semantics, checked by one shared conformance suite.
 *
 * - Workspace installs are keyed by (enterpriseId, teamId); org-wide installs by enterpriseId alone and
 *   are found for any teamId when `isEnterpriseInstall` is true.
 * - `findInstallation` without `userId` returns the latest installation of the workspace; the bot fields
 *   always come from the latest installation that had a bot, so a later user-only install never hides it.
 *
 * Every method is required: listing (`listWorkspaces`), token rotation (`updateTokens`, `withLock`) and
 * `close` are part of the contract, so wrappers (encryption, cache, Redis lock) forward them as they are
 * and callers never test for them. A store of your own that cannot coordinate across processes still
 * implements `withLock` in-process (see the CHANGELOG for the 0.2 migration).
 */
export interface InstallationStore {
  /**
   * The app partition this store reads and writes: the Slack client id it was opened with (its
   * `clientId` option), `''` or absent for the default partition (data written without a client id, as
   * every single-app deployment does). Several apps share one database, directory, Redis or process by
   * opening one store per client id; wrappers (cache, encryption, Redis lock) report their inner store's,
   * and key their cache entries, invalidation messages and locks by it. See {@link partitionOf}.
   */
  readonly clientId?: string | undefined;
  /** Saves an installation: the latest one of its workspace (or org) and user; also the workspace's latest bot when it has a bot token. */
  save(installation: Installation): Promise<void>;
  /** The latest bot of a workspace (or org), or `undefined`. */
  findBot(q: BotQuery): Promise<Bot | undefined>;
  /** The latest installation of a workspace (with `userId`, of that user), bot fields from the latest bot, or `undefined`. */
  findInstallation(q: InstallationQuery): Promise<Installation | undefined>;
  /** Deletes the bots of a workspace (or org); user installations stay. */
  deleteBot(q: WorkspaceQuery): Promise<void>;
  /** Deletes the installations of a workspace (with `userId`, only that user's; bots stay). */
  deleteInstallation(q: DeleteInstallationQuery): Promise<void>;
  /** Deletes everything of a workspace (or org): installations and bots. */
  deleteAll(q: WorkspaceQuery): Promise<void>;
  /**
   * Lists every workspace (and org) the store knows: its latest bot and the latest installation of each
   * user (bot fields from the latest bot, as `findInstallation` returns them). For admin tools, the home
   * page and token rotation: it reads everything, so keep it off the request path. With a filter, only
   * that enterprise (and team) is listed.
   */
  listWorkspaces(filter?: WorkspaceQuery): Promise<WorkspaceInstallations[]>;
  /**
   * Token rotation: changes only the given token fields, in place, without making anything "latest".
   * Bot fields (`bot*`) update the workspace's latest bot; user fields (`user*`, which need
   * `q.userId`) update that user's latest installation, nothing else: no other user's token and no
   * other field is ever touched, and which installation is the workspace's latest does not change.
   *
   * With `expect`, this is a compare-and-set: nothing is written unless every expected value equals
   * the stored one (the refresh token that was just used, or the long-lived token that was converted).
   * Both parts (bot and user) are written, or neither. Resolves `true` when written, `false` when there
   * was nothing to update (no bot / no such user) or an expectation failed.
   */
  updateTokens(q: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean>;
  /**
   * Runs `fn` while holding the lock named `key`, exclusive among every caller of this store's data:
   * in-process for memory, across processes (and hosts sharing the database or directory) for the
   * others. The lock is a lease (`leaseMs`): a holder that dies loses it after that long. Rejects with
   * `LockTimeoutError` when the lock is not acquired within `timeoutMs`; `fn`'s own error passes through
   * and the lock is released either way. Token rotation serialises refreshes of one token with it.
   */
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T>;
  /**
   * Records the health of one stored token (see {@link TokenHealth}): the workspace's latest bot without
   * `q.userId`, that user's latest installation with it. Writes the health fields only, never a token or
   * anything else, so it can never undo a concurrent token refresh; a later `updateTokens` keeps the
   * health, a later `save` (a reinstall) starts without one, a delete removes it.
   *
   * A compare-and-set: with `expect` (the token or refresh token that was checked), nothing is written
   * unless the stored values still equal it, so the verdict on a token that was refreshed meanwhile never
   * lands on its successor; and a check never replaces one with a later `checkedAt`. Resolves `true` when
   * written, `false` when there was nothing to record on or a condition failed. Validate with
   * `checkHealthWrite`.
   */
  recordHealth(q: InstallationQuery, health: TokenHealth, expect?: TokenExpectation): Promise<boolean>;
  /**
   * Every recorded health of this store's partition (with a filter, of that enterprise and team): the
   * latest bot's and each user's latest installation's, in place order. Tokens never checked are absent.
   * For admin tools and the health report, not for requests.
   */
  listHealth(filter?: WorkspaceQuery): Promise<HealthEntry[]>;
  /**
   * The rotating tokens (with a refresh token) of the latest bots and users' latest installations that
   * expire at or before `untilSeconds` (epoch seconds), soonest first, at most `limit` (default 1000):
   * found through an expiry index (SQL: an index on the expiry columns; memory: a sorted index; files:
   * hourly index folders), never by reading every installation. The refresh scheduler's query.
   */
  listExpiringTokens(untilSeconds: number, limit?: number): Promise<ExpiringToken[]>;
  /**
   * Org-wide installs: records the workspaces of the org `enterpriseId` whose access an org admin
   * granted or revoked (`team_access_granted` / `team_access_revoked`, or a reconcile with
   * `auth.teams.list`). Workspaces are allowed until revoked: a granted one is only remembered so that a
   * later reconcile can notice it was removed. A team named in both lists is an error. Idempotent; the
   * org's `deleteAll` forgets every record. Validate with {@link checkTeamAccessChange}.
   */
  updateTeamAccess(enterpriseId: string, change: TeamAccessChange): Promise<void>;
  /**
   * The workspaces recorded for the org `enterpriseId` (see {@link InstallationStore.updateTeamAccess}),
   * each list sorted; both empty when nothing was recorded. `authorize` refuses an org-wide token for a
   * workspace in `revoked`.
   */
  findTeamAccess(enterpriseId: string): Promise<TeamAccess>;
  /**
   * The persistent record that this store holds encrypted tokens (see `EncryptedInstallationStore`): set
   * on the first encrypted write, it makes the store refuse every call while no encryption wrapper with
   * the keys is in front of it. Optional: the SQL and file stores have it; wrappers pass it through.
   */
  readonly encryptionMarker?: EncryptionMarker | undefined;
  /** Lets writes already started finish, then releases what the store opened (calling it again is harmless). */
  close(): Promise<void>;
}

/**
 * The token fields {@link InstallationStore.updateTokens} may change: what a refresh (or an
 * `oauth.v2.exchange`) returns. Absent fields are left as stored; nothing can be cleared this way.
 *
 * @example
 * ```ts
 * const patch: TokenPatch = { botToken: reply.access_token, botRefreshToken: reply.refresh_token, botTokenExpiresAt: now + 43200 };
 * ```
 */
export interface TokenPatch {
  botToken?: string;
  botRefreshToken?: string;
  botTokenExpiresAt?: number;
  botScopes?: string[];
  userToken?: string;
  userRefreshToken?: string;
  userTokenExpiresAt?: number;
  userScopes?: string[];
}

/**
 * Values {@link InstallationStore.updateTokens} compares before writing (compare-and-set). An absent
 * field is not compared.
 *
 * @example
 * ```ts
 * const expect: TokenExpectation = { botRefreshToken: usedRefreshToken };
 * ```
 */
export interface TokenExpectation {
  botToken?: string;
  botRefreshToken?: string;
  userToken?: string;
  userRefreshToken?: string;
}

/**
 * Options of {@link InstallationStore.withLock}.
 *
 * @example
 * ```ts
 * await store.withLock("rotation/T0123/bot", refresh, { timeoutMs: 10_000, leaseMs: 60_000 });
 * ```
 */
export interface LockOptions {
  /**
   * How long to wait for the lock before `LockTimeoutError`.
   *
   * @default {@link DEFAULT_LOCK_TIMEOUT_MS}
   */
  timeoutMs?: number | undefined;
  /**
   * How long the lock stays taken if its holder dies without releasing it (default
   * {@link DEFAULT_LOCK_LEASE_MS}). Keep it above the longest time `fn` may run.
   */
  leaseMs?: number | undefined;
}

/** Default `timeoutMs` of {@link InstallationStore.withLock}: 10 s. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** Default `leaseMs` of {@link InstallationStore.withLock}: 60 s (a refresh call times out well before). */
export const DEFAULT_LOCK_LEASE_MS = 60_000;

const LOCK_KEY_RE = /^[\x21-\x7e]{1,200}$/;

/**
 * Validates a lock key (1–200 printable ASCII characters, no spaces) and lock options; returns the
 * resolved timeout and lease in ms. Throws {@link InvalidArgumentError}.
 *
 * @example
 * ```ts
 * const { timeoutMs, leaseMs } = checkLock("rotation/T0123/bot", { timeoutMs: 5_000 });
 * ```
 */
export function checkLock(key: unknown, options: LockOptions | undefined): { timeoutMs: number; leaseMs: number } {
  if (typeof key !== "string" || !LOCK_KEY_RE.test(key))
    throw new InvalidArgumentError("withLock: key must be 1-200 printable ASCII characters without spaces");
  const timeoutMs = options?.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const leaseMs = options?.leaseMs ?? DEFAULT_LOCK_LEASE_MS;
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0) || !Number.isFinite(timeoutMs))
    throw new InvalidArgumentError("withLock: timeoutMs must be a non-negative number of ms");
  if (typeof leaseMs !== "number" || !(leaseMs > 0) || !Number.isFinite(leaseMs))
    throw new InvalidArgumentError("withLock: leaseMs must be a positive number of ms");
  return { timeoutMs, leaseMs };
}

const PATCH_STRINGS = ["botToken", "botRefreshToken", "userToken", "userRefreshToken"] as const;
const PATCH_NUMBERS = ["botTokenExpiresAt", "userTokenExpiresAt"] as const;
const PATCH_ARRAYS = ["botScopes", "userScopes"] as const;
const PATCH_KEYS: ReadonlySet<string> = new Set<string>([...PATCH_STRINGS, ...PATCH_NUMBERS, ...PATCH_ARRAYS]);
const EXPECT_KEYS: ReadonlySet<string> = new Set<string>(PATCH_STRINGS);

/**
 * Validates the arguments of {@link InstallationStore.updateTokens} and splits the patch into its bot
 * and user parts (each `undefined` when empty). Throws {@link InvalidArgumentError}, naming fields but
 * never their values.
 *
 * @example
 * ```ts
 * const { q, bot, user } = checkTokenUpdate(query, patch, expect);
 * ```
 */
export function checkTokenUpdate(
  query: InstallationQuery,
  patch: TokenPatch,
  expect: TokenExpectation | undefined,
): { q: InstallationQuery; bot: TokenPatch | undefined; user: TokenPatch | undefined } {
  const q = normalizeQuery(query, "updateTokens");
  if (patch === null || typeof patch !== "object" || Array.isArray(patch))
    throw new InvalidArgumentError("updateTokens: patch must be an object");
  if (expect !== undefined && (expect === null || typeof expect !== "object" || Array.isArray(expect)))
    throw new InvalidArgumentError("updateTokens: expect must be an object");
  const p = patch as Record<string, unknown>;
  for (const k of Object.keys(p)) {
    if (!PATCH_KEYS.has(k)) throw new InvalidArgumentError(`updateTokens: ${k} cannot be patched`);
  }
  for (const k of Object.keys(expect ?? {})) {
    if (!EXPECT_KEYS.has(k)) throw new InvalidArgumentError(`updateTokens: ${k} cannot be expected`);
  }
  for (const k of PATCH_STRINGS) {
    const v = p[k];
    if (v !== undefined && (typeof v !== "string" || v.length === 0))
      throw new InvalidArgumentError(`updateTokens: patch.${k} must be a non-empty string`);
    const e = (expect as Record<string, unknown> | undefined)?.[k];
    if (e !== undefined && (typeof e !== "string" || e.length === 0))
      throw new InvalidArgumentError(`updateTokens: expect.${k} must be a non-empty string`);
  }
  for (const k of PATCH_NUMBERS) {
    const v = p[k];
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v)))
      throw new InvalidArgumentError(`updateTokens: patch.${k} must be a finite number (epoch seconds)`);
  }
  for (const k of PATCH_ARRAYS) {
    const v = p[k];
    if (v !== undefined && (!Array.isArray(v) || v.some((s) => typeof s !== "string")))
      throw new InvalidArgumentError(`updateTokens: patch.${k} must be an array of strings`);
  }
  const bot: Record<string, unknown> = {};
  const user: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined) continue;
    const value = Array.isArray(v) ? [...v] : v;
    if (k.startsWith("bot")) bot[k] = value;
    else user[k] = value;
  }
  const hasBot = Object.keys(bot).length > 0;
  const hasUser = Object.keys(user).length > 0;
  if (!hasBot && !hasUser) throw new InvalidArgumentError("updateTokens: the patch changes nothing");
  if ((hasUser || expect?.userToken !== undefined || expect?.userRefreshToken !== undefined) && !q.userId)
    throw new InvalidArgumentError("updateTokens: user token fields need query.userId");
  return { q, bot: hasBot ? (bot as TokenPatch) : undefined, user: hasUser ? (user as TokenPatch) : undefined };
}

/**
 * A change of the workspaces an org-wide install may act in (see {@link InstallationStore.updateTeamAccess}).
 *
 * @example
 * ```ts
 * const change: TeamAccessChange = { revoked: ["T0123"] };
 * ```
 */
export interface TeamAccessChange {
  /** Workspaces (team ids) the org admin added back or that `auth.teams.list` lists. */
  granted?: readonly string[] | undefined;
  /** Workspaces the org admin removed. */
  revoked?: readonly string[] | undefined;
}

/**
 * The workspaces recorded for an org-wide install (see {@link InstallationStore.findTeamAccess}).
 *
 * @example
 * ```ts
 * const access: TeamAccess = { granted: ["T0001"], revoked: ["T0002"] };
 * ```
 */
export interface TeamAccess {
  /** Workspaces known to be allowed, sorted. */
  granted: string[];
  /** Workspaces removed from the org-wide install, sorted: the token must not be used for them. */
  revoked: string[];
}

/** At most this many team ids in one {@link TeamAccessChange}. */
const MAX_TEAM_ACCESS_IDS = 10_000;

/**
 * Validates the arguments of {@link InstallationStore.updateTeamAccess}; returns the deduplicated lists.
 * Throws {@link InvalidArgumentError} for a bad enterprise or team id, a team in both lists, or too
 * many ids.
 *
 * @example
 * ```ts
 * const { enterpriseId, granted, revoked } = checkTeamAccessChange("E0123", { revoked: ["T0001"] });
 * ```
 */
export function checkTeamAccessChange(
  enterpriseId: unknown,
  change: TeamAccessChange,
): { enterpriseId: string; granted: string[]; revoked: string[] } {
  if (!isValidId(enterpriseId)) throw new InvalidArgumentError("updateTeamAccess: enterpriseId must be a Slack id");
  if (change === null || typeof change !== "object" || Array.isArray(change))
    throw new InvalidArgumentError("updateTeamAccess: change must be an object { granted?, revoked? }");
  const list = (v: unknown, name: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new InvalidArgumentError(`updateTeamAccess: ${name} must be an array of team ids`);
    if (v.length > MAX_TEAM_ACCESS_IDS)
      throw new InvalidArgumentError(`updateTeamAccess: at most ${MAX_TEAM_ACCESS_IDS} team ids at once`);
    for (const t of v) assertOptionalId(t, `updateTeamAccess: ${name}[]`);
    return [...new Set(v as string[])].filter((t) => t !== "");
  };
  const granted = list(change.granted, "granted");
  const revoked = list(change.revoked, "revoked");
  const both = new Set(granted);
  for (const t of revoked) {
    if (both.has(t)) throw new InvalidArgumentError(`updateTeamAccess: ${t} is both granted and revoked`);
  }
  return { enterpriseId, granted, revoked };
}

/**
 * Validates the argument of {@link InstallationStore.findTeamAccess}. Throws {@link InvalidArgumentError}.
 *
 * @example
 * ```ts
 * checkEnterpriseId("E0123", "findTeamAccess");
 * ```
 */
export function checkEnterpriseId(enterpriseId: unknown, op: string): string {
  if (!isValidId(enterpriseId)) throw new InvalidArgumentError(`${op}: enterpriseId must be a Slack id`);
  return enterpriseId;
}

/** One workspace (or org, for org-wide installs) as {@link InstallationStore.listWorkspaces} reports it. */
export interface WorkspaceInstallations {
  enterpriseId?: string;
  /** Absent for org-wide installs. */
  teamId?: string;
  isEnterpriseInstall: boolean;
  /** The latest bot, when there is one. */
  bot?: Bot;
  /** The latest installation of each user, newest first. */
  installations: Installation[];
}

/** Sorts workspaces by enterprise then team (org entries first within an enterprise): a stable listing order. */
export function compareWorkspaces(a: WorkspaceInstallations, b: WorkspaceInstallations): number {
  const ea = a.enterpriseId ?? "";
  const eb = b.enterpriseId ?? "";
  if (ea !== eb) return ea < eb ? -1 : 1;
  const ta = a.teamId ?? "";
  const tb = b.teamId ?? "";
  return ta === tb ? 0 : ta < tb ? -1 : 1;
}

/** True when `w` matches a listing filter (no filter: everything). */
export function matchesWorkspaceFilter(
  w: { enterpriseId?: string | undefined; teamId?: string | undefined },
  filter?: WorkspaceQuery,
): boolean {
  if (!filter) return true;
  if (filter.enterpriseId !== undefined && filter.enterpriseId !== (w.enterpriseId ?? undefined)) return false;
  if (filter.teamId !== undefined && filter.teamId !== (w.teamId ?? undefined)) return false;
  return true;
}

/**
 * Slack ids (T…, E…, U…, W…, B…, A…) are upper-case alphanumerics. We accept a slightly wider, still
 * path- and key-safe set so tests and imported data with lower-case ids work, and reject everything
 * else before it reaches a file name, key or query.
 */
/** 0–9, A–Z, a–z. */
function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * True when `value` is a safe outside identifier (team, enterprise, user, bot, app id): 1 to 64
 * characters, a letter or digit first, then letters, digits, `_`, `.` and `-`, never `..` — nothing that
 * could change a path, a key or a query. (A loop rather than a regular expression: this runs on every
 * request's token lookup.)
 */
export function isValidId(value: unknown): value is string {
  if (typeof value !== "string") return false;
  const n = value.length;
  if (n === 0 || n > 64 || !isAlnum(value.charCodeAt(0))) return false;
  let previous = 0;
  for (let i = 1; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 46) {
      if (previous === 46) return false; // ".."
    } else if (!isAlnum(c) && c !== 95 && c !== 45) return false;
    previous = c;
  }
  return true;
}

/** Throws {@link InvalidArgumentError} unless `value` is undefined or a safe id. */
export function assertOptionalId(value: unknown, field: string): asserts value is string | undefined {
  if (value === undefined || value === null) return;
  if (!isValidId(value))
    throw new InvalidArgumentError(
      `${field} must be a Slack id (letters, digits, '_', '-', '.'), got ${describe(value)}`,
    );
}

function describe(v: unknown): string {
  if (typeof v === "string") return v.length > 40 ? `a ${v.length}-character string` : JSON.stringify(v);
  return v === null ? "null" : typeof v;
}

/** Normalises and validates a lookup query: at least one of enterpriseId / teamId, safe ids. */
export function normalizeQuery<Q extends InstallationQuery>(q: Q, op: string): Q {
  if (q === null || typeof q !== "object") throw new InvalidArgumentError(`${op}: expected a query object`);
  assertOptionalId(q.enterpriseId, "enterpriseId");
  assertOptionalId(q.teamId, "teamId");
  assertOptionalId(q.userId, "userId");
  if (q.isEnterpriseInstall !== undefined && typeof q.isEnterpriseInstall !== "boolean") {
    throw new InvalidArgumentError(`${op}: isEnterpriseInstall must be a boolean`);
  }
  const out = {
    ...q,
    enterpriseId: q.enterpriseId || undefined,
    teamId: q.teamId || undefined,
    userId: q.userId || undefined,
  };
  if (!out.enterpriseId && !out.teamId) throw new InvalidArgumentError(`${op}: enterpriseId or teamId is required`);
  if (out.isEnterpriseInstall && !out.enterpriseId) {
    throw new InvalidArgumentError(`${op}: isEnterpriseInstall requires enterpriseId`);
  }
  return out;
}

const STRING_FIELDS = [
  "appId",
  "enterpriseId",
  "enterpriseName",
  "enterpriseUrl",
  "teamId",
  "teamName",
  "botToken",
  "botId",
  "botUserId",
  "botRefreshToken",
  "userId",
  "userToken",
  "userRefreshToken",
  "incomingWebhookUrl",
  "incomingWebhookChannel",
  "incomingWebhookChannelId",
  "incomingWebhookConfigurationUrl",
  "tokenType",
] as const;

/**
 * Validates an installation before any store writes it. Throws {@link InvalidArgumentError} naming the
 * field (never its value when it is a token). Returns a normalised copy: org-wide installs lose `teamId`.
 */
export function validateInstallation(installation: Installation): Installation {
  if (installation === null || typeof installation !== "object")
    throw new InvalidArgumentError("save: expected an Installation object");
  const i = installation as unknown as Record<string, unknown>;
  for (const f of STRING_FIELDS) {
    if (i[f] !== undefined && i[f] !== null && typeof i[f] !== "string")
      throw new InvalidArgumentError(`installation.${f} must be a string`);
  }
  for (const f of ["enterpriseId", "teamId", "userId", "botId", "botUserId", "appId"] as const)
    assertOptionalId(i[f], `installation.${f}`);
  if (!installation.userId) throw new InvalidArgumentError("installation.userId is required");
  if (typeof installation.isEnterpriseInstall !== "boolean")
    throw new InvalidArgumentError("installation.isEnterpriseInstall must be a boolean");
  if (installation.isEnterpriseInstall && !installation.enterpriseId)
    throw new InvalidArgumentError("an org-wide installation needs enterpriseId");
  if (!installation.isEnterpriseInstall && !installation.teamId)
    throw new InvalidArgumentError("installation.teamId is required for a workspace install");
  for (const f of ["botScopes", "userScopes"] as const) {
    const v = i[f];
    if (v !== undefined && (!Array.isArray(v) || v.some((s) => typeof s !== "string")))
      throw new InvalidArgumentError(`installation.${f} must be an array of strings`);
  }
  for (const f of ["botTokenExpiresAt", "userTokenExpiresAt", "installedAt"] as const) {
    const v = i[f];
    if (v !== undefined && v !== null && (typeof v !== "number" || !Number.isFinite(v)))
      throw new InvalidArgumentError(`installation.${f} must be a finite number (epoch seconds)`);
  }
  if (
    i.customValues !== undefined &&
    (i.customValues === null || typeof i.customValues !== "object" || Array.isArray(i.customValues))
  ) {
    throw new InvalidArgumentError("installation.customValues must be a plain object");
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(i)) if (v !== undefined && v !== null) out[k] = v;
  const norm = out as unknown as Installation;
  norm.botScopes = [...(installation.botScopes ?? [])];
  norm.userScopes = [...(installation.userScopes ?? [])];
  norm.customValues = structuredClone(installation.customValues ?? {});
  if (typeof norm.installedAt !== "number") norm.installedAt = Date.now() / 1000;
  if (norm.isEnterpriseInstall) {
    delete norm.teamId;
    delete norm.teamName;
  }
  return norm;
}

/**
 * The app partition of a store: its `clientId`, `''` for the default partition (no client id, or a store
 * of your own that has no partitions).
 *
 * @example
 * ```ts
 * partitionOf(new MemoryInstallationStore({ clientId: "111.222" })); // "111.222"
 * ```
 */
export function partitionOf(store: { readonly clientId?: string | undefined }): string {
  const c = store.clientId;
  return typeof c === "string" ? c : "";
}

/**
 * Validates an app partition (a Slack client id) used in keys, lock names and directory names: `''` for
 * the default partition, else an id {@link isValidId} accepts. Throws {@link InvalidArgumentError}.
 *
 * @example
 * ```ts
 * checkPartition("111.222", "RedisStateStore"); // "111.222"
 * ```
 */
export function checkPartition(clientId: unknown, where: string): string {
  if (clientId === undefined || clientId === null || clientId === "") return "";
  if (!isValidId(clientId))
    throw new InvalidArgumentError(`${where}: clientId must be a Slack client id (letters, digits, '.', '-', '_')`);
  return clientId;
}
