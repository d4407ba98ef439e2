/**
 * What every SQL store shares around its queries: options, error mapping, option checks, migrations on
 * first use, the writes in flight, and one `close()`.
 *
 * @internal
 */
import { ConfigError, SlackOAuthError, StoreError } from "../../errors.js";
import { redact } from "../../redact.js";
import { DEFAULT_STATE_TTL_SECONDS } from "../../state/state.js";
import type { Dialect, SqlExecutor } from "./dialect.js";
import { migrate } from "./migrations.js";

/**
 * Options shared by the SQL stores.
 *
 * @example
 * ```ts
 * const options: SqlStoreOptions = { executor, dialect: sqliteDialect, tablePrefix: "myapp_" };
 * ```
 */
export interface SqlStoreOptions {
  /** The driver adapter. */
  executor: SqlExecutor;
  /** The database's dialect. */
  dialect: Dialect;
  /**
   * Table prefix, `^[a-z_][a-z0-9_]{0,30}$`.
   *
   * @default `slack_`
   */
  tablePrefix?: string | undefined;
  /** Name used in error messages (`SQLiteInstallationStore`…). */
  storeName?: string | undefined;
  /** Set to false when the schema is managed elsewhere (migrations are then never run). */
  migrate?: boolean | undefined;
  /** Start the migrations at once instead of on first use (a failure resurfaces, and is retried, on first use). */
  migrateNow?: boolean | undefined;
  /**
   * Called once by `close()`, after the migration and the writes already started have finished: end the
   * pool or close the connection the store opened. Without it, `close()` only waits.
   */
  release?: (() => Promise<void> | void) | undefined;
}

/** Turns any failure into a {@link StoreError} (our own typed errors pass through), without secrets. */
export function toStoreError(store: string, op: string, e: unknown): SlackOAuthError {
  if (e instanceof SlackOAuthError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  return new StoreError(`${store}.${op} failed: ${redact(msg)}${typeof code === "string" ? ` (${code})` : ""}`, {
    cause: e,
  });
}

const CLIENT_ID_RE = /^[\x21-\x7e]{0,128}$/;

/**
 * Validates a `clientId` option (printable ASCII, at most 128 characters); returns it, `''` when absent.
 *
 * @example
 * ```ts
 * validateClientId("1234567890.0987654321"); // "1234567890.0987654321"
 * ```
 */
export function validateClientId(clientId: unknown): string {
  if (clientId === undefined) return "";
  if (typeof clientId !== "string" || !CLIENT_ID_RE.test(clientId)) {
    throw new ConfigError("clientId must be a string of at most 128 printable ASCII characters");
  }
  return clientId;
}

/**
 * Validates a `ttlSeconds` option (a positive finite number); returns it, the default when absent.
 *
 * @example
 * ```ts
 * validateTtl(undefined); // 600
 * ```
 */
export function validateTtl(ttl: unknown): number {
  if (ttl === undefined) return DEFAULT_STATE_TTL_SECONDS;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0) {
    throw new ConfigError("ttlSeconds must be a positive number of seconds");
  }
  return ttl;
}

/** The writes in flight, so that `close()` can let them finish. */
export class InFlight {
  readonly #pending = new Set<Promise<unknown>>();
  track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p);
    const done = () => {
      this.#pending.delete(p);
    };
    p.then(done, done);
    return p;
  }
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}

/** Runs migrations once per store; a failed attempt is retried by the next call. */
export class Migrator {
  ready = false;
  #pending: Promise<void> | undefined;
  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly fail: (e: unknown) => unknown,
  ) {}
  init(): Promise<void> {
    this.#pending ??= this.run().then(
      () => {
        this.ready = true;
      },
      (e) => {
        this.#pending = undefined;
        throw this.fail(e);
      },
    );
    return this.#pending;
  }
}

/**
 * What both SQL stores share around their queries: migrations (on first use, or at once), the writes in
 * flight, and a `close()` that lets both finish before releasing the connection, once.
 */
export class StoreLifecycle {
  readonly migrator: Migrator;
  readonly inflight = new InFlight();
  /** The migration started by the constructor (`migrateNow`): `close()` waits for it, so no DDL runs after it. */
  readonly #initial: Promise<void> | undefined;
  readonly #release: (() => Promise<void> | void) | undefined;
  #closed: Promise<void> | undefined;

  /** `afterMigrate` runs once the schema is ready, as part of opening (the encryption marker is read there). */
  constructor(
    options: SqlStoreOptions,
    prefix: string,
    fail: (e: unknown) => unknown,
    afterMigrate?: () => Promise<void>,
  ) {
    const { executor, dialect } = options;
    this.migrator = new Migrator(async () => {
      if (options.migrate !== false) await migrate(executor, dialect, prefix);
      await afterMigrate?.();
    }, fail);
    this.#release = options.release;
    if (options.migrateNow === true) this.#initial = this.migrator.init().catch(() => undefined);
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#initial;
      await this.inflight.drain();
      await this.#release?.();
    })();
    return this.#closed;
  }
}

/**
 * Ends a pool the store created (`pool()` of the PostgreSQL and MySQL executors), ignoring a pool that
 * never came up.
 */
export async function endPool(executor: { pool(): Promise<{ end?: () => unknown }> }): Promise<void> {
  const pool = await executor.pool().catch(() => undefined);
  await pool?.end?.();
}

/**
 * Runs `statement` again after the database rolled it back whole (a deadlock victim, a lock wait timeout, a
 * serialization failure: `rolledBack(error)` says which errors those are), so that a retry cannot apply it
 * twice. For single statements outside a transaction; up to `maxAttempts` runs, with a short random pause
 * (up to 5 ms × attempt) so that the two sides part. Any other error, or the last attempt's, is thrown.
 */
export async function retryRolledBack<T>(
  statement: () => Promise<T>,
  rolledBack: (error: unknown) => boolean,
  maxAttempts: number,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (e) {
      if (attempt >= maxAttempts || !rolledBack(e)) throw e;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}
