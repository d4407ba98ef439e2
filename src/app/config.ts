import { ConfigError } from "../errors.js";
import { tokenLabel } from "../redact.js";
import { checkTokenKind, looksLikeSlackToken, TOKEN_KIND_NAMES, TokenKindError, tokenKind } from "../tokens.js";
import { APPS_FILE_VARIABLE, type AppConfig, readAppsFile } from "./apps-file.js";
import { CONSOLE_ADMINS_VARIABLE, CONSOLE_PATH, parseConsoleAdmins } from "./console.js";
import type { ConfigFinding } from "./findings.js";
import { DEFAULT_SERVER_LIMITS, LIMIT_VARIABLES, type ServerLimits } from "./limits.js";
import { METRICS_PATH, type MetricsConfig, readMetricsConfig } from "./metrics.js";
import { serverDatabase } from "./stores.js";

/**
 * How the reference server runs, from the environment:
 * - `sandbox`: `SLACK_SANDBOX=1`, or no `SLACK_CLIENT_ID` and no `SLACK_BOT_TOKEN` and nothing else of a real
 *   deployment (secrets, encryption key, `DATABASE_URL`, a public `PUBLIC_URL` or `HOST`: those stop the
 *   start instead); the built-in emulator plays Slack;
 * - `single-workspace`: `SLACK_BOT_TOKEN` (and optionally `SLACK_USER_TOKEN`), no `SLACK_CLIENT_ID`; no
 *   OAuth flow, the token serves its one workspace;
 * - `multi-workspace`: `SLACK_CLIENT_ID` + secrets; workspaces install through OAuth.
 *
 * @example
 * ```ts
 * const mode: ServerMode = serverMode(loadConfig(process.env));
 * ```
 */
export type ServerMode = "sandbox" | "single-workspace" | "multi-workspace";

/** Configuration of the reference server, read from the environment (variables listed in docs/server.md and docs/operations.md). */
export interface ServerConfig {
  /**
   * Sandbox mode, the built-in emulator plays Slack: `SLACK_SANDBOX=1` (`serve --sandbox`), or nothing of
   * a real deployment set (no `SLACK_CLIENT_ID`, `SLACK_BOT_TOKEN`, secrets, `DATABASE_URL`, public host).
   */
  sandbox: boolean;
  /**
   * Single-workspace mode (`SLACK_BOT_TOKEN` set, no `SLACK_CLIENT_ID`): the tokens from the environment,
   * kind-checked by prefix. They are checked with `auth.test` when the server starts.
   */
  singleWorkspace?: { botToken: string; userToken?: string };
  clientId?: string;
  clientSecret?: string;
  signingSecret?: string;
  scopes: string[];
  userScopes: string[];
  redirectUri?: string;
  apiUrl: string;
  authorizeUrl: string;
  oidcBaseUrl: string;
  databaseUrl: string;
  redisUrl?: string;
  /**
   * Prefix of every Redis key and channel (`REDIS_KEY_PREFIX`): deployments sharing one Redis keep apart.
   *
   * @default `slack-oauth-kit:`
   */
  redisKeyPrefix?: string;
  tokenEncryptionKey?: string;
  port: number;
  host: string;
  /**
   * Public base URL of this server.
   *
   * @default `http://localhost:PORT`
   */
  publicUrl?: string;
  /** Flood protection: install-start rate, connections per address, read timeouts (see `ServerLimits`). */
  limits: ServerLimits;
  /** Things that look wrong but do not stop the start (printed at start, secrets masked). */
  warnings: string[];
  /** Prometheus metrics (`METRICS_PORT`, `METRICS_TOKEN`, `METRICS_HOST`, `METRICS_APP`; see `app/metrics.ts`). */
  metrics?: MetricsConfig;
  /**
   * Several apps (`SLACK_APPS_FILE`): each with its own credentials, paths and store partition. Set instead of
   * `clientId` / `clientSecret` / `signingSecret` / `scopes` / `redirectUri`, which then play no part. With
   * `sandbox` the built-in emulator hosts every one of them.
   */
  apps?: AppConfig[];
  /** The operator console's admins (`CONSOLE_ADMINS`, `team_id:user_id` pairs); empty: the console is off. */
  consoleAdmins: string[];
  /**
   * Refresh rotating tokens without traffic, a pass every this many seconds (`SLACK_REFRESH_INTERVAL_SECONDS`,
   * 10 to 86400). Absent: off (tokens are refreshed when requests need them).
   */
  refreshIntervalSeconds?: number;
  /**
   * Largest number of connections of each PostgreSQL or MySQL pool the server opens
   * (`DATABASE_MAX_CONNECTIONS`, 1 to 1000). Absent: 10. With several apps they share one pool of this size.
   */
  databaseMaxConnections?: number;
}

/** A configuration problem: the server prints every one of them and exits with code 2. */
export class ConfigProblems extends ConfigError {
  constructor(readonly problems: string[]) {
    super(`Configuration problems:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

export type { ConfigFinding } from "./findings.js";

/** Slack credentials: none may be set with `SLACK_SANDBOX=1`. */
const SLACK_CREDENTIALS = [
  "SLACK_CLIENT_ID",
  "SLACK_CLIENT_SECRET",
  "SLACK_SIGNING_SECRET",
  "SLACK_BOT_TOKEN",
  "SLACK_USER_TOKEN",
] as const;

/** True for a loopback host name or address (`localhost`, `127.x.x.x`, `::1`). */
function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "");
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** The settings present in `env` that only a production deployment has, each with why. */
function productionSettings(env: Record<string, string | undefined>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const key of ["SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET", "SLACK_TOKEN_ENCRYPTION_KEY"] as const)
    if (env[key]?.trim()) out.push([key, "is set"]);
  const db = env.DATABASE_URL?.trim();
  if (db && db !== "memory:" && db !== "memory") out.push(["DATABASE_URL", "is set"]);
  const publicUrl = env.PUBLIC_URL?.trim();
  if (publicUrl) {
    let host = "";
    try {
      host = new URL(publicUrl).hostname;
    } catch {}
    if (!isLoopback(host)) out.push(["PUBLIC_URL", "names a host other than this machine"]);
  }
  const host = env.HOST?.trim();
  if (host && !isLoopback(host))
    out.push(["HOST", `makes the server listen beyond this machine (${host.slice(0, 40)})`]);
  return out;
}

/** The mode a configuration runs in. */
export function serverMode(config: Pick<ServerConfig, "sandbox" | "singleWorkspace">): ServerMode {
  if (config.singleWorkspace) return "single-workspace";
  return config.sandbox ? "sandbox" : "multi-workspace";
}

const SCOPE_RE = /^[A-Za-z0-9_.:-]+$/;
const HEX32 = /^[0-9a-f]{32}$/i;

function list(value: string | undefined, fallback: string[]): string[] {
  if (value === undefined) return fallback;
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The bot and user scopes the server asks for, from `SLACK_SCOPES` / `SLACK_USER_SCOPES` (comma- or
 * space-separated; the server's defaults when unset), as the server reads them. The CLI's
 * `installations list --needs-reinstall` compares installations with these.
 *
 * @example
 * ```ts
 * configuredScopes({ SLACK_SCOPES: "commands,chat:write,channels:read" }).bot; // ["commands", "chat:write", "channels:read"]
 * ```
 */
export function configuredScopes(env: Record<string, string | undefined>): {
  bot: string[];
  user: string[];
  /** Values that are not Slack scopes (the server refuses to start with them). */
  invalid: string[];
} {
  const bot = list(env.SLACK_SCOPES, ["commands", "chat:write"]);
  const user = list(env.SLACK_USER_SCOPES, []);
  return { bot, user, invalid: [...bot, ...user].filter((s) => !SCOPE_RE.test(s)) };
}

/** Shows a secret's shape without its value, for configuration messages. */
function shape(value: string): string {
  return `a ${value.length}-character value${/^(xox|xapp|xwfp)/.test(value) ? ` that looks like a Slack token ${tokenLabel(value)}` : ""}`;
}

/**
 * Reads the server's environment and reports every finding, without throwing. {@link loadConfig} is this
 * plus "throw when there is a problem"; the `doctor` command shows the findings as checks.
 *
 * @example
 * ```ts
 * const { config, findings } = inspectConfig(process.env);
 * for (const f of findings) console.log(f.level, f.variable, f.message);
 * ```
 */
export function inspectConfig(env: Record<string, string | undefined> = process.env): {
  config: ServerConfig;
  findings: ConfigFinding[];
} {
  const findings: ConfigFinding[] = [];
  const problem = (variable: string, code: string, message: string) =>
    findings.push({ variable, level: "problem", code, message });
  const warning = (variable: string, code: string, message: string) =>
    findings.push({ variable, level: "warning", code, message });
  const appsFile = env[APPS_FILE_VARIABLE]?.trim() || undefined;
  const clientId = env.SLACK_CLIENT_ID?.trim() || undefined;
  const botTokenRaw = env.SLACK_BOT_TOKEN?.trim() || undefined;
  const userTokenRaw = env.SLACK_USER_TOKEN?.trim() || undefined;
  const forcedSandbox = /^(1|true|yes)$/i.test(env.SLACK_SANDBOX?.trim() ?? "");
  const singleWorkspace =
    !forcedSandbox && appsFile === undefined && clientId === undefined && botTokenRaw !== undefined;
  const sandbox = forcedSandbox || (appsFile === undefined && clientId === undefined && !singleWorkspace);
  // An empty PORT means unset (a blank line in an .env file), not port 0.
  const portRaw = env.PORT?.trim() || "3000";
  const port = /^\d{1,5}$/.test(portRaw) ? Number(portRaw) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problem("PORT", "port", `PORT must be an integer 0-65535 (0 = any free port), got "${portRaw.slice(0, 20)}"`);
  }
  const { bot: scopes, user: userScopes } = configuredScopes(env);
  for (const s of [...scopes, ...userScopes]) {
    if (!SCOPE_RE.test(s)) {
      problem(
        scopes.includes(s) ? "SLACK_SCOPES" : "SLACK_USER_SCOPES",
        "scope-syntax",
        `SLACK_SCOPES / SLACK_USER_SCOPES: "${s.slice(0, 40)}" is not a Slack scope`,
      );
    }
  }
  const warnings: string[] = [];
  const config: ServerConfig = {
    warnings,
    sandbox,
    scopes,
    userScopes,
    apiUrl: env.SLACK_API_URL || "https://slack.com/api/",
    authorizeUrl: env.SLACK_AUTHORIZE_URL || "https://slack.com/oauth/v2/authorize",
    oidcBaseUrl: env.SLACK_OIDC_BASE_URL || "https://slack.com",
    databaseUrl: env.DATABASE_URL || "sqlite:./data/slack-oauth-kit.db",
    port: Number.isInteger(port) ? port : 3000,
    host: env.HOST || "127.0.0.1",
    limits: readLimits(env, problem),
    consoleAdmins: [],
  };
  const consoleAdmins = parseConsoleAdmins(env[CONSOLE_ADMINS_VARIABLE]);
  for (const message of consoleAdmins.problems) problem(CONSOLE_ADMINS_VARIABLE, "console-admins", message);
  if (consoleAdmins.admins.length > 0) {
    if (singleWorkspace) {
      warning(
        CONSOLE_ADMINS_VARIABLE,
        "ignored",
        `${CONSOLE_ADMINS_VARIABLE} is set but the operator console needs Sign in with Slack, which single-workspace mode does not have: it is ignored`,
      );
    } else config.consoleAdmins = consoleAdmins.admins;
  }
  const refresh = env.SLACK_REFRESH_INTERVAL_SECONDS?.trim();
  if (refresh) {
    const seconds = Number(refresh);
    if (!/^\d+$/.test(refresh) || seconds < 10 || seconds > 86_400)
      problem(
        "SLACK_REFRESH_INTERVAL_SECONDS",
        "refresh-interval",
        "SLACK_REFRESH_INTERVAL_SECONDS must be a whole number of seconds from 10 to 86400 (e.g. 300)",
      );
    else if (singleWorkspace)
      warning(
        "SLACK_REFRESH_INTERVAL_SECONDS",
        "ignored",
        "SLACK_REFRESH_INTERVAL_SECONDS is set but single-workspace tokens do not rotate: it is ignored",
      );
    else config.refreshIntervalSeconds = seconds;
  }
  const maxConnections = env.DATABASE_MAX_CONNECTIONS?.trim();
  if (maxConnections) {
    const n = Number(maxConnections);
    if (!/^\d+$/.test(maxConnections) || n < 1 || n > 1000)
      problem(
        "DATABASE_MAX_CONNECTIONS",
        "database-max-connections",
        "DATABASE_MAX_CONNECTIONS must be a whole number of connections from 1 to 1000 (e.g. 20)",
      );
    else if (serverDatabase(config.databaseUrl) === undefined)
      warning(
        "DATABASE_MAX_CONNECTIONS",
        "ignored",
        "DATABASE_MAX_CONNECTIONS is set but DATABASE_URL is not a PostgreSQL or MySQL database (no pool): it is ignored",
      );
    else config.databaseMaxConnections = n;
  }
  if (env.REDIS_URL) config.redisUrl = env.REDIS_URL;
  const redisPrefix = env.REDIS_KEY_PREFIX;
  if (redisPrefix !== undefined && redisPrefix !== "") {
    if (/^[\x21-\x7e]{1,100}$/.test(redisPrefix)) config.redisKeyPrefix = redisPrefix;
    else
      problem(
        "REDIS_KEY_PREFIX",
        "redis-key-prefix",
        "REDIS_KEY_PREFIX must be 1-100 printable ASCII characters without spaces (e.g. myapp:)",
      );
  }
  if (env.SLACK_TOKEN_ENCRYPTION_KEY) config.tokenEncryptionKey = env.SLACK_TOKEN_ENCRYPTION_KEY;
  if (env.PUBLIC_URL) config.publicUrl = env.PUBLIC_URL.replace(/\/+$/, "");
  for (const key of [
    "SLACK_API_URL",
    "SLACK_AUTHORIZE_URL",
    "SLACK_OIDC_BASE_URL",
    "SLACK_REDIRECT_URI",
    "PUBLIC_URL",
  ] as const) {
    const v = env[key];
    if (!v) continue;
    try {
      const u = new URL(v);
      if (u.protocol !== "https:" && u.protocol !== "http:") problem(key, "url", `${key} must be an http(s) URL`);
    } catch {
      problem(key, "url", `${key} is not a valid URL`);
    }
  }
  // A Slack token pasted into a secret's variable is a leak waiting to happen (secrets get logged less
  // carefully than tokens by other tools): refuse it, naming the kind found, never the value.
  for (const key of ["SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET"] as const) {
    const v = env[key]?.trim();
    if (v && looksLikeSlackToken(v)) {
      problem(
        key,
        "secret-is-token",
        `${key} holds ${TOKEN_KIND_NAMES[tokenKind(v)]}, not a secret. Copy the ${key === "SLACK_CLIENT_SECRET" ? "Client Secret" : "Signing Secret"} from the App Credentials of your app's settings (api.slack.com/apps)`,
      );
    }
  }
  const checkToken = (variable: string, value: string, kind: "bot" | "user"): string | undefined => {
    try {
      return checkTokenKind(value, kind, variable);
    } catch (error) {
      if (!(error instanceof TokenKindError)) throw error;
      problem(variable, "token-kind", error.message);
      return undefined;
    }
  };
  const checkSecretShape = (key: "SLACK_CLIENT_SECRET" | "SLACK_SIGNING_SECRET", value: string) => {
    if (!HEX32.test(value) && !looksLikeSlackToken(value)) {
      warning(key, "secret-shape", `${key} should be 32 hex characters, got ${shape(value)}`);
    }
  };
  if (env.SLACK_APP_TOKEN?.trim()) {
    const kind = tokenKind(env.SLACK_APP_TOKEN);
    if (kind !== "app") {
      problem(
        "SLACK_APP_TOKEN",
        "token-kind",
        `SLACK_APP_TOKEN holds ${TOKEN_KIND_NAMES[kind]}, but only an app-level token (xapp-) belongs there; this server does not use it anyway (no Socket Mode): unset it`,
      );
    } else {
      warning(
        "SLACK_APP_TOKEN",
        "ignored",
        "SLACK_APP_TOKEN is set but this server does not use Socket Mode: it is ignored",
      );
    }
  }

  if (clientId !== undefined && (botTokenRaw !== undefined || userTokenRaw !== undefined)) {
    const which = botTokenRaw !== undefined ? "SLACK_BOT_TOKEN" : "SLACK_USER_TOKEN";
    problem(
      which,
      "mode-conflict",
      `${which} and SLACK_CLIENT_ID are both set: choose single-workspace mode (SLACK_BOT_TOKEN, no SLACK_CLIENT_ID) or multi-workspace mode (SLACK_CLIENT_ID; workspaces install through /slack/install and their tokens are stored): unset ${which} to use OAuth`,
    );
  }
  if (appsFile === undefined && clientId === undefined && botTokenRaw === undefined && userTokenRaw !== undefined) {
    problem(
      "SLACK_USER_TOKEN",
      "mode-conflict",
      "SLACK_USER_TOKEN is set without SLACK_BOT_TOKEN: single-workspace mode needs the workspace's bot token (xoxb-) in SLACK_BOT_TOKEN",
    );
  }

  if (singleWorkspace) {
    const botToken = checkToken("SLACK_BOT_TOKEN", botTokenRaw ?? "", "bot");
    const userToken = userTokenRaw === undefined ? undefined : checkToken("SLACK_USER_TOKEN", userTokenRaw, "user");
    if (botToken !== undefined) {
      config.singleWorkspace = userToken === undefined ? { botToken } : { botToken, userToken };
    }
    const signing = env.SLACK_SIGNING_SECRET?.trim();
    if (!signing) {
      problem(
        "SLACK_SIGNING_SECRET",
        "secret-missing",
        "SLACK_SIGNING_SECRET is required with SLACK_BOT_TOKEN (single-workspace mode): Slack's requests are verified with it",
      );
    } else {
      checkSecretShape("SLACK_SIGNING_SECRET", signing);
      config.signingSecret = signing;
    }
    for (const key of ["SLACK_CLIENT_SECRET", "SLACK_REDIRECT_URI", "SLACK_USER_SCOPES"] as const) {
      if (env[key]?.trim()) {
        warning(key, "ignored", `${key} is set but the server runs in single-workspace mode (no OAuth): it is ignored`);
      }
    }
  }
  if (forcedSandbox) {
    // SLACK_SANDBOX=1 (serve --sandbox): the emulator plays Slack; real credentials mean a mistake.
    for (const key of SLACK_CREDENTIALS) {
      if (env[key]?.trim()) {
        problem(
          key,
          "mode-conflict",
          `SLACK_SANDBOX=1 (or --sandbox) runs against the built-in emulator, but ${key} is set: unset ${key} for the sandbox, or unset SLACK_SANDBOX to use real Slack`,
        );
      }
    }
  } else if (sandbox) {
    // No client id and no bot token, yet settings of a production deployment: refuse to fall back to the
    // sandbox (it would verify Slack's requests with the emulator's secret and store into that database).
    for (const [key, why] of productionSettings(env)) {
      problem(
        key,
        "sandbox-refused",
        `${key} ${why}, but neither SLACK_CLIENT_ID nor SLACK_BOT_TOKEN is set: set SLACK_CLIENT_ID (multi-workspace mode) or SLACK_BOT_TOKEN (single-workspace mode), or SLACK_SANDBOX=1 (serve --sandbox) to run the local sandbox on purpose`,
      );
    }
  }
  if (clientId !== undefined) {
    config.clientId = clientId;
    if (!/^\d+\.\d+$/.test(clientId))
      warning(
        "SLACK_CLIENT_ID",
        "client-id-shape",
        `SLACK_CLIENT_ID should look like 1234567890.1234567890, got "${clientId.slice(0, 40)}"`,
      );
    const secret = env.SLACK_CLIENT_SECRET?.trim();
    if (!secret)
      problem("SLACK_CLIENT_SECRET", "secret-missing", "SLACK_CLIENT_SECRET is required when SLACK_CLIENT_ID is set");
    else {
      checkSecretShape("SLACK_CLIENT_SECRET", secret);
      config.clientSecret = secret;
    }
    const signing = env.SLACK_SIGNING_SECRET?.trim();
    if (!signing)
      problem("SLACK_SIGNING_SECRET", "secret-missing", "SLACK_SIGNING_SECRET is required when SLACK_CLIENT_ID is set");
    else {
      checkSecretShape("SLACK_SIGNING_SECRET", signing);
      config.signingSecret = signing;
    }
    if (env.SLACK_REDIRECT_URI) config.redirectUri = env.SLACK_REDIRECT_URI;
  }
  if (appsFile !== undefined) {
    // Several apps from one file: the single-app credentials would be a second, conflicting source.
    for (const key of [...SLACK_CREDENTIALS, "SLACK_REDIRECT_URI"] as const) {
      // (--sandbox already refuses every Slack credential.)
      if (env[key]?.trim() && !(forcedSandbox && key !== "SLACK_REDIRECT_URI"))
        problem(
          key,
          "mode-conflict",
          `${key} and ${APPS_FILE_VARIABLE} are both set: with an apps file every app's credentials and URLs come from the file; unset ${key}`,
        );
    }
    for (const key of ["SLACK_SCOPES", "SLACK_USER_SCOPES"] as const) {
      if (env[key]?.trim())
        warning(key, "ignored", `${key} is set but ${APPS_FILE_VARIABLE} is too: each app's scopes come from the file`);
    }
    const read = readAppsFile(appsFile, env);
    findings.push(...read.findings);
    // The server's own routes come first: an app path on one of them would never be reached.
    const reserved = new Set(["/", "/healthz", "/profile", "/logout", CONSOLE_PATH, METRICS_PATH]);
    for (const app of read.apps)
      for (const [field, path] of Object.entries(app.paths))
        if (reserved.has(path) || path.startsWith(`${CONSOLE_PATH}/`))
          findings.push({
            variable: APPS_FILE_VARIABLE,
            level: "problem",
            code: "app-field",
            message: `app "${app.name}": paths.${field} ${path} is one of the server's own routes`,
          });
    if (read.apps.length > 0 && !findings.some((f) => f.level === "problem" && f.variable === APPS_FILE_VARIABLE))
      config.apps = read.apps;
  }
  const metrics = readMetricsConfig(env, config.port, config.host, problem);
  if (metrics) config.metrics = metrics;
  for (const f of findings) if (f.level === "warning") warnings.push(f.message);
  return { config, findings };
}

/** The flood limits from the environment (each variable a whole number, an empty one means its default). */
function readLimits(
  env: Record<string, string | undefined>,
  problem: (variable: string, code: string, message: string) => void,
): ServerLimits {
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS };
  for (const [variable, field, min] of LIMIT_VARIABLES) {
    const raw = env[variable]?.trim();
    if (!raw) continue;
    const n = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(n >= min)) {
      problem(variable, "limit", `${variable} must be a whole number >= ${min}, got "${raw.slice(0, 20)}"`);
      continue;
    }
    limits[field] = n;
  }
  const trust = env.TRUST_PROXY?.trim().toLowerCase();
  if (trust) {
    if (["1", "true", "yes", "on"].includes(trust)) limits.trustProxy = true;
    else if (!["0", "false", "no", "off"].includes(trust))
      problem("TRUST_PROXY", "limit", `TRUST_PROXY must be true or false, got "${trust.slice(0, 20)}"`);
  }
  return limits;
}

/**
 * Reads and validates the server's environment. Throws {@link ConfigProblems} listing every problem;
 * secret values are never echoed.
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env);
 * for (const w of config.warnings) console.error(`warning: ${w}`);
 * ```
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const { config, findings } = inspectConfig(env);
  const problems = findings.filter((f) => f.level === "problem").map((f) => f.message);
  if (problems.length > 0) throw new ConfigProblems(problems);
  return config;
}
