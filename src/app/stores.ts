import { ConfigError } from "../errors.js";
import type { StateStore } from "../state/state.js";
import type { InstallationStore } from "../stores/installation-store.js";

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
}

/**
 * Opens the stores named by a database URL: `sqlite:PATH` (or a bare path ending in .db/.sqlite),
 * `file:DIR` (JSON files), `memory:`, `postgres://…` and `mysql://…` / `mariadb://…`.
 */
export async function openStores(databaseUrl: string, options: OpenStoresOptions = {}): Promise<OpenedStores> {
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
  if (/^postgres(ql)?:\/\//i.test(url)) {
    const { PostgresInstallationStore, PostgresStateStore } = await import("../stores/postgres.js");
    const installationStore = new PostgresInstallationStore({ url, clientId, migrate });
    const stateStore = new PostgresStateStore({ url, migrate });
    return opened(installationStore, stateStore);
  }
  if (/^(mysql|mariadb):\/\//i.test(url)) {
    const { MySQLInstallationStore, MySQLStateStore } = await import("../stores/mysql.js");
    const installationStore = new MySQLInstallationStore({ url, clientId, migrate });
    const stateStore = new MySQLStateStore({ url, migrate });
    return opened(installationStore, stateStore);
  }
  const filename = url.startsWith("sqlite:") ? url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "") : url;
  if (!filename) throw new ConfigError("DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/app.db");
  const { SQLiteInstallationStore, SQLiteStateStore } = await import("../stores/sqlite.js");
  const installationStore = new SQLiteInstallationStore({ filename, clientId, migrate });
  const stateStore = new SQLiteStateStore({ filename, migrate });
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
    const lock = new RedisLock({ url, keyPrefix });
    const redisStates = new RedisStateStore({ url, keyPrefix, clientId: options.clientId });
    // Cache outside the encryption: cached entries are decrypted, and Redis pub/sub keeps instances coherent.
    const cached = createRedisCachingStore(withRedisLock(installationStore, lock), { url, keyPrefix });
    installationStore = cached;
    stateStore = redisStates;
    extra.push(
      () => cached.bus.close(),
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
  } = {},
): Promise<{ stores: OpenedStores[]; close(): Promise<void> }> {
  const url = databaseUrl.trim();
  const out: OpenedStores[] = [];
  const close = async () => {
    for (const s of out.splice(0).reverse()) await s.close().catch(() => {});
  };
  try {
    if (url === "memory:" || url === "memory") {
      const { MemoryInstallationStore, MemoryStateStore } = await import("../stores/memory.js");
      const root = new MemoryInstallationStore();
      const states = new MemoryStateStore();
      for (const app of apps) {
        const store = app.default ? root : root.forApp(app.clientId);
        out.push(await applyStoreOptions(opened(store, states), { ...options, clientId: partitionOf(app) }));
      }
    } else {
      for (const app of apps) {
        const base = await openStores(url, { clientId: partitionOf(app) });
        out.push(await applyStoreOptions(base, { ...options, clientId: partitionOf(app) }));
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { stores: [...out], close };
}

/** The `clientId` option of an app's stores: none for the default app (it owns the default partition). */
function partitionOf(app: AppPartition): string | undefined {
  return app.default ? undefined : app.clientId;
}
