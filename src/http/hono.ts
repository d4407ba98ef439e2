/**
 * The fetch-style routes of this library in one handler, and a Hono middleware around it. Hono (and Bun,
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

/** A routing flow: `OAuthFlow`, `OpenIDConnectFlow` (answers `undefined` for paths it does not own). */
export interface RoutingFlow {
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
  /** Path of the events endpoint (default `/slack/events`). */
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
