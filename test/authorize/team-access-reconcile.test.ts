/**
 * reconcileTeamAccess against events recorded while it runs: the reconcile writes only the changes it
 * observed relative to what it read, so a `team_access_granted` / `team_access_revoked` recorded between
 * its read and its write is not undone. A fake `auth.teams.list` (no Slack, no emulator) records the
 * events in the middle of the listing.
 */
import { describe, expect, it } from "vitest";
import { reconcileTeamAccess, recordTeamAccess, type TeamsListApi } from "../../src/authorize/team-access.js";
import type { AuthTeamsListResponse } from "../../src/slack-api/types.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";

const ORG = "E0000000001";
const [A, B, C, D, E, F] = ["T00000000A1", "T00000000B1", "T00000000C1", "T00000000D1", "T00000000E1", "T00000000F1"];

/** `store` (a new memory store by default) holding the org-wide install of ORG. */
async function orgStore<S extends MemoryInstallationStore>(store: S = new MemoryInstallationStore() as S): Promise<S> {
  await store.save({
    enterpriseId: ORG,
    isEnterpriseInstall: true,
    userId: "U0000000001",
    botToken: `xoxb-${"1".repeat(12)}-${"2".repeat(13)}-${"o".repeat(24)}`,
    botScopes: ["commands"],
    userScopes: [],
    installedAt: 1_700_000_000,
    customValues: {},
  });
  return store;
}

/** `auth.teams.list` answering `teams`, running `during` before it answers (as if events arrived meanwhile). */
function listing(teams: string[], during: () => Promise<void>): TeamsListApi {
  return {
    async authTeamsList(): Promise<AuthTeamsListResponse> {
      await during();
      return { ok: true, teams: teams.map((id) => ({ id, name: id })) } as AuthTeamsListResponse;
    },
  };
}

describe("reconcileTeamAccess with events recorded while it runs", () => {
  it("an event recorded between the reconcile's read and its write survives; what the run observed is applied", async () => {
    const store = await orgStore();
    await store.updateTeamAccess(ORG, { granted: [A, B, E], revoked: [C, F] });
    // Slack's listing (taken before the org admin's latest changes): A, B, D (unknown so far) and F.
    const api = listing([A, B, D, F], async () => {
      // Meanwhile the org admin removes A and D and adds C back; the events are recorded.
      await store.updateTeamAccess(ORG, { revoked: [A, D], granted: [C] });
    });
    const [r] = await reconcileTeamAccess({ installationStore: store, api });
    expect(r?.error).toBeUndefined();
    // The events win: A and D stay removed, C stays allowed. The run's own findings apply: E is no longer
    // listed (removed), F is listed again (added back).
    expect(await store.findTeamAccess(ORG)).toStrictEqual({ granted: [B, C, F], revoked: [A, D, E] });
    expect(r).toMatchObject({
      allowed: [A, B, D, F],
      revoked: [A, D, E],
      newlyRevoked: [E],
      newlyGranted: [F],
    });
  });

  it("with no event meanwhile, records every listed workspace as allowed and every known unlisted one as removed", async () => {
    const store = await orgStore();
    await store.updateTeamAccess(ORG, { granted: [A, E], revoked: [C, F] });
    const [r] = await reconcileTeamAccess({ installationStore: store, api: listing([A, D, F], async () => {}) });
    expect(await store.findTeamAccess(ORG)).toStrictEqual({ granted: [A, D, F], revoked: [C, E] });
    expect(r).toMatchObject({ allowed: [A, D, F], revoked: [C, E], newlyRevoked: [E], newlyGranted: [F] });
  });
});

describe("reconcileTeamAccess and events share the org's team-access lock", () => {
  it("an event arriving between the reconcile's last read and its write is applied after the write (it wins)", async () => {
    // The reconcile's last read returns, then an org admin adds E back (an event) before the reconcile
    // writes its finding "E is no longer listed". Without the lock the event was written first and then
    // overwritten by the reconcile; with it the event waits for the write and is applied last.
    let event: Promise<void> | undefined;
    let reads = 0;
    class Racing extends MemoryInstallationStore {
      override async findTeamAccess(enterpriseId: string) {
        const answer = await super.findTeamAccess(enterpriseId);
        if (++reads === 2) {
          event = recordTeamAccess(this, enterpriseId, { granted: [E] });
          await new Promise((r) => setTimeout(r, 20));
        }
        return answer;
      }
    }
    const store = await orgStore(new Racing());
    await store.updateTeamAccess(ORG, { granted: [A, E] });
    const [r] = await reconcileTeamAccess({ installationStore: store, api: listing([A], async () => {}) });
    expect(r?.newlyRevoked).toEqual([E]);
    await event;
    expect(await store.findTeamAccess(ORG)).toStrictEqual({ granted: [A, E], revoked: [] });
  });
});
