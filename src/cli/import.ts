import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { type ImportRecord, type ImportSummary, importRecords, type ReadResult, settleBots } from "../import/common.js";
import { readJsonl } from "../import/jsonl.js";
import { readSlackOauthFile } from "../import/slack-oauth-file.js";
import { readSlackSdkFile, readSlackSdkSqlite } from "../import/slack-sdk.js";
import { redact } from "../redact.js";
import { databaseUrlOf, locateDatabase } from "./admin-store.js";
import {
  APP_OPTIONS,
  appIdentities,
  appOfClientId,
  appsFileOf,
  appUsage,
  describeApp,
  type SelectedApp,
  selectApp,
} from "./app-option.js";
import { type Command, ExitCode, parseOptions, UsageError } from "./command.js";
import { Progress } from "./rotate.js";

const FORMATS = ["jsonl", "slack-sdk-file", "slack-sdk-sqlite", "slack-oauth-file"] as const;
type Format = (typeof FORMATS)[number];

/** What each format expects to find, for the "nothing recognised" error. */
const EXPECTED: Record<Format, string> = {
  jsonl: "no JSON lines",
  "slack-sdk-file": "no slack_sdk FileInstallationStore folders (<E…|none>-<T…|none>/, optionally under <client_id>/)",
  "slack-sdk-sqlite": "no slack_sdk SQLite3InstallationStore rows (tables slack_installations / slack_bots)",
  "slack-oauth-file":
    "no @slack/oauth FileInstallationStore folders (<baseDir><T…>, <baseDir>/<E…>[-<T…>], with or without a client id)",
};

async function read(format: Format, path: string, clientId: string | undefined): Promise<ReadResult> {
  switch (format) {
    case "jsonl":
      return readJsonl(path);
    case "slack-sdk-file":
      return readSlackSdkFile(path);
    case "slack-sdk-sqlite":
      return readSlackSdkSqlite(path);
    case "slack-oauth-file":
      return readSlackOauthFile(path, { clientId });
  }
}

/**
 * `slack-oauth-kit import`: copies installations from our own export or another library's store into
 * this store. Idempotent: an installation identical to the stored one is counted "unchanged", not written.
 * Each app (client id) of the source goes into its own partition of the store.
 */
export const importCommand: Command = {
  name: "import",
  summary: "Import installations from an export or a slack_sdk / @slack/oauth store (re-runs change nothing).",
  usage: [
    "slack-oauth-kit import --from FORMAT PATH [--app NAME|ID] [--database-url URL]",
    "",
    "  --from FORMAT       jsonl              `slack-oauth-kit export` output (PATH - reads stdin)",
    "                      slack-sdk-file     Python slack_sdk FileInstallationStore base_dir",
    "                      slack-sdk-sqlite   Python slack_sdk SQLite3InstallationStore database file",
    "                      slack-oauth-file   @slack/oauth FileInstallationStore baseDir, as the app set it:",
    "                                         workspace installs live BESIDE it (<baseDir>T…) unless it",
    "                                         ends in /; both places are read",
    ...appUsage(),
    "                      With --app, the source's installations of that app's client id, and those",
    "                      filed under no client id, go into the app's partition; other apps' are left",
    "                      out (with a note). For slack-oauth-file, the app's client id is the clientId",
    "                      option the app used (else digits.digits client ids are found)",
    "  --client-id ID      import only the installations filed under client id ID, into the partition",
    "                      named ID as it is (kept for scripts written before --app)",
    "  --database-url URL  the store to import into (default: env DATABASE_URL, else",
    "                      sqlite:./data/slack-oauth-kit.db; created and migrated if missing)",
    "",
    "The latest installation of each user and the latest bot of each workspace are imported, oldest",
    "first. History is not imported: a store's older installations (slack_sdk's installer-<time> files",
    "and earlier rows, @slack/oauth's app-<time> / user-<id>-<time> files) stay behind.",
    "Several apps in one source (slack_sdk client_id folders or rows, @slack/oauth clientId folders, the",
    "lines of exports made with --app) go into one partition each: the app's of the apps file (the default",
    "app's is the default partition), else the partition named by the client id (`installations list",
    "--app ID` shows one); installations without a client id go into the default partition. A line per",
    "app is printed.",
    "Scopes stored as one comma-separated string are split into scopes (with a warning naming the rows).",
    "Every record not imported is reported with its reason (malformed id, unreadable file, newer one",
    "already stored, …); records identical to the stored ones are left alone (a re-run reports them",
    "unchanged). With SLACK_TOKEN_ENCRYPTION_KEY set, tokens are stored encrypted.",
    "Exit codes: 0 everything imported or unchanged; 1 some record skipped, or the source is unreadable,",
    "holds nothing recognised, or the store is unreachable; 2 bad usage.",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      from: { type: "string" },
      "client-id": { type: "string" },
      "database-url": { type: "string" },
      ...APP_OPTIONS,
    });
    const format = values.from;
    if (format === undefined) throw new UsageError(`--from is required: ${FORMATS.join(", ")}`);
    if (!(FORMATS as readonly string[]).includes(format))
      throw new UsageError(`--from must be one of ${FORMATS.join(", ")}, got "${redact(format)}"`);
    if (positionals.length !== 1) throw new UsageError("give exactly one PATH to import from");
    const target = selectApp(values, process.env, (t) => process.stderr.write(t));
    // Without --app, the apps file (when there is one) says which app owns each client id.
    const file = appsFileOf(values["apps-file"], process.env);
    const apps = target === undefined && file !== undefined ? appIdentities(file) : undefined;
    /** `--app`: its client id's records and those of no client id; `--client-id`: that id's only. */
    const clientId = target?.clientId;
    const takesUnlabelled = values.app !== undefined;
    const path = positionals[0] ?? "";
    // @slack/oauth's baseDir itself may not exist: its workspace installs live beside it.
    if (path !== "-" && format !== "slack-oauth-file" && !existsSync(path)) {
      process.stderr.write(`No such file or directory: ${redact(resolve(path))}\n`);
      return ExitCode.Failure;
    }
    const databaseUrl = databaseUrlOf(values["database-url"], process.env);
    if (locateDatabase(databaseUrl).kind === "memory")
      throw new UsageError("--database-url memory: would be lost when the command exits");
    let result: ReadResult;
    try {
      result = await read(format as Format, path, clientId);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      process.stderr.write(`Cannot read ${redact(resolve(path))}: ${redact(why)}\n`);
      return ExitCode.Failure;
    }
    const { skipped, warnings } = result;
    let records = result.records;
    if (records.length === 0 && skipped.length === 0) {
      const where = path === "-" ? "stdin" : resolve(path);
      const what = existsSync(path) || path === "-" ? `holds ${EXPECTED[format as Format]}` : "does not exist, and";
      const beside =
        existsSync(path) || path === "-" ? "" : ` no @slack/oauth workspace folder (${basename(where)}T…) is beside it`;
      process.stderr.write(`Nothing to import: ${redact(where)} ${what}${beside}.\n`);
      return ExitCode.Failure;
    }
    if (clientId !== undefined) {
      const mine = (r: ImportRecord) => r.clientId === clientId || (takesUnlabelled && r.clientId === undefined);
      const others = new Map<string, number>();
      for (const r of records) {
        if (mine(r)) continue;
        const k = r.clientId ?? "(none)";
        others.set(k, (others.get(k) ?? 0) + 1);
      }
      records = records.filter(mine);
      if (records.length === 0 && skipped.length === 0) {
        const found = [...others.keys()].join(", ") || "none";
        process.stderr.write(
          `Nothing to import: ${redact(resolve(path))} holds no installation of client id ${clientId} (client ids found: ${redact(found)}).\n`,
        );
        return ExitCode.Failure;
      }
      for (const [c, n] of others)
        process.stderr.write(
          `note: left out ${n} record${n === 1 ? "" : "s"} of client id ${redact(c)} (${values.app !== undefined ? `--app ${redact(values.app)}` : `--client-id ${clientId}`})\n`,
        );
    }
    for (const w of warnings) process.stderr.write(`warning: ${redact(w)}\n`);
    for (const s of skipped) process.stderr.write(`warning: ${redact(s)}\n`);

    // One group per partition (the default partition first); each record's clientId becomes its partition.
    const owners = new Map<string | undefined, SelectedApp>();
    const ownerOf = (r: ImportRecord): SelectedApp => {
      if (target !== undefined) return target;
      let owner = owners.get(r.clientId);
      if (owner === undefined) {
        owner = appOfClientId(r.clientId, apps);
        owners.set(r.clientId, owner);
      }
      return owner;
    };
    const groups = new Map<string | undefined, { app: SelectedApp; list: ImportRecord[] }>();
    const byPartition = records
      .map((r) => ({ r, app: ownerOf(r) }))
      .sort((a, b) => (a.app.partition ?? "").localeCompare(b.app.partition ?? ""));
    for (const { r, app } of byPartition) {
      const group = groups.get(app.partition) ?? { app, list: [] };
      group.list.push({ ...r, clientId: app.partition });
      groups.set(app.partition, group);
    }
    const { applyStoreOptions, openStores } = await import("../app/stores.js");
    const total: ImportSummary = { imported: 0, unchanged: 0, skipped: skipped.length };
    const perPartition =
      groups.size > 1 || [...groups.values()].some((g) => g.app.partition !== undefined || g.app.name !== undefined);
    const progress = new Progress(process.stderr, "import");
    const steps = [...groups.values()].reduce((n, g) => n + settleBots(g.list).length, 0);
    let done = 0;
    for (const [partition, { app, list }] of groups) {
      const stores = await applyStoreOptions(await openStores(databaseUrl, { clientId: partition }), {
        tokenEncryptionKey: process.env.SLACK_TOKEN_ENCRYPTION_KEY || undefined,
      });
      try {
        const summary = await importRecords(stores.installationStore, list, {
          warn: (t) => process.stderr.write(`warning: ${redact(t)}\n`),
          onProgress: (d, t) => {
            progress.update(done + d, steps, undefined);
            if (d === t) done += t;
          },
        });
        total.imported += summary.imported;
        total.unchanged += summary.unchanged;
        total.skipped += summary.skipped;
        if (perPartition)
          process.stdout.write(
            `${describeApp(app)}: imported ${summary.imported}, unchanged ${summary.unchanged}, skipped ${summary.skipped}\n`,
          );
      } finally {
        await stores.close();
      }
    }
    process.stdout.write(
      `Imported ${total.imported}, unchanged ${total.unchanged}, skipped ${total.skipped} (from ${format}).\n`,
    );
    const partitions = [...groups.values()].filter((g) => g.app.partition !== undefined && g.app.name === undefined);
    const first = partitions[0]?.app.partition;
    if (first !== undefined && target?.name === undefined)
      process.stderr.write(
        `note: installations with a client id no apps file names are in that client id's partition: \`installations list --app ${first}\` shows them; an app reads them through its store's clientId option (or as an app of SLACK_APPS_FILE).\n`,
      );
    if (total.skipped > 0) {
      process.stderr.write(
        `${total.skipped} record${total.skipped === 1 ? " was" : "s were"} not imported (reasons above).\n`,
      );
      return ExitCode.Failure;
    }
    return ExitCode.Ok;
  },
};
