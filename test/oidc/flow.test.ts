/**
 * OpenIDConnectFlow end to end against the Slack emulator (real sockets for Slack; the flow is called as
 * `Request → Response`, as a browser would reach it), and against a fake Slack serving forged id_tokens.
 */
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { type Emulator, type EmulatorOptions, startEmulator } from "../../src/emulator/index.js";
import { ErrorCode } from "../../src/errors.js";
import { OAuthFlow } from "../../src/oauth/flow.js";
import {
  OIDC_STATE_COOKIE_NAME,
  OpenIDConnectFlow,
  type OpenIDConnectFlowOptions,
  type SignInHookContext,
} from "../../src/oidc/flow.js";
import type { Logger } from "../../src/redact.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { STATE_COOKIE_NAME } from "../../src/state/cookie.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import {
  CLIENT_ID,
  claimsFor,
  cookiePair,
  type FakeSlack,
  forgeHs256,
  forgeNone,
  makeKey,
  sign,
  startFakeSlack,
  tamper,
} from "./helpers.js";

const APP = "http://localhost:3000";
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

class Lines implements Logger {
  readonly lines: string[] = [];
  debug(m: string) {
    this.lines.push(`debug ${m}`);
  }
  info(m: string) {
    this.lines.push(`info ${m}`);
  }
  warn(m: string) {
    this.lines.push(`warn ${m}`);
  }
  error(m: string) {
    this.lines.push(`error ${m}`);
  }
}

async function emulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const emu = await startEmulator({ appUrl: APP, ...options });
  cleanup.push(() => emu.close());
  return emu;
}

function flowFor(emu: Emulator, options: Partial<OpenIDConnectFlowOptions> = {}) {
  const logger = new Lines();
  const stateStore = new MemoryStateStore();
  const flow = new OpenIDConnectFlow({
    clientId: emu.app.clientId,
    clientSecret: emu.app.clientSecret,
    stateStore,
    api: new SlackApiClient({ baseUrl: emu.apiUrl, retryBaseDelayMs: 0 }),
    oidcBaseUrl: emu.url,
    logger,
    ...options,
  });
  return { flow, logger, stateStore };
}

/** GET /slack/login like a browser: the page's button URL and the state cookie. */
async function login(flow: OpenIDConnectFlow, team?: string) {
  const res = await flow.handleLogin(new Request(`${APP}/slack/login`), team ? { team } : {});
  expect(res.status).toBe(200);
  const html = await res.text();
  const href = /id="sign-in-with-slack" href="([^"]+)"/.exec(html)?.[1];
  expect(href, html).toBeDefined();
  const authorizeUrl = href!.replaceAll("&amp;", "&");
  const cookie = cookiePair(res, OIDC_STATE_COOKIE_NAME);
  expect(cookie).toBeDefined();
  return { authorizeUrl, cookie: cookie!, html, response: res };
}

/** The emulator's consent form, answered like a browser; returns the redirect back to the app. */
async function consent(
  authorizeUrl: string,
  form: Record<string, string> = { team: "T0000000002", decision: "allow" },
) {
  const page = await fetch(authorizeUrl);
  expect(page.status, await page.clone().text()).toBe(200);
  const res = await fetch(authorizeUrl, { method: "POST", body: new URLSearchParams(form), redirect: "manual" });
  expect(res.status).toBe(302);
  return res.headers.get("location")!;
}

function callback(flow: OpenIDConnectFlow, location: string, cookie?: string) {
  return flow.handleCallback(new Request(location, { headers: cookie ? { cookie } : {} }));
}

async function signIn(flow: OpenIDConnectFlow, form?: Record<string, string>) {
  const { authorizeUrl, cookie } = await login(flow);
  const location = await consent(authorizeUrl, form);
  return { response: await callback(flow, location, cookie), location, cookie, authorizeUrl };
}

async function expectFailure(res: Response, status: number, code: string) {
  const html = await res.text();
  expect(res.status, html).toBe(status);
  expect(res.headers.get("x-slack-oauth-error")).toBe(code);
  expect(html).toContain("Sign-in not completed");
  expect(html).toContain(code);
  expect(html).toContain('href="/slack/login"');
  // The login state cookie is cleared on every failure.
  expect(
    res.headers.getSetCookie().some((c) => c.startsWith(`${OIDC_STATE_COOKIE_NAME}=;`) && c.includes("Max-Age=0")),
  ).toBe(true);
  return html;
}

describe("OpenIDConnectFlow against the emulator", () => {
  it("signs in: state + nonce, the id_token verified, userInfo read, onSignIn gets typed claims", async () => {
    const emu = await emulator();
    const seen: SignInHookContext[] = [];
    const { flow, stateStore } = flowFor(emu, {
      onSignIn: (ctx) => {
        seen.push(ctx);
        return new Response(null, {
          status: 303,
          headers: { Location: "/profile", "Set-Cookie": "app-session=1; Path=/" },
        });
      },
    });
    const { authorizeUrl, cookie, response: loginResponse } = await login(flow);
    expect(loginResponse.headers.get("cache-control")).toBe("no-store");
    expect(cookie).toMatch(new RegExp(`^${OIDC_STATE_COOKIE_NAME}=[A-Za-z0-9_-]{43}$`));
    const setCookie = loginResponse.headers.getSetCookie()[0]!;
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Lax");
    expect(setCookie).not.toContain("Secure"); // plain http://localhost
    const q = new URL(authorizeUrl).searchParams;
    expect(authorizeUrl.startsWith(`${emu.url}/openid/connect/authorize?`)).toBe(true);
    expect(q.get("response_type")).toBe("code");
    expect(q.get("scope")).toBe("openid profile email");
    expect(q.get("redirect_uri")).toBe(`${APP}/slack/login/callback`);
    expect(q.get("state")).toBe(cookie.split("=")[1]);
    const nonce = q.get("nonce")!;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits
    // The nonce is kept server-side with the state.
    const peek = await stateStore.consume(q.get("state")!);
    expect(peek).toMatchObject({ t: "oidc", nonce });
    // (That consumed it: start again for the real run.)
    const { response, location } = await signIn(flow, { team: "T0000000002", user: "U0000000005", decision: "allow" });
    expect(new URL(location).pathname).toBe("/slack/login/callback");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/profile");
    const cookies = response.headers.getSetCookie();
    expect(cookies).toContain("app-session=1; Path=/");
    expect(cookies.some((c) => c.startsWith(`${OIDC_STATE_COOKIE_NAME}=;`))).toBe(true);
    expect(seen).toHaveLength(1);
    const ctx = seen[0]!;
    expect(ctx.identity).toMatchObject({
      userId: "U0000000005",
      teamId: "T0000000002",
      email: "erin@globex.example.com",
      emailVerified: true,
      name: "Erin Example",
      givenName: "Erin",
      familyName: "Example",
      teamName: "Globex",
      teamDomain: "globex",
      locale: expect.any(String),
      // The emulator serves avatars itself: nothing a page shows comes from outside the machine.
      picture: `${emu.url}/avatars/U0000000005_512.svg`,
    });
    expect(ctx.identity.userImages[192]).toBe(`${emu.url}/avatars/U0000000005_192.svg`);
    expect(ctx.claims.aud).toBe(emu.app.clientId);
    expect(ctx.claims.iss).toBe("https://slack.com");
    expect(ctx.userInfo?.sub).toBe("U0000000005");
    expect(ctx.tokens.accessToken).toMatch(/^xoxp-/);
    expect(ctx.tokens.idToken.split(".")).toHaveLength(3);
    expect(emu.calls("openid.connect.userInfo")).toEqual([
      expect.objectContaining({ method: "openid.connect.userInfo", ok: true }),
    ]);
  });

  it("renders a default signed-in page (escaped) without a hook; HEAD /slack/login issues no state", async () => {
    const emu = await emulator();
    const { flow } = flowFor(emu);
    const { response } = await signIn(flow);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain("Signed in");
    expect(html).toContain("Dave Admin"); // the workspace admin by default
    const head = await flow.handleLogin(new Request(`${APP}/slack/login`, { method: "HEAD" }));
    expect(head.status).toBe(200);
    expect(head.headers.getSetCookie()).toEqual([]);
    expect((await flow.handleLogin(new Request(`${APP}/slack/login`, { method: "POST" }))).status).toBe(405);
  });

  it("a replayed state (the same callback again) → 400 SLACK_OAUTH_STATE_REUSED; no second token exchange", async () => {
    const emu = await emulator();
    const { flow } = flowFor(emu);
    const first = await signIn(flow);
    expect(first.response.status).toBe(200);
    const again = await callback(flow, first.location, first.cookie);
    const html = await expectFailure(again, 400, ErrorCode.StateReused);
    expect(html).toContain("already used");
    expect(emu.calls("openid.connect.token")).toHaveLength(1);
  });

  it("cookie and state checks: missing cookie, other browser's cookie, no state, no code, cancel, POST", async () => {
    const emu = await emulator();
    const { flow } = flowFor(emu);
    const a = await login(flow);
    const b = await login(flow);
    const location = await consent(a.authorizeUrl);
    await expectFailure(await callback(flow, location), 400, ErrorCode.StateCookieMissing);
    await expectFailure(await callback(flow, location, b.cookie), 400, ErrorCode.StateCookieMismatch);
    // The install flow's cookie does not count as the login cookie.
    const installCookie = `${STATE_COOKIE_NAME}=${a.cookie.split("=")[1]}`;
    await expectFailure(await callback(flow, location, installCookie), 400, ErrorCode.StateCookieMissing);
    const noState = new URL(location);
    noState.searchParams.delete("state");
    await expectFailure(await callback(flow, noState.href, a.cookie), 400, ErrorCode.StateMissing);
    const noCode = new URL(location);
    noCode.searchParams.delete("code");
    await expectFailure(await callback(flow, noCode.href, a.cookie), 400, ErrorCode.MissingCode);
    const unknown = new URL(location);
    unknown.searchParams.set("state", "A".repeat(43));
    await expectFailure(
      await callback(flow, unknown.href, `${OIDC_STATE_COOKIE_NAME}=${"A".repeat(43)}`),
      400,
      ErrorCode.StateInvalid,
    );
    const post = await flow.handleCallback(new Request(location, { method: "POST", headers: { cookie: a.cookie } }));
    await expectFailure(post, 405, ErrorCode.BadRequest);
    // After all that, the real browser still completes (nothing above consumed its state).
    expect((await callback(flow, location, a.cookie)).status).toBe(200);
    // Cancel on Slack's page: a clear 400, and the state is burned.
    const c = await login(flow);
    const denied = await consent(c.authorizeUrl, { team: "T0000000002", decision: "deny" });
    expect(new URL(denied).searchParams.get("error")).toBe("access_denied");
    await expectFailure(await callback(flow, denied, c.cookie), 400, ErrorCode.SignInCancelled);
    const replay = new URL(denied);
    replay.searchParams.delete("error");
    replay.searchParams.set("code", "x");
    await expectFailure(await callback(flow, replay.href, c.cookie), 400, ErrorCode.StateReused);
  });

  it("a state issued by the install flow is refused at the login callback", async () => {
    const emu = await emulator();
    const stateStore = new MemoryStateStore();
    const { flow } = flowFor(emu, { stateStore });
    // Even one that happens to carry a nonce: only the sign-in flow's own states count.
    for (const data of [{ t: "install" }, { t: "install", nonce: "n".repeat(43) }]) {
      const state = await stateStore.issue(data);
      const res = await callback(
        flow,
        `${APP}/slack/login/callback?code=abc&state=${state}`,
        `${OIDC_STATE_COOKIE_NAME}=${state}`,
      );
      await expectFailure(res, 400, ErrorCode.StateInvalid);
    }
    expect(emu.calls("openid.connect.token")).toHaveLength(0);
  });

  it("an install and a sign-in started in the same browser do not clobber each other", async () => {
    const emu = await emulator();
    const stateStore = new MemoryStateStore();
    const { flow } = flowFor(emu, { stateStore });
    const install = new OAuthFlow({
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      scopes: ["commands"],
      redirectUri: `${APP}/slack/oauth_redirect`,
      authorizationUrl: emu.authorizeUrl,
      stateStore,
      installationStore: new MemoryInstallationStore(),
      api: new SlackApiClient({ baseUrl: emu.apiUrl, retryBaseDelayMs: 0 }),
      logger: new Lines(),
    });
    const installStart = await install.startInstall(new Request(`${APP}/slack/install`));
    const signInStart = await login(flow);
    const jar = `${installStart.cookie.split(";")[0]}; ${signInStart.cookie}`;
    const signInBack = await consent(signInStart.authorizeUrl);
    const installBack = await consent(installStart.url, { team: "T0000000001", decision: "allow" });
    expect((await callback(flow, signInBack, jar)).status).toBe(200);
    const installed = await install.handleCallback(new Request(installBack, { headers: { cookie: jar } }));
    expect(installed.status, await installed.clone().text()).toBe(200);
  });

  it("picks up the emulator's key rotation without a restart (unknown kid → JWKS refetch)", async () => {
    // The JWKS cache (jose's remote set) reads the system clock: it is moved with a faked Date.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const emu = await emulator();
    let jwksFetches = 0;
    const { flow } = flowFor(emu, {
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        jwksFetches++;
        return fetch(input, init);
      }) as typeof fetch,
    });
    expect((await signIn(flow)).response.status).toBe(200);
    expect(jwksFetches).toBe(1);
    const oldKids = flow.verifier.jwks.stats().kids;
    const newKid = await emu.rotateOidcKey();
    expect(oldKids).not.toContain(newKid);
    vi.setSystemTime(Date.now() + 31_000); // the refetch interval since the first fetch has passed
    expect((await signIn(flow)).response.status).toBe(200);
    expect(jwksFetches).toBe(2);
    expect(flow.verifier.jwks.stats().kids).toContain(newKid);
    // Once the old key is dropped and the new one cached, sign-ins need no more fetches.
    emu.dropOldOidcKeys();
    expect((await signIn(flow)).response.status).toBe(200);
    expect(jwksFetches).toBe(2);
  });

  it("an emulator with another issuer → 401 SLACK_OAUTH_ID_TOKEN_ISSUER_MISMATCH; the issuer option fixes it", async () => {
    const emu = await emulator({ oidcIssuer: "https://issuer.example" });
    const { flow, logger } = flowFor(emu);
    const html = await expectFailure((await signIn(flow)).response, 401, ErrorCode.IdTokenIssuerMismatch);
    expect(html).toContain("issued by someone other than Slack");
    expect(logger.lines.join("\n")).toMatch(/ID_TOKEN_ISSUER_MISMATCH.*iss/);
    const fixed = flowFor(emu, { issuer: "https://issuer.example" }).flow;
    expect((await signIn(fixed)).response.status).toBe(200);
  });

  it("onSignIn may veto (403) and its failure is a 500 page", async () => {
    const emu = await emulator();
    const vetoed = flowFor(emu, { onSignIn: ({ identity }) => identity.teamId !== "T0000000002" }).flow;
    await expectFailure((await signIn(vetoed)).response, 403, ErrorCode.SignInVetoed);
    const broken = flowFor(emu, {
      onSignIn: () => {
        throw new Error("db down");
      },
    }).flow;
    await expectFailure((await signIn(broken)).response, 500, ErrorCode.SignInFailed);
  });

  it("a used code → 400 SLACK_OAUTH_SIGN_IN_FAILED; Slack failing → 502", async () => {
    const emu = await emulator();
    const { flow } = flowFor(emu);
    const first = await signIn(flow);
    expect(first.response.status).toBe(200);
    const usedCode = new URL(first.location).searchParams.get("code")!;
    const second = await login(flow);
    const back = new URL(await consent(second.authorizeUrl));
    back.searchParams.set("code", usedCode);
    await expectFailure(await callback(flow, back.href, second.cookie), 400, ErrorCode.SignInFailed);
    emu.injectFault({ method: "openid.connect.token", status: 500 });
    await expectFailure((await signIn(flow)).response, 502, ErrorCode.SignInFailed);
  });

  it("never logs the code, the tokens or the id_token", async () => {
    const emu = await emulator();
    const { flow, logger } = flowFor(emu);
    const { location } = await signIn(flow);
    await callback(flow, location, "x=y"); // a failure, for the log
    const text = logger.lines.join("\n");
    expect(text).not.toContain(new URL(location).searchParams.get("code")!);
    expect(text).not.toMatch(/xox[a-z]-/);
    expect(text).not.toMatch(/eyJ/);
  });
});

describe("OpenIDConnectFlow: forged id_tokens from a fake Slack", () => {
  async function fakeSetup() {
    const key = await makeKey();
    const fake = await startFakeSlack([key]);
    cleanup.push(() => fake.close());
    const hook: SignInHookContext[] = [];
    const flow = new OpenIDConnectFlow({
      clientId: CLIENT_ID,
      clientSecret: "fake-client-secret-for-tests-only",
      stateStore: new MemoryStateStore(),
      api: new SlackApiClient({ baseUrl: fake.apiUrl, retryBaseDelayMs: 0, maxRetries: 0 }),
      oidcBaseUrl: fake.url,
      logger: new Lines(),
      onSignIn: (ctx) => {
        hook.push(ctx);
      },
    });
    return { key, fake, flow, hook };
  }

  /** Starts a sign-in, lets `forge` build the id_token for its nonce, and runs the callback. */
  async function attempt(
    flow: OpenIDConnectFlow,
    fake: FakeSlack,
    forge: (nonce: string) => string | Promise<string>,
  ): Promise<Response> {
    const { authorizeUrl, cookie } = await login(flow);
    const q = new URL(authorizeUrl).searchParams;
    fake.idToken = await forge(q.get("nonce")!);
    return callback(flow, `${APP}/slack/login/callback?code=fake-code&state=${q.get("state")}`, cookie);
  }

  it("a genuine token from the fake Slack signs in (the harness works)", async () => {
    const { key, fake, flow, hook } = await fakeSetup();
    const res = await attempt(flow, fake, (nonce) => sign(claimsFor(nonce), key));
    expect(res.status, await res.clone().text()).toBe(200);
    expect(hook).toHaveLength(1);
    expect(hook[0]?.identity.picture).toBe("https://avatars.example.com/erin_512.png");
  });

  it("each forgery is refused with its code and a clear 401 page; onSignIn never runs", async () => {
    const { key, fake, flow, hook } = await fakeSetup();
    const now = Math.floor(Date.now() / 1000);
    const stranger = await makeKey();
    const impostor = await makeKey(key.kid);
    const cases: Array<[string, string, (nonce: string) => string | Promise<string>]> = [
      ["wrong nonce", ErrorCode.IdTokenNonceMismatch, () => sign(claimsFor("someone-elses-nonce-1234567890"), key)],
      ["expired", ErrorCode.IdTokenExpired, (n) => sign(claimsFor(n, { iat: now - 900, exp: now - 600 }), key)],
      ["wrong audience", ErrorCode.IdTokenAudienceMismatch, (n) => sign(claimsFor(n, { aud: "9999.1111" }), key)],
      [
        "wrong issuer",
        ErrorCode.IdTokenIssuerMismatch,
        (n) => sign(claimsFor(n, { iss: "https://evil.example" }), key),
      ],
      ["alg none", ErrorCode.IdTokenAlgorithmNotAllowed, (n) => forgeNone(claimsFor(n), key.kid)],
      [
        "HS256 keyed with the public key",
        ErrorCode.IdTokenAlgorithmNotAllowed,
        (n) => forgeHs256(claimsFor(n), JSON.stringify(key.publicJwk), key.kid),
      ],
      ["unknown key", ErrorCode.IdTokenKeyNotFound, (n) => sign(claimsFor(n), stranger)],
      ["another key under Slack's kid", ErrorCode.IdTokenSignatureInvalid, (n) => sign(claimsFor(n), impostor)],
      [
        "tampered payload",
        ErrorCode.IdTokenSignatureInvalid,
        async (n) => tamper(await sign(claimsFor(n), key), (c) => ({ ...c, email: "ceo@globex.example.com" })),
      ],
      ["no id_token", ErrorCode.IdTokenInvalid, () => ""],
    ];
    for (const [name, code, forge] of cases) {
      const res = await attempt(flow, fake, forge);
      const html = await expectFailure(res, 401, code);
      expect(html, name).toMatch(/Slack&#39;s sign-in answer/);
    }
    expect(hook).toHaveLength(0);
    // The unknown kid caused a refetch only if the interval allowed it: at most 2 fetches in all.
    expect(fake.jwksFetches).toBeLessThanOrEqual(2);
  });

  it("userInfo describing another user → 401 SLACK_OAUTH_USERINFO_MISMATCH", async () => {
    const { key, fake, flow, hook } = await fakeSetup();
    fake.userInfo = { ...fake.userInfo, sub: "U0000000001" };
    await expectFailure(await attempt(flow, fake, (n) => sign(claimsFor(n), key)), 401, ErrorCode.UserInfoMismatch);
    fake.userInfo = { ...fake.userInfo, sub: "U0000000005", "https://slack.com/team_id": "T0000000001" };
    await expectFailure(await attempt(flow, fake, (n) => sign(claimsFor(n), key)), 401, ErrorCode.UserInfoMismatch);
    expect(hook).toHaveLength(0);
  });
});
