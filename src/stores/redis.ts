/**
 * Redis building blocks, one file each under `stores/redis/`: a one-time OAuth state store
 * (`state-store.ts`), a cross-instance cache-invalidation bus (`invalidation-bus.ts`) and the caching store
 * built on it (`caching-store.ts`), a per-key lease lock (`lock.ts`) and the store wrapper that uses it
 * (`locked-store.ts`), all over one connection helper (`connection.ts`). This module re-exports them:
 * `slack-oauth-kit/stores/redis`.
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
export {
  createRedisCachingStore,
  RedisCachingInstallationStore,
  type RedisCachingStoreOptions,
} from "./redis/caching-store.js";
export {
  DEFAULT_REDIS_KEY_PREFIX,
  type RedisClientLike,
  type RedisConnectionOptions,
  type RedisSubscriberLike,
} from "./redis/connection.js";
export {
  parseInvalidationMessage,
  RedisInvalidationBus,
  type RedisInvalidationBusOptions,
} from "./redis/invalidation-bus.js";
export { RedisLock } from "./redis/lock.js";
export { RedisLockedInstallationStore, withRedisLock } from "./redis/locked-store.js";
export { RedisStateStore, type RedisStateStoreOptions } from "./redis/state-store.js";

import { RedisInvalidationBus, type RedisInvalidationBusOptions } from "./redis/invalidation-bus.js";

/**
 * The name {@link RedisInvalidationBus} had before 0.2 (it is a bus, not a cache).
 *
 * @deprecated Use `RedisInvalidationBus`; this alias goes away in 0.3.
 */
export const RedisCache = RedisInvalidationBus;
/** @deprecated Use `RedisInvalidationBus`; this alias goes away in 0.3. */
export type RedisCache = RedisInvalidationBus;
/** @deprecated Use `RedisInvalidationBusOptions`; this alias goes away in 0.3. */
export type RedisCacheOptions = RedisInvalidationBusOptions;
