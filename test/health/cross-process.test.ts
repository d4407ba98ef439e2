/**
 * Refresh without traffic, across OS processes, against the emulator over real HTTP with single-use
 * refresh tokens (no grace period). No request reaches any app: the tokens are refreshed by the scheduler
 * (or by `getWorkspaceToken`) alone. Time moves with the emulator's clock (the children read it), never
 * by sleeping: tokens live 12 h, the clock is moved 11 h, and the 2 h window makes them due.
 *
 * SQLite (lease rows), and PostgreSQL whose lock is a `RedisLock` (its own lock disabled): those need the
 * servers (POSTGRES_URL, REDIS_URL; defaults on 127.0.0.1), skipped with a warning when unreachable, or
 * failing under CI=true.
 */
import { afterEach, describe, expect, it } from "vitest";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import {
  api,
  type Backend,
  closeAll,
  pingPostgres,
  pingRedis,
  refreshCalls,
  SERVER_URLS,
  seededStore,
  spawnTsx,
  teamOf,
  userOf,
} from "../rotation/helpers.js";

const CHILD = "test/health/fixtures/upkeep-child.ts";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await closeAll();
});

/** `n` workspaces installed (bot + installer's user token, 12 h tokens) into a fresh store of `backend`. */
function setup(backend: Backend, n: number) {
  return seededStore(backend, n, 43_200, cleanups);
}

/**
 * Starts `n` children; once all are ready, releases them at once (getWorkspaceToken in every process at
 * the same moment); once every one has printed its tokens, releases them again (the schedulers, at once).
 */
async function twoPhases(n: number, env: Record<string, string>): Promise<ChildResult[]> {
  const children = Array.from({ length: n }, () => spawnTsx(CHILD, [], env));
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.write("go\n");
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            const seen = () => /"outbound"/.test(c.stdout());
            if (seen()) return resolve();
            c.child.stdout.on("data", () => {
              if (seen()) resolve();
            });
            void c.exited.then(() => reject(new Error(`child exited early: ${c.stderr()}`)));
          }),
      ),
    );
    for (const c of children) c.child.stdin.write("go\n");
    const codes = await Promise.all(children.map((c) => c.exited));
    return children.map((c, k) => {
      if (codes[k] !== 0) throw new Error(`child ${k} exited ${codes[k]}: ${c.stderr()}`);
      return JSON.parse(c.stdout().trim().split("\n").at(-1) ?? "") as ChildResult;
    });
  } finally {
    for (const c of children) if (c.child.exitCode === null) c.child.kill();
  }
}

/** A scheduler pass as the child reports it. */
interface PassResult {
  due: number;
  refreshed: number;
  failed: number;
  error: unknown;
  statuses: string[];
}

interface ChildResult {
  outbound: { ok: boolean; token?: string; refreshed?: boolean; code?: string }[];
  pass: PassResult;
}

function upkeepTests(backend: Backend): void {
  it("3 processes, no traffic: getWorkspaceToken and the scheduler refresh each token exactly once, every caller gets the new valid token", async () => {
    const n = 6;
    const { emu, store, env } = await setup(backend, n);
    const before = await Promise.all(
      Array.from({ length: n }, (_, k) => store.findInstallation({ teamId: teamOf(k + 1), userId: userOf(k + 1, 1) })),
    );
    // Nothing is due at first.
    expect(await store.listExpiringTokens(emu.advanceClock(0) / 1000 + 7200)).toStrictEqual([]);
    emu.advanceClock(11 * 3600);
    expect(await store.listExpiringTokens(emu.advanceClock(0) / 1000 + 7200)).toHaveLength(2 * n);
    const queries = [{ teamId: teamOf(1) }, { teamId: teamOf(1), userId: userOf(1, 1) }];
    const results = await twoPhases(3, { ...env, UPKEEP_QUERIES: JSON.stringify(queries) });

    // One refresh per token family, whoever did it: the outbound calls or a scheduler, in any process.
    expect(refreshCalls(emu)).toEqual({ total: 2 * n, ok: 2 * n, bot: n, user: n, failed: 0 });
    // getWorkspaceToken: all three processes got the same new, valid token; one of them refreshed it.
    for (const [q, old] of [
      [0, before[0]?.botToken],
      [1, before[0]?.userToken],
    ] as const) {
      const got = results.map((r) => r.outbound[q]!);
      expect(
        got.every((r) => r.ok),
        JSON.stringify(got),
      ).toBe(true);
      expect(new Set(got.map((r) => r.token)).size).toBe(1);
      expect(got.filter((r) => r.refreshed)).toHaveLength(1);
      expect(got[0]?.token).not.toBe(old);
      expect((await api(emu, "auth.test", {}, { token: got[0]!.token! })).body.ok).toBe(true);
    }
    // The schedulers refreshed the rest, once each: what a process did not refresh, another had.
    const passes = results.map((r) => r.pass);
    expect(passes.reduce((a, p) => a + p.refreshed, 0)).toBe(2 * n - 2);
    for (const p of passes) {
      expect(p.failed, JSON.stringify(p)).toBe(0);
      expect(p.error).toBeNull();
      for (const s of p.statuses) expect(["refreshed", "refreshed_elsewhere", "not_needed"]).toContain(s);
    }
    for (let k = 0; k < n; k++) {
      const now = await store.findInstallation({ teamId: teamOf(k + 1), userId: userOf(k + 1, 1) });
      expect(now?.botToken).not.toBe(before[k]?.botToken);
      expect(now?.userToken).not.toBe(before[k]?.userToken);
      expect((await api(emu, "auth.test", {}, { token: now!.botToken! })).body.ok).toBe(true);
      expect((await api(emu, "auth.test", {}, { token: now!.userToken! })).body.ok).toBe(true);
    }
    // Nothing is due any more; the tokens the schedulers refreshed are recorded ok.
    expect(await store.listExpiringTokens(emu.advanceClock(0) / 1000 + 7200)).toStrictEqual([]);
    expect((await store.listHealth()).filter((h) => h.health.status === "ok")).toHaveLength(2 * n - 2);
  }, 60_000);
}

describe("sqlite: refresh without traffic across processes", () => {
  upkeepTests("sqlite");
});

const postgresRedis = await probeBackend("PostgreSQL + Redis", SERVER_URLS.postgres, async () => {
  await pingPostgres(SERVER_URLS.postgres);
  await pingRedis(SERVER_URLS.redis);
});

describeBackend(postgresRedis, () => {
  describe("postgres + redis: refresh without traffic across processes", () => {
    upkeepTests("postgres+redis");
  });
});
