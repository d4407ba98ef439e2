/**
 * Signed delivery to the app's request URL: events, slash commands, interactions, URL verification.
 *
 * Requests are signed with the library's {@link SignatureSigner} (the one library import the emulator
 * allows) using the app's signing secret and the wall-clock time: Slack signs with real time, and the
 * emulator clock may have been moved for expiry tests.
 */
import { SignatureSigner } from "../signature/signature.js";
import type { EmulatedApp } from "./apps.js";
import { sleep } from "./http.js";
import type { EmulatorLogger } from "./logger.js";
import type { DeliveryRecord } from "./state.js";

/** What the app answered. */
export interface AppResponse {
  /** HTTP status, or null when the app could not be reached or timed out. */
  status: number | null;
  /** Response body as text ("" when unreachable). */
  body: string;
  contentType: string | null;
  /** 2xx. */
  ok: boolean;
  /** Why it failed (`http_error`, `http_timeout`, `connection_failed`), or null. */
  error: string | null;
}

export interface DeliveryInput {
  kind: DeliveryRecord["kind"];
  type: string;
  teamId: string | null;
  body: string;
  contentType: "application/json" | "application/x-www-form-urlencoded";
  /** Signature timestamp (epoch seconds); default: now (wall clock). */
  timestamp?: number;
}

export interface DelivererOptions {
  /** How long to wait for the app, ms (Slack: 3 s). */
  timeoutMs: number;
  /** Event retries after a failed delivery (Slack: up to 3). Commands and interactions are never retried. */
  eventRetries: number;
  /** Delay before each retry, ms. */
  retryDelaysMs: number[];
  logger: EmulatorLogger | undefined;
  record: (r: DeliveryRecord) => void;
}

export class Deliverer {
  readonly #pending = new Set<Promise<unknown>>();

  constructor(private readonly options: DelivererOptions) {}

  /** Delivers now and resolves with the app's final answer (after retries). */
  deliver(app: EmulatedApp, input: DeliveryInput): Promise<AppResponse> {
    const p = this.#run(app, input);
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p)).catch(() => {
      // The caller sees the rejection through `p`; this chain only tidies up.
    });
    return p;
  }

  /** Resolves once every delivery in flight (including background ones) has finished. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  async #run(app: EmulatedApp, input: DeliveryInput): Promise<AppResponse> {
    const signer = new SignatureSigner(app.signingSecret);
    const maxAttempts = input.kind === "event" ? 1 + this.options.eventRetries : 1;
    let last: AppResponse = { status: null, body: "", contentType: null, ok: false, error: "connection_failed" };
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      if (attempt > 0) await sleep(this.options.retryDelaysMs[attempt - 1] ?? this.options.retryDelaysMs.at(-1) ?? 0);
      const headers: Record<string, string> = {
        "content-type": input.contentType,
        "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        ...signer.headers(input.body, input.timestamp ?? Math.floor(Date.now() / 1000)),
      };
      if (attempt > 0) {
        headers["X-Slack-Retry-Num"] = String(attempt);
        headers["X-Slack-Retry-Reason"] = last.error ?? "http_error";
      }
      last = await this.#send(app.requestUrl, headers, input.body);
      this.options.record({
        kind: input.kind,
        type: input.type,
        appId: app.appId,
        teamId: input.teamId,
        status: last.status,
        ok: last.ok,
        error: last.error,
        attempt,
      });
      this.options.logger?.info(
        `emulator: delivered ${input.kind} ${input.type} → ${last.status ?? last.error}${attempt ? ` (retry ${attempt})` : ""}`,
      );
      if (last.ok) break;
    }
    return last;
  }

  async #send(url: string, headers: Record<string, string>, body: string): Promise<AppResponse> {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      const text = await res.text();
      const ok = res.status >= 200 && res.status < 300;
      return {
        status: res.status,
        body: text,
        contentType: res.headers.get("content-type"),
        ok,
        error: ok ? null : "http_error",
      };
    } catch (err) {
      const name = (err as Error).name;
      return {
        status: null,
        body: "",
        contentType: null,
        ok: false,
        error: name === "TimeoutError" || name === "AbortError" ? "http_timeout" : "connection_failed",
      };
    }
  }
}
