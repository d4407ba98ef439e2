import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { Readable } from "node:stream";

/** A `fetch`-style handler: the shape every core handler of this library has. */
export type FetchHandler = (request: Request) => Promise<Response> | Response;

export interface NodeAdapterOptions {
  /** Largest request body read, in bytes (default 1 MiB); larger bodies get 413 without being read. */
  maxBodyBytes?: number;
  /** Base URL used to build `request.url` (default from the `Host` header, http unless `trustProxy`). */
  baseUrl?: string;
  /** Trust `X-Forwarded-Proto` / `X-Forwarded-Host` (behind a reverse proxy you control). */
  trustProxy?: boolean;
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Converts a Node request to a web `Request` (the body read fully, up to `maxBodyBytes`). */
export async function toWebRequest(req: IncomingMessage, options: NodeAdapterOptions = {}): Promise<Request> {
  const limit = options.maxBodyBytes ?? 1024 * 1024;
  let base = options.baseUrl;
  if (!base) {
    const fwdProto = options.trustProxy ? String(req.headers["x-forwarded-proto"] ?? "").split(",")[0]?.trim() : "";
    const fwdHost = options.trustProxy ? String(req.headers["x-forwarded-host"] ?? "").split(",")[0]?.trim() : "";
    const proto = fwdProto || ("encrypted" in req.socket && req.socket.encrypted ? "https" : "http");
    const host = fwdHost || req.headers.host || "localhost";
    base = `${proto}://${host}`;
  }
  const url = new URL(req.url ?? "/", base);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const value = req.rawHeaders[i + 1];
    if (name !== undefined && value !== undefined) headers.append(name, value);
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  const body = hasBody ? await readBody(req, limit) : undefined;
  return new Request(url, { method, headers, ...(body ? { body } : {}) });
}

/** Writes a web `Response` to a Node response, keeping every `Set-Cookie` header. */
export async function writeWebResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    if (key !== "set-cookie") headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);
  if (!response.body) {
    res.end();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const stream = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
    stream.on("error", reject);
    res.on("finish", resolve);
    res.on("close", resolve);
    stream.pipe(res);
  });
}

/**
 * Adapts a `fetch`-style handler to Node's `http.createServer`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * const server = createServer(toNodeListener((request) => new Response(`hello ${new URL(request.url).pathname}`)));
 * server.listen(3000);
 * ```
 */
export function toNodeListener(handler: FetchHandler, options: NodeAdapterOptions = {}): RequestListener {
  return (req, res) => {
    void (async () => {
      let request: Request;
      try {
        request = await toWebRequest(req, options);
      } catch (error) {
        const tooLarge = error instanceof BodyTooLarge;
        res.writeHead(tooLarge ? 413 : 400, { "content-type": "application/json", connection: "close" });
        res.end(JSON.stringify({ ok: false, error: tooLarge ? "payload_too_large" : "bad_request" }));
        if (tooLarge) req.resume();
        return;
      }
      let response: Response;
      try {
        response = await handler(request);
      } catch {
        response = Response.json({ ok: false, error: "internal_error" }, { status: 500 });
      }
      await writeWebResponse(response, res).catch(() => res.destroy());
    })();
  };
}
