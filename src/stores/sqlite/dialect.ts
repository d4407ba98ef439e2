import { type ColumnDef, type Dialect, type IndexDef, renderCreateTable, type TableDef } from "../sql/dialect.js";
import { PACKED_BOT_SELECT } from "../sql/rows.js";

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
  // findBot's covering index: the key, then every column it returns packed into one text value (the very
  // expression findBot selects, PACKED_BOT_SELECT), so one B-tree read answers it and one string leaves
  // SQLite. The team id leads (the most selective part of the key: the client id is the same for one app,
  // the enterprise id for a whole org), so most comparisons on the way down end at the first column. The
  // indexes earlier versions created for the same purpose (every column separately; the key in another
  // order) are dropped once this one exists; a version that still wants one recreates it, and either
  // serves (bench/RESULTS.md).
  packedBotSelect: PACKED_BOT_SELECT,
  lookupIndexes: (t) => [
    `CREATE INDEX IF NOT EXISTS "${t.bots}_packed_lookup_idx" ON "${t.bots}" (team_id, enterprise_id, client_id, id, (${PACKED_BOT_SELECT}))`,
    `DROP INDEX IF EXISTS "${t.bots}_team_lookup_idx"`,
    `DROP INDEX IF EXISTS "${t.bots}_lookup_idx"`,
  ],
  insertIgnore: (sql) => sql.replace(/^INSERT INTO /, "INSERT OR IGNORE INTO "),
  forUpdate: "",
  migrationLock: () => undefined,
};
