import { afterEach, describe, expect, it } from "vitest";
import { api, authorize, closeAll, consent, type Json, start, verifyJwt } from "./helpers.js";

afterEach(closeAll);

const APP_URL = "http://localhost:3000";
const CALLBACK = `${APP_URL}/slack/login/callback`;

async function signIn(emu: Awaited<ReturnType<typeof start>>, extra: Record<string, string> = {}, team?: string) {
  const code = await authorize(
    emu,
    {
      response_type: "code",
      client_id: emu.app.clientId,
      scope: "openid profile email",
      redirect_uri: CALLBACK,
      state: "st",
      nonce: "n-123",
      ...extra,
    },
    team ? { team } : {},
    "/openid/connect/authorize",
  );
  return api(emu, "openid.connect.token", {
    client_id: emu.app.clientId,
    client_secret: emu.app.clientSecret,
    code,
    redirect_uri: CALLBACK,
  });
}

async function jwks(emu: Awaited<ReturnType<typeof start>>) {
  return (await (await fetch(`${emu.url}/openid/connect/keys`)).json()) as { keys: Array<Record<string, unknown>> };
}

describe("Sign in with Slack", () => {
  it("publishes the discovery document with its own endpoints and the configured issuer", async () => {
    const emu = await start({ appUrl: APP_URL });
    const doc = (await (await fetch(`${emu.url}/.well-known/openid-configuration`)).json()) as Json;
    expect(doc).toMatchObject({
      issuer: "https://slack.com",
      authorization_endpoint: `${emu.url}/openid/connect/authorize`,
      token_endpoint: `${emu.url}/api/openid.connect.token`,
      userinfo_endpoint: `${emu.url}/api/openid.connect.userInfo`,
      jwks_uri: `${emu.url}/openid/connect/keys`,
      id_token_signing_alg_values_supported: ["RS256"],
    });
    const emu2 = await start({ appUrl: APP_URL, oidcIssuer: "http://issuer.test" });
    expect(((await (await fetch(`${emu2.url}/.well-known/openid-configuration`)).json()) as Json).issuer).toBe(
      "http://issuer.test",
    );
  });

  it("exchanges the code for a user token and an id_token verifiable against the JWKS", async () => {
    const emu = await start({ appUrl: APP_URL });
    const r = await signIn(emu, {}, "T0000000002");
    expect(r.body).toMatchObject({ ok: true, token_type: "Bearer" });
    expect(r.body.access_token).toMatch(/^xoxp-/);
    const keys = await jwks(emu);
    expect(keys.keys[0]).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig", kid: expect.any(String) });
    const { header, claims } = verifyJwt(r.body.id_token, keys);
    expect(header).toMatchObject({ alg: "RS256", typ: "JWT" });
    expect(claims).toMatchObject({
      iss: "https://slack.com",
      sub: "U0000000004",
      aud: emu.app.clientId,
      nonce: "n-123",
      "https://slack.com/team_id": "T0000000002",
      "https://slack.com/user_id": "U0000000004",
      email: "dave@globex.example.com",
      email_verified: true,
      name: "Dave Admin",
      given_name: "Dave",
      family_name: "Admin",
    });
    expect(claims.exp - claims.iat).toBe(300);
    expect(Math.abs(claims.iat - Date.now() / 1000)).toBeLessThan(10);
    expect(typeof claims.at_hash).toBe("string");
    // Tampering breaks the signature.
    const [h, p, s] = (r.body.id_token as string).split(".");
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: "U0000000001" })).toString("base64url");
    expect(() => verifyJwt(`${h}.${forged}.${s}`, keys)).toThrow(/bad signature/);
    expect(p).toBeDefined();

    const info = await api(emu, "openid.connect.userInfo", {}, { token: r.body.access_token });
    expect(info.body).toMatchObject({
      ok: true,
      sub: "U0000000004",
      "https://slack.com/team_id": "T0000000002",
      email: "dave@globex.example.com",
      name: "Dave Admin",
      "https://slack.com/team_name": "Globex",
    });
  });

  it("only includes what the scopes allow", async () => {
    const emu = await start({ appUrl: APP_URL });
    const r = await signIn(emu, { scope: "openid" });
    const { claims } = verifyJwt(r.body.id_token, await jwks(emu));
    expect(claims.email).toBeUndefined();
    expect(claims.name).toBeUndefined();
    expect(claims.sub).toBe("U0000000001");
  });

  it("rotates keys: the new key signs, the old one stays published until dropped", async () => {
    const emu = await start({ appUrl: APP_URL });
    const before = await signIn(emu);
    const oldKid = verifyJwt(before.body.id_token, await jwks(emu)).header.kid;
    const res = await fetch(`${emu.url}/_emulator/oidc/rotate-key`, { method: "POST" });
    const { kid } = (await res.json()) as Json;
    expect(kid).not.toBe(oldKid);
    const after = await signIn(emu);
    const keys = await jwks(emu);
    expect(keys.keys.map((k) => k.kid)).toEqual([oldKid, kid]);
    expect(verifyJwt(after.body.id_token, keys).header.kid).toBe(kid);
    expect(verifyJwt(before.body.id_token, keys).header.kid).toBe(oldKid);
    expect(emu.dropOldOidcKeys()).toEqual([oldKid]);
    const dropped = await jwks(emu);
    expect(dropped.keys.map((k) => k.kid)).toEqual([kid]);
    expect(() => verifyJwt(before.body.id_token, dropped)).toThrow(/no key/);
  });

  it("validates the request: error pages for bad requests, errors for bad exchanges", async () => {
    const emu = await start({ appUrl: APP_URL });
    const base = {
      response_type: "code",
      client_id: emu.app.clientId,
      scope: "openid",
      redirect_uri: CALLBACK,
    };
    for (const [params, error] of [
      [{ ...base, response_type: "token" }, "unsupported_response_type"],
      [{ ...base, scope: "profile" }, "invalid_scope"],
      [{ ...base, scope: "openid chat:write" }, "invalid_scope"],
      [{ ...base, redirect_uri: "https://evil.example.com/" }, "bad_redirect_uri"],
      [{ ...base, redirect_uri: "" }, "bad_redirect_uri"],
    ] as const) {
      const r = await consent(emu, params, {}, "/openid/connect/authorize");
      expect(r.status, error).toBe(400);
      expect(r.location).toBeNull();
      expect(r.html).toContain(`<code id="error">${error}</code>`);
    }
    const code = await authorize(emu, base, {}, "/openid/connect/authorize");
    const creds = { client_id: emu.app.clientId, client_secret: emu.app.clientSecret };
    expect((await api(emu, "openid.connect.token", { ...creds, code })).body.error).toBe("bad_redirect_uri");
    expect((await api(emu, "oauth.v2.access", { ...creds, code, redirect_uri: CALLBACK })).body.error).toBe(
      "invalid_code",
    );
    const ok = await api(emu, "openid.connect.token", { ...creds, code, redirect_uri: CALLBACK });
    expect(ok.body.ok).toBe(true);
    const { claims } = verifyJwt(ok.body.id_token, await jwks(emu));
    expect(claims.nonce).toBeUndefined();
    expect((await api(emu, "openid.connect.token", { ...creds, code, redirect_uri: CALLBACK })).body.error).toBe(
      "invalid_code",
    );
  });

  it("userInfo refuses tokens without openid", async () => {
    const emu = await start({ appUrl: APP_URL });
    const code = await authorize(emu, { client_id: emu.app.clientId, scope: "commands" });
    const reply = (
      await api(emu, "oauth.v2.access", { client_id: emu.app.clientId, client_secret: emu.app.clientSecret, code })
    ).body;
    expect((await api(emu, "openid.connect.userInfo", {}, { token: reply.access_token })).body.error).toBe(
      "missing_scope",
    );
  });
});
