/**
 * `authorize` with rotation, on every backend, against the emulator over real HTTP: only the refreshed
 * token's fields are written (no other user's token is ever blanked or overwritten), failures are typed
 * errors with the store unchanged, and an expired token is never handed out.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createAuthorize } from "../../src/authorize/authorize.js";
import type { SlackOAuthError } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import { TokenRefreshError } from "../../src/rotation/errors.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import {
  api,
  type Backend,
  closeAll,
  closedPortUrl,
  install,
  openStore,
  refreshCalls,
  rotatingEmulator,
  teamOf,
  userOf,
} from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await closeAll();
});

const now = () => Math.floor(Date.now() / 1000);
const T1 = teamOf(1);
const [U1, U2, U3] = [userOf(1, 1), userOf(1, 2), userOf(1, 3)];

type Row = { token?: unknown; refresh?: unknown; expiresAt?: unknown };

/** What the backend physically holds: the latest bot row and each user's latest installation row. */
async function rawRows(backend: Backend, dir: string, store: InstallationStore) {
  if (backend === "sqlite") {
    const db = new Database(join(dir, "app.db"), { readonly: true });
    try {
      const bot = db
        .prepare(
          "SELECT bot_token AS token, bot_refresh_token AS refresh, bot_token_expires_at AS expiresAt FROM slack_bots ORDER BY id DESC LIMIT 1",
        )
        .get() as Row;
      const users = db
        .prepare(
          "SELECT user_id, user_token AS token, user_refresh_token AS refresh, user_token_expires_at AS expiresAt, id FROM slack_installations ORDER BY id",
        )
        .all() as (Row & { user_id: string; id: number })[];
      return {
        bot,
        users: Object.fromEntries(users.map(({ user_id, ...r }) => [user_id, r])),
        latestUser: users.at(-1)?.user_id,
        rows: users.length,
      };
    } finally {
      db.close();
    }
  }
  if (backend === "file") {
    const ws = join(dir, "installations", "_default", `_none+${T1}`);
    const read = async (name: string) => JSON.parse(await readFile(join(ws, name), "utf8"));
    const bot = (await read("bot-latest.json")).bot;
    const users: Record<string, Row> = {};
    for (const u of [U1, U2]) {
      const i = (await read(`installer+${u}+latest.json`)).installation;
      users[u] = { token: i.userToken, refresh: i.userRefreshToken, expiresAt: i.userTokenExpiresAt };
    }
    const latest = (await read("installer-latest.json")).installation;
    return {
      bot: { token: bot.botToken, refresh: bot.botRefreshToken, expiresAt: bot.botTokenExpiresAt },
      users,
      latestUser: latest.userId,
      latestUserToken: latest.userToken,
      rows: 2,
    };
  }
  const users: Record<string, Row> = {};
  for (const u of [U1, U2]) {
    const i = await store.findInstallation({ teamId: T1, userId: u });
    users[u] = { token: i?.userToken, refresh: i?.userRefreshToken, expiresAt: i?.userTokenExpiresAt };
  }
  const bot = await store.findBot({ teamId: T1 });
  return {
    bot: { token: bot?.botToken, refresh: bot?.botRefreshToken, expiresAt: bot?.botTokenExpiresAt },
    users,
    latestUser: (await store.findInstallation({ teamId: T1 }))?.userId,
    rows: 2,
  };
}

/** Workspace 1 installed by U1 then U2 (both with user tokens; U2's install is the latest). */
async function twoUsers(backend: Backend, emulatorOptions = {}) {
  const emu = await rotatingEmulator(1, emulatorOptions);
  const s = await openStore(backend);
  cleanups.push(s.cleanup);
  const first = (await install(emu, 1, 1)).installation;
  const second = (await install(emu, 1, 2)).installation;
  await s.store.save(first);
  await s.store.save(second);
  const authorize = createAuthorize({
    installationStore: s.store,
    rotation: { clientId: emu.app.clientId, clientSecret: emu.app.clientSecret, apiUrl: emu.apiUrl },
  });
  /** Makes a stored token look as if it expires in `seconds` (the emulator's token stays valid 12 h). */
  const expireIn = async (kind: "bot" | "user", seconds: number, userId?: string) => {
    const ok = await s.store.updateTokens!(
      kind === "bot" ? { teamId: T1 } : { teamId: T1, userId },
      kind === "bot" ? { botTokenExpiresAt: now() + seconds } : { userTokenExpiresAt: now() + seconds },
    );
    expect(ok).toBe(true);
  };
  const snapshot = async () => ({
    bot: await s.store.findBot({ teamId: T1 }),
    u1: await s.store.findInstallation({ teamId: T1, userId: U1 }),
    u2: await s.store.findInstallation({ teamId: T1, userId: U2 }),
    latest: await s.store.findInstallation({ teamId: T1 }),
    raw: await rawRows(backend, s.dir, s.store),
  });
  return { emu, ...s, first, second, authorize, expireIn, snapshot };
}

describe.each(["memory", "sqlite", "file"] as const)("%s", (backend) => {
  it("rotating the bot token leaves both users' tokens intact; rotating one user's leaves the other's", async () => {
    const { emu, authorize, expireIn, snapshot, second } = await twoUsers(backend);
    await expireIn("bot", 600);
    const before = await snapshot();

    // A request from a user without a token of their own: only the bot is refreshed.
    const r = await authorize({ teamId: T1, userId: U3, isEnterpriseInstall: false });
    expect(refreshCalls(emu)).toMatchObject({ total: 1, bot: 1, user: 0 });
    expect(r.botToken).not.toBe(before.bot?.botToken);
    expect(r.userToken).toBeUndefined();
    const afterBot = await snapshot();
    expect(afterBot.raw.bot.token).toBe(r.botToken);
    expect(afterBot.raw.bot.refresh).not.toBe(before.raw.bot.refresh);
    expect(afterBot.raw.users).toStrictEqual(before.raw.users); // both users' rows, byte for byte
    expect(afterBot.raw.latestUser).toBe(U2);
    expect(afterBot.raw.rows).toBe(before.raw.rows);
    expect(afterBot.u1).toStrictEqual({
      ...before.u1,
      botToken: r.botToken,
      botRefreshToken: afterBot.bot?.botRefreshToken,
      botTokenExpiresAt: afterBot.bot?.botTokenExpiresAt,
    });
    expect(afterBot.latest?.userId).toBe(second.userId);

    // U1's token is refreshed: U2's stays, the bot stays, U2's install stays the latest.
    await expireIn("user", 600, U1);
    const mid = await snapshot();
    const r1 = await authorize({ teamId: T1, userId: U1, isEnterpriseInstall: false });
    expect(refreshCalls(emu)).toMatchObject({ total: 2, bot: 1, user: 1 });
    expect(r1.userToken).not.toBe(mid.u1?.userToken);
    expect(r1.botToken).toBe(r.botToken);
    const afterUser = await snapshot();
    expect(afterUser.raw.users[U2]).toStrictEqual(mid.raw.users[U2]);
    expect(afterUser.raw.users[U1]?.token).toBe(r1.userToken);
    expect(afterUser.raw.bot).toStrictEqual(mid.raw.bot);
    expect(afterUser.raw.latestUser).toBe(U2);
    expect(afterUser.u2).toStrictEqual(mid.u2);
    expect(afterUser.latest).toStrictEqual(mid.latest);
    // Every token handed out or kept works.
    for (const token of [r1.botToken, r1.userToken, afterUser.u2?.userToken]) {
      expect((await api(emu, "auth.test", {}, { token: token! })).body.ok).toBe(true);
    }
  });

  it("invalid_refresh_token: a typed error, the stored installation unchanged", async () => {
    const { emu, authorize, expireIn, snapshot } = await twoUsers(backend);
    await expireIn("bot", -30); // expired: nothing valid to fall back on
    const before = await snapshot();
    emu.injectFault({ method: "oauth.v2.access", error: "invalid_refresh_token" });
    const err = await authorize({ teamId: T1, userId: U3, isEnterpriseInstall: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokenRefreshError);
    const e = err as TokenRefreshError;
    expect(e.code).toBe("SLACK_OAUTH_TOKEN_REFRESH_FAILED");
    expect(e.reason).toBe("invalid_refresh_token");
    expect(e.slackError).toBe("invalid_refresh_token");
    expect(e.retryable).toBe(false);
    expect(e.tokenExpired).toBe(true);
    expect(e.kind).toBe("bot");
    expect(e.teamId).toBe(T1);
    expect(e.message).not.toMatch(/xox/);
    expect(await snapshot()).toStrictEqual(before);
  });

  it("a refresh token spent elsewhere (single-use, no grace): invalid_refresh_token, store unchanged", async () => {
    const { emu, authorize, expireIn, snapshot, store } = await twoUsers(backend);
    await expireIn("user", -1, U1);
    const before = await snapshot();
    // Someone uses U1's refresh token behind the store's back; Slack now refuses it.
    const spent = await api(emu, "oauth.v2.access", {
      client_id: emu.app.clientId,
      client_secret: emu.app.clientSecret,
      grant_type: "refresh_token",
      refresh_token: before.u1!.userRefreshToken!,
    });
    expect(spent.body.ok).toBe(true);
    const err = (await authorize({ teamId: T1, userId: U1, isEnterpriseInstall: false }).catch(
      (e) => e,
    )) as TokenRefreshError;
    expect(err).toBeInstanceOf(TokenRefreshError);
    expect([err.kind, err.reason, err.userId]).toEqual(["user", "invalid_refresh_token", U1]);
    expect(await snapshot()).toStrictEqual(before);
    expect(await store.findInstallation({ teamId: T1, userId: U1 })).toStrictEqual(before.u1);
  });

  it("network error: the still-valid token is returned and the typed error reported; once expired, it is thrown", async () => {
    const { emu, expireIn, snapshot, store } = await twoUsers(backend);
    const reported: [SlackOAuthError, unknown][] = [];
    const authorize = createAuthorize({
      installationStore: store,
      rotation: {
        clientId: emu.app.clientId,
        clientSecret: emu.app.clientSecret,
        api: new SlackApiClient({ baseUrl: await closedPortUrl(), retryBaseDelayMs: 1 }),
        onError: (e, info) => reported.push([e, info]),
      },
    });
    await expireIn("bot", 1200); // due (window 2 h) but valid for 20 more minutes
    const before = await snapshot();
    const r = await authorize({ teamId: T1, isEnterpriseInstall: false });
    expect(r.botToken).toBe(before.bot?.botToken);
    expect(reported).toHaveLength(1);
    expect(reported[0]![0]).toBeInstanceOf(TokenRefreshError);
    expect((reported[0]![0] as TokenRefreshError).reason).toBe("network");
    expect((reported[0]![0] as TokenRefreshError).retryable).toBe(true);
    expect(reported[0]![1]).toMatchObject({ kind: "bot", teamId: T1, usedCurrentToken: true });
    expect(await snapshot()).toStrictEqual(before);
    // Within the back-off the next request does not try again (no second error).
    await authorize({ teamId: T1, isEnterpriseInstall: false });
    expect(reported).toHaveLength(1);

    await expireIn("bot", 30); // less than the 60 s minimum validity: no longer handed out
    const err = (await authorize({ teamId: T1, isEnterpriseInstall: false }).catch((e) => e)) as TokenRefreshError;
    expect(err).toBeInstanceOf(TokenRefreshError);
    expect([err.reason, err.tokenExpired]).toEqual(["network", true]);
    expect(reported.at(-1)?.[1]).toMatchObject({ usedCurrentToken: false });
    expect((await snapshot()).raw).toStrictEqual({
      ...before.raw,
      bot: { ...before.raw.bot, expiresAt: (await store.findBot({ teamId: T1 }))?.botTokenExpiresAt },
    });
    expect(refreshCalls(emu).total).toBe(0);
  });
});

describe("never an expired token", () => {
  it("an expired token is refreshed before it is returned, never handed out stale", async () => {
    const { emu, authorize, expireIn, snapshot } = await twoUsers("memory");
    await expireIn("bot", -3600);
    await expireIn("user", -3600, U1);
    const before = await snapshot();
    const r = await authorize({ teamId: T1, userId: U1, isEnterpriseInstall: false });
    expect(r.botToken).not.toBe(before.bot?.botToken);
    expect(r.userToken).not.toBe(before.u1?.userToken);
    expect(r.botTokenExpiresAt! - now()).toBeGreaterThan(40_000);
    expect(r.userTokenExpiresAt! - now()).toBeGreaterThan(40_000);
    expect(refreshCalls(emu)).toMatchObject({ bot: 1, user: 1 });
  });

  it("an expired token without a refresh token is an error, not a token", async () => {
    const emu = await rotatingEmulator(1);
    const s = await openStore("memory");
    const { installation } = await install(emu, 1);
    const legacy: Installation = { ...installation, botTokenExpiresAt: now() - 10 };
    delete legacy.botRefreshToken;
    await s.store.save(legacy);
    const authorize = createAuthorize({
      installationStore: s.store,
      rotation: { clientId: emu.app.clientId, clientSecret: emu.app.clientSecret, apiUrl: emu.apiUrl },
    });
    const err = (await authorize({ teamId: T1, isEnterpriseInstall: false }).catch((e) => e)) as TokenRefreshError;
    expect(err).toBeInstanceOf(TokenRefreshError);
    expect([err.reason, err.tokenExpired, err.retryable]).toEqual(["no_refresh_token", true, false]);
    // Without rotation configured, authorize keeps returning what is stored (its historical behaviour).
    const plain = createAuthorize({ installationStore: s.store });
    expect((await plain({ teamId: T1, isEnterpriseInstall: false })).botToken).toBe(legacy.botToken);
  });

  it("tokens that do not expire within the window are returned without any call to Slack", async () => {
    const { emu, authorize, snapshot } = await twoUsers("sqlite");
    const before = await snapshot();
    const r = await authorize({ teamId: T1, userId: U1, isEnterpriseInstall: false });
    expect(r.botToken).toBe(before.bot?.botToken);
    expect(r.userToken).toBe(before.u1?.userToken);
    expect(refreshCalls(emu).total).toBe(0);
  });
});
