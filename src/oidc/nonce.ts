import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Generates a Sign in with Slack nonce: 32 random bytes (256 bits) from the CSPRNG, base64url (43 characters).
 *
 * @example
 * ```ts
 * const nonce = generateNonce();
 * const url = generator.generate(state, { nonce });
 * ```
 * @see https://openid.net/specs/openid-connect-core-1_0.html#NonceNotes
 */
export function generateNonce(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * Compares a nonce from an id_token with the one issued, in constant time (both are hashed first, so
 * neither their content nor their length leaks through timing).
 *
 * @example
 * ```ts
 * if (!nonceMatches(claims.nonce, issuedNonce)) throw new Error("replayed or injected id_token");
 * ```
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */
export function nonceMatches(received: unknown, expected: string): boolean {
  if (typeof received !== "string" || typeof expected !== "string" || expected === "") return false;
  const a = createHash("sha256").update(received, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}
