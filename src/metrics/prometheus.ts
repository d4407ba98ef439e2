/**
 * `slack-oauth-kit/metrics/prometheus`: the library's metrics hooks as Prometheus metrics, with
 * `prom-client` (an optional peer dependency: install it to use this module).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { ConfigError } from "../errors.js";
import { registerSecret } from "../redact.js";
import type { MetricsHooks, MetricsOptions } from "./hooks.js";

/**
 * Options of {@link PrometheusMetrics}.
 *
 * @example
 * ```ts
 * const options: PrometheusMetricsOptions = { prefix: "myapp_slack_", registry: new Registry() };
 * ```
 */
export interface PrometheusMetricsOptions {
  /** Where the metrics are registered (default: a registry of their own, not prom-client's global one). */
  registry?: Registry | undefined;
  /** Prefix of every metric name (default `slack_oauth_`). */
  prefix?: string | undefined;
  /** Buckets of the `authorize` latency histogram, in seconds (default 10 µs … 5 s). */
  authorizeBuckets?: number[] | undefined;
}

/** `authorize` latency buckets (seconds): a cache hit takes microseconds, a store read milliseconds. */
export const DEFAULT_AUTHORIZE_BUCKETS: readonly number[] = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  5,
];

/**
 * The library's hooks as Prometheus metrics. Give `forApp(label)` as the `metrics` option of `OAuthFlow`,
 * `createAuthorize`, `SlackRequestHandler` and `RotationCoordinator`, and serve `metrics()` (or
 * `handler()`) to Prometheus.
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `slack_oauth_installs_total` | counter | `app` |
 * | `slack_oauth_install_failures_total` | counter | `app`, `code` |
 * | `slack_oauth_uninstalls_total` (`app_uninstalled` events) | counter | `app` |
 * | `slack_oauth_token_revocations_total` (`tokens_revoked` events) | counter | `app` |
 * | `slack_oauth_token_refreshes_total` | counter | `app`, `token` (`bot`/`user`), `outcome` |
 * | `slack_oauth_installations` (health) | gauge | `app`, `status` |
 * | `slack_oauth_authorize_total` | counter | `app`, `cache` (`hit`/`miss`/`none`), `outcome` |
 * | `slack_oauth_authorize_duration_seconds` | histogram | `app`, `cache` |
 * | `slack_oauth_slack_requests_total` | counter | `app`, `kind`, `status` |
 *
 * @example
 * ```ts
 * import { PrometheusMetrics } from "slack-oauth-kit/metrics/prometheus";
 *
 * const prometheus = new PrometheusMetrics();
 * const metrics = prometheus.forApp(process.env.SLACK_CLIENT_ID ?? "my-app");
 * const authorize = createAuthorize({ installationStore: store, metrics });
 * const slack = new SlackRequestHandler({ signingSecret, authorize, installationStore: store, metrics });
 * const serveMetrics = prometheus.handler({ token: process.env.METRICS_TOKEN });
 * ```
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/
 */
export class PrometheusMetrics {
  readonly registry: Registry;
  /** The hooks, for the components' `metrics` option (with an `app` label: see {@link forApp}). */
  readonly hooks: MetricsHooks;

  constructor(options: PrometheusMetricsOptions = {}) {
    const prefix = options.prefix ?? "slack_oauth_";
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
      throw new ConfigError(`PrometheusMetrics: prefix must be a metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)`);
    }
    const buckets = options.authorizeBuckets ?? [...DEFAULT_AUTHORIZE_BUCKETS];
    if (buckets.length === 0 || buckets.some((b, i) => !(b > 0) || (i > 0 && b <= (buckets[i - 1] as number)))) {
      throw new ConfigError("PrometheusMetrics: authorizeBuckets must be positive and increasing");
    }
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    const registers = [registry];
    const installs = new Counter({
      name: `${prefix}installs_total`,
      help: "Installations saved by the OAuth flow (installs and reinstalls).",
      labelNames: ["app"] as const,
      registers,
    });
    const installFailures = new Counter({
      name: `${prefix}install_failures_total`,
      help: "Install callbacks refused or failed, by stable error code.",
      labelNames: ["app", "code"] as const,
      registers,
    });
    const uninstalls = new Counter({
      name: `${prefix}uninstalls_total`,
      help: "app_uninstalled events handled (the workspace's or org's installations deleted).",
      labelNames: ["app"] as const,
      registers,
    });
    const revocations = new Counter({
      name: `${prefix}token_revocations_total`,
      help: "tokens_revoked events handled (the listed tokens deleted).",
      labelNames: ["app"] as const,
      registers,
    });
    const refreshes = new Counter({
      name: `${prefix}token_refreshes_total`,
      help: "Token refreshes by token family and outcome (a status, or the failure's reason).",
      labelNames: ["app", "token", "outcome"] as const,
      registers,
    });
    const health = new Gauge({
      name: `${prefix}installations`,
      help: "Stored installations by health status, as last reported.",
      labelNames: ["app", "status"] as const,
      registers,
    });
    const authorizeCalls = new Counter({
      name: `${prefix}authorize_total`,
      help: "authorize calls by cache result (hit, miss, none) and outcome (ok, not_installed, error).",
      labelNames: ["app", "cache", "outcome"] as const,
      registers,
    });
    const authorizeSeconds = new Histogram({
      name: `${prefix}authorize_duration_seconds`,
      help: "Time authorize took, by cache result.",
      labelNames: ["app", "cache"] as const,
      buckets,
      registers,
    });
    const requests = new Counter({
      name: `${prefix}slack_requests_total`,
      help: "Requests from Slack answered, by kind and HTTP status.",
      labelNames: ["app", "kind", "status"] as const,
      registers,
    });
    this.hooks = {
      install: (app) => installs.inc({ app }),
      installFailure: (app, code) => installFailures.inc({ app, code }),
      uninstall: (app, event) => (event === "app_uninstalled" ? uninstalls : revocations).inc({ app }),
      tokenRefresh: (app, token, outcome) => refreshes.inc({ app, token, outcome }),
      health: (app, status, installations) => health.set({ app, status }, installations),
      authorize: (app, cache, outcome, seconds) => {
        authorizeCalls.inc({ app, cache, outcome });
        authorizeSeconds.observe({ app, cache }, seconds);
      },
      slackRequest: (app, kind, status) => requests.inc({ app, kind, status: statusLabel(status) }),
    };
  }

  /**
   * The `metrics` option for one app's components: these hooks under the label `app` (the client id or a
   * name of yours).
   *
   * @example
   * ```ts
   * const flow = new OAuthFlow({ ...options, metrics: prometheus.forApp("1234567890.1234567890") });
   * ```
   */
  forApp(app: string): MetricsOptions {
    return { hooks: this.hooks, app };
  }

  /** The `Content-Type` of {@link metrics}' text (the Prometheus text exposition format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text exposition format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * A `Request → Response` endpoint serving {@link metrics} on `GET` / `HEAD`. With `token`, a request
   * without `Authorization: Bearer <token>` gets 401 (the comparison takes the same time whatever the
   * token sent); without a token, anyone who reaches it may read it (serve it on a port of its own).
   *
   * @example
   * ```ts
   * const serve = prometheus.handler({ token: process.env.METRICS_TOKEN });
   * const response = await serve(new Request("http://localhost:9464/metrics"));
   * ```
   */
  handler(options: { token?: string | undefined } = {}): (request: Request) => Promise<Response> {
    const check = options.token === undefined ? undefined : bearerCheck(options.token);
    return async (request) => {
      if (check !== undefined && !check(request.headers.get("authorization"))) {
        return new Response("Unauthorized: send Authorization: Bearer <METRICS_TOKEN>\n", {
          status: 401,
          headers: { "Content-Type": "text/plain; charset=utf-8", "WWW-Authenticate": 'Bearer realm="metrics"' },
        });
      }
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("Method Not Allowed\n", {
          status: 405,
          headers: { Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" },
        });
      }
      const text = await this.metrics();
      return new Response(request.method === "HEAD" ? null : text, {
        status: 200,
        headers: { "Content-Type": this.contentType, "Cache-Control": "no-store" },
      });
    };
  }
}

/** Shortest bearer token {@link bearerCheck} accepts. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

/**
 * A constant-time check of an `Authorization` header against a bearer token: both sides are hashed
 * (SHA-256) and the digests compared with `timingSafeEqual`, so neither the token's length nor its first
 * differing byte shows in the time taken. Throws `ConfigError` for a token under 16 characters.
 *
 * @example
 * ```ts
 * const ok = bearerCheck(process.env.METRICS_TOKEN ?? "")(request.headers.get("authorization"));
 * ```
 */
export function bearerCheck(token: string): (authorization: string | null | undefined) => boolean {
  if (typeof token !== "string" || token.length < MIN_METRICS_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ConfigError(
      `metrics: the bearer token must be at least ${MIN_METRICS_TOKEN_LENGTH} characters without spaces`,
    );
  }
  registerSecret(token);
  const expected = digest(token);
  return (authorization) => {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? "");
    // Hashed even when absent, so that a missing header takes as long as a wrong one.
    const given = digest(match?.[1] ?? "");
    return timingSafeEqual(given, expected) && match !== null;
  };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** HTTP statuses as label values: three digits, or `other` (a status label must stay a small set). */
function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : "other";
}
