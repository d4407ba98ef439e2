/**
 * In-process stores: {@link MemoryInstallationStore} and {@link MemoryStateStore}. Nothing survives a
 * restart and nothing is shared between processes: use them for tests, the emulator's sandbox and
 * single-process apps that reinstall on boot.
 */
export { MemoryInstallationStore, type MemoryInstallationStoreOptions } from "./memory/installation-store.js";
export { DEFAULT_MAX_MEMORY_STATES, MemoryStateStore, type MemoryStateStoreOptions } from "./memory/state-store.js";
