/**
 * The Express 5 adapter: an Express middleware that serves the install flow, Sign in with Slack and the
 * events endpoint, converting Express's `req` to a web `Request` and the `Response` back (every
 * `Set-Cookie` kept).
 *
 * > [!IMPORTANT]
 * > Mount it **before** any body parser (`express.json()`, `express.urlencoded()`): Slack's request
 * > signature covers the exact bytes received, so the middleware reads the raw stream itself. A request
 * > whose body a parser already consumed gets a 500 (`body_already_consumed`) and `onError` is told why.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { slackRouter } from "slack-oauth-kit/http/express";
 *
 * const app = express();
 * app.use(slackRouter({ oauth: flow, events: slackRequestHandler })); // before express.json()
 * app.use(express.json());
 * app.listen(3000);
 * ```
 */
import type { Request as ExpressRequest, Response as ExpressResponse, NextFunction, RequestHandler } from "express";
import { createSlackRouter, type SlackRoutesOptions, slackRoutePaths } from "./hono.js";
import { writeWebResponse } from "./node.js";

export type { EventsEndpoint, RoutingFlow, SlackRoutesOptions } from "./hono.js";

/** Options of {@link slackRouter} and {@link toExpressHandler}. */
export interface ExpressAdapterOptions {
  /** Largest request body read, in bytes (default 1 MiB); larger bodies get 413. */
  maxBodyBytes?: number | undefined;
  /**
   * Base URL used to build `request.url` (default: Express's `req.protocol` — which honours the app's
   * `trust proxy` setting — and the `Host` header).
   */
  baseUrl?: string | undefined;
  /** Told about adapter failures (consumed body, a throwing handler); nothing is logged otherwise. */
  onError?: ((error: unknown) => void) | undefined;
}

/** The request body was already read by a body parser mounted before this middleware. */
export class BodyAlreadyConsumedError extends Error {
  override name = "BodyAlreadyConsumedError";
  constructor() {
    super(
      "slack-oauth-kit/http/express: the request body was already consumed (a body parser such as express.json() " +
        "or express.urlencoded() ran first). Mount slackRouter() before any body parser: Slack signatures need the raw bytes.",
    );
  }
}

class TooLarge extends Error {}

const DEFAULT_MAX_BODY = 1024 * 1024;
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

function readStream(req: ExpressRequest, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new TooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onErr);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume();
        reject(new TooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onErr = (error: Error): void => {
      cleanup();
      reject(error);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onErr);
  });
}

/** True when a body parser (or anything else) already read the request stream. */
function bodyConsumed(req: ExpressRequest): boolean {
  return (req as { _body?: unknown })._body === true || req.readableEnded;
}

/**
 * Converts an Express request to a web `Request`, reading the raw body from the stream (never from
 * `req.body`). The URL is `req.originalUrl`, so routers mounted on a sub-path see full paths.
 * Throws {@link BodyAlreadyConsumedError} when a body parser read the stream first.
 *
 * @example
 * ```ts
 * app.post("/hook", async (req, res) => { const request = await toFetchRequest(req); ... });
 * ```
 */
export async function toFetchRequest(req: ExpressRequest, options: ExpressAdapterOptions = {}): Promise<Request> {
  let base = options.baseUrl;
  if (!base) {
    let host = req.get("host") ?? "";
    if (!HOST_RE.test(host)) host = "localhost";
    base = `${req.protocol === "https" ? "https" : "http"}://${host}`;
  }
  const target = (req.originalUrl || req.url || "/").replace(/^\/{2,}/, "/");
  const url = new URL(target.startsWith("/") ? target : "/", base);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const value = req.rawHeaders[i + 1];
    if (name !== undefined && value !== undefined) headers.append(name, value);
  }
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  if (bodyConsumed(req)) throw new BodyAlreadyConsumedError();
  const body = await readStream(req, options.maxBodyBytes ?? DEFAULT_MAX_BODY);
  return new Request(url, { method, headers, body });
}

function sendJson(res: ExpressResponse, status: number, error: string): void {
  res
    .status(status)
    .set("content-type", "application/json")
    .send(JSON.stringify({ ok: false, error }));
}

/**
 * Wraps a fetch-style handler that may decline (`undefined` → `next()`) as Express middleware.
 *
 * @example
 * ```ts
 * app.use(toExpressHandler(async (request) => (await flow.handle(request)) ?? undefined));
 * ```
 */
export function toExpressHandler(
  handler: (request: Request) => Promise<Response | undefined> | Response | undefined,
  options: ExpressAdapterOptions = {},
): RequestHandler {
  return (req: ExpressRequest, res: ExpressResponse, next: NextFunction): void => {
    void (async () => {
      let request: Request;
      try {
        request = await toFetchRequest(req, options);
      } catch (error) {
        if (error instanceof TooLarge) return sendJson(res, 413, "payload_too_large");
        options.onError?.(error);
        if (error instanceof BodyAlreadyConsumedError) return sendJson(res, 500, "body_already_consumed");
        return sendJson(res, 400, "bad_request");
      }
      let response: Response | undefined;
      try {
        response = await handler(request);
      } catch (error) {
        options.onError?.(error);
        response = Response.json({ ok: false, error: "internal_error" }, { status: 500 });
      }
      if (response === undefined) {
        next();
        return;
      }
      await writeWebResponse(response, res).catch(() => res.destroy());
    })();
  };
}

/**
 * An Express middleware serving the install flow, Sign in with Slack and the events endpoint (see
 * {@link SlackRoutesOptions}); every other request goes on to `next()`. Mount it before body parsers.
 *
 * @example
 * ```ts
 * app.use(slackRouter({ oauth: flow, oidc: signIn, events: slackRequestHandler }));
 * ```
 */
export function slackRouter(routes: SlackRoutesOptions, options: ExpressAdapterOptions = {}): RequestHandler {
  const route = createSlackRouter(routes);
  const owned = new Set(slackRoutePaths(routes));
  const inner = toExpressHandler(route, options);
  return (req, res, next) => {
    // Leave other requests untouched (their bodies unread) for the rest of the app.
    if (!owned.has(req.originalUrl.split("?")[0] ?? "")) {
      next();
      return;
    }
    inner(req, res, next);
  };
}
