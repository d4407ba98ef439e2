/**
 * `slack-oauth-kit emulator` as a user runs it: the built CLI in a child process. (How fast it starts is
 * measured by the benchmark, not here.)
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ROOT, type RunningCli, spawnCli } from "../cli/cli-helpers.js";

const APP_URL = "http://localhost:3999";

const children: RunningCli[] = [];

/** The built CLI in a child process with a clean environment (no EMULATOR_PORT or SLACK_* from ours). */
function runCli(args: string[]): RunningCli {
  const cli = spawnCli(args, {});
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
