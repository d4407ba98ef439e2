/**
 * The AWS Lambda adapter: turns the HTTP events of Lambda function URLs and API Gateway into web
 * `Request`s and the `Response` back into what Lambda returns, so every route of this library (install,
 * callback, events / commands / interactions, Sign in with Slack) runs on Lambda.
 *
 * Events served:
 * - payload format **2.0**: Lambda function URLs and API Gateway HTTP APIs (the `cookies` array, headers
 *   joined with commas, `rawPath` / `rawQueryString`); answered with `cookies` for `Set-Cookie`;
 * - payload format **1.0**: API Gateway REST APIs, and HTTP APIs set to payload 1.0 (`multiValueHeaders`,
 *   `multiValueQueryStringParameters`); answered with `multiValueHeaders` for `Set-Cookie`.
 *
 * Application Load Balancer events and anything else are refused with an {@link UnsupportedEventError}.
 * Bodies are base64-decoded when the event says so; replies that are not UTF-8 text go back base64.
 *
 * `request.url` is the URL the client used: `https://` + the `Host` header (else the event's domain
 * name) + the path. On a named API Gateway stage (`/prod/…`) or a REST API the stage is part of that path,
 * so give the flows paths with it (`installPath: "/prod/slack/install"`, …) — or use a function URL, the
 * `$default` stage or a custom domain mapped at its root.
 *
 * A Lambda is frozen once its handler returns, so work must not outlive the answer, and Slack wants its
 * answer within 3 seconds: serve the events endpoint with `createHandOffEndpoint` (acknowledge, then hand
 * the work to an asynchronous invocation or a queue) and run it with `createHandOffWorker` behind
 * {@link toLambdaWorker}. See docs/lambda.md.
 *
 * @example
 * ```ts
 * import { slackLambdaHandler } from "slack-oauth-kit/http/lambda";
 *
 * export const handler = slackLambdaHandler({ oauth: flow, oidc: signIn, events: handOffEndpoint });
 * ```
 */
import { ErrorCode, InvalidArgumentError, SlackOAuthError } from "../errors.js";
import { isSlackJob, type SlackJob } from "../events/hand-off.js";
import {
  BodyTooLargeError,
  bodyErrorReply,
  DEFAULT_MAX_BODY_BYTES,
  isSafeHost,
  requestOrigin,
  requestTarget,
  type SlackRoutesOptions,
  toFetchHandler,
} from "./core.js";

export {
  type AckDecision,
  createHandOffEndpoint,
  createHandOffWorker,
  type HandOffEndpointOptions,
  HandOffError,
  type HandOffOutcome,
  type HandOffWorkerOptions,
  isSlackJob,
  SLACK_JOB_TYPE,
  type SlackJob,
} from "../events/hand-off.js";

/**
 * Payload format 2.0: a Lambda function URL or an API Gateway HTTP API event (the fields this adapter
 * reads; `@types/aws-lambda`'s `APIGatewayProxyEventV2` and `LambdaFunctionURLEvent` fit it).
 */
export interface LambdaHttpEventV2 {
  version: string;
  rawPath: string;
  rawQueryString?: string | undefined;
  /** Every cookie of the request (`name=value`), taken out of the `Cookie` headers. */
  cookies?: string[] | undefined;
  /** Header names in lower case; repeated headers joined with commas. */
  headers?: Record<string, string | undefined> | undefined;
  requestContext: {
    domainName?: string | undefined;
    http: { method: string };
  };
  body?: string | null | undefined;
  isBase64Encoded?: boolean | undefined;
}

/**
 * Payload format 1.0: an API Gateway REST API event (or an HTTP API set to payload 1.0); the fields this
 * adapter reads (`@types/aws-lambda`'s `APIGatewayProxyEvent` fits it).
 */
export interface LambdaHttpEventV1 {
  version?: string | undefined;
  httpMethod: string;
  /** The resource path (without a REST API's stage). */
  path: string;
  headers?: Record<string, string | undefined> | null | undefined;
  multiValueHeaders?: Record<string, string[] | undefined> | null | undefined;
  queryStringParameters?: Record<string, string | undefined> | null | undefined;
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null | undefined;
  requestContext?:
    | {
        /** The path the client used (with the stage, or a custom domain's base path). */
        path?: string | undefined;
        domainName?: string | undefined;
      }
    | undefined;
  body?: string | null | undefined;
  isBase64Encoded?: boolean | undefined;
}

/** Any HTTP event the adapter serves: payload 1.0 or 2.0. */
export type LambdaHttpEvent = LambdaHttpEventV1 | LambdaHttpEventV2;

/** What a function answers a payload 2.0 event with. */
export interface LambdaHttpResultV2 {
  statusCode: number;
  headers: Record<string, string>;
  /** Each one becomes a `Set-Cookie` header. */
  cookies?: string[];
  body: string;
  isBase64Encoded: boolean;
}

/** What a function answers a payload 1.0 event with. */
export interface LambdaHttpResultV1 {
  statusCode: number;
  headers: Record<string, string>;
  /** `set-cookie` (one entry per cookie) when the reply sets cookies. */
  multiValueHeaders?: Record<string, string[]>;
  body: string;
  isBase64Encoded: boolean;
}

/** What the adapter answers: the result of the event's payload format. */
export type LambdaHttpResult = LambdaHttpResultV1 | LambdaHttpResultV2;

/** Options of {@link toLambdaHandler} and {@link lambdaEventToRequest}. */
export interface LambdaAdapterOptions {
  /** Largest request body, decoded, in bytes (default 1 MiB); larger bodies get 413. */
  maxBodyBytes?: number | undefined;
  /**
   * Scheme and host of `request.url` (e.g. `https://slack.example.com` behind CloudFront, whose `Host`
   * is the function URL's). Default: `https://` and the request's `Host` header (else the event's domain).
   */
  baseUrl?: string | undefined;
  /** Told when the handler throws (the client gets a 500 JSON reply); nothing is logged otherwise. */
  onError?: ((error: unknown, request: Request) => void) | undefined;
}

/** The Lambda handler: an HTTP event in, the matching result out. */
export type LambdaHttpHandler = (event: LambdaHttpEvent, context?: unknown) => Promise<LambdaHttpResult>;

/**
 * The event is not one this adapter serves (an ALB, S3 or SQS event given to the HTTP handler; something
 * other than a job or an SQS batch given to the worker). Code `SLACK_OAUTH_UNSUPPORTED_EVENT`.
 */
export class UnsupportedEventError extends SlackOAuthError {
  constructor(message: string) {
    super(ErrorCode.UnsupportedEvent, message, { status: 400 });
  }
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const LOOPBACK_RE = /^(?:localhost|127\.\d+\.\d+\.\d+|\[::1\])(?::\d+)?$/;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Which payload format `event` is, or why it is none. */
function formatOf(event: unknown): "1.0" | "2.0" {
  if (!isRecord(event)) throw new UnsupportedEventError("lambda: the event is not an object");
  const ctx = event.requestContext;
  if (isRecord(ctx) && isRecord(ctx.elb)) {
    throw new UnsupportedEventError(
      "lambda: Application Load Balancer events are not supported (use a function URL or API Gateway)",
    );
  }
  if (event.version === "2.0") {
    if (
      typeof event.rawPath === "string" &&
      isRecord(ctx) &&
      isRecord(ctx.http) &&
      typeof ctx.http.method === "string"
    ) {
      return "2.0";
    }
    throw new UnsupportedEventError("lambda: a payload 2.0 event needs rawPath and requestContext.http.method");
  }
  if (
    (event.version === undefined || event.version === "1.0") &&
    typeof event.httpMethod === "string" &&
    typeof event.path === "string"
  ) {
    return "1.0";
  }
  throw new UnsupportedEventError(
    "lambda: not an HTTP event of a function URL or API Gateway (payload format 1.0 or 2.0)",
  );
}

function decodeBody(body: string | null | undefined, base64: boolean | undefined, limit: number): Uint8Array {
  if (body === undefined || body === null || body === "") return new Uint8Array(0);
  let bytes: Uint8Array;
  if (base64) {
    // 4 base64 characters carry 3 bytes: refuse before decoding anything far too large.
    if ((body.length / 4) * 3 > limit + 3) throw new BodyTooLargeError(limit);
    if (!BASE64_RE.test(body)) {
      throw new InvalidArgumentError("lambda: isBase64Encoded is set but the body is not base64");
    }
    bytes = Buffer.from(body, "base64");
  } else {
    // A UTF-8 encoding takes at least one byte per UTF-16 code unit.
    if (body.length > limit) throw new BodyTooLargeError(limit);
    bytes = Buffer.from(body, "utf8");
  }
  if (bytes.byteLength > limit) throw new BodyTooLargeError(limit);
  return bytes;
}

function originOf(headers: Headers, domainName: unknown, options: LambdaAdapterOptions): string {
  let host = headers.get("host") ?? "";
  if (!isSafeHost(host)) host = typeof domainName === "string" && isSafeHost(domainName) ? domainName : "";
  // Function URLs and API Gateway serve HTTPS only; plain http is believed only on a loopback host
  // (`sam local`, a test harness), where no AWS front door can be.
  const proto = headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  const secure = !(proto === "http" && LOOPBACK_RE.test(host));
  return requestOrigin({ baseUrl: options.baseUrl, secure, host: host || undefined });
}

/** The URL of an event's request: only a path (an absolute or `//` target cannot choose the host). */
function urlOf(path: unknown, query: string, origin: string): URL {
  const target = typeof path === "string" && path.startsWith("/") ? requestTarget(path) : "/";
  return new URL(`${target}${query ? `?${query}` : ""}`, origin);
}

function eventV2ToRequest(event: LambdaHttpEventV2, options: LambdaAdapterOptions): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    // The cookies come from the `cookies` array when there is one (function URLs may repeat them here).
    if (value === undefined || (name.toLowerCase() === "cookie" && event.cookies !== undefined)) continue;
    headers.append(name, value);
  }
  if (Array.isArray(event.cookies) && event.cookies.length > 0) headers.set("cookie", event.cookies.join("; "));
  const query = (event.rawQueryString ?? "").replace(/^\?/, "");
  const url = urlOf(event.rawPath, query, originOf(headers, event.requestContext.domainName, options));
  return build(event.requestContext.http.method, url, headers, event.body, event.isBase64Encoded, options);
}

function eventV1ToRequest(event: LambdaHttpEventV1, options: LambdaAdapterOptions): Request {
  const headers = new Headers();
  const multi = event.multiValueHeaders ?? {};
  for (const [name, values] of Object.entries(multi)) for (const v of values ?? []) headers.append(name, v);
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined && !headers.has(name)) headers.set(name, value);
  }
  // API Gateway decodes query parameters; they are encoded again here.
  const query = new URLSearchParams();
  const multiQuery = event.multiValueQueryStringParameters ?? {};
  for (const [name, values] of Object.entries(multiQuery)) for (const v of values ?? []) query.append(name, v);
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined && !query.has(name)) query.set(name, value);
  }
  const path = typeof event.requestContext?.path === "string" ? event.requestContext.path : event.path;
  const url = urlOf(path, query.toString(), originOf(headers, event.requestContext?.domainName, options));
  return build(event.httpMethod, url, headers, event.body, event.isBase64Encoded, options);
}

function build(
  method: string,
  url: URL,
  headers: Headers,
  body: string | null | undefined,
  base64: boolean | undefined,
  options: LambdaAdapterOptions,
): Request {
  const m = method.toUpperCase();
  if (m === "GET" || m === "HEAD") return new Request(url, { method: m, headers });
  const bytes = decodeBody(body, base64, options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  // A decoded body's length replaces whatever the event's headers said.
  headers.delete("content-length");
  return new Request(url, { method: m, headers, body: bytes });
}

/**
 * Converts a function URL or API Gateway event (payload 1.0 or 2.0) to a web `Request`: headers (all
 * values of repeated ones), cookies, query, and the body decoded from base64 when the event says so.
 * Throws {@link UnsupportedEventError} for any other event, the HTTP core's coded `BodyTooLargeError`
 * when the body is larger than `maxBodyBytes`, and an `InvalidArgumentError` when it is not valid base64.
 *
 * @example
 * ```ts
 * const request = lambdaEventToRequest(event);
 * const { pathname } = new URL(request.url);
 * ```
 */
export function lambdaEventToRequest(event: LambdaHttpEvent, options: LambdaAdapterOptions = {}): Request {
  return formatOf(event) === "2.0"
    ? eventV2ToRequest(event as LambdaHttpEventV2, options)
    : eventV1ToRequest(event as LambdaHttpEventV1, options);
}

const TEXT_TYPE_RE =
  /^(?:text\/|application\/(?:json|xml|javascript|x-www-form-urlencoded)$|application\/[\w.+-]+\+(?:json|xml)$)/;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The body as Lambda wants it: UTF-8 text as is, anything else (or compressed) base64. */
function encodeBody(bytes: Uint8Array, headers: Headers): { body: string; isBase64Encoded: boolean } {
  if (bytes.byteLength === 0) return { body: "", isBase64Encoded: false };
  const type = (headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const encoded = headers.has("content-encoding") && headers.get("content-encoding") !== "identity";
  if (!encoded && TEXT_TYPE_RE.test(type)) {
    try {
      return { body: UTF8.decode(bytes), isBase64Encoded: false };
    } catch {
      // not UTF-8 after all: sent as base64 below
    }
  }
  return { body: Buffer.from(bytes).toString("base64"), isBase64Encoded: true };
}

/**
 * Converts a web `Response` to the result of the given payload format: every `Set-Cookie` kept (in
 * `cookies` for 2.0, in `multiValueHeaders` for 1.0), other headers as strings, the body read fully
 * (nothing keeps running after the handler returns) and base64-encoded unless it is UTF-8 text. A reply
 * to `HEAD` (and 204 / 304) has no body.
 *
 * @example
 * ```ts
 * return responseToLambdaResult(new Response("ok"), "2.0");
 * ```
 */
export async function responseToLambdaResult(
  response: Response,
  format: "1.0" | "2.0",
  method = "GET",
): Promise<LambdaHttpResult> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie" && name !== "content-length") headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  const noBody = method.toUpperCase() === "HEAD" || response.status === 204 || response.status === 304;
  let bytes = new Uint8Array(0);
  if (response.body) {
    if (noBody) await response.body.cancel().catch(() => undefined);
    else bytes = new Uint8Array(await response.arrayBuffer());
  }
  const { body, isBase64Encoded } = encodeBody(bytes, response.headers);
  if (format === "2.0") {
    const result: LambdaHttpResultV2 = { statusCode: response.status, headers, body, isBase64Encoded };
    if (cookies.length > 0) result.cookies = cookies;
    return result;
  }
  const result: LambdaHttpResultV1 = { statusCode: response.status, headers, body, isBase64Encoded };
  if (cookies.length > 0) result.multiValueHeaders = { "set-cookie": cookies };
  return result;
}

/**
 * The HTTP core's reply to a body that could not be taken (413 `payload_too_large`, else 400
 * `bad_request`), in the shape both payload formats share. No `connection` header: the front door owns
 * the connection.
 */
function bodyErrorResult(error: unknown): LambdaHttpResult {
  const { status, headers, body } = bodyErrorReply(error);
  const { connection: _connection, ...rest } = headers;
  return { statusCode: status, headers: rest, body, isBase64Encoded: false };
}

/**
 * Adapts a `fetch`-style handler to Lambda (function URLs and API Gateway, payload 1.0 and 2.0). The
 * handler's answer is awaited and read to its end before the function returns. A body over
 * `maxBodyBytes` gets 413, a body that is not the base64 the event claims 400, and a handler that throws a
 * 500 JSON reply (`onError` is told why). An event that is not an HTTP event throws
 * {@link UnsupportedEventError}.
 *
 * @example
 * ```ts
 * export const handler = toLambdaHandler(async (request) => new Response(`hello ${new URL(request.url).pathname}`));
 * ```
 */
export function toLambdaHandler(
  handler: (request: Request) => Promise<Response> | Response,
  options: LambdaAdapterOptions = {},
): LambdaHttpHandler {
  return async (event) => {
    const format = formatOf(event);
    let request: Request;
    try {
      request = lambdaEventToRequest(event, options);
    } catch (error) {
      return bodyErrorResult(error); // too large: 413; not base64, a method fetch refuses: 400
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
    return responseToLambdaResult(response, format, request.method);
  };
}

/**
 * The library's routes as a Lambda handler: the install flow, Sign in with Slack and the events endpoint
 * (`toFetchHandler(routes)` behind {@link toLambdaHandler}); 404 for other paths. For the events
 * endpoint use `createHandOffEndpoint`, so that Slack is acknowledged at once and the work runs elsewhere.
 *
 * @example
 * ```ts
 * export const handler = slackLambdaHandler({ oauth: flow, oidc: signIn, events: handOffEndpoint });
 * ```
 */
export function slackLambdaHandler(routes: SlackRoutesOptions, options: LambdaAdapterOptions = {}): LambdaHttpHandler {
  return toLambdaHandler(toFetchHandler(routes), options);
}

/** An SQS batch as Lambda delivers it (the fields the worker reads). */
export interface SqsBatchEvent {
  Records: Array<{ messageId: string; body: string; eventSource?: string | undefined }>;
}

/** SQS partial batch response: the messages to deliver again (enable `ReportBatchItemFailures`). */
export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/** Options of {@link toLambdaWorker}. */
export interface LambdaWorkerOptions {
  /** Told about each job that failed in an SQS batch (it is reported for redelivery, not thrown). */
  onError?: ((error: unknown, messageId: string) => void) | undefined;
}

/**
 * The worker as a Lambda handler, for both ways of handing work off: an asynchronous invocation whose
 * event is the {@link SlackJob} itself (a failure throws, so Lambda retries it and then sends it to the
 * function's on-failure destination), or an SQS batch (each message's body a job; failures are returned
 * as `batchItemFailures`, so only they are delivered again — enable `ReportBatchItemFailures`). Any other
 * event throws {@link UnsupportedEventError}.
 *
 * @example
 * ```ts
 * export const worker = toLambdaWorker(createHandOffWorker({ signingSecret, authorize, onCommand }));
 * ```
 */
export function toLambdaWorker(
  worker: (job: SlackJob) => Promise<unknown>,
  options: LambdaWorkerOptions = {},
): (event: unknown, context?: unknown) => Promise<unknown> {
  return async (event) => {
    // An asynchronous invocation: the worker's outcome (Lambda ignores it); a failure throws.
    if (isSlackJob(event)) return worker(event);
    if (isRecord(event) && Array.isArray(event.Records)) {
      const failures: SqsBatchResponse["batchItemFailures"] = [];
      for (const record of event.Records as unknown[]) {
        if (!isRecord(record) || typeof record.messageId !== "string") {
          throw new UnsupportedEventError("lambda worker: an SQS record without messageId");
        }
        try {
          const job: unknown = typeof record.body === "string" ? JSON.parse(record.body) : undefined;
          if (!isSlackJob(job)) throw new UnsupportedEventError("lambda worker: an SQS message that is not a job");
          await worker(job);
        } catch (error) {
          try {
            options.onError?.(error, record.messageId);
          } catch {
            // reporting must not stop the batch
          }
          failures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures: failures };
    }
    throw new UnsupportedEventError("lambda worker: the event is neither a slack-oauth-kit job nor an SQS batch");
  };
}
