import {
  type CryptoKey,
  createRemoteJWKSet,
  customFetch,
  errors,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
} from "jose";
import { CodedTypeError, ErrorCode } from "../errors.js";
import { BodyTooLargeError, readBody } from "../http/core.js";
import { type Logger, silentLogger } from "../redact.js";
import { NO_REDIRECT } from "../slack-api/transport.js";
import { IdTokenError } from "./errors.js";

/** Largest JWKS document read (Slack's is about 1 KB). */
const MAX_JWKS_BYTES = 256 * 1024;
/** Most keys kept from one document. */
const MAX_KEYS = 50;
/** After a failed first fetch (nothing cached), the next attempt waits at least this long. */
const COLD_RETRY_MS = 1_000;

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
  /**
   * `fetch` to use.
   *
   * @default the global one
   */
  fetch?: typeof fetch | undefined;
  /**
   * Refetch the set once it is this old, even when every `kid` is known.
   *
   * @default 10 minutes
   */
  maxAgeMs?: number | undefined;
  /**
   * A token with an unknown `kid` triggers a refetch at most once per this interval (default 30 s), so a
   * flood of such tokens cannot turn into a flood of requests to the issuer.
   */
  minRefetchIntervalMs?: number | undefined;
  /**
   * Timeout of one fetch.
   *
   * @default 5 s
   */
  timeoutMs?: number | undefined;
  logger?: Logger | undefined;
}

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

type RemoteSet = ReturnType<typeof createRemoteJWKSet>;

/**
 * A cached JSON Web Key Set for id_token verification, usable as jose's key resolver (`getKey`): jose's
 * `createRemoteJWKSet` (caching, single-flight refetches, cooldown), wrapped through its fetch hook so
 * that what this library promises holds whatever jose's defaults become.
 *
 * - The set is fetched on first use, kept for `maxAgeMs`, and refetched when a token names a `kid` it does
 *   not hold (a key rotation is picked up without a restart) — at most once per `minRefetchIntervalMs`.
 *   Concurrent callers share one request.
 * - A failed refetch keeps the cached set (it answers for another `maxAgeMs`, or until an unknown `kid`
 *   asks again after the interval); with nothing cached, a failure is retried at most once a second.
 * - Only RSA signing keys for RS256 (`use` absent or `sig`, `alg` absent or `RS256`), public members only,
 *   at most 50. No redirects, a timeout (5 s), and a size limit on the document (256 KiB).
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
  readonly #minIntervalMs: number;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  readonly #remote: RemoteSet;
  /** The last good document, as served to jose (filtered). */
  #lastGood: string | undefined;
  #kids: string[] = [];
  #fetchedAt: number | undefined;
  #failedAt = Number.NEGATIVE_INFINITY;
  #fetches = 0;
  #failures = 0;

  constructor(options: JwksCacheOptions) {
    if (!options || typeof options.jwksUri !== "string") throw new CodedTypeError("JwksCache: jwksUri is required");
    if ("now" in options) {
      throw new CodedTypeError(
        "JwksCache: the now option is gone (the cache reads the system clock; see CHANGELOG.md)",
      );
    }
    let url: URL;
    try {
      url = new URL(options.jwksUri);
    } catch {
      throw new CodedTypeError("JwksCache: jwksUri must be an absolute http(s) URL");
    }
    if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password) {
      throw new CodedTypeError("JwksCache: jwksUri must be an absolute http(s) URL without credentials");
    }
    this.jwksUri = url.toString();
    const f = options.fetch;
    this.#fetch = f ?? ((input, init) => globalThis.fetch(input, init));
    const maxAgeMs = nonNegative("maxAgeMs", options.maxAgeMs ?? 10 * 60_000);
    this.#minIntervalMs = nonNegative("minRefetchIntervalMs", options.minRefetchIntervalMs ?? 30_000);
    this.#timeoutMs = Math.ceil(nonNegative("timeoutMs", options.timeoutMs ?? 5_000));
    this.#log = options.logger ?? silentLogger;
    this.#remote = createRemoteJWKSet(url, {
      cacheMaxAge: maxAgeMs,
      cooldownDuration: this.#minIntervalMs,
      timeoutDuration: this.#timeoutMs,
      [customFetch]: (input: string, init: RequestInit) => this.#load(input, init),
    });
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
    try {
      return (await this.#remote(header, token as FlattenedJWSInput)) as CryptoKey;
    } catch (error) {
      throw this.#toIdTokenError(error);
    }
  };

  /**
   * Refetches now unless the set was fetched less than `minGapMs` ago (default: the refetch interval);
   * concurrent calls share one fetch.
   *
   * @throws IdTokenError `SLACK_OAUTH_JWKS_UNAVAILABLE` when the fetch fails and nothing is cached.
   */
  async refresh(minGapMs: number = this.#minIntervalMs): Promise<void> {
    if (this.#fetchedAt !== undefined && Date.now() - this.#fetchedAt < minGapMs) return;
    try {
      await this.#remote.reload();
    } catch (error) {
      throw this.#toIdTokenError(error);
    }
  }

  #toIdTokenError(error: unknown): IdTokenError {
    if (error instanceof IdTokenError) return error;
    if (error instanceof errors.JWKSNoMatchingKey) {
      return new IdTokenError(ErrorCode.IdTokenKeyNotFound, `no key with this kid in ${this.jwksUri}`, {
        cause: error,
      });
    }
    if (error instanceof errors.JOSENotSupported) {
      return new IdTokenError(ErrorCode.IdTokenKeyNotFound, "the key with this kid does not fit the token's alg", {
        cause: error,
      });
    }
    if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
      return new IdTokenError(ErrorCode.JwksUnavailable, `fetching the JWKS failed: ${error.message}`, {
        cause: error,
      });
    }
    return new IdTokenError(ErrorCode.IdTokenInvalid, "the key could not be selected", { cause: error });
  }

  /**
   * jose's fetch hook: fetches with our own rules (no redirects, timeout, size cap), keeps only usable
   * keys, and hands jose that filtered document. On failure it hands back the last good document (the
   * cached keys keep answering) or, with nothing cached, throws `SLACK_OAUTH_JWKS_UNAVAILABLE`.
   */
  async #load(input: string, init: RequestInit): Promise<Response> {
    if (this.#lastGood === undefined && Date.now() - this.#failedAt < COLD_RETRY_MS) {
      throw new IdTokenError(ErrorCode.JwksUnavailable, "the JWKS fetch failed moments ago; not retrying yet");
    }
    this.#fetches++;
    let document: string;
    // Our own timer (jose's timeout is the same length; this one also bounds the body read below).
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new DOMException(`no answer within ${this.#timeoutMs} ms`, "TimeoutError")),
      this.#timeoutMs,
    );
    try {
      const response = await this.#fetch(input, {
        headers: { accept: "application/json" },
        redirect: NO_REDIRECT, // a 3xx is then !ok on Workers

        signal: init.signal ? AbortSignal.any([init.signal, timeout.signal]) : timeout.signal,
      });
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        throw new Error(`HTTP ${response.status}`);
      }
      const bytes = await readBody(response, { maxBytes: MAX_JWKS_BYTES, timeoutMs: this.#timeoutMs });
      const keys = usableKeys(JSON.parse(new TextDecoder().decode(bytes)) as unknown);
      document = JSON.stringify({ keys });
      this.#kids = keys.map((k) => k.kid as string);
      this.#fetchedAt = Date.now();
      this.#lastGood = document;
    } catch (error) {
      this.#failures++;
      this.#failedAt = Date.now();
      const reason =
        error instanceof BodyTooLargeError
          ? `JWKS document too large (over ${MAX_JWKS_BYTES} bytes)`
          : error instanceof Error
            ? `${error.name}: ${error.message}`
            : String(error);
      this.#log.warn(`JwksCache: fetching ${this.jwksUri} failed (${reason.slice(0, 200)})`);
      if (this.#lastGood === undefined) {
        throw new IdTokenError(ErrorCode.JwksUnavailable, `fetching the JWKS failed: ${reason.slice(0, 200)}`, {
          cause: error,
        });
      }
      document = this.#lastGood;
    } finally {
      clearTimeout(timer);
    }
    return new Response(document, { status: 200, headers: { "content-type": "application/json" } });
  }
}

/** RSA signing keys with a `kid`, from a parsed JWKS document (public members only, at most {@link MAX_KEYS}). */
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

function nonNegative(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new CodedTypeError(`JwksCache: ${name} must be a non-negative number of milliseconds`);
  }
  return value;
}
