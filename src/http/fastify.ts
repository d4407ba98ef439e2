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
import { createSlackRouter, type SlackRoutesOptions, slackRoutePaths } from "./hono.js";

export type { EventsEndpoint, RoutingFlow, SlackRoutesOptions } from "./hono.js";

/**
 * Options of {@link slackPlugin}. With Fastify's `prefix`, the flows' paths must start with it (e.g.
 * `prefix: "/slack"` with the default `/slack/install`): routes are registered at the flows' full paths.
 */
export interface SlackPluginOptions extends SlackRoutesOptions {
  prefix?: string | undefined;
  /** Base URL used to build `request.url` (default: Fastify's `protocol` and `host`, see `trustProxy`). */
  baseUrl?: string | undefined;
}

const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

/**
 * Converts a Fastify request whose body was parsed as a `Buffer` (as inside {@link slackPlugin}) to a web
 * `Request`.
 *
 * @example
 * ```ts
 * const request = toFetchRequest(req);
 * ```
 */
export function toFetchRequest(req: FastifyRequest, baseUrl?: string): Request {
  let base = baseUrl;
  if (!base) {
    let host = req.host;
    if (!HOST_RE.test(host)) host = "localhost";
    base = `${req.protocol === "https" ? "https" : "http"}://${host}`;
  }
  const target = (req.raw.url ?? "/").replace(/^\/{2,}/, "/");
  const url = new URL(target.startsWith("/") ? target : "/", base);
  const headers = new Headers();
  const raw = req.raw.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name !== undefined && value !== undefined) headers.append(name, value);
  }
  const method = req.method;
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  const body = req.body;
  const bytes =
    body instanceof Uint8Array ? body : typeof body === "string" ? Buffer.from(body, "utf8") : new Uint8Array(0);
  return new Request(url, { method, headers, body: bytes });
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
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => {
    done(null, body);
  });
  const prefix = fastify.prefix;
  for (const path of slackRoutePaths(options)) {
    if (prefix && !path.startsWith(prefix)) {
      throw new Error(`slackPlugin: the route ${path} does not start with the plugin's prefix ${prefix}`);
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
