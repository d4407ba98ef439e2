/**
 * The app every runtime of `npm run bench -- runtimes` serves, built once here for runtime-app.mjs (Node,
 * Deno, Bun) and runtime-worker.mjs (workerd): the toolkit's one fetch handler (`toFetchHandler` over
 * `OAuthFlow` + `SlackRequestHandler`, `createAuthorize` over a `CachingInstallationStore` of `installations`
 * workspaces seeded in memory). The `/bench` command answers with an ephemeral message that says whether the
 * workspace's bot token was found.
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

const pad = (i, n) => i.toString().padStart(n, "0");
const randomHex = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");

/** The fetch handler over `installations` seeded workspaces, verifying with `signingSecret`. */
export async function buildBenchHandler({ signingSecret, installations }) {
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
  return toFetchHandler({ oauth, events });
}
