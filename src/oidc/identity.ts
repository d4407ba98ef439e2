import type { OpenIDConnectUserInfoResponse } from "../slack-api/types.js";
import type { SlackIdTokenClaims } from "./verifier.js";

const USER_IMAGE_SIZES = [24, 32, 48, 72, 192, 512] as const;
const TEAM_IMAGE_SIZES = [34, 44, 68, 88, 102, 132, 230] as const;

/**
 * Who signed in, in camelCase: from the verified id_token, completed by `openid.connect.userInfo` (which
 * is only used when it describes the same user and workspace).
 *
 * @example
 * ```ts
 * const { userId, teamId, email, emailVerified, name }: SlackIdentity = ctx.identity;
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export interface SlackIdentity {
  /** The Slack user id (`sub`). */
  userId: string;
  teamId: string;
  enterpriseId?: string | undefined;
  /** With the `email` scope. Trust it for account linking only when `emailVerified` is true. */
  email?: string | undefined;
  emailVerified?: boolean | undefined;
  /** Epoch seconds. */
  dateEmailVerified?: number | undefined;
  /** With the `profile` scope. */
  name?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  /** Avatar URL (userInfo's `picture`, else the largest `user_image_*`). Untrusted text: escape, check the scheme. */
  picture?: string | undefined;
  locale?: string | undefined;
  teamName?: string | undefined;
  teamDomain?: string | undefined;
  /** True when the workspace has no custom icon. */
  teamImageDefault?: boolean | undefined;
  /** `user_image_{24,32,48,72,192,512}` by size. */
  userImages: Partial<Record<24 | 32 | 48 | 72 | 192 | 512, string>>;
  /** `team_image_{34,44,68,88,102,132,230}` by size. */
  teamImages: Partial<Record<34 | 44 | 68 | 88 | 102 | 132 | 230, string>>;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Builds a {@link SlackIdentity} from verified id_token claims and an optional userInfo reply (the id_token
 * wins where both have a value).
 *
 * @example
 * ```ts
 * const identity = identityFromClaims(claims, await client.openidConnectUserInfo(accessToken));
 * ```
 * @see https://docs.slack.dev/reference/methods/openid.connect.userInfo
 */
export function identityFromClaims(
  claims: SlackIdTokenClaims,
  userInfo?: OpenIDConnectUserInfoResponse | Record<string, unknown>,
): SlackIdentity {
  const info = (userInfo ?? {}) as Record<string, unknown>;
  const c = claims as Record<string, unknown>;
  const pick = (key: string): string | undefined => str(c[key]) ?? str(info[key]);
  const userImages: SlackIdentity["userImages"] = {};
  for (const size of USER_IMAGE_SIZES) {
    const url = pick(`https://slack.com/user_image_${size}`);
    if (url) userImages[size] = url;
  }
  const teamImages: SlackIdentity["teamImages"] = {};
  for (const size of TEAM_IMAGE_SIZES) {
    const url = pick(`https://slack.com/team_image_${size}`);
    if (url) teamImages[size] = url;
  }
  const emailVerified = typeof c.email_verified === "boolean" ? c.email_verified : info.email_verified;
  const dateEmailVerified =
    typeof c.date_email_verified === "number" ? c.date_email_verified : info.date_email_verified;
  const teamImageDefault =
    typeof c["https://slack.com/team_image_default"] === "boolean"
      ? c["https://slack.com/team_image_default"]
      : info["https://slack.com/team_image_default"];
  const identity: SlackIdentity = {
    userId: claims.sub,
    teamId: claims["https://slack.com/team_id"],
    userImages,
    teamImages,
  };
  const set = <K extends keyof SlackIdentity>(key: K, value: SlackIdentity[K] | undefined) => {
    if (value !== undefined) identity[key] = value;
  };
  set("enterpriseId", str(claims["https://slack.com/enterprise_id"]));
  set("email", pick("email"));
  set("emailVerified", typeof emailVerified === "boolean" ? emailVerified : undefined);
  set("dateEmailVerified", typeof dateEmailVerified === "number" ? dateEmailVerified : undefined);
  set("name", pick("name"));
  set("givenName", pick("given_name"));
  set("familyName", pick("family_name"));
  set("picture", pick("picture") ?? userImages[512] ?? userImages[192] ?? userImages[72]);
  set("locale", pick("locale"));
  set("teamName", pick("https://slack.com/team_name"));
  set("teamDomain", pick("https://slack.com/team_domain"));
  set("teamImageDefault", typeof teamImageDefault === "boolean" ? teamImageDefault : undefined);
  return identity;
}

/**
 * The URL as a string when it is plain `https:` or `http:` (no credentials), else `undefined`: claims are
 * untrusted text, and a `javascript:` or `data:` URL must never reach an `src` or `href`.
 *
 * @example
 * ```ts
 * const avatar = safeImageUrl(identity.picture); // undefined for "javascript:alert(1)"
 * ```
 * @see https://owasp.org/www-community/attacks/xss/
 */
export function safeImageUrl(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > 2048) return undefined;
  try {
    const url = new URL(value);
    if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password) return undefined;
    return url.href;
  } catch {
    return undefined;
  }
}
