/**
 * AWS Lambda with PostgreSQL: the install flow, Sign in with Slack and the events endpoint behind a function
 * URL (or API Gateway), slash commands acknowledged at once and worked on by a second function invoked
 * asynchronously. `handler.ts` wires it to AWS; the test suite runs this very file against the emulator and
 * a real PostgreSQL (test/http/lambda.test.ts). Deployment: docs/lambda.md.
 */
import pg from "pg";
import {
  createAuthorize,
  createHandOffEndpoint,
  createHandOffWorker,
  EncryptedInstallationStore,
  type InstallationStore,
  type Logger,
  OAuthFlow,
  OpenIDConnectFlow,
  parseEncryptionKeys,
  SlackApiClient,
  type SlackJob,
} from "slack-oauth-kit";
import { type LambdaHttpHandler, slackLambdaHandler, toLambdaWorker } from "slack-oauth-kit/http/lambda";
import { PostgresInstallationStore, PostgresStateStore } from "slack-oauth-kit/stores/postgres";

export interface SlackLambdaConfig {
  clientId: string;
  clientSecret: string;
  signingSecret: string;
  /** `postgres://user:password@host:5432/db` (RDS, Aurora, RDS Proxy, any PostgreSQL). */
  databaseUrl: string;
  /**
   * The public base URL: the function URL, or API Gateway's invoke URL with its stage
   * (`https://abc.execute-api.eu-west-1.amazonaws.com/prod`): the routes live under its path.
   */
  appUrl: string;
  /** `SLACK_TOKEN_ENCRYPTION_KEY` (`id:base64key,…`): tokens are stored AES-256-GCM encrypted when set. */
  encryptionKeys?: string | undefined;
  /** Table prefix (default `slack_`). */
  tablePrefix?: string | undefined;
  /** Hands a verified request over to the worker (handler.ts: an asynchronous Lambda invocation). */
  handOff: (job: SlackJob, options: { signal: AbortSignal }) => Promise<void>;
  /** Slack's endpoints; default slack.com (the emulator's in tests). */
  slack?: { apiUrl: string; authorizeUrl: string; oidcBaseUrl: string } | undefined;
  logger?: Logger | undefined;
}

export interface SlackLambda {
  /** The HTTP function: GET install / callback / login, POST events, commands and interactions. */
  handler: LambdaHttpHandler;
  /** The worker function: one job per asynchronous invocation, or an SQS batch. */
  worker: (event: unknown) => Promise<unknown>;
  /** Ends the database pool (tests; a Lambda keeps it for the next invocations). */
  close(): Promise<void>;
}

export function createSlackLambda(config: SlackLambdaConfig): SlackLambda {
  // "/prod" behind a named API Gateway stage, "" behind a function URL: every route lives under it.
  const base = new URL(config.appUrl);
  const prefix = base.pathname.replace(/\/+$/, "");
  const appUrl = `${base.origin}${prefix}`;
  // One small pool per container: a Lambda serves one request at a time (RDS Proxy pools across them).
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 2, idleTimeoutMillis: 60_000 });
  pool.on("error", () => undefined); // an idle connection dropped by the server: the next query reconnects
  const tablePrefix = config.tablePrefix ?? "slack_";
  const sql = new PostgresInstallationStore({ pool, tablePrefix, clientId: config.clientId });
  const store: InstallationStore = config.encryptionKeys
    ? new EncryptedInstallationStore(sql, { keys: parseEncryptionKeys(config.encryptionKeys) })
    : sql;
  const states = new PostgresStateStore({ pool, tablePrefix });
  const api = new SlackApiClient(config.slack ? { baseUrl: config.slack.apiUrl } : {});
  const logger = config.logger;
  const authorize = createAuthorize({ installationStore: store });

  const oauth = new OAuthFlow({
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    scopes: ["commands", "chat:write"],
    redirectUri: `${appUrl}/slack/oauth_redirect`,
    installPath: `${prefix}/slack/install`,
    redirectPath: `${prefix}/slack/oauth_redirect`,
    stateStore: states,
    installationStore: store,
    api,
    ...(config.slack ? { authorizationUrl: config.slack.authorizeUrl } : {}),
    ...(logger ? { logger } : {}),
  });

  const oidc = new OpenIDConnectFlow({
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    stateStore: states,
    api,
    redirectUri: `${appUrl}/slack/login/callback`,
    loginPath: `${prefix}/slack/login`,
    callbackPath: `${prefix}/slack/login/callback`,
    ...(config.slack ? { oidcBaseUrl: config.slack.oidcBaseUrl } : {}),
    ...(logger ? { logger } : {}),
  });

  // Acknowledge at once; uninstalls are cleaned up right here; commands go to the worker.
  const events = createHandOffEndpoint({
    signingSecret: config.signingSecret,
    installationStore: store,
    handOff: config.handOff,
    acknowledge: (req) =>
      req.kind === "command" ? { reply: { response_type: "ephemeral", text: "Working on it…" } } : { handOff: false }, // events and interactions: acknowledging is all this app does
    logger,
  });

  // The slow part, in the worker: its answer is posted to the command's response_url.
  const work = createHandOffWorker({
    signingSecret: config.signingSecret,
    authorize,
    logger,
    onCommand: async (req) => {
      const { botToken } = await req.authorize();
      if (!botToken) return { response_type: "ephemeral", text: "This workspace has no bot token." };
      const who = await api.authTest(botToken);
      return { response_type: "ephemeral", text: `Report for ${who.team ?? who.team_id}: ready.` };
    },
  });

  return {
    handler: slackLambdaHandler({ oauth, oidc, events, eventsPath: `${prefix}/slack/events` }),
    worker: toLambdaWorker(work),
    close: () => pool.end(),
  };
}
