import { tokenLabel } from "../redact.js";

/** Configuration of the reference server, read from the environment (architecture.md contract). */
export interface ServerConfig {
  /** Sandbox mode: no `SLACK_CLIENT_ID`, the built-in emulator plays Slack. */
  sandbox: boolean;
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
  tokenEncryptionKey?: string;
  port: number;
  host: string;
  /** Public base URL of this server (default `http://localhost:PORT`). */
  publicUrl?: string;
  /** Things that look wrong but do not stop the start (printed at start, secrets masked). */
  warnings: string[];
}

/** A configuration problem: the server prints every one of them and exits with code 2. */
export class ConfigProblems extends Error {
  constructor(readonly problems: string[]) {
    super(`Configuration problems:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigProblems";
  }
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

/** Shows a secret's shape without its value, for configuration messages. */
function shape(value: string): string {
  return `a ${value.length}-character value${/^(xox|xapp|xwfp)/.test(value) ? ` that looks like a Slack token ${tokenLabel(value)}` : ""}`;
}

/**
 * Reads and validates the server's environment. Throws {@link ConfigProblems} listing every problem;
 * secret values are never echoed.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const problems: string[] = [];
  const clientId = env.SLACK_CLIENT_ID?.trim() || undefined;
  const sandbox = clientId === undefined;
  // An empty PORT means unset (a blank line in an .env file), not port 0.
  const portRaw = env.PORT?.trim() || "3000";
  const port = /^\d{1,5}$/.test(portRaw) ? Number(portRaw) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(`PORT must be an integer 0-65535 (0 = any free port), got "${portRaw.slice(0, 20)}"`);
  }
  const scopes = list(env.SLACK_SCOPES, ["commands", "chat:write"]);
  const userScopes = list(env.SLACK_USER_SCOPES, []);
  for (const s of [...scopes, ...userScopes]) {
    if (!SCOPE_RE.test(s)) problems.push(`SLACK_SCOPES / SLACK_USER_SCOPES: "${s.slice(0, 40)}" is not a Slack scope`);
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
  };
  if (env.REDIS_URL) config.redisUrl = env.REDIS_URL;
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
      if (u.protocol !== "https:" && u.protocol !== "http:") problems.push(`${key} must be an http(s) URL`);
    } catch {
      problems.push(`${key} is not a valid URL`);
    }
  }
  if (sandbox && (env.SLACK_CLIENT_SECRET?.trim() || env.SLACK_SIGNING_SECRET?.trim())) {
    warnings.push(
      "SLACK_CLIENT_SECRET / SLACK_SIGNING_SECRET are set but SLACK_CLIENT_ID is not: running in sandbox mode, they are ignored",
    );
  }
  if (!sandbox) {
    config.clientId = clientId;
    if (!/^\d+\.\d+$/.test(clientId))
      warnings.push(`SLACK_CLIENT_ID should look like 1234567890.1234567890, got "${clientId.slice(0, 40)}"`);
    const secret = env.SLACK_CLIENT_SECRET?.trim();
    if (!secret) problems.push("SLACK_CLIENT_SECRET is required when SLACK_CLIENT_ID is set");
    else {
      if (!HEX32.test(secret)) warnings.push(`SLACK_CLIENT_SECRET should be 32 hex characters, got ${shape(secret)}`);
      config.clientSecret = secret;
    }
    const signing = env.SLACK_SIGNING_SECRET?.trim();
    if (!signing) problems.push("SLACK_SIGNING_SECRET is required when SLACK_CLIENT_ID is set");
    else {
      if (!HEX32.test(signing))
        warnings.push(`SLACK_SIGNING_SECRET should be 32 hex characters, got ${shape(signing)}`);
      config.signingSecret = signing;
    }
    if (env.SLACK_REDIRECT_URI) config.redirectUri = env.SLACK_REDIRECT_URI;
  }
  if (problems.length > 0) throw new ConfigProblems(problems);
  return config;
}
