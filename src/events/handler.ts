import type { AuthorizeFn, AuthorizeResult } from "../authorize/authorize.js";
import { type AuthorizeContext, CONTEXT_FIELDS, extractContext } from "../authorize/context.js";
import { recordTeamAccess } from "../authorize/team-access.js";
import { rejectRenamedClock } from "../clock.js";
import { ConfigError } from "../errors.js";
import {
  BodyTooLargeError,
  bodyErrorReply,
  bodyErrorResponse,
  DEFAULT_MAX_BODY_BYTES,
  type ResolvedBodyLimits,
  readBody,
  resolveBodyLimits,
} from "../http/core.js";
import { type BoundMetrics, bindMetrics, type MetricsOptions, type SlackRequestMetricKind } from "../metrics/hooks.js";
import { consoleLogger, type Logger, redact, redactValue, registerSecret } from "../redact.js";
import { type HeaderSource, readHeader, SignatureVerifier } from "../signature/signature.js";
import { LruTtlCache } from "../stores/cache.js";
import { type InstallationStore, isValidId, type WorkspaceQuery } from "../stores/installation-store.js";
import { parseFormBody, scanFormFields } from "./body.js";

/**
 * What kind of request Slack sent: an Events API delivery, a slash command, or an interactivity payload.
 *
 * @example
 * ```ts
 * const kind: SlackRequestKind = "command";
 * ```
 */
export type SlackRequestKind = "event" | "command" | "interaction";

/**
 * Everything a handler gets for one verified Slack request.
 *
 * @example
 * ```ts
 * const onCommand = async (req: SlackRequest<"command">) => {
 *   const { botToken } = await req.authorize();
 *   return { response_type: "ephemeral", text: `Hi <@${req.context.userId}>` };
 * };
 * ```
 */
export interface SlackRequest<K extends SlackRequestKind = SlackRequestKind> {
  kind: K;
  /**
   * The Events API wrapper, the slash command's fields (strings), or the interactivity payload. A slash
   * command's fields are parsed on first read: a handler that only acknowledges, or hands `rawBody` to a
   * queue, does not pay for them (`context` is found from the few fields it needs).
   */
  body: Record<string, unknown>;
  /** The verified raw body, as received (UTF-8 text). */
  rawBody: string;
  /** Who the request is about. */
  context: AuthorizeContext;
  /** Looks up the tokens for `context` (memoised; throws `NotInstalledError` when not installed). */
  authorize(): Promise<AuthorizeResult>;
  /** `X-Slack-Retry-Num`, when Slack is retrying a delivery. */
  retryNum?: number;
  /** `X-Slack-Retry-Reason` (`http_timeout`, `http_error`, …), when Slack is retrying a delivery. */
  retryReason?: string;
  /** The request as a web `Request` (built on first access when the request came through `handleRaw`). */
  request: Request;
}

/**
 * A request as the Node adapter sees it, before any web `Request` is built: building one costs more than
 * the whole rest of the hot path on Node 20, so {@link SlackRequestHandler.handleRaw} works from this.
 */
export interface RawSlackRequest {
  method: string;
  /** Node's `IncomingHttpHeaders`, a plain record in any key case, or `Headers`. */
  headers: HeaderSource;
  /** The exact bytes received (already size-limited by the caller). */
  body: Uint8Array;
  /** The full URL, used only if a handler asks for `req.request`. */
  url: string;
  /**
   * True when every name in `headers` is lower-case (Node's `IncomingHttpHeaders` always are): the
   * handler then reads its headers directly instead of looking for other spellings.
   */
  headerNamesLowerCase?: boolean | undefined;
}

/** A reply as plain data, for adapters that write it without a web `Response`. */
export interface RawSlackResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array | null;
}

/**
 * A handler's answer: a `Response`, a string (sent as `text/plain`), an object (sent as JSON), or
 * nothing (an empty 200, Slack's acknowledgement).
 *
 * @example
 * ```ts
 * const answer: HandlerResult = { response_type: "ephemeral", text: "Done" };
 * ```
 */
export type HandlerResult = Response | string | Record<string, unknown> | undefined;

/**
 * A handler of one kind of request. Throwing (or returning a 5xx `Response`) answers 500; for events,
 * Slack's retry of that delivery then runs the handler again.
 *
 * @example
 * ```ts
 * const onEvent: SlackHandler<"event"> = (req) => { console.log(req.body.event); };
 * ```
 */
export type SlackHandler<K extends SlackRequestKind> = (
  req: SlackRequest<K>,
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler that returns nothing acknowledges (empty 200).
) => HandlerResult | void | Promise<HandlerResult | void>;

/**
 * Options of {@link SlackRequestHandler}.
 *
 * @example
 * ```ts
 * const options: SlackRequestHandlerOptions = { signingSecret: process.env.SLACK_SIGNING_SECRET ?? "", authorize };
 * ```
 */
export interface SlackRequestHandlerOptions {
  /** The app's signing secret (32 hex characters): every request is verified with it. */
  signingSecret: string;
  /**
   * The app's id (`A…`). When set, a verified request naming another app (`api_app_id` of an event, a
   * command or an interaction) is refused with 404 `unknown_app`; one naming none (URL verification, SSL
   * check) is this app's. Set it whenever several apps share a deployment (see `SlackAppRouter`).
   */
  appId?: string | undefined;
  /** Token lookup used by `req.authorize()`. */
  authorize?: AuthorizeFn | undefined;
  /**
   * Store to clean up on `app_uninstalled` (everything of the workspace or org) and `tokens_revoked` (the
   * listed users' tokens; the bot when listed). Give it the same `CachingInstallationStore` that
   * `authorize` reads, so that the cached tokens are dropped too (here and, through its bus, everywhere).
   */
  installationStore?: InstallationStore | undefined;
  onEvent?: SlackHandler<"event"> | undefined;
  onCommand?: SlackHandler<"command"> | undefined;
  onInteraction?: SlackHandler<"interaction"> | undefined;
  /** Largest body accepted (default 1 MiB); larger → 413. */
  maxBodyBytes?: number | undefined;
  /** Time for the whole body to arrive once `handle` starts reading it, in ms (default 10 s; 0: none); else 408. */
  bodyTimeoutMs?: number | undefined;
  /** Signature verification clock in epoch seconds (tests). */
  nowSeconds?: (() => number) | undefined;
  /**
   * How old a request's signature timestamp may be, in seconds (default 300, Slack's advice). Only a
   * worker re-checking a handed-off job (`createHandOffWorker`) should raise it: the job may wait in a queue.
   */
  signatureToleranceSeconds?: number | undefined;
  /** Where failures and uninstalls are reported; every line is redacted first. Default: the console. */
  logger?: Logger | undefined;
  /**
   * How many handled event ids to remember (for one hour) to ignore retried deliveries.
   *
   * @default 10,000
   */
  dedupeEntries?: number | undefined;
  /** Reports every answered request (by kind and status) and every uninstall / revocation handled. */
  metrics?: MetricsOptions | undefined;
}

const JSON_TYPE = "application/json; charset=utf-8";
/** Our own answers are plain data until an adapter writes them; a handler may also answer a `Response`. */
type Reply = RawSlackResponse | Response;
const json = (
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): RawSlackResponse => ({
  status,
  headers: { "Content-Type": JSON_TYPE, ...headers },
  body: JSON.stringify(body),
});
const ack = (): RawSlackResponse => ({ status: 200, headers: {}, body: null });
/** The answer to a delivery we have already handled: 200, and Slack is asked not to try again. */
const duplicateAck = (): RawSlackResponse => ({ status: 200, headers: { "X-Slack-No-Retry": "1" }, body: null });
const UTF8 = new TextDecoder("utf-8", { fatal: true });

function toReply(result: HandlerResult): Reply {
  if (result instanceof Response) return result;
  if (result === undefined || result === null) return ack();
  if (typeof result === "string")
    return { status: 200, headers: { "Content-Type": "text/plain; charset=utf-8" }, body: result };
  return json(200, result);
}

function toWebResponse(reply: Reply): Response {
  if (reply instanceof Response) return reply;
  return new Response(reply.body, { status: reply.status, headers: reply.headers });
}

async function toRawResponse(reply: Response): Promise<RawSlackResponse> {
  const headers: Record<string, string> = {};
  reply.headers.forEach((v, k) => {
    headers[k] = v;
  });
  const body = reply.body ? new Uint8Array(await reply.arrayBuffer()) : null;
  return { status: reply.status, headers, body };
}

type J = Record<string, unknown>;
const obj = (v: unknown): J | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as J) : undefined;

/** The form fields the handler reads before a handler runs: what the request is, and whom it is about. */
const FORM_FIELDS: readonly string[] = [
  ...new Set(["command", "ssl_check", "payload", "api_app_id", ...CONTEXT_FIELDS]),
];
/** The answer to a request for an app this handler does not serve: it names no app. */
const unknownApp = (): RawSlackResponse => json(404, { ok: false, error: "unknown_app" });

/** The request headers the handler reads. */
interface SlackHeaders {
  timestamp?: string | undefined;
  signature?: string | undefined;
  contentType?: string | undefined;
  retryNum?: string | undefined;
  retryReason?: string | undefined;
}

/** Each header the handler reads (lower-case name) and where it goes. */
const SLACK_HEADER_LIST: readonly (readonly [string, keyof SlackHeaders])[] = [
  ["x-slack-request-timestamp", "timestamp"],
  ["x-slack-signature", "signature"],
  ["content-type", "contentType"],
  ["x-slack-retry-num", "retryNum"],
  ["x-slack-retry-reason", "retryReason"],
];
const SLACK_HEADERS = new Map(SLACK_HEADER_LIST);

/**
 * Reads the five headers the handler needs in one pass over a plain record (Node's `IncomingHttpHeaders`
 * or any record, names in any case; a lower-case name wins over another spelling, the first value of a
 * repeated header counts), or through `get` on a `Headers`. A pass costs less than five lookups, each of
 * which must scan the record for other spellings when the header is absent (as retry headers usually are).
 */
function slackHeaders(headers: HeaderSource, lowerCase = false): SlackHeaders {
  const out: SlackHeaders = {};
  const get = typeof (headers as Headers).get === "function";
  const record = headers as Record<string, string | string[] | undefined>;
  if (get || lowerCase) {
    // Direct reads by name (an indexed loop: no iterator on a path every request takes).
    for (let i = 0; i < SLACK_HEADER_LIST.length; i++) {
      const [name, field] = SLACK_HEADER_LIST[i] as readonly [string, keyof SlackHeaders];
      out[field] = get ? readHeader(headers, name) : firstValue(record[name]);
    }
    return out;
  }
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const raw = record[key];
    const lower = key.toLowerCase();
    const field = SLACK_HEADERS.get(lower);
    // An exact lower-case name always wins; another spelling only fills a gap.
    if (raw === undefined || field === undefined || (lower !== key && out[field] !== undefined)) continue;
    out[field] = firstValue(raw);
  }
  return out;
}

/** The first value of a header as Node gives it (a string, or an array for repeated headers). */
function firstValue(raw: string | string[] | undefined): string | undefined {
  return Array.isArray(raw) ? raw[0] : raw;
}

/** The media type of a `Content-Type` value, lower-case, without parameters (`""` when absent). */
function mediaType(value: string | undefined): string {
  if (value === undefined) return "";
  const semi = value.indexOf(";");
  const type = semi === -1 ? value : value.slice(0, semi);
  // The common case (Slack's exact values) costs no new strings.
  if (type === "application/x-www-form-urlencoded" || type === "application/json") return type;
  return type.trim().toLowerCase();
}

function parseJsonObject(text: string): J | undefined {
  try {
    return obj(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/**
 * The Slack request endpoint, framework-neutral (`Request → Response`): keeps the raw body, verifies the
 * signature and timestamp, limits the size (413), parses JSON events, form-encoded slash commands and
 * interactivity `payload`s, answers `url_verification` and `ssl_check`, handles each event once even when
 * Slack retries it (`X-Slack-Retry-Num`), cleans the store up on `app_uninstalled` / `tokens_revoked`,
 * and hands the rest to your handlers with a ready `authorize()`.
 *
 * | request | answer |
 * |---|---|
 * | not `POST` | 405 |
 * | body over `maxBodyBytes` (declared or streamed) | 413 `payload_too_large` |
 * | body not received within `bodyTimeoutMs` | 408 `request_timeout` |
 * | signature missing, forged or older than 5 minutes | 401 |
 * | not UTF-8, malformed JSON, form without `command`/`payload`, `payload` not a JSON object with a `type` | 400 |
 * | neither JSON nor a form | 415 |
 * | a handler throws | 500 (for events: the retry runs it again) |
 *
 * @example
 * ```ts
 * const handler = new SlackRequestHandler({
 *   signingSecret: process.env.SLACK_SIGNING_SECRET ?? "",
 *   authorize,
 *   installationStore: store,
 *   onCommand: async (req) => {
 *     const { botToken } = await req.authorize();
 *     return { response_type: "ephemeral", text: botToken ? "Hello!" : "No bot" };
 *   },
 * });
 * const response = await handler.handle(request);
 * ```
 * @see https://docs.slack.dev/apis/events-api/
 * @see https://docs.slack.dev/authentication/verifying-requests-from-slack
 */
export class SlackRequestHandler {
  readonly #o: SlackRequestHandlerOptions;
  readonly #verifier: SignatureVerifier;
  readonly #log: Logger;
  readonly #limit: number;
  readonly #limits: ResolvedBodyLimits;
  /** Event ids handled successfully (for an hour): a retried delivery of one does no work twice. */
  readonly #done: LruTtlCache<true>;
  /** Event ids being handled now → the answer they will get. */
  readonly #inflight = new Map<string, Promise<Reply>>();
  readonly #metrics: BoundMetrics | undefined;
  /** The kind of the request {@link #handle} is answering, read right after its synchronous return. */
  #kind: SlackRequestMetricKind = "invalid";

  constructor(options: SlackRequestHandlerOptions) {
    rejectRenamedClock(options, "SlackRequestHandler", { clock: "nowSeconds" });
    if (!options || typeof options.signingSecret !== "string" || options.signingSecret.length === 0) {
      throw new ConfigError("SlackRequestHandler: signingSecret is required (SLACK_SIGNING_SECRET)");
    }
    const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    if (!(Number.isInteger(limit) && limit > 0)) {
      throw new ConfigError("SlackRequestHandler: maxBodyBytes must be a positive integer");
    }
    if (options.appId !== undefined && (typeof options.appId !== "string" || !/^A[A-Z0-9]{1,30}$/.test(options.appId)))
      throw new ConfigError(
        "SlackRequestHandler: appId must be a Slack app id (A followed by capital letters and digits)",
      );
    registerSecret(options.signingSecret);
    this.#o = options;
    const tolerance = options.signatureToleranceSeconds;
    if (tolerance !== undefined && !(Number.isFinite(tolerance) && tolerance > 0)) {
      throw new ConfigError("SlackRequestHandler: signatureToleranceSeconds must be a positive number");
    }
    this.#verifier = new SignatureVerifier(options.signingSecret, {
      ...(options.nowSeconds ? { nowSeconds: options.nowSeconds } : {}),
      ...(tolerance !== undefined ? { toleranceSeconds: tolerance } : {}),
    });
    this.#log = options.logger ?? consoleLogger;
    this.#limit = limit;
    try {
      this.#limits = resolveBodyLimits({ maxBytes: limit, timeoutMs: options.bodyTimeoutMs });
    } catch (error) {
      throw new ConfigError(`SlackRequestHandler: ${(error as Error).message}`);
    }
    this.#done = new LruTtlCache({ maxEntries: options.dedupeEntries ?? 10_000, ttlMs: 60 * 60 * 1000 });
    this.#metrics = bindMetrics(options.metrics, "SlackRequestHandler");
  }

  /**
   * Handles one request from Slack. Never throws: failures become 4xx/5xx JSON.
   *
   * @example
   * ```ts
   * const response = await handler.handle(new Request("https://example.com/slack/events", { method: "POST", headers, body }));
   * ```
   */
  async handle(request: Request): Promise<Response> {
    try {
      if (request.method !== "POST") {
        return toWebResponse(this.#refused(json(405, { ok: false, error: "method_not_allowed" }, { Allow: "POST" })));
      }
      let raw: Uint8Array;
      try {
        raw = await readBody(request, this.#limits);
      } catch (error) {
        return this.#refused(bodyErrorResponse(error, "unreadable_body"));
      }
      const pending = this.#handle(request.headers, raw, () => request);
      // #handle is synchronous up to its answer: the kind it set is this request's.
      const kind = this.#kind;
      const reply = await pending;
      this.#metrics?.slackRequest?.(kind, reply.status);
      return toWebResponse(reply);
    } catch (error) {
      this.#log.error(`events: unexpected failure: ${redactValue(error)}`);
      return toWebResponse(this.#refused(json(500, { ok: false, error: "internal_error" })));
    }
  }

  /**
   * Handles one request given as plain data (the Node adapter's fast path: no web `Request`/`Response` is
   * built unless a handler asks for `req.request` or answers a `Response`). The caller limits the body size.
   * Never throws.
   *
   * @example
   * ```ts
   * const reply = await handler.handleRaw({ method: "POST", headers: req.headers, body: rawBytes, url: "https://example.com/slack/events" });
   * res.writeHead(reply.status, reply.headers).end(reply.body);
   * ```
   */
  async handleRaw(input: RawSlackRequest): Promise<RawSlackResponse> {
    try {
      if (input.method !== "POST")
        return this.#refused(json(405, { ok: false, error: "method_not_allowed" }, { Allow: "POST" }));
      if (input.body.byteLength > this.#limit) return this.#refused(bodyErrorReply(new BodyTooLargeError(this.#limit)));
      let built: Request | undefined;
      const request = () => {
        if (built) return built;
        const headers = new Headers();
        const h = input.headers;
        if (typeof (h as Headers).get === "function") {
          (h as Headers).forEach((v, k) => {
            headers.append(k, v);
          });
        } else
          for (const [k, v] of Object.entries(h as Record<string, string | string[] | undefined>)) {
            if (v === undefined) continue;
            for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
          }
        built = new Request(input.url, { method: input.method, headers, body: input.body });
        return built;
      };
      const pending = this.#handle(input.headers, input.body, request, input.headerNamesLowerCase === true);
      const kind = this.#kind;
      const reply = await pending;
      this.#metrics?.slackRequest?.(kind, reply.status);
      return reply instanceof Response ? await toRawResponse(reply) : reply;
    } catch (error) {
      this.#log.error(`events: unexpected failure: ${redactValue(error)}`);
      return this.#refused(json(500, { ok: false, error: "internal_error" }));
    }
  }

  /** True unless `appId` is set and the request names another app (a request naming none is ours). */
  #ownApp(apiAppId: unknown): boolean {
    const mine = this.#o.appId;
    return mine === undefined || apiAppId === undefined || apiAppId === "" || apiAppId === mine;
  }

  /**
   * True when the request's signature verifies with this app's signing secret (and its timestamp is
   * fresh). For routers that must find the app of a request naming none (URL verification, SSL check).
   *
   * @example
   * ```ts
   * if (handler.verifies(request.headers, rawBytes)) return handler.handleRaw({ ... });
   * ```
   */
  verifies(headers: HeaderSource, raw: Uint8Array): boolean {
    const h = slackHeaders(headers, false);
    return this.#verifier.verify(h.timestamp, h.signature, raw);
  }

  /** The app id this handler serves (its `appId` option). */
  get appId(): string | undefined {
    return this.#o.appId;
  }

  /** A request answered before its kind was known, reported as `invalid` (when a metrics hook listens). */
  #refused<R extends Reply>(reply: R): R {
    this.#metrics?.slackRequest?.("invalid", reply.status);
    return reply;
  }

  /**
   * Not `async`: everything before the handler runs synchronously, so only the handler's answer is awaited.
   * Sets `#kind` as soon as the request's kind is known (callers read it right after the call returns).
   */
  #handle(
    headers: HeaderSource,
    raw: Uint8Array,
    request: () => Request,
    headerNamesLowerCase = false,
  ): Reply | Promise<Reply> {
    this.#kind = "invalid";
    const h = slackHeaders(headers, headerNamesLowerCase);
    // Verified over the exact bytes received, before anything is parsed.
    if (!this.#verifier.verify(h.timestamp, h.signature, raw)) {
      return json(401, { ok: false, error: "invalid_signature" });
    }

    let text: string;
    try {
      text = UTF8.decode(raw);
    } catch {
      return json(400, { ok: false, error: "invalid_encoding" });
    }
    const type = mediaType(h.contentType);
    let retry: Retry = NO_RETRY;
    if (h.retryNum !== undefined) {
      retry = {};
      if (/^\d{1,4}$/.test(h.retryNum)) retry.num = Number(h.retryNum);
      if (h.retryReason !== undefined && h.retryReason.length <= 64) retry.reason = h.retryReason;
    }

    if (type === "application/json") {
      const body = parseJsonObject(text);
      if (!body) return json(400, { ok: false, error: "invalid_json" });
      if (body.type === "url_verification") {
        this.#kind = "url_verification";
        return typeof body.challenge === "string"
          ? json(200, { challenge: body.challenge })
          : json(400, { ok: false, error: "missing_challenge" });
      }
      if (body.type === "event_callback" || body.type === "app_rate_limited") {
        this.#kind = "event";
        if (!this.#ownApp(body.api_app_id)) return unknownApp();
        return this.#event(request, body, text, retry);
      }
      return json(400, { ok: false, error: "unknown_payload_type" });
    }
    if (type === "application/x-www-form-urlencoded") {
      // What the request is and whom it is about come from a few fields; the whole body is built only
      // if a handler reads `req.body` (or when only the full parser can read this body exactly).
      const scanned = scanFormFields(text, FORM_FIELDS);
      const form = scanned ?? parseFormBody(text);
      if (Object.hasOwn(form, "ssl_check") && form.ssl_check === "1") {
        this.#kind = "ssl_check";
        return ack();
      }
      if (Object.hasOwn(form, "payload")) {
        this.#kind = "interaction";
        const body = parseJsonObject(form.payload as string);
        if (!body || typeof body.type !== "string") return json(400, { ok: false, error: "invalid_payload" });
        if (!this.#ownApp(body.api_app_id)) return unknownApp();
        return this.#dispatch("interaction", request, body, text, retry);
      }
      if (Object.hasOwn(form, "command")) {
        this.#kind = "command";
        if (!this.#ownApp(form.api_app_id)) return unknownApp();
        const body = scanned === undefined ? form : () => parseFormBody(text);
        return this.#dispatch("command", request, body, text, retry, extractContext(form));
      }
      return json(400, { ok: false, error: "unknown_form_payload" });
    }
    return json(415, { ok: false, error: "unsupported_content_type" });
  }

  /**
   * An Events API delivery, handled at most once per `event_id`: a retry of an event handled successfully
   * is acknowledged without doing anything; a retry arriving while the first delivery is still being
   * handled waits for it (and runs again only if it failed); after a failure (5xx) the retry runs again.
   */
  async #event(request: () => Request, body: J, rawBody: string, retry: Retry): Promise<Reply> {
    const eventId =
      typeof body.event_id === "string" && body.event_id.length > 0 && body.event_id.length <= 256
        ? body.event_id
        : undefined;
    if (eventId === undefined) return this.#processEvent(request, body, rawBody, retry);
    for (;;) {
      const running = this.#inflight.get(eventId);
      if (running === undefined) break;
      if ((await running).status < 500) return duplicateAck();
      // The first delivery failed: this retry does the work (unless another one already started it).
    }
    if (this.#done.get(eventId) === true) return duplicateAck();
    let settle!: (r: Reply) => void;
    this.#inflight.set(
      eventId,
      new Promise<Reply>((resolve) => {
        settle = resolve;
      }),
    );
    let response: Reply = json(500, { ok: false, error: "internal_error" });
    try {
      response = await this.#processEvent(request, body, rawBody, retry);
      return response;
    } finally {
      if (response.status < 500) this.#done.set(eventId, true);
      this.#inflight.delete(eventId);
      settle(response);
    }
  }

  async #processEvent(request: () => Request, body: J, rawBody: string, retry: Retry): Promise<Reply> {
    try {
      await this.#housekeeping(body);
    } catch (error) {
      const type = String(obj(body.event)?.type ?? body.type).slice(0, 64);
      this.#log.error(`events: cleaning up after ${redact(type)} failed: ${redactValue(error)}`);
      return json(500, { ok: false, error: "internal_error" });
    }
    return this.#dispatch("event", request, body, rawBody, retry);
  }

  /** Uninstall and revocation: delete what Slack says is gone. Idempotent, in any order. */
  async #housekeeping(body: J): Promise<void> {
    const store = this.#o.installationStore;
    const event = obj(body.event);
    if (!store || !event) return;
    if (event.type === "team_access_granted" || event.type === "team_access_revoked") {
      await this.#teamAccess(store, body, event);
      return;
    }
    if (event.type !== "app_uninstalled" && event.type !== "tokens_revoked") return;
    const where = installationOf(body);
    if (where === undefined) {
      this.#log.warn(`events: ${event.type} names no valid workspace or org; nothing deleted`);
      return;
    }
    const label = where.teamId
      ? `${where.enterpriseId ? `${where.enterpriseId}/` : ""}${where.teamId}`
      : `org ${where.enterpriseId}`;
    if (event.type === "app_uninstalled") {
      await store.deleteAll(where);
      this.#metrics?.uninstall?.("app_uninstalled");
      this.#log.info(`events: app_uninstalled: deleted every installation of ${label}`);
      return;
    }
    const tokens = obj(event.tokens) ?? {};
    const users = Array.isArray(tokens.oauth) ? [...new Set(tokens.oauth.filter(isValidId))] : [];
    const bot = Array.isArray(tokens.bot) && tokens.bot.length > 0;
    for (const userId of users) await store.deleteInstallation({ ...where, userId });
    if (bot) await store.deleteBot(where);
    this.#metrics?.uninstall?.("tokens_revoked");
    this.#log.info(
      `events: tokens_revoked: deleted ${users.length} user token(s)${bot ? " and the bot" : ""} of ${label}`,
    );
  }

  /**
   * An org admin added workspaces to (or removed them from) the app's org-wide installation: recorded, so
   * that `authorize` answers "not installed" for a removed workspace and the org token again once it is
   * added back. Retried deliveries write the same thing again (idempotent).
   */
  async #teamAccess(store: InstallationStore, body: J, event: J): Promise<void> {
    const enterpriseId = extractContext(body).enterpriseId;
    const teamIds = Array.isArray(event.team_ids) ? [...new Set(event.team_ids.filter(isValidId))] : [];
    if (!isValidId(enterpriseId) || teamIds.length === 0) {
      this.#log.warn(`events: ${event.type} names no valid org or workspace; nothing recorded`);
      return;
    }
    const granted = event.type === "team_access_granted";
    // Under the org's team-access lock, so a reconcile running meanwhile never overwrites it.
    await recordTeamAccess(store, enterpriseId, granted ? { granted: teamIds } : { revoked: teamIds });
    this.#log.info(
      `events: ${event.type}: ${teamIds.length} workspace(s) of org ${enterpriseId} ${granted ? "allowed again" : "removed"}: ${teamIds.slice(0, 10).join(", ")}`,
    );
  }

  /** `body` may be a function that builds it (on first read of `req.body`); then pass its `context`. */
  async #dispatch<K extends SlackRequestKind>(
    kind: K,
    request: () => Request,
    body: J | (() => J),
    rawBody: string,
    retry: Retry,
    context?: AuthorizeContext,
  ): Promise<Reply> {
    const handler = (
      kind === "event" ? this.#o.onEvent : kind === "command" ? this.#o.onCommand : this.#o.onInteraction
    ) as SlackHandler<K> | undefined;
    if (!handler) return ack();
    const ctx = context ?? extractContext(typeof body === "function" ? body() : body);
    const req = new IncomingSlackRequest(kind, body, rawBody, ctx, this.#o.authorize, request);
    if (retry.num !== undefined) req.retryNum = retry.num;
    if (retry.reason !== undefined) req.retryReason = retry.reason;
    try {
      return toReply((await handler(req)) as HandlerResult);
    } catch (error) {
      this.#log.error(`events: ${kind} handler failed: ${redactValue(error)}`);
      return json(500, { ok: false, error: "internal_error" });
    }
  }
}

interface Retry {
  num?: number;
  reason?: string;
}
/** A first delivery (no `X-Slack-Retry-Num`): shared, never changed. */
const NO_RETRY: Readonly<Retry> = Object.freeze({});

/**
 * The {@link SlackRequest} handed to handlers. A class rather than an object literal: a literal with a
 * getter (`request`) is built on V8's slow path, which costs more than the rest of the object together.
 * `authorize` is an own arrow function, so it also works detached (`const { authorize } = req`).
 */
class IncomingSlackRequest<K extends SlackRequestKind> implements SlackRequest<K> {
  readonly authorize: () => Promise<AuthorizeResult>;
  // Declared only: set when Slack sends them, absent otherwise (as in the interface).
  declare retryNum?: number;
  declare retryReason?: string;
  readonly #request: () => Request;
  #body: J | (() => J);

  constructor(
    readonly kind: K,
    body: J | (() => J),
    readonly rawBody: string,
    readonly context: AuthorizeContext,
    authorize: AuthorizeFn | undefined,
    request: () => Request,
  ) {
    this.#request = request;
    this.#body = body;
    let memo: Promise<AuthorizeResult> | undefined;
    this.authorize = () => {
      if (!authorize) return Promise.reject(new ConfigError("SlackRequestHandler: no authorize function configured"));
      if (memo === undefined) {
        try {
          memo = authorize(context);
        } catch (error) {
          memo = Promise.reject(error);
        }
      }
      return memo;
    };
  }

  /** Built on first read when the handler got it as a function (slash commands). */
  get body(): J {
    if (typeof this.#body === "function") this.#body = this.#body();
    return this.#body;
  }

  set body(value: J) {
    this.#body = value;
  }

  get request(): Request {
    return this.#request();
  }

  /** What `JSON.stringify(req)` shows (for logs): the plain fields, the body included. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      kind: this.kind,
      body: this.body,
      rawBody: this.rawBody,
      context: this.context,
    };
    if (this.retryNum !== undefined) out.retryNum = this.retryNum;
    if (this.retryReason !== undefined) out.retryReason = this.retryReason;
    return out;
  }
}

/**
 * The installation an `app_uninstalled` / `tokens_revoked` event is about: the org for an org-wide
 * install (`authorizations[0].is_enterprise_install`, or a wrapper whose `team_id` is the org's id, as
 * sent for org-wide installs), else the workspace. `undefined` when the ids are missing or malformed.
 */
function installationOf(body: J): WorkspaceQuery | undefined {
  const ctx = extractContext(body);
  const enterpriseId = ctx.enterpriseId;
  if (enterpriseId !== undefined && !isValidId(enterpriseId)) return undefined;
  const orgWide = ctx.isEnterpriseInstall || ctx.teamId === undefined || ctx.teamId === enterpriseId;
  if (orgWide) return enterpriseId === undefined ? undefined : { enterpriseId };
  if (!isValidId(ctx.teamId)) return undefined;
  return enterpriseId === undefined ? { teamId: ctx.teamId } : { enterpriseId, teamId: ctx.teamId };
}
