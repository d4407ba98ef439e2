/**
 * Loads better-sqlite3, an optional peer dependency, when a SQLite store (or a command reading a SQLite
 * file) first needs it: a PostgreSQL-only app never installs or builds it, and one that uses SQLite
 * without it gets a {@link MissingDependencyError} naming the package instead of a module-resolution
 * failure at import time.
 *
 * @internal
 */
import { createRequire } from "node:module";
import { MissingDependencyError } from "../../errors.js";
import type { SQLiteDatabase } from "./executor.js";

/** better-sqlite3's `Database` constructor, with the options this library passes. */
export type SQLiteDriver = new (
  filename: string,
  options?: { timeout?: number; readonly?: boolean; fileMustExist?: boolean },
) => SQLiteDatabase;

export const SQLITE_PACKAGE = "better-sqlite3";

let driver: SQLiteDriver | undefined;

/**
 * better-sqlite3's `Database` class, loaded once (synchronously: the stores open their file in their
 * constructor). `feature` names what needs it, for the error.
 */
export function loadBetterSqlite3(feature: string): SQLiteDriver {
  if (driver !== undefined) return driver;
  try {
    driver = createRequire(import.meta.url)(SQLITE_PACKAGE) as SQLiteDriver;
  } catch (error) {
    if (!isMissing(error)) throw error;
    throw new MissingDependencyError(
      SQLITE_PACKAGE,
      `${feature} needs the package "${SQLITE_PACKAGE}", an optional peer dependency of slack-oauth-kit that is not installed: run \`npm install ${SQLITE_PACKAGE}@12\` (or use another store)`,
      { cause: error },
    );
  }
  return driver;
}

/** True when the error says better-sqlite3 itself cannot be found (not one of its own imports). */
function isMissing(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return e?.code === "MODULE_NOT_FOUND" && typeof e.message === "string" && e.message.includes(`'${SQLITE_PACKAGE}'`);
}
