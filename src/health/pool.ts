/**
 * The work pool of the health sweep: at most `concurrency` jobs at once, at most `perWorkspace` of them on
 * one workspace, workspaces served in turn, and a workspace that Slack rate-limited paused until its
 * `Retry-After` has passed (its job goes back to the head of its queue). Time and waiting are injected,
 * so that tests move a clock instead of sleeping.
 *
 * @internal
 */

/** What a job tells the pool: done, or "rate limited, try me again in `retryAfterMs`". */
export type JobOutcome = { done: true } | { done: false; retryAfterMs: number };

/** One unit of work, keyed by the workspace whose rate limit it uses. */
export interface PoolJob {
  key: string;
  run(): Promise<JobOutcome>;
}

/** Options of {@link runPool}. */
export interface PoolOptions {
  concurrency: number;
  perWorkspace: number;
  nowMs: () => number;
  /** Waits `ms` (resolves early, without error, when `signal` aborts). */
  sleepMs: (ms: number, signal: AbortSignal) => Promise<void>;
  signal?: AbortSignal | undefined;
}

/** Runs every job; resolves when all are done. A job must not throw (report failures as done). */
export async function runPool(jobs: readonly PoolJob[], options: PoolOptions): Promise<void> {
  const queues = new Map<string, PoolJob[]>();
  for (const job of jobs) {
    let q = queues.get(job.key);
    if (q === undefined) {
      q = [];
      queues.set(job.key, q);
    }
    q.push(job);
  }
  const active = new Map<string, number>();
  const pausedUntil = new Map<string, number>();
  let inflight = 0;
  let wake: (() => void) | undefined;
  const signalled = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  /** A workspace whose next job may start now (round robin: it moves to the back of the order). */
  const nextReady = (now: number): string | undefined => {
    for (const [key, q] of queues) {
      if (q.length === 0) continue;
      if ((active.get(key) ?? 0) >= options.perWorkspace) continue;
      if ((pausedUntil.get(key) ?? 0) > now) continue;
      queues.delete(key);
      queues.set(key, q);
      return key;
    }
    return undefined;
  };

  for (;;) {
    options.signal?.throwIfAborted();
    let key = nextReady(options.nowMs());
    while (inflight < options.concurrency && key !== undefined) {
      const q = queues.get(key) as PoolJob[];
      const job = q.shift() as PoolJob;
      inflight++;
      active.set(key, (active.get(key) ?? 0) + 1);
      const k = key;
      job.run().then(
        (outcome) => {
          inflight--;
          active.set(k, (active.get(k) ?? 1) - 1);
          if (!outcome.done) {
            // Slack said when: the whole workspace waits (its other jobs would be refused too).
            const until = options.nowMs() + Math.max(0, outcome.retryAfterMs);
            pausedUntil.set(k, Math.max(pausedUntil.get(k) ?? 0, until));
            (queues.get(k) ?? []).unshift(job);
            if (!queues.has(k)) queues.set(k, [job]);
          }
          signalled();
        },
        () => {
          // Jobs report their own failures; a throw is a bug: do not hang the sweep on it.
          inflight--;
          active.set(k, (active.get(k) ?? 1) - 1);
          signalled();
        },
      );
      key = inflight < options.concurrency ? nextReady(options.nowMs()) : undefined;
    }
    let pending = 0;
    for (const q of queues.values()) pending += q.length;
    if (pending === 0 && inflight === 0) return;
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    // Nothing more can start: wait for a job to end, or for the first pause to run out.
    const now = options.nowMs();
    let firstPause = Number.POSITIVE_INFINITY;
    for (const [k, q] of queues) {
      const until = pausedUntil.get(k) ?? 0;
      if (q.length > 0 && until > now && (active.get(k) ?? 0) < options.perWorkspace)
        firstPause = Math.min(firstPause, until);
    }
    if (inflight < options.concurrency && firstPause !== Number.POSITIVE_INFINITY) {
      const stop = new AbortController();
      const onAbort = () => stop.abort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        await Promise.race([woken, options.sleepMs(firstPause - now, stop.signal)]);
      } finally {
        stop.abort();
        options.signal?.removeEventListener("abort", onAbort);
      }
    } else {
      await woken;
    }
  }
}

/** Waits `ms` on a timer (cleared, and resolved, when `signal` aborts). */
export function timerSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
