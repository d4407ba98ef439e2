/**
 * The shared conformance suite for {@link InstallationStore}: every backend (memory, file, SQLite,
 * PostgreSQL, MySQL) calls {@link testInstallationStore} and must pass all of it unchanged.
 *
 * > [!NOTE]
 * > Time zones: nothing here may depend on the machine's time zone. Run the suite under a
 * > non-UTC zone as well: `TZ=America/New_York npx vitest run test/stores`.
 *
 * Every test uses fresh random ids, so a backend that shares one database between tests (SQL servers)
 * cannot see another test's rows. Tokens are random fakes (`xoxb-test-<uuid>`), never real-looking secrets.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { ErrorCode, InvalidArgumentError } from "../errors.js";
import { type Installation, toBot } from "../model/installation.js";
import type { DeleteInstallationQuery, InstallationStore } from "../stores/installation-store.js";
import type { Expect, TestFunctions } from "./api.js";

/**
 * A store under test and how to dispose of it.
 *
 * @example
 * ```ts
 * const handle: InstallationStoreHandle = { store, cleanup: () => rm(dir, { recursive: true }) };
 * ```
 */
export interface InstallationStoreHandle {
  store: InstallationStore;
  /** Closes the store and removes what the test created (temp dirs, tables). */
  cleanup?: () => Promise<void>;
}

/**
 * How many historical rows a backend keeps (for `historicalData: true`).
 *
 * @example
 * ```ts
 * const counts: HistoryCounts = { installations: 5, bots: 3 };
 * ```
 */
export interface HistoryCounts {
  installations: number;
  bots: number;
}

/**
 * A store opened with `historicalData: true`, plus a backend-specific way to count what it kept.
 *
 * @example
 * ```ts
 * const handle: HistoryStoreHandle = {
 *   store,
 *   countHistory: async (q) => ({ installations: await countRows("installations", q), bots: await countRows("bots", q) }),
 * };
 * ```
 */
export interface HistoryStoreHandle extends InstallationStoreHandle {
  /**
   * Counts the historical rows of a workspace (or org, with no `teamId`); with `userId`, the
   * installations of that user only (`bots` then counts the workspace's bots).
   */
  countHistory?: (q: DeleteInstallationQuery) => Promise<HistoryCounts>;
}

/**
 * Options of {@link testInstallationStore}.
 *
 * @example
 * ```ts
 * const options: InstallationStoreSuiteOptions = { supportsHistory: true, makeStoreWithHistory };
 * ```
 */
export interface InstallationStoreSuiteOptions {
  /** True when the backend supports `historicalData: true`. */
  supportsHistory?: boolean;
  /** Opens a store with `historicalData: true`; the whole suite then runs against it as well. */
  makeStoreWithHistory?: () => Promise<HistoryStoreHandle>;
  /**
   * Opens the stores of two apps (two client ids) and of the default partition over ONE storage (same
   * database, directory, memory): the app-isolation cases then run against them. Open them with
   * `historicalData: true` and give `countHistory` when the backend keeps history.
   */
  makeAppStores?: () => Promise<AppStoresHandle>;
}

/**
 * The stores of two apps and of the default partition (data written without a client id) over one
 * storage, for the app-isolation cases of {@link testInstallationStore}.
 *
 * @example
 * ```ts
 * const root = new MemoryInstallationStore();
 * const handle: AppStoresHandle = { a: root.forApp("111.1"), b: root.forApp("222.2"), defaultApp: root };
 * ```
 */
export interface AppStoresHandle {
  a: InstallationStore;
  b: InstallationStore;
  defaultApp: InstallationStore;
  /** Counts the history rows one of the stores keeps for a workspace (stores with `historicalData: true`). */
  countHistory?: (store: InstallationStore, q: DeleteInstallationQuery) => Promise<HistoryCounts>;
  /** Closes the stores and removes what the test created. */
  cleanup?: () => Promise<void>;
}

/** Fake Slack-shaped id with a random suffix, unique per call (upper-case, like Slack's). */
function id(prefix: string): string {
  return `${prefix}${randomBytes(6).toString("hex").toUpperCase()}`;
}
const fakeBotToken = () => `xoxb-test-${randomUUID()}`;
const fakeUserToken = () => `xoxp-test-${randomUUID()}`;
const fakeRefresh = () => `xoxe-1-test-${randomUUID()}`;

/** A workspace install with every field set. */
function fullInstallation(o: Partial<Installation> & { teamId?: string } = {}): Installation {
  const teamId = o.teamId ?? id("T");
  return {
    appId: id("A"),
    enterpriseId: id("E"),
    enterpriseName: "Grid Org — Ünïcode ✓",
    teamId,
    teamName: 'Équipe 東京 🚀 "quoted" \\ back',
    botToken: fakeBotToken(),
    botId: id("B"),
    botUserId: id("U"),
    botScopes: ["chat:write", "commands", "channels:history"],
    botRefreshToken: fakeRefresh(),
    botTokenExpiresAt: 1732563200,
    userId: id("U"),
    userToken: fakeUserToken(),
    userScopes: ["search:read"],
    userRefreshToken: fakeRefresh(),
    userTokenExpiresAt: 1732563201,
    incomingWebhookUrl: `https://hooks.slack.test/services/${id("T")}/${id("B")}/${randomUUID()}`,
    incomingWebhookChannel: "#général",
    incomingWebhookChannelId: id("C"),
    incomingWebhookConfigurationUrl: `https://example.slack.test/services/${id("B")}`,
    isEnterpriseInstall: false,
    tokenType: "bot",
    installedAt: 1732520000.123,
    customValues: {
      plan: "pro",
      seats: 42,
      ratio: 0.125,
      trial: false,
      nothing: null,
      tags: ["a", "ü", "🚀"],
      nested: { deep: { deeper: [1, { x: "y" }, []] }, empty: {} },
    },
    ...o,
  };
}

/** A workspace install by one user, with a bot unless `bot: false`. Minimal fields. */
function install(
  where: { enterpriseId?: string; teamId: string },
  userId: string,
  o: Partial<Installation> & { bot?: boolean } = {},
): Installation {
  const { bot = true, ...rest } = o;
  const inst: Installation = {
    ...(where.enterpriseId ? { enterpriseId: where.enterpriseId } : {}),
    teamId: where.teamId,
    userId,
    userToken: fakeUserToken(),
    userScopes: ["search:read"],
    botScopes: [],
    isEnterpriseInstall: false,
    tokenType: bot ? "bot" : "user",
    installedAt: 1732520000.5,
    customValues: {},
  };
  if (bot) {
    inst.botToken = fakeBotToken();
    inst.botId = id("B");
    inst.botUserId = id("U");
    inst.botScopes = ["chat:write"];
  }
  return { ...inst, ...rest };
}

/** An org-wide (Enterprise Grid) install: no team. */
function orgInstall(enterpriseId: string, userId: string, o: Partial<Installation> = {}): Installation {
  return {
    appId: id("A"),
    enterpriseId,
    enterpriseName: "Org ✓",
    enterpriseUrl: "https://org.enterprise.slack.test/",
    botToken: fakeBotToken(),
    botId: id("B"),
    botUserId: id("U"),
    botScopes: ["chat:write"],
    userId,
    userToken: fakeUserToken(),
    userScopes: [],
    isEnterpriseInstall: true,
    tokenType: "bot",
    installedAt: 1732520000.25,
    customValues: { org: true },
    ...o,
  };
}

/** Awaits `p`, expects an `InvalidArgumentError` with its stable code, and returns it. */
async function expectInvalidArgument(expect: Expect, p: Promise<unknown>): Promise<InvalidArgumentError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(
    err instanceof Error ? err : new Error("expected the call to reject with an InvalidArgumentError"),
  ).toBeInstanceOf(InvalidArgumentError);
  expect((err as InvalidArgumentError).code).toBe(ErrorCode.InvalidArgument);
  expect((err as InvalidArgumentError).code).toBe("SLACK_OAUTH_INVALID_ARGUMENT");
  return err as InvalidArgumentError;
}

/**
 * Declares the shared conformance suite for an {@link InstallationStore} backend.
 *
 * @example
 * ```ts
 * testInstallationStore("memory", async () => ({ store: new MemoryInstallationStore() }), {
 *   supportsHistory: true,
 *   makeStoreWithHistory: async () => {
 *     const store = new MemoryInstallationStore({ historicalData: true });
 *     return { store, countHistory: async (q) => { const h = await store.listHistory(q);
 *       return { installations: h.installations.length, bots: h.bots.length }; } };
 *   },
 * });
 * ```
 */
export function testInstallationStore(
  test: TestFunctions,
  name: string,
  makeStore: () => Promise<InstallationStoreHandle>,
  options: InstallationStoreSuiteOptions = {},
): void {
  const modes: [string, () => Promise<HistoryStoreHandle>][] = [["default", makeStore]];
  if (options.supportsHistory && options.makeStoreWithHistory) {
    modes.push(["historicalData: true", options.makeStoreWithHistory]);
  }

  const { describe, it, expect, beforeEach, afterEach } = test;
  describe(`InstallationStore conformance: ${name}`, () => {
    for (const [mode, make] of modes)
      describe(mode, () => {
        let handle: HistoryStoreHandle;
        let store: InstallationStore;
        beforeEach(async () => {
          handle = await make();
          store = handle.store;
        });
        afterEach(async () => {
          await handle.cleanup?.();
        });

        describe("round trip", () => {
          it("returns every Installation field exactly as saved", async () => {
            const inst = fullInstallation();
            await store.save(inst);
            const q = { enterpriseId: inst.enterpriseId, teamId: inst.teamId };
            expect(await store.findInstallation(q)).toStrictEqual(inst);
            expect(await store.findInstallation({ ...q, userId: inst.userId })).toStrictEqual(inst);
            expect(await store.findBot(q)).toStrictEqual(toBot(inst));
          });

          it("keeps a minimal user-only installation with empty scope arrays, and has no bot for it", async () => {
            const inst: Installation = {
              teamId: id("T"),
              userId: id("U"),
              userToken: fakeUserToken(),
              botScopes: [],
              userScopes: [],
              isEnterpriseInstall: false,
              installedAt: 1732520000,
              customValues: {},
            };
            await store.save(inst);
            expect(await store.findInstallation({ teamId: inst.teamId })).toStrictEqual(inst);
            expect(await store.findBot({ teamId: inst.teamId })).toBeUndefined();
          });

          for (const [installedAt, botExp, userExp] of [
            [1732520000.123, 1732563200, 4102444800],
            [1732520000.999, 0, 1],
            [1.5, 2147483648, 9007199254],
            [1732520000, 1732520000.5, 1732520000.25],
          ] as const)
            it(`keeps installedAt ${installedAt} and expires-at ${botExp} / ${userExp} to the last digit`, async () => {
              const inst = fullInstallation({ installedAt, botTokenExpiresAt: botExp, userTokenExpiresAt: userExp });
              await store.save(inst);
              const found = await store.findInstallation({ enterpriseId: inst.enterpriseId, teamId: inst.teamId });
              expect(found?.installedAt).toBe(installedAt);
              expect(found?.botTokenExpiresAt).toBe(botExp);
              expect(found?.userTokenExpiresAt).toBe(userExp);
              const bot = await store.findBot({ enterpriseId: inst.enterpriseId, teamId: inst.teamId });
              expect(bot?.installedAt).toBe(installedAt);
              expect(bot?.botTokenExpiresAt).toBe(botExp);
            });

          it("returns an org-wide installation exactly as saved", async () => {
            const e = id("E");
            const inst = orgInstall(e, id("U"));
            await store.save(inst);
            const q = { enterpriseId: e, teamId: id("T"), isEnterpriseInstall: true };
            expect(await store.findInstallation(q)).toStrictEqual(inst);
            expect(await store.findBot(q)).toStrictEqual(toBot(inst));
          });

          it("drops teamId and teamName of an org-wide installation on save", async () => {
            const e = id("E");
            const inst = orgInstall(e, id("U"), { teamId: id("T"), teamName: "first workspace" });
            await store.save(inst);
            const found = await store.findInstallation({ enterpriseId: e, isEnterpriseInstall: true });
            expect(found).toBeDefined();
            expect(found).not.toHaveProperty("teamId");
            expect(found).not.toHaveProperty("teamName");
            expect(found?.userToken).toBe(inst.userToken);
          });
        });

        describe("team access (org-wide installs)", () => {
          it("records revoked and granted workspaces per org; the last change of a team wins", async () => {
            const e = id("E");
            const [t1, t2, t3] = [id("T"), id("T"), id("T")];
            await store.save(orgInstall(e, id("U")));
            expect(await store.findTeamAccess(e)).toStrictEqual({ granted: [], revoked: [] });
            await store.updateTeamAccess(e, { revoked: [t1, t2] });
            await store.updateTeamAccess(e, { granted: [t3] });
            expect(await store.findTeamAccess(e)).toStrictEqual({ granted: [t3], revoked: [t1, t2].sort() });
            await store.updateTeamAccess(e, { granted: [t1], revoked: [t3] });
            expect(await store.findTeamAccess(e)).toStrictEqual({ granted: [t1], revoked: [t2, t3].sort() });
            // Idempotent: a retried event writes the same again.
            await store.updateTeamAccess(e, { granted: [t1], revoked: [t3] });
            expect(await store.findTeamAccess(e)).toStrictEqual({ granted: [t1], revoked: [t2, t3].sort() });
            // Another org sees nothing of it; the installation itself is untouched.
            expect(await store.findTeamAccess(id("E"))).toStrictEqual({ granted: [], revoked: [] });
            expect(await store.findBot({ enterpriseId: e, isEnterpriseInstall: true })).toBeDefined();
          });

          it("is recorded without an installation, the org's deleteAll (app_uninstalled) forgets it; hundreds at once", async () => {
            const e = id("E");
            const t = id("T");
            await store.updateTeamAccess(e, { revoked: [t] });
            expect((await store.findTeamAccess(e)).revoked).toStrictEqual([t]);
            await store.save(orgInstall(e, id("U")));
            // A workspace install in the same org is another installation: deleting it keeps the org's record.
            await store.save(install({ enterpriseId: e, teamId: t }, id("U")));
            await store.deleteAll({ enterpriseId: e, teamId: t });
            expect((await store.findTeamAccess(e)).revoked).toStrictEqual([t]);
            await store.deleteAll({ enterpriseId: e });
            expect(await store.findTeamAccess(e)).toStrictEqual({ granted: [], revoked: [] });
            expect(await store.findBot({ enterpriseId: e, isEnterpriseInstall: true })).toBeUndefined();
            // A few hundred workspaces in one change (more than one statement's worth on the SQL backends).
            const big = id("E");
            const teams = Array.from({ length: 450 }, () => id("T"));
            await store.updateTeamAccess(big, { revoked: teams });
            expect(await store.findTeamAccess(big)).toStrictEqual({ granted: [], revoked: [...teams].sort() });
            await store.updateTeamAccess(big, { granted: teams.slice(0, 300) });
            const access = await store.findTeamAccess(big);
            expect(access.granted).toHaveLength(300);
            expect(access.revoked).toStrictEqual(teams.slice(300).sort());
          });

          it("refuses bad input with InvalidArgumentError, writing nothing", async () => {
            const e = id("E");
            const t = id("T");
            const refused = async (p: Promise<unknown>) => {
              const error = await p.then(
                () => undefined,
                (x: unknown) => x,
              );
              expect(error).toBeInstanceOf(InvalidArgumentError);
              expect((error as InvalidArgumentError).code).toBe(ErrorCode.InvalidArgument);
            };
            await refused(store.updateTeamAccess("../etc", { revoked: [t] }));
            await refused(store.updateTeamAccess(e, { revoked: ["T1/../x"] }));
            await refused(store.updateTeamAccess(e, { granted: [t], revoked: [t] }));
            await refused(store.updateTeamAccess(e, { revoked: "T1" as unknown as string[] }));
            await refused(store.updateTeamAccess(e, null as unknown as { revoked: string[] }));
            await refused(store.findTeamAccess("E1'; DROP TABLE x; --"));
            expect(await store.findTeamAccess(e)).toStrictEqual({ granted: [], revoked: [] });
          });
        });

        describe("listWorkspaces", () => {
          // Scoped by a fresh enterprise id: backends that share one database between tests list other rows too.
          it("lists each workspace of an enterprise with its latest bot and each user's latest, newest first", async () => {
            expect(typeof store.listWorkspaces).toBe("function"); // required on every store
            const e = id("E");
            const t1 = id("T");
            const t2 = id("T");
            const [u1, u2] = [id("U"), id("U")];
            await store.save(install({ enterpriseId: e, teamId: t1 }, u1));
            const second = install({ enterpriseId: e, teamId: t1 }, u2, { bot: false });
            await store.save(second);
            const again = install({ enterpriseId: e, teamId: t1 }, u1);
            await store.save(again);
            const other = install({ enterpriseId: e, teamId: t2 }, u2);
            await store.save(other);
            await store.save(orgInstall(e, u1));
            await store.save(install({ enterpriseId: id("E"), teamId: t1 }, u1)); // another enterprise: not listed

            const list = await store.listWorkspaces({ enterpriseId: e });
            expect(list.map((w) => [w.enterpriseId, w.teamId ?? null, w.isEnterpriseInstall])).toEqual(
              [
                [e, null, true],
                [e, t1, false],
                [e, t2, false],
              ].sort((a, b) => String(a[1] ?? "").localeCompare(String(b[1] ?? ""))),
            );
            const ws1 = list.find((w) => w.teamId === t1)!;
            expect(ws1.bot?.botToken).toBe(again.botToken);
            expect(ws1.installations.map((i) => i.userId)).toEqual([u1, u2]);
            expect(ws1.installations[0]?.userToken).toBe(again.userToken);
            // The user-only install carries the workspace's latest bot, as findInstallation returns it.
            expect(ws1.installations[1]?.userToken).toBe(second.userToken);
            expect(ws1.installations[1]?.botToken).toBe(again.botToken);
            expect((await store.listWorkspaces({ enterpriseId: e, teamId: t2 })).map((w) => w.teamId)).toEqual([t2]);
          });

          it("forgets deleted users and workspaces, keeps a bot-only workspace, and rejects bad filters", async () => {
            if (!store.listWorkspaces) return;
            const e = id("E");
            const t = id("T");
            const [u1, u2] = [id("U"), id("U")];
            await store.save(install({ enterpriseId: e, teamId: t }, u1));
            await store.save(install({ enterpriseId: e, teamId: t }, u2));
            await store.deleteInstallation({ enterpriseId: e, teamId: t, userId: u1 });
            let [ws] = await store.listWorkspaces({ enterpriseId: e });
            expect(ws?.installations.map((i) => i.userId)).toEqual([u2]);
            await store.deleteInstallation({ enterpriseId: e, teamId: t });
            [ws] = await store.listWorkspaces({ enterpriseId: e });
            expect(ws?.installations).toEqual([]);
            expect(ws?.bot).toBeDefined();
            await store.deleteAll({ enterpriseId: e, teamId: t });
            expect(await store.listWorkspaces({ enterpriseId: e })).toEqual([]);
            await expectInvalidArgument(expect, store.listWorkspaces({ enterpriseId: "../etc" }));
            await expectInvalidArgument(expect, store.listWorkspaces({ teamId: "T1/../../x" }));
          });
        });

        describe("keys", () => {
          it("finds a workspace install by its exact (enterpriseId, teamId) and by nothing else", async () => {
            const e = id("E");
            const t = id("T");
            const inst = install({ enterpriseId: e, teamId: t }, id("U"));
            await store.save(inst);
            expect((await store.findBot({ enterpriseId: e, teamId: t }))?.botToken).toBe(inst.botToken);
            expect((await store.findInstallation({ enterpriseId: e, teamId: t }))?.userToken).toBe(inst.userToken);
            for (const q of [
              { teamId: t },
              { enterpriseId: id("E"), teamId: t },
              { enterpriseId: e, teamId: id("T") },
              { enterpriseId: e },
              { enterpriseId: e, isEnterpriseInstall: true },
              { enterpriseId: e, teamId: t, isEnterpriseInstall: true },
            ]) {
              expect(await store.findBot(q)).toBeUndefined();
              expect(await store.findInstallation(q)).toBeUndefined();
            }
          });

          it("finds a workspace install without an enterprise by teamId alone", async () => {
            const t = id("T");
            const inst = install({ teamId: t }, id("U"));
            await store.save(inst);
            expect((await store.findBot({ teamId: t }))?.botToken).toBe(inst.botToken);
            expect((await store.findInstallation({ teamId: t, isEnterpriseInstall: false }))?.userId).toBe(inst.userId);
            expect(await store.findBot({ enterpriseId: id("E"), teamId: t })).toBeUndefined();
          });

          it("finds an org-wide install by enterpriseId with any teamId only when isEnterpriseInstall is true", async () => {
            const e = id("E");
            const inst = orgInstall(e, id("U"));
            await store.save(inst);
            for (const q of [
              { enterpriseId: e, teamId: id("T"), isEnterpriseInstall: true },
              { enterpriseId: e, teamId: id("T"), isEnterpriseInstall: true },
              { enterpriseId: e, isEnterpriseInstall: true },
              { enterpriseId: e },
            ]) {
              expect((await store.findBot(q))?.botToken).toBe(inst.botToken);
              expect((await store.findInstallation(q))?.userToken).toBe(inst.userToken);
            }
            for (const q of [
              { enterpriseId: e, teamId: id("T") },
              { enterpriseId: e, teamId: id("T"), isEnterpriseInstall: false },
            ]) {
              expect(await store.findBot(q)).toBeUndefined();
              expect(await store.findInstallation(q)).toBeUndefined();
            }
          });

          it("keeps an org-wide install and a workspace install of the same enterprise apart", async () => {
            const e = id("E");
            const t = id("T");
            const org = orgInstall(e, id("U"));
            const ws = install({ enterpriseId: e, teamId: t }, id("U"));
            await store.save(org);
            await store.save(ws);
            expect((await store.findBot({ enterpriseId: e, teamId: t }))?.botToken).toBe(ws.botToken);
            expect((await store.findBot({ enterpriseId: e, teamId: t, isEnterpriseInstall: true }))?.botToken).toBe(
              org.botToken,
            );
            expect((await store.findInstallation({ enterpriseId: e, teamId: t }))?.userToken).toBe(ws.userToken);
            expect((await store.findInstallation({ enterpriseId: e, isEnterpriseInstall: true }))?.userToken).toBe(
              org.userToken,
            );
          });

          it("never mixes up ids that share a prefix (T1/T10, U1/U10, E1/E10)", async () => {
            const base = id("X");
            const [t1, t10, u1, u10, e1, e10] = [
              `T${base}1`,
              `T${base}10`,
              `U${base}1`,
              `U${base}10`,
              `E${base}1`,
              `E${base}10`,
            ];
            const a = install({ teamId: t1 }, u1);
            const b = install({ teamId: t10 }, u10);
            const c = install({ teamId: t1 }, u10);
            const d = install({ enterpriseId: e1, teamId: t1 }, u1);
            const f = install({ enterpriseId: e10, teamId: t1 }, u1);
            for (const i of [a, b, c, d, f]) await store.save(i);
            expect((await store.findInstallation({ teamId: t1, userId: u1 }))?.userToken).toBe(a.userToken);
            expect((await store.findInstallation({ teamId: t1, userId: u10 }))?.userToken).toBe(c.userToken);
            expect((await store.findInstallation({ teamId: t10, userId: u10 }))?.userToken).toBe(b.userToken);
            expect(await store.findInstallation({ teamId: t10, userId: u1 })).toBeUndefined();
            expect((await store.findBot({ teamId: t10 }))?.botToken).toBe(b.botToken);
            expect((await store.findBot({ teamId: t1 }))?.botToken).toBe(c.botToken);
            expect((await store.findBot({ enterpriseId: e1, teamId: t1 }))?.botToken).toBe(d.botToken);
            expect((await store.findBot({ enterpriseId: e10, teamId: t1 }))?.botToken).toBe(f.botToken);
            await store.deleteInstallation({ teamId: t1, userId: u1 });
            expect(await store.findInstallation({ teamId: t1, userId: u1 })).toBeUndefined();
            expect((await store.findInstallation({ teamId: t1, userId: u10 }))?.userToken).toBe(c.userToken);
            expect((await store.findInstallation({ enterpriseId: e1, teamId: t1, userId: u1 }))?.userToken).toBe(
              d.userToken,
            );
            await store.deleteAll({ teamId: t1 });
            expect((await store.findBot({ teamId: t10 }))?.botToken).toBe(b.botToken);
            expect((await store.findBot({ enterpriseId: e10, teamId: t1 }))?.botToken).toBe(f.botToken);
          });
        });

        describe("latest", () => {
          it("without userId returns the workspace's latest installation; with userId, that user's latest", async () => {
            const t = id("T");
            const [u1, u2] = [id("U"), id("U")];
            const a1 = install({ teamId: t }, u1, { installedAt: 1732520001 });
            const b1 = install({ teamId: t }, u2, { installedAt: 1732520002 });
            const a2 = install({ teamId: t }, u1, { installedAt: 1732520003 });
            const b2 = install({ teamId: t }, u2, { installedAt: 1732520004 });
            await store.save(a1);
            await store.save(b1);
            expect((await store.findInstallation({ teamId: t }))?.userToken).toBe(b1.userToken);
            await store.save(a2);
            expect((await store.findInstallation({ teamId: t }))?.userToken).toBe(a2.userToken);
            await store.save(b2);
            expect((await store.findInstallation({ teamId: t }))?.userToken).toBe(b2.userToken);
            expect((await store.findInstallation({ teamId: t, userId: u1 }))?.userToken).toBe(a2.userToken);
            expect((await store.findInstallation({ teamId: t, userId: u2 }))?.userToken).toBe(b2.userToken);
            expect(await store.findInstallation({ teamId: t, userId: id("U") })).toBeUndefined();
            expect((await store.findBot({ teamId: t }))?.botToken).toBe(b2.botToken);
          });

          it("two saves with the same installedAt: the later save wins (same user and different users)", async () => {
            const t = id("T");
            const u = id("U");
            const first = install({ teamId: t }, u, { installedAt: 1732520000.123 });
            const second = install({ teamId: t }, u, { installedAt: 1732520000.123 });
            await store.save(first);
            await store.save(second);
            expect((await store.findBot({ teamId: t }))?.botToken).toBe(second.botToken);
            expect((await store.findInstallation({ teamId: t }))?.userToken).toBe(second.userToken);
            expect((await store.findInstallation({ teamId: t, userId: u }))?.userToken).toBe(second.userToken);
            const other = install({ teamId: t }, id("U"), { installedAt: 1732520000.123 });
            await store.save(other);
            expect((await store.findInstallation({ teamId: t }))?.userToken).toBe(other.userToken);
            expect((await store.findBot({ teamId: t }))?.botToken).toBe(other.botToken);
            const again = install({ teamId: t }, u, { installedAt: 1732520000.123 });
            await store.save(again);
            expect((await store.findInstallation({ teamId: t }))?.userToken).toBe(again.userToken);
          });

          it("the latest is the last saved even when its installedAt is older (a rotated token keeps installedAt)", async () => {
            // Token rotation saves the refreshed installation with its original installedAt; ordering by
            // installedAt would hand out the pre-rotation bot token, which Slack has revoked.
            const t = id("T");
            const [u1, u2] = [id("U"), id("U")];
            const old = install({ teamId: t }, u1, { installedAt: 1000 });
            const newer = install({ teamId: t }, u2, { installedAt: 2000 });
            await store.save(old);
            await store.save(newer);
            const rotated = {
              ...old,
              botToken: fakeBotToken(),
              botRefreshToken: fakeRefresh(),
              botTokenExpiresAt: 3000,
            };
            await store.save(rotated);
            expect((await store.findBot({ teamId: t }))?.botToken).toBe(rotated.botToken);
            const found = await store.findInstallation({ teamId: t });
            expect(found?.userId).toBe(u1);
            expect(found?.botToken).toBe(rotated.botToken);
            expect((await store.findInstallation({ teamId: t, userId: u2 }))?.botToken).toBe(rotated.botToken);
          });

          it("a later user-only install never hides the bot: bot fields come from the latest bot", async () => {
            const e = id("E");
            const t = id("T");
            const [u1, u2] = [id("U"), id("U")];
            const withBot = install({ enterpriseId: e, teamId: t }, u1, {
              botRefreshToken: fakeRefresh(),
              botTokenExpiresAt: 1732563200,
              botScopes: ["chat:write", "commands"],
            });
            const userOnly = install({ enterpriseId: e, teamId: t }, u2, { bot: false, userScopes: ["search:read"] });
            await store.save(withBot);
            await store.save(userOnly);
            expect((await store.findBot({ enterpriseId: e, teamId: t }))?.botToken).toBe(withBot.botToken);
            const expected = {
              ...userOnly,
              botToken: withBot.botToken,
              botId: withBot.botId,
              botUserId: withBot.botUserId,
              botScopes: ["chat:write", "commands"],
              botRefreshToken: withBot.botRefreshToken,
              botTokenExpiresAt: 1732563200,
            };
            expect(await store.findInstallation({ enterpriseId: e, teamId: t })).toStrictEqual(expected);
            expect(await store.findInstallation({ enterpriseId: e, teamId: t, userId: u2 })).toStrictEqual(expected);
            const mine = await store.findInstallation({ enterpriseId: e, teamId: t, userId: u1 });
            expect(mine?.userToken).toBe(withBot.userToken);
            expect(mine?.botToken).toBe(withBot.botToken);
          });

          it("an older user's installation gets the latest bot (reinstall by someone else)", async () => {
            const t = id("T");
            const [u1, u2] = [id("U"), id("U")];
            const first = install({ teamId: t }, u1, { botRefreshToken: fakeRefresh(), botTokenExpiresAt: 1 });
            const second = install({ teamId: t }, u2, { botScopes: ["chat:write", "im:history"] });
            await store.save(first);
            await store.save(second);
            const found = await store.findInstallation({ teamId: t, userId: u1 });
            expect(found?.userToken).toBe(first.userToken);
            expect(found?.botToken).toBe(second.botToken);
            expect(found?.botId).toBe(second.botId);
            expect(found?.botUserId).toBe(second.botUserId);
            expect(found?.botScopes).toStrictEqual(["chat:write", "im:history"]);
            // The latest bot has no refresh token: the stale one of the first install must not leak through.
            expect(found?.botRefreshToken).toBeUndefined();
            expect(found?.botTokenExpiresAt).toBeUndefined();
            expect(JSON.stringify(found)).not.toContain(first.botToken);
          });
        });

        describe("delete", () => {
          it("deleteInstallation with userId removes only that user and keeps the bot", async () => {
            const t = id("T");
            const base = id("U");
            const [u1, u10, u2] = [`${base}1`, `${base}10`, id("U")];
            const a = install({ teamId: t }, u1);
            const b = install({ teamId: t }, u10);
            const c = install({ teamId: t }, u2, { bot: false });
            for (const i of [a, b, c]) await store.save(i);
            await store.deleteInstallation({ teamId: t, userId: u1 });
            expect(await store.findInstallation({ teamId: t, userId: u1 })).toBeUndefined();
            expect((await store.findInstallation({ teamId: t, userId: u10 }))?.userToken).toBe(b.userToken);
            expect((await store.findInstallation({ teamId: t, userId: u2 }))?.userToken).toBe(c.userToken);
            expect((await store.findInstallation({ teamId: t }))?.userToken).toBe(c.userToken);
            expect((await store.findBot({ teamId: t }))?.botToken).toBe(b.botToken);
          });

          it("after deleting the latest installer, no lookup returns that user's tokens", async () => {
            const t = id("T");
            const [u1, u2] = [id("U"), id("U")];
            const older = install({ teamId: t }, u2);
            const u1First = install({ teamId: t }, u1, { userRefreshToken: fakeRefresh() });
            const u1Latest = install({ teamId: t }, u1, { bot: false, userRefreshToken: fakeRefresh() });
            for (const i of [older, u1First, u1Latest]) await store.save(i);
            expect((await store.findInstallation({ teamId: t }))?.userId).toBe(u1);
            await store.deleteInstallation({ teamId: t, userId: u1 });
            const found = await store.findInstallation({ teamId: t });
            expect(found?.userId).toBe(u2);
            expect(found?.userToken).toBe(older.userToken);
            const all = JSON.stringify([
              found,
              await store.findInstallation({ teamId: t, userId: u1 }),
              await store.findInstallation({ teamId: t, userId: u2 }),
            ]);
            for (const secret of [
              u1First.userToken,
              u1Latest.userToken,
              u1First.userRefreshToken,
              u1Latest.userRefreshToken,
            ])
              expect(all).not.toContain(secret);
            // The bot is not the user's: the latest bot (from u1's first install) stays.
            expect((await store.findBot({ teamId: t }))?.botToken).toBe(u1First.botToken);
            expect(found?.botToken).toBe(u1First.botToken);
          });

          it("deleting the only installer leaves no installation but keeps the bot (slack_sdk semantics)", async () => {
            const t = id("T");
            const u = id("U");
            const inst = install({ teamId: t }, u);
            await store.save(inst);
            await store.deleteInstallation({ teamId: t, userId: u });
            expect(await store.findInstallation({ teamId: t })).toBeUndefined();
            expect(await store.findInstallation({ teamId: t, userId: u })).toBeUndefined();
            expect((await store.findBot({ teamId: t }))?.botToken).toBe(inst.botToken);
          });

          it("deleteInstallation without userId removes every installation of the workspace, not its bot", async () => {
            const t = id("T");
            const other = id("T");
            const [u1, u2] = [id("U"), id("U")];
            const a = install({ teamId: t }, u1);
            const b = install({ teamId: t }, u2);
            const keep = install({ teamId: other }, u1);
            for (const i of [a, b, keep]) await store.save(i);
            await store.deleteInstallation({ teamId: t });
            expect(await store.findInstallation({ teamId: t })).toBeUndefined();
            expect(await store.findInstallation({ teamId: t, userId: u1 })).toBeUndefined();
            expect(await store.findInstallation({ teamId: t, userId: u2 })).toBeUndefined();
            expect((await store.findBot({ teamId: t }))?.botToken).toBe(b.botToken);
            expect((await store.findInstallation({ teamId: other, userId: u1 }))?.userToken).toBe(keep.userToken);
          });

          it("deleteBot removes the bot, and findInstallation no longer carries its tokens", async () => {
            const t = id("T");
            const u = id("U");
            const inst = install({ teamId: t }, u, { botRefreshToken: fakeRefresh(), botTokenExpiresAt: 1732563200 });
            const other = install({ teamId: id("T") }, u);
            await store.save(inst);
            await store.save(other);
            await store.deleteBot({ teamId: t });
            expect(await store.findBot({ teamId: t })).toBeUndefined();
            const found = await store.findInstallation({ teamId: t });
            expect(found?.userToken).toBe(inst.userToken);
            expect(found?.botToken).toBeUndefined();
            expect(found?.botRefreshToken).toBeUndefined();
            expect(JSON.stringify(found)).not.toContain(inst.botToken);
            expect((await store.findInstallation({ teamId: t, userId: u }))?.botToken).toBeUndefined();
            expect((await store.findBot({ teamId: other.teamId }))?.botToken).toBe(other.botToken);
          });

          it("deleteAll removes installations and bots of one workspace only", async () => {
            const e = id("E");
            const t = id("T");
            const a = install({ enterpriseId: e, teamId: t }, id("U"));
            const b = install({ enterpriseId: e, teamId: id("T") }, id("U"));
            await store.save(a);
            await store.save(b);
            await store.deleteAll({ enterpriseId: e, teamId: t });
            expect(await store.findBot({ enterpriseId: e, teamId: t })).toBeUndefined();
            expect(await store.findInstallation({ enterpriseId: e, teamId: t })).toBeUndefined();
            expect(await store.findInstallation({ enterpriseId: e, teamId: t, userId: a.userId })).toBeUndefined();
            expect((await store.findBot({ enterpriseId: e, teamId: b.teamId }))?.botToken).toBe(b.botToken);
          });

          it("deleteBot, deleteInstallation and deleteAll work for org-wide installs (enterpriseId, no teamId)", async () => {
            const e = id("E");
            const t = id("T");
            const [u1, u2] = [id("U"), id("U")];
            const org1 = orgInstall(e, u1);
            const org2 = orgInstall(e, u2, { botScopes: [], tokenType: "user" });
            delete org2.botToken;
            delete org2.botId;
            delete org2.botUserId;
            const ws = install({ enterpriseId: e, teamId: t }, u1);
            for (const i of [org1, org2, ws]) await store.save(i);
            const orgQ = { enterpriseId: e, teamId: id("T"), isEnterpriseInstall: true };

            await store.deleteInstallation({ enterpriseId: e, userId: u2 });
            expect((await store.findInstallation(orgQ))?.userToken).toBe(org1.userToken);
            expect(await store.findInstallation({ ...orgQ, userId: u2 })).toBeUndefined();

            await store.deleteBot({ enterpriseId: e });
            expect(await store.findBot(orgQ)).toBeUndefined();
            expect((await store.findInstallation(orgQ))?.botToken).toBeUndefined();
            expect((await store.findBot({ enterpriseId: e, teamId: t }))?.botToken).toBe(ws.botToken);

            await store.save(org1);
            expect((await store.findBot(orgQ))?.botToken).toBe(org1.botToken);
            await store.deleteAll({ enterpriseId: e });
            expect(await store.findBot(orgQ)).toBeUndefined();
            expect(await store.findInstallation(orgQ)).toBeUndefined();
            expect(await store.findInstallation({ ...orgQ, userId: u1 })).toBeUndefined();
            expect((await store.findInstallation({ enterpriseId: e, teamId: t }))?.userToken).toBe(ws.userToken);
          });

          it("deleting what does not exist is a no-op, and a workspace can be installed again", async () => {
            const t = id("T");
            await store.deleteBot({ teamId: t });
            await store.deleteInstallation({ teamId: t });
            await store.deleteInstallation({ teamId: t, userId: id("U") });
            await store.deleteAll({ teamId: t });
            await store.deleteAll({ enterpriseId: id("E") });
            const inst = install({ teamId: t }, id("U"));
            await store.save(inst);
            await store.deleteAll({ teamId: t });
            const again = install({ teamId: t }, inst.userId);
            await store.save(again);
            expect((await store.findBot({ teamId: t }))?.botToken).toBe(again.botToken);
            expect((await store.findInstallation({ teamId: t }))?.userToken).toBe(again.userToken);
          });
        });

        describe("copies", () => {
          it("mutating a returned installation or bot never changes the store", async () => {
            const inst = fullInstallation();
            await store.save(inst);
            const q = { enterpriseId: inst.enterpriseId, teamId: inst.teamId };
            const found = await store.findInstallation(q);
            const bot = await store.findBot(q);
            if (!found || !bot) throw new Error("expected the installation and its bot");
            found.userToken = "changed";
            found.botToken = "changed";
            found.botScopes.push("admin");
            found.userScopes.length = 0;
            (found.customValues.nested as { deep: { deeper: unknown[] } }).deep.deeper.push("x");
            (found.customValues.tags as string[]).push("x");
            found.customValues.plan = "free";
            bot.botToken = "changed";
            bot.botScopes.push("admin");
            (bot.customValues.nested as { empty: Record<string, unknown> }).empty.x = 1;
            expect(await store.findInstallation(q)).toStrictEqual(inst);
            expect(await store.findInstallation({ ...q, userId: inst.userId })).toStrictEqual(inst);
            expect(await store.findBot(q)).toStrictEqual(toBot(inst));
          });

          it("mutating the saved object afterwards never changes the store", async () => {
            const inst = fullInstallation();
            const snapshot = structuredClone(inst);
            await store.save(inst);
            inst.botScopes.push("admin");
            inst.userScopes.push("admin");
            (inst.customValues.nested as { deep: { deeper: unknown[] } }).deep.deeper.push("x");
            inst.customValues.plan = "free";
            inst.botToken = "changed";
            const q = { enterpriseId: snapshot.enterpriseId, teamId: snapshot.teamId };
            expect(await store.findInstallation(q)).toStrictEqual(snapshot);
            expect(await store.findBot(q)).toStrictEqual(toBot(snapshot));
          });
        });

        describe("concurrency", () => {
          it("concurrent saves to many workspaces are all kept", async () => {
            const insts = Array.from({ length: 40 }, () => install({ teamId: id("T") }, id("U")));
            await Promise.all(insts.map((i) => store.save(i)));
            const bots = await Promise.all(insts.map((i) => store.findBot({ teamId: i.teamId })));
            expect(bots.map((b) => b?.botToken)).toStrictEqual(insts.map((i) => i.botToken));
          });

          it("concurrent saves to one workspace keep every user and a consistent latest", async () => {
            const t = id("T");
            const insts = Array.from({ length: 20 }, () => install({ teamId: t }, id("U")));
            await Promise.all(insts.map((i) => store.save(i)));
            for (const i of insts) {
              expect((await store.findInstallation({ teamId: t, userId: i.userId }))?.userToken).toBe(i.userToken);
            }
            const latest = await store.findInstallation({ teamId: t });
            const owner = insts.find((i) => i.userId === latest?.userId);
            expect(owner).toBeDefined(); // the latest installation is one of the saved ones
            expect(latest?.userToken).toBe(owner?.userToken);
            const bot = await store.findBot({ teamId: t });
            expect(insts.map((i) => i.botToken)).toContain(bot?.botToken);
            expect(latest?.botToken).toBe(bot?.botToken);
          });
        });

        describe("bad input", () => {
          // Random per suite run, so rows left by an earlier run of a shared database cannot interfere.
          const T = id("T");
          const E = id("E");
          const badInstallations: [string, unknown][] = [
            ["null", null],
            ["a string", "installation"],
            ["a number", 42],
            ["an empty object", {}],
            ["no userId", { ...install({ teamId: T }, "U1"), userId: undefined }],
            ["an empty userId", { ...install({ teamId: T }, "U1"), userId: "" }],
            ["no teamId on a workspace install", { ...install({ teamId: T }, "U1"), teamId: undefined }],
            ["an org-wide install without enterpriseId", { ...orgInstall(E, "U1"), enterpriseId: undefined }],
            ["a path in teamId", install({ teamId: "../../etc" }, "U1")],
            ["a slash in enterpriseId", install({ enterpriseId: "E1/x", teamId: T }, "U1")],
            ["a path in userId", install({ teamId: T }, "U1/../../x")],
            ["a numeric teamId", { ...install({ teamId: T }, "U1"), teamId: 42 }],
            ["a 10 KB teamId", install({ teamId: `T${"A".repeat(10_000)}` }, "U1")],
            ["botScopes not an array", { ...install({ teamId: T }, "U1"), botScopes: "chat:write" }],
            ["userScopes with a number", { ...install({ teamId: T }, "U1"), userScopes: ["a", 1] }],
            ["installedAt a string", { ...install({ teamId: T }, "U1"), installedAt: "2024-11-25T08:00:00Z" }],
            ["installedAt NaN", { ...install({ teamId: T }, "U1"), installedAt: Number.NaN }],
            ["botTokenExpiresAt Infinity", { ...install({ teamId: T }, "U1"), botTokenExpiresAt: Infinity }],
            ["customValues an array", { ...install({ teamId: T }, "U1"), customValues: [1, 2] }],
            ["isEnterpriseInstall a string", { ...install({ teamId: T }, "U1"), isEnterpriseInstall: "yes" }],
            ["botToken a number", { ...install({ teamId: T }, "U1"), botToken: 12345 }],
          ];

          for (const [what, bad] of badInstallations)
            it(`save rejects ${what} with InvalidArgumentError and writes nothing`, async () => {
              await expectInvalidArgument(expect, store.save(bad as Installation));
              expect(await store.findBot({ teamId: T })).toBeUndefined();
              expect(await store.findInstallation({ teamId: T })).toBeUndefined();
              expect(await store.findInstallation({ teamId: T, userId: "U1" })).toBeUndefined();
              expect(await store.findBot({ enterpriseId: E })).toBeUndefined();
            });

          it("an error message never contains a token", async () => {
            const inst = { ...install({ teamId: "../x" }, "U1"), userToken: fakeUserToken() };
            const err = await expectInvalidArgument(expect, store.save(inst));
            expect(err.message).not.toContain(inst.botToken);
            expect(err.message).not.toContain(inst.userToken);
            const err2 = await expectInvalidArgument(
              expect,
              store.save({ ...install({ teamId: T }, "U1"), botScopes: inst.botToken as unknown as string[] }),
            );
            expect(err2.message).not.toContain(inst.botToken);
          });

          const badQueries: [string, unknown][] = [
            ["null", null],
            ["a string", "T1"],
            ["an empty object", {}],
            ["an empty teamId", { teamId: "" }],
            ["a path in teamId", { teamId: "../../etc/passwd" }],
            ["a slash in enterpriseId", { enterpriseId: "E1/..", teamId: "T1" }],
            ["a numeric teamId", { teamId: 42 }],
            ["an object teamId", { teamId: { $ne: null } }],
            ["a 10 KB teamId", { teamId: "T".repeat(10_000) }],
            ["a NUL in teamId", { teamId: "T1\u0000" }],
            ["isEnterpriseInstall without enterpriseId", { teamId: "T1", isEnterpriseInstall: true }],
            ["isEnterpriseInstall a string", { teamId: "T1", isEnterpriseInstall: "true" }],
          ];
          const methods = ["findBot", "findInstallation", "deleteBot", "deleteInstallation", "deleteAll"] as const;

          for (const [what, q] of badQueries)
            it(`every method rejects a query with ${what}`, async () => {
              for (const m of methods) {
                const call = store[m] as (q: unknown) => Promise<unknown>;
                await expectInvalidArgument(expect, call.call(store, q));
              }
            });

          it("lookups and deletes reject a bad userId, and a rejected delete deletes nothing", async () => {
            const t = id("T");
            const inst = install({ teamId: t }, id("U"));
            await store.save(inst);
            await expectInvalidArgument(expect, store.findInstallation({ teamId: t, userId: "U1/../../x" }));
            await expectInvalidArgument(expect, store.deleteInstallation({ teamId: t, userId: "../U1" }));
            await expectInvalidArgument(expect, store.deleteAll({ teamId: t, enterpriseId: "../" }));
            await expectInvalidArgument(expect, store.deleteBot({ teamId: `${t}/..` }));
            expect((await store.findBot({ teamId: t }))?.botToken).toBe(inst.botToken);
            expect((await store.findInstallation({ teamId: t }))?.userToken).toBe(inst.userToken);
          });
        });

        // Token rotation capabilities: optional in the interface, present on every built-in backend. A
        // store without them skips these (visibly), and rotation falls back to `save` + in-process locks.
        describe("updateTokens (token rotation)", () => {
          // Required on every store; the tests take no test context, so that `bun test` runs them too.
          const need = () => {
            expect(typeof store.updateTokens).toBe("function");
            return store.updateTokens.bind(store);
          };
          /** Two users of one workspace, each with their own rotating user token; U2 installed last (latest bot). */
          async function twoUsers() {
            const t = id("T");
            const e = id("E");
            const [u1, u2] = [id("U"), id("U")];
            const first = fullInstallation({ enterpriseId: e, teamId: t, userId: u1 });
            const second = fullInstallation({ enterpriseId: e, teamId: t, userId: u2 });
            await store.save(first);
            await store.save(second);
            const snapshot = async () => ({
              bot: await store.findBot({ enterpriseId: e, teamId: t }),
              latest: await store.findInstallation({ enterpriseId: e, teamId: t }),
              u1: await store.findInstallation({ enterpriseId: e, teamId: t, userId: u1 }),
              u2: await store.findInstallation({ enterpriseId: e, teamId: t, userId: u2 }),
            });
            return { t, e, u1, u2, first, second, snapshot };
          }
          const newBot = () => ({
            botToken: `xoxe.xoxb-1-test-${randomUUID()}`,
            botRefreshToken: fakeRefresh(),
            botTokenExpiresAt: 1900000000.5,
          });
          const newUser = () => ({
            userToken: `xoxe.xoxp-1-test-${randomUUID()}`,
            userRefreshToken: fakeRefresh(),
            userTokenExpiresAt: 1900000001,
          });

          it("a bot refresh changes the bot token only: both users' tokens and the latest installation stay", async () => {
            const update = need();
            const { t, e, second, snapshot } = await twoUsers();
            const before = await snapshot();
            const patch = newBot();
            expect(
              await update({ enterpriseId: e, teamId: t }, patch, { botRefreshToken: second.botRefreshToken! }),
            ).toBe(true);
            const after = await snapshot();
            expect(after.bot).toStrictEqual({ ...before.bot, ...patch });
            // Every installation now carries the new bot token; nothing else of theirs changed.
            expect(after.u1).toStrictEqual({ ...before.u1, ...patch });
            expect(after.u2).toStrictEqual({ ...before.u2, ...patch });
            expect(after.latest).toStrictEqual({ ...before.latest, ...patch });
            expect(after.latest?.userId).toBe(second.userId);
          });

          it("one user's refresh leaves the other user's token, the bot and the latest installation intact", async () => {
            const update = need();
            const { t, e, u1, first, snapshot } = await twoUsers();
            const before = await snapshot();
            const patch = newUser();
            const q = { enterpriseId: e, teamId: t, userId: u1 };
            expect(await update(q, patch, { userRefreshToken: first.userRefreshToken! })).toBe(true);
            const after = await snapshot();
            expect(after.u1).toStrictEqual({ ...before.u1, ...patch });
            expect(after.u2).toStrictEqual(before.u2);
            expect(after.bot).toStrictEqual(before.bot);
            expect(after.latest).toStrictEqual(before.latest);
            // The latest user's own refresh updates the workspace's latest too (it is the same record).
            const patch2 = newUser();
            const q2 = { enterpriseId: e, teamId: t, userId: before.u2!.userId };
            expect(await update(q2, patch2)).toBe(true);
            expect(await store.findInstallation({ enterpriseId: e, teamId: t })).toStrictEqual({
              ...before.latest,
              ...patch2,
            });
            expect(await store.findInstallation(q)).toStrictEqual({ ...before.u1, ...patch });
          });

          it("is a compare-and-set: a stale expectation writes nothing and resolves false", async () => {
            const update = need();
            const { t, e, u1, snapshot } = await twoUsers();
            const before = await snapshot();
            const ws = { enterpriseId: e, teamId: t };
            expect(await update(ws, newBot(), { botRefreshToken: fakeRefresh() })).toBe(false);
            expect(await update(ws, newBot(), { botToken: fakeBotToken() })).toBe(false);
            expect(await update({ ...ws, userId: u1 }, newUser(), { userRefreshToken: fakeRefresh() })).toBe(false);
            // Both parts or neither: the bot expectation holds, the user's does not.
            expect(
              await update(
                { ...ws, userId: u1 },
                { ...newBot(), ...newUser() },
                { botRefreshToken: before.bot!.botRefreshToken!, userRefreshToken: fakeRefresh() },
              ),
            ).toBe(false);
            expect(await snapshot()).toStrictEqual(before);
            // With both expectations right, both parts are written.
            const both = { ...newBot(), ...newUser() };
            expect(
              await update({ ...ws, userId: u1 }, both, {
                botRefreshToken: before.bot!.botRefreshToken!,
                userRefreshToken: before.u1!.userRefreshToken!,
              }),
            ).toBe(true);
            expect((await store.findBot(ws))?.botToken).toBe(both.botToken);
            expect((await store.findInstallation({ ...ws, userId: u1 }))?.userToken).toBe(both.userToken);
            expect((await store.findInstallation({ ...ws, userId: before.u2!.userId }))?.userToken).toBe(
              before.u2!.userToken,
            );
          });

          it("resolves false, writing nothing, when there is no bot or no such user", async () => {
            const update = need();
            const t = id("T");
            expect(await update({ teamId: t }, newBot())).toBe(false);
            const userOnly = install({ teamId: t }, id("U"), { bot: false });
            await store.save(userOnly);
            expect(await update({ teamId: t }, newBot())).toBe(false);
            expect(await update({ teamId: t, userId: id("U") }, newUser())).toBe(false);
            expect(await store.findBot({ teamId: t })).toBeUndefined();
            expect(await store.findInstallation({ teamId: t })).toStrictEqual(userOnly);
          });

          it("converts a long-lived token (expect the old access token) and finds org-wide installs from any team", async () => {
            const update = need();
            const e = id("E");
            const u = id("U");
            const org = orgInstall(e, u);
            await store.save(org);
            const patch = { ...newBot(), ...newUser() };
            const q = { enterpriseId: e, teamId: id("T"), isEnterpriseInstall: true, userId: u };
            expect(await update(q, patch, { botToken: org.botToken!, userToken: org.userToken! })).toBe(true);
            expect(
              await store.findInstallation({ enterpriseId: e, isEnterpriseInstall: true, userId: u }),
            ).toStrictEqual({
              ...org,
              ...patch,
            });
            // The old token no longer matches: a second conversion is refused.
            expect(await update(q, newBot(), { botToken: org.botToken! })).toBe(false);
          });

          it("changes scopes only when asked, keeps everything else of the bot", async () => {
            const update = need();
            const inst = fullInstallation();
            await store.save(inst);
            const ws = { enterpriseId: inst.enterpriseId, teamId: inst.teamId };
            expect(await update(ws, { botScopes: ["chat:write", "users:read"] })).toBe(true);
            expect(await store.findBot(ws)).toStrictEqual({ ...toBot(inst), botScopes: ["chat:write", "users:read"] });
          });

          it("a refreshed token is visible to the very next lookup (caches invalidate)", async () => {
            const update = need();
            const { t, e, u1, snapshot } = await twoUsers();
            await snapshot(); // warm any cache
            const bot = newBot();
            const user = newUser();
            await update({ enterpriseId: e, teamId: t }, bot);
            await update({ enterpriseId: e, teamId: t, userId: u1 }, user);
            const after = await snapshot();
            expect(after.bot?.botToken).toBe(bot.botToken);
            expect(after.u1?.userToken).toBe(user.userToken);
            expect(after.u2?.botToken).toBe(bot.botToken);
          });

          it("rejects bad input with InvalidArgumentError and writes nothing", async () => {
            const update = need();
            const inst = install({ teamId: id("T") }, id("U"));
            await store.save(inst);
            const ws = { teamId: inst.teamId };
            await expectInvalidArgument(expect, update(ws, newUser())); // user fields need userId
            await expectInvalidArgument(expect, update(ws, {}));
            await expectInvalidArgument(expect, update(ws, { botId: "B1" } as never));
            await expectInvalidArgument(expect, update(ws, { botToken: "" }));
            await expectInvalidArgument(expect, update(ws, { botTokenExpiresAt: Number.NaN }));
            await expectInvalidArgument(expect, update({ teamId: "../x" }, newBot()));
            await expectInvalidArgument(expect, update(ws, newBot(), { userRefreshToken: "x" }));
            expect(await store.findInstallation({ ...ws, userId: inst.userId })).toStrictEqual(inst);
          });

          if (mode !== "default") {
            it("adds no history rows: a refresh is not a save", async () => {
              const update = need();
              if (!handle.countHistory) throw new Error("makeStoreWithHistory must return countHistory");
              const { t, e, u1 } = await twoUsers();
              const before = await handle.countHistory({ enterpriseId: e, teamId: t });
              await update({ enterpriseId: e, teamId: t, userId: u1 }, { ...newBot(), ...newUser() });
              expect(await handle.countHistory({ enterpriseId: e, teamId: t })).toStrictEqual(before);
              expect(
                (await store.findInstallation({ enterpriseId: e, teamId: t, userId: u1 }))?.userTokenExpiresAt,
              ).toBe(1900000001);
            });
          }
        });

        describe("health (recordHealth, listHealth)", () => {
          /** A workspace with a rotating bot and two users with rotating user tokens (U2 installed last). */
          async function workspace() {
            const e = id("E");
            const t = id("T");
            const [u1, u2] = [id("U"), id("U")];
            const rotating = {
              botRefreshToken: fakeRefresh(),
              botTokenExpiresAt: 1900000000,
              userRefreshToken: fakeRefresh(),
            };
            const first = install({ enterpriseId: e, teamId: t }, u1, { ...rotating, userTokenExpiresAt: 1900000001 });
            const second = install({ enterpriseId: e, teamId: t }, u2, {
              botRefreshToken: fakeRefresh(),
              botTokenExpiresAt: 1900000002,
              userRefreshToken: fakeRefresh(),
              userTokenExpiresAt: 1900000003,
            });
            await store.save(first);
            await store.save(second);
            const ws = { enterpriseId: e, teamId: t };
            const mine = () => store.listHealth(ws);
            return { e, t, u1, u2, first, second, ws, mine };
          }
          const ok = (checkedAt = 1767225600) => ({ status: "ok" as const, checkedAt });
          /** The fields of `like` as `record` has them. */
          const fieldsOf = (record: object | undefined, like: object) =>
            Object.fromEntries(Object.keys(like).map((k) => [k, (record as Record<string, unknown> | undefined)?.[k]]));

          it("records the bot's and one user's health, each apart, and changes nothing else", async () => {
            const { e, t, u1, u2, second, ws, mine } = await workspace();
            const before = {
              bot: await store.findBot(ws),
              u1: await store.findInstallation({ ...ws, userId: u1 }),
              u2: await store.findInstallation({ ...ws, userId: u2 }),
              latest: await store.findInstallation(ws),
            };
            expect(await mine()).toStrictEqual([]);
            const revoked = { status: "revoked" as const, checkedAt: 1767225600.5, error: "token_revoked" };
            expect(await store.recordHealth(ws, revoked, { botToken: second.botToken! })).toBe(true);
            expect(await store.recordHealth({ ...ws, userId: u1 }, ok())).toBe(true);
            const entries = await mine();
            expect(entries).toStrictEqual([
              { kind: "bot", enterpriseId: e, teamId: t, isEnterpriseInstall: false, health: revoked },
              { kind: "user", enterpriseId: e, teamId: t, isEnterpriseInstall: false, userId: u1, health: ok() },
            ]);
            expect(await store.findBot(ws)).toStrictEqual(before.bot);
            expect(await store.findInstallation({ ...ws, userId: u1 })).toStrictEqual(before.u1);
            expect(await store.findInstallation({ ...ws, userId: u2 })).toStrictEqual(before.u2);
            expect(await store.findInstallation(ws)).toStrictEqual(before.latest);
            // Another workspace's listing holds none of it; the unfiltered listing holds all of it.
            expect(await store.listHealth({ enterpriseId: e, teamId: id("T") })).toStrictEqual([]);
            const all = await store.listHealth();
            expect(all.filter((x) => x.teamId === t)).toStrictEqual(entries);
          });

          it("is a compare-and-set on the checked token: a verdict on a token refreshed meanwhile is not recorded", async () => {
            const { u1, first, second, ws, mine } = await workspace();
            const expired = { status: "expired" as const, checkedAt: 1767225601, error: "token_expired" };
            expect(await store.recordHealth(ws, expired, { botToken: `xoxb-test-${randomUUID()}` })).toBe(false);
            expect(await store.recordHealth({ ...ws, userId: u1 }, expired, { userToken: second.userToken! })).toBe(
              false,
            );
            expect(await mine()).toStrictEqual([]);
            // The bot token is refreshed; the check made with the old one comes back after it.
            const fresh = {
              botToken: `xoxe.xoxb-1-test-${randomUUID()}`,
              botRefreshToken: fakeRefresh(),
              botTokenExpiresAt: 1900043200,
            };
            expect(await store.updateTokens(ws, fresh, { botRefreshToken: second.botRefreshToken! })).toBe(true);
            expect(await store.recordHealth(ws, expired, { botToken: second.botToken! })).toBe(false);
            expect(await store.recordHealth(ws, expired, { botRefreshToken: second.botRefreshToken! })).toBe(false);
            expect(await mine()).toStrictEqual([]);
            expect(
              await store.recordHealth(ws, ok(), { botToken: fresh.botToken, botRefreshToken: fresh.botRefreshToken }),
            ).toBe(true);
            expect((await mine()).map((x) => x.health.status)).toStrictEqual(["ok"]);
            expect(fieldsOf(await store.findBot(ws), fresh)).toStrictEqual(fresh);
            expect((await store.findInstallation({ ...ws, userId: u1 }))?.userToken).toBe(first.userToken);
          });

          it("never undoes a concurrent token refresh: health writes racing refreshes leave the refreshed tokens", async () => {
            const { u1, first, second, ws, mine } = await workspace();
            let botRefresh = second.botRefreshToken!;
            let userRefresh = first.userRefreshToken!;
            let last: Record<string, unknown> = {};
            for (let round = 0; round < 8; round++) {
              const bot = {
                botToken: `xoxe.xoxb-1-test-${randomUUID()}`,
                botRefreshToken: fakeRefresh(),
                botTokenExpiresAt: 1900000000 + round,
              };
              const user = {
                userToken: `xoxe.xoxp-1-test-${randomUUID()}`,
                userRefreshToken: fakeRefresh(),
                userTokenExpiresAt: 1900000100 + round,
              };
              const results = await Promise.all([
                store.recordHealth(ws, { status: "unknown", checkedAt: 1767225600 + round, error: "ratelimited" }),
                store.updateTokens(ws, bot, { botRefreshToken: botRefresh }),
                store.recordHealth({ ...ws, userId: u1 }, { status: "ok", checkedAt: 1767225600 + round }),
                store.updateTokens({ ...ws, userId: u1 }, user, { userRefreshToken: userRefresh }),
                store.recordHealth(
                  ws,
                  { status: "invalid", checkedAt: 1767225600 + round, error: "invalid_auth" },
                  { botToken: bot.botToken },
                ),
              ]);
              expect([results[1], results[3]]).toStrictEqual([true, true]);
              botRefresh = bot.botRefreshToken;
              userRefresh = user.userRefreshToken;
              last = { ...bot, ...user };
              expect(fieldsOf(await store.findBot(ws), bot)).toStrictEqual(bot);
              expect(fieldsOf(await store.findInstallation({ ...ws, userId: u1 }), user)).toStrictEqual(user);
            }
            expect(fieldsOf(await store.findInstallation({ ...ws, userId: u1 }), last)).toStrictEqual(last);
            const statuses = (await mine()).map((x) => [x.kind, x.health.checkedAt]);
            expect(statuses).toStrictEqual([
              ["bot", 1767225607],
              ["user", 1767225607],
            ]);
          });

          it("token updates keep the health; a reinstall starts without one; deletes remove it", async () => {
            const { e, t, u1, u2, second, ws, mine } = await workspace();
            await store.recordHealth(ws, { status: "expired", checkedAt: 10, error: "token_expired" });
            await store.recordHealth({ ...ws, userId: u1 }, ok(10));
            await store.recordHealth({ ...ws, userId: u2 }, ok(11));
            const patch = {
              botToken: `xoxe.xoxb-1-test-${randomUUID()}`,
              botRefreshToken: fakeRefresh(),
              botTokenExpiresAt: 1900043200,
            };
            expect(await store.updateTokens(ws, patch, { botRefreshToken: second.botRefreshToken! })).toBe(true);
            expect((await mine()).map((x) => x.kind)).toStrictEqual(["bot", "user", "user"]);
            // u1 installs again (with a bot): a new bot and a new installation of u1, neither checked yet.
            await store.save(install({ enterpriseId: e, teamId: t }, u1));
            expect((await mine()).map((x) => [x.kind, x.userId])).toStrictEqual([["user", u2]]);
            await store.recordHealth(ws, ok(12));
            await store.deleteInstallation({ ...ws, userId: u2 });
            expect((await mine()).map((x) => x.kind)).toStrictEqual(["bot"]);
            await store.deleteBot(ws);
            expect(await mine()).toStrictEqual([]);
            expect(await store.recordHealth(ws, ok(13))).toBe(false);
            expect(await store.recordHealth({ ...ws, userId: id("U") }, ok(13))).toBe(false);
          });

          it("keeps the latest check; an org-wide install's health is the org's; bad input is refused naming no token", async () => {
            const { ws, mine } = await workspace();
            expect(await store.recordHealth(ws, { status: "revoked", checkedAt: 200, error: "token_revoked" })).toBe(
              true,
            );
            expect(await store.recordHealth(ws, ok(100))).toBe(false);
            expect((await mine())[0]?.health).toStrictEqual({
              status: "revoked",
              checkedAt: 200,
              error: "token_revoked",
            });
            expect(await store.recordHealth(ws, ok(200))).toBe(true);
            expect((await mine())[0]?.health).toStrictEqual(ok(200));
            {
              const e = id("E");
              const u = id("U");
              await store.save(orgInstall(e, u));
              const q = { enterpriseId: e, teamId: id("T"), isEnterpriseInstall: true };
              expect(await store.recordHealth(q, { status: "invalid", checkedAt: 5, error: "invalid_auth" })).toBe(
                true,
              );
              expect(await store.listHealth({ enterpriseId: e })).toStrictEqual([
                {
                  kind: "bot",
                  enterpriseId: e,
                  isEnterpriseInstall: true,
                  health: { status: "invalid", checkedAt: 5, error: "invalid_auth" },
                },
              ]);
            }

            // Bad input, on a workspace of its own.
            const other = await workspace();
            const second = other.second;
            const bad: [unknown, unknown][] = [
              [{ status: "broken", checkedAt: 1 }, undefined],
              [{ status: "ok", checkedAt: Number.NaN }, undefined],
              [{ status: "ok", checkedAt: "1" }, undefined],
              [{ status: "ok", checkedAt: 1, error: "x y" }, undefined],
              [{ status: "ok", checkedAt: 1, error: "e".repeat(129) }, undefined],
              [null, undefined],
              [ok(), { userToken: second.userToken }],
              [ok(), { botToken: "" }],
            ];
            for (const [health, expectation] of bad) {
              const err = await expectInvalidArgument(
                expect,
                store.recordHealth(other.ws, health as never, expectation as never),
              );
              expect(err.message).not.toContain(second.userToken!);
            }
            await expectInvalidArgument(expect, store.recordHealth({ teamId: "../x" }, ok()));
            await expectInvalidArgument(expect, store.listHealth({ teamId: "a b" }));
            expect(await store.listHealth(other.ws)).toStrictEqual([]);
          });
        });

        describe("expiry index (listExpiringTokens)", () => {
          it("lists the rotating tokens due by a time, soonest first, latest records only; refuses bad input", async () => {
            const e = id("E");
            const t = id("T");
            const [u1, u2, u3] = [id("U"), id("U"), id("U")];
            const ws = { enterpriseId: e, teamId: t };
            // Far in the past, so that the other tests' tokens (which expire later) come after these.
            const base = -2_000_000_000 + Math.floor(Math.random() * 1_000_000) * 100;
            await store.save(
              install(ws, u1, {
                botRefreshToken: fakeRefresh(),
                botTokenExpiresAt: base + 30,
                userRefreshToken: fakeRefresh(),
                userTokenExpiresAt: base + 10,
              }),
            );
            await store.save(
              install(ws, u2, { bot: false, userRefreshToken: fakeRefresh(), userTokenExpiresAt: base + 20 }),
            );
            // Long-lived: an expiry without a refresh token is not rotating.
            await store.save(install(ws, u3, { bot: false, userTokenExpiresAt: base + 5 }));
            const mine = async (until: number, limit?: number) =>
              (await store.listExpiringTokens(until, limit)).filter((x) => x.teamId === t);
            const u = (userId: string, expiresAt: number) => ({
              kind: "user",
              enterpriseId: e,
              teamId: t,
              isEnterpriseInstall: false,
              userId,
              expiresAt,
            });
            const bot = (expiresAt: number) => ({
              kind: "bot",
              enterpriseId: e,
              teamId: t,
              isEnterpriseInstall: false,
              expiresAt,
            });
            expect(await mine(base + 9)).toStrictEqual([]);
            expect(await mine(base + 20)).toStrictEqual([u(u1, base + 10), u(u2, base + 20)]);
            expect(await mine(base + 30)).toStrictEqual([u(u1, base + 10), u(u2, base + 20), bot(base + 30)]);
            // The limit cuts the same order.
            const all = await store.listExpiringTokens(base + 30);
            expect(await store.listExpiringTokens(base + 30, 2)).toStrictEqual(all.slice(0, 2));
            for (let i = 1; i < all.length; i++) expect(all[i - 1]!.expiresAt <= all[i]!.expiresAt).toBe(true);
            // A refresh moves the token out of the window (and into the hour it now expires in).
            const inst = await store.findInstallation({ ...ws, userId: u1 });
            expect(
              await store.updateTokens(
                { ...ws, userId: u1 },
                {
                  userToken: `xoxe.xoxp-1-test-${randomUUID()}`,
                  userRefreshToken: fakeRefresh(),
                  userTokenExpiresAt: base + 50_000,
                },
                { userRefreshToken: inst!.userRefreshToken! },
              ),
            ).toBe(true);
            expect(await mine(base + 30)).toStrictEqual([u(u2, base + 20), bot(base + 30)]);
            expect(await mine(base + 50_000)).toStrictEqual([u(u2, base + 20), bot(base + 30), u(u1, base + 50_000)]);
            // A reinstall without rotation, a deleted user: gone from the index.
            await store.save(install(ws, u1));
            await store.deleteInstallation({ ...ws, userId: u2 });
            expect(await mine(base + 50_000)).toStrictEqual([]);
            // An org-wide install's bot.
            const org = id("E");
            await store.save(orgInstall(org, id("U"), { botRefreshToken: fakeRefresh(), botTokenExpiresAt: base + 7 }));
            expect((await store.listExpiringTokens(base + 7)).filter((x) => x.enterpriseId === org)).toStrictEqual([
              { kind: "bot", enterpriseId: org, isEnterpriseInstall: true, expiresAt: base + 7 },
            ]);
            await store.deleteAll({ enterpriseId: org });
            expect((await store.listExpiringTokens(base + 7)).filter((x) => x.enterpriseId === org)).toStrictEqual([]);
            // Bad input.
            for (const [until, limit] of [
              [Number.NaN, undefined],
              ["1", undefined],
              [1, 0],
              [1, 1.5],
              [1, -1],
            ] as [unknown, unknown][]) {
              await expectInvalidArgument(expect, store.listExpiringTokens(until as number, limit as number));
            }
          });
        });

        describe("withLock (token rotation)", () => {
          // Required on every store; the tests take no test context, so that `bun test` runs them too.
          const need = () => store.withLock.bind(store);
          const tick = () => new Promise((r) => setTimeout(r, 2));

          it("runs one holder of a key at a time and returns fn's value", async () => {
            const withLock = need();
            const key = `test/${id("T")}/bot`;
            let inside = 0;
            let most = 0;
            const order: number[] = [];
            const results = await Promise.all(
              Array.from({ length: 6 }, (_, i) =>
                withLock(key, async () => {
                  inside++;
                  most = Math.max(most, inside);
                  await tick();
                  order.push(i);
                  inside--;
                  return i * 10;
                }),
              ),
            );
            expect(most).toBe(1);
            expect(results).toEqual([0, 10, 20, 30, 40, 50]);
            expect(order).toHaveLength(6);
          });

          it("different keys do not wait for each other", async () => {
            const withLock = need();
            const t = id("T");
            let release!: () => void;
            const held = new Promise<void>((r) => {
              release = r;
            });
            const a = withLock(`test/${t}/bot`, () => held);
            await tick();
            expect(await withLock(`test/${t}/user/U1`, async () => "other key")).toBe("other key");
            release();
            await a;
          });

          it("releases the lock when fn throws, and passes the error on", async () => {
            const withLock = need();
            const key = `test/${id("T")}/bot`;
            const boom = new Error("boom");
            await expect(withLock(key, async () => Promise.reject(boom))).rejects.toBe(boom);
            expect(await withLock(key, async () => "again", { timeoutMs: 1000 })).toBe("again");
          });

          it("gives up with LockTimeoutError after timeoutMs, without running fn", async () => {
            const withLock = need();
            const key = `test/${id("T")}/bot`;
            let release!: () => void;
            const held = new Promise<void>((r) => {
              release = r;
            });
            const holder = withLock(key, () => held);
            await tick();
            let ran = false;
            const started = Date.now();
            const err = await withLock(
              key,
              async () => {
                ran = true;
              },
              { timeoutMs: 60 },
            ).then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(Date.now() - started).toBeGreaterThanOrEqual(50);
            expect(ran).toBe(false);
            expect((err as { code?: string })?.code).toBe(ErrorCode.LockTimeout);
            expect((err as Error).name).toBe("LockTimeoutError");
            release();
            await holder;
            // The queue moved on: the next caller gets the lock at once.
            expect(await withLock(key, async () => "free", { timeoutMs: 1000 })).toBe("free");
          });

          it("rejects a bad key with InvalidArgumentError", async () => {
            const withLock = need();
            for (const key of ["", "has space", "x".repeat(201), 42 as unknown as string]) {
              await expectInvalidArgument(
                expect,
                withLock(key, async () => "never"),
              );
            }
          });
        });

        if (mode !== "default") {
          describe("history", () => {
            const counts = async (q: DeleteInstallationQuery): Promise<HistoryCounts> => {
              if (!handle.countHistory) throw new Error("makeStoreWithHistory must return countHistory");
              return handle.countHistory(q);
            };

            it("keeps every save and still answers with the latest", async () => {
              const t = id("T");
              const [u1, u2] = [id("U"), id("U")];
              const saves = [
                install({ teamId: t }, u1),
                install({ teamId: t }, u2),
                install({ teamId: t }, u1, { bot: false }),
                install({ teamId: t }, u1),
                install({ teamId: t }, u2, { bot: false }),
              ];
              for (const s of saves) await store.save(s);
              expect(await counts({ teamId: t })).toStrictEqual({ installations: 5, bots: 3 });
              expect(await counts({ teamId: t, userId: u1 })).toStrictEqual({ installations: 3, bots: 3 });
              expect((await store.findInstallation({ teamId: t }))?.userToken).toBe(saves[4]?.userToken);
              expect((await store.findInstallation({ teamId: t, userId: u1 }))?.userToken).toBe(saves[3]?.userToken);
              expect((await store.findBot({ teamId: t }))?.botToken).toBe(saves[3]?.botToken);
            });

            it("deletes remove the history too", async () => {
              const t = id("T");
              const e = id("E");
              const [u1, u2] = [id("U"), id("U")];
              for (const s of [install({ teamId: t }, u1), install({ teamId: t }, u1), install({ teamId: t }, u2)])
                await store.save(s);
              await store.save(orgInstall(e, u1));
              await store.save(orgInstall(e, u1));
              await store.deleteInstallation({ teamId: t, userId: u1 });
              expect(await counts({ teamId: t, userId: u1 })).toStrictEqual({ installations: 0, bots: 3 });
              expect(await counts({ teamId: t })).toStrictEqual({ installations: 1, bots: 3 });
              await store.deleteBot({ teamId: t });
              expect(await counts({ teamId: t })).toStrictEqual({ installations: 1, bots: 0 });
              await store.deleteInstallation({ teamId: t });
              expect(await counts({ teamId: t })).toStrictEqual({ installations: 0, bots: 0 });
              expect(await counts({ enterpriseId: e })).toStrictEqual({ installations: 2, bots: 2 });
              await store.deleteAll({ enterpriseId: e });
              expect(await counts({ enterpriseId: e })).toStrictEqual({ installations: 0, bots: 0 });
            });
          });
        }
      });
    if (options.makeAppStores) {
      const makeApps = options.makeAppStores;
      describe("app isolation (several apps, one storage)", () => {
        let apps: AppStoresHandle;
        beforeEach(async () => {
          apps = await makeApps();
        });
        afterEach(async () => {
          await apps.cleanup?.();
        });
        /** The same workspace, enterprise and user installed by each app, each with its own tokens. */
        async function installEverywhere(): Promise<{
          e: string;
          t: string;
          u: string;
          by: Map<InstallationStore, Installation>;
        }> {
          const e = id("E");
          const t = id("T");
          const u = id("U");
          const by = new Map<InstallationStore, Installation>();
          for (const store of [apps.a, apps.b, apps.defaultApp]) {
            const inst = install({ enterpriseId: e, teamId: t }, u, {
              appId: id("A"),
              botRefreshToken: fakeRefresh(),
              userRefreshToken: fakeRefresh(),
            });
            await store.save(inst);
            by.set(store, inst);
          }
          return { e, t, u, by };
        }

        it("each app finds only its own bot and installations, for the same workspace and user", async () => {
          const { e, t, u, by } = await installEverywhere();
          for (const store of [apps.a, apps.b, apps.defaultApp]) {
            const mine = by.get(store);
            expect((await store.findBot({ enterpriseId: e, teamId: t }))?.botToken).toBe(mine?.botToken);
            const latest = await store.findInstallation({ enterpriseId: e, teamId: t });
            expect(latest?.userToken).toBe(mine?.userToken);
            expect(latest?.appId).toBe(mine?.appId);
            const own = await store.findInstallation({ enterpriseId: e, teamId: t, userId: u });
            expect([own?.userToken, own?.botToken]).toStrictEqual([mine?.userToken, mine?.botToken]);
            const listed = await store.listWorkspaces({ enterpriseId: e, teamId: t });
            expect(listed.map((w) => w.bot?.botToken)).toStrictEqual([mine?.botToken]);
          }
          const org = id("E");
          await apps.a.save(orgInstall(org, u));
          expect(await apps.b.findBot({ enterpriseId: org, teamId: t, isEnterpriseInstall: true })).toBeUndefined();
          expect(await apps.defaultApp.listWorkspaces({ enterpriseId: org })).toStrictEqual([]);
        });

        it("each app records its own org-wide workspace access", async () => {
          const e = id("E");
          const t = id("T");
          await apps.a.updateTeamAccess(e, { revoked: [t] });
          await apps.b.updateTeamAccess(e, { granted: [t] });
          expect(await apps.a.findTeamAccess(e)).toStrictEqual({ granted: [], revoked: [t] });
          expect(await apps.b.findTeamAccess(e)).toStrictEqual({ granted: [t], revoked: [] });
          expect(await apps.defaultApp.findTeamAccess(e)).toStrictEqual({ granted: [], revoked: [] });
          await apps.a.deleteAll({ enterpriseId: e });
          expect(await apps.b.findTeamAccess(e)).toStrictEqual({ granted: [t], revoked: [] });
        });

        it("deletes (uninstall, tokens revoked) of one app never touch another's", async () => {
          const { e, t, u, by } = await installEverywhere();
          const ws = { enterpriseId: e, teamId: t };
          // tokens_revoked for A's user, then A's bot; app_uninstalled for A.
          await apps.a.deleteInstallation({ ...ws, userId: u });
          await apps.a.deleteBot(ws);
          expect(await apps.a.findInstallation({ ...ws, userId: u })).toBeUndefined();
          expect(await apps.a.findBot(ws)).toBeUndefined();
          await apps.a.deleteAll(ws);
          for (const store of [apps.b, apps.defaultApp]) {
            expect((await store.findBot(ws))?.botToken).toBe(by.get(store)?.botToken);
            expect((await store.findInstallation({ ...ws, userId: u }))?.userToken).toBe(by.get(store)?.userToken);
          }
          // and the other way round: B's uninstall leaves the default app's data.
          await apps.b.deleteAll(ws);
          await apps.b.deleteInstallation(ws);
          expect(await apps.b.findInstallation(ws)).toBeUndefined();
          expect((await apps.defaultApp.findBot(ws))?.botToken).toBe(by.get(apps.defaultApp)?.botToken);
          // A can install the workspace again without seeing anything of B's past.
          await apps.a.save(install(ws, u));
          expect(await apps.b.findBot(ws)).toBeUndefined();
        });

        it("rotation: one app's token update never changes another's, and compares only its own tokens", async () => {
          const { e, t, u, by } = await installEverywhere();
          const ws = { enterpriseId: e, teamId: t };
          const a = by.get(apps.a);
          const b = by.get(apps.b);
          const fresh = fakeBotToken();
          // B's refresh token is not A's: the compare-and-set fails and writes nothing anywhere.
          expect(
            await apps.a.updateTokens(ws, { botToken: fakeBotToken() }, { botRefreshToken: b?.botRefreshToken ?? "" }),
          ).toBe(false);
          expect(
            await apps.a.updateTokens(ws, { botToken: fresh }, { botRefreshToken: a?.botRefreshToken ?? "" }),
          ).toBe(true);
          const user = fakeUserToken();
          expect(await apps.a.updateTokens({ ...ws, userId: u }, { userToken: user })).toBe(true);
          expect((await apps.a.findBot(ws))?.botToken).toBe(fresh);
          expect((await apps.a.findInstallation({ ...ws, userId: u }))?.userToken).toBe(user);
          for (const store of [apps.b, apps.defaultApp]) {
            expect((await store.findBot(ws))?.botToken).toBe(by.get(store)?.botToken);
            expect((await store.findInstallation({ ...ws, userId: u }))?.userToken).toBe(by.get(store)?.userToken);
          }
          // An app with no such workspace has nothing to update.
          const other = id("T");
          await apps.b.save(install({ teamId: other }, u));
          expect(await apps.a.updateTokens({ teamId: other }, { botToken: fakeBotToken() })).toBe(false);
        });

        it("rotation locks are per app: A holding a key never keeps B from taking the same key", async () => {
          const key = `rotation/-/${id("T")}/bot`;
          let release: () => void = () => {};
          const gate = new Promise<void>((r) => {
            release = r;
          });
          let entered: () => void = () => {};
          const inside = new Promise<void>((r) => {
            entered = r;
          });
          const holder = apps.a.withLock(key, async () => {
            entered();
            await gate;
            return "a";
          });
          await inside;
          // Same key, other app, while A still holds it: must run at once (a shared lock would time out).
          expect(await apps.b.withLock(key, async () => "b", { timeoutMs: 5_000 })).toBe("b");
          expect(await apps.defaultApp.withLock(key, async () => "default", { timeoutMs: 5_000 })).toBe("default");
          release();
          expect(await holder).toBe("a");
        });

        if (options.supportsHistory)
          it("history is kept per app", async () => {
            if (!apps.countHistory)
              throw new Error("makeAppStores must return countHistory when supportsHistory is set");
            const count = apps.countHistory;
            const t = id("T");
            const u = id("U");
            for (let i = 0; i < 3; i++) await apps.a.save(install({ teamId: t }, u));
            await apps.b.save(install({ teamId: t }, u));
            expect(await count(apps.a, { teamId: t })).toStrictEqual({ installations: 3, bots: 3 });
            expect(await count(apps.b, { teamId: t })).toStrictEqual({ installations: 1, bots: 1 });
            expect(await count(apps.defaultApp, { teamId: t })).toStrictEqual({ installations: 0, bots: 0 });
            await apps.a.deleteAll({ teamId: t });
            expect(await count(apps.a, { teamId: t })).toStrictEqual({ installations: 0, bots: 0 });
            expect(await count(apps.b, { teamId: t })).toStrictEqual({ installations: 1, bots: 1 });
          });
      });
    }
  });
}
