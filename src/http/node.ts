/**
 * The Node `http` adapter: converts `IncomingMessage` → `Request` and `Response` → `ServerResponse`, so any
 * `fetch`-style handler of this library (an `OAuthFlow`, the reference app) runs on `http.createServer`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { clientErrorListener, toNodeListener } from "slack-oauth-kit/http/node";
 *
 * const server = createServer(toNodeListener((request) => flow.handle(request).then((r) => r ?? new Response(null, { status: 404 }))));
 * server.on("clientError", clientErrorListener());
 * server.listen(3000);
 * ```
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import {
  bodyErrorReply,
  collectBody,
  nodeToWebRequest,
  type ResolvedBodyLimits,
  requestOrigin,
  requestUrl,
  resolveBodyLimits,
} from "./core.js";

/** A `fetch`-style handler: the shape every core handler of this library has. */
export type FetchHandler = (request: Request) => Promise<Response> | Response;

export { BodyReadTimeoutError, BodyTooLargeError } from "./core.js";

/** Options of {@link toNodeListener} and {@link toWebRequest}. */
export interface NodeAdapterOptions {
  /** Largest request body read, in bytes (default 1 MiB); larger bodies get 413 and are not buffered. */
  maxBodyBytes?: number;
  /** Time for a whole request body to arrive once reading starts, in ms (default 10 s; 0: none); else 408. */
  bodyTimeoutMs?: number;
  /**
   * Base URL used to build `request.url`.
   *
   * @default from the `Host` header, http unless TLS or `trustProxy`
   */
  baseUrl?: string;
  /**
   * Trust `X-Forwarded-Proto` / `X-Forwarded-Host` (only behind a reverse proxy you control, which sets
   * them itself). Off by default: a client could otherwise claim `https` or another host.
   */
  trustProxy?: boolean;
  /**
   * Called when the handler throws (the client gets a 500 JSON reply). Default: nothing is logged by the
   * adapter; pass your (redacting) logger here.
   */
  onError?: (error: unknown, request: Request) => void;
}

function limitsOf(options: NodeAdapterOptions): ResolvedBodyLimits {
  return resolveBodyLimits({ maxBytes: options.maxBodyBytes, timeoutMs: options.bodyTimeoutMs });
}

/** The origin of a request: `options.baseUrl`, else scheme and host from the socket and headers. */
function originOf(req: IncomingMessage, options: NodeAdapterOptions): string {
  if (options.baseUrl) return options.baseUrl;
  const h = req.headers;
  return requestOrigin({
    secure: (req.socket as { encrypted?: boolean }).encrypted === true,
    host: h.host,
    ...(options.trustProxy ? { forwardedProto: h["x-forwarded-proto"], forwardedHost: h["x-forwarded-host"] } : {}),
  });
}

/**
 * Converts a Node request to a web `Request` (the body read fully, up to `maxBodyBytes` and within
 * `bodyTimeoutMs`; throws {@link BodyTooLargeError} or {@link BodyReadTimeoutError} otherwise).
 *
 * @example
 * ```ts
 * const request = await toWebRequest(req, { maxBodyBytes: 64 * 1024 });
 * ```
 */
export async function toWebRequest(req: IncomingMessage, options: NodeAdapterOptions = {}): Promise<Request> {
  return nodeToWebRequest(req, requestUrl(originOf(req, options), req.url), limitsOf(options));
}

function writeBodyError(res: ServerResponse, error: unknown): void {
  const reply = bodyErrorReply(error);
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}

/**
 * Writes a web `Response` to a Node response, keeping every `Set-Cookie` header. For `HEAD` requests (and
 * 204/304 replies) only the head is written.
 *
 * @example
 * ```ts
 * await writeWebResponse(new Response("ok"), res);
 * ```
 */
export async function writeWebResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    if (key !== "set-cookie") headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);
  const noBody = res.req?.method === "HEAD" || response.status === 204 || response.status === 304;
  if (!response.body || noBody) {
    if (response.body) await response.body.cancel().catch(() => undefined);
    res.end();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const stream = Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>);
    stream.on("error", reject);
    res.on("finish", resolve);
    res.on("close", () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(res);
  });
}

/**
 * Adapts a `fetch`-style handler to Node's `http.createServer`. A body over `maxBodyBytes` gets 413, an
 * unparseable request 400, and a handler that throws a 500 JSON reply (`onError` is told why).
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * const server = createServer(toNodeListener((request) => new Response(`hello ${new URL(request.url).pathname}`)));
 * server.listen(3000);
 * ```
 */
export function toNodeListener(handler: FetchHandler, options: NodeAdapterOptions = {}): RequestListener {
  const limits = limitsOf(options);
  return (req, res) => {
    void (async () => {
      let request: Request;
      try {
        request = await nodeToWebRequest(req, requestUrl(originOf(req, options), req.url), limits);
      } catch (error) {
        writeBodyError(res, error);
        return;
      }
      let response: Response;
      try {
        response = await handler(request);
      } catch (error) {
        try {
          options.onError?.(error, request);
        } catch {
          // a failing error reporter must not take the reply down with it
        }
        response = Response.json({ ok: false, error: "internal_error" }, { status: 500 });
      }
      await writeWebResponse(response, res).catch(() => res.destroy());
    })();
  };
}

/**
 * Replies ready during one turn of the event loop, written together right after its I/O phase
 * (`setImmediate`). Under load many requests arrive in one turn; writing their replies back to back,
 * rather than each as soon as it is ready, spares most of the wake-ups of the peer (a load balancer,
 * a proxy, Slack's connection pool) that a write each costs — measurably fewer CPU cycles per request
 * (see `npm run bench -- events`). A reply waits at most until the end of the current turn.
 */
class WriteBatch {
  #writes: (() => void)[] = [];

  add(write: () => void): void {
    this.#writes.push(write);
    if (this.#writes.length === 1) setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    const writes = this.#writes;
    this.#writes = [];
    // Each write handles its own failure, so one bad reply cannot keep the others from going out.
    for (const write of writes) write();
  };
}

/**
 * What `handleRaw` gets from the Node adapter: the URL is built only if a handler asks for the web
 * `Request`. (A class: an object literal with a getter is built on V8's slow path, per request.)
 */
class NodeRawRequest {
  readonly headers: IncomingMessage["headers"];
  /** Node lower-cases every header name it parses. */
  readonly headerNamesLowerCase = true;
  readonly #req: IncomingMessage;
  readonly #options: NodeAdapterOptions;
  #url: string | undefined;

  constructor(
    req: IncomingMessage,
    readonly method: string,
    readonly body: Uint8Array,
    options: NodeAdapterOptions,
  ) {
    this.headers = req.headers;
    this.#req = req;
    this.#options = options;
  }

  get url(): string {
    if (this.#url === undefined) this.#url = requestUrl(originOf(this.#req, this.#options), this.#req.url);
    return this.#url;
  }
}

/** Options of {@link toNodeSlackListener}. */
export interface NodeSlackListenerOptions extends NodeAdapterOptions {
  /**
   * Write the replies that became ready during one event-loop turn together, at the end of its I/O
   * phase (default true): fewer wake-ups of the peer per reply under load, at most one turn of delay.
   */
  coalesceWrites?: boolean;
}

/** What {@link toNodeSlackListener} needs: the events handler's plain-data entry point. */
export interface RawSlackEndpoint {
  /** Answers a request from its raw parts (method, URL, headers, body bytes), without a `Request` object. */
  handleRaw(input: {
    method: string;
    headers: Record<string, string | string[] | undefined>;
    body: Uint8Array;
    url: string;
    /** Set: Node's header names are lower-case. */
    headerNamesLowerCase?: boolean;
  }): Promise<{ status: number; headers: Record<string, string>; body: string | Uint8Array | null }>;
}

/**
 * Serves a `SlackRequestHandler` on Node's `http` without building web `Request`/`Response` objects (on
 * Node 20 they cost more than verification and token lookup together). Same behaviour as
 * `toNodeListener((r) => handler.handle(r))`: body limit (413) and read timeout (408), then the handler's
 * own checks.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * createServer(toNodeSlackListener(slackRequestHandler)).listen(3000);
 * ```
 */
export function toNodeSlackListener(
  handler: RawSlackEndpoint,
  options: NodeSlackListenerOptions = {},
): RequestListener {
  const limits = limitsOf(options);
  const batch = options.coalesceWrites === false ? undefined : new WriteBatch();
  const failed = (res: ServerResponse): void => {
    try {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end('{"ok":false,"error":"internal_error"}');
      } else res.destroy();
    } catch {
      res.destroy();
    }
  };
  return (req, res) => {
    const method = req.method ?? "GET";
    const respond = (body: Uint8Array): void => {
      let pending: ReturnType<RawSlackEndpoint["handleRaw"]>;
      try {
        // Any endpoint: one that throws at once or answers without a promise is handled too.
        pending = Promise.resolve(handler.handleRaw(new NodeRawRequest(req, method, body, options)));
      } catch {
        failed(res);
        return;
      }
      pending.then(
        (reply) => {
          const send = (): void => {
            try {
              res.writeHead(reply.status, reply.headers);
              res.end(method === "HEAD" ? undefined : (reply.body ?? undefined));
            } catch {
              failed(res); // e.g. a header value Node refuses, from a handler's own Response
            }
          };
          if (batch === undefined) send();
          else batch.add(send);
        },
        () => failed(res),
      );
    };
    if (method === "GET" || method === "HEAD") {
      respond(new Uint8Array(0));
      return;
    }
    collectBody(req, limits, (error, body) => {
      if (error === null) respond(body as Uint8Array);
      else writeBodyError(res, error);
    });
  };
}

/** Options of {@link clientErrorListener}. */
export interface ClientErrorOptions {
  /**
   * Renders the page sent for a request Node could not parse: `status` is 414 (request line too long),
   * 431 (headers too large), 408 (headers or request not received within the server's `headersTimeout` /
   * `requestTimeout`) or 400. Default: a small plain-text reply.
   */
  render?: (status: 400 | 408 | 414 | 431) => { body: string; contentType: string };
}

const REASONS = {
  400: "Bad Request",
  408: "Request Timeout",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
} as const;

/**
 * A `clientError` listener for `http.Server`: answers requests Node rejects before any handler runs
 * (a 100 KB URL, huge cookies, garbage) with a real page instead of a bare status or a reset, and never
 * lets such a request crash the process.
 *
 * @example
 * ```ts
 * server.on("clientError", clientErrorListener());
 * ```
 */
export function clientErrorListener(options: ClientErrorOptions = {}): (error: Error, socket: Duplex) => void {
  return (error, socket) => {
    const e = error as Error & { code?: string; rawPacket?: Buffer };
    if (e.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    let status: 400 | 408 | 414 | 431 = 400;
    if (e.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      status = 408;
    } else if (e.code === "HPE_HEADER_OVERFLOW") {
      // A packet that is all request line (`GET /…` and no line end), or a run of URL characters without
      // a single space or line break, means the URL is what overflowed; anything else is the headers.
      const head = e.rawPacket?.subarray(0, 4096).toString("latin1") ?? "";
      status = /^[A-Z]+ \S+$/.test(head) || /^\S+$/.test(head) ? 414 : 431;
    } else if (e.code === "HPE_URI_TOO_LONG") {
      status = 414;
    }
    const page = options.render?.(status) ?? {
      body: `${status} ${REASONS[status]}\n`,
      contentType: "text/plain; charset=utf-8",
    };
    const body = Buffer.from(page.body, "utf8");
    socket.end(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: ${page.contentType}\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${page.body}`,
    );
    // Drop whatever else the client sends; the reply above is flushed first.
    socket.once("finish", () => socket.destroy());
  };
}

/**
 * A `connect` listener for `http.Server`: Node hands `CONNECT` requests (proxy tunnels) to this event and,
 * without a listener, drops the connection with no reply. A server that is not a proxy answers
 * `405 Method Not Allowed` instead.
 *
 * @example
 * ```ts
 * server.on("connect", connectMethodListener());
 * ```
 */
export function connectMethodListener(): (req: IncomingMessage, socket: Duplex) => void {
  return (_req, socket) => {
    socket.on("error", () => socket.destroy());
    const body = '{"ok":false,"error":"method_not_allowed"}';
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    socket.once("finish", () => socket.destroy());
  };
}
