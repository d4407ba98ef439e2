/**
 * SQLite stores on Bun's built-in `bun:sqlite`: the shared SQL core (`sql/core.ts`) with the SQLite
 * dialect and the same executor as the better-sqlite3 stores (`bun-sqlite/executor.ts` adapts Bun's
 * driver to it), so the schema, the migrations and every guarantee are those of
 * `slack-oauth-kit/stores/sqlite`: a file written by one is read by the other.
 *
 * Bun only: on Node, constructing a store throws a `ConfigError` (use `slack-oauth-kit/stores/sqlite`).
 * Nothing here loads `node:fs`; the database's directory must exist (it is not created).
 *
 * @see https://bun.sh/docs/api/sqlite
 */
import { ConfigError, StoreError } from "../errors.js";
import { redact } from "../redact.js";
import {
  BunSqliteConnection,
  type BunSqliteDatabase,
  type BunSqliteStatement,
  bunSqliteExecutor,
} from "./bun-sqlite/executor.js";
import { SqlInstallationStore, SqlStateStore, validateClientId, validateTtl } from "./sql/core.js";
import { validateTablePrefix } from "./sql/migrations.js";
import { sqliteDialect } from "./sqlite/dialect.js";
import type { BetterSqlite3Executor } from "./sqlite/executor.js";

export { sqliteDialect } from "./sqlite/dialect.js";
export { BunSqliteConnection, type BunSqliteDatabase, type BunSqliteStatement, bunSqliteExecutor };

/**
 * Options shared by {@link BunSQLiteInstallationStore} and {@link BunSQLiteStateStore}.
 *
 * @example
 * ```ts
 * const options: BunSQLiteStoreOptions = { filename: "./data/slack.db", tablePrefix: "myapp_" };
 * ```
 */
export interface BunSQLiteStoreOptions {
  /**
   * Database file (default `./data/slack-oauth-kit.db`; its directory must exist). `":memory:"` gives a
   * private in-memory database. Ignored when `database` is given.
   */
  filename?: string | undefined;
  /**
   * Your own `bun:sqlite` `Database`. The store then leaves its pragmas alone and `close()` does not
   * close it.
   */
  database?: BunSqliteDatabase | undefined;
  /** Table prefix, `^[a-z_][a-z0-9_]{0,30}$` (default `slack_`). */
  tablePrefix?: string | undefined;
  /** How long a write waits for another process's lock before failing with `SQLITE_BUSY` (default 5000 ms). */
  busyTimeoutMs?: number | undefined;
}

/**
 * Options of {@link BunSQLiteInstallationStore}.
 *
 * @example
 * ```ts
 * new BunSQLiteInstallationStore({ filename: "./data/slack.db", clientId: process.env.SLACK_CLIENT_ID });
 * ```
 */
export interface BunSQLiteInstallationStoreOptions extends BunSQLiteStoreOptions {
  /** Keep one row per save (an audit trail) instead of only the latest per user and workspace (default false). */
  historicalData?: boolean | undefined;
  /** Keeps several apps' installations apart in the same tables (the `client_id` column; default `''`). */
  clientId?: string | undefined;
}

/**
 * Options of {@link BunSQLiteStateStore}.
 *
 * @example
 * ```ts
 * new BunSQLiteStateStore({ filename: "./data/slack.db", ttlSeconds: 300 });
 * ```
 */
export interface BunSQLiteStateStoreOptions extends BunSQLiteStoreOptions {
  /** Lifetime of a state in seconds (default 600). */
  ttlSeconds?: number | undefined;
  /** Returns now in epoch milliseconds, like `Date.now` (the default); injectable for tests. */
  clock?: (() => number) | undefined;
}

const DEFAULT_FILENAME = "./data/slack-oauth-kit.db";

type BunDatabaseClass = new (
  filename: string,
  options?: { create?: boolean; readwrite?: boolean },
) => BunSqliteDatabase;

/** `bun:sqlite`'s `Database`, loaded synchronously (Bun's `import.meta.require`); a `ConfigError` elsewhere. */
function bunDatabaseClass(storeName: string): BunDatabaseClass {
  const load = (import.meta as ImportMeta & { require?: (id: string) => unknown }).require;
  if (typeof (globalThis as { Bun?: unknown }).Bun !== "object" || typeof load !== "function") {
    throw new ConfigError(
      `${storeName} runs on Bun only (it uses bun:sqlite); on Node use slack-oauth-kit/stores/sqlite, which reads the same files`,
    );
  }
  return (load("bun:sqlite") as { Database: BunDatabaseClass }).Database;
}

/** One executor per connection, shared by every store on it, so their transactions never interleave. */
const executors = new WeakMap<BunSqliteDatabase, BetterSqlite3Executor<BunSqliteConnection>>();

function executorFor(db: BunSqliteDatabase, owned: boolean): BetterSqlite3Executor<BunSqliteConnection> {
  let e = executors.get(db);
  if (e === undefined) {
    const connection = new BunSqliteConnection(db);
    // Shared read snapshots only on files we opened (see the better-sqlite3 stores).
    e = bunSqliteExecutor(connection, owned && !connection.memory ? {} : { readSnapshot: false });
    executors.set(db, e);
  }
  return e;
}

function open(options: BunSQLiteStoreOptions, storeName: string): { db: BunSqliteDatabase; owned: boolean } {
  if (options.database !== undefined) {
    const db = options.database as unknown;
    if (db === null || typeof (db as BunSqliteDatabase).prepare !== "function") {
      throw new ConfigError(`${storeName}: database must be a bun:sqlite Database`);
    }
    return { db: options.database, owned: false };
  }
  const filename = options.filename ?? DEFAULT_FILENAME;
  if (typeof filename !== "string") throw new ConfigError(`${storeName}: filename must be a string`);
  const timeout = options.busyTimeoutMs ?? 5000;
  if (!Number.isInteger(timeout) || timeout < 0) {
    throw new ConfigError(`${storeName}: busyTimeoutMs must be a non-negative integer`);
  }
  const Database = bunDatabaseClass(storeName);
  let db: BunSqliteDatabase | undefined;
  try {
    db = new Database(filename, { create: true, readwrite: true });
    // busy_timeout first, so that even switching to WAL waits for other processes.
    db.prepare(`PRAGMA busy_timeout = ${timeout}`).get();
    db.prepare("PRAGMA journal_mode = WAL").get();
    db.prepare("PRAGMA synchronous = NORMAL").get();
    return { db, owned: true };
  } catch (e) {
    db?.close(false);
    const message = redact(String((e as Error)?.message));
    const hint = /unable to open/i.test(message) ? " (does its directory exist? it is not created on Bun)" : "";
    throw new StoreError(`${storeName}: cannot open the SQLite database ${filename}${hint}: ${message}`, { cause: e });
  }
}

/** Closes a database the store opened, once the transactions already started on it have finished. */
async function closeDatabase(executor: BetterSqlite3Executor<BunSqliteConnection>): Promise<void> {
  await executor.idle();
  executor.db.close();
}

/**
 * {@link InstallationStore} in SQLite through `bun:sqlite`. Same schema, lookups and guarantees as
 * `SQLiteInstallationStore` (better-sqlite3).
 *
 * @example
 * ```ts
 * import { BunSQLiteInstallationStore } from "slack-oauth-kit/stores/bun-sqlite";
 * const store = new BunSQLiteInstallationStore({ filename: "./data/slack.db" });
 * await store.save(installation);
 * const bot = await store.findBot({ teamId: "T0123456" });
 * await store.close();
 * ```
 */
export class BunSQLiteInstallationStore extends SqlInstallationStore {
  /** The `bun:sqlite` connection in use. */
  readonly database: BunSqliteDatabase;

  constructor(options: BunSQLiteInstallationStoreOptions = {}) {
    // Validate everything before opening, so a bad option never leaves a file handle open.
    validateTablePrefix(options.tablePrefix);
    validateClientId(options.clientId);
    const { db, owned } = open(options, "BunSQLiteInstallationStore");
    const executor = executorFor(db, owned);
    super({
      executor,
      dialect: sqliteDialect,
      tablePrefix: options.tablePrefix,
      clientId: options.clientId,
      historicalData: options.historicalData,
      storeName: "BunSQLiteInstallationStore",
      migrateNow: true,
      release: owned ? () => closeDatabase(executor) : undefined,
    });
    this.database = db;
  }
}

/**
 * {@link StateStore} in SQLite through `bun:sqlite`: one-time OAuth states, safe across processes sharing
 * the file.
 *
 * @example
 * ```ts
 * import { BunSQLiteStateStore } from "slack-oauth-kit/stores/bun-sqlite";
 * const states = new BunSQLiteStateStore({ filename: "./data/slack.db", ttlSeconds: 600 });
 * const state = await states.issue({ returnTo: "/welcome" });
 * ```
 */
export class BunSQLiteStateStore extends SqlStateStore {
  /** The `bun:sqlite` connection in use. */
  readonly database: BunSqliteDatabase;

  constructor(options: BunSQLiteStateStoreOptions = {}) {
    validateTablePrefix(options.tablePrefix);
    validateTtl(options.ttlSeconds);
    const { db, owned } = open(options, "BunSQLiteStateStore");
    const executor = executorFor(db, owned);
    super({
      executor,
      dialect: sqliteDialect,
      tablePrefix: options.tablePrefix,
      ttlSeconds: options.ttlSeconds,
      clock: options.clock,
      storeName: "BunSQLiteStateStore",
      migrateNow: true,
      release: owned ? () => closeDatabase(executor) : undefined,
    });
    this.database = db;
  }
}
