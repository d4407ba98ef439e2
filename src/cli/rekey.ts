import type { OpenedStores } from "../app/stores.js";
import { ConfigError, EncryptionError } from "../errors.js";
import { redact } from "../redact.js";
import { ENCRYPTED_FIELDS, EncryptedInstallationStore, type RekeyProgress } from "../stores/encryption.js";
import { databaseUrlOf, listPartitions, openAdminStores } from "./admin-store.js";
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
    "",
    "The keys come from the environment only: SLACK_TOKEN_ENCRYPTION_KEY=newId:base64[,oldId:base64…]",
    "(the first encrypts; the others only decrypt). Every token is checked first: if one does not",
    "decrypt, nothing is changed. Safe to interrupt and run again (done records are skipped).",
    "Without --app, every app's partition of the store is re-keyed (a line each when there are several),",
    "then the older key ids leave the store's encryption marker, so it opens with the newest key alone.",
    "With --app, only that app's partition is re-keyed and the older key ids stay in the marker (other",
    "apps' tokens may still need them) until a rekey without --app.",
    "Exit codes: 0 done, 1 a token does not decrypt (its key id is named), conflicts, or store",
    "unreachable; 2 bad usage (no key set).",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseOptions(argv, { "database-url": { type: "string" }, ...APP_OPTIONS });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${redact(positionals[0] ?? "")}"`);
    if (!process.env.SLACK_TOKEN_ENCRYPTION_KEY)
      throw new UsageError("set SLACK_TOKEN_ENCRYPTION_KEY in the environment (never as a flag)");
    const app = selectApp(values, process.env, (t) => process.stderr.write(t));
    const file = appsFileOf(values["apps-file"], process.env);
    const apps = app === undefined && file !== undefined ? appIdentities(file) : undefined;
    const { rekey } = await import("../stores/encryption.js");
    const databaseUrl = databaseUrlOf(values["database-url"], process.env);

    // Every partition shares the store's encryption marker: all of them are re-keyed (or, with --app, one).
    const opened: Array<{ app: SelectedApp | undefined; stores: OpenedStores; store: EncryptedInstallationStore }> = [];
    // Opened before the partitions are listed (it checks the encryption marker): closed in `finally` too when
    // it never joins `opened` (the listing failed).
    let first: OpenedStores | undefined;
    try {
      try {
        first = await openAdminStores(databaseUrl, { clientId: app?.partition });
        const partitions = app === undefined ? await listPartitions(databaseUrl) : [app.partition];
        for (const partition of partitions) {
          const stores =
            partition === app?.partition ? first : await openAdminStores(databaseUrl, { clientId: partition });
          const store = stores.installationStore;
          if (!(store instanceof EncryptedInstallationStore)) {
            if (stores === first) first = undefined; // closed here, not again in `finally`
            await stores.close();
            throw new ConfigError(
              "this store cannot be re-keyed (it is not encrypted: set SLACK_TOKEN_ENCRYPTION_KEY)",
            );
          }
          const owner =
            app ?? (partitions.length > 1 || apps !== undefined ? appOfClientId(partition, apps) : undefined);
          opened.push({ app: owner, stores, store });
        }
      } catch (error) {
        // The store's encryption marker names a key id the keys lack, or a different key under that id.
        if (!(error instanceof EncryptionError)) throw error;
        process.stderr.write(`${redact(error.message)}. Nothing was changed.\n`);
        return ExitCode.Failure;
      }
      // Pre-flight: every token of every partition must decrypt with the configured keys before anything is written.
      const totals: number[] = [];
      let bad: { keyId: string | undefined; count: number; where: Set<string> } | undefined;
      for (const { app: owner, store } of opened) {
        const workspaces = await store.inner.listWorkspaces();
        totals.push(workspaces.length);
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
                bad = {
                  keyId: error.keyId ?? bad?.keyId,
                  count: (bad?.count ?? 0) + 1,
                  where: (bad?.where ?? new Set()).add(owner === undefined ? "" : ` of ${describeApp(owner)}`),
                };
              }
            }
          }
        }
      }
      if (bad !== undefined) {
        process.stderr.write(
          `${bad.count} token(s)${[...bad.where].join(",")} do not decrypt with key ${JSON.stringify(bad.keyId ?? "?")} as configured (wrong key, or the key is missing from SLACK_TOKEN_ENCRYPTION_KEY). Nothing was changed.\n`,
        );
        return ExitCode.Failure;
      }
      const tty = process.stderr.isTTY === true;
      let conflicts = 0;
      for (const [index, { app: owner, store }] of opened.entries()) {
        const total = totals[index] ?? 0;
        let lastLine = -1;
        const step = Math.max(1, Math.ceil(total / 10));
        const counts = await rekey(store, {
          forgetOldKeys: false,
          onProgress: (p) => {
            if (tty) process.stderr.write(`\r${progressLine(p, total)}\x1b[K`);
            else if (p.workspaces === total || p.workspaces - lastLine >= step) {
              lastLine = p.workspaces;
              process.stderr.write(`${progressLine(p, total)}\n`);
            }
          },
        });
        if (tty) process.stderr.write("\n");
        conflicts += counts.conflicts;
        process.stdout.write(
          `Re-keyed ${owner === undefined ? "" : `${describeApp(owner)} `}to ${JSON.stringify(store.cipher.currentKeyId)}: ${counts.workspaces} workspaces, ${counts.updated} records re-encrypted, ${counts.skipped} already current, ${counts.conflicts} conflicts.\n`,
        );
      }
      if (conflicts > 0) {
        process.stderr.write("Some records changed meanwhile: run rekey again.\n");
        return ExitCode.Failure;
      }
      const anyStore = opened[0]?.store;
      if (app === undefined && anyStore !== undefined) {
        // Every partition is under the newest key: the older key ids leave the (shared) marker, unless the
        // store keeps a history it cannot re-encrypt (file store with historicalData).
        if (!(await anyStore.forgetOldKeys())) {
          process.stderr.write(
            "note: the older keys stay recorded in the store's encryption marker: its history (historicalData) is not re-encrypted, so keep them in SLACK_TOKEN_ENCRYPTION_KEY.\n",
          );
        }
      } else if (app !== undefined) {
        process.stderr.write(
          "note: the older keys stay recorded in the store's encryption marker (other apps' tokens may use them) until `rekey` without --app re-keys every app.\n",
        );
      }
      return ExitCode.Ok;
    } finally {
      if (first !== undefined && !opened.some(({ stores }) => stores === first)) await first.close();
      for (const { stores } of opened) await stores.close();
    }
  },
};
