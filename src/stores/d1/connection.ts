/**
 * What the D1 stores share: their options and one executor per D1 binding. The public entry point is
 * `slack-oauth-kit/stores/d1`.
 *
 * @internal
 */
import { ConfigError } from "../../errors.js";
import { type D1Database, D1Executor } from "./executor.js";

/**
 * Options shared by {@link D1InstallationStore} and {@link D1StateStore}.
 *
 * @example
 * ```ts
 * const options: D1StoreOptions = { database: env.DB, tablePrefix: "myapp_" };
 * ```
 */
export interface D1StoreOptions {
  /** The D1 binding (`env.DB`). */
  database: D1Database;
  /**
   * Table prefix, `^[a-z_][a-z0-9_]{0,30}$`.
   *
   * @default `slack_`
   */
  tablePrefix?: string | undefined;
  /**
   * `false`: never create or migrate tables (you applied the schema yourself, e.g. with
   * `wrangler d1 migrations`); a call on a database without them fails. Default: the first call of each
   * isolate creates what is missing (`CREATE TABLE IF NOT EXISTS`, then one `SELECT` of the version).
   */
  migrate?: boolean | undefined;
}

/** One executor per binding, shared by every store on it. */
const executors = new WeakMap<D1Database, D1Executor>();

export function executorFor(options: D1StoreOptions | undefined, storeName: string): D1Executor {
  const database = options?.database as unknown;
  if (database === null || typeof database !== "object") {
    throw new ConfigError(`${storeName}: database must be a D1 binding (env.DB)`);
  }
  const db = database as D1Database;
  if (typeof db.prepare !== "function" || typeof db.batch !== "function") {
    throw new ConfigError(`${storeName}: database must be a D1 binding (env.DB), with prepare() and batch()`);
  }
  let e = executors.get(db);
  if (e === undefined) {
    e = new D1Executor(db);
    executors.set(db, e);
  }
  return e;
}
