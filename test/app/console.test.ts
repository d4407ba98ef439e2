/**
 * The operator console's handler, without a browser: off (404) without CONSOLE_ADMINS, 303 to sign-in when
 * signed out, 403 for a signed-in user who is not an admin, the console cookie's attributes, and every POST
 * refused when it comes from elsewhere, lacks the CSRF token or replays a spent ticket. The full flow in
 * Chromium is in console.browser.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ConfigProblems, loadConfig } from "../../src/app/config.js";
import { parseConsoleAdmins } from "../../src/app/console.js";
import { createApp } from "../../src/app/server.js";
import { ErrorCode } from "../../src/errors.js";
import type { Installation } from "../../src/model/installation.js";
import { SESSION_COOKIE_NAME, SessionCookie } from "../../src/oidc/session.js";
import type { Logger } from "../../src/redact.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";

const ORIGIN = "https://app.example.com";
const SECRET = "console-test-session-secret-0123456789abcdef";
const ADMIN = { teamId: "T0000000001", userId: "U0000000001" };
const OUTSIDER = { teamId: "T0000000001", userId: "U0000000002" };
const BOT_TOKEN = `xoxb-${"1".repeat(12)}-${"2".repeat(13)}-${"a".repeat(24)}`;

function installation(teamId: string, userId = "U0000000009"): Installation {
  return {
    teamId,
    teamName: `Team ${teamId}`,
    userId,
    botToken: BOT_TOKEN,
    botId: "B0000000001",
    botUserId: "U0000000100",
    botScopes: ["commands", "chat:write"],
    userScopes: [],
    isEnterpriseInstall: false,
    installedAt: 1_700_000_000,
    customValues: {},
  };
}

/**
 * The reference app with its console for `admins`, on `store`, its log lines in `lines`; Slack is
 * `fetch` (by default a port where nothing listens).
 */
function consoleApp(store: MemoryInstallationStore, admins: string[], fetch?: typeof globalThis.fetch) {
  const lines: string[] = [];
  const log =
    (level: string) =>
    (message: string, ...args: unknown[]) =>
      lines.push(`${level} ${message} ${JSON.stringify(args)}`);
  const logger: Logger = { debug: () => {}, info: log("info"), warn: log("warn"), error: log("error") };
  const app = createApp({
    clientId: "111.222",
    clientSecret: "c".repeat(32),
    signingSecret: "s".repeat(32),
    scopes: ["commands"],
    userScopes: [],
    redirectUri: `${ORIGIN}/slack/oauth_redirect`,
    apiUrl: "http://127.0.0.1:9/api/",
    authorizeUrl: "https://slack.example/oauth/v2/authorize",
    installationStore: store,
    stateStore: new MemoryStateStore(),
    logger,
    api: new SlackApiClient({ baseUrl: "http://127.0.0.1:9/api/", maxRetries: 0, ...(fetch ? { fetch } : {}) }),
    sessionSecret: SECRET,
    consoleAdmins: admins,
  });
  return { app, lines };
}

async function setup(admins: string[] = ["T0000000001:U0000000001"]) {
  const store = new MemoryInstallationStore();
  await store.save(installation("T0000000007"));
  await store.save(installation("T0000000008"));
  const { app, lines } = consoleApp(store, admins);
  // The sign-in session cookie as /slack/login/callback sets it (same secret, same name).
  const signedIn = (who: { teamId: string; userId: string }) =>
    new SessionCookie({ secret: SECRET }).serialize(who, ORIGIN).split(";")[0]!;
  return { app, store, lines, signedIn };
}

/** A server of two apps, "alpha" and "beta", on partitions of one memory store, with its console for ADMIN. */
function twoAppServer() {
  const root = new MemoryInstallationStore();
  const stateStore = new MemoryStateStore();
  const unit = (name: string, clientId: string, appId: string) => ({
    name,
    clientId,
    appId,
    clientSecret: "c".repeat(32),
    signingSecret: "s".repeat(32),
    scopes: ["commands"],
    userScopes: [],
    redirectUri: `${ORIGIN}/slack/${name}/oauth_redirect`,
    paths: {
      install: `/slack/${name}/install`,
      redirect: `/slack/${name}/oauth_redirect`,
      events: `/slack/${name}/events`,
      login: `/slack/${name}/login`,
    },
    installationStore: root.forApp(clientId),
    stateStore,
  });
  const alpha = unit("alpha", "111.111", "A0000000001");
  const beta = unit("beta", "222.222", "A0000000002");
  const app = createApp({
    clientId: "",
    clientSecret: "",
    signingSecret: "",
    scopes: [],
    userScopes: [],
    apiUrl: "http://127.0.0.1:9/api/",
    authorizeUrl: "https://slack.example/oauth/v2/authorize",
    installationStore: root,
    stateStore,
    logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    sessionSecret: SECRET,
    consoleAdmins: ["T0000000001:U0000000001"],
    apps: [alpha, beta],
  });
  return { app, root, alpha, beta };
}

const cookieOf = (res: Response) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .join("; ");

/** The console page as the admin sees it, with the cookies and the first form's hidden fields. */
async function openConsole(app: (r: Request) => Promise<Response>, signedIn: string) {
  const res = await app(new Request(`${ORIGIN}/console`, { headers: { cookie: signedIn } }));
  expect(res.status).toBe(200);
  const html = await res.text();
  const cookie = `${signedIn}; ${cookieOf(res)}`;
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
  const ticket = /name="ticket" value="([^"]+)"/.exec(html)?.[1] ?? "";
  return { res, html, cookie, csrf, ticket };
}

function post(path: string, cookie: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return new Request(`${ORIGIN}${path}`, {
    method: "POST",
    headers: {
      cookie,
      "content-type": "application/x-www-form-urlencoded",
      "sec-fetch-site": "same-origin",
      origin: ORIGIN,
      ...headers,
    },
    body: new URLSearchParams(form).toString(),
  });
}

describe("CONSOLE_ADMINS", () => {
  it("takes team_id:user_id pairs separated by commas or spaces, and refuses anything else (exit 2)", () => {
    expect(parseConsoleAdmins(" T0123ABCD:U0123ABCD,E0123ABCD:W0123ABCD  T0123ABCD:U0123ABCD ")).toEqual({
      admins: ["T0123ABCD:U0123ABCD", "E0123ABCD:W0123ABCD"],
      problems: [],
    });
    expect(parseConsoleAdmins(undefined).admins).toEqual([]);
    for (const bad of [
      "U0123ABCD",
      "T0123ABCD:",
      "t0123abcd:u0123abcd",
      "T0123ABCD:U0123ABCD:X",
      "T01;U01",
      "C0123:U0123",
    ]) {
      expect(parseConsoleAdmins(bad).problems, bad).toHaveLength(1);
      expect(() => loadConfig({ CONSOLE_ADMINS: bad })).toThrow(ConfigProblems);
    }
    // A wrong entry made of id characters is quoted; anything else (a secret in the wrong variable) is not.
    expect(parseConsoleAdmins("T0123ABCD").problems[0]).toContain('"T0123ABCD" is not a team_id:user_id pair');
    const pasted = "8f14e45fceea167a5a36dedd4bea2543";
    expect(parseConsoleAdmins(pasted).problems[0]).toContain("an entry of 32 characters is not");
    expect(parseConsoleAdmins(pasted).problems[0]).not.toContain(pasted);
    expect(loadConfig({ CONSOLE_ADMINS: "T0123ABCD:U0123ABCD" }).consoleAdmins).toEqual(["T0123ABCD:U0123ABCD"]);
    expect(loadConfig({}).consoleAdmins).toEqual([]);
  });
});

describe("operator console handler", () => {
  it("is off (404) when no admin is configured, for pages and actions alike", async () => {
    const { app, signedIn } = await setup([]);
    expect((await app(new Request(`${ORIGIN}/console`, { headers: { cookie: signedIn(ADMIN) } }))).status).toBe(404);
    expect((await app(post("/console/check", signedIn(ADMIN), {}))).status).toBe(404);
    expect((await app(post("/console/delete/confirm", signedIn(ADMIN), {}))).status).toBe(404);
  });

  it("sends a signed-out visitor to Sign in with Slack, coming back to the console", async () => {
    const { app } = await setup();
    const res = await app(new Request(`${ORIGIN}/console`));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/slack/login?next=%2Fconsole");
    // The login keeps `next` server-side with its state; an unlisted `next` is ignored (no open redirect).
    const login = await app(new Request(`${ORIGIN}/slack/login?next=%2Fconsole`));
    expect(login.status).toBe(200);
  });

  it("refuses a signed-in user who is not on the list (403), on the page and on actions", async () => {
    const { app, signedIn, lines } = await setup();
    const page = await app(new Request(`${ORIGIN}/console`, { headers: { cookie: signedIn(OUTSIDER) } }));
    expect(page.status).toBe(403);
    expect(page.headers.get("x-slack-oauth-error")).toBe(ErrorCode.ConsoleForbidden);
    expect(await page.text()).not.toContain("T0000000007");
    const action = await app(post("/console/check", signedIn(OUTSIDER), { app: "111.222", team: "T0000000007" }));
    expect(action.status).toBe(403);
    expect(lines.some((l) => l.includes("not an admin") && l.includes("T0000000001:U0000000002"))).toBe(true);
  });

  it("sets its own cookie: __Host- over https, HttpOnly, Secure, SameSite=Strict, expiring", async () => {
    const { app, signedIn } = await setup();
    const { res, html } = await openConsole(app, signedIn(ADMIN));
    const set = res.headers.getSetCookie().join("\n");
    expect(set).toMatch(/^__Host-slack-console=v1\.[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600; Secure$/);
    expect(html).toContain("T0000000007");
    expect(html).toContain("T0000000008");
    expect(html).not.toContain("xoxb-");
  });

  it("refuses forged POSTs: another site, no origin at all, no or a wrong CSRF token, a ticket of the wrong kind", async () => {
    const { app, signedIn, store } = await setup();
    const { cookie, csrf, ticket } = await openConsole(app, signedIn(ADMIN));
    const target = { app: "111.222", team: "T0000000007" };
    const refused = async (req: Request, code: string) => {
      const res = await app(req);
      expect(res.status).toBe(403);
      expect(res.headers.get("x-slack-oauth-error")).toBe(code);
    };
    const body = { ...target, csrf, ticket };
    await refused(
      post("/console/delete", cookie, body, { "sec-fetch-site": "cross-site" }),
      ErrorCode.CrossSiteRequest,
    );
    await refused(post("/console/delete", cookie, body, { "sec-fetch-site": "same-site" }), ErrorCode.CrossSiteRequest);
    const noHeaders = post("/console/delete", cookie, body);
    noHeaders.headers.delete("sec-fetch-site");
    noHeaders.headers.delete("origin");
    await refused(noHeaders, ErrorCode.CrossSiteRequest);
    const evil = post("/console/delete", cookie, body, { origin: "https://evil.example" });
    evil.headers.delete("sec-fetch-site");
    await refused(evil, ErrorCode.CrossSiteRequest);
    await refused(post("/console/delete", cookie, { ...target, ticket }), ErrorCode.ConsoleRequestInvalid);
    await refused(
      post("/console/delete", cookie, { ...target, ticket, csrf: `${csrf}x` }),
      ErrorCode.ConsoleRequestInvalid,
    );
    // The sign-in cookie alone (no console cookie): the token cannot be checked.
    await refused(post("/console/delete", signedIn(ADMIN), body), ErrorCode.ConsoleRequestInvalid);
    // A list page's ticket cannot confirm a delete.
    await refused(post("/console/delete/confirm", cookie, body), ErrorCode.ConsoleRequestInvalid);
    expect((await store.listWorkspaces()).length).toBe(2);
  });

  it("deletes only after confirming, once: a replayed confirmation (or action) gets 403", async () => {
    const { app, signedIn, store, lines } = await setup();
    const { cookie, csrf, ticket } = await openConsole(app, signedIn(ADMIN));
    const ask = await app(post("/console/delete", cookie, { app: "111.222", team: "T0000000007", csrf, ticket }));
    expect(ask.status).toBe(200);
    const confirm = await ask.text();
    expect(confirm).toContain("Delete this installation?");
    expect((await store.listWorkspaces()).length).toBe(2);
    // The same list form again: its ticket is spent.
    const replayAsk = await app(post("/console/delete", cookie, { app: "111.222", team: "T0000000007", csrf, ticket }));
    expect(replayAsk.status).toBe(403);
    const confirmTicket = /name="ticket" value="([^"]+)"/.exec(confirm)![1]!;
    // The confirmation deletes what its ticket names, whatever else the form says.
    const form = { csrf, ticket: confirmTicket, app: "111.222", team: "T0000000008" };
    const deleted = await app(post("/console/delete/confirm", cookie, form));
    expect(deleted.status).toBe(200);
    expect(await deleted.text()).toContain("T0000000007 was deleted");
    expect((await store.listWorkspaces()).map((w) => w.teamId)).toEqual(["T0000000008"]);
    const replay = await app(post("/console/delete/confirm", cookie, form));
    expect(replay.status).toBe(403);
    expect(replay.headers.get("x-slack-oauth-error")).toBe(ErrorCode.ConsoleRequestInvalid);
    const logged = lines.filter((l) => l.startsWith("info console: delete"));
    expect(logged.join("\n")).toContain('"admin":"T0000000001:U0000000001"');
    expect(logged.join("\n")).toContain('"teamId":"T0000000007"');
    expect(lines.join("\n")).not.toContain("xoxb-");
    expect(lines.join("\n")).not.toContain(csrf);
  });

  it("shows a reinstall link to this server's install route with the workspace preselected", async () => {
    const { app, signedIn } = await setup();
    const { cookie, csrf, ticket } = await openConsole(app, signedIn(ADMIN));
    const res = await app(post("/console/reinstall", cookie, { app: "111.222", team: "T0000000008", csrf, ticket }));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`value="${ORIGIN}/slack/install?team=T0000000008"`);
    expect(res.headers.get("content-security-policy")).toMatch(/script-src 'sha256-[A-Za-z0-9+/]+=*'/);
    const install = await app(new Request(`${ORIGIN}/slack/install?team=T0000000008`));
    expect(install.status).toBe(200);
    expect(await install.text()).toContain("team=T0000000008");
    // Anything but an id is ignored: a plain install.
    const odd = await (await app(new Request(`${ORIGIN}/slack/install?team=%22%3E%3Cx`))).text();
    expect(odd).not.toContain("team=");
  });
});

describe("operator console with several apps (SLACK_APPS_FILE)", () => {
  it("lists every app's partition and acts on the app named, never on another app's same workspace", async () => {
    const { app, alpha, beta } = twoAppServer();
    await alpha.installationStore.save(installation("T0000000007"));
    await beta.installationStore.save(installation("T0000000007"));
    const signedOut = await app(new Request(`${ORIGIN}/console`));
    expect(signedOut.headers.get("location")).toBe("/slack/alpha/login?next=%2Fconsole");
    // Admins sign in through the first app (its own session cookie name).
    const session = new SessionCookie({ secret: SECRET, name: "slack-app-session-alpha" })
      .serialize(ADMIN, ORIGIN)
      .split(";")[0]!;
    const { html, cookie, csrf, ticket } = await openConsole(app, session);
    expect(html.match(/<article class="inst"/g)).toHaveLength(2);
    expect(html).toContain("<dd>alpha</dd>");
    expect(html).toContain("<dd>beta</dd>");
    const link = await app(post("/console/reinstall", cookie, { app: "222.222", team: "T0000000007", csrf, ticket }));
    expect(await link.text()).toContain(`value="${ORIGIN}/slack/beta/install?team=T0000000007"`);
    const again = await openConsole(app, session);
    const ask = await app(
      post("/console/delete", again.cookie, {
        app: "222.222",
        team: "T0000000007",
        csrf: again.csrf,
        ticket: again.ticket,
      }),
    );
    const confirmTicket = /name="ticket" value="([^"]+)"/.exec(await ask.text())![1]!;
    const deleted = await app(
      post("/console/delete/confirm", again.cookie, { csrf: again.csrf, ticket: confirmTicket }),
    );
    expect(deleted.status).toBe(200);
    expect(await beta.installationStore.listWorkspaces()).toEqual([]);
    expect((await alpha.installationStore.listWorkspaces()).map((w) => w.teamId)).toEqual(["T0000000007"]);
  });
});

describe("operator console when the store fails", () => {
  it("answers 503 with a page (no stack, no token) when listing fails, and HEAD issues no ticket", async () => {
    const { app, store, signedIn, lines } = await setup();
    const head = await app(new Request(`${ORIGIN}/console`, { method: "HEAD", headers: { cookie: signedIn(ADMIN) } }));
    expect(head.status).toBe(200);
    expect(head.headers.getSetCookie()).toEqual([]);
    store.listWorkspaces = async () => {
      throw new Error(`connection refused (token ${BOT_TOKEN})`);
    };
    const res = await app(new Request(`${ORIGIN}/console`, { headers: { cookie: signedIn(ADMIN) } }));
    expect(res.status).toBe(503);
    const html = await res.text();
    expect(html).toContain('id="unavailable"');
    expect(html).not.toContain("xoxb-");
    expect(lines.some((l) => l.startsWith("error console: listing installations failed"))).toBe(true);
    expect(lines.join("\n")).not.toContain(BOT_TOKEN);
  });
});

describe("operator console list", () => {
  it("pages 25 at a time and searches by words (ids, names, status), keeping the search across pages", async () => {
    const { app, store, signedIn } = await setup();
    for (let i = 10; i < 40; i++) await store.save(installation(`T00000000${i}`));
    const get = async (q: string) =>
      (await app(new Request(`${ORIGIN}/console${q}`, { headers: { cookie: signedIn(ADMIN) } }))).text();
    const first = await get("");
    expect(first.match(/<article class="inst"/g)).toHaveLength(25);
    expect(first).toContain("Page 1 of 2 · 32 of 32 installations");
    expect(first).toContain('rel="next" href="/console?page=2"');
    const second = await get("?page=2");
    expect(second.match(/<article class="inst"/g)).toHaveLength(7);
    expect(second).toContain('rel="prev" href="/console?page=1"');
    expect(await get("?page=99")).toContain("Page 2 of 2");
    const found = await get("?q=t000000003");
    // T0000000030..T0000000039: 10 matches, one page.
    expect(found.match(/<article class="inst"/g)).toHaveLength(10);
    expect(found).toContain("10 of 32 installations");
    expect(await get("?q=team+T0000000031+unchecked")).toContain('data-team="T0000000031"');
    expect(await get("?q=team")).toContain('rel="next" href="/console?q=team&amp;page=2"');
    expect(await get("?q=nothing-like-this")).toContain("No installation matches.");
    const escaped = await get(`?q=${encodeURIComponent('"><script>')}`);
    expect(escaped).not.toContain('"><script>');
  });
});

describe("operator console health", () => {
  it("shows the health the stores record (a background sweep's too), and check now records Slack being unreachable as unknown, never revoked", async () => {
    const { app, store, signedIn } = await setup();
    await store.save({
      ...installation("T0000000008", "U0000000042"),
      userToken: `xoxp-${"3".repeat(12)}-x`,
      userScopes: ["search:read"],
    });
    await store.recordHealth(
      { teamId: "T0000000007" },
      { status: "revoked", checkedAt: 1_700_000_100, error: "token_revoked" },
    );
    await store.recordHealth({ teamId: "T0000000008" }, { status: "ok", checkedAt: 1_700_000_200 });
    await store.recordHealth(
      { teamId: "T0000000008", userId: "U0000000042" },
      { status: "invalid", checkedAt: 1_700_000_300, error: "invalid_auth" },
    );
    const { html, cookie, csrf, ticket } = await openConsole(app, signedIn(ADMIN));
    expect(html).toContain('<span class="status status-bad">revoked</span> <code>token_revoked</code>');
    expect(html).toContain("2023-11-14T22:15:00Z"); // T0000000007's last check
    // Several tokens: the bot's status leads, each token is listed.
    expect(html).toContain('<span class="status status-ok">ok</span>');
    expect(html).toContain("bot: ok; user U0000000042: invalid (invalid_auth)");
    expect(html).toContain("2023-11-14T22:18:20Z"); // the latest of T0000000008's checks
    // Slack cannot be reached (the API URL is a closed port): unknown, and recorded over the old revoked.
    const res = await app(post("/console/check", cookie, { app: "111.222", team: "T0000000007", csrf, ticket }));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<span class="status ">unknown</span>');
    const recorded = (await store.listHealth({ teamId: "T0000000007" })).map((e) => [e.kind, e.health.status]);
    expect(recorded).toEqual([["bot", "unknown"]]);
  });
});

describe("operator console with an org-wide install", () => {
  it("shows it as the org's, links its reinstall to the org, and deletes it by enterprise id alone", async () => {
    const { app, store, signedIn } = await setup();
    const { teamId: _none, teamName: _n, ...rest } = installation("T0000000001");
    await store.save({ ...rest, enterpriseId: "E0000000001", enterpriseName: "Acme Corp", isEnterpriseInstall: true });
    const org = { app: "111.222", enterprise: "E0000000001" };
    const first = await openConsole(app, signedIn(ADMIN));
    expect(first.html).toContain("Org Acme Corp <code>E0000000001</code> (org-wide)");
    const link = await app(
      post("/console/reinstall", first.cookie, { ...org, csrf: first.csrf, ticket: first.ticket }),
    );
    expect(await link.text()).toContain(`value="${ORIGIN}/slack/install?team=E0000000001"`);
    // A malformed id never reaches the store: no such installation.
    const second = await openConsole(app, signedIn(ADMIN));
    const malformed = await app(
      post("/console/delete", second.cookie, { ...org, enterprise: "../E1", csrf: second.csrf, ticket: second.ticket }),
    );
    expect(malformed.status).toBe(404);
    const third = await openConsole(app, signedIn(ADMIN));
    const ask = await (
      await app(post("/console/delete", third.cookie, { ...org, csrf: third.csrf, ticket: third.ticket }))
    ).text();
    expect(ask).toContain("org-wide install of org E0000000001");
    const confirmTicket = /name="ticket" value="([^"]+)"/.exec(ask)![1]!;
    const done = await app(post("/console/delete/confirm", third.cookie, { csrf: third.csrf, ticket: confirmTicket }));
    expect(done.status).toBe(200);
    expect((await store.listWorkspaces()).map((w) => w.teamId ?? w.enterpriseId)).toEqual([
      "T0000000007",
      "T0000000008",
    ]);
  });
});

describe("operator console refresh now", () => {
  /** An app whose Slack answers oauth.v2.access with `reply` (a fake fetch: no network). */
  async function rotating(reply: () => Record<string, unknown>) {
    const store = new MemoryInstallationStore();
    await store.save({
      ...installation("T0000000007"),
      botRefreshToken: `xoxe-1-${"r".repeat(40)}`,
      botTokenExpiresAt: 1_700_000_000 + 43_200,
    });
    const calls: string[] = [];
    const fakeFetch = (async (input: string | URL | Request) => {
      calls.push(String(input));
      return new Response(JSON.stringify(reply()), { headers: { "content-type": "application/json" } });
    }) as typeof fetch;
    const { app, lines } = consoleApp(store, ["T0000000001:U0000000001"], fakeFetch);
    const signedIn = new SessionCookie({ secret: SECRET }).serialize(ADMIN, ORIGIN).split(";")[0]!;
    return { app, store, lines, calls, signedIn };
  }

  it("records a failed refresh as refresh_failed (shown on the list), and a later refresh that works as ok", async () => {
    let answer: Record<string, unknown> = { ok: false, error: "invalid_refresh_token" };
    const { app, store, lines, calls, signedIn } = await rotating(() => answer);
    const first = await openConsole(app, signedIn);
    expect(first.html).toContain('id="refresh-1"');
    const form = { app: "111.222", team: "T0000000007", csrf: first.csrf, ticket: first.ticket };
    const failed = await app(post("/console/refresh", first.cookie, form));
    expect(failed.status).toBe(200);
    expect(await failed.text()).toContain("bot token: failed (");
    expect(calls.some((c) => c.includes("oauth.v2.access"))).toBe(true);
    const recorded = await store.listHealth({ teamId: "T0000000007" });
    expect(recorded.map((e) => [e.kind, e.health.status, e.health.error])).toEqual([
      ["bot", "refresh_failed", "invalid_refresh_token"],
    ]);
    const listed = await openConsole(app, signedIn);
    expect(listed.html).toContain('<span class="status status-bad">refresh_failed</span>');
    // Slack issues a new pair: the earlier refresh_failed is replaced by ok.
    answer = {
      ok: true,
      token_type: "bot",
      access_token: `xoxe.xoxb-1-${"n".repeat(40)}`,
      refresh_token: `xoxe-1-${"m".repeat(40)}`,
      expires_in: 43_200,
      scope: "commands,chat:write",
    };
    const again = await app(
      post("/console/refresh", listed.cookie, { ...form, csrf: listed.csrf, ticket: listed.ticket }),
    );
    expect(await again.text()).toContain("bot token: refreshed");
    const after = await store.listHealth({ teamId: "T0000000007" });
    expect(after.map((e) => [e.kind, e.health.status])).toEqual([["bot", "ok"]]);
    expect(lines.join("\n")).not.toMatch(/xoxe|xoxb-/);
  });
});

describe("several apps: admins sign in through any app", () => {
  async function twoApps() {
    const { app, alpha, beta } = twoAppServer();
    await alpha.installationStore.save(installation("T0000000007"));
    await beta.installationStore.save(installation("T0000000008"));
    // Each app's Sign in with Slack has its own session cookie.
    const signedInThrough = (name: string, who: { teamId: string; userId: string }) =>
      new SessionCookie({ secret: SECRET, name: `${SESSION_COOKIE_NAME}-${name}` })
        .serialize(who, ORIGIN)
        .split(";")[0]!;
    return { app, signedInThrough };
  }

  it("signed out: sent to the first app's sign-in, back to the console afterwards", async () => {
    const { app } = await twoApps();
    const res = await app(new Request(`${ORIGIN}/console`));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/slack/alpha/login?next=%2Fconsole");
  });

  it("an admin signed in through the second app gets the console of both apps, and signs out of that app", async () => {
    const { app, signedInThrough } = await twoApps();
    const res = await app(new Request(`${ORIGIN}/console`, { headers: { cookie: signedInThrough("beta", ADMIN) } }));
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("T0000000007");
    expect(html).toContain("T0000000008");
    expect(html).toMatch(/<form method="post" action="\/slack\/beta\/login\/logout"><button[^>]*id="sign-out"/);
    // Through the first app too; an outsider signed in through either is refused.
    const viaAlpha = await app(
      new Request(`${ORIGIN}/console`, { headers: { cookie: signedInThrough("alpha", ADMIN) } }),
    );
    expect(viaAlpha.status).toBe(200);
    expect(await viaAlpha.text()).toContain('action="/slack/alpha/login/logout"');
    for (const name of ["alpha", "beta"]) {
      const refused = await app(
        new Request(`${ORIGIN}/console`, { headers: { cookie: signedInThrough(name, OUTSIDER) } }),
      );
      expect(refused.status).toBe(403);
    }
  });
});
