/**
 * Every way an install callback can fail, over real sockets against the emulator: each gets its own
 * error code (page and `X-Slack-OAuth-Error`), a 4xx status (5xx only for Slack/store failures), a
 * readable message and a "Start again" link; nothing is saved and no secret reaches the logs.
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { MemoryStateStore } from "../../src/stores/memory.js";
import {
  callback,
  consent,
  expectFailurePage,
  expectNoSecretsInLogs,
  fullInstall,
  type Harness,
  startHarness,
  startInstall,
} from "./flow-harness.js";

const XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'];

describe("OAuthFlow callback failures (HTTP, emulator)", () => {
  let h: Harness;
  let now = Date.now();
  beforeAll(async () => {
    h = await startHarness({
      stateStore: new MemoryStateStore({ ttlSeconds: 600, nowMs: () => now }),
      // Install metadata from the query, to check it is never rendered.
      route: (request, flow) => {
        const url = new URL(request.url);
        if (url.pathname === "/slack/install" && url.searchParams.has("note")) {
          return flow.handleInstall(request, { metadata: { note: url.searchParams.get("note") } });
        }
        return undefined;
      },
    });
  });
  afterAll(async () => {
    await h.close();
  });
  afterEach(() => {
    h.emu.clearFaults();
    h.store.failWith = undefined;
    now = Date.now();
  });

  it("user cancelled on Slack's page → INSTALL_CANCELLED, and the state is burned", async () => {
    const started = await startInstall(h);
    const location = await consent(started.authorizeUrl, { decision: "deny" });
    expect(location.searchParams.get("error")).toBe("access_denied");
    const res = await callback(location, started.cookie);
    await expectFailurePage(res, { code: ErrorCode.InstallCancelled, status: 400, message: /cancelled/ });
    // The same state can no longer be used with a code.
    const replay = new URL(location);
    replay.searchParams.delete("error");
    replay.searchParams.set("code", "1.2.3");
    await expectFailurePage(await callback(replay, started.cookie), {
      code: ErrorCode.StateReused,
      status: 400,
      message: /already used/,
    });
    expect(h.store.attempts).toBe(0);
  });

  it("another error= value → AUTHORIZATION_FAILED with the value shown escaped", async () => {
    const started = await startInstall(h);
    const url = new URL(h.redirectUri);
    url.searchParams.set("error", "invalid_team_for_non_distributed_app");
    url.searchParams.set("state", started.state);
    const html = await expectFailurePage(await callback(url, started.cookie), {
      code: ErrorCode.AuthorizationFailed,
      status: 400,
      message: /Slack reported an error: &quot;invalid_team_for_non_distributed_app&quot;/,
    });
    expect(html).toContain("Nothing was installed");
  });

  it.each(XSS)("XSS in error= is escaped everywhere: %s", async (payload) => {
    const url = new URL(h.redirectUri);
    url.searchParams.set("error", payload);
    const res = await callback(url);
    const html = await expectFailurePage(res, {
      code: ErrorCode.AuthorizationFailed,
      status: 400,
      message: /Slack reported an error/,
    });
    expect(html).not.toContain(payload);
    expect(html).not.toMatch(/<script|<img|onerror=alert\(1\)>/);
    expect(html).toContain(
      payload.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;"),
    );
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(h.logger.text).not.toContain(payload);
  });

  it("missing code → MISSING_CODE", async () => {
    const started = await startInstall(h);
    const url = new URL(h.redirectUri);
    url.searchParams.set("state", started.state);
    await expectFailurePage(await callback(url, started.cookie), {
      code: ErrorCode.MissingCode,
      status: 400,
      message: /did not send an authorization code/,
    });
  });

  it("missing state → STATE_MISSING", async () => {
    const exchanges = h.emu.calls("oauth.v2.access").length;
    const url = new URL(h.redirectUri);
    url.searchParams.set("code", "1234.5678.abcdef");
    await expectFailurePage(await callback(url), {
      code: ErrorCode.StateMissing,
      status: 400,
      message: /no state parameter/,
    });
    expect(h.emu.calls("oauth.v2.access")).toHaveLength(exchanges);
  });

  it("forged state (well-formed, never issued) → STATE_INVALID, no code exchange", async () => {
    const exchanges = h.emu.calls("oauth.v2.access").length;
    const forged = randomBytes(32).toString("base64url");
    const url = new URL(h.redirectUri);
    url.searchParams.set("code", "1234.5678.abcdef");
    url.searchParams.set("state", forged);
    await expectFailurePage(await callback(url, forged), {
      code: ErrorCode.StateInvalid,
      status: 400,
      message: /not valid/,
    });
    expect(h.emu.calls("oauth.v2.access")).toHaveLength(exchanges);
  });

  it("malformed state (../../etc/passwd) → STATE_INVALID", async () => {
    const exchanges = h.emu.calls("oauth.v2.access").length;
    const evil = "../../etc/passwd";
    const url = new URL(h.redirectUri);
    url.searchParams.set("code", "1234.5678.abcdef");
    url.searchParams.set("state", evil);
    const html = await expectFailurePage(await callback(url, evil), {
      code: ErrorCode.StateInvalid,
      status: 400,
      message: /not valid/,
    });
    expect(html).not.toContain("etc/passwd");
    expect(h.emu.calls("oauth.v2.access")).toHaveLength(exchanges);
  });

  it("replayed callback (same state and cookie, second time) → STATE_REUSED, one installation", async () => {
    const before = h.store.saves;
    const first = await fullInstall(h);
    expect(first.response.status, first.html).toBe(200);
    const again = await callback(first.location, first.started.cookie);
    await expectFailurePage(again, { code: ErrorCode.StateReused, status: 400, message: /already used/ });
    expect(h.store.saves).toBe(before + 1);
  });

  it("a state from another browser (cookie of A, state of B) → STATE_COOKIE_MISMATCH; B can still finish", async () => {
    const a = await startInstall(h);
    const b = await startInstall(h);
    const bLocation = await consent(b.authorizeUrl);
    const before = h.store.saves;
    await expectFailurePage(await callback(bLocation, a.cookie), {
      code: ErrorCode.StateCookieMismatch,
      status: 400,
      message: /started in another browser/,
    });
    expect(h.store.saves).toBe(before);
    expect(h.emu.calls("oauth.v2.access").length).toBe(h.store.saves);
    // The mismatch did not burn B's state: B's own browser completes the install.
    const ok = await callback(bLocation, b.cookie);
    expect(ok.status, await ok.text()).toBe(200);
    expect(h.store.saves).toBe(before + 1);
  });

  it("cookie missing → STATE_COOKIE_MISSING", async () => {
    const started = await startInstall(h);
    const location = await consent(started.authorizeUrl);
    await expectFailurePage(await callback(location), {
      code: ErrorCode.StateCookieMissing,
      status: 400,
      message: /did not send the cookie/,
    });
  });

  it("expired state (state store clock moved past the TTL) → STATE_EXPIRED", async () => {
    const started = await startInstall(h);
    const location = await consent(started.authorizeUrl);
    now += 601_000;
    const before = h.store.attempts;
    await expectFailurePage(await callback(location, started.cookie), {
      code: ErrorCode.StateExpired,
      status: 400,
      message: /expired/,
    });
    expect(h.store.attempts).toBe(before);
  });

  it("XSS in install metadata is never rendered unescaped (install page, consent, success, failure)", async () => {
    for (const payload of XSS) {
      const started = await startInstall(h, `/slack/install?note=${encodeURIComponent(payload)}`);
      expect(started.html).not.toContain(payload);
      expect(started.authorizeUrl).not.toContain("alert");
      expect(started.cookie).not.toContain("alert");
      const issued = h.states.issued.get(started.state);
      expect(issued?.metadata).toEqual({ note: payload }); // it did travel, server-side
      const location = await consent(started.authorizeUrl);
      expect(location.href).not.toContain("alert");
      const ok = await callback(location, started.cookie);
      const okHtml = await ok.text();
      expect(ok.status, okHtml).toBe(200);
      expect(okHtml).not.toContain(payload);
      expect(okHtml).not.toMatch(/<script|<img/);
      const again = await callback(location, started.cookie);
      const badHtml = await again.text();
      expect(again.status).toBe(400);
      expect(badHtml).not.toContain(payload);
      expect(badHtml).not.toMatch(/<script|<img/);
    }
    expect(h.logger.text).not.toContain("alert(1)");
  });

  it("a 10 KB callback URL → 414 page from the flow, no exchange", async () => {
    const exchanges = h.emu.calls("oauth.v2.access").length;
    const url = new URL(h.redirectUri);
    url.searchParams.set("code", "x".repeat(10 * 1024));
    url.searchParams.set("state", "y");
    await expectFailurePage(await callback(url), { code: ErrorCode.BadRequest, status: 414, message: /far too long/ });
    expect(h.emu.calls("oauth.v2.access")).toHaveLength(exchanges);
  });

  it("a 100 KB query string → 414 page (rejected before the handler), and the server keeps serving", async () => {
    const url = `${h.redirectUri}?code=${"a".repeat(100 * 1024)}`;
    const res = await fetch(url, { redirect: "manual" });
    const html = await res.text();
    expect(res.status).toBe(414);
    expect(html).toContain(`Error code: <code>${ErrorCode.BadRequest}</code>`);
    expect(html).toContain("Start again");
    expect(html).toContain("far too long");
    // No crash: the next request is served normally.
    const next = await startInstall(h);
    expect(next.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("HEAD on the install page issues no state and sets no cookie", async () => {
    const size = h.states.issued.size;
    const res = await fetch(`${h.url}/slack/install`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(h.states.issued.size).toBe(size);
  });

  it("HEAD on the callback does not consume the state (405), the GET then succeeds", async () => {
    const started = await startInstall(h);
    const location = await consent(started.authorizeUrl);
    const head = await callback(location, started.cookie, { method: "HEAD" });
    expect(head.status).toBe(405);
    expect(head.headers.get("allow")).toBe("GET");
    expect(head.headers.get("x-slack-oauth-error")).toBe(ErrorCode.BadRequest);
    const ok = await callback(location, started.cookie);
    expect(ok.status, await ok.text()).toBe(200);
  });

  describe("Slack API and store failures → 5xx INSTALL_FAILED page, nothing saved, no secret logged", () => {
    async function failingInstall(): Promise<{ response: Response; code: string }> {
      const started = await startInstall(h);
      const location = await consent(started.authorizeUrl);
      const code = location.searchParams.get("code") ?? "";
      expect(code).not.toBe("");
      return { response: await callback(location, started.cookie), code };
    }

    it.each([
      {
        name: "oauth.v2.access HTTP 500",
        fault: { method: "oauth.v2.access", status: 500 },
        log: /code exchange failed/,
      },
      {
        name: "oauth.v2.access HTTP 503",
        fault: { method: "oauth.v2.access", status: 503 },
        log: /code exchange failed/,
      },
      {
        name: "auth.test invalid_auth",
        fault: { method: "auth.test", error: "invalid_auth" },
        log: /auth\.test or reading Slack's reply failed after the code exchange: SlackApiError/,
      },
      {
        name: "auth.test HTTP 500 on every retry",
        fault: { method: "auth.test", status: 500, count: 5 },
        log: /auth\.test or reading Slack's reply failed after the code exchange: SlackApiError/,
      },
    ])("$name → 502, one error line", async ({ fault, log }) => {
      const before = { saves: h.store.saves, attempts: h.store.attempts, lines: h.logger.lines.length };
      h.emu.injectFault(fault);
      const { response, code } = await failingInstall();
      await expectFailurePage(response, { code: ErrorCode.InstallFailed, status: 502, message: /Nothing was saved/ });
      expect(h.store.attempts).toBe(before.attempts);
      expect(h.store.saves).toBe(before.saves);
      const lines = h.logger.lines.slice(before.lines);
      expect(lines.join("\n")).toMatch(log);
      expect(
        lines.filter((l) => l.startsWith("error ")),
        lines.join("\n"),
      ).toHaveLength(1);
      expectNoSecretsInLogs(h, [code]);
    });

    it("a store whose save throws (with a token in its message) → 500, nothing saved, nothing leaked", async () => {
      const before = { saves: h.store.saves, lines: h.logger.lines.length };
      h.store.failWith = (i) => new Error(`disk full while writing ${i.botToken} for ${i.teamId}`);
      const { response, code } = await failingInstall();
      const html = await expectFailurePage(response, {
        code: ErrorCode.InstallFailed,
        status: 500,
        message: /Nothing was saved/,
      });
      expect(html).not.toMatch(/xox|disk full/);
      expect(h.store.saves).toBe(before.saves);
      const lines = h.logger.lines.slice(before.lines).join("\n");
      expect(lines).toMatch(/saving the installation failed: Error: disk full while writing \[bot-token\]/);
      expectNoSecretsInLogs(h, [code]);
    });

    it("a state store that throws → 500 INSTALL_FAILED", async () => {
      const started = await startInstall(h);
      const location = await consent(started.authorizeUrl);
      const original = h.states.consumeDetailed.bind(h.states);
      h.states.consumeDetailed = async () => {
        throw new Error("state database unreachable");
      };
      try {
        await expectFailurePage(await callback(location, started.cookie), {
          code: ErrorCode.InstallFailed,
          status: 500,
          message: /try again/,
        });
      } finally {
        h.states.consumeDetailed = original;
      }
    });
  });

  it("no secret ever reached the logs over this whole suite", () => {
    expect(h.logger.lines.length).toBeGreaterThan(10);
    expectNoSecretsInLogs(h);
  });
});
