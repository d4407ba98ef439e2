/**
 * Building blocks of {@link InstallationStore.withLock}: an in-process keyed mutex (the whole lock for
 * the memory store, the first stage for the others so that callers of one process queue in memory
 * rather than poll the disk or the database), and the polling loop of the cross-process leases.
 *
 * @internal
 */
import { randomBytes } from "node:crypto";
import { LockTimeoutError } from "../errors.js";

/**
 * Per-key FIFO mutex within one process. `acquire` resolves with a release function once every earlier
 * holder of the key has released; with a timeout it rejects with {@link LockTimeoutError} instead, and
 * its place in the queue passes on without ever being held.
 *
 * @example
 * ```ts
 * const mutex = new KeyedMutex();
 * const release = await mutex.acquire("rotation/T0123/bot", 5_000);
 * try { await work(); } finally { release(); }
 * ```
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Keys with a holder or waiters (for tests). */
  get size(): number {
    return this.#tails.size;
  }

  async acquire(key: string, timeoutMs = Number.POSITIVE_INFINITY): Promise<() => void> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = prev.then(() => mine);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    let released = false;
    const once = () => {
      if (released) return;
      released = true;
      release();
    };
    if (!Number.isFinite(timeoutMs)) {
      await prev;
      return once;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, timeoutMs));
    });
    const winner = await Promise.race([prev.then(() => "ok" as const), timedOut]);
    clearTimeout(timer);
    if (winner === "timeout") {
      // Give our turn away as soon as it comes: the queue behind us must not wait for a caller that left.
      void prev.then(once);
      throw new LockTimeoutError(key, timeoutMs);
    }
    return once;
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
