import { type ParseArgsConfig, parseArgs } from "node:util";
import { ErrorCode, SlackOAuthError } from "../errors.js";

/** One CLI sub-command. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** Exit codes, documented in docs/server.md (CLI). */
export const ExitCode = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** Bad command-line usage: printed with the command's usage, exit code 2. */
export class UsageError extends SlackOAuthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Usage, message, { ...options, status: 400 });
  }
}

/** `parseArgs` with strict checking, turning its errors into {@link UsageError}. */
export function parseOptions<T extends NonNullable<ParseArgsConfig["options"]>>(
  argv: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: true }>> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Parses a TCP port option. */
export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--port must be an integer 0-65535, got "${value}"`);
  return n;
}
