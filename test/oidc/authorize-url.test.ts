import { describe, expect, it } from "vitest";
import {
  OpenIDConnectAuthorizeUrlGenerator,
  parseOidcScopes,
  SLACK_OIDC_AUTHORIZE_URL,
} from "../../src/oidc/authorize-url.js";

const REDIRECT = "https://app.example.com/slack/login/callback";
const NONCE = "n0nce-0123456789abcdef";

function gen(extra: Partial<ConstructorParameters<typeof OpenIDConnectAuthorizeUrlGenerator>[0]> = {}) {
  return new OpenIDConnectAuthorizeUrlGenerator({ clientId: "111.222", redirectUri: REDIRECT, ...extra });
}

describe("OpenIDConnectAuthorizeUrlGenerator", () => {
  it("builds Slack's URL: response_type=code, scopes space-separated (%20), every parameter", () => {
    const url = gen().generate("STATE123", { nonce: NONCE, team: "T0123ABCD" });
    expect(url.startsWith(`${SLACK_OIDC_AUTHORIZE_URL}?`)).toBe(true);
    expect(url).toContain("scope=openid%20profile%20email");
    expect(url).not.toContain("+");
    const q = new URL(url).searchParams;
    expect(Object.fromEntries(q)).toEqual({
      response_type: "code",
      scope: "openid profile email",
      client_id: "111.222",
      state: "STATE123",
      nonce: NONCE,
      redirect_uri: REDIRECT,
      team: "T0123ABCD",
    });
  });

  it("encodes hostile values instead of letting them add parameters", () => {
    const state = "a&scope=admin#frag +x";
    const nonce = "nonce&redirect_uri=https://evil.example/?+%2F";
    const redirect = "https://app.example.com/cb?x=1&y=a b".replace(" ", "%20");
    const url = gen({ redirectUri: redirect }).generate(state, { nonce });
    const q = new URL(url).searchParams;
    expect(q.get("state")).toBe(state);
    expect(q.get("nonce")).toBe(nonce);
    expect(q.get("redirect_uri")).toBe(redirect);
    expect(q.getAll("scope")).toEqual(["openid profile email"]);
    expect(q.getAll("redirect_uri")).toHaveLength(1);
    expect(new URL(url).hash).toBe("");
    expect(url).toContain("%2B"); // the literal + of the state and nonce
  });

  it("rejects non-OIDC scopes mixed in, and requires openid", () => {
    expect(() => gen({ scopes: ["openid", "chat:write"] })).toThrow(/chat:write.*only openid, profile and email/);
    expect(() => gen({ scopes: "openid,profile,users:read" })).toThrow(TypeError);
    expect(() => gen({ scopes: ["profile", "email"] })).toThrow(/openid scope is required/);
    expect(() => gen().generate("s", { nonce: NONCE, scopes: ["openid", "identity.basic"] })).toThrow(TypeError);
    expect(() => gen({ scopes: ["openid email"] })).toThrow(TypeError); // one array element = one scope
    expect(parseOidcScopes("email, openid openid")).toEqual(["openid", "email"]);
    expect(new URL(gen({ scopes: ["openid"] }).generate("s", { nonce: NONCE })).searchParams.get("scope")).toBe(
      "openid",
    );
  });

  it("requires a nonce (16+ printable characters), a state and a redirect URI; checks team", () => {
    const g = gen();
    expect(() => g.generate("s", { nonce: "short" })).toThrow(/nonce/);
    expect(() => g.generate("s", { nonce: `${NONCE}\n` })).toThrow(/nonce/);
    expect(() => g.generate("s", {} as { nonce: string })).toThrow(/nonce/);
    expect(() => g.generate("", { nonce: NONCE })).toThrow(/state/);
    expect(() => g.generate("s", { nonce: NONCE, team: "T1&x=y" })).toThrow(/team/);
    const noRedirect = new OpenIDConnectAuthorizeUrlGenerator({ clientId: "111.222" });
    expect(() => noRedirect.generate("s", { nonce: NONCE })).toThrow(/redirectUri/);
    expect(
      new URL(noRedirect.generate("s", { nonce: NONCE, redirectUri: REDIRECT })).searchParams.get("redirect_uri"),
    ).toBe(REDIRECT);
  });

  it("rejects bad client ids, redirect URIs and endpoints", () => {
    expect(() => gen({ clientId: "" })).toThrow(TypeError);
    expect(() => gen({ clientId: "1&x=2" })).toThrow(TypeError);
    expect(() => gen({ redirectUri: "javascript:alert(1)" })).toThrow(TypeError);
    expect(() => gen({ redirectUri: "https://app.example.com/cb#x" })).toThrow(TypeError);
    expect(() => gen({ redirectUri: "https://app.example.com/c\nb" })).toThrow(TypeError);
    expect(() => gen({ authorizationUrl: "ftp://slack.com/x" })).toThrow(TypeError);
    expect(() => gen({ authorizationUrl: "https://u:p@slack.com/x" })).toThrow(TypeError);
  });

  it("keeps query parameters already on a custom endpoint (the emulator, a proxy)", () => {
    const url = gen({ authorizationUrl: "http://127.0.0.1:9/openid/connect/authorize?x=1#frag" }).generate("s", {
      nonce: NONCE,
    });
    const u = new URL(url);
    expect(u.origin + u.pathname).toBe("http://127.0.0.1:9/openid/connect/authorize");
    expect(u.searchParams.get("x")).toBe("1");
    expect(u.hash).toBe("");
  });
});
