/**
 * The reference server's Prometheus endpoint: its configuration from the environment, and the listener.
 *
 * - `METRICS_PORT=<port>`: `GET /metrics` on a port of its own (on `METRICS_HOST`, default `HOST`); a
 *   port only operators reach (no token needed there; `METRICS_TOKEN` is still checked when set);
 * - `METRICS_TOKEN=<16+ characters>` without `METRICS_PORT` (or with `METRICS_PORT=main`): `GET /metrics`
 *   on the main port, answered only with `Authorization: Bearer <METRICS_TOKEN>`;
 * - `METRICS_PORT=main` (or the main `PORT`) without `METRICS_TOKEN`: a configuration problem (exit 2):
 *   the main port faces Slack and browsers, its metrics must not be public;
 * - `METRICS_APP`: the `app` label (default the client id; in single-workspace mode the app id).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ConfigError } from "../errors.js";
import { toNodeListener } from "../http/node.js";
import type { MetricsOptions } from "../metrics/hooks.js";

/** Metrics settings of the reference server (absent: no metrics at all, prom-client not even loaded). */
export interface MetricsConfig {
  /** `main`: `/metrics` on the main port (a token is then required); a number: a listener of its own. */
  port: number | "main";
  /**
   * Host of the metrics listener.
   *
   * @default `HOST`
   */
  host: string;
  /** Bearer token (`METRICS_TOKEN`); required on the main port. */
  token?: string | undefined;
  /** The `app` label (`METRICS_APP`). */
  app?: string | undefined;
}

/** The path the metrics are served on. */
export const METRICS_PATH = "/metrics";

/** Shortest `METRICS_TOKEN` accepted (the same rule as `bearerCheck` of the Prometheus module). */
const MIN_TOKEN = 16;

type Report = (variable: string, code: string, message: string) => void;

/**
 * Reads `METRICS_PORT`, `METRICS_HOST`, `METRICS_TOKEN` and `METRICS_APP`; reports problems (stop the
 * server, exit 2) through `problem`. `undefined` when metrics are off (none of them set).
 *
 * @example
 * ```ts
 * const metrics = readMetricsConfig(process.env, 3000, "127.0.0.1", (v, c, m) => console.error(v, c, m));
 * ```
 */
export function readMetricsConfig(
  env: Record<string, string | undefined>,
  mainPort: number,
  host: string,
  problem: Report,
): MetricsConfig | undefined {
  const portRaw = env.METRICS_PORT?.trim() || undefined;
  const token = env.METRICS_TOKEN?.trim() || undefined;
  const app = env.METRICS_APP?.trim() || undefined;
  if (portRaw === undefined && token === undefined) {
    if (app !== undefined || env.METRICS_HOST?.trim()) {
      problem(
        "METRICS_PORT",
        "metrics-port",
        "METRICS_APP / METRICS_HOST are set but metrics are off: set METRICS_PORT (a port of their own) or METRICS_TOKEN (/metrics on the main port behind a bearer token)",
      );
    }
    return undefined;
  }
  let port: number | "main" = "main";
  let portOk = true;
  if (portRaw !== undefined && portRaw.toLowerCase() !== "main") {
    const n = /^\d{1,5}$/.test(portRaw) ? Number(portRaw) : Number.NaN;
    if (!(Number.isInteger(n) && n >= 0 && n <= 65535)) {
      portOk = false;
      problem(
        "METRICS_PORT",
        "metrics-port",
        `METRICS_PORT must be a port 0-65535 (0 = any free port) or "main", got "${portRaw.slice(0, 20)}"`,
      );
    } else if (n !== 0 && n === mainPort) port = "main";
    else port = n;
  }
  if (token !== undefined && (token.length < MIN_TOKEN || /\s/.test(token))) {
    problem(
      "METRICS_TOKEN",
      "metrics-token",
      `METRICS_TOKEN must be at least ${MIN_TOKEN} characters without spaces (got ${token.length} characters)`,
    );
  }
  if (portOk && port === "main" && token === undefined) {
    problem(
      "METRICS_TOKEN",
      "metrics-token",
      "metrics on the main port need METRICS_TOKEN (a bearer token of 16+ characters): the main port faces Slack and browsers. Or serve them on a port of their own with METRICS_PORT=<port>",
    );
  }
  if (app !== undefined && (app.length > 128 || /\p{Cc}/u.test(app))) {
    problem("METRICS_APP", "metrics-app", "METRICS_APP must be 1-128 printable characters");
  }
  return { port, host: env.METRICS_HOST?.trim() || host, token, app };
}

/** The reference server's metrics: the hooks for its components and the Node listener serving them. */
export interface ServerMetrics {
  /** The `metrics` option of the app's components, under `METRICS_APP` or else `app`. */
  forApp(app: string): MetricsOptions;
  /** Serves `GET /metrics` (token checked when configured). */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * Loads `slack-oauth-kit/metrics/prometheus` (and so `prom-client`) and builds the endpoint. Throws
 * `ConfigError` when `prom-client` is not installed.
 */
export async function createServerMetrics(config: MetricsConfig): Promise<ServerMetrics> {
  let prometheus: typeof import("../metrics/prometheus.js");
  try {
    prometheus = await import("../metrics/prometheus.js");
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND") {
      throw new ConfigError(
        "METRICS_PORT / METRICS_TOKEN are set but prom-client is not installed: run `npm install prom-client`",
      );
    }
    throw error;
  }
  const metrics = new prometheus.PrometheusMetrics();
  const serve = metrics.handler({ token: config.token });
  const listener = toNodeListener(
    async (request) =>
      new URL(request.url).pathname === METRICS_PATH
        ? serve(request)
        : new Response("Not found\n", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } }),
    { maxBodyBytes: 1024 },
  );
  return { forApp: (app) => metrics.forApp(config.app ?? app), listener };
}
