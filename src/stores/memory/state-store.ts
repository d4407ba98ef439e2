/** {@link MemoryStateStore}: one-time OAuth states in process memory. */ import { ConfigError } from "../../errors.js";
import {
  type ConsumeResult,
  generateState,
  isWellFormedState,
  type StateStatus,
  type StateStore,
  StateStoreFullError,
} from "../../state/state.js";
import { resolveStateTiming, type StateStoreTimingOptions, serializeStateData } from "../store-helpers.js";

/**
 * Options of {@link MemoryStateStore}: `ttlSeconds` (default 600) and `clock` (epoch ms, for tests).
 *
 * @example
 * ```ts
 * const states = new MemoryStateStore({ ttlSeconds: 300, nowMs: () => Date.now() });
 * ```
 */
export interface MemoryStateStoreOptions extends StateStoreTimingOptions {
  /**
   * Most states held at once (live ones and the tombstones of consumed ones), default 100 000 (about
   * 60 MB). At the cap, tombstones of states past their lifetime make room first; when none is left
   * `issue` throws {@link StateStoreFullError} (the reference server answers 429 with `Retry-After`) until
   * the oldest state expires: states still within their lifetime are never evicted to make room.
   */
  maxStates?: number;
}

/** Default cap of a {@link MemoryStateStore}. */
export const DEFAULT_MAX_MEMORY_STATES = 100_000;

/** One issued state: its data (JSON) until consumed, then a tombstone saying why it is gone. */
interface StateEntry {
  expiresAt: number;
  json: string | undefined;
  status: "live" | "used" | "expired";
}

/**
 * A one-time {@link StateStore} in process memory. Expired entries are swept as calls come in, from the
 * oldest, so the cost is amortised O(1) per call. Consumed and expired states leave a tombstone for one
 * more lifetime so that {@link MemoryStateStore.consumeDetailed} can tell "used" and "expired" apart.
 *
 * @example
 * ```ts
 * import { MemoryStateStore } from "slack-oauth-kit/stores/memory";
 * const states = new MemoryStateStore({ ttlSeconds: 600 });
 * const state = await states.issue({ redirectTo: "/" });
 * const data = await states.consume(state); // { redirectTo: "/" }, then undefined forever
 * ```
 */
export class MemoryStateStore implements StateStore {
  // Insertion order = expiry order (one TTL for all), so sweeping from the front stops at the first live one.
  readonly #entries = new Map<string, StateEntry>();
  readonly #ttlMs: number;
  readonly #clock: () => number;
  readonly #max: number;

  constructor(options: MemoryStateStoreOptions = {}) {
    const t = resolveStateTiming(options);
    this.#ttlMs = t.ttlMs;
    this.#clock = t.clock;
    const max = options.maxStates ?? DEFAULT_MAX_MEMORY_STATES;
    if (!Number.isSafeInteger(max) || max < 1) throw new ConfigError("maxStates must be a positive integer");
    this.#max = max;
  }

  /**
   * Issues a new state (256 random bits, base64url) carrying a copy of `data`.
   *
   * @example
   * ```ts
   * const state = await states.issue({ redirectTo: "/welcome" });
   * ```
   */
  async issue(data?: Record<string, unknown>): Promise<string> {
    const json = serializeStateData(data);
    const now = this.#clock();
    this.#sweep(now);
    if (this.#entries.size >= this.#max) this.#makeRoom(now);
    const state = generateState();
    this.#entries.set(state, { expiresAt: now + this.#ttlMs, json, status: "live" });
    return state;
  }

  /**
   * Consumes a state: its data the first time, `undefined` when malformed, unknown, expired or used.
   *
   * @example
   * ```ts
   * const data = await states.consume(url.searchParams.get("state") ?? "");
   * if (data === undefined) return new Response("invalid state", { status: 400 });
   * ```
   */
  async consume(state: string): Promise<Record<string, unknown> | undefined> {
    const r = await this.consumeDetailed(state);
    return r.ok ? r.data : undefined;
  }

  /**
   * Like {@link consume}, but says why a state was refused (`malformed`, `unknown`, `expired`, `used`).
   *
   * @example
   * ```ts
   * const r = await states.consumeDetailed(state);
   * if (!r.ok && r.reason === "used") console.log("this link was already used");
   * ```
   */
  async consumeDetailed(state: string): Promise<ConsumeResult> {
    if (!isWellFormedState(state)) return { ok: false, reason: "malformed" };
    const now = this.#clock();
    const entry = this.#entries.get(state);
    this.#sweep(now);
    if (entry === undefined) return { ok: false, reason: "unknown" };
    if (entry.status !== "live") return { ok: false, reason: entry.status };
    const json = entry.json;
    entry.json = undefined;
    if (now >= entry.expiresAt || json === undefined) {
      entry.status = "expired";
      return { ok: false, reason: "expired" };
    }
    entry.status = "used";
    return { ok: true, data: JSON.parse(json) as Record<string, unknown> };
  }

  /**
   * What a state is right now, without consuming it (`live`, `unknown`, `expired`, `used`, `malformed`).
   *
   * @example
   * ```ts
   * if ((await states.inspect(state)) === "used") console.log("this link was already used");
   * ```
   */
  async inspect(state: string): Promise<StateStatus> {
    if (!isWellFormedState(state)) return "malformed";
    const entry = this.#entries.get(state);
    if (entry === undefined) return "unknown";
    if (entry.status !== "live") return entry.status;
    return this.#clock() >= entry.expiresAt ? "expired" : "live";
  }

  /**
   * Removes every state past its lifetime (data and tombstones) now, and returns how many. Not needed in
   * normal use: calls sweep as they go.
   *
   * @example
   * ```ts
   * const removed = states.removeExpired();
   * ```
   */
  removeExpired(): number {
    const now = this.#clock();
    let n = 0;
    for (const [k, e] of this.#entries) {
      if (now >= e.expiresAt) {
        this.#entries.delete(k);
        n++;
      }
    }
    return n;
  }

  /**
   * Number of entries held (live states and tombstones): for tests and metrics.
   *
   * @example
   * ```ts
   * console.log(states.size);
   * ```
   */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Drops every state.
   *
   * @example
   * ```ts
   * await states.close();
   * ```
   */
  async close(): Promise<void> {
    this.#entries.clear();
  }

  /** Removes entries a full lifetime past expiry (tombstones included), oldest first; stops at the first younger one. */
  /**
   * At the cap: drops the tombstones of states past their lifetime (the front of the map: insertion order
   * is expiry order), which only costs telling "expired" from "unknown"; live states are never dropped.
   * Throws {@link StateStoreFullError} when that frees nothing.
   */
  #makeRoom(now: number): void {
    for (const [k, e] of this.#entries) {
      if (this.#entries.size < this.#max) return;
      if (now < e.expiresAt) {
        throw new StateStoreFullError(this.#max, Math.max(1, Math.ceil((e.expiresAt - now) / 1000)));
      }
      this.#entries.delete(k);
    }
  }

  #sweep(now: number): void {
    for (const [k, e] of this.#entries) {
      if (now < e.expiresAt + this.#ttlMs) return;
      this.#entries.delete(k);
    }
  }
}
