/**
 * Three `serve` processes (the built CLI) on different ports sharing one PostgreSQL database and Redis:
 * an install started on one instance finishes on another, an uninstall handled by one is seen by all
 * three within a second, and token rotation under concurrent load from all three refreshes each
 * installation once.
 *
 * Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test; a throwaway database
 * is created next to it) and Redis (REDIS_URL, default redis://127.0.0.1:6379). Unreachable: skipped with
 * a warning, or a failure under CI=true.
 *
 * One emulator runs in this process. Its request URL is a small router here that hands each request to
 * the instance named in the command's text (`server=N`), default the first: the commands keep the
 * emulator's real trigger_ids, and each instance can be targeted. Commands that must reach one given
 * instance without the emulator (the uninstall checks) are signed here with the app's signing secret.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { INSTALL_PROMPT, OPEN_MODAL_COMMAND } from "../../src/app/slack-app.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { SignatureSigner } from "../../src/signature/signature.js";
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
import { callback, consent, startInstall } from "../oauth/flow-harness.js";

/** The server's default Redis key prefix (the CLI has no setting for another one). */
const REDIS_PREFIX = "slack-oauth-kit:";

const status = await probePostgresAndRedis();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Random workspace ids: the Redis keys (locks) and invalidation messages are shared with other test files.
const tag = randomBytes(4).toString("hex").toUpperCase();
const teamOf = (i: number) => `T${tag}${String(i).padStart(2, "0")}`;
const userOf = (i: number) => `U${tag}${String(i).padStart(2, "0")}`;
const TEAMS = 7;
const INSTALL_TEAM = teamOf(1);
const UNINSTALL_TEAM = teamOf(2);
const ROTATION_TEAMS = [3, 4, 5, 6, 7].map(teamOf);

describeBackend(status, () => {
  const dbName = `sok_multi_${randomBytes(6).toString("hex")}`;
  let dbUrl = "";
  let dbCreated = false;
  let emu: Emulator;
  let router: CommandRouter | undefined;
  let servers: string[] = [];
  const children: RunningCli[] = [];
  /** OAuth states this file issued: their Redis tombstones (`used`, kept until expiry) are removed after. */
  const states: string[] = [];

  beforeAll(async () => {
    dbUrl = await createDatabase(dbName);
    dbCreated = true;

    const ports = [await freePort(), await freePort(), await freePort()];
    servers = ports.map((p) => `http://localhost:${p}`);
    router = await startCommandRouter(servers);
    const routerUrl = router.url;

    emu = await startEmulator({
      appUrl: servers[0]!,
      redirectUrls: [`${servers[1]}/slack/oauth_redirect`],
      requestUrl: `${routerUrl}/slack/events`,
      tokenRotation: true,
      tokenExpiresIn: 60, // within the 2 h rotation window: every installed token is due at once
      refreshGraceSeconds: 0, // a second use of a refresh token fails: refreshes must be serialised
      world: {
        workspaces: Array.from({ length: TEAMS }, (_, k) => ({
          id: teamOf(k + 1),
          name: `Multi ${k + 1}`,
          domain: `multi-${tag.toLowerCase()}-${k + 1}`,
        })),
        users: Array.from({ length: TEAMS }, (_, k) => ({
          id: userOf(k + 1),
          teamId: teamOf(k + 1),
          name: `admin${k + 1}`,
          isAdmin: true,
        })),
      },
      rateLimits: {
        "oauth.v2.access": Number.POSITIVE_INFINITY,
        "views.open": Number.POSITIVE_INFINITY,
        "auth.test": Number.POSITIVE_INFINITY,
      },
    });

    for (const port of ports) {
      const cli = spawnCli(["serve"], {
        PORT: String(port),
        HOST: "127.0.0.1",
        SLACK_CLIENT_ID: emu.app.clientId,
        SLACK_CLIENT_SECRET: emu.app.clientSecret,
        SLACK_SIGNING_SECRET: emu.app.signingSecret,
        SLACK_SCOPES: "commands,chat:write",
        SLACK_REDIRECT_URI: `${servers[1]}/slack/oauth_redirect`,
        SLACK_API_URL: emu.apiUrl,
        SLACK_AUTHORIZE_URL: emu.authorizeUrl,
        DATABASE_URL: dbUrl,
        REDIS_URL,
      });
      children.push(cli);
    }
    await Promise.all(children.map((c) => c.waitFor(/slack-oauth-kit is running on/, 20_000)));
  });

  afterAll(async () => {
    await Promise.allSettled(children.map((c) => c.stop()));
    await emu?.close();
    await router?.close();
    // Only the keys this file's workspaces left behind (locks, if any); the prefix is shared.
    await deleteRedisKeys(
      `${REDIS_PREFIX}*${tag}*`,
      states.map((st) => `${REDIS_PREFIX}state:${st}`),
    );
    if (dbCreated) await dropDatabase(dbName);
  });

  /** Starts an install on instance `from`, consents at the emulator, finishes on instance 1 (the callback). */
  async function installAcross(team: string, user: string, from = 0): Promise<{ status: number; html: string }> {
    const started = await startInstall({ url: servers[from]! });
    states.push(started.state);
    const location = await consent(started.authorizeUrl, { team, user });
    expect(location.origin).toBe(new URL(servers[1]!).origin);
    expect(location.searchParams.get("code")).toBeTruthy();
    const response = await callback(location, started.cookie);
    return { status: response.status, html: await response.text() };
  }

  /** A signed `/open-modal` posted straight to one instance (its trigger_id is not the emulator's). */
  async function signedCommand(server: string, team: string): Promise<{ status: number; text: string }> {
    const body = new URLSearchParams({
      token: "verification-token",
      team_id: team,
      team_domain: "multi",
      channel_id: "C0000000001",
      channel_name: "general",
      user_id: userOf(Number(team.slice(-2))),
      user_name: "admin",
      command: OPEN_MODAL_COMMAND,
      text: "",
      api_app_id: emu.app.appId,
      is_enterprise_install: "false",
      response_url: `${emu.url}/commands/${team}/1/x`,
      trigger_id: `1.${Date.now()}.${randomBytes(8).toString("hex")}`,
    }).toString();
    const res = await fetch(`${server}/slack/events`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...new SignatureSigner(emu.app.signingSecret).headers(body),
      },
      body,
    });
    const raw = await res.text();
    let text = raw;
    try {
      text = String((JSON.parse(raw) as { text?: unknown }).text ?? raw);
    } catch {
      // not JSON: keep the raw body
    }
    return { status: res.status, text };
  }

  async function installationRows(team: string): Promise<number> {
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    try {
      const r = await c.query<{ n: string }>("SELECT count(*) AS n FROM slack_installations WHERE team_id = $1", [
        team,
      ]);
      return Number(r.rows[0]?.n ?? 0);
    } finally {
      await c.end();
    }
  }

  it("an install started on one instance and finished on another succeeds", async () => {
    const { status: code, html } = await installAcross(INSTALL_TEAM, userOf(1), 0);
    expect(code, html).toBe(200);
    expect(html).toContain("Installation complete");
    expect(await installationRows(INSTALL_TEAM)).toBeGreaterThan(0);
    // The third instance, which took no part in it, serves the workspace.
    const answer = await emu.sendSlashCommand({ teamId: INSTALL_TEAM, command: OPEN_MODAL_COMMAND, text: "server=2" });
    expect(answer.status, answer.body).toBe(200);
    expect(answer.body).not.toContain(INSTALL_PROMPT);
    expect(emu.views().some((v) => v.teamId === INSTALL_TEAM)).toBe(true);
  });

  it("an uninstall handled by one instance is seen by all three within 1 s", async () => {
    // Long-lived tokens here: a rotating token that is due makes every command re-read the store to
    // refresh it, which would hide a stale cache; this checks the cross-instance invalidation itself.
    emu.updateApp({ tokenRotation: false });
    try {
      const { status: code, html } = await installAcross(UNINSTALL_TEAM, userOf(2), 2);
      expect(code, html).toBe(200);
    } finally {
      emu.updateApp({ tokenRotation: true, tokenExpiresIn: 60 });
    }
    // Warm every instance's cache with the installation.
    for (const s of servers) {
      const r = await signedCommand(s, UNINSTALL_TEAM);
      expect(r.status).toBe(200);
      expect(r.text).not.toContain(INSTALL_PROMPT);
    }
    const result = await emu.uninstall({ teamId: UNINSTALL_TEAM });
    expect(result.deliveries.find((d) => d.type === "app_uninstalled")?.ok).toBe(true);
    const since = Date.now();
    const seenAfter = await Promise.all(
      servers.map(async (s) => {
        for (;;) {
          const r = await signedCommand(s, UNINSTALL_TEAM);
          if (r.text.includes(INSTALL_PROMPT)) return Date.now() - since;
          if (Date.now() - since > 1000) return Number.POSITIVE_INFINITY;
          await sleep(50);
        }
      }),
    );
    for (const [i, ms] of seenAfter.entries()) expect(ms, `instance ${i} (${servers[i]})`).toBeLessThanOrEqual(1000);
    expect(await installationRows(UNINSTALL_TEAM)).toBe(0);
  });

  it("rotation under concurrent load from all three instances refreshes each installation once", async () => {
    emu.updateApp({ tokenRotation: true, tokenExpiresIn: 60 });
    for (const [k, team] of ROTATION_TEAMS.entries()) {
      const { status: code, html } = await installAcross(team, userOf(k + 3), k % 3);
      expect(code, html).toBe(200);
    }
    // Tokens issued from now on live 12 h: a refreshed token is not due again, so any second refresh
    // of an installation would be a race between the instances, not a new expiry.
    emu.updateApp({ tokenExpiresIn: 43_200 });
    const before = emu.calls("oauth.v2.access", { details: true }).length;
    const PER_SERVER = 3;
    const answers = await Promise.all(
      ROTATION_TEAMS.flatMap((team) =>
        [0, 1, 2].flatMap((server) =>
          Array.from({ length: PER_SERVER }, () =>
            emu.sendSlashCommand({ teamId: team, command: OPEN_MODAL_COMMAND, text: `server=${server}` }),
          ),
        ),
      ),
    );
    for (const a of answers) {
      expect(a.status, a.body).toBe(200);
      expect(a.body, "the modal opened (empty acknowledgement)").toBe("");
    }
    const refreshes = emu
      .calls("oauth.v2.access", { details: true })
      .slice(before)
      .filter((c) => c.grantType === "refresh_token");
    for (const team of ROTATION_TEAMS) {
      const mine = refreshes.filter((c) => c.teamId === team);
      expect(mine, `refreshes of ${team}`).toHaveLength(1);
      expect(mine[0]).toMatchObject({ ok: true, tokenType: "bot" });
    }
    expect(refreshes.filter((c) => !c.ok)).toEqual([]);
    const opens = emu.calls("views.open").filter((c) => ROTATION_TEAMS.includes(c.teamId ?? ""));
    expect(opens).toHaveLength(ROTATION_TEAMS.length * 3 * PER_SERVER);
    expect(opens.filter((c) => !c.ok)).toEqual([]);
    expect(emu.views().filter((v) => ROTATION_TEAMS.includes(v.teamId ?? ""))).toHaveLength(opens.length);
  });
});
