/**
 * Helpers for the Sign in with Slack tests: RSA keys and id_tokens made here (jose / node:crypto), forged
 * tokens (`alg: none`, HS256 keyed with the public key), a counting JWKS `fetch`, and a tiny fake Slack
 * (token, userInfo and keys endpoints) that serves whatever id_token a test hands it.
 */
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

export interface TestKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

type CryptoKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

/** A fresh RS256 key pair with a random kid. */
export async function makeKey(kid = `test-${randomBytes(6).toString("hex")}`): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { kid, privateKey, publicJwk: { ...jwk, kid, alg: "RS256", use: "sig" } };
}

export const CLIENT_ID = "1111111111.2222222222222";
export const ISSUER = "https://slack.com";

/** Claims of a valid id_token for `nonce`, as Slack sends them. */
export function claimsFor(nonce: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER,
    sub: "U0000000005",
    aud: CLIENT_ID,
    exp: iat + 300,
    iat,
    auth_time: iat,
    nonce,
    "https://slack.com/team_id": "T0000000002",
    "https://slack.com/user_id": "U0000000005",
    email: "erin@globex.example.com",
    email_verified: true,
    name: "Erin Example",
    given_name: "Erin",
    family_name: "Example",
    locale: "en-US",
    "https://slack.com/team_name": "Globex",
    "https://slack.com/team_domain": "globex",
    ...overrides,
  };
}

/** Signs claims as an RS256 JWT with `key` (kid in the header). */
export async function sign(
  claims: Record<string, unknown>,
  key: TestKey,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: key.kid, ...header })
    .sign(key.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** An unsigned token (`alg: none`), with or without an empty signature part. */
export function forgeNone(claims: Record<string, unknown>, kid?: string): string {
  return `${b64({ alg: "none", typ: "JWT", ...(kid ? { kid } : {}) })}.${b64(claims)}.`;
}

/** HS256 keyed with the issuer's public key (the classic RS256 → HS256 confusion attack). */
export function forgeHs256(claims: Record<string, unknown>, secret: string | Buffer, kid?: string): string {
  const input = `${b64({ alg: "HS256", typ: "JWT", ...(kid ? { kid } : {}) })}.${b64(claims)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/** Replaces the payload of a signed token, keeping its header and signature. */
export function tamper(token: string, change: (claims: Record<string, unknown>) => Record<string, unknown>): string {
  const [h, p, s] = token.split(".");
  const claims = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
  return `${h}.${b64(change(claims))}.${s}`;
}

/** A `fetch` that serves `{ keys }` from a mutable list and counts its calls. */
export function jwksFetch(keys: TestKey[]): {
  fetch: typeof fetch;
  calls: () => number;
  keys: TestKey[];
  fail: (on: boolean) => void;
} {
  let calls = 0;
  let failing = false;
  const f = (async () => {
    calls++;
    // Let concurrent callers pile up while the "request" is in flight.
    await new Promise((r) => setTimeout(r, 20));
    if (failing) return new Response("upstream down", { status: 503 });
    return Response.json({ keys: keys.map((k) => k.publicJwk) });
  }) as typeof fetch;
  return {
    fetch: f,
    calls: () => calls,
    keys,
    fail: (on) => {
      failing = on;
    },
  };
}

/** A fake Slack: `openid.connect.token` answers with the id_token the test sets; keys from `keys`. */
export interface FakeSlack {
  url: string;
  apiUrl: string;
  keys: TestKey[];
  /** What the next `openid.connect.token` returns as id_token (a function gets the code). */
  idToken: string | ((code: string) => string | Promise<string>);
  /** userInfo reply (default derived from `userInfoSub`). */
  userInfo: Record<string, unknown>;
  jwksFetches: number;
  tokenCalls: number;
  close(): Promise<void>;
}

export async function startFakeSlack(keys: TestKey[]): Promise<FakeSlack> {
  const fake: FakeSlack = {
    url: "",
    apiUrl: "",
    keys,
    idToken: "",
    userInfo: {
      ok: true,
      sub: "U0000000005",
      "https://slack.com/user_id": "U0000000005",
      "https://slack.com/team_id": "T0000000002",
      email: "erin@globex.example.com",
      email_verified: true,
      name: "Erin Example",
      picture: "https://avatars.example.com/erin_512.png",
    },
    jwksFetches: 0,
    tokenCalls: 0,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const path = (req.url ?? "/").split("?")[0];
        const json = (status: number, body: unknown) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        };
        if (path === "/openid/connect/keys") {
          fake.jwksFetches++;
          return json(200, { keys: fake.keys.map((k) => k.publicJwk) });
        }
        if (path === "/api/openid.connect.token") {
          fake.tokenCalls++;
          const code = new URLSearchParams(Buffer.concat(chunks).toString()).get("code") ?? "";
          const idToken = typeof fake.idToken === "function" ? await fake.idToken(code) : fake.idToken;
          return json(200, {
            ok: true,
            access_token: "xoxp-1-fake-user-token",
            token_type: "Bearer",
            id_token: idToken,
          });
        }
        if (path === "/api/openid.connect.userInfo") return json(200, fake.userInfo);
        json(404, { ok: false, error: "unknown_method" });
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  fake.url = `http://127.0.0.1:${port}`;
  fake.apiUrl = `${fake.url}/api/`;
  fake.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return fake;
}

/** The cookie pair (`name=value`) from a Set-Cookie list. */
export function cookiePair(response: Response, name: string): string | undefined {
  for (const c of response.headers.getSetCookie()) {
    const first = c.split(";")[0]!;
    if (first.startsWith(`${name}=`)) return first;
  }
  return undefined;
}
