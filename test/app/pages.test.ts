/**
 * The reference app's pages on a phone, in light and dark colour schemes, in headless Chromium: home, install,
 * the emulator's consent page, success, failure (the reloaded success page), sign-in and profile. On each page:
 *
 * - every piece of visible text reaches a contrast of at least 4.5:1 against the background it is drawn on
 *   (computed colours, backgrounds composited up the tree), and every button's edge (its fill, or its border
 *   when it has none) reaches 4.5:1 against what surrounds it;
 * - nothing scrolls sideways at 390 px: `document.documentElement.scrollWidth <= 390`;
 * - the browser loads nothing from outside the machine (sandbox mode: the avatar comes from the emulator).
 *
 * Screenshots of every page in both schemes go to `.tmp/screenshots/pages/` (git-ignored) for people to look
 * at; the assertions are what pass or fail. One browser for the whole file.
 *
 * Uses the system Chromium (`/usr/bin/chromium`); it never downloads a browser. Without it the test is
 * skipped with a warning, except under `CI=true`, where that is a failure.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/app/server.js";
import {
  type Audit,
  auditPage,
  auditProblems,
  chromiumPresent,
  IN_CI,
  launchChromium,
  PHONE_WIDTH,
  requireChromium,
} from "../helpers/browser.js";
import { startSandbox } from "../helpers/sandbox.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SHOTS = join(ROOT, ".tmp", "screenshots", "pages");
const haveChromium = chromiumPresent("app/pages.test");

/** Where the page's "Back to the app" link (`#home`) points, or null without one. */
async function linkHome(page: Page): Promise<string | null> {
  return (await page.locator("#home").count()) === 1 ? page.locator("#home").getAttribute("href") : null;
}

describe.runIf(haveChromium || IN_CI)("pages on a 390 px phone, light and dark (Chromium)", () => {
  let running: RunningServer | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    requireChromium(haveChromium);
    mkdirSync(SHOTS, { recursive: true });
    running = await startSandbox();
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  for (const scheme of ["light", "dark"] as const) {
    it(`${scheme}: every page reaches 4.5:1, fits 390 px, and loads nothing from outside the machine`, async () => {
      const url = running!.url;
      const context = await browser!.newContext({ viewport: { width: PHONE_WIDTH, height: 844 }, colorScheme: scheme });
      const requested: string[] = [];
      context.on("request", (r) => requested.push(r.url()));
      const page = await context.newPage();
      const audits: Array<{ name: string } & Audit> = [];
      let n = 0;
      const audit = async (name: string, p: Page = page) => {
        audits.push({ name, ...(await auditPage(p)) });
        await p.screenshot({ path: join(SHOTS, `${scheme}-${++n}-${name}.png`), fullPage: true });
      };

      await page.goto(`${url}/`);
      await audit("home");
      await page.click("#install");
      await page.waitForURL(`${url}/slack/install`);
      await audit("install");
      await page.click("#add-to-slack");
      await page.waitForURL(/\/oauth\/v2\/authorize\?/);
      await page.selectOption('select[name="team"]', "T0000000001");
      await audit("consent");
      await page.click('button[name="decision"][value="allow"]');
      await page.waitForURL(/\/slack\/oauth_redirect\?/);
      expect(await page.locator("h1").textContent()).toBe("Installation complete");
      // The sandbox success page links back home (checked with the rest below, so that one run reports all).
      const homeLinks: Record<string, string | null> = { success: await linkHome(page) };
      await audit("success");
      await page.reload();
      expect(await page.locator("body").textContent()).toContain("SLACK_OAUTH_STATE_REUSED");
      homeLinks.failure = await linkHome(page);
      await audit("failure");
      await page.goto(`${url}/`);
      await audit("home-installed");

      await page.goto(`${url}/slack/login`);
      await audit("sign-in");
      await page.click("#sign-in-with-slack");
      await page.waitForURL(/\/openid\/connect\/authorize\?/);
      await page.selectOption('select[name="team"]', "T0000000002");
      await page.selectOption('select[name="user"]', "U0000000005");
      await page.click('button[name="decision"][value="allow"]');
      await page.waitForURL(`${url}/profile`);
      // The avatar is drawn (served by the emulator, not fetched from the internet).
      expect(await page.evaluate("document.getElementById('avatar').naturalWidth")).toBeGreaterThan(0);
      await audit("profile");
      await context.close();

      const local = new Set([new URL(url).host, new URL(running!.emulator!.url).host]);
      const outside = requested.filter((r) => !r.startsWith("data:") && !local.has(new URL(r).host));
      const problems = [
        ...outside.map((r) => `[${scheme}] a request left the machine: ${r}`),
        ...Object.entries(homeLinks)
          .filter(([, href]) => href !== "/")
          .map(([name, href]) => `[${scheme}] ${name}: no link home (#home → ${href})`),
        ...auditProblems(audits).map((line) => `[${scheme}] ${line}`),
      ];
      expect(problems, problems.join("\n")).toEqual([]);

      expect(requested.some((r) => r.includes("/avatars/"))).toBe(true);
    }, 90_000);
  }
});
