/**
 * examples/bolt/multi-app.ts: two Bolt Apps over one SQLite file, both installed into the same workspace
 * through the emulator. A signed /open-modal to each opens a modal with that app's own bot token;
 * uninstalling A leaves B working.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BoltApps, startBoltApps } from "../../examples/bolt/multi-app.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { installationFromV2Response } from "../../src/model/parse.js";
import { api, authorize } from "../emulator/helpers.js";
import { freePort } from "../helpers/ports.js";

const TEAM = "T0000000001";

describe("one Bolt App per Slack app over one shared store (examples/bolt/multi-app.ts)", () => {
  let emu: Emulator;
  let running: BoltApps;
  let dir: string;

  beforeAll(async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    emu = await startEmulator({
      appUrl: `http://127.0.0.1:${portA}`,
      apps: [{ name: "App B", appUrl: `http://127.0.0.1:${portB}` }],
    });
    dir = await mkdtemp(join(tmpdir(), "sok-bolt-apps-"));
    const [a, b] = [emu.apps[0]!, emu.apps[1]!];
    running = await startBoltApps(
      [
        { name: "a", clientId: a.clientId, clientSecret: a.clientSecret, signingSecret: a.signingSecret, port: portA },
        { name: "b", clientId: b.clientId, clientSecret: b.clientSecret, signingSecret: b.signingSecret, port: portB },
      ],
      join(dir, "slack.db"),
      { slackApiUrl: emu.apiUrl },
    );
    // Both apps installed into the same workspace (as OAuthFlow would), each saved in its own partition.
    for (const [name, app] of [
      ["a", a],
      ["b", b],
    ] as const) {
      const code = await authorize(emu, { client_id: app.clientId, scope: "commands,chat:write" });
      const reply = (
        await api(emu, "oauth.v2.access", { client_id: app.clientId, client_secret: app.clientSecret, code })
      ).body;
      await running.apps.get(name)?.store.save(installationFromV2Response(reply));
    }
  });

  afterAll(async () => {
    await running?.stop();
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("each app's /open-modal opens a modal with its own bot token; uninstalling A leaves B working", async () => {
    const [a, b] = [emu.apps[0]!, emu.apps[1]!];
    const botA = await running.apps.get("a")?.store.findBot({ teamId: TEAM });
    const botB = await running.apps.get("b")?.store.findBot({ teamId: TEAM });
    expect(botA?.botToken).toMatch(/^xoxb-/);
    expect(botB?.botToken).toMatch(/^xoxb-/);
    expect(botA?.botToken).not.toBe(botB?.botToken);
    expect([botA?.appId, botB?.appId]).toStrictEqual([a.appId, b.appId]);
    for (const app of [a, b]) {
      const answer = await emu.sendSlashCommand({ teamId: TEAM, command: "/open-modal", appId: app.appId });
      expect(answer.status, answer.body).toBe(200);
    }
    // The emulator records which app's token opened each modal.
    expect(emu.views().map((v) => v.appId)).toStrictEqual([a.appId, b.appId]);

    await emu.uninstall({ teamId: TEAM, appId: a.appId });
    await running.apps.get("a")?.store.deleteAll({ teamId: TEAM });
    expect(await running.apps.get("a")?.store.findBot({ teamId: TEAM })).toBeUndefined();
    expect((await running.apps.get("b")?.store.findBot({ teamId: TEAM }))?.botToken).toBe(botB?.botToken);
    const again = await emu.sendSlashCommand({ teamId: TEAM, command: "/open-modal", appId: b.appId });
    expect(again.status, again.body).toBe(200);
    expect(emu.views().map((v) => v.appId)).toStrictEqual([a.appId, b.appId, b.appId]);
  });
});
