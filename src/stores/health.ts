/**
 * The health record of a stored token, as every {@link InstallationStore} keeps it: what the last
 * `auth.test` (or refresh) said about the workspace's bot token or about one user's token, when, and
 * Slack's error code. The checks themselves live in `slack-oauth-kit/health`; the data model is part of the
 * store contract (`installation-store.ts`); this module holds the statuses and the validation every store
 * applies before writing a record.
 */
import { InvalidArgumentError } from "../errors.js";
import {
  type ExpiringToken,
  type HealthEntry,
  type HealthTokenKind,
  type InstallationHealthStatus,
  type InstallationQuery,
  normalizeQuery,
  type TokenExpectation,
  type TokenHealth,
} from "./installation-store.js";

// The health data model is part of the store contract (installation-store.ts); re-exported here, with the
// checks every store applies before writing it.
export type {
  ExpiringToken,
  HealthEntry,
  HealthTokenKind,
  InstallationHealthStatus,
  TokenHealth,
} from "./installation-store.js";

/**
 * Every {@link InstallationHealthStatus}, in the order reports list them. Stores refuse any other value.
 *
 * @example
 * ```ts
 * HEALTH_STATUSES.includes("revoked"); // true
 * ```
 */
export const HEALTH_STATUSES: readonly InstallationHealthStatus[] = Object.freeze([
  "ok",
  "revoked",
  "invalid",
  "expired",
  "refresh_failed",
  "missing_scopes",
  "unknown",
]);

/**
 * True when `value` is one of {@link HEALTH_STATUSES}.
 *
 * @example
 * ```ts
 * if (isHealthStatus(flag)) console.log(`--status ${flag}`);
 * ```
 */
export function isHealthStatus(value: unknown): value is InstallationHealthStatus {
  return typeof value === "string" && (HEALTH_STATUSES as readonly string[]).includes(value);
}

const ERROR_RE = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Validates the arguments of {@link InstallationStore.recordHealth}: a well-formed query, a known status,
 * a finite `checkedAt`, an error code of at most 128 characters (letters, digits, `_ . : -`), and an
 * expectation naming token fields of the right part only. Returns a normalised copy (no `error` when it
 * is absent) and which token it is about. Throws {@link InvalidArgumentError}, never quoting a value that
 * could be a token.
 *
 * @example
 * ```ts
 * const { q, kind, health } = checkHealthWrite({ teamId: "T1" }, { status: "ok", checkedAt: 1767225600 });
 * ```
 */
export function checkHealthWrite(
  query: InstallationQuery,
  health: TokenHealth,
  expect: TokenExpectation | undefined,
): { q: InstallationQuery; kind: HealthTokenKind; health: TokenHealth } {
  const q = normalizeQuery(query, "recordHealth");
  if (health === null || typeof health !== "object" || Array.isArray(health))
    throw new InvalidArgumentError("recordHealth: health must be an object");
  if (!isHealthStatus(health.status))
    throw new InvalidArgumentError(`recordHealth: status must be one of ${HEALTH_STATUSES.join(", ")}`);
  if (typeof health.checkedAt !== "number" || !Number.isFinite(health.checkedAt) || health.checkedAt < 0)
    throw new InvalidArgumentError("recordHealth: checkedAt must be a finite number of epoch seconds");
  if (health.error !== undefined && (typeof health.error !== "string" || !ERROR_RE.test(health.error)))
    throw new InvalidArgumentError(
      "recordHealth: error must be an error code of 1-128 letters, digits, '_', '.', ':' or '-'",
    );
  const kind: HealthTokenKind = q.userId === undefined ? "bot" : "user";
  if (expect !== undefined) {
    if (expect === null || typeof expect !== "object" || Array.isArray(expect))
      throw new InvalidArgumentError("recordHealth: expect must be an object");
    const allowed = kind === "bot" ? ["botToken", "botRefreshToken"] : ["userToken", "userRefreshToken"];
    for (const [k, v] of Object.entries(expect)) {
      if (v === undefined) continue;
      if (!allowed.includes(k))
        throw new InvalidArgumentError(`recordHealth: expect.${k} cannot be compared for a ${kind} token`);
      if (typeof v !== "string" || v.length === 0)
        throw new InvalidArgumentError(`recordHealth: expect.${k} must be a non-empty string`);
    }
  }
  const out: TokenHealth = { status: health.status, checkedAt: health.checkedAt };
  if (health.error !== undefined) out.error = health.error;
  return { q, kind, health: out };
}

/**
 * The rule every store keeps for a health write, once the token expectation holds: a check never replaces
 * one made later (`checkedAt` greater than the new one).
 *
 * @example
 * ```ts
 * if (healthIsNewer(stored?.health, health)) write();
 * ```
 */
export function healthIsNewer(stored: TokenHealth | undefined, next: TokenHealth): boolean {
  return stored === undefined || !(stored.checkedAt > next.checkedAt);
}

/**
 * Validates the arguments of {@link InstallationStore.listExpiringTokens}: `untilSeconds` a finite
 * number, `limit` a positive integer (default 1000). Throws {@link InvalidArgumentError}.
 *
 * @example
 * ```ts
 * const { until, limit } = checkExpiringQuery(now + 7200, 500);
 * ```
 */
export function checkExpiringQuery(untilSeconds: unknown, limit: unknown): { until: number; limit: number } {
  if (typeof untilSeconds !== "number" || !Number.isFinite(untilSeconds))
    throw new InvalidArgumentError("listExpiringTokens: untilSeconds must be a finite number of epoch seconds");
  const n = limit ?? DEFAULT_EXPIRING_LIMIT;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError("listExpiringTokens: limit must be a positive integer");
  return { until: untilSeconds, limit: n };
}

/** Default `limit` of {@link InstallationStore.listExpiringTokens}: 1000 tokens per call. */
export const DEFAULT_EXPIRING_LIMIT = 1000;

/** Orders expiring tokens: soonest first, then by place (a stable order on every backend). */
export function compareExpiring(a: ExpiringToken, b: ExpiringToken): number {
  if (a.expiresAt !== b.expiresAt) return a.expiresAt - b.expiresAt;
  return placeKey(a) < placeKey(b) ? -1 : placeKey(a) > placeKey(b) ? 1 : 0;
}

/** Orders health entries by place: enterprise, team, bot before users, then user id. */
export function compareHealth(a: HealthEntry, b: HealthEntry): number {
  const ka = placeKey(a);
  const kb = placeKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function placeKey(x: { enterpriseId?: string; teamId?: string; kind: HealthTokenKind; userId?: string }): string {
  return `${x.enterpriseId ?? ""}\u0000${x.teamId ?? ""}\u0000${x.kind === "bot" ? "" : `u${x.userId ?? ""}`}`;
}

/**
 * Builds a {@link HealthEntry} / {@link ExpiringToken} place from stored keys (`undefined`: none).
 *
 * @internal
 */
export function place(
  kind: HealthTokenKind,
  enterpriseId: string | undefined,
  teamId: string | undefined,
  userId: string | undefined,
): { kind: HealthTokenKind; enterpriseId?: string; teamId?: string; isEnterpriseInstall: boolean; userId?: string } {
  const out: {
    kind: HealthTokenKind;
    enterpriseId?: string;
    teamId?: string;
    isEnterpriseInstall: boolean;
    userId?: string;
  } = { kind, isEnterpriseInstall: teamId === undefined };
  if (enterpriseId !== undefined) out.enterpriseId = enterpriseId;
  if (teamId !== undefined) out.teamId = teamId;
  if (kind === "user" && userId !== undefined) out.userId = userId;
  return out;
}
