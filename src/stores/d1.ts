/**
 * Cloudflare D1 stores, for Workers: the shared SQL core (`sql/`) with the SQLite dialect (D1 is SQLite)
 * and an executor over the D1 binding that uses single statements and `batch()` only, since D1 has no
 * interactive transactions. The schema is that of `slack-oauth-kit/stores/sqlite`: a database exported
 * from D1 (`wrangler d1 export`) opens with the SQLite stores, and the other way round.
 *
 * - {@link D1InstallationStore}, {@link D1StateStore}: installations, token rotation (compare-and-set,
 *   lease locks) and one-time OAuth states, all in D1;
 * - {@link KvCachedInstallationStore}: Workers KV as a read cache in front of the installation store,
 *   with bounded staleness (states and locks never go to KV).
 *
 * Nothing here imports a Node module beyond `node:crypto` (the SQL core's lock names and state ids):
 * run it with the `nodejs_compat` compatibility flag.
 *
 * @see https://developers.cloudflare.com/d1/
 */

export type { D1StoreOptions } from "./d1/connection.js";
export { type D1Database, D1Executor, type D1PreparedStatement, type D1Result } from "./d1/executor.js";
export { D1InstallationStore, type D1InstallationStoreOptions } from "./d1/installation-store.js";
export { KvCachedInstallationStore, type KvCacheOptions, type KvNamespace } from "./d1/kv-cache.js";
export { D1StateStore, type D1StateStoreOptions } from "./d1/state-store.js";
export { sqliteDialect } from "./sqlite/dialect.js";
