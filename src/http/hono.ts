/**
 * The Hono middleware serving this library's routes (the router itself is in `./core.ts`). Hono (and Bun,
 * Deno, Cloudflare Workers, …) already speak web `Request`/`Response`, so nothing is converted: the
 * request's body reaches the events handler byte-exact, as its signature needs.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { slackRoutes } from "slack-oauth-kit/http/hono";
 *
 * const app = new Hono();
 * app.use(slackRoutes({ oauth: flow, events: slackRequestHandler }));
 * // any other fetch runtime: export default { fetch: toFetchHandler({ oauth: flow, events }) };
 * ```
 */
import type { MiddlewareHandler } from "hono";
import { createSlackRouter, type SlackRoutesOptions } from "./core.js";

// The router lives in the HTTP core; re-exported here, where it was first published.
export {
  createSlackRouter,
  DEFAULT_EVENTS_PATH,
  type EventsEndpoint,
  type RoutingFlow,
  type SlackRoutesOptions,
  slackRoutePaths,
  toFetchHandler,
} from "./core.js";

/**
 * A Hono middleware serving the routes; requests for other paths go on to the next handler.
 * Use it on a Hono app (`app.use(slackRoutes(...))`) or on a sub-path (`app.all("/slack/*", ...)`):
 * the flows see the full URL, so their paths are the full paths.
 *
 * @example
 * ```ts
 * const app = new Hono();
 * app.use(slackRoutes({ oauth: flow, oidc: signIn, events: slackRequestHandler }));
 * app.get("/", (c) => c.text("home"));
 * ```
 */
export function slackRoutes(options: SlackRoutesOptions): MiddlewareHandler {
  const route = createSlackRouter(options);
  return async (c, next) => {
    const response = await route(c.req.raw);
    if (response) return response;
    await next();
    return undefined;
  };
}
