/**
 * The reference app's Sign in with Slack: `startServer` in sandbox mode over real sockets (the emulator plays
 * Slack), and `createApp` against an emulator whose user has a hostile name.
 */
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { jsonLogger } from "../../src/app/log.js";
import { createApp, type RunningServer } from "../../src/app/server.js";
import { startEmulator } from "../../src/emulator/index.js";
import { ErrorCode } from "../../src/errors.js";
import { OIDC_STATE_COOKIE_NAME } from "../../src/oidc/flow.js";
import { SESSION_COOKIE_NAME } from "../../src/oidc/session.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import { startSandbox } from "../helpers/sandbox.js";
import { cookiePair } from "./helpers.js";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function sandbox(): Promise<{ running: RunningServer; lines: string[] }> {
  const lines: string[] = [];
  const running = await startSandbox({ log: (l) => lines.push(l) });
  cleanup.push(() => running.close());
  return { running, lines };
}

type Fetcher = (url: string, init?: RequestInit) => Promise<Response>;

/** Signs in through the app like a browser (plain fetch, cookies carried by hand); returns the session cookie. */
async function signInThrough(
  get: Fetcher,
  appUrl: string,
  choice: Record<string, string> = { team: "T0000000002", user: "U0000000005" },
): Promise<{ session: string; callbackResponse: Response }> {
  const page = await get(`${appUrl}/slack/login`);
  expect(page.status).toBe(200);
  const html = await page.text();
  const href = /id="sign-in-with-slack" href="([^"]+)"/.exec(html)?.[1]?.replaceAll("&amp;", "&");
  expect(href, html).toBeDefined();
  const stateCookie = cookiePair(page, OIDC_STATE_COOKIE_NAME)!;
  expect(stateCookie).toBeDefined();
  await fetch(href!); // the consent page
  const allowed = await fetch(href!, {
    method: "POST",
    body: new URLSearchParams({ ...choice, decision: "allow" }),
    redirect: "manual",
  });
  expect(allowed.status).toBe(302);
  const location = allowed.headers.get("location")!;
  expect(location.startsWith(`${appUrl}/slack/login/callback?`)).toBe(true);
  const callbackResponse = await get(location, { headers: { cookie: stateCookie } });
  const session = cookiePair(callbackResponse, SESSION_COOKIE_NAME);
  return { session: session ?? "", callbackResponse };
}

const viaNetwork: Fetcher = (url, init) => fetch(url, { redirect: "manual", ...init });

describe("reference app: Sign in with Slack (sandbox mode)", () => {
  it("home links to sign-in; login → Slack → /profile shows the user; logout clears the session", async () => {
    const { running, lines } = await sandbox();
    const url = running.url;
    const home = await (await fetch(`${url}/`)).text();
    expect(home).toContain('id="sign-in" href="/slack/login"');
    expect(home).toContain("Sign in with Slack");

    const { session, callbackResponse } = await signInThrough(viaNetwork, url);
    expect(callbackResponse.status).toBe(303);
    expect(callbackResponse.headers.get("location")).toBe("/profile");
    const setSession = callbackResponse.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE_NAME}=`))!;
    expect(setSession).toContain("HttpOnly");
    expect(setSession).toContain("SameSite=Lax");
    expect(setSession).toMatch(/Max-Age=\d+/);
    expect(setSession).not.toContain("Secure"); // http://localhost
    expect(setSession).not.toMatch(/xox[a-z]-/); // no token in the cookie

    const profile = await viaNetwork(`${url}/profile`, { headers: { cookie: session } });
    expect(profile.status).toBe(200);
    const html = await profile.text();
    expect(html).toContain('<td id="name">Erin Example</td>');
    expect(html).toContain("erin@globex.example.com (verified)");
    expect(html).toContain("Globex");
    // Sandbox: the avatar comes from the emulator, and the page may load images from nowhere else.
    const emulatorOrigin = running.emulator!.url;
    expect(html).toContain(`id="avatar" src="${emulatorOrigin}/avatars/U0000000005_512.svg"`);
    expect(profile.headers.get("content-security-policy")).toContain(`img-src ${emulatorOrigin} data:;`);

    // No session, or a tampered one: back to the sign-in page.
    expect((await viaNetwork(`${url}/profile`)).headers.get("location")).toBe("/slack/login");
    const [name, value] = session.split("=") as [string, string];
    const [v, payload, mac] = value.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { d: Record<string, unknown> };
    claims.d.name = "Mallory";
    const forged = `${name}=${v}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${mac}`;
    const refused = await viaNetwork(`${url}/profile`, { headers: { cookie: forged } });
    expect(refused.status).toBe(303);
    expect(refused.headers.get("location")).toBe("/slack/login");

    // Logout from another site is refused; the session survives.
    const cross = await viaNetwork(`${url}/logout`, {
      method: "POST",
      headers: { cookie: session, origin: "https://evil.example", "sec-fetch-site": "cross-site" },
    });
    expect(cross.status).toBe(403);
    expect(cross.headers.get("x-slack-oauth-error")).toBe(ErrorCode.CrossSiteRequest);
    expect(cross.headers.getSetCookie()).toEqual([]);
    const crossOriginOnly = await viaNetwork(`${url}/logout`, {
      method: "POST",
      headers: { cookie: session, origin: "https://evil.example" },
    });
    expect(crossOriginOnly.status).toBe(403);
    expect((await viaNetwork(`${url}/profile`, { headers: { cookie: session } })).status).toBe(200);
    expect((await viaNetwork(`${url}/logout`, { headers: { cookie: session } })).status).toBe(405);

    const out = await viaNetwork(`${url}/logout`, {
      method: "POST",
      headers: { cookie: session, origin: url, "sec-fetch-site": "same-origin" },
    });
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/");
    const cleared = out.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE_NAME}=`))!;
    expect(cleared).toMatch(new RegExp(`^${SESSION_COOKIE_NAME}=; .*Max-Age=0`));

    // No log line carries the session, a token or the id_token.
    const log = lines.join("\n");
    expect(log).not.toContain(value);
    expect(log).not.toMatch(/xox[a-z]-(?!\*)/);
    expect(log).not.toContain("eyJ");
  });

  it("a replayed login callback gets a 400 page, not a second session", async () => {
    const { running } = await sandbox();
    const page = await viaNetwork(`${running.url}/slack/login`);
    const href = /id="sign-in-with-slack" href="([^"]+)"/.exec(await page.text())![1]!.replaceAll("&amp;", "&");
    const stateCookie = cookiePair(page, OIDC_STATE_COOKIE_NAME)!;
    const allowed = await fetch(href, {
      method: "POST",
      body: new URLSearchParams({ team: "T0000000001", decision: "allow" }),
      redirect: "manual",
    });
    const location = allowed.headers.get("location")!;
    expect((await viaNetwork(location, { headers: { cookie: stateCookie } })).status).toBe(303);
    const again = await viaNetwork(location, { headers: { cookie: stateCookie } });
    expect(again.status).toBe(400);
    expect(again.headers.get("x-slack-oauth-error")).toBe(ErrorCode.StateReused);
    expect(cookiePair(again, SESSION_COOKIE_NAME)).toBeUndefined();
    expect(await again.text()).toContain("Sign-in not completed");
  });

  it("sends /slack/login to the printed origin first (127.0.0.1 → localhost), as the install route", async () => {
    const { running } = await sandbox();
    const other = running.url.replace("localhost", "127.0.0.1");
    const res = await viaNetwork(`${other}/slack/login`);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${running.url}/slack/login`);
  });
});

describe("reference app: hostile claims", () => {
  it("escapes a <script> name and a hostile email on the profile page", async () => {
    const appUrl = "http://localhost:3000";
    const emu = await startEmulator({
      appUrl,
      world: {
        workspaces: [{ id: "T0000000009", name: '<img src=x onerror="alert(1)">', domain: "evil" }],
        users: [
          {
            id: "U0000000009",
            teamId: "T0000000009",
            name: "eve",
            realName: '<script>alert("pwned")</script> Eve',
            email: "eve+<b>@evil.example",
            isAdmin: true,
          },
        ],
      },
    });
    cleanup.push(() => emu.close());
    const app = createApp({
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      signingSecret: emu.app.signingSecret,
      scopes: ["commands"],
      userScopes: [],
      redirectUri: `${appUrl}/slack/oauth_redirect`,
      apiUrl: emu.apiUrl,
      authorizeUrl: emu.authorizeUrl,
      installationStore: new MemoryInstallationStore(),
      stateStore: new MemoryStateStore(),
      logger: jsonLogger(() => {}),
      api: new SlackApiClient({ baseUrl: emu.apiUrl, retryBaseDelayMs: 0 }),
      oidcBaseUrl: emu.url,
      sessionSecret: randomBytes(32).toString("hex"),
    });
    // The app without a socket: the emulator's redirects to localhost:3000 are handed to it directly.
    const viaHandler: Fetcher = (url, init) => app(new Request(url, init));
    const { session } = await signInThrough(viaHandler, appUrl, { team: "T0000000009" });
    expect(session).toMatch(new RegExp(`^${SESSION_COOKIE_NAME}=v1\\.`));
    const profile = await app(new Request(`${appUrl}/profile`, { headers: { cookie: session } }));
    const html = await profile.text();
    expect(profile.status).toBe(200);
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; Eve");
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
    expect(html).toContain("eve+&lt;b&gt;@evil.example");
  });
});
