import { CodedTypeError } from "../errors.js";
/**
 * How `SlackApiClient` sends one HTTP request: through any WHATWG `fetch`, or — on Node, by default —
 * through Node's own `http`/`https` with a keep-alive agent. On Node 20 `fetch` (undici) costs several
 * times more CPU per call than `node:http`; an OAuth callback makes two calls, so the difference is a
 * large share of an install's cost.
 */

/** One HTTP exchange as the client needs it. */
export interface TransportRequest {
  method: "POST";
  headers: Record<string, string>;
  body: string;
  /** Aborts the exchange (the client's per-attempt timeout, or the caller's signal). */
  signal: AbortSignal;
}

/** The reply, read in full. */
export interface TransportReply {
  status: number;
  /** Header lookup, case-insensitive (as `Headers.get`). */
  headers: { get(name: string): string | null };
  text: string;
}

/** Sends one request; rejects on network failures and when `signal` aborts. */
export type Transport = (url: string, request: TransportRequest) => Promise<TransportReply>;

/**
 * The `redirect` mode of every fetch that must not follow redirects: `"error"`, except on Cloudflare
 * Workers, whose fetch has no `"error"` (it throws a TypeError): there `"manual"`, and the caller refuses
 * a 3xx itself.
 */
export const NO_REDIRECT: "error" | "manual" =
  (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === "Cloudflare-Workers"
    ? "manual"
    : "error";

/** A {@link Transport} over a `fetch` implementation. Redirects are errors: a redirected POST would replay its body. */
export function fetchTransport(fetchImpl: typeof fetch): Transport {
  const redirect = NO_REDIRECT;
  return async (url, r) => {
    const response = await raceAbort(
      fetchImpl(url, { method: r.method, headers: r.headers, body: r.body, signal: r.signal, redirect }),
      r.signal,
    );
    if (redirect === "manual" && response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => undefined);
      throw new Error(`fetch refused a redirect (HTTP ${response.status}): a redirected POST would replay its body`);
    }
    let text: string;
    try {
      text = await raceAbort(response.text(), r.signal);
    } catch (error) {
      if (r.signal.aborted) throw error;
      // The reply had started: Slack has seen the request, whatever the error says.
      throw Object.assign(new Error("the reply was cut off"), { cause: error, replyStarted: true });
    }
    return { status: response.status, headers: response.headers, text };
  };
}

type NodeHttp = typeof import("node:http");
type NodeHttps = typeof import("node:https");
let nodeModules: Promise<{ http: NodeHttp; https: NodeHttps; httpAgent: unknown; httpsAgent: unknown }> | undefined;

/** Loaded on first use only, so that importing the client never requires `node:http` (workers, browsers). */
function loadNode() {
  nodeModules ??= Promise.all([import("node:http"), import("node:https")]).then(([http, https]) => ({
    http,
    https,
    // Keep-alive as fetch has it; idle sockets are unref'd by Node's agent, so they never hold a process
    // open, and closed after 4 s idle (as undici does; a server's shorter `Keep-Alive: timeout` wins).
    httpAgent: new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
    httpsAgent: new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
  }));
  return nodeModules;
}

const UTF8 = new TextDecoder();
const IDLE_SOCKET_MS = 4_000;
const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/**
 * A {@link Transport} over Node's `http`/`https` (keep-alive agents shared by every client of the
 * process). Same observable behaviour as {@link fetchTransport}: redirects are not followed, the body is
 * decoded as UTF-8 (BOM dropped), errors keep Node's codes (`ECONNREFUSED`…) for the retry policy.
 */
export function nodeTransport(): Transport {
  return async (url, r) => {
    const node = await loadNode();
    // Checked after the (first-call) load: an abort during it has already fired its event.
    r.signal.throwIfAborted();
    const target = new URL(url);
    const tls = target.protocol === "https:";
    if (!tls && target.protocol !== "http:") throw new CodedTypeError(`unsupported protocol ${target.protocol}`);
    const body = Buffer.from(r.body, "utf8");
    return new Promise<TransportReply>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        r.signal.removeEventListener("abort", onAbort);
        reject(error);
      };
      const request = (tls ? node.https : node.http).request(target, {
        method: r.method,
        headers: { ...r.headers, "Content-Length": String(body.length) },
        agent: (tls ? node.httpsAgent : node.httpAgent) as never,
      });
      const onAbort = (): void => {
        fail(r.signal.reason);
        request.destroy();
      };
      r.signal.addEventListener("abort", onAbort, { once: true });
      // An error on a reused idle connection is not retried here either: the server may have read the
      // request before closing (the idle timeout above keeps such races rare, as in undici).
      request.on("error", fail);
      request.on("response", (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REPLY_BYTES) {
            // A Slack reply is a few kilobytes: never buffer an endless one.
            fail(
              Object.assign(new Error(`the reply exceeded ${MAX_REPLY_BYTES} bytes`), { code: "ERR_REPLY_TOO_LARGE" }),
            );
            request.destroy();
            return;
          }
          chunks.push(chunk);
        });
        response.on("error", fail);
        response.on("aborted", () =>
          fail(Object.assign(new Error("the connection closed mid-reply"), { code: "ECONNRESET" })),
        );
        response.on("end", () => {
          if (settled) return;
          settled = true;
          r.signal.removeEventListener("abort", onAbort);
          const raw = response.headers;
          resolve({
            status: response.statusCode ?? 0,
            headers: {
              get(name: string): string | null {
                const v = raw[name.toLowerCase()];
                return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
              },
            },
            text: UTF8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)),
          });
        });
      });
      request.end(body);
    });
  };
}

/** Rejects with the signal's reason when it aborts, even if the wrapped promise ignores the signal. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/**
 * True when fetch has been set up to go somewhere else than Node's own client: a replaced
 * `globalThis.fetch`, or an undici global dispatcher that is not a plain `Agent` (a `MockAgent` in tests, a
 * `ProxyAgent` or `EnvHttpProxyAgent` behind a proxy). The client then keeps to fetch.
 */
export function fetchIsCustomised(nativeFetch: typeof fetch | undefined): boolean {
  if (globalThis.fetch !== nativeFetch) return true;
  const dispatcher = (globalThis as Record<symbol, unknown>)[Symbol.for("undici.globalDispatcher.1")];
  return dispatcher !== undefined && (dispatcher as { constructor?: { name?: string } }).constructor?.name !== "Agent";
}

/**
 * True on Node itself. Bun and Deno also report `process.versions.node`, but there `fetch` is native and
 * cheap while `node:http` is an emulation on top of it: they keep to fetch, and never load `node:http`.
 */
export function isNodeLike(): boolean {
  const g = globalThis as { process?: { versions?: { node?: unknown } }; Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined || g.Deno !== undefined) return false;
  return typeof g.process?.versions?.node === "string";
}
