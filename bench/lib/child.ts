/**
 * Runs a benchmark target (an HTTP server under test) in a child process, so it gets an event loop (and,
 * on a 2-core machine, a core) to itself while the load generator runs in the parent, and so its CPU
 * time can be measured on its own (`process.cpuUsage()` of the child: every thread of it, GC included).
 *
 * Parent: `const c = await BenchChild.start(new URL("./x.ts", import.meta.url), data)`, then
 * `await c.call("cmd", arg)`, `await c.usage()`. Child module: `serveRpc({ cmd: async (arg) => … })`.
 */
import { type ChildProcess, fork } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

type Handler = (arg: never) => unknown;

interface RpcRequest {
  id: number;
  cmd: string;
  arg: unknown;
}

type RpcReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** CPU and event-loop counters of the child at one instant (see {@link BenchChild.usage}). */
export interface ChildUsage {
  /** User + system CPU time of the whole child process, µs. */
  cpuMicros: number;
  /** Event-loop busy time of the child's main thread, ms. */
  eluActiveMs: number;
  /** Event-loop idle time, ms. */
  eluIdleMs: number;
}

/** What happened between two {@link ChildUsage} readings. */
export interface UsageDelta {
  cpuMicros: number;
  /** Event-loop utilisation of the child's main thread (0–1). */
  utilisation: number;
}

/** The difference of two {@link ChildUsage} readings. */
export function usageDelta(before: ChildUsage, after: ChildUsage): UsageDelta {
  const active = after.eluActiveMs - before.eluActiveMs;
  const idle = after.eluIdleMs - before.eluIdleMs;
  return { cpuMicros: after.cpuMicros - before.cpuMicros, utilisation: active / (active + idle || 1) };
}

/** A child process running one benchmark target, driven by request/reply messages over IPC. */
export class BenchChild {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;
  #failed: Error | undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on("message", (m: RpcReply) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    });
    const fail = (error: Error): void => {
      this.#failed = error;
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
    };
    child.on("error", fail);
    child.on("exit", (code, signal) => fail(new Error(`bench child exited (${signal ?? `code ${code}`})`)));
  }

  /**
   * Starts `moduleUrl` (a .ts file calling {@link serveRpc}) in a new Node process with tsx loaded; `data`
   * reaches it as `childData()`. Resolves once it listens for calls.
   */
  static start(moduleUrl: URL, data?: unknown): Promise<BenchChild> {
    const child = fork(fileURLToPath(moduleUrl), [], {
      execArgv: ["--import", "tsx", ...childNodeArgs()],
      env: { ...process.env, BENCH_CHILD_DATA: JSON.stringify(data ?? null) },
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`bench child exited early (code ${code})`));
      child.once("error", reject);
      child.once("exit", onExit);
      child.once("message", (m: unknown) => {
        child.off("error", reject);
        child.off("exit", onExit);
        if ((m as { ready?: boolean }).ready === true) resolve(new BenchChild(child));
        else reject(new Error(`bench child: unexpected first message ${JSON.stringify(m)}`));
      });
    });
  }

  /** Calls a handler registered with {@link serveRpc} in the child. */
  call<T = unknown>(cmd: string, arg?: unknown): Promise<T> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, cmd, arg } satisfies RpcRequest);
    });
  }

  /** The child's CPU time and event-loop counters now. */
  usage(): Promise<ChildUsage> {
    return this.call<ChildUsage>("__usage");
  }

  /** Calls the child's `close` handler (if any; waits at most 3 s), then lets the process exit (SIGTERM after 5 s). */
  async stop(): Promise<void> {
    try {
      if (!this.#failed) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 3000);
        });
        await Promise.race([this.call("close"), timeout]);
        clearTimeout(timer);
      }
    } catch {
      // no close handler, or it failed: the process is ended anyway
    }
    const child = this.#child;
    child.removeAllListeners("exit");
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // Disconnecting lets the child exit normally (so that e.g. --cpu-prof writes its profile); then SIGTERM.
    if (child.connected) child.disconnect();
    const timer = setTimeout(() => child.kill(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Extra Node options for the children from `BENCH_CHILD_NODE_ARGS` (space-separated), e.g. to profile the
 * targets: `BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" node --import tsx bench/events.ts`.
 */
function childNodeArgs(): string[] {
  return (process.env.BENCH_CHILD_NODE_ARGS ?? "").split(" ").filter((a) => a.length > 0);
}

/** Child side: the `data` given to {@link BenchChild.start}. */
export function childData<T>(): T {
  return JSON.parse(process.env.BENCH_CHILD_DATA ?? "null") as T;
}

/** Child side: answers {@link BenchChild.call}s with `handlers`, then tells the parent it is ready. */
export function serveRpc(handlers: Record<string, Handler>): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error("serveRpc: not running in a forked child process");
  const all: Record<string, Handler> = {
    __usage: (): ChildUsage => {
      const cpu = process.cpuUsage();
      const elu = performance.eventLoopUtilization();
      return { cpuMicros: cpu.user + cpu.system, eluActiveMs: elu.active, eluIdleMs: elu.idle };
    },
    ...handlers,
  };
  process.on("message", (m: RpcRequest) => {
    const handler = all[m.cmd];
    void (async () => {
      try {
        if (handler === undefined) throw new Error(`unknown command ${m.cmd}`);
        const value = await handler(m.arg as never);
        send({ id: m.id, ok: true, value } satisfies RpcReply);
      } catch (error) {
        const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
        send({ id: m.id, ok: false, error: text } satisfies RpcReply);
      }
    })();
  });
  // The parent going away ends the child too.
  process.on("disconnect", () => process.exit(0));
  send({ ready: true });
}
