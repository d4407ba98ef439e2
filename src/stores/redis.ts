/**
 * Redis building blocks: a one-time OAuth {@link StateStore}, a cross-instance cache-invalidation bus for
 * {@link CachingInstallationStore}, and a per-key lease lock for token rotation.
 *
 * `ioredis` is an optional peer dependency: it is imported lazily (only when a `url` is given or no
 * client at all), so this module loads without it. Bring your own client through `client` (any object
 * with the few methods of {@link RedisClientLike}, e.g. an `ioredis` instance) to share a connection.
 *
 * @example
 * ```ts
 * import { RedisStateStore, createRedisCachingStore, RedisLock, withRedisLock } from "slack-oauth-kit/stores/redis";
 *
 * const states = new RedisStateStore({ url: process.env.REDIS_URL });
 * const store = createRedisCachingStore(withRedisLock(sqlStore, new RedisLock({ url: process.env.REDIS_URL })), {
 *   url: process.env.REDIS_URL,
 * });
 * ```
 */
import { randomBytes } from "node:crypto";
import { ConfigError, InvalidArgumentError, StoreError } from "../errors.js";
import type { Bot, Installation } from "../model/installation.js";
import {
  type ConsumeResult,
  generateState,
  isWellFormedState,
  type StateStatus,
  type StateStore,
} from "../state/state.js";
import {
  type CacheOptions,
  CachingInstallationStore,
  type InvalidationBus,
  type InvalidationMessage,
} from "./cache.js";
import {
  type BotQuery,
  checkLock,
  type DeleteInstallationQuery,
  type InstallationQuery,
  type InstallationStore,
  isValidId,
  type LockOptions,
  type TokenExpectation,
  type TokenPatch,
  type WorkspaceInstallations,
  type WorkspaceQuery,
} from "./installation-store.js";
import { KeyedMutex, lockOwner, pollForLock } from "./locks.js";
import { resolveStateTiming, serializeStateData } from "./store-helpers.js";

/**
 * The few Redis commands these classes use (an `ioredis` client has them all). Everything atomic runs as
 * a Lua script through `eval`.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * const client: RedisClientLike = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
 * ```
 */
export interface RedisClientLike {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  quit(): Promise<unknown>;
  /** A new connection with the same options (used for the pub/sub subscriber). */
  duplicate?(): RedisSubscriberLike;
}

/**
 * A connection in subscriber mode (an `ioredis` client has these methods).
 *
 * @example
 * ```ts
 * const sub: RedisSubscriberLike = client.duplicate();
 * ```
 */
export interface RedisSubscriberLike {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  quit(): Promise<unknown>;
}

/**
 * Connection options shared by the Redis classes: a URL (the class opens and closes its own `ioredis`
 * connection) or a client of yours (never closed by the class).
 *
 * @example
 * ```ts
 * const connection: RedisConnectionOptions = { url: "redis://127.0.0.1:6379", keyPrefix: "myapp:" };
 * ```
 */
export interface RedisConnectionOptions {
  /** `redis://…` URL; default `redis://127.0.0.1:6379` when no client is given. */
  url?: string | undefined;
  /** A client of yours (e.g. `ioredis`); takes precedence over `url`. Not closed by `close()`. */
  client?: RedisClientLike | undefined;
  /** Prefix of every key and channel (default `slack-oauth-kit:`). */
  keyPrefix?: string | undefined;
  /**
   * Called with connection errors of the connections the class opens (it reconnects by itself), and
   * with failures of the invalidation subscriber. Default: ignored (failed commands reject with
   * `StoreError` anyway).
   */
  onError?: ((error: unknown) => void) | undefined;
}

/** Default key prefix of every Redis key and channel. */
export const DEFAULT_REDIS_KEY_PREFIX = "slack-oauth-kit:";
const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

type IoRedisCtor = new (url: string, options?: Record<string, unknown>) => RedisClientLike & RedisSubscriberLike;

/** Opens an `ioredis` connection, importing the package only now. */
async function openIoRedis(
  url: string,
  onError: ((error: unknown) => void) | undefined,
): Promise<RedisClientLike & RedisSubscriberLike> {
  let mod: { Redis?: unknown; default?: unknown };
  try {
    mod = (await import("ioredis")) as { Redis?: unknown; default?: unknown };
  } catch (cause) {
    throw new ConfigError("Redis stores need the optional peer dependency ioredis (npm install ioredis)", { cause });
  }
  const Ctor = (mod.Redis ?? mod.default) as IoRedisCtor;
  const client = new Ctor(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true });
  // Connection errors also fail the pending commands (as StoreError); without a listener ioredis would
  // print every reconnection failure to the console.
  (client as unknown as { on(event: "error", listener: (error: unknown) => void): unknown }).on("error", (error) => {
    try {
      onError?.(error);
    } catch {
      // a failing reporter must not break the connection
    }
  });
  return client;
}

function checkPrefix(prefix: unknown): string {
  const p = prefix ?? DEFAULT_REDIS_KEY_PREFIX;
  if (typeof p !== "string" || !/^[\x21-\x7e]{0,100}$/.test(p))
    throw new ConfigError("keyPrefix must be at most 100 printable ASCII characters without spaces");
  return p;
}

/** Owns (or borrows) one command connection, opened on first use. */
class Connection {
  readonly #url: string;
  readonly #given: RedisClientLike | undefined;
  readonly onError: ((error: unknown) => void) | undefined;
  #opening: Promise<RedisClientLike> | undefined;
  #closed = false;

  constructor(options: RedisConnectionOptions) {
    if (options.url !== undefined && (typeof options.url !== "string" || !/^rediss?:\/\//.test(options.url)))
      throw new ConfigError("url must be a redis:// or rediss:// URL");
    if (options.client !== undefined && (options.client === null || typeof options.client.eval !== "function"))
      throw new ConfigError("client must be a Redis client (with eval)");
    this.#url = options.url ?? DEFAULT_REDIS_URL;
    this.#given = options.client;
    if (options.onError !== undefined && typeof options.onError !== "function")
      throw new ConfigError("onError must be a function");
    this.onError = options.onError;
  }

  get given(): RedisClientLike | undefined {
    return this.#given;
  }
  get url(): string {
    return this.#url;
  }

  client(): Promise<RedisClientLike> {
    if (this.#closed) return Promise.reject(new StoreError("redis: the store is closed"));
    if (this.#given) return Promise.resolve(this.#given);
    this.#opening ??= openIoRedis(this.#url, this.onError);
    return this.#opening;
  }

  async eval(op: string, script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    const c = await this.client();
    try {
      return await c.eval(script, keys.length, ...keys, ...args);
    } catch (cause) {
      throw new StoreError(`redis: ${op} failed`, { cause });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const opening = this.#opening;
    this.#opening = undefined;
    const c = await opening?.catch(() => undefined);
    await c?.quit().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------------
// State store
// ---------------------------------------------------------------------------------------------------------

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
  readonly #conn: Connection;
  readonly #prefix: string;
  readonly #ttlMs: number;

  constructor(options: RedisStateStoreOptions = {}) {
    this.#conn = new Connection(options);
    this.#prefix = checkPrefix(options.keyPrefix);
    this.#ttlMs = Math.max(1, Math.round(resolveStateTiming({ ttlSeconds: options.ttlSeconds }).ttlMs));
  }

  #key(state: string): string {
    return `${this.#prefix}state:${state}`;
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

// ---------------------------------------------------------------------------------------------------------
// Invalidation bus
// ---------------------------------------------------------------------------------------------------------

/**
 * Options of {@link RedisCache}.
 *
 * @example
 * ```ts
 * const options: RedisCacheOptions = { url: "redis://127.0.0.1:6379", skipOwnMessages: true };
 * ```
 */
export interface RedisCacheOptions extends RedisConnectionOptions {
  /** Channel name (default `<keyPrefix>invalidate`). */
  channel?: string | undefined;
  /**
   * Ignore messages this instance published (default true: the cache that wrote has already dropped
   * its own entries).
   */
  skipOwnMessages?: boolean | undefined;
}

/**
 * Parses a bus message: a JSON object whose optional `enterpriseId` / `teamId` are Slack ids and whose
 * optional `instanceId` is a string. Anything else is `undefined` (ignored).
 *
 * @example
 * ```ts
 * parseInvalidationMessage('{"teamId":"T0123"}'); // { message: { teamId: "T0123" }, instanceId: undefined }
 * ```
 */
export function parseInvalidationMessage(
  raw: unknown,
): { message: InvalidationMessage; instanceId: string | undefined } | undefined {
  if (typeof raw !== "string" || raw.length > 1024) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const message: InvalidationMessage = {};
  for (const k of ["enterpriseId", "teamId"] as const) {
    const x = o[k];
    if (x === undefined || x === null) continue;
    if (!isValidId(x)) return undefined;
    message[k] = x;
  }
  const i = o.instanceId;
  if (i !== undefined && typeof i !== "string") return undefined;
  return { message, instanceId: i };
}

/**
 * An {@link InvalidationBus} over Redis pub/sub: `publish` sends `{enterpriseId, teamId, instanceId}` as
 * JSON on one channel; a dedicated subscriber connection (opened on the first `subscribe`) hands valid
 * messages from other instances to the handlers. Malformed messages are ignored.
 *
 * @example
 * ```ts
 * const bus = new RedisCache({ url: process.env.REDIS_URL });
 * const store = new CachingInstallationStore(sqlStore, { invalidation: bus });
 * await bus.ready(); // optional: wait until the subscription is live
 * ```
 */
export class RedisCache implements InvalidationBus {
  /** This instance's id (sent with every message, so the instance can skip its own). */
  readonly instanceId: string = randomBytes(12).toString("base64url");
  /** The pub/sub channel. */
  readonly channel: string;
  readonly #conn: Connection;
  readonly #skipOwn: boolean;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #handlers = new Set<(m: InvalidationMessage) => void>();
  #subscriber: Promise<RedisSubscriberLike> | undefined;
  #closed = false;

  constructor(options: RedisCacheOptions = {}) {
    this.#conn = new Connection(options);
    const prefix = checkPrefix(options.keyPrefix);
    this.channel = options.channel ?? `${prefix}invalidate`;
    if (typeof this.channel !== "string" || this.channel.length === 0)
      throw new ConfigError("channel must be a non-empty string");
    this.#skipOwn = options.skipOwnMessages ?? true;
    this.#onError = this.#conn.onError;
  }

  async publish(message: InvalidationMessage): Promise<void> {
    if (message === null || typeof message !== "object")
      throw new InvalidArgumentError("publish: expected an invalidation message");
    const out: Record<string, string> = {};
    if (message.enterpriseId) out.enterpriseId = message.enterpriseId;
    if (message.teamId) out.teamId = message.teamId;
    out.instanceId = this.instanceId;
    const c = await this.#conn.client();
    try {
      await c.publish(this.channel, JSON.stringify(out));
    } catch (cause) {
      throw new StoreError("redis: publish failed", { cause });
    }
  }

  subscribe(handler: (message: InvalidationMessage) => void): () => void {
    if (typeof handler !== "function") throw new InvalidArgumentError("subscribe: expected a function");
    this.#handlers.add(handler);
    this.#ensureSubscriber().catch((error: unknown) => this.#report(error));
    return () => {
      this.#handlers.delete(handler);
    };
  }

  /** Resolves once the subscriber connection listens on the channel (rejects when it cannot). */
  async ready(): Promise<void> {
    await this.#ensureSubscriber();
  }

  /** Closes the subscriber and the connection this bus opened (a client you passed in stays open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.clear();
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    if (sub) {
      const s = await sub.catch(() => undefined);
      if (s) {
        await s.unsubscribe(this.channel).catch(() => {});
        await s.quit().catch(() => {});
      }
    }
    await this.#conn.close();
  }

  #ensureSubscriber(): Promise<RedisSubscriberLike> {
    if (this.#closed) return Promise.reject(new StoreError("redis: the bus is closed"));
    if (!this.#subscriber) {
      const p = this.#openSubscriber();
      this.#subscriber = p;
      p.catch(() => {
        if (this.#subscriber === p) this.#subscriber = undefined; // retried on the next subscribe/ready
      });
    }
    return this.#subscriber;
  }

  async #openSubscriber(): Promise<RedisSubscriberLike> {
    const given = this.#conn.given;
    let sub: RedisSubscriberLike;
    if (given) {
      if (typeof given.duplicate !== "function")
        throw new ConfigError("RedisCache: the client needs duplicate() to open a subscriber connection");
      sub = given.duplicate();
    } else {
      sub = await openIoRedis(this.#conn.url, this.#conn.onError);
    }
    sub.on("message", (channel, raw) => this.#onMessage(channel, raw));
    try {
      await sub.subscribe(this.channel);
    } catch (cause) {
      await sub.quit().catch(() => {});
      throw new StoreError("redis: subscribe failed", { cause });
    }
    return sub;
  }

  #onMessage(channel: string, raw: string): void {
    if (channel !== this.channel) return;
    const parsed = parseInvalidationMessage(raw);
    if (!parsed) return;
    if (this.#skipOwn && parsed.instanceId === this.instanceId) return;
    for (const h of [...this.#handlers]) {
      try {
        h({ ...parsed.message });
      } catch (error) {
        this.#report(error);
      }
    }
  }

  #report(error: unknown): void {
    try {
      this.#onError?.(error);
    } catch {
      // a failing reporter must not break the subscriber
    }
  }
}

/**
 * Options of {@link createRedisCachingStore}: a connection, bus options and {@link CacheOptions}.
 *
 * @example
 * ```ts
 * const options: RedisCachingStoreOptions = { url: process.env.REDIS_URL, ttlMs: 30_000 };
 * ```
 */
export type RedisCachingStoreOptions = RedisCacheOptions & Omit<CacheOptions, "invalidation">;

/**
 * A {@link CachingInstallationStore} invalidated across instances through a {@link RedisCache};
 * `close()` closes the bus too.
 *
 * @example
 * ```ts
 * const store = new RedisCachingInstallationStore(sqlStore, new RedisCache({ url }), { ttlMs: 60_000 });
 * ```
 */
export class RedisCachingInstallationStore extends CachingInstallationStore {
  readonly bus: RedisCache;
  constructor(inner: InstallationStore, bus: RedisCache, options: Omit<CacheOptions, "invalidation"> = {}) {
    super(inner, { ...options, invalidation: bus });
    this.bus = bus;
  }
  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await this.bus.close();
    }
  }
}

/**
 * Wraps `inner` in a cache that every instance invalidates through Redis pub/sub.
 *
 * @example
 * ```ts
 * const store = createRedisCachingStore(new SQLiteInstallationStore({ filename }), { url: process.env.REDIS_URL });
 * ```
 */
export function createRedisCachingStore(
  inner: InstallationStore,
  options: RedisCachingStoreOptions = {},
): RedisCachingInstallationStore {
  const { url, client, keyPrefix, channel, skipOwnMessages, onError, ...cache } = options;
  const bus = new RedisCache({ url, client, keyPrefix, channel, skipOwnMessages, onError });
  return new RedisCachingInstallationStore(inner, bus, cache);
}

// ---------------------------------------------------------------------------------------------------------
// Lock
// ---------------------------------------------------------------------------------------------------------

// KEYS[1] lock key; ARGV[1] owner token; ARGV[2] lease ms.
const ACQUIRE_LUA = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`;
// Deletes the lock only when this owner still holds it (a lease that expired may belong to another now).
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * A per-key lease lock in Redis (`SET key owner NX PX lease`, released with a Lua compare-and-delete),
 * shared by every instance using the same Redis and prefix. Callers in one process queue in memory first.
 *
 * @example
 * ```ts
 * const lock = new RedisLock({ url: process.env.REDIS_URL });
 * await lock.withLock("rotation/T0123/bot", async () => refresh(), { timeoutMs: 10_000, leaseMs: 60_000 });
 * ```
 */
export class RedisLock {
  readonly #conn: Connection;
  readonly #prefix: string;
  readonly #mutex = new KeyedMutex();

  constructor(options: RedisConnectionOptions = {}) {
    this.#conn = new Connection(options);
    this.#prefix = checkPrefix(options.keyPrefix);
  }

  /**
   * Runs `fn` holding `key`. Rejects with `LockTimeoutError` after `timeoutMs` (default 10 s); the lease
   * (default 60 s) frees the lock if this process dies. `fn`'s own error passes through.
   *
   * @example
   * ```ts
   * await lock.withLock("rotation/T0123/bot", refresh, { timeoutMs: 5_000 });
   * ```
   */
  async withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    const { timeoutMs, leaseMs } = checkLock(key, options);
    if (typeof fn !== "function") throw new InvalidArgumentError("withLock: fn must be a function");
    const deadline = Date.now() + timeoutMs;
    const redisKey = `${this.#prefix}lock:${key}`;
    const lease = Math.max(1, Math.ceil(leaseMs));
    return this.#mutex.run(
      key,
      async () => {
        const owner = lockOwner();
        await pollForLock(
          async () => Number(await this.#conn.eval("lock", ACQUIRE_LUA, [redisKey], [owner, lease])) === 1,
          deadline,
          key,
          timeoutMs,
        );
        try {
          return await fn();
        } finally {
          await this.#conn.eval("unlock", RELEASE_LUA, [redisKey], [owner]).catch(() => {});
        }
      },
      timeoutMs,
    );
  }

  /** Closes the connection this lock opened (a client you passed in stays open). */
  async close(): Promise<void> {
    await this.#conn.close();
  }
}

/**
 * An {@link InstallationStore} that delegates everything to `inner` except `withLock`, which uses a
 * {@link RedisLock}. `close()` closes `inner` (not the lock).
 *
 * @example
 * ```ts
 * const store = new RedisLockedInstallationStore(sqlStore, new RedisLock({ url }));
 * ```
 */
export class RedisLockedInstallationStore implements InstallationStore {
  readonly inner: InstallationStore;
  readonly lock: RedisLock;
  readonly listWorkspaces?: (filter?: WorkspaceQuery) => Promise<WorkspaceInstallations[]>;
  readonly updateTokens?: (q: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation) => Promise<boolean>;

  constructor(inner: InstallationStore, lock: RedisLock) {
    if (inner === null || typeof inner !== "object" || typeof inner.findBot !== "function")
      throw new TypeError("withRedisLock: expected an InstallationStore to wrap");
    if (!(lock instanceof RedisLock)) throw new TypeError("withRedisLock: expected a RedisLock");
    this.inner = inner;
    this.lock = lock;
    if (typeof inner.listWorkspaces === "function") this.listWorkspaces = (f) => inner.listWorkspaces!(f);
    if (typeof inner.updateTokens === "function") this.updateTokens = (q, p, e) => inner.updateTokens!(q, p, e);
  }

  save(installation: Installation): Promise<void> {
    return this.inner.save(installation);
  }
  findBot(q: BotQuery): Promise<Bot | undefined> {
    return this.inner.findBot(q);
  }
  findInstallation(q: InstallationQuery): Promise<Installation | undefined> {
    return this.inner.findInstallation(q);
  }
  deleteBot(q: WorkspaceQuery): Promise<void> {
    return this.inner.deleteBot(q);
  }
  deleteInstallation(q: DeleteInstallationQuery): Promise<void> {
    return this.inner.deleteInstallation(q);
  }
  deleteAll(q: WorkspaceQuery): Promise<void> {
    return this.inner.deleteAll(q);
  }
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    return this.lock.withLock(key, fn, options);
  }
  async close(): Promise<void> {
    await this.inner.close?.();
  }
}

/**
 * Returns `store` with its `withLock` backed by Redis (every other method passes through).
 *
 * @example
 * ```ts
 * const store = withRedisLock(new SQLiteInstallationStore({ filename }), new RedisLock({ url: process.env.REDIS_URL }));
 * ```
 */
export function withRedisLock(store: InstallationStore, lock: RedisLock): RedisLockedInstallationStore {
  return new RedisLockedInstallationStore(store, lock);
}
