import {
  type CryptoKey,
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
} from "jose";
import { ErrorCode } from "../errors.js";
import { type Logger, silentLogger } from "../redact.js";
import { IdTokenError } from "./errors.js";

/** Largest JWKS document read (Slack's is about 1 KB). */
const MAX_JWKS_BYTES = 256 * 1024;
/** Most keys kept from one document. */
const MAX_KEYS = 50;

/**
 * Options of {@link JwksCache}.
 *
 * @example
 * ```ts
 * const options: JwksCacheOptions = { jwksUri: "https://slack.com/openid/connect/keys", minRefetchIntervalMs: 30_000 };
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export interface JwksCacheOptions {
  /** The JWKS URL (Slack: `https://slack.com/openid/connect/keys`). */
  jwksUri: string;
  /** `fetch` to use (default the global one). */
  fetch?: typeof fetch | undefined;
  /** Refetch the set once it is this old, even when every `kid` is known (default 10 minutes). */
  maxAgeMs?: number | undefined;
  /**
   * A token with an unknown `kid` triggers a refetch at most once per this interval (default 30 s), so a
   * flood of such tokens cannot turn into a flood of requests to the issuer.
   */
  minRefetchIntervalMs?: number | undefined;
  /** Timeout of one fetch (default 5 s). */
  timeoutMs?: number | undefined;
  /** Clock, epoch ms (default `Date.now`). */
  now?: (() => number) | undefined;
  logger?: Logger | undefined;
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;

/** Counters of a {@link JwksCache}, for monitoring and tests. */
export interface JwksCacheStats {
  /** Fetches started (successful or not). */
  fetches: number;
  /** Fetches that failed. */
  failures: number;
  /** `kid`s of the cached set. */
  kids: string[];
  /** When the cached set was fetched (epoch ms), or undefined. */
  fetchedAt: number | undefined;
}

/**
 * A cached JSON Web Key Set for id_token verification, usable as jose's key resolver (`getKey`).
 *
 * - The set is fetched on first use, kept for `maxAgeMs`, and refetched when a token names a `kid` it does
 *   not hold (a key rotation is picked up without a restart).
 * - Refetches are single-flight (concurrent callers share one request) and rate-limited to one per
 *   `minRefetchIntervalMs`; a failed refetch keeps the cached set.
 * - Only RSA signing keys (`use` absent or `sig`, `alg` absent or `RS256`) are kept. No redirects, a timeout,
 *   and a size limit on the document.
 *
 * @example
 * ```ts
 * const jwks = new JwksCache({ jwksUri: "https://slack.com/openid/connect/keys" });
 * const { payload } = await jwtVerify(idToken, jwks.getKey, { algorithms: ["RS256"] });
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 * @see https://www.rfc-editor.org/rfc/rfc7517
 */
export class JwksCache {
  readonly jwksUri: string;
  readonly #fetch: typeof fetch;
  readonly #maxAgeMs: number;
  readonly #minIntervalMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #log: Logger;
  #set: LocalSet | undefined;
  #kids = new Set<string>();
  #fetchedAt: number | undefined;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<void> | undefined;
  #fetches = 0;
  #failures = 0;

  constructor(options: JwksCacheOptions) {
    if (!options || typeof options.jwksUri !== "string") throw new TypeError("JwksCache: jwksUri is required");
    let url: URL;
    try {
      url = new URL(options.jwksUri);
    } catch {
      throw new TypeError("JwksCache: jwksUri must be an absolute http(s) URL");
    }
    if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password) {
      throw new TypeError("JwksCache: jwksUri must be an absolute http(s) URL without credentials");
    }
    this.jwksUri = url.toString();
    const f = options.fetch;
    this.#fetch = f ?? ((input, init) => globalThis.fetch(input, init));
    this.#maxAgeMs = nonNegative("maxAgeMs", options.maxAgeMs ?? 10 * 60_000);
    this.#minIntervalMs = nonNegative("minRefetchIntervalMs", options.minRefetchIntervalMs ?? 30_000);
    this.#timeoutMs = nonNegative("timeoutMs", options.timeoutMs ?? 5_000);
    this.#now = options.now ?? Date.now;
    this.#log = options.logger ?? silentLogger;
  }

  /** Counters and the cached `kid`s. */
  stats(): JwksCacheStats {
    return { fetches: this.#fetches, failures: this.#failures, kids: [...this.#kids], fetchedAt: this.#fetchedAt };
  }

  /**
   * jose key resolver: the public key for the token's `kid`.
   *
   * @throws IdTokenError `SLACK_OAUTH_ID_TOKEN_INVALID` without a `kid`, `SLACK_OAUTH_ID_TOKEN_KEY_NOT_FOUND`
   *   for a `kid` not published even after a refetch, `SLACK_OAUTH_JWKS_UNAVAILABLE` when the set cannot be
   *   fetched and nothing cached can answer.
   */
  readonly getKey = async (header: JWSHeaderParameters, token?: FlattenedJWSInput): Promise<CryptoKey> => {
    const kid = header.kid;
    if (typeof kid !== "string" || kid === "") {
      throw new IdTokenError(ErrorCode.IdTokenInvalid, "id_token header has no kid");
    }
    if (this.#set === undefined) {
      await this.#refresh(Math.min(this.#minIntervalMs, 1_000));
    } else if (this.#now() - (this.#fetchedAt ?? 0) > this.#maxAgeMs) {
      // Stale but usable: refresh, and keep the old set if the issuer is unreachable.
      await this.#refresh(this.#minIntervalMs).catch(() => undefined);
    }
    if (!this.#kids.has(kid)) {
      // An unknown kid: the issuer may have rotated its key. Refetch, but at most once per interval.
      await this.#refresh(this.#minIntervalMs);
      if (!this.#kids.has(kid)) {
        throw new IdTokenError(ErrorCode.IdTokenKeyNotFound, `no key with this kid in ${this.jwksUri}`);
      }
    }
    const set = this.#set;
    if (set === undefined) throw new IdTokenError(ErrorCode.JwksUnavailable, "no JWKS cached");
    try {
      return (await set(header, token as FlattenedJWSInput)) as CryptoKey;
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JOSENotSupported) {
        throw new IdTokenError(ErrorCode.IdTokenKeyNotFound, "the key with this kid does not fit the token's alg", {
          cause: error,
        });
      }
      throw new IdTokenError(ErrorCode.IdTokenInvalid, "the key could not be selected", { cause: error });
    }
  };

  /**
   * Refetches now if the last attempt is at least `minGapMs` old (default: the refetch interval), else waits
   * for a fetch in flight, else does nothing.
   *
   * @throws IdTokenError `SLACK_OAUTH_JWKS_UNAVAILABLE` when the fetch fails and nothing is cached.
   */
  async refresh(minGapMs: number = this.#minIntervalMs): Promise<void> {
    return this.#refresh(minGapMs);
  }

  async #refresh(minGapMs: number): Promise<void> {
    if (this.#inflight) return this.#inflight;
    if (this.#now() - this.#attemptedAt < minGapMs) {
      if (this.#set === undefined) {
        throw new IdTokenError(ErrorCode.JwksUnavailable, "the JWKS fetch failed moments ago; not retrying yet");
      }
      return;
    }
    this.#attemptedAt = this.#now();
    this.#fetches++;
    const inflight = this.#load().finally(() => {
      this.#inflight = undefined;
    });
    this.#inflight = inflight;
    return inflight;
  }

  async #load(): Promise<void> {
    try {
      const response = await this.#fetch(this.jwksUri, {
        headers: { accept: "application/json" },
        redirect: "error",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        throw new Error(`HTTP ${response.status}`);
      }
      const text = await readLimited(response, MAX_JWKS_BYTES);
      const parsed = JSON.parse(text) as unknown;
      const keys = usableKeys(parsed);
      const set = createLocalJWKSet({ keys } as JSONWebKeySet);
      this.#set = set;
      this.#kids = new Set(keys.map((k) => k.kid as string));
      this.#fetchedAt = this.#now();
    } catch (error) {
      this.#failures++;
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.#log.warn(`JwksCache: fetching ${this.jwksUri} failed (${reason.slice(0, 200)})`);
      if (this.#set === undefined) {
        throw new IdTokenError(ErrorCode.JwksUnavailable, `fetching the JWKS failed: ${reason.slice(0, 200)}`, {
          cause: error,
        });
      }
    }
  }
}

/** RSA signing keys with a `kid`, from a parsed JWKS document. */
function usableKeys(doc: unknown): Array<Record<string, unknown>> {
  if (doc === null || typeof doc !== "object" || !Array.isArray((doc as { keys?: unknown }).keys)) {
    throw new Error("not a JSON Web Key Set (no keys array)");
  }
  const out: Array<Record<string, unknown>> = [];
  for (const key of (doc as { keys: unknown[] }).keys) {
    if (key === null || typeof key !== "object") continue;
    const k = key as Record<string, unknown>;
    if (k.kty !== "RSA" || typeof k.kid !== "string" || k.kid === "") continue;
    if (k.use !== undefined && k.use !== "sig") continue;
    if (k.alg !== undefined && k.alg !== "RS256") continue;
    if (typeof k.n !== "string" || typeof k.e !== "string") continue;
    // Public members only: a private key published by mistake is not used as such.
    out.push({ kty: k.kty, kid: k.kid, n: k.n, e: k.e, alg: "RS256", use: "sig" });
    if (out.length >= MAX_KEYS) break;
  }
  return out;
}

async function readLimited(response: Response, max: number): Promise<string> {
  const length = Number(response.headers.get("content-length"));
  if (Number.isFinite(length) && length > max) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`JWKS document too large (${length} bytes)`);
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new Error("JWKS document too large");
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`JwksCache: ${name} must be a non-negative number of milliseconds`);
  }
  return value;
}
