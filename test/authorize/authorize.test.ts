import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAuthorize, NotInstalledError } from "../../src/authorize/authorize.js";
import { ConfigError, ErrorCode, InvalidArgumentError, SlackOAuthError, StoreError } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import { CachingInstallationStore } from "../../src/stores/cache.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";

const id = (prefix: string) => `${prefix}${randomBytes(5).toString("hex").toUpperCase()}`;
const fakeBot = () => `xoxb-test-${randomUUID()}`;
const fakeUser = () => `xoxp-test-${randomUUID()}`;

function workspaceInstall(o: Partial<Installation> & { teamId: string; userId: string }): Installation {
  return {
    appId: "A0TESTAPP1",
    botToken: fakeBot(),
    botId: id("B"),
    botUserId: id("U"),
    botScopes: ["chat:write", "commands"],
    userScopes: [],
    isEnterpriseInstall: false,
    tokenType: "bot",
    installedAt: 1732520000.5,
    customValues: {},
    ...o,
  };
}

const backends: Array<[string, () => InstallationStore]> = [
  ["memory", () => new MemoryInstallationStore()],
  ["sqlite", () => new SQLiteInstallationStore({ filename: ":memory:" })],
  ["cached memory", () => new CachingInstallationStore(new MemoryInstallationStore())],
];

describe.each(backends)("authorize over %s", (_name, make) => {
  let store: InstallationStore;
  let authorize: ReturnType<typeof createAuthorize>;
  beforeEach(() => {
    store = make();
    authorize = createAuthorize({ installationStore: store });
  });
  afterEach(async () => {
    await store.close?.();
  });

  it("bot-only install: bot token, bot id, bot user id, team; no user token", async () => {
    const teamId = id("T");
    const inst = workspaceInstall({ teamId, userId: id("U") });
    await store.save(inst);
    const result = await authorize({ teamId, userId: id("U"), isEnterpriseInstall: false });
    expect(result.botToken).toBe(inst.botToken);
    expect(result.botId).toBe(inst.botId);
    expect(result.botUserId).toBe(inst.botUserId);
    expect(result.teamId).toBe(teamId);
    expect(result.appId).toBe("A0TESTAPP1");
    expect(result.botScopes).toEqual(["chat:write", "commands"]);
    expect(result.isEnterpriseInstall).toBe(false);
    expect(result).not.toHaveProperty("userToken");
    expect(result).not.toHaveProperty("enterpriseId");
  });

  it("the user who installed with user scopes gets their own user token; another user gets the bot only", async () => {
    const teamId = id("T");
    const enterpriseId = id("E");
    const alice = id("U");
    const bob = id("U");
    const inst = workspaceInstall({
      enterpriseId,
      teamId,
      userId: alice,
      userToken: fakeUser(),
      userScopes: ["search:read"],
    });
    await store.save(inst);

    const mine = await authorize({ enterpriseId, teamId, userId: alice, isEnterpriseInstall: false });
    expect(mine.userToken).toBe(inst.userToken);
    expect(mine.userScopes).toEqual(["search:read"]);
    expect(mine.botToken).toBe(inst.botToken);
    expect(mine.enterpriseId).toBe(enterpriseId);
    expect(mine.userId).toBe(alice);

    const other = await authorize({ enterpriseId, teamId, userId: bob, isEnterpriseInstall: false });
    expect(other.botToken).toBe(inst.botToken);
    expect(other.userId).toBe(bob);
    expect(other).not.toHaveProperty("userToken");
    expect(other.userScopes).toEqual([]);
  });

  it("a later user-scoped install by another user does not hide the bot nor leak their token", async () => {
    const teamId = id("T");
    const first = workspaceInstall({ teamId, userId: id("U") });
    const carol = id("U");
    const userOnly: Installation = {
      teamId,
      userId: carol,
      userToken: fakeUser(),
      userScopes: ["identify"],
      botScopes: [],
      isEnterpriseInstall: false,
      tokenType: "user",
      installedAt: 1732520001,
      customValues: {},
    };
    await store.save(first);
    await store.save(userOnly);
    const asCarol = await authorize({ teamId, userId: carol, isEnterpriseInstall: false });
    expect(asCarol.botToken).toBe(first.botToken);
    expect(asCarol.userToken).toBe(userOnly.userToken);
    const asSomeoneElse = await authorize({ teamId, userId: id("U"), isEnterpriseInstall: false });
    expect(asSomeoneElse.botToken).toBe(first.botToken);
    expect(asSomeoneElse).not.toHaveProperty("userToken");
  });

  it("user-token-only install: its user gets the user token; anyone else is not installed", async () => {
    const teamId = id("T");
    const dave = id("U");
    await store.save({
      teamId,
      userId: dave,
      userToken: fakeUser(),
      userScopes: ["identify"],
      botScopes: [],
      isEnterpriseInstall: false,
      installedAt: 1732520000,
      customValues: {},
    });
    const mine = await authorize({ teamId, userId: dave, isEnterpriseInstall: false });
    expect(mine.userToken).toMatch(/^xoxp-test-/);
    expect(mine).not.toHaveProperty("botToken");
    await expect(authorize({ teamId, userId: id("U"), isEnterpriseInstall: false })).rejects.toBeInstanceOf(
      NotInstalledError,
    );
  });

  it("org-wide install is found by the org with any teamId when isEnterpriseInstall, not as a workspace", async () => {
    const enterpriseId = id("E");
    const admin = id("W");
    const org: Installation = {
      appId: "A0TESTAPP1",
      enterpriseId,
      enterpriseName: "Grid",
      botToken: fakeBot(),
      botId: id("B"),
      botUserId: id("W"),
      botScopes: ["chat:write"],
      userId: admin,
      userToken: fakeUser(),
      userScopes: ["identify"],
      isEnterpriseInstall: true,
      tokenType: "bot",
      installedAt: 1732520000,
      customValues: {},
    };
    await store.save(org);
    for (const teamId of [id("T"), id("T"), undefined]) {
      const r = await authorize({ enterpriseId, teamId, userId: id("W"), isEnterpriseInstall: true });
      expect(r.botToken).toBe(org.botToken);
      expect(r.enterpriseId).toBe(enterpriseId);
      expect(r.isEnterpriseInstall).toBe(true);
      expect(r).not.toHaveProperty("userToken");
      if (teamId) expect(r.teamId).toBe(teamId);
    }
    const asAdmin = await authorize({ enterpriseId, teamId: id("T"), userId: admin, isEnterpriseInstall: true });
    expect(asAdmin.userToken).toBe(org.userToken);
    // A workspace of the org asking for a workspace-level install: there is none.
    await expect(
      authorize({ enterpriseId, teamId: id("T"), userId: admin, isEnterpriseInstall: false }),
    ).rejects.toBeInstanceOf(NotInstalledError);
  });

  it("not installed → NotInstalledError with its code, never a StoreError", async () => {
    await store.save(workspaceInstall({ teamId: id("T"), userId: id("U") }));
    const err = await authorize({ teamId: id("T"), userId: id("U"), isEnterpriseInstall: false }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotInstalledError);
    expect(err).toBeInstanceOf(SlackOAuthError);
    expect(err).not.toBeInstanceOf(StoreError);
    expect((err as NotInstalledError).code).toBe("SLACK_OAUTH_NOT_INSTALLED");
    expect((err as NotInstalledError).code).toBe(ErrorCode.NotInstalled);
    expect((err as NotInstalledError).name).toBe("NotInstalledError");
    expect((err as NotInstalledError).status).toBe(404);
  });

  it("an uninstalled workspace (deleteAll) is not installed any more", async () => {
    const teamId = id("T");
    await store.save(workspaceInstall({ teamId, userId: id("U") }));
    await authorize({ teamId, isEnterpriseInstall: false });
    await store.deleteAll({ teamId });
    await expect(authorize({ teamId, isEnterpriseInstall: false })).rejects.toBeInstanceOf(NotInstalledError);
  });
});

describe("authorize: contexts no installation can match", () => {
  /** A store that fails the test if it is asked anything. */
  const untouchable: InstallationStore = new Proxy({} as InstallationStore, {
    get: (_t, prop) =>
      prop === "then"
        ? undefined
        : () => {
            throw new Error(`store.${String(prop)} must not be called`);
          },
  });
  const authorize = createAuthorize({ installationStore: untouchable });

  it.each([
    ["no team and no enterprise", { isEnterpriseInstall: false }],
    ["org-wide without the org", { teamId: "T0123456789", isEnterpriseInstall: true }],
    ["a team id no store accepts", { teamId: "../../etc/passwd", isEnterpriseInstall: false }],
    ["an enterprise id no store accepts", { enterpriseId: "E1|x", teamId: "T0123456789", isEnterpriseInstall: false }],
    ["empty strings", { enterpriseId: "", teamId: "", userId: "", isEnterpriseInstall: false }],
  ])("%s → NotInstalledError without asking the store", async (_label, context) => {
    await expect(authorize(context)).rejects.toBeInstanceOf(NotInstalledError);
  });

  it("a user id no store accepts: looked up as the bot only", async () => {
    const store = new MemoryInstallationStore();
    const teamId = id("T");
    const inst = workspaceInstall({ teamId, userId: id("U") });
    await store.save(inst);
    const r = await createAuthorize({ installationStore: store })({
      teamId,
      userId: "U1 OR 1=1",
      isEnterpriseInstall: false,
    });
    expect(r.botToken).toBe(inst.botToken);
    expect(r).not.toHaveProperty("userToken");
  });

  it("a context that is not an object is a bad argument; a missing store a config error", async () => {
    await expect(authorize(null as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => createAuthorize({} as never)).toThrow(ConfigError);
  });
});

describe("authorize: store failures", () => {
  it("a failing store → StoreError (cause kept), distinct from NotInstalledError", async () => {
    const boom = new Error("connection refused");
    const failing = new MemoryInstallationStore();
    failing.findBot = async () => {
      throw boom;
    };
    const authorize = createAuthorize({ installationStore: failing });
    const err = await authorize({ teamId: "T0123456789", userId: "U0123456789", isEnterpriseInstall: false }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect(err).not.toBeInstanceOf(NotInstalledError);
    expect((err as StoreError).code).toBe("SLACK_OAUTH_STORE_ERROR");
    expect((err as StoreError).cause).toBe(boom);
  });

  it("a failing user lookup alone also fails the call (no silent bot-only answer)", async () => {
    const store = new MemoryInstallationStore();
    const teamId = id("T");
    await store.save(workspaceInstall({ teamId, userId: id("U") }));
    store.findInstallation = async () => {
      throw new TypeError("driver crashed");
    };
    const authorize = createAuthorize({ installationStore: store });
    await expect(authorize({ teamId, userId: id("U"), isEnterpriseInstall: false })).rejects.toBeInstanceOf(StoreError);
    // Without a user nothing but the bot is read: it works.
    await expect(authorize({ teamId, isEnterpriseInstall: false })).resolves.toHaveProperty("botToken");
  });

  it("a StoreError from the store is passed on as is", async () => {
    const original = new StoreError("disk full");
    const store = new MemoryInstallationStore();
    store.findBot = async () => {
      throw original;
    };
    await expect(
      createAuthorize({ installationStore: store })({ teamId: "T0123456789", isEnterpriseInstall: false }),
    ).rejects.toBe(original);
  });

  it("a custom store answering another user's installation never leaks that user's token", async () => {
    const teamId = id("T");
    const inst = workspaceInstall({ teamId, userId: id("U"), userToken: fakeUser() });
    const store = new MemoryInstallationStore();
    await store.save(inst);
    // A sloppy backend that ignores userId and returns the latest installation.
    const sloppy: InstallationStore = {
      save: (i) => store.save(i),
      findBot: (q) => store.findBot(q),
      findInstallation: ({ userId: _ignored, ...q }) => store.findInstallation(q),
      deleteBot: (q) => store.deleteBot(q),
      deleteInstallation: (q) => store.deleteInstallation(q),
      deleteAll: (q) => store.deleteAll(q),
      listWorkspaces: (f) => store.listWorkspaces(f),
      updateTokens: (q, p, e) => store.updateTokens(q, p, e),
      withLock: (k, fn, o) => store.withLock(k, fn, o),
      recordHealth: (q, h, e) => store.recordHealth(q, h, e),
      listHealth: (f) => store.listHealth(f),
      listExpiringTokens: (u, l) => store.listExpiringTokens(u, l),
      updateTeamAccess: (e, c) => store.updateTeamAccess(e, c),
      findTeamAccess: (e) => store.findTeamAccess(e),
      close: () => store.close(),
    };
    const r = await createAuthorize({ installationStore: sloppy })({
      teamId,
      userId: id("U"),
      isEnterpriseInstall: false,
    });
    expect(r.botToken).toBe(inst.botToken);
    expect(r).not.toHaveProperty("userToken");
  });
});
