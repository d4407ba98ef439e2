/**
 * The checks every example app passes the same way, whatever runs it (Deno, Bun, workerd): an install
 * whose state cookie must come back on the callback, Sign in with Slack, and commands with a bad or no
 * signature refused.
 */
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { Emulator } from "../../src/emulator/index.js";
import { ErrorCode } from "../../src/errors.js";
import { SignatureSigner } from "../../src/signature/signature.js";
import { callback, consent, startInstall } from "../oauth/flow-harness.js";
import { cookiePair } from "../oidc/helpers.js";

/** The settings an example reads to serve at `appUrl` as the emulator's app, against the emulator. */
export function exampleEnv(emu: Emulator, appUrl: string): Record<string, string> {
  return {
    APP_URL: appUrl,
    SLACK_CLIENT_ID: emu.app.clientId,
    SLACK_CLIENT_SECRET: emu.app.clientSecret,
    SLACK_SIGNING_SECRET: emu.app.signingSecret,
    SLACK_API_URL: emu.apiUrl,
    SLACK_AUTHORIZE_URL: `${emu.url}/oauth/v2/authorize`,
    SLACK_OIDC_BASE_URL: emu.url,
  };
}

/**
 * Installs through the example at `url` into `team` as `user`: the home page links to the install page;
 * the callback without the state cookie is refused (and does not use up the state); the callback with it
 * is answered, as returned here.
 */
export async function installWithStateCookie(
  url: string,
  team: string,
  user: string,
): Promise<{ status: number; html: string }> {
  const home = await fetch(`${url}/`);
  expect(await home.text()).toContain('href="/slack/install"');
  const started = await startInstall({ url });
  const location = await consent(started.authorizeUrl, { team, user });
  const cookieless = await callback(location);
  expect(cookieless.status).toBe(400);
  expect(cookieless.headers.get("x-slack-oauth-error")).toBe(ErrorCode.StateCookieMissing);
  const response = await callback(location, started.cookie);
  return { status: response.status, html: await response.text() };
}

/**
 * Signs in with Slack through the example at `url` (login page → the emulator's consent, allowed as
 * `user` of `team` → callback with the state cookie); returns the signed-in page after checking it.
 */
export async function signInWithSlack(url: string, team: string, user: string): Promise<string> {
  const page = await fetch(`${url}/slack/login`);
  const html = await page.text();
  expect(page.status, html).toBe(200);
  const href = /id="sign-in-with-slack" href="([^"]+)"/.exec(html)?.[1]?.replaceAll("&amp;", "&");
  expect(href, html).toBeDefined();
  const stateCookie = cookiePair(page, "slack-app-oidc-state");
  expect(stateCookie).toBeDefined();
  const allowed = await fetch(href!, {
    method: "POST",
    body: new URLSearchParams({ team, user, decision: "allow" }),
    redirect: "manual",
  });
  expect(allowed.status).toBe(302);
  const done = await fetch(allowed.headers.get("location")!, {
    headers: { cookie: stateCookie! },
    redirect: "manual",
  });
  const signedIn = await done.text();
  expect(done.status, signedIn).toBe(200);
  expect(signedIn).toContain("<h1>Signed in</h1>");
  return signedIn;
}

/** A `/open-modal` to the example at `url` signed with another secret, or unsigned: 401, and nothing is called. */
export async function expectBadSignaturesRefused(url: string, emu: Emulator, team: string, user: string) {
  const body = new URLSearchParams({ command: "/open-modal", team_id: team, user_id: user, trigger_id: "1.2.x" });
  const type = { "content-type": "application/x-www-form-urlencoded" };
  const forged = new SignatureSigner(randomBytes(16).toString("hex")).headers(body.toString());
  const calls = emu.calls("views.open").length;
  expect((await fetch(`${url}/slack/events`, { method: "POST", headers: { ...type, ...forged }, body })).status).toBe(
    401,
  );
  expect((await fetch(`${url}/slack/events`, { method: "POST", headers: type, body })).status).toBe(401);
  expect(emu.calls("views.open").length).toBe(calls);
}
