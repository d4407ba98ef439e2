/**
 * `--app <name or client id>` of the admin commands: which app's installations a command works on. A name
 * is looked up in the apps file (`--apps-file FILE`, else `SLACK_APPS_FILE`), a client id is taken as it is
 * (and looked up there too when there is a file). The store partition is the app's client id, except for the
 * app marked `"default": true`, which owns the default partition (the data written without a client id).
 */
import {
  APPS_FILE_VARIABLE,
  type AppConfig,
  type AppIdentity,
  readAppIdentities,
  readAppsFile,
} from "../app/apps-file.js";
import { isClientId } from "../import/common.js";
import { redact } from "../redact.js";
import { clientIdOption } from "./admin-store.js";
import { UsageError } from "./command.js";

/** The `parseArgs` options every admin command takes for the app. */
export const APP_OPTIONS = {
  app: { type: "string" },
  "apps-file": { type: "string" },
} as const;

/** The usage lines of {@link APP_OPTIONS}, their text starting at `column` (as the command's other lines). */
export function appUsage(column = 22): string[] {
  return APP_USAGE.map((l) => `${l.slice(0, 22).trimEnd().padEnd(column)}${l.slice(22)}`);
}

const APP_USAGE = [
  "  --app NAME|ID       the app whose installations to use: a name of the apps file, or a client id",
  "                      (the app marked default owns the default partition; every other app the",
  "                      partition named by its client id). Default: the default partition",
  "  --apps-file FILE    the apps file that names the apps (default: env SLACK_APPS_FILE)",
];

/** The app a command works on, as the CLI shows it. Nothing secret. */
export interface SelectedApp {
  /** The store partition (the stores' `clientId` option); `undefined`: the default partition. */
  partition: string | undefined;
  /** The app's name in the apps file, when known. */
  name: string | undefined;
  /** The app's client id, when known (the default app's too, though its partition has none). */
  clientId: string | undefined;
  /** The app owns the default partition. */
  defaultPartition: boolean;
}

/** How an app appears in `--json` output: `{ name, clientId, defaultPartition }` (`null` when unknown). */
export interface AppJson {
  name: string | null;
  clientId: string | null;
  defaultPartition: boolean;
}

/** {@link SelectedApp} for JSON output. */
export function appJson(app: SelectedApp): AppJson {
  return { name: app.name ?? null, clientId: app.clientId ?? null, defaultPartition: app.defaultPartition };
}

/** `app "prod" (client id 111.222, default partition)`, `client id 111.222`: for tables and messages. */
export function describeApp(app: SelectedApp): string {
  const partition = app.defaultPartition ? "default partition" : undefined;
  if (app.name !== undefined)
    return `app "${app.name}" (${[app.clientId !== undefined ? `client id ${app.clientId}` : undefined, partition].filter(Boolean).join(", ")})`;
  if (app.clientId !== undefined) return `client id ${app.clientId}${partition ? ` (${partition})` : ""}`;
  return "the default partition";
}

/** The apps file path of a command: the flag, else `SLACK_APPS_FILE`; `undefined` when neither. */
export function appsFileOf(flag: string | undefined, env: Record<string, string | undefined>): string | undefined {
  if (flag !== undefined) {
    if (flag.trim() === "") throw new UsageError("--apps-file needs a file name");
    return flag;
  }
  const v = env[APPS_FILE_VARIABLE]?.trim();
  return v ? v : undefined;
}

/** Problems of the apps file as one usage error (exit 2); its messages name apps and fields, never a secret. */
function fileProblems(path: string, findings: ReadonlyArray<{ level: string; message: string }>): UsageError {
  const problems = findings.filter((f) => f.level === "problem").map((f) => `  ${redact(f.message)}`);
  return new UsageError(`the apps file ${redact(path)} has problems:\n${problems.join("\n")}`);
}

/** The apps of the apps file, identities only (no secret read); a file with a problem is a usage error. */
export function appIdentities(path: string): AppIdentity[] {
  const { apps, findings } = readAppIdentities(path);
  if (findings.some((f) => f.level === "problem")) throw fileProblems(path, findings);
  return apps;
}

/** The apps of the apps file with their secrets resolved (for `rotate`); a problem is a usage error. */
export function appConfigs(path: string, env: Record<string, string | undefined>): AppConfig[] {
  const { apps, findings } = readAppsFile(path, env);
  if (findings.some((f) => f.level === "problem")) throw fileProblems(path, findings);
  return apps;
}

/** The app that owns a client id's records: the apps file's app of that id, else the partition of that id. */
export function appOfClientId(clientId: string | undefined, apps: readonly AppIdentity[] | undefined): SelectedApp {
  if (clientId === undefined) {
    const def = apps?.find((a) => a.default);
    return { partition: undefined, name: def?.name, clientId: def?.clientId, defaultPartition: true };
  }
  const app = apps?.find((a) => a.clientId === clientId);
  if (app === undefined) return { partition: clientId, name: undefined, clientId, defaultPartition: false };
  return fromIdentity(app);
}

function fromIdentity(app: AppIdentity): SelectedApp {
  return {
    partition: app.default ? undefined : app.clientId,
    name: app.name,
    clientId: app.clientId,
    defaultPartition: app.default,
  };
}

/**
 * Resolves `--app` (and the older `--client-id`, a raw partition) of an admin command. `undefined` when
 * neither is given: the default partition, as a single-app deployment has it. Usage errors (exit 2): both
 * given, a malformed client id, a name without an apps file, a name the file lacks (its app names are
 * listed: names are not secret), an apps file with a problem.
 *
 * @param note - where a remark goes (a client id the apps file does not name)
 */
export function selectApp(
  values: { app?: string | undefined; "apps-file"?: string | undefined; "client-id"?: string | undefined },
  env: Record<string, string | undefined>,
  note: (text: string) => void = () => {},
): SelectedApp | undefined {
  const raw = values["client-id"];
  const wanted = values.app;
  if (raw !== undefined && wanted !== undefined) throw new UsageError("give --app or --client-id, not both");
  if (raw !== undefined) {
    const clientId = clientIdOption(raw);
    return { partition: clientId, name: undefined, clientId, defaultPartition: false };
  }
  const file = appsFileOf(values["apps-file"], env);
  if (wanted === undefined) return undefined;
  const shown = redact(wanted.slice(0, 40));
  if (wanted.trim() === "") throw new UsageError("--app needs an app name or a client id");
  // Names never hold a dot; Slack client ids always do.
  if (wanted.includes(".")) {
    if (!isClientId(wanted))
      throw new UsageError(`--app ${shown}: not a client id (letters, digits, '.', '-', '_') nor an app name`);
    if (file === undefined) return { partition: wanted, name: undefined, clientId: wanted, defaultPartition: false };
    const apps = appIdentities(file);
    const app = apps.find((a) => a.clientId === wanted);
    if (app !== undefined) return fromIdentity(app);
    note(`note: client id ${wanted} is not an app of ${file}: using its partition as it is\n`);
    return { partition: wanted, name: undefined, clientId: wanted, defaultPartition: false };
  }
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(wanted))
    throw new UsageError(`--app ${shown}: an app name is 1-32 lower-case letters, digits, '_' or '-'`);
  if (file === undefined)
    throw new UsageError(
      `--app ${shown}: an app name needs the apps file (--apps-file FILE or ${APPS_FILE_VARIABLE}); or give the app's client id`,
    );
  const apps = appIdentities(file);
  const app = apps.find((a) => a.name === wanted);
  if (app === undefined)
    throw new UsageError(
      `--app ${shown}: no such app in ${redact(file)} (its apps: ${apps.map((a) => a.name).join(", ")})`,
    );
  return fromIdentity(app);
}

/**
 * The scopes an app of the apps file asks for (`scopes`, `userScopes`), for `--app` with the commands that
 * compare installations with them; `undefined` without `--app`, without an apps file, for a raw client id
 * the file does not list, or for an app that names no scopes (the caller then falls back to `SLACK_SCOPES`).
 */
export function selectedAppScopes(
  app: SelectedApp | undefined,
  appsFileFlag: string | undefined,
  env: Record<string, string | undefined>,
): { bot: string[]; user: string[] } | undefined {
  if (app === undefined || (app.name === undefined && app.clientId === undefined)) return undefined;
  const file = appsFileOf(appsFileFlag, env);
  if (file === undefined) return undefined;
  const found = appConfigsWithoutSecrets(file).find((a) =>
    app.name !== undefined ? a.name === app.name : a.clientId === app.clientId,
  );
  if (found === undefined || (found.scopes.length === 0 && found.userScopes.length === 0)) return undefined;
  return { bot: [...found.scopes], user: [...found.userScopes] };
}

function appConfigsWithoutSecrets(path: string): AppConfig[] {
  const { apps, findings } = readAppsFile(path, {}, { secrets: false });
  if (findings.some((f) => f.level === "problem")) throw fileProblems(path, findings);
  return apps;
}
