/**
 * `slack-oauth-kit/metrics/prometheus`: the library's metrics hooks as Prometheus metrics, with
 * `prom-client` (an optional peer dependency: install it to use this module).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Counter, Gauge, type Histogram, Registry } from "prom-client";
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
  /**
   * Prefix of every metric name.
   *
   * @default `slack_oauth_`
   */
  prefix?: string | undefined;
  /**
   * Buckets of the `authorize` latency histogram, in seconds.
   *
   * @default 10 µs … 5 s
   */
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
    // The per-request metrics are counted in plain numbers (a few map reads per request) and handed to
    // prom-client when scraped: its own inc/observe cost microseconds each, a tenth of a request.
    const authorizeCells = new Cells<number>(["app", "cache", "outcome"], () => 0);
    new CellCounter(authorizeCells, {
      name: `${prefix}authorize_total`,
      help: "authorize calls by cache result (hit, miss, none) and outcome (ok, not_installed, error).",
      labelNames: ["app", "cache", "outcome"],
      registers,
    });
    const seconds = new BucketCounts(
      `${prefix}authorize_duration_seconds`,
      "Time authorize took, by cache result.",
      buckets,
    );
    const secondCells = new Cells<BucketCell>(["app", "cache"], () => seconds.cell());
    seconds.cells = secondCells;
    registry.registerMetric(seconds as unknown as Histogram);
    const requestCells = new Cells<number>(["app", "kind", "status"], () => 0);
    new CellCounter(requestCells, {
      name: `${prefix}slack_requests_total`,
      help: "Requests from Slack answered, by kind and HTTP status.",
      labelNames: ["app", "kind", "status"],
      registers,
    });
    this.hooks = {
      install: (app) => installs.inc({ app }),
      installFailure: (app, code) => installFailures.inc({ app, code }),
      uninstall: (app, event) => (event === "app_uninstalled" ? uninstalls : revocations).inc({ app }),
      tokenRefresh: (app, token, outcome) => refreshes.inc({ app, token, outcome }),
      health: (app, status, installations) => health.set({ app, status }, installations),
      authorize: (app, cache, outcome, s) => {
        authorizeCells.add(app, cache, outcome, 1);
        secondCells.leaf(app, cache).observe(s);
      },
      slackRequest: (app, kind, status) => requestCells.add(app, kind, statusLabel(status), 1),
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

/**
 * Series kept as plain values in nested maps (one level per label, no key string built per call), read
 * back as `[labels, value]` when scraped.
 */
class Cells<V> {
  readonly #root = new Map<string, unknown>();
  readonly #leaves: Array<{ labels: Record<string, string>; value: V }> = [];
  readonly #names: readonly string[];
  readonly #initial: () => V;

  constructor(names: readonly string[], initial: () => V) {
    this.#names = names;
    this.#initial = initial;
  }

  /** The leaf of (a, b[, c]), created on first use. */
  #leaf(a: string, b: string, c: string | undefined): { labels: Record<string, string>; value: V } {
    let m1 = this.#root.get(a) as Map<string, unknown> | undefined;
    if (m1 === undefined) {
      m1 = new Map();
      this.#root.set(a, m1);
    }
    if (c === undefined) return (m1.get(b) as { labels: Record<string, string>; value: V }) ?? this.#add(m1, b, [a, b]);
    let m2 = m1.get(b) as Map<string, unknown> | undefined;
    if (m2 === undefined) {
      m2 = new Map();
      m1.set(b, m2);
    }
    return (m2.get(c) as { labels: Record<string, string>; value: V }) ?? this.#add(m2, c, [a, b, c]);
  }

  #add(map: Map<string, unknown>, key: string, values: string[]) {
    const labels: Record<string, string> = {};
    this.#names.forEach((name, i) => {
      labels[name] = values[i] as string;
    });
    const leaf = { labels, value: this.#initial() };
    map.set(key, leaf);
    this.#leaves.push(leaf);
    return leaf;
  }

  /** Adds `n` to a numeric three-label series. */
  add(this: Cells<number>, a: string, b: string, c: string, n: number): void {
    this.#leaf(a, b, c).value += n;
  }

  /** The value of a two-label series (for values that are objects). */
  leaf(a: string, b: string): V {
    return this.#leaf(a, b, undefined).value;
  }

  *entries(): IterableIterator<[Record<string, string>, V]> {
    for (const leaf of this.#leaves) yield [leaf.labels, leaf.value];
  }

  /** Sets every numeric series back to 0 (a registry's `resetMetrics()`). */
  zero(this: Cells<number>): void {
    for (const leaf of this.#leaves) leaf.value = 0;
  }
}

/** A prom-client counter whose values live in {@link Cells}: copied in when scraped, zeroed on `reset()`. */
class CellCounter extends Counter<string> {
  // Not a private field: prom-client's constructor calls reset() before a subclass's fields exist.
  declare cells: Cells<number> | undefined;

  constructor(
    cells: Cells<number>,
    config: { name: string; help: string; labelNames: string[]; registers: Registry[] },
  ) {
    super({
      ...config,
      collect: () => {
        super.reset();
        for (const [labels, n] of cells.entries()) this.inc(labels, n);
      },
    });
    this.cells = cells;
  }

  override reset(): void {
    super.reset();
    this.cells?.zero();
  }
}

/** One histogram series: a count per bucket (not cumulative: the last one is above every bound), sum, count. */
interface BucketCell {
  counts: Float64Array;
  sum: number;
  count: number;
  observe(value: number): void;
}

/**
 * A histogram whose observations are counted in plain arrays and read by the registry like any
 * prom-client metric (`get()` in prom-client's shape: `_bucket` samples with `le`, `_sum`, `_count`).
 */
class BucketCounts {
  readonly type = "histogram";
  readonly aggregator = "sum";
  cells: Cells<BucketCell> | undefined;
  readonly #bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
  ) {
    this.#bounds = bounds;
  }

  cell(): BucketCell {
    const bounds = this.#bounds;
    const cell: BucketCell = {
      counts: new Float64Array(bounds.length + 1),
      sum: 0,
      count: 0,
      observe(value: number) {
        let i = 0;
        while (i < bounds.length && value > (bounds[i] as number)) i++;
        cell.counts[i] = (cell.counts[i] as number) + 1;
        cell.sum += value;
        cell.count++;
      },
    };
    return cell;
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }>;
  }> {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const [labels, cell] of this.cells?.entries() ?? []) {
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += cell.counts[i] as number;
        values.push({ labels: { ...labels, le: bound }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: "+Inf" }, value: cell.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const [, cell] of this.cells?.entries() ?? []) {
      cell.counts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}

/** HTTP statuses as label values: three digits, or `other` (a status label must stay a small set). */
function statusLabel(status: number): string {
  return STATUS_LABELS[status] ?? "other";
}
const STATUS_LABELS: Readonly<Record<number, string>> = Object.fromEntries(
  Array.from({ length: 500 }, (_, i) => [i + 100, String(i + 100)]),
);
