// Nothing in the stores may depend on the machine's time zone. Vitest runs each test file in its own
// process, so this file switches its process to America/New_York (UTC-5/-4) and runs the conformance
// suites there, whatever TZ the run was started with. (Also run everything under a non-UTC zone:
// `TZ=America/New_York npx vitest run test/stores`.)
process.env.TZ = "America/New_York";

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileInstallationStore, FileStateStore } from "../../src/stores/file.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import { testInstallationStore, testStateStore } from "../../src/testing/index.js";
import { runner } from "../conformance/runner.js";

describe("time zone of this process", () => {
  it("is America/New_York, not UTC", () => {
    expect(new Date(Date.UTC(2024, 10, 25, 12)).getTimezoneOffset()).toBe(300);
    expect(new Date(Date.UTC(2024, 6, 1, 12)).getTimezoneOffset()).toBe(240);
  });
});

async function fileHandle<T extends { close(): Promise<void> }>(make: (dir: string) => T) {
  const dir = await mkdtemp(join(tmpdir(), "slack-oauth-kit-tz-"));
  const store = make(dir);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

testInstallationStore(runner, "memory, TZ=America/New_York", async () => ({ store: new MemoryInstallationStore() }));
testInstallationStore(runner, "file, TZ=America/New_York", () =>
  fileHandle((dir) => new FileInstallationStore({ baseDir: dir })),
);
testStateStore(runner, "memory, TZ=America/New_York", async () => ({ store: new MemoryStateStore() }), {
  clockStore: async (clock, ttlSeconds) => ({ store: new MemoryStateStore({ nowMs: clock, ttlSeconds }) }),
});
testStateStore(runner, "file, TZ=America/New_York", () => fileHandle((dir) => new FileStateStore({ baseDir: dir })), {
  clockStore: (clock, ttlSeconds) =>
    fileHandle((dir) => new FileStateStore({ baseDir: dir, nowMs: clock, ttlSeconds })),
});
