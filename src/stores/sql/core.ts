/**
 * The SQL core in one import: the installation and state stores every SQL backend builds on, their
 * options and lifecycle helpers. Each lives in its own file of `sql/`; this module gathers them.
 */

export {
  type InstallationStoreStatements,
  SqlInstallationStore,
  type SqlInstallationStoreOptions,
  type StoredTokenField,
  type StoredTokenRewrite,
} from "./installation-store.js";
export {
  endPool,
  type SqlStoreOptions,
  validateClientId,
  validateTtl,
} from "./lifecycle.js";
export { SqlStateStore, type SqlStateStoreOptions, type StateStoreStatements } from "./state-store.js";
