/**
 * Runs a benchmark target (an HTTP server under test) in its own worker thread, so it gets an event loop
 * (and, on a 2-core machine, a core) to itself while the load generator runs in the main thread. The
 * worker module is TypeScript: the thread registers tsx's loader before importing it.
 *
 * Main thread: `const w = await BenchWorker.start(new URL("./x.ts", import.meta.url), data)`, then
 * `await w.call("cmd", arg)`. Worker module: `serveRpc({ cmd: async (arg) => … })`.
 */
import type { EventLoopUtilization } from "node:perf_hooks";
import { parentPort, Worker } from "node:worker_threads";

type Handler = (arg: never) => unknown;

interface RpcRequest {
  id: number;
  cmd: string;
  arg: unknown;
}

type RpcReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** A worker thread running one benchmark target, driven by request/reply messages. */
export class BenchWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;
  #failed: Error | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on("message", (m: RpcReply) => {
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
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`bench worker exited (code ${code})`)));
  }

  /** Starts `moduleUrl` (a .ts file calling {@link serveRpc}) in a new thread; resolves once it listens for calls. */
  static start(moduleUrl: URL, workerData?: unknown): Promise<BenchWorker> {
    const tsx = import.meta.resolve("tsx/esm/api");
    const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(moduleUrl.href)}); })`;
    const worker = new Worker(boot, { eval: true, workerData });
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      worker.once("error", onError);
      worker.once("message", (m: unknown) => {
        worker.off("error", onError);
        if ((m as { ready?: boolean }).ready === true) resolve(new BenchWorker(worker));
        else reject(new Error(`bench worker: unexpected first message ${JSON.stringify(m)}`));
      });
    });
  }

  /** Calls a handler registered with {@link serveRpc} in the worker. */
  call<T = unknown>(cmd: string, arg?: unknown): Promise<T> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ id, cmd, arg } satisfies RpcRequest);
    });
  }

  /** The worker thread's event-loop utilisation (busy time of its one thread), as `performance.eventLoopUtilization`. */
  elu(since?: EventLoopUtilization): EventLoopUtilization {
    return since === undefined
      ? this.#worker.performance.eventLoopUtilization()
      : this.#worker.performance.eventLoopUtilization(since);
  }

  /** Calls the worker's `close` handler (if any; waits at most 3 s), then ends the thread. */
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
      // no close handler, or it failed: the thread is ended anyway
    }
    this.#worker.removeAllListeners("exit");
    await this.#worker.terminate();
  }
}

/** Worker side: answers {@link BenchWorker.call}s with `handlers`, then tells the main thread it is ready. */
export function serveRpc(handlers: Record<string, Handler>): void {
  const port = parentPort;
  if (port === null) throw new Error("serveRpc: not running in a worker thread");
  port.on("message", (m: RpcRequest) => {
    const handler = handlers[m.cmd];
    void (async () => {
      try {
        if (handler === undefined) throw new Error(`unknown command ${m.cmd}`);
        const value = await handler(m.arg as never);
        port.postMessage({ id: m.id, ok: true, value } satisfies RpcReply);
      } catch (error) {
        const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
        port.postMessage({ id: m.id, ok: false, error: text } satisfies RpcReply);
      }
    })();
  });
  port.postMessage({ ready: true });
}
