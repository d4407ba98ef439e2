/**
 * The operator console end to end in headless Chromium, against the reference server in sandbox mode (the
 * emulator plays Slack): two workspaces install; an admin named in CONSOLE_ADMINS signs in with Slack,
 * lands on the console, sees both installations with their status, runs a check (one answers
 * `token_revoked`), searches, gets a reinstall link, and deletes one after confirming. A replay of that
 * confirmation, a forged POST without the CSRF token and a form posted from another site all get 403; a
 * signed-in user who is not on the list gets 403.
 *
 * Every console page is audited in light and dark schemes (contrast ≥ 4.5:1 for text and controls, no
 * sideways scroll at 390 px, with the helpers of page-audit.browser.js) and photographed into
 * `.tmp/screenshots/console/` (git-ignored); the assertions are what pass or fail.
 *
 * Uses the system Chromium (`/usr/bin/chromium`); without it the test is skipped with a warning, except
 * under `CI=true`, where that is a failure.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/app/server.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
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
const SHOTS = join(ROOT, ".tmp", "screenshots", "console");
const haveChromium = chromiumPresent("app/console-browser.test");
const ADMIN = { team: "T0000000002", user: "U0000000004" };
const OUTSIDER = { team: "T0000000002", user: "U0000000005" };

describe.runIf(haveChromium || IN_CI)("operator console in Chromium (sandbox mode)", () => {
  let running: RunningServer | undefined;
  let browser: Browser | undefined;
  const store = new MemoryInstallationStore();
  const logLines: string[] = [];

  beforeAll(async () => {
    requireChromium(haveChromium);
    mkdirSync(SHOTS, { recursive: true });
    running = await startSandbox({
      env: { CONSOLE_ADMINS: `${ADMIN.team}:${ADMIN.user}` },
      installationStore: store,
      log: (line) => logLines.push(line),
    });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  it("admin signs in, sees statuses, checks, deletes after confirming; replays, forgeries and outsiders get 403", async () => {
    const url = running!.url;
    const emulator = running!.emulator!;
    const context = await browser!.newContext({ viewport: { width: PHONE_WIDTH, height: 844 } });
    const requested: string[] = [];
    context.on("request", (r) => requested.push(r.url()));
    const page = await context.newPage();
    const audits: Array<{ name: string } & Audit> = [];
    let n = 0;
    /** Audits the page as it stands in both schemes and photographs each. */
    const audit = async (name: string, p: Page = page) => {
      for (const scheme of ["light", "dark"] as const) {
        await p.emulateMedia({ colorScheme: scheme });
        audits.push({ name: `${scheme} ${name}`, ...(await auditPage(p)) });
        await p.screenshot({
          path: join(SHOTS, `${String(++n).padStart(2, "0")}-${name}-${scheme}.png`),
          fullPage: true,
        });
      }
      await p.emulateMedia({ colorScheme: "light" });
    };
    const consent = async (team: string, user?: string) => {
      await page.selectOption('select[name="team"]', team);
      if (user) await page.selectOption('select[name="user"]', user);
      await page.click('button[name="decision"][value="allow"]');
    };

    // Two workspaces install the app: the first with a long-lived token, the second after the app turned
    // token rotation on (its bot token expires and can be refreshed).
    for (const team of ["T0000000001", "T0000000003"]) {
      if (team === "T0000000003") emulator.updateApp({ tokenRotation: true });
      await page.goto(`${url}/slack/install`);
      await page.click("#add-to-slack");
      await page.waitForURL(/\/oauth\/v2\/authorize\?/);
      await consent(team);
      await page.waitForURL(/\/slack\/oauth_redirect\?/);
      expect(await page.locator("h1").textContent()).toBe("Installation complete");
    }

    // The admin opens the console, is sent through Sign in with Slack, and lands back on it.
    await page.goto(`${url}/console`);
    await page.waitForURL(`${url}/slack/login?next=%2Fconsole`);
    await page.click("#sign-in-with-slack");
    await page.waitForURL(/\/openid\/connect\/authorize\?/);
    await consent(ADMIN.team, ADMIN.user);
    await page.waitForURL(`${url}/console`);
    expect(await page.locator("h1").textContent()).toBe("Operator console");
    expect(await page.locator("article.inst").count()).toBe(2);
    expect(await page.locator("#status-1").textContent()).toBe("unchecked");
    const cookies = await context.cookies();
    const consoleCookie = cookies.find((c) => c.name.endsWith("slack-console"));
    expect(consoleCookie).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    await audit("list");

    // Check now: the first answers ok; the emulator answers the second's auth.test with token_revoked.
    await page.click("#check-1");
    await page.waitForURL(`${url}/console/check`);
    expect(await page.locator("#result").textContent()).toContain("ok");
    await audit("checked");
    await page.click("#back");
    emulator.injectFault({ method: "auth.test", error: "token_revoked" });
    await page.click("#check-2");
    expect(await page.locator("#result").textContent()).toContain("revoked");
    await page.click("#back");
    expect(await page.locator("#status-1").textContent()).toBe("ok");
    expect(await page.locator("#status-2").textContent()).toBe("revoked token_revoked");
    // The verdicts are the store's health records (what `slack-oauth-kit health` and the CLI read too).
    const recorded = (await store.listHealth()).map((e) => `${e.teamId} ${e.kind} ${e.health.status}`).sort();
    expect(recorded).toEqual(["T0000000001 bot ok", "T0000000003 bot revoked"]);
    await audit("statuses");

    // Refresh now: the rotating token is refreshed (through the store's lock), the long-lived one is left.
    const before = (await store.findBot({ teamId: "T0000000003" }))!;
    expect(before.botTokenExpiresAt).toBeTypeOf("number");
    await page.click("#refresh-2");
    await page.waitForURL(`${url}/console/refresh`);
    expect(await page.locator("#result").textContent()).toBe("bot token: refreshed");
    const after = (await store.findBot({ teamId: "T0000000003" }))!;
    expect(after.botToken).not.toBe(before.botToken);
    expect(emulator.world.tokenStatus(after.botToken)).toBe("active");
    await audit("refreshed");
    await page.click("#back");
    await page.click("#refresh-1");
    expect(await page.locator("#result").textContent()).toBe("bot token: does not rotate (long-lived)");
    await page.click("#back");

    // Search narrows the list.
    await page.fill("#q", "initech");
    await page.click("#search");
    await page.waitForURL(/\/console\?q=initech/);
    expect(await page.locator("article.inst").count()).toBe(1);
    expect(await page.locator("article.inst").getAttribute("data-team")).toBe("T0000000003");
    await audit("search");

    // A reinstall link to copy, for the workspace: the Copy button's script runs (allowed by its hash).
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(url).origin });
    await page.click("#reinstall-1");
    expect(await page.locator("#reinstall-link").inputValue()).toBe(`${url}/slack/install?team=T0000000003`);
    await page.click("#copy");
    await page.locator("#copied", { hasText: "Copied." }).waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(`${url}/slack/install?team=T0000000003`);
    await audit("reinstall-link");

    // Delete, after a confirmation step.
    await page.goto(`${url}/console?q=T0000000003`);
    await page.click("#delete-1");
    await page.waitForURL(`${url}/console/delete`);
    expect(await page.locator("#confirm-what").textContent()).toContain("T0000000003");
    expect((await store.listWorkspaces()).length).toBe(2);
    await audit("confirm-delete");
    const confirmForm = Object.fromEntries(
      await page
        .locator('form[action="/console/delete/confirm"] input[type="hidden"]')
        .evaluateAll((inputs) =>
          inputs.map((i) => [(i as unknown as { name: string }).name, (i as unknown as { value: string }).value]),
        ),
    ) as Record<string, string>;
    await page.click("#confirm-delete");
    await page.waitForURL(`${url}/console/delete/confirm`);
    expect(await page.locator("#result").textContent()).toContain("T0000000003 was deleted");
    expect((await store.listWorkspaces()).map((w) => w.teamId)).toEqual(["T0000000001"]);
    await audit("deleted");

    // Replayed: the very same confirmation, same cookies, same body → 403 (its ticket is spent).
    const replay = await context.request.post(`${url}/console/delete/confirm`, {
      form: confirmForm,
      headers: { Origin: new URL(url).origin },
    });
    expect(replay.status()).toBe(403);
    expect(replay.headers()["x-slack-oauth-error"]).toBe("SLACK_OAUTH_CONSOLE_REQUEST_INVALID");
    // Forged: a fresh ticket but no CSRF token → 403.
    await page.goto(`${url}/console`);
    const ticket = await page.locator('#inst-1 input[name="ticket"]').first().inputValue();
    const forged = await context.request.post(`${url}/console/delete`, {
      form: { ticket, app: confirmForm.app ?? "", team: "T0000000001" },
      headers: { Origin: new URL(url).origin },
    });
    expect(forged.status()).toBe(403);
    // Forged from another site: a page elsewhere auto-submits a form to the console (served by the test,
    // nothing leaves the machine); the browser says cross-site and keeps the Strict cookie home.
    await page.route("http://attacker.test/**", (route) =>
      route.fulfill({
        contentType: "text/html",
        body: `<form id="f" method="post" action="${url}/console/check"><input name="app" value="x"><input name="team" value="T0000000001"><input name="ticket" value="${ticket}"></form><script>document.getElementById("f").submit()</script>`,
      }),
    );
    const crossSite = page.waitForResponse(`${url}/console/check`);
    await page.goto("http://attacker.test/");
    const crossSiteResponse = await crossSite;
    expect(crossSiteResponse.status()).toBe(403);
    expect(crossSiteResponse.headers()["x-slack-oauth-error"]).toBe("SLACK_OAUTH_CROSS_SITE_REQUEST");
    await page.waitForURL(`${url}/console/check`);
    await audit("refused-cross-site");
    expect((await store.listWorkspaces()).length).toBe(1);
    // Sign out from the console: the console then asks to sign in again.
    await page.goto(`${url}/console`);
    await page.click("#sign-out");
    await page.waitForURL(`${url}/`);
    await page.goto(`${url}/console`);
    await page.waitForURL(`${url}/slack/login?next=%2Fconsole`);
    await context.close();

    // Someone signed in with Slack who is not on the list: 403.
    const other = await browser!.newContext({ viewport: { width: PHONE_WIDTH, height: 844 } });
    const outsider = await other.newPage();
    await outsider.goto(`${url}/console`);
    await outsider.click("#sign-in-with-slack");
    await outsider.waitForURL(/\/openid\/connect\/authorize\?/);
    await outsider.selectOption('select[name="team"]', OUTSIDER.team);
    await outsider.selectOption('select[name="user"]', OUTSIDER.user);
    const refused = outsider.waitForResponse(`${url}/console`);
    await outsider.click('button[name="decision"][value="allow"]');
    expect((await refused).status()).toBe(403);
    expect(await outsider.locator("#refusal").textContent()).toContain(`${OUTSIDER.team}:${OUTSIDER.user}`);
    await audit("not-an-admin", outsider);
    await other.close();

    // Every console page: contrast and width, in both schemes; nothing loaded from outside the machine.
    const problems = auditProblems(audits);
    expect(problems, problems.join("\n")).toEqual([]);
    const local = new Set([new URL(url).host, new URL(emulator.url).host, "attacker.test"]);
    expect(requested.filter((r) => !r.startsWith("data:") && !local.has(new URL(r).host))).toEqual([]);

    // Each action logged once with the acting admin; no token in any log line.
    const actions = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.action);
    expect(actions.map((l) => [l.action, l.admin, l.teamId])).toEqual([
      ["check", `${ADMIN.team}:${ADMIN.user}`, "T0000000001"],
      ["check", `${ADMIN.team}:${ADMIN.user}`, "T0000000003"],
      ["refresh", `${ADMIN.team}:${ADMIN.user}`, "T0000000003"],
      ["refresh", `${ADMIN.team}:${ADMIN.user}`, "T0000000001"],
      ["reinstall-link", `${ADMIN.team}:${ADMIN.user}`, "T0000000003"],
      ["delete-requested", `${ADMIN.team}:${ADMIN.user}`, "T0000000003"],
      ["delete", `${ADMIN.team}:${ADMIN.user}`, "T0000000003"],
    ]);
    expect(logLines.join("\n")).not.toMatch(/xox[bpe]-[0-9]/);
  }, 90_000);
});
