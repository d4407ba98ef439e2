/**
 * "Acknowledge, then hand off": Slack wants an answer within 3 seconds, and a serverless function (AWS
 * Lambda, Cloud Functions…) is frozen as soon as it has answered, so work may neither run past the answer
 * nor delay it. {@link createHandOffEndpoint} verifies a request, acknowledges it at once and hands the
 * verified request over, as a plain-JSON {@link SlackJob}, to a function the app provides (an asynchronous
 * Lambda invocation, a queue message); the hand-off is awaited, so nothing is left running once Slack has
 * its answer. {@link createHandOffWorker} runs on the other side (the invoked function, the queue's
 * consumer): it checks the job's Slack signature again and runs the app's handlers, posting what a command
 * or interaction handler answers to the request's `response_url`.
 *
 * @example
 * ```ts
 * const events = createHandOffEndpoint({
 *   signingSecret,
 *   installationStore: store, // app_uninstalled / tokens_revoked are cleaned up at once, before the answer
 *   handOff: (job, { signal }) => queue.send(JSON.stringify(job), { signal }),
 * });
 * const worker = createHandOffWorker({ signingSecret, authorize, onCommand: async (req) => ({ text: "done" }) });
 * ```
 */
import type { AuthorizeFn } from "../authorize/authorize.js";
import { rejectRenamedClock } from "../clock.js";
import { ConfigError, ErrorCode, SlackOAuthError } from "../errors.js";
import { consoleLogger, type Logger, redactValue } from "../redact.js";
import type { InstallationStore } from "../stores/installation-store.js";
import { parseFormBody } from "./body.js";
import {
  type HandlerResult,
  type SlackHandler,
  type SlackRequest,
  SlackRequestHandler,
  type SlackRequestKind,
} from "./handler.js";

/** Marks a {@link SlackJob} (so one function can tell jobs from its other events). */
export const SLACK_JOB_TYPE = "slack-oauth-kit/job";

/**
 * A verified Slack request handed over for later work: plain JSON (fits a Lambda asynchronous
 * invocation or a queue message: the request body itself is at most what Slack sends, well under the
 * 256 KB those accept). The signature travels with it, so the worker verifies it again.
 */
export interface SlackJob {
  type: typeof SLACK_JOB_TYPE;
  /** Format version (1). */
  v: 1;
  kind: SlackRequestKind;
  /** The raw body exactly as Slack sent it (the signature covers it). */
  body: string;
  /**
   * Slack's headers, names in lower case: `content-type`, `x-slack-request-timestamp`,
   * `x-slack-signature`, and `x-slack-retry-num` / `x-slack-retry-reason` on a retried delivery.
   */
  headers: Record<string, string>;
  /** The URL the request was sent to. */
  url: string;
  /** When it was acknowledged (epoch milliseconds). */
  acknowledgedAt: number;
}

/** The headers a job carries (everything the handler reads). */
const JOB_HEADERS = [
  "content-type",
  "x-slack-request-timestamp",
  "x-slack-signature",
  "x-slack-retry-num",
  "x-slack-retry-reason",
] as const;

/**
 * Handing the work over failed (the app's `handOff` threw or timed out), or a job given to the worker is
 * malformed, forged, or older than `maxJobAgeSeconds`, or the worker's handler failed. Code
 * `SLACK_OAUTH_HAND_OFF_FAILED`; the message never holds the job's body.
 */
export class HandOffError extends SlackOAuthError {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(ErrorCode.HandOffFailed, message, { cause: options?.cause, status: options?.status ?? 500 });
  }
}

/**
 * True when `value` has the shape of a {@link SlackJob} (what a function invoked with one receives).
 *
 * @example
 * ```ts
 * export const handler = (event: unknown) => (isSlackJob(event) ? worker(event) : http(event));
 * ```
 */
export function isSlackJob(value: unknown): value is SlackJob {
  if (value === null || typeof value !== "object") return false;
  const j = value as Record<string, unknown>;
  if (j.type !== SLACK_JOB_TYPE || j.v !== 1) return false;
  if (j.kind !== "event" && j.kind !== "command" && j.kind !== "interaction") return false;
  if (typeof j.body !== "string" || typeof j.url !== "string" || typeof j.acknowledgedAt !== "number") return false;
  const h = j.headers;
  if (h === null || typeof h !== "object" || Array.isArray(h)) return false;
  return Object.values(h).every((v) => typeof v === "string");
}

/**
 * What `acknowledge` decides for one request: the answer Slack gets now (default an empty 200) and
 * whether the request is handed off (default true).
 */
export interface AckDecision {
  /** Sent to Slack at once: e.g. `{ response_action: "errors", … }` for a view submission, or a "working on it" message. */
  reply?: HandlerResult;
  /** False: nothing is handed off (the acknowledgement was all the work). */
  handOff?: boolean;
}

/** Options of {@link createHandOffEndpoint}. */
export interface HandOffEndpointOptions {
  /** The app's signing secret: requests are verified before anything is handed off. */
  signingSecret: string;
  /**
   * Hands one verified request over: an asynchronous invocation (`InvocationType: "Event"`), a queue
   * message… Awaited before Slack is answered, so it must be quick; pass `signal` to your SDK call (it
   * aborts after `handOffTimeoutMs`). A failure answers 500 (Slack retries events; a command's user sees
   * an error).
   */
  handOff: (job: SlackJob, options: { signal: AbortSignal }) => Promise<void> | void;
  /**
   * Runs before the hand-off, within the 3 seconds: whatever must be in the HTTP answer (a view
   * submission's `response_action`) or needs a `trigger_id` while it is valid (`views.open`). Keep it
   * short. Without it every request is acknowledged with an empty 200 and handed off.
   */
  acknowledge?: ((req: SlackRequest) => AckDecision | undefined | Promise<AckDecision | undefined>) | undefined;
  /** Token lookup for `req.authorize()` inside `acknowledge`. */
  authorize?: AuthorizeFn | undefined;
  /** `app_uninstalled` / `tokens_revoked` delete from this store at once, before the answer (as `SlackRequestHandler` does). */
  installationStore?: InstallationStore | undefined;
  /**
   * How long `handOff` may take before its `signal` aborts, ms.
   *
   * @default 2000: Slack gives up after 3 s
   */
  handOffTimeoutMs?: number | undefined;
  /** Where failures are reported (redacted). Default: the console. */
  logger?: Logger | undefined;
  /**
   * Largest body accepted.
   *
   * @default 1 MiB
   */
  maxBodyBytes?: number | undefined;
  /** Signature clock, epoch seconds (tests). */
  nowSeconds?: (() => number) | undefined;
}

function headerRecord(request: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of JOB_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

/**
 * A Slack request endpoint (a {@link SlackRequestHandler}) that acknowledges every verified request at once
 * and hands it over as a {@link SlackJob}. Signatures, body limits, `url_verification`, `ssl_check`,
 * retried-event de-duplication and uninstall clean-up work as in `SlackRequestHandler`; the app's work
 * runs later, in {@link createHandOffWorker}.
 *
 * @example
 * ```ts
 * import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
 *
 * const lambda = new LambdaClient({});
 * const events = createHandOffEndpoint({
 *   signingSecret: process.env.SLACK_SIGNING_SECRET ?? "",
 *   installationStore: store,
 *   handOff: async (job, { signal }) => {
 *     await lambda.send(
 *       new InvokeCommand({ FunctionName: "worker", InvocationType: "Event", Payload: JSON.stringify(job) }),
 *       { abortSignal: signal },
 *     );
 *   },
 * });
 * ```
 */
export function createHandOffEndpoint(options: HandOffEndpointOptions): SlackRequestHandler {
  rejectRenamedClock(options, "createHandOffEndpoint", { clock: "nowSeconds" });
  if (!options || typeof options.handOff !== "function") {
    throw new ConfigError("createHandOffEndpoint: handOff (a function receiving each job) is required");
  }
  const timeoutMs = options.handOffTimeoutMs ?? 2000;
  if (!(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    throw new ConfigError("createHandOffEndpoint: handOffTimeoutMs must be a positive integer");
  }
  const log = options.logger ?? consoleLogger;
  const handle = async (req: SlackRequest): Promise<HandlerResult> => {
    const decision = (await options.acknowledge?.(req)) ?? {};
    if (decision.handOff === false) return decision.reply;
    const job: SlackJob = {
      type: SLACK_JOB_TYPE,
      v: 1,
      kind: req.kind,
      body: req.rawBody,
      headers: headerRecord(req.request),
      url: req.request.url,
      acknowledgedAt: Date.now(),
    };
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new HandOffError(`hand-off took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      // Awaited: once Slack has its answer, nothing of this request is still running.
      await options.handOff(job, { signal: controller.signal });
    } catch (error) {
      log.error(`hand-off: handing a ${req.kind} over failed: ${redactValue(error)}`);
      throw new HandOffError(`handing a ${req.kind} over failed`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    if (controller.signal.aborted) {
      // handOff ignored its signal and finished late: Slack has probably given up (and retries events).
      log.warn(`hand-off: handing a ${req.kind} over took longer than ${timeoutMs} ms`);
    }
    return decision.reply;
  };
  return new SlackRequestHandler({
    signingSecret: options.signingSecret,
    authorize: options.authorize,
    installationStore: options.installationStore,
    logger: options.logger,
    maxBodyBytes: options.maxBodyBytes,
    nowSeconds: options.nowSeconds,
    onEvent: handle,
    onCommand: handle,
    onInteraction: handle,
  });
}

/** Options of {@link createHandOffWorker}. */
export interface HandOffWorkerOptions {
  /** The app's signing secret: each job's signature is verified again. */
  signingSecret: string;
  /** Token lookup for `req.authorize()`. */
  authorize?: AuthorizeFn | undefined;
  /** The app's handlers, as for `SlackRequestHandler` (they may take their time here). */
  onEvent?: SlackHandler<"event"> | undefined;
  onCommand?: SlackHandler<"command"> | undefined;
  onInteraction?: SlackHandler<"interaction"> | undefined;
  /**
   * Oldest job accepted, in seconds since Slack signed it (default 3600): a job waits in a queue or is
   * retried, so the 5-minute window of live requests is too short; older jobs are refused.
   */
  maxJobAgeSeconds?: number | undefined;
  /**
   * Posts what a command or interaction handler answered to the request's `response_url` (what Slack
   * would have shown as the answer). Default: `fetch` POST of the JSON message; `false` drops answers.
   */
  respond?: ((responseUrl: string, message: Record<string, unknown>) => Promise<void>) | false | undefined;
  /** Where failures are reported (redacted). Default: the console. */
  logger?: Logger | undefined;
  /** Signature clock, epoch seconds (tests). */
  nowSeconds?: (() => number) | undefined;
}

/** What the worker did with a job. */
export interface HandOffOutcome {
  kind: SlackRequestKind;
  /** The handler's answer was posted to the request's `response_url`. */
  responded: boolean;
  /** The job was a retried event already handled by this worker instance: nothing ran. */
  duplicate: boolean;
}

const UTF8 = new TextEncoder();

function responseUrlOf(job: SlackJob): string | undefined {
  const form = parseFormBody(job.body);
  let url: unknown;
  if (job.kind === "command") url = form.response_url;
  else if (job.kind === "interaction" && typeof form.payload === "string") {
    try {
      const payload = JSON.parse(form.payload) as Record<string, unknown>;
      url = payload.response_url;
      const urls = payload.response_urls;
      if (url === undefined && Array.isArray(urls))
        url = (urls[0] as Record<string, unknown> | undefined)?.response_url;
    } catch {
      return undefined;
    }
  }
  if (typeof url !== "string") return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

async function postJson(url: string, message: Record<string, unknown>): Promise<void> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify(message),
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new HandOffError(`response_url answered HTTP ${res.status}`);
}

/**
 * The other side of {@link createHandOffEndpoint}: runs one {@link SlackJob} through the app's handlers.
 * Resolves once the work is done; rejects with a {@link HandOffError} when the job is malformed, its
 * signature does not verify (forged, or older than `maxJobAgeSeconds`), a handler fails, or its answer
 * could not be posted — so the queue or the asynchronous invocation retries it (make the work idempotent:
 * `req.retryNum` tells a Slack retry, and a job may run twice).
 *
 * @example
 * ```ts
 * const worker = createHandOffWorker({
 *   signingSecret: process.env.SLACK_SIGNING_SECRET ?? "",
 *   authorize,
 *   onCommand: async (req) => {
 *     const { botToken } = await req.authorize();
 *     return { response_type: "ephemeral", text: botToken ? "Report ready" : "No bot" }; // → response_url
 *   },
 * });
 * await worker(job);
 * ```
 */
export function createHandOffWorker(options: HandOffWorkerOptions): (job: unknown) => Promise<HandOffOutcome> {
  rejectRenamedClock(options, "createHandOffWorker", { clock: "nowSeconds" });
  const maxAge = options.maxJobAgeSeconds ?? 3600;
  if (!(Number.isFinite(maxAge) && maxAge > 0)) {
    throw new ConfigError("createHandOffWorker: maxJobAgeSeconds must be a positive number");
  }
  const log = options.logger ?? consoleLogger;
  const respond = options.respond === undefined ? postJson : options.respond;
  const handler = new SlackRequestHandler({
    signingSecret: options.signingSecret,
    authorize: options.authorize,
    onEvent: options.onEvent,
    onCommand: options.onCommand,
    onInteraction: options.onInteraction,
    logger: options.logger,
    nowSeconds: options.nowSeconds,
    signatureToleranceSeconds: maxAge,
    // No installationStore: the endpoint already cleaned up on app_uninstalled / tokens_revoked.
  });
  return async (job) => {
    if (!isSlackJob(job)) throw new HandOffError("not a slack-oauth-kit job (wrong shape or version)", { status: 400 });
    const reply = await handler.handleRaw({
      method: "POST",
      headers: job.headers,
      headerNamesLowerCase: Object.keys(job.headers).every((k) => k === k.toLowerCase()),
      body: UTF8.encode(job.body),
      url: job.url,
    });
    if (reply.status === 401) {
      throw new HandOffError(`job refused: its Slack signature is invalid or older than ${maxAge} s`, { status: 401 });
    }
    if (reply.status >= 400) {
      throw new HandOffError(`the ${job.kind} job failed (HTTP ${reply.status})`, { status: reply.status });
    }
    const outcome: HandOffOutcome = {
      kind: job.kind,
      responded: false,
      duplicate: reply.headers["X-Slack-No-Retry"] === "1",
    };
    if (job.kind === "event" || reply.body === null || reply.body.length === 0) return outcome;
    const text = typeof reply.body === "string" ? reply.body : new TextDecoder().decode(reply.body);
    const type = Object.entries(reply.headers).find(([k]) => k.toLowerCase() === "content-type")?.[1] ?? "";
    let message: Record<string, unknown>;
    if (/^application\/json/i.test(type)) {
      try {
        message = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new HandOffError(`the ${job.kind} handler answered malformed JSON`);
      }
    } else message = { text };
    if ("response_action" in message) {
      log.warn(
        "hand-off: a response_action only works in the acknowledgement (the endpoint's acknowledge option); dropped",
      );
      return outcome;
    }
    const url = responseUrlOf(job);
    if (respond === false) return outcome;
    if (url === undefined) {
      log.warn(`hand-off: the ${job.kind} handler answered, but the request has no response_url; answer dropped`);
      return outcome;
    }
    try {
      await respond(url, message);
    } catch (error) {
      log.error(`hand-off: posting the ${job.kind} answer to response_url failed: ${redactValue(error)}`);
      throw error instanceof HandOffError
        ? error
        : new HandOffError("posting to response_url failed", { cause: error });
    }
    outcome.responded = true;
    return outcome;
  };
}
