import { BetterSqlite3Executor, type SqliteConnection, type SqliteStatement } from "../sqlite/executor.js";

/**
 * The part of Bun's `bun:sqlite` `Database` this library uses, written out so that the library compiles
 * (and loads) without Bun's types or Bun itself.
 *
 * @example
 * ```ts
 * import { Database } from "bun:sqlite";
 * const db: BunSqliteDatabase = new Database("./data/slack.db");
 * ```
 * @see https://bun.sh/docs/api/sqlite
 */
export interface BunSqliteDatabase {
  readonly filename: string;
  readonly inTransaction: boolean;
  /** Compiles a statement. */
  prepare(sql: string): BunSqliteStatement;
  /** Closes the database. */
  close(throwOnError?: boolean): void;
}

/** A `bun:sqlite` prepared statement (the calls this library makes). */
export interface BunSqliteStatement {
  readonly columnNames: string[];
  /** Runs the statement and returns its first row as an object. */
  get(...params: unknown[]): unknown;
  /** Runs the statement and returns every row as an object. */
  all(...params: unknown[]): unknown[];
  /** Runs the statement and returns every row as an array of values. */
  values(...params: unknown[]): unknown[][];
  /** Runs a write and returns how many rows it changed. */
  run(...params: unknown[]): { changes: number };
}

/**
 * A `bun:sqlite` connection seen through the interface of better-sqlite3 that
 * {@link BetterSqlite3Executor} runs on, so both drivers share one executor: the same write queue per
 * file, `BEGIN IMMEDIATE` transactions and shared read snapshots. Rows as arrays come from Bun's
 * `values()`; the executor only asks for one row of statements that end in `LIMIT 1`.
 */
export class BunSqliteConnection implements SqliteConnection {
  readonly db: BunSqliteDatabase;
  readonly name: string;
  readonly memory: boolean;
  #open = true;

  constructor(db: BunSqliteDatabase) {
    this.db = db;
    this.name = db.filename;
    this.memory = db.filename === "" || db.filename === ":memory:";
  }

  get open(): boolean {
    return this.#open;
  }

  get inTransaction(): boolean {
    return this.#open && this.db.inTransaction;
  }

  /** Compiles a statement (rows as objects, or as arrays after `raw(true)`). */
  prepare(sql: string): SqliteStatement {
    const s = this.db.prepare(sql);
    let raw = false;
    return {
      reader: s.columnNames.length > 0,
      raw(toggle: boolean) {
        raw = toggle;
        return this;
      },
      get: (...params) => (raw ? s.values(...params)[0] : (s.get(...params) ?? undefined)),
      all: (...params) => (raw ? s.values(...params) : s.all(...params)),
      run: (...params) => ({ changes: s.run(...params).changes }),
    };
  }

  /** Closes the database (later statements fail with Bun's "closed database" error). */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.db.close(false);
  }
}

/**
 * The SQL core's executor over a `bun:sqlite` database: {@link BetterSqlite3Executor} on a
 * {@link BunSqliteConnection}.
 *
 * @example
 * ```ts
 * import { Database } from "bun:sqlite";
 * const exec = bunSqliteExecutor(new Database(":memory:"));
 * await exec.run("CREATE TABLE t (x INTEGER)", []);
 * ```
 */
export function bunSqliteExecutor(
  db: BunSqliteDatabase | BunSqliteConnection,
  options: ConstructorParameters<typeof BetterSqlite3Executor>[1] = {},
): BetterSqlite3Executor<BunSqliteConnection> {
  return new BetterSqlite3Executor(db instanceof BunSqliteConnection ? db : new BunSqliteConnection(db), options);
}
