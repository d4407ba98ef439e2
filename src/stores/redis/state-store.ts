/**
 * {@link RedisStateStore}: one-time OAuth states in Redis, one key per state, consumed by one Lua script.
 */
import { StoreError } from "../../errors.js";
import {
  type ConsumeResult,
  generateState,
  isWellFormedState,
  type StateStatus,
  type StateStore,
} from "../../state/state.js";
import { checkPartition } from "../installation-store.js";
import { resolveStateTiming, serializeStateData } from "../store-helpers.js";
import { checkPrefix, RedisConnection, type RedisConnectionOptions } from "./connection.js";

/** Milliseconds on the Redis server's clock (one clock for every instance: no skew between hosts). */
const NOW_LUA = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

// KEYS[1] state key; ARGV[1] data JSON, ARGV[2] ttl ms, ARGV[3] key lifetime ms (ttl + grace, so that an
// expired state is still recognised as "expired" for a while). Value: "<expiresAtMs>:<json>".
const ISSUE_LUA = `${NOW_LUA}
local exp = now + tonumber(ARGV[2])
local ok = redis.call('SET', KEYS[1], string.format('%d', exp) .. ':' .. ARGV[1], 'PX', ARGV[3], 'NX')
if ok then return 1 end
return 0`;

// KEYS[1] state key; ARGV[1] how long an "expired" tombstone stays, ms. Returns {reason} or {"ok", json}.
// A consumed state becomes the tombstone "used" until it would have expired (at least 1 s).
const CONSUME_LUA = `local v = redis.call('GET', KEYS[1])
if not v then return {'unknown'} end
if v == 'used' or v == 'expired' then return {v} end
local sep = string.find(v, ':', 1, true)
if not sep then return {'unknown'} end
local exp = tonumber(string.sub(v, 1, sep - 1))
if not exp then return {'unknown'} end
${NOW_LUA}
if now >= exp then
  redis.call('SET', KEYS[1], 'expired', 'PX', ARGV[1])
  return {'expired'}
end
redis.call('SET', KEYS[1], 'used', 'PX', math.max(exp - now, 1000))
return {'ok', string.sub(v, sep + 1)}`;

// KEYS[1] state key. Returns what the state is, without changing it: live, used, expired or unknown.
const INSPECT_LUA = `local v = redis.call('GET', KEYS[1])
if not v then return 'unknown' end
if v == 'used' or v == 'expired' then return v end
local sep = string.find(v, ':', 1, true)
if not sep then return 'unknown' end
local exp = tonumber(string.sub(v, 1, sep - 1))
if not exp then return 'unknown' end
${NOW_LUA}
if now >= exp then return 'expired' end
return 'live'`;

/**
 * Options of {@link RedisStateStore}.
 *
 * @example
 * ```ts
 * const options: RedisStateStoreOptions = { url: "redis://127.0.0.1:6379", ttlSeconds: 600 };
 * ```
 */
export interface RedisStateStoreOptions extends RedisConnectionOptions {
  /** Lifetime of a state in seconds (default 600). Enforced with the Redis server's clock. */
  ttlSeconds?: number | undefined;
  /**
   * The app partition (a Slack client id): its states are the keys `<prefix>state@<clientId>:<state>`, so
   * another app's store never finds (nor consumes) them. Default: the default partition
   * (`<prefix>state:<state>`, as in 0.1).
   */
  clientId?: string | undefined;
}

/**
 * A {@link StateStore} in Redis: each state is one key (`<prefix>state:<state>`) with a PX expiry;
 * consuming is one Lua script (atomic: of any number of instances consuming one state at once, exactly
 * one gets its data), which leaves a tombstone so `consumeDetailed` can say `used` or `expired`. Malformed
 * states are rejected before any Redis call.
 *
 * @example
 * ```ts
 * const states = new RedisStateStore({ url: process.env.REDIS_URL });
 * const state = await states.issue({ redirectTo: "/welcome" });
 * const data = await states.consume(state); // { redirectTo: "/welcome" }, then undefined
 * ```
 */
export class RedisStateStore implements StateStore {
  readonly #conn: RedisConnection;
  readonly #prefix: string;
  readonly #ttlMs: number;
  /** The app partition (`''`: the default one). */
  readonly clientId: string;

  constructor(options: RedisStateStoreOptions = {}) {
    this.#conn = new RedisConnection(options);
    const app = checkPartition(options.clientId, "RedisStateStore");
    this.clientId = app;
    this.#prefix = `${checkPrefix(options.keyPrefix)}${app === "" ? "state:" : `state@${app}:`}`;
    this.#ttlMs = Math.max(1, Math.round(resolveStateTiming({ ttlSeconds: options.ttlSeconds }).ttlMs));
  }

  #key(state: string): string {
    return `${this.#prefix}${state}`;
  }

  /**
   * Issues a new state carrying `data` (a plain JSON object).
   *
   * @example
   * ```ts
   * const state = await states.issue({ teamHint: "T0123" });
   * ```
   */
  async issue(data?: Record<string, unknown>): Promise<string> {
    const json = serializeStateData(data);
    for (let attempt = 0; attempt < 3; attempt++) {
      const state = generateState();
      const r = await this.#conn.eval("issue", ISSUE_LUA, [this.#key(state)], [json, this.#ttlMs, this.#ttlMs * 2]);
      if (Number(r) === 1) return state;
    }
    throw new StoreError("redis: could not issue a unique state");
  }

  /**
   * Consumes a state: its data the first time, `undefined` when malformed, unknown, expired or used.
   *
   * @example
   * ```ts
   * const data = await states.consume(query.state ?? "");
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
    const r = await this.#conn.eval("consume", CONSUME_LUA, [this.#key(state)], [this.#ttlMs]);
    if (!Array.isArray(r)) throw new StoreError("redis: consume returned an unexpected reply");
    const [tag, json] = r as unknown[];
    if (tag === "ok" && typeof json === "string") {
      try {
        const data = JSON.parse(json) as unknown;
        if (data !== null && typeof data === "object" && !Array.isArray(data))
          return { ok: true, data: data as Record<string, unknown> };
      } catch {
        // fall through: a value we did not write
      }
      return { ok: false, reason: "unknown" };
    }
    if (tag === "used" || tag === "expired") return { ok: false, reason: tag };
    return { ok: false, reason: "unknown" };
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
    const r = await this.#conn.eval("inspect", INSPECT_LUA, [this.#key(state)], []);
    return r === "live" || r === "used" || r === "expired" ? r : "unknown";
  }

  /** Closes the connection this store opened (a client you passed in stays open). */
  async close(): Promise<void> {
    await this.#conn.close();
  }
}
