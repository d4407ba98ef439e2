import { createHash, randomBytes } from "node:crypto";
import { CodedTypeError } from "../errors.js";
import { redact } from "../redact.js";

/** Slack's v2 authorize endpoint (the default). */
export const SLACK_AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize";
/** Slack's legacy v1 authorize endpoint (`version: "v1"`). */
export const SLACK_LEGACY_AUTHORIZE_URL = "https://slack.com/oauth/authorize";

// Slack scopes are lower-case words joined by `:`, `.`, `-` and `_` (`chat:write`, `incoming-webhook`,
// `links.embed:write`, `admin.apps:read`). Anything else — `&`, `=`, `,`, `#`, spaces, newlines — could
// only be an injection attempt or a typo, so it is rejected rather than encoded.
const SCOPE_RE = /^[A-Za-z0-9_.:-]+$/;
const TEAM_RE = /^[A-Za-z0-9]+$/;
const CLIENT_ID_RE = /^[A-Za-z0-9._-]+$/;
const PKCE_VERIFIER_RE = /^[A-Za-z0-9._~-]{43,128}$/;
const PKCE_CHALLENGE_RE = /^[A-Za-z0-9._~-]{43,128}$/;

/**
 * Options of {@link AuthorizeUrlGenerator}.
 *
 * @example
 * ```ts
 * const options: AuthorizeUrlGeneratorOptions = { clientId: "111.222", scopes: ["chat:write", "commands"] };
 * ```
 * @see https://docs.slack.dev/authentication/installing-with-oauth
 */
export interface AuthorizeUrlGeneratorOptions {
  /** The app's client id. */
  clientId: string;
  /** Bot scopes: an array, or one string separated by commas and/or whitespace. */
  scopes?: string[] | string | undefined;
  /** User scopes (v2 only): an array, or one string separated by commas and/or whitespace. */
  userScopes?: string[] | string | undefined;
  /**
   * Redirect URL (absolute http(s), no `#`). If set, the callback must send the very same string to
   * `oauth.v2.access`.
   */
  redirectUri?: string | undefined;
  /**
   * The authorize endpoint. Default `https://slack.com/oauth/v2/authorize` (v2) or
   * `https://slack.com/oauth/authorize` (v1). Query parameters already on it are kept.
   */
  authorizationUrl?: string | undefined;
  /** `"v2"` (default) or the legacy `"v1"` flow (one space-separated `scope`, no `user_scope`, no PKCE). */
  version?: "v2" | "v1" | undefined;
}

/**
 * Per-URL options of {@link AuthorizeUrlGenerator.generate}; each one replaces the generator's default.
 *
 * @example
 * ```ts
 * const options: AuthorizeUrlOptions = { team: "T0123ABCD", codeChallenge: pkce.codeChallenge };
 * ```
 * @see https://docs.slack.dev/authentication/installing-with-oauth
 */
export interface AuthorizeUrlOptions {
  scopes?: string[] | string | undefined;
  userScopes?: string[] | string | undefined;
  redirectUri?: string | undefined;
  /** Workspace (or org) id to preselect on Slack's consent screen. */
  team?: string | undefined;
  /** PKCE S256 challenge (from {@link generatePkce}); adds `code_challenge_method=S256`. v2 only. */
  codeChallenge?: string | undefined;
  /**
   * Install metadata for the install handler to keep with the state. It is never put in the URL (Slack
   * has no such parameter); it is accepted so an install-options object can be passed through as is.
   */
  metadata?: string | undefined;
}

/**
 * Builds Slack's "Add to Slack" authorize URL. Every parameter is set with `URLSearchParams`, scopes are
 * validated, empty values are omitted, and query parameters already on a custom authorization URL are
 * preserved.
 *
 * @example
 * ```ts
 * const generator = new AuthorizeUrlGenerator({
 *   clientId: "111.222",
 *   scopes: ["chat:write", "commands"],
 *   userScopes: "search:read",
 *   redirectUri: "https://example.com/slack/oauth_redirect",
 * });
 * const state = await stateStore.issue();
 * const url = generator.generate(state);
 * // https://slack.com/oauth/v2/authorize?client_id=111.222&scope=chat%3Awrite%2Ccommands&user_scope=search%3Aread&redirect_uri=…&state=…
 * ```
 * @see https://docs.slack.dev/authentication/installing-with-oauth
 * @see https://docs.slack.dev/legacy/legacy-authentication (v1)
 */
export class AuthorizeUrlGenerator {
  readonly clientId: string;
  readonly version: "v2" | "v1";
  readonly authorizationUrl: string;
  readonly scopes: readonly string[];
  readonly userScopes: readonly string[];
  readonly redirectUri: string | undefined;

  constructor(options: AuthorizeUrlGeneratorOptions) {
    if (options === null || typeof options !== "object") {
      throw new CodedTypeError("AuthorizeUrlGenerator: expected an options object");
    }
    if (typeof options.clientId !== "string" || !CLIENT_ID_RE.test(options.clientId)) {
      throw new CodedTypeError(
        "AuthorizeUrlGenerator: clientId must be a non-empty string of letters, digits, '.', '_', '-'",
      );
    }
    const version = options.version ?? "v2";
    if (version !== "v2" && version !== "v1")
      throw new CodedTypeError('AuthorizeUrlGenerator: version must be "v2" or "v1"');
    this.clientId = options.clientId;
    this.version = version;
    this.authorizationUrl = checkAuthorizationUrl(
      options.authorizationUrl ?? (version === "v1" ? SLACK_LEGACY_AUTHORIZE_URL : SLACK_AUTHORIZE_URL),
    );
    this.scopes = Object.freeze(parseScopeList(options.scopes, "scopes"));
    this.userScopes = Object.freeze(parseScopeList(options.userScopes, "userScopes"));
    if (version === "v1" && this.userScopes.length > 0) throw v1UserScopesError();
    this.redirectUri = checkRedirectUri(options.redirectUri);
  }

  /**
   * Returns the authorize URL for one install attempt.
   *
   * @param state - the one-time state issued for this browser (required, opaque).
   * @throws TypeError when the state is empty, a scope is malformed, there is no scope at all, the
   *   redirect URI is not an absolute http(s) URL without `#`, or `team`/`codeChallenge` are malformed.
   *
   * @example
   * ```ts
   * const pkce = generatePkce();
   * const url = generator.generate(state, { team: "T0123ABCD", codeChallenge: pkce.codeChallenge });
   * ```
   * @see https://docs.slack.dev/authentication/installing-with-oauth
   */
  generate(state: string, options: AuthorizeUrlOptions = {}): string {
    if (typeof state !== "string" || state === "") {
      throw new CodedTypeError("AuthorizeUrlGenerator.generate: state must be a non-empty string");
    }
    const scopes = options.scopes === undefined ? [...this.scopes] : parseScopeList(options.scopes, "scopes");
    const userScopes =
      options.userScopes === undefined ? [...this.userScopes] : parseScopeList(options.userScopes, "userScopes");
    const redirectUri = options.redirectUri === undefined ? this.redirectUri : checkRedirectUri(options.redirectUri);
    const team = options.team === undefined || options.team === "" ? undefined : options.team;
    if (team !== undefined && (typeof team !== "string" || !TEAM_RE.test(team))) {
      throw new CodedTypeError(
        "AuthorizeUrlGenerator.generate: team must be a Slack team or enterprise id (letters and digits)",
      );
    }
    const challenge =
      options.codeChallenge === undefined || options.codeChallenge === "" ? undefined : options.codeChallenge;
    if (challenge !== undefined && (typeof challenge !== "string" || !PKCE_CHALLENGE_RE.test(challenge))) {
      throw new CodedTypeError(
        "AuthorizeUrlGenerator.generate: codeChallenge must be a base64url S256 challenge (43+ chars)",
      );
    }

    const url = new URL(this.authorizationUrl);
    const q = url.searchParams;
    q.set("client_id", this.clientId);
    if (this.version === "v1") {
      if (userScopes.length > 0) throw v1UserScopesError();
      if (challenge !== undefined)
        throw new CodedTypeError("AuthorizeUrlGenerator: PKCE is only supported by the v2 flow");
      if (scopes.length === 0) throw new CodedTypeError("AuthorizeUrlGenerator: at least one scope is required");
      q.set("scope", scopes.join(" "));
    } else {
      if (scopes.length === 0 && userScopes.length === 0) {
        throw new CodedTypeError("AuthorizeUrlGenerator: at least one bot scope or user scope is required");
      }
      if (scopes.length > 0) q.set("scope", scopes.join(","));
      if (userScopes.length > 0) q.set("user_scope", userScopes.join(","));
    }
    if (redirectUri !== undefined) q.set("redirect_uri", redirectUri);
    q.set("state", state);
    if (team !== undefined) q.set("team", team);
    if (challenge !== undefined) {
      q.set("code_challenge", challenge);
      q.set("code_challenge_method", "S256");
    }
    return url.toString();
  }
}

/**
 * Where an installation lives, as the reinstall helpers read it.
 *
 * @example
 * ```ts
 * const where: InstallationPlace = { teamId: "T0123", isEnterpriseInstall: false };
 * ```
 */
export interface InstallationPlace {
  enterpriseId?: string | undefined;
  teamId?: string | undefined;
  isEnterpriseInstall: boolean;
}

/**
 * The workspace (or, for an org-wide installation, the org) to pre-select on Slack's consent screen when
 * an installation is installed again: its `teamId`, or its `enterpriseId` for an org-wide install.
 *
 * @example
 * ```ts
 * reinstallTeam({ enterpriseId: "E0123", isEnterpriseInstall: true }); // "E0123"
 * ```
 */
export function reinstallTeam(installation: InstallationPlace): string | undefined {
  const id = installation.isEnterpriseInstall ? installation.enterpriseId : installation.teamId;
  return typeof id === "string" && TEAM_RE.test(id) ? id : undefined;
}

/**
 * Slack's authorize URL to install an installation again (after the app added scopes), with its
 * workspace or org pre-selected (`team`) and the generator's current scopes.
 *
 * @example
 * ```ts
 * const url = reinstallUrl(generator, await stateStore.issue(), installation);
 * ```
 * @see https://docs.slack.dev/authentication/installing-with-oauth
 */
export function reinstallUrl(
  generator: AuthorizeUrlGenerator,
  state: string,
  installation: InstallationPlace,
  options: AuthorizeUrlOptions = {},
): string {
  const team = reinstallTeam(installation);
  return generator.generate(state, { ...options, ...(team !== undefined ? { team } : {}) });
}

/**
 * A link to the app's own install route (`OAuthFlow`'s, e.g. `https://app.example/slack/install`) that
 * pre-selects the installation's workspace or org: `…/slack/install?team=T0123`. What a message asking
 * an admin to reinstall links to; the route issues the state and sends them on to Slack.
 *
 * @example
 * ```ts
 * installLinkFor("https://app.example/slack/install", { teamId: "T0123", isEnterpriseInstall: false });
 * // "https://app.example/slack/install?team=T0123"
 * ```
 */
export function installLinkFor(installUrl: string, installation: InstallationPlace): string {
  const team = reinstallTeam(installation);
  let url: URL;
  try {
    url = new URL(installUrl);
  } catch {
    throw new CodedTypeError("installLinkFor: installUrl must be an absolute URL");
  }
  if (team !== undefined) url.searchParams.set("team", team);
  return url.toString();
}

/**
 * A PKCE (RFC 7636) verifier and its S256 challenge.
 *
 * @example
 * ```ts
 * const { codeVerifier, codeChallenge, codeChallengeMethod }: Pkce = generatePkce();
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc7636
 */
export interface Pkce {
  /** 43 characters of `[A-Za-z0-9-._~]` (32 random bytes, base64url). Keep it server-side with the state. */
  codeVerifier: string;
  /** `base64url(SHA-256(codeVerifier))`: goes in the authorize URL. */
  codeChallenge: string;
  codeChallengeMethod: "S256";
}

/**
 * Generates a PKCE S256 pair (32 random bytes from the CSPRNG): send the challenge to the authorize URL
 * (via `generate(state, { codeChallenge })`) and keep the verifier server-side for `oauth.v2.access`.
 * Synchronous (node:crypto, also provided by Deno, Bun and Workers' Node compatibility).
 *
 * @example
 * ```ts
 * const pkce = generatePkce();
 * const url = generator.generate(state, { codeChallenge: pkce.codeChallenge });
 * // later, in the callback:
 * await client.oauthV2Access({ clientId, code, codeVerifier: pkce.codeVerifier });
 * ```
 * @see https://docs.slack.dev/authentication/using-pkce
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.1
 */
export function generatePkce(): Pkce {
  const codeVerifier = randomBytes(32).toString("base64url");
  return { codeVerifier, codeChallenge: computeCodeChallenge(codeVerifier), codeChallengeMethod: "S256" };
}

/**
 * Computes the S256 challenge of a PKCE verifier: `base64url(SHA-256(ASCII(verifier)))`.
 *
 * @throws TypeError when the verifier is not 43–128 characters of `[A-Za-z0-9-._~]`.
 * @example
 * ```ts
 * computeCodeChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
 * // "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" (RFC 7636 Appendix B)
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.2
 */
export function computeCodeChallenge(codeVerifier: string): string {
  if (typeof codeVerifier !== "string" || !PKCE_VERIFIER_RE.test(codeVerifier)) {
    throw new CodedTypeError("computeCodeChallenge: the verifier must be 43-128 characters of [A-Za-z0-9-._~]");
  }
  return createHash("sha256").update(codeVerifier, "ascii").digest("base64url");
}

/**
 * Splits and validates a scope list: trims, drops empties and duplicates, rejects anything that is not
 * a plain scope name.
 *
 * @throws TypeError naming the malformed scope.
 * @example
 * ```ts
 * normalizeScopes("chat:write, commands"); // ["chat:write", "commands"]
 * ```
 * @see https://docs.slack.dev/reference/scopes
 */
export function normalizeScopes(scopes: string[] | string | undefined): string[] {
  return parseScopeList(scopes, "scopes");
}

function parseScopeList(input: string[] | string | undefined, name: string): string[] {
  if (input === undefined) return [];
  let parts: unknown[];
  if (typeof input === "string") {
    // A single string is a list: commas and/or whitespace separate its scopes.
    parts = input.split(/[\s,]+/);
  } else if (Array.isArray(input)) {
    // In an array each element is one scope; a comma or newline inside it is an error, not a separator.
    parts = input;
  } else {
    throw new CodedTypeError(`AuthorizeUrlGenerator: ${name} must be an array of strings or a string`);
  }
  const out: string[] = [];
  for (const part of parts) {
    if (typeof part !== "string") throw new CodedTypeError(`AuthorizeUrlGenerator: ${name} must contain only strings`);
    const scope = part.trim();
    if (scope === "") continue;
    if (!SCOPE_RE.test(scope)) {
      throw new CodedTypeError(
        `AuthorizeUrlGenerator: invalid scope ${describe(scope)} in ${name}; expected letters, digits, '_', '.', ':' or '-'`,
      );
    }
    if (!out.includes(scope)) out.push(scope);
  }
  return out;
}

function describe(value: string): string {
  const short = value.length > 60 ? `${value.slice(0, 60)}…` : value;
  return JSON.stringify(redact(short));
}

function checkAuthorizationUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new CodedTypeError("AuthorizeUrlGenerator: authorizationUrl must be an absolute http(s) URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new CodedTypeError("AuthorizeUrlGenerator: authorizationUrl must be an absolute http(s) URL");
  }
  if (url.username || url.password) {
    throw new CodedTypeError("AuthorizeUrlGenerator: authorizationUrl must not contain credentials");
  }
  url.hash = "";
  return url.toString();
}

function checkRedirectUri(input: string | undefined): string | undefined {
  if (input === undefined || input === "") return undefined;
  if (typeof input !== "string") throw new CodedTypeError("AuthorizeUrlGenerator: redirectUri must be a string");
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new CodedTypeError("AuthorizeUrlGenerator: redirectUri must be an absolute http(s) URL");
  }
  // The URL parser silently drops tabs and newlines; we send the string as given, so reject them.
  if ((url.protocol !== "https:" && url.protocol !== "http:") || /[#\s\x00-\x1f\x7f]/.test(input)) {
    throw new CodedTypeError("AuthorizeUrlGenerator: redirectUri must be an absolute http(s) URL without '#'");
  }
  // The string is sent as given (not re-serialised): oauth.v2.access must receive it byte for byte.
  return input;
}

function v1UserScopesError(): TypeError {
  return new CodedTypeError("AuthorizeUrlGenerator: the v1 flow has no separate user scopes; list them in scopes");
}
