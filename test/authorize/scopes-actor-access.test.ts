/**
 * `authorize` options of issue 24: `requiredScopes` (results say which configured scopes an installation
 * lacks), `userTokenResolution: "actor"` (the acting user's own token, on a Slack Connect payload where
 * installer and actor differ) and org-wide workspace access (a workspace removed from an org-wide install
 * is "not installed"), through the memory store and the caching store.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createAuthorize, NotInstalledError } from "../../src/authorize/authorize.js";
import { extractContext } from "../../src/authorize/context.js";
import { ConfigError } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import { CachingInstallationStore, LocalInvalidationBus } from "../../src/stores/cache.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";

const id = (p: string) => `${p}${randomBytes(5).toString("hex").toUpperCase()}`;
const bot = () => `xoxb-test-${randomUUID()}`;
const user = () => `xoxp-test-${randomUUID()}`;

function inst(o: Partial<Installation> & Pick<Installation, "userId">): Installation {
  return {
    isEnterpriseInstall: false,
    botScopes: [],
    userScopes: [],
    customValues: {},
    installedAt: 1_700_000_000,
    ...o,
  };
}

/** An Events API delivery to installation A of a message by a user of workspace B in a Slack Connect channel. */
function sharedChannelEvent(a: { teamId: string; botUserId: string }, b: { teamId: string; userId: string }) {
  return {
    type: "event_callback",
    team_id: a.teamId,
    api_app_id: "A0000000001",
    event: {
      type: "message",
      channel: "C0000000001",
      user: b.userId,
      team: b.teamId,
      user_team: b.teamId,
      source_team: b.teamId,
      text: "hello from the other side",
      ts: "1700000000.000100",
    },
    authorizations: [
      { enterprise_id: null, team_id: a.teamId, user_id: a.botUserId, is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: true,
    event_id: "Ev0000000001",
    event_time: 1_700_000_000,
  };
}

async function sharedChannelSetup(actorHasUserToken: boolean) {
  const store = new MemoryInstallationStore();
  const a = { teamId: id("T"), botUserId: id("U"), installer: id("U") };
  const b = { teamId: id("T"), userId: id("U") };
  const installerToken = user();
  const actorToken = user();
  await store.save(
    inst({
      teamId: a.teamId,
      userId: a.installer,
      botToken: bot(),
      botUserId: a.botUserId,
      botScopes: ["chat:write"],
      userToken: installerToken,
      userScopes: ["search:read"],
    }),
  );
  // The actor installed the app in their own workspace, with user scopes or without.
  await store.save(
    inst({
      teamId: b.teamId,
      userId: b.userId,
      botToken: bot(),
      botScopes: ["chat:write"],
      ...(actorHasUserToken ? { userToken: actorToken, userScopes: ["search:read"] } : {}),
    }),
  );
  const context = extractContext(sharedChannelEvent(a, b));
  return { store, a, b, installerToken, actorToken, context };
}

describe("userTokenResolution: actor (Slack Connect)", () => {
  it("the shared-channel payload names the actor's own workspace", async () => {
    const { a, b, context } = await sharedChannelSetup(true);
    expect(context).toStrictEqual({
      teamId: a.teamId,
      userId: b.userId,
      isEnterpriseInstall: false,
      actorTeamId: b.teamId,
    });
  });

  it("default: the bot of the installation, and no user token (the actor never installed there; never the installer's)", async () => {
    const { store, installerToken, actorToken, context } = await sharedChannelSetup(true);
    const r = await createAuthorize({ installationStore: store })(context);
    expect(r.botToken).toMatch(/^xoxb-/);
    expect(r.userToken).toBeUndefined();
    expect([installerToken, actorToken]).not.toContain(r.userToken);
  });

  it("actor: the actor's own token from their workspace's installation, with the request's bot", async () => {
    const { store, a, b, actorToken, context } = await sharedChannelSetup(true);
    const authorize = createAuthorize({
      installationStore: new CachingInstallationStore(store),
      userTokenResolution: "actor",
    });
    const r = await authorize(context);
    expect(r.userToken).toBe(actorToken);
    expect(r.userScopes).toStrictEqual(["search:read"]);
    expect(r.actorTeamId).toBe(b.teamId);
    expect(r.teamId).toBe(a.teamId);
    expect(r.botToken).toBe((await store.findBot({ teamId: a.teamId }))?.botToken);
  });

  it("actor who installed without user scopes: no user token at all", async () => {
    const { store, installerToken, context } = await sharedChannelSetup(false);
    const r = await createAuthorize({ installationStore: store, userTokenResolution: "actor" })(context);
    expect(r.userToken).toBeUndefined();
    expect(r.userScopes).toStrictEqual([]);
    expect(r.botToken).toMatch(/^xoxb-/);
    expect(r.userToken).not.toBe(installerToken);
  });

  it("actor of the installation's own workspace: their own token, as by default", async () => {
    const { store, a, installerToken } = await sharedChannelSetup(true);
    const context = { teamId: a.teamId, userId: a.installer, isEnterpriseInstall: false };
    for (const userTokenResolution of ["actor", "requester"] as const) {
      const r = await createAuthorize({ installationStore: store, userTokenResolution })(context);
      expect(r.userToken).toBe(installerToken);
    }
  });

  it("interactivity payloads name the actor's workspace in user.team_id", async () => {
    const { store, a, b, actorToken } = await sharedChannelSetup(true);
    const context = extractContext({
      type: "block_actions",
      team: { id: a.teamId, domain: "a" },
      user: { id: b.userId, team_id: b.teamId },
      is_enterprise_install: false,
      actions: [],
    });
    expect(context.actorTeamId).toBe(b.teamId);
    expect((await createAuthorize({ installationStore: store, userTokenResolution: "actor" })(context)).userToken).toBe(
      actorToken,
    );
  });

  it("actor of an org-wide install: no user token from it for a workspace an org admin removed from it", async () => {
    const store = new MemoryInstallationStore();
    const a = { teamId: id("T"), botUserId: id("U") };
    const e = id("E");
    const [removed, kept] = [id("T"), id("T")];
    const actor = id("W");
    const actorToken = user();
    await store.save(inst({ teamId: a.teamId, userId: id("U"), botToken: bot(), botUserId: a.botUserId }));
    // The actor installed the app org-wide in their org, with user scopes.
    await store.save(
      inst({
        enterpriseId: e,
        isEnterpriseInstall: true,
        userId: actor,
        botToken: bot(),
        userToken: actorToken,
        userScopes: ["search:read"],
      }),
    );
    const from = (actorTeamId: string) => ({
      teamId: a.teamId,
      userId: actor,
      isEnterpriseInstall: false,
      actorTeamId,
      actorEnterpriseId: e,
    });
    const caching = new CachingInstallationStore(store);
    for (const installationStore of [store, caching]) {
      const authorize = createAuthorize({ installationStore, userTokenResolution: "actor" });
      expect((await authorize(from(removed))).userToken).toBe(actorToken);
    }
    await caching.updateTeamAccess(e, { revoked: [removed] });
    for (const installationStore of [store, caching]) {
      const authorize = createAuthorize({ installationStore, userTokenResolution: "actor" });
      const r = await authorize(from(removed));
      expect(r.userToken).toBeUndefined();
      expect(r.userScopes).toStrictEqual([]);
      expect(r.botToken).toBe((await store.findBot({ teamId: a.teamId }))?.botToken);
      // The org's other workspaces keep the actor's token.
      expect((await authorize(from(kept))).userToken).toBe(actorToken);
    }
  });

  it("refuses an unknown resolution at construction", () => {
    const store = new MemoryInstallationStore();
    expect(() => createAuthorize({ installationStore: store, userTokenResolution: "installer" as "actor" })).toThrow(
      ConfigError,
    );
  });
});

describe("requiredScopes: results say which configured scopes are missing", () => {
  it("reports the bot's and the user's missing scopes; nothing without the option", async () => {
    const store = new MemoryInstallationStore();
    const teamId = id("T");
    const u = id("U");
    await store.save(
      inst({
        teamId,
        userId: u,
        botToken: bot(),
        botScopes: ["commands", "chat:write"],
        userToken: user(),
        userScopes: ["search:read"],
      }),
    );
    const context = { teamId, userId: u, isEnterpriseInstall: false };
    const plain = await createAuthorize({ installationStore: store })(context);
    expect(plain).not.toHaveProperty("missingBotScopes");
    const authorize = createAuthorize({
      installationStore: store,
      requiredScopes: { bot: ["commands", "chat:write", "channels:read"], user: ["search:read", "users:read"] },
    });
    const r = await authorize(context);
    expect(r.missingBotScopes).toStrictEqual(["channels:read"]);
    expect(r.missingUserScopes).toStrictEqual(["users:read"]);
    // Another user (no installation of their own) is not asked to reinstall anything for user scopes.
    const other = await authorize({ teamId, userId: id("U"), isEnterpriseInstall: false });
    expect(other.missingUserScopes).toStrictEqual([]);
    expect(other.missingBotScopes).toStrictEqual(["channels:read"]);
    // After a reinstall with the new scopes, nothing is missing.
    await store.save(
      inst({
        teamId,
        userId: u,
        botToken: bot(),
        botScopes: ["commands", "chat:write", "channels:read"],
        userToken: user(),
        userScopes: ["search:read", "users:read"],
      }),
    );
    const after = await authorize(context);
    expect([after.missingBotScopes, after.missingUserScopes]).toStrictEqual([[], []]);
  });

  it("refuses malformed scope lists at construction", () => {
    const store = new MemoryInstallationStore();
    expect(() =>
      createAuthorize({ installationStore: store, requiredScopes: { bot: "commands" as unknown as string[] } }),
    ).toThrow(ConfigError);
    expect(() => createAuthorize({ installationStore: store, requiredScopes: { user: [""] } })).toThrow(ConfigError);
  });
});

describe("org-wide installs: a removed workspace is not installed", () => {
  async function orgSetup() {
    const bus = new LocalInvalidationBus();
    const inner = new MemoryInstallationStore();
    const e = id("E");
    const [t1, t2] = [id("T"), id("T")];
    await inner.save(
      inst({ enterpriseId: e, isEnterpriseInstall: true, userId: id("W"), botToken: bot(), botScopes: ["commands"] }),
    );
    // Two processes, each with its own cache, sharing the store and an invalidation bus.
    const here = new CachingInstallationStore(inner, { invalidation: bus });
    const there = new CachingInstallationStore(inner, { invalidation: bus });
    return { e, t1, t2, here, there };
  }
  const ctx = (e: string, t: string) => ({ enterpriseId: e, teamId: t, userId: id("W"), isEnterpriseInstall: true });

  it("revoked → NotInstalledError for that workspace only; granted back → the org token again, in every process", async () => {
    const { e, t1, t2, here, there } = await orgSetup();
    const a = createAuthorize({ installationStore: here });
    const b = createAuthorize({ installationStore: there });
    expect((await b(ctx(e, t1))).botToken).toMatch(/^xoxb-/); // cached in the other process
    await here.updateTeamAccess(e, { revoked: [t1] });
    for (const authorize of [a, b]) {
      await expect(authorize(ctx(e, t1))).rejects.toBeInstanceOf(NotInstalledError);
      expect((await authorize(ctx(e, t2))).botToken).toMatch(/^xoxb-/);
    }
    await there.updateTeamAccess(e, { granted: [t1] });
    for (const authorize of [a, b]) expect((await authorize(ctx(e, t1))).botToken).toMatch(/^xoxb-/);
  });

  it("an org-level request (no workspace) and workspace installs in the org are not affected", async () => {
    const { e, t1, here } = await orgSetup();
    await here.updateTeamAccess(e, { revoked: [t1] });
    const authorize = createAuthorize({ installationStore: here });
    expect((await authorize({ enterpriseId: e, isEnterpriseInstall: true })).botToken).toMatch(/^xoxb-/);
    await here.save(inst({ enterpriseId: e, teamId: t1, userId: id("W"), botToken: bot() }));
    expect((await authorize({ enterpriseId: e, teamId: t1, isEnterpriseInstall: false })).botToken).toMatch(/^xoxb-/);
  });
});
