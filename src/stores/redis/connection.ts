/**
 * The Redis driver of every Redis piece: the client shapes it needs ({@link RedisClientLike}), the
 * connection options, and {@link RedisConnection}, which opens `ioredis` lazily (an optional peer
 * dependency, imported only when a URL is used) or borrows your client.
 */
import { ConfigError, StoreError } from "../../errors.js";

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
  /** Runs a Lua script (`EVAL`). */
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /** Publishes a message on a channel. */
  publish(channel: string, message: string): Promise<unknown>;
  /** Closes the connection. */
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
  /** Subscribes to a channel. */
  subscribe(channel: string): Promise<unknown>;
  /** Unsubscribes from a channel. */
  unsubscribe(channel: string): Promise<unknown>;
  /** Listens for messages on subscribed channels. */
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  /** Closes the connection. */
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
  /**
   * Prefix of every key and channel.
   *
   * @default `slack-oauth-kit:`
   */
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

/** Opens an `ioredis` connection, importing the package only now (used for the subscriber too). */
export async function openIoRedis(
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

/** Validates a `keyPrefix` option (at most 100 printable ASCII characters); returns it or the default. */
export function checkPrefix(prefix: unknown): string {
  const p = prefix ?? DEFAULT_REDIS_KEY_PREFIX;
  if (typeof p !== "string" || !/^[\x21-\x7e]{0,100}$/.test(p))
    throw new ConfigError("keyPrefix must be at most 100 printable ASCII characters without spaces");
  return p;
}

/**
 * One command connection, opened on first use from a URL (and then closed by {@link RedisConnection.close}),
 * or borrowed from a client of yours (never closed). Every Redis piece holds one.
 *
 * @example
 * ```ts
 * const conn = new RedisConnection({ url: "redis://127.0.0.1:6379" });
 * await conn.eval("ping", "return 1", [], []);
 * ```
 */
export class RedisConnection {
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
