import { readFileSync } from "node:fs";
import { EncryptionError } from "../errors.js";
import { redact } from "../redact.js";
import { type Command, ExitCode, UsageError } from "./command.js";
import { doctorCommand } from "./doctor.js";
import { emulatorCommand } from "./emulator.js";
import { exportCommand } from "./export.js";
import { healthCommand } from "./health.js";
import { importCommand } from "./import.js";
import { installationsCommand } from "./installations.js";
import { keygenCommand } from "./keygen.js";
import { migrateCommand } from "./migrate.js";
import { rekeyCommand } from "./rekey.js";
import { rotateCommand } from "./rotate.js";
import { serveCommand } from "./serve.js";

export { type Command, ExitCode, UsageError } from "./command.js";

const commands: Command[] = [
  serveCommand,
  emulatorCommand,
  installationsCommand,
  healthCommand,
  doctorCommand,
  rotateCommand,
  exportCommand,
  importCommand,
  migrateCommand,
  rekeyCommand,
  keygenCommand,
];

function help(): string {
  const lines = [
    "slack-oauth-kit: install a Slack app on many workspaces and keep its tokens.",
    "",
    "Usage: slack-oauth-kit <command> [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(14)} ${c.summary}`),
    "",
    "Run `slack-oauth-kit <command> --help` for a command's options; `slack-oauth-kit --version` prints the version.",
    "Exit codes: 0 success, 1 failure, 2 bad usage.",
  ];
  return lines.join("\n");
}

/** This package's version, from its package.json (next to dist/ or src/). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
  return typeof pkg.version === "string" ? pkg.version : "unknown";
}

/** Runs the CLI with `argv` (without `node` and the script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v" || name === "version") {
    console.log(`slack-oauth-kit ${packageVersion()}`);
    return ExitCode.Ok;
  }
  if (!name || name === "help" || name === "--help" || name === "-h") {
    console.log(help());
    return name ? ExitCode.Ok : ExitCode.Usage;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`Unknown command "${redact(name)}".\n\n${help()}`);
    return ExitCode.Usage;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(`${command.summary}\n\nUsage: ${command.usage}`);
    return ExitCode.Ok;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\nUsage: ${command.usage}`);
      return ExitCode.Usage;
    }
    console.error(redact(error instanceof Error ? error.message : String(error)));
    // An encrypted store opened without its key, or with a wrong one: the configuration must change.
    if (error instanceof EncryptionError && error.reason !== "malformed") return ExitCode.Usage;
    return ExitCode.Failure;
  }
}
