/**
 * {@link RedisInvalidationBus}: cache invalidations between instances over Redis pub/sub, for
 * `CachingInstallationStore`. (Called `RedisCache` before 0.2: it never cached anything.)
 */
import { randomBytes } from "node:crypto";
import { ConfigError, InvalidArgumentError, StoreError } from "../../errors.js";
import type { InvalidationBus, InvalidationMessage } from "../cache.js";
import { isValidId } from "../installation-store.js";
import {
  checkPrefix,
  openIoRedis,
  RedisConnection,
  type RedisConnectionOptions,
  type RedisSubscriberLike,
} from "./connection.js";

/**
 * Options of {@link RedisInvalidationBus}.
 *
 * @example
 * ```ts
 * const options: RedisInvalidationBusOptions = { url: "redis://127.0.0.1:6379", skipOwnMessages: true };
 * ```
 */
export interface RedisInvalidationBusOptions extends RedisConnectionOptions {
  /**
   * Channel name.
   *
   * @default `<keyPrefix>invalidate`
   */
  channel?: string | undefined;
  /**
   * Ignore messages this instance published (default true: the cache that wrote has already dropped
   * its own entries).
   */
  skipOwnMessages?: boolean | undefined;
}

/**
 * Parses a bus message: a JSON object whose optional `enterpriseId` / `teamId` / `clientId` (the app
 * partition) are Slack ids and whose
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
  for (const k of ["enterpriseId", "teamId", "clientId"] as const) {
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
 * An {@link InvalidationBus} over Redis pub/sub: `publish` sends `{enterpriseId, teamId, clientId, instanceId}` as
 * JSON on one channel; a dedicated subscriber connection (opened on the first `subscribe`) hands valid
 * messages from other instances to the handlers. Malformed messages are ignored.
 *
 * @example
 * ```ts
 * const bus = new RedisInvalidationBus({ url: process.env.REDIS_URL });
 * const store = new CachingInstallationStore(sqlStore, { invalidation: bus });
 * await bus.ready(); // optional: wait until the subscription is live
 * ```
 */
export class RedisInvalidationBus implements InvalidationBus {
  /** This instance's id (sent with every message, so the instance can skip its own). */
  readonly instanceId: string = randomBytes(12).toString("base64url");
  /** The pub/sub channel. */
  readonly channel: string;
  readonly #conn: RedisConnection;
  readonly #skipOwn: boolean;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #handlers = new Set<(m: InvalidationMessage) => void>();
  #subscriber: Promise<RedisSubscriberLike> | undefined;
  #closed = false;

  constructor(options: RedisInvalidationBusOptions = {}) {
    this.#conn = new RedisConnection(options);
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
    if (message.clientId) out.clientId = message.clientId;
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
        throw new ConfigError("RedisInvalidationBus: the client needs duplicate() to open a subscriber connection");
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
