/**
 * The reference server's Prometheus endpoint, scraped over HTTP and read with a strict parser of the
 * text format while the test installs, sends commands, rotates and uninstalls through the emulator.
 */
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigProblems, inspectConfig, loadConfig, type ServerConfig } from "../../src/app/config.js";
import type { RunningServer } from "../../src/app/server.js";
import { INSTALL_PROMPT } from "../../src/app/slack-app.js";
import { runCli } from "../cli/cli-helpers.js";
import { type Family, parsePrometheusText, sampleValue } from "../helpers/prom-text.js";
import { startSandbox } from "../helpers/sandbox.js";
import { callback, consent, startInstall } from "../oauth/flow-harness.js";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function start(env: Record<string, string>, config: Partial<ServerConfig> = {}): Promise<RunningServer> {
  const running = await startSandbox({ env, config });
  cleanup.push(() => running.close());
  return running;
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Map<string, Family>> {
  const res = await fetch(url, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

async function install(url: string, team: string): Promise<void> {
  const started = await startInstall({ url });
  const location = await consent(started.authorizeUrl, { team });
  const response = await callback(location, started.cookie);
  expect(response.status, await response.text()).toBe(200);
}

describe("reference server metrics", () => {
  it("on a port of their own: counters move with installs, commands, rotation and uninstalls", async () => {
    const running = await start({ METRICS_PORT: "0" });
    const emu = running.emulator!;
    const app = emu.app.clientId; // the default label: the client id
    expect(running.metricsUrl).toMatch(/^http:\/\/localhost:\d+\/metrics$/);
    const metricsUrl = running.metricsUrl!;
    expect(new URL(metricsUrl).port).not.toBe(new URL(running.url).port);
    // Not on the main port (it has no token): 404 there.
    expect((await fetch(`${running.url}/metrics`)).status).toBe(404);

    const before = await scrape(metricsUrl);
    expect(sampleValue(before, "slack_oauth_installs_total", { app })).toBe(0);

    // Rotating tokens that expire within authorize's refresh window (2 h): every command refreshes.
    emu.updateApp({ tokenRotation: true, tokenExpiresIn: 600 });
    await install(running.url, "T0000000001");
    await install(running.url, "T0000000002");
    // A refused callback (cancelled on Slack's page).
    expect((await callback(`${running.url}/slack/oauth_redirect?error=access_denied`)).status).toBe(400);

    const c1 = await emu.sendSlashCommand({ teamId: "T0000000001", command: "/open-modal" });
    expect(c1.status).toBe(200);
    const c2 = await emu.sendSlashCommand({ teamId: "T0000000001", command: "/open-modal" });
    expect(c2.status).toBe(200);
    const verified = await emu.sendUrlVerification();
    expect(verified.verified).toBe(true);
    let f = await scrape(metricsUrl);
    const v = (name: string, labels: Record<string, string>) => sampleValue(f, name, { app, ...labels });
    expect(v("slack_oauth_installs_total", {})).toBe(2);
    expect(v("slack_oauth_install_failures_total", { code: "SLACK_OAUTH_INSTALL_CANCELLED" })).toBe(1);
    expect(v("slack_oauth_slack_requests_total", { kind: "command", status: "200" })).toBe(2);
    expect(v("slack_oauth_slack_requests_total", { kind: "url_verification", status: "200" })).toBe(1);
    // Each refreshed token again expires within the window (600 s < 2 h): each command refreshed once.
    expect(v("slack_oauth_token_refreshes_total", { token: "bot", outcome: "refreshed" })).toBe(2);
    const authorized = ["hit", "miss"].reduce(
      (n, cache) => n + v("slack_oauth_authorize_total", { cache, outcome: "ok" }),
      0,
    );
    expect(authorized).toBe(2);
    expect(
      sampleValue(
        f,
        "slack_oauth_authorize_duration_seconds",
        { app, cache: "miss" },
        "slack_oauth_authorize_duration_seconds_count",
      ),
    ).toBeGreaterThanOrEqual(1);

    // Uninstall: Slack sends app_uninstalled and tokens_revoked.
    await emu.uninstall({ teamId: "T0000000001" });
    expect(await running.installationStore.findBot({ teamId: "T0000000001" })).toBeUndefined();
    // A workspace whose installation this server lost (Slack still sends its commands): asked to install.
    await running.installationStore.deleteAll({ teamId: "T0000000002" });
    const after = await emu.sendSlashCommand({ teamId: "T0000000002", command: "/open-modal" });
    expect(JSON.stringify(after.body)).toContain(INSTALL_PROMPT);
    // A forged request.
    const forged = await fetch(`${running.url}/slack/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(forged.status).toBe(401);

    f = await scrape(metricsUrl);
    expect(v("slack_oauth_uninstalls_total", {})).toBe(1);
    expect(v("slack_oauth_token_revocations_total", {})).toBe(1);
    expect(v("slack_oauth_slack_requests_total", { kind: "event", status: "200" })).toBe(2);
    expect(v("slack_oauth_slack_requests_total", { kind: "command", status: "200" })).toBe(3);
    expect(v("slack_oauth_slack_requests_total", { kind: "invalid", status: "401" })).toBe(1);
    expect(
      ["hit", "miss"].reduce(
        (n, cache) => n + v("slack_oauth_authorize_total", { cache, outcome: "not_installed" }),
        0,
      ),
    ).toBe(1);
    // Nothing secret in the exposition.
    const text = await (await fetch(metricsUrl)).text();
    expect(text).not.toMatch(/xox[a-z]?-/);
    expect(text).not.toContain(emu.app.clientSecret);
  });

  it("on the main port behind METRICS_TOKEN, under METRICS_APP", async () => {
    const token = randomBytes(24).toString("base64url");
    const running = await start({ METRICS_TOKEN: token, METRICS_APP: "reference-app" });
    expect(running.metricsUrl).toBe(`${running.url}/metrics`);
    expect((await fetch(`${running.url}/metrics`)).status).toBe(401);
    expect(
      (await fetch(`${running.url}/metrics`, { headers: { authorization: `Bearer ${token.slice(0, -1)}` } })).status,
    ).toBe(401);
    await install(running.url, "T0000000003");
    const f = await scrape(`${running.url}/metrics`, { authorization: `Bearer ${token}` });
    expect(sampleValue(f, "slack_oauth_installs_total", { app: "reference-app" })).toBe(1);
    // The rest of the server is untouched.
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
  });

  it("metrics on the main port without a token, a short token or a bad port are configuration problems", () => {
    const problems = (env: Record<string, string>) =>
      inspectConfig({ PORT: "3000", ...env })
        .findings.filter((x) => x.level === "problem")
        .map((x) => x.code);
    expect(problems({ METRICS_PORT: "main" })).toEqual(["metrics-token"]);
    expect(problems({ METRICS_PORT: "3000" })).toEqual(["metrics-token"]);
    expect(problems({ METRICS_TOKEN: "short" })).toEqual(["metrics-token"]);
    expect(problems({ METRICS_PORT: "99999" })).toEqual(["metrics-port"]);
    expect(problems({ METRICS_APP: "x" })).toEqual(["metrics-port"]);
    expect(problems({ METRICS_PORT: "9464" })).toEqual([]);
    expect(problems({ METRICS_PORT: "main", METRICS_TOKEN: "a".repeat(16) })).toEqual([]);
    expect(() => loadConfig({ METRICS_PORT: "main" })).toThrow(ConfigProblems);
    expect(loadConfig({}).metrics).toBeUndefined();
    expect(loadConfig({ PORT: "3000", METRICS_PORT: "9464" }).metrics).toEqual({
      port: 9464,
      host: "127.0.0.1",
      token: undefined,
      app: undefined,
    });
  });

  it("`serve` with metrics on the main port and no token exits 2 naming METRICS_TOKEN", async () => {
    const r = await runCli(["serve"], { env: { PORT: "0", METRICS_PORT: "main", DATABASE_URL: "memory:" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("METRICS_TOKEN");
  });
});
