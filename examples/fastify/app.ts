/**
 * Fastify 5: the install flow and the events endpoint as a plugin. Type-checked, not run.
 * Env: SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET, APP_URL.
 */
import Fastify from "fastify";
import {
  CachingInstallationStore,
  createAuthorize,
  OAuthFlow,
  SlackApiClient,
  SlackRequestHandler,
} from "slack-oauth-kit";
import { slackPlugin } from "slack-oauth-kit/http/fastify";
import { SQLiteInstallationStore, SQLiteStateStore } from "slack-oauth-kit/stores/sqlite";

const env = (name: string): string => process.env[name] ?? "";
const store = new CachingInstallationStore(new SQLiteInstallationStore({ filename: "./data/app.db" }));

const oauth = new OAuthFlow({
  clientId: env("SLACK_CLIENT_ID"),
  clientSecret: env("SLACK_CLIENT_SECRET"),
  scopes: ["commands", "chat:write"],
  redirectUri: `${env("APP_URL")}/slack/oauth_redirect`,
  stateStore: new SQLiteStateStore({ filename: "./data/app.db" }),
  installationStore: store,
  api: new SlackApiClient(),
});

const events = new SlackRequestHandler({
  signingSecret: env("SLACK_SIGNING_SECRET"),
  authorize: createAuthorize({ installationStore: store }),
  installationStore: store,
  onCommand: () => ({ response_type: "ephemeral", text: "Hello from Fastify!" }),
});

const app = Fastify({ logger: true });
// The plugin parses bodies as raw Buffers in its own scope only; the rest of the app keeps JSON parsing.
await app.register(slackPlugin, { oauth, events });
app.get("/", async () => ({ ok: true }));
await app.listen({ port: 3000 });
