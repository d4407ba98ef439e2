import { CodedTypeError } from "../errors.js";
/**
 * Fault injection for Web API methods: a Slack error, an HTTP 5xx, latency or rate limiting, for the
 * next N calls of a method (or of every method with `method: "*"`).
 */

/** One fault. Without `error`, `status` or `ratelimited` it only adds latency. */
export interface FaultSpec {
  /** Web API method name (`auth.test`) or `*` for every method. */
  method: string;
  /** Slack error for `{ ok: false, error }` (HTTP 200 unless `status` is given). */
  error?: string;
  /** HTTP status to answer with (e.g. 500, 503). The body is `{ ok: false, error }`. */
  status?: number;
  /** Delay before answering, in ms. */
  latencyMs?: number;
  /** Answer HTTP 429 with `Retry-After`. */
  ratelimited?: boolean;
  /**
   * Seconds in `Retry-After` when `ratelimited`.
   *
   * @default 1
   */
  retryAfter?: number;
  /**
   * How many calls this applies to.
   *
   * @default 1
   */
  count?: number;
}

interface ActiveFault extends FaultSpec {
  remaining: number;
}

/** Validates a fault from the test API or the programmatic helper. */
export function parseFault(input: unknown): FaultSpec {
  if (typeof input !== "object" || input === null) throw new CodedTypeError("fault must be an object");
  const f = input as Record<string, unknown>;
  if (typeof f.method !== "string" || f.method === "")
    throw new CodedTypeError("fault.method must be a method name or *");
  const out: FaultSpec = { method: f.method };
  if (f.error !== undefined) {
    if (typeof f.error !== "string" || !/^[a-z0-9_]{1,64}$/.test(f.error)) {
      throw new CodedTypeError("fault.error must be a Slack error code such as internal_error");
    }
    out.error = f.error;
  }
  if (f.status !== undefined) {
    if (typeof f.status !== "number" || !Number.isInteger(f.status) || f.status < 400 || f.status > 599) {
      throw new CodedTypeError("fault.status must be an HTTP error status (400-599)");
    }
    out.status = f.status;
  }
  if (f.latencyMs !== undefined) {
    if (typeof f.latencyMs !== "number" || !(f.latencyMs >= 0) || f.latencyMs > 120_000) {
      throw new CodedTypeError("fault.latencyMs must be between 0 and 120000");
    }
    out.latencyMs = f.latencyMs;
  }
  if (f.ratelimited !== undefined) {
    if (typeof f.ratelimited !== "boolean") throw new CodedTypeError("fault.ratelimited must be a boolean");
    out.ratelimited = f.ratelimited;
  }
  if (f.retryAfter !== undefined) {
    if (typeof f.retryAfter !== "number" || !Number.isInteger(f.retryAfter) || f.retryAfter < 0) {
      throw new CodedTypeError("fault.retryAfter must be a non-negative integer (seconds)");
    }
    out.retryAfter = f.retryAfter;
  }
  if (f.count !== undefined) {
    if (typeof f.count !== "number" || !Number.isInteger(f.count) || f.count < 1) {
      throw new CodedTypeError("fault.count must be a positive integer");
    }
    out.count = f.count;
  }
  return out;
}

export class FaultInjector {
  #faults: ActiveFault[] = [];

  add(fault: FaultSpec): void {
    this.#faults.push({ ...parseFault(fault), remaining: fault.count ?? 1 });
  }

  /** Takes the first fault that applies to `method` (and uses up one of its calls). */
  take(method: string): FaultSpec | undefined {
    const i = this.#faults.findIndex((f) => f.method === method || f.method === "*");
    if (i < 0) return undefined;
    const f = this.#faults[i]!;
    f.remaining--;
    if (f.remaining <= 0) this.#faults.splice(i, 1);
    const { remaining: _remaining, ...spec } = f;
    return spec;
  }

  /** Pending faults (for the test API). */
  list(): Array<FaultSpec & { remaining: number }> {
    return this.#faults.map((f) => ({ ...f }));
  }

  clear(): void {
    this.#faults = [];
  }
}
