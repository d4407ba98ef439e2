/**
 * Issue 24 end to end, over real sockets: the reference server (real mode) against the emulator.
 *
 * - Scope drift: a scope added to the app's configuration lists the older installation under
 *   `installations list --needs-reinstall`; `/open-modal` there answers with a reinstall link instead of a
 *   Slack error; after reinstalling through that link the list is empty and the command works.
 * - Org-wide access: an org admin removes a workspace in the emulator and the next command from it gets
 *   the install prompt; adding it back restores it; once with the events delivered, once with the events
 *   lost and the change found by a health run (its reconcile with `auth.teams.list`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/app/config.js";
import { jsonLogger } from "../../src/app/log.js";
import { type RunningServer, startServer } from "../../src/app/server.js";
import { INSTALL_PROMPT } from "../../src/app/slack-app.js";
import { createInstallationsCommand, type ReinstallListing } from "../../src/cli/installations.js";
import type { CliIO } from "../../src/cli/io.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { runHealthCheck } from "../../src/health/index.js";
import { CachingInstallationStore } from "../../src/stores/cache.js";
import { MemoryStateStore } from "../../src/stores/memory.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { freePort } from "../helpers/ports.js";
import { callback, consent, startInstall } from "../oauth/flow-harness.js";

const NORTHWIND = "T0000000001";
const ACME_ENG = "T0000000004";
const ACME_SALES = "T0000000005";
const ACME_ORG = "E0000000001";
const OLD_SCOPES = "commands,chat:write";
const NEW_SCOPES = "commands,chat:write,channels:read";

let dir: string;
let dbUrl: string;
let emu: Emulator;
let port: number;
let appUrl: string;
const servers: RunningServer[] = [];

/** The reference server with these scopes, on the shared port and database (a caching store in front). */
async function serve(scopes: string): Promise<RunningServer> {
  const config = loadConfig({
    SLACK_CLIENT_ID: emu.app.clientId,
    SLACK_CLIENT_SECRET: emu.app.clientSecret,
    SLACK_SIGNING_SECRET: emu.app.signingSecret,
    SLACK_API_URL: emu.apiUrl,
    SLACK_AUTHORIZE_URL: emu.authorizeUrl,
    SLACK_REDIRECT_URI: `${appUrl}/slack/oauth_redirect`,
    SLACK_SCOPES: scopes,
    PORT: String(port),
  });
  const installationStore = new CachingInstallationStore(
    new SQLiteInstallationStore({ filename: join(dir, "app.db") }),
  );
  const running = await startServer(config, {
    logger: jsonLogger(() => {}),
    stores: { installationStore, stateStore: new MemoryStateStore(), close: () => installationStore.close() },
  });
  servers.push(running);
  return running;
}

/** Installs through the server like a browser; `path` may carry `?team=`. */
async function installThrough(team: string, path = "/slack/install"): Promise<string> {
  const started = await startInstall({ url: appUrl }, path);
  const location = await consent(started.authorizeUrl, { team });
  const response = await callback(location, started.cookie);
  const html = await response.text();
  expect(response.status, html).toBe(200);
  return started.authorizeUrl;
}

/** `slack-oauth-kit installations list --needs-reinstall --json` in process, SLACK_SCOPES from the environment. */
async function needsReinstall(scopes: string): Promise<ReinstallListing[]> {
  let out = "";
  let err = "";
  const io: CliIO = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    stdin: new PassThrough(),
    isTTY: false,
    env: { SLACK_SCOPES: scopes },
  };
  const code = await createInstallationsCommand(() => io).run([
    "list",
    "--needs-reinstall",
    "--json",
    "--database-url",
    dbUrl,
  ]);
  expect(code, err).toBe(0);
  return JSON.parse(out) as ReinstallListing[];
}

async function command(teamId: string): Promise<{ text: string | undefined; status: number | null }> {
  const r = await emu.sendSlashCommand({ teamId, command: "/open-modal" });
  const text = r.body ? ((JSON.parse(r.body) as { text?: string }).text ?? undefined) : undefined;
  return { text, status: r.status };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sok-i24-"));
  dbUrl = `sqlite:${join(dir, "app.db")}`;
  port = await freePort();
  appUrl = `http://localhost:${port}`;
  emu = await startEmulator({ appUrl });
});

afterAll(async () => {
  while (servers.length > 0) await servers.pop()?.close();
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("scope drift: a scope added to the app's configuration", () => {
  it("lists the older installation, answers its command with a reinstall link, and is empty after the reinstall", async () => {
    const before = await serve(OLD_SCOPES);
    await installThrough(NORTHWIND);
    expect(await needsReinstall(OLD_SCOPES)).toStrictEqual([]);
    await before.close();
    servers.pop();

    const after = await serve(NEW_SCOPES);
    const listed = await needsReinstall(NEW_SCOPES);
    expect(listed.map((w) => [w.teamId, w.missingBotScopes])).toStrictEqual([[NORTHWIND, ["channels:read"]]]);
    // A health run with the configured scopes records the bot as missing_scopes.
    const health = () =>
      runHealthCheck({
        installationStore: after.installationStore,
        apiUrl: emu.apiUrl,
        requiredScopes: { bot: NEW_SCOPES.split(",") },
      });
    const drifted = (await health()).items.find((i) => i.kind === "bot" && i.teamId === NORTHWIND);
    expect(drifted).toMatchObject({ status: "missing_scopes", missingScopes: ["channels:read"], recorded: true });

    const views = emu.views().length;
    const reply = await command(NORTHWIND);
    expect(reply.status).toBe(200);
    const link = `${appUrl}/slack/install?team=${NORTHWIND}`;
    expect(reply.text).toContain("channels:read");
    expect(reply.text).toContain(`<${link}|`);
    expect(emu.views().length).toBe(views); // no views.open: no Slack API error to show

    // The link pre-selects the workspace on Slack's page and asks for the new scopes.
    const authorizeUrl = new URL(await installThrough(NORTHWIND, `/slack/install?team=${NORTHWIND}`));
    expect(authorizeUrl.searchParams.get("team")).toBe(NORTHWIND);
    expect(authorizeUrl.searchParams.get("scope")).toBe(NEW_SCOPES);
    expect(await needsReinstall(NEW_SCOPES)).toStrictEqual([]);
    expect((await health()).items.find((i) => i.kind === "bot" && i.teamId === NORTHWIND)?.status).toBe("ok");
    expect((await command(NORTHWIND)).text).toBeUndefined(); // the modal opened
    expect(emu.views().length).toBe(views + 1);

    // A malformed team in an install link is refused with a page, not a TypeError.
    const bad = await fetch(`${after.url}/slack/install?team=T1%26scope%3Dadmin`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("SLACK_OAUTH_BAD_REQUEST");
  });
});

describe("org-wide install: workspaces removed and added back by an org admin", () => {
  let running: RunningServer;
  beforeAll(async () => {
    running = servers.at(-1) ?? (await serve(NEW_SCOPES));
    await installThrough(ACME_ORG);
  });

  it("with the events delivered: the removed workspace gets the install prompt, until it is added back", async () => {
    expect((await command(ACME_ENG)).text).toBeUndefined();
    const removed = await emu.setTeamAccess({ enterpriseId: ACME_ORG, teamIds: [ACME_ENG], access: "revoked" });
    expect(removed.deliveries).toStrictEqual([{ type: "team_access_revoked", status: 200, ok: true }]);
    expect((await command(ACME_ENG)).text).toBe(INSTALL_PROMPT);
    expect((await command(ACME_SALES)).text).toBeUndefined();
    expect(await running.installationStore.findTeamAccess(ACME_ORG)).toStrictEqual({
      granted: [],
      revoked: [ACME_ENG],
    });

    const added = await emu.setTeamAccess({ enterpriseId: ACME_ORG, teamIds: [ACME_ENG], access: "granted" });
    expect(added.deliveries).toStrictEqual([{ type: "team_access_granted", status: 200, ok: true }]);
    expect((await command(ACME_ENG)).text).toBeUndefined();
  });

  it("with the events lost: a health run (its reconcile with auth.teams.list) finds the removal and the return", async () => {
    const healthRun = async () => {
      const report = await runHealthCheck({ installationStore: running.installationStore, apiUrl: emu.apiUrl });
      expect(report.teamAccessError).toBeUndefined();
      return report.teamAccess?.find((t) => t.enterpriseId === ACME_ORG);
    };
    // A first health run records the workspaces the org token may act in.
    expect(await healthRun()).toMatchObject({ allowed: [ACME_ENG, ACME_SALES], revoked: [] });

    await emu.setTeamAccess({ enterpriseId: ACME_ORG, teamIds: [ACME_SALES], access: "revoked", deliver: false });
    expect((await command(ACME_SALES)).text).toBeUndefined(); // nobody told the app yet
    expect(await healthRun()).toMatchObject({ allowed: [ACME_ENG], revoked: [ACME_SALES], newlyRevoked: [ACME_SALES] });
    expect((await command(ACME_SALES)).text).toBe(INSTALL_PROMPT);

    await emu.setTeamAccess({ enterpriseId: ACME_ORG, teamIds: [ACME_SALES], access: "granted", deliver: false });
    expect(await healthRun()).toMatchObject({ revoked: [], newlyGranted: [ACME_SALES] });
    expect((await command(ACME_SALES)).text).toBeUndefined();
  });
});
