/**
 * `slack-oauth-kit emulator` as a user runs it: the built CLI in a child process. (How fast it starts is
 * measured by the benchmark, not here.)
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = "bin/slack-oauth-kit.js";
const APP_URL = "http://localhost:3999";

interface Cli {
  child: ChildProcessByStdio<null, Readable, Readable>;
  stdout(): string;
  stderr(): string;
  /** Resolves with stdout once `pattern` appears in it; rejects if the process exits first or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: Cli[] = [];

function runCli(args: string[]): Cli {
  const env = { ...process.env };
  delete env.EMULATOR_PORT;
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const listeners = new Set<() => void>();
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    for (const l of listeners) l();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => {
      exitInfo = { code, signal };
      for (const l of listeners) l();
      resolve(exitInfo);
    });
  });
  const cli: Cli = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, ms = 10_000) =>
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
  };
  children.push(cli);
  return cli;
}

afterEach(async () => {
  for (const cli of children.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill("SIGKILL");
      await cli.exited;
    }
  }
});

function env(stdout: string, name: string): string | undefined {
  return new RegExp(`^\\s*${name}=(\\S+)$`, "m").exec(stdout)?.[1];
}

describe("slack-oauth-kit emulator (CLI)", () => {
  beforeAll(() => {
    // The CLI runs from dist/, built once by test/global-setup.ts.
    if (!existsSync(`${ROOT}dist/cli/index.js`) || !existsSync(`${ROOT}dist/emulator/index.js`)) {
      throw new Error("dist/ is missing: test/global-setup.ts should have built it");
    }
  });

  it("starts on a free port, prints the app settings, serves the test API, and stops on SIGTERM with 0", async () => {
    const cli = runCli(["emulator", "--port", "0", "--app-url", APP_URL]);
    const listening = await cli.waitFor(/listening on (http:\/\/\S+)/);
    const url = /listening on (http:\/\/\S+)/.exec(listening)![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/); // the real port, not the requested 0
    const stdout = await cli.waitFor(/Press Ctrl\+C/);

    expect(env(stdout, "SLACK_CLIENT_ID")).toMatch(/^\d+\.\d+$/);
    expect(env(stdout, "SLACK_CLIENT_SECRET")).toMatch(/^[0-9a-f]{32}$/);
    expect(env(stdout, "SLACK_SIGNING_SECRET")).toMatch(/^[0-9a-f]{32}$/);
    expect(env(stdout, "SLACK_API_URL")).toBe(`${url}/api/`);
    expect(env(stdout, "SLACK_AUTHORIZE_URL")).toBe(`${url}/oauth/v2/authorize`);
    expect(stdout).toContain(`${APP_URL}/slack/oauth_redirect`);
    expect(stdout).toContain(`${APP_URL}/slack/login/callback`);
    expect(stdout).toContain(`${APP_URL}/slack/events`);

    const calls = await fetch(`${url}/_emulator/calls`);
    expect(calls.status).toBe(200);
    expect(await calls.json()).toEqual([]);
    // The printed credentials are the running app's.
    const clientId = env(stdout, "SLACK_CLIENT_ID")!;
    const page = await fetch(`${url}/oauth/v2/authorize?client_id=${clientId}&scope=commands`);
    expect(page.status).toBe(200);

    cli.child.kill("SIGTERM");
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stderr()).toBe("");
  });

  it("echoes the credentials it was given", async () => {
    // Throw-away values made up at run time.
    const clientSecret = randomBytes(16).toString("hex");
    const signingSecret = randomBytes(16).toString("hex");
    const cli = runCli([
      "emulator",
      "--port",
      "0",
      "--app-url",
      APP_URL,
      "--client-id",
      "111.222",
      "--client-secret",
      clientSecret,
      "--signing-secret",
      signingSecret,
    ]);
    const stdout = await cli.waitFor(/Press Ctrl\+C/);
    expect(env(stdout, "SLACK_CLIENT_ID")).toBe("111.222");
    expect(env(stdout, "SLACK_CLIENT_SECRET")).toBe(clientSecret);
    expect(env(stdout, "SLACK_SIGNING_SECRET")).toBe(signingSecret);
    const url = /listening on (http:\/\/\S+)/.exec(stdout)![1]!;
    const page = await fetch(`${url}/oauth/v2/authorize?client_id=111.222&scope=commands`);
    expect(page.status).toBe(200);
    cli.child.kill("SIGTERM");
    expect((await cli.exited).code).toBe(0);
  });

  it("--port abc exits with code 2 and the usage", async () => {
    const cli = runCli(["emulator", "--port", "abc"]);
    expect(await cli.exited).toEqual({ code: 2, signal: null });
    expect(cli.stdout()).not.toContain("listening on");
    expect(cli.stderr()).toContain("--port");
    expect(cli.stderr()).toContain("Usage: slack-oauth-kit emulator");
  });
});
