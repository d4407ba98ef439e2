import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { redact } from "../redact.js";
import { DEFAULT_TABLE_PREFIX, MIGRATIONS, SCHEMA_VERSION, tableNames } from "../stores/sql/migrations.js";
import { loadBetterSqlite3 } from "../stores/sqlite/driver.js";
import { databaseUrlOf, describeDatabase, locateDatabase } from "./admin-store.js";
import { type Command, ExitCode, parseOptions, UsageError } from "./command.js";

/** The schema version recorded in a SQL database (0 when it has no migrations table, or no file). */
async function readVersion(databaseUrl: string): Promise<number> {
  const loc = locateDatabase(databaseUrl);
  const table = tableNames(DEFAULT_TABLE_PREFIX).migrations;
  if (loc.kind === "sqlite") {
    const path = resolve(loc.filename);
    if (!existsSync(path)) return 0;
    const Database = loadBetterSqlite3("migrate (SQLite)");
    const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 2000 });
    try {
      const has = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
      if (has === undefined) return 0;
      const row = db.prepare(`SELECT MAX(version) AS v FROM "${table}"`).get() as { v: number | null } | undefined;
      return Number(row?.v ?? 0);
    } finally {
      db.close();
    }
  }
  const scheme = loc.kind === "other" ? loc.scheme.toLowerCase() : "";
  if (scheme === "postgres" || scheme === "postgresql") {
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      const exists = await client.query("SELECT to_regclass($1) AS t", [table]);
      if (exists.rows[0]?.t === null) return 0;
      const r = await client.query(`SELECT MAX(version) AS v FROM "${table}"`);
      return Number(r.rows[0]?.v ?? 0);
    } finally {
      await client.end().catch(() => {});
    }
  }
  if (scheme === "mysql" || scheme === "mariadb") {
    const mysql = await import("mysql2/promise");
    const conn = await mysql.createConnection({
      uri: databaseUrl.replace(/^mariadb:/i, "mysql:"),
      connectTimeout: 5000,
    });
    try {
      const [t] = await conn.query(
        "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
        [table],
      );
      if (Number((t as { n: number }[])[0]?.n ?? 0) === 0) return 0;
      const [rows] = await conn.query(`SELECT MAX(version) AS v FROM \`${table}\``);
      return Number((rows as { v: number | null }[])[0]?.v ?? 0);
    } finally {
      await conn.end().catch(() => {});
    }
  }
  throw new UsageError(`migrate works on SQL stores (sqlite:, postgres://, mysql://), not ${describeDatabase(loc)}`);
}

/** `slack-oauth-kit migrate`: brings a SQL store's schema to this version's, or shows what would run. */
export const migrateCommand: Command = {
  name: "migrate",
  summary: "Apply pending SQL schema migrations (SQLite, PostgreSQL, MySQL); --dry-run shows them.",
  usage: [
    "slack-oauth-kit migrate [--database-url URL] [--dry-run]",
    "",
    "  --database-url URL  sqlite:PATH, postgres://…, mysql://… (default: env DATABASE_URL, else",
    "                      sqlite:./data/slack-oauth-kit.db; a missing SQLite file is created)",
    "  --dry-run           print the pending migrations and change nothing",
    "",
    "Prints the schema version before and after. The server also migrates at start; this command lets",
    "you do it ahead of a deploy. Exit codes: 0 up to date or migrated, 1 failed (unreachable, or a",
    "database newer than this version), 2 bad usage (or a store that is not SQL).",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      "database-url": { type: "string" },
      "dry-run": { type: "boolean" },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${redact(positionals[0] ?? "")}"`);
    const databaseUrl = databaseUrlOf(values["database-url"], process.env);
    const loc = locateDatabase(databaseUrl);
    if (loc.kind === "memory" || loc.kind === "file")
      throw new UsageError(
        `migrate works on SQL stores (sqlite:, postgres://, mysql://), not ${describeDatabase(loc)}`,
      );
    const before = await readVersion(databaseUrl);
    const where = describeDatabase(loc);
    process.stdout.write(`${where}: schema version ${before}, this library's ${SCHEMA_VERSION}\n`);
    if (before > SCHEMA_VERSION) {
      process.stderr.write(
        `The database is newer than this library (${before} > ${SCHEMA_VERSION}): upgrade slack-oauth-kit.\n`,
      );
      return ExitCode.Failure;
    }
    const pending = MIGRATIONS.filter((m) => m.version > before);
    if (pending.length === 0) {
      process.stdout.write("Up to date: nothing to migrate.\n");
      return ExitCode.Ok;
    }
    for (const m of pending)
      process.stdout.write(`${values["dry-run"] ? "would apply" : "applying"} ${m.version}: ${m.description}\n`);
    if (values["dry-run"]) {
      process.stdout.write(`Dry run: nothing changed (would go from ${before} to ${SCHEMA_VERSION}).\n`);
      return ExitCode.Ok;
    }
    const { openStores } = await import("../app/stores.js");
    const stores = await openStores(databaseUrl);
    try {
      const store = stores.installationStore as { init?: () => Promise<void> };
      await store.init?.();
      const state = stores.stateStore as { init?: () => Promise<void> };
      await state.init?.();
    } finally {
      await stores.close();
    }
    const after = await readVersion(databaseUrl);
    process.stdout.write(`Migrated: schema version ${before} -> ${after}.\n`);
    return after === SCHEMA_VERSION ? ExitCode.Ok : ExitCode.Failure;
  },
};
