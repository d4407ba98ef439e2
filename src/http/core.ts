/**
 * The HTTP core every adapter of this library (Node, Express, Fastify, Hono, any fetch runtime) and the
 * emulator share: the router of the library's routes, the one bounded body reader (size limit and read
 * timeout), the one builder of a request's origin and URL, and the coded errors and replies for a body
 * that is too large or too slow. Adapters only translate between their framework and these.
 *
 * Runtime-neutral: nothing here imports a Node module, so Bun, Deno and Workers load it as is.
 *
 * @example
 * ```ts
 * import { toFetchHandler } from "slack-oauth-kit/http/core";
 *
 * export default { fetch: toFetchHandler({ oauth: flow, events: slackRequestHandler }) };
 * ```
 */
import { CodedTypeError, ErrorCode, SlackOAuthError } from "../errors.js";

// ─── Errors and their replies ────────────────────────────────────────────────────────────────────────

/**
 * A request body is larger than allowed: refused at once when `Content-Length` says so, else as soon as
 * the bytes read pass the limit (the rest is discarded unread). Every adapter and the emulator answer it
 * with the same 413 reply ({@link bodyErrorReply}).
 *
 * @example
 * ```ts
 * try {
 *   await readBody(request, { maxBytes: 64 * 1024 });
 * } catch (e) {
 *   if (e instanceof BodyTooLargeError) console.warn(e.code, e.limit); // "SLACK_OAUTH_BODY_TOO_LARGE"
 * }
 * ```
 */
export class BodyTooLargeError extends SlackOAuthError {
  /** The limit in bytes. */
  readonly limit: number;
  /** The size declared by `Content-Length`, when that is how it was caught. */
  readonly declared: number | undefined;
  constructor(limit: number, declared?: number) {
    super(
      ErrorCode.BodyTooLarge,
      declared === undefined ? `body exceeds ${limit} bytes` : `body of ${declared} bytes exceeds ${limit}`,
      { status: 413 },
    );
    this.limit = limit;
    this.declared = declared;
  }
}

/**
 * A request body did not arrive completely within the read timeout (a stalled or trickling client):
 * answered 408 and the connection closed.
 *
 * @example
 * ```ts
 * if (error instanceof BodyReadTimeoutError) console.warn(error.code, error.timeoutMs); // "SLACK_OAUTH_BODY_READ_TIMEOUT"
 * ```
 */
export class BodyReadTimeoutError extends SlackOAuthError {
  /** The timeout in ms. */
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(ErrorCode.BodyReadTimeout, `body not received within ${timeoutMs} ms`, { status: 408 });
    this.timeoutMs = timeoutMs;
  }
}

/** A reply as plain data (what the Node fast path writes without a web `Response`). */
export interface PlainReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const TOO_LARGE_REPLY: PlainReply = {
  status: 413,
  headers: { "content-type": "application/json", connection: "close" },
  body: '{"ok":false,"error":"payload_too_large"}',
};
const TIMEOUT_REPLY: PlainReply = {
  status: 408,
  headers: { "content-type": "application/json", connection: "close" },
  body: '{"ok":false,"error":"request_timeout"}',
};

/**
 * The reply to a failed body read: 413 `payload_too_large` for {@link BodyTooLargeError}, 408
 * `request_timeout` for {@link BodyReadTimeoutError}, else 400 with `fallback` (default `bad_request`).
 * Each asks the client to close the connection (the rest of its body is not read).
 *
 * @example
 * ```ts
 * const { status, headers, body } = bodyErrorReply(new BodyTooLargeError(1024));
 * res.writeHead(status, headers).end(body); // 413 {"ok":false,"error":"payload_too_large"}
 * ```
 */
export function bodyErrorReply(error: unknown, fallback = "bad_request"): PlainReply {
  if (error instanceof BodyTooLargeError) return TOO_LARGE_REPLY;
  if (error instanceof BodyReadTimeoutError) return TIMEOUT_REPLY;
  return {
    status: 400,
    headers: { "content-type": "application/json", connection: "close" },
    body: JSON.stringify({ ok: false, error: fallback }),
  };
}

/**
 * {@link bodyErrorReply} as a web `Response`.
 *
 * @example
 * ```ts
 * return bodyErrorResponse(error); // 413, 408 or 400 JSON
 * ```
 */
export function bodyErrorResponse(error: unknown, fallback?: string): Response {
  const reply = bodyErrorReply(error, fallback);
  return new Response(reply.body, { status: reply.status, headers: reply.headers });
}

// ─── The bounded body reader ─────────────────────────────────────────────────────────────────────────

/** Default largest request body: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Default time for a whole request body to arrive once reading starts: 10 s. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

/** Limits of one body read. */
export interface BodyLimits {
  /**
   * Largest body in bytes.
   *
   * @default {@link DEFAULT_MAX_BODY_BYTES}
   */
  maxBytes?: number | undefined;
  /**
   * Time for the whole body to arrive, in ms (default {@link DEFAULT_BODY_TIMEOUT_MS}); 0 disables it.
   * Checked every {@link BODY_DEADLINE_CHECK_MS}, so a read expires up to two checks later.
   */
  timeoutMs?: number | undefined;
}

/**
 * What the reader needs of a Node request stream (`IncomingMessage` has it): declared headers, data
 * events, and `resume` to discard what is not read.
 */
export interface NodeBodyStream {
  readonly headers: Record<string, string | string[] | undefined>;
  /** Listens for a chunk of the body. */
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  /** Listens for the end of the body. */
  on(event: "end", listener: () => void): unknown;
  /** Listens for a read error. */
  on(event: "error", listener: (error: Error) => void): unknown;
  /** Starts (or restarts) the flow of `data` events. */
  resume(): unknown;
}

/**
 * The limits resolved and checked once (adapters resolve them when built, not per request: the reads
 * under one resolved set share one deadline check).
 *
 * @example
 * ```ts
 * const limits = resolveBodyLimits({ maxBytes: 64 * 1024 }); // { maxBytes: 65536, timeoutMs: 10000, … }
 * ```
 */
export function resolveBodyLimits(limits: BodyLimits = {}): ResolvedBodyLimits {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  const timeoutMs = limits.timeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) {
    throw new CodedTypeError(`body limit: maxBytes must be a positive integer (got ${String(maxBytes)})`);
  }
  if (!(Number.isSafeInteger(timeoutMs) && timeoutMs >= 0)) {
    throw new CodedTypeError(`body limit: timeoutMs must be a non-negative integer (got ${String(timeoutMs)})`);
  }
  return { maxBytes, timeoutMs, deadlines: new BodyDeadlines(timeoutMs) };
}

/** The body size a `Content-Length` value declares, when it is a plain decimal number. */
function declaredLength(value: string | string[] | null | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === null) return undefined;
  const trimmed = v.trim();
  return /^\d{1,16}$/.test(trimmed) ? Number(trimmed) : undefined;
}

/** How often reads waiting for their body are checked against their deadline (ms). */
export const BODY_DEADLINE_CHECK_MS = 100;

/** A read waiting for its body (see {@link BodyDeadlines}). */
export interface Deadline {
  /** Gives up the read now (as if its deadline had passed). */
  readonly expire: () => void;
}

/** A {@link Deadline} as the list holds it. */
interface DeadlineNode extends Deadline {
  /** When it expires (epoch ms); 0 until the first check after it was watched. */
  at: number;
  older: DeadlineNode | undefined;
  newer: DeadlineNode | undefined;
  /** False once expired or unwatched. */
  listed: boolean;
}

/**
 * The body reads in flight under one set of limits, checked together every {@link BODY_DEADLINE_CHECK_MS}:
 * one interval for all of them instead of a timer each (a `setTimeout` + `clearTimeout` pair costs about a
 * microsecond, a measurable share of the events fast path). Watching a read costs a list node and no clock
 * read: the check after a read was watched stamps its deadline (that check's time + the timeout), so a
 * read expires between its timeout and two checks (200 ms) later, never earlier. The reads share one
 * timeout, so the list stays in deadline order and a check walks it only as far as the first deadline
 * still ahead. The interval runs only while reads are pending, and never keeps the process alive. Made by
 * {@link resolveBodyLimits}; used by {@link collectBody} and {@link readBody}.
 *
 * @example
 * ```ts
 * const { deadlines } = resolveBodyLimits({ timeoutMs: 5_000 });
 * const watched = deadlines.watch(() => console.warn("body too slow"));
 * deadlines.unwatch(watched); // the body arrived in time
 * ```
 */
export class BodyDeadlines {
  readonly timeoutMs: number;
  #oldest: DeadlineNode | undefined;
  #newest: DeadlineNode | undefined;
  /** The oldest node not stamped yet (every newer one is unstamped too). */
  #unstamped: DeadlineNode | undefined;
  #interval: ReturnType<typeof setInterval> | undefined;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  /** Calls `expire` once the timeout has passed, unless {@link BodyDeadlines.unwatch unwatched} first. */
  watch(expire: () => void): Deadline {
    const node: DeadlineNode = { at: 0, expire, older: this.#newest, newer: undefined, listed: true };
    if (this.#newest === undefined) this.#oldest = node;
    else this.#newest.newer = node;
    this.#newest = node;
    if (this.#unstamped === undefined) this.#unstamped = node;
    if (this.#interval === undefined) {
      this.#interval = setInterval(this.#sweep, BODY_DEADLINE_CHECK_MS);
      this.#interval.unref?.();
    }
    return node;
  }

  /** Forgets a deadline (its read finished). */
  unwatch(deadline: Deadline | undefined): void {
    const node = deadline as DeadlineNode | undefined;
    if (node === undefined || !node.listed) return;
    node.listed = false;
    if (node === this.#unstamped) this.#unstamped = node.newer;
    if (node.older === undefined) this.#oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === undefined) this.#newest = node.older;
    else node.newer.older = node.older;
    node.older = undefined;
    node.newer = undefined;
  }

  readonly #sweep = (): void => {
    if (this.#oldest === undefined) {
      clearInterval(this.#interval);
      this.#interval = undefined;
      return;
    }
    const now = Date.now();
    for (let node = this.#oldest; node !== undefined && node.at !== 0 && node.at <= now; node = this.#oldest) {
      this.unwatch(node);
      node.expire();
    }
    const at = now + this.timeoutMs;
    for (let node = this.#unstamped; node !== undefined; node = node.newer) node.at = at;
    this.#unstamped = undefined;
  };
}

/** Limits checked and ready to use (see {@link resolveBodyLimits}). */
export interface ResolvedBodyLimits {
  readonly maxBytes: number;
  readonly timeoutMs: number;
  /** The reads in flight under these limits, whose deadlines are checked together. */
  readonly deadlines: BodyDeadlines;
}

/**
 * Reads a Node request stream up to the limits and calls `done` once: with the bytes, a
 * {@link BodyTooLargeError} (past the limit it stops buffering and drains the rest unread), a
 * {@link BodyReadTimeoutError}, or the stream's error. Callback-based so the Node fast path pays no
 * promise for it; {@link readBody} is the promise form.
 *
 * @example
 * ```ts
 * collectBody(req, resolveBodyLimits(), (error, body) => (error ? fail(error) : handle(body)));
 * ```
 */
export function collectBody(
  stream: NodeBodyStream,
  limits: ResolvedBodyLimits,
  done: (error: Error | null, body?: Uint8Array) => void,
): void {
  const limit = limits.maxBytes;
  const declared = declaredLength(stream.headers["content-length"]);
  if (declared !== undefined && declared > limit) {
    stream.resume(); // discard, so the client can finish sending and read our 413
    done(new BodyTooLargeError(limit, declared));
    return;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  let finished = false;
  const deadline =
    limits.timeoutMs > 0
      ? limits.deadlines.watch(() => {
          if (finished) return;
          finished = true;
          chunks.length = 0;
          stream.resume();
          done(new BodyReadTimeoutError(limits.timeoutMs));
        })
      : undefined;
  // No listener is removed afterwards: the request is done with, and removing costs more than a flag.
  stream.on("data", (chunk) => {
    if (finished) return;
    size += chunk.byteLength;
    if (size > limit) {
      finished = true;
      limits.deadlines.unwatch(deadline);
      chunks.length = 0;
      stream.resume();
      done(new BodyTooLargeError(limit));
      return;
    }
    chunks.push(chunk);
  });
  stream.on("end", () => {
    if (finished) return;
    finished = true;
    limits.deadlines.unwatch(deadline);
    done(null, chunks.length === 1 ? (chunks[0] as Uint8Array) : concat(chunks, size));
  });
  stream.on("error", (error) => {
    if (finished) return;
    finished = true;
    limits.deadlines.unwatch(deadline);
    done(error);
  });
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** Reads a web `Request`'s (or `Response`'s) body stream under the same rules as {@link collectBody}. */
async function readWebBody(request: Request | Response, limits: ResolvedBodyLimits): Promise<Uint8Array> {
  const limit = limits.maxBytes;
  const declared = declaredLength(request.headers.get("content-length"));
  if (declared !== undefined && declared > limit) {
    await request.body?.cancel().catch(() => {});
    throw new BodyTooLargeError(limit, declared);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  let deadline: Deadline | undefined;
  const expired =
    limits.timeoutMs > 0
      ? new Promise<never>((_, reject) => {
          deadline = limits.deadlines.watch(() => reject(new BodyReadTimeoutError(limits.timeoutMs)));
        })
      : undefined;
  expired?.catch(() => {}); // observed below; never an unhandled rejection
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await (expired ? Promise.race([reader.read(), expired]) : reader.read());
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw new BodyTooLargeError(limit);
      chunks.push(value);
    }
  } catch (error) {
    chunks.length = 0;
    await reader.cancel().catch(() => {});
    throw error;
  } finally {
    limits.deadlines.unwatch(deadline);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : concat(chunks, size);
}

/**
 * Reads a request body as raw bytes (signatures are computed over the exact bytes), from a web
 * `Request` or a Node request stream (or a web `Response`: the same limits for a document fetched), refusing anything over `maxBytes` — at once when `Content-Length`
 * says so, else as soon as the bytes read pass it, without buffering the rest — and anything that does
 * not arrive within `timeoutMs`. Throws {@link BodyTooLargeError} or {@link BodyReadTimeoutError}.
 *
 * @example
 * ```ts
 * const raw = await readBody(request); // Uint8Array, at most 1 MiB, within 10 s
 * const small = await readBody(req, { maxBytes: 64 * 1024, timeoutMs: 2_000 }); // a Node IncomingMessage
 * ```
 */
export function readBody(
  source: Request | Response | NodeBodyStream,
  limits: BodyLimits | ResolvedBodyLimits = {},
): Promise<Uint8Array> {
  const resolved = "deadlines" in limits ? limits : resolveBodyLimits(limits);
  if (source instanceof Request || source instanceof Response) return readWebBody(source, resolved);
  return new Promise((resolve, reject) => {
    collectBody(source, resolved, (error, body) => (error ? reject(error) : resolve(body as Uint8Array)));
  });
}

// ─── Origin and URL of a request ─────────────────────────────────────────────────────────────────────

// A host[:port] as a client or proxy would send it: no userinfo, path, spaces or other URL-changing characters.
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

/**
 * True for a `Host` value that can stand in a URL as is (`name[:port]`, `[v6][:port]`).
 *
 * @example
 * ```ts
 * isSafeHost("example.com:3000"); // true
 * isSafeHost("evil.example/x@y"); // false
 * ```
 */
export function isSafeHost(host: string): boolean {
  return HOST_RE.test(host);
}

/** What decides the origin of a request URL. */
export interface OriginParts {
  /** Configured base URL: used as is when set (nothing from the request counts then). */
  baseUrl?: string | undefined;
  /** The connection (or a framework's trusted-proxy view of it) is TLS. */
  secure: boolean;
  /** The `Host` header (or a framework's host); unsafe or missing → `localhost`. */
  host: string | undefined;
  /** `X-Forwarded-Proto` / `X-Forwarded-Host`, used only when given (pass them only behind a trusted proxy). */
  forwardedProto?: string | string[] | undefined;
  forwardedHost?: string | string[] | undefined;
}

function firstValue(header: string | string[] | undefined): string {
  const v = Array.isArray(header) ? header[0] : header;
  return (v ?? "").split(",")[0]?.trim() ?? "";
}

/**
 * The origin (`scheme://host[:port]`) of a request URL: the configured base URL, else the scheme of the
 * connection and a host that cannot change the URL's meaning (forwarded values only when passed).
 *
 * @example
 * ```ts
 * requestOrigin({ secure: false, host: req.headers.host }); // "http://example.com:3000"
 * ```
 */
export function requestOrigin(parts: OriginParts): string {
  if (parts.baseUrl) return parts.baseUrl;
  let proto = parts.secure ? "https" : "http";
  let host = parts.host ?? "";
  if (parts.forwardedProto !== undefined) {
    const fwd = firstValue(parts.forwardedProto).toLowerCase();
    if (fwd === "http" || fwd === "https") proto = fwd;
  }
  if (parts.forwardedHost !== undefined) {
    const fwd = firstValue(parts.forwardedHost);
    if (fwd && HOST_RE.test(fwd)) host = fwd;
  }
  if (!HOST_RE.test(host)) host = "localhost";
  return `${proto}://${host}`;
}

/**
 * The path and query of a request target: an absolute-form target (`GET http://other/…`) keeps only its
 * path and query (it must not choose the host), and a leading `//` is collapsed (it would otherwise be
 * read as a network-path reference to another host).
 *
 * @example
 * ```ts
 * requestTarget("//evil.example/x?y=1"); // "/evil.example/x?y=1"
 * ```
 */
export function requestTarget(raw: string | undefined): string {
  let target = raw ?? "/";
  if (!target.startsWith("/")) {
    try {
      const abs = new URL(target);
      target = `${abs.pathname}${abs.search}`;
    } catch {
      return "/";
    }
  }
  return target.startsWith("//") ? target.replace(/^\/{2,}/, "/") : target;
}

/**
 * The full URL of a request: the target's path and query ({@link requestTarget}) on an origin
 * ({@link requestOrigin}, or a configured base URL).
 *
 * @example
 * ```ts
 * requestUrl(requestOrigin({ secure: true, host: "example.com" }), "/slack/install?x=1"); // "https://example.com/slack/install?x=1"
 * ```
 */
export function requestUrl(origin: string, rawTarget: string | undefined): string {
  return new URL(requestTarget(rawTarget), origin).href;
}

/**
 * Web `Headers` from Node's `rawHeaders` (name, value, name, value…): repeated headers kept, names in
 * any case.
 *
 * @example
 * ```ts
 * const headers = headersFromRaw(req.rawHeaders);
 * ```
 */
export function headersFromRaw(raw: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  return headers;
}

/** What {@link nodeToWebRequest} needs of a Node request (`IncomingMessage`, Express's `req`). */
export interface NodeRequestLike extends NodeBodyStream {
  readonly method?: string | undefined;
  readonly rawHeaders: readonly string[];
}

/**
 * A web `Request` from a Node request: the URL from `url` (see {@link requestUrl}), the headers from
 * `rawHeaders`, the body read by {@link readBody} under `limits`.
 *
 * @example
 * ```ts
 * const request = await nodeToWebRequest(req, requestUrl(requestOrigin({ secure: false, host: req.headers.host }), req.url));
 * ```
 */
export async function nodeToWebRequest(
  req: NodeRequestLike,
  url: string,
  limits: BodyLimits | ResolvedBodyLimits = {},
): Promise<Request> {
  const headers = headersFromRaw(req.rawHeaders);
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  const body = await readBody(req, limits);
  return new Request(url, { method, headers, body });
}

// ─── The router ──────────────────────────────────────────────────────────────────────────────────────

/** A routing flow: `OAuthFlow`, `OpenIDConnectFlow` (answers `undefined` for paths it does not own). */
export interface RoutingFlow {
  /** Answers a request on this endpoint's routes, or `undefined` when the request is not for it. */
  handle(request: Request): Promise<Response | undefined>;
  /** `OAuthFlow`'s paths (used by adapters that register exact routes). */
  readonly installPath?: string;
  readonly redirectPath?: string;
  /** `OpenIDConnectFlow`'s paths. */
  readonly loginPath?: string;
  readonly callbackPath?: string;
}

/** The events endpoint: a `SlackRequestHandler` (or anything answering a `Request`). */
export interface EventsEndpoint {
  /** Answers one request routed to this flow. */
  handle(request: Request): Promise<Response> | Response;
}

/** What the adapters serve. */
export interface SlackRoutesOptions {
  /** The install flow (`/slack/install`, `/slack/oauth_redirect` by default). */
  oauth?: RoutingFlow | undefined;
  /** Sign in with Slack (`/slack/login`, `/slack/login/callback` by default). */
  oidc?: RoutingFlow | undefined;
  /** Events, slash commands and interactivity, served on `eventsPath`. */
  events?: EventsEndpoint | undefined;
  /**
   * Path of the events endpoint.
   *
   * @default `/slack/events`
   */
  eventsPath?: string | undefined;
}

/** The default path of the events endpoint (the emulator's and Slack's usual request URL). */
export const DEFAULT_EVENTS_PATH = "/slack/events";

/**
 * Routes one request to the events endpoint, the install flow or the sign-in flow; `undefined` when none
 * of them owns its path (the adapters then pass it on to the framework).
 *
 * @example
 * ```ts
 * const route = createSlackRouter({ oauth: flow });
 * const response = (await route(request)) ?? new Response("Not Found", { status: 404 });
 * ```
 */
export function createSlackRouter(options: SlackRoutesOptions): (request: Request) => Promise<Response | undefined> {
  const eventsPath = options.eventsPath ?? DEFAULT_EVENTS_PATH;
  const { oauth, oidc, events } = options;
  return async (request) => {
    if (events && new URL(request.url).pathname === eventsPath) return events.handle(request);
    const fromOauth = oauth ? await oauth.handle(request) : undefined;
    if (fromOauth) return fromOauth;
    return oidc ? oidc.handle(request) : undefined;
  };
}

/**
 * The exact paths the routes answer (for adapters that register routes one by one).
 *
 * @example
 * ```ts
 * slackRoutePaths({ oauth: flow }); // ["/slack/install", "/slack/oauth_redirect"]
 * ```
 */
export function slackRoutePaths(options: SlackRoutesOptions): string[] {
  const paths: string[] = [];
  if (options.oauth) {
    paths.push(options.oauth.installPath ?? "/slack/install", options.oauth.redirectPath ?? "/slack/oauth_redirect");
  }
  if (options.oidc) {
    paths.push(options.oidc.loginPath ?? "/slack/login", options.oidc.callbackPath ?? "/slack/login/callback");
  }
  if (options.events) paths.push(options.eventsPath ?? DEFAULT_EVENTS_PATH);
  return [...new Set(paths)];
}

/**
 * A plain `fetch` handler (`(request) => Promise<Response>`) for any web-standard runtime (Bun, Deno,
 * Workers, `@hono/node-server`'s `serve`, or `toNodeListener`): 404 for paths no route owns.
 *
 * @example
 * ```ts
 * export default { fetch: toFetchHandler({ oauth: flow, events: slackRequestHandler }) };
 * ```
 */
export function toFetchHandler(options: SlackRoutesOptions): (request: Request) => Promise<Response> {
  const route = createSlackRouter(options);
  return async (request) => (await route(request)) ?? new Response("Not Found", { status: 404 });
}
