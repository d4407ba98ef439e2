/**
 * Cloudflare Workers: the whole toolkit (install, OAuth callback, slash commands / events / interactions,
 * Sign in with Slack) as the Worker's fetch handler, with installations and OAuth states in D1 and Workers
 * KV as a read cache for the token lookups of every command. Tokens are encrypted at rest (AES-256-GCM,
 * `EncryptedInstallationStore`): D1 and KV only ever hold ciphertexts. Configuration: `wrangler.jsonc`
 * beside this file (the `nodejs_compat` flag, the D1 and KV bindings). Secrets:
 *
 *   wrangler d1 create slack-oauth-kit && wrangler kv namespace create INSTALLATION_CACHE   # put the ids in wrangler.jsonc
 *   wrangler secret put SLACK_CLIENT_ID; wrangler secret put SLACK_CLIENT_SECRET; wrangler secret put SLACK_SIGNING_SECRET
 *   npx slack-oauth-kit keygen | wrangler secret put SLACK_TOKEN_ENCRYPTION_KEY   # id:base64 of 32 random bytes
 *   wrangler deploy
 *
 * SLACK_TOKEN_ENCRYPTION_KEY has the reference server's format (`id:base64key`, several comma-separated to
 * rotate: the first encrypts; `slack-oauth-kit rekey` re-encrypts). Without it the Worker refuses every
 * request (500, the reason in the Worker's log) rather than storing tokens in plaintext.
 *
 * APP_URL (a var in wrangler.jsonc) is the Worker's public URL. Optional vars: TABLE_PREFIX (slack_),
 * SLACK_API_URL, SLACK_AUTHORIZE_URL and SLACK_OIDC_BASE_URL (to point it at the emulator). The tables are
 * created by the first request of each isolate (`CREATE TABLE IF NOT EXISTS`). `/open-modal` opens a
 * modal with the workspace's bot token. The only Node built-in the bundle imports is `node:crypto`
 * (`nodejs_compat`); Slack is called through the Worker's `fetch`.
 */
import {
  createAuthorize,
  EncryptedInstallationStore,
  NotInstalledError,
  OAuthFlow,
  OpenIDConnectFlow,
  parseEncryptionKeys,
  SlackApiClient,
  SlackRequestHandler,
} from "slack-oauth-kit";
import { toFetchHandler } from "slack-oauth-kit/http/core";
import {
  type D1Database,
  D1InstallationStore,
  D1StateStore,
  KvCachedInstallationStore,
  type KvNamespace,
} from "slack-oauth-kit/stores/d1";

/** The Worker's bindings and variables (wrangler.jsonc, and the secrets). */
export interface Env {
  DB: D1Database;
  INSTALLATION_CACHE?: KvNamespace;
  SLACK_CLIENT_ID: string;
  SLACK_CLIENT_SECRET: string;
  SLACK_SIGNING_SECRET: string;
  /** The token encryption key(s), a secret: `id:base64key[,id:base64key…]` (`slack-oauth-kit keygen`). */
  SLACK_TOKEN_ENCRYPTION_KEY: string;
  APP_URL: string;
  TABLE_PREFIX?: string;
  SLACK_API_URL?: string;
  SLACK_AUTHORIZE_URL?: string;
  SLACK_OIDC_BASE_URL?: string;
}

const home = `<!doctype html><title>Slack app on Cloudflare Workers</title>
<p><a href="/slack/install">Add to Slack</a> · <a href="/slack/login">Sign in with Slack</a></p>`;

/** Builds the handler from the bindings: once per isolate (the stores are shared by its requests). */
function build(env: Env): (request: Request) => Promise<Response> {
  for (const name of [
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_SIGNING_SECRET",
    "SLACK_TOKEN_ENCRYPTION_KEY",
    "APP_URL",
  ] as const) {
    if (!env[name]?.trim()) throw new Error(`${name} is not set: see the top of examples/cloudflare/worker.ts`);
  }
  const appUrl = env.APP_URL.trim().replace(/\/+$/, "");
  const tablePrefix = env.TABLE_PREFIX ?? "slack_";
  // A malformed key is a ConfigError naming the entry at fault, never the key.
  const keys = parseEncryptionKeys(env.SLACK_TOKEN_ENCRYPTION_KEY);
  const d1 = new D1InstallationStore({ database: env.DB, tablePrefix });
  // KV answers the hot lookups; every write goes to D1 and drops the workspace's KV entries.
  const cached = env.INSTALLATION_CACHE ? new KvCachedInstallationStore(d1, { namespace: env.INSTALLATION_CACHE }) : d1;
  // Encryption is the OUTER layer: the KV cache (and D1 beneath it) only ever see ciphertexts, and a lookup
  // served from KV is decrypted here, in the isolate's memory (one AES-GCM decryption, microseconds). The
  // other order (the cache around the encryption) would put decrypted tokens into KV, which is storage.
  const store = new EncryptedInstallationStore(cached, { keys });
  // States are one-time data: D1 only, never KV.
  const stateStore = new D1StateStore({ database: env.DB, tablePrefix });
  const api = new SlackApiClient(
    env.SLACK_API_URL ? { baseUrl: env.SLACK_API_URL, timeoutMs: 2500 } : { timeoutMs: 2500 },
  );

  const oauth = new OAuthFlow({
    clientId: env.SLACK_CLIENT_ID,
    clientSecret: env.SLACK_CLIENT_SECRET,
    scopes: ["commands", "chat:write"],
    redirectUri: `${appUrl}/slack/oauth_redirect`,
    ...(env.SLACK_AUTHORIZE_URL ? { authorizationUrl: env.SLACK_AUTHORIZE_URL } : {}),
    stateStore,
    installationStore: store,
    api,
  });

  const signIn = new OpenIDConnectFlow({
    clientId: env.SLACK_CLIENT_ID,
    clientSecret: env.SLACK_CLIENT_SECRET,
    redirectUri: `${appUrl}/slack/login/callback`,
    ...(env.SLACK_OIDC_BASE_URL ? { oidcBaseUrl: env.SLACK_OIDC_BASE_URL } : {}),
    stateStore,
    api,
  });

  const events = new SlackRequestHandler({
    signingSecret: env.SLACK_SIGNING_SECRET,
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
            title: { type: "plain_text", text: "Hello from Workers" },
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
  return async (request) =>
    new URL(request.url).pathname === "/"
      ? new Response(home, { headers: { "content-type": "text/html; charset=utf-8" } })
      : slack(request);
}

// One handler per isolate, built by its first request (the bindings come with the request).
let handler: { env: Env; fetch: (request: Request) => Promise<Response> } | undefined;

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    if (handler?.env !== env) handler = { env, fetch: build(env) };
    return handler.fetch(request);
  },
};
