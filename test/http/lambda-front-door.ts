/**
 * A stand-in for AWS's HTTP front doors, for tests: a local HTTP server that turns each request into the
 * event a Lambda function URL, an API Gateway HTTP API or an API Gateway REST API would send (the shapes
 * recorded in AWS's documentation and in real invocations, written out below), calls the Lambda handler,
 * and turns its result back into an HTTP reply the way that front door does (payload 2.0: `cookies` →
 * `Set-Cookie`; payload 1.0: `multiValueHeaders` win over `headers`; base64 bodies decoded).
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export type FrontDoorKind = "function-url" | "http-api" | "rest-api";

export interface FrontDoor {
  /** `http://127.0.0.1:PORT` plus the stage (`/prod`) where the front door has one in its URLs. */
  url: string;
  /** Every event handed to the function, in order. */
  events: Record<string, unknown>[];
  close(): Promise<void>;
}

type Handler = (event: Record<string, unknown>) => Promise<unknown>;

const TEXT_TYPE = /^(?:text\/|application\/(?:json|x-www-form-urlencoded|xml)\b)/i;
const API_ID = "a1b2c3d4e5";
const ACCOUNT = "123456789012";

function clfTime(ms: number): string {
  // "12/Mar/2020:19:03:58 +0000"
  const d = new Date(ms);
  const mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getUTCMonth()];
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Header name → every value, names lower-cased. */
function headerValues(req: IncomingMessage): Map<string, { name: string; values: string[] }> {
  const out = new Map<string, { name: string; values: string[] }>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    const value = req.rawHeaders[i + 1] as string;
    const entry = out.get(name.toLowerCase()) ?? { name, values: [] };
    entry.values.push(value);
    out.set(name.toLowerCase(), entry);
  }
  return out;
}

/** Payload 2.0 (function URL, HTTP API): recorded shape. */
function eventV2(kind: "function-url" | "http-api", req: IncomingMessage, body: Buffer, host: string, stage: string) {
  const target = new URL(req.url ?? "/", "http://x");
  const all = headerValues(req);
  const headers: Record<string, string> = {};
  for (const [lower, { values }] of all) headers[lower] = values.join(",");
  const cookieHeader = all.get("cookie")?.values.join("; ");
  const cookies = cookieHeader ? cookieHeader.split(/;\s*/).filter(Boolean) : undefined;
  // An HTTP API moves the cookies out of the headers; a function URL keeps both.
  if (kind === "http-api") delete headers.cookie;
  headers["x-forwarded-proto"] = "http";
  headers["x-forwarded-port"] = host.split(":")[1] ?? "80";
  headers["x-forwarded-for"] = "127.0.0.1";
  headers["x-amzn-trace-id"] = "Root=1-62ecd163-5f302e550dcde3b12402207d";
  const query: Record<string, string> = {};
  for (const [k, v] of target.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const now = Date.now();
  const contentType = headers["content-type"] ?? "";
  // A function URL base64-encodes binary bodies only; this HTTP API stand-in encodes every body, as
  // HTTP APIs do for form posts (the Slack case that trips adapters).
  const base64 = body.length > 0 && (kind === "http-api" || !TEXT_TYPE.test(contentType));
  const event: Record<string, unknown> = {
    version: "2.0",
    routeKey: kind === "http-api" ? "ANY /{proxy+}" : "$default",
    rawPath: target.pathname,
    rawQueryString: target.search.slice(1),
    ...(cookies ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: kind === "function-url" ? "anonymous" : ACCOUNT,
      apiId: API_ID,
      domainName: host.split(":")[0],
      domainPrefix: API_ID,
      http: {
        method: req.method,
        path: target.pathname,
        protocol: "HTTP/1.1",
        sourceIp: "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: `${now.toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
      routeKey: kind === "http-api" ? "ANY /{proxy+}" : "$default",
      stage,
      time: clfTime(now),
      timeEpoch: now,
    },
    ...(body.length ? { body: base64 ? body.toString("base64") : body.toString("utf8") } : {}),
    ...(kind === "http-api"
      ? { pathParameters: { proxy: target.pathname.slice(stage === "$default" ? 1 : stage.length + 2) } }
      : {}),
    isBase64Encoded: base64,
  };
  return event;
}

/** Payload 1.0 (REST API with a stage): recorded shape. */
function eventV1(req: IncomingMessage, body: Buffer, host: string, stage: string) {
  const target = new URL(req.url ?? "/", "http://x");
  const all = headerValues(req);
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [, { name, values }] of all) {
    headers[name] = values.at(-1) as string;
    multiValueHeaders[name] = values;
  }
  for (const [name, value] of [
    ["X-Forwarded-Proto", "http"],
    ["X-Forwarded-Port", host.split(":")[1] ?? "80"],
    ["X-Forwarded-For", "127.0.0.1"],
    ["X-Amzn-Trace-Id", "Root=1-5e66d96f-7491f09xmpl79d18acf3d050"],
  ] as const) {
    headers[name] = value;
    multiValueHeaders[name] = [value];
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of target.searchParams) {
    query[k] = v;
    const values = multiQuery[k] ?? [];
    values.push(v);
    multiQuery[k] = values;
  }
  const stagePrefix = `/${stage}`;
  const resourcePath = target.pathname.startsWith(`${stagePrefix}/`)
    ? target.pathname.slice(stagePrefix.length)
    : target.pathname;
  const now = Date.now();
  const contentType = headers["Content-Type"] ?? headers["content-type"] ?? "";
  const base64 = body.length > 0 && !TEXT_TYPE.test(contentType); // binary media types only
  return {
    resource: "/{proxy+}",
    path: resourcePath,
    httpMethod: req.method,
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length ? query : null,
    multiValueQueryStringParameters: Object.keys(multiQuery).length ? multiQuery : null,
    pathParameters: { proxy: resourcePath.slice(1) },
    stageVariables: null,
    requestContext: {
      accountId: ACCOUNT,
      apiId: API_ID,
      domainName: host.split(":")[0],
      domainPrefix: API_ID,
      extendedRequestId: "JJbxmHc6PHcFqEw=",
      httpMethod: req.method,
      identity: {
        accessKey: null,
        accountId: null,
        caller: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: "127.0.0.1",
        user: null,
        userAgent: headers["User-Agent"] ?? headers["user-agent"] ?? "",
        userArn: null,
      },
      path: target.pathname,
      protocol: "HTTP/1.1",
      requestId: `${now.toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
      requestTime: clfTime(now),
      requestTimeEpoch: now,
      resourceId: "2gxmpl",
      resourcePath: "/{proxy+}",
      stage,
    },
    body: body.length ? (base64 ? body.toString("base64") : body.toString("utf8")) : null,
    isBase64Encoded: base64,
  };
}

/**
 * Starts a front door of `kind` in front of `handler`. `stage`: the API Gateway stage in the URL path
 * (`null` for a function URL or a `$default` stage).
 */
export async function startFrontDoor(kind: FrontDoorKind, handler: Handler, stage: string | null): Promise<FrontDoor> {
  const events: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const host = req.headers.host ?? "127.0.0.1";
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (stage !== null && !path.startsWith(`/${stage}/`)) {
        // What API Gateway answers for a path outside every stage.
        res.writeHead(404, { "content-type": "application/json" }).end('{"message":"Not Found"}');
        return;
      }
      const event =
        kind === "rest-api"
          ? eventV1(req, body, host, stage ?? "$default")
          : eventV2(kind, req, body, host, stage ?? "$default");
      events.push(event);
      let result: Record<string, unknown>;
      try {
        result = (await handler(event)) as Record<string, unknown>;
      } catch {
        // The function failed: what the front doors answer then.
        res.writeHead(502, { "content-type": "application/json" }).end('{"message":"Internal Server Error"}');
        return;
      }
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries((result.headers as Record<string, string>) ?? {}))
        headers[k.toLowerCase()] = v;
      if (kind === "rest-api") {
        for (const [k, v] of Object.entries((result.multiValueHeaders as Record<string, string[]>) ?? {})) {
          headers[k.toLowerCase()] = v;
        }
      } else if (Array.isArray(result.cookies) && result.cookies.length > 0) {
        headers["set-cookie"] = result.cookies as string[];
      }
      const raw = typeof result.body === "string" ? result.body : "";
      const bytes = result.isBase64Encoded === true ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8");
      res.writeHead(result.statusCode as number, headers);
      res.end(req.method === "HEAD" ? undefined : bytes);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${stage === null ? "" : `/${stage}`}`,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
