/**
 * {@link SqlStateStore}: the one SQL implementation of {@link StateStore} (one-time OAuth states).
 */

import { rejectRenamedClock } from "../../clock.js";
import { InvalidArgumentError } from "../../errors.js";
import {
  type ConsumeResult,
  generateState,
  isWellFormedState,
  type StateStatus,
  type StateStore,
} from "../../state/state.js";
import type { SqlExecutor, SqlResult, SqlRow } from "./dialect.js";
import {
  type InFlight,
  type Migrator,
  type SqlStoreOptions,
  StoreLifecycle,
  toStoreError,
  validateTtl,
} from "./lifecycle.js";
import { type TableNames, tableNames, validateTablePrefix } from "./migrations.js";
import { custom, json } from "./rows.js";

/**
 * Options of {@link SqlStateStore}.
 *
 * @example
 * ```ts
 * new SqlStateStore({ executor, dialect: sqliteDialect, ttlSeconds: 300, nowMs: () => Date.now() });
 * ```
 */
export interface SqlStateStoreOptions extends SqlStoreOptions {
  /**
   * Lifetime of a state in seconds.
   *
   * @default 600
   */
  ttlSeconds?: number | undefined;
  /** Returns now in epoch milliseconds, like `Date.now` (the default); injectable for tests. */
  nowMs?: (() => number) | undefined;
  /**
   * Minimum seconds between two clean-ups of expired states run by `issue`.
   *
   * @default 60, or TTL ÷ 4 if less
   */
  cleanupIntervalSeconds?: number | undefined;
  /**
   * Most expired rows deleted per clean-up, so `issue` stays fast.
   *
   * @default 1000
   */
  cleanupBatchSize?: number | undefined;
}

/**
 * The SQL texts the SQL state store core runs (already finalized for its dialect).
 *
 * @example
 * ```ts
 * console.log(stateStore.statements.markConsumed);
 * ```
 */
export interface StateStoreStatements {
  insert: string;
  select: string;
  /** Reads a state without consuming it (`inspect`). */
  peek: string;
  markConsumed: string;
  markExpired: string;
  deleteExpired: string;
}

/**
 * {@link StateStore} over any SQL database: the logic behind `SQLiteStateStore` (and the PostgreSQL and
 * MySQL state stores).
 *
 * `consume` is atomic and one-time in every dialect: one batch reads the row (`FOR UPDATE` where the
 * dialect has row locks), then runs
 * `UPDATE … SET consumed_at = ?, data = NULL WHERE state = ? AND consumed_at IS NULL AND expires_at > ?`;
 * only the caller whose UPDATE changed the row gets the data (two racing batches cannot both change it). The consumed row stays as a tombstone, without its data, until it would have expired, so
 * {@link SqlStateStore.consumeDetailed} can tell "used" from "expired" and "unknown".
 *
 * @example
 * ```ts
 * const states = new SqlStateStore({ executor, dialect: sqliteDialect });
 * const state = await states.issue({ redirect: "/home" });
 * await states.consume(state); // { redirect: "/home" }
 * await states.consume(state); // undefined
 * ```
 */
export class SqlStateStore implements StateStore {
  /** The SQL this store runs (for tests and `EXPLAIN`). */
  readonly statements: StateStoreStatements;
  /** The table names in use. */
  readonly tables: TableNames;
  readonly #exec: SqlExecutor;
  readonly #ttl: number;
  /** Now in epoch seconds (the table's unit). */
  readonly #now: () => number;
  readonly #name: string;
  readonly #life: StoreLifecycle;
  readonly #migrator: Migrator;
  readonly #inflight: InFlight;
  readonly #cleanupInterval: number;
  readonly #cleanupBatch: number;
  #lastCleanup = Number.NEGATIVE_INFINITY;

  constructor(options: SqlStateStoreOptions) {
    rejectRenamedClock(options, options?.storeName ?? "SqlStateStore", { clock: "nowMs" });
    const prefix = validateTablePrefix(options.tablePrefix);
    const ttl = validateTtl(options.ttlSeconds);
    this.#exec = options.executor;
    this.#ttl = ttl;
    const clock = options.nowMs ?? Date.now;
    this.#now = () => clock() / 1000;
    this.#name = options.storeName ?? "SqlStateStore";
    // At most a quarter lifetime between clean-ups: expired rows never outnumber live ones by much.
    this.#cleanupInterval = options.cleanupIntervalSeconds ?? Math.min(60, ttl / 4);
    this.#cleanupBatch = Math.max(1, Math.floor(options.cleanupBatchSize ?? 1000));
    this.tables = tableNames(prefix);
    const d = options.dialect;
    const st = d.quoteId(this.tables.states);
    this.statements = {
      insert: d.finalize(`INSERT INTO ${st} (state, data, expires_at, consumed_at) VALUES (?, ?, ?, NULL)`),
      select: d.finalize(`SELECT data, expires_at, consumed_at FROM ${st} WHERE state = ?${d.forUpdate}`),
      peek: d.finalize(`SELECT expires_at, consumed_at FROM ${st} WHERE state = ?`),
      markConsumed: d.finalize(
        `UPDATE ${st} SET consumed_at = ?, data = NULL WHERE state = ? AND consumed_at IS NULL AND expires_at > ?`,
      ),
      markExpired: d.finalize(
        `UPDATE ${st} SET expires_at = 0, data = NULL WHERE state = ? AND consumed_at IS NULL AND expires_at <= ?`,
      ),
      deleteExpired: d.finalize(d.boundedDelete(this.tables.states, "state", "expires_at <= ?", this.#cleanupBatch)),
    };
    this.#life = new StoreLifecycle(options, prefix, (e) => toStoreError(this.#name, "migrate", e));
    this.#migrator = this.#life.migrator;
    this.#inflight = this.#life.inflight;
  }

  /** Applies pending migrations (also done on first use). */
  init(): Promise<void> {
    return this.#migrator.init();
  }

  /** Resolves once every write started so far has finished (used by `close()`). */
  drain(): Promise<void> {
    return this.#inflight.drain();
  }

  /**
   * Lets the migration and the writes already started finish, then releases what the store opened (a
   * pool or a connection you passed in stays open). Calling it again waits for the same close.
   */
  close(): Promise<void> {
    return this.#life.close();
  }

  /** Issues a new state, stored with `data` (a JSON object) until it expires. */
  issue(data?: Record<string, unknown>): Promise<string> {
    return this.#inflight.track(this.#issue(data));
  }

  async #issue(data?: Record<string, unknown>): Promise<string> {
    if (data !== undefined && (data === null || typeof data !== "object" || Array.isArray(data))) {
      throw new InvalidArgumentError("issue: data must be a plain object");
    }
    const text = json(data ?? {}, "state data");
    const state = generateState();
    const now = this.#now();
    if (!this.#migrator.ready) await this.init();
    try {
      await this.#exec.run(this.statements.insert, [state, text, now + this.#ttl]);
    } catch (e) {
      throw toStoreError(this.#name, "issue", e);
    }
    if (now - this.#lastCleanup >= this.#cleanupInterval) {
      this.#lastCleanup = now;
      // Best effort: a failed clean-up must not fail the install that issued the state.
      await this.purgeExpired().catch(() => undefined);
    }
    return state;
  }

  /**
   * Deletes up to `cleanupBatchSize` expired states (and tombstones of consumed ones); returns how many.
   * `issue` calls it at most once per `cleanupIntervalSeconds`; call it yourself from a job if you like.
   */
  purgeExpired(): Promise<number> {
    return this.#inflight.track(this.#purgeExpired());
  }

  async #purgeExpired(): Promise<number> {
    if (!this.#migrator.ready) await this.init();
    try {
      const { changes } = await this.#exec.run(this.statements.deleteExpired, [this.#now()]);
      // A full batch means there may be more: let the next issue() continue right away.
      if (changes >= this.#cleanupBatch) this.#lastCleanup = Number.NEGATIVE_INFINITY;
      return changes;
    } catch (e) {
      throw toStoreError(this.#name, "purgeExpired", e);
    }
  }

  async consume(state: string): Promise<Record<string, unknown> | undefined> {
    const r = await this.consumeDetailed(state);
    return r.ok ? r.data : undefined;
  }

  /** Like `consume`, but says why a state was refused (unknown, expired, used, malformed). */
  consumeDetailed(state: string): Promise<ConsumeResult> {
    return this.#inflight.track(this.#consumeDetailed(state));
  }

  /** What a state is right now, without consuming it (`live`, `unknown`, `expired`, `used`, `malformed`). */
  async inspect(state: string): Promise<StateStatus> {
    if (!isWellFormedState(state)) return "malformed";
    if (!this.#migrator.ready) await this.init();
    let row: SqlRow | undefined;
    try {
      row = (await this.#exec.query(this.statements.peek, [state]))[0];
    } catch (e) {
      throw toStoreError(this.#name, "inspect", e);
    }
    if (row === undefined) return "unknown";
    const [expiresAt, consumedAt] = row;
    if (consumedAt !== null && consumedAt !== undefined) return "used";
    return Number(expiresAt) <= this.#now() ? "expired" : "live";
  }

  async #consumeDetailed(state: string): Promise<ConsumeResult> {
    // Checked before any query: a malformed value never reaches the database.
    if (!isWellFormedState(state)) return { ok: false, reason: "malformed" };
    if (!this.#migrator.ready) await this.init();
    const s = this.statements;
    const now = this.#now();
    // One batch: read the row (locked FOR UPDATE where the dialect has row locks), mark it consumed if it
    // is live, or expired if it is past its lifetime; the row read says which of those happened.
    let results: SqlResult[];
    try {
      results = await this.#exec.batch([
        { sql: s.select, params: [state] },
        { sql: s.markConsumed, params: [now, state, now] },
        { sql: s.markExpired, params: [state, now] },
      ]);
    } catch (e) {
      throw toStoreError(this.#name, "consume", e);
    }
    const row = results[0]?.rows[0];
    if (row === undefined) return { ok: false, reason: "unknown" };
    const [data, expiresAt, consumedAt] = row;
    if (consumedAt !== null && consumedAt !== undefined) return { ok: false, reason: "used" };
    if (results[1]?.changes === 1) return { ok: true, data: custom(data) };
    // Once found expired, always expired (markExpired moved it to 0): a clock stepping back cannot revive it.
    if (Number(expiresAt) <= now) return { ok: false, reason: "expired" };
    // Someone else consumed it between our read and our write (databases without serialised writers).
    return { ok: false, reason: "used" };
  }
}
