import { describe, expect, it } from "vitest";
import {
  buildStateCookie,
  buildStateCookieDeletion,
  cookieNameFor,
  generateState,
  readCookie,
  STATE_COOKIE_NAME,
} from "../../src/index.js";
import { parseCookies } from "../../src/state/cookie.js";
import { isWellFormedState } from "../../src/stores/index.js";

describe("generateState / isWellFormedState", () => {
  it("produces distinct, URL-safe values of at least 128 bits", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const s = generateState();
      expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(s, "base64url").length * 8).toBeGreaterThanOrEqual(128);
      expect(encodeURIComponent(s)).toBe(s);
      seen.add(s);
    }
    expect(seen.size).toBe(2000);
  });

  it("rejects malformed states", () => {
    expect(isWellFormedState(generateState())).toBe(true);
    const good = generateState();
    for (const bad of [
      "",
      "../../etc/passwd",
      `${good}a`,
      good.slice(1),
      `${good.slice(0, 42)}/`,
      `${good.slice(0, 42)}.`,
      "é".repeat(43),
      42,
      null,
      undefined,
      {},
    ]) {
      expect(isWellFormedState(bad)).toBe(false);
    }
  });
});

describe("state cookie", () => {
  it("builds the binding cookie with safe attributes", () => {
    const c = buildStateCookie("abc", { requestUrl: "https://app.example.com/slack/install" });
    expect(c).toBe(`__Host-${STATE_COOKIE_NAME}=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=600; Secure`);
  });

  it("takes the __Host- prefix when Secure with Path=/ (over https), the plain name on http://localhost", () => {
    expect(cookieNameFor(STATE_COOKIE_NAME, { requestUrl: "https://app.example.com/" })).toBe(
      `__Host-${STATE_COOKIE_NAME}`,
    );
    expect(cookieNameFor(STATE_COOKIE_NAME, { requestUrl: "http://localhost:3000/" })).toBe(STATE_COOKIE_NAME);
    expect(buildStateCookie("abc", { requestUrl: "http://localhost:3000/x" })).toMatch(
      new RegExp(`^${STATE_COOKIE_NAME}=abc;`),
    );
    // __Host- needs Path=/: another path keeps the plain name.
    expect(buildStateCookie("abc", { requestUrl: "https://a.example/", path: "/slack" })).toMatch(
      /^slack-app-oauth-state=abc;/,
    );
    expect(cookieNameFor("__Host-x", { secure: true })).toBe("__Host-x");
  });

  it("omits Secure only for plain http on localhost", () => {
    expect(buildStateCookie("abc", { requestUrl: "http://localhost:3000/x" })).not.toContain("Secure");
    expect(buildStateCookie("abc", { requestUrl: "http://127.0.0.1:3000/x" })).not.toContain("Secure");
    expect(buildStateCookie("abc", { requestUrl: "http://example.com/x" })).toContain("Secure");
    expect(buildStateCookie("abc")).toContain("Secure");
    expect(buildStateCookie("abc", { requestUrl: "http://localhost/", secure: true })).toContain("Secure");
  });

  it("refuses values that would break the header", () => {
    expect(() => buildStateCookie("a;b")).toThrow(TypeError);
    expect(() => buildStateCookie("a\r\nSet-Cookie: x=1")).toThrow(TypeError);
  });

  it("builds a deletion with Max-Age=0 and the same path", () => {
    const d = buildStateCookieDeletion({ requestUrl: "https://x.example/" });
    expect(d).toMatch(new RegExp(`^__Host-${STATE_COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure`));
    expect(d).toContain("Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  });
});

describe("parseCookies / readCookie", () => {
  it("handles several cookies, spaces, quotes and '=' inside values", () => {
    const m = parseCookies(`a=1;  ${STATE_COOKIE_NAME}="q=v=w" ; b=x%20y; flag; =novalue; c=`);
    expect(m.get("a")).toBe("1");
    expect(m.get(STATE_COOKIE_NAME)).toBe("q=v=w");
    expect(m.get("b")).toBe("x y");
    expect(m.get("c")).toBe("");
    expect(m.has("flag")).toBe(false);
  });

  it("keeps the first occurrence and survives bad percent-encoding", () => {
    const m = parseCookies("x=first; x=second; y=%E0%A4%A");
    expect(m.get("x")).toBe("first");
    expect(m.get("y")).toBe("%E0%A4%A");
  });

  it("reads from any header shape and case", () => {
    expect(readCookie({ COOKIE: `${STATE_COOKIE_NAME}=s1` })).toBe("s1");
    expect(readCookie({ cookie: ["a=1", `${STATE_COOKIE_NAME}=s2`] })).toBe("s2");
    expect(readCookie(new Headers({ Cookie: `z=1; ${STATE_COOKIE_NAME}=s3` }))).toBe("s3");
    expect(readCookie(`${STATE_COOKIE_NAME}=s4`)).toBe("s4");
    expect(readCookie(undefined)).toBeUndefined();
    expect(readCookie({})).toBeUndefined();
  });
});
