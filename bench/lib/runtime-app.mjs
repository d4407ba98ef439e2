/**
 * The app of `npm run bench -- runtimes`, run unchanged by Node, Deno and Bun: the toolkit's one fetch
 * handler (`toFetchHandler` over `OAuthFlow` + `SlackRequestHandler`, `createAuthorize` over a
 * `CachingInstallationStore`) served the way each runtime's users serve one: `node:http` through
 * `toNodeListener` on Node, `Deno.serve`, `Bun.serve`. Plain JavaScript importing the built package
 * (dist/), so that no runtime spends its start-up on a transpiler.
 *
 * Env: PORT, SIGNING_SECRET, BENCH_INSTALLATIONS (workspaces seeded in memory, default 1000). Prints
 * `listening on <url>` once it accepts requests. The `/bench` command answers with an ephemeral message
 * that says whether the workspace's bot token was found.
 */
import {
  CachingInstallationStore,
  createAuthorize,
  OAuthFlow,
  SlackApiClient,
  SlackRequestHandler,
} from "slack-oauth-kit";
import { toFetchHandler } from "slack-oauth-kit/http/core";
import { MemoryInstallationStore, MemoryStateStore } from "slack-oauth-kit/stores/memory";

const env = (name) => (globalThis.Deno ? globalThis.Deno.env.get(name) : process.env[name]);
const port = Number(env("PORT"));
const signingSecret = env("SIGNING_SECRET") ?? "";
const installations = Number(env("BENCH_INSTALLATIONS") ?? 1000);

const pad = (i, n) => i.toString().padStart(n, "0");
const randomHex = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");

const store = new CachingInstallationStore(new MemoryInstallationStore());
for (let i = 0; i < installations; i++) {
  await store.save({
    appId: "A0BENCH0001",
    teamId: `T${pad(i, 10)}`,
    botToken: `xoxb-${pad(i, 12)}-${randomHex()}`,
    botId: `B${pad(i, 10)}`,
    botUserId: `U${pad(i, 9)}B`,
    botScopes: ["commands", "chat:write"],
    userId: `U${pad(i, 10)}`,
    userToken: `xoxp-${pad(i, 12)}-${randomHex()}`,
    userScopes: ["search:read"],
    isEnterpriseInstall: false,
    tokenType: "bot",
    installedAt: 1732520000.123,
    customValues: {},
  });
}

const oauth = new OAuthFlow({
  clientId: "1234567890.1234567890",
  clientSecret: "bench-client-secret",
  scopes: ["commands"],
  stateStore: new MemoryStateStore(),
  installationStore: store,
  api: new SlackApiClient({ baseUrl: "http://127.0.0.1:9/api/" }),
});
const events = new SlackRequestHandler({
  signingSecret,
  authorize: createAuthorize({ installationStore: store }),
  installationStore: store,
  async onCommand(req) {
    const { botToken } = await req.authorize();
    return { response_type: "ephemeral", text: botToken ? "found" : "no bot" };
  },
});
const handler = toFetchHandler({ oauth, events });
const ready = (url) => console.log(`listening on ${url}`);

if (globalThis.Bun) {
  const server = globalThis.Bun.serve({ port, hostname: "127.0.0.1", fetch: handler });
  ready(server.url.href);
} else if (globalThis.Deno) {
  globalThis.Deno.serve({ port, hostname: "127.0.0.1", onListen: () => ready(`http://127.0.0.1:${port}/`) }, handler);
} else {
  const [{ createServer }, { toNodeListener }] = await Promise.all([
    import("node:http"),
    import("slack-oauth-kit/http/node"),
  ]);
  createServer(toNodeListener(handler)).listen(port, "127.0.0.1", () => ready(`http://127.0.0.1:${port}/`));
}

const stop = () => process.exit(0);
if (globalThis.Deno) globalThis.Deno.addSignalListener("SIGTERM", stop);
else process.on("SIGTERM", stop);
