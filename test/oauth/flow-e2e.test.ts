/**
 * End to end against the emulator, over real sockets: every kind of install the flow supports, the hooks,
 * redirects, custom renderers and the state-less opt-in.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { OAuthFlow } from "../../src/oauth/flow.js";
import { STATE_COOKIE_NAME } from "../../src/state/cookie.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import {
  callback,
  consent,
  expectFailurePage,
  expectNoSecretsInLogs,
  fullInstall,
  type Harness,
  type HarnessOptions,
  startHarness,
  startInstall,
} from "./flow-harness.js";

let h: Harness | undefined;
async function harness(options: HarnessOptions = {}): Promise<Harness> {
  h = await startHarness(options);
  return h;
}
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Calls auth.test at the emulator with a token, independently of the library. */
async function authTest(emuApiUrl: string, token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${emuApiUrl}auth.test`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  return (await res.json()) as Record<string, unknown>;
}

describe("OAuthFlow end to end (emulator)", () => {
  it("v2 workspace install: saved with botId from auth.test, success page deep-links into Slack", async () => {
    const t = await harness();
    const { response, html } = await fullInstall(t);
    expect(response.status, html).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const saved = await t.store.findInstallation({ teamId: "T0000000001" });
    expect(saved).toBeDefined();
    const who = await authTest(t.emu.apiUrl, saved!.botToken!);
    expect(who.ok).toBe(true);
    expect(saved).toMatchObject({
      appId: t.emu.app.appId,
      teamId: "T0000000001",
      teamName: "Northwind Traders",
      botId: who.bot_id,
      botUserId: who.user_id,
      userId: "U0000000001",
      isEnterpriseInstall: false,
      tokenType: "bot",
    });
    expect(saved!.botId).toMatch(/^B/);
    expect(saved!.botScopes.sort()).toEqual(["chat:write", "commands"]);
    expect(html).toContain(`href="slack://app?team=T0000000001&amp;id=${t.emu.app.appId}"`);
    expect(html).toContain("Northwind Traders");
    // Our cookie is deleted on success.
    expect(
      response.headers.getSetCookie().some((c) => c.startsWith(`${STATE_COOKIE_NAME}=;`) && /Max-Age=0/.test(c)),
    ).toBe(true);
    // The exchange sent the redirect_uri (the emulator binds the code to it) and succeeded once.
    expect(t.emu.calls("oauth.v2.access")).toEqual([expect.objectContaining({ ok: true, teamId: "T0000000001" })]);
    expectNoSecretsInLogs(t);
  });

  it("v1 legacy app (oauth.access via /oauth/authorize)", async () => {
    const t = await harness();
    t.reconfigure({ version: "v1", scopes: ["bot", "commands"], authorizationUrl: `${t.emu.url}/oauth/authorize` });
    const started = await startInstall(t);
    expect(new URL(started.authorizeUrl).pathname).toBe("/oauth/authorize");
    expect(new URL(started.authorizeUrl).searchParams.get("scope")).toBe("bot commands");
    const location = await consent(started.authorizeUrl, { team: "T0000000002" });
    const res = await callback(location, started.cookie);
    const html = await res.text();
    expect(res.status, html).toBe(200);
    expect(t.emu.calls("oauth.access")).toEqual([expect.objectContaining({ ok: true })]);
    expect(t.emu.calls("oauth.v2.access")).toHaveLength(0);
    const saved = await t.store.findInstallation({ teamId: "T0000000002" });
    expect(saved?.botToken).toMatch(/^xoxb-/);
    expect(saved?.userToken).toMatch(/^xoxp-/);
    expect(saved?.botId).toMatch(/^B/);
    expect(saved?.userId).toBe("U0000000004");
    expect(html).toContain("Globex");
    // oauth.access has no app_id: the flow takes it from auth.test for the deep link.
    expect(saved?.appId).toBe(t.emu.app.appId);
    expect(html).toContain(`href="slack://app?team=T0000000002&amp;id=${t.emu.app.appId}"`);
  });

  it("org-wide install: isEnterpriseInstall, no teamId, enterpriseUrl from auth.test; links to the org's app page", async () => {
    const t = await harness();
    const { response, html } = await fullInstall(t, { team: "E0000000001" });
    expect(response.status, html).toBe(200);
    const saved = await t.store.findInstallation({ enterpriseId: "E0000000001", isEnterpriseInstall: true });
    expect(saved).toBeDefined();
    expect(saved!.isEnterpriseInstall).toBe(true);
    expect(saved!.teamId).toBeUndefined();
    expect(saved!.enterpriseId).toBe("E0000000001");
    expect(saved!.enterpriseName).toBe("Acme Corp");
    expect(saved!.enterpriseUrl).toBe("https://acme-org.enterprise.slack.com/");
    expect(saved!.botId).toMatch(/^B/);
    // Found for any workspace of the org.
    expect(
      (await t.store.findBot({ enterpriseId: "E0000000001", teamId: "T0000000004", isEnterpriseInstall: true }))?.botId,
    ).toBe(saved!.botId);
    expect(html).toContain(
      `href="https://acme-org.enterprise.slack.com/manage/organization/apps/profile/${t.emu.app.appId}/workspaces/add"`,
    );
    expect(html).toContain("Acme Corp");
  });

  it("user-scope-only install: no bot token, tokenType user", async () => {
    const t = await harness({ flow: { scopes: [], userScopes: ["identify", "search:read"] } });
    const started = await startInstall(t);
    const q = new URL(started.authorizeUrl).searchParams;
    expect(q.has("scope")).toBe(false);
    expect(q.get("user_scope")).toBe("identify,search:read");
    const res = await callback(await consent(started.authorizeUrl), started.cookie);
    expect(res.status, await res.text()).toBe(200);
    const saved = await t.store.findInstallation({ teamId: "T0000000001", userId: "U0000000001" });
    expect(saved?.userToken).toMatch(/^xoxp-/);
    expect(saved?.botToken).toBeUndefined();
    expect(saved?.botId).toBeUndefined();
    expect(saved?.tokenType).toBe("user");
    expect(saved?.userScopes.sort()).toEqual(["identify", "search:read"]);
    expect(await t.store.findBot({ teamId: "T0000000001" })).toBeUndefined();
    // No bot token, so no auth.test for a workspace install.
    expect(t.emu.calls("auth.test")).toHaveLength(0);
  });

  it.each([
    { name: "confidential client (secret + verifier)", publicClient: false },
    { name: "public client (verifier, no secret)", publicClient: true },
  ])("PKCE, $name: the verifier stays server-side", async ({ publicClient }) => {
    const t = await harness({ emulator: { pkce: true } });
    t.reconfigure({ pkce: true, ...(publicClient ? { clientSecret: undefined } : {}) } as never);
    const started = await startInstall(t);
    const issued = t.states.issued.get(started.state);
    const verifier = issued?.codeVerifier;
    expect(typeof verifier).toBe("string");
    const v = verifier as string;
    const q = new URL(started.authorizeUrl).searchParams;
    expect(q.get("code_challenge")).toBe(createHash("sha256").update(v).digest("base64url"));
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(started.authorizeUrl).not.toContain(v);
    expect(started.cookie).toBe(started.state);
    expect(started.response.headers.getSetCookie().join("\n")).not.toContain(v);
    expect(started.html).not.toContain(v);
    const location = await consent(started.authorizeUrl);
    expect(location.href).not.toContain(v);
    const res = await callback(location, started.cookie);
    expect(res.status, await res.text()).toBe(200);
    expect(t.emu.calls("oauth.v2.access")).toEqual([expect.objectContaining({ ok: true })]);
    expect(t.logger.text).not.toContain(v);
  });

  it("incoming webhook: url, channel, channel id and configuration URL are saved", async () => {
    const t = await harness({ flow: { scopes: ["incoming-webhook", "commands"] } });
    const { response, html } = await fullInstall(t);
    expect(response.status, html).toBe(200);
    const saved = await t.store.findInstallation({ teamId: "T0000000001" });
    expect(saved?.incomingWebhookUrl).toMatch(new RegExp(`^${t.emu.url}/services/T0000000001/`));
    expect(saved?.incomingWebhookChannel).toBe("#general");
    expect(saved?.incomingWebhookChannelId).toMatch(/^C/);
    expect(saved?.incomingWebhookConfigurationUrl).toMatch(/^https:\/\//);
    expect(html).not.toContain(saved!.incomingWebhookUrl!); // a webhook URL is a credential
    const post = await fetch(saved!.incomingWebhookUrl!, { method: "POST", body: JSON.stringify({ text: "hello" }) });
    expect(post.status).toBe(200);
  });

  describe("hooks", () => {
    it("beforeInstallation returning false → 403 INSTALL_VETOED, nothing saved", async () => {
      const seen: unknown[] = [];
      const t = await harness({
        flow: {
          beforeInstallation: ({ installation }) => {
            seen.push(installation.teamId);
            return false;
          },
        },
      });
      const { started, location } = await (async () => {
        const s = await startInstall(t);
        return { started: s, location: await consent(s.authorizeUrl) };
      })();
      await expectFailurePage(await callback(location, started.cookie), {
        code: ErrorCode.InstallVetoed,
        status: 403,
        message: /refused this installation/,
      });
      expect(seen).toEqual(["T0000000001"]);
      expect(t.store.attempts).toBe(0);
      expect(await t.store.findInstallation({ teamId: "T0000000001" })).toBeUndefined();
    });

    it("customValues added by beforeInstallation persist; the hook sees the request and the metadata", async () => {
      const t = await harness({
        route: (request, flow) =>
          new URL(request.url).pathname === "/slack/install"
            ? flow.handleInstall(request, { metadata: { plan: "pro", account: 42 } })
            : undefined,
        flow: {
          beforeInstallation: ({ installation, request, metadata }) => {
            installation.customValues.plan = metadata?.plan;
            installation.customValues.account = metadata?.account;
            installation.customValues.userAgent = request.headers.get("x-test-agent");
            return undefined;
          },
        },
      });
      const started = await startInstall(t);
      const location = await consent(started.authorizeUrl);
      const res = await callback(location, started.cookie, { headers: { "x-test-agent": "browser-1" } });
      expect(res.status, await res.text()).toBe(200);
      const saved = await t.store.findInstallation({ teamId: "T0000000001" });
      expect(saved?.customValues).toEqual({ plan: "pro", account: 42, userAgent: "browser-1" });
      expect((await t.store.findBot({ teamId: "T0000000001" }))?.customValues).toMatchObject({ plan: "pro" });
    });

    it("afterInstallation's own Response keeps its Set-Cookie AND gets our cookie deletion", async () => {
      let saved = -1;
      const t = await harness({
        flow: {
          afterInstallation: ({ installation }) => {
            saved = t.store.saves;
            const headers = new Headers({ Location: `/welcome?team=${installation.teamId}` });
            headers.append("Set-Cookie", "session=s1; Path=/; HttpOnly");
            headers.append("Set-Cookie", "theme=dark; Path=/");
            return new Response(null, { status: 303, headers });
          },
        },
      });
      const { response } = await fullInstall(t);
      expect(saved).toBe(1); // runs after the save
      expect(response.status).toBe(303);
      expect(response.headers.get("location")).toBe("/welcome?team=T0000000001");
      const cookies = response.headers.getSetCookie();
      expect(cookies).toHaveLength(3);
      expect(cookies).toContain("session=s1; Path=/; HttpOnly");
      expect(cookies).toContain("theme=dark; Path=/");
      expect(cookies.find((c) => c.startsWith(`${STATE_COOKIE_NAME}=;`))).toMatch(/Max-Age=0/);
    });

    it("afterInstallation that throws → 500 page that says the installation was saved", async () => {
      const t = await harness({
        flow: {
          afterInstallation: () => {
            throw new Error("CRM down");
          },
        },
      });
      const started = await startInstall(t);
      const response = await callback(await consent(started.authorizeUrl), started.cookie);
      const html = await expectFailurePage(response, {
        code: ErrorCode.AfterInstallationFailed,
        status: 500,
        message: /was installed, but finishing the setup failed/,
      });
      expect(html).not.toContain("CRM down");
      expect(t.store.saves).toBe(1);
    });
  });

  it("successUrl and failureUrl redirect instead of rendering pages", async () => {
    const t = await harness({
      flow: { successUrl: "https://app.example.com/installed", failureUrl: "/oops?from=slack" },
    });
    const { response } = await fullInstall(t);
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("https://app.example.com/installed");
    expect(response.headers.getSetCookie().some((c) => c.startsWith(`${STATE_COOKIE_NAME}=;`))).toBe(true);
    const failed = await callback(`${t.redirectUri}?error=access_denied`);
    expect(failed.status).toBe(302);
    expect(failed.headers.get("location")).toBe(`${t.url}/oops?from=slack&error=${ErrorCode.InstallCancelled}`);
    expect(failed.headers.get("x-slack-oauth-error")).toBe(ErrorCode.InstallCancelled);
    expect(await t.store.findInstallation({ teamId: "T0000000001" })).toBeDefined();
  });

  it("custom renderers (string and Response) replace the default pages; headers and cookies are kept", async () => {
    const t = await harness({
      flow: {
        renderInstallPage: ({ url }) =>
          `<!doctype html><p>custom install <a id="add-to-slack" href="${url.replaceAll("&", "&amp;")}">go</a></p>`,
        renderSuccessPage: ({ installation, openUrl }) =>
          new Response(`custom success for ${installation.teamId} → ${openUrl}`, {
            status: 201,
            headers: { "content-type": "text/plain", "set-cookie": "welcome=1; Path=/" },
          }),
        renderFailurePage: ({ code, status, retryUrl }) =>
          `<!doctype html><p>custom failure ${code} ${status} ${retryUrl}</p>`,
      },
    });
    const started = await startInstall(t);
    expect(started.html).toContain("custom install");
    expect(started.response.headers.get("content-security-policy")).toContain("default-src 'none'");
    const location = await consent(started.authorizeUrl);
    const ok = await callback(location, started.cookie);
    expect(ok.status).toBe(201);
    expect(await ok.text()).toBe(`custom success for T0000000001 → slack://app?team=T0000000001&id=${t.emu.app.appId}`);
    expect(ok.headers.getSetCookie()).toEqual(
      expect.arrayContaining(["welcome=1; Path=/", expect.stringMatching(/^slack-app-oauth-state=;/)]),
    );
    const bad = await callback(location, started.cookie);
    expect(bad.status).toBe(400);
    expect(bad.headers.get("x-slack-oauth-error")).toBe(ErrorCode.StateReused);
    expect(await bad.text()).toBe(`<!doctype html><p>custom failure ${ErrorCode.StateReused} 400 /slack/install</p>`);
  });

  describe("dangerouslyAllowInstallsWithoutState", () => {
    /** A consent started without any state (as from the App Directory); returns the callback URL. */
    async function statelessConsent(t: Harness): Promise<URL> {
      const url = new URL(t.emu.authorizeUrl);
      url.searchParams.set("client_id", t.emu.app.clientId);
      url.searchParams.set("scope", "commands,chat:write");
      url.searchParams.set("redirect_uri", t.redirectUri);
      const location = await consent(url.href);
      expect(location.searchParams.has("state")).toBe(false);
      return location;
    }

    it("without the opt-in, a state-less callback → STATE_MISSING, no exchange", async () => {
      const t = await harness();
      const location = await statelessConsent(t);
      await expectFailurePage(await callback(location), {
        code: ErrorCode.StateMissing,
        status: 400,
        message: /no state parameter/,
      });
      expect(t.emu.calls("oauth.v2.access")).toHaveLength(0);
      expect(t.store.saves).toBe(0);
    });

    it("with the opt-in, a state-less callback installs, and a warning is logged", async () => {
      const t = await harness({ flow: { dangerouslyAllowInstallsWithoutState: true } });
      expect(t.logger.lines.some((l) => /^warn .*dangerouslyAllowInstallsWithoutState is ON/.test(l))).toBe(true);
      const location = await statelessConsent(t);
      const res = await callback(location);
      expect(res.status, await res.text()).toBe(200);
      expect(t.store.saves).toBe(1);
      expect(t.logger.lines.some((l) => /^warn .*WITHOUT state/.test(l))).toBe(true);
      // A callback that does carry a state is still fully checked.
      const started = await startInstall(t);
      const withState = await consent(started.authorizeUrl);
      await expectFailurePage(await callback(withState), {
        code: ErrorCode.StateCookieMissing,
        status: 400,
        message: /did not send the cookie/,
      });
      expect(t.store.saves).toBe(1);
    });
  });

  it("directInstall: GET /slack/install redirects straight to Slack with the cookie set", async () => {
    const t = await harness({ flow: { directInstall: true } });
    const res = await fetch(`${t.url}/slack/install`, { redirect: "manual" });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(location.origin + location.pathname).toBe(t.emu.authorizeUrl);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${STATE_COOKIE_NAME}=`))!;
    expect(cookie).toContain(`${STATE_COOKIE_NAME}=${location.searchParams.get("state")};`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Max-Age=600/);
  });
});

describe("OAuthFlow configuration", () => {
  const deps = {
    stateStore: new MemoryStateStore(),
    installationStore: new MemoryInstallationStore(),
    api: { oauthV2Access: async () => ({}), oauthAccess: async () => ({}), authTest: async () => ({}) },
  };
  const secret = randomBytes(16).toString("hex");

  it.each([
    ["no client id", { clientId: "" }, /clientId is required/],
    ["no secret without PKCE", { clientId: "1.2" }, /clientSecret is required/],
    ["v1 without a secret", { clientId: "1.2", version: "v1", pkce: true }, /v1 apps need clientSecret/],
    [
      "v1 with PKCE",
      { clientId: "1.2", clientSecret: secret, version: "v1", pkce: true },
      /PKCE is only available to v2/,
    ],
  ])("refuses %s", (_name, options, message) => {
    expect(() => new OAuthFlow({ ...deps, ...(options as { clientId: string }) })).toThrow(message);
  });

  it("a PKCE public client needs no secret", () => {
    expect(() => new OAuthFlow({ ...deps, clientId: "1.2", pkce: true, scopes: ["commands"] })).not.toThrow();
  });
});
