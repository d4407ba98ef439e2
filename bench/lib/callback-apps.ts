/**
 * Child-process module of `bench/callback.ts`: one install-flow contender on its own 127.0.0.1:0 server.
 *
 * - `ours`: `OAuthFlow` + `SQLiteInstallationStore` + `SQLiteStateStore` (one WAL file in `dir`) +
 *   `SlackApiClient`, served by `toNodeListener`.
 * - `base`: the same as `ours`, loaded from another checkout's `dist/` (`BENCH_BASELINE_DIST`), to compare
 *   a change in the same run.
 * - `install-provider`: `@slack/oauth` `InstallProvider` (its default stateless `ClearStateStore` from
 *   `stateSecret`) + its `FileInstallationStore` in `dir`, on a plain `node:http` server.
 *
 * Both use `directInstall`, the same scopes and the same `redirect_uri`, and log nothing.
 */
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import slackOAuth from "@slack/oauth";
import type * as NodeModule from "../../dist/http/node.js";
import type * as FlowModule from "../../dist/oauth/flow.js";
import type * as RedactModule from "../../dist/redact.js";
import type * as ClientModule from "../../dist/slack-api/client.js";
import type * as SqliteModule from "../../dist/stores/sqlite.js";
import { childData, serveRpc } from "./child.js";

/** What the main thread passes to `configure`. */
export interface CallbackAppConfig {
  clientId: string;
  clientSecret: string;
  apiUrl: string;
  authorizeUrl: string;
  redirectUri: string;
  scopes: string[];
}

/** One installer to look up afterwards. */
export interface InstalledPair {
  enterpriseId?: string | undefined;
  teamId: string;
  userId: string;
}

/** `base`: the same as `ours`, built from another checkout's `dist/` (`BENCH_BASELINE_DIST`). */
export type CallbackContender = "ours" | "base" | "install-provider";

// @slack/oauth is CommonJS: its named exports are not statically detectable by Node.
const { FileInstallationStore, InstallProvider, LogLevel } = slackOAuth;

const { kind, dir, baselineDist } = childData<{
  kind: CallbackContender;
  dir: string;
  baselineDist?: string | undefined;
}>();

/** The library's modules from this checkout's `dist/`, or from the baseline's. */
async function library(dist: string) {
  const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(dist, path)).href) as Promise<T>;
  return {
    ...(await load<typeof NodeModule>("http/node.js")),
    ...(await load<typeof FlowModule>("oauth/flow.js")),
    ...(await load<typeof RedactModule>("redact.js")),
    ...(await load<typeof ClientModule>("slack-api/client.js")),
    ...(await load<typeof SqliteModule>("stores/sqlite.js")),
  };
}

let listener: RequestListener = (_req, res) => {
  res.writeHead(503).end("not configured");
};
let server: Server | undefined;
let verify: (pairs: InstalledPair[]) => Promise<number> = async () => 0;
let closeStores: () => Promise<void> = async () => {};

async function configureOurs(c: CallbackAppConfig, dist: string): Promise<void> {
  const { OAuthFlow, SlackApiClient, SQLiteInstallationStore, SQLiteStateStore, silentLogger, toNodeListener } =
    await library(dist);
  const filename = join(dir, "slack.db");
  const installationStore = new SQLiteInstallationStore({ filename });
  const stateStore = new SQLiteStateStore({ filename });
  const flow = new OAuthFlow({
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    scopes: c.scopes,
    redirectUri: c.redirectUri,
    authorizationUrl: c.authorizeUrl,
    directInstall: true,
    stateStore,
    installationStore,
    api: new SlackApiClient({ baseUrl: c.apiUrl }),
    logger: silentLogger,
  });
  listener = toNodeListener(async (request) => (await flow.handle(request)) ?? new Response(null, { status: 404 }));
  verify = async (pairs) => {
    let found = 0;
    for (const p of pairs) {
      const i = await installationStore.findInstallation(p);
      if (i?.userId === p.userId && i.botToken) found++;
    }
    return found;
  };
  closeStores = async () => {
    await stateStore.close();
    await installationStore.close();
  };
}

function configureInstallProvider(c: CallbackAppConfig): void {
  const installationStore = new FileInstallationStore({
    baseDir: join(dir, "installations"),
    historicalDataEnabled: false,
  });
  const installer = new InstallProvider({
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    stateSecret: "bench-state-secret-0123456789abcdef",
    authorizationUrl: c.authorizeUrl,
    directInstall: true,
    installationStore,
    installUrlOptions: { scopes: c.scopes, redirectUri: c.redirectUri },
    clientOptions: { slackApiUrl: c.apiUrl },
    logLevel: LogLevel.ERROR,
  });
  listener = (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const done = (p: Promise<void>): void => {
      p.catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    };
    if (path === "/slack/install") done(installer.handleInstallPath(req, res));
    else if (path === "/slack/oauth_redirect") done(installer.handleCallback(req, res));
    else res.writeHead(404).end();
  };
  verify = async (pairs) => {
    let found = 0;
    for (const p of pairs) {
      try {
        const i = await installationStore.fetchInstallation({
          teamId: p.teamId,
          enterpriseId: p.enterpriseId,
          userId: p.userId,
          isEnterpriseInstall: false,
        });
        if (i.user.id === p.userId && i.bot?.token) found++;
      } catch {
        // not found
      }
    }
    return found;
  };
}

serveRpc({
  listen: async (): Promise<{ url: string }> => {
    const s = createServer((req, res) => listener(req, res));
    server = s;
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}` };
  },
  configure: async (c: CallbackAppConfig): Promise<void> => {
    if (kind === "ours") await configureOurs(c, fileURLToPath(new URL("../../dist/", import.meta.url)));
    else if (kind === "base") {
      if (!baselineDist) throw new Error("the base contender needs BENCH_BASELINE_DIST (another checkout's dist/)");
      await configureOurs(c, baselineDist);
    } else configureInstallProvider(c);
  },
  verify: (pairs: InstalledPair[]): Promise<number> => verify(pairs),
  close: async (): Promise<void> => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await closeStores();
  },
});
