/**
 * Emulated Slack apps: credentials, redirect URLs, allowed scopes and token settings.
 */

import { CodedTypeError } from "../errors.js";
import { idPattern, clientId as newClientId, secret32, slackId } from "./ids.js";

/** Scopes the default app may request as bot scopes. */
export const DEFAULT_BOT_SCOPES: readonly string[] = [
  "commands",
  "chat:write",
  "chat:write.public",
  "incoming-webhook",
  "users:read",
  "users:read.email",
  "channels:read",
  "channels:history",
  "groups:read",
  "im:write",
  "team:read",
  "app_mentions:read",
  "reactions:write",
];

/** Scopes the default app may request as user scopes (the OIDC scopes only via `/openid/connect/authorize`). */
export const DEFAULT_USER_SCOPES: readonly string[] = [
  "identify",
  "chat:write",
  "users:read",
  "users:read.email",
  "channels:read",
  "search:read",
  "openid",
  "profile",
  "email",
];

/** Settings of one emulated app. Everything is optional; secrets are random unless given. */
export interface EmulatorAppOptions {
  /**
   * Display name on the consent page.
   *
   * @default "Emulated App"
   */
  name?: string;
  /** `A…` id (random unless given). */
  appId?: string;
  /** Slack-shaped client id such as `1234567890.1234567890123` (random unless given). */
  clientId?: string;
  /** 32 hex characters (random unless given). */
  clientSecret?: string;
  /** 32 hex characters (random unless given). */
  signingSecret?: string;
  /** Verification token put in event payloads (legacy `token` field; random unless given). */
  verificationToken?: string;
  /**
   * The app's base URL (default `http://localhost:3000`): redirect URLs `{appUrl}/slack/oauth_redirect` and
   * `{appUrl}/slack/login/callback`, request URL `{appUrl}/slack/events`.
   */
  appUrl?: string;
  /** Overrides the redirect URLs derived from `appUrl`. */
  redirectUrls?: string[];
  /** Overrides the request URL (events, commands, interactions) derived from `appUrl`. */
  requestUrl?: string;
  /**
   * Token rotation on: `xoxe.` access tokens that expire, refresh tokens.
   *
   * @default false
   */
  tokenRotation?: boolean;
  /**
   * Lifetime of rotating access tokens in seconds.
   *
   * @default 43200, Slack's 12 h
   */
  tokenExpiresIn?: number;
  /** The app allows PKCE (a `code_verifier` may replace the client secret). Default false. */
  pkce?: boolean;
  /**
   * Allowed bot scopes.
   *
   * @default {@link DEFAULT_BOT_SCOPES}
   */
  botScopes?: readonly string[];
  /**
   * Allowed user scopes.
   *
   * @default {@link DEFAULT_USER_SCOPES}
   */
  userScopes?: readonly string[];
  /**
   * The app may be installed org-wide on an Enterprise Grid org.
   *
   * @default true
   */
  orgDeployEnabled?: boolean;
}

/** A resolved app. The secrets are here: never render this object on a page or in the call log. */
export interface EmulatedApp {
  name: string;
  appId: string;
  clientId: string;
  clientSecret: string;
  signingSecret: string;
  verificationToken: string;
  redirectUrls: string[];
  requestUrl: string;
  tokenRotation: boolean;
  tokenExpiresIn: number;
  pkce: boolean;
  botScopes: string[];
  userScopes: string[];
  orgDeployEnabled: boolean;
}

/** The app's credentials as handed to tests and the CLI. */
export interface EmulatorAppCredentials {
  name: string;
  appId: string;
  clientId: string;
  clientSecret: string;
  signingSecret: string;
  redirectUrls: string[];
  requestUrl: string;
}

// Digits, a dot, digits (what the library's config expects too); no minimum length, so short test ids such
// as 111.222 work. Generated ids have Slack's real shape.
const CLIENT_ID_RE = /^\d{1,20}\.\d{1,20}$/;

export function resolveApp(options: EmulatorAppOptions, defaults: { appUrl: string; index: number }): EmulatedApp {
  const appUrl = (options.appUrl ?? defaults.appUrl).replace(/\/+$/, "");
  try {
    new URL(appUrl);
  } catch {
    throw new CodedTypeError(`emulator: appUrl must be an absolute URL, got ${JSON.stringify(appUrl)}`);
  }
  const clientId = options.clientId ?? newClientId();
  if (!CLIENT_ID_RE.test(clientId)) {
    throw new CodedTypeError(
      "emulator: clientId must look like Slack's (digits.digits), e.g. 1234567890.1234567890123",
    );
  }
  for (const [name, value] of [
    ["clientSecret", options.clientSecret],
    ["signingSecret", options.signingSecret],
  ] as const) {
    if (value !== undefined && (typeof value !== "string" || value.length < 8)) {
      throw new CodedTypeError(`emulator: ${name} must be a string of at least 8 characters`);
    }
  }
  const appId = options.appId ?? slackId("A");
  if (!idPattern("A").test(appId)) throw new CodedTypeError("emulator: appId must look like A0123456789");
  const expiresIn = options.tokenExpiresIn ?? 43_200;
  if (!Number.isInteger(expiresIn) || expiresIn <= 0) {
    throw new CodedTypeError("emulator: tokenExpiresIn must be a positive integer (seconds)");
  }
  return {
    name: options.name ?? (defaults.index === 0 ? "Emulated App" : `Emulated App ${defaults.index + 1}`),
    appId,
    clientId,
    clientSecret: options.clientSecret ?? secret32(),
    signingSecret: options.signingSecret ?? secret32(),
    verificationToken: options.verificationToken ?? secret32().slice(0, 24),
    redirectUrls: options.redirectUrls?.slice() ?? [`${appUrl}/slack/oauth_redirect`, `${appUrl}/slack/login/callback`],
    requestUrl: options.requestUrl ?? `${appUrl}/slack/events`,
    tokenRotation: options.tokenRotation ?? false,
    tokenExpiresIn: expiresIn,
    pkce: options.pkce ?? false,
    botScopes: [...(options.botScopes ?? DEFAULT_BOT_SCOPES)],
    userScopes: [...(options.userScopes ?? DEFAULT_USER_SCOPES)],
    orgDeployEnabled: options.orgDeployEnabled ?? true,
  };
}

export function credentialsOf(app: EmulatedApp): EmulatorAppCredentials {
  return {
    name: app.name,
    appId: app.appId,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    signingSecret: app.signingSecret,
    redirectUrls: app.redirectUrls.slice(),
    requestUrl: app.requestUrl,
  };
}

/** The public part of an app (safe for pages and the test API). */
export function publicAppInfo(app: EmulatedApp) {
  return {
    name: app.name,
    appId: app.appId,
    clientId: app.clientId,
    redirectUrls: app.redirectUrls.slice(),
    requestUrl: app.requestUrl,
    tokenRotation: app.tokenRotation,
    tokenExpiresIn: app.tokenExpiresIn,
    pkce: app.pkce,
    orgDeployEnabled: app.orgDeployEnabled,
    botScopes: app.botScopes.slice(),
    userScopes: app.userScopes.slice(),
  };
}
