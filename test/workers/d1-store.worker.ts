/**
 * A Worker (bundled by test/workers/workerd.ts, run in workerd by Miniflare) that holds D1 stores and
 * answers their methods over fetch, for the proxies of test/workers/store-proxy.ts: the store code runs
 * inside workerd, on a real D1 binding (and KV for the cached store), while the shared conformance suites
 * drive it from the test process.
 *
 * POST /open {id, kind, options} · POST /call {id, method, args, now?} · POST /sql {sql, params} · POST /drop {tables} ·
 * POST /executor {op, …} · POST /kv {prefix} ·
 * POST /close {id}; every body and answer in the wire format of wire.ts. `withLock` is a WebSocket (GET
 * /lock, its arguments in the `x-lock` header): the lock is taken and released within that one request,
 * as workerd wants (a request cannot finish what another one started), and the socket carries "acquired"
 * to the caller, the outcome of the caller's fn back, and the result of `withLock` last.
 */

import type { KvNamespace } from "../../src/stores/d1/kv-cache.js";
import {
  type D1Database,
  D1Executor,
  D1InstallationStore,
  D1StateStore,
  KvCachedInstallationStore,
} from "../../src/stores/d1.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { decode, encode, encodeError } from "./wire.js";

interface Env {
  DB: D1Database;
  KV: KvNamespace;
}

interface Opened {
  store: Record<string, (...args: unknown[]) => Promise<unknown>> & { close(): Promise<void> };
  clock: { now: number };
}

const stores = new Map<string, Opened>();
/** Thrown inside the worker's fn when the caller's fn failed: the caller rethrows its own error. */
const CALLER_FAILED = new Error("the caller's fn failed");

const answer = (body: unknown) =>
  new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
const ok = (value: unknown) => answer({ ok: encode(value) });
const fail = (e: unknown) =>
  answer({ error: e === CALLER_FAILED ? { fromCaller: true, name: "", message: "" } : encodeError(e) });

declare const WebSocketPair: new () => { 0: WebSocketLike; 1: WebSocketLike };
interface WebSocketLike {
  accept(): void;
  send(data: string): void;
  close(code?: number): void;
  addEventListener(type: "message", fn: (event: { data: unknown }) => void): void;
}

/** `withLock` over one WebSocket: "acquired" → the caller's outcome → withLock's own result. */
function lock(request: Request): Response {
  const args = decode(JSON.parse(request.headers.get("x-lock") ?? "null")) as Record<string, unknown>;
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  server.accept();
  let finish!: (o: { value?: unknown; failed?: boolean }) => void;
  const outcome = new Promise<{ value?: unknown; failed?: boolean }>((r) => {
    finish = r;
  });
  server.addEventListener("message", (event) => {
    finish(decode(JSON.parse(String(event.data))) as { value?: unknown; failed?: boolean });
  });
  const send = (body: unknown) => server.send(JSON.stringify(body));
  const s = stores.get(String(args.id));
  const withLock =
    s === undefined
      ? Promise.reject(new Error(`no store ${String(args.id)}`))
      : (s.store.withLock as unknown as InstallationStore["withLock"]).call(
          s.store,
          args.key as string,
          async () => {
            send({ acquired: true });
            const o = await outcome;
            if (o.failed) throw CALLER_FAILED;
            return o.value;
          },
          args.options as undefined,
        );
  void withLock
    .then(
      (value) => send({ ok: encode(value) }),
      (e: unknown) =>
        send({ error: e === CALLER_FAILED ? { fromCaller: true, name: "", message: "" } : encodeError(e) }),
    )
    .finally(() => server.close(1000));
  return new Response(null, { status: 101, webSocket: client } as ResponseInit);
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/lock") return lock(request);
    const body = decode(await request.json()) as Record<string, unknown>;
    try {
      switch (path) {
        case "/open": {
          const id = String(body.id);
          const o = (body.options ?? {}) as Record<string, unknown>;
          const clock = { now: Date.now() };
          let store: unknown;
          if (body.kind === "state") {
            store = new D1StateStore({
              database: env.DB,
              tablePrefix: o.tablePrefix as string,
              ttlSeconds: o.ttlSeconds as number | undefined,
              nowMs: o.clock === true ? () => clock.now : undefined,
            });
          } else {
            let s: InstallationStore = new D1InstallationStore({
              database: env.DB,
              tablePrefix: o.tablePrefix as string,
              clientId: o.clientId as string | undefined,
              historicalData: o.historicalData === true,
            });
            if (o.kv === true)
              s = new KvCachedInstallationStore(s, { namespace: env.KV, keyPrefix: String(o.tablePrefix) });
            store = s;
          }
          stores.set(id, { store: store as Opened["store"], clock });
          return ok(undefined);
        }
        case "/call": {
          const s = stores.get(String(body.id));
          if (s === undefined) throw new Error(`no store ${String(body.id)}`);
          if (typeof body.now === "number") s.clock.now = body.now;
          const method = String(body.method);
          const fn = s.store[method];
          if (typeof fn !== "function") throw new Error(`no method ${method}`);
          return ok(await fn.apply(s.store, body.args as unknown[]));
        }
        case "/sql": {
          const st = env.DB.prepare(String(body.sql));
          const params = body.params as unknown[];
          return ok(await (params.length > 0 ? st.bind(...params) : st).raw());
        }
        case "/executor": {
          // The D1 executor itself: {op: "query" | "run", sql, params} or {op: "batch", statements}.
          const exec = new D1Executor(env.DB);
          if (body.op === "batch") return ok(await exec.batch(body.statements as never));
          if (body.op === "run") return ok(await exec.run(String(body.sql), body.params as never));
          return ok(await exec.query(String(body.sql), body.params as never));
        }
        case "/kv": {
          // The KV namespace's keys (and values) under a prefix.
          const listed = await env.KV.list({ prefix: String(body.prefix) });
          const out: Record<string, string | null> = {};
          for (const k of listed.keys) out[k.name] = await env.KV.get(k.name);
          return ok(out);
        }
        case "/drop": {
          // Every table of a prefix in one batch (one request).
          const names = (body.tables as string[]).map((t) => env.DB.prepare(`DROP TABLE IF EXISTS "${t}"`));
          await env.DB.batch(names as never);
          return ok(undefined);
        }
        case "/close": {
          const id = String(body.id);
          await stores.get(id)?.store.close();
          stores.delete(id);
          return ok(undefined);
        }
        default:
          return new Response("not found", { status: 404 });
      }
    } catch (e) {
      return fail(e);
    }
  },
};
