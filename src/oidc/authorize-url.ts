import { CodedTypeError } from "../errors.js";
/** Slack's default OIDC base URL: authorize at `{base}/openid/connect/authorize`, keys at `{base}/openid/connect/keys`. */
export const SLACK_OIDC_BASE_URL = "https://slack.com";
/** Slack's Sign in with Slack authorize endpoint. */
export const SLACK_OIDC_AUTHORIZE_URL = "https://slack.com/openid/connect/authorize";
/** The `iss` of Slack's id_tokens. */
export const SLACK_OIDC_ISSUER = "https://slack.com";

/** The only scopes Sign in with Slack accepts (Slack refuses app scopes in this flow). */
export type OpenIDConnectScope = "openid" | "profile" | "email";

const OIDC_SCOPES: ReadonlySet<string> = new Set(["openid", "profile", "email"]);
const DEFAULT_SCOPES: readonly OpenIDConnectScope[] = ["openid", "profile", "email"];
const CLIENT_ID_RE = /^[A-Za-z0-9._-]+$/;
const TEAM_RE = /^[A-Za-z0-9]+$/;
// Printable ASCII without spaces: the nonce is echoed in the id_token and compared byte for byte.
const NONCE_RE = /^[\x21-\x7e]{16,255}$/;

/**
 * Options of {@link OpenIDConnectAuthorizeUrlGenerator}.
 *
 * @example
 * ```ts
 * const options: OpenIDConnectAuthorizeUrlGeneratorOptions = {
 *   clientId: "111.222",
 *   redirectUri: "https://example.com/slack/login/callback",
 * };
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export interface OpenIDConnectAuthorizeUrlGeneratorOptions {
  /** The app's client id. */
  clientId: string;
  /**
   * `openid` plus optionally `profile` and `email` (default all three): an array, or one string separated by
   * spaces and/or commas. Anything else throws: Slack refuses app scopes in this flow.
   */
  scopes?: readonly string[] | string | undefined;
  /** The callback URL (absolute http(s), no `#`); Slack requires it in this flow. Can be given per URL instead. */
  redirectUri?: string | undefined;
  /** The authorize endpoint (default `https://slack.com/openid/connect/authorize`). Its query parameters are kept. */
  authorizationUrl?: string | undefined;
}

/**
 * Per-URL options of {@link OpenIDConnectAuthorizeUrlGenerator.generate}.
 *
 * @example
 * ```ts
 * const options: OpenIDConnectAuthorizeUrlOptions = { nonce: generateNonce(), team: "T0123ABCD" };
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export interface OpenIDConnectAuthorizeUrlOptions {
  /**
   * The one-time nonce Slack copies into the id_token (16–255 printable ASCII characters; use
   * `generateNonce()`). Keep it server-side with the state and compare it with the id_token's `nonce`.
   */
  nonce: string;
  /** Workspace id to preselect on Slack's page. */
  team?: string | undefined;
  /** Replaces the generator's redirect URI. */
  redirectUri?: string | undefined;
  /** Replaces the generator's scopes. */
  scopes?: readonly string[] | string | undefined;
}

/**
 * Builds the Sign in with Slack (OpenID Connect) authorize URL: `response_type=code`, space-separated
 * scopes (`openid` required, only `openid`/`profile`/`email` allowed), `client_id`, `redirect_uri`,
 * `state`, `nonce` and optionally `team`, every value percent-encoded.
 *
 * @example
 * ```ts
 * const generator = new OpenIDConnectAuthorizeUrlGenerator({
 *   clientId: "111.222",
 *   redirectUri: "https://example.com/slack/login/callback",
 * });
 * const url = generator.generate(state, { nonce });
 * // https://slack.com/openid/connect/authorize?response_type=code&scope=openid%20profile%20email&client_id=111.222&…
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export class OpenIDConnectAuthorizeUrlGenerator {
  readonly clientId: string;
  readonly scopes: readonly OpenIDConnectScope[];
  readonly redirectUri: string | undefined;
  readonly authorizationUrl: string;

  constructor(options: OpenIDConnectAuthorizeUrlGeneratorOptions) {
    if (options === null || typeof options !== "object") {
      throw new CodedTypeError("OpenIDConnectAuthorizeUrlGenerator: expected an options object");
    }
    if (typeof options.clientId !== "string" || !CLIENT_ID_RE.test(options.clientId)) {
      throw new CodedTypeError(
        "OpenIDConnectAuthorizeUrlGenerator: clientId must be a non-empty string of letters, digits, '.', '_', '-'",
      );
    }
    this.clientId = options.clientId;
    this.scopes = Object.freeze(parseOidcScopes(options.scopes));
    this.redirectUri = checkRedirectUri(options.redirectUri);
    this.authorizationUrl = checkAuthorizationUrl(options.authorizationUrl ?? SLACK_OIDC_AUTHORIZE_URL);
  }

  /**
   * Returns the authorize URL for one sign-in attempt.
   *
   * @throws TypeError when the state or nonce is missing or malformed, a scope is not an OIDC scope, there
   *   is no redirect URI, or `team` is not a Slack id.
   * @example
   * ```ts
   * const url = generator.generate(state, { nonce: generateNonce(), team: "T0123ABCD" });
   * ```
   * @see https://docs.slack.dev/authentication/sign-in-with-slack
   */
  generate(state: string, options: OpenIDConnectAuthorizeUrlOptions): string {
    if (typeof state !== "string" || state === "") {
      throw new CodedTypeError("OpenIDConnectAuthorizeUrlGenerator.generate: state must be a non-empty string");
    }
    if (options === null || typeof options !== "object") {
      throw new CodedTypeError("OpenIDConnectAuthorizeUrlGenerator.generate: expected options with a nonce");
    }
    if (typeof options.nonce !== "string" || !NONCE_RE.test(options.nonce)) {
      throw new CodedTypeError(
        "OpenIDConnectAuthorizeUrlGenerator.generate: nonce must be 16-255 printable ASCII characters (use generateNonce())",
      );
    }
    const scopes = options.scopes === undefined ? [...this.scopes] : parseOidcScopes(options.scopes);
    const redirectUri = options.redirectUri === undefined ? this.redirectUri : checkRedirectUri(options.redirectUri);
    if (redirectUri === undefined) {
      throw new CodedTypeError("OpenIDConnectAuthorizeUrlGenerator: Sign in with Slack requires a redirectUri");
    }
    const team = options.team === undefined || options.team === "" ? undefined : options.team;
    if (team !== undefined && (typeof team !== "string" || !TEAM_RE.test(team))) {
      throw new CodedTypeError(
        "OpenIDConnectAuthorizeUrlGenerator.generate: team must be a Slack team id (letters and digits)",
      );
    }
    const url = new URL(this.authorizationUrl);
    const q = url.searchParams;
    q.set("response_type", "code");
    q.set("scope", scopes.join(" "));
    q.set("client_id", this.clientId);
    q.set("state", state);
    q.set("nonce", options.nonce);
    q.set("redirect_uri", redirectUri);
    if (team !== undefined) q.set("team", team);
    // URLSearchParams writes a space as `+`; Slack documents `%20`. A literal `+` is always `%2B`, so every `+`
    // left in the query is a space.
    url.search = q.toString().replaceAll("+", "%20");
    return url.toString();
  }
}

/**
 * Splits and checks a Sign in with Slack scope list: only `openid`, `profile` and `email`, `openid` required,
 * duplicates dropped, `openid` first.
 *
 * @throws TypeError naming the first scope Slack would refuse, or when `openid` is missing.
 * @example
 * ```ts
 * parseOidcScopes("email openid"); // ["openid", "email"]
 * ```
 * @see https://docs.slack.dev/authentication/sign-in-with-slack
 */
export function parseOidcScopes(input: readonly string[] | string | undefined): OpenIDConnectScope[] {
  if (input === undefined) return [...DEFAULT_SCOPES];
  let parts: readonly unknown[];
  if (typeof input === "string") parts = input.split(/[\s,]+/);
  else if (Array.isArray(input)) parts = input;
  else throw new CodedTypeError("Sign in with Slack: scopes must be an array of strings or a string");
  const out: OpenIDConnectScope[] = [];
  for (const part of parts) {
    if (typeof part !== "string") throw new CodedTypeError("Sign in with Slack: scopes must contain only strings");
    const scope = part.trim();
    if (scope === "") continue;
    if (!OIDC_SCOPES.has(scope)) {
      const shown = JSON.stringify(scope.length > 40 ? `${scope.slice(0, 40)}…` : scope);
      throw new CodedTypeError(
        `Sign in with Slack: scope ${shown} is not allowed; only openid, profile and email (Slack refuses app scopes in this flow: install the app with AuthorizeUrlGenerator instead)`,
      );
    }
    if (!out.includes(scope as OpenIDConnectScope)) out.push(scope as OpenIDConnectScope);
  }
  if (!out.includes("openid")) throw new CodedTypeError("Sign in with Slack: the openid scope is required");
  return ["openid", ...out.filter((s) => s !== "openid")];
}

function checkAuthorizationUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new CodedTypeError("OpenIDConnectAuthorizeUrlGenerator: authorizationUrl must be an absolute http(s) URL");
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password) {
    throw new CodedTypeError(
      "OpenIDConnectAuthorizeUrlGenerator: authorizationUrl must be an absolute http(s) URL without credentials",
    );
  }
  url.hash = "";
  return url.toString();
}

function checkRedirectUri(input: string | undefined): string | undefined {
  if (input === undefined || input === "") return undefined;
  if (typeof input !== "string")
    throw new CodedTypeError("OpenIDConnectAuthorizeUrlGenerator: redirectUri must be a string");
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new CodedTypeError("OpenIDConnectAuthorizeUrlGenerator: redirectUri must be an absolute http(s) URL");
  }
  // Sent as given (openid.connect.token must receive the same string), so reject what the parser would hide.
  if ((url.protocol !== "https:" && url.protocol !== "http:") || /[#\s\x00-\x1f\x7f]/.test(input)) {
    throw new CodedTypeError(
      "OpenIDConnectAuthorizeUrlGenerator: redirectUri must be an absolute http(s) URL without '#'",
    );
  }
  return input;
}
