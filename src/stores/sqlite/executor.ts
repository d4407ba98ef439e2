import type {
  SqlExecutor,
  SqlResult,
  SqlRow,
  SqlStatement,
  SqlValue,
  SyncKeyedRead,
  SyncKeyedValueRead,
  SyncSqlReader,
} from "../sql/dialect.js";

/**
 * The part of a SQLite connection the executor uses: better-sqlite3's `Database` has it as is; Bun's
 * `bun:sqlite` gets it from a small adapter (`bun-sqlite/executor.ts`).
 */
export interface SqliteConnection {
  /** The file name (`""` or `:memory:` for private in-memory databases). */
  readonly name: string;
  /** True for a private in-memory database. */
  readonly memory: boolean;
  /** False once closed. */
  readonly open: boolean;
  /** True inside `BEGIN` … `COMMIT`. */
  readonly inTransaction: boolean;
  /** Compiles a statement. */
  prepare(sql: string): SqliteStatement;
}

/** A prepared statement, as {@link SqliteConnection.prepare} returns it. */
export interface SqliteStatement {
  /** True when the statement returns rows (SELECT, … RETURNING). */
  readonly reader: boolean;
  /** Rows as arrays of column values rather than objects. */
  raw(toggle: boolean): unknown;
  /** Optional: rows as their first column only (better-sqlite3 has it; without it a row array is read). */
  pluck?(toggle: boolean): unknown;
  /** Runs the statement and returns its first row. */
  get(...params: unknown[]): unknown;
  /** Runs the statement and returns every row. */
  all(...params: unknown[]): unknown[];
  /** Runs a write and returns how many rows it changed. */
  run(...params: unknown[]): { changes: number };
}

/**
 * A better-sqlite3 `Database`, as the SQLite stores use it (and hand it back as `store.database`). It is
 * described here rather than imported, so that slack-oauth-kit's declarations compile without
 * better-sqlite3's types (an optional peer dependency); a better-sqlite3 `Database` fits it as is.
 *
 * @example
 * ```ts
 * import Database from "better-sqlite3";
 * const db: SQLiteDatabase = new Database(":memory:");
 * ```
 */
export interface SQLiteDatabase extends SqliteConnection {
  /** Compiles a statement. */
  prepare(sql: string): SQLiteDatabaseStatement;
  /** Runs a PRAGMA; `{ simple: true }` returns the first column of the first row. */
  pragma(source: string, options?: { simple?: boolean }): unknown;
  /** Runs SQL text without parameters (several statements allowed). */
  exec(sql: string): unknown;
  /** Closes the database. */
  close(): unknown;
}

/** A prepared statement of a {@link SQLiteDatabase}. */
export interface SQLiteDatabaseStatement extends SqliteStatement {
  /** Rows as their first column only. */
  pluck(toggle?: boolean): this;
}

/**
 * Options of {@link BetterSqlite3Executor}.
 *
 * @example
 * ```ts
 * new BetterSqlite3Executor(db, { readSnapshot: { maxReads: 50, maxMs: 0.5 } });
 * ```
 */
export interface BetterSqlite3ExecutorOptions {
  /**
   * Lets a burst of lookups share one read transaction (see {@link BetterSqlite3Executor}): `false` to
   * turn off, or its bounds. Default on with `{ maxReads: 100, maxMs: 1 }`.
   */
  readSnapshot?: false | { maxReads?: number; maxMs?: number } | undefined;
}

/**
 * Bumped by every executor of this process after each write. A snapshot taken before the bump is
 * dropped, so a write through one connection is seen at once by every other connection of the process.
 */
let processWriteEpoch = 0;

/**
 * {@link SqlExecutor} over a better-sqlite3 connection. better-sqlite3 is synchronous, so every call
 * runs at once and returns one already-settled promise; prepared statements are cached per SQL text and
 * return rows as arrays.
 *
 * A batch runs synchronously inside `BEGIN IMMEDIATE … COMMIT` (the write lock is taken up front, so
 * `busy_timeout` applies and two processes never deadlock upgrading a read lock). Since nothing else of
 * this process runs while it does, no statement of another caller, on this connection or on another
 * connection of the process to the same file, ever lands inside it: there is no queue to keep, and a
 * write never waits for this process's own transactions.
 *
 * Read snapshots: in WAL mode, starting a read transaction costs a few system calls (shared-memory
 * locks), as much as the lookup itself. Lookups made by the sync reader (the hot `findBot` and
 * `findInstallation`) therefore share one read transaction while they come in a burst: it ends at the
 * next turn of the event loop, after `maxReads` reads or `maxMs` milliseconds, and before any write or
 * transaction of this process. So a lookup never misses a write made by this process, and misses one
 * committed by another process only if it started less than `maxMs` earlier, within the same burst.
 *
 * @example
 * ```ts
 * import Database from "better-sqlite3";
 * const exec = new BetterSqlite3Executor(new Database(":memory:"));
 * await exec.run("CREATE TABLE t (x INTEGER)", []);
 * ```
 */
export class BetterSqlite3Executor<D extends SqliteConnection = SQLiteDatabase> implements SqlExecutor {
  /** The connection. */
  readonly db: D;
  readonly #statements = new Map<string, SqliteStatement>();
  readonly #reader: SyncSqlReader;
  readonly #snapshotMaxReads: number;
  readonly #snapshotMaxMs: number;
  /** True while a read snapshot (a deferred `BEGIN` of ours) is open. */
  #snapshot = false;
  #snapshotReads = 0;
  #snapshotDeadline = 0;
  #snapshotEpoch = 0;
  /** True from the first sync read of an event-loop turn until the end of that turn. */
  #inBurst = false;
  readonly #endBurst = () => {
    this.#inBurst = false;
    try {
      this.#endSnapshot();
    } catch {
      // Nothing to undo in a read-only transaction; the next write or snapshot retries the COMMIT.
    }
  };

  constructor(db: D, options: BetterSqlite3ExecutorOptions = {}) {
    this.db = db;
    const snap = options.readSnapshot;
    this.#snapshotMaxReads = snap === false ? 0 : Math.max(0, Math.floor(snap?.maxReads ?? 100));
    this.#snapshotMaxMs = snap === false ? 0 : Math.max(0, snap?.maxMs ?? 1);
    const plain: SyncSqlReader = {
      first: (sql, params) => this.#prepare(sql).get(...params) as SqlRow | undefined,
      prepareKeyed: (sql): SyncKeyedRead => {
        const st = this.#prepare(sql);
        return (a, b, c) => st.get(a, b, c) as SqlRow | undefined;
      },
      prepareKeyedValue: (sql) => this.#prepareValue(sql),
    };
    this.#reader =
      this.#snapshotMaxReads > 1
        ? {
            first: (sql, params) => {
              this.#enterSnapshot();
              return this.#prepare(sql).get(...params) as SqlRow | undefined;
            },
            // The statement looked up once; each call passes its three values straight to the driver.
            prepareKeyed: (sql): SyncKeyedRead => {
              const st = this.#prepare(sql);
              return (a, b, c) => {
                this.#enterSnapshot();
                return st.get(a, b, c) as SqlRow | undefined;
              };
            },
            prepareKeyedValue: (sql): SyncKeyedValueRead => {
              const read = this.#prepareValue(sql);
              return (a, b, c) => {
                this.#enterSnapshot();
                return read(a, b, c);
              };
            },
          }
        : plain;
  }

  /** Number of cached prepared statements (for tests). */
  get cachedStatements(): number {
    return this.#statements.size;
  }

  /**
   * A one-column statement of its own (not shared with the row-array cache: plucking changes what `get`
   * returns), as a function of its three parameters returning the first row's value.
   */
  #prepareValue(sql: string): SyncKeyedValueRead {
    const st = this.db.prepare(sql);
    if (typeof st.pluck === "function") {
      st.pluck(true);
      return (a, b, c) => st.get(a, b, c) as SqlValue | undefined;
    }
    st.raw(true);
    return (a, b, c) => (st.get(a, b, c) as SqlRow | undefined)?.[0] as SqlValue | undefined;
  }

  #prepare(sql: string): SqliteStatement {
    let s = this.#statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      // Rows as arrays (the SqlRow contract): much cheaper than objects in better-sqlite3.
      if (s.reader) s.raw(true);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /**
   * Before a sync read: the first read of an event-loop turn runs on its own (a snapshot would only
   * add a BEGIN and a COMMIT); the second opens a snapshot that the following reads share, closed at
   * the end of the turn (or earlier, see the bounds).
   */
  #enterSnapshot(): void {
    if (!this.#inBurst) {
      this.#inBurst = true;
      setImmediate(this.#endBurst);
      return;
    }
    if (this.#snapshot) {
      if (
        ++this.#snapshotReads < this.#snapshotMaxReads &&
        this.#snapshotEpoch === processWriteEpoch &&
        performance.now() < this.#snapshotDeadline
      ) {
        return;
      }
      this.#endSnapshot();
    }
    // Someone else's transaction is open on this connection (a database you passed in): read inside it.
    if (this.db.inTransaction) return;
    this.#prepare("BEGIN DEFERRED").run();
    this.#snapshot = true;
    this.#snapshotReads = 1;
    this.#snapshotEpoch = processWriteEpoch;
    this.#snapshotDeadline = performance.now() + this.#snapshotMaxMs;
  }

  #endSnapshot(): void {
    if (!this.#snapshot) return;
    this.#snapshot = false;
    // A read-only transaction: COMMIT just releases the read lock.
    if (this.db.open && this.db.inTransaction) this.#prepare("COMMIT").run();
  }

  #all(sql: string, params: readonly SqlValue[]): SqlRow[] {
    const s = this.#prepare(sql);
    if (s.reader) return s.all(...params) as SqlRow[];
    s.run(...params);
    processWriteEpoch++;
    return [];
  }

  #run(sql: string, params: readonly SqlValue[]): { changes: number } {
    const changes = this.#prepare(sql).run(...params).changes;
    processWriteEpoch++;
    return { changes };
  }

  query(sql: string, params: readonly SqlValue[]): Promise<SqlRow[]> {
    return settle(() => {
      this.#endSnapshot();
      return this.#all(sql, params);
    });
  }

  run(sql: string, params: readonly SqlValue[]): Promise<{ changes: number }> {
    return settle(() => {
      this.#endSnapshot();
      return this.#run(sql, params);
    });
  }

  syncReader(): SyncSqlReader {
    return this.#reader;
  }

  batch(statements: readonly SqlStatement[]): Promise<SqlResult[]> {
    return settle(() => this.#batch(statements));
  }

  /** The statements in one `BEGIN IMMEDIATE` transaction, synchronously: committed, or rolled back on the first error. */
  #batch(statements: readonly SqlStatement[]): SqlResult[] {
    this.#endSnapshot();
    this.#prepare("BEGIN IMMEDIATE").run();
    try {
      const results: SqlResult[] = [];
      for (const { sql, params } of statements) {
        const st = this.#prepare(sql);
        if (st.reader) results.push({ rows: st.all(...params) as SqlRow[], changes: 0 });
        else results.push({ rows: [], changes: st.run(...params).changes });
      }
      this.#prepare("COMMIT").run();
      return results;
    } catch (e) {
      try {
        if (this.db.open && this.db.inTransaction) this.#prepare("ROLLBACK").run();
      } catch {
        // The original error says more than a failed rollback.
      }
      throw e;
    } finally {
      processWriteEpoch++;
    }
  }
}

function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}
