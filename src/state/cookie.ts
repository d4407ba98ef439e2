import { CodedTypeError } from "../errors.js";
/** Name of the cookie that binds a state to the browser that started the install. */
export const STATE_COOKIE_NAME = "slack-app-oauth-state";

/** Attributes of the state cookie. */
export interface StateCookieOptions {
  /**
   * Cookie name.
   *
   * @default `slack-app-oauth-state`
   */
  name?: string;
  /**
   * Lifetime in seconds.
   *
   * @default 600
   */
  maxAgeSeconds?: number;
  /**
   * Whether to add `Secure`. By default `Secure` is set unless `requestUrl` is plain
   * `http://localhost` (or 127.0.0.1 / [::1]), where browsers would drop a Secure cookie.
   */
  secure?: boolean;
  /** The URL of the request the cookie answers; decides the `Secure` default. */
  requestUrl?: string | URL;
  /**
   * Cookie path.
   *
   * @default `/`
   */
  path?: string;
}

function isLocalHttp(url: string | URL | undefined): boolean {
  if (url === undefined) return false;
  try {
    const u = typeof url === "string" ? new URL(url) : url;
    return u.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
  } catch {
    return false;
  }
}

/** The prefix browsers reserve for cookies set `Secure`, `Path=/`, without `Domain`, by a secure origin. */
export const HOST_COOKIE_PREFIX = "__Host-";

/**
 * The name a cookie is set and read under: `__Host-<name>` when it is `Secure` (served over https, or
 * `secure: true`) with `Path=/`, so that a sibling subdomain cannot plant or overwrite it; the plain name on
 * plain `http://localhost`, where browsers drop Secure cookies. A name already prefixed is kept.
 *
 * @example
 * ```ts
 * cookieNameFor("slack-app-oauth-state", { requestUrl: "https://app.example.com/slack/install" }); // "__Host-slack-app-oauth-state"
 * cookieNameFor("slack-app-oauth-state", { requestUrl: "http://localhost:3000/slack/install" }); // "slack-app-oauth-state"
 * ```
 */
export function cookieNameFor(
  name: string,
  options: { secure?: boolean | undefined; requestUrl?: string | URL | undefined; path?: string | undefined } = {},
): string {
  const secure = options.secure ?? !isLocalHttp(options.requestUrl);
  if (!secure || (options.path ?? "/") !== "/" || name.startsWith(HOST_COOKIE_PREFIX) || name.startsWith("__Secure-"))
    return name;
  return `${HOST_COOKIE_PREFIX}${name}`;
}

const COOKIE_VALUE_RE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;

function attributes(options: StateCookieOptions, maxAge: number): string {
  const secure = options.secure ?? !isLocalHttp(options.requestUrl);
  const parts = [`Path=${options.path ?? "/"}`, "HttpOnly", "SameSite=Lax", `Max-Age=${maxAge}`];
  if (secure) parts.push("Secure");
  return parts.join("; ");
}

/**
 * Builds the `Set-Cookie` value that binds `state` to the browser:
 * `slack-app-oauth-state=<state>; Path=/; HttpOnly; SameSite=Lax; Max-Age=600; Secure`.
 */
export function buildStateCookie(state: string, options: StateCookieOptions = {}): string {
  if (!COOKIE_VALUE_RE.test(state))
    throw new CodedTypeError("state cookie value contains characters not allowed in a cookie");
  const name = cookieNameFor(options.name ?? STATE_COOKIE_NAME, options);
  return `${name}=${state}; ${attributes(options, options.maxAgeSeconds ?? 600)}`;
}

/** Builds the `Set-Cookie` value that deletes the state cookie (empty value, `Max-Age=0`). */
export function buildStateCookieDeletion(options: StateCookieOptions = {}): string {
  const name = cookieNameFor(options.name ?? STATE_COOKIE_NAME, options);
  return `${name}=; ${attributes(options, 0)}; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

/**
 * Parses a `Cookie` request header into a map. Robust to several cookies, extra spaces, quoted values,
 * `=` inside values and percent-encoding; the first occurrence of a name wins (RFC 6265 §5.4 order).
 */
export function parseCookies(header: string | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || out.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      value = value.includes("%") ? decodeURIComponent(value) : value;
    } catch {
      // keep the raw value when it is not valid percent-encoding
    }
    out.set(name, value);
  }
  return out;
}

/**
 * Reads one cookie from request headers of any shape (`Headers`, a plain record in any key case,
 * Node's `IncomingHttpHeaders`, or a raw `Cookie` string).
 */
export function readCookie(
  headers: Headers | Record<string, string | string[] | undefined> | string | null | undefined,
  name: string = STATE_COOKIE_NAME,
): string | undefined {
  if (headers == null) return undefined;
  let raw: string | undefined;
  if (typeof headers === "string") raw = headers;
  else if (typeof (headers as Headers).get === "function") raw = (headers as Headers).get("cookie") ?? undefined;
  else {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
      if (k.toLowerCase() !== "cookie" || v === undefined) continue;
      parts.push(...(Array.isArray(v) ? v : [v]));
    }
    raw = parts.join("; ");
  }
  return parseCookies(raw).get(name);
}
