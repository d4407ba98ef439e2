/**
 * The fresh-clone experience in a real browser: the built CLI (`slack-oauth-kit serve`, what `npm start`
 * runs) in sandbox mode prints a URL; headless Chromium opens it, clicks "Add to Slack", then "Allow" on the
 * emulator's consent page, and lands on the success page; the installation is then read back from the
 * SQLite file. Screenshots of every page go to `.tmp/screenshots/install/` (git-ignored).
 *
 * Uses the system Chromium (`/usr/bin/chromium`); it never downloads a browser. Without it the test is
 * skipped with a warning, except under `CI=true`, where that is a failure.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { chromiumPresent, IN_CI, launchChromium, requireChromium } from "../helpers/browser.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SHOTS = join(ROOT, ".tmp", "screenshots", "install");
const haveChromium = chromiumPresent("browser.test");

/** True when dist/cli/index.js exists and is newer than every file under src/. */
function distIsFresh(): boolean {
  const built = join(ROOT, "dist", "cli", "index.js");
  if (!existsSync(built)) return false;
  const builtAt = statSync(built).mtimeMs;
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
      const p = join(dir, e.name);
      return Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }, 0);
  return newest(join(ROOT, "src")) < builtAt;
}

describe.runIf(haveChromium || IN_CI)("npm start (sandbox mode) in a real browser", () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  let stdout = "";
  let stderr = "";

  beforeAll(() => {
    requireChromium(haveChromium);
    // The global setup normally built dist/ already; rebuilding while other test files run the CLI would
    // race them (tsc rewrites files in place), so build only when dist/ is missing or older than src/.
    if (!distIsFresh()) {
      const build = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
        cwd: ROOT,
        encoding: "utf8",
      });
      // Type errors still emit JS (the type check is a separate step); only a missing build is fatal.
      if (build.status !== 0 && !existsSync(join(ROOT, "dist", "cli", "index.js"))) {
        throw new Error(`build failed:\n${build.stdout}\n${build.stderr}`);
      }
    }
    dir = mkdtempSync(join(tmpdir(), "browser-test-"));
    mkdirSync(SHOTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (server && server.exitCode === null) server.kill("SIGKILL");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("Add to Slack → Allow → success page; the installation is in the SQLite file; SIGTERM exits 0", async () => {
    const dbFile = join(dir, "app.db");
    // A fresh clone has no Slack credentials: strip every SLACK_* variable so the server picks sandbox mode.
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SLACK_")) env[k] = v;
    // A database of its own: that is a production-like setting, so the sandbox is asked for explicitly.
    Object.assign(env, { PORT: "0", DATABASE_URL: `sqlite:${dbFile}`, NODE_ENV: "production", SLACK_SANDBOX: "1" });
    const child = spawn(process.execPath, ["bin/slack-oauth-kit.js", "serve"], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    server = child;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed in 30 s:\n${stdout}\n${stderr}`)), 30_000);
      child.stdout!.on("data", (d: Buffer) => {
        stdout += d.toString();
        const m = /Open (http:\/\/localhost:\d+)\/ /.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once("exit", (code) =>
        reject(new Error(`server exited (${code}) before printing a URL:\n${stdout}\n${stderr}`)),
      );
    });
    expect(url).not.toMatch(/:0$/);
    expect(stdout).toContain("SANDBOX mode");

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 420, height: 860 } }); // phone-sized

    await page.goto(`${url}/`);
    await expect(page.locator("h1").first().textContent()).resolves.toBe("slack-oauth-kit");
    await page.screenshot({ path: join(SHOTS, "1-home.png"), fullPage: true });

    await page.click("#install");
    await page.waitForURL(`${url}/slack/install`);
    await page.screenshot({ path: join(SHOTS, "2-install.png"), fullPage: true });
    const cookies = await page.context().cookies(url);
    expect(cookies.find((c) => c.name === "slack-app-oauth-state")?.httpOnly).toBe(true);

    await page.click("#add-to-slack");
    await page.waitForURL(/\/oauth\/v2\/authorize\?/);
    expect(await page.locator('select[name="team"]').count()).toBe(1);
    await page.selectOption('select[name="team"]', "T0000000001");
    await page.screenshot({ path: join(SHOTS, "3-consent.png"), fullPage: true });

    await page.click('button[name="decision"][value="allow"]');
    await page.waitForURL(new RegExp(`^${url}/slack/oauth_redirect\\?`));
    const successUrl = page.url();
    await expect(page.locator("h1").textContent()).resolves.toBe("Installation complete");
    expect(await page.locator("body").textContent()).toContain("Northwind Traders");
    expect(await page.locator("#open-slack").getAttribute("href")).toMatch(/^slack:\/\/app\?team=T0000000001&id=A/);
    await page.screenshot({ path: join(SHOTS, "4-success.png"), fullPage: true });
    // The state cookie is gone after success.
    expect((await page.context().cookies(url)).find((c) => c.name === "slack-app-oauth-state")).toBeUndefined();

    // Opening the callback link again says the installation already completed (not "your browser lost the cookie").
    await page.goto(successUrl);
    await expect(page.locator("h1").textContent()).resolves.toBe("Installation not completed");
    expect(await page.locator("body").textContent()).toMatch(/Error code: SLACK_OAUTH_STATE_REUSED/);
    expect(await page.locator("body").textContent()).toMatch(/already completed/);
    expect(await page.locator("#retry").textContent()).toBe("Start again");
    await page.screenshot({ path: join(SHOTS, "5-failure.png"), fullPage: true });

    // The home page now lists the workspace when the store can list installations.
    await page.goto(`${url}/`);
    const home = (await page.locator("body").textContent()) ?? "";
    expect(home.includes("Northwind Traders") || home.includes("cannot be listed right now")).toBe(true);

    await browser.close();
    browser = undefined;

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stdout).toContain("Shutting down");
    expect(`${stdout}\n${stderr}`).not.toMatch(/xox[a-z]?(?:\.xox[a-z])?-(?!\*{4})/);

    const store = new SQLiteInstallationStore({ filename: dbFile });
    try {
      const saved = await store.findInstallation({ teamId: "T0000000001" });
      expect(saved).toMatchObject({ teamId: "T0000000001", teamName: "Northwind Traders", userId: "U0000000001" });
      expect(saved?.botToken).toMatch(/^xoxb-/);
      expect(saved?.botId).toMatch(/^B/);
    } finally {
      await store.close();
    }
  }, 120_000);
});
