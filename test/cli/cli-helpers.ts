/**
 * Runs the built CLI (`node bin/slack-oauth-kit.js …`, from dist/) as a child process, with an environment
 * that holds only what the test gives it (nothing leaks in from the developer's shell).
 */
import { type ChildProcessByStdio, spawn, spawnSync } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";

export { freePort } from "../helpers/ports.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = "bin/slack-oauth-kit.js";

/** A clean environment plus `vars` (no SLACK_*, DATABASE_URL… from the parent). */
export function cleanEnv(vars: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "TMPDIR", "LANG", "SYSTEMROOT"]) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) env[k] = v;
  return env;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion; `input` is written to its stdin (then closed). */
export function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}${BIN}`, ...args], {
      cwd: options.cwd ?? ROOT,
      env: cleanEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`CLI timed out: ${args.join(" ")}\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 15_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on("error", () => undefined); // the CLI may exit before reading its input
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** A long-running CLI (`serve`): read its output as it comes, wait for a line, stop it. */
export interface RunningCli {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  stdout(): string;
  stderr(): string;
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnCli(args: string[], env: Record<string, string | undefined>): RunningCli {
  const child = spawn(process.execPath, [`${ROOT}${BIN}`, ...args], {
    cwd: ROOT,
    env: cleanEnv(env),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const listeners = new Set<() => void>();
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    out += c;
    for (const l of listeners) l();
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    err += c;
    for (const l of listeners) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => {
      exitInfo = { code, signal };
      for (const l of listeners) l();
      resolve(exitInfo);
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, ms = 15_000) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; stdout: ${out}; stderr: ${err}`));
        }, ms);
        function check() {
          if (pattern.test(out)) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve(out);
          } else if (exitInfo) {
            clearTimeout(timer);
            listeners.delete(check);
            reject(new Error(`exited (${JSON.stringify(exitInfo)}) before ${pattern}; stdout: ${out}; stderr: ${err}`));
          }
        }
        listeners.add(check);
        check();
      }),
    async stop() {
      if (!exitInfo) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const info = await exited;
      clearTimeout(timer);
      return info;
    },
  };
}

/** True when util-linux `script` can give a child process a pseudo-terminal here. */
export const HAS_SCRIPT_PTY = (() => {
  if (process.platform !== "linux") return false;
  const r = spawnSync("script", ["-qec", "true", "/dev/null"], { stdio: "ignore", timeout: 5000 });
  return r.status === 0;
})();

/**
 * Runs the CLI inside a pseudo-terminal (util-linux `script`), so that its stdin is a TTY; `input` is typed
 * into it. Output comes back through the terminal (CRLF line ends, prompts included).
 */
export function runCliInPty(
  args: string[],
  options: { env?: Record<string, string | undefined>; input: string; timeoutMs?: number },
): Promise<CliResult> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, `${ROOT}${BIN}`, ...args].map(quote).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qefc", command, "/dev/null"], {
      cwd: ROOT,
      env: cleanEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      // Type the answer once the prompt is on screen, as a person would.
      if (/\[y\/N\]/.test(stdout) && !typed) {
        typed = true;
        child.stdin.write(options.input);
      }
    });
    let typed = false;
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`CLI in a pty timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 15_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
