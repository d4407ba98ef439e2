/**
 * Internal helpers shared by the memory and file backends (not part of the public API): key resolution,
 * the "latest bot" overlay, JSON cleaning of custom values and state data, state-store options.
 *
 * @internal
 */

import { rejectRenamedClock } from "../clock.js";
import { CodedTypeError, ConfigError, InvalidArgumentError, SlackOAuthError } from "../errors.js";
import { INSTALLATION_FIELDS, type Installation } from "../model/installation.js";
import { DEFAULT_STATE_TTL_SECONDS } from "../state/state.js";
import {
  type InstallationQuery,
  type InstallationStore,
  isValidId,
  normalizeQuery,
  validateInstallation,
} from "./installation-store.js";

/** Every method of the {@link InstallationStore} contract. */
export const INSTALLATION_STORE_METHODS = [
  "save",
  "findBot",
  "findInstallation",
  "deleteBot",
  "deleteInstallation",
  "deleteAll",
  "listWorkspaces",
  "updateTokens",
  "withLock",
  "recordHealth",
  "listHealth",
  "listExpiringTokens",
  "updateTeamAccess",
  "findTeamAccess",
  "close",
] as const satisfies readonly (keyof InstallationStore)[];

/**
 * Checks, once, that `store` has every method of {@link InstallationStore} (wrappers call it in their
 * constructor, then forward without testing again). Throws `TypeError` naming what is missing: a store
 * written for 0.1, where listing, token rotation and `close` were optional, fails here with a pointer to
 * the migration note instead of failing later on the first rotation.
 *
 * @example
 * ```ts
 * requireStore(inner, "EncryptedInstallationStore");
 * ```
 */
export function requireStore(store: unknown, wrapper: string): asserts store is InstallationStore {
  if (store === null || typeof store !== "object")
    throw new CodedTypeError(`${wrapper}: expected an InstallationStore to wrap`);
  const s = store as Record<string, unknown>;
  const missing = INSTALLATION_STORE_METHODS.filter((m) => typeof s[m] !== "function");
  if (missing.length === INSTALLATION_STORE_METHODS.length)
    throw new CodedTypeError(`${wrapper}: expected an InstallationStore to wrap`);
  if (missing.length > 0)
    throw new CodedTypeError(
      `${wrapper}: the store to wrap lacks ${missing.join(", ")}; every InstallationStore method is required since 0.2 (see CHANGELOG.md)`,
    );
}

/**
 * The resolved storage key of a query or installation: an org-wide install (or a query with
 * `isEnterpriseInstall`, or one without `teamId`) is keyed by its enterprise alone.
 *
 * @example
 * ```ts
 * resolveWorkspace({ enterpriseId: "E1", teamId: "T9", isEnterpriseInstall: true }); // { enterpriseId: "E1", teamId: undefined }
 * ```
 */
export function resolveWorkspace(q: InstallationQuery): {
  enterpriseId: string | undefined;
  teamId: string | undefined;
} {
  const org = q.isEnterpriseInstall === true || !q.teamId;
  return { enterpriseId: q.enterpriseId || undefined, teamId: org ? undefined : q.teamId };
}

/**
 * {@link normalizeQuery} with a fast path for the hot lookups. A query that is already canonical (a
 * non-null object whose ids are `undefined` or valid per {@link isValidId}, a boolean-or-undefined
 * `isEnterpriseInstall`, at least one of enterpriseId / teamId, and enterpriseId when the flag is set) is
 * returned as is, which is exactly what `normalizeQuery` would return a copy of; everything else goes
 * through `normalizeQuery`, which normalises it or throws `InvalidArgumentError`. (`normalizeQuery`'s
 * object spread costs ~0.5 µs, a third of the memory store's lookup budget.)
 *
 * @example
 * ```ts
 * const q = checkQuery(query, "findBot"); // throws InvalidArgumentError for bad input
 * ```
 */
export function checkQuery<Q extends InstallationQuery>(q: Q, op: string): Q {
  if (q !== null && typeof q === "object") {
    const e = q.enterpriseId;
    const t = q.teamId;
    const u = q.userId;
    const f = q.isEnterpriseInstall;
    if (
      (e === undefined ? t !== undefined : isValidId(e)) &&
      (t === undefined || isValidId(t)) &&
      (u === undefined || isValidId(u)) &&
      (f === undefined || f === false || (f === true && e !== undefined))
    )
      return q;
  }
  return normalizeQuery(q, op);
}

/**
 * The bot fields of an {@link Installation}: always taken together from the latest bot.
 *
 * @example
 * ```ts
 * for (const f of BOT_OVERLAY_FIELDS) delete copy[f];
 * ```
 */
export const BOT_OVERLAY_FIELDS = [
  "botToken",
  "botId",
  "botUserId",
  "botScopes",
  "botRefreshToken",
  "botTokenExpiresAt",
] as const;

/**
 * The bot fields {@link overlayLatestBot} copies; a {@link Bot}, or a store's own record with `undefined`
 * for absent fields.
 *
 * @example
 * ```ts
 * const fields: BotFields = { botToken: "xoxb-…", botScopes: ["chat:write"], botId: undefined };
 * ```
 */
export interface BotFields {
  botToken: string;
  botId?: string | undefined;
  botUserId?: string | undefined;
  botScopes: string[];
  botRefreshToken?: string | undefined;
  botTokenExpiresAt?: number | undefined;
}

/**
 * Replaces the bot fields of `installation` (a private copy the caller owns) with those of the
 * workspace's latest bot; with no bot, removes them. A later user-only install therefore never hides
 * the bot, and a deleted bot's token never comes back through an installation row.
 *
 * @example
 * ```ts
 * const merged = overlayLatestBot({ ...row }, latestBot);
 * ```
 */
export function overlayLatestBot(installation: Installation, bot: BotFields | undefined): Installation {
  const i = installation as unknown as Record<string, unknown>;
  for (const f of BOT_OVERLAY_FIELDS) delete i[f];
  if (bot === undefined) {
    installation.botScopes = [];
    return installation;
  }
  installation.botToken = bot.botToken;
  if (bot.botId !== undefined) installation.botId = bot.botId;
  if (bot.botUserId !== undefined) installation.botUserId = bot.botUserId;
  installation.botScopes = [...bot.botScopes];
  if (bot.botRefreshToken !== undefined) installation.botRefreshToken = bot.botRefreshToken;
  if (bot.botTokenExpiresAt !== undefined) installation.botTokenExpiresAt = bot.botTokenExpiresAt;
  return installation;
}

/**
 * Makes a validated installation storage-ready: known fields only, and `customValues` passed through
 * JSON so every backend returns the same thing (a `Date` becomes its ISO string everywhere).
 *
 * @example
 * ```ts
 * const row = toStorable(validateInstallation(input));
 * ```
 */
export function toStorable(normalized: Installation): Installation {
  const src = normalized as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of INSTALLATION_FIELDS) if (src[f] !== undefined) out[f] = src[f];
  let json: string | undefined;
  try {
    json = JSON.stringify(normalized.customValues);
  } catch (cause) {
    throw new InvalidArgumentError("installation.customValues must be JSON-serialisable", { cause });
  }
  out.customValues = json === undefined ? {} : JSON.parse(json);
  return out as unknown as Installation;
}

/**
 * Validates an installation and makes it storage-ready ({@link validateInstallation} then
 * {@link toStorable}). Every failure is an {@link InvalidArgumentError}, also when `customValues`
 * holds something that cannot be cloned (a function).
 *
 * @example
 * ```ts
 * const row = prepareInstallation(input); // throws InvalidArgumentError, nothing written
 * ```
 */
export function prepareInstallation(installation: Installation): Installation {
  try {
    return toStorable(validateInstallation(installation));
  } catch (e) {
    if (e instanceof SlackOAuthError) throw e;
    throw new InvalidArgumentError("installation.customValues must be JSON-serialisable", { cause: e });
  }
}

/**
 * Deep copy of a JSON value (plain objects, arrays, primitives): much cheaper than `structuredClone`
 * for the small objects on the lookup path, and `{}` costs almost nothing.
 *
 * @example
 * ```ts
 * const copy = cloneJson({ a: [1, { b: 2 }] });
 * ```
 */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const arr = new Array(value.length);
    for (let i = 0; i < value.length; i++) arr[i] = cloneJson(value[i]);
    return arr as T;
  }
  const out: Record<string, unknown> = {};
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    const v = cloneJson((value as Record<string, unknown>)[k]);
    // JSON.parse can produce an own "__proto__" key; plain assignment would set the prototype instead.
    if (k === "__proto__")
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out as T;
}

/**
 * Serialises state data for storage: a plain object (or nothing) that JSON can carry, else
 * {@link InvalidArgumentError}.
 *
 * @example
 * ```ts
 * const json = serializeStateData({ redirectTo: "/" }); // '{"redirectTo":"/"}'
 * ```
 */
export function serializeStateData(data: unknown): string {
  if (data === undefined || data === null) return "{}";
  if (typeof data !== "object" || Array.isArray(data))
    throw new InvalidArgumentError("state data must be a plain object");
  try {
    return JSON.stringify(data);
  } catch (cause) {
    throw new InvalidArgumentError("state data must be JSON-serialisable (no cycles, no BigInt)", { cause });
  }
}

/**
 * Options shared by the state stores.
 *
 * @example
 * ```ts
 * const timing: StateStoreTimingOptions = { ttlSeconds: 60, nowMs: () => fakeNow };
 * ```
 */
export interface StateStoreTimingOptions {
  /**
   * Lifetime of a state in seconds.
   *
   * @default 600
   */
  ttlSeconds?: number | undefined;
  /** Current time in epoch milliseconds (default `Date.now`); tests inject one. */
  nowMs?: (() => number) | undefined;
}

/**
 * Validates state-store timing options: a positive finite TTL and a callable clock.
 *
 * @example
 * ```ts
 * const { ttlMs, clock } = resolveStateTiming({ ttlSeconds: 60 });
 * ```
 */
export function resolveStateTiming(options: StateStoreTimingOptions): { ttlMs: number; clock: () => number } {
  rejectRenamedClock(options, "state store", { clock: "nowMs" });
  const ttl = options.ttlSeconds ?? DEFAULT_STATE_TTL_SECONDS;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0)
    throw new ConfigError("ttlSeconds must be a positive number of seconds");
  if (options.nowMs !== undefined && typeof options.nowMs !== "function")
    throw new ConfigError("clock must be a function returning epoch milliseconds");
  return { ttlMs: ttl * 1000, clock: options.nowMs ?? Date.now };
}
