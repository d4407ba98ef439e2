import { ConfigError } from "../errors.js";
import type { StateStore } from "../state/state.js";
import type { InstallationStore } from "../stores/installation-store.js";
import type { MySQLPoolLike } from "../stores/mysql/executor.js";
import type { PgPoolLike } from "../stores/postgres/executor.js";
import type { RedisClientLike } from "../stores/redis/connection.js";
import type { RedisInvalidationBus } from "../stores/redis/invalidation-bus.js";
import type { SQLiteDatabase } from "../stores/sqlite/executor.js";

/** The stores selected by `DATABASE_URL`. */
export interface OpenedStores {
  installationStore: InstallationStore;
  stateStore: StateStore;
  close(): Promise<void>;
}

/** The pair with one `close()`: the state store first, then the installation store (each if it has one). */
function opened(installationStore: InstallationStore, stateStore: StateStore): OpenedStores {
  return {
    installationStore,
    stateStore,
    async close() {
      await stateStore.close?.();
      await installationStore.close();
    },
  };
}

/** Options of {@link openStores}. */
export interface OpenStoresOptions {
  /**
   * The partition of the installation store (its `clientId` option): several apps' installations kept
   * apart in one database or directory. Default: the default partition. Not available for `memory:`.
   */
  clientId?: string | undefined;
  /** Never create or migrate tables (the admin CLI's read-only commands): the SQL stores get `migrate: false`. */
  readOnly?: boolean | undefined;
  /** Largest number of connections of each PostgreSQL or MySQL pool opened (default 10); others ignore it. */
  maxConnections?: number | undefined;
}

/**
 * Opens the stores named by a database URL: `sqlite:PATH` (or a bare path ending in .db/.sqlite),
 * `file:DIR` (JSON files), `memory:`, `postgres://…` and `mysql://…` / `mariadb://…`.
 */
export async function openStores(databaseUrl: string, options: OpenStoresOptions = {}): Promise<OpenedStores> {
  return openStoresOn(databaseUrl, options, undefined);
}

/**
 * The database connection several apps' stores share ({@link openAppsStores}): one PostgreSQL pool, one
 * MySQL pool or one SQLite connection. The stores borrow it (their `close()` leaves it open); `close()`
 * here closes it, once every store is closed.
 */
interface SharedDatabase {
  pg?: PgPoolLike;
  mysql?: MySQLPoolLike;
  sqlite?: SQLiteDatabase;
  close(): Promise<void>;
}

/** Opens the one connection the apps of `databaseUrl` share; `undefined` for `memory:` and `file:` (none). */
async function openSharedDatabase(
  url: string,
  maxConnections = DEFAULT_POOL_SIZE,
): Promise<SharedDatabase | undefined> {
  if (url === "memory:" || url === "memory" || url.startsWith("file:")) return undefined;
  if (!Number.isInteger(maxConnections) || maxConnections < 1)
    throw new ConfigError("openAppsStores: maxConnections must be a positive integer");
  if (serverDatabase(url) === "postgres") {
    const { createPool } = await import("../stores/postgres/connection.js");
    const pg = await createPool(url, maxConnections, "openAppsStores");
    return { pg, close: async () => pg.end?.() };
  }
  if (serverDatabase(url) === "mysql") {
    const { createPool } = await import("../stores/mysql/connection.js");
    const mysql = await createPool(url, maxConnections, "openAppsStores");
    return { mysql, close: async () => mysql.end?.() };
  }
  const filename = sqliteFilename(url);
  const { closeDatabase, executorFor, open } = await import("../stores/sqlite/connection.js");
  // Opened as a store opens its own file (WAL, busy timeout, mmap), and registered as ours, so the
  // borrowing stores keep the shared read snapshots of an owned file.
  const { db } = open({ filename }, "openAppsStores");
  executorFor(db, true);
  return { sqlite: db, close: () => closeDatabase(db) };
}

/**
 * The database server a `DATABASE_URL` names (`postgres://`, `postgresql://`; `mysql://`, `mariadb://`),
 * whose stores use a connection pool; `undefined` for SQLite, files and memory.
 */
export function serverDatabase(databaseUrl: string): "postgres" | "mysql" | undefined {
  const url = databaseUrl.trim();
  if (/^postgres(ql)?:\/\//i.test(url)) return "postgres";
  if (/^(mysql|mariadb):\/\//i.test(url)) return "mysql";
  return undefined;
}

/** Default largest number of connections of the pool the apps of one deployment share (a store's own default). */
const DEFAULT_POOL_SIZE = 10;

/** The file of a `sqlite:PATH` URL (or a bare path); `ConfigError` when there is none. */
function sqliteFilename(url: string): string {
  const filename = url.startsWith("sqlite:") ? url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "") : url;
  if (!filename) throw new ConfigError("DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/app.db");
  return filename;
}

/** {@link openStores}, on `shared`'s connection when given (the stores then leave it open). */
async function openStoresOn(
  databaseUrl: string,
  options: OpenStoresOptions,
  shared: SharedDatabase | undefined,
): Promise<OpenedStores> {
  const url = databaseUrl.trim();
  const { clientId } = options;
  const migrate = options.readOnly === true ? false : undefined;
  if (url === "memory:" || url === "memory") {
    if (clientId !== undefined) throw new ConfigError("memory: has no partitions (clientId)");
    const { MemoryInstallationStore, MemoryStateStore } = await import("../stores/memory.js");
    const installationStore = new MemoryInstallationStore();
    const stateStore = new MemoryStateStore();
    return opened(installationStore, stateStore);
  }
  if (url.startsWith("file:")) {
    const { FileInstallationStore, FileStateStore } = await import("../stores/file.js");
    const dir = url.slice("file:".length) || "./data/installations";
    const installationStore = new FileInstallationStore({ baseDir: dir, clientId });
    const stateStore = new FileStateStore({ baseDir: `${dir.replace(/\/+$/, "")}-states` });
    return opened(installationStore, stateStore);
  }
  if (serverDatabase(url) === "postgres") {
    const { PostgresInstallationStore, PostgresStateStore } = await import("../stores/postgres.js");
    const conn = shared?.pg ? { pool: shared.pg } : { url, maxConnections: options.maxConnections };
    const installationStore = new PostgresInstallationStore({ ...conn, clientId, migrate });
    const stateStore = new PostgresStateStore({ ...conn, migrate });
    return opened(installationStore, stateStore);
  }
  if (serverDatabase(url) === "mysql") {
    const { MySQLInstallationStore, MySQLStateStore } = await import("../stores/mysql.js");
    const conn = shared?.mysql ? { pool: shared.mysql } : { url, maxConnections: options.maxConnections };
    const installationStore = new MySQLInstallationStore({ ...conn, clientId, migrate });
    const stateStore = new MySQLStateStore({ ...conn, migrate });
    return opened(installationStore, stateStore);
  }
  const filename = sqliteFilename(url);
  const { SQLiteInstallationStore, SQLiteStateStore } = await import("../stores/sqlite.js");
  const conn = shared?.sqlite ? { database: shared.sqlite } : { filename };
  const installationStore = new SQLiteInstallationStore({ ...conn, clientId, migrate });
  const stateStore = new SQLiteStateStore({ ...conn, migrate });
  return opened(installationStore, stateStore);
}

/**
 * With a key: the store wrapped in `EncryptedInstallationStore`, its marker checked against the keys.
 * Without: the store, unless its marker says it holds encrypted tokens. Rejects with `EncryptionError`.
 */
async function checkEncryption(store: InstallationStore, key: string | undefined): Promise<InstallationStore> {
  if (key) {
    const { EncryptedInstallationStore, parseEncryptionKeys } = await import("../stores/encryption.js");
    const encrypted = new EncryptedInstallationStore(store, { keys: parseEncryptionKeys(key) });
    // Every key id the store has used must be configured, with the same key: checked now, not at the
    // first request (EncryptionError naming the key id).
    await encrypted.open();
    return encrypted;
  }
  // A store that has held encrypted tokens never opens without its keys (EncryptionError "key-missing").
  const marker = await store.encryptionMarker?.read();
  if (marker !== undefined && marker.size > 0) {
    const { keyMissingError } = await import("../stores/encryption-marker.js");
    throw keyMissingError(store.constructor.name, [...marker.keys()]);
  }
  return store;
}

/**
 * Applies REDIS_URL and SLACK_TOKEN_ENCRYPTION_KEY on top of the stores opened from DATABASE_URL. Rejects
 * (after closing `opened`) with `EncryptionError` when the store's encryption marker and the key disagree.
 */
export async function applyStoreOptions(
  opened: OpenedStores,
  options: {
    redisUrl?: string | undefined;
    /** Prefix of the Redis keys and channel (`REDIS_KEY_PREFIX`; default the stores' own). */
    redisKeyPrefix?: string | undefined;
    tokenEncryptionKey?: string | undefined;
    /** The app partition of the Redis states (`state@<clientId>:`); default the default partition. */
    clientId?: string | undefined;
    /**
     * Redis connections shared with other apps ({@link openAppsStores}): the lock, the states and the
     * cache use them and leave them open. Default: this app opens (and closes) its own.
     */
    redis?: SharedRedis | undefined;
  },
): Promise<OpenedStores> {
  let installationStore = opened.installationStore;
  let stateStore = opened.stateStore;
  const extra: Array<() => Promise<void>> = [];
  try {
    installationStore = await checkEncryption(installationStore, options.tokenEncryptionKey);
  } catch (error) {
    await opened.close().catch(() => {});
    throw error;
  }
  if (options.redisUrl) {
    const { RedisLock, RedisStateStore, createRedisCachingStore, withRedisLock } = await import("../stores/redis.js");
    const url = options.redisUrl;
    const keyPrefix = options.redisKeyPrefix;
    const shared = options.redis;
    // The same keys and channel either way: a shared client only changes which connection carries them.
    const conn = shared ? { client: shared.client, keyPrefix } : { url, keyPrefix };
    const lock = new RedisLock(conn);
    const redisStates = new RedisStateStore({ ...conn, clientId: options.clientId });
    // Cache outside the encryption: cached entries are decrypted, and Redis pub/sub keeps instances coherent.
    const locked = withRedisLock(installationStore, lock);
    if (shared) {
      // The shared bus stays open: the cache's close() only unsubscribes its handler.
      const { CachingInstallationStore } = await import("../stores/cache.js");
      installationStore = new CachingInstallationStore(locked, { invalidation: shared.bus });
    } else {
      const cached = createRedisCachingStore(locked, { url, keyPrefix });
      installationStore = cached;
      extra.push(() => cached.bus.close());
    }
    stateStore = redisStates;
    extra.push(
      () => lock.close(),
      () => redisStates.close(),
    );
  }
  return {
    installationStore,
    stateStore,
    async close() {
      await Promise.allSettled(extra.map((f) => f()));
      await opened.close();
    },
  };
}

/** One app of a multi-app server, as {@link openAppsStores} needs it. */
export interface AppPartition {
  clientId: string;
  /** Owns the default partition (data written without a client id). */
  default: boolean;
}

/**
 * The stores of several apps in one database (`SLACK_APPS_FILE`): per app the installation store of its
 * partition (its client id; the `default` app's is the default partition) with `REDIS_URL` and
 * `SLACK_TOKEN_ENCRYPTION_KEY` applied, and a state store (Redis: the app's own key space). `memory:` gives
 * each app a partition of one process-wide memory store. In the order of `apps`; `close()` closes them all.
 * On a failure what was opened is closed again before the rejection.
 */
export async function openAppsStores(
  databaseUrl: string,
  apps: readonly AppPartition[],
  options: {
    redisUrl?: string | undefined;
    redisKeyPrefix?: string | undefined;
    tokenEncryptionKey?: string | undefined;
    /** Largest number of connections of the one PostgreSQL or MySQL pool the apps share (default 10). */
    maxConnections?: number | undefined;
  } = {},
): Promise<{ stores: OpenedStores[]; close(): Promise<void> }> {
  const url = databaseUrl.trim();
  const out: OpenedStores[] = [];
  let database: SharedDatabase | undefined;
  let redis: SharedRedis | undefined;
  const close = async () => {
    for (const s of out.splice(0).reverse()) await s.close().catch(() => {});
    // The shared connections last, once: every store that borrowed them is closed.
    const owned = [redis, database];
    redis = database = undefined;
    for (const r of owned) await r?.close().catch(() => {});
  };
  try {
    if (url === "memory:" || url === "memory") {
      const { MemoryInstallationStore, MemoryStateStore } = await import("../stores/memory.js");
      const root = new MemoryInstallationStore();
      const states = new MemoryStateStore();
      if (options.redisUrl) redis = await openSharedRedis(options.redisUrl, options.redisKeyPrefix);
      for (const app of apps) {
        const store = app.default ? root : root.forApp(app.clientId);
        out.push(await applyStoreOptions(opened(store, states), { ...options, clientId: partitionOf(app), redis }));
      }
    } else {
      database = await openSharedDatabase(url, options.maxConnections);
      if (options.redisUrl) redis = await openSharedRedis(options.redisUrl, options.redisKeyPrefix);
      for (const app of apps) {
        const base = await openStoresOn(url, { clientId: partitionOf(app) }, database);
        out.push(await applyStoreOptions(base, { ...options, clientId: partitionOf(app), redis }));
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { stores: [...out], close };
}

/**
 * The Redis connections of every app of a deployment: one command connection (states, locks, publishing
 * invalidations) and one bus with its one subscriber connection. Each app keeps its own keys (its client
 * id in them) on the one channel they always shared; `close()` closes both connections.
 */
export interface SharedRedis {
  client: RedisClientLike;
  bus: RedisInvalidationBus;
  close(): Promise<void>;
}

/** Opens the {@link SharedRedis} of `url` (with the apps' key prefix, for the bus's channel). */
async function openSharedRedis(url: string, keyPrefix: string | undefined): Promise<SharedRedis> {
  const { RedisInvalidationBus } = await import("../stores/redis.js");
  const { openIoRedis, RedisConnection } = await import("../stores/redis/connection.js");
  // Checks the URL as the per-app pieces would (ConfigError before any connection).
  new RedisConnection({ url });
  const command = await openIoRedis(url, undefined);
  let subscriber: Awaited<ReturnType<typeof openIoRedis>> | undefined;
  // The bus borrows the command connection to publish, and takes the subscriber as its "duplicate".
  const client: RedisClientLike = {
    eval: (script, numKeys, ...args) => command.eval(script, numKeys, ...args),
    publish: (channel, message) => command.publish(channel, message),
    quit: () => command.quit(),
    duplicate: () => {
      if (subscriber === undefined) throw new Error("unreachable: the subscriber opens before the bus");
      return subscriber;
    },
  };
  let bus: RedisInvalidationBus;
  try {
    subscriber = await openIoRedis(url, undefined);
    bus = new RedisInvalidationBus({ client, keyPrefix });
  } catch (error) {
    await subscriber?.quit().catch(() => {});
    await command.quit().catch(() => {});
    throw error;
  }
  return {
    client,
    bus,
    async close() {
      await bus.close();
      // The bus quits the subscriber if it took it; a bus nobody subscribed to never did.
      await subscriber?.quit().catch(() => {});
      await command.quit().catch(() => {});
    },
  };
}

/** The `clientId` option of an app's stores: none for the default app (it owns the default partition). */
function partitionOf(app: AppPartition): string | undefined {
  return app.default ? undefined : app.clientId;
}
