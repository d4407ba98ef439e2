import { CodedTypeError } from "../errors.js";
/**
 * Per-method, per-workspace rate limits (fixed one-minute windows that start with the first call).
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
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(
    overrides: Readonly<Record<string, number>> | undefined,
    private readonly now: () => number,
  ) {
    for (const [method, limit] of Object.entries(overrides ?? {})) {
      if (!(limit > 0)) throw new CodedTypeError(`emulator: rateLimits.${method} must be > 0 (use Infinity for none)`);
    }
    this.#limits = { ...DEFAULT_RATE_LIMITS, ...overrides };
  }

  limitOf(method: string): number {
    return this.#limits[method] ?? FALLBACK_RATE_LIMIT;
  }

  /**
   * Counts one call. Returns `undefined` when allowed, or the seconds to wait (`Retry-After`) when the
   * method's limit for that key is used up in the current window.
   */
  take(method: string, key: string): number | undefined {
    const limit = this.limitOf(method);
    if (limit === Number.POSITIVE_INFINITY) return undefined;
    const now = this.now();
    const id = `${method}\u0000${key}`;
    let w = this.#windows.get(id);
    if (!w || now - w.start >= WINDOW_MS) {
      w = { start: now, count: 0 };
      this.#windows.set(id, w);
    }
    if (w.count >= limit) return Math.max(1, Math.ceil((w.start + WINDOW_MS - now) / 1000));
    w.count++;
    return undefined;
  }

  reset(): void {
    this.#windows.clear();
  }
}
