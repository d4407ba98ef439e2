/**
 * {@link RedisLock}: a per-key lease lock in Redis, shared by every instance using the same Redis and prefix.
 */
import { InvalidArgumentError } from "../../errors.js";
import { checkLock, checkPartition, type LockOptions } from "../installation-store.js";
import { KeyedMutex, lockOwner, pollForLock } from "../locks.js";
import { checkPrefix, RedisConnection, type RedisConnectionOptions } from "./connection.js";

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
  readonly #conn: RedisConnection;
  readonly #prefix: string;
  readonly #mutex = new KeyedMutex();

  constructor(options: RedisConnectionOptions = {}) {
    this.#conn = new RedisConnection(options);
    this.#prefix = checkPrefix(options.keyPrefix);
  }

  /**
   * Runs `fn` holding `key`. Rejects with `LockTimeoutError` after `timeoutMs` (default 10 s); the lease
   * (default 60 s) frees the lock if this process dies. `fn`'s own error passes through. With `clientId`
   * (an app partition), the lock is that app's: the same key of another app never waits for it.
   *
   * @example
   * ```ts
   * await lock.withLock("rotation/T0123/bot", refresh, { timeoutMs: 5_000 });
   * ```
   */
  async withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions, clientId?: string): Promise<T> {
    const { timeoutMs, leaseMs } = checkLock(key, options);
    if (typeof fn !== "function") throw new InvalidArgumentError("withLock: fn must be a function");
    const app = checkPartition(clientId, "withLock");
    const deadline = Date.now() + timeoutMs;
    // The default partition keeps the key of 0.1 (`lock:<key>`), so old and new processes still exclude
    // each other; an app's lock is `lock@<clientId>:<key>` (a client id holds no ':', and `lock@` never
    // starts a default-partition key).
    const redisKey = app === "" ? `${this.#prefix}lock:${key}` : `${this.#prefix}lock@${app}:${key}`;
    const lease = Math.max(1, Math.ceil(leaseMs));
    return this.#mutex.run(
      `${app}\n${key}`,
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
