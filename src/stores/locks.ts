/**
 * Building blocks of {@link InstallationStore.withLock}: an in-process keyed mutex (the whole lock for
 * the memory store, the first stage for the others so that callers of one process queue in memory
 * rather than poll the disk or the database), and the polling loop of the cross-process leases.
 *
 * @internal
 */
import { randomBytes } from "node:crypto";
import { LockTimeoutError } from "../errors.js";

/** One caller waiting for a key of a {@link KeyedMutex}. */
interface Waiter {
  state: "waiting" | "granted" | "abandoned";
  grant: () => void;
}

/** A held key's queue of waiters. */
interface KeyQueue {
  waiters: Waiter[];
}

/**
 * Per-key FIFO mutex within one process. `acquire` resolves with a release function once every earlier
 * holder of the key has released; with a timeout it rejects with {@link LockTimeoutError} instead, and
 * its place in the queue passes on without ever being held.
 *
 * The holder's release hands the key straight to the next caller still waiting (it resolves that
 * caller's own promise); a caller that timed out only marks itself abandoned, and is skipped. Nothing
 * waits on a continuation of a caller that left: on Cloudflare Workers, where a store is shared by the
 * requests of an isolate and a finished request's continuations are cancelled, a timed-out request can
 * never wedge the key.
 *
 * @example
 * ```ts
 * const mutex = new KeyedMutex();
 * const release = await mutex.acquire("rotation/T0123/bot", 5_000);
 * try { await work(); } finally { release(); }
 * ```
 */
export class KeyedMutex {
  /** Keys that are held; their waiters in order. */
  readonly #keys = new Map<string, KeyQueue>();

  /** Keys with a holder or waiters (for tests). */
  get size(): number {
    return this.#keys.size;
  }

  async acquire(key: string, timeoutMs = Number.POSITIVE_INFINITY): Promise<() => void> {
    const queue = this.#keys.get(key);
    if (queue === undefined) {
      const mine: KeyQueue = { waiters: [] };
      this.#keys.set(key, mine);
      return this.#releaser(key, mine);
    }
    const waiter: Waiter = { state: "waiting", grant: () => undefined };
    const granted = new Promise<"ok">((resolve) => {
      waiter.grant = () => resolve("ok");
    });
    queue.waiters.push(waiter);
    if (!Number.isFinite(timeoutMs)) {
      await granted;
      return this.#releaser(key, queue);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, timeoutMs));
    });
    const winner = await Promise.race([granted, timedOut]);
    clearTimeout(timer);
    if (winner === "timeout" && waiter.state !== "granted") {
      // Skipped by the next release: our turn is never held.
      waiter.state = "abandoned";
      throw new LockTimeoutError(key, timeoutMs);
    }
    if (winner === "timeout") {
      // Granted in the same instant the timer fired: pass the key on at once.
      this.#next(key, queue);
      throw new LockTimeoutError(key, timeoutMs);
    }
    return this.#releaser(key, queue);
  }

  /** A release function that works once. */
  #releaser(key: string, queue: KeyQueue): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#next(key, queue);
    };
  }

  /** Hands the key to the first caller still waiting, or frees it. */
  #next(key: string, queue: KeyQueue): void {
    for (let w = queue.waiters.shift(); w !== undefined; w = queue.waiters.shift()) {
      if (w.state !== "waiting") continue;
      w.state = "granted";
      w.grant();
      return;
    }
    if (this.#keys.get(key) === queue) this.#keys.delete(key);
  }

  /** Runs `fn` holding `key`. */
  async run<T>(key: string, fn: () => Promise<T>, timeoutMs?: number): Promise<T> {
    const release = await this.acquire(key, timeoutMs);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** A random lock-owner token: who holds a lease, so that only the holder releases it. */
export function lockOwner(): string {
  return randomBytes(16).toString("hex");
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Calls `attempt` until it returns true, with a short, growing, jittered pause between attempts
 * (5 ms, then ×1.5 up to 100 ms), or throws {@link LockTimeoutError} once `deadline` (epoch ms) passes.
 * An error thrown by `attempt` ends the loop at once.
 *
 * @example
 * ```ts
 * await pollForLock(() => tryInsertLease(key, owner), Date.now() + 10_000, key, 10_000);
 * ```
 */
export async function pollForLock(
  attempt: () => Promise<boolean>,
  deadline: number,
  key: string,
  timeoutMs: number,
): Promise<void> {
  let pause = 5;
  for (;;) {
    if (await attempt()) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new LockTimeoutError(key, timeoutMs);
    await sleep(Math.min(left, pause * (0.5 + Math.random())));
    pause = Math.min(100, pause * 1.5);
  }
}
