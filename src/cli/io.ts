/**
 * The terminal an admin command talks to. Commands take it as a parameter so that tests can give them a
 * fake terminal; the CLI gives them the process's own.
 */
import { createInterface } from "node:readline";

/** Where a command writes, what it reads, and whether a person is at the keyboard. */
export interface CliIO {
  /** Results (tables, JSON): what scripts read. */
  out(text: string): void;
  /** Prompts, warnings and errors: what people read. */
  err(text: string): void;
  /** Standard input (confirmation answers). */
  stdin: NodeJS.ReadableStream;
  /** True when stdin is a terminal (a person can answer a prompt). */
  isTTY: boolean;
  env: Record<string, string | undefined>;
}

/** The process's own terminal. */
export function processIO(): CliIO {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    stdin: process.stdin,
    isTTY: process.stdin.isTTY === true,
    env: process.env,
  };
}

/**
 * Asks a yes/no question on stderr and reads one line from stdin. Only `y` or `yes` (any case) is yes;
 * anything else, an empty line or the end of input is no.
 */
export async function confirm(io: CliIO, question: string): Promise<boolean> {
  io.err(`${question} [y/N] `);
  const rl = createInterface({ input: io.stdin, terminal: false });
  try {
    const answer = await new Promise<string | undefined>((resolve) => {
      rl.once("line", (line) => resolve(line));
      rl.once("close", () => resolve(undefined));
    });
    return answer !== undefined && /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
    // Leave stdin as we found it: a paused stream lets the process exit.
    io.stdin.pause();
  }
}
