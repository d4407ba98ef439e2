/**
 * Metrics hooks: the counters and timings the library reports, as plain function calls. The core knows
 * no metrics library; `slack-oauth-kit/metrics/prometheus` turns these calls into Prometheus metrics, and
 * any other sink (StatsD, OpenTelemetry, a log line) is a few lines implementing {@link MetricsHooks}.
 *
 * Nothing is measured unless someone listens: a component given no `metrics` (or hooks without the
 * method concerned) makes no timing call and allocates nothing for metrics on its hot path.
 */
import type { AuthorizeContext } from "../authorize/context.js";
import { ConfigError, ErrorCode } from "../errors.js";

/**
 * What kind of Slack request was answered: the three kinds handlers see, the two Slack checks the handler
 * answers itself, and `invalid` for a request refused before its kind was known (bad signature, not
 * `POST`, too large, malformed, unsupported content type).
 *
 * @example
 * ```ts
 * const kind: SlackRequestMetricKind = "command";
 * ```
 */
export type SlackRequestMetricKind = "event" | "command" | "interaction" | "url_verification" | "ssl_check" | "invalid";

/**
 * Where `authorize` found the installation: `hit` (the `CachingInstallationStore` had it), `miss` (the
 * cache asked its store), `none` (no cache in front of the store, or a cache subclass that answers
 * lookups its own way, whose hits cannot be told apart).
 *
 * @example
 * ```ts
 * const cache: AuthorizeCacheResult = "hit";
 * ```
 */
export type AuthorizeCacheResult = "hit" | "miss" | "none";

/**
 * How an `authorize` call ended: tokens returned, `NotInstalledError`, or any other error (store
 * failure, failed token refresh of an expired token).
 *
 * @example
 * ```ts
 * const outcome: AuthorizeOutcome = "not_installed";
 * ```
 */
export type AuthorizeOutcome = "ok" | "not_installed" | "error";

/**
 * How one token refresh by the `RotationCoordinator` ended: its status (`refreshed`, `refreshed_elsewhere`,
 * `not_needed`, `not_rotating`, `superseded`, `not_found`) or, when it failed, the `TokenRefreshError`'s
 * `reason` (`invalid_refresh_token`, `slack_error`, `ratelimited`, `network`, `timeout`,
 * `invalid_response`, `no_refresh_token`), `lock_timeout`, or `error` (anything else, e.g. the store).
 *
 * @example
 * ```ts
 * const outcome: TokenRefreshOutcome = "refreshed";
 * ```
 */
export type TokenRefreshOutcome = string;

/**
 * The calls the library makes. Every method is optional: implement those you want. `app` is the label
 * given with the hooks ({@link MetricsOptions.app}). A hook must be quick and must not throw: it runs on
 * the request's path (an exception is swallowed, so that metrics never change what a request gets).
 *
 * @example
 * ```ts
 * const hooks: MetricsHooks = {
 *   slackRequest: (app, kind, status) => console.log(`${app} ${kind} ${status}`),
 *   install: (app) => console.log(`${app}: one more installation`),
 * };
 * ```
 */
export interface MetricsHooks {
  /** `OAuthFlow` saved an installation (a new install or a reinstall). */
  install?(app: string): void;
  /** `OAuthFlow` refused or failed an install callback; `code` is the stable error code shown on the page. */
  installFailure?(app: string, code: string): void;
  /** The Slack request handler deleted what an `app_uninstalled` or `tokens_revoked` event said was gone. */
  uninstall?(app: string, event: "app_uninstalled" | "tokens_revoked"): void;
  /** The `RotationCoordinator` finished one refresh of a bot or user token (once per refresh, not per waiter). */
  tokenRefresh?(app: string, token: "bot" | "user", outcome: TokenRefreshOutcome): void;
  /** One `authorize` call: where it found the installation, how it ended, and how long it took (seconds). */
  authorize?(app: string, cache: AuthorizeCacheResult, outcome: AuthorizeOutcome, seconds: number): void;
  /** The Slack request handler answered one request with this HTTP status. */
  slackRequest?(app: string, kind: SlackRequestMetricKind, status: number): void;
  /**
   * How many stored tokens are in a health status now (a gauge: the latest call per status wins).
   * `runHealthCheck` (`slack-oauth-kit/health`) calls it once per status after each sweep, 0 included.
   */
  health?(app: string, status: string, installations: number): void;
}

/**
 * The `metrics` option of the components that report: the hooks, and the `app` label they report under
 * (the app's client id, or a name of yours; several apps in one process give one label each).
 *
 * @example
 * ```ts
 * const metrics: MetricsOptions = { hooks: prometheus.hooks, app: process.env.SLACK_CLIENT_ID ?? "my-app" };
 * ```
 */
export interface MetricsOptions {
  hooks: MetricsHooks;
  app: string;
}

/**
 * The hooks of one component, bound to its `app` label and guarded: every member is absent when nobody
 * listens to it, so a call site costs one property read and nothing else.
 */
export interface BoundMetrics {
  install?: (() => void) | undefined;
  installFailure?: ((code: string) => void) | undefined;
  uninstall?: ((event: "app_uninstalled" | "tokens_revoked") => void) | undefined;
  tokenRefresh?: ((token: "bot" | "user", outcome: TokenRefreshOutcome) => void) | undefined;
  authorize?: ((cache: AuthorizeCacheResult, outcome: AuthorizeOutcome, seconds: number) => void) | undefined;
  slackRequest?: ((kind: SlackRequestMetricKind, status: number) => void) | undefined;
  health?: ((status: string, installations: number) => void) | undefined;
}

/** Longest `app` label accepted. */
const MAX_APP_LABEL = 128;

/**
 * Checks a component's `metrics` option and binds its hooks to the app label (`undefined` when there is
 * nothing to report to). Throws `ConfigError` for hooks that are not an object or an empty, overlong or
 * control-character `app` label.
 *
 * @example
 * ```ts
 * const m = bindMetrics({ hooks, app: "A0123" }, "SlackRequestHandler");
 * m?.slackRequest?.("command", 200);
 * ```
 */
export function bindMetrics(options: MetricsOptions | undefined, where: string): BoundMetrics | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== "object" || options.hooks === null || typeof options.hooks !== "object") {
    throw new ConfigError(`${where}: metrics must be { hooks, app }`);
  }
  const { hooks, app } = options;
  if (typeof app !== "string" || app.length === 0 || app.length > MAX_APP_LABEL || /[\u0000-\u001f\u007f]/.test(app)) {
    throw new ConfigError(
      `${where}: metrics.app must be a label of 1-${MAX_APP_LABEL} printable characters (the client id or a name)`,
    );
  }
  const out: BoundMetrics = {};
  // Each hook is bound to its object and the label, and guarded: a throwing sink never fails a request.
  if (typeof hooks.install === "function") {
    const f = hooks.install;
    out.install = () => {
      try {
        f.call(hooks, app);
      } catch {}
    };
  }
  if (typeof hooks.installFailure === "function") {
    const f = hooks.installFailure;
    out.installFailure = (code) => {
      try {
        f.call(hooks, app, code);
      } catch {}
    };
  }
  if (typeof hooks.uninstall === "function") {
    const f = hooks.uninstall;
    out.uninstall = (event) => {
      try {
        f.call(hooks, app, event);
      } catch {}
    };
  }
  if (typeof hooks.tokenRefresh === "function") {
    const f = hooks.tokenRefresh;
    out.tokenRefresh = (token, outcome) => {
      try {
        f.call(hooks, app, token, outcome);
      } catch {}
    };
  }
  if (typeof hooks.authorize === "function") {
    const f = hooks.authorize;
    out.authorize = (cache, outcome, seconds) => {
      try {
        f.call(hooks, app, cache, outcome, seconds);
      } catch {}
    };
  }
  if (typeof hooks.slackRequest === "function") {
    const f = hooks.slackRequest;
    out.slackRequest = (kind, status) => {
      try {
        f.call(hooks, app, kind, status);
      } catch {}
    };
  }
  if (typeof hooks.health === "function") {
    const f = hooks.health;
    out.health = (status, installations) => {
      try {
        f.call(hooks, app, status, installations);
      } catch {}
    };
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * Measures an `authorize` function of your own (or any `(context) => Promise<result>`) like the one
 * `createAuthorize` builds: each call is reported to `metrics.hooks.authorize` with cache `none`, its
 * outcome (`not_installed` for a `NotInstalledError`) and its duration. Without an `authorize` hook the
 * function is returned as it is.
 *
 * @example
 * ```ts
 * const authorize = measureAuthorize(myAuthorize, { hooks: prometheus.hooks, app: "my-app" });
 * ```
 */
export function measureAuthorize<R>(
  authorize: (context: AuthorizeContext) => Promise<R>,
  metrics: MetricsOptions | undefined,
): (context: AuthorizeContext) => Promise<R> {
  const report = bindMetrics(metrics, "measureAuthorize")?.authorize;
  if (report === undefined) return authorize;
  return async (context) => {
    const started = performance.now();
    try {
      const result = await authorize(context);
      report("none", "ok", (performance.now() - started) / 1000);
      return result;
    } catch (error) {
      const notInstalled = (error as { code?: unknown } | null)?.code === ErrorCode.NotInstalled;
      report("none", notInstalled ? "not_installed" : "error", (performance.now() - started) / 1000);
      throw error;
    }
  };
}
