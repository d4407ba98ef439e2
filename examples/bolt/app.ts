/**
 * Bolt JS with this library's stores: Bolt's own OAuth flow saves installs into our SQLite store, or
 * our `createAuthorize` (token rotation, caching) answers Bolt's `authorize`. Type-checked, not run.
 * Env: SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SIGNING_SECRET, SLACK_STATE_SECRET.
 */
import { App } from "@slack/bolt";
import { CachingInstallationStore, createAuthorize } from "slack-oauth-kit";
import { toBoltAuthorize, toBoltInstallationStore } from "slack-oauth-kit/bolt";
import { SQLiteInstallationStore } from "slack-oauth-kit/stores/sqlite";

const env = (name: string): string => process.env[name] ?? "";
const store = new SQLiteInstallationStore({ filename: "./data/app.db" });

// 1. Bolt runs the install flow; installations live in our store.
const app = new App({
  signingSecret: env("SLACK_SIGNING_SECRET"),
  clientId: env("SLACK_CLIENT_ID"),
  clientSecret: env("SLACK_CLIENT_SECRET"),
  stateSecret: env("SLACK_STATE_SECRET"),
  scopes: ["commands", "chat:write"],
  installationStore: toBoltInstallationStore(store),
});

app.command("/hello", async ({ ack, context }) => {
  await ack(context.botToken ? "Hello from Bolt!" : "Not installed");
});

// 2. Or: our token lookup (cached, with rotation) as Bolt's authorize, installs handled elsewhere.
export const boltWithOurAuthorize = new App({
  signingSecret: env("SLACK_SIGNING_SECRET"),
  authorize: toBoltAuthorize(
    createAuthorize({
      installationStore: new CachingInstallationStore(store),
      rotation: { clientId: env("SLACK_CLIENT_ID"), clientSecret: env("SLACK_CLIENT_SECRET") },
    }),
  ),
});

await app.start(3000);
