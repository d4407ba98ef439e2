/**
 * Hono: the install flow and the events endpoint as middleware; the same `toFetchHandler` serves Bun,
 * Deno or Workers. Type-checked, not run. Env: SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET, APP_URL.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createAuthorize, OAuthFlow, SlackApiClient, SlackRequestHandler } from "slack-oauth-kit";
import { slackRoutes, toFetchHandler } from "slack-oauth-kit/http/hono";
import { MemoryInstallationStore, MemoryStateStore } from "slack-oauth-kit/stores/memory";

const env = (name: string): string => process.env[name] ?? "";
const store = new MemoryInstallationStore();

const oauth = new OAuthFlow({
  clientId: env("SLACK_CLIENT_ID"),
  clientSecret: env("SLACK_CLIENT_SECRET"),
  scopes: ["commands", "chat:write"],
  redirectUri: `${env("APP_URL")}/slack/oauth_redirect`,
  stateStore: new MemoryStateStore(),
  installationStore: store,
  api: new SlackApiClient(),
});

const events = new SlackRequestHandler({
  signingSecret: env("SLACK_SIGNING_SECRET"),
  authorize: createAuthorize({ installationStore: store }),
  installationStore: store,
  onCommand: () => ({ response_type: "ephemeral", text: "Hello from Hono!" }),
});

const app = new Hono();
app.use(slackRoutes({ oauth, events }));
app.get("/", (c) => c.html('<a href="/slack/install">Add to Slack</a>'));
serve({ fetch: app.fetch, port: 3000 });

// Without Hono, on any fetch runtime (e.g. `export default { fetch }` on Bun, Deno or Workers):
export const fetchHandler: (request: Request) => Promise<Response> = toFetchHandler({ oauth, events });
