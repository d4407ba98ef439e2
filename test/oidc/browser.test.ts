/**
 * Sign in with Slack in a real browser: the reference server (`startServer` in sandbox mode, memory stores)
 * with its in-process emulator. Headless Chromium clicks "Sign in with Slack" on the home page, then the
 * button on the sign-in page, picks a workspace and a user on the emulator's consent page, presses Allow,
 * and lands on /profile showing the user's name and email; then signs out. Screenshots go to
 * `.tmp/screenshots/oidc/` (git-ignored).
 *
 * Uses the system Chromium (`/usr/bin/chromium`); it never downloads a browser. Without it the test is
 * skipped with a warning, except under `CI=true`, where that is a failure.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/app/server.js";
import { OIDC_STATE_COOKIE_NAME } from "../../src/oidc/flow.js";
import { SESSION_COOKIE_NAME } from "../../src/oidc/session.js";
import { chromiumPresent, IN_CI, launchChromium, requireChromium } from "../helpers/browser.js";
import { startSandbox } from "../helpers/sandbox.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SHOTS = join(ROOT, ".tmp", "screenshots", "oidc");
const haveChromium = chromiumPresent("oidc/browser.test");

describe.runIf(haveChromium || IN_CI)("Sign in with Slack in a real browser (sandbox mode)", () => {
  let running: RunningServer | undefined;
  let browser: Browser | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    requireChromium(haveChromium);
    mkdirSync(SHOTS, { recursive: true });
    running = await startSandbox({ log: (l) => lines.push(l) });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  it("home → Sign in with Slack → consent (Globex, Erin) → Allow → /profile; Sign out", async () => {
    const url = running!.url;
    const context = await browser!.newContext({ viewport: { width: 420, height: 860 } });
    const page = await context.newPage();

    await page.goto(`${url}/`);
    await page.screenshot({ path: join(SHOTS, "1-home.png"), fullPage: true });
    await page.click("#sign-in");
    await page.waitForURL(`${url}/slack/login`);
    expect(await page.locator("h1").textContent()).toContain("Sign in to");
    await page.screenshot({ path: join(SHOTS, "2-sign-in.png"), fullPage: true });
    const stateCookie = (await context.cookies(url)).find((c) => c.name === OIDC_STATE_COOKIE_NAME);
    expect(stateCookie?.httpOnly).toBe(true);
    expect(stateCookie?.sameSite).toBe("Lax");

    await page.click("#sign-in-with-slack");
    await page.waitForURL(/\/openid\/connect\/authorize\?/);
    expect(await page.locator("h1").textContent()).toMatch(/Sign in to .* with Slack/);
    await page.selectOption('select[name="team"]', "T0000000002");
    await page.selectOption('select[name="user"]', "U0000000005");
    await page.screenshot({ path: join(SHOTS, "3-consent.png"), fullPage: true });

    await page.click('button[name="decision"][value="allow"]');
    await page.waitForURL(`${url}/profile`);
    expect(await page.locator("h1").textContent()).toBe("Your profile");
    expect(await page.locator("#name").textContent()).toBe("Erin Example");
    expect(await page.locator("#email").textContent()).toBe("erin@globex.example.com (verified)");
    expect(await page.locator("#team").textContent()).toContain("Globex");
    await page.screenshot({ path: join(SHOTS, "4-profile.png"), fullPage: true });
    const cookies = await context.cookies(url);
    const session = cookies.find((c) => c.name === SESSION_COOKIE_NAME);
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Lax");
    expect(session?.expires).toBeGreaterThan(Date.now() / 1000);
    expect(cookies.find((c) => c.name === OIDC_STATE_COOKIE_NAME)).toBeUndefined();

    // The page's own sign-out form (a same-origin POST the CSRF check lets through).
    await page.click("#sign-out");
    await page.waitForURL(`${url}/`);
    expect((await context.cookies(url)).find((c) => c.name === SESSION_COOKIE_NAME)).toBeUndefined();
    await page.goto(`${url}/profile`);
    await page.waitForURL(`${url}/slack/login`);
    await page.screenshot({ path: join(SHOTS, "5-signed-out.png"), fullPage: true });
    await context.close();

    expect(lines.join("\n")).not.toMatch(/xox[a-z]-(?!\*)/);
  }, 60_000);
});
