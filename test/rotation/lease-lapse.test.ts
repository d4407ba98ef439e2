/**
 * A rotation lock whose lease runs out while its holder is starved of CPU: a second process takes the
 * lease over and refreshes. The starved holder must not then spend the same refresh token again.
 *
 * Deterministic, no sleeps: the two "processes" are two coordinators over one store, sharing a lease
 * table on a fake clock; the starvation is injected in the first holder's re-read under the lock (the
 * clock jumps past the lease and the second process runs its whole refresh before the read returns, as a
 * process paused by the scheduler would see it).
 */
import { afterEach, describe, expect, it } from "vitest";
import { LockTimeoutError } from "../../src/errors.js";
import type { Bot, Installation } from "../../src/model/installation.js";
import { RotationCoordinator } from "../../src/rotation/coordinator.js";
import { TokenRotator } from "../../src/rotation/token-rotator.js";
import type { BotQuery, InstallationStore, LockOptions } from "../../src/stores/installation-store.js";
import { closeAll, install, openStore, refreshCalls, rotatingEmulator, teamOf } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await closeAll();
});

/** Leases by key on a fake clock, as the SQL and file stores keep them (taken over once expired). */
class FakeLeases {
  now = 1_000_000;
  readonly #held = new Map<string, { owner: string; expiresAt: number }>();

  async run<T>(owner: string, key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    const lease = this.#held.get(key);
    if (lease !== undefined && lease.expiresAt > this.now) throw new LockTimeoutError(key, options?.timeoutMs ?? 0);
    this.#held.set(key, { owner, expiresAt: this.now + (options?.leaseMs ?? 60_000) });
    try {
      return await fn();
    } finally {
      if (this.#held.get(key)?.owner === owner) this.#held.delete(key);
    }
  }
}

/** One process's view of the shared store: its own lock owner; `onRead` runs inside its next `findBot`. */
function processView(inner: InstallationStore, leases: FakeLeases, owner: string) {
  const view = {
    onRead: undefined as (() => Promise<void>) | undefined,
    store: new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === "withLock")
          return <T>(key: string, fn: () => Promise<T>, o?: LockOptions) => leases.run(owner, key, fn, o);
        if (prop === "findBot")
          return async (q: BotQuery): Promise<Bot | undefined> => {
            const seen = await target.findBot(q);
            const hook = view.onRead;
            view.onRead = undefined;
            if (hook !== undefined) await hook(); // starved here: what it read is what it will act on
            return seen;
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    }) as InstallationStore,
  };
  return view;
}

async function setup() {
  const emu = await rotatingEmulator(1);
  const s = await openStore("sqlite");
  cleanups.push(s.cleanup);
  const { installation } = await install(emu, 1);
  const expiring: Installation = { ...installation, botTokenExpiresAt: Math.floor(Date.now() / 1000) + 300 };
  await s.store.save(expiring);
  const rotator = new TokenRotator({
    clientId: emu.app.clientId,
    clientSecret: emu.app.clientSecret,
    apiUrl: emu.apiUrl,
  });
  const leases = new FakeLeases();
  const a = processView(s.store, leases, "A");
  const b = processView(s.store, leases, "B");
  const options = { rotator, lockLeaseMs: 1_000, nowMs: () => leases.now };
  const coordA = new RotationCoordinator({ installationStore: a.store, ...options });
  const coordB = new RotationCoordinator({ installationStore: b.store, ...options });
  return { emu, store: s.store, before: expiring, leases, a, coordA, coordB };
}

describe("rotation: a holder whose lease ran out while it was starved", () => {
  it("does not refresh again with the refresh token the new holder already spent", async () => {
    const { emu, store, before, leases, a, coordA, coordB } = await setup();
    let fromB: Bot | undefined;
    a.onRead = async () => {
      leases.now += 1_500; // A is paused past its 1 s lease...
      const r = await coordB.refreshBot({ teamId: teamOf(1) }); // ...and B takes the lease over and refreshes.
      expect(r.status).toBe("refreshed");
      fromB = r.bot;
    };
    const r = await coordA.refreshBot({ teamId: teamOf(1) }, { seenRefreshToken: before.botRefreshToken });
    // One refresh in all: A saw (on re-reading) that B refreshed, and used B's token.
    expect(refreshCalls(emu)).toMatchObject({ total: 1, ok: 1, failed: 0 });
    expect(r.status).toBe("refreshed_elsewhere");
    expect(r.bot?.botToken).toBe(fromB?.botToken);
    expect((await store.findBot({ teamId: teamOf(1) }))?.botRefreshToken).toBe(fromB?.botRefreshToken);
  });

  it("refreshes nothing and fails with LockTimeoutError when nobody refreshed meanwhile", async () => {
    const { emu, store, before, leases, a, coordA } = await setup();
    a.onRead = async () => {
      leases.now += 600; // more than half the lease gone: a refresh call might outlive it
    };
    const err = await coordA.refreshBot({ teamId: teamOf(1) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as LockTimeoutError).message).toMatch(/half its 1000 ms lease/);
    expect(refreshCalls(emu).total).toBe(0);
    expect((await store.findBot({ teamId: teamOf(1) }))?.botRefreshToken).toBe(before.botRefreshToken);
    // With the lease fresh, the same call refreshes.
    expect((await coordA.refreshBot({ teamId: teamOf(1) })).status).toBe("refreshed");
    expect(refreshCalls(emu)).toMatchObject({ total: 1, ok: 1 });
  });
});
