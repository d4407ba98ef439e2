/**
 * The conformance suites every built-in store passes, for a store of your own: call
 * {@link testInstallationStore} / {@link testStateStore} from a test file with your runner's test functions
 * (`describe`, `it`, `expect`, `beforeEach`, `afterEach`). The suites import no test runner.
 *
 * @example
 * ```ts
 * import { afterEach, beforeEach, describe, expect, it } from "vitest";
 * import { testInstallationStore } from "slack-oauth-kit/testing";
 *
 * testInstallationStore({ describe, it, expect, beforeEach, afterEach }, "my store", async () => ({
 *   store: new MyInstallationStore(),
 * }));
 * ```
 *
 * @module
 */
export type { Expect, Matchers, TestBody, TestFunctions } from "./api.js";
export {
  type AppStoresHandle,
  type HistoryCounts,
  type HistoryStoreHandle,
  type InstallationStoreHandle,
  type InstallationStoreSuiteOptions,
  testInstallationStore,
} from "./installation-store.js";
export {
  type MultiProcessOptions,
  type StateStoreHandle,
  type StateStoreSuiteOptions,
  testStateStore,
} from "./state-store.js";
