/**
 * SQLite stores (better-sqlite3): the embedded default. One file holds every workspace's tokens and the
 * OAuth states; several processes may share it (WAL, busy timeout, `BEGIN IMMEDIATE`).
 *
 * They are the shared SQL core (`sql/core.ts`) with the SQLite dialect and a better-sqlite3 executor:
 * - lookups run synchronously on cached prepared statements, one settled promise per call, and a burst
 *   of lookups shares one read transaction (see {@link BetterSqlite3Executor}); a lookup never misses a
 *   write of this process, and one of another process for at most 1 ms within a burst;
 * - the stores of one process that share a file queue their writes in JavaScript rather than in
 *   SQLite's busy handler, which would block the only thread;
 * - missing ids are stored as `''` (not NULL) in key columns, times as REAL epoch seconds, scopes and
 *   custom values as JSON text, booleans as 0/1: nothing depends on the machine's time zone.
 *
 * @see https://docs.slack.dev/authentication/installing-with-oauth
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { ConfigError, StoreError } from "../errors.js";
import { redact } from "../redact.js";
import { SqlInstallationStore, SqlStateStore, validateClientId, validateTtl } from "./sql/core.js";
import { validateTablePrefix } from "./sql/migrations.js";
import { sqliteDialect } from "./sqlite/dialect.js";
import { BetterSqlite3Executor } from "./sqlite/executor.js";

export { sqliteDialect } from "./sqlite/dialect.js";
export { BetterSqlite3Executor } from "./sqlite/executor.js";

/**
 * Default database file, relative to the working directory.
 *
 * @example
 * ```ts
 * new SQLiteInstallationStore(); // opens ./data/slack-oauth-kit.db
 * ```
 */
export const DEFAULT_SQLITE_FILENAME = "./data/slack-oauth-kit.db";

/**
 * Options shared by {@link SQLiteInstallationStore} and {@link SQLiteStateStore}.
 *
 * @example
 * ```ts
 * const options: SQLiteStoreOptions = { filename: "./data/slack.db", tablePrefix: "myapp_" };
 * ```
 */
export interface SQLiteStoreOptions {
  /**
   * Database file (default `./data/slack-oauth-kit.db`; its directory is created). `":memory:"` gives a
   * private in-memory database. Ignored when `database` is given.
   */
  filename?: string | undefined;
  /**
   * Your own better-sqlite3 connection. The store then leaves its pragmas alone (set `journal_mode=WAL`
   * and a `busy_timeout` yourself if several processes share the file) and `close()` does not close it.
   */
  database?: Database.Database | undefined;
  /** Table prefix, `^[a-z_][a-z0-9_]{0,30}$` (default `slack_`). */
  tablePrefix?: string | undefined;
  /** How long a write waits for another process's lock before failing with `SQLITE_BUSY` (default 5000 ms). */
  busyTimeoutMs?: number | undefined;
  /**
   * `mmap_size` of the connection the store opens (default 256 MiB; 0 turns memory-mapped reads off,
   * e.g. on a file system where mmap is unreliable). Lookups read pages straight from the OS page cache.
   */
  mmapSizeBytes?: number | undefined;
}

/**
 * Options of {@link SQLiteInstallationStore}.
 *
 * @example
 * ```ts
 * new SQLiteInstallationStore({ filename: "./data/slack.db", clientId: process.env.SLACK_CLIENT_ID });
 * ```
 */
export interface SQLiteInstallationStoreOptions extends SQLiteStoreOptions {
  /** Keep one row per save (an audit trail) instead of only the latest per user and workspace (default false). */
  historicalData?: boolean | undefined;
  /** Keeps several apps' installations apart in the same tables (the `client_id` column; default `''`). */
  clientId?: string | undefined;
}

/**
 * Options of {@link SQLiteStateStore}.
 *
 * @example
 * ```ts
 * new SQLiteStateStore({ filename: "./data/slack.db", ttlSeconds: 300 });
 * ```
 */
export interface SQLiteStateStoreOptions extends SQLiteStoreOptions {
  /** Lifetime of a state in seconds (default 600). */
  ttlSeconds?: number | undefined;
  /** Returns now in epoch milliseconds, like `Date.now` (the default); injectable for tests. */
  clock?: (() => number) | undefined;
}

const DEFAULT_MMAP_SIZE = 256 * 1024 * 1024;

/** One executor per connection, shared by every store on it, so their transactions never interleave. */
const executors = new WeakMap<Database.Database, BetterSqlite3Executor>();

function executorFor(db: Database.Database, owned: boolean): BetterSqlite3Executor {
  let e = executors.get(db);
  if (e === undefined) {
    // Shared read snapshots only on files we opened: on your connection, your own statements could land
    // inside our read transaction; in memory there is no lock to save.
    e = new BetterSqlite3Executor(db, owned && !db.memory ? {} : { readSnapshot: false });
    executors.set(db, e);
  }
  return e;
}

interface Opened {
  db: Database.Database;
  owned: boolean;
}

function open(options: SQLiteStoreOptions, storeName: string): Opened {
  if (options.database !== undefined) {
    if (options.database === null || typeof options.database.prepare !== "function") {
      throw new ConfigError(`${storeName}: database must be a better-sqlite3 Database`);
    }
    return { db: options.database, owned: false };
  }
  const filename = options.filename ?? DEFAULT_SQLITE_FILENAME;
  if (typeof filename !== "string") throw new ConfigError(`${storeName}: filename must be a string`);
  const timeout = options.busyTimeoutMs ?? 5000;
  if (!Number.isInteger(timeout) || timeout < 0) {
    throw new ConfigError(`${storeName}: busyTimeoutMs must be a non-negative integer`);
  }
  const mmapSize = options.mmapSizeBytes ?? DEFAULT_MMAP_SIZE;
  if (!Number.isSafeInteger(mmapSize) || mmapSize < 0) {
    throw new ConfigError(`${storeName}: mmapSizeBytes must be a non-negative integer`);
  }
  let db: Database.Database | undefined;
  try {
    const inMemory = filename === ":memory:" || filename === "" || filename.startsWith("file:");
    if (!inMemory) mkdirSync(dirname(resolve(filename)), { recursive: true });
    // `timeout` sets busy_timeout before anything else, so even switching to WAL waits for other processes.
    db = new Database(filename, { timeout });
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma(`mmap_size = ${mmapSize}`);
    return { db, owned: true };
  } catch (e) {
    db?.close();
    throw new StoreError(`${storeName}: cannot open the SQLite database: ${redact(String((e as Error)?.message))}`, {
      cause: e,
    });
  }
}

/**
 * Closes a database the store opened, once the transactions already started on it have finished (later
 * calls then reject with `StoreError`).
 */
async function closeDatabase(db: Database.Database, executor: BetterSqlite3Executor): Promise<void> {
  await executor.idle();
  if (db.open) db.close();
}

/**
 * {@link InstallationStore} in SQLite: the embedded default. Lookups are indexed and run on cached
 * prepared statements; migrations run on first use.
 *
 * @example
 * ```ts
 * import { SQLiteInstallationStore } from "slack-oauth-kit/stores/sqlite";
 * const store = new SQLiteInstallationStore({ filename: "./data/slack.db" });
 * await store.save(installation);
 * const bot = await store.findBot({ enterpriseId: undefined, teamId: "T0123456" });
 * await store.close();
 * ```
 */
export class SQLiteInstallationStore extends SqlInstallationStore {
  /** The better-sqlite3 connection in use. */
  readonly database: Database.Database;

  constructor(options: SQLiteInstallationStoreOptions = {}) {
    // Validate everything before opening, so a bad option never leaves a file handle open.
    validateTablePrefix(options.tablePrefix);
    validateClientId(options.clientId);
    const { db, owned } = open(options, "SQLiteInstallationStore");
    const executor = executorFor(db, owned);
    super({
      executor,
      dialect: sqliteDialect,
      tablePrefix: options.tablePrefix,
      clientId: options.clientId,
      historicalData: options.historicalData,
      storeName: "SQLiteInstallationStore",
      migrateNow: true,
      release: owned ? () => closeDatabase(db, executor) : undefined,
    });
    this.database = db;
  }
}

/**
 * {@link StateStore} in SQLite: one-time OAuth states, safe across processes sharing the file.
 *
 * @example
 * ```ts
 * import { SQLiteStateStore } from "slack-oauth-kit/stores/sqlite";
 * const states = new SQLiteStateStore({ filename: "./data/slack.db", ttlSeconds: 600 });
 * const state = await states.issue({ returnTo: "/welcome" });
 * const data = await states.consume(state); // { returnTo: "/welcome" }, then undefined
 * ```
 */
export class SQLiteStateStore extends SqlStateStore {
  /** The better-sqlite3 connection in use. */
  readonly database: Database.Database;

  constructor(options: SQLiteStateStoreOptions = {}) {
    // Validate everything before opening, so a bad option never leaves a file handle open.
    validateTablePrefix(options.tablePrefix);
    validateTtl(options.ttlSeconds);
    const { db, owned } = open(options, "SQLiteStateStore");
    const executor = executorFor(db, owned);
    super({
      executor,
      dialect: sqliteDialect,
      tablePrefix: options.tablePrefix,
      ttlSeconds: options.ttlSeconds,
      clock: options.clock,
      storeName: "SQLiteStateStore",
      migrateNow: true,
      release: owned ? () => closeDatabase(db, executor) : undefined,
    });
    this.database = db;
  }
}
