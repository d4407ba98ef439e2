/**
 * {@link RotationCoordinator} edge cases: a store without the rotation capabilities, org-wide
 * installs, a token another process refreshed, and an installation that changes (reinstall, uninstall)
 * while its refresh is in flight.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createAuthorize } from "../../src/authorize/authorize.js";
import type { Installation } from "../../src/model/installation.js";
import { installationFromV2Response } from "../../src/model/parse.js";
import { RotationCoordinator } from "../../src/rotation/coordinator.js";
import { TokenRotator } from "../../src/rotation/token-rotator.js";
import type {
  BotQuery,
  InstallationQuery,
  InstallationStore,
  WorkspaceQuery,
} from "../../src/stores/installation-store.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { authorize as consentCode, exchange, start } from "../emulator/helpers.js";
import { api, closeAll, gatedApi, install, openStore, refreshCalls, rotatingEmulator, teamOf } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await closeAll();
});

const now = () => Math.floor(Date.now() / 1000);
const T1 = teamOf(1);

/** A custom store written for 0.1, with only the base methods: no listWorkspaces, updateTokens, withLock, close. */
function legacy(inner: InstallationStore): InstallationStore {
  return {
    save: (i: Installation) => inner.save(i),
    findBot: (q: BotQuery) => inner.findBot(q),
    findInstallation: (q: InstallationQuery) => inner.findInstallation(q),
    deleteBot: (q: WorkspaceQuery) => inner.deleteBot(q),
    deleteInstallation: (q: WorkspaceQuery) => inner.deleteInstallation(q),
    deleteAll: (q: WorkspaceQuery) => inner.deleteAll(q),
  } as unknown as InstallationStore;
}

const expiring = (i: Installation): Installation => ({
  ...i,
  botTokenExpiresAt: now() + 300,
  userTokenExpiresAt: now() + 300,
});

describe("RotationCoordinator", () => {
  it("refuses, at construction, a store without updateTokens/withLock (written for 0.1), naming what it lacks", async () => {
    const emu = await rotatingEmulator(1);
    const store = legacy(new MemoryInstallationStore());
    const rotation = { clientId: emu.app.clientId, clientSecret: emu.app.clientSecret, apiUrl: emu.apiUrl };
    expect(() => createAuthorize({ installationStore: store, rotation })).toThrow(
      /lacks listWorkspaces, updateTokens, withLock, recordHealth, listHealth, listExpiringTokens, updateTeamAccess, findTeamAccess, close; .*CHANGELOG/,
    );
    // Without rotation the base methods are all authorize reads.
    const inst = (await install(emu, 1, 1)).installation;
    await store.save(inst);
    expect(
      (await createAuthorize({ installationStore: store })({ teamId: T1, isEnterpriseInstall: false })).botToken,
    ).toBe(inst.botToken);
  });

  it("rotates org-wide (Enterprise Grid) installations, found from any workspace of the org", async () => {
    const emu = await start({ tokenRotation: true, refreshGraceSeconds: 0 });
    const code = await consentCode(
      emu,
      { client_id: emu.app.clientId, scope: "commands,chat:write", user_scope: "identify" },
      { team: "E0000000001", user: "W0000000010" },
    );
    const reply = await exchange(emu, code);
    expect(reply.is_enterprise_install).toBe(true);
    const s = await openStore("file");
    cleanups.push(s.cleanup);
    await s.store.save(expiring(installationFromV2Response(reply)));
    const authorize = createAuthorize({
      installationStore: s.store,
      rotation: { clientId: emu.app.clientId, clientSecret: emu.app.clientSecret, apiUrl: emu.apiUrl },
    });
    const ctx = {
      enterpriseId: "E0000000001",
      teamId: "T0000000005",
      userId: "W0000000010",
      isEnterpriseInstall: true,
    };
    const [r, again] = await Promise.all([authorize(ctx), authorize({ ...ctx, teamId: "T0000000004" })]);
    expect(refreshCalls(emu)).toMatchObject({ total: 2, bot: 1, user: 1 });
    expect(again.botToken).toBe(r.botToken);
    expect(r.botToken).not.toBe(reply.access_token);
    const stored = await s.store.findInstallation({
      enterpriseId: "E0000000001",
      isEnterpriseInstall: true,
      userId: "W0000000010",
    });
    expect([stored?.botToken, stored?.userToken]).toEqual([r.botToken, r.userToken]);
    expect((await api(emu, "auth.test", {}, { token: r.userToken! })).body.ok).toBe(true);
  });

  it("uses the token another process stored meanwhile (the refresh token changed): no refresh", async () => {
    const emu = await rotatingEmulator(1, { tokenExpiresIn: 3600 });
    const s = await openStore("sqlite");
    cleanups.push(s.cleanup);
    const { installation } = await install(emu, 1);
    await s.store.save(installation);
    const rotator = new TokenRotator({
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      apiUrl: emu.apiUrl,
    });
    const c = new RotationCoordinator({ installationStore: s.store, rotator });
    const first = await c.refreshBot({ teamId: T1 });
    expect(first.status).toBe("refreshed");
    // A caller that looked before that refresh: the stored token is newer, and still due (1 h < 2 h) —
    // it is used as it is.
    const late = await c.refreshBot({ teamId: T1 }, { seenRefreshToken: installation.botRefreshToken });
    expect(late.status).toBe("refreshed_elsewhere");
    expect(late.bot?.botToken).toBe(first.bot?.botToken);
    expect(refreshCalls(emu).total).toBe(1);
    // Without that hint the token is due and is refreshed again.
    expect((await c.refreshBot({ teamId: T1 })).status).toBe("refreshed");
    expect(refreshCalls(emu).total).toBe(2);
    expect((await c.refreshBot({ teamId: "T9999999999" })).status).toBe("not_found");
  });

  it("a reinstall or an uninstall during the refresh wins: nothing is overwritten", async () => {
    const emu = await rotatingEmulator(1);
    const s = await openStore("sqlite");
    cleanups.push(s.cleanup);
    const { installation } = await install(emu, 1);
    await s.store.save(expiring(installation));
    const gated = gatedApi(emu.apiUrl, "oauth.v2.access");
    const rotator = new TokenRotator({
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      api: gated.api,
    });
    const c = new RotationCoordinator({ installationStore: s.store, rotator });

    // Reinstalled while the refresh call is on the wire (held at the gate until the reinstall is saved).
    const first = gated.arm();
    const pending = c.refreshBot({ teamId: T1 });
    await first.reached;
    const reinstall = (await install(emu, 1)).installation;
    await s.store.save(reinstall);
    first.open();
    const r = await pending;
    expect(r.status).toBe("superseded");
    expect(r.bot?.botToken).toBe(reinstall.botToken);
    expect((await s.store.findBot({ teamId: T1 }))?.botToken).toBe(reinstall.botToken);

    // Uninstalled while the refresh call is on the wire.
    await s.store.updateTokens!({ teamId: T1 }, { botTokenExpiresAt: now() + 300 });
    const second = gated.arm();
    const pending2 = c.refreshBot({ teamId: T1 });
    await second.reached;
    await s.store.deleteAll({ teamId: T1 });
    second.open();
    expect((await pending2).status).toBe("not_found");
    expect(await s.store.findBot({ teamId: T1 })).toBeUndefined();
  });
});
