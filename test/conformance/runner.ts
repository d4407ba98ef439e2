/**
 * The test functions the in-repo test files pass to the exported conformance suites (`src/testing/`).
 * Under `bun test` the `vitest` import is answered by Bun's own runner.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TestFunctions } from "../../src/testing/index.js";

export const runner: TestFunctions = { describe, it, expect, beforeEach, afterEach };
