/**
 * `rekey` in-process with the admin store helpers replaced: the store it opens first (to check the
 * encryption marker) is closed even when listing the partitions fails.
 */
import { describe, expect, it, vi } from "vitest";
import type { OpenedStores } from "../../src/app/stores.js";

const closed: string[] = [];
vi.mock("../../src/cli/admin-store.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/cli/admin-store.js")>();
  return {
    ...original,
    openAdminStores: async (_url: string, options: { clientId?: string } = {}) =>
      ({
        installationStore: {},
        close: async () => {
          closed.push(options.clientId ?? "default");
        },
      }) as unknown as OpenedStores,
    listPartitions: async () => {
      throw Object.assign(new Error("connection reset"), { code: "store" });
    },
  };
});

const { rekeyCommand } = await import("../../src/cli/rekey.js");

describe("rekey", () => {
  it("closes the first opened store when listing the partitions fails", async () => {
    vi.stubEnv("SLACK_TOKEN_ENCRYPTION_KEY", `k1:${Buffer.alloc(32, 7).toString("base64")}`);
    vi.stubEnv("SLACK_APPS_FILE", "");
    try {
      await expect(rekeyCommand.run(["--database-url", "sqlite:/nonexistent/x.db"])).rejects.toThrow(
        "connection reset",
      );
    } finally {
      vi.unstubAllEnvs();
    }
    expect(closed).toStrictEqual(["default"]);
  });
});
