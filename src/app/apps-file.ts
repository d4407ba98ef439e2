/**
 * Several Slack apps in one reference server: the JSON file named by `SLACK_APPS_FILE`. Read and checked
 * here; every problem names the app and the field, never a secret's value.
 *
 * ```json
 * {
 *   "apps": [
 *     {
 *       "name": "prod",
 *       "default": true,
 *       "clientId": "1111111111.1111111111",
 *       "appId": "A0PROD00001",
 *       "clientSecret": { "env": "PROD_SLACK_CLIENT_SECRET" },
 *       "signingSecret": { "env": "PROD_SLACK_SIGNING_SECRET" },
 *       "scopes": ["commands", "chat:write"],
 *       "userScopes": [],
 *       "redirectUri": "https://slack.example.com/slack/prod/oauth_redirect"
 *     }
 *   ]
 * }
 * ```
 */
import { readFileSync, statSync } from "node:fs";
import type { ConfigFinding } from "./findings.js";

/** The environment variable naming the apps file. */
export const APPS_FILE_VARIABLE = "SLACK_APPS_FILE";

/** The paths one app is served on. */
export interface AppPaths {
  install: string;
  redirect: string;
  events: string;
  login: string;
}

/** One app of the apps file, checked and with its secrets resolved. */
export interface AppConfig {
  /** Short name: `[a-z0-9][a-z0-9_-]{0,31}`, used in paths and messages. */
  name: string;
  clientId: string;
  /** The app id (`A…`): requests are routed by it (`api_app_id`), and installs checked against it. */
  appId: string;
  clientSecret: string;
  signingSecret: string;
  scopes: string[];
  userScopes: string[];
  redirectUri?: string | undefined;
  /**
   * Owns the data written without a client id (the default partition): at most one app. Its store is
   * opened without a client id; every other app's with its own.
   */
  default: boolean;
  /** Default `/slack/<name>/install`, `/slack/<name>/oauth_redirect`, `/slack/<name>/events`, `/slack/<name>/login`. */
  paths: AppPaths;
  /**
   * Sandbox mode only (`serve --sandbox`): the emulator's token settings for this app, as Slack's app
   * settings page would have them (`{ "tokenRotation": true, "tokenExpiresIn": 43200 }`). Ignored otherwise.
   */
  sandbox?: { tokenRotation?: boolean | undefined; tokenExpiresIn?: number | undefined } | undefined;
}

/** Options of {@link readAppsFile}. */
export interface ReadAppsFileOptions {
  /**
   * Check and resolve the secrets (and the file's mode when they are inline). `false` reads the apps'
   * identities only (names, client ids, app ids, the default flag): the secrets of the returned apps are
   * then empty strings. The admin CLI reads the file so.
   *
   * @default true
   */
  secrets?: boolean | undefined;
}

/** What identifies an app of the apps file: no secret. */
export type AppIdentity = Pick<AppConfig, "name" | "clientId" | "appId" | "default">;

/**
 * The apps of the apps file without their secrets (nothing secret is read, resolved or checked), for
 * the admin commands: the same checks of names, ids, paths and duplicates as {@link readAppsFile}.
 *
 * @example
 * ```ts
 * const { apps, findings } = readAppIdentities("/etc/slack/apps.json");
 * ```
 */
export function readAppIdentities(path: string): { apps: AppIdentity[]; findings: ConfigFinding[] } {
  const { apps, findings } = readAppsFile(path, {}, { secrets: false });
  return {
    apps: apps.map((a) => ({ name: a.name, clientId: a.clientId, appId: a.appId, default: a.default })),
    findings,
  };
}

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * An unknown key of the file as a message shows it: a word of letters (a misspelt field) is named, anything
 * else (a value pasted where a key goes may be a secret) is not.
 */
function fieldName(key: string): string {
  return /^[A-Za-z_]{1,40}$/.test(key) ? key : "(a field whose name is not a word)";
}
const CLIENT_ID_RE = /^\d{1,20}\.\d{1,20}$/;
const APP_ID_RE = /^A[A-Z0-9]{1,30}$/;
const SCOPE_RE = /^[A-Za-z0-9_.:-]+$/;
const PATH_RE = /^\/[A-Za-z0-9_.~/-]{0,200}$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const HEX32 = /^[0-9a-f]{32}$/i;
const FIELDS = new Set([
  "name",
  "default",
  "clientId",
  "appId",
  "clientSecret",
  "signingSecret",
  "scopes",
  "userScopes",
  "redirectUri",
  "paths",
  "sandbox",
]);

/**
 * Reads and checks the apps file: the apps (when there is no problem) and every finding. Problems: a
 * file that cannot be read or is not the documented JSON; per app a missing or malformed name, client id,
 * app id, secret, scope, URL or path; a duplicate name, client id, app id or path; inline secrets in a file
 * others can read (it must be mode 0600); two `default` apps. A secret is never shown.
 *
 * @example
 * ```ts
 * const { apps, findings } = readAppsFile("/etc/slack/apps.json", process.env);
 * ```
 */
export function readAppsFile(
  path: string,
  env: Record<string, string | undefined> = process.env,
  options: ReadAppsFileOptions = {},
): { apps: AppConfig[]; findings: ConfigFinding[] } {
  const withSecrets = options.secrets !== false;
  const findings: ConfigFinding[] = [];
  const problem = (code: string, message: string) =>
    findings.push({ variable: APPS_FILE_VARIABLE, level: "problem", code, message });
  const warning = (code: string, message: string) =>
    findings.push({ variable: APPS_FILE_VARIABLE, level: "warning", code, message });
  let text: string;
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
    text = readFileSync(path, "utf8");
  } catch (error) {
    problem(
      "apps-file",
      `${APPS_FILE_VARIABLE}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
    return { apps: [], findings };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    problem("apps-file", `${APPS_FILE_VARIABLE}: ${path} is not valid JSON`);
    return { apps: [], findings };
  }
  const list = (doc as { apps?: unknown } | null)?.apps;
  if (doc === null || typeof doc !== "object" || Array.isArray(doc) || !Array.isArray(list) || list.length === 0) {
    problem("apps-file", `${APPS_FILE_VARIABLE}: ${path} must be an object whose "apps" lists at least one app`);
    return { apps: [], findings };
  }

  const apps: AppConfig[] = [];
  let inlineSecrets = false;
  list.forEach((raw, index) => {
    const o = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
    const label = typeof o.name === "string" && NAME_RE.test(o.name) ? `app "${o.name}"` : `apps[${index}]`;
    const bad = (field: string, what: string) => problem("app-field", `${label}: ${field} ${what}`);
    if (o !== raw) {
      bad("(entry)", "must be an object");
      return;
    }
    for (const k of Object.keys(o)) if (!FIELDS.has(k)) bad(fieldName(k), "is not a known field");
    if (typeof o.name !== "string" || !NAME_RE.test(o.name))
      bad("name", "must be 1-32 lower-case letters, digits, '_' or '-'");
    if (typeof o.clientId !== "string" || !CLIENT_ID_RE.test(o.clientId))
      bad("clientId", "must look like 1234567890.1234567890");
    if (typeof o.appId !== "string" || !APP_ID_RE.test(o.appId)) bad("appId", "must look like A0123456789");
    if (o.default !== undefined && typeof o.default !== "boolean") bad("default", "must be true or false");
    const secret = (field: "clientSecret" | "signingSecret"): string | undefined => {
      // Identities only (the admin CLI): secrets are neither checked nor resolved.
      if (!withSecrets) return "";
      const v = o[field];
      if (v === undefined || v === null || v === "") {
        bad(field, "is missing");
        return undefined;
      }
      if (typeof v === "string") {
        inlineSecrets = true;
        return v;
      }
      const ref = (v as { env?: unknown }).env;
      if (typeof v !== "object" || Array.isArray(v) || Object.keys(v).length !== 1 || typeof ref !== "string") {
        bad(field, 'must be a string or { "env": "VARIABLE" }');
        return undefined;
      }
      if (!ENV_NAME_RE.test(ref)) {
        bad(field, "names an invalid environment variable");
        return undefined;
      }
      const value = env[ref]?.trim();
      if (!value) {
        bad(field, `is missing: the environment variable ${ref} is not set`);
        return undefined;
      }
      return value;
    };
    const clientSecret = secret("clientSecret");
    const signingSecret = secret("signingSecret");
    if (withSecrets && signingSecret !== undefined && !HEX32.test(signingSecret))
      warning(
        "secret-shape",
        `${label}: signingSecret should be 32 hex characters, got a ${signingSecret.length}-character value`,
      );
    const scopes = (field: "scopes" | "userScopes"): string[] => {
      const v = o[field];
      if (v === undefined) return [];
      if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || !SCOPE_RE.test(s))) {
        bad(field, "must be a list of scope names");
        return [];
      }
      return v as string[];
    };
    const scopeList = scopes("scopes");
    const userScopes = scopes("userScopes");
    let redirectUri: string | undefined;
    if (o.redirectUri !== undefined) {
      try {
        const u = new URL(String(o.redirectUri));
        if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error("scheme");
        redirectUri = u.href;
      } catch {
        bad("redirectUri", "must be an http(s) URL");
      }
    }
    const name = typeof o.name === "string" ? o.name : `app${index}`;
    const given =
      o.paths !== null && typeof o.paths === "object" && !Array.isArray(o.paths)
        ? (o.paths as Record<string, unknown>)
        : {};
    if (o.paths !== undefined && given !== o.paths) bad("paths", "must be an object");
    let sandbox: AppConfig["sandbox"];
    if (o.sandbox !== undefined) {
      const sb = o.sandbox as Record<string, unknown> | null;
      if (sb === null || typeof sb !== "object" || Array.isArray(sb)) bad("sandbox", "must be an object");
      else {
        sandbox = {};
        for (const k of Object.keys(sb))
          if (k !== "tokenRotation" && k !== "tokenExpiresIn")
            bad(`sandbox.${fieldName(k)}`, "is not a known setting (tokenRotation, tokenExpiresIn)");
        if (sb.tokenRotation !== undefined) {
          if (typeof sb.tokenRotation !== "boolean") bad("sandbox.tokenRotation", "must be true or false");
          else sandbox.tokenRotation = sb.tokenRotation;
        }
        if (sb.tokenExpiresIn !== undefined) {
          const n = sb.tokenExpiresIn;
          if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 43_200)
            bad("sandbox.tokenExpiresIn", "must be a whole number of seconds, 1-43200");
          else sandbox.tokenExpiresIn = n;
        }
      }
    }
    const paths: AppPaths = {
      install: `/slack/${name}/install`,
      redirect: redirectUri ? new URL(redirectUri).pathname : `/slack/${name}/oauth_redirect`,
      events: `/slack/${name}/events`,
      login: `/slack/${name}/login`,
    };
    for (const k of Object.keys(given)) {
      const v = given[k];
      if (!(k in paths)) bad(`paths.${fieldName(k)}`, "is not a known path (install, redirect, events, login)");
      else if (typeof v !== "string" || !PATH_RE.test(v) || v.includes("//") || v.includes("/../"))
        bad(`paths.${k}`, "must be an absolute path of letters, digits and / _ . ~ -");
      else paths[k as keyof AppPaths] = v;
    }
    if (clientSecret === undefined || signingSecret === undefined) return;
    apps.push({
      name,
      clientId: String(o.clientId),
      appId: String(o.appId),
      clientSecret,
      signingSecret,
      scopes: scopeList,
      userScopes,
      redirectUri,
      default: o.default === true,
      paths,
      ...(sandbox ? { sandbox } : {}),
    });
  });

  // Duplicates: each named by both apps and the field (values are ids and paths, never secrets).
  const seen = new Map<string, string>();
  const routes = new Map<string, string>();
  for (const app of apps) {
    for (const field of ["name", "clientId", "appId"] as const) {
      const key = `${field}\n${app[field]}`;
      const other = seen.get(key);
      if (other !== undefined)
        problem("app-duplicate", `app "${app.name}": ${field} ${app[field]} is also app "${other}"'s`);
      else seen.set(key, app.name);
    }
    for (const [field, p] of Object.entries(app.paths)) {
      // The login routes live under their path (…/login, …/login/callback): a prefix clash is a clash too.
      const other = routes.get(p);
      if (other !== undefined)
        problem("app-duplicate", `app "${app.name}": paths.${field} ${p} is also used by ${other}`);
      else routes.set(p, `app "${app.name}" (paths.${field})`);
    }
  }
  if (apps.filter((a) => a.default).length > 1)
    problem(
      "app-duplicate",
      `${APPS_FILE_VARIABLE}: only one app may be "default": true (it owns the data written without a client id)`,
    );
  if (withSecrets && inlineSecrets && (mode & 0o077) !== 0)
    problem(
      "apps-file-mode",
      `${APPS_FILE_VARIABLE}: ${path} holds secrets inline but is mode ${mode.toString(8).padStart(4, "0")}: chmod 600 it, or use { "env": "VARIABLE" } references`,
    );
  return { apps: findings.some((f) => f.level === "problem") ? [] : apps, findings };
}
