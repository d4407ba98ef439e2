/**
 * `slack-oauth-kit emulator` as a user runs it: the built CLI in a child process. (How fast it starts is
 * measured by the benchmark, not here.)
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/emulator/index.js";
import { ROOT, type RunningCli, spawnCli } from "../cli/cli-helpers.js";
import { api, authorize, type Json, receiver, slackSignatureValid } from "./helpers.js";

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

describe("slack-oauth-kit emulator --apps FILE", () => {
  const dir = mkdtempSync(join(tmpdir(), "sok-emu-apps-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const hex = () => randomBytes(16).toString("hex");
  const digits = () => `${1 + (randomBytes(4).readUInt32BE() % 9_000_000_000)}.${randomBytes(4).readUInt32BE()}`;

  it("two apps: each exchanges codes with its own credentials, gets its own rotation, and its events at its own request URL signed with its own secret", async () => {
    const [ra, rb] = await Promise.all([receiver(), receiver()]);
    try {
      const alpha = {
        name: "alpha",
        appId: "A0ALPHA0001",
        clientId: digits(),
        clientSecret: hex(),
        signingSecret: hex(),
        requestUrl: `${ra.url}/slack/alpha/events`,
        tokenRotation: true,
        tokenExpiresIn: 600,
      };
      const beta = {
        name: "beta",
        appId: "A0BETA00001",
        clientId: digits(),
        clientSecret: hex(),
        signingSecret: hex(),
        requestUrl: `${rb.url}/slack/beta/events`,
        tokenRotation: false,
      };
      const file = join(dir, "apps.json");
      writeFileSync(file, JSON.stringify([alpha, beta]));
      const cli = runCli(["emulator", "--port", "0", "--app-url", APP_URL, "--apps", file]);
      const stdout = await cli.waitFor(/Press Ctrl\+C/);
      const url = /listening on (http:\/\/\S+)/.exec(stdout)![1]!;
      expect(stdout).toContain(`App "alpha" (default)`);
      expect(stdout).toMatch(new RegExp(`client id: +${alpha.clientId.replace(".", "\\.")}`));
      expect(stdout).toContain("token rotation: on (tokens expire after 600 s)");
      expect(stdout).toContain(`request URL:    ${beta.requestUrl}`);
      const emu = { url, apiUrl: `${url}/api/` } as Emulator;

      const code = (app: typeof alpha | typeof beta) =>
        authorize(emu, { client_id: app.clientId, scope: "commands,chat:write" });
      const exchange = async (app: typeof alpha | typeof beta, c: string, secret = app.clientSecret) =>
        (await api(emu, "oauth.v2.access", { client_id: app.clientId, client_secret: secret, code: c })).body;

      // Another app's secret does not exchange an app's code.
      expect((await exchange(alpha, await code(alpha), beta.clientSecret)).error).toBe("bad_client_secret");
      const a: Json = await exchange(alpha, await code(alpha));
      const b: Json = await exchange(beta, await code(beta));
      expect(a.ok, JSON.stringify(a.error)).toBe(true);
      expect(b.ok, JSON.stringify(b.error)).toBe(true);
      expect(a.app_id).toBe(alpha.appId);
      expect(b.app_id).toBe(beta.appId);
      // alpha rotates (expiring xoxe. token and a refresh token), beta does not.
      expect(a.access_token).toMatch(/^xoxe\.xoxb-/);
      expect(a.refresh_token).toMatch(/^xoxe-/);
      expect(a.expires_in).toBe(600);
      expect(b.access_token).toMatch(/^xoxb-/);
      expect(b.refresh_token).toBeUndefined();
      expect(b.expires_in).toBeUndefined();

      for (const [app, reply] of [
        [alpha, a],
        [beta, b],
      ] as const) {
        const sent = await fetch(`${url}/_emulator/send/event`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            appId: app.appId,
            teamId: reply.team.id,
            event: { type: "app_mention", text: app.name },
          }),
        });
        expect(sent.status, await sent.clone().text()).toBe(200);
      }
      for (const [app, other, r] of [
        [alpha, beta, ra],
        [beta, alpha, rb],
      ] as const) {
        expect(r.requests).toHaveLength(1);
        const req = r.requests[0]!;
        expect(req.path).toBe(new URL(app.requestUrl).pathname);
        expect(JSON.parse(req.body).api_app_id).toBe(app.appId);
        expect(slackSignatureValid(app.signingSecret, req.headers, req.body)).toBe(true);
        expect(slackSignatureValid(other.signingSecret, req.headers, req.body)).toBe(false);
      }
      cli.child.kill("SIGTERM");
      expect((await cli.exited).code).toBe(0);
    } finally {
      await Promise.all([ra.close(), rb.close()]);
    }
  }, 20_000);

  it("a bad file exits 2 naming the app and the field, never a secret; single-app flags are refused with --apps", async () => {
    const secret = hex();
    const file = join(dir, "bad.json");
    writeFileSync(
      file,
      JSON.stringify([{ name: "ok" }, { name: "second", clientSecret: secret, tokenRotation: "yes" }]),
    );
    const bad = runCli(["emulator", "--port", "0", "--apps", file]);
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr()).toContain(`app "second": tokenRotation must be true or false`);
    expect(bad.stderr()).not.toContain(secret);
    writeFileSync(
      file,
      JSON.stringify([
        { name: "a", clientId: "1.2" },
        { name: "b", clientId: "1.2" },
      ]),
    );
    const dup = runCli(["emulator", "--port", "0", "--apps", file]);
    expect((await dup.exited).code).toBe(2);
    expect(dup.stderr()).toContain(`app "b": clientId is also app "a"'s`);
    const flags = runCli(["emulator", "--port", "0", "--apps", file, "--rotation"]);
    expect((await flags.exited).code).toBe(2);
    expect(flags.stderr()).toContain("give --rotation per app in the apps file");
    const missing = runCli(["emulator", "--port", "0", "--apps", join(dir, "none.json")]);
    expect((await missing.exited).code).toBe(2);
    expect(missing.stderr()).toContain("cannot be read (ENOENT)");
  });
});
