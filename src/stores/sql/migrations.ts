import { ConfigError, SchemaVersionError } from "../../errors.js";
import type { ColumnDef, Dialect, IndexDef, SqlExecutor, SqlStatement, TableDef } from "./dialect.js";

/**
 * Default table prefix: tables are `slack_installations`, `slack_bots`, `slack_oauth_states`, `slack_migrations`.
 *
 * @example
 * ```ts
 * tableNames(DEFAULT_TABLE_PREFIX).installations; // "slack_installations"
 * ```
 */
export const DEFAULT_TABLE_PREFIX = "slack_";

const PREFIX_RE = /^[a-z_][a-z0-9_]{0,30}$/;

/**
 * Validates a table prefix (`^[a-z_][a-z0-9_]{0,30}$`): it is spliced into SQL, so nothing else is allowed.
 *
 * @example
 * ```ts
 * validateTablePrefix("myapp_"); // "myapp_"
 * validateTablePrefix("x; DROP TABLE y"); // throws ConfigError
 * ```
 */
export function validateTablePrefix(prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_TABLE_PREFIX;
  if (typeof prefix !== "string" || !PREFIX_RE.test(prefix)) {
    throw new ConfigError("tablePrefix must match ^[a-z_][a-z0-9_]{0,30}$ (lower-case letters, digits, '_')");
  }
  return prefix;
}

/**
 * The table names for a prefix.
 *
 * @example
 * ```ts
 * const { bots, states }: TableNames = tableNames("slack_");
 * ```
 */
export interface TableNames {
  installations: string;
  bots: string;
  states: string;
  migrations: string;
  /** Store-wide settings: the encryption marker (`encryption-key:<id>` rows). */
  meta: string;
  /** Org-wide installs: the workspaces an org admin granted or revoked (one row per client/enterprise/team). */
  teamAccess: string;
}

/**
 * Table names for a (validated) prefix.
 *
 * @example
 * ```ts
 * tableNames("slack_").bots; // "slack_bots"
 * ```
 */
export function tableNames(prefix: string): TableNames {
  return {
    installations: `${prefix}installations`,
    bots: `${prefix}bots`,
    states: `${prefix}oauth_states`,
    migrations: `${prefix}migrations`,
    meta: `${prefix}meta`,
    teamAccess: `${prefix}team_access`,
  };
}

/**
 * One step of a migration: a portable table or index, or raw SQL per dialect name (`sqlite`, `postgres`, `mysql`).
 *
 * @example
 * ```ts
 * const step: MigrationStep = { sql: { sqlite: ["ALTER TABLE slack_bots ADD COLUMN note TEXT"] } };
 * ```
 */
export type MigrationStep =
  | { table: TableDef }
  | { index: IndexDef }
  | { sql: Readonly<Partial<Record<string, readonly string[]>>> };

/**
 * A versioned schema change, as data. Versions are positive integers applied in ascending order; a
 * version is never edited once released: add a new one.
 *
 * @example
 * ```ts
 * const v2: Migration = {
 *   version: 2,
 *   description: "bots: note",
 *   steps: (t) => [{ sql: { sqlite: [`ALTER TABLE "${t.bots}" ADD COLUMN note TEXT`] } }],
 * };
 * ```
 */
export interface Migration {
  version: number;
  description: string;
  steps(t: TableNames): readonly MigrationStep[];
}

const key = (name: string, length = 64): ColumnDef => ({ name, type: "key", length });
const str = (name: string, length = 64): ColumnDef => ({ name, type: "string", length });
const text = (name: string): ColumnDef => ({ name, type: "text" });
const json = (name: string): ColumnDef => ({ name, type: "json" });
const dbl = (name: string, notNull = false): ColumnDef => ({ name, type: "double", notNull });
const bool = (name: string): ColumnDef => ({ name, type: "boolean" });

/** Columns shared by the installations and bots tables (the bot part of an installation). */
const BOT_COLUMNS: readonly ColumnDef[] = [
  { name: "id", type: "id" },
  key("client_id", 128),
  str("app_id"),
  key("enterprise_id"),
  text("enterprise_name"),
  text("enterprise_url"),
  key("team_id"),
  text("team_name"),
  text("bot_token"),
  str("bot_id"),
  str("bot_user_id"),
  json("bot_scopes"),
  text("bot_refresh_token"),
  dbl("bot_token_expires_at"),
  bool("is_enterprise_install"),
  dbl("installed_at", true),
  json("custom_values"),
];

/**
 * Every migration this version of the library knows, oldest first.
 *
 * v1: `installations` (one row per save, or the latest per client/enterprise/team/user), `bots` (the
 * same per client/enterprise/team), `oauth_states`. "Latest" is the row with the largest `id`, so two
 * saves in the same millisecond are still ordered. Key columns hold `''` for "none" (see {@link Dialect}).
 * v2: `meta` (name → value): the encryption marker (`encryption-key:<id>` rows) lives there.
 * v3: `health_status`, `health_checked_at`, `health_error` on `bots` and `installations` (the health of
 * the bot token and of each user token), and the expiry indexes `bots (client_id, bot_token_expires_at)`
 * and `installations (client_id, user_token_expires_at)` the refresh scheduler reads.
 * v4: `team_access` (client, enterprise, team → `granted` / `revoked`): the workspaces of org-wide installs
 * whose access an org admin changed.
 *
 * @example
 * ```ts
 * MIGRATIONS.at(-1)?.version; // the schema version this library writes
 * ```
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "installations, bots and oauth_states tables",
    steps: (t) => [
      {
        table: {
          name: t.installations,
          columns: [
            ...BOT_COLUMNS,
            key("user_id"),
            text("user_token"),
            json("user_scopes"),
            text("user_refresh_token"),
            dbl("user_token_expires_at"),
            text("incoming_webhook_url"),
            text("incoming_webhook_channel"),
            str("incoming_webhook_channel_id"),
            text("incoming_webhook_configuration_url"),
            str("token_type", 32),
          ],
        },
      },
      // findInstallation / deleteInstallation for a user: equality on 4 keys, latest by id.
      {
        index: {
          name: `${t.installations}_user_idx`,
          table: t.installations,
          columns: ["client_id", "enterprise_id", "team_id", "user_id", "id"],
        },
      },
      // findInstallation / deleteInstallation for a workspace: equality on 3 keys, latest by id.
      {
        index: {
          name: `${t.installations}_workspace_idx`,
          table: t.installations,
          columns: ["client_id", "enterprise_id", "team_id", "id"],
        },
      },
      { table: { name: t.bots, columns: BOT_COLUMNS } },
      // findBot / deleteBot: equality on 3 keys, latest by id.
      {
        index: {
          name: `${t.bots}_workspace_idx`,
          table: t.bots,
          columns: ["client_id", "enterprise_id", "team_id", "id"],
        },
      },
      {
        table: {
          name: t.states,
          columns: [
            { name: "state", type: "key", length: 64 },
            json("data"),
            dbl("expires_at", true),
            // Set when consumed: the row stays as a tombstone until it expires, so a replay is told "used".
            dbl("consumed_at"),
          ],
          primaryKey: ["state"],
        },
      },
      { index: { name: `${t.states}_expires_idx`, table: t.states, columns: ["expires_at"] } },
    ],
  },
  {
    version: 2,
    description: "meta table (the encryption-at-rest marker)",
    steps: (t) => [
      {
        table: {
          name: t.meta,
          columns: [{ name: "name", type: "key", length: 64 }, text("value")],
          primaryKey: ["name"],
        },
      },
    ],
  },
  {
    version: 3,
    description: "token health columns; expiry indexes for the refresh scheduler",
    steps: (t) => {
      // Nullable columns added in place: rows written before keep working (no health = never checked).
      const cols: [string, string][] = [
        ["health_status", "string"],
        ["health_checked_at", "double"],
        ["health_error", "string"],
      ];
      const sqliteType = (k: string) => (k === "double" ? "REAL" : "TEXT");
      const serverType = (k: string, name: string, pg: boolean) =>
        k === "double"
          ? pg
            ? "DOUBLE PRECISION"
            : "DOUBLE"
          : name === "health_status"
            ? "VARCHAR(32)"
            : "VARCHAR(128)";
      const steps: MigrationStep[] = [];
      for (const table of [t.bots, t.installations]) {
        steps.push({
          sql: {
            // SQLite adds one column per statement; its DDL is transactional, so the batch stays atomic.
            sqlite: cols.map(([name, k]) => `ALTER TABLE "${table}" ADD COLUMN ${name} ${sqliteType(k)}`),
            postgres: [
              `ALTER TABLE "${table}" ${cols.map(([name, k]) => `ADD COLUMN IF NOT EXISTS ${name} ${serverType(k, name, true)}`).join(", ")}`,
            ],
            // One statement per table (MySQL commits DDL at once); a re-run after a crash between the two
            // finds the columns there: the executor ignores "duplicate column" for ALTER TABLE … ADD.
            mysql: [
              `ALTER TABLE \`${table}\` ${cols.map(([name, k]) => `ADD COLUMN ${name} ${serverType(k, name, false)} NULL`).join(", ")}`,
            ],
          },
        });
      }
      // The refresh scheduler's query: rotating tokens by expiry, per app; never a full scan.
      steps.push(
        {
          index: {
            name: `${t.bots}_expiry_idx`,
            table: t.bots,
            columns: ["client_id", "bot_token_expires_at"],
          },
        },
        {
          index: {
            name: `${t.installations}_expiry_idx`,
            table: t.installations,
            columns: ["client_id", "user_token_expires_at"],
          },
        },
      );
      return steps;
    },
  },
  {
    version: 4,
    description: "team_access table (workspaces granted to or revoked from org-wide installs)",
    steps: (t) => [
      {
        table: {
          name: t.teamAccess,
          columns: [
            key("client_id", 128),
            key("enterprise_id"),
            key("team_id"),
            { name: "access", type: "string", length: 16, notNull: true },
            dbl("updated_at", true),
          ],
          primaryKey: ["client_id", "enterprise_id", "team_id"],
        },
      },
    ],
  },
];

/**
 * The schema version this library writes: the last migration's.
 *
 * @example
 * ```ts
 * if (dbVersion > SCHEMA_VERSION) console.warn("upgrade slack-oauth-kit");
 * ```
 */
export const SCHEMA_VERSION: number = MIGRATIONS.at(-1)?.version ?? 0;

function renderStep(d: Dialect, step: MigrationStep): readonly string[] {
  if ("table" in step) return d.createTable(step.table);
  if ("index" in step) return d.createIndex(step.index);
  const sql = step.sql[d.name];
  if (sql === undefined) throw new ConfigError(`migration has no SQL for dialect ${d.name}`);
  return sql;
}

/**
 * The DDL of every migration for a dialect, in order (for review, or to apply by hand with another tool).
 *
 * @example
 * ```ts
 * for (const { version, sql } of renderMigrations(sqliteDialect, "slack_")) console.log(version, sql);
 * ```
 */
export function renderMigrations(
  d: Dialect,
  prefix: string,
  migrations: readonly Migration[] = MIGRATIONS,
): { version: number; sql: readonly string[] }[] {
  const t = tableNames(validateTablePrefix(prefix));
  return migrations.map((m) => ({ version: m.version, sql: m.steps(t).flatMap((s) => renderStep(d, s)) }));
}

async function currentVersion(exec: SqlExecutor, d: Dialect, table: string): Promise<number> {
  const rows = await exec.query(`SELECT MAX(${d.quoteId("version")}) AS v FROM ${d.quoteId(table)}`, []);
  const v = rows[0]?.[0];
  return v === null || v === undefined ? 0 : Number(v);
}

/**
 * Brings the database to the latest schema: creates `<prefix>migrations` if needed, then applies each
 * missing migration in order, each as one batch together with its bookkeeping row, so a crash leaves the
 * schema at a known version; last, creates the dialect's {@link Dialect.lookupIndexes} that are missing.
 * Idempotent and safe to run from several processes at once.
 * Throws {@link SchemaVersionError} if the database is newer than the code.
 *
 * @returns the schema version after migrating.
 * @example
 * ```ts
 * await migrate(executor, sqliteDialect, "slack_");
 * ```
 */
export async function migrate(
  exec: SqlExecutor,
  d: Dialect,
  prefix: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number> {
  const t = tableNames(validateTablePrefix(prefix));
  let last = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= last) {
      throw new ConfigError("migrations must have strictly increasing positive integer versions");
    }
    last = m.version;
  }
  for (const sql of d.createTable({
    name: t.migrations,
    columns: [
      { name: "version", type: "integer", notNull: true },
      { name: "description", type: "text" },
      { name: "applied_at", type: "double", notNull: true },
    ],
    primaryKey: ["version"],
  })) {
    await exec.run(d.finalize(sql), []);
  }
  const check = (v: number): number => {
    if (v > last) throw new SchemaVersionError(v, last, t.migrations);
    return v;
  };
  let version = check(await currentVersion(exec, d, t.migrations));
  for (const m of migrations) {
    if (m.version <= version) continue;
    // One batch per migration: the lock, the DDL and the bookkeeping row, all known up front. The row
    // goes last and its primary key is the version, so when another process applied this migration
    // while we waited for the lock, the batch fails (and rolls back where DDL is transactional) and the
    // version read again says so.
    const statements: SqlStatement[] = [];
    const lock = d.migrationLock(t.migrations);
    if (lock !== undefined) statements.push({ sql: lock, params: [] });
    for (const step of m.steps(t)) for (const sql of renderStep(d, step)) statements.push({ sql, params: [] });
    statements.push({
      sql: d.finalize(
        `INSERT INTO ${d.quoteId(t.migrations)} (${d.quoteId("version")}, ${d.quoteId("description")}, ${d.quoteId("applied_at")}) VALUES (?, ?, ?)`,
      ),
      params: [m.version, m.description, Date.now() / 1000],
    });
    try {
      await exec.batch(statements);
      version = m.version;
    } catch (e) {
      const now = check(await currentVersion(exec, d, t.migrations).catch(() => version));
      if (now < m.version) throw e;
      version = now;
    }
  }
  for (const sql of d.lookupIndexes(t)) await exec.run(sql, []);
  return version;
}
