import { ConfigError } from "../errors.js";
import type { StateStore } from "../state/state.js";
import type { InstallationStore } from "../stores/installation-store.js";

/** The stores selected by `DATABASE_URL`. */
export interface OpenedStores {
  installationStore: InstallationStore;
  stateStore: StateStore;
  close(): Promise<void>;
}

/**
 * Opens the stores named by a database URL: `sqlite:PATH` (or a bare path ending in .db/.sqlite),
 * `file:DIR` (JSON files), `memory:`. PostgreSQL and MySQL URLs are recognised and reported as not
 * available in this version.
 */
export async function openStores(databaseUrl: string): Promise<OpenedStores> {
  const url = databaseUrl.trim();
  if (url === "memory:" || url === "memory") {
    const { MemoryInstallationStore, MemoryStateStore } = await import("../stores/memory.js");
    const installationStore = new MemoryInstallationStore();
    const stateStore = new MemoryStateStore();
    return { installationStore, stateStore, close: async () => {} };
  }
  if (url.startsWith("file:")) {
    const { FileInstallationStore, FileStateStore } = await import("../stores/file.js");
    const dir = url.slice("file:".length) || "./data/installations";
    const installationStore = new FileInstallationStore({ baseDir: dir });
    const stateStore = new FileStateStore({ baseDir: `${dir.replace(/\/+$/, "")}-states` });
    return { installationStore, stateStore, close: async () => {} };
  }
  if (/^(postgres|postgresql|mysql|mariadb):\/\//i.test(url)) {
    throw new ConfigError(
      `DATABASE_URL: ${url.split(":")[0]} stores are not available in this version; use sqlite:PATH`,
    );
  }
  const filename = url.startsWith("sqlite:") ? url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "") : url;
  if (!filename) throw new ConfigError("DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/app.db");
  const { SQLiteInstallationStore, SQLiteStateStore } = await import("../stores/sqlite.js");
  const installationStore = new SQLiteInstallationStore({ filename });
  const stateStore = new SQLiteStateStore({ filename });
  return {
    installationStore,
    stateStore,
    async close() {
      await stateStore.close?.();
      await installationStore.close?.();
    },
  };
}
