import type { AuthorizeFn, AuthorizeResult } from "../authorize/authorize.js";
import { type AuthorizeContext, extractContext } from "../authorize/context.js";
import { ConfigError } from "../errors.js";
import { consoleLogger, type Logger, redact } from "../redact.js";
import { SignatureVerifier } from "../signature/signature.js";
import { LruTtlCache } from "../stores/cache.js";
import type { InstallationStore } from "../stores/installation-store.js";
import { BodyTooLargeError, DEFAULT_MAX_BODY_BYTES, readRawBody } from "./body.js";

/** What kind of request Slack sent. */
export type SlackRequestKind = "event" | "command" | "interaction";

/** Everything a handler gets for one verified Slack request. */
export interface SlackRequest<K extends SlackRequestKind = SlackRequestKind> {
  kind: K;
  /** The Events API wrapper, the slash command's fields, or the interactivity payload. */
  body: Record<string, unknown>;
  /** Who the request is about. */
  context: AuthorizeContext;
  /** Looks up the tokens for `context` (memoised; throws `NotInstalledError` when not installed). */
  authorize(): Promise<AuthorizeResult>;
  /** `X-Slack-Retry-Num`, when Slack is retrying a delivery. */
  retryNum?: number;
  retryReason?: string;
  request: Request;
}

/**
 * A handler's answer: a `Response`, a string (sent as `text/plain`), an object (sent as JSON), or
 * nothing (an empty 200, Slack's acknowledgement).
 */
export type HandlerResult = Response | string | Record<string, unknown> | undefined;

type Handler<K extends SlackRequestKind> = (req: SlackRequest<K>) => HandlerResult | Promise<HandlerResult>;

/** Options of {@link SlackRequestHandler}. */
export interface SlackRequestHandlerOptions {
  signingSecret: string;
  /** Token lookup used by `req.authorize()`. */
  authorize?: AuthorizeFn;
  /**
   * Store to clean up on `app_uninstalled` (everything of the workspace or org) and `tokens_revoked` (the
   * listed users' tokens; the bot when listed). Use the same (caching) store as `authorize`.
   */
  installationStore?: InstallationStore;
  onEvent?: Handler<"event">;
  onCommand?: Handler<"command">;
  onInteraction?: Handler<"interaction">;
  /** Largest body accepted (default 1 MiB); larger → 413. */
  maxBodyBytes?: number;
  /** Signature verification clock in epoch seconds (tests). */
  clock?: () => number;
  logger?: Logger;
  /** How many event ids to remember for de-duplicating retries (default 10,000, for one hour). */
  dedupeEntries?: number;
}

const json = (status: number, body: Record<string, unknown>): Response =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json; charset=utf-8" } });

function toResponse(result: HandlerResult): Response {
  if (result instanceof Response) return result;
  if (result === undefined) return new Response(null, { status: 200 });
  if (typeof result === "string")
    return new Response(result, { status: 200, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  return json(200, result);
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The Slack request endpoint, framework-neutral (`Request → Response`): keeps the raw body, verifies the
 * signature and timestamp, limits the size (413), parses JSON events, form-encoded slash commands and
 * interactivity `payload`s, answers `url_verification`, de-duplicates retried events
 * (`X-Slack-Retry-Num`), cleans the store up on `app_uninstalled` / `tokens_revoked`, and hands the rest to
 * your handlers with a ready `authorize()`.
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
 */
export class SlackRequestHandler {
  readonly #o: SlackRequestHandlerOptions;
  readonly #verifier: SignatureVerifier;
  readonly #log: Logger;
  readonly #limit: number;
  /** event_id → "processing" | "done": a retried delivery of the same event does no work twice. */
  readonly #seen: LruTtlCache<"processing" | "done">;

  constructor(options: SlackRequestHandlerOptions) {
    if (!options || typeof options.signingSecret !== "string" || options.signingSecret.length === 0) {
      throw new ConfigError("SlackRequestHandler: signingSecret is required (SLACK_SIGNING_SECRET)");
    }
    this.#o = options;
    this.#verifier = new SignatureVerifier(options.signingSecret, options.clock ? { clock: options.clock } : {});
    this.#log = options.logger ?? consoleLogger;
    this.#limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.#seen = new LruTtlCache({ maxEntries: options.dedupeEntries ?? 10_000, ttlMs: 60 * 60 * 1000 });
  }

  /** Handles one request from Slack. Never throws; failures become 4xx/5xx JSON. */
  async handle(request: Request): Promise<Response> {
    if (request.method !== "POST") {
      return new Response(JSON.stringify({ ok: false, error: "method_not_allowed" }), {
        status: 405,
        headers: { Allow: "POST", "Content-Type": "application/json; charset=utf-8" },
      });
    }
    let raw: Uint8Array;
    try {
      raw = await readRawBody(request, this.#limit);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return json(413, { ok: false, error: "payload_too_large" });
      return json(400, { ok: false, error: "unreadable_body" });
    }
    if (!this.#verifier.isValid(request.headers, raw)) return json(401, { ok: false, error: "invalid_signature" });

    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      return json(400, { ok: false, error: "invalid_encoding" });
    }
    const type = (request.headers.get("content-type") ?? "").toLowerCase();
    const retryRaw = request.headers.get("x-slack-retry-num");
    const retryNum = retryRaw !== null && /^\d{1,4}$/.test(retryRaw) ? Number(retryRaw) : undefined;
    const retryReason = request.headers.get("x-slack-retry-reason") ?? undefined;

    if (type.startsWith("application/json")) {
      const body = parseJsonObject(text);
      if (!body) return json(400, { ok: false, error: "invalid_json" });
      if (body.type === "url_verification") {
        return typeof body.challenge === "string"
          ? json(200, { challenge: body.challenge })
          : json(400, { ok: false, error: "missing_challenge" });
      }
      if (body.type === "event_callback" || body.type === "app_rate_limited") {
        return this.#event(request, body, retryNum, retryReason);
      }
      return json(400, { ok: false, error: "unknown_payload_type" });
    }
    if (type.startsWith("application/x-www-form-urlencoded")) {
      const form = new URLSearchParams(text);
      if (form.get("ssl_check") === "1") return new Response(null, { status: 200 });
      const payload = form.get("payload");
      if (payload !== null) {
        const body = parseJsonObject(payload);
        if (!body || typeof body.type !== "string") return json(400, { ok: false, error: "invalid_payload" });
        return this.#dispatch("interaction", request, body, retryNum, retryReason);
      }
      if (form.get("command") !== null) {
        const body: Record<string, unknown> = {};
        for (const [k, v] of form) if (!(k in body)) body[k] = v;
        return this.#dispatch("command", request, body, retryNum, retryReason);
      }
      return json(400, { ok: false, error: "unknown_form_payload" });
    }
    return json(415, { ok: false, error: "unsupported_content_type" });
  }

  async #event(
    request: Request,
    body: Record<string, unknown>,
    retryNum?: number,
    retryReason?: string,
  ): Promise<Response> {
    const eventId = typeof body.event_id === "string" ? body.event_id : undefined;
    if (eventId) {
      const seen = this.#seen.get(eventId);
      // A retry of an event we are processing or have processed: acknowledge, do nothing again.
      if (seen !== undefined) return new Response(null, { status: 200, headers: { "X-Slack-No-Retry": "1" } });
      this.#seen.set(eventId, "processing");
    }
    try {
      await this.#housekeeping(body);
      const response = await this.#dispatch("event", request, body, retryNum, retryReason, true);
      if (eventId) {
        if (response.status < 500) this.#seen.set(eventId, "done");
        else this.#seen.delete(eventId);
      }
      return response;
    } catch (error) {
      if (eventId) this.#seen.delete(eventId);
      this.#log.error(`events: failed to handle ${String(body.type)}: ${redact(String(error))}`);
      return json(500, { ok: false, error: "internal_error" });
    }
  }

  /** Uninstall and revocation: delete what Slack says is gone. Idempotent. */
  async #housekeeping(body: Record<string, unknown>): Promise<void> {
    const store = this.#o.installationStore;
    const event = body.event as Record<string, unknown> | undefined;
    if (!store || !event || typeof event.type !== "string") return;
    if (event.type !== "app_uninstalled" && event.type !== "tokens_revoked") return;
    const ctx = extractContext(body);
    const where = ctx.isEnterpriseInstall
      ? { enterpriseId: ctx.enterpriseId }
      : { enterpriseId: ctx.enterpriseId, teamId: ctx.teamId };
    if (!where.enterpriseId && !("teamId" in where && where.teamId)) return;
    if (event.type === "app_uninstalled") {
      await store.deleteAll(where);
      this.#log.info(
        `events: app_uninstalled: deleted every installation of ${where.enterpriseId ?? "-"}/${"teamId" in where ? (where.teamId ?? "-") : "(org)"}`,
      );
      return;
    }
    const tokens = (event.tokens ?? {}) as { oauth?: unknown; bot?: unknown };
    const users = Array.isArray(tokens.oauth) ? tokens.oauth.filter((u): u is string => typeof u === "string") : [];
    for (const userId of users) await store.deleteInstallation({ ...where, userId });
    if (Array.isArray(tokens.bot) && tokens.bot.length > 0) await store.deleteBot(where);
    this.#log.info(
      `events: tokens_revoked: removed ${users.length} user token(s)${Array.isArray(tokens.bot) && tokens.bot.length > 0 ? " and the bot" : ""}`,
    );
  }

  async #dispatch<K extends SlackRequestKind>(
    kind: K,
    request: Request,
    body: Record<string, unknown>,
    retryNum?: number,
    retryReason?: string,
    rethrow = false,
  ): Promise<Response> {
    const handler = (
      kind === "event" ? this.#o.onEvent : kind === "command" ? this.#o.onCommand : this.#o.onInteraction
    ) as Handler<K> | undefined;
    if (!handler) return new Response(null, { status: 200 });
    const context = extractContext(body);
    let memo: Promise<AuthorizeResult> | undefined;
    const authorize = this.#o.authorize;
    const req: SlackRequest<K> = {
      kind,
      body,
      context,
      authorize: () => {
        if (!authorize) return Promise.reject(new ConfigError("SlackRequestHandler: no authorize function configured"));
        memo ??= authorize(context);
        return memo;
      },
      request,
      ...(retryNum !== undefined ? { retryNum } : {}),
      ...(retryReason !== undefined ? { retryReason } : {}),
    };
    try {
      return toResponse(await handler(req));
    } catch (error) {
      if (rethrow) throw error;
      this.#log.error(
        `events: ${kind} handler failed: ${redact(error instanceof Error ? error.message : String(error))}`,
      );
      return json(500, { ok: false, error: "internal_error" });
    }
  }
}
