/**
 * The cross-process lock (`withLock`) of the SQLite and file stores, with two store instances on the same
 * data standing in for two processes (each has its own in-process queue, so they meet only in the lease):
 * mutual exclusion, takeover of a dead holder's lease, and release by the owner only. Real OS processes
 * are in cross-process.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { LockTimeoutError } from "../../src/errors.js";
import { SingleFlight } from "../../src/rotation/single-flight.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { KeyedMutex } from "../../src/stores/locks.js";
import { openStore } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(["sqlite", "file"] as const)("%s: withLock across store instances", (backend) => {
  async function two(): Promise<[InstallationStore, InstallationStore]> {
    const s = await openStore(backend);
    const other = s.reopen();
    cleanups.push(s.cleanup, async () => other.close?.());
    return [s.store, other];
  }

  it("excludes a holder of another instance, and hands over when released", async () => {
    const [a, b] = await two();
    let inside = 0;
    let most = 0;
    const work = (store: InstallationStore) =>
      store.withLock!("rotation/-/T1/bot", async () => {
        inside++;
        most = Math.max(most, inside);
        await sleep(15);
        inside--;
      });
    await Promise.all([work(a), work(b), work(a), work(b), work(a), work(b)]);
    expect(most).toBe(1);
  });

  it("takes over the lease of a holder that died (lease expired) and keeps the new holder's lease", async () => {
    const [a, b] = await two();
    let releaseDead!: () => void;
    const dead = new Promise<void>((r) => {
      releaseDead = r;
    });
    // A holder that never finishes within its 150 ms lease (it hung, or its process died).
    let aIn!: () => void;
    const aHolds = new Promise<void>((r) => {
      aIn = r;
    });
    const hung = a.withLock!(
      "k/dead",
      () => {
        aIn();
        return dead;
      },
      { leaseMs: 150 },
    );
    await aHolds; // A has the lock (its lease runs from here)
    const started = Date.now();
    let releaseB!: () => void;
    const holdB = new Promise<void>((r) => {
      releaseB = r;
    });
    let bIn!: () => void;
    const bInside = new Promise<void>((r) => {
      bIn = r;
    });
    const bHolds = b.withLock!(
      "k/dead",
      async () => {
        bIn();
        await holdB;
      },
      { timeoutMs: 3000, leaseMs: 10_000 },
    );
    await bInside; // B took over the expired lease
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    // The old holder finishing now must not release B's lease.
    releaseDead();
    await hung;
    const third = await b.withLock!("k/dead", async () => "never", { timeoutMs: 200 }).catch((e) => e);
    expect(third).toBeInstanceOf(LockTimeoutError);
    const fromA = await a.withLock!("k/dead", async () => "never", { timeoutMs: 200 }).catch((e) => e);
    expect(fromA).toBeInstanceOf(LockTimeoutError);
    releaseB();
    await bHolds;
    expect(await a.withLock!("k/dead", async () => "free", { timeoutMs: 2000 })).toBe("free");
  });

  it("times out with LockTimeoutError while another instance holds the key", async () => {
    const [a, b] = await two();
    let release!: () => void;
    let entered!: () => void;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const held = a.withLock("k/busy", () => {
      entered();
      return new Promise<void>((r) => {
        release = r;
      });
    });
    await inside; // a holds the lease now (no sleep: a loaded machine may take longer than any guess)
    const err = (await b.withLock!("k/busy", async () => 1, { timeoutMs: 80 }).catch((e) => e)) as LockTimeoutError;
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect([err.code, err.key, err.timeoutMs]).toEqual(["SLACK_OAUTH_LOCK_TIMEOUT", "k/busy", 80]);
    release();
    await held;
    expect(await b.withLock!("k/busy", async () => 2)).toBe(2);
  });
});

describe("in-process building blocks", () => {
  it("KeyedMutex: FIFO per key, a timed-out waiter gives its turn away", async () => {
    const m = new KeyedMutex();
    const order: string[] = [];
    const r1 = await m.acquire("k");
    const w2 = m.acquire("k", 30).catch((e) => e);
    const w3 = m.acquire("k").then((release) => {
      order.push("3");
      release();
    });
    expect(await w2).toBeInstanceOf(LockTimeoutError);
    order.push("1 done");
    r1();
    await w3;
    expect(order).toEqual(["1 done", "3"]);
    await sleep(0);
    expect(m.size).toBe(0);
  });

  it("SingleFlight: concurrent calls share one run; the next call runs again; errors are shared too", async () => {
    const f = new SingleFlight<number>();
    let runs = 0;
    const slow = () => sleep(10).then(() => ++runs);
    expect(await Promise.all([f.run("a", slow), f.run("a", slow), f.run("b", slow)])).toEqual([1, 1, 2]);
    expect(await f.run("a", slow)).toBe(3);
    const boom = new Error("boom");
    const fail = () => sleep(5).then(() => Promise.reject(boom));
    const both = await Promise.allSettled([f.run("c", fail), f.run("c", fail)]);
    expect(both.map((r) => (r as PromiseRejectedResult).reason)).toEqual([boom, boom]);
    expect(f.size).toBe(0);
  });
});
