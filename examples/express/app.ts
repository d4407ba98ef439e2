/**
 * Express 5: the install flow and the events endpoint on one app. Type-checked, not run.
 * Env: SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET, APP_URL.
 */
import express from "express";
import {
  CachingInstallationStore,
  createAuthorize,
  OAuthFlow,
  SlackApiClient,
  SlackRequestHandler,
} from "slack-oauth-kit";
import { slackRouter } from "slack-oauth-kit/http/express";
import { SQLiteInstallationStore, SQLiteStateStore } from "slack-oauth-kit/stores/sqlite";

const env = (name: string): string => process.env[name] ?? "";
const store = new CachingInstallationStore(new SQLiteInstallationStore({ filename: "./data/app.db" }));
const authorize = createAuthorize({ installationStore: store });

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
  authorize,
  installationStore: store,
  onCommand: async (req) => {
    const { botToken } = await req.authorize();
    return { response_type: "ephemeral", text: botToken ? "Hello from Express!" : "No bot token" };
  },
});

const app = express();
// Before any body parser: Slack's signature covers the raw bytes.
app.use(slackRouter({ oauth, events }, { onError: (error) => console.error(error) }));
app.use(express.json());
app.get("/", (_req, res) => {
  res.send('<a href="/slack/install">Add to Slack</a>');
});
app.listen(3000);
