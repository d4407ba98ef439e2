// Needs Redis at REDIS_URL (default redis://127.0.0.1:6379). Unreachable: skipped with a warning, or a
// failure under CI=true.
import { randomBytes, randomUUID } from "node:crypto";
import { createConnection } from "node:net";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, ErrorCode, LockTimeoutError } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import { generateState } from "../../src/state/state.js";
import { CachingInstallationStore } from "../../src/stores/cache.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import {
  createRedisCachingStore,
  parseInvalidationMessage,
  type RedisClientLike,
  RedisInvalidationBus,
  RedisLock,
  RedisStateStore,
  withRedisLock,
} from "../../src/stores/redis.js";
import { testInstallationStore, testStateStore } from "../../src/testing/index.js";
import { runner } from "../conformance/runner.js";

const CONSUME_CHILD = join(import.meta.dirname, "fixtures", "redis-consume-state.ts");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PREFIX = `sok-test-${randomBytes(6).toString("hex")}:`;

/** True when a TCP connection to Redis opens within a second. */
async function redisReachable(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

const reachable = await redisReachable(REDIS_URL);
const inCi = process.env.CI === "true";
if (!reachable && !inCi) console.warn(`Redis not reachable at ${REDIS_URL}: skipping the Redis store tests`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function install(teamId: string, userId: string): Installation {
  return {
    teamId,
    userId,
    botToken: `xoxb-test-${randomUUID()}`,
    botId: `B${randomBytes(4).toString("hex").toUpperCase()}`,
    botUserId: `U${randomBytes(4).toString("hex").toUpperCase()}`,
    botScopes: ["chat:write"],
    userScopes: [],
    isEnterpriseInstall: false,
    installedAt: 1732520000.5,
    customValues: {},
  };
}

async function pollUntil(cond: () => Promise<boolean> | boolean, timeoutMs = 3_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(20);
  }
  return cond();
}

describe.skipIf(!reachable && !inCi)("Redis stores", () => {
  let admin: Redis;
  const clients: Redis[] = [];
  const newClient = () => {
    const c = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(c);
    return c;
  };

  beforeAll(() => {
    if (!reachable) throw new Error(`Redis is not reachable at ${REDIS_URL} (CI=true: the Redis tests must run)`);
    admin = newClient();
  });

  afterAll(async () => {
    if (admin) {
      let cursor = "0";
      do {
        const [next, keys] = await admin.scan(cursor, "MATCH", `${PREFIX}*`, "COUNT", 500);
        cursor = next;
        if (keys.length > 0) await admin.del(...keys);
      } while (cursor !== "0");
      const [, left] = await admin.scan("0", "MATCH", `${PREFIX}*`, "COUNT", 10_000);
      expect(left).toStrictEqual([]);
    }
    await Promise.all(clients.map((c) => c.quit().catch(() => {})));
  });

  testStateStore(
    runner,
    "redis",
    async () => {
      const store = new RedisStateStore({ url: REDIS_URL, keyPrefix: PREFIX });
      return { store, cleanup: () => store.close() };
    },
    {
      multiProcess: {
        command: process.execPath,
        args: (states) => ["--import", "tsx", CONSUME_CHILD, REDIS_URL, PREFIX, ...states],
        processes: 4,
      },
      ttlStore: async (ttlSeconds) => {
        const store = new RedisStateStore({ url: REDIS_URL, keyPrefix: PREFIX, ttlSeconds });
        return { store, cleanup: () => store.close() };
      },
      // Keys carry the app: B's store never finds A's states.
      appStores: async () => {
        const a = new RedisStateStore({ url: REDIS_URL, keyPrefix: PREFIX, clientId: "1111111111.1111111111" });
        const b = new RedisStateStore({ url: REDIS_URL, keyPrefix: PREFIX, clientId: "2222222222.2222222222" });
        return { a, b, cleanup: async () => void (await Promise.all([a.close(), b.close()])) };
      },
    },
  );

  testInstallationStore(
    runner,
    "Redis lock + Redis-invalidated cache over memory",
    async () => {
      const lock = new RedisLock({ url: REDIS_URL, keyPrefix: PREFIX });
      const store = createRedisCachingStore(withRedisLock(new MemoryInstallationStore(), lock), {
        url: REDIS_URL,
        keyPrefix: PREFIX,
      });
      return { store, cleanup: async () => void (await Promise.all([store.close(), lock.close()])) };
    },
    {
      // Each app's store behind the one shared lock and its own cache on the one bus channel.
      makeAppStores: async () => {
        const root = new MemoryInstallationStore();
        const lock = new RedisLock({ url: REDIS_URL, keyPrefix: PREFIX });
        const wrap = (inner: MemoryInstallationStore) =>
          createRedisCachingStore(withRedisLock(inner, lock), { url: REDIS_URL, keyPrefix: PREFIX });
        const a = wrap(root.forApp("1111111111.1111111111"));
        const b = wrap(root.forApp("2222222222.2222222222"));
        const defaultApp = wrap(root);
        return {
          a,
          b,
          defaultApp,
          cleanup: async () => {
            await Promise.all([a.close(), b.close(), defaultApp.close()]);
            await lock.close();
          },
        };
      },
    },
  );

  describe("RedisStateStore specifics", () => {
    it("accepts an ioredis client (not closed by close())", async () => {
      const client: RedisClientLike = newClient();
      const store = new RedisStateStore({ client, keyPrefix: PREFIX });
      const s = await store.issue({ a: 1 });
      await store.close();
      expect(await new RedisStateStore({ client, keyPrefix: PREFIX }).consume(s)).toStrictEqual({ a: 1 });
    });

    it("stores the state under the prefix with a PX expiry", async () => {
      const store = new RedisStateStore({ client: newClient(), keyPrefix: PREFIX, ttlSeconds: 30 });
      const s = await store.issue();
      const pttl = await admin.pttl(`${PREFIX}state:${s}`);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(60_000);
    });

    it("two clients consuming one state at once: exactly one wins", async () => {
      const a = new RedisStateStore({ client: newClient(), keyPrefix: PREFIX });
      const b = new RedisStateStore({ client: newClient(), keyPrefix: PREFIX });
      for (let round = 0; round < 20; round++) {
        const data = { round, nonce: randomUUID() };
        const s = await a.issue(data);
        const results = await Promise.all([a.consumeDetailed(s), b.consumeDetailed(s), a.consume(s), b.consume(s)]);
        const winners = results.filter((r) => r !== undefined && (!("ok" in r) || r.ok));
        expect(winners, `round ${round}`).toHaveLength(1);
      }
    });

    it("consumeDetailed tells malformed, unknown, used and expired apart", async () => {
      const store = new RedisStateStore({ client: newClient(), keyPrefix: PREFIX, ttlSeconds: 1 });
      const a = await store.issue({ a: 1 });
      const b = await store.issue();
      expect(await store.consumeDetailed("nope")).toStrictEqual({ ok: false, reason: "malformed" });
      expect(await store.consumeDetailed(generateState())).toStrictEqual({ ok: false, reason: "unknown" });
      expect(await store.consumeDetailed(a)).toStrictEqual({ ok: true, data: { a: 1 } });
      expect(await store.consumeDetailed(a)).toStrictEqual({ ok: false, reason: "used" });
      await sleep(1_100);
      expect(await store.consumeDetailed(b)).toStrictEqual({ ok: false, reason: "expired" });
      expect(await store.consumeDetailed(b)).toStrictEqual({ ok: false, reason: "expired" });
    });

    it("rejects malformed states without calling Redis", async () => {
      let calls = 0;
      const client: RedisClientLike = {
        eval: async () => {
          calls++;
          return ["unknown"];
        },
        publish: async () => 0,
        quit: async () => "OK",
      };
      const store = new RedisStateStore({ client, keyPrefix: PREFIX });
      for (const bad of ["", "x", "../".repeat(15), `${"A".repeat(42)}*`, "A".repeat(44)]) {
        expect(await store.consumeDetailed(bad)).toStrictEqual({ ok: false, reason: "malformed" });
      }
      expect(calls).toBe(0);
    });

    it("bad options are a ConfigError; a Redis failure is a StoreError", async () => {
      expect(() => new RedisStateStore({ ttlSeconds: 0 })).toThrow(ConfigError);
      expect(() => new RedisStateStore({ url: "http://x" })).toThrow(ConfigError);
      expect(() => new RedisStateStore({ keyPrefix: "has space" })).toThrow(ConfigError);
      const client: RedisClientLike = {
        eval: async () => {
          throw new Error("connection refused");
        },
        publish: async () => 0,
        quit: async () => "OK",
      };
      await expect(new RedisStateStore({ client }).issue()).rejects.toMatchObject({ code: ErrorCode.Store });
    });
  });

  describe("RedisInvalidationBus (invalidation bus)", () => {
    it("a save through A drops B's cached entry", async () => {
      const shared = new MemoryInstallationStore();
      const busA = new RedisInvalidationBus({ client: newClient(), keyPrefix: PREFIX });
      const busB = new RedisInvalidationBus({ client: newClient(), keyPrefix: PREFIX });
      const a = new CachingInstallationStore(shared, { invalidation: busA });
      const b = new CachingInstallationStore(shared, { invalidation: busB });
      try {
        await Promise.all([busA.ready(), busB.ready()]);
        const teamId = `T${randomBytes(4).toString("hex").toUpperCase()}`;
        const first = install(teamId, "U1");
        await a.save(first);
        expect((await b.findBot({ teamId }))?.botToken).toBe(first.botToken);
        expect(b.size).toBeGreaterThan(0);
        const second = install(teamId, "U1");
        await a.save(second);
        expect(await pollUntil(() => b.size === 0)).toBe(true);
        expect((await b.findBot({ teamId }))?.botToken).toBe(second.botToken);
      } finally {
        await Promise.all([a.close(), b.close(), busA.close(), busB.close()]);
      }
    });

    it("skips its own messages and ignores malformed ones", async () => {
      const bus = new RedisInvalidationBus({ url: REDIS_URL, keyPrefix: PREFIX });
      const other = new RedisInvalidationBus({ url: REDIS_URL, keyPrefix: PREFIX });
      const seen: unknown[] = [];
      // Resolves with the first message a listener gets: Redis delivers one channel's messages in the order
      // it ran the PUBLISH commands, so once a later message arrived, every earlier one was delivered.
      const next = () => {
        let got!: (m: unknown) => void;
        const arrived = new Promise<unknown>((r) => {
          got = r;
        });
        return { arrived, got };
      };
      const first = next();
      const unsubscribe = bus.subscribe((m) => {
        seen.push(m);
        first.got(m);
      });
      try {
        await bus.ready();
        await bus.publish({ teamId: "TSELF" });
        for (const raw of ["not json", "[1]", '{"teamId":"../x"}', '{"teamId":5}', '{"instanceId":7}', "null"])
          await admin.publish(bus.channel, raw);
        await other.publish({ enterpriseId: "E1", teamId: "T1" });
        await first.arrived; // published after the rest: its own and the malformed ones were dropped already
        expect(seen).toStrictEqual([{ enterpriseId: "E1", teamId: "T1" }]);
        const probe = next();
        const stopProbe = bus.subscribe((m) => probe.got(m));
        unsubscribe();
        await other.publish({ teamId: "T2" });
        expect(await probe.arrived).toStrictEqual({ teamId: "T2" }); // delivered, but not to the first listener
        stopProbe();
        expect(seen).toHaveLength(1);
      } finally {
        await Promise.all([bus.close(), other.close()]);
      }
    });

    it("createRedisCachingStore invalidates across instances and closes its bus", async () => {
      const shared = new MemoryInstallationStore();
      const a = createRedisCachingStore(shared, { url: REDIS_URL, keyPrefix: PREFIX, ttlMs: 60_000 });
      const b = createRedisCachingStore(shared, { client: newClient(), keyPrefix: PREFIX });
      try {
        await Promise.all([a.bus.ready(), b.bus.ready()]);
        const teamId = `T${randomBytes(4).toString("hex").toUpperCase()}`;
        await a.save(install(teamId, "U1"));
        await b.findBot({ teamId });
        await a.deleteAll({ teamId });
        expect(await pollUntil(() => b.size === 0)).toBe(true);
        expect(await b.findBot({ teamId })).toBeUndefined();
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it("parseInvalidationMessage validates", () => {
      expect(parseInvalidationMessage('{"teamId":"T1","instanceId":"x"}')).toStrictEqual({
        message: { teamId: "T1" },
        instanceId: "x",
      });
      expect(parseInvalidationMessage("{}")).toStrictEqual({ message: {}, instanceId: undefined });
      expect(parseInvalidationMessage('{"teamId":"T1","clientId":"111.222"}')?.message).toStrictEqual({
        teamId: "T1",
        clientId: "111.222",
      });
      for (const bad of [42, "x", "[]", '{"enterpriseId":"a b"}', '{"clientId":"../x"}', "x".repeat(2000)])
        expect(parseInvalidationMessage(bad)).toBeUndefined();
    });
  });

  describe("RedisLock", () => {
    it("two clients serialise on one key", async () => {
      const l1 = new RedisLock({ client: newClient(), keyPrefix: PREFIX });
      const l2 = new RedisLock({ client: newClient(), keyPrefix: PREFIX });
      const key = `rotation/T${randomBytes(4).toString("hex")}/bot`;
      let inside = 0;
      let maxInside = 0;
      const order: string[] = [];
      const run = (lock: RedisLock, name: string) =>
        lock.withLock(
          key,
          async () => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            order.push(`${name}+`);
            await sleep(30);
            order.push(`${name}-`);
            inside--;
            return name;
          },
          { timeoutMs: 5_000, leaseMs: 5_000 },
        );
      const results = await Promise.all([run(l1, "a"), run(l2, "b"), run(l1, "c"), run(l2, "d")]);
      expect(results).toStrictEqual(["a", "b", "c", "d"]);
      expect(maxInside).toBe(1);
      expect(order).toHaveLength(8);
      expect(await admin.exists(`${PREFIX}lock:${key}`)).toBe(0);
    });

    it("times out with LockTimeoutError; fn's error passes through and releases", async () => {
      const l1 = new RedisLock({ client: newClient(), keyPrefix: PREFIX });
      const l2 = new RedisLock({ client: newClient(), keyPrefix: PREFIX });
      const key = `k-${randomUUID()}`;
      let release!: () => void;
      const held = l1.withLock(key, () => new Promise<void>((r) => (release = r)), { leaseMs: 10_000 });
      await pollUntil(async () => (await admin.exists(`${PREFIX}lock:${key}`)) === 1);
      const err = await l2.withLock(key, async () => "never", { timeoutMs: 150 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockTimeoutError);
      expect((err as LockTimeoutError).key).toBe(key);
      release();
      await held;
      await expect(
        l2.withLock(key, async () => {
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect(await l1.withLock(key, async () => 7, { timeoutMs: 500 })).toBe(7);
      await expect(l1.withLock("has space", async () => 1)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    });

    it("lease expiry lets a second holder in; the late first holder cannot release it", async () => {
      const l1 = new RedisLock({ client: newClient(), keyPrefix: PREFIX });
      const l2 = new RedisLock({ client: newClient(), keyPrefix: PREFIX });
      const key = `k-${randomUUID()}`;
      let secondIn = false;
      let firstIn!: () => void;
      const firstHolds = new Promise<void>((r) => {
        firstIn = r;
      });
      const first = l1.withLock(
        key,
        async () => {
          firstIn();
          await sleep(600); // outlives its 200 ms lease
        },
        { leaseMs: 200 },
      );
      await firstHolds; // the first holder is inside
      const t0 = Date.now();
      let enteredAfter = Number.POSITIVE_INFINITY;
      await l2.withLock(
        key,
        async () => {
          secondIn = true;
          enteredAfter = Date.now() - t0;
          await first; // the first holder "releases" while we hold the lock: it must not delete ours
          expect(await admin.exists(`${PREFIX}lock:${key}`)).toBe(1);
        },
        { timeoutMs: 3_000, leaseMs: 5_000 },
      );
      expect(secondIn).toBe(true);
      expect(enteredAfter).toBeLessThan(600); // let in by the lease's expiry, not by the first holder finishing
    });

    it("withRedisLock: the store's withLock goes through Redis, the rest passes through", async () => {
      const inner = new MemoryInstallationStore();
      const lock = new RedisLock({ client: newClient(), keyPrefix: PREFIX });
      const store = withRedisLock(inner, lock);
      const teamId = `T${randomBytes(4).toString("hex").toUpperCase()}`;
      const i = install(teamId, "U1");
      await store.save(i);
      expect((await store.findBot({ teamId }))?.botToken).toBe(i.botToken);
      expect(typeof store.updateTokens).toBe("function");
      expect(typeof store.listWorkspaces).toBe("function");
      const key = `rotation/${teamId}/bot`;
      const seen = await store.withLock(key, async () => admin.exists(`${PREFIX}lock:${key}`));
      expect(seen).toBe(1);
      expect(await store.updateTokens?.({ teamId }, { botToken: `xoxb-test-${randomUUID()}` })).toBe(true);
      await store.close();
    });
  });
});

describe("Redis stores without a server", () => {
  it("an unreachable Redis is a StoreError (reported through onError), and close() still resolves", async () => {
    const errors: unknown[] = [];
    const url = "redis://127.0.0.1:1";
    const states = new RedisStateStore({ url, onError: (e) => errors.push(e) });
    await expect(states.issue()).rejects.toMatchObject({ code: ErrorCode.Store });
    expect(errors.length).toBeGreaterThan(0);
    await states.close();
    await expect(states.issue()).rejects.toMatchObject({ code: ErrorCode.Store });
    const lock = new RedisLock({ url, onError: () => {} });
    await expect(lock.withLock("k", async () => 1, { timeoutMs: 50 })).rejects.toMatchObject({
      code: ErrorCode.Store,
    });
    await lock.close();
    const bus = new RedisInvalidationBus({ url, onError: () => {} });
    const store = new CachingInstallationStore(new MemoryInstallationStore(), { invalidation: bus });
    await store.save(install("TDOWN", "U1")); // the write succeeds; the failed publish is only reported
    await expect(bus.ready()).rejects.toMatchObject({ code: ErrorCode.Store });
    await bus.close();
  });
});
