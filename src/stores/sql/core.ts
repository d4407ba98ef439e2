/**
 * The one SQL implementation of {@link InstallationStore} and {@link StateStore}. SQLite, PostgreSQL and
 * MySQL stores are this core plus a {@link Dialect} and a driver adapter ({@link SqlExecutor}).
 *
 * Design notes (they hold for every dialect):
 * - "Latest" is the row with the largest auto-increment `id`. A save deletes the key's older rows and
 *   inserts a new one in one transaction (unless `historicalData`), so a re-install always gets a larger
 *   id: no upsert syntax, no clock, and two saves in the same millisecond are still ordered.
 * - Reads never depend on there being a single row per key (`ORDER BY id DESC LIMIT 1`), so a database
 *   whose transactions do not serialise writers can at worst keep a stale extra row until the next save.
 * - Key columns hold `''` for "none" (see {@link Dialect}).
 */
import { createHash } from "node:crypto";
import { ConfigError, InvalidArgumentError, SlackOAuthError, StoreError } from "../../errors.js";
import type { Bot, Installation } from "../../model/installation.js";
import { redact } from "../../redact.js";
import {
  type ConsumeResult,
  DEFAULT_STATE_TTL_SECONDS,
  generateState,
  isWellFormedState,
  type StateStatus,
  type StateStore,
} from "../../state/state.js";
import {
  assertOptionalId,
  type BotQuery,
  checkLock,
  checkTokenUpdate,
  compareWorkspaces,
  type DeleteInstallationQuery,
  type InstallationQuery,
  type InstallationStore,
  isValidId,
  type LockOptions,
  matchesWorkspaceFilter,
  normalizeQuery,
  type TokenExpectation,
  type TokenPatch,
  validateInstallation,
  type WorkspaceInstallations,
  type WorkspaceQuery,
} from "../installation-store.js";
import { KeyedMutex, lockOwner, pollForLock } from "../locks.js";
import type { Dialect, SqlExecutor, SqlRow, SqlValue } from "./dialect.js";
import { migrate, type TableNames, tableNames, validateTablePrefix } from "./migrations.js";

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
  /** Table prefix, `^[a-z_][a-z0-9_]{0,30}$` (default `slack_`). */
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

/**
 * Options of {@link SqlInstallationStore}.
 *
 * @example
 * ```ts
 * new SqlInstallationStore({ executor, dialect: sqliteDialect, clientId: "111.222", historicalData: true });
 * ```
 */
export interface SqlInstallationStoreOptions extends SqlStoreOptions {
  /** Keeps several apps' installations apart in the same tables (default `''`). */
  clientId?: string | undefined;
  /** Keep one row per save instead of only the latest per key (default false). */
  historicalData?: boolean | undefined;
}

/**
 * Options of {@link SqlStateStore}.
 *
 * @example
 * ```ts
 * new SqlStateStore({ executor, dialect: sqliteDialect, ttlSeconds: 300, clock: () => Date.now() });
 * ```
 */
export interface SqlStateStoreOptions extends SqlStoreOptions {
  /** Lifetime of a state in seconds (default 600). */
  ttlSeconds?: number | undefined;
  /** Returns now in epoch milliseconds, like `Date.now` (the default); injectable for tests. */
  clock?: (() => number) | undefined;
  /** Minimum seconds between two clean-ups of expired states run by `issue` (default 60). */
  cleanupIntervalSeconds?: number | undefined;
  /** Most expired rows deleted per clean-up, so `issue` stays fast (default 1000). */
  cleanupBatchSize?: number | undefined;
}

/** Turns any failure into a {@link StoreError} (our own typed errors pass through), without secrets. */
function toStoreError(store: string, op: string, e: unknown): SlackOAuthError {
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
class InFlight {
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
class Migrator {
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
class StoreLifecycle {
  readonly migrator: Migrator;
  readonly inflight = new InFlight();
  /** The migration started by the constructor (`migrateNow`): `close()` waits for it, so no DDL runs after it. */
  readonly #initial: Promise<void> | undefined;
  readonly #release: (() => Promise<void> | void) | undefined;
  #closed: Promise<void> | undefined;

  constructor(options: SqlStoreOptions, prefix: string, fail: (e: unknown) => unknown) {
    const { executor, dialect } = options;
    this.migrator = new Migrator(
      () => (options.migrate === false ? Promise.resolve() : migrate(executor, dialect, prefix)),
      fail,
    );
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

function str(v: unknown): string | undefined {
  return v === null || v === undefined ? undefined : String(v);
}
function key(v: unknown): string | undefined {
  return v === null || v === undefined || v === "" ? undefined : String(v);
}
function num(v: unknown): number | undefined {
  return v === null || v === undefined ? undefined : Number(v);
}
function scopes(v: unknown): string[] {
  if (v === null || v === undefined || v === "" || v === "[]") return [];
  const parsed: unknown = JSON.parse(String(v));
  return Array.isArray(parsed) ? parsed.map(String) : [];
}
function custom(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined || v === "" || v === "{}") return {};
  const parsed: unknown = JSON.parse(String(v));
  return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : {};
}
function set(o: Record<string, unknown>, k: string, v: unknown): void {
  if (v !== undefined) o[k] = v;
}
function json(v: unknown, field: string): string {
  try {
    return JSON.stringify(v);
  } catch (e) {
    throw new InvalidArgumentError(`${field} must be JSON-serialisable`, { cause: e });
  }
}

/** Columns of the bot part, in insert order (installations and bots tables share them). */
const BOT_COLUMNS = [
  "client_id",
  "app_id",
  "enterprise_id",
  "enterprise_name",
  "enterprise_url",
  "team_id",
  "team_name",
  "bot_token",
  "bot_id",
  "bot_user_id",
  "bot_scopes",
  "bot_refresh_token",
  "bot_token_expires_at",
  "is_enterprise_install",
  "installed_at",
  "custom_values",
] as const;
const USER_COLUMNS = [
  "user_id",
  "user_token",
  "user_scopes",
  "user_refresh_token",
  "user_token_expires_at",
  "incoming_webhook_url",
  "incoming_webhook_channel",
  "incoming_webhook_channel_id",
  "incoming_webhook_configuration_url",
  "token_type",
] as const;
const INSTALLATION_COLUMNS = [...BOT_COLUMNS, ...USER_COLUMNS];

/** What `findBot` selects; rowToBot reads it by index. */
const BOT_SELECT = BOT_COLUMNS.slice(1);
/** The six fields that `findInstallation` takes from the latest bot. */
const LATEST_BOT_COLUMNS = [
  "bot_token",
  "bot_id",
  "bot_user_id",
  "bot_scopes",
  "bot_refresh_token",
  "bot_token_expires_at",
] as const;
/** What `findInstallation` selects from the installation row (then the LATEST_BOT_COLUMNS of the latest bot). */
const INSTALLATION_SELECT = [
  "app_id",
  "enterprise_id",
  "enterprise_name",
  "enterprise_url",
  "team_id",
  "team_name",
  "is_enterprise_install",
  "installed_at",
  "custom_values",
  ...USER_COLUMNS,
] as const;

function botParams(clientId: string, i: Installation): SqlValue[] {
  return [
    clientId,
    i.appId ?? null,
    i.enterpriseId ?? "",
    i.enterpriseName ?? null,
    i.enterpriseUrl ?? null,
    i.isEnterpriseInstall ? "" : (i.teamId ?? ""),
    i.teamName ?? null,
    i.botToken ?? null,
    i.botId ?? null,
    i.botUserId ?? null,
    json(i.botScopes, "installation.botScopes"),
    i.botRefreshToken ?? null,
    i.botTokenExpiresAt ?? null,
    i.isEnterpriseInstall ? 1 : 0,
    i.installedAt,
    json(i.customValues, "installation.customValues"),
  ];
}

function installationParams(clientId: string, i: Installation): SqlValue[] {
  const p = botParams(clientId, i);
  // The bot's secrets live in the bots table only: an installation row never keeps a copy (bot fields of
  // `findInstallation` always come from the latest bot), so there is one place to rotate, re-key or delete.
  p[7] = null; // bot_token
  p[11] = null; // bot_refresh_token
  p.push(
    i.userId,
    i.userToken ?? null,
    json(i.userScopes, "installation.userScopes"),
    i.userRefreshToken ?? null,
    i.userTokenExpiresAt ?? null,
    i.incomingWebhookUrl ?? null,
    i.incomingWebhookChannel ?? null,
    i.incomingWebhookChannelId ?? null,
    i.incomingWebhookConfigurationUrl ?? null,
    i.tokenType ?? null,
  );
  return p;
}

/** A row of {@link BOT_SELECT} → {@link Bot}; `undefined` for no row. */
function rowToBot(r: SqlRow | undefined): Bot | undefined {
  if (r === undefined) return undefined;
  const b: Record<string, unknown> = {};
  set(b, "appId", str(r[0]));
  set(b, "enterpriseId", key(r[1]));
  set(b, "enterpriseName", str(r[2]));
  set(b, "enterpriseUrl", str(r[3]));
  set(b, "teamId", key(r[4]));
  set(b, "teamName", str(r[5]));
  b.botToken = String(r[6]);
  set(b, "botId", str(r[7]));
  set(b, "botUserId", str(r[8]));
  b.botScopes = scopes(r[9]);
  set(b, "botRefreshToken", str(r[10]));
  set(b, "botTokenExpiresAt", num(r[11]));
  b.isEnterpriseInstall = Number(r[12]) === 1;
  b.installedAt = Number(r[13]);
  b.customValues = custom(r[14]);
  return b as unknown as Bot;
}

/**
 * A row of {@link INSTALLATION_SELECT} + {@link LATEST_BOT_COLUMNS} → {@link Installation}. The bot
 * fields come from the latest bot — a later user-only install never hides it — and are absent when the
 * workspace has no bot any more (deleted or revoked): a deleted bot's token is never handed out.
 */
function rowToInstallation(r: SqlRow | undefined): Installation | undefined {
  if (r === undefined) return undefined;
  const i: Record<string, unknown> = {};
  set(i, "appId", str(r[0]));
  set(i, "enterpriseId", key(r[1]));
  set(i, "enterpriseName", str(r[2]));
  set(i, "enterpriseUrl", str(r[3]));
  set(i, "teamId", key(r[4]));
  set(i, "teamName", str(r[5]));
  const hasBot = r[19] !== null && r[19] !== undefined;
  if (hasBot) {
    i.botToken = String(r[19]);
    set(i, "botId", str(r[20]));
    set(i, "botUserId", str(r[21]));
  }
  i.botScopes = hasBot ? scopes(r[22]) : [];
  if (hasBot) {
    set(i, "botRefreshToken", str(r[23]));
    set(i, "botTokenExpiresAt", num(r[24]));
  }
  i.userId = String(r[9]);
  set(i, "userToken", str(r[10]));
  i.userScopes = scopes(r[11]);
  set(i, "userRefreshToken", str(r[12]));
  set(i, "userTokenExpiresAt", num(r[13]));
  set(i, "incomingWebhookUrl", str(r[14]));
  set(i, "incomingWebhookChannel", str(r[15]));
  set(i, "incomingWebhookChannelId", str(r[16]));
  set(i, "incomingWebhookConfigurationUrl", str(r[17]));
  i.isEnterpriseInstall = Number(r[6]) === 1;
  set(i, "tokenType", str(r[18]));
  i.installedAt = Number(r[7]);
  i.customValues = custom(r[8]);
  return i as unknown as Installation;
}

/**
 * The SQL texts a {@link SqlInstallationStore} runs (already finalized for its dialect).
 *
 * @example
 * ```ts
 * db.prepare(`EXPLAIN QUERY PLAN ${store.statements.findBot}`).all("", "", "T123");
 * ```
 */
export interface InstallationStoreStatements {
  insertInstallation: string;
  insertBot: string;
  findBot: string;
  findInstallation: string;
  findUserInstallation: string;
  deleteBot: string;
  deleteInstallations: string;
  deleteUserInstallations: string;
}

function installationStatements(d: Dialect, t: TableNames): InstallationStoreStatements {
  const q = d.quoteId;
  const inst = q(t.installations);
  const bots = q(t.bots);
  const ws = "client_id = ? AND enterprise_id = ? AND team_id = ?";
  const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ");
  const latestBot = `SELECT id, ${LATEST_BOT_COLUMNS.join(", ")} FROM ${bots} WHERE ${ws} ORDER BY id DESC LIMIT 1`;
  const findInstallation = (byUser: boolean) =>
    `SELECT ${INSTALLATION_SELECT.map((c) => `i.${c}`).join(", ")}, ` +
    `${LATEST_BOT_COLUMNS.map((c) => `b.${c} AS latest_${c}`).join(", ")} ` +
    `FROM ${inst} i LEFT JOIN (${latestBot}) b ON 1 = 1 ` +
    `WHERE i.client_id = ? AND i.enterprise_id = ? AND i.team_id = ?${byUser ? " AND i.user_id = ?" : ""} ` +
    "ORDER BY i.id DESC LIMIT 1";
  const s: InstallationStoreStatements = {
    insertInstallation: `INSERT INTO ${inst} (${INSTALLATION_COLUMNS.join(", ")}) VALUES (${placeholders(INSTALLATION_COLUMNS.length)})`,
    insertBot: `INSERT INTO ${bots} (${BOT_COLUMNS.join(", ")}) VALUES (${placeholders(BOT_COLUMNS.length)})`,
    findBot: `SELECT ${BOT_SELECT.join(", ")} FROM ${bots} WHERE ${ws} ORDER BY id DESC LIMIT 1`,
    findInstallation: findInstallation(false),
    findUserInstallation: findInstallation(true),
    deleteBot: `DELETE FROM ${bots} WHERE ${ws}`,
    deleteInstallations: `DELETE FROM ${inst} WHERE ${ws}`,
    deleteUserInstallations: `DELETE FROM ${inst} WHERE ${ws} AND user_id = ?`,
  };
  for (const k of Object.keys(s) as (keyof InstallationStoreStatements)[]) s[k] = d.finalize(s[k]);
  return s;
}

/**
 * {@link InstallationStore} over any SQL database: the logic behind `SQLiteInstallationStore` (and the
 * PostgreSQL and MySQL stores). Semantics are those of every store (see {@link InstallationStore}).
 *
 * @example
 * ```ts
 * const store = new SqlInstallationStore({ executor, dialect: sqliteDialect, clientId: "111.222" });
 * await store.save(installation);
 * const bot = await store.findBot({ teamId: "T123" });
 * ```
 */
export class SqlInstallationStore implements InstallationStore {
  /** The SQL this store runs (for tests and `EXPLAIN`). */
  readonly statements: InstallationStoreStatements;
  /** The table names in use. */
  readonly tables: TableNames;
  readonly #exec: SqlExecutor;
  readonly #clientId: string;
  readonly #historical: boolean;
  readonly #name: string;
  readonly #life: StoreLifecycle;
  readonly #migrator: Migrator;
  readonly #inflight: InFlight;
  readonly #dialectQuote: (id: string) => string;
  readonly #finalize: (sql: string) => string;
  readonly #dialect: Dialect;
  readonly #locksTable: string;
  readonly #keyLocks = new KeyedMutex();
  #locksReady: Promise<void> | undefined;

  constructor(options: SqlInstallationStoreOptions) {
    const prefix = validateTablePrefix(options.tablePrefix);
    const clientId = validateClientId(options.clientId);
    this.#exec = options.executor;
    this.#clientId = clientId;
    this.#historical = options.historicalData === true;
    this.#name = options.storeName ?? "SqlInstallationStore";
    this.tables = tableNames(prefix);
    this.statements = installationStatements(options.dialect, this.tables);
    const dialect = options.dialect;
    this.#dialect = dialect;
    this.#locksTable = `${prefix}locks`;
    this.#dialectQuote = (id) => dialect.quoteId(id);
    this.#finalize = (sql) => dialect.finalize(sql);
    this.#life = new StoreLifecycle(options, prefix, (e) => this.#fail("migrate", e));
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

  #fail(op: string, e: unknown): SlackOAuthError {
    return toStoreError(this.#name, op, e);
  }

  /**
   * The key of a query: `[clientId, enterpriseId, teamId]`, plus `userId` when `withUser` and the query
   * has one. Org-wide lookups (`isEnterpriseInstall`) use `''` as the team, whatever `teamId` says.
   * Same validation as {@link normalizeQuery}; well-formed queries take a fast path (this is the hot
   * path of every Slack request), anything else goes through `normalizeQuery` for its exact behaviour.
   */
  #key(q: InstallationQuery, op: string, withUser: boolean): SqlValue[] {
    if (q !== null && typeof q === "object") {
      const { enterpriseId: e, teamId: t, userId: u, isEnterpriseInstall: f } = q;
      if (
        (e === undefined || isValidId(e)) &&
        (t === undefined || isValidId(t)) &&
        (u === undefined || isValidId(u)) &&
        (e !== undefined || t !== undefined)
      ) {
        const user = withUser && u !== undefined;
        if (f === true && e !== undefined) return user ? [this.#clientId, e, "", u] : [this.#clientId, e, ""];
        if (f === undefined || f === false) {
          return user ? [this.#clientId, e ?? "", t ?? "", u] : [this.#clientId, e ?? "", t ?? ""];
        }
      }
    }
    const n = normalizeQuery(q, op);
    const key: SqlValue[] = [this.#clientId, n.enterpriseId ?? "", n.isEnterpriseInstall ? "" : (n.teamId ?? "")];
    if (withUser && n.userId !== undefined) key.push(n.userId);
    return key;
  }

  /** First row of `sql` mapped by `map`: synchronously when the driver allows it (one promise per call). */
  #first<T>(op: string, sql: string, params: readonly SqlValue[], map: (r: SqlRow | undefined) => T): Promise<T> {
    const reader = this.#exec.syncReader?.();
    if (reader !== undefined) {
      try {
        return Promise.resolve(map(reader.first(sql, params)));
      } catch (e) {
        return Promise.reject(this.#fail(op, e));
      }
    }
    return this.#exec.query(sql, params).then(
      (rows) => map(rows[0]),
      (e) => {
        throw this.#fail(op, e);
      },
    );
  }

  /** Saves an installation (and its bot, if it has one) in one transaction. */
  save(installation: Installation): Promise<void> {
    return this.#inflight.track(this.#save(installation));
  }

  async #save(installation: Installation): Promise<void> {
    const i = validateInstallation(installation);
    const instParams = installationParams(this.#clientId, i);
    const botParamList = i.botToken ? botParams(this.#clientId, i) : undefined;
    if (!this.#migrator.ready) await this.init();
    const s = this.statements;
    const ws: SqlValue[] = [this.#clientId, i.enterpriseId ?? "", i.isEnterpriseInstall ? "" : (i.teamId ?? "")];
    try {
      await this.#exec.transaction(async (tx) => {
        if (!this.#historical) await tx.run(s.deleteUserInstallations, [...ws, i.userId]);
        await tx.run(s.insertInstallation, instParams);
        if (botParamList !== undefined) {
          if (!this.#historical) await tx.run(s.deleteBot, ws);
          await tx.run(s.insertBot, botParamList);
        }
      });
    } catch (e) {
      throw this.#fail("save", e);
    }
  }

  findBot(query: BotQuery): Promise<Bot | undefined> {
    if (!this.#migrator.ready) return this.init().then(() => this.findBot(query));
    let params: SqlValue[];
    try {
      params = this.#key(query, "findBot", false);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#first("findBot", this.statements.findBot, params, rowToBot);
  }

  findInstallation(query: InstallationQuery): Promise<Installation | undefined> {
    if (!this.#migrator.ready) return this.init().then(() => this.findInstallation(query));
    let params: SqlValue[];
    let sql: string;
    try {
      const k = this.#key(query, "findInstallation", true);
      // The latest-bot sub-select comes first in the SQL text: its workspace key, then the installation's.
      params = [k[0] ?? "", k[1] ?? "", k[2] ?? "", ...k];
      sql = k.length === 4 ? this.statements.findUserInstallation : this.statements.findInstallation;
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#first("findInstallation", sql, params, rowToInstallation);
  }

  /**
   * Lists every workspace (and org) of this store's client id: its latest bot and the latest installation
   * of each user, newest first. Reads everything: for admin tools and rotation, not for requests.
   */
  async listWorkspaces(filter?: WorkspaceQuery): Promise<WorkspaceInstallations[]> {
    if (filter !== undefined) {
      assertOptionalId(filter.enterpriseId, "enterpriseId");
      assertOptionalId(filter.teamId, "teamId");
    }
    if (!this.#migrator.ready) await this.init();
    const q = this.#dialectQuote;
    const inst = q(this.tables.installations);
    const bots = q(this.tables.bots);
    let keys: SqlRow[];
    try {
      keys = await this.#exec.query(
        this.#finalize(
          `SELECT enterprise_id, team_id FROM ${bots} WHERE client_id = ? UNION SELECT enterprise_id, team_id FROM ${inst} WHERE client_id = ?`,
        ),
        [this.#clientId, this.#clientId],
      );
    } catch (e) {
      throw this.#fail("listWorkspaces", e);
    }
    const out: WorkspaceInstallations[] = [];
    for (const row of keys) {
      const e = typeof row[0] === "string" && row[0] !== "" ? row[0] : undefined;
      const t = typeof row[1] === "string" && row[1] !== "" ? row[1] : undefined;
      const head: WorkspaceInstallations = { isEnterpriseInstall: t === undefined, installations: [] };
      if (e !== undefined) head.enterpriseId = e;
      if (t !== undefined) head.teamId = t;
      if (!matchesWorkspaceFilter(head, filter)) continue;
      const where = { enterpriseId: e, teamId: t, isEnterpriseInstall: t === undefined };
      const bot = await this.findBot(where);
      if (bot) head.bot = bot;
      let users: SqlRow[];
      try {
        users = await this.#exec.query(
          this.#finalize(
            `SELECT user_id, MAX(id) AS latest FROM ${inst} WHERE client_id = ? AND enterprise_id = ? AND team_id = ? GROUP BY user_id ORDER BY latest DESC`,
          ),
          [this.#clientId, e ?? "", t ?? ""],
        );
      } catch (err) {
        throw this.#fail("listWorkspaces", err);
      }
      for (const u of users) {
        if (typeof u[0] !== "string") continue;
        const found = await this.findInstallation({ ...where, userId: u[0] });
        if (found) head.installations.push(found);
      }
      if (head.bot === undefined && head.installations.length === 0) continue;
      out.push(head);
    }
    return out.sort(compareWorkspaces);
  }

  /**
   * Token rotation: in one transaction, reads the workspace's latest bot row and/or the user's latest
   * installation row (`FOR UPDATE` where the dialect has row locks), compares the `expect`ed values, and
   * `UPDATE`s only the patched columns of those rows by id: no row is inserted or deleted, so which row
   * is "latest" never changes and no other user's row is touched.
   */
  updateTokens(query: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean> {
    return this.#inflight.track(this.#updateTokens(query, patch, expect));
  }

  async #updateTokens(query: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean> {
    const { q, bot, user } = checkTokenUpdate(query, patch, expect);
    const k = this.#key(q, "updateTokens", true);
    if (!this.#migrator.ready) await this.init();
    const quote = this.#dialectQuote;
    const forUpdate = this.#dialect.forUpdate;
    const ws = "client_id = ? AND enterprise_id = ? AND team_id = ?";
    const checkBot = bot !== undefined || expect?.botToken !== undefined || expect?.botRefreshToken !== undefined;
    const checkUser = user !== undefined || expect?.userToken !== undefined || expect?.userRefreshToken !== undefined;
    const set = (p: TokenPatch, cols: Record<string, string>): { sql: string; params: SqlValue[] } => {
      const parts: string[] = [];
      const params: SqlValue[] = [];
      for (const [field, column] of Object.entries(cols)) {
        const v = (p as Record<string, unknown>)[field];
        if (v === undefined) continue;
        parts.push(`${column} = ?`);
        params.push(Array.isArray(v) ? json(v, field) : (v as SqlValue));
      }
      return { sql: parts.join(", "), params };
    };
    try {
      return await this.#exec.transaction(async (tx) => {
        let botRow: SqlRow | undefined;
        let userRow: SqlRow | undefined;
        if (checkBot) {
          botRow = (
            await tx.query(
              this.#finalize(
                `SELECT id, bot_token, bot_refresh_token FROM ${quote(this.tables.bots)} WHERE ${ws} ORDER BY id DESC LIMIT 1${forUpdate}`,
              ),
              k.slice(0, 3),
            )
          )[0];
          if (botRow === undefined) return false;
          if (expect?.botToken !== undefined && str(botRow[1]) !== expect.botToken) return false;
          if (expect?.botRefreshToken !== undefined && str(botRow[2]) !== expect.botRefreshToken) return false;
        }
        if (checkUser) {
          userRow = (
            await tx.query(
              this.#finalize(
                `SELECT id, user_token, user_refresh_token FROM ${quote(this.tables.installations)} WHERE ${ws} AND user_id = ? ORDER BY id DESC LIMIT 1${forUpdate}`,
              ),
              k,
            )
          )[0];
          if (userRow === undefined) return false;
          if (expect?.userToken !== undefined && str(userRow[1]) !== expect.userToken) return false;
          if (expect?.userRefreshToken !== undefined && str(userRow[2]) !== expect.userRefreshToken) return false;
        }
        if (bot !== undefined && botRow !== undefined) {
          const u = set(bot, {
            botToken: "bot_token",
            botRefreshToken: "bot_refresh_token",
            botTokenExpiresAt: "bot_token_expires_at",
            botScopes: "bot_scopes",
          });
          await tx.run(this.#finalize(`UPDATE ${quote(this.tables.bots)} SET ${u.sql} WHERE id = ?`), [
            ...u.params,
            botRow[0] as SqlValue,
          ]);
          // Installation rows written by older versions kept a copy of the bot's secrets that is never read
          // (bot fields always come from the bots table): drop it, so no stale token (or a token under an
          // old encryption key) lingers after a rotation or a rekey.
          await tx.run(
            this.#finalize(
              `UPDATE ${quote(this.tables.installations)} SET bot_token = NULL, bot_refresh_token = NULL WHERE ${ws} AND bot_token IS NOT NULL`,
            ),
            k.slice(0, 3),
          );
        }
        if (user !== undefined && userRow !== undefined) {
          const u = set(user, {
            userToken: "user_token",
            userRefreshToken: "user_refresh_token",
            userTokenExpiresAt: "user_token_expires_at",
            userScopes: "user_scopes",
          });
          await tx.run(this.#finalize(`UPDATE ${quote(this.tables.installations)} SET ${u.sql} WHERE id = ?`), [
            ...u.params,
            userRow[0] as SqlValue,
          ]);
        }
        return true;
      });
    } catch (e) {
      throw this.#fail("updateTokens", e);
    }
  }

  /**
   * Runs `fn` holding the lock `key`, across every process (and host) sharing the database: a lease row
   * in `<prefix>locks` (created on first use), taken in a short transaction — SQLite's `BEGIN IMMEDIATE`
   * serialises it, other dialects read the row `FOR UPDATE` and a racing `INSERT` loses on the primary
   * key — and deleted when `fn` settles. No transaction stays open while `fn` runs (a refresh is an HTTP
   * call: holding SQLite's write lock that long would stall every writer). A lease past `leaseMs`
   * belongs to a dead holder and is taken over. Callers of one process queue in memory first.
   *
   * PostgreSQL and MySQL stores may instead use advisory locks (`pg_advisory_lock`, `GET_LOCK`) on a
   * dedicated connection; the contract is the same.
   */
  async withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    const { timeoutMs, leaseMs } = checkLock(key, options);
    const deadline = Date.now() + timeoutMs;
    // One fixed-length name per (client id, key): fits any key column, and apps sharing tables never collide.
    const name = createHash("sha256").update(`${this.#clientId}\n${key}`).digest("hex");
    return this.#keyLocks.run(
      key,
      async () => {
        await this.#ensureLocksTable();
        const owner = lockOwner();
        await pollForLock(() => this.#tryLease(name, owner, leaseMs), deadline, key, timeoutMs);
        try {
          return await fn();
        } finally {
          await this.#exec
            .run(this.#finalize(`DELETE FROM ${this.#dialectQuote(this.#locksTable)} WHERE name = ? AND owner = ?`), [
              name,
              owner,
            ])
            .catch(() => undefined); // the lease expires on its own
        }
      },
      timeoutMs,
    );
  }

  async #tryLease(name: string, owner: string, leaseMs: number): Promise<boolean> {
    const table = this.#dialectQuote(this.#locksTable);
    const now = Date.now() / 1000;
    try {
      return await this.#exec.transaction(async (tx) => {
        const row = (
          await tx.query(
            this.#finalize(`SELECT owner, expires_at FROM ${table} WHERE name = ?${this.#dialect.forUpdate}`),
            [name],
          )
        )[0];
        if (row === undefined) {
          await tx.run(this.#finalize(`INSERT INTO ${table} (name, owner, expires_at) VALUES (?, ?, ?)`), [
            name,
            owner,
            now + leaseMs / 1000,
          ]);
          return true;
        }
        if (Number(row[1]) > now) return false;
        const { changes } = await tx.run(
          this.#finalize(`UPDATE ${table} SET owner = ?, expires_at = ? WHERE name = ? AND owner = ?`),
          [owner, now + leaseMs / 1000, name, String(row[0])],
        );
        return changes === 1;
      });
    } catch (e) {
      // Dialects without serialised writers: a concurrent INSERT of the same name fails on the primary
      // key. That is "someone else got it"; anything persistent fails again and surfaces at the deadline.
      if (this.#dialect.forUpdate !== "") return false;
      throw this.#fail("withLock", e);
    }
  }

  #ensureLocksTable(): Promise<void> {
    this.#locksReady ??= (async () => {
      if (!this.#migrator.ready) await this.init();
      const d = this.#dialect;
      // Created on first use, outside the versioned migrations: an app that never rotates never has it,
      // and the schema version stays the same. IF NOT EXISTS makes it safe from several processes.
      for (const sql of d.createTable({
        name: this.#locksTable,
        columns: [
          { name: "name", type: "key", length: 64 },
          { name: "owner", type: "string", length: 64, notNull: true },
          { name: "expires_at", type: "double", notNull: true },
        ],
        primaryKey: ["name"],
      })) {
        await this.#exec.run(d.finalize(sql), []);
      }
    })().catch((e) => {
      this.#locksReady = undefined;
      throw this.#fail("withLock", e);
    });
    return this.#locksReady;
  }

  /** Deletes the bot rows of a workspace (or org). */
  deleteBot(query: WorkspaceQuery): Promise<void> {
    return this.#inflight.track(this.#deleteBot(query));
  }

  async #deleteBot(query: WorkspaceQuery): Promise<void> {
    const ws = this.#key(query, "deleteBot", false);
    if (!this.#migrator.ready) await this.init();
    try {
      await this.#exec.run(this.statements.deleteBot, ws);
    } catch (e) {
      throw this.#fail("deleteBot", e);
    }
  }

  /** Deletes a workspace's installations, or only one user's with `userId`; never the bot. */
  deleteInstallation(query: DeleteInstallationQuery): Promise<void> {
    return this.#inflight.track(this.#deleteInstallation(query));
  }

  async #deleteInstallation(query: DeleteInstallationQuery): Promise<void> {
    const k = this.#key(query, "deleteInstallation", true);
    if (!this.#migrator.ready) await this.init();
    try {
      await this.#exec.run(
        k.length === 4 ? this.statements.deleteUserInstallations : this.statements.deleteInstallations,
        k,
      );
    } catch (e) {
      throw this.#fail("deleteInstallation", e);
    }
  }

  /** Deletes a workspace's installations and bots in one transaction. */
  deleteAll(query: WorkspaceQuery): Promise<void> {
    return this.#inflight.track(this.#deleteAll(query));
  }

  async #deleteAll(query: WorkspaceQuery): Promise<void> {
    const ws = this.#key(query, "deleteAll", false);
    if (!this.#migrator.ready) await this.init();
    try {
      await this.#exec.transaction(async (tx) => {
        await tx.run(this.statements.deleteInstallations, ws);
        await tx.run(this.statements.deleteBot, ws);
      });
    } catch (e) {
      throw this.#fail("deleteAll", e);
    }
  }
}

/**
 * The SQL texts a {@link SqlStateStore} runs (already finalized for its dialect).
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
 * `consume` is atomic and one-time in every dialect: inside a transaction it reads the row, then
 * `UPDATE … SET consumed_at = ?, data = NULL WHERE state = ? AND consumed_at IS NULL AND expires_at > ?`;
 * only the caller whose UPDATE changed the row gets the data (two racing transactions cannot both
 * change it). The consumed row stays as a tombstone, without its data, until it would have expired, so
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
    const prefix = validateTablePrefix(options.tablePrefix);
    const ttl = validateTtl(options.ttlSeconds);
    this.#exec = options.executor;
    this.#ttl = ttl;
    const clock = options.clock ?? Date.now;
    this.#now = () => clock() / 1000;
    this.#name = options.storeName ?? "SqlStateStore";
    this.#cleanupInterval = options.cleanupIntervalSeconds ?? 60;
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
      markExpired: d.finalize(`UPDATE ${st} SET expires_at = 0, data = NULL WHERE state = ? AND consumed_at IS NULL`),
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

  /** Like {@link SqlStateStore.consume}, but says why a state was refused (unknown, expired, used, malformed). */
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
    let result: ConsumeResult;
    try {
      result = await this.#exec.transaction(async (tx): Promise<ConsumeResult> => {
        const row = (await tx.query(s.select, [state]))[0];
        if (row === undefined) return { ok: false, reason: "unknown" };
        const [data, expiresAt, consumedAt] = row;
        if (consumedAt !== null && consumedAt !== undefined) return { ok: false, reason: "used" };
        if (Number(expiresAt) <= now) {
          // Once found expired, always expired: a clock stepping back must not bring it back to life.
          await tx.run(s.markExpired, [state]);
          return { ok: false, reason: "expired" };
        }
        const { changes } = await tx.run(s.markConsumed, [now, state, now]);
        // Someone else consumed it between our read and our write (databases without serialised writers).
        if (changes !== 1) return { ok: false, reason: "used" };
        return { ok: true, data: custom(data) };
      });
    } catch (e) {
      throw toStoreError(this.#name, "consume", e);
    }
    return result;
  }
}
