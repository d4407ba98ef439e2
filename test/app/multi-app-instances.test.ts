/**
 * Two Slack apps served by three `serve` processes (the built CLI, `SLACK_APPS_FILE`) sharing one PostgreSQL
 * database and Redis: both apps installed into the same workspace (install started on one instance, finished
 * on another); concurrent `/open-modal`s to both apps on all three instances open modals with each app's own
 * bot token, and A's due token is refreshed exactly once while B's is never touched; uninstalling A is seen
 * by all three while B keeps working.
 *
 * Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test; a throwaway database is
 * created next to it) and Redis (REDIS_URL, default redis://127.0.0.1:6379; a key prefix of this run's
 * own). Unreachable: skipped with a warning, or a failure under CI=true.
 *
 * The emulator's request URLs point at a small router here that hands each request to the instance named in
 * the command's text (`server=N`, default the first), on the same path (each app's own events path).
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { INSTALL_PROMPT, OPEN_MODAL_COMMAND } from "../../src/app/slack-app.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { freePort, type RunningCli, spawnCli } from "../cli/cli-helpers.js";
import { describeBackend } from "../helpers/backends.js";
import {
  type CommandRouter,
  createDatabase,
  deleteRedisKeys,
  dropDatabase,
  probePostgresAndRedis,
  REDIS_URL,
  startCommandRouter,
} from "../helpers/instances.js";
import { installApp, signedCommand } from "./multi-app-helpers.js";

const status = await probePostgresAndRedis();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = () => randomBytes(16).toString("hex");
const tag = randomBytes(4).toString("hex").toUpperCase();
const TEAM = `T${tag}01`;
const USER = `U${tag}01`;
const REDIS_PREFIX = `sok-multi-app-${tag}:`;

describeBackend(status, () => {
  const dbName = `sok_multiapp_${randomBytes(6).toString("hex")}`;
  let dbUrl = "";
  let dbCreated = false;
  let dir = "";
  let emu: Emulator;
  let router: CommandRouter | undefined;
  let servers: string[] = [];
  const children: RunningCli[] = [];
  const A = { name: "alpha", appId: `A0A${tag}`, clientId: "3333333333.1111111111", client: hex(), signing: hex() };
  const B = { name: "beta", appId: `A0B${tag}`, clientId: "4444444444.2222222222", client: hex(), signing: hex() };

  beforeAll(async () => {
    dbUrl = await createDatabase(dbName);
    dbCreated = true;

    const ports = [await freePort(), await freePort(), await freePort()];
    servers = ports.map((p) => `http://localhost:${p}`);
    router = await startCommandRouter(servers);
    const routerUrl = router.url;

    const emulated = (app: typeof A) => ({
      name: app.name,
      appId: app.appId,
      clientId: app.clientId,
      clientSecret: app.client,
      signingSecret: app.signing,
      appUrl: servers[1]!,
      redirectUrls: [`${servers[1]}/slack/${app.name}/oauth_redirect`],
      requestUrl: `${routerUrl}/slack/${app.name}/events`,
    });
    emu = await startEmulator({
      ...emulated(A),
      // A's tokens rotate and are due at once (60 s is inside the refresh window); B's are long-lived.
      tokenRotation: true,
      tokenExpiresIn: 60,
      refreshGraceSeconds: 0, // a second use of a refresh token fails: refreshes must be serialised
      apps: [emulated(B)],
      world: {
        workspaces: [{ id: TEAM, name: "Multi app", domain: `multi-app-${tag.toLowerCase()}` }],
        users: [{ id: USER, teamId: TEAM, name: "admin", isAdmin: true }],
      },
      rateLimits: {
        "oauth.v2.access": Number.POSITIVE_INFINITY,
        "views.open": Number.POSITIVE_INFINITY,
        "auth.test": Number.POSITIVE_INFINITY,
      },
    });

    dir = await mkdtemp(join(tmpdir(), "sok-multi-app-instances-"));
    const file = join(dir, "apps.json");
    await writeFile(
      file,
      JSON.stringify({
        apps: [A, B].map((app, i) => ({
          name: app.name,
          ...(i === 0 ? { default: true } : {}),
          clientId: app.clientId,
          appId: app.appId,
          clientSecret: app.client,
          signingSecret: app.signing,
          scopes: ["commands", "chat:write"],
          redirectUri: `${servers[1]}/slack/${app.name}/oauth_redirect`,
        })),
      }),
    );
    await chmod(file, 0o600);
    for (const port of ports) {
      children.push(
        spawnCli(["serve"], {
          PORT: String(port),
          HOST: "127.0.0.1",
          SLACK_APPS_FILE: file,
          SLACK_API_URL: emu.apiUrl,
          SLACK_AUTHORIZE_URL: emu.authorizeUrl,
          DATABASE_URL: dbUrl,
          REDIS_URL,
          REDIS_KEY_PREFIX: REDIS_PREFIX,
        }),
      );
    }
    await Promise.all(children.map((c) => c.waitFor(/slack-oauth-kit is running on/, 20_000)));
  });

  afterAll(async () => {
    await Promise.allSettled(children.map((c) => c.stop()));
    await emu?.close();
    await router?.close();
    // Every key of this run: its prefix is its own.
    await deleteRedisKeys(`${REDIS_PREFIX}*`);
    if (dbCreated) await dropDatabase(dbName);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The bot tokens stored for the workspace, by partition (client id; '' is the default app's). */
  async function botRows(): Promise<Record<string, string>> {
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    try {
      const r = await c.query<{ client_id: string; bot_token: string }>(
        "SELECT client_id, bot_token FROM slack_bots WHERE team_id = $1",
        [TEAM],
      );
      return Object.fromEntries(r.rows.map((row) => [row.client_id, row.bot_token]));
    } finally {
      await c.end();
    }
  }

  it("installs both apps across instances; concurrent /open-modals use each app's own token; A is refreshed once, B untouched", async () => {
    for (const app of [A, B]) {
      // Started on instance 0, finished on instance 1 (the redirect URIs' host).
      const done = await installApp(servers[0]!, { name: app.name, installPath: `/slack/${app.name}/install` }, TEAM);
      expect(done.status, done.html).toBe(200);
    }
    // Each app's states in its own Redis key space, under this run's prefix (REDIS_KEY_PREFIX).
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.keys(`${REDIS_PREFIX}state:*`)).not.toHaveLength(0);
      expect(await redis.keys(`${REDIS_PREFIX}state@${B.clientId}:*`)).not.toHaveLength(0);
    } finally {
      redis.disconnect();
    }
    const before = await botRows();
    // A (the default app) owns the default partition; B its client id's.
    expect(Object.keys(before).sort()).toStrictEqual(["", B.clientId]);
    expect(before[""]).toMatch(/^xoxe\.xoxb-/);
    // Tokens issued from now on live 12 h: any second refresh of A would be a race between the instances.
    emu.updateApp({ appId: A.appId, tokenExpiresIn: 43_200 });
    const refreshesBefore = emu.calls("oauth.v2.access", { details: true }).length;
    const viewsBefore = emu.views().length;
    const PER_SERVER = 2;
    const answers = await Promise.all(
      [A, B].flatMap((app) =>
        [0, 1, 2].flatMap((server) =>
          Array.from({ length: PER_SERVER }, () =>
            emu.sendSlashCommand({
              teamId: TEAM,
              userId: USER,
              command: OPEN_MODAL_COMMAND,
              text: `server=${server}`,
              appId: app.appId,
            }),
          ),
        ),
      ),
    );
    for (const a of answers) {
      expect(a.status, a.body).toBe(200);
      expect(a.body, "the modal opened (empty acknowledgement)").toBe("");
    }
    // Each modal was opened with its own app's bot token (the emulator records the token's app).
    const opened = emu.views().slice(viewsBefore);
    expect(opened.filter((v) => v.appId === A.appId)).toHaveLength(3 * PER_SERVER);
    expect(opened.filter((v) => v.appId === B.appId)).toHaveLength(3 * PER_SERVER);
    const refreshes = emu
      .calls("oauth.v2.access", { details: true })
      .slice(refreshesBefore)
      .filter((c) => c.grantType === "refresh_token");
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]).toMatchObject({ ok: true, tokenType: "bot", teamId: TEAM });
    const after = await botRows();
    expect(after[""]).not.toBe(before[""]);
    expect(after[B.clientId]).toBe(before[B.clientId]);
  });

  it("uninstalling A is seen by all three instances; B keeps working on each", async () => {
    const bToken = (await botRows())[B.clientId];
    const result = await emu.uninstall({ teamId: TEAM, appId: A.appId });
    expect(result.deliveries.find((d) => d.type === "app_uninstalled")?.ok).toBe(true);
    expect(await botRows()).toStrictEqual({ [B.clientId]: bToken });
    // Every instance's cache drops A's installation (Redis invalidation): a command for A gets the prompt.
    const since = Date.now();
    const seenAfter = await Promise.all(
      servers.map(async (s) => {
        for (;;) {
          const c = signedCommand(A.appId, A.signing, TEAM);
          const r = await fetch(`${s}/slack/alpha/events`, { method: "POST", headers: c.headers, body: c.body });
          if ((await r.text()).includes(INSTALL_PROMPT)) return Date.now() - since;
          if (Date.now() - since > 1000) return Number.POSITIVE_INFINITY;
          await sleep(50);
        }
      }),
    );
    for (const [i, ms] of seenAfter.entries()) expect(ms, `instance ${i}`).toBeLessThanOrEqual(1000);
    const viewsBefore = emu.views().length;
    for (const server of [0, 1, 2]) {
      const b = await emu.sendSlashCommand({
        teamId: TEAM,
        userId: USER,
        command: OPEN_MODAL_COMMAND,
        text: `server=${server}`,
        appId: B.appId,
      });
      expect(b.status, b.body).toBe(200);
      expect(b.body).toBe("");
    }
    expect(
      emu
        .views()
        .slice(viewsBefore)
        .map((v) => v.appId),
    ).toStrictEqual([B.appId, B.appId, B.appId]);
  });
});
