import { createHmac, timingSafeEqual } from "node:crypto";
import { rejectRenamedClock } from "../clock.js";
import { ConfigError } from "../errors.js";

/** Headers in any shape: a `Headers` object, a plain record (any key case), or Node's `IncomingHttpHeaders`. */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

/** Reads a header from any {@link HeaderSource} (first value when repeated); `name` must be lower-case. */
export function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  // Node's IncomingHttpHeaders are already lower-case: try the direct key before scanning.
  const direct = (headers as Record<string, string | string[] | undefined>)[name];
  if (direct !== undefined) return Array.isArray(direct) ? direct[0] : direct;
  const lower = name;
  for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (k.toLowerCase() === lower) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

function requireSecret(secret: unknown): string {
  if (typeof secret !== "string" || secret.length === 0) {
    throw new ConfigError("signing secret must be a non-empty string (SLACK_SIGNING_SECRET)");
  }
  return secret;
}

function hmac(secret: string, timestamp: string, body: string | Uint8Array): string {
  const h = createHmac("sha256", secret);
  h.update(`v0:${timestamp}:`);
  h.update(body);
  return `v0=${h.digest("hex")}`;
}

/** 1 to 15 ASCII digits (a regex costs ~7 % of a whole verification on this hot path). */
function isTimestamp(value: string): boolean {
  const n = value.length;
  if (n === 0 || n > 15) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Options of {@link SignatureVerifier}. */
export interface SignatureVerifierOptions {
  /**
   * Allowed clock skew in seconds.
   *
   * @default 300, Slack's recommendation
   */
  toleranceSeconds?: number;
  /** Returns now in epoch seconds; injectable for tests. */
  nowSeconds?: () => number;
}

/**
 * Verifies Slack's `X-Slack-Signature` (v0 HMAC-SHA256) over the raw request body.
 *
 * @example
 * ```ts
 * const verifier = new SignatureVerifier(process.env.SLACK_SIGNING_SECRET ?? "");
 * const ok = verifier.isValid(request.headers, rawBody);
 * ```
 * @see https://docs.slack.dev/authentication/verifying-requests-from-slack
 */
export class SignatureVerifier {
  readonly #secret: string;
  readonly #tolerance: number;
  readonly #clock: () => number;

  constructor(signingSecret: string, options: SignatureVerifierOptions = {}) {
    rejectRenamedClock(options, "SignatureVerifier", { clock: "nowSeconds" });
    this.#secret = requireSecret(signingSecret);
    this.#tolerance = options.toleranceSeconds ?? 300;
    this.#clock = options.nowSeconds ?? (() => Date.now() / 1000);
  }

  /** True when `signature` is Slack's signature of `body` at `timestamp`, within the time window. Never throws. */
  verify(
    timestamp: string | undefined | null,
    signature: string | undefined | null,
    body: string | Uint8Array,
  ): boolean {
    if (typeof timestamp !== "string" || !isTimestamp(timestamp)) return false;
    // `v0=` + 64 hex digits. Any other 67-character value simply fails the constant-time comparison
    // (upper-case hex included: Slack sends lower-case).
    if (typeof signature !== "string" || signature.length !== 67 || !signature.startsWith("v0=")) return false;
    if (Math.abs(this.#clock() - Number(timestamp)) > this.#tolerance) return false;
    // latin1 keeps one byte per character, so both buffers are exactly 67 bytes whatever the input.
    const expected = Buffer.from(hmac(this.#secret, timestamp, body), "latin1");
    const given = Buffer.from(signature, "latin1");
    return timingSafeEqual(expected, given);
  }

  /** Reads `X-Slack-Request-Timestamp` and `X-Slack-Signature` (any case) and verifies. Never throws. */
  isValid(headers: HeaderSource, body: string | Uint8Array): boolean {
    return this.verify(
      readHeader(headers, "x-slack-request-timestamp"),
      readHeader(headers, "x-slack-signature"),
      body,
    );
  }
}

/**
 * Signs a request body the way Slack does (for tests and the emulator).
 * @returns the `X-Slack-Signature` and `X-Slack-Request-Timestamp` header values.
 */
export class SignatureSigner {
  readonly #secret: string;
  constructor(signingSecret: string) {
    this.#secret = requireSecret(signingSecret);
  }
  /** Signs a body: the `X-Slack-Request-Timestamp` and `X-Slack-Signature` headers Slack would send. */
  sign(
    body: string | Uint8Array,
    timestamp: number = Math.floor(Date.now() / 1000),
  ): { signature: string; timestamp: string } {
    const ts = String(timestamp);
    return { signature: hmac(this.#secret, ts, body), timestamp: ts };
  }
  /** The two headers Slack sends, ready to spread into `fetch`'s `headers`. */
  headers(body: string | Uint8Array, timestamp?: number): Record<string, string> {
    const { signature, timestamp: ts } = this.sign(body, timestamp);
    return { "X-Slack-Signature": signature, "X-Slack-Request-Timestamp": ts };
  }
}

/** Convenience: sign with a secret in one call. */
export function signRequest(
  signingSecret: string,
  body: string | Uint8Array,
  timestamp?: number,
): { signature: string; timestamp: string } {
  return new SignatureSigner(signingSecret).sign(body, timestamp);
}
