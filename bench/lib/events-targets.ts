/**
 * Child-process module of `bench/events.ts`: one slash-command endpoint on its own 127.0.0.1:0 server.
 *
 * - `floor`: raw `node:http`: read the body, check the timestamp and the HMAC-SHA256 signature
 *   (`createHmac` + `timingSafeEqual`), answer an empty 200.
 * - `ours-warm`: `SlackRequestHandler` + `createAuthorize` over `CachingInstallationStore(SQLiteInstallationStore)`,
 *   behind `toNodeSlackListener` (the Node fast path the reference server uses for `/slack/events`);
 *   `onCommand` awaits `req.authorize()` and acknowledges (empty 200).
 * - `ours-cold`: the same over the plain `SQLiteInstallationStore` (every request queries SQLite).
 * - `ours-metrics`: `ours-warm` with Prometheus metrics on (`PrometheusMetrics` from
 *   `slack-oauth-kit/metrics/prometheus` given to the handler and to `authorize`: every request counted by
 *   kind and status, every `authorize` counted and timed into the latency histogram).
 * - `base-warm`, `base-cold`: the same two, loaded from another checkout's `dist/` (`BENCH_BASELINE_DIST`,
 *   e.g. a scratch worktree of the commit before a change), to compare a change in the same run.
 * - `ours-apps`: two apps in one server, as the reference server serves `SLACK_APPS_FILE`: each app's
 *   `SlackRequestHandler` (its own `appId` and signing secret) over `CachingInstallationStore(SQLite)` of its
 *   own partition (the first app the default one, the second its client id), each on its own events path
 *   (`/slack/alpha/events`, `/slack/beta/events`), the Node fast path picked by path as `startServer` does.
 * - `ours-apps-shared`: the same two apps behind one `/slack/events` (`SlackAppRouter`, by `api_app_id`).
 * - `bolt`: `@slack/bolt` `App` (built-in `HTTPReceiver`, `InstallProvider` authorize over `@slack/oauth`'s
 *   `MemoryInstallationStore` filled here with the same N installations), `app.command` acks.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import type * as AuthorizeModule from "../../dist/authorize/authorize.js";
import type * as RouterModule from "../../dist/events/app-router.js";
import type * as HandlerModule from "../../dist/events/handler.js";
import type * as NodeModule from "../../dist/http/node.js";
import type * as PrometheusModule from "../../dist/metrics/prometheus.js";
import type * as RedactModule from "../../dist/redact.js";
import type * as CacheModule from "../../dist/stores/cache.js";
import type { InstallationStore } from "../../dist/stores/installation-store.js";
import type * as SqliteModule from "../../dist/stores/sqlite.js";
import { childData, serveRpc } from "./child.js";
import { APP_EVENTS_PATHS, BENCH_APP_ID, BENCH_COMMAND, oauthInstallation, SECOND_APP } from "./fixtures.js";

/** `base-*`: the same as `ours-*`, built from another checkout's `dist/` (`BENCH_BASELINE_DIST`). */
export type EventsTarget =
  | "floor"
  | "ours-warm"
  | "ours-cold"
  | "ours-metrics"
  | "ours-apps"
  | "ours-apps-shared"
  | "base-warm"
  | "base-cold"
  | "bolt";

export interface EventsTargetData {
  kind: EventsTarget;
  signingSecret: string;
  /** The second app's signing secret (`ours-apps*`). */
  secondSigningSecret: string;
  /** SQLite file pre-filled by the main thread (ours-*). */
  dbFile: string;
  /** Installations to put in Bolt's memory store. */
  installations: number;
  /** Absolute path of the baseline's `dist/` (base-*). */
  baselineDist?: string | undefined;
}

/** What `listen` answers. */
export interface ListenInfo {
  url: string;
  /** Time to fill the target's own store (Bolt), ms. */
  prefillMs?: number;
}

const data = childData<EventsTargetData>();
const OWN_DIST = fileURLToPath(new URL("../../dist/", import.meta.url));

function baselineDist(): string {
  if (!data.baselineDist) throw new Error("base-* targets need BENCH_BASELINE_DIST (another checkout's dist/)");
  return data.baselineDist;
}
/** Port 9 (discard) on loopback: nothing listens there, so a stray Web API call fails fast and locally. */
const DEAD_API_URL = "http://127.0.0.1:9/api/";
let server: Server | undefined;
let close: () => Promise<void> = async () => {};

function floorListener(secret: string) {
  return (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const ts = req.headers["x-slack-request-timestamp"];
      const sig = req.headers["x-slack-signature"];
      let ok = false;
      if (typeof ts === "string" && typeof sig === "string" && Math.abs(Date.now() / 1000 - Number(ts)) <= 300) {
        const expected = Buffer.from(
          `v0=${createHmac("sha256", secret).update(`v0:${ts}:`).update(body).digest("hex")}`,
        );
        const given = Buffer.from(sig);
        ok = expected.length === given.length && timingSafeEqual(expected, given);
      }
      res.writeHead(ok ? 200 : 401);
      res.end();
    });
  };
}

/** The library's modules from this checkout's `dist/`, or from the baseline's. */
async function library(dist: string) {
  const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(dist, path)).href) as Promise<T>;
  return {
    ...(await load<typeof AuthorizeModule>("authorize/authorize.js")),
    ...(await load<typeof HandlerModule>("events/handler.js")),
    ...(await load<typeof NodeModule>("http/node.js")),
    ...(await load<typeof RedactModule>("redact.js")),
    ...(await load<typeof CacheModule>("stores/cache.js")),
    ...(await load<typeof SqliteModule>("stores/sqlite.js")),
  };
}

async function ours(cached: boolean, dist: string, withMetrics = false): Promise<Server> {
  const lib = await library(dist);
  const sqlite = new lib.SQLiteInstallationStore({ filename: data.dbFile });
  const store: InstallationStore = cached ? new lib.CachingInstallationStore(sqlite) : sqlite;
  const metrics = withMetrics
    ? new (
        (await import(pathToFileURL(join(dist, "metrics/prometheus.js")).href)) as typeof PrometheusModule
      ).PrometheusMetrics().forApp("1111111111.2222222222222")
    : undefined;
  const handler = new lib.SlackRequestHandler({
    signingSecret: data.signingSecret,
    authorize: lib.createAuthorize({ installationStore: store, metrics }),
    installationStore: store,
    logger: lib.silentLogger,
    metrics,
    onCommand: async (req) => {
      await req.authorize();
    },
  });
  close = () => sqlite.close();
  return createServer(lib.toNodeSlackListener(handler));
}

/** Two apps in one server (`ours-apps`: each on its own path; `ours-apps-shared`: one path, routed by app id). */
async function apps(shared: boolean): Promise<Server> {
  const lib = await library(OWN_DIST);
  const { SlackAppRouter } = (await import(
    pathToFileURL(join(OWN_DIST, "events/app-router.js")).href
  )) as typeof RouterModule;
  const sqlites = [
    new lib.SQLiteInstallationStore({ filename: data.dbFile }),
    new lib.SQLiteInstallationStore({ filename: data.dbFile, clientId: SECOND_APP.clientId }),
  ];
  const handlers = sqlites.map((sqlite, i) => {
    const store = new lib.CachingInstallationStore(sqlite);
    return new lib.SlackRequestHandler({
      appId: i === 0 ? BENCH_APP_ID : SECOND_APP.appId,
      signingSecret: i === 0 ? data.signingSecret : data.secondSigningSecret,
      authorize: lib.createAuthorize({ installationStore: store }),
      installationStore: store,
      logger: lib.silentLogger,
      onCommand: async (req) => {
        await req.authorize();
      },
    });
  });
  close = async () => {
    for (const s of sqlites) await s.close();
  };
  const limits = { maxBodyBytes: 1024 * 1024, bodyTimeoutMs: 10_000 };
  // As startServer: one fast-path listener per events path, picked by the request's path.
  const listeners = new Map<string, ReturnType<typeof lib.toNodeSlackListener>>();
  if (shared)
    listeners.set(
      "/slack/events",
      lib.toNodeSlackListener(new SlackAppRouter({ handlers, logger: lib.silentLogger }), limits),
    );
  else
    for (const [i, h] of handlers.entries())
      listeners.set(APP_EVENTS_PATHS[i] as string, lib.toNodeSlackListener(h, limits));
  return createServer((req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const listener = req.method === "POST" ? listeners.get(q === -1 ? url : url.slice(0, q)) : undefined;
    if (listener) listener(req, res);
    else {
      res.writeHead(404);
      res.end();
    }
  });
}

async function boltServer(): Promise<{ server: Server; prefillMs: number }> {
  // Loaded only here: Bolt is large, and the other targets should not carry it in their heap.
  const { App, LogLevel } = await import("@slack/bolt");
  const { MemoryInstallationStore } = await import("@slack/oauth");
  const installationStore = new MemoryInstallationStore();
  const t0 = performance.now();
  for (let i = 0; i < data.installations; i++) await installationStore.storeInstallation(oauthInstallation(i));
  const prefillMs = performance.now() - t0;
  const app = new App({
    signingSecret: data.signingSecret,
    clientId: "1111111111.2222222222222",
    clientSecret: "bench-client-secret-0123456789ab",
    stateSecret: "bench-state-secret-0123456789abcdef",
    scopes: ["commands", "chat:write"],
    installationStore,
    logLevel: LogLevel.ERROR,
    // No token to verify (authorize comes from the installation store); and should Bolt ever call the Web
    // API, it reaches a closed loopback port, never slack.com.
    tokenVerificationEnabled: false,
    clientOptions: { slackApiUrl: DEAD_API_URL },
    installerOptions: { clientOptions: { slackApiUrl: DEAD_API_URL } },
  });
  app.command(BENCH_COMMAND, async ({ ack }) => {
    await ack();
  });
  const s = (await app.start({ port: 0, host: "127.0.0.1" })) as Server;
  close = async () => {
    s.closeAllConnections();
    await app.stop();
  };
  return { server: s, prefillMs };
}

serveRpc({
  listen: async (): Promise<ListenInfo> => {
    let prefillMs: number | undefined;
    if (data.kind === "bolt") {
      const started = await boltServer();
      server = started.server;
      prefillMs = started.prefillMs;
    } else {
      const s =
        data.kind === "floor"
          ? createServer(floorListener(data.signingSecret))
          : data.kind === "ours-apps" || data.kind === "ours-apps-shared"
            ? await apps(data.kind === "ours-apps-shared")
            : await ours(
                data.kind !== "ours-cold" && data.kind !== "base-cold",
                data.kind.startsWith("base-") ? baselineDist() : OWN_DIST,
                data.kind === "ours-metrics",
              );
      await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
      server = s;
      const prev = close;
      close = async () => {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
        await prev();
      };
    }
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return prefillMs === undefined ? { url } : { url, prefillMs };
  },
  close: (): Promise<void> => close(),
});
