/**
 * Emulated Slack apps: credentials, redirect URLs, allowed scopes and token settings.
 */

import { readFileSync } from "node:fs";
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

/** The fields an entry of an emulator apps file may hold (those of {@link EmulatorAppOptions}). */
const APP_FILE_FIELDS: ReadonlySet<string> = new Set([
  "name",
  "appId",
  "clientId",
  "clientSecret",
  "signingSecret",
  "verificationToken",
  "appUrl",
  "redirectUrls",
  "requestUrl",
  "tokenRotation",
  "tokenExpiresIn",
  "pkce",
  "botScopes",
  "userScopes",
  "orgDeployEnabled",
]);

const httpUrl = (v: unknown): boolean => {
  if (typeof v !== "string") return false;
  try {
    const u = new URL(v);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
};

const SCOPE_RE = /^[A-Za-z0-9_.:-]+$/;

/**
 * Checks the apps of an emulator apps file (`slack-oauth-kit emulator --apps FILE`): a JSON list of
 * {@link EmulatorAppOptions}, or `{ "apps": [...] }`. Every problem is a `CodedTypeError` naming the file,
 * the app (its name, else its index) and the field; a value is never shown (some are secrets). Duplicate
 * names, client ids and app ids are refused, naming both apps.
 *
 * @example
 * ```ts
 * const [first, ...more] = parseEmulatorApps(JSON.parse(text), "apps.json");
 * ```
 */
export function parseEmulatorApps(doc: unknown, source: string): EmulatorAppOptions[] {
  const list = Array.isArray(doc) ? doc : (doc as { apps?: unknown } | null)?.apps;
  if (!Array.isArray(list) || list.length === 0)
    throw new CodedTypeError(
      `emulator apps file ${source}: must be a JSON list of apps (or an object whose "apps" is one), with at least one app`,
    );
  const apps: EmulatorAppOptions[] = [];
  const seen = new Map<string, string>();
  for (const [index, raw] of list.entries()) {
    const o =
      raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
    const label =
      typeof o?.name === "string" && o.name.trim() !== "" && o.name.length <= 80
        ? `app "${o.name.replace(/[\u0000-\u001f"\\]/g, "?")}"`
        : `apps[${index}]`;
    const bad = (field: string, what: string): never => {
      throw new CodedTypeError(`emulator apps file ${source}: ${label}: ${field} ${what}`);
    };
    if (o === undefined) bad("(entry)", "must be an object");
    if (o === undefined) continue;
    // A key that is not a word may be a value pasted in the wrong place (a secret): not shown.
    for (const k of Object.keys(o))
      if (!APP_FILE_FIELDS.has(k))
        bad(/^[A-Za-z_]{1,40}$/.test(k) ? k : "(a field whose name is not a word)", "is not a known field");
    if (o.name !== undefined && (typeof o.name !== "string" || o.name.trim() === "" || o.name.length > 80))
      bad("name", "must be a non-empty string of at most 80 characters");
    if (o.clientId !== undefined && (typeof o.clientId !== "string" || !CLIENT_ID_RE.test(o.clientId)))
      bad("clientId", "must look like Slack's (digits.digits), e.g. 1234567890.1234567890123");
    if (o.appId !== undefined && (typeof o.appId !== "string" || !idPattern("A").test(o.appId)))
      bad("appId", "must look like A0123456789");
    for (const f of ["clientSecret", "signingSecret", "verificationToken"] as const) {
      const v = o[f];
      if (v !== undefined && (typeof v !== "string" || v.length < 8 || v.length > 256 || /\s/.test(v)))
        bad(f, "must be a string of 8 to 256 characters without spaces");
    }
    for (const f of ["appUrl", "requestUrl"] as const)
      if (o[f] !== undefined && !httpUrl(o[f])) bad(f, "must be an absolute http(s) URL");
    if (
      o.redirectUrls !== undefined &&
      (!Array.isArray(o.redirectUrls) || o.redirectUrls.length === 0 || !o.redirectUrls.every(httpUrl))
    )
      bad("redirectUrls", "must be a non-empty list of absolute http(s) URLs");
    for (const f of ["tokenRotation", "pkce", "orgDeployEnabled"] as const)
      if (o[f] !== undefined && typeof o[f] !== "boolean") bad(f, "must be true or false");
    if (
      o.tokenExpiresIn !== undefined &&
      !(typeof o.tokenExpiresIn === "number" && Number.isInteger(o.tokenExpiresIn) && o.tokenExpiresIn > 0)
    )
      bad("tokenExpiresIn", "must be a positive integer number of seconds");
    for (const f of ["botScopes", "userScopes"] as const) {
      const v = o[f];
      if (v !== undefined && (!Array.isArray(v) || !v.every((x) => typeof x === "string" && SCOPE_RE.test(x))))
        bad(f, "must be a list of scope names");
    }
    for (const f of ["name", "clientId", "appId"] as const) {
      const v = o[f];
      if (typeof v !== "string") continue;
      const other = seen.get(`${f}\n${v}`);
      if (other !== undefined) bad(f, `is also ${other}'s`);
      seen.set(`${f}\n${v}`, label);
    }
    apps.push({ ...(o as EmulatorAppOptions) });
  }
  return apps;
}

/** Reads and checks an emulator apps file ({@link parseEmulatorApps}); an unreadable file or bad JSON is a `CodedTypeError`. */
export function readEmulatorAppsFile(path: string): EmulatorAppOptions[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    const why =
      error instanceof SyntaxError
        ? "is not valid JSON"
        : `cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`;
    throw new CodedTypeError(`emulator apps file ${path} ${why}`);
  }
  return parseEmulatorApps(doc, path);
}
