/**
 * The emulator's org-wide workspace access: `auth.teams.list` (what an org-wide token may act in, paged)
 * and the test API that plays an org admin removing or adding workspaces, with `team_access_revoked` /
 * `team_access_granted` signed and delivered (or lost).
 */
import { afterAll, describe, expect, it } from "vitest";
import { reconcileTeamAccess } from "../../src/authorize/team-access.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { api, closeAll, install, receiver, slackSignatureValid, start } from "./helpers.js";

const ORG = "E0000000001";
const [ENG, SALES] = ["T0000000004", "T0000000005"];

afterAll(closeAll);

describe("auth.teams.list and /_emulator/org/team-access", () => {
  it("lists the org's workspaces, minus those removed; the events reach the app signed, with team_ids", async () => {
    const app = await receiver();
    const emu = await start({ appUrl: app.url });
    try {
      const org = await install(emu, {}, { team: ORG });
      const token = org.access_token as string;
      const list = async (args: Record<string, unknown> = {}) =>
        (await api(emu, "auth.teams.list", args, { token })).body;
      expect((await list()).teams).toStrictEqual([
        { id: ENG, name: "Acme Engineering" },
        { id: SALES, name: "Acme Sales" },
      ]);

      // Removed, with the event delivered.
      const r = await fetch(`${emu.url}/_emulator/org/team-access`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ enterpriseId: ORG, teamIds: [SALES], access: "revoked" }),
      });
      expect(await r.json()).toStrictEqual({
        ok: true,
        allowed: [ENG],
        revoked: [SALES],
        deliveries: [{ type: "team_access_revoked", status: 200, ok: true }],
      });
      expect((await list()).teams).toStrictEqual([{ id: ENG, name: "Acme Engineering" }]);
      const sent = app.requests.at(-1)!;
      expect(slackSignatureValid(emu.app.signingSecret, sent.headers, sent.body)).toBe(true);
      const body = JSON.parse(sent.body);
      expect(body).toMatchObject({ type: "event_callback", team_id: ORG, enterprise_id: ORG });
      expect(body.event).toMatchObject({ type: "team_access_revoked", team_ids: [SALES] });
      expect(body.authorizations[0]).toMatchObject({ enterprise_id: ORG, team_id: null, is_enterprise_install: true });

      // Added back, the event lost: nothing reaches the app, auth.teams.list follows.
      const before = app.requests.length;
      const back = await emu.setTeamAccess({ enterpriseId: ORG, teamIds: [SALES], access: "granted", deliver: false });
      expect(back).toStrictEqual({ allowed: [ENG, SALES], revoked: [], deliveries: [] });
      expect(app.requests.length).toBe(before);
      expect((await list()).teams).toHaveLength(2);
    } finally {
      await app.close();
    }
  });

  it("pages with limit and cursor; refuses bad limits, cursors and targets", async () => {
    const emu = await start();
    const token = (await install(emu, {}, { team: ORG })).access_token as string;
    const first = (await api(emu, "auth.teams.list", { limit: "1" }, { token })).body;
    expect(first.teams).toStrictEqual([{ id: ENG, name: "Acme Engineering" }]);
    const cursor = first.response_metadata.next_cursor as string;
    expect(cursor).not.toBe("");
    const second = (await api(emu, "auth.teams.list", { limit: "1", cursor }, { token })).body;
    expect(second.teams).toStrictEqual([{ id: SALES, name: "Acme Sales" }]);
    expect(second.response_metadata.next_cursor).toBe("");
    expect((await api(emu, "auth.teams.list", { limit: "0" }, { token })).body.error).toBe("invalid_limit");
    expect((await api(emu, "auth.teams.list", { cursor: "nope!" }, { token })).body.error).toBe("invalid_cursor");
    // A workspace token lists its own workspace.
    const ws = (await install(emu, {}, { team: "T0000000001" })).access_token as string;
    expect((await api(emu, "auth.teams.list", {}, { token: ws })).body.teams).toStrictEqual([
      { id: "T0000000001", name: "Northwind Traders" },
    ]);
    const post = async (body: Record<string, unknown>) => {
      const r = await fetch(`${emu.url}/_emulator/org/team-access`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as { error?: string } };
    };
    expect(await post({ enterpriseId: ORG, teamIds: ["T0000000001"], access: "revoked" })).toMatchObject({
      status: 404,
      body: { error: "team_not_found" },
    });
    expect((await post({ enterpriseId: ORG, teamIds: [ENG], access: "maybe" })).status).toBe(400);
    expect((await post({ enterpriseId: ORG, teamIds: "T1", access: "revoked" })).status).toBe(400);
    expect((await post({ enterpriseId: "E0000000009", teamIds: [ENG], access: "revoked" })).body.error).toBe(
      "not_installed",
    );
  });

  it("reconcileTeamAccess leaves an org alone when its token may not list workspaces, and says why", async () => {
    const emu = await start();
    const reply = await install(emu, {}, { team: ORG });
    const store = new MemoryInstallationStore();
    await store.save({
      enterpriseId: ORG,
      isEnterpriseInstall: true,
      userId: reply.authed_user.id as string,
      botToken: reply.access_token as string,
      botScopes: ["commands"],
      userScopes: [],
      installedAt: 1,
      customValues: {},
    });
    await store.updateTeamAccess(ORG, { revoked: [SALES], granted: [ENG] });
    const client = new SlackApiClient({ baseUrl: emu.apiUrl, maxRetries: 0 });
    emu.injectFault({ method: "auth.teams.list", error: "missing_scope" });
    const [refused] = await reconcileTeamAccess({ installationStore: store, api: client });
    expect(refused).toMatchObject({ enterpriseId: ORG, error: "missing_scope", revoked: [SALES], newlyGranted: [] });
    expect(await store.findTeamAccess(ORG)).toStrictEqual({ granted: [ENG], revoked: [SALES] });
    // Asked again, Slack lists both: SALES is allowed again.
    const [ok] = await reconcileTeamAccess({ installationStore: store, api: client });
    expect(ok).toMatchObject({ allowed: [ENG, SALES], revoked: [], newlyGranted: [SALES] });
    expect(ok?.error).toBeUndefined();
    // An org installation without any token cannot be asked.
    const tokenless = new MemoryInstallationStore();
    await tokenless.save({
      enterpriseId: ORG,
      isEnterpriseInstall: true,
      userId: "W1",
      botScopes: [],
      userScopes: [],
      installedAt: 1,
      customValues: {},
    });
    expect((await reconcileTeamAccess({ installationStore: tokenless, api: client }))[0]?.error).toBe("no_token");
  });
});
