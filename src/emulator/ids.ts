/**
 * Identifier, token and secret generation in Slack's formats.
 *
 * Everything random comes from `node:crypto` so that emulated secrets are as unguessable as real ones
 * (tests assert that none of them leaks into the call log).
 */
import { createHash, randomBytes, randomInt } from "node:crypto";

const UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Random string of `length` characters drawn uniformly from `alphabet`. */
export function randomString(length: number, alphabet: string = ALNUM): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** Random lower-case hex string of `length` characters. */
export function randomHex(length: number): string {
  return randomBytes(Math.ceil(length / 2))
    .toString("hex")
    .slice(0, length);
}

/** Random decimal string of `length` digits, never starting with 0. */
export function randomDigits(length: number): string {
  let out = String(1 + randomInt(9));
  for (let i = 1; i < length; i++) out += String(randomInt(10));
  return out;
}

/** Slack object id: a one-letter prefix and 10 upper-case alphanumerics (e.g. `B07QX3ZK2LM`). */
export function slackId(prefix: "A" | "B" | "C" | "D" | "E" | "T" | "U" | "W" | "V" | "F"): string {
  return prefix + randomString(10, UPPER_ALNUM);
}

/** Event id as in event_callback wrappers (`Ev` + 10 upper-case alphanumerics). */
export function eventId(): string {
  return "Ev" + randomString(10, UPPER_ALNUM);
}

/** Pattern for ids of a given prefix (9 to 11 characters in all, upper-case alphanumerics). */
export function idPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}[A-Z0-9]{8,10}$`);
}

/** Client id in Slack's shape: `<10 digits>.<13 digits>`. */
export function clientId(): string {
  return `${randomDigits(10)}.${randomDigits(13)}`;
}

/** Client secret / signing secret / verification token: 32 lower-case hex characters. */
export function secret32(): string {
  return randomHex(32);
}

/**
 * A stable numeric form of a Slack id, used inside tokens (`xoxb-<team number>-…`), the way Slack's own
 * tokens start with the workspace's numeric id.
 */
export function idNumber(id: string): string {
  // Deterministic per id, 12 digits, never starting with 0.
  const n = BigInt(`0x${createHash("sha256").update(id).digest("hex").slice(0, 14)}`);
  return String(100_000_000_000n + (n % 900_000_000_000n));
}

/** Long-lived bot token: `xoxb-<team number>-<bot number>-<24 alphanumerics>`. */
export function botToken(teamNumber: string): string {
  return `xoxb-${teamNumber}-${randomDigits(13)}-${randomString(24)}`;
}

/** Long-lived user token: `xoxp-<team number>-<user number>-<number>-<32 hex>`. */
export function userToken(teamNumber: string): string {
  return `xoxp-${teamNumber}-${randomDigits(13)}-${randomDigits(13)}-${randomHex(32)}`;
}

/** Rotating access token: `xoxe.xoxb-1-…` or `xoxe.xoxp-1-…`. */
export function rotatingToken(kind: "bot" | "user"): string {
  return `xoxe.${kind === "bot" ? "xoxb" : "xoxp"}-1-${randomString(96)}`;
}

/** Refresh token: `xoxe-1-…`. */
export function refreshToken(): string {
  return `xoxe-1-${randomString(96)}`;
}

/** OAuth authorization code: `<team number>.<13 digits>.<64 hex>` like Slack's codes. */
export function authorizationCode(teamNumber: string): string {
  return `${teamNumber}.${randomDigits(13)}.${randomHex(64)}`;
}

/** Trigger id as in slash commands and interactions: `<digits>.<digits>.<32 hex>`. */
export function triggerId(teamNumber: string): string {
  return `${randomDigits(13)}.${teamNumber}.${randomHex(32)}`;
}

/** Message timestamp (`1712345678.123456`) for a given epoch-ms clock reading. */
export function messageTs(nowMs: number): string {
  return `${Math.floor(nowMs / 1000)}.${String(randomInt(1_000_000)).padStart(6, "0")}`;
}

/** base64url without padding. */
export function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString("base64url");
}

/** PKCE S256: base64url(SHA-256(verifier)). */
export function pkceS256(verifier: string): string {
  return base64url(createHash("sha256").update(verifier).digest());
}
