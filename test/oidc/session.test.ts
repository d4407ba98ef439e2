import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { renderProfilePage } from "../../src/oidc/pages.js";
import { isSameOriginRequest, SessionCookie } from "../../src/oidc/session.js";

const secret = () => randomBytes(32).toString("hex");

function requestWith(cookie: string): Request {
  return new Request("https://app.example.com/profile", { headers: { cookie } });
}

describe("SessionCookie", () => {
  it("round-trips data in a signed, HttpOnly, SameSite=Lax cookie (Secure except on http://localhost)", () => {
    const s = new SessionCookie<{ userId: string; name: string }>({ secret: secret() });
    const set = s.serialize({ userId: "U1", name: "Ann" }, "https://app.example.com/slack/login/callback");
    // Over https the name takes the __Host- prefix (a sibling subdomain cannot plant it).
    expect(set).toMatch(/^__Host-slack-app-session=v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}; /);
    expect(set).toContain("HttpOnly");
    expect(set).toContain("SameSite=Lax");
    expect(set).toContain("Path=/");
    expect(set).toContain("Max-Age=28800");
    expect(set).toContain("Secure");
    expect(s.serialize({ userId: "U1", name: "A" }, "http://localhost:3000/x")).not.toContain("Secure");
    expect(s.serialize({ userId: "U1", name: "A" }, "http://localhost:3000/x")).toMatch(/^slack-app-session=v1\./);
    expect(s.serialize({ userId: "U1", name: "A" }, "http://example.com/x")).toContain("Secure");
    expect(s.read(requestWith(`other=1; ${set.split(";")[0]}`))).toEqual({ userId: "U1", name: "Ann" });
  });

  it("rejects tampering: payload, signature, version, another secret, another cookie name", () => {
    const s = new SessionCookie<{ userId: string; admin?: boolean }>({ secret: secret() });
    const value = s.encode({ userId: "U1" });
    const [v, payload, mac] = value.split(".") as [string, string, string];
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), d: { userId: "U2", admin: true } }),
    ).toString("base64url");
    expect(s.decode(value)?.data).toEqual({ userId: "U1" });
    expect(s.decode(`${v}.${forgedPayload}.${mac}`)).toBeUndefined();
    const flipped = `${mac.slice(0, 10)}${mac[10] === "A" ? "B" : "A"}${mac.slice(11)}`;
    expect(s.decode(`${v}.${payload}.${flipped}`)).toBeUndefined();
    expect(s.decode(`v2.${payload}.${mac}`)).toBeUndefined();
    expect(s.decode(`${v}.${payload}`)).toBeUndefined();
    expect(s.decode(`${v}.${payload}.${mac}.x`)).toBeUndefined();
    expect(s.decode(`${v}.${payload}.${mac.slice(0, -1)}`)).toBeUndefined();
    expect(s.decode("")).toBeUndefined();
    expect(s.decode(undefined)).toBeUndefined();
    expect(new SessionCookie({ secret: secret() }).decode(value)).toBeUndefined();
    // A valid value under another cookie name does not verify (the name is in the MAC).
    const shared = secret();
    const a = new SessionCookie({ secret: shared, name: "a" });
    const b = new SessionCookie({ secret: shared, name: "b" });
    expect(a.decode(a.encode({ x: 1 }))).toBeDefined();
    expect(b.decode(a.encode({ x: 1 }))).toBeUndefined();
  });

  it("expires from the signed payload, whatever the browser keeps", () => {
    let now = Date.UTC(2030, 0, 1);
    const s = new SessionCookie<{ userId: string }>({ secret: secret(), maxAgeSeconds: 3600, nowMs: () => now });
    const value = s.encode({ userId: "U1" });
    expect(s.decode(value)?.expiresAt).toBe(now / 1000 + 3600);
    now += 3599_000;
    expect(s.decode(value)).toBeDefined();
    now += 1_000;
    expect(s.decode(value)).toBeUndefined();
    // A session issued "in the future" (a server with a wrong clock) is refused too.
    const future = new SessionCookie<{ userId: string }>({ secret: "x".repeat(32), nowMs: () => now + 3_600_000 });
    const same = new SessionCookie<{ userId: string }>({ secret: "x".repeat(32), nowMs: () => now });
    expect(same.decode(future.encode({ userId: "U1" }))).toBeUndefined();
  });

  it("over https only the __Host- cookie is read: a plain-named one (a sibling subdomain's) is ignored", () => {
    const s = new SessionCookie<{ userId: string }>({ secret: secret() });
    const planted = s.serialize({ userId: "U_ATTACKER" }, "http://localhost:3000/").split(";")[0]!;
    expect(planted.startsWith("slack-app-session=")).toBe(true);
    expect(s.read(requestWith(planted))).toBeUndefined();
    const real = s.serialize({ userId: "U1" }, "https://app.example.com/").split(";")[0]!;
    expect(s.read(requestWith(`${planted}; ${real}`))).toEqual({ userId: "U1" });
    expect(s.read(new Request("http://localhost:3000/profile", { headers: { cookie: planted } }))).toEqual({
      userId: "U_ATTACKER",
    });
  });

  it("clears the cookie; refuses short secrets and oversized data", () => {
    const s = new SessionCookie({ secret: secret() });
    expect(s.clear("https://app.example.com/logout")).toMatch(
      /^__Host-slack-app-session=; Path=\/; HttpOnly; SameSite=Lax; Max-Age=0; Secure; Expires=Thu, 01 Jan 1970/,
    );
    expect(() => new SessionCookie({ secret: "too-short" })).toThrow(ConfigError);
    expect(() => new SessionCookie({ secret: new Uint8Array(16) })).toThrow(ConfigError);
    expect(() => new SessionCookie({ secret: secret(), name: "a;b" })).toThrow(TypeError);
    expect(() => s.encode({ big: "x".repeat(5000) })).toThrow(/too large/);
  });

  it("sameSite: Strict on request (an admin console's cookie), Lax by default, nothing else", () => {
    const strict = new SessionCookie({ secret: secret(), name: "console", sameSite: "Strict" });
    expect(strict.serialize({ a: 1 }, "https://app.example.com/")).toMatch(
      /^__Host-console=v1\.[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=28800; Secure$/,
    );
    expect(strict.clear("https://app.example.com/")).toContain("SameSite=Strict");
    expect(() => new SessionCookie({ secret: secret(), sameSite: "None" as "Lax" })).toThrow(TypeError);
  });
});

describe("isSameOriginRequest (logout CSRF check)", () => {
  const post = (headers: Record<string, string>) =>
    new Request("https://app.example.com/logout", { method: "POST", headers });
  it("allows same-origin and non-browser requests, refuses cross-site ones", () => {
    expect(isSameOriginRequest(post({ "sec-fetch-site": "same-origin" }))).toBe(true);
    expect(isSameOriginRequest(post({ "sec-fetch-site": "cross-site", origin: "https://app.example.com" }))).toBe(
      false,
    );
    expect(isSameOriginRequest(post({ "sec-fetch-site": "same-site" }))).toBe(false);
    expect(isSameOriginRequest(post({ origin: "https://app.example.com" }))).toBe(true);
    expect(isSameOriginRequest(post({ origin: "https://evil.example" }))).toBe(false);
    expect(isSameOriginRequest(post({ origin: "null" }))).toBe(false);
    expect(isSameOriginRequest(post({}))).toBe(true);
    expect(isSameOriginRequest(post({ origin: "https://public.example" }), ["https://public.example"])).toBe(true);
    expect(
      isSameOriginRequest(new Request("https://app.example.com/x", { headers: { origin: "https://evil.example" } })),
    ).toBe(true);
  });
});

describe("renderProfilePage", () => {
  it("escapes every claim and shows only http(s) avatars", () => {
    const html = renderProfilePage({
      identity: {
        userId: "U1",
        teamId: "T1",
        name: '<script>alert("x")</script>',
        email: 'a@b.example"><img src=x onerror=alert(1)>',
        teamName: "<b>Team</b>",
        picture: "javascript:alert(1)",
      },
    });
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(html).not.toContain("<img src=x");
    expect(html).not.toContain("<b>Team</b>");
    expect(html).not.toContain("javascript:");
    expect(html).not.toContain('id="avatar"');
    const withAvatar = renderProfilePage({
      identity: { userId: "U1", teamId: "T1", picture: 'https://img.example/a.png?x="><script>' },
    });
    expect(withAvatar).toContain('id="avatar" src="https://img.example/a.png?x=%22%3E%3Cscript%3E"');
    for (const bad of ["data:image/png;base64,AAAA", "//evil.example/a.png", "https://u:p@img.example/a.png"]) {
      expect(renderProfilePage({ identity: { userId: "U1", teamId: "T1", picture: bad } })).not.toContain(
        'id="avatar"',
      );
    }
  });
});
