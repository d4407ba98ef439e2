import { type ColumnDef, type Dialect, type IndexDef, renderCreateTable, type TableDef } from "../sql/dialect.js";

/**
 * The SQLite dialect (better-sqlite3 12 bundles SQLite 3.5x).
 *
 * Types: `INTEGER PRIMARY KEY` (the rowid: a new row always gets a larger id than every existing
 * row), `TEXT` for strings and JSON, `REAL` for epoch seconds, `INTEGER` 0/1 for booleans.
 *
 * @example
 * ```ts
 * import { sqliteDialect } from "slack-oauth-kit/stores/sqlite";
 * sqliteDialect.createTable({ name: "t", columns: [{ name: "id", type: "id" }] });
 * ```
 */
export const sqliteDialect: Dialect = {
  name: "sqlite",
  quoteId: (name) => `"${name}"`,
  finalize: (sql) => sql,
  columnType(c: ColumnDef): string {
    switch (c.type) {
      case "id":
      case "integer":
        return "INTEGER";
      case "double":
        return "REAL";
      case "boolean":
        return "INTEGER";
      default:
        return "TEXT";
    }
  },
  createTable(t: TableDef): string[] {
    return [renderCreateTable(sqliteDialect, t, (c) => `${sqliteDialect.quoteId(c.name)} INTEGER PRIMARY KEY`)];
  },
  createIndex(i: IndexDef): string[] {
    const q = sqliteDialect.quoteId;
    return [
      `CREATE ${i.unique ? "UNIQUE " : ""}INDEX IF NOT EXISTS ${q(i.name)} ON ${q(i.table)} (${i.columns.map(q).join(", ")})`,
    ];
  },
  boundedDelete(table, keyColumn, where, limit) {
    const q = sqliteDialect.quoteId;
    const n = Math.max(1, Math.floor(limit));
    return `DELETE FROM ${q(table)} WHERE ${q(keyColumn)} IN (SELECT ${q(keyColumn)} FROM ${q(table)} WHERE ${where} LIMIT ${n})`;
  },
  // Writers are serialised by BEGIN IMMEDIATE: no row locks exist or are needed.
  lookupIndexes: (t) => [
    `CREATE INDEX IF NOT EXISTS "${t.bots}_lookup_idx" ON "${t.bots}" (client_id, enterprise_id, team_id, id, app_id, enterprise_name, enterprise_url, team_name, bot_token, bot_id, bot_user_id, bot_scopes, bot_refresh_token, bot_token_expires_at, is_enterprise_install, installed_at, custom_values)`,
  ],
  insertIgnore: (sql) => sql.replace(/^INSERT INTO /, "INSERT OR IGNORE INTO "),
  forUpdate: "",
  migrationLock: () => undefined,
};
