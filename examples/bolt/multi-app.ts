/**
 * Several Slack apps with Bolt JS: one Bolt `App` per Slack app (each with its own signing secret and
 * port, as Bolt's built-in server serves one app), all over ONE SQLite file. Each app's installations live
 * in its own partition (its client id), so the same workspace installed by two apps keeps two bot tokens
 * and each Bolt app only ever gets its own. Run by test/bolt/multi-app.test.ts.
 */
import { App, LogLevel } from "@slack/bolt";
import { CachingInstallationStore, createAuthorize } from "slack-oauth-kit";
import { toBoltAuthorize } from "slack-oauth-kit/bolt";
import { SQLiteInstallationStore } from "slack-oauth-kit/stores/sqlite";

/** One Slack app's credentials. */
export interface BoltAppConfig {
  name: string;
  clientId: string;
  clientSecret: string;
  signingSecret: string;
  port: number;
  /** This app owns the data written without a client id (an existing single-app deployment's). */
  default?: boolean;
}

/** The running apps and how to stop them. */
export interface BoltApps {
  apps: Map<string, { bolt: App; store: SQLiteInstallationStore }>;
  stop(): Promise<void>;
}

/** Starts one Bolt App per Slack app over the SQLite file `filename`; `/open-modal` opens a modal. */
export async function startBoltApps(
  configs: BoltAppConfig[],
  filename: string,
  options: { slackApiUrl?: string } = {},
): Promise<BoltApps> {
  const apps = new Map<string, { bolt: App; store: SQLiteInstallationStore }>();
  for (const c of configs) {
    // The partition is the client id; the default app keeps the default partition (data from before).
    const store = new SQLiteInstallationStore({ filename, ...(c.default ? {} : { clientId: c.clientId }) });
    const bolt = new App({
      signingSecret: c.signingSecret,
      authorize: toBoltAuthorize(
        createAuthorize({
          installationStore: new CachingInstallationStore(store),
          rotation: { clientId: c.clientId, clientSecret: c.clientSecret },
        }),
      ),
      ...(options.slackApiUrl ? { clientOptions: { slackApiUrl: options.slackApiUrl } } : {}),
      logLevel: LogLevel.ERROR,
    });
    bolt.command("/open-modal", async ({ ack, body, client }) => {
      await client.views.open({
        trigger_id: body.trigger_id,
        view: { type: "modal", title: { type: "plain_text", text: c.name.slice(0, 24) }, blocks: [] },
      });
      await ack();
    });
    await bolt.start(c.port);
    apps.set(c.name, { bolt, store });
  }
  return {
    apps,
    async stop() {
      for (const { bolt, store } of apps.values()) {
        await bolt.stop();
        await store.close();
      }
    },
  };
}
