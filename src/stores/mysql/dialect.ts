import { type ColumnDef, type Dialect, type IndexDef, renderCreateTable, type TableDef } from "../sql/dialect.js";

/**
 * The MySQL / MariaDB dialect (MySQL 8, MariaDB 10.5+), InnoDB.
 *
 * Types: `BIGINT AUTO_INCREMENT` ids, `VARCHAR(n)` keys and short strings (indexable without prefix
 * lengths), `TEXT` tokens and URLs, `LONGTEXT` JSON, `DOUBLE` epoch seconds (never `DATETIME` /
 * `TIMESTAMP`: no time zone is involved), `TINYINT` 0/1 booleans. Tables are `utf8mb4` with the binary
 * collation: Slack ids and OAuth states are case-sensitive, and a case-insensitive collation would let
 * `abc` match `ABC`.
 *
 * MySQL has no `CREATE INDEX IF NOT EXISTS` and DDL is not transactional: the executor tolerates
 * ER_DUP_KEYNAME (1061) on `CREATE INDEX`, so re-running a half-applied migration is safe.
 *
 * @example
 * ```ts
 * import { mysqlDialect } from "slack-oauth-kit/stores/mysql";
 * mysqlDialect.boundedDelete("t", "k", "expires_at <= ?", 100); // "DELETE FROM `t` WHERE … LIMIT 100"
 * ```
 */
export const mysqlDialect: Dialect = {
  name: "mysql",
  quoteId: (name) => `\`${name}\``,
  finalize: (sql) => sql,
  columnType(c: ColumnDef): string {
    switch (c.type) {
      case "id":
      case "integer":
        return "BIGINT";
      case "double":
        return "DOUBLE";
      case "boolean":
        return "TINYINT";
      case "key":
      case "string":
        return `VARCHAR(${c.length ?? 255})`;
      case "json":
        return "LONGTEXT";
      default:
        return "TEXT";
    }
  },
  createTable(t: TableDef): string[] {
    return [
      `${renderCreateTable(mysqlDialect, t, (c) => `${mysqlDialect.quoteId(c.name)} BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY`)} ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ];
  },
  createIndex(i: IndexDef): string[] {
    const q = mysqlDialect.quoteId;
    // No IF NOT EXISTS in MySQL: the executor ignores ER_DUP_KEYNAME for CREATE INDEX.
    return [`CREATE ${i.unique ? "UNIQUE " : ""}INDEX ${q(i.name)} ON ${q(i.table)} (${i.columns.map(q).join(", ")})`];
  },
  boundedDelete(table, _keyColumn, where, limit) {
    const n = Math.max(1, Math.floor(limit));
    return `DELETE FROM ${mysqlDialect.quoteId(table)} WHERE ${where} LIMIT ${n}`;
  },
  lookupIndexes: () => [],
  indexHint: (index) => ` FORCE INDEX (${mysqlDialect.quoteId(index)})`,
  insertIgnore: (sql) => sql.replace(/^INSERT INTO /, "INSERT IGNORE INTO "),
  forUpdate: " FOR UPDATE",
  // A named lock of the session; the executor releases it when the migration transaction ends.
  migrationLock: (migrationsTable) => `DO GET_LOCK('slack-oauth-kit:${migrationsTable}', 60)`,
};
