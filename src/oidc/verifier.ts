import { errors, type JWTPayload, jwtVerify } from "jose";
import { rejectRenamedClock } from "../clock.js";
import { CodedTypeError, ErrorCode } from "../errors.js";
import type { Logger } from "../redact.js";
import { SLACK_OIDC_BASE_URL, SLACK_OIDC_ISSUER } from "./authorize-url.js";
import { IdTokenError } from "./errors.js";
import { JwksCache } from "./jwks.js";
import { nonceMatches } from "./nonce.js";

/** Largest id_token accepted (Slack's are about 1.5 KB). */
const MAX_ID_TOKEN_LENGTH = 16 * 1024;
/** Slack ids: team, enterprise and user ids are upper-case letters and digits. */
const SLACK_ID_RE = /^[A-Z0-9]{2,32}$/;
/** The most clock leeway we allow: a minute covers real clock skew; more only widens replay windows. */
const MAX_CLOCK_TOLERANCE_SECONDS = 60;

/**
 * Claims of a verified Slack id_token.
 *
 * @example
 * ```ts
 * const claims: SlackIdTokenClaims = await verifier.verify(idToken, { nonce });
 * console.log(claims.sub, claims["https://slack.com/team_id"]);
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export interface SlackIdTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nonce: string;
  auth_time?: number;
  at_hash?: string;
  email?: string;
  email_verified?: boolean;
  date_email_verified?: number;
  name?: string;
  given_name?: string;
  family_name?: string;
  locale?: string;
  picture?: string;
  "https://slack.com/team_id": string;
  "https://slack.com/user_id"?: string;
  "https://slack.com/enterprise_id"?: string;
  "https://slack.com/team_name"?: string;
  "https://slack.com/team_domain"?: string;
}

/**
 * Options of {@link IdTokenVerifier}.
 *
 * @example
 * ```ts
 * const options: IdTokenVerifierOptions = { clientId: "111.222", issuer: "https://slack.com" };
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export interface IdTokenVerifierOptions {
  /** The app's client id: the only accepted `aud`. */
  clientId: string;
  /**
   * The only accepted `iss`.
   *
   * @default `https://slack.com`
   */
  issuer?: string | undefined;
  /** A shared JWKS cache; by default one is built on `jwksUri`. */
  jwks?: JwksCache | undefined;
  /** Default `https://slack.com/openid/connect/keys`. */
  jwksUri?: string | undefined;
  /** `fetch` for the JWKS (when no `jwks` is given). */
  fetch?: typeof fetch | undefined;
  /**
   * See {@link JwksCacheOptions.minRefetchIntervalMs}.
   *
   * @default 30 s
   */
  jwksMinRefetchIntervalMs?: number | undefined;
  /**
   * See {@link JwksCacheOptions.maxAgeMs}.
   *
   * @default 10 minutes
   */
  jwksMaxAgeMs?: number | undefined;
  /**
   * Leeway for `exp` and `iat`, in seconds: 0–60.
   *
   * @default 60
   */
  clockToleranceSeconds?: number | undefined;
  /**
   * Oldest accepted `iat`, in seconds. Slack's id_tokens live 300 s.
   *
   * @default 600
   */
  maxTokenAgeSeconds?: number | undefined;
  /** Clock, epoch ms (default `Date.now`); also the JWKS cache's clock when this verifier builds it. */
  nowMs?: (() => number) | undefined;
  logger?: Logger | undefined;
}

/**
 * Verifies Slack id_tokens: RS256 only, signature against the issuer's JWKS (cached, refetched on an unknown
 * `kid` at most once per interval), `iss`, `aud` (and `azp` when there are several audiences), `exp` and
 * `iat` with at most 60 s of leeway, the `nonce` issued with the state (constant-time compare), and Slack's
 * `sub` / team id claims.
 *
 * Every failure is an {@link IdTokenError} whose `code` names the check that failed.
 *
 * @example
 * ```ts
 * const verifier = new IdTokenVerifier({ clientId: process.env.SLACK_CLIENT_ID ?? "" });
 * const claims = await verifier.verify(reply.id_token ?? "", { nonce: issuedNonce });
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */
export class IdTokenVerifier {
  readonly clientId: string;
  readonly issuer: string;
  readonly jwks: JwksCache;
  readonly #tolerance: number;
  readonly #maxAge: number;
  readonly #now: () => number;

  constructor(options: IdTokenVerifierOptions) {
    rejectRenamedClock(options, "IdTokenVerifier", { now: "nowMs" });
    if (!options || typeof options.clientId !== "string" || options.clientId === "") {
      throw new CodedTypeError("IdTokenVerifier: clientId is required");
    }
    const tolerance = options.clockToleranceSeconds ?? MAX_CLOCK_TOLERANCE_SECONDS;
    if (typeof tolerance !== "number" || !(tolerance >= 0 && tolerance <= MAX_CLOCK_TOLERANCE_SECONDS)) {
      throw new CodedTypeError(
        `IdTokenVerifier: clockToleranceSeconds must be between 0 and ${MAX_CLOCK_TOLERANCE_SECONDS}`,
      );
    }
    const maxAge = options.maxTokenAgeSeconds ?? 600;
    if (typeof maxAge !== "number" || !(maxAge > 0)) {
      throw new CodedTypeError("IdTokenVerifier: maxTokenAgeSeconds must be a positive number");
    }
    const issuer = options.issuer ?? SLACK_OIDC_ISSUER;
    if (typeof issuer !== "string" || issuer === "")
      throw new CodedTypeError("IdTokenVerifier: issuer must be a string");
    this.clientId = options.clientId;
    this.issuer = issuer;
    this.#tolerance = tolerance;
    this.#maxAge = maxAge;
    this.#now = options.nowMs ?? Date.now;
    this.jwks =
      options.jwks ??
      new JwksCache({
        jwksUri: options.jwksUri ?? `${SLACK_OIDC_BASE_URL}/openid/connect/keys`,
        fetch: options.fetch,
        minRefetchIntervalMs: options.jwksMinRefetchIntervalMs,
        maxAgeMs: options.jwksMaxAgeMs,
        logger: options.logger,
      });
  }

  /**
   * Verifies an id_token and returns its claims.
   *
   * @param expected.nonce - the nonce issued with this sign-in's state (kept server-side).
   * @throws IdTokenError naming the failed check (`SLACK_OAUTH_ID_TOKEN_*`, `SLACK_OAUTH_JWKS_UNAVAILABLE`).
   * @example
   * ```ts
   * const claims = await verifier.verify(idToken, { nonce });
   * ```
   * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
   */
  async verify(idToken: string, expected: { nonce: string }): Promise<SlackIdTokenClaims> {
    if (typeof idToken !== "string" || idToken === "") {
      throw new IdTokenError(ErrorCode.IdTokenInvalid, "no id_token");
    }
    if (idToken.length > MAX_ID_TOKEN_LENGTH) {
      throw new IdTokenError(ErrorCode.IdTokenInvalid, `id_token too long (${idToken.length} characters)`);
    }
    if (!expected || typeof expected.nonce !== "string" || expected.nonce === "") {
      throw new CodedTypeError("IdTokenVerifier.verify: the expected nonce is required");
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, this.jwks.getKey, {
        // The one algorithm Slack signs with. Checked before any key is looked up, so `none` and HS256
        // (signed with the public key as an HMAC secret) never reach a key.
        algorithms: ["RS256"],
        issuer: this.issuer,
        audience: this.clientId,
        clockTolerance: this.#tolerance,
        maxTokenAge: this.#maxAge,
        requiredClaims: ["iss", "sub", "aud", "exp", "iat"],
        currentDate: new Date(this.#now()),
      }));
    } catch (error) {
      throw toIdTokenError(error);
    }
    // Several audiences: OIDC Core §3.1.3.7 requires azp to be us.
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== this.clientId) {
      throw new IdTokenError(ErrorCode.IdTokenAudienceMismatch, "several audiences and azp is not the client id");
    }
    if (!nonceMatches(payload.nonce, expected.nonce)) {
      throw new IdTokenError(
        ErrorCode.IdTokenNonceMismatch,
        payload.nonce === undefined ? "id_token has no nonce" : "id_token nonce differs from the one issued",
      );
    }
    const sub = payload.sub;
    const teamId = payload["https://slack.com/team_id"];
    const userId = payload["https://slack.com/user_id"];
    if (typeof sub !== "string" || !SLACK_ID_RE.test(sub)) {
      throw new IdTokenError(ErrorCode.IdTokenInvalid, "sub is not a Slack user id");
    }
    if (typeof teamId !== "string" || !SLACK_ID_RE.test(teamId)) {
      throw new IdTokenError(ErrorCode.IdTokenInvalid, "https://slack.com/team_id is missing or not a Slack id");
    }
    if (userId !== undefined && userId !== sub) {
      throw new IdTokenError(ErrorCode.IdTokenInvalid, "https://slack.com/user_id differs from sub");
    }
    const enterpriseId = payload["https://slack.com/enterprise_id"];
    if (enterpriseId !== undefined && (typeof enterpriseId !== "string" || !SLACK_ID_RE.test(enterpriseId))) {
      throw new IdTokenError(ErrorCode.IdTokenInvalid, "https://slack.com/enterprise_id is not a Slack id");
    }
    return payload as SlackIdTokenClaims;
  }
}

/** Maps jose's errors to the check that failed. */
function toIdTokenError(error: unknown): IdTokenError {
  if (error instanceof IdTokenError) return error;
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const make = (code: IdTokenError["code"]) => new IdTokenError(code, detail, { cause: error });
  if (error instanceof errors.JOSEAlgNotAllowed) return make(ErrorCode.IdTokenAlgorithmNotAllowed);
  if (error instanceof errors.JWSSignatureVerificationFailed) return make(ErrorCode.IdTokenSignatureInvalid);
  if (error instanceof errors.JWKSNoMatchingKey) return make(ErrorCode.IdTokenKeyNotFound);
  if (error instanceof errors.JWTExpired) return make(ErrorCode.IdTokenExpired);
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iss" && error.reason === "check_failed") return make(ErrorCode.IdTokenIssuerMismatch);
    if (error.claim === "aud" && error.reason === "check_failed") return make(ErrorCode.IdTokenAudienceMismatch);
    return make(ErrorCode.IdTokenInvalid);
  }
  if (error instanceof errors.JOSEError) return make(ErrorCode.IdTokenInvalid);
  // Anything else (a TypeError from a malformed key, an unexpected failure) is still a refusal.
  return make(ErrorCode.IdTokenInvalid);
}
