/**
 * JSON-file stores: {@link FileInstallationStore} and {@link FileStateStore}. Several processes may share
 * one directory: every write is atomic (temp file in the same directory, fsync, rename), lookups read
 * one file by a path computed from validated ids (no directory scans), and state consumption is a
 * `rename`, which POSIX makes atomic, so only one process ever wins a state.
 */
export { FileInstallationStore, type FileInstallationStoreOptions } from "./file/installation-store.js";
export { FileStateStore, type FileStateStoreOptions } from "./file/state-store.js";
