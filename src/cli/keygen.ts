import { randomBytes } from "node:crypto";
import { redact } from "../redact.js";
import { type Command, ExitCode, parseOptions, UsageError } from "./command.js";

const KEY_ID_RE = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * `slack-oauth-kit keygen`: prints a fresh encryption key in the format `SLACK_TOKEN_ENCRYPTION_KEY`
 * takes (`<id>:<base64 of 32 random bytes>`). Nothing is stored anywhere.
 */
export const keygenCommand: Command = {
  name: "keygen",
  summary: "Print a fresh SLACK_TOKEN_ENCRYPTION_KEY value (id:base64 of 32 random bytes).",
  usage: [
    "slack-oauth-kit keygen [--id ID]",
    "",
    "  --id ID   the key id stored with every ciphertext (default k1; 1-32 letters, digits, '_' or '-')",
    "",
    "Prints one line, id:base64key, to stdout. To rotate, put the new key first and keep the old one after it:",
    '  SLACK_TOKEN_ENCRYPTION_KEY="<new>,<old>", then run `slack-oauth-kit rekey`.',
    "Exit codes: 0 printed, 2 bad usage.",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseOptions(argv, { id: { type: "string" } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${redact(positionals[0] ?? "")}"`);
    const id = values.id ?? "k1";
    if (!KEY_ID_RE.test(id)) throw new UsageError("--id must be 1-32 letters, digits, '_' or '-'");
    process.stdout.write(`${id}:${randomBytes(32).toString("base64")}\n`);
    return ExitCode.Ok;
  },
};
