/**
 * The Fastify 5 adapter: a plugin serving the install flow, Sign in with Slack and the events endpoint.
 * Inside the plugin's own scope every content type is parsed as a raw `Buffer` (Slack's signature covers
 * the exact bytes received); the rest of the app keeps its own parsers.
 *
 * @example
 * ```ts
 * import Fastify from "fastify";
 * import { slackPlugin } from "slack-oauth-kit/http/fastify";
 *
 * const app = Fastify();
 * await app.register(slackPlugin, { oauth: flow, events: slackRequestHandler });
 * await app.listen({ port: 3000 });
 * ```
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { ConfigError } from "../errors.js";
import {
  BodyReadTimeoutError,
  BodyTooLargeError,
  bodyErrorReply,
  collectBody,
  createSlackRouter,
  headersFromRaw,
  requestOrigin,
  requestUrl,
  resolveBodyLimits,
  type SlackRoutesOptions,
  slackRoutePaths,
} from "./core.js";

export type { EventsEndpoint, RoutingFlow, SlackRoutesOptions } from "./core.js";

/**
 * Options of {@link slackPlugin}. With Fastify's `prefix`, the flows' paths must start with it (e.g.
 * `prefix: "/slack"` with the default `/slack/install`): routes are registered at the flows' full paths.
 */
export interface SlackPluginOptions extends SlackRoutesOptions {
  prefix?: string | undefined;
  /** Base URL used to build `request.url` (default: Fastify's `protocol` and `host`, see `trustProxy`). */
  baseUrl?: string | undefined;
  /** Largest request body read, in bytes (default 1 MiB); larger bodies get 413. */
  maxBodyBytes?: number | undefined;
  /** Time for a whole request body to arrive, in ms (default 10 s; 0: none); else 408. */
  bodyTimeoutMs?: number | undefined;
}

/**
 * Converts a Fastify request whose body was read as raw bytes (as inside {@link slackPlugin}) to a web
 * `Request`.
 *
 * @example
 * ```ts
 * const request = toFetchRequest(req);
 * ```
 */
export function toFetchRequest(req: FastifyRequest, baseUrl?: string): Request {
  const origin = baseUrl ?? requestOrigin({ secure: req.protocol === "https", host: req.host });
  const url = requestUrl(origin, req.raw.url);
  const init: RequestInit = { method: req.method, headers: headersFromRaw(req.raw.rawHeaders) };
  if (req.method !== "GET" && req.method !== "HEAD") {
    const body = req.body;
    init.body = body instanceof Uint8Array ? body : typeof body === "string" ? body : new Uint8Array(0);
  }
  return new Request(url, init);
}
/**
 * Writes a web `Response` to a Fastify reply, keeping every `Set-Cookie` header.
 *
 * @example
 * ```ts
 * return sendWebResponse(reply, new Response("ok"));
 * ```
 */
export async function sendWebResponse(reply: FastifyReply, response: Response): Promise<FastifyReply> {
  reply.status(response.status);
  response.headers.forEach((value, key) => {
    if (key !== "set-cookie" && key !== "content-length") reply.header(key, value);
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) reply.header("set-cookie", cookies);
  const body = response.body ? Buffer.from(await response.arrayBuffer()) : undefined;
  return reply.send(body);
}

/**
 * The Fastify plugin. Register it (not wrapped in `fastify-plugin`: its raw-body parser must stay
 * scoped to it).
 *
 * @example
 * ```ts
 * await app.register(slackPlugin, { oauth: flow, oidc: signIn, events: slackRequestHandler });
 * ```
 */
export const slackPlugin: FastifyPluginAsync<SlackPluginOptions> = async (fastify, options) => {
  const route = createSlackRouter(options);
  const limits = resolveBodyLimits({ maxBytes: options.maxBodyBytes, timeoutMs: options.bodyTimeoutMs });
  // Every content type read raw by the core's bounded reader (Fastify's own limit would answer otherwise).
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", (_req, payload, done) => {
    collectBody(payload, limits, (error, body) => (error ? done(error, undefined) : done(null, body)));
  });
  fastify.setErrorHandler((error, _req, reply) => {
    if (!(error instanceof BodyTooLargeError || error instanceof BodyReadTimeoutError)) throw error;
    const { status, headers, body } = bodyErrorReply(error);
    return reply.code(status).headers(headers).send(body);
  });
  const prefix = fastify.prefix;
  for (const path of slackRoutePaths(options)) {
    if (prefix && !path.startsWith(prefix)) {
      throw new ConfigError(`slackPlugin: the route ${path} does not start with the plugin's prefix ${prefix}`);
    }
    fastify.route({
      method: ["GET", "HEAD", "POST"],
      url: prefix ? path.slice(prefix.length) || "/" : path,
      exposeHeadRoute: false,
      handler: async (req, reply) => {
        const response = await route(toFetchRequest(req, options.baseUrl));
        if (!response) return reply.callNotFound();
        return sendWebResponse(reply, response);
      },
    });
  }
};

export default slackPlugin;
