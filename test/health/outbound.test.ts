/**
 * getWorkspaceToken and org-wide installs: a workspace an org admin removed from the install is not
 * installed (as authorize answers), the org's other workspaces get the org's token. An expired token
 * without a refresh token is refused with a coded error, with or without a coordinator. No Slack call.
 */
import { describe, expect, it, vi } from "vitest";
import { NotInstalledError } from "../../src/authorize/authorize.js";
import { ErrorCode } from "../../src/errors.js";
import { getWorkspaceToken } from "../../src/health/index.js";
import { RotationCoordinator } from "../../src/rotation/coordinator.js";
import { TokenRefreshError } from "../../src/rotation/errors.js";
import { TokenRotator } from "../../src/rotation/token-rotator.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
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

describe("getWorkspaceToken never hands out a token it knows has expired", () => {
  it("an expired token without a refresh token is a TokenRefreshError (no_refresh_token), with or without a coordinator", async () => {
    const store = new MemoryInstallationStore();
    const nowMs = () => 1_800_000_000_000;
    const expiredToken = `xoxe.xoxb-${"3".repeat(12)}-${"4".repeat(13)}-${"x".repeat(24)}`;
    const validToken = `xoxe.xoxb-${"5".repeat(12)}-${"6".repeat(13)}-${"v".repeat(24)}`;
    const base = {
      userId: "U0000000001",
      botScopes: ["commands"],
      userScopes: [],
      isEnterpriseInstall: false,
      installedAt: 1_700_000_000,
      customValues: {},
    };
    // Expiring tokens that carry no refresh token: one expired a second ago, one valid for an hour.
    await store.save({ ...base, teamId: "T0000000001", botToken: expiredToken, botTokenExpiresAt: 1_799_999_999 });
    await store.save({ ...base, teamId: "T0000000002", botToken: validToken, botTokenExpiresAt: 1_800_003_600 });
    // A coordinator whose refresh endpoint must never be called (no refresh token to send).
    const fetch = vi.fn(async () => {
      throw new Error("no Slack call expected");
    });
    const api = new SlackApiClient({ baseUrl: "http://127.0.0.1:9/api/", fetch, maxRetries: 0 });
    const rotator = new TokenRotator({ clientId: "111.222", clientSecret: "s".repeat(32), api, nowMs });
    const coordinator = new RotationCoordinator({ installationStore: store, rotator });
    for (const options of [
      { installationStore: store, coordinator, nowMs },
      { installationStore: store, nowMs },
    ]) {
      const err = await getWorkspaceToken(options, { teamId: "T0000000001" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TokenRefreshError);
      expect(err).toMatchObject({
        code: ErrorCode.TokenRefreshFailed,
        reason: "no_refresh_token",
        tokenExpired: true,
        retryable: false,
        teamId: "T0000000001",
      });
      expect(JSON.stringify({ ...(err as object), message: (err as Error).message })).not.toContain("xox");
      // Still valid: handed out as stored.
      expect((await getWorkspaceToken(options, { teamId: "T0000000002" })).token).toBe(validToken);
    }
    expect(fetch).not.toHaveBeenCalled();
  });
});
