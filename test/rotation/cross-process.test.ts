/**
 * Token rotation across OS processes, against the emulator over real HTTP with single-use refresh tokens
 * (no grace period): however many processes call `authorize` for an expiring installation at the same
 * moment, each token is refreshed exactly once, and every caller gets the same new token.
 *
 * Tokens live 1 h at the emulator and the window is 2 h, so a freshly refreshed token is itself "due"
 * again: only the re-read under the lock (the refresh token changed since the caller looked) stops the
 * other processes from refreshing a second time.
 *
 * Runs on SQLite (lease rows) and files, and on the production backends, each with its own lock:
 * PostgreSQL, MySQL/MariaDB, and SQLite whose lock is a `RedisLock` (SQLite's own lock disabled). Those
 * need servers (POSTGRES_URL, MYSQL_URL, REDIS_URL; defaults on 127.0.0.1): unreachable, they are skipped
 * with a warning, or fail under CI=true (see test/helpers/backends.ts). Each run uses a random table or
 * key prefix and drops its tables / deletes its keys afterwards.
 */
import mysql from "mysql2/promise";
import { afterEach, describe, expect, it } from "vitest";
import { createAuthorize } from "../../src/authorize/authorize.js";
import type { AuthorizeContext } from "../../src/authorize/context.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { CachingInstallationStore } from "../../src/stores/cache.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import {
  api,
  type Backend,
  closeAll,
  pingPostgres,
  pingRedis,
  raceChildren,
  refreshCalls,
  SERVER_URLS,
  type ServerBackend,
  seededStore,
  teamOf,
  userOf,
} from "./helpers.js";

const CHILD = "test/rotation/fixtures/authorize-child.ts";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await closeAll();
});

interface ChildResult {
  ok: boolean;
  botToken?: string;
  userToken?: string;
  code?: string;
  reason?: string;
  message?: string;
}

/** `n` installations (bot + the installer's user token) saved into a fresh store of `backend`. */
async function setup(backend: Backend, n: number) {
  const s = await seededStore(backend, n, 3600, cleanups);
  const contexts: AuthorizeContext[] = s.installs.map((_inst, k) => ({
    teamId: teamOf(k + 1),
    userId: userOf(k + 1, 1),
    isEnterpriseInstall: false,
  }));
  return { ...s, contexts, env: { ...s.env, ROT_CONTEXTS: JSON.stringify(contexts) } };
}

/** The two cross-process scenarios, for one backend. */
function crossProcessTests(backend: Backend): void {
  it("8 processes, one expiring installation: one refresh per token, all get the same new tokens", async () => {
    const { emu, store, installs, env } = await setup(backend, 1);
    const before = installs[0]!;
    const results = await raceChildren<ChildResult[]>(8, CHILD, env);

    const calls = refreshCalls(emu);
    expect(calls).toEqual({ total: 2, ok: 2, bot: 1, user: 1, failed: 0 });
    const flat = results.map((r) => r[0]!);
    expect(
      flat.every((r) => r.ok),
      JSON.stringify(flat),
    ).toBe(true);
    const bots = new Set(flat.map((r) => r.botToken));
    const users = new Set(flat.map((r) => r.userToken));
    expect(bots.size).toBe(1);
    expect(users.size).toBe(1);
    const [bot] = bots;
    const [user] = users;
    expect(bot).not.toBe(before.botToken);
    expect(user).not.toBe(before.userToken);
    expect(bot).toMatch(/^xoxe\.xoxb-/);
    // The new tokens work, and they are what the store holds.
    expect((await api(emu, "auth.test", {}, { token: bot! })).body.ok).toBe(true);
    expect((await api(emu, "auth.test", {}, { token: user! })).body.ok).toBe(true);
    const stored = await store.findInstallation({ teamId: teamOf(1), userId: userOf(1, 1) });
    expect(stored?.botToken).toBe(bot);
    expect(stored?.userToken).toBe(user);
    expect(stored?.botRefreshToken).not.toBe(before.botRefreshToken);
    // Starting 8 processes under tsx takes most of this on a loaded 2-core machine.
  }, 60_000);

  it("50 installations × 4 processes: exactly 50 bot and 50 user refreshes, every process agrees", async () => {
    const n = 50;
    const { emu, store, env } = await setup(backend, n);
    const results = await raceChildren<ChildResult[]>(4, CHILD, env);

    expect(refreshCalls(emu)).toEqual({ total: 2 * n, ok: 2 * n, bot: n, user: n, failed: 0 });
    for (let k = 0; k < n; k++) {
      const perProcess = results.map((r) => r[k]!);
      expect(
        perProcess.every((r) => r.ok),
        JSON.stringify(perProcess),
      ).toBe(true);
      expect(new Set(perProcess.map((r) => r.botToken)).size).toBe(1);
      expect(new Set(perProcess.map((r) => r.userToken)).size).toBe(1);
      const stored = await store.findInstallation({ teamId: teamOf(k + 1), userId: userOf(k + 1, 1) });
      expect(stored?.botToken).toBe(perProcess[0]!.botToken);
      expect(stored?.userToken).toBe(perProcess[0]!.userToken);
    }
    // Spot-check that the tokens handed out work.
    for (const k of [0, 24, 49]) {
      expect((await api(emu, "auth.test", {}, { token: results[3]![k]!.botToken! })).body.ok).toBe(true);
    }
  }, 45_000);
}

describe.each(["sqlite", "file"] as const)("%s: OS processes refreshing at the same moment", (backend) => {
  crossProcessTests(backend);
});

const statuses: Record<ServerBackend, Awaited<ReturnType<typeof probeBackend>>> = {
  postgres: await probeBackend("PostgreSQL", SERVER_URLS.postgres, () => pingPostgres(SERVER_URLS.postgres)),
  mysql: await probeBackend("MySQL", SERVER_URLS.mysql, async () => {
    const c = await mysql.createConnection({ uri: SERVER_URLS.mysql, connectTimeout: 3000 });
    try {
      await c.query("SELECT 1");
    } finally {
      await c.end();
    }
  }),
  "sqlite+redis": await probeBackend("Redis", SERVER_URLS.redis, () => pingRedis(SERVER_URLS.redis)),
};

for (const backend of ["postgres", "mysql", "sqlite+redis"] as const) {
  describeBackend(statuses[backend], () => {
    describe(`${backend}: OS processes refreshing at the same moment`, () => {
      crossProcessTests(backend);
    });
  });
}

describe("memory: in-process single-flight", () => {
  it("200 concurrent authorize calls for one expiring installation: one refresh per token", async () => {
    const { emu, store, installs, contexts } = await setup("memory", 1);
    const cached = new CachingInstallationStore(store);
    const authorize = createAuthorize({
      installationStore: cached,
      rotation: { clientId: emu.app.clientId, clientSecret: emu.app.clientSecret, apiUrl: emu.apiUrl },
    });
    const results = await Promise.all(Array.from({ length: 200 }, () => authorize(contexts[0]!)));
    expect(refreshCalls(emu)).toEqual({ total: 2, ok: 2, bot: 1, user: 1, failed: 0 });
    expect(new Set(results.map((r) => r.botToken)).size).toBe(1);
    expect(new Set(results.map((r) => r.userToken)).size).toBe(1);
    expect(results[0]!.botToken).not.toBe(installs[0]!.botToken);
    expect((await api(emu, "auth.test", {}, { token: results[0]!.botToken! })).body.ok).toBe(true);
    // The cache in front of the store was invalidated by the write: it serves the new token.
    expect((await cached.findBot({ teamId: teamOf(1) }))?.botToken).toBe(results[0]!.botToken);
  });

  it("50 installations × 20 concurrent callers (bot-only and with the user): 50 + 50 refreshes", async () => {
    const n = 50;
    const { emu, store, contexts } = await setup("memory", n);
    const authorize = createAuthorize({
      installationStore: store,
      rotation: {
        clientId: emu.app.clientId,
        clientSecret: emu.app.clientSecret,
        api: new SlackApiClient({ baseUrl: emu.apiUrl }),
      },
    });
    const calls = contexts.flatMap((c) =>
      Array.from({ length: 20 }, (_, j) => (j % 2 === 0 ? c : { teamId: c.teamId, isEnterpriseInstall: false })),
    );
    const results = await Promise.all(calls.map((c) => authorize(c)));
    expect(refreshCalls(emu)).toEqual({ total: 2 * n, ok: 2 * n, bot: n, user: n, failed: 0 });
    for (let k = 0; k < n; k++) {
      const mine = results.slice(k * 20, k * 20 + 20);
      expect(new Set(mine.map((r) => r.botToken)).size).toBe(1);
      expect(new Set(mine.filter((r) => r.userToken).map((r) => r.userToken)).size).toBe(1);
    }
  });
});
