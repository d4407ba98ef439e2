import { createHmac, timingSafeEqual } from "node:crypto";
import { rejectRenamedClock } from "../clock.js";
import { CodedTypeError, ConfigError } from "../errors.js";
import { registerSecret } from "../redact.js";
import { cookieNameFor, readCookie } from "../state/cookie.js";

/** Default name of the session cookie. */
export const SESSION_COOKIE_NAME = "slack-app-session";
/** Browsers keep at most about 4 KB per cookie. */
const MAX_COOKIE_VALUE = 3800;
const VERSION = "v1";
const COOKIE_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Options of {@link SessionCookie}.
 *
 * @example
 * ```ts
 * const options: SessionCookieOptions = { secret: process.env.SESSION_SECRET ?? "", maxAgeSeconds: 8 * 3600 };
 * ```
 * @see https://developer.mozilla.org/docs/Web/HTTP/Cookies
 */
export interface SessionCookieOptions {
  /** The server secret: at least 32 bytes (a 32+ character string, or bytes). Never sent to the browser. */
  secret: string | Uint8Array;
  /**
   * Cookie name.
   *
   * @default `slack-app-session`
   */
  name?: string | undefined;
  /**
   * Lifetime in seconds, enforced from the signed payload, not only by the browser.
   *
   * @default 8 hours
   */
  maxAgeSeconds?: number | undefined;
  /** Force `Secure` on or off (default: on, except for plain `http://localhost`). */
  secure?: boolean | undefined;
  /**
   * Cookie path.
   *
   * @default `/`
   */
  path?: string | undefined;
  /**
   * The cookie's `SameSite` attribute: `Strict` keeps it off every request another site starts (even a
   * link), for pages such as an admin console that nobody should reach from elsewhere signed in.
   *
   * @default `Lax`
   */
  sameSite?: "Lax" | "Strict" | undefined;
  /**
   * Clock, epoch ms.
   *
   * @default `Date.now`
   */
  nowMs?: (() => number) | undefined;
}

/** A decoded, verified session. */
export interface Session<T> {
  data: T;
  /** Epoch seconds. */
  issuedAt: number;
  /** Epoch seconds. */
  expiresAt: number;
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

/**
 * A stateless session in a signed cookie: `v1.<base64url JSON>.<base64url HMAC-SHA256>`. The payload holds
 * the data and its expiry; the MAC covers the cookie name, so a value cannot be moved to another cookie.
 * Verification is constant-time; a tampered, foreign, malformed or expired value reads as no session.
 * The cookie is `HttpOnly`, `SameSite=Lax` (or `Strict`), `Path=/` and `Secure` (except on plain http://localhost).
 *
 * The data is signed, not encrypted: the browser can read it. Keep it small and free of secrets (ids,
 * name, email), not tokens.
 *
 * @example
 * ```ts
 * const sessions = new SessionCookie<{ userId: string }>({ secret: process.env.SESSION_SECRET ?? "" });
 * const setCookie = sessions.serialize({ userId: "U0123" }, request.url);
 * const current = sessions.read(request); // { userId: "U0123" } or undefined
 * ```
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html
 */
export class SessionCookie<T = Record<string, unknown>> {
  readonly name: string;
  readonly maxAgeSeconds: number;
  readonly #key: Buffer;
  readonly #secure: boolean | undefined;
  readonly #path: string;
  readonly #now: () => number;
  readonly #sameSite: "Lax" | "Strict";

  constructor(options: SessionCookieOptions) {
    rejectRenamedClock(options, "SessionCookie", { now: "nowMs" });
    if (!options || (typeof options.secret !== "string" && !(options.secret instanceof Uint8Array))) {
      throw new ConfigError("SessionCookie: a secret is required (SESSION_SECRET)");
    }
    const secret =
      typeof options.secret === "string" ? Buffer.from(options.secret, "utf8") : Buffer.from(options.secret);
    if (secret.length < 32) {
      throw new ConfigError("SessionCookie: the secret must be at least 32 bytes (e.g. `openssl rand -hex 32`)");
    }
    if (typeof options.secret === "string") registerSecret(options.secret);
    const name = options.name ?? SESSION_COOKIE_NAME;
    if (!COOKIE_NAME_RE.test(name)) throw new CodedTypeError("SessionCookie: name must be 1-64 of [A-Za-z0-9_-]");
    const maxAge = options.maxAgeSeconds ?? 8 * 3600;
    if (!Number.isInteger(maxAge) || maxAge <= 0)
      throw new CodedTypeError("SessionCookie: maxAgeSeconds must be a positive integer");
    const path = options.path ?? "/";
    if (!/^\/[\x21-\x3a\x3c-\x7e]*$/.test(path))
      throw new CodedTypeError("SessionCookie: path must start with / and hold no ';'");
    this.name = name;
    this.maxAgeSeconds = maxAge;
    // A key for this purpose only, so the server secret can be shared with other uses.
    this.#key = createHmac("sha256", secret).update("slack-oauth-kit session cookie v1").digest();
    this.#secure = options.secure;
    this.#path = path;
    this.#now = options.nowMs ?? Date.now;
    const sameSite = options.sameSite ?? "Lax";
    if (sameSite !== "Lax" && sameSite !== "Strict")
      throw new CodedTypeError('SessionCookie: sameSite must be "Lax" or "Strict"');
    this.#sameSite = sameSite;
  }

  /**
   * Encodes and signs `data` as a cookie value (no attributes).
   *
   * @throws TypeError when the data cannot be serialised or makes the cookie larger than browsers keep.
   */
  encode(data: T): string {
    const iat = Math.floor(this.#now() / 1000);
    const json = JSON.stringify({ d: data, iat, exp: iat + this.maxAgeSeconds });
    if (json === undefined) throw new CodedTypeError("SessionCookie: data must be JSON-serialisable");
    const payload = Buffer.from(json, "utf8").toString("base64url");
    const value = `${VERSION}.${payload}.${this.#mac(payload).toString("base64url")}`;
    if (value.length > MAX_COOKIE_VALUE)
      throw new CodedTypeError("SessionCookie: the session data is too large for a cookie");
    return value;
  }

  /** Verifies and decodes a cookie value; `undefined` when tampered, foreign, malformed or expired. */
  decode(value: string | undefined): Session<T> | undefined {
    if (typeof value !== "string" || value.length > MAX_COOKIE_VALUE) return undefined;
    const parts = value.split(".");
    if (parts.length !== 3 || parts[0] !== VERSION) return undefined;
    const payload = parts[1]!;
    const mac = parts[2]!;
    if (!/^[A-Za-z0-9_-]+$/.test(payload) || !/^[A-Za-z0-9_-]{43}$/.test(mac)) return undefined;
    const given = Buffer.from(mac, "base64url");
    const wanted = this.#mac(payload);
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      return undefined;
    }
    if (parsed === null || typeof parsed !== "object") return undefined;
    const { d, iat, exp } = parsed as { d?: unknown; iat?: unknown; exp?: unknown };
    if (typeof iat !== "number" || typeof exp !== "number" || d === undefined) return undefined;
    const now = this.#now() / 1000;
    // Expired, or issued in the future (beyond a minute of skew between servers sharing the secret).
    if (exp <= now || iat > now + 60) return undefined;
    return { data: d as T, issuedAt: iat, expiresAt: exp };
  }

  /** The session data carried by a request (its `Cookie` header), or `undefined`. */
  read(request: Request | Headers): T | undefined {
    return this.readSession(request)?.data;
  }

  /** Like {@link SessionCookie.read}, with the session's issue and expiry times. */
  readSession(request: Request | Headers): Session<T> | undefined {
    if (request instanceof Headers) {
      // No URL to tell https from http://localhost: the __Host- cookie when there is one, the plain name only
      // where Secure is not forced.
      const prefixed = readCookie(request, cookieNameFor(this.name, { secure: true, path: this.#path }));
      if (prefixed !== undefined || this.#secure === true) return this.decode(prefixed);
      return this.decode(readCookie(request, this.name));
    }
    return this.decode(readCookie(request.headers, this.#cookieName(request.url)));
  }

  /**
   * The `Set-Cookie` value that starts a session: `HttpOnly; SameSite=Lax; Path=/; Max-Age=…; Secure`.
   *
   * @param requestUrl - the URL of the request being answered; decides the `Secure` default.
   */
  serialize(data: T, requestUrl?: string | URL): string {
    return `${this.#cookieName(requestUrl)}=${this.encode(data)}; ${this.#attributes(this.maxAgeSeconds, requestUrl)}`;
  }

  /** `__Host-<name>` when the cookie is Secure with Path=/ (served over https), else the plain name. */
  #cookieName(requestUrl: string | URL | undefined): string {
    return cookieNameFor(this.name, { secure: this.#secure ?? !isLocalHttp(requestUrl), path: this.#path });
  }

  /** The `Set-Cookie` value that ends the session (empty value, `Max-Age=0`, a past `Expires`). */
  clear(requestUrl?: string | URL): string {
    return `${this.#cookieName(requestUrl)}=; ${this.#attributes(0, requestUrl)}; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
  }

  #attributes(maxAge: number, requestUrl: string | URL | undefined): string {
    const secure = this.#secure ?? !isLocalHttp(requestUrl);
    const parts = [`Path=${this.#path}`, "HttpOnly", `SameSite=${this.#sameSite}`, `Max-Age=${maxAge}`];
    if (secure) parts.push("Secure");
    return parts.join("; ");
  }

  #mac(payload: string): Buffer {
    return createHmac("sha256", this.#key).update(`${VERSION}.${this.name}.${payload}`).digest();
  }
}

/**
 * Refuses a state-changing request sent by another site (a form on an attacker's page posting to `/logout`):
 * allowed when `Sec-Fetch-Site` is `same-origin` or `none`; without that header, when `Origin` is absent (not
 * a browser) or equals one of `allowedOrigins` (default: the request URL's origin). Safe methods always pass.
 * Pair it with `SameSite=Lax` cookies.
 *
 * @example
 * ```ts
 * if (!isSameOriginRequest(request)) return new Response("Forbidden", { status: 403 });
 * ```
 * @see https://developer.mozilla.org/docs/Web/HTTP/Headers/Sec-Fetch-Site
 */
export function isSameOriginRequest(request: Request, allowedOrigins?: readonly string[]): boolean {
  if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") return true;
  const site = request.headers.get("sec-fetch-site");
  if (site !== null) return site === "same-origin" || site === "none";
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  const allowed = allowedOrigins ?? [new URL(request.url).origin];
  return allowed.includes(origin);
}
