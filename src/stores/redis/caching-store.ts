/**
 * {@link RedisCachingInstallationStore}: the cache layer in front of any store, invalidated across
 * instances through a {@link RedisInvalidationBus}.
 */
import { type CacheOptions, CachingInstallationStore } from "../cache.js";
import type { InstallationStore } from "../installation-store.js";
import { RedisInvalidationBus, type RedisInvalidationBusOptions } from "./invalidation-bus.js";

/**
 * Options of {@link createRedisCachingStore}: a connection, bus options and {@link CacheOptions}.
 *
 * @example
 * ```ts
 * const options: RedisCachingStoreOptions = { url: process.env.REDIS_URL, ttlMs: 30_000 };
 * ```
 */
export type RedisCachingStoreOptions = RedisInvalidationBusOptions & Omit<CacheOptions, "invalidation">;

/**
 * A {@link CachingInstallationStore} invalidated across instances through a {@link RedisInvalidationBus};
 * `close()` closes the bus too.
 *
 * @example
 * ```ts
 * const store = new RedisCachingInstallationStore(sqlStore, new RedisInvalidationBus({ url }), { ttlMs: 60_000 });
 * ```
 */
export class RedisCachingInstallationStore extends CachingInstallationStore {
  readonly bus: RedisInvalidationBus;
  constructor(inner: InstallationStore, bus: RedisInvalidationBus, options: Omit<CacheOptions, "invalidation"> = {}) {
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
  const bus = new RedisInvalidationBus({ url, client, keyPrefix, channel, skipOwnMessages, onError });
  return new RedisCachingInstallationStore(inner, bus, cache);
}
