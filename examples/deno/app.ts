/**
 * Deno: the whole toolkit (install, OAuth callback, slash commands / events / interactions, Sign in with
 * Slack) as one fetch handler served by `Deno.serve`, with installations and OAuth states in PostgreSQL
 * through `pg` (an `npm:` specifier). The handler loads no `node:http`, `node:fs` or `node:net` (the `pg`
 * driver itself talks to PostgreSQL through Deno's `node:net`).
 *
 *   SLACK_CLIENT_ID=… SLACK_CLIENT_SECRET=… SLACK_SIGNING_SECRET=… APP_URL=https://app.example.com \
 *   DATABASE_URL=postgres://app@127.0.0.1:5432/app deno run --allow-net --allow-env --allow-read examples/deno/app.ts
 *
 * In this repository `deno.json` beside this file maps `slack-oauth-kit` to `dist/` and resolves `npm:`
 * packages from `node_modules` (nothing is downloaded); in your app use `npm:slack-oauth-kit` instead.
 * Optional: PORT (3000), HOST (127.0.0.1), TABLE_PREFIX (slack_), SLACK_API_URL, SLACK_AUTHORIZE_URL and
 * SLACK_OIDC_BASE_URL (to point it at the emulator). `/open-modal` opens a modal with the workspace's bot token.
 */
import pg from "npm:pg@^8";
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
import { PostgresInstallationStore, PostgresStateStore } from "slack-oauth-kit/stores/postgres";

function required(name: string): string {
  const value = Deno.env.get(name)?.trim();
  if (!value) {
    console.error(`${name} is not set: see the top of examples/deno/app.ts`);
    Deno.exit(2);
  }
  return value;
}
const clientId = required("SLACK_CLIENT_ID");
const clientSecret = required("SLACK_CLIENT_SECRET");
const signingSecret = required("SLACK_SIGNING_SECRET");
const appUrl = required("APP_URL").replace(/\/+$/, "");
const pool = new pg.Pool({ connectionString: required("DATABASE_URL"), max: 10 });
const tablePrefix = Deno.env.get("TABLE_PREFIX") ?? "slack_";
const slackApiUrl = Deno.env.get("SLACK_API_URL");
const authorizationUrl = Deno.env.get("SLACK_AUTHORIZE_URL");
const oidcBaseUrl = Deno.env.get("SLACK_OIDC_BASE_URL");

// One pool for installations and states; a cache in front for the token lookups of every command.
const store = new CachingInstallationStore(new PostgresInstallationStore({ pool, tablePrefix }));
const stateStore = new PostgresStateStore({ pool, tablePrefix });
// On Deno the client calls Slack through Deno's own fetch.
const api = new SlackApiClient(slackApiUrl ? { baseUrl: slackApiUrl, timeoutMs: 2500 } : { timeoutMs: 2500 });

const oauth = new OAuthFlow({
  clientId,
  clientSecret,
  scopes: ["commands", "chat:write"],
  redirectUri: `${appUrl}/slack/oauth_redirect`,
  ...(authorizationUrl ? { authorizationUrl } : {}),
  stateStore,
  installationStore: store,
  api,
});

const signIn = new OpenIDConnectFlow({
  clientId,
  clientSecret,
  redirectUri: `${appUrl}/slack/login/callback`,
  ...(oidcBaseUrl ? { oidcBaseUrl } : {}),
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
          title: { type: "plain_text", text: "Hello from Deno" },
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
const home = `<!doctype html><title>Slack app on Deno</title>
<p><a href="/slack/install">Add to Slack</a> · <a href="/slack/login">Sign in with Slack</a></p>`;

const server = Deno.serve(
  {
    port: Number(Deno.env.get("PORT") ?? 3000),
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}/`),
  },
  (request) =>
    new URL(request.url).pathname === "/"
      ? new Response(home, { headers: { "content-type": "text/html; charset=utf-8" } })
      : slack(request),
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await server.shutdown();
    await Promise.all([store.close(), stateStore.close()]);
    await pool.end();
    Deno.exit(0);
  });
}
