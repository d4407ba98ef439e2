/**
 * `slack-oauth-kit doctor`: checks the configuration as a careful operator would — secrets present and
 * well-formed, tokens of the right kind, the redirect URI https and on the server's route, scopes known,
 * the store reachable and migrated, tokens valid via `auth.test` — and prints what to fix. Read-only: it
 * never writes to the store nor changes anything at Slack. Never prints a secret.
 */
import { APPS_FILE_VARIABLE } from "../app/apps-file.js";
import { type ConfigFinding, inspectConfig, type ServerConfig } from "../app/config.js";
import { createSingleWorkspaceAuthorize } from "../authorize/single-workspace.js";
import { EncryptionError } from "../errors.js";
import { redact } from "../redact.js";
import { SlackApiClient } from "../slack-api/client.js";
import { SlackApiError } from "../slack-api/errors.js";
import {
  ENCRYPTED_FIELDS,
  EncryptedInstallationStore,
  encryptedKeyId,
  isEncryptedValue,
} from "../stores/encryption.js";
import { TOKEN_KIND_NAMES, tokenKind } from "../tokens.js";
import { databaseUrlOf, inspectStore, openAdminStores } from "./admin-store.js";
import { type Command, ExitCode, parseOptions, UsageError } from "./command.js";
import { type CliIO, processIO } from "./io.js";
import { BOT_SCOPES, closestScope, LEGACY_SCOPES, OIDC_SCOPES, USER_SCOPES } from "./scopes.js";

/** The path at which the reference server answers the OAuth callback (`OAuthFlow`'s default). */
export const REDIRECT_PATH = "/slack/oauth_redirect";
const DEFAULT_REDIRECT_PATH = REDIRECT_PATH;

/**
 * One line of the doctor's report. `fail` makes the exit code 1; `warn` does not.
 *
 * @example
 * ```ts
 * const c: DoctorCheck = { name: "SLACK_REDIRECT_URI", status: "fail", message: "uses http", fix: "use https" };
 * ```
 */
export interface DoctorCheck {
  /** What was checked: usually an environment variable, or `store`, `slack`, `token T…`. */
  name: string;
  status: "ok" | "warn" | "fail" | "skip";
  message: string;
  /** What to do about it (for `warn` and `fail`). */
  fix?: string;
}

/** The whole report (`doctor --json` prints it). */
export interface DoctorReport {
  mode: "sandbox" | "single-workspace" | "multi-workspace";
  /** With `SLACK_APPS_FILE`: the names of the apps checked (each app's lines are named `app <name>`). */
  apps?: string[];
  /** True when no check failed. */
  ok: boolean;
  checks: DoctorCheck[];
}

const USAGE = [
  "slack-oauth-kit doctor [--database-url URL] [--offline] [--json] [--known-scope NAME]... [--max-token-checks N]",
  "",
  "Checks the server's configuration (read from the environment, as `serve` reads it) and prints what",
  "to fix: secrets present and well-formed, tokens of the right kind, SLACK_REDIRECT_URI https and on",
  `the server's route (${REDIRECT_PATH}), scopes known, the store reachable and migrated, and tokens`,
  "valid (auth.test): SLACK_BOT_TOKEN in single-workspace mode, the stored bot tokens otherwise.",
  "With SLACK_APPS_FILE every app of the file is checked: its fields and secrets, redirect URI, scopes, its",
  "partition of the store and its stored tokens (lines named `app <name>`).",
  "Nothing is written, and no secret is printed.",
  "",
  "  --database-url URL     the store to check (default: DATABASE_URL, else sqlite:./data/slack-oauth-kit.db)",
  "  --offline              skip every call to Slack (auth.test, api.test)",
  "  --json                 print the report as JSON: { mode, ok, checks: [{ name, status, message, fix? }] }",
  "  --known-scope NAME     accept a scope this version does not know yet (repeatable)",
  "  --max-token-checks N   check at most N stored bot tokens with auth.test (default 20)",
  "",
  "Exit codes: 0 nothing to fix (warnings allowed), 1 something to fix (a line marked FAIL), 2 bad usage.",
].join("\n");

/** What to do about a configuration finding, by its code. */
const FIXES: Record<string, string> = {
  port: "set PORT to a port number (0 = any free port), or unset it for 3000",
  "scope-syntax": "list scopes separated by commas, e.g. SLACK_SCOPES=commands,chat:write",
  url: "give a full http(s) URL",
  "redis-key-prefix": "use 1-100 printable ASCII characters without spaces, e.g. REDIS_KEY_PREFIX=myapp:",
  "refresh-interval": "give a whole number of seconds from 10 to 86400, e.g. SLACK_REFRESH_INTERVAL_SECONDS=300",
  "database-max-connections": "give a whole number from 1 to 1000, e.g. DATABASE_MAX_CONNECTIONS=20",
  ignored: "unset it, so that the configuration says what the server does",
  "client-id-shape": "copy the Client ID from the App Credentials of your app's settings (api.slack.com/apps)",
  "secret-missing": "copy it from the App Credentials of your app's settings (api.slack.com/apps) into the environment",
  "secret-shape":
    "copy it again from the App Credentials of your app's settings (api.slack.com/apps): 32 hex characters",
  "secret-is-token": "put the secret from your app's App Credentials there, and keep tokens in their own variables",
  "token-kind": "put the right token in the variable (see the message)",
  "mode-conflict": "choose one mode (see the message)",
  "apps-file": 'point SLACK_APPS_FILE at a readable JSON file whose "apps" lists the apps (docs/server.md)',
  "app-field": "correct that field of that app in SLACK_APPS_FILE (docs/server.md lists the fields)",
  "app-duplicate": "give each app its own name, client id, app id and paths",
  "apps-file-mode": 'chmod 600 the file, or replace the inline secrets with { "env": "VARIABLE" } references',
};

/** Codes the server only warns about at start, but a careful operator fixes. */
const STRICT_CODES = new Set(["secret-shape", "client-id-shape"]);

function fromFinding(f: ConfigFinding): DoctorCheck {
  // The apps file's findings about one app are that app's lines.
  const app = f.variable === APPS_FILE_VARIABLE ? /^app "([^"]+)"/.exec(f.message)?.[1] : undefined;
  const check: DoctorCheck = {
    name: app !== undefined ? `app ${app}` : f.variable,
    status: f.level === "problem" || STRICT_CODES.has(f.code) ? "fail" : "warn",
    message: f.message,
  };
  const fix = FIXES[f.code];
  if (fix !== undefined) check.fix = fix;
  return check;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

function checkRedirectUri(
  env: Record<string, string | undefined>,
  app?: { name: string; redirectUri: string | undefined; path: string },
): DoctorCheck[] {
  const name = app ? `app ${app.name}` : "SLACK_REDIRECT_URI";
  const REDIRECT_PATH = app?.path ?? DEFAULT_REDIRECT_PATH;
  const raw = app ? app.redirectUri : env.SLACK_REDIRECT_URI?.trim();
  if (app && !raw) {
    return [
      {
        name,
        status: "warn",
        message: "no redirectUri: Slack then redirects to the first Redirect URL configured for the app",
        fix: `set its "redirectUri" to https://YOUR-HOST${REDIRECT_PATH} and add the same URL under OAuth & Permissions → Redirect URLs`,
      },
    ];
  }
  if (!raw) {
    return [
      {
        name,
        status: "warn",
        message: "not set: Slack then redirects to the first Redirect URL configured for the app",
        fix: `set SLACK_REDIRECT_URI=https://YOUR-HOST${REDIRECT_PATH} and add the same URL under OAuth & Permissions → Redirect URLs`,
      },
    ];
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return []; // reported by the configuration check
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return [];
  const checks: DoctorCheck[] = [];
  if (url.protocol === "http:") {
    checks.push(
      LOOPBACK.has(url.hostname)
        ? {
            name,
            status: "warn",
            message: "uses http on a loopback host: fine against the local emulator, but Slack requires https",
            fix: "use an https URL (e.g. through a tunnel) with real Slack",
          }
        : {
            name,
            status: "fail",
            message: `uses http (${url.host}): Slack only redirects to https URLs, and the code would travel in clear`,
            fix: `use https://${url.host}${url.pathname}`,
          },
    );
  }
  if (url.pathname !== REDIRECT_PATH) {
    checks.push({
      name,
      status: "fail",
      message: `its path is ${url.pathname.slice(0, 80)}, but this server answers the OAuth callback at ${REDIRECT_PATH}`,
      fix: `use ${url.origin}${REDIRECT_PATH} (here and in the app's Redirect URLs)`,
    });
  }
  if (url.search || url.hash || raw.includes("#")) {
    checks.push({
      name,
      status: "fail",
      message: "carries a query string or a fragment: Slack matches redirect URIs exactly and refuses '#'",
      fix: `use ${url.origin}${url.pathname}`,
    });
  }
  const publicUrl = env.PUBLIC_URL?.trim();
  if (publicUrl) {
    try {
      const pub = new URL(publicUrl);
      if (pub.origin !== url.origin) {
        checks.push({
          name,
          status: "fail",
          message: `is on ${url.origin} but PUBLIC_URL is ${pub.origin}: the install's state cookie is set on one and the callback lands on the other`,
          fix: `use ${pub.origin}${REDIRECT_PATH}`,
        });
      }
    } catch {
      // reported by the configuration check
    }
  }
  if (checks.length === 0)
    checks.push({ name, status: "ok", message: `${app ? "redirectUri " : ""}https, on ${REDIRECT_PATH}` });
  return checks;
}

function checkScopes(
  variable: "SLACK_SCOPES" | "SLACK_USER_SCOPES",
  scopes: string[],
  extra: ReadonlySet<string>,
  app?: string,
): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  if (app !== undefined) {
    // An app of the apps file: its lines are named after it, its fields are "scopes" / "userScopes".
    const field = variable === "SLACK_SCOPES" ? "scopes" : "userScopes";
    return checkScopes(variable, scopes, extra).map((c) => ({
      ...c,
      name: `app ${app}`,
      message: `${field}: ${c.message.replaceAll("SLACK_SCOPES", "scopes").replaceAll("SLACK_USER_SCOPES", "userScopes")}`,
      ...(c.fix
        ? { fix: c.fix.replaceAll("SLACK_SCOPES", '"scopes"').replaceAll("SLACK_USER_SCOPES", '"userScopes"') }
        : {}),
    }));
  }
  const own = variable === "SLACK_SCOPES" ? BOT_SCOPES : USER_SCOPES;
  const other = variable === "SLACK_SCOPES" ? USER_SCOPES : BOT_SCOPES;
  const kind = variable === "SLACK_SCOPES" ? "bot" : "user";
  for (const s of scopes) {
    if (!/^[A-Za-z0-9_.:-]+$/.test(s)) continue; // reported by the configuration check
    if (own.has(s) || extra.has(s)) continue;
    if (OIDC_SCOPES.has(s)) {
      checks.push({
        name: variable,
        status: "fail",
        message: `"${s}" is a Sign in with Slack scope: it cannot be requested in an app install`,
        fix: `remove "${s}" from ${variable}; Sign in with Slack requests it on its own`,
      });
    } else if (LEGACY_SCOPES.has(s)) {
      checks.push({
        name: variable,
        status: "fail",
        message: `"${s}" is a classic-app scope: this server installs with OAuth v2, which refuses it`,
        fix: `replace "${s}" with granular scopes (https://docs.slack.dev/reference/scopes)`,
      });
    } else if (other.has(s)) {
      checks.push({
        name: variable,
        status: "warn",
        message: `"${s}" is not a ${kind} scope (it is for ${kind === "bot" ? "user" : "bot"} tokens)`,
        fix: `move "${s}" to ${variable === "SLACK_SCOPES" ? "SLACK_USER_SCOPES" : "SLACK_SCOPES"}`,
      });
    } else {
      const near = closestScope(s);
      checks.push({
        name: variable,
        status: "fail",
        message: `"${s.slice(0, 60)}" is not a Slack scope${near ? ` (did you mean "${near}"?)` : ""}`,
        fix: `correct it${near ? ` to "${near}"` : ""}; if Slack added it recently, run doctor with --known-scope ${s.slice(0, 60)}`,
      });
    }
  }
  if (variable === "SLACK_SCOPES" && !scopes.includes("commands")) {
    checks.push({
      name: variable,
      status: "warn",
      message: 'no "commands": the reference app\'s /open-modal slash command needs it',
      fix: 'add "commands" to SLACK_SCOPES',
    });
  }
  if (checks.length === 0) {
    checks.push({
      name: variable,
      status: "ok",
      message: scopes.length === 0 ? "none requested" : `${scopes.join(", ")}: all known ${kind} scopes`,
    });
  }
  return checks;
}

/** How a configured secret looks, for an ok line: its shape, never its value. */
function okSecret(name: string): DoctorCheck {
  return { name, status: "ok", message: "present, 32 hex characters" };
}

function describeSlackError(error: unknown): string {
  if (error instanceof SlackApiError) return error.error;
  return redact(error instanceof Error ? error.message : String(error));
}

/** Runs every check. `env` is the environment `serve` would read. */
export async function runDoctor(
  env: Record<string, string | undefined>,
  options: {
    databaseUrl?: string | undefined;
    offline?: boolean;
    knownScopes?: string[];
    maxTokenChecks?: number;
  } = {},
): Promise<DoctorReport> {
  const { config, findings } = inspectConfig(env);
  const appsFile = env[APPS_FILE_VARIABLE]?.trim() || undefined;
  if (appsFile !== undefined) return runAppsDoctor(env, config, findings, options);
  const mode: DoctorReport["mode"] = env.SLACK_CLIENT_ID?.trim()
    ? "multi-workspace"
    : env.SLACK_BOT_TOKEN?.trim()
      ? "single-workspace"
      : "sandbox";
  const checks: DoctorCheck[] = [];
  const byVariable = (v: string) => findings.filter((f) => f.variable === v);
  const handled = new Set<ConfigFinding>();
  const report = (v: string, ok: () => DoctorCheck) => {
    const fs = byVariable(v);
    for (const f of fs) handled.add(f);
    if (fs.length === 0) checks.push(ok());
    else checks.push(...fs.map(fromFinding));
  };

  // 1. Credentials of the mode.
  if (mode === "multi-workspace") {
    report("SLACK_CLIENT_ID", () => ({
      name: "SLACK_CLIENT_ID",
      status: "ok",
      message: "looks like a Slack client id",
    }));
    report("SLACK_CLIENT_SECRET", () => okSecret("SLACK_CLIENT_SECRET"));
    report("SLACK_SIGNING_SECRET", () => okSecret("SLACK_SIGNING_SECRET"));
    if (config.clientSecret && config.clientSecret === config.signingSecret) {
      checks.push({
        name: "SLACK_SIGNING_SECRET",
        status: "fail",
        message: "is the same as SLACK_CLIENT_SECRET: one of them was pasted into the other's variable",
        fix: "copy both again from the App Credentials of your app's settings (api.slack.com/apps)",
      });
    }
  } else if (mode === "single-workspace") {
    report("SLACK_BOT_TOKEN", () => ({ name: "SLACK_BOT_TOKEN", status: "ok", message: TOKEN_KIND_NAMES.bot }));
    if (env.SLACK_USER_TOKEN?.trim()) {
      report("SLACK_USER_TOKEN", () => ({ name: "SLACK_USER_TOKEN", status: "ok", message: TOKEN_KIND_NAMES.user }));
    }
    report("SLACK_SIGNING_SECRET", () => okSecret("SLACK_SIGNING_SECRET"));
  } else {
    checks.push({
      name: "mode",
      status: "ok",
      message:
        "sandbox: no SLACK_CLIENT_ID nor SLACK_BOT_TOKEN, the built-in emulator plays Slack (set them to use real Slack)",
    });
  }
  // 2. Everything else the configuration reader found (PORT, URLs, ignored variables…).
  for (const f of findings) if (!handled.has(f)) checks.push(fromFinding(f));

  // 3. Redirect URI and scopes (the OAuth install; single-workspace mode has none).
  if (mode === "multi-workspace") checks.push(...checkRedirectUri(env));
  if (mode !== "single-workspace") {
    const extra = new Set(options.knownScopes ?? []);
    checks.push(...checkScopes("SLACK_SCOPES", config.scopes, extra));
    if (config.userScopes.length > 0) checks.push(...checkScopes("SLACK_USER_SCOPES", config.userScopes, extra));
  }

  // 4. The store.
  const databaseUrl = options.databaseUrl ?? config.databaseUrl;
  let storeReady = false;
  if (mode === "single-workspace") {
    checks.push({
      name: "store",
      status: "skip",
      message: "single-workspace mode stores nothing: the token stays in the environment and in memory",
    });
  } else {
    const s = await inspectStore(databaseUrl);
    storeReady = s.status === "ok";
    const status: DoctorCheck["status"] =
      s.status === "ok"
        ? "ok"
        : s.status === "missing" || s.status === "pending" || s.status === "volatile"
          ? "warn"
          : "fail";
    const check: DoctorCheck = { name: "store", status, message: s.detail };
    if (s.status === "missing" || s.status === "pending")
      check.fix = "start the server once (it creates and migrates the store)";
    if (s.status === "volatile") check.fix = "use DATABASE_URL=sqlite:PATH to keep installations across restarts";
    if (s.status === "unreachable")
      check.fix =
        "check DATABASE_URL (or --database-url), the file's permissions, and that it is a slack-oauth-kit database";
    if (s.status === "too-new") check.fix = "upgrade slack-oauth-kit to the version that migrated this database";
    if (s.status === "unsupported") check.fix = "use sqlite:PATH or file:DIR";
    checks.push(check);
    if (storeReady) checks.push(await checkEncryption(databaseUrl));
  }

  // 5. Slack: the tokens, with auth.test.
  if (options.offline) {
    checks.push({ name: "slack", status: "skip", message: "--offline: no call to Slack" });
  } else if (mode === "single-workspace") {
    if (config.singleWorkspace) {
      const api = new SlackApiClient({ baseUrl: config.apiUrl, timeoutMs: 5000, maxRetries: 0 });
      try {
        const source = await createSingleWorkspaceAuthorize({
          botToken: config.singleWorkspace.botToken,
          userToken: config.singleWorkspace.userToken,
          api,
        });
        const w = source.workspace;
        checks.push({
          name: "auth.test",
          status: "ok",
          message: `SLACK_BOT_TOKEN is valid: ${w.isEnterpriseInstall ? `org ${w.enterpriseId}` : `workspace ${w.teamId}`}${w.teamName ? ` (${w.teamName})` : ""}, bot ${w.botId}${w.userId ? `; SLACK_USER_TOKEN is valid (user ${w.userId})` : ""}`,
        });
      } catch (error) {
        checks.push({
          name: "auth.test",
          status: "fail",
          message: redact(error instanceof Error ? error.message : String(error)),
          fix: "put a valid token in the variable named above (see the message)",
        });
      }
    } else {
      checks.push({ name: "auth.test", status: "skip", message: "the tokens are not well-formed (see above)" });
    }
  } else if (mode === "multi-workspace") {
    const { api, check } = await checkWebApi(config.apiUrl);
    checks.push(check);
    if (storeReady) checks.push(...(await checkStoredTokens(api, databaseUrl, options.maxTokenChecks ?? 20)));
    else checks.push({ name: "tokens", status: "skip", message: "the store is not ready (see above)" });
  }

  return { mode, ok: !checks.some((c) => c.status === "fail"), checks };
}

/** Whether the Web API at `apiUrl` answers `api.test`; returns the client for the token checks that follow. */
async function checkWebApi(apiUrl: string): Promise<{ api: SlackApiClient; check: DoctorCheck }> {
  const api = new SlackApiClient({ baseUrl: apiUrl, timeoutMs: 5000, maxRetries: 0 });
  try {
    await api.call("api.test", {}, { idempotent: true });
    return { api, check: { name: "slack", status: "ok", message: `the Web API answers at ${apiUrl}` } };
  } catch (error) {
    return {
      api,
      check: {
        name: "slack",
        status: "fail",
        message: `the Web API at ${apiUrl} does not answer: ${describeSlackError(error)}`,
        fix: "check SLACK_API_URL and this host's outbound network (proxy, firewall)",
      },
    };
  }
}

/**
 * Encryption at rest: the store opens with SLACK_TOKEN_ENCRYPTION_KEY as configured (its marker agrees),
 * and how many stored tokens are plaintext or encrypted (per key id). Reads only.
 */
async function checkEncryption(
  databaseUrl: string,
  app?: { name: string; clientId: string | undefined },
): Promise<DoctorCheck> {
  const named = (c: DoctorCheck): DoctorCheck =>
    app ? { ...c, name: `app ${app.name}`, message: `encryption: ${c.message}` } : c;
  return named(await encryptionCheck(databaseUrl, app?.clientId));
}

async function encryptionCheck(databaseUrl: string, clientId: string | undefined): Promise<DoctorCheck> {
  let stores: Awaited<ReturnType<typeof openAdminStores>>;
  try {
    stores = await openAdminStores(databaseUrl, { clientId });
  } catch (error) {
    if (!(error instanceof EncryptionError)) {
      return {
        name: "encryption",
        status: "skip",
        message: redact(error instanceof Error ? error.message : String(error)),
      };
    }
    return {
      name: "encryption",
      status: "fail",
      message: redact(error.message),
      fix:
        error.reason === "key-missing"
          ? "set SLACK_TOKEN_ENCRYPTION_KEY to the key(s) the store was encrypted with"
          : `put the key with id ${JSON.stringify(error.keyId ?? "?")} back into SLACK_TOKEN_ENCRYPTION_KEY (after the newest key) until \`slack-oauth-kit rekey\` has run`,
    };
  }
  try {
    const top = stores.installationStore;
    const raw = top instanceof EncryptedInstallationStore ? top.inner : top;
    if (typeof raw.listWorkspaces !== "function")
      return { name: "encryption", status: "skip", message: "this store cannot list its tokens" };
    let plaintext = 0;
    const byKey = new Map<string, number>();
    for (const w of await raw.listWorkspaces()) {
      const records: object[] = [...(w.bot ? [w.bot] : []), ...w.installations];
      for (const [i, r] of records.entries()) {
        // Bot fields of installations repeat the workspace's bot: counted once, on the bot.
        const fields = i === 0 && w.bot ? ENCRYPTED_FIELDS : ENCRYPTED_FIELDS.filter((f) => f.startsWith("user"));
        for (const f of fields) {
          const v = (r as Record<string, unknown>)[f];
          if (typeof v !== "string" || v === "") continue;
          if (!isEncryptedValue(v)) plaintext++;
          else {
            const id = encryptedKeyId(v) ?? "?";
            byKey.set(id, (byKey.get(id) ?? 0) + 1);
          }
        }
      }
    }
    const encrypted = [...byKey.entries()].map(([id, n]) => `${n} under key ${JSON.stringify(id)}`).join(", ");
    if (!(top instanceof EncryptedInstallationStore)) {
      return {
        name: "encryption",
        status: "ok",
        message: `off (SLACK_TOKEN_ENCRYPTION_KEY is not set): ${plaintext} token(s) stored in plaintext`,
      };
    }
    const current = top.cipher.currentKeyId;
    const old = [...byKey.keys()].filter((id) => id !== current);
    if (plaintext > 0 || old.length > 0) {
      return {
        name: "encryption",
        status: "warn",
        message: `${plaintext} token(s) still stored in plaintext${encrypted ? `; ${encrypted}` : ""}`,
        fix: `run \`slack-oauth-kit rekey\` to encrypt them all under key ${JSON.stringify(current)}`,
      };
    }
    return { name: "encryption", status: "ok", message: `on: ${encrypted || "no token stored yet"}` };
  } catch (error) {
    return {
      name: "encryption",
      status: "fail",
      message: redact(error instanceof Error ? error.message : String(error)),
    };
  } finally {
    await stores.close();
  }
}

/** auth.test on each stored bot token (read-only: a revoked one is reported, never deleted). */
async function checkStoredTokens(
  api: SlackApiClient,
  databaseUrl: string,
  max: number,
  app?: { name: string; clientId: string | undefined },
): Promise<DoctorCheck[]> {
  const checks = await storedTokenChecks(api, databaseUrl, max, app?.clientId);
  if (!app) return checks;
  // The app's partition: its lines are named after it, and its commands take --app.
  return checks.map((c) => ({
    ...c,
    name: `app ${app.name}`,
    message: c.name === "tokens" ? c.message : `${c.name}: ${c.message}`,
    ...(c.fix ? { fix: c.fix.replace("installations delete", `installations delete --app ${app.name}`) } : {}),
  }));
}

async function storedTokenChecks(
  api: SlackApiClient,
  databaseUrl: string,
  max: number,
  clientId: string | undefined,
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const stores = await openAdminStores(databaseUrl, { clientId });
  try {
    const all = await stores.installationStore.listWorkspaces();
    const withBot = all.filter((w) => w.bot !== undefined);
    if (withBot.length === 0) {
      return [{ name: "tokens", status: "ok", message: "no bot token stored yet (nothing installed)" }];
    }
    let valid = 0;
    for (const w of withBot.slice(0, max)) {
      const bot = w.bot;
      if (!bot) continue;
      const where = w.isEnterpriseInstall ? `--enterprise ${w.enterpriseId}` : `--team ${w.teamId}`;
      const name = `token ${w.teamId ?? w.enterpriseId}`;
      const kind = tokenKind(bot.botToken);
      if (kind !== "bot" && kind !== "rotating-bot") {
        checks.push({
          name,
          status: "fail",
          message: `the stored bot token is ${TOKEN_KIND_NAMES[kind]}`,
          fix: `reinstall the app on that workspace, or remove it: slack-oauth-kit installations delete ${where}`,
        });
        continue;
      }
      try {
        await api.authTest(bot.botToken);
        valid++;
      } catch (error) {
        const code = describeSlackError(error);
        if (code === "token_expired" && bot.botRefreshToken) {
          valid++; // rotation renews it on next use
          continue;
        }
        const gone = ["token_revoked", "invalid_auth", "account_inactive", "not_authed", "token_expired"].includes(
          code,
        );
        checks.push({
          name,
          status: gone ? "fail" : "warn",
          message: gone
            ? `auth.test: ${code}: the app was uninstalled or its token revoked, but the store still holds it (a missed app_uninstalled event?)`
            : `auth.test could not check it: ${code}`,
          fix: gone
            ? `remove it: slack-oauth-kit installations delete ${where} (or reinstall the app there)`
            : "run doctor again later",
        });
      }
    }
    const skipped = withBot.length - Math.min(max, withBot.length);
    if (checks.length === 0) {
      checks.push({
        name: "tokens",
        status: "ok",
        message: `${valid} stored bot token(s) valid (auth.test)${skipped > 0 ? `; ${skipped} not checked (--max-token-checks)` : ""}`,
      });
    }
    return checks;
  } finally {
    await stores.close();
  }
}

/**
 * The checks of a multi-app configuration (`SLACK_APPS_FILE`): the file (readable, mode, duplicates), then
 * per app its credentials, redirect URI, scopes, its partition of the store (encryption) and its stored
 * tokens (auth.test). Every line about one app is named `app <name>`.
 */
async function runAppsDoctor(
  env: Record<string, string | undefined>,
  config: ServerConfig,
  findings: ConfigFinding[],
  options: { databaseUrl?: string | undefined; offline?: boolean; knownScopes?: string[]; maxTokenChecks?: number },
): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const apps = config.apps ?? [];
  const appNames = apps.map((a) => a.name);
  checks.push(
    apps.length > 0
      ? {
          name: APPS_FILE_VARIABLE,
          status: "ok",
          message: `${apps.length} app(s): ${appNames.join(", ")}; ${apps.find((a) => a.default)?.name ?? "none"} owns the default partition`,
        }
      : { name: APPS_FILE_VARIABLE, status: "fail", message: "no app could be read (see below)" },
  );
  // 1. What the configuration reader found (the file's problems name the app and the field).
  for (const f of findings) checks.push(fromFinding(f));
  // 2. Per app: credentials, redirect URI, scopes.
  const extra = new Set(options.knownScopes ?? []);
  for (const a of apps) {
    const name = `app ${a.name}`;
    if (!findings.some((f) => f.message.startsWith(`app "${a.name}"`)))
      checks.push({
        name,
        status: "ok",
        message: `client id ${a.clientId}, app id ${a.appId}; clientSecret and signingSecret present`,
      });
    if (!/^[0-9a-f]{32}$/i.test(a.clientSecret))
      checks.push({
        name,
        status: "fail",
        message: `clientSecret should be 32 hex characters, got a ${a.clientSecret.length}-character value`,
        fix: "copy it again from the App Credentials of the app's settings (api.slack.com/apps)",
      });
    if (a.clientSecret === a.signingSecret)
      checks.push({
        name,
        status: "fail",
        message: "signingSecret is the same as clientSecret: one of them was pasted into the other's place",
        fix: "copy both again from the App Credentials of the app's settings (api.slack.com/apps)",
      });
    checks.push(...checkRedirectUri(env, { name: a.name, redirectUri: a.redirectUri, path: a.paths.redirect }));
    checks.push(...checkScopes("SLACK_SCOPES", a.scopes, extra, a.name));
    if (a.userScopes.length > 0) checks.push(...checkScopes("SLACK_USER_SCOPES", a.userScopes, extra, a.name));
  }
  // 3. The store (one schema), then each app's partition.
  const databaseUrl = options.databaseUrl ?? config.databaseUrl;
  const s = await inspectStore(databaseUrl);
  const storeReady = s.status === "ok";
  checks.push({
    name: "store",
    status: storeReady
      ? "ok"
      : s.status === "missing" || s.status === "pending" || s.status === "volatile"
        ? "warn"
        : "fail",
    message: s.detail,
    ...(storeReady ? {} : { fix: "start the server once (it creates and migrates the store), or check DATABASE_URL" }),
  });
  const partitions = apps.map((a) => ({ name: a.name, clientId: a.default ? undefined : a.clientId }));
  if (storeReady) for (const p of partitions) checks.push(await checkEncryption(databaseUrl, p));
  // 4. Slack: the Web API, then each app's stored tokens.
  if (options.offline) checks.push({ name: "slack", status: "skip", message: "--offline: no call to Slack" });
  else if (apps.length > 0) {
    const { api, check } = await checkWebApi(config.apiUrl);
    checks.push(check);
    if (storeReady)
      for (const p of partitions)
        checks.push(...(await checkStoredTokens(api, databaseUrl, options.maxTokenChecks ?? 20, p)));
    else checks.push({ name: "tokens", status: "skip", message: "the store is not ready (see above)" });
  }
  return { mode: "multi-workspace", apps: appNames, ok: !checks.some((c) => c.status === "fail"), checks };
}

const MARK: Record<DoctorCheck["status"], string> = { ok: "ok  ", warn: "WARN", fail: "FAIL", skip: "skip" };

/** The report as text for a terminal. */
export function formatReport(r: DoctorReport): string {
  const modeLine: Record<DoctorReport["mode"], string> = {
    sandbox: "sandbox mode (no SLACK_CLIENT_ID, no SLACK_BOT_TOKEN)",
    "single-workspace": "single-workspace mode (SLACK_BOT_TOKEN, no SLACK_CLIENT_ID)",
    "multi-workspace": "multi-workspace mode (SLACK_CLIENT_ID is set)",
  };
  const width = Math.max(...r.checks.map((c) => c.name.length), 8);
  const head = r.apps
    ? `multi-workspace mode, ${r.apps.length} app(s) from SLACK_APPS_FILE${r.apps.length > 0 ? ` (${r.apps.join(", ")})` : ""}`
    : modeLine[r.mode];
  const lines = [`slack-oauth-kit doctor: ${head}`, ""];
  for (const c of r.checks) {
    lines.push(`  ${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.message}`);
    if (c.fix && (c.status === "fail" || c.status === "warn")) lines.push(`        ${"".padEnd(width)}  fix: ${c.fix}`);
  }
  const fails = r.checks.filter((c) => c.status === "fail").length;
  const warns = r.checks.filter((c) => c.status === "warn").length;
  lines.push("");
  lines.push(
    fails > 0
      ? `${fails} problem(s)${warns > 0 ? ` and ${warns} warning(s)` : ""}: fix the lines marked FAIL, then run \`slack-oauth-kit doctor\` again.`
      : warns > 0
        ? `Nothing to fix; ${warns} warning(s) worth a look.`
        : "Everything looks right.",
  );
  return lines.join("\n");
}

/**
 * Builds the `doctor` command on a terminal (tests pass a fake one).
 *
 * @example
 * ```ts
 * const code = await createDoctorCommand(processIO).run(["--offline"]);
 * ```
 */
export function createDoctorCommand(ioFactory: () => CliIO = processIO): Command {
  return {
    name: "doctor",
    summary: "Check the configuration, the store and the tokens; print what to fix.",
    usage: USAGE,
    async run(argv) {
      const io = ioFactory();
      const { values, positionals } = parseOptions(argv, {
        "database-url": { type: "string" },
        offline: { type: "boolean" },
        json: { type: "boolean" },
        "known-scope": { type: "string", multiple: true },
        "max-token-checks": { type: "string" },
      });
      if (positionals.length > 0)
        throw new UsageError(`unexpected argument "${redact((positionals[0] ?? "").slice(0, 40))}"`);
      const maxRaw = values["max-token-checks"];
      const max = maxRaw === undefined ? 20 : Number(maxRaw);
      if (!Number.isInteger(max) || max < 0) throw new UsageError("--max-token-checks must be a non-negative integer");
      const report = await runDoctor(io.env, {
        databaseUrl: values["database-url"] === undefined ? undefined : databaseUrlOf(values["database-url"], io.env),
        offline: values.offline === true,
        knownScopes: values["known-scope"] ?? [],
        maxTokenChecks: max,
      });
      // Belt and braces: nothing printed may hold a secret, whatever a check put in its message.
      io.out(`${redact(values.json ? JSON.stringify(report, null, 2) : formatReport(report))}\n`);
      return report.ok ? ExitCode.Ok : ExitCode.Failure;
    },
  };
}

/** `slack-oauth-kit doctor` on the process's terminal. */
export const doctorCommand: Command = createDoctorCommand();
