import { createHmac, timingSafeEqual } from "node:crypto";
import { ConfigError } from "../errors.js";

/** Headers in any shape: a `Headers` object, a plain record (any key case), or Node's `IncomingHttpHeaders`. */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function getHeader(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const lower = name.toLowerCase();
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

const SIGNATURE_RE = /^v0=[0-9a-f]{64}$/;
const TIMESTAMP_RE = /^\d{1,15}$/;

export interface SignatureVerifierOptions {
  /** Allowed clock skew in seconds (default 300, Slack's recommendation). */
  toleranceSeconds?: number;
  /** Returns now in epoch seconds; injectable for tests. */
  clock?: () => number;
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
    this.#secret = requireSecret(signingSecret);
    this.#tolerance = options.toleranceSeconds ?? 300;
    this.#clock = options.clock ?? (() => Math.floor(Date.now() / 1000));
  }

  /** True when `signature` is Slack's signature of `body` at `timestamp`, within the time window. Never throws. */
  verify(
    timestamp: string | undefined | null,
    signature: string | undefined | null,
    body: string | Uint8Array,
  ): boolean {
    if (typeof timestamp !== "string" || !TIMESTAMP_RE.test(timestamp)) return false;
    if (typeof signature !== "string" || !SIGNATURE_RE.test(signature)) return false;
    if (Math.abs(this.#clock() - Number(timestamp)) > this.#tolerance) return false;
    const expected = Buffer.from(hmac(this.#secret, timestamp, body));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /** Reads `X-Slack-Request-Timestamp` and `X-Slack-Signature` (any case) and verifies. Never throws. */
  isValid(headers: HeaderSource, body: string | Uint8Array): boolean {
    return this.verify(getHeader(headers, "x-slack-request-timestamp"), getHeader(headers, "x-slack-signature"), body);
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
