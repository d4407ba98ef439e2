import { describe, expect, it } from "vitest";
import {
  AuthorizeUrlGenerator,
  computeCodeChallenge,
  generatePkce,
  normalizeScopes,
  SLACK_AUTHORIZE_URL,
  SLACK_LEGACY_AUTHORIZE_URL,
} from "../../src/oauth/authorize-url.js";

const clientId = "111.222";
const state = "st_4f1c2b";

function parse(url: string): { base: string; params: [string, string][] } {
  const u = new URL(url);
  return { base: `${u.origin}${u.pathname}`, params: [...u.searchParams.entries()] };
}

describe("AuthorizeUrlGenerator v2", () => {
  it("builds Slack's authorize URL with comma-joined scopes and every parameter", () => {
    const gen = new AuthorizeUrlGenerator({
      clientId,
      scopes: ["chat:write", "commands", "incoming-webhook"],
      userScopes: "search:read, users.profile:read",
      redirectUri: "https://example.test/slack/oauth_redirect",
    });
    const url = gen.generate(state, { team: "T0123ABCD" });
    expect(url.startsWith(`${SLACK_AUTHORIZE_URL}?`)).toBe(true);
    expect(parse(url).params).toEqual([
      ["client_id", clientId],
      ["scope", "chat:write,commands,incoming-webhook"],
      ["user_scope", "search:read,users.profile:read"],
      ["redirect_uri", "https://example.test/slack/oauth_redirect"],
      ["state", state],
      ["team", "T0123ABCD"],
    ]);
    // Encoded, not concatenated: ':' and ',' are percent-encoded by URLSearchParams.
    expect(url).toContain("scope=chat%3Awrite%2Ccommands%2Cincoming-webhook");
  });

  it("omits empty parameters and trims and de-duplicates scopes", () => {
    const gen = new AuthorizeUrlGenerator({ clientId, scopes: [" chat:write ", "", "chat:write", "commands"] });
    const { params } = parse(gen.generate(state, { team: "", codeChallenge: "" }));
    expect(params).toEqual([
      ["client_id", clientId],
      ["scope", "chat:write,commands"],
      ["state", state],
    ]);
  });

  it("supports a user-scopes-only install", () => {
    const gen = new AuthorizeUrlGenerator({ clientId, userScopes: ["identity.basic"] });
    expect(parse(gen.generate(state)).params).toEqual([
      ["client_id", clientId],
      ["user_scope", "identity.basic"],
      ["state", state],
    ]);
  });

  it("per-URL options replace the defaults", () => {
    const gen = new AuthorizeUrlGenerator({
      clientId,
      scopes: "chat:write",
      userScopes: "search:read",
      redirectUri: "https://a.test/cb",
    });
    const u = new URL(gen.generate(state, { scopes: ["commands"], userScopes: [], redirectUri: "https://b.test/cb" }));
    expect(u.searchParams.get("scope")).toBe("commands");
    expect(u.searchParams.has("user_scope")).toBe(false);
    expect(u.searchParams.get("redirect_uri")).toBe("https://b.test/cb");
  });

  it("adds the PKCE challenge with code_challenge_method=S256", () => {
    const pkce = generatePkce();
    const gen = new AuthorizeUrlGenerator({ clientId, scopes: ["chat:write"] });
    const u = new URL(gen.generate(state, { codeChallenge: pkce.codeChallenge }));
    expect(u.searchParams.get("code_challenge")).toBe(pkce.codeChallenge);
    expect(u.searchParams.get("code_challenge_method")).toBe("S256");
    expect(() => gen.generate(state, { codeChallenge: "short" })).toThrow(TypeError);
    expect(() => gen.generate(state, { codeChallenge: `${pkce.codeChallenge}&x=1` })).toThrow(TypeError);
  });

  it("never puts metadata in the URL", () => {
    const gen = new AuthorizeUrlGenerator({ clientId, scopes: ["chat:write"] });
    expect(gen.generate(state, { metadata: "secret-ish" })).not.toContain("secret-ish");
  });

  it("keeps query parameters already on a custom authorization URL", () => {
    const gen = new AuthorizeUrlGenerator({
      clientId,
      scopes: ["chat:write"],
      authorizationUrl: "http://127.0.0.1:3999/oauth/v2/authorize?tenant=a%26b&client_id=overridden",
    });
    const u = new URL(gen.generate(state));
    expect(`${u.origin}${u.pathname}`).toBe("http://127.0.0.1:3999/oauth/v2/authorize");
    expect(u.searchParams.get("tenant")).toBe("a&b");
    expect(u.searchParams.getAll("client_id")).toEqual([clientId]);
    expect(u.searchParams.get("state")).toBe(state);
  });

  it("rejects a non-http(s) or malformed authorization URL", () => {
    for (const authorizationUrl of ["javascript:alert(1)", "data:text/html,x", "ftp://slack.test/x", "/oauth", "x"]) {
      expect(() => new AuthorizeUrlGenerator({ clientId, scopes: "a", authorizationUrl }), authorizationUrl).toThrow(
        TypeError,
      );
    }
    expect(
      () => new AuthorizeUrlGenerator({ clientId, scopes: "a", authorizationUrl: "https://u:p@slack.test/oauth" }),
    ).toThrow(TypeError);
  });

  it("cannot be made to inject a parameter through a scope", () => {
    const attacks = [
      "chat:write&redirect_uri=https://evil.test",
      "chat:write,commands",
      "chat:write#frag",
      "chat:write\nredirect_uri=https://evil.test",
      "chat write",
      "chat:write?x=1",
      "chat%3Awrite",
      "é",
    ];
    for (const bad of attacks) {
      expect(() => new AuthorizeUrlGenerator({ clientId, scopes: [bad] }), bad).toThrow(TypeError);
      expect(() => new AuthorizeUrlGenerator({ clientId, userScopes: [bad] }), bad).toThrow(TypeError);
      const gen = new AuthorizeUrlGenerator({ clientId, scopes: ["chat:write"] });
      expect(() => gen.generate(state, { scopes: [bad] }), bad).toThrow(TypeError);
    }
    // In a single string, commas and whitespace separate scopes; anything else is still rejected.
    expect(() => new AuthorizeUrlGenerator({ clientId, scopes: "chat:write&redirect_uri=https://evil.test" })).toThrow(
      /invalid scope "chat:write&redirect_uri=https:\/\/evil.test"/,
    );
    const gen = new AuthorizeUrlGenerator({ clientId, scopes: "chat:write,\ncommands" });
    expect(new URL(gen.generate(state)).searchParams.get("scope")).toBe("chat:write,commands");
  });

  it("names the bad scope without echoing a secret-looking value", () => {
    const fakeToken = `xoxb-${"1".repeat(10)}-${"2".repeat(10)}-fakefakefake`;
    let message = "";
    try {
      new AuthorizeUrlGenerator({ clientId, scopes: [`chat:write&${fakeToken}`] });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("invalid scope");
    expect(message).not.toContain(fakeToken);
  });

  it("a state or a redirect URI cannot inject parameters either (values are encoded)", () => {
    const gen = new AuthorizeUrlGenerator({ clientId, scopes: ["chat:write"] });
    const tricky = "a&redirect_uri=https://evil.test#x";
    const u = new URL(gen.generate(tricky));
    expect(u.searchParams.get("state")).toBe(tricky);
    expect(u.searchParams.getAll("redirect_uri")).toEqual([]);
    expect(u.hash).toBe("");
    const v = new URL(gen.generate(state, { redirectUri: "https://app.test/cb?x=1&y=2" }));
    expect(v.searchParams.get("redirect_uri")).toBe("https://app.test/cb?x=1&y=2");
    expect(v.searchParams.has("y")).toBe(false);
  });

  it("validates the state, redirect URI, team and scopes", () => {
    const gen = new AuthorizeUrlGenerator({ clientId, scopes: ["chat:write"] });
    expect(() => gen.generate("")).toThrow(TypeError);
    for (const redirectUri of [
      "https://a.test/cb#frag",
      "javascript:alert(1)",
      "/relative",
      "https://a.test/c b",
      "https://a.test/\ncb",
    ]) {
      expect(() => gen.generate(state, { redirectUri }), redirectUri).toThrow(TypeError);
    }
    expect(() => gen.generate(state, { team: "T1&x=1" })).toThrow(TypeError);
    expect(() => new AuthorizeUrlGenerator({ clientId, scopes: [] }).generate(state)).toThrow(TypeError);
    expect(() => new AuthorizeUrlGenerator({ clientId: "" })).toThrow(TypeError);
    expect(() => new AuthorizeUrlGenerator({ clientId: "1&x=2" })).toThrow(TypeError);
  });

  it("sends the redirect URI exactly as given (oauth.v2.access must get the same string)", () => {
    const redirectUri = "https://Example.test:443/slack/oauth_redirect";
    const gen = new AuthorizeUrlGenerator({ clientId, scopes: ["chat:write"], redirectUri });
    expect(new URL(gen.generate(state)).searchParams.get("redirect_uri")).toBe(redirectUri);
  });
});

describe("AuthorizeUrlGenerator v1 (legacy)", () => {
  it("uses /oauth/authorize and one space-separated scope", () => {
    const gen = new AuthorizeUrlGenerator({ clientId, scopes: ["bot", "commands", "incoming-webhook"], version: "v1" });
    const url = gen.generate(state, { team: "T1" });
    expect(parse(url)).toEqual({
      base: SLACK_LEGACY_AUTHORIZE_URL,
      params: [
        ["client_id", clientId],
        ["scope", "bot commands incoming-webhook"],
        ["state", state],
        ["team", "T1"],
      ],
    });
    expect(url).not.toContain("user_scope");
  });

  it("refuses separate user scopes and PKCE", () => {
    expect(() => new AuthorizeUrlGenerator({ clientId, scopes: "bot", userScopes: "identify", version: "v1" })).toThrow(
      TypeError,
    );
    const gen = new AuthorizeUrlGenerator({ clientId, scopes: "bot", version: "v1" });
    expect(() => gen.generate(state, { userScopes: ["identify"] })).toThrow(TypeError);
    expect(() => gen.generate(state, { codeChallenge: generatePkce().codeChallenge })).toThrow(TypeError);
  });
});

describe("PKCE", () => {
  it("matches RFC 7636 Appendix B", () => {
    expect(computeCodeChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("generates a 43-char verifier of the allowed alphabet and its S256 challenge", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const pkce = generatePkce();
      expect(pkce.codeVerifier).toMatch(/^[A-Za-z0-9\-._~]{43}$/);
      expect(pkce.codeChallenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(pkce.codeChallengeMethod).toBe("S256");
      expect(computeCodeChallenge(pkce.codeVerifier)).toBe(pkce.codeChallenge);
      seen.add(pkce.codeVerifier);
    }
    expect(seen.size).toBe(50);
  });

  it("rejects verifiers outside RFC 7636's 43-128 unreserved characters", () => {
    expect(() => computeCodeChallenge("short")).toThrow(TypeError);
    expect(() => computeCodeChallenge("a".repeat(129))).toThrow(TypeError);
    expect(() => computeCodeChallenge(`${"a".repeat(43)}+`)).toThrow(TypeError);
    expect(computeCodeChallenge("a".repeat(128))).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("normalizeScopes", () => {
  it("splits strings on commas and whitespace and keeps arrays element-wise", () => {
    expect(normalizeScopes("chat:write, commands  incoming-webhook")).toEqual([
      "chat:write",
      "commands",
      "incoming-webhook",
    ]);
    expect(normalizeScopes(undefined)).toEqual([]);
    expect(() => normalizeScopes(["a,b"])).toThrow(TypeError);
  });
});
