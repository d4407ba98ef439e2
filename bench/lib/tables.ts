/** The tables a benchmark's SQL stores create on a database server, and dropping them afterwards. */
import { tableNames } from "../../src/stores/sql/migrations.js";

/** Every table a SQL store with `prefix` may create: its schema's tables and the lock table. */
export function storeTables(prefix: string): string[] {
  return [...Object.values(tableNames(prefix)), `${prefix}locks`];
}

/** Drops every table of `prefix` (see {@link storeTables}) on the PostgreSQL or MySQL server at `url`. */
export async function dropStoreTables(driver: "pg" | "mysql", url: string, prefix: string): Promise<void> {
  if (driver === "pg") {
    const pg = (await import("pg")).default;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (const t of storeTables(prefix)) await c.query(`DROP TABLE IF EXISTS "${t}"`);
    } finally {
      await c.end();
    }
    return;
  }
  const mysql = (await import("mysql2/promise")).default;
  const c = await mysql.createConnection({ uri: url });
  try {
    for (const t of storeTables(prefix)) await c.query(`DROP TABLE IF EXISTS \`${t}\``);
  } finally {
    await c.end();
  }
}
