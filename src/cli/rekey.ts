import { ConfigError, EncryptionError } from "../errors.js";
import { redact } from "../redact.js";
import { ENCRYPTED_FIELDS, EncryptedInstallationStore, type RekeyProgress } from "../stores/encryption.js";
import { databaseUrlOf, openAdminStores } from "./admin-store.js";
import { APP_OPTIONS, appUsage, describeApp, selectApp } from "./app-option.js";
import { type Command, ExitCode, parseOptions, UsageError } from "./command.js";

/** Progress of `rekey` on stderr: a bar on a terminal, plain lines otherwise. */
function progressLine(p: RekeyProgress, total: number): string {
  return `rekey: ${p.workspaces}/${total} workspaces (${p.updated} re-encrypted, ${p.skipped} already current${p.conflicts ? `, ${p.conflicts} conflicts` : ""})`;
}

/**
 * `slack-oauth-kit rekey`: re-encrypts every stored token with the first key of
 * `SLACK_TOKEN_ENCRYPTION_KEY` (plaintext tokens included). Checks that every token decrypts first, so a
 * wrong or missing key changes nothing.
 */
export const rekeyCommand: Command = {
  name: "rekey",
  summary: "Re-encrypt every stored token with the newest key of SLACK_TOKEN_ENCRYPTION_KEY (resumable).",
  usage: [
    "slack-oauth-kit rekey [--database-url URL] [--app NAME|ID]",
    "",
    "  --database-url URL  the store (default: env DATABASE_URL, else sqlite:./data/slack-oauth-kit.db)",
    ...appUsage(),
    "                      Each app's partition is re-keyed on its own: run rekey once per app",
    "",
    "The keys come from the environment only: SLACK_TOKEN_ENCRYPTION_KEY=newId:base64[,oldId:base64…]",
    "(the first encrypts; the others only decrypt). Every token is checked first: if one does not",
    "decrypt, nothing is changed. Safe to interrupt and run again (done records are skipped).",
    "Exit codes: 0 done, 1 a token does not decrypt (its key id is named), conflicts, or store",
    "unreachable; 2 bad usage (no key set).",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseOptions(argv, { "database-url": { type: "string" }, ...APP_OPTIONS });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${redact(positionals[0] ?? "")}"`);
    if (!process.env.SLACK_TOKEN_ENCRYPTION_KEY)
      throw new UsageError("set SLACK_TOKEN_ENCRYPTION_KEY in the environment (never as a flag)");
    const app = selectApp(values, process.env, (t) => process.stderr.write(t));
    const { rekey } = await import("../stores/encryption.js");
    let stores: Awaited<ReturnType<typeof openAdminStores>>;
    try {
      stores = await openAdminStores(databaseUrlOf(values["database-url"], process.env), {
        clientId: app?.partition,
      });
    } catch (error) {
      // The store's encryption marker names a key id the keys lack, or a different key under that id.
      if (!(error instanceof EncryptionError)) throw error;
      process.stderr.write(`${redact(error.message)}. Nothing was changed.\n`);
      return ExitCode.Failure;
    }
    try {
      const store = stores.installationStore;
      if (!(store instanceof EncryptedInstallationStore))
        throw new ConfigError("this store cannot be re-keyed (it is not encrypted: set SLACK_TOKEN_ENCRYPTION_KEY)");
      // Pre-flight: every token must decrypt with the configured keys before anything is written.
      const workspaces = await store.inner.listWorkspaces();
      let bad: { keyId: string | undefined; count: number } | undefined;
      for (const w of workspaces) {
        const records = [...(w.bot ? [w.bot] : []), ...w.installations];
        for (const r of records) {
          for (const f of ENCRYPTED_FIELDS) {
            const v = (r as unknown as Record<string, unknown>)[f];
            if (typeof v !== "string") continue;
            try {
              store.cipher.decrypt(v, r, f);
            } catch (error) {
              if (!(error instanceof EncryptionError)) throw error;
              bad = { keyId: error.keyId ?? bad?.keyId, count: (bad?.count ?? 0) + 1 };
            }
          }
        }
      }
      if (bad !== undefined) {
        process.stderr.write(
          `${bad.count} token(s) do not decrypt with key ${JSON.stringify(bad.keyId ?? "?")} as configured (wrong key, or the key is missing from SLACK_TOKEN_ENCRYPTION_KEY). Nothing was changed.\n`,
        );
        return ExitCode.Failure;
      }
      const total = workspaces.length;
      const tty = process.stderr.isTTY === true;
      let lastLine = -1;
      const step = Math.max(1, Math.ceil(total / 10));
      const counts = await rekey(store, {
        onProgress: (p) => {
          if (tty) process.stderr.write(`\r${progressLine(p, total)}\x1b[K`);
          else if (p.workspaces === total || p.workspaces - lastLine >= step) {
            lastLine = p.workspaces;
            process.stderr.write(`${progressLine(p, total)}\n`);
          }
        },
      });
      if (tty) process.stderr.write("\n");
      process.stdout.write(
        `Re-keyed ${app === undefined ? "" : `${describeApp(app)} `}to ${JSON.stringify(store.cipher.currentKeyId)}: ${counts.workspaces} workspaces, ${counts.updated} records re-encrypted, ${counts.skipped} already current, ${counts.conflicts} conflicts.\n`,
      );
      if (counts.conflicts > 0) {
        process.stderr.write("Some records changed meanwhile: run rekey again.\n");
        return ExitCode.Failure;
      }
      return ExitCode.Ok;
    } finally {
      await stores.close();
    }
  },
};
