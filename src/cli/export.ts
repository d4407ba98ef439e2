import { accessSync, closeSync, constants, fchmodSync, openSync, statSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { INSTALLATION_FIELDS, type Installation } from "../model/installation.js";
import { redact } from "../redact.js";
import { ENCRYPTED_FIELDS } from "../stores/encryption.js";
import { databaseUrlOf, openAdminStores } from "./admin-store.js";
import { APP_OPTIONS, appUsage, describeApp, type SelectedApp, selectApp } from "./app-option.js";
import { type Command, ExitCode, parseOptions, UsageError } from "./command.js";
import { Progress } from "./rotate.js";

/** The value that replaces each token with `--no-tokens`. */
export const MASKED = "****";

function line(record: Record<string, unknown>, masked: boolean): string {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) continue;
    o[k] = masked && (ENCRYPTED_FIELDS as readonly string[]).includes(k) && typeof v === "string" ? MASKED : v;
  }
  return JSON.stringify(o);
}

function ordered(i: Installation): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of INSTALLATION_FIELDS) if (i[k] !== undefined) o[k] = i[k];
  return o;
}

/** The fields naming the app on each exported line (none without --app: the lines stay as they were). */
function appTag(app: SelectedApp | undefined): Record<string, string> {
  const tag: Record<string, string> = {};
  if (app?.clientId !== undefined) tag.clientId = app.clientId;
  if (app?.name !== undefined) tag.app = app.name;
  return tag;
}

/**
 * `slack-oauth-kit export`: every workspace's latest installation of each user as JSON lines (a backup,
 * tokens included unless `--no-tokens`), plus `{"kind":"bot",…}` for a workspace with a bot and no
 * installation.
 */
export const exportCommand: Command = {
  name: "export",
  summary: "Write every installation as JSON lines (a backup: tokens included unless --no-tokens).",
  usage: [
    "slack-oauth-kit export [--database-url URL] [--app NAME|ID] [--out FILE|-] [--no-tokens]",
    "",
    "  --database-url URL  sqlite:PATH, file:DIR, postgres://…, mysql://… (default: env DATABASE_URL,",
    "                      else sqlite:./data/slack-oauth-kit.db)",
    ...appUsage(),
    "  --client-id ID      the store partition named ID as it is (kept for scripts written before --app)",
    "  --out FILE          write to FILE (created with mode 0600); `-` or absent: stdout",
    "  --no-tokens         replace every token and refresh token with ****",
    "",
    "Each line is one Installation (flat camelCase, epoch seconds), the latest of each user of each",
    'workspace; a workspace with a bot and no installation is a line {"kind":"bot", ...Bot}.',
    'With --app, each line also names its app: "clientId" (and "app", its name in the',
    "apps file), so that `import --from jsonl` puts it back into that app's partition.",
    "With SLACK_TOKEN_ENCRYPTION_KEY set, tokens are exported decrypted. Progress goes to stderr.",
    "Exit codes: 0 done, 1 store unreachable or write failed, 2 bad usage.",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      "database-url": { type: "string" },
      out: { type: "string" },
      "no-tokens": { type: "boolean" },
      "client-id": { type: "string" },
      ...APP_OPTIONS,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${redact(positionals[0] ?? "")}"`);
    const masked = values["no-tokens"] === true;
    const out = values.out ?? "-";
    if (out === "") throw new UsageError("--out needs a file name, or - for stdout");
    const app = selectApp(values, process.env, (t) => process.stderr.write(t));
    const clientId = app?.partition;
    // Only --app tags the lines: --client-id keeps its output as it was.
    const tag = appTag(values.app !== undefined ? app : undefined);
    // The output's folder is checked before the store is read or any progress printed.
    if (out !== "-") {
      const dir = dirname(resolve(out));
      let problem: string | undefined;
      try {
        if (!statSync(dir).isDirectory()) problem = `${dir} is not a folder`;
        else accessSync(dir, constants.W_OK);
      } catch (error) {
        problem =
          (error as { code?: unknown }).code === "ENOENT"
            ? `the folder ${dir} does not exist`
            : `${dir} is not writable`;
      }
      if (problem !== undefined) {
        process.stderr.write(`export: cannot write ${resolve(out)}: ${problem}. Nothing was read.\n`);
        return ExitCode.Failure;
      }
    }
    const stores = await openAdminStores(databaseUrlOf(values["database-url"], process.env), { clientId });
    try {
      const store = stores.installationStore;
      const workspaces = await store.listWorkspaces();
      const lines: string[] = [];
      const progress = new Progress(process.stderr, "export");
      progress.update(0, workspaces.length, undefined);
      let n = 0;
      for (const w of workspaces) {
        const installations = [...w.installations].sort((a, b) => a.installedAt - b.installedAt);
        for (const i of installations) lines.push(line({ ...tag, ...ordered(i) }, masked));
        if (installations.length === 0 && w.bot !== undefined)
          lines.push(line({ kind: "bot", ...tag, ...w.bot }, masked));
        n++;
        progress.update(n, workspaces.length, undefined);
      }
      const of = app === undefined ? "" : ` of ${describeApp(app)}`;
      const text = lines.length > 0 ? `${lines.join("\n")}\n` : "";
      if (out === "-") {
        process.stdout.write(text);
      } else {
        try {
          const fd = openSync(out, "w", 0o600);
          try {
            fchmodSync(fd, 0o600);
            writeSync(fd, text);
          } finally {
            closeSync(fd);
          }
        } catch (error) {
          process.stderr.write(
            `export: cannot write ${resolve(out)}: ${redact(error instanceof Error ? error.message : String(error))}\n`,
          );
          return ExitCode.Failure;
        }
      }
      process.stderr.write(
        masked
          ? `Exported ${lines.length} records from ${workspaces.length} workspaces${of} (tokens masked).\n`
          : `Exported ${lines.length} records from ${workspaces.length} workspaces${of}. WARNING: this backup holds live tokens: keep it private and delete it when done.\n`,
      );
      return ExitCode.Ok;
    } finally {
      await stores.close();
    }
  },
};
