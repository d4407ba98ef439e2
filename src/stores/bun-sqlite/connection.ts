/**
 * How the BunSQLite stores open (or borrow) their connection: the options both stores share and the
 * helpers their constructors call. The public entry point is `slack-oauth-kit/stores/bun-sqlite`.
 *
 * @internal
 */
import { ConfigError, StoreError } from "../../errors.js";
import { redact } from "../../redact.js";
import type { BetterSqlite3Executor } from "../sqlite/executor.js";
import { BunSqliteConnection, type BunSqliteDatabase, bunSqliteExecutor } from "./executor.js";

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

export function executorFor(db: BunSqliteDatabase, owned: boolean): BetterSqlite3Executor<BunSqliteConnection> {
  let e = executors.get(db);
  if (e === undefined) {
    const connection = new BunSqliteConnection(db);
    // Shared read snapshots only on files we opened (see the better-sqlite3 stores).
    e = bunSqliteExecutor(connection, owned && !connection.memory ? {} : { readSnapshot: false });
    executors.set(db, e);
  }
  return e;
}

export function open(options: BunSQLiteStoreOptions, storeName: string): { db: BunSqliteDatabase; owned: boolean } {
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
export async function closeDatabase(executor: BetterSqlite3Executor<BunSqliteConnection>): Promise<void> {
  executor.db.close();
}
