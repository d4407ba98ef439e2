/**
 * Store access for the admin commands (`installations`, `doctor`): where `--database-url` / `DATABASE_URL`
 * points, opening it without creating an empty database by mistake, and a read-only look at its schema.
 */
import { accessSync, constants, existsSync, readdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { applyStoreOptions, type OpenedStores, openStores } from "../app/stores.js";
import { EncryptionError, StoreError } from "../errors.js";
import { isClientId } from "../import/common.js";
import { redact } from "../redact.js";
import { DEFAULT_TABLE_PREFIX, SCHEMA_VERSION, tableNames } from "../stores/sql/migrations.js";
import { loadBetterSqlite3 } from "../stores/sqlite/driver.js";
import type { SQLiteDatabase } from "../stores/sqlite/executor.js";
import { UsageError } from "./command.js";

/** The store location when neither `--database-url` nor `DATABASE_URL` is given (the server's default). */
export const DEFAULT_DATABASE_URL = "sqlite:./data/slack-oauth-kit.db";

/** What a database URL names (the same rules as the server's `openStores`). */
export type DatabaseLocation =
  | { kind: "sqlite"; url: string; filename: string }
  | { kind: "file"; url: string; dir: string }
  | { kind: "memory"; url: string }
  | { kind: "other"; url: string; scheme: string };

/** Parses a database URL the way `openStores` does. */
export function locateDatabase(databaseUrl: string): DatabaseLocation {
  const url = databaseUrl.trim();
  if (url === "memory:" || url === "memory") return { kind: "memory", url };
  if (url.startsWith("file:")) return { kind: "file", url, dir: url.slice("file:".length) || "./data/installations" };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (scheme !== undefined && scheme.toLowerCase() !== "sqlite") return { kind: "other", url, scheme };
  const filename = url.startsWith("sqlite:") ? url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "") : url;
  return { kind: "sqlite", url, filename };
}

/** The database URL of an admin command: the flag, else `DATABASE_URL`, else the server's default. */
export function databaseUrlOf(flag: string | undefined, env: Record<string, string | undefined>): string {
  const url = (flag ?? env.DATABASE_URL ?? "").trim() || DEFAULT_DATABASE_URL;
  return url;
}

/** A `--client-id` option (a store partition): a Slack client id, else a {@link UsageError}. */
export function clientIdOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const shown = value.slice(0, 40);
  if (!isClientId(value))
    throw new UsageError(
      `--client-id must be a Slack client id (letters, digits, '.', '-', '_'), got "${redact(shown)}"`,
    );
  return value;
}

/** A database URL for messages: the path for SQLite and files, credentials masked for the rest. */
export function describeDatabase(loc: DatabaseLocation): string {
  switch (loc.kind) {
    case "sqlite":
      return `SQLite database ${loc.filename}`;
    case "file":
      return `file store ${loc.dir}`;
    case "memory":
      return "memory store";
    default:
      return redact(loc.url.replace(/\/\/([^@/]*)@/, "//****@"));
  }
}

/** The admin command cannot reach the store: exit code 1, with what to check. */
export class StoreUnavailableError extends StoreError {}

/**
 * Opens the stores for an admin command. Refuses `memory:` (it lives inside the server process) and
 * a SQLite file or store directory that does not exist (rather than creating an empty one and reporting
 * "no installations").
 */
export async function openAdminStores(
  databaseUrl: string,
  options: { clientId?: string | undefined } = {},
): Promise<OpenedStores> {
  const loc = locateDatabase(databaseUrl);
  if (loc.kind === "memory") {
    throw new UsageError(
      "DATABASE_URL=memory: lives inside the server process; the admin commands cannot see it. Use --database-url sqlite:PATH",
    );
  }
  if (loc.kind === "sqlite" && loc.filename !== ":memory:" && !existsSync(resolve(loc.filename))) {
    throw new StoreUnavailableError(
      `No database at ${resolve(loc.filename)}: nothing has been installed yet, or --database-url / DATABASE_URL points elsewhere than the server's.`,
    );
  }
  if (loc.kind === "file" && !existsSync(resolve(loc.dir))) {
    throw new StoreUnavailableError(
      `No file store at ${resolve(loc.dir)}: nothing has been installed yet, or --database-url / DATABASE_URL points elsewhere than the server's.`,
    );
  }
  // The admin commands never create or migrate tables: a database without ours (or with an older schema)
  // is reported and left as it is.
  await requireSchema(loc, databaseUrl);
  try {
    // With encryption on, `installations show --reveal` needs the key to show a token: same env as the server.
    return await applyStoreOptions(await openStores(databaseUrl, { ...options, readOnly: true }), {
      tokenEncryptionKey: process.env.SLACK_TOKEN_ENCRYPTION_KEY || undefined,
    });
  } catch (error) {
    if (error instanceof EncryptionError) throw error; // exit 2: the key to set is named
    throw new StoreUnavailableError(
      `Cannot open the ${describeDatabase(loc)}: ${redact(error instanceof Error ? error.message : String(error))}`,
    );
  }
}

/** Refuses (StoreUnavailableError, naming the database) a SQL database without this library's current schema. */
async function requireSchema(loc: DatabaseLocation, databaseUrl: string): Promise<void> {
  if (loc.kind === "sqlite") {
    if (loc.filename === ":memory:") return;
    const s = await inspectSqlite(loc.filename);
    if (s.status === "ok") return;
    throw new StoreUnavailableError(`${s.detail}. Nothing was created or changed${schemaHint(s.status)}`);
  }
  if (loc.kind !== "other") return;
  const scheme = loc.scheme.toLowerCase();
  if (!["postgres", "postgresql", "mysql", "mariadb"].includes(scheme)) return;
  let version: number | undefined;
  try {
    version = await sqlSchemaVersion(scheme, databaseUrl);
  } catch (error) {
    throw new StoreUnavailableError(
      `Cannot read ${describeDatabase(loc)}: ${redact(error instanceof Error ? error.message : String(error))}`,
    );
  }
  if (version === SCHEMA_VERSION) return;
  const what =
    version === undefined
      ? `${describeDatabase(loc)} has no slack-oauth-kit tables (no ${tableNames(DEFAULT_TABLE_PREFIX).migrations} table)`
      : version > SCHEMA_VERSION
        ? `${describeDatabase(loc)} has schema version ${version}, newer than this library's ${SCHEMA_VERSION}: upgrade slack-oauth-kit`
        : `${describeDatabase(loc)} has schema version ${version}, older than this library's ${SCHEMA_VERSION}`;
  throw new StoreUnavailableError(
    `${what}. Nothing was created or changed${schemaHint(version === undefined ? "pending" : version > SCHEMA_VERSION ? "too-new" : "pending")}`,
  );
}

function schemaHint(status: StoreStatus["status"]): string {
  return status === "pending" || status === "missing"
    ? ": start the server once or run `slack-oauth-kit migrate`, or check --database-url / DATABASE_URL."
    : ".";
}

/** The schema version of a PostgreSQL or MySQL database (`undefined`: no migrations table), read-only. */
async function sqlSchemaVersion(scheme: string, url: string): Promise<number | undefined> {
  const table = tableNames(DEFAULT_TABLE_PREFIX).migrations;
  if (scheme === "postgres" || scheme === "postgresql") {
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      const has = await client.query("SELECT to_regclass($1) AS t", [`"${table}"`]);
      if (has.rows[0]?.t === null || has.rows[0]?.t === undefined) return undefined;
      const r = await client.query(`SELECT MAX(version) AS v FROM "${table}"`);
      return Number(r.rows[0]?.v ?? 0);
    } finally {
      await client.end().catch(() => {});
    }
  }
  const mysql = await import("mysql2/promise");
  const conn = await mysql.createConnection({ uri: url.replace(/^mariadb:/i, "mysql:"), connectTimeout: 5000 });
  try {
    const [rows] = await conn.query(
      "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
      [table],
    );
    if (Number((rows as Array<{ n: unknown }>)[0]?.n ?? 0) === 0) return undefined;
    const [v] = await conn.query(`SELECT MAX(version) AS v FROM \`${table}\``);
    return Number((v as Array<{ v: unknown }>)[0]?.v ?? 0);
  } finally {
    await conn.end().catch(() => {});
  }
}

/**
 * A read-only look at a store (for `doctor`): never creates, migrates or writes anything.
 *
 * - `ok`: reachable, schema at this library's version;
 * - `missing`: not created yet, and it can be (the server creates and migrates it at first start);
 * - `pending`: reachable, older schema (the server migrates it at start);
 * - `too-new`: migrated by a newer version of this library;
 * - `unreachable`: cannot be opened or read, or cannot be created;
 * - `volatile`: `memory:` (installations are lost at restart);
 * - `unsupported`: a URL this version cannot open.
 */
export interface StoreStatus {
  status: "ok" | "missing" | "pending" | "too-new" | "unreachable" | "volatile" | "unsupported";
  detail: string;
  /** Schema version found (SQL stores). */
  version?: number;
}

/** Inspects the store named by a database URL without changing it. */
export async function inspectStore(databaseUrl: string): Promise<StoreStatus> {
  const loc = locateDatabase(databaseUrl);
  if (loc.kind === "memory") {
    return { status: "volatile", detail: "memory: installations are kept in the server's memory and lost at restart" };
  }
  if (loc.kind === "other") {
    const scheme = loc.scheme.toLowerCase();
    if (scheme === "postgres" || scheme === "postgresql" || scheme === "mysql" || scheme === "mariadb") {
      // Reachability only: connecting and `SELECT 1` neither creates nor migrates anything.
      try {
        await probeSqlServer(scheme, databaseUrl);
        return {
          status: "ok",
          detail: `${describeDatabase(loc)} is reachable (schema is migrated at the server's start)`,
        };
      } catch (error) {
        return {
          status: "unreachable",
          detail: `${describeDatabase(loc)} is unreachable: ${redact(error instanceof Error ? error.message : String(error))}`,
        };
      }
    }
    try {
      const stores = await openStores(databaseUrl);
      await stores.close();
      return { status: "ok", detail: describeDatabase(loc) };
    } catch (error) {
      return {
        status: "unsupported",
        detail: redact(error instanceof Error ? error.message : String(error)),
      };
    }
  }
  if (loc.kind === "file") return inspectDirectory(resolve(loc.dir));
  return inspectSqlite(loc.filename);
}

/** The nearest existing ancestor of `path`, and whether a new file or directory can be made in it. */
function creatable(path: string): { ok: boolean; where: string; why?: string } {
  let dir = dirname(path);
  while (!existsSync(dir)) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  try {
    if (!statSync(dir).isDirectory()) return { ok: false, where: dir, why: "is not a directory" };
    accessSync(dir, constants.W_OK | constants.X_OK);
    return { ok: true, where: dir };
  } catch {
    return { ok: false, where: dir, why: "is not writable" };
  }
}

function inspectDirectory(dir: string): StoreStatus {
  if (!existsSync(dir)) {
    const c = creatable(`${dir}/x`);
    return c.ok
      ? { status: "missing", detail: `file store ${dir} does not exist yet; the server creates it at first start` }
      : { status: "unreachable", detail: `file store ${dir} cannot be created: ${c.where} ${c.why}` };
  }
  try {
    if (!statSync(dir).isDirectory()) return { status: "unreachable", detail: `${dir} is not a directory` };
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    return { status: "ok", detail: `file store ${dir} is readable and writable` };
  } catch {
    return { status: "unreachable", detail: `file store ${dir} is not readable and writable by this user` };
  }
}

async function inspectSqlite(filename: string): Promise<StoreStatus> {
  if (filename === ":memory:" || filename === "") {
    return { status: "volatile", detail: "an in-memory SQLite database is lost at restart" };
  }
  const path = resolve(filename);
  if (!existsSync(path)) {
    const c = creatable(path);
    return c.ok
      ? {
          status: "missing",
          detail: `SQLite database ${path} does not exist yet; the server creates it at first start`,
        }
      : { status: "unreachable", detail: `SQLite database ${path} cannot be created: ${c.where} ${c.why}` };
  }
  const Database = loadBetterSqlite3("reading a SQLite database");
  let db: SQLiteDatabase | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 2000 });
    const t = tableNames(DEFAULT_TABLE_PREFIX);
    const has = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?").get(t.migrations);
    if (has === undefined) {
      return {
        status: "pending",
        version: 0,
        detail: `SQLite database ${path} has no tables of this library yet; the server migrates it at start`,
      };
    }
    const row = db.prepare(`SELECT MAX(version) AS v FROM "${t.migrations}"`).get() as { v: number | null } | undefined;
    const version = Number(row?.v ?? 0);
    if (version > SCHEMA_VERSION) {
      return {
        status: "too-new",
        version,
        detail: `SQLite database ${path} has schema version ${version}, newer than this library's ${SCHEMA_VERSION}: upgrade slack-oauth-kit`,
      };
    }
    if (version < SCHEMA_VERSION) {
      return {
        status: "pending",
        version,
        detail: `SQLite database ${path} has schema version ${version}; the server migrates it to ${SCHEMA_VERSION} at start`,
      };
    }
    // Reading the tables proves the file is readable end to end (not just its header).
    db.prepare(`SELECT COUNT(*) FROM "${t.bots}"`).get();
    try {
      accessSync(path, constants.R_OK | constants.W_OK);
    } catch {
      return { status: "unreachable", version, detail: `SQLite database ${path} is not writable by this user` };
    }
    return { status: "ok", version, detail: `SQLite database ${path}, schema version ${version}` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { status: "unreachable", detail: `SQLite database ${path} cannot be read: ${redact(message)}` };
  } finally {
    db?.close();
  }
}

/** Connects to a PostgreSQL or MySQL/MariaDB server, runs `SELECT 1`, and disconnects (5 s timeout). */
async function probeSqlServer(scheme: string, url: string): Promise<void> {
  if (scheme === "postgres" || scheme === "postgresql") {
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
    } finally {
      await client.end().catch(() => {});
    }
    return;
  }
  const mysql = await import("mysql2/promise");
  const conn = await mysql.createConnection({ uri: url.replace(/^mariadb:/i, "mysql:"), connectTimeout: 5000 });
  try {
    await conn.query("SELECT 1");
  } finally {
    await conn.end().catch(() => {});
  }
}

/**
 * The app partitions (client ids) a store holds installations or bots in, read-only: `undefined` for the
 * default partition (always first), then each client id in order. SQL stores: the
 * distinct `client_id` of the bots and installations tables; the file store: its `<clientId>` folders
 * (`_default` is the default partition). Other stores: the default partition only.
 */
export async function listPartitions(databaseUrl: string): Promise<Array<string | undefined>> {
  const loc = locateDatabase(databaseUrl);
  const t = tableNames(DEFAULT_TABLE_PREFIX);
  const sql = `SELECT DISTINCT client_id AS c FROM "${t.bots}" UNION SELECT DISTINCT client_id AS c FROM "${t.installations}"`;
  let ids: string[] = [];
  if (loc.kind === "file") {
    const dir = resolve(loc.dir);
    ids = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && (d.name === "_default" || isClientId(d.name)))
      .map((d) => (d.name === "_default" ? "" : d.name));
  } else if (loc.kind === "sqlite") {
    if (loc.filename === ":memory:") return [undefined];
    const Database = loadBetterSqlite3("reading a SQLite database");
    const db = new Database(resolve(loc.filename), { readonly: true, fileMustExist: true, timeout: 2000 });
    try {
      ids = (db.prepare(sql).all() as Array<{ c: string | null }>).map((r) => r.c ?? "");
    } finally {
      db.close();
    }
  } else if (loc.kind === "other") {
    const scheme = loc.scheme.toLowerCase();
    if (scheme === "postgres" || scheme === "postgresql") {
      const pg = (await import("pg")).default;
      const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
      try {
        await client.connect();
        ids = (await client.query(sql)).rows.map((r: { c: string | null }) => r.c ?? "");
      } finally {
        await client.end().catch(() => {});
      }
    } else if (scheme === "mysql" || scheme === "mariadb") {
      const mysql = await import("mysql2/promise");
      const conn = await mysql.createConnection({
        uri: databaseUrl.replace(/^mariadb:/i, "mysql:"),
        connectTimeout: 5000,
      });
      try {
        const [rows] = await conn.query(sql.replaceAll('"', "`"));
        ids = (rows as Array<{ c: string | null }>).map((r) => r.c ?? "");
      } finally {
        await conn.end().catch(() => {});
      }
    }
  }
  const named = [...new Set(ids.filter((c) => c !== ""))].filter(isClientId).sort();
  return [undefined, ...named];
}
