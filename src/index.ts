export * from "./errors.js";
export * from "./model/index.js";
export * from "./redact.js";
export * from "./signature/index.js";
export * from "./state/index.js";
export type {
  BotQuery,
  DeleteInstallationQuery,
  InstallationQuery,
  InstallationStore,
  WorkspaceQuery,
} from "./stores/installation-store.js";
export { isValidId, validateInstallation } from "./stores/installation-store.js";
