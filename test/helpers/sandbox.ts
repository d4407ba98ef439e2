/**
 * The reference server in sandbox mode (its in-process emulator plays Slack) on memory stores, on a free
 * port: what the page, console and sign-in tests start.
 */
import { loadConfig, type ServerConfig } from "../../src/app/config.js";
import { jsonLogger } from "../../src/app/log.js";
import { type RunningServer, startServer } from "../../src/app/server.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";

/** What {@link startSandbox} may be given. */
export interface SandboxOptions {
  /** Environment variables for `loadConfig` (`PORT` is 0). */
  env?: Record<string, string>;
  /** Settings over the loaded configuration. */
  config?: Partial<ServerConfig>;
  /** The installation store (a fresh memory store by default). */
  installationStore?: InstallationStore;
  /** Receives each JSON log line (dropped by default). */
  log?: (line: string) => void;
}

/** Starts the reference server in sandbox mode on memory stores; the caller closes it. */
export function startSandbox(options: SandboxOptions = {}): Promise<RunningServer> {
  return startServer(
    { ...loadConfig({ PORT: "0", ...options.env }), databaseUrl: "memory:", ...options.config },
    {
      logger: jsonLogger(options.log ?? (() => {})),
      stores: {
        installationStore: options.installationStore ?? new MemoryInstallationStore(),
        stateStore: new MemoryStateStore(),
        close: async () => {},
      },
    },
  );
}
