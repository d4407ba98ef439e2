import { randomBytes, randomUUID } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Bot, Installation } from "../../src/model/installation.js";
import {
  CachingInstallationStore,
  type InvalidationBus,
  type InvalidationMessage,
  LocalInvalidationBus,
  LruTtlCache,
} from "../../src/stores/cache.js";
import type { BotQuery, InstallationQuery } from "../../src/stores/installation-store.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { testInstallationStore } from "../../src/testing/index.js";
import { runner } from "../conformance/runner.js";

// The cache must be a drop-in InstallationStore: the shared suite, unchanged.
testInstallationStore(runner, "CachingInstallationStore(memory)", async () => ({
  store: new CachingInstallationStore(new MemoryInstallationStore()),
}));

const id = (prefix: string) => `${prefix}${randomBytes(5).toString("hex").toUpperCase()}`;

function inst(o: Partial<Installation> = {}): Installation {
  return {
    teamId: id("T"),
    userId: id("U"),
    botToken: `xoxb-test-${randomUUID()}`,
    botId: id("B"),
    botUserId: id("U"),
    botScopes: ["chat:write"],
    userToken: `xoxp-test-${randomUUID()}`,
    userScopes: ["identify"],
    isEnterpriseInstall: false,
    installedAt: 1732520000.5,
    customValues: { plan: "pro", nested: { seats: 3 } },
    ...o,
  };
}

function orgInst(enterpriseId: string, o: Partial<Installation> = {}): Installation {
  const { teamId: _none, ...rest } = inst({ enterpriseId, isEnterpriseInstall: true, userId: id("W"), ...o });
  return rest;
}

/** A memory store that counts lookups and can hold them until released. */
class SpyStore extends MemoryInstallationStore {
  findBotCalls = 0;
  findInstallationCalls = 0;
  /** When set, the next lookups read now but answer only when the gate opens. */
  gate: Promise<void> | undefined;
  #arrived: (() => void) | undefined;
  /** Resolves when a lookup has read the store and waits at the gate. */
  reachedGate(): Promise<void> {
    return new Promise<void>((r) => {
      this.#arrived = r;
    });
  }
  async #wait(): Promise<void> {
    const gate = this.gate;
    if (gate === undefined) return;
    this.#arrived?.();
    this.#arrived = undefined;
    await gate;
  }
  override async findBot(q: BotQuery): Promise<Bot | undefined> {
    this.findBotCalls++;
    const result = await super.findBot(q);
    await this.#wait();
    return result;
  }
  override async findInstallation(q: InstallationQuery): Promise<Installation | undefined> {
    this.findInstallationCalls++;
    const result = await super.findInstallation(q);
    await this.#wait();
    return result;
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("CachingInstallationStore: hits and misses", () => {
  it("a hit is served without asking the store (bot, a user's installation, the latest installation)", async () => {
    const inner = new SpyStore();
    const cache = new CachingInstallationStore(inner);
    const i = inst();
    await cache.save(i);
    const q = { teamId: i.teamId };
    expect((await cache.findBot(q))?.botToken).toBe(i.botToken);
    expect((await cache.findBot(q))?.botToken).toBe(i.botToken);
    expect((await cache.findBot({ ...q, isEnterpriseInstall: false }))?.botToken).toBe(i.botToken);
    expect(inner.findBotCalls).toBe(1);
    await cache.findInstallation({ ...q, userId: i.userId });
    await cache.findInstallation({ ...q, userId: i.userId });
    await cache.findInstallation(q);
    await cache.findInstallation(q);
    expect(inner.findInstallationCalls).toBe(2);
  });

  it("misses are not cached: a new install is visible at once", async () => {
    const inner = new SpyStore();
    const cache = new CachingInstallationStore(inner);
    const i = inst();
    expect(await cache.findBot({ teamId: i.teamId })).toBeUndefined();
    expect(await cache.findBot({ teamId: i.teamId })).toBeUndefined();
    expect(inner.findBotCalls).toBe(2);
    await inner.save(i); // behind the cache's back, as another instance without a bus would
    expect((await cache.findBot({ teamId: i.teamId }))?.botToken).toBe(i.botToken);
  });

  it("a user without an installation of their own is remembered for missTtlMs, and forgotten on a write", async () => {
    let now = 0;
    const inner = new SpyStore();
    const cache = new CachingInstallationStore(inner, { missTtlMs: 1_000, nowMs: () => now });
    const i = inst();
    await cache.save(i);
    const stranger = { teamId: i.teamId as string, userId: id("U") };
    expect(await cache.findInstallation(stranger)).toBeUndefined();
    expect(await cache.findInstallation(stranger)).toBeUndefined();
    expect(inner.findInstallationCalls).toBe(1);
    now += 1_000;
    expect(await cache.findInstallation(stranger)).toBeUndefined();
    expect(inner.findInstallationCalls).toBe(2);
    // The stranger installs with user scopes: visible at once.
    const theirs = inst(stranger);
    await cache.save(theirs);
    expect((await cache.findInstallation(stranger))?.userToken).toBe(theirs.userToken);
  });

  it("missTtlMs: 0 turns the miss cache off; nonsense is refused", async () => {
    const inner = new SpyStore();
    const cache = new CachingInstallationStore(inner, { missTtlMs: 0 });
    const q = { teamId: id("T"), userId: id("U") };
    await cache.findInstallation(q);
    await cache.findInstallation(q);
    expect(inner.findInstallationCalls).toBe(2);
    expect(() => new CachingInstallationStore(inner, { missTtlMs: -1 })).toThrow(TypeError);
  });

  it("users whose ids share a prefix get their own entries", async () => {
    const cache = new CachingInstallationStore(new MemoryInstallationStore());
    const teamId = id("T");
    const a = inst({ teamId, userId: "U0123" });
    const b = inst({ teamId, userId: "U01234" });
    await cache.save(a);
    await cache.save(b);
    expect((await cache.findInstallation({ teamId, userId: "U0123" }))?.userToken).toBe(a.userToken);
    expect((await cache.findInstallation({ teamId, userId: "U01234" }))?.userToken).toBe(b.userToken);
  });

  it("entries expire after ttlMs (injected clock)", async () => {
    let now = 1_000_000;
    const inner = new SpyStore();
    const cache = new CachingInstallationStore(inner, { ttlMs: 10_000, nowMs: () => now });
    const i = inst();
    await cache.save(i);
    await cache.findBot({ teamId: i.teamId });
    now += 9_999;
    await cache.findBot({ teamId: i.teamId });
    expect(inner.findBotCalls).toBe(1);
    now += 1;
    await cache.findBot({ teamId: i.teamId });
    expect(inner.findBotCalls).toBe(2);
  });

  it("evicts the least recently used entry past maxEntries", async () => {
    const inner = new SpyStore();
    const cache = new CachingInstallationStore(inner, { maxEntries: 2 });
    const [a, b, c] = [inst(), inst(), inst()];
    for (const i of [a, b, c]) await inner.save(i);
    const find = (i: Installation) => cache.findBot({ teamId: i.teamId });
    await find(a);
    await find(b);
    await find(a); // a is now the most recently used
    expect(inner.findBotCalls).toBe(2);
    await find(c); // evicts b
    expect(cache.size).toBe(2);
    await find(a);
    expect(inner.findBotCalls).toBe(3);
    await find(b);
    expect(inner.findBotCalls).toBe(4);
  });

  it("returns copies: changing a returned object changes neither the cache nor the next answer", async () => {
    const cache = new CachingInstallationStore(new MemoryInstallationStore());
    const i = inst();
    await cache.save(i);
    for (let round = 0; round < 2; round++) {
      const bot = await cache.findBot({ teamId: i.teamId });
      const found = await cache.findInstallation({ teamId: i.teamId, userId: i.userId });
      if (!bot || !found) throw new Error("expected hits");
      bot.botToken = "xoxb-mutated";
      bot.botScopes.push("admin");
      (bot.customValues.nested as { seats: number }).seats = 999;
      found.userScopes.push("admin");
      found.customValues.plan = "free";
    }
    const bot = await cache.findBot({ teamId: i.teamId });
    const found = await cache.findInstallation({ teamId: i.teamId, userId: i.userId });
    expect(bot?.botToken).toBe(i.botToken);
    expect(bot?.botScopes).toEqual(["chat:write"]);
    expect(bot?.customValues).toEqual({ plan: "pro", nested: { seats: 3 } });
    expect(found?.userScopes).toEqual(["identify"]);
    expect(found?.customValues.plan).toBe("pro");
  });
});

describe("CachingInstallationStore: invalidation on writes", () => {
  async function warmed(installation: Installation, query: BotQuery) {
    const inner = new SpyStore();
    const cache = new CachingInstallationStore(inner);
    await cache.save(installation);
    expect(await cache.findBot(query)).toBeDefined();
    expect(await cache.findInstallation({ ...query, userId: installation.userId })).toBeDefined();
    expect(await cache.findInstallation(query)).toBeDefined();
    return { inner, cache };
  }

  it("save of a workspace: the new bot token is served at once", async () => {
    const first = inst({ enterpriseId: id("E") });
    const q = { enterpriseId: first.enterpriseId, teamId: first.teamId };
    const { cache } = await warmed(first, q);
    const second = inst({ ...q, userId: first.userId } as Partial<Installation>);
    await cache.save(second);
    expect((await cache.findBot(q))?.botToken).toBe(second.botToken);
    expect((await cache.findInstallation({ ...q, userId: first.userId }))?.userToken).toBe(second.userToken);
    expect((await cache.findInstallation(q))?.userToken).toBe(second.userToken);
  });

  it("deleteBot drops the cached bot (installations stay)", async () => {
    const i = inst();
    const { cache } = await warmed(i, { teamId: i.teamId });
    await cache.deleteBot({ teamId: i.teamId });
    expect(await cache.findBot({ teamId: i.teamId })).toBeUndefined();
    expect((await cache.findInstallation({ teamId: i.teamId, userId: i.userId }))?.userToken).toBe(i.userToken);
  });

  it("deleteInstallation of a user drops that user's cached installation", async () => {
    const i = inst();
    const { cache } = await warmed(i, { teamId: i.teamId });
    await cache.deleteInstallation({ teamId: i.teamId, userId: i.userId });
    expect(await cache.findInstallation({ teamId: i.teamId, userId: i.userId })).toBeUndefined();
    expect(await cache.findInstallation({ teamId: i.teamId })).toBeUndefined();
  });

  it("deleteAll of a Grid workspace drops everything cached for it, with or without its enterprise id", async () => {
    const i = inst({ enterpriseId: id("E") });
    const q = { enterpriseId: i.enterpriseId, teamId: i.teamId };
    const { cache } = await warmed(i, q);
    await cache.deleteAll(q);
    expect(await cache.findBot(q)).toBeUndefined();
    expect(await cache.findInstallation(q)).toBeUndefined();
    expect(await cache.findInstallation({ ...q, userId: i.userId })).toBeUndefined();
  });

  it("org-wide installs: save, deleteBot, deleteInstallation and deleteAll by the org drop the org's entries", async () => {
    const enterpriseId = id("E");
    const first = orgInst(enterpriseId);
    const anyTeam = { enterpriseId, teamId: id("T"), isEnterpriseInstall: true };
    const { cache } = await warmed(first, anyTeam);
    // A lookup without team (every store reads it as the org) is cached and dropped as well.
    expect((await cache.findBot({ enterpriseId }))?.botToken).toBe(first.botToken);

    const second = orgInst(enterpriseId, { userId: first.userId });
    await cache.save(second);
    expect((await cache.findBot(anyTeam))?.botToken).toBe(second.botToken);
    expect((await cache.findBot({ enterpriseId }))?.botToken).toBe(second.botToken);

    await cache.deleteInstallation({ enterpriseId, userId: first.userId });
    expect(await cache.findInstallation({ ...anyTeam, userId: first.userId })).toBeUndefined();

    await cache.deleteBot({ enterpriseId });
    expect(await cache.findBot(anyTeam)).toBeUndefined();

    await cache.save(orgInst(enterpriseId));
    expect(await cache.findBot({ ...anyTeam, teamId: id("T") })).toBeDefined();
    expect(await cache.findBot({ enterpriseId })).toBeDefined();
    await cache.deleteAll({ enterpriseId });
    expect(await cache.findBot(anyTeam)).toBeUndefined();
    expect(await cache.findBot({ enterpriseId })).toBeUndefined();
    expect(await cache.findInstallation(anyTeam)).toBeUndefined();
  });

  it("a write drops only its own workspace", async () => {
    const inner = new SpyStore();
    const cache = new CachingInstallationStore(inner);
    const [a, b] = [inst(), inst()];
    await cache.save(a);
    await cache.save(b);
    await cache.findBot({ teamId: a.teamId });
    await cache.findBot({ teamId: b.teamId });
    await cache.deleteAll({ teamId: a.teamId });
    await cache.findBot({ teamId: b.teamId });
    expect(inner.findBotCalls).toBe(2);
  });

  it("invalidate() drops entries after a write behind the cache's back", async () => {
    const inner = new SpyStore();
    const cache = new CachingInstallationStore(inner);
    const i = inst();
    await cache.save(i);
    await cache.findBot({ teamId: i.teamId });
    await inner.deleteAll({ teamId: i.teamId });
    expect(await cache.findBot({ teamId: i.teamId })).toBeDefined(); // stale until told
    await cache.invalidate({ teamId: i.teamId });
    expect(await cache.findBot({ teamId: i.teamId })).toBeUndefined();
  });
});

describe("CachingInstallationStore: across instances", () => {
  it("two caches over one store: a write through one drops the other's entries through the bus", async () => {
    const shared = new MemoryInstallationStore();
    const bus = new LocalInvalidationBus();
    const a = new CachingInstallationStore(shared, { invalidation: bus });
    const b = new CachingInstallationStore(shared, { invalidation: bus });
    const i = inst({ enterpriseId: id("E") });
    const q = { enterpriseId: i.enterpriseId, teamId: i.teamId };
    await a.save(i);
    expect((await b.findBot(q))?.botToken).toBe(i.botToken);
    const rotated = inst({ ...q, userId: i.userId } as Partial<Installation>);
    await a.save(rotated);
    expect((await b.findBot(q))?.botToken).toBe(rotated.botToken);
    await a.deleteAll(q);
    expect(await b.findBot(q)).toBeUndefined();
    expect(await b.findInstallation({ ...q, userId: i.userId })).toBeUndefined();
  });

  it("without a bus the other instance serves its entry until the TTL (what the bus is for)", async () => {
    const shared = new MemoryInstallationStore();
    const a = new CachingInstallationStore(shared);
    const b = new CachingInstallationStore(shared);
    const i = inst();
    await a.save(i);
    await b.findBot({ teamId: i.teamId });
    await a.deleteAll({ teamId: i.teamId });
    expect(await b.findBot({ teamId: i.teamId })).toBeDefined();
  });

  it("a failing bus does not fail the write; the local cache is still dropped and the error reported", async () => {
    const errors: unknown[] = [];
    const broken: InvalidationBus = {
      publish: async () => {
        throw new Error("redis down");
      },
      subscribe: () => () => {},
    };
    const cache = new CachingInstallationStore(new MemoryInstallationStore(), {
      invalidation: broken,
      onInvalidationError: (e) => errors.push(e),
    });
    const i = inst();
    await cache.save(i);
    await cache.findBot({ teamId: i.teamId });
    await expect(cache.deleteAll({ teamId: i.teamId })).resolves.toBeUndefined();
    expect(await cache.findBot({ teamId: i.teamId })).toBeUndefined();
    expect(errors).toHaveLength(2);
  });

  it("a bus message naming nothing drops everything; close() unsubscribes", async () => {
    let handler: ((m: InvalidationMessage) => void) | undefined;
    let unsubscribed = false;
    const bus: InvalidationBus = {
      publish: async () => {},
      subscribe: (h) => {
        handler = h;
        return () => {
          unsubscribed = true;
        };
      },
    };
    const cache = new CachingInstallationStore(new MemoryInstallationStore(), { invalidation: bus });
    const [a, b] = [inst(), inst()];
    await cache.save(a);
    await cache.save(b);
    await cache.findBot({ teamId: a.teamId });
    await cache.findBot({ teamId: b.teamId });
    expect(cache.size).toBe(2);
    handler?.({});
    expect(cache.size).toBe(0);
    await cache.close();
    expect(unsubscribed).toBe(true);
  });
});

describe("CachingInstallationStore: lookups racing with writes", () => {
  it("a lookup that read before a delete and answers after it does not fill the cache", async () => {
    const inner = new SpyStore();
    const cache = new CachingInstallationStore(inner);
    const i = inst();
    await inner.save(i);
    const gate = deferred();
    inner.gate = gate.promise;
    const reached = inner.reachedGate();
    const slow = cache.findBot({ teamId: i.teamId }); // reads the bot, then waits
    await reached; // the lookup has read and waits at the gate
    inner.gate = undefined;
    await cache.deleteAll({ teamId: i.teamId }); // uninstalled while the lookup is in flight
    gate.resolve();
    expect((await slow)?.botToken).toBe(i.botToken); // that caller got what the store had then
    expect(await cache.findBot({ teamId: i.teamId })).toBeUndefined(); // but it was not cached
    expect(inner.findBotCalls).toBe(2);
  });

  it("a user lookup that missed before a save and answers after it does not remember the miss", async () => {
    const inner = new SpyStore();
    const cache = new CachingInstallationStore(inner);
    const q = { teamId: id("T"), userId: id("U") };
    const gate = deferred();
    inner.gate = gate.promise;
    const reached = inner.reachedGate();
    const slow = cache.findInstallation(q);
    await reached; // the lookup has read and waits at the gate
    inner.gate = undefined;
    const saved = inst(q);
    await cache.save(saved);
    gate.resolve();
    expect(await slow).toBeUndefined();
    expect((await cache.findInstallation(q))?.userToken).toBe(saved.userToken);
  });

  it("the same race on another instance, invalidated through the bus", async () => {
    const shared = new SpyStore();
    const bus = new LocalInvalidationBus();
    const writer = new CachingInstallationStore(shared, { invalidation: bus });
    const reader = new CachingInstallationStore(shared, { invalidation: bus });
    const old = inst();
    await writer.save(old);
    const gate = deferred();
    shared.gate = gate.promise;
    const reached = shared.reachedGate();
    const slow = reader.findInstallation({ teamId: old.teamId, userId: old.userId });
    await reached; // the lookup has read and waits at the gate
    shared.gate = undefined;
    const fresh = inst({ teamId: old.teamId as string, userId: old.userId });
    await writer.save(fresh);
    gate.resolve();
    expect((await slow)?.userToken).toBe(old.userToken);
    expect((await reader.findInstallation({ teamId: old.teamId, userId: old.userId }))?.userToken).toBe(
      fresh.userToken,
    );
  });
});

describe("LruTtlCache", () => {
  it("refuses nonsense options", () => {
    expect(() => new LruTtlCache({ maxEntries: 0 })).toThrow(TypeError);
    expect(() => new LruTtlCache({ maxEntries: 1.5 })).toThrow(TypeError);
    expect(() => new LruTtlCache({ ttlMs: 0 })).toThrow(TypeError);
    expect(() => new LruTtlCache({ ttlMs: Number.NaN })).toThrow(TypeError);
  });

  it("get/set/delete/deletePrefix with per-entry TTL", () => {
    let now = 0;
    const c = new LruTtlCache<number>({ maxEntries: 10, ttlMs: 100, nowMs: () => now });
    c.set("w:T1|a", 1);
    c.set("w:T1|b", 2, 10);
    c.set("w:T12|a", 3);
    expect(c.get("w:T1|b")).toBe(2);
    now = 10;
    expect(c.get("w:T1|b")).toBeUndefined();
    expect(c.deletePrefix("w:T1|")).toBe(1);
    expect(c.get("w:T12|a")).toBe(3);
    expect(c.delete("w:T12|a")).toBe(true);
    expect(c.size).toBe(0);
  });

  it("evicts the least recently used: an entry read again outlives those written after it", () => {
    const c = new LruTtlCache<number>({ maxEntries: 100 });
    for (let i = 0; i < 100; i++) c.set(`k${i}`, i);
    expect(c.get("k0")).toBe(0); // the oldest, read again: now among the newest
    for (let i = 100; i < 150; i++) c.set(`k${i}`, i);
    expect(c.get("k0")).toBe(0);
    for (let i = 1; i <= 50; i++) expect(c.get(`k${i}`)).toBeUndefined();
    expect(c.get("k51")).toBe(51);
    expect(c.size).toBe(100);
  });

  it("behaves like a plain list-based LRU with TTL under random operations (fast-check)", () => {
    type Op =
      | { op: "get" | "delete"; key: number }
      | { op: "set"; key: number; ttl: number }
      | { op: "prefix"; key: number }
      | { op: "tick"; ms: number }
      | { op: "clear" };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constantFrom("get" as const, "delete" as const), key: fc.integer({ min: 0, max: 12 }) }),
      fc.record({
        op: fc.constant("set" as const),
        key: fc.integer({ min: 0, max: 12 }),
        ttl: fc.integer({ min: 1, max: 50 }),
      }),
      fc.record({ op: fc.constant("prefix" as const), key: fc.integer({ min: 0, max: 1 }) }),
      fc.record({ op: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ op: fc.constant("clear" as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(opArb, { maxLength: 80 }), (max, ops) => {
        let now = 0;
        const cache = new LruTtlCache<number>({ maxEntries: max, ttlMs: 1000, nowMs: () => now });
        // The model: oldest first.
        let model: { key: string; value: number; expiresAt: number }[] = [];
        let n = 0;
        for (const o of ops) {
          if (o.op === "tick") now += o.ms;
          else if (o.op === "clear") {
            cache.clear();
            model = [];
          } else if (o.op === "prefix") {
            const prefix = `k${o.key}`;
            expect(cache.deletePrefix(prefix)).toBe(model.filter((e) => e.key.startsWith(prefix)).length);
            model = model.filter((e) => !e.key.startsWith(prefix));
          } else {
            const key = `k${o.key}`;
            const i = model.findIndex((e) => e.key === key);
            if (o.op === "set") {
              if (i >= 0) model.splice(i, 1);
              model.push({ key, value: ++n, expiresAt: now + o.ttl });
              cache.set(key, n, o.ttl);
              while (model.length > max) model.shift();
            } else if (o.op === "delete") {
              expect(cache.delete(key)).toBe(i >= 0);
              if (i >= 0) model.splice(i, 1);
            } else {
              const e = i >= 0 ? model[i] : undefined;
              const expected = e !== undefined && e.expiresAt > now ? e.value : undefined;
              if (e !== undefined) model.splice(i, 1);
              if (expected !== undefined && e) model.push(e);
              expect(cache.get(key)).toBe(expected);
            }
          }
          expect(cache.size).toBe(model.length);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("evicts exactly the least recently used entry", () => {
    const c = new LruTtlCache<number>({ maxEntries: 8 });
    for (let i = 1; i <= 8; i++) c.set(`k${i}`, i);
    c.get("k7");
    for (let i = 1; i <= 6; i++) c.get(`k${i}`);
    c.set("k9", 9);
    expect(c.get("k8")).toBeUndefined();
    expect(c.get("k7")).toBe(7);
  });

  it("is exactly LRU for small caches", () => {
    const c = new LruTtlCache<string>({ maxEntries: 3 });
    c.set("a", "a");
    c.set("b", "b");
    c.set("c", "c");
    c.get("a");
    c.set("d", "d");
    expect(c.get("b")).toBeUndefined();
    expect([c.get("a"), c.get("c"), c.get("d")]).toEqual(["a", "c", "d"]);
  });

  it("keeps entries read over and over while new keys stream through, and stays bounded", () => {
    const c = new LruTtlCache<number>({ maxEntries: 1000 });
    for (let i = 0; i < 5000; i++) {
      c.set(`k${i}`, i);
      // Hot keys read over and over: they must survive the stream of new keys.
      for (let h = 0; h < 10; h++) c.get(`hot${h}`) ?? c.set(`hot${h}`, -h);
    }
    expect(c.size).toBe(1000);
    for (let h = 0; h < 10; h++) expect(c.get(`hot${h}`)).toBe(-h);
  });
});

describe("CachingInstallationStore: app partitions", () => {
  it("entries and invalidation messages carry the app: A's uninstall never drops B's entries", async () => {
    const bus = new LocalInvalidationBus();
    const seen: unknown[] = [];
    bus.subscribe((m) => seen.push(m));
    const root = new MemoryInstallationStore();
    const a = new CachingInstallationStore(root.forApp("1111111111.1111111111"), { invalidation: bus });
    const b = new CachingInstallationStore(root.forApp("2222222222.2222222222"), { invalidation: bus });
    const def = new CachingInstallationStore(root, { invalidation: bus });
    expect([a.clientId, b.clientId, def.clientId]).toStrictEqual([
      "1111111111.1111111111",
      "2222222222.2222222222",
      "",
    ]);
    const i = inst();
    const q = { teamId: i.teamId };
    for (const s of [a, b, def]) {
      await s.save({ ...i, botToken: `xoxb-test-${randomUUID()}` });
      await s.findBot(q);
      await s.findInstallation({ ...q, userId: i.userId });
    }
    expect([a.size, b.size, def.size]).toStrictEqual([2, 2, 2]);
    await a.deleteAll(q);
    expect(seen.at(-1)).toStrictEqual({ teamId: i.teamId, clientId: "1111111111.1111111111" });
    expect([a.size, b.size, def.size]).toStrictEqual([0, 2, 2]);
    // A message without an app is the default partition's (every 0.1 publisher's).
    await bus.publish({ teamId: i.teamId });
    expect([b.size, def.size]).toStrictEqual([2, 0]);
    // A message naming nothing drops everything, in every app.
    await bus.publish({});
    expect(b.size).toBe(0);
  });
});
