/**
 * {@link SqlInstallationStore}: the one SQL implementation of {@link InstallationStore}. SQLite,
 * PostgreSQL, MySQL and Bun's SQLite stores are this class plus a {@link Dialect} and an executor.
 *
 * Design notes (they hold for every dialect):
 * - "Latest" is the row with the largest auto-increment `id`. A save deletes the key's older rows and
 *   inserts a new one in one batch (unless `historicalData`), so a re-install always gets a larger id: no
 *   upsert syntax, no clock, and two saves in the same millisecond are still ordered.
 * - Reads never depend on there being a single row per key (`ORDER BY id DESC LIMIT 1`), so a database
 *   whose transactions do not serialise writers can at worst keep a stale extra row until the next save.
 * - Every write is one statement or one batch known in full before it runs (no interactive transaction),
 *   so an executor over a database with only `batch()` (Cloudflare D1) can run it.
 * - Key columns hold `''` for "none" (see {@link Dialect}).
 */
import { createHash } from "node:crypto";
import type { SlackOAuthError } from "../../errors.js";
import type { Bot, Installation } from "../../model/installation.js";
import { EncryptionGuard, type EncryptionMarker } from "../encryption-marker.js";
import {
  checkExpiringQuery,
  checkHealthWrite,
  compareExpiring,
  compareHealth,
  type ExpiringToken,
  type HealthEntry,
  type HealthTokenKind,
  isHealthStatus,
  place,
  type TokenHealth,
} from "../health.js";
import {
  type BotQuery,
  checkEnterpriseId,
  checkLock,
  checkTeamAccessChange,
  checkTokenUpdate,
  compareWorkspaces,
  type DeleteInstallationQuery,
  type InstallationQuery,
  type InstallationStore,
  isValidId,
  type LockOptions,
  normalizeQuery,
  type TeamAccess,
  type TeamAccessChange,
  type TokenExpectation,
  type TokenPatch,
  validateInstallation,
  type WorkspaceInstallations,
  type WorkspaceQuery,
} from "../installation-store.js";
import { KeyedMutex, lockOwner, pollForLock } from "../locks.js";
import { checkListFilter, workspaceHead } from "../records.js";
import type {
  Dialect,
  SqlExecutor,
  SqlRow,
  SqlStatement,
  SqlValue,
  SyncKeyedRead,
  SyncKeyedValueRead,
  SyncSqlReader,
} from "./dialect.js";
import {
  type InFlight,
  type Migrator,
  type SqlStoreOptions,
  StoreLifecycle,
  toStoreError,
  validateClientId,
} from "./lifecycle.js";
import { type TableNames, tableNames, validateTablePrefix } from "./migrations.js";
import {
  BOT_COLUMNS,
  BOT_SELECT,
  botParams,
  INSTALLATION_COLUMNS,
  INSTALLATION_SELECT,
  installationParams,
  json,
  LATEST_BOT_COLUMNS,
  LATEST_IN_BOT_SELECT,
  packedRowToInstallation,
  rowToBot,
  rowToInstallation,
  UNPACKABLE,
  unpackBotRow,
} from "./rows.js";

/**
 * Team ids per statement of `updateTeamAccess`: 5 parameters each in the INSERT, which stays under
 * Cloudflare D1's 100 bound parameters per statement (the strictest of the SQL backends).
 */
const TEAM_ACCESS_CHUNK = 19;

/** The workspace key of every table: client, enterprise and team (`''` for none). */
const WORKSPACE = "client_id = ? AND enterprise_id = ? AND team_id = ?";
/** Name prefix of the encryption marker's rows in the `meta` table. */
const MARKER_PREFIX = "encryption-key:";

/** A token field, as `rewriteStoredTokens` of the SQL installation stores names it. */
export type StoredTokenField = "botToken" | "botRefreshToken" | "userToken" | "userRefreshToken";

/**
 * The callback of `rewriteStoredTokens` (SQL installation stores): a stored token value, where it belongs
 * (`''` for no enterprise, an org-wide row's team, a bot row's user) and its field; returns the value to
 * store instead, or `undefined` to leave it.
 *
 * @example
 * ```ts
 * const keep: StoredTokenRewrite = () => undefined;
 * ```
 */
export type StoredTokenRewrite = (
  value: string,
  owner: { enterpriseId: string; teamId: string; userId: string },
  field: StoredTokenField,
) => string | undefined;

const TOKEN_FIELD_OF: Readonly<Record<string, StoredTokenField>> = {
  bot_token: "botToken",
  bot_refresh_token: "botRefreshToken",
  user_token: "userToken",
  user_refresh_token: "userRefreshToken",
};

/** {@link botKey}: an org-wide key (team `''`). */
const ORG = 2;
/** {@link botKey}: a workspace key. */
const WORKSPACE_KEY = 1;

/**
 * The fast path of a `findBot` key: {@link WORKSPACE_KEY} or {@link ORG} when the query is well formed
 * (the checks of {@link normalizeQuery} that such a query passes), `undefined` for anything else (then
 * `normalizeQuery` decides, with its exact errors).
 */
function botKey(e: unknown, t: unknown, u: unknown, f: unknown): typeof ORG | typeof WORKSPACE_KEY | undefined {
  if (
    (e === undefined || isValidId(e)) &&
    (t === undefined || isValidId(t)) &&
    (u === undefined || isValidId(u)) &&
    (e !== undefined || t !== undefined)
  ) {
    if (f === true && e !== undefined) return ORG;
    if (f === undefined || f === false) return WORKSPACE_KEY;
  }
  return undefined;
}

/** The columns `updateTokens` may set, per patch field. */
const BOT_TOKEN_COLUMNS: Readonly<Record<string, string>> = {
  botToken: "bot_token",
  botRefreshToken: "bot_refresh_token",
  botTokenExpiresAt: "bot_token_expires_at",
  botScopes: "bot_scopes",
};
const USER_TOKEN_COLUMNS: Readonly<Record<string, string>> = {
  userToken: "user_token",
  userRefreshToken: "user_refresh_token",
  userTokenExpiresAt: "user_token_expires_at",
  userScopes: "user_scopes",
};

/** A `SET` list and its parameters. */
interface Assignments {
  sql: string;
  params: SqlValue[];
}

/** `col = ?, …` for the fields of `patch` that have a column; `undefined` when there is none. */
function assignments(
  patch: TokenPatch | undefined,
  columns: Readonly<Record<string, string>>,
): Assignments | undefined {
  if (patch === undefined) return undefined;
  const parts: string[] = [];
  const params: SqlValue[] = [];
  for (const [field, column] of Object.entries(columns)) {
    const v = (patch as Record<string, unknown>)[field];
    if (v === undefined) continue;
    parts.push(`${column} = ?`);
    params.push(Array.isArray(v) ? json(v, field) : (v as SqlValue));
  }
  return parts.length === 0 ? undefined : { sql: parts.join(", "), params };
}

/** `<base> AND col = ? …` for every expected value given. */
function conditions(
  base: string,
  baseParams: readonly SqlValue[],
  expected: Readonly<Record<string, string | undefined>>,
): { sql: string; params: SqlValue[] } {
  let sql = base;
  const params: SqlValue[] = [...baseParams];
  for (const [column, value] of Object.entries(expected)) {
    if (value === undefined) continue;
    sql += ` AND ${column} = ?`;
    params.push(value);
  }
  return { sql, params };
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
  /**
   * Keeps several apps' installations apart in the same tables.
   *
   * @default `''`
   */
  clientId?: string | undefined;
  /**
   * Keep one row per save instead of only the latest per key.
   *
   * @default false
   */
  historicalData?: boolean | undefined;
}

/**
 * The SQL texts the SQL installation store core runs (already finalized for its dialect).
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
  /**
   * `findBot` as one packed text value ({@link Dialect.packedBotSelect}; SQLite only), which `findBot`
   * reads first; `findBot` itself serves when a value cannot be unpacked.
   */
  findBotPacked?: string;
  /**
   * The latest installation of a workspace with its latest bot's fields (as one packed value when the
   * dialect has {@link Dialect.packedBotSelect}).
   */
  findInstallation: string;
  findUserInstallation: string;
  deleteBot: string;
  deleteInstallations: string;
  deleteUserInstallations: string;
  /** The rotating bot tokens due by a time (`client_id, until, limit`), through `<bots>_expiry_idx`. */
  expiringBots: string;
  /** The rotating user tokens due by a time (`client_id, until, limit`), through `<installations>_expiry_idx`. */
  expiringUsers: string;
}

/** A second way to read a row that the first statement's mapping found unreadable (`UNPACKABLE`). */
interface Fallback<T> {
  sql: string;
  map: (r: SqlRow | undefined, params: readonly SqlValue[]) => T;
}

function installationStatements(d: Dialect, t: TableNames): InstallationStoreStatements {
  const q = d.quoteId;
  const inst = q(t.installations);
  const bots = q(t.bots);
  const ws = "client_id = ? AND enterprise_id = ? AND team_id = ?";
  const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ");
  // With a packed select (SQLite), the latest bot is one value read from the lookup index alone.
  const packed = d.packedBotSelect;
  const latestBot =
    packed === undefined
      ? `SELECT id, ${LATEST_BOT_COLUMNS.join(", ")} FROM ${bots} WHERE ${ws} ORDER BY id DESC LIMIT 1`
      : `SELECT id, ${packed} AS packed FROM ${bots} WHERE ${ws} ORDER BY id DESC LIMIT 1`;
  const latestBotColumns =
    packed === undefined
      ? LATEST_BOT_COLUMNS.map((c) => `b.${c} AS latest_${c}`).join(", ")
      : "b.packed AS latest_packed";
  const findInstallation = (byUser: boolean) =>
    `SELECT ${INSTALLATION_SELECT.map((c) => `i.${c}`).join(", ")}, ${latestBotColumns} ` +
    `FROM ${inst} i LEFT JOIN (${latestBot}) b ON 1 = 1 ` +
    `WHERE i.client_id = ? AND i.enterprise_id = ? AND i.team_id = ?${byUser ? " AND i.user_id = ?" : ""} ` +
    "ORDER BY i.id DESC LIMIT 1";
  const s: InstallationStoreStatements = {
    insertInstallation: `INSERT INTO ${inst} (${INSTALLATION_COLUMNS.join(", ")}) VALUES (${placeholders(INSTALLATION_COLUMNS.length)})`,
    insertBot: `INSERT INTO ${bots} (${BOT_COLUMNS.join(", ")}) VALUES (${placeholders(BOT_COLUMNS.length)})`,
    findBot: `SELECT ${BOT_SELECT.join(", ")} FROM ${bots} WHERE ${ws} ORDER BY id DESC LIMIT 1`,
    ...(packed === undefined
      ? {}
      : { findBotPacked: `SELECT ${packed} FROM ${bots} WHERE ${ws} ORDER BY id DESC LIMIT 1` }),
    findInstallation: findInstallation(false),
    findUserInstallation: findInstallation(true),
    deleteBot: `DELETE FROM ${bots} WHERE ${ws}`,
    deleteInstallations: `DELETE FROM ${inst} WHERE ${ws}`,
    deleteUserInstallations: `DELETE FROM ${inst} WHERE ${ws} AND user_id = ?`,
    // The latest row of its key only (history rows are never refreshed); the correlated MAX(id) reads the
    // workspace index once per due row.
    expiringBots:
      `SELECT r.enterprise_id, r.team_id, r.bot_token_expires_at FROM ${bots} r ` +
      "WHERE r.client_id = ? AND r.bot_token_expires_at <= ? AND r.bot_refresh_token IS NOT NULL " +
      `AND r.id = (SELECT MAX(l.id) FROM ${bots} l${d.indexHint?.(`${t.bots}_workspace_idx`) ?? ""} WHERE l.client_id = r.client_id AND l.enterprise_id = r.enterprise_id AND l.team_id = r.team_id) ` +
      "ORDER BY r.bot_token_expires_at LIMIT ?",
    expiringUsers:
      `SELECT r.enterprise_id, r.team_id, r.user_id, r.user_token_expires_at FROM ${inst} r ` +
      "WHERE r.client_id = ? AND r.user_token_expires_at <= ? AND r.user_refresh_token IS NOT NULL " +
      `AND r.id = (SELECT MAX(l.id) FROM ${inst} l${d.indexHint?.(`${t.installations}_user_idx`) ?? ""} WHERE l.client_id = r.client_id AND l.enterprise_id = r.enterprise_id AND l.team_id = r.team_id AND l.user_id = r.user_id) ` +
      "ORDER BY r.user_token_expires_at LIMIT ?",
  };
  for (const k of Object.keys(s) as (keyof InstallationStoreStatements)[]) s[k] = d.finalize(s[k] as string);
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
  readonly #guard: EncryptionGuard;
  #locksReady: Promise<void> | undefined;
  /** With a packed dialect: the statements that read the latest bot column by column (the fallback). */
  readonly #columnStatements: InstallationStoreStatements | undefined;
  /** `findBot`'s prepared read, and the reader it came from. */
  #botRead: SyncKeyedRead | undefined;
  #botReader: SyncSqlReader | undefined;
  /** The encryption marker: `encryption-key:<id>` rows of the `meta` table, read when the store opens. */
  readonly encryptionMarker: EncryptionMarker;

  /** The app partition (the `clientId` option; `''`: the default partition). */
  get clientId(): string {
    return this.#clientId;
  }

  /** True when the store keeps one row per save (the `historicalData` option), not only the latest. */
  get historicalData(): boolean {
    return this.#historical;
  }

  constructor(options: SqlInstallationStoreOptions) {
    const prefix = validateTablePrefix(options.tablePrefix);
    const clientId = validateClientId(options.clientId);
    this.#exec = options.executor;
    this.#clientId = clientId;
    this.#historical = options.historicalData === true;
    this.#name = options.storeName ?? "SqlInstallationStore";
    this.tables = tableNames(prefix);
    this.statements = installationStatements(options.dialect, this.tables);
    if (options.dialect.packedBotSelect !== undefined) {
      // The same statements reading the latest bot's columns: for a packed value that cannot be unpacked.
      const { packedBotSelect: _, ...columnsDialect } = options.dialect;
      this.#columnStatements = installationStatements(columnsDialect, this.tables);
    }
    const dialect = options.dialect;
    this.#dialect = dialect;
    this.#locksTable = `${prefix}locks`;
    this.#dialectQuote = (id) => dialect.quoteId(id);
    this.#finalize = (sql) => dialect.finalize(sql);
    this.#guard = this.#markerGuard();
    this.encryptionMarker = this.#guard.marker;
    this.#life = new StoreLifecycle(
      options,
      prefix,
      (e) => this.#fail("migrate", e),
      () => this.#guard.load(),
    );
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

  /** The encryption marker in `<prefix>meta`: one `encryption-key:<id>` row per key id. */
  #markerGuard(): EncryptionGuard {
    const meta = this.#dialectQuote(this.tables.meta);
    const exec = this.#exec;
    const f = this.#finalize;
    const read = async (): Promise<Map<string, string>> => {
      const rows = await exec.query(f(`SELECT name, value FROM ${meta} WHERE name LIKE ?`), [`${MARKER_PREFIX}%`]);
      return new Map(rows.map((r) => [String(r[0]).slice(MARKER_PREFIX.length), String(r[1] ?? "")]));
    };
    const insert = f(this.#dialect.insertIgnore(`INSERT INTO ${meta} (name, value) VALUES (?, ?)`));
    return new EncryptionGuard(this.#name, {
      open: async () => {
        if (!this.#migrator.ready) await this.init();
      },
      list: () => read().catch((e) => Promise.reject(this.#fail("encryptionMarker", e))),
      // An entry another process recorded first for the same key id is the same marker: kept.
      put: (keyId, check) =>
        exec.run(insert, [`${MARKER_PREFIX}${keyId}`, check]).then(
          () => undefined,
          (e) => Promise.reject(this.#fail("encryptionMarker", e)),
        ),
      remove: (keyId) =>
        exec.run(f(`DELETE FROM ${meta} WHERE name = ?`), [`${MARKER_PREFIX}${keyId}`]).then(
          () => undefined,
          (e) => Promise.reject(this.#fail("encryptionMarker", e)),
        ),
    });
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
  #first<T>(
    op: string,
    sql: string,
    params: readonly SqlValue[],
    map: (r: SqlRow | undefined, params: readonly SqlValue[]) => T | typeof UNPACKABLE,
    fallback?: Fallback<T>,
  ): Promise<T> {
    // Without an encryption wrapper: refused on a store that holds encrypted tokens, and a ciphertext
    // (written before markers existed) is never handed out as a token.
    const guarded = !this.#guard.attached;
    if (guarded) {
      try {
        this.#guard.check();
      } catch (e) {
        return Promise.reject(e);
      }
    }
    // `map` may find the row unreadable in its shape (UNPACKABLE): then `fallback` reads it another way.
    const reader = this.#exec.syncReader?.();
    if (reader !== undefined) {
      try {
        let v = map(reader.first(sql, params), params);
        if (v === UNPACKABLE)
          v = (fallback as Fallback<T>).map(reader.first((fallback as Fallback<T>).sql, params), params);
        return Promise.resolve(guarded ? this.#guard.checkRecord(v) : v);
      } catch (e) {
        return Promise.reject(this.#fail(op, e));
      }
    }
    return this.#exec
      .query(sql, params)
      .then(async (rows) => {
        let v = map(rows[0], params);
        if (v === UNPACKABLE) {
          const f = fallback as Fallback<T>;
          v = f.map((await this.#exec.query(f.sql, params))[0], params);
        }
        return guarded ? this.#guard.checkRecord(v) : v;
      })
      .catch((e) => {
        throw this.#fail(op, e);
      });
  }

  /** Saves an installation (and its bot, if it has one) in one batch. */
  save(installation: Installation): Promise<void> {
    return this.#inflight.track(this.#save(installation));
  }

  async #save(installation: Installation): Promise<void> {
    const i = validateInstallation(installation);
    const instParams = installationParams(this.#clientId, i);
    const botParamList = i.botToken ? botParams(this.#clientId, i) : undefined;
    if (!this.#migrator.ready) await this.init();
    await this.#guard.checkWrite();
    const s = this.statements;
    const ws: SqlValue[] = [this.#clientId, i.enterpriseId ?? "", i.isEnterpriseInstall ? "" : (i.teamId ?? "")];
    // One batch: the older rows of the key go, the new ones come, all or nothing.
    const batch: SqlStatement[] = [];
    if (!this.#historical) batch.push({ sql: s.deleteUserInstallations, params: [...ws, i.userId] });
    batch.push({ sql: s.insertInstallation, params: instParams });
    if (botParamList !== undefined) {
      if (!this.#historical) batch.push({ sql: s.deleteBot, params: ws });
      batch.push({ sql: s.insertBot, params: botParamList });
    }
    try {
      await this.#exec.batch(batch);
    } catch (e) {
      throw this.#fail("save", e);
    }
  }

  /**
   * The latest bot of a workspace (or org). The hot path of every Slack request, so written out for speed:
   * no parameter array or closure per call, and on a synchronous driver one prepared statement called
   * with the key's three values ({@link SyncSqlReader.prepareKeyed}).
   */
  findBot(query: BotQuery): Promise<Bot | undefined> {
    if (!this.#migrator.ready) return this.init().then(() => this.findBot(query));
    let e: string;
    let t: string;
    // Same validation as #key, without its array (well-formed queries; anything else goes through #key).
    const fast =
      query !== null && typeof query === "object"
        ? botKey(query.enterpriseId, query.teamId, (query as InstallationQuery).userId, query.isEnterpriseInstall)
        : undefined;
    if (fast !== undefined) {
      e = query.enterpriseId ?? "";
      t = fast === ORG ? "" : (query.teamId ?? "");
    } else {
      try {
        const k = this.#key(query, "findBot", false);
        e = k[1] as string;
        t = k[2] as string;
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const guarded = !this.#guard.attached;
    if (guarded) {
      // Without an encryption wrapper: refused on a store that holds encrypted tokens.
      try {
        this.#guard.check();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const reader = this.#exec.syncReader?.();
    if (reader === undefined) {
      return this.#queryBotRow(e, t).then(
        (row) => this.#checkedBot(rowToBot(row, e, t), guarded),
        (err) => {
          throw this.#fail("findBot", err);
        },
      );
    }
    try {
      let read = this.#botRead;
      if (read === undefined || this.#botReader !== reader) {
        read = this.#prepareBotRead(reader);
        this.#botRead = read;
        this.#botReader = reader;
      }
      return Promise.resolve(this.#checkedBot(rowToBot(read(this.#clientId, e, t), e, t), guarded));
    } catch (err) {
      return Promise.reject(this.#fail("findBot", err));
    }
  }

  /**
   * `findBot`'s row through {@link SqlExecutor.query}: the packed statement when the dialect has one (on D1
   * the lookup then reads the index alone), the columns otherwise and for a value that cannot be unpacked.
   */
  async #queryBotRow(e: string, t: string): Promise<SqlRow | undefined> {
    const params = [this.#clientId, e, t];
    const packedSql = this.statements.findBotPacked;
    if (packedSql !== undefined) {
      const rows = await this.#exec.query(packedSql, params);
      if (rows.length === 0) return undefined;
      const row = unpackBotRow(rows[0]?.[0] as SqlValue | undefined);
      if (row !== undefined) return row;
    }
    return (await this.#exec.query(this.statements.findBot, params))[0];
  }

  /**
   * `findBot`'s read on a synchronous driver: the packed statement when the dialect has one (one value,
   * unpacked here), the columns otherwise and for a value that cannot be unpacked.
   */
  #prepareBotRead(reader: SyncSqlReader): SyncKeyedRead {
    const sql = this.statements.findBot;
    const columns: SyncKeyedRead = reader.prepareKeyed?.(sql) ?? ((a, b, c) => reader.first(sql, [a, b, c]));
    const packedSql = this.statements.findBotPacked;
    if (packedSql === undefined) return columns;
    const packed: SyncKeyedValueRead =
      reader.prepareKeyedValue?.(packedSql) ??
      ((a, b, c) => reader.first(packedSql, [a, b, c])?.[0] as SqlValue | undefined);
    return (a, b, c) => {
      const v = packed(a, b, c);
      return v === undefined ? undefined : (unpackBotRow(v) ?? columns(a, b, c));
    };
  }

  /** A bot read without an encryption wrapper never hands out a ciphertext (one written before markers existed). */
  #checkedBot(bot: Bot | undefined, guarded: boolean): Bot | undefined {
    if (
      guarded &&
      bot !== undefined &&
      (bot.botToken.startsWith("enc:") || bot.botRefreshToken?.startsWith("enc:") === true)
    ) {
      return this.#guard.checkRecord(bot);
    }
    return bot;
  }

  findInstallation(query: InstallationQuery): Promise<Installation | undefined> {
    if (!this.#migrator.ready) return this.init().then(() => this.findInstallation(query));
    let params: SqlValue[];
    let sql: string;
    let k4: boolean;
    try {
      const k = this.#key(query, "findInstallation", true);
      // The latest-bot sub-select comes first in the SQL text: its workspace key, then the installation's.
      params = [k[0] ?? "", k[1] ?? "", k[2] ?? "", ...k];
      k4 = k.length === 4;
      sql = k4 ? this.statements.findUserInstallation : this.statements.findInstallation;
    } catch (e) {
      return Promise.reject(e);
    }
    const columns = this.#columnStatements;
    if (columns === undefined) return this.#first("findInstallation", sql, params, rowToInstallation);
    // The latest bot as one packed value; one holding U+001F is read again column by column.
    return this.#first("findInstallation", sql, params, packedRowToInstallation, {
      sql: k4 ? columns.findUserInstallation : columns.findInstallation,
      map: rowToInstallation,
    });
  }

  /**
   * Lists every workspace (and org) of this store's client id: its latest bot and the latest installation
   * of each user, newest first. Reads everything: for admin tools and rotation, not for requests.
   */
  async listWorkspaces(filter?: WorkspaceQuery): Promise<WorkspaceInstallations[]> {
    checkListFilter(filter);
    if (!this.#migrator.ready) await this.init();
    this.#guard.check();
    const guarded = !this.#guard.attached;
    // Two reads whatever the number of workspaces: every latest bot, every user's latest installation.
    // The filter narrows both in SQL (non-empty ids) and again below with the stores' shared rule.
    const where = ["l.client_id = ?"];
    const params: SqlValue[] = [this.#clientId];
    if (filter?.enterpriseId) {
      where.push("l.enterprise_id = ?");
      params.push(filter.enterpriseId);
    }
    if (filter?.teamId) {
      where.push("l.team_id = ?");
      params.push(filter.teamId);
    }
    let botRows: SqlRow[];
    let installationRows: SqlRow[];
    try {
      botRows = await this.#exec.query(this.#listStatements.bots(where.join(" AND ")), params);
      installationRows = await this.#exec.query(this.#listStatements.installations(where.join(" AND ")), params);
    } catch (e) {
      throw this.#fail("listWorkspaces", e);
    }
    const heads = new Map<string, { head: WorkspaceInstallations; bot: SqlRow | undefined; users: SqlRow[] }>();
    const entry = (row: SqlRow) => {
      const e = typeof row[0] === "string" ? row[0] : "";
      const t = typeof row[1] === "string" ? row[1] : "";
      const k = `${e}\n${t}`;
      let w = heads.get(k);
      if (w === undefined) {
        const head = workspaceHead(e || undefined, t || undefined, filter);
        if (head === undefined) return undefined;
        w = { head, bot: undefined, users: [] };
        heads.set(k, w);
      }
      return w;
    };
    for (const row of botRows) {
      const w = entry(row);
      if (w === undefined) continue;
      w.bot = row.slice(2);
      const bot = this.#checkedBot(
        rowToBot(w.bot, typeof row[0] === "string" ? row[0] : "", typeof row[1] === "string" ? row[1] : ""),
        guarded,
      );
      if (bot !== undefined) w.head.bot = bot;
    }
    for (const row of installationRows) entry(row)?.users.push(row);
    const out: WorkspaceInstallations[] = [];
    for (const { head, bot, users } of heads.values()) {
      // Newest first (by the row id of each user's latest installation); the bot fields of each come from
      // the workspace's latest bot, as findInstallation gives them.
      users.sort((a, b) => Number(b[2]) - Number(a[2]));
      for (const u of users) {
        const row: unknown[] = u.slice(3);
        for (const i of LATEST_IN_BOT_SELECT) row.push(bot === undefined ? null : bot[i]);
        const found = rowToInstallation(row);
        if (found !== undefined) head.installations.push(guarded ? this.#guard.checkRecord(found) : found);
      }
      if (head.bot === undefined && head.installations.length === 0) continue;
      out.push(head);
    }
    return out.sort(compareWorkspaces);
  }

  /**
   * The two statements of {@link listWorkspaces}, for a `WHERE` on the table's rows `l`: the latest row ids
   * of each key by `GROUP BY` (read from the key's index), joined back to their rows by primary key. (A
   * correlated `r.id = (SELECT MAX(l.id) …)` instead made MariaDB re-scan per row: 6 s for 2,000 workspaces.)
   */
  get #listStatements(): { bots(where: string): string; installations(where: string): string } {
    const q = this.#dialectQuote;
    const inst = q(this.tables.installations);
    const bots = q(this.tables.bots);
    const f = this.#finalize;
    const latest = (table: string, where: string, user: boolean) =>
      `JOIN (SELECT MAX(l.id) AS id FROM ${table} l WHERE ${where} GROUP BY l.enterprise_id, l.team_id${user ? ", l.user_id" : ""}) m ON r.id = m.id`;
    return {
      bots: (where) =>
        f(
          `SELECT r.enterprise_id, r.team_id, ${BOT_SELECT.map((c) => `r.${c}`).join(", ")} FROM ${bots} r ${latest(bots, where, false)}`,
        ),
      installations: (where) =>
        f(
          `SELECT r.enterprise_id, r.team_id, r.id, ${INSTALLATION_SELECT.map((c) => `r.${c}`).join(", ")} FROM ${inst} r ${latest(inst, where, true)}`,
        ),
    };
  }

  /**
   * Token rotation as a compare-and-set without an interactive transaction. One part (bot or user): one
   * `UPDATE … WHERE id = <the latest row's id> AND <expected values>` (and, when the other part has
   * expectations, `AND EXISTS (<its latest row with them>)`): it changes one row or none, and says which.
   * Both parts: one batch that locks both latest rows (`FOR UPDATE` where the dialect has row locks),
   * records a one-time ticket in `<prefix>locks` only if every expectation holds, updates each row only
   * if the ticket exists, and removes it: both rows change, or neither. No row is inserted or deleted, so
   * which row is "latest" never changes and no other user's row is touched.
   */
  updateTokens(query: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean> {
    return this.#inflight.track(this.#updateTokens(query, patch, expect));
  }

  async #updateTokens(query: InstallationQuery, patch: TokenPatch, expect?: TokenExpectation): Promise<boolean> {
    const { q, bot, user } = checkTokenUpdate(query, patch, expect);
    const k = this.#key(q, "updateTokens", true);
    if (!this.#migrator.ready) await this.init();
    await this.#guard.checkWrite();
    const quote = this.#dialectQuote;
    const bots = quote(this.tables.bots);
    const inst = quote(this.tables.installations);
    const ws = k.slice(0, 3);
    const checkBot = bot !== undefined || expect?.botToken !== undefined || expect?.botRefreshToken !== undefined;
    const checkUser = user !== undefined || expect?.userToken !== undefined || expect?.userRefreshToken !== undefined;
    // The latest row's id, wrapped in a derived table: MySQL refuses a sub-select of the table it updates.
    const latestBotId = `(SELECT id FROM (SELECT MAX(id) AS id FROM ${bots} WHERE ${WORKSPACE}) latest_bot)`;
    const latestUserId = `(SELECT id FROM (SELECT MAX(id) AS id FROM ${inst} WHERE ${WORKSPACE} AND user_id = ?) latest_user)`;
    const botCond = conditions(`id = ${latestBotId}`, ws, {
      bot_token: expect?.botToken,
      bot_refresh_token: expect?.botRefreshToken,
    });
    const userCond = conditions(`id = ${latestUserId}`, k, {
      user_token: expect?.userToken,
      user_refresh_token: expect?.userRefreshToken,
    });
    const botSet = assignments(bot, BOT_TOKEN_COLUMNS);
    const userSet = assignments(user, USER_TOKEN_COLUMNS);
    // Installation rows written by older versions kept a copy of the bot's secrets that is never read
    // (bot fields always come from the bots table): dropped with every bot update, so no stale token (or
    // a token under an old encryption key) lingers after a rotation or a rekey.
    const dropBotCopies: SqlStatement = {
      sql: this.#finalize(
        `UPDATE ${inst} SET bot_token = NULL, bot_refresh_token = NULL WHERE ${WORKSPACE} AND bot_token IS NOT NULL`,
      ),
      params: ws,
    };
    try {
      if (botSet === undefined || userSet === undefined) {
        // One part changes; the other may only be compared.
        const [table, set, own, other] =
          botSet !== undefined
            ? [bots, botSet, botCond, checkUser ? { table: inst, cond: userCond } : undefined]
            : [inst, userSet as Assignments, userCond, checkBot ? { table: bots, cond: botCond } : undefined];
        const exists = other === undefined ? "" : ` AND EXISTS (SELECT 1 FROM ${other.table} WHERE ${other.cond.sql})`;
        const { changes } = await this.#exec.run(
          this.#finalize(`UPDATE ${table} SET ${set.sql} WHERE ${own.sql}${exists}`),
          [...set.params, ...own.params, ...(other?.cond.params ?? [])],
        );
        if (changes !== 1) return false;
        if (botSet !== undefined) await this.#exec.run(dropBotCopies.sql, dropBotCopies.params);
        return true;
      }
      await this.#ensureLocksTable();
      const locks = quote(this.#locksTable);
      const ticket = `cas:${lockOwner()}`;
      const hasTicket = `EXISTS (SELECT 1 FROM ${locks} WHERE name = ?)`;
      const batch: SqlStatement[] = [];
      const forUpdate = this.#dialect.forUpdate;
      if (forUpdate !== "") {
        batch.push({ sql: this.#finalize(`SELECT id FROM ${bots} WHERE id = ${latestBotId}${forUpdate}`), params: ws });
        batch.push({ sql: this.#finalize(`SELECT id FROM ${inst} WHERE id = ${latestUserId}${forUpdate}`), params: k });
      }
      batch.push(
        {
          sql: this.#finalize(
            `INSERT INTO ${locks} (name, owner, expires_at) SELECT ?, ?, 0 FROM (SELECT 1 AS one) guard WHERE EXISTS (SELECT 1 FROM ${bots} WHERE ${botCond.sql}) AND EXISTS (SELECT 1 FROM ${inst} WHERE ${userCond.sql})`,
          ),
          params: [ticket, ticket.slice(4), ...botCond.params, ...userCond.params],
        },
        {
          sql: this.#finalize(`UPDATE ${bots} SET ${botSet.sql} WHERE id = ${latestBotId} AND ${hasTicket}`),
          params: [...botSet.params, ...ws, ticket],
        },
        {
          sql: this.#finalize(`UPDATE ${inst} SET ${userSet.sql} WHERE id = ${latestUserId} AND ${hasTicket}`),
          params: [...userSet.params, ...k, ticket],
        },
        { sql: this.#finalize(`DELETE FROM ${locks} WHERE name = ?`), params: [ticket] },
      );
      const results = await this.#exec.batch(batch);
      const written = results[forUpdate !== "" ? 2 : 0]?.changes === 1;
      if (written) await this.#exec.run(dropBotCopies.sql, dropBotCopies.params);
      return written;
    } catch (e) {
      throw this.#fail("updateTokens", e);
    }
  }

  /**
   * Records a token's health as one `UPDATE` of the health columns of the latest bot row (or the user's
   * latest installation row), `WHERE` the expected token values still hold and no later check is stored:
   * it changes one row or none, and never a token column.
   */
  recordHealth(query: InstallationQuery, health: TokenHealth, expect?: TokenExpectation): Promise<boolean> {
    return this.#inflight.track(this.#recordHealth(query, health, expect));
  }

  async #recordHealth(query: InstallationQuery, health: TokenHealth, expect?: TokenExpectation): Promise<boolean> {
    const { q, kind, health: h } = checkHealthWrite(query, health, expect);
    const k = this.#key(q, "recordHealth", true);
    if (!this.#migrator.ready) await this.init();
    await this.#guard.checkWrite();
    const quote = this.#dialectQuote;
    const table = quote(kind === "bot" ? this.tables.bots : this.tables.installations);
    const latest =
      kind === "bot"
        ? `(SELECT id FROM (SELECT MAX(id) AS id FROM ${table} WHERE ${WORKSPACE}) latest_row)`
        : `(SELECT id FROM (SELECT MAX(id) AS id FROM ${table} WHERE ${WORKSPACE} AND user_id = ?) latest_row)`;
    const cond = conditions(
      `id = ${latest} AND (health_checked_at IS NULL OR health_checked_at <= ?)`,
      [...(kind === "bot" ? k.slice(0, 3) : k), h.checkedAt],
      kind === "bot"
        ? { bot_token: expect?.botToken, bot_refresh_token: expect?.botRefreshToken }
        : { user_token: expect?.userToken, user_refresh_token: expect?.userRefreshToken },
    );
    try {
      const { changes } = await this.#exec.run(
        this.#finalize(
          `UPDATE ${table} SET health_status = ?, health_checked_at = ?, health_error = ? WHERE ${cond.sql}`,
        ),
        [h.status, h.checkedAt, h.error ?? null, ...cond.params],
      );
      return changes === 1;
    } catch (e) {
      throw this.#fail("recordHealth", e);
    }
  }

  /** Every recorded health of the latest bot and user rows: two queries, no token column read. */
  async listHealth(filter?: WorkspaceQuery): Promise<HealthEntry[]> {
    checkListFilter(filter);
    if (!this.#migrator.ready) await this.init();
    this.#guard.check();
    const out: HealthEntry[] = [];
    for (const kind of ["bot", "user"] as const) {
      const params: SqlValue[] = [this.#clientId];
      let where = "r.client_id = ? AND r.health_status IS NOT NULL";
      if (filter?.enterpriseId !== undefined) {
        where += " AND r.enterprise_id = ?";
        params.push(filter.enterpriseId);
      }
      if (filter?.teamId !== undefined) {
        where += " AND r.team_id = ?";
        params.push(filter.teamId);
      }
      const rows = await this.#latestRows(
        kind,
        "r.enterprise_id, r.team_id, r.health_status, r.health_checked_at, r.health_error",
        where,
        params,
      );
      for (const r of rows) {
        const status = r[kind === "bot" ? 2 : 3];
        if (!isHealthStatus(status)) continue;
        const base = kind === "bot" ? 2 : 3;
        const health: TokenHealth = { status, checkedAt: Number(r[base + 1]) };
        if (r[base + 2] !== null && r[base + 2] !== undefined) health.error = String(r[base + 2]);
        out.push({ ...this.#place(kind, r), health });
      }
    }
    return out.sort(compareHealth);
  }

  /** The rotating tokens due by `untilSeconds`, read through the expiry indexes (migration v3). */
  async listExpiringTokens(untilSeconds: number, limit?: number): Promise<ExpiringToken[]> {
    const { until, limit: n } = checkExpiringQuery(untilSeconds, limit);
    if (!this.#migrator.ready) await this.init();
    this.#guard.check();
    const out: ExpiringToken[] = [];
    for (const kind of ["bot", "user"] as const) {
      let rows: SqlRow[];
      try {
        rows = await this.#exec.query(kind === "bot" ? this.statements.expiringBots : this.statements.expiringUsers, [
          this.#clientId,
          until,
          n,
        ]);
      } catch (e) {
        throw this.#fail("listExpiringTokens", e);
      }
      for (const r of rows) out.push({ ...this.#place(kind, r), expiresAt: Number(r[kind === "bot" ? 2 : 3]) });
    }
    return out.sort(compareExpiring).slice(0, n);
  }

  /**
   * Rows `r` of the bots (or installations) table that are the latest of their key (workspace, and user
   * for installations), selecting `columns` (for installations, `r.user_id` is put after the team).
   */
  async #latestRows(kind: HealthTokenKind, columns: string, where: string, params: SqlValue[]): Promise<SqlRow[]> {
    const quote = this.#dialectQuote;
    const table = quote(kind === "bot" ? this.tables.bots : this.tables.installations);
    const select = kind === "bot" ? columns : columns.replace("r.team_id", "r.team_id, r.user_id");
    const same =
      "l.client_id = r.client_id AND l.enterprise_id = r.enterprise_id AND l.team_id = r.team_id" +
      (kind === "bot" ? "" : " AND l.user_id = r.user_id");
    try {
      return await this.#exec.query(
        this.#finalize(
          `SELECT ${select} FROM ${table} r WHERE ${where} AND r.id = (SELECT MAX(l.id) FROM ${table} l WHERE ${same})`,
        ),
        params,
      );
    } catch (e) {
      throw this.#fail("listHealth", e);
    }
  }

  /** The place of a row from {@link #latestRows}: enterprise, team (then user for installations). */
  #place(kind: HealthTokenKind, r: SqlRow) {
    const e = typeof r[0] === "string" && r[0] !== "" ? r[0] : undefined;
    const t = typeof r[1] === "string" && r[1] !== "" ? r[1] : undefined;
    const u = kind === "user" && typeof r[2] === "string" ? r[2] : undefined;
    return place(kind, e, t, u);
  }

  /**
   * Runs `fn` holding the lock `key`, across every process (and host) sharing the database: a lease row
   * in `<prefix>locks` (created on first use), taken with single statements (an insert that yields to
   * an existing row, or a takeover of an expired one) and deleted when `fn` settles. No transaction stays
   * open while `fn` runs (a refresh is an HTTP call: holding SQLite's write lock that long would stall
   * every writer). A lease past `leaseMs` belongs to a dead holder and is taken over. Callers of one
   * process queue in memory first.
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

  /**
   * One attempt at the lease, in single statements: insert the row unless the name is taken (the
   * primary key decides between racing processes); else take it over if its lease has run out (the
   * `WHERE` re-checked on the row decides between racing takeovers).
   */
  async #tryLease(name: string, owner: string, leaseMs: number): Promise<boolean> {
    const table = this.#dialectQuote(this.#locksTable);
    const now = Date.now() / 1000;
    const until = now + leaseMs / 1000;
    try {
      const inserted = await this.#exec.run(
        this.#finalize(this.#dialect.insertIgnore(`INSERT INTO ${table} (name, owner, expires_at) VALUES (?, ?, ?)`)),
        [name, owner, until],
      );
      if (inserted.changes === 1) return true;
      const taken = await this.#exec.run(
        this.#finalize(`UPDATE ${table} SET owner = ?, expires_at = ? WHERE name = ? AND expires_at <= ?`),
        [owner, until, name, now],
      );
      return taken.changes === 1;
    } catch (e) {
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

  /**
   * Rewrites every stored token value of this store's client id, in every row (the history kept with
   * `historicalData` included, and the bot-token copies older versions left in installation rows): for
   * each value, `rewrite` returns the new one, or `undefined` to leave it. Each change is its own
   * compare-and-set on the row's id and the old value, so a value written meanwhile (a rotation) is never
   * overwritten: it counts as a conflict. Used by `rekey` to re-encrypt history.
   *
   * @example
   * ```ts
   * const { updated } = await store.rewriteStoredTokens((value) => (value.startsWith("xoxb-") ? undefined : value));
   * ```
   */
  async rewriteStoredTokens(rewrite: StoredTokenRewrite): Promise<{ updated: number; conflicts: number }> {
    if (!this.#migrator.ready) await this.init();
    const q = this.#dialectQuote;
    const counts = { updated: 0, conflicts: 0 };
    const tables = [
      { table: this.tables.bots, user: false, columns: ["bot_token", "bot_refresh_token"] },
      {
        table: this.tables.installations,
        user: true,
        columns: ["bot_token", "bot_refresh_token", "user_token", "user_refresh_token"],
      },
    ] as const;
    try {
      for (const { table, user, columns } of tables) {
        const select = this.#finalize(
          `SELECT id, enterprise_id, team_id, ${user ? "user_id" : "''"}, ${columns.join(", ")} FROM ${q(table)} WHERE client_id = ? AND id > ? ORDER BY id LIMIT 500`,
        );
        let after = 0;
        for (;;) {
          const rows = await this.#exec.query(select, [this.#clientId, after]);
          if (rows.length === 0) break;
          for (const row of rows) {
            after = Number(row[0]);
            const owner = {
              enterpriseId: String(row[1] ?? ""),
              teamId: String(row[2] ?? ""),
              userId: String(row[3] ?? ""),
            };
            for (const [k, column] of columns.entries()) {
              const value = row[4 + k];
              if (typeof value !== "string" || value === "") continue;
              const next = rewrite(value, owner, TOKEN_FIELD_OF[column] as StoredTokenField);
              if (next === undefined || next === value) continue;
              const { changes } = await this.#exec.run(
                this.#finalize(`UPDATE ${q(table)} SET ${column} = ? WHERE id = ? AND ${column} = ?`),
                [next, row[0] as SqlValue, value],
              );
              if (changes === 1) counts.updated++;
              else counts.conflicts++;
            }
          }
        }
      }
    } catch (e) {
      throw this.#fail("rewriteStoredTokens", e);
    }
    return counts;
  }

  /** Deletes the bot rows of a workspace (or org). */
  deleteBot(query: WorkspaceQuery): Promise<void> {
    return this.#inflight.track(this.#deleteBot(query));
  }

  async #deleteBot(query: WorkspaceQuery): Promise<void> {
    const ws = this.#key(query, "deleteBot", false);
    if (!this.#migrator.ready) await this.init();
    await this.#guard.checkWrite();
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
    await this.#guard.checkWrite();
    try {
      await this.#exec.run(
        k.length === 4 ? this.statements.deleteUserInstallations : this.statements.deleteInstallations,
        k,
      );
    } catch (e) {
      throw this.#fail("deleteInstallation", e);
    }
  }

  /** Deletes a workspace's installations and bots in one batch. */
  deleteAll(query: WorkspaceQuery): Promise<void> {
    return this.#inflight.track(this.#deleteAll(query));
  }

  async #deleteAll(query: WorkspaceQuery): Promise<void> {
    const ws = this.#key(query, "deleteAll", false);
    if (!this.#migrator.ready) await this.init();
    await this.#guard.checkWrite();
    const statements: SqlStatement[] = [
      { sql: this.statements.deleteInstallations, params: ws },
      { sql: this.statements.deleteBot, params: ws },
    ];
    // An org-wide install's uninstall also forgets which of its workspaces were granted or revoked.
    if (ws[2] === "" && ws[1] !== "") {
      statements.push({
        sql: this.#finalize(
          `DELETE FROM ${this.#dialectQuote(this.tables.teamAccess)} WHERE client_id = ? AND enterprise_id = ?`,
        ),
        params: [ws[0] ?? "", ws[1] ?? ""],
      });
    }
    try {
      await this.#exec.batch(statements);
    } catch (e) {
      throw this.#fail("deleteAll", e);
    }
  }

  /** Records workspaces of an org-wide install as granted or revoked, in one batch. */
  updateTeamAccess(enterpriseId: string, change: TeamAccessChange): Promise<void> {
    return this.#inflight.track(this.#updateTeamAccess(enterpriseId, change));
  }

  async #updateTeamAccess(enterpriseId: string, change: TeamAccessChange): Promise<void> {
    const c = checkTeamAccessChange(enterpriseId, change);
    const rows: Array<[string, "granted" | "revoked"]> = [
      ...c.granted.map((t): [string, "granted"] => [t, "granted"]),
      ...c.revoked.map((t): [string, "revoked"] => [t, "revoked"]),
    ];
    if (rows.length === 0) return;
    if (!this.#migrator.ready) await this.init();
    await this.#guard.checkWrite();
    const table = this.#dialectQuote(this.tables.teamAccess);
    const now = Date.now() / 1000;
    const statements: SqlStatement[] = [];
    // Delete then insert (no portable upsert), in chunks that stay under every driver's parameter limit.
    for (let i = 0; i < rows.length; i += TEAM_ACCESS_CHUNK) {
      const chunk = rows.slice(i, i + TEAM_ACCESS_CHUNK);
      statements.push({
        sql: this.#finalize(
          `DELETE FROM ${table} WHERE client_id = ? AND enterprise_id = ? AND team_id IN (${chunk.map(() => "?").join(", ")})`,
        ),
        params: [this.#clientId, c.enterpriseId, ...chunk.map((r) => r[0])],
      });
      statements.push({
        sql: this.#finalize(
          `INSERT INTO ${table} (client_id, enterprise_id, team_id, access, updated_at) VALUES ${chunk.map(() => "(?, ?, ?, ?, ?)").join(", ")}`,
        ),
        params: chunk.flatMap(([t, access]) => [this.#clientId, c.enterpriseId, t, access, now]),
      });
    }
    try {
      await this.#exec.batch(statements);
    } catch (e) {
      throw this.#fail("updateTeamAccess", e);
    }
  }

  /** The workspaces recorded for an org-wide install. */
  async findTeamAccess(enterpriseId: string): Promise<TeamAccess> {
    const e = checkEnterpriseId(enterpriseId, "findTeamAccess");
    if (!this.#migrator.ready) await this.init();
    this.#guard.check();
    let rows: SqlRow[];
    try {
      rows = await this.#exec.query(
        this.#finalize(
          `SELECT team_id, access FROM ${this.#dialectQuote(this.tables.teamAccess)} WHERE client_id = ? AND enterprise_id = ?`,
        ),
        [this.#clientId, e],
      );
    } catch (error) {
      throw this.#fail("findTeamAccess", error);
    }
    const out: TeamAccess = { granted: [], revoked: [] };
    for (const r of rows) {
      const t = String(r[0]);
      if (r[1] === "granted" || r[1] === "revoked") out[r[1]].push(t);
    }
    out.granted.sort();
    out.revoked.sort();
    return out;
  }
}
