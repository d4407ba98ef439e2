/**
 * Bun: the whole toolkit (install, OAuth callback, slash commands / events / interactions, Sign in with
 * Slack) as one fetch handler served by `Bun.serve`, with installations and OAuth states in Bun's built-in
 * SQLite (`bun:sqlite`). No `node:http`, `node:fs` or `node:net` is loaded.
 *
 *   SLACK_CLIENT_ID=… SLACK_CLIENT_SECRET=… SLACK_SIGNING_SECRET=… APP_URL=https://app.example.com \
 *     bun examples/bun/app.ts
 *
 * Optional: PORT (3000), HOST (127.0.0.1), SQLITE_FILE (./slack-oauth-kit.db; its directory must exist),
 * SLACK_API_URL, SLACK_AUTHORIZE_URL and SLACK_OIDC_BASE_URL (to point it at the emulator:
 * `npx slack-oauth-kit emulator --app-url $APP_URL`). `/open-modal` opens a modal with the workspace's bot token.
 */
import {
  CachingInstallationStore,
  createAuthorize,
  NotInstalledError,
  OAuthFlow,
  OpenIDConnectFlow,
  SlackApiClient,
  SlackRequestHandler,
} from "slack-oauth-kit";
import { toFetchHandler } from "slack-oauth-kit/http/core";
import { BunSQLiteInstallationStore, BunSQLiteStateStore } from "slack-oauth-kit/stores/bun-sqlite";

function required(name: string): string {
  const value = Bun.env[name]?.trim();
  if (!value) {
    console.error(`${name} is not set: see the top of examples/bun/app.ts`);
    process.exit(2);
  }
  return value;
}
const clientId = required("SLACK_CLIENT_ID");
const clientSecret = required("SLACK_CLIENT_SECRET");
const signingSecret = required("SLACK_SIGNING_SECRET");
const appUrl = required("APP_URL").replace(/\/+$/, "");
const slackApiUrl = Bun.env.SLACK_API_URL;
const filename = Bun.env.SQLITE_FILE ?? "./slack-oauth-kit.db";

// One SQLite file for installations and states; a cache in front for the token lookups of every command.
const store = new CachingInstallationStore(new BunSQLiteInstallationStore({ filename }));
const stateStore = new BunSQLiteStateStore({ filename });
// On Bun the client calls Slack through Bun's own fetch.
const api = new SlackApiClient(slackApiUrl ? { baseUrl: slackApiUrl, timeoutMs: 2500 } : { timeoutMs: 2500 });

const oauth = new OAuthFlow({
  clientId,
  clientSecret,
  scopes: ["commands", "chat:write"],
  redirectUri: `${appUrl}/slack/oauth_redirect`,
  ...(Bun.env.SLACK_AUTHORIZE_URL ? { authorizationUrl: Bun.env.SLACK_AUTHORIZE_URL } : {}),
  stateStore,
  installationStore: store,
  api,
});

const signIn = new OpenIDConnectFlow({
  clientId,
  clientSecret,
  redirectUri: `${appUrl}/slack/login/callback`,
  ...(Bun.env.SLACK_OIDC_BASE_URL ? { oidcBaseUrl: Bun.env.SLACK_OIDC_BASE_URL } : {}),
  stateStore,
  api,
});

const events = new SlackRequestHandler({
  signingSecret,
  authorize: createAuthorize({ installationStore: store }),
  installationStore: store, // app_uninstalled and tokens_revoked delete from it
  async onCommand(req) {
    if (req.body.command !== "/open-modal") return { response_type: "ephemeral", text: "Unknown command." };
    try {
      const { botToken } = await req.authorize();
      if (!botToken) return { response_type: "ephemeral", text: "Please install this app first!" };
      await api.viewsOpen(botToken, {
        triggerId: String(req.body.trigger_id ?? ""),
        view: {
          type: "modal",
          callback_id: "modal-id",
          title: { type: "plain_text", text: "Hello from Bun" },
          blocks: [],
        },
      });
      return undefined; // an empty 200: the modal is the answer
    } catch (error) {
      if (error instanceof NotInstalledError)
        return { response_type: "ephemeral", text: "Please install this app first!" };
      throw error; // a 500, logged without secrets
    }
  },
});

const slack = toFetchHandler({ oauth, oidc: signIn, events });
const home = `<!doctype html><title>Slack app on Bun</title>
<p><a href="/slack/install">Add to Slack</a> · <a href="/slack/login">Sign in with Slack</a></p>`;

const server = Bun.serve({
  port: Number(Bun.env.PORT ?? 3000),
  hostname: Bun.env.HOST ?? "127.0.0.1",
  fetch: (request) =>
    new URL(request.url).pathname === "/"
      ? new Response(home, { headers: { "content-type": "text/html; charset=utf-8" } })
      : slack(request),
});
console.log(`listening on ${server.url}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await server.stop();
    await Promise.all([store.close(), stateStore.close()]);
    process.exit(0);
  });
}
