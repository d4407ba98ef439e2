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
import { ErrorCode, SlackOAuthError } from "../errors.js";
import {
  bodyErrorReply,
  createSlackRouter,
  nodeToWebRequest,
  requestOrigin,
  requestUrl,
  resolveBodyLimits,
  type SlackRoutesOptions,
  slackRoutePaths,
} from "./core.js";
import { writeWebResponse } from "./node.js";

export type { EventsEndpoint, RoutingFlow, SlackRoutesOptions } from "./core.js";

/** Options of {@link slackRouter} and {@link toExpressHandler}. */
export interface ExpressAdapterOptions {
  /** Largest request body read, in bytes (default 1 MiB); larger bodies get 413. */
  maxBodyBytes?: number | undefined;
  /** Time for a whole request body to arrive, in ms (default 10 s; 0: none); else 408. */
  bodyTimeoutMs?: number | undefined;
  /**
   * Base URL used to build `request.url` (default: Express's `req.protocol` — which honours the app's
   * `trust proxy` setting — and the `Host` header).
   */
  baseUrl?: string | undefined;
  /** Told about adapter failures (consumed body, a throwing handler); nothing is logged otherwise. */
  onError?: ((error: unknown) => void) | undefined;
}

/** The request body was already read by a body parser mounted before this middleware. */
export class BodyAlreadyConsumedError extends SlackOAuthError {
  constructor() {
    super(
      ErrorCode.BodyAlreadyConsumed,
      "slack-oauth-kit/http/express: the request body was already consumed (a body parser such as express.json() " +
        "or express.urlencoded() ran first). Mount slackRouter() before any body parser: Slack signatures need the raw bytes.",
      { status: 500 },
    );
  }
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
  const origin = options.baseUrl ?? requestOrigin({ secure: req.protocol === "https", host: req.get("host") });
  const url = requestUrl(origin, req.originalUrl || req.url);
  const consumed = (req as { _body?: unknown })._body === true || req.readableEnded;
  if (consumed && req.method !== "GET" && req.method !== "HEAD") throw new BodyAlreadyConsumedError();
  return nodeToWebRequest(req, url, { maxBytes: options.maxBodyBytes, timeoutMs: options.bodyTimeoutMs });
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
  resolveBodyLimits({ maxBytes: options.maxBodyBytes, timeoutMs: options.bodyTimeoutMs }); // bad limits fail now
  return (req: ExpressRequest, res: ExpressResponse, next: NextFunction): void => {
    void (async () => {
      let response: Response | undefined;
      try {
        const request = await toFetchRequest(req, options).catch((error: unknown) => {
          const reply = bodyErrorReply(error);
          if (reply.status === 400) options.onError?.(error); // not a limit: the app should hear of it
          if (error instanceof BodyAlreadyConsumedError) {
            return Response.json({ ok: false, error: "body_already_consumed" }, { status: 500 });
          }
          return new Response(reply.body, reply);
        });
        response = request instanceof Response ? request : await handler(request);
      } catch (error) {
        options.onError?.(error);
        response = Response.json({ ok: false, error: "internal_error" }, { status: 500 });
      }
      if (response === undefined) next();
      else await writeWebResponse(response, res).catch(() => res.destroy());
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
