/**
 * Deno and Bun for the tests and the `runtimes` benchmark: their binaries come from the npm registry
 * (`@deno/linux-x64-glibc`, `@oven/bun-linux-x64`, optional dependencies of the dev dependency
 * `test/runtimes/binaries`), so they exist on linux-x64 only. Nothing is downloaded at test time.
 *
 * Shared by test/runtimes/runtimes.test.ts and `npm run bench -- runtimes`.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

export { freePort } from "../helpers/ports.js";

export const ROOT = new URL("../../", import.meta.url).pathname;

/** A runtime the suite runs on. */
export interface Runtime {
  name: "Deno" | "Bun";
  /** The npm package holding the binary. */
  packageName: string;
  binary: string;
  /** `--version` output, or why the binary is not usable. */
  version?: string | undefined;
  error?: string | undefined;
}

function probe(name: Runtime["name"], packageName: string, relative: string): Runtime {
  const binary = join(ROOT, "node_modules", packageName, relative);
  if (!existsSync(binary)) {
    return {
      name,
      packageName,
      binary,
      error: `${packageName} is not installed (npm installs it on linux-x64 only: run \`npm install\`)`,
    };
  }
  try {
    const version = execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 }).split("\n")[0]?.trim();
    return { name, packageName, binary, version };
  } catch (e) {
    return { name, packageName, binary, error: `${binary} --version failed: ${(e as Error).message}` };
  }
}

export const DENO = probe("Deno", "@deno/linux-x64-glibc", "deno");
export const BUN = probe("Bun", "@oven/bun-linux-x64", "bin/bun");

/** A runtime process serving one of the examples. */
export interface AppProcess {
  url: string;
  child: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  stderr(): string;
  /** Milliseconds from spawn to the "listening on" line. */
  startupMs: number;
  /** SIGTERM, then waits for the exit (SIGKILL after 5 s). */
  stop(): Promise<number | null>;
}

/**
 * Spawns `command args` and resolves once it prints `listening on`; rejects with its stderr if it exits
 * first or is not listening within `timeoutMs`.
 */
export async function startApp(
  command: string,
  args: string[],
  options: { env: Record<string, string>; port: number; timeoutMs?: number },
): Promise<AppProcess> {
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      NO_COLOR: "1",
      PORT: String(options.port),
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command} was not listening within ${options.timeoutMs ?? 15_000} ms:\n${err}`)),
      options.timeoutMs ?? 15_000,
    );
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      if (line.startsWith("listening on")) {
        clearTimeout(timer);
        resolve(performance.now() - started);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}) before listening:\n${err}`));
    });
  });
  let startupMs: number;
  try {
    startupMs = await ready;
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  return {
    url: `http://127.0.0.1:${options.port}`,
    child,
    lines,
    stderr: () => err,
    startupMs,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
      const code = await exited;
      clearTimeout(kill);
      return code;
    },
  };
}

/**
 * The command that serves the Bun example (`examples/bun/app.ts`), with `preload` files run before it.
 */
export function bunCommand(preload: string[] = []): { command: string; args: string[] } {
  return { command: BUN.binary, args: [...preload.flatMap((p) => ["--preload", p]), "examples/bun/app.ts"] };
}

/**
 * The command that serves the Deno example (`examples/deno/app.ts`) offline: `npm:` packages and
 * `slack-oauth-kit` resolve to the local `node_modules` and `dist/` (examples/deno/deno.json), and
 * `--cached-only` turns any download Deno would attempt into an error.
 */
export function denoCommand(preload: string[] = []): { command: string; args: string[] } {
  return {
    command: DENO.binary,
    args: [
      "run",
      "--cached-only",
      "--no-prompt",
      "--config",
      "examples/deno/deno.json",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      ...preload.flatMap((p) => ["--preload", p]),
      "examples/deno/app.ts",
    ],
  };
}
