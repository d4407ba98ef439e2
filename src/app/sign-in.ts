/**
 * The reference app's Sign in with Slack: `/slack/login` and `/slack/login/callback` (the library's
 * {@link OpenIDConnectFlow}), a signed session cookie, `GET /profile` and `POST /logout`.
 */
import { randomBytes } from "node:crypto";
import { ErrorCode } from "../errors.js";
import { escapeHtml, HTML_HEADERS, layout } from "../oauth/html.js";
import { OpenIDConnectFlow, type OpenIDConnectFlowApi } from "../oidc/flow.js";
import type { SlackIdentity } from "../oidc/identity.js";
import { renderProfilePage } from "../oidc/pages.js";
import { isSameOriginRequest, SessionCookie } from "../oidc/session.js";
import type { Logger } from "../redact.js";
import type { StateStore } from "../state/state.js";

/** What the reference app keeps in its session cookie (signed, readable by the browser: no tokens). */
export type ProfileSession = Pick<SlackIdentity, "userId" | "teamId"> &
  Partial<
    Pick<SlackIdentity, "enterpriseId" | "name" | "email" | "emailVerified" | "picture" | "teamName" | "teamDomain">
  >;

export interface SignInRoutesOptions {
  clientId: string;
  clientSecret: string;
  stateStore: StateStore;
  api: OpenIDConnectFlowApi;
  logger: Logger;
  /**
   * `SLACK_OIDC_BASE_URL`.
   *
   * @default `https://slack.com`
   */
  oidcBaseUrl?: string | undefined;
  /**
   * Expected id_token `iss`.
   *
   * @default `https://slack.com`
   */
  oidcIssuer?: string | undefined;
  /** The login callback URL (default: `/slack/login/callback` on the request's origin). */
  redirectUri?: string | undefined;
  /** HMAC key of the session cookie (`SESSION_SECRET`); a random per-process one when absent. */
  sessionSecret?: string | undefined;
  /** Sandbox mode: a random session secret is expected, not warned about. */
  sandbox?: boolean | undefined;
  /**
   * Origins the profile page may load the avatar from (default: any https or http host, as Slack's avatar
   * URLs are on its CDNs). Sandbox mode gives only the emulator's, so nothing comes from outside the machine.
   */
  imageOrigins?: string[] | undefined;
  appName?: string | undefined;
  /**
   * Path of the route that starts a sign-in; the callback is `<loginPath>/callback`.
   *
   * @default `/slack/login`
   */
  loginPath?: string | undefined;
  /**
   * Path of the profile page.
   *
   * @default `/profile`
   */
  profilePath?: string | undefined;
  /**
   * Path of the sign-out route.
   *
   * @default `/logout`
   */
  logoutPath?: string | undefined;
  /** Name of the sign-in state cookie (one per app when several apps share a host); default the flow's. */
  stateCookieName?: string | undefined;
  /** Name of the session cookie (one per app when several apps share a host); default `SessionCookie`'s. */
  sessionCookieName?: string | undefined;
  /** `fetch` for the JWKS (tests). */
  fetch?: typeof fetch | undefined;
  /**
   * Local paths a sign-in may return to (`/slack/login?next=/console`), kept server-side with the state;
   * any other `next` is ignored (no open redirect). Default: none, the profile page.
   */
  returnPaths?: readonly string[] | undefined;
}

export interface SignInRoutes {
  flow: OpenIDConnectFlow;
  sessions: SessionCookie<ProfileSession>;
  loginPath: string;
  /** The profile page's path (`/profile` unless `profilePath` says otherwise). */
  profilePath: string;
  /** The sign-out path (`POST`; `/logout` unless `logoutPath` says otherwise). */
  logoutPath: string;
  /** Answers the sign-in routes, `/profile` and `/logout`; `undefined` for any other path. */
  handle(request: Request): Promise<Response | undefined>;
  /** The signed-in user of a request, if any. */
  currentUser(request: Request): ProfileSession | undefined;
}

export const PROFILE_PATH = "/profile";
export const LOGOUT_PATH = "/logout";

/**
 * Headers of the profile page, which shows the Slack avatar: images from `imageSources` (any http(s) host by
 * default, for Slack's avatar hosts; only the emulator in sandbox mode); everything else stays as strict.
 */
function profileHeaders(imageSources: string): Record<string, string> {
  return {
    ...HTML_HEADERS,
    "Content-Security-Policy": `default-src 'none'; style-src 'unsafe-inline'; img-src ${imageSources} data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  };
}

/** Builds the reference app's sign-in routes. */
export function createSignInRoutes(o: SignInRoutesOptions): SignInRoutes {
  let secret = o.sessionSecret;
  if (!secret) {
    if (!o.sandbox) {
      o.logger.warn(
        "SESSION_SECRET is not set: sessions are signed with a random per-process key and end when the server restarts (and are not shared between instances)",
      );
    }
    secret = randomBytes(32).toString("base64url");
  }
  const sessions = new SessionCookie<ProfileSession>({
    secret,
    ...(o.sessionCookieName ? { name: o.sessionCookieName } : {}),
  });
  const profilePath = o.profilePath ?? PROFILE_PATH;
  const logoutPath = o.logoutPath ?? LOGOUT_PATH;
  const imageOrigins = o.imageOrigins?.map((u) => new URL(u).origin);
  const PROFILE_HEADERS = profileHeaders(imageOrigins?.length ? imageOrigins.join(" ") : "https: http:");
  const allowedOrigins = o.redirectUri ? [new URL(o.redirectUri).origin] : undefined;
  const flow = new OpenIDConnectFlow({
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    stateStore: o.stateStore,
    api: o.api,
    oidcBaseUrl: o.oidcBaseUrl,
    issuer: o.oidcIssuer,
    redirectUri: o.redirectUri,
    fetch: o.fetch,
    appName: o.appName,
    logger: o.logger,
    ...(o.loginPath ? { loginPath: o.loginPath, callbackPath: `${o.loginPath}/callback` } : {}),
    ...(o.stateCookieName ? { stateCookieName: o.stateCookieName } : {}),
    onSignIn: ({ identity, request, metadata }) => {
      const session: ProfileSession = {
        userId: identity.userId,
        teamId: identity.teamId,
        ...(identity.enterpriseId ? { enterpriseId: identity.enterpriseId } : {}),
        ...(identity.name ? { name: identity.name } : {}),
        ...(identity.email ? { email: identity.email } : {}),
        ...(identity.emailVerified !== undefined ? { emailVerified: identity.emailVerified } : {}),
        ...(identity.picture ? { picture: identity.picture } : {}),
        ...(identity.teamName ? { teamName: identity.teamName } : {}),
        ...(identity.teamDomain ? { teamDomain: identity.teamDomain } : {}),
      };
      const next =
        typeof metadata?.next === "string" && o.returnPaths?.includes(metadata.next) ? metadata.next : undefined;
      const headers = new Headers({ Location: next ?? profilePath, "Cache-Control": "no-store" });
      headers.append("Set-Cookie", sessions.serialize(session, request.url));
      return new Response(null, { status: 303, headers });
    },
  });

  function profile(request: Request): Response {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed", { status: 405, headers: { Allow: "GET, HEAD" } });
    }
    const session = sessions.readSession(request);
    if (!session) {
      return new Response(null, { status: 303, headers: { Location: flow.loginPath, "Cache-Control": "no-store" } });
    }
    // An avatar from anywhere but the allowed origins is not shown (the CSP would block it anyway).
    const identity =
      imageOrigins?.length && session.data.picture && !imageOrigins.some((o) => originOf(session.data.picture) === o)
        ? { ...session.data, picture: undefined }
        : session.data;
    const body = renderProfilePage({ identity, logoutPath, expiresAt: session.expiresAt });
    return new Response(request.method === "HEAD" ? null : body, { status: 200, headers: PROFILE_HEADERS });
  }

  function logout(request: Request): Response {
    if (request.method !== "POST") {
      return new Response("Method Not Allowed", { status: 405, headers: { Allow: "POST" } });
    }
    if (!isSameOriginRequest(request, allowedOrigins)) {
      o.logger.warn(`logout refused: cross-site request (${ErrorCode.CrossSiteRequest})`);
      const page = layout(
        "Not signed out",
        `<h1>Not signed out</h1><p>This sign-out request came from another site, so it was ignored.</p>
<p><a class="button" href="${escapeHtml(profilePath)}">Back to your profile</a></p>
<p class="muted">Error code: <code>${ErrorCode.CrossSiteRequest}</code></p>`,
        "bad",
      );
      return new Response(page, {
        status: 403,
        headers: { ...HTML_HEADERS, "X-Slack-OAuth-Error": ErrorCode.CrossSiteRequest },
      });
    }
    const headers = new Headers({ Location: "/", "Cache-Control": "no-store" });
    headers.append("Set-Cookie", sessions.clear(request.url));
    return new Response(null, { status: 303, headers });
  }

  return {
    flow,
    sessions,
    loginPath: flow.loginPath,
    profilePath,
    logoutPath,
    currentUser: (request) => sessions.read(request),
    async handle(request) {
      const path = new URL(request.url).pathname;
      if (path === profilePath) return profile(request);
      if (path === logoutPath) return logout(request);
      if (path === flow.loginPath && o.returnPaths?.length) {
        // Where to land after signing in: only a listed local path, carried in the state's server-side data.
        const next = new URL(request.url).searchParams.get("next");
        if (next !== null && o.returnPaths.includes(next)) return flow.handleLogin(request, { metadata: { next } });
      }
      return flow.handle(request);
    },
  };
}

/**
 * The login callback URL next to an install callback URL: `https://x/app/slack/oauth_redirect` →
 * `https://x/app/slack/login/callback` (the emulator and a typical Slack app list both).
 */
export function loginRedirectUriFor(installRedirectUri: string): string {
  const suffix = "/slack/oauth_redirect";
  if (installRedirectUri.endsWith(suffix)) {
    return `${installRedirectUri.slice(0, -suffix.length)}/slack/login/callback`;
  }
  return new URL("/slack/login/callback", installRedirectUri).href;
}

function originOf(url: string | undefined): string | undefined {
  try {
    return url ? new URL(url).origin : undefined;
  } catch {
    return undefined;
  }
}
