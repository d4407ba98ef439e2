import { CodedTypeError } from "../errors.js";
/**
 * Per-method, per-workspace rate limits (fixed windows, one minute unless set, that start with the first
 * call).
 *
 * Defaults follow Slack's published tiers where Slack documents them; see docs/emulator.md.
 */

/**
 * Calls per minute per method and workspace (per app for the OAuth methods).
 * `oauth.v2.access` 600/min is Slack's documented limit; the others follow Slack's tiers
 * (Tier 3 = 50+, Tier 4 = 100+, "special" for chat.postMessage ~1/s). apps.uninstall is Tier 1 on Slack;
 * it is 20 here so that test suites can uninstall repeatedly.
 */
export const DEFAULT_RATE_LIMITS: Readonly<Record<string, number>> = {
  "oauth.v2.access": 600,
  "oauth.access": 600,
  "openid.connect.token": 600,
  "openid.connect.userInfo": 50,
  "auth.test": 100,
  "auth.revoke": 50,
  "apps.uninstall": 20,
  "views.open": 100,
  "chat.postMessage": 60,
  "api.test": 100,
};

/** Limit of methods not listed above. */
export const FALLBACK_RATE_LIMIT = 50;

const WINDOW_MS = 60_000;

export class RateLimiter {
  readonly #limits: Record<string, number>;
  /** Window length per method, ms (default {@link WINDOW_MS}). */
  readonly #windowMs: Record<string, number> = {};
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(
    overrides: Readonly<Record<string, number>> | undefined,
    private readonly now: () => number,
    windows?: Readonly<Record<string, number>>,
  ) {
    for (const [method, limit] of Object.entries(overrides ?? {})) {
      if (!(limit > 0)) throw new CodedTypeError(`emulator: rateLimits.${method} must be > 0 (use Infinity for none)`);
    }
    this.#limits = { ...DEFAULT_RATE_LIMITS, ...overrides };
    for (const [method, seconds] of Object.entries(windows ?? {})) this.set(method, undefined, seconds);
  }

  limitOf(method: string): number {
    return this.#limits[method] ?? FALLBACK_RATE_LIMIT;
  }

  /** Window length of a method, in seconds. */
  windowOf(method: string): number {
    return (this.#windowMs[method] ?? WINDOW_MS) / 1000;
  }

  /**
   * Changes a method's limit (calls per window, `Infinity` for none) and/or window (seconds) from now on;
   * the method's current windows start over. Throws `TypeError` for bad values.
   */
  set(method: string, limit: number | undefined, windowSeconds: number | undefined): void {
    if (typeof method !== "string" || !/^[a-z][a-zA-Z0-9.]{0,99}$/.test(method))
      throw new CodedTypeError("emulator: a rate limit needs a Web API method name");
    if (limit !== undefined && !(typeof limit === "number" && limit > 0))
      throw new CodedTypeError(`emulator: the limit of ${method} must be > 0 (use Infinity for none)`);
    if (
      windowSeconds !== undefined &&
      !(typeof windowSeconds === "number" && windowSeconds > 0 && Number.isFinite(windowSeconds))
    )
      throw new CodedTypeError(`emulator: the window of ${method} must be a positive number of seconds`);
    if (limit !== undefined) this.#limits[method] = limit;
    if (windowSeconds !== undefined) this.#windowMs[method] = windowSeconds * 1000;
    for (const id of [...this.#windows.keys()]) if (id.startsWith(`${method}\u0000`)) this.#windows.delete(id);
  }

  /**
   * Counts one call. Returns `undefined` when allowed, or the seconds to wait (`Retry-After`) when the
   * method's limit for that key is used up in the current window.
   */
  take(method: string, key: string): number | undefined {
    const limit = this.limitOf(method);
    if (limit === Number.POSITIVE_INFINITY) return undefined;
    const now = this.now();
    const windowMs = this.#windowMs[method] ?? WINDOW_MS;
    const id = `${method}\u0000${key}`;
    let w = this.#windows.get(id);
    if (!w || now - w.start >= windowMs) {
      w = { start: now, count: 0 };
      this.#windows.set(id, w);
    }
    if (w.count >= limit) return Math.max(1, Math.ceil((w.start + windowMs - now) / 1000));
    w.count++;
    return undefined;
  }

  reset(): void {
    this.#windows.clear();
  }
}
