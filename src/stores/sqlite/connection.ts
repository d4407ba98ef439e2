/**
 * How the SQLite stores open (or borrow) their connection: the options both stores share and the
 * helpers their constructors call. The public entry point is `slack-oauth-kit/stores/sqlite`.
 *
 * @internal
 */
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError, StoreError } from "../../errors.js";
import { redact } from "../../redact.js";
import { loadBetterSqlite3 } from "./driver.js";
import { BetterSqlite3Executor, type SQLiteDatabase } from "./executor.js";

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
   * `false`: never create or migrate tables (the schema is managed elsewhere, or the opener only reads);
   * a call on a database without them fails. Default: migrate when the store opens.
   */
  migrate?: boolean | undefined;
  /**
   * Database file (default `./data/slack-oauth-kit.db`; its directory is created). `":memory:"` gives a
   * private in-memory database. Ignored when `database` is given.
   */
  filename?: string | undefined;
  /**
   * Your own better-sqlite3 connection. The store then leaves its pragmas alone (set `journal_mode=WAL`
   * and a `busy_timeout` yourself if several processes share the file) and `close()` does not close it.
   */
  database?: SQLiteDatabase | undefined;
  /**
   * Table prefix, `^[a-z_][a-z0-9_]{0,30}$`.
   *
   * @default `slack_`
   */
  tablePrefix?: string | undefined;
  /**
   * How long a write waits for another process's lock before failing with `SQLITE_BUSY`.
   *
   * @default 5000 ms
   */
  busyTimeoutMs?: number | undefined;
  /**
   * `mmap_size` of the connection the store opens (default 256 MiB; 0 turns memory-mapped reads off,
   * e.g. on a file system where mmap is unreliable). Lookups read pages straight from the OS page cache.
   */
  mmapSizeBytes?: number | undefined;
}

const DEFAULT_MMAP_SIZE = 256 * 1024 * 1024;

/** One executor per connection, shared by every store on it, so their transactions never interleave. */
const executors = new WeakMap<SQLiteDatabase, BetterSqlite3Executor>();

export function executorFor(db: SQLiteDatabase, owned: boolean): BetterSqlite3Executor {
  let e = executors.get(db);
  if (e === undefined) {
    // Shared read snapshots only on files we opened: on your connection, your own statements could land
    // inside our read transaction; in memory there is no lock to save.
    e = new BetterSqlite3Executor(db, owned && !db.memory ? {} : { readSnapshot: false });
    executors.set(db, e);
  }
  return e;
}

export interface Opened {
  db: SQLiteDatabase;
  owned: boolean;
}

export function open(options: SQLiteStoreOptions, storeName: string): Opened {
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
  const Database = loadBetterSqlite3(storeName);
  let db: SQLiteDatabase | undefined;
  try {
    const inMemory = filename === ":memory:" || filename === "" || filename.startsWith("file:");
    if (!inMemory) createPrivately(resolve(filename));
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
export async function closeDatabase(db: SQLiteDatabase): Promise<void> {
  if (db.open) db.close();
}

/**
 * Creates the database file 0600 (and missing folders 0700) before SQLite opens it: SQLite would create
 * it 0644, and it gives the `-wal`, `-shm` and journal files the database file's mode. An existing file
 * keeps its mode.
 */
function createPrivately(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(path, "wx", 0o600)); // an empty file is an empty database to SQLite
  } catch (e) {
    if ((e as { code?: unknown })?.code !== "EEXIST") throw e;
  }
}
