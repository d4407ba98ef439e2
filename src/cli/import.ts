import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { importRecords, type ReadResult } from "../import/common.js";
import { readJsonl } from "../import/jsonl.js";
import { readSlackOauthFile } from "../import/slack-oauth-file.js";
import { readSlackSdkFile, readSlackSdkSqlite } from "../import/slack-sdk.js";
import { redact } from "../redact.js";
import { databaseUrlOf, locateDatabase } from "./admin-store.js";
import { type Command, ExitCode, parseOptions, UsageError } from "./command.js";
import { Progress } from "./rotate.js";

const FORMATS = ["jsonl", "slack-sdk-file", "slack-sdk-sqlite", "slack-oauth-file"] as const;
type Format = (typeof FORMATS)[number];

async function read(format: Format, path: string): Promise<ReadResult> {
  switch (format) {
    case "jsonl":
      return readJsonl(path);
    case "slack-sdk-file":
      return readSlackSdkFile(path);
    case "slack-sdk-sqlite":
      return readSlackSdkSqlite(path);
    case "slack-oauth-file":
      return readSlackOauthFile(path);
  }
}

/**
 * `slack-oauth-kit import`: copies installations from our own export or another library's store into
 * this store. Idempotent: an installation identical to the stored one is counted "unchanged", not written.
 */
export const importCommand: Command = {
  name: "import",
  summary: "Import installations from an export or a slack_sdk / @slack/oauth store (re-runs change nothing).",
  usage: [
    "slack-oauth-kit import --from FORMAT PATH [--database-url URL]",
    "",
    "  --from FORMAT       jsonl              `slack-oauth-kit export` output (PATH - reads stdin)",
    "                      slack-sdk-file     Python slack_sdk FileInstallationStore base_dir",
    "                      slack-sdk-sqlite   Python slack_sdk SQLite3InstallationStore database file",
    "                      slack-oauth-file   @slack/oauth FileInstallationStore baseDir",
    "  --database-url URL  the store to import into (default: env DATABASE_URL, else",
    "                      sqlite:./data/slack-oauth-kit.db; created and migrated if missing)",
    "",
    "The latest installation of each user is imported, oldest first. Records with a malformed id are",
    "skipped with a warning; records identical to the stored ones are left alone (a re-run reports them",
    "unchanged). With SLACK_TOKEN_ENCRYPTION_KEY set, tokens are stored encrypted.",
    "Exit codes: 0 done (even with skipped records), 1 source unreadable or store unreachable, 2 bad usage.",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      from: { type: "string" },
      "database-url": { type: "string" },
    });
    const format = values.from;
    if (format === undefined) throw new UsageError(`--from is required: ${FORMATS.join(", ")}`);
    if (!(FORMATS as readonly string[]).includes(format))
      throw new UsageError(`--from must be one of ${FORMATS.join(", ")}, got "${redact(format)}"`);
    if (positionals.length !== 1) throw new UsageError("give exactly one PATH to import from");
    const path = positionals[0] ?? "";
    if (path !== "-" && !existsSync(path)) {
      process.stderr.write(`No such file or directory: ${redact(resolve(path))}\n`);
      return ExitCode.Failure;
    }
    const databaseUrl = databaseUrlOf(values["database-url"], process.env);
    if (locateDatabase(databaseUrl).kind === "memory")
      throw new UsageError("--database-url memory: would be lost when the command exits");
    const { records, skipped } = await read(format as Format, path);
    for (const s of skipped) process.stderr.write(`warning: ${redact(s)}\n`);

    const [{ applyStoreOptions, openStores }] = await Promise.all([import("../app/stores.js")]);
    const stores = await applyStoreOptions(await openStores(databaseUrl), {
      tokenEncryptionKey: process.env.SLACK_TOKEN_ENCRYPTION_KEY || undefined,
    });
    try {
      const progress = new Progress(process.stderr, "import");
      const summary = await importRecords(stores.installationStore, records, {
        warn: (t) => process.stderr.write(`warning: ${redact(t)}\n`),
        onProgress: (d, t) => progress.update(d, t, undefined),
      });
      process.stdout.write(
        `Imported ${summary.imported}, unchanged ${summary.unchanged}, skipped ${summary.skipped + skipped.length} (from ${format}).\n`,
      );
      return ExitCode.Ok;
    } finally {
      await stores.close();
    }
  },
};
