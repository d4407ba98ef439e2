import { randomBytes } from "node:crypto";
import { ErrorCode, SlackOAuthError } from "../errors.js";

/**
 * A state store is at its cap: no new state can be issued until some expire (states already issued are
 * never evicted to make room). The reference server answers it 429 with `Retry-After: retryAfterSeconds`.
 *
 * @example
 * ```ts
 * try {
 *   await states.issue();
 * } catch (e) {
 *   if (e instanceof StateStoreFullError) console.warn(e.code, e.retryAfterSeconds); // "SLACK_OAUTH_STATE_STORE_FULL"
 * }
 * ```
 */
export class StateStoreFullError extends SlackOAuthError {
  /** Seconds until the oldest state expires and makes room (at least 1). */
  readonly retryAfterSeconds: number;
  /** The cap. */
  readonly limit: number;
  constructor(limit: number, retryAfterSeconds: number) {
    super(ErrorCode.StateStoreFull, `state store holds its maximum of ${limit} states`, { status: 429 });
    this.limit = limit;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A one-time OAuth `state` store. `issue` returns an opaque, URL-safe, unguessable value;
 * `consume` returns the data stored with it exactly once, atomically.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.7
 */
export interface StateStore {
  /** Issues a new state and stores `data` with it. */
  issue(data?: Record<string, unknown>): Promise<string>;
  /**
   * Consumes a state: returns its data (an empty object when none was given) the first time,
   * `undefined` when the state is unknown, expired, already used or malformed.
   */
  consume(state: string): Promise<Record<string, unknown> | undefined>;
  /**
   * Like `consume`, but tells why a state was refused, so a callback can say "this link was already used"
   * rather than "unknown state". Stores that implement it keep a tombstone of each consumed state until
   * it would have expired anyway. Optional: callers fall back to `consume`.
   */
  consumeDetailed?(state: string): Promise<ConsumeResult>;
  /**
   * What a state is right now, WITHOUT consuming it: `live` (issued, unused, within its lifetime), or why
   * `consume` would refuse it. A callback that cannot consume a state (its browser lacks the state cookie)
   * uses it to say "this link was already used" instead of blaming the browser. Optional, like
   * `consumeDetailed`; every store of this library has it.
   */
  inspect?(state: string): Promise<StateStatus>;
  /** Releases resources (database handles, timers). */
  close?(): Promise<void>;
}

/** Why a state was refused: never seen (or long gone), past its lifetime, already consumed, or malformed. */
export type StateRejection = "unknown" | "expired" | "used" | "malformed";

/** Result of {@link StateStore.inspect}: `live`, or why the state would be refused. */
export type StateStatus = "live" | StateRejection;

/** Result of {@link StateStore.consumeDetailed}. */
export type ConsumeResult = { ok: true; data: Record<string, unknown> } | { ok: false; reason: StateRejection };

/** Consumes a state through `consumeDetailed` when the store has it, else through `consume`. */
export async function consumeState(store: StateStore, state: string): Promise<ConsumeResult> {
  if (!isWellFormedState(state)) return { ok: false, reason: "malformed" };
  if (store.consumeDetailed) return store.consumeDetailed(state);
  const data = await store.consume(state);
  return data === undefined ? { ok: false, reason: "unknown" } : { ok: true, data };
}

/**
 * What a state is right now without consuming it, through `inspect` when the store has it; `undefined` when
 * the store cannot tell. A malformed state never reaches the store.
 */
export async function inspectState(store: StateStore, state: string): Promise<StateStatus | undefined> {
  if (!isWellFormedState(state)) return "malformed";
  return store.inspect ? store.inspect(state) : undefined;
}

/** Default lifetime of a state: 10 minutes, as Slack's codes. */
export const DEFAULT_STATE_TTL_SECONDS = 600;

/** Number of random bytes in a state: 32 bytes = 256 bits, well above the 128-bit minimum. */
const STATE_BYTES = 32;
/** base64url of 32 bytes, no padding. */
const STATE_RE = /^[A-Za-z0-9_-]{43}$/;

/** Generates a new state value: 256 random bits, base64url (43 characters, URL- and file-name-safe). */
export function generateState(): string {
  return randomBytes(STATE_BYTES).toString("base64url");
}

/**
 * True when `value` has the exact shape {@link generateState} produces. Anything else (foreign
 * characters, wrong length, `../`) is rejected before it reaches a file name, key or query.
 */
export function isWellFormedState(value: unknown): value is string {
  return typeof value === "string" && STATE_RE.test(value);
}

/** The field of a state's data that names the app (client id) it was issued for. */
export const STATE_APP_FIELD = "app";

/**
 * Issues a state for one app (its client id) in a store several apps may share: the app is kept with the
 * data (field `STATE_APP_FIELD`), so {@link consumeAppState} refuses the state on another app's
 * callback. A store with app partitions (Redis' `clientId` option) keeps it apart as well.
 *
 * @example
 * ```ts
 * const state = await issueAppState(stateStore, "111.222", { t: "install" });
 * ```
 */
export function issueAppState(
  store: StateStore,
  clientId: string,
  data: Record<string, unknown> = {},
): Promise<string> {
  return store.issue({ ...data, [STATE_APP_FIELD]: clientId });
}

/** Result of {@link consumeAppState}: as {@link ConsumeResult}, or refused because another app issued it. */
export type AppConsumeResult = ConsumeResult | { ok: false; reason: "other_app" };

/**
 * Consumes a state on one app's callback: refused with `other_app` when it was issued for another app
 * (the state is spent either way: presented at the wrong callback, it is not trusted again). A state
 * issued without an app (by 0.1, single-app) is accepted. Returns the data without the app field.
 *
 * @example
 * ```ts
 * const r = await consumeAppState(stateStore, state, "111.222");
 * if (!r.ok && r.reason === "other_app") return refuse(400, "STATE_WRONG_APP");
 * ```
 */
export async function consumeAppState(store: StateStore, state: string, clientId: string): Promise<AppConsumeResult> {
  const r = await consumeState(store, state);
  if (!r.ok) return r;
  const { [STATE_APP_FIELD]: app, ...data } = r.data;
  if (app !== undefined && app !== clientId) return { ok: false, reason: "other_app" };
  return { ok: true, data };
}
