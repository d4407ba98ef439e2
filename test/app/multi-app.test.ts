/**
 * Several Slack apps served by one reference server (`SLACK_APPS_FILE`), end to end against the emulator:
 * both apps installed into the same workspace through their own paths; a signed `/open-modal` to each opens
 * a modal with that app's own bot token; requests naming an unconfigured app get 404 naming no app, a
 * request for A signed with B's secret 401; rotating A's token never touches B's; uninstalling A leaves B
 * working. Also the shared `/slack/events` path (routed by `api_app_id`) and the per-app state cookies.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/app/config.js";
import { type RunningServer, startServer } from "../../src/app/server.js";
import { INSTALL_PROMPT, OPEN_MODAL_COMMAND } from "../../src/app/slack-app.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { silentLogger } from "../../src/redact.js";
import { freePort, runCli } from "../cli/cli-helpers.js";
import { consent } from "../oauth/flow-harness.js";
import { installApp, signedCommand } from "./multi-app-helpers.js";

const TEAM = "T0000000001";
const hex = () => randomBytes(16).toString("hex");

describe("one reference server, two apps (SLACK_APPS_FILE)", () => {
  let emu: Emulator;
  let running: RunningServer;
  let base = "";
  let dir = "";
  const secrets = { aClient: hex(), aSigning: hex(), bClient: hex(), bSigning: hex() };
  const A = { name: "alpha", appId: "A0ALPHA0001", clientId: "1111111111.1111111111" };
  const B = { name: "beta", appId: "A0BETA00002", clientId: "2222222222.2222222222" };

  beforeAll(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    emu = await startEmulator({
      ...A,
      name: "Alpha",
      clientSecret: secrets.aClient,
      signingSecret: secrets.aSigning,
      appUrl: base,
      redirectUrls: [`${base}/slack/alpha/oauth_redirect`],
      requestUrl: `${base}/slack/alpha/events`,
      // A's tokens rotate and are due at once (60 s < the refresh window); B's are long-lived.
      tokenRotation: true,
      tokenExpiresIn: 60,
      apps: [
        {
          ...B,
          name: "Beta",
          clientSecret: secrets.bClient,
          signingSecret: secrets.bSigning,
          appUrl: base,
          redirectUrls: [`${base}/slack/beta/oauth_redirect`],
          requestUrl: `${base}/slack/beta/events`,
        },
      ],
    });
    dir = await mkdtemp(join(tmpdir(), "sok-multi-app-"));
    const file = join(dir, "apps.json");
    await writeFile(
      file,
      JSON.stringify({
        apps: [
          {
            ...A,
            default: true,
            clientSecret: secrets.aClient, // inline: the file must be 0600
            signingSecret: secrets.aSigning,
            scopes: ["commands", "chat:write"],
            redirectUri: `${base}/slack/alpha/oauth_redirect`,
          },
          {
            ...B,
            clientSecret: { env: "BETA_CLIENT_SECRET" },
            signingSecret: { env: "BETA_SIGNING_SECRET" },
            scopes: ["commands", "chat:write"],
            redirectUri: `${base}/slack/beta/oauth_redirect`,
          },
        ],
      }),
    );
    await chmod(file, 0o600);
    const config = loadConfig({
      SLACK_APPS_FILE: file,
      BETA_CLIENT_SECRET: secrets.bClient,
      BETA_SIGNING_SECRET: secrets.bSigning,
      SLACK_API_URL: emu.apiUrl,
      SLACK_AUTHORIZE_URL: emu.authorizeUrl,
      DATABASE_URL: "memory:",
      PORT: String(port),
      HOST: "127.0.0.1",
    });
    running = await startServer(config, { logger: silentLogger });
  });

  afterAll(async () => {
    await running?.close();
    await emu?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const storeOf = (name: string) => {
    const s = running.apps?.find((a) => a.name === name)?.installationStore;
    if (!s) throw new Error(`no app ${name}`);
    return s;
  };

  it("serves each app on its own paths; a state issued for A is refused on B's callback", async () => {
    const home = await (await fetch(`${base}/`)).text();
    expect(home).toContain('href="/slack/alpha/install"');
    expect(home).toContain('href="/slack/beta/install"');
    expect(home).toContain('href="/slack/beta/login"');
    // A's install, its consent, then the callback replayed on B's path with B's cookie name: refused.
    const start = await fetch(`${base}/slack/alpha/install`, { redirect: "manual" });
    const html = await start.text();
    const href = /id="add-to-slack" href="([^"]+)"/.exec(html)?.[1]?.replaceAll("&amp;", "&") ?? "";
    const state = new URL(href).searchParams.get("state") ?? "";
    const location = await consent(href, { team: TEAM });
    const onB = new URL(`/slack/beta/oauth_redirect${location.search}`, base);
    const refused = await fetch(onB, {
      headers: { cookie: `slack-app-oauth-state-beta=${state}` },
      redirect: "manual",
    });
    expect(refused.status).toBe(400);
    expect(refused.headers.get("x-slack-oauth-error")).toBe("SLACK_OAUTH_STATE_WRONG_APP");
    expect(await storeOf("beta").findBot({ teamId: TEAM })).toBeUndefined();
  });

  it("installs both apps into one workspace; each /open-modal uses its own app's bot token", async () => {
    for (const app of [A, B]) {
      const done = await installApp(base, { name: app.name, installPath: `/slack/${app.name}/install` });
      expect(done.status, done.html).toBe(200);
      expect(done.html).toContain("Installation complete");
    }
    const botA = await storeOf("alpha").findBot({ teamId: TEAM });
    const botB = await storeOf("beta").findBot({ teamId: TEAM });
    expect([botA?.appId, botB?.appId]).toStrictEqual([A.appId, B.appId]);
    expect(botA?.botToken).not.toBe(botB?.botToken);

    const viewsBefore = emu.views().length;
    for (const app of [A, B]) {
      // The emulator signs with the app's secret and posts to the app's request URL (its own events path).
      const answer = await emu.sendSlashCommand({ teamId: TEAM, command: OPEN_MODAL_COMMAND, appId: app.appId });
      expect(answer.status, answer.body).toBe(200);
      expect(answer.body).toBe("");
    }
    // The emulator records which app's token opened each modal.
    expect(
      emu
        .views()
        .slice(viewsBefore)
        .map((v) => v.appId),
    ).toStrictEqual([A.appId, B.appId]);
  });

  it("refuses a request for an unknown app (404, names no app) and one signed with another app's secret (401)", async () => {
    const post = (path: string, c: { body: string; headers: Record<string, string> }) =>
      fetch(`${base}${path}`, { method: "POST", headers: c.headers, body: c.body });
    for (const path of ["/slack/alpha/events", "/slack/events"]) {
      // An app id nobody configured, signed with A's secret: 404, and the answer names no configured app.
      const unknown = await post(path, signedCommand("A0NOBODY999", secrets.aSigning));
      expect(unknown.status, path).toBe(404);
      const text = await unknown.text();
      expect(JSON.parse(text)).toStrictEqual({ ok: false, error: "unknown_app" });
      for (const id of [A.appId, B.appId, A.name, B.name, A.clientId, B.clientId]) expect(text).not.toContain(id);
      // A request for A signed with B's secret: 401.
      const crossed = await post(path, signedCommand(A.appId, secrets.bSigning));
      expect(crossed.status, path).toBe(401);
    }
    // A request naming B sent to A's path (signed with A's secret): not A's, 404.
    expect((await post("/slack/alpha/events", signedCommand(B.appId, secrets.aSigning))).status).toBe(404);
    // The shared path routes by api_app_id and verifies with that app's secret.
    for (const [app, secret] of [
      [A, secrets.aSigning],
      [B, secrets.bSigning],
    ] as const) {
      const ok = await post("/slack/events", signedCommand(app.appId, secret));
      expect(ok.status).toBe(200);
    }
  });

  it("rotating A's token never touches B's; uninstalling A leaves B working", async () => {
    const beforeA = await storeOf("alpha").findBot({ teamId: TEAM });
    const beforeB = await storeOf("beta").findBot({ teamId: TEAM });
    expect(beforeA?.botToken).toMatch(/^xoxe\.xoxb-/);
    expect(beforeB?.botToken).toMatch(/^xoxb-/);
    const refreshes = () =>
      emu.calls("oauth.v2.access", { details: true }).filter((c) => c.grantType === "refresh_token").length;
    const before = refreshes();
    // A's token is due: the next command refreshes it (through A's credentials, into A's partition).
    const a = await emu.sendSlashCommand({ teamId: TEAM, command: OPEN_MODAL_COMMAND, appId: A.appId });
    expect(a.status, a.body).toBe(200);
    expect(refreshes()).toBe(before + 1);
    const afterA = await storeOf("alpha").findBot({ teamId: TEAM });
    const afterB = await storeOf("beta").findBot({ teamId: TEAM });
    expect(afterA?.botToken).not.toBe(beforeA?.botToken);
    expect(afterB).toStrictEqual(beforeB);
    expect(emu.world.tokenStatus(afterB?.botToken ?? "")).toBe("active");

    const result = await emu.uninstall({ teamId: TEAM, appId: A.appId });
    expect(result.deliveries.find((d) => d.type === "app_uninstalled")?.ok).toBe(true);
    expect(await storeOf("alpha").findBot({ teamId: TEAM })).toBeUndefined();
    expect(await storeOf("beta").findBot({ teamId: TEAM })).toStrictEqual(beforeB);
    // Slack no longer sends A's commands for this workspace; one signed with A's secret is told to install.
    const c = signedCommand(A.appId, secrets.aSigning);
    const gone = await fetch(`${base}/slack/alpha/events`, { method: "POST", headers: c.headers, body: c.body });
    expect(gone.status).toBe(200);
    expect(await gone.text()).toContain(INSTALL_PROMPT);
    const views = emu.views().length;
    const b = await emu.sendSlashCommand({ teamId: TEAM, command: OPEN_MODAL_COMMAND, appId: B.appId });
    expect(b.status, b.body).toBe(200);
    expect(b.body).toBe("");
    expect(
      emu
        .views()
        .slice(views)
        .map((v) => v.appId),
    ).toStrictEqual([B.appId]);
  });
});

describe("serve with a bad apps file exits 2, naming the app and the field, never a secret", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  async function appsFile(doc: unknown, mode: number): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), "sok-multi-app-bad-"));
    dirs.push(d);
    const path = join(d, "apps.json");
    await writeFile(path, JSON.stringify(doc));
    await chmod(path, mode);
    return path;
  }
  const app = (name: string, n: number, o: Record<string, unknown> = {}) => ({
    name,
    clientId: `${n}${n}${n}${n}.${n}${n}${n}${n}`,
    appId: `A0${name.toUpperCase()}${n}`,
    clientSecret: { env: `${name.toUpperCase()}_CLIENT` },
    signingSecret: { env: `${name.toUpperCase()}_SIGNING` },
    ...o,
  });

  it("inline secrets in a file others can read; duplicates; a missing secret; a single-app variable as well", async () => {
    const inline = hex();
    const readable = await appsFile(
      { apps: [app("alpha", 1, { clientSecret: inline, signingSecret: inline })] },
      0o644,
    );
    const r1 = await runCli(["serve"], { env: { SLACK_APPS_FILE: readable, PORT: "0", DATABASE_URL: "memory:" } });
    expect(r1.code, r1.stderr).toBe(2);
    expect(r1.stderr).toContain(`${readable} holds secrets inline but is mode 0644: chmod 600 it`);
    expect(`${r1.stdout}${r1.stderr}`).not.toContain(inline);

    const env = { ALPHA_CLIENT: hex(), ALPHA_SIGNING: hex(), BETA_CLIENT: hex() };
    const dup = await appsFile(
      { apps: [app("alpha", 1), app("beta", 1, { appId: "A0ALPHA1", paths: { events: "/slack/alpha/events" } })] },
      0o644,
    );
    const r2 = await runCli(["serve"], {
      env: { SLACK_APPS_FILE: dup, PORT: "0", DATABASE_URL: "memory:", SLACK_CLIENT_ID: "1.2", ...env },
    });
    expect(r2.code, r2.stderr).toBe(2);
    expect(r2.stderr).toContain(
      'app "beta": signingSecret is missing: the environment variable BETA_SIGNING is not set',
    );
    expect(r2.stderr).toContain("SLACK_CLIENT_ID and SLACK_APPS_FILE are both set");
    // Duplicates are only found among apps that are otherwise complete: B gets its signing secret.
    const r3 = await runCli(["serve"], {
      env: { SLACK_APPS_FILE: dup, PORT: "0", DATABASE_URL: "memory:", ...env, BETA_SIGNING: hex() },
    });
    expect(r3.code, r3.stderr).toBe(2);
    expect(r3.stderr).toContain(`app "beta": clientId 1111.1111 is also app "alpha"'s`);
    expect(r3.stderr).toContain(`app "beta": appId A0ALPHA1 is also app "alpha"'s`);
    expect(r3.stderr).toContain(`app "beta": paths.events /slack/alpha/events is also used by app "alpha"`);
    for (const v of Object.values(env)) expect(`${r2.stderr}${r3.stderr}${r2.stdout}${r3.stdout}`).not.toContain(v);
  });
});

describe("an app path on one of the server's own routes", () => {
  it("is refused, naming the app and the field", async () => {
    const d = await mkdtemp(join(tmpdir(), "sok-multi-app-reserved-"));
    try {
      const path = join(d, "apps.json");
      const app = {
        name: "alpha",
        clientId: "1111.1111",
        appId: "A0ALPHA1",
        clientSecret: { env: "C" },
        signingSecret: { env: "S" },
        paths: { events: "/healthz", login: "/console/login" },
      };
      await writeFile(path, JSON.stringify({ apps: [app] }));
      expect(() => loadConfig({ SLACK_APPS_FILE: path, C: hex(), S: hex() })).toThrow(
        /app "alpha": paths\.events \/healthz is one of the server's own routes[\s\S]*app "alpha": paths\.login \/console\/login is one of the server's own routes/,
      );
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});

describe("sandbox mode with an apps file: the emulator hosts every app", () => {
  it("an app the emulator cannot host stops the start, naming the app", async () => {
    const d = await mkdtemp(join(tmpdir(), "sok-multi-app-sandbox-bad-"));
    try {
      const file = join(d, "apps.json");
      const app = (name: string, appId: string) => ({
        name,
        clientId: name === "ok" ? "1111.2222" : "3333.4444",
        appId,
        clientSecret: hex(),
        signingSecret: hex(),
      });
      await writeFile(file, JSON.stringify({ apps: [app("ok", "A0SANDBOX1"), app("short", "A0SHORT")] }));
      await chmod(file, 0o600);
      const config = loadConfig({ SLACK_SANDBOX: "1", SLACK_APPS_FILE: file, DATABASE_URL: "memory:", PORT: "0" });
      await expect(startServer(config, { logger: silentLogger })).rejects.toThrow(
        /^SLACK_APPS_FILE \(sandbox\): the built-in emulator cannot host app "short": appId must look like A0123456789$/,
      );
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  let running: RunningServer | undefined;
  let dir = "";
  afterAll(async () => {
    await running?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("each app installs through its own paths and answers /open-modal with its own token, offline", async () => {
    dir = await mkdtemp(join(tmpdir(), "sok-multi-app-sandbox-"));
    const file = join(dir, "apps.json");
    const apps = ["one", "two"].map((name, i) => ({
      name,
      clientId: `${i + 3}${i + 3}${i + 3}${i + 3}.1234`,
      appId: `A0SANDBOX${i}`,
      clientSecret: hex(),
      signingSecret: hex(),
      scopes: ["commands", "chat:write"],
      // The emulator's token settings per app: "two" rotates its tokens.
      ...(i === 0 ? { default: true } : { sandbox: { tokenRotation: true, tokenExpiresIn: 43_200 } }),
    }));
    await writeFile(file, JSON.stringify({ apps }));
    await chmod(file, 0o600);
    const config = loadConfig({
      SLACK_SANDBOX: "1",
      SLACK_APPS_FILE: file,
      DATABASE_URL: "memory:",
      PORT: "0",
      HOST: "127.0.0.1",
    });
    running = await startServer(config, { logger: silentLogger });
    const emu = running.emulator!;
    // The emulator hosts the file's apps: their ids, secrets, and this server's paths as their URLs.
    expect(emu.apps.map((a) => [a.appId, a.clientId, a.signingSecret])).toStrictEqual(
      apps.map((a) => [a.appId, a.clientId, a.signingSecret]),
    );
    const home = await (await fetch(`${running.url}/`)).text();
    expect(home).toContain("Sandbox mode.");
    for (const a of apps) {
      expect(home).toContain(`id="install-${a.name}" href="/slack/${a.name}/install"`);
      const done = await installApp(running.url, { name: a.name, installPath: `/slack/${a.name}/install` });
      expect(done.status, done.html).toBe(200);
    }
    for (const a of apps) {
      const answer = await emu.sendSlashCommand({ teamId: TEAM, command: OPEN_MODAL_COMMAND, appId: a.appId });
      expect(answer.status, answer.body).toBe(200);
      expect(answer.body).toBe("");
    }
    expect(emu.views().map((v) => v.appId)).toStrictEqual(apps.map((a) => a.appId));
    const tokens = await Promise.all(
      (running.apps ?? []).map(async (a) => (await a.installationStore.findBot({ teamId: TEAM }))?.botToken),
    );
    expect(tokens[0]).toMatch(/^xoxb-/);
    expect(tokens[1]).toMatch(/^xoxe\.xoxb-/);
  });
});
