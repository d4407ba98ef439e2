/**
 * getWorkspaceToken and org-wide installs: a workspace an org admin removed from the install is not
 * installed (as authorize answers), the org's other workspaces get the org's token. No Slack call.
 */
import { describe, expect, it } from "vitest";
import { NotInstalledError } from "../../src/authorize/authorize.js";
import { getWorkspaceToken } from "../../src/health/index.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";

const ORG_TOKEN = `xoxb-${"1".repeat(12)}-${"2".repeat(13)}-${"o".repeat(24)}`;

describe("getWorkspaceToken with an org-wide install", () => {
  it("refuses a workspace removed from the org's install, answers for the others and for the org", async () => {
    const store = new MemoryInstallationStore();
    await store.save({
      enterpriseId: "E0000000001",
      enterpriseName: "Acme",
      userId: "U0000000001",
      botToken: ORG_TOKEN,
      botId: "B0000000001",
      botUserId: "U0000000100",
      botScopes: ["commands"],
      userScopes: [],
      isEnterpriseInstall: true,
      installedAt: 1_700_000_000,
      customValues: {},
    });
    await store.updateTeamAccess("E0000000001", { revoked: ["T0000000002"], granted: ["T0000000003"] });
    const options = { installationStore: store };
    const org = { enterpriseId: "E0000000001", isEnterpriseInstall: true };
    expect((await getWorkspaceToken(options, org)).token).toBe(ORG_TOKEN);
    expect((await getWorkspaceToken(options, { ...org, teamId: "T0000000003" })).token).toBe(ORG_TOKEN);
    expect((await getWorkspaceToken(options, { ...org, teamId: "T0000000009" })).token).toBe(ORG_TOKEN);
    const removed = await getWorkspaceToken(options, { ...org, teamId: "T0000000002" }).catch((e: unknown) => e);
    expect(removed).toBeInstanceOf(NotInstalledError);
    expect(String((removed as Error).message)).not.toContain("xoxb-");
    // Added back: the org's token again.
    await store.updateTeamAccess("E0000000001", { granted: ["T0000000002"] });
    expect((await getWorkspaceToken(options, { ...org, teamId: "T0000000002" })).token).toBe(ORG_TOKEN);
  });
});
