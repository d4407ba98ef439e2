/**
 * {@link SlackAppRouter}: one endpoint for several Slack apps. Each request goes to the app it names
 * (`api_app_id` of an event, a slash command or an interaction) and is verified with THAT app's signing
 * secret by that app's {@link SlackRequestHandler}.
 */
import { ConfigError } from "../errors.js";
import {
  BodyTooLargeError,
  bodyErrorReply,
  bodyErrorResponse,
  DEFAULT_MAX_BODY_BYTES,
  readBody,
  resolveBodyLimits,
} from "../http/core.js";
import { consoleLogger, type Logger, redactValue } from "../redact.js";
import { type HeaderSource, readHeader } from "../signature/signature.js";
import type { RawSlackRequest, RawSlackResponse, SlackRequestHandler } from "./handler.js";

const APP_ID_RE = /^A[A-Z0-9]{1,30}$/;
/** `"api_app_id":"A…"` in a JSON body (an unescaped quote cannot occur inside a JSON string). */
const JSON_APP_ID_RE = /"api_app_id"\s*:\s*"([^"\\]{0,64})"/;
const JSON_TYPE = "application/json; charset=utf-8";

const reply = (status: number, error: string, headers: Record<string, string> = {}): RawSlackResponse => ({
  status,
  headers: { "Content-Type": JSON_TYPE, ...headers },
  body: JSON.stringify({ ok: false, error }),
});

/**
 * The app a request names, read from the raw body BEFORE it is verified (only to choose whose secret
 * verifies it): `api_app_id` of a JSON event, of a form (slash command), or of a form's `payload`
 * (interaction). `undefined` when the body names none; `""` when it names something that is not an app id.
 *
 * @example
 * ```ts
 * peekAppId(new TextEncoder().encode('{"type":"event_callback","api_app_id":"A0123"}'), "application/json"); // "A0123"
 * ```
 */
export function peekAppId(raw: Uint8Array, contentType: string | undefined): string | undefined {
  // Byte searches on a view of the body (no copy, no full decode): this runs before every request.
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const type =
    contentType === FORM_TYPE || contentType === JSON_MEDIA_TYPE ? contentType : mediaTypeOf(contentType ?? "");
  let found: string | undefined;
  if (type === JSON_MEDIA_TYPE) {
    found = jsonAppId(buf);
  } else if (type === FORM_TYPE) {
    found = formAppId(buf);
    if (found === undefined && buf.indexOf(PAYLOAD_KEY) !== -1) {
      // An interaction: the app id is inside the `payload` field's JSON.
      const payload = new URLSearchParams(buf.toString("latin1")).get("payload");
      if (payload !== null) found = JSON_APP_ID_RE.exec(payload)?.[1];
    }
  }
  if (found === undefined) return undefined;
  return APP_ID_RE.test(found) ? found : "";
}

const FORM_TYPE = "application/x-www-form-urlencoded";
const JSON_MEDIA_TYPE = "application/json";
/** `Type/Sub; charset=…` → `type/sub`. */
function mediaTypeOf(contentType: string): string {
  const semi = contentType.indexOf(";");
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}
const JSON_KEY = Buffer.from('"api_app_id"');
const FORM_KEY = Buffer.from("api_app_id=");
const PAYLOAD_KEY = Buffer.from("payload=");

/** The first `"api_app_id": "…"` of a JSON body (an unescaped quote cannot occur inside a JSON string). */
function jsonAppId(buf: Buffer): string | undefined {
  const at = buf.indexOf(JSON_KEY);
  if (at === -1) return undefined;
  return JSON_APP_ID_RE.exec(buf.toString("latin1", at, Math.min(buf.length, at + 128)))?.[1];
}

/** The value of the form field `api_app_id` (a field, not the tail of another field's name). */
function formAppId(buf: Buffer): string | undefined {
  for (let at = buf.indexOf(FORM_KEY); at !== -1; at = buf.indexOf(FORM_KEY, at + 1)) {
    if (at !== 0 && buf[at - 1] !== 0x26) continue; // "&"
    const from = at + FORM_KEY.length;
    const to = buf.indexOf(0x26, from);
    return buf.toString("latin1", from, to === -1 ? buf.length : Math.min(to, from + 64));
  }
  return undefined;
}

/**
 * Options of {@link SlackAppRouter}.
 *
 * @example
 * ```ts
 * const options: SlackAppRouterOptions = { handlers: [handlerA, handlerB] };
 * ```
 */
export interface SlackAppRouterOptions {
  /** One handler per app, each built with its app's `appId` and `signingSecret`. */
  handlers: readonly SlackRequestHandler[];
  /** Largest body read by {@link SlackAppRouter.handle} (default 1 MiB); larger → 413. */
  maxBodyBytes?: number | undefined;
  /** Where unexpected failures are reported (redacted). Default: the console. */
  logger?: Logger | undefined;
}

/**
 * One Events API / slash command / interactivity endpoint for several apps. A request naming an app
 * (`api_app_id`) goes to that app's handler, which verifies it with that app's signing secret: a request
 * for A signed with B's secret is refused (401). A request naming an app that is not configured gets 404
 * `{"ok":false,"error":"unknown_app"}`, which names no app. A request naming none (Slack's URL
 * verification, SSL check) goes to the app whose signing secret verifies it, else 401.
 *
 * @example
 * ```ts
 * const router = new SlackAppRouter({ handlers: [
 *   new SlackRequestHandler({ appId: "A0AAA", signingSecret: secretA, authorize: authorizeA }),
 *   new SlackRequestHandler({ appId: "A0BBB", signingSecret: secretB, authorize: authorizeB }),
 * ] });
 * const response = await router.handle(request);
 * ```
 */
export class SlackAppRouter {
  readonly #byApp = new Map<string, SlackRequestHandler>();
  readonly #handlers: readonly SlackRequestHandler[];
  readonly #limits: { maxBytes: number; timeoutMs: number };
  readonly #log: Logger;

  constructor(options: SlackAppRouterOptions) {
    const handlers = options?.handlers;
    if (!Array.isArray(handlers) || handlers.length === 0)
      throw new ConfigError("SlackAppRouter: handlers must list at least one SlackRequestHandler");
    handlers.forEach((h, i) => {
      const appId = h?.appId;
      if (appId === undefined) throw new ConfigError(`SlackAppRouter: handlers[${i}] has no appId`);
      if (this.#byApp.has(appId))
        throw new ConfigError(`SlackAppRouter: handlers[${i}]: appId ${appId} is listed twice`);
      this.#byApp.set(appId, h);
    });
    this.#handlers = [...handlers];
    this.#limits = resolveBodyLimits({
      maxBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      timeoutMs: undefined,
    });
    this.#log = options.logger ?? consoleLogger;
  }

  /** The handler of an app id, if configured. */
  handlerOf(appId: string): SlackRequestHandler | undefined {
    return this.#byApp.get(appId);
  }

  /** Handles a request given as plain data (the Node adapter's fast path). Never throws. */
  handleRaw(input: RawSlackRequest): Promise<RawSlackResponse> {
    let handler: SlackRequestHandler | "unknown" | undefined;
    try {
      if (input.method !== "POST") return Promise.resolve(reply(405, "method_not_allowed", { Allow: "POST" }));
      if (input.body.byteLength > this.#limits.maxBytes)
        return Promise.resolve(bodyErrorReply(new BodyTooLargeError(this.#limits.maxBytes)));
      handler = this.#pick(input.headers, input.body);
    } catch (error) {
      this.#log.error(`events router: unexpected failure: ${redactValue(error)}`);
      return Promise.resolve(reply(500, "internal_error"));
    }
    if (handler === "unknown") return Promise.resolve(reply(404, "unknown_app"));
    if (handler === undefined) return Promise.resolve(reply(401, "invalid_signature"));
    // The handler never throws (its failures are 4xx/5xx replies): its promise is passed on as it is.
    return handler.handleRaw(input);
  }

  /** Handles one web `Request`. Never throws: failures become 4xx/5xx JSON. */
  async handle(request: Request): Promise<Response> {
    if (request.method !== "POST") return toResponse(reply(405, "method_not_allowed", { Allow: "POST" }));
    let raw: Uint8Array;
    try {
      raw = await readBody(request, this.#limits);
    } catch (error) {
      return bodyErrorResponse(error, "unreadable_body");
    }
    const r = await this.handleRaw({ method: "POST", headers: request.headers, body: raw, url: request.url });
    return toResponse(r);
  }

  #pick(headers: HeaderSource, raw: Uint8Array): SlackRequestHandler | "unknown" | undefined {
    const appId = peekAppId(raw, readHeader(headers, "content-type"));
    if (appId !== undefined) return this.#byApp.get(appId) ?? "unknown";
    for (const h of this.#handlers) if (h.verifies(headers, raw)) return h;
    return undefined;
  }
}

function toResponse(r: RawSlackResponse): Response {
  return new Response(r.body, { status: r.status, headers: r.headers });
}
