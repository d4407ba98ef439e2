/**
 * The id_token verifier on its own: every forgery is refused with the code of the check it fails, and the
 * JWKS cache refetches on an unknown kid at most once per interval.
 */
import { createPublicKey } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { IdTokenError } from "../../src/oidc/errors.js";
import { JwksCache, type JwksCacheOptions } from "../../src/oidc/jwks.js";
import { generateNonce, nonceMatches } from "../../src/oidc/nonce.js";
import { IdTokenVerifier } from "../../src/oidc/verifier.js";
import {
  CLIENT_ID,
  claimsFor,
  forgeHs256,
  forgeNone,
  ISSUER,
  jwksFetch,
  makeKey,
  sign,
  type TestKey,
  tamper,
} from "./helpers.js";

// The JWKS cache (jose's remote set) reads the system clock: time is moved with a faked Date.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Moves the (faked) system clock forward. */
function advance(ms: number): void {
  vi.setSystemTime(Date.now() + ms);
}

async function setup(options: { now?: () => number; minRefetchIntervalMs?: number } = {}) {
  const key = await makeKey();
  const jwks = jwksFetch([key]);
  const verifier = new IdTokenVerifier({
    clientId: CLIENT_ID,
    issuer: ISSUER,
    jwksUri: "https://slack.test/openid/connect/keys",
    fetch: jwks.fetch,
    ...(options.now ? { nowMs: options.now } : {}),
    ...(options.minRefetchIntervalMs !== undefined ? { jwksMinRefetchIntervalMs: options.minRefetchIntervalMs } : {}),
  });
  return { key, jwks, verifier };
}

async function rejection(promise: Promise<unknown>): Promise<IdTokenError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected the id_token to be refused").toBeInstanceOf(IdTokenError);
  return error as IdTokenError;
}

describe("IdTokenVerifier", () => {
  it("accepts a valid RS256 id_token and returns its claims", async () => {
    const { key, verifier } = await setup();
    const nonce = generateNonce();
    const claims = await verifier.verify(await sign(claimsFor(nonce), key), { nonce });
    expect(claims).toMatchObject({ sub: "U0000000005", "https://slack.com/team_id": "T0000000002", nonce });
  });

  it("wrong nonce, missing nonce → SLACK_OAUTH_ID_TOKEN_NONCE_MISMATCH", async () => {
    const { key, verifier } = await setup();
    const nonce = generateNonce();
    const other = await sign(claimsFor(generateNonce()), key);
    const e = await rejection(verifier.verify(other, { nonce }));
    expect(e.code).toBe(ErrorCode.IdTokenNonceMismatch);
    expect(e.status).toBe(401);
    const { nonce: _drop, ...noNonce } = claimsFor(nonce);
    expect((await rejection(verifier.verify(await sign(noNonce, key), { nonce }))).code).toBe(
      ErrorCode.IdTokenNonceMismatch,
    );
    // A prefix of the right nonce is not the nonce.
    expect((await rejection(verifier.verify(await sign(claimsFor(nonce.slice(0, 20)), key), { nonce }))).code).toBe(
      ErrorCode.IdTokenNonceMismatch,
    );
  });

  it("nonceMatches compares exactly", () => {
    const n = generateNonce();
    expect(n).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(nonceMatches(n, n)).toBe(true);
    expect(nonceMatches(`${n}x`, n)).toBe(false);
    expect(nonceMatches(undefined, n)).toBe(false);
    expect(nonceMatches(n, "")).toBe(false);
    expect(generateNonce()).not.toBe(n);
  });

  it("expired token → SLACK_OAUTH_ID_TOKEN_EXPIRED; 60 s of clock skew is tolerated, 61 s is not", async () => {
    const { key, verifier } = await setup();
    const nonce = generateNonce();
    const now = Math.floor(Date.now() / 1000);
    const expired = await sign(claimsFor(nonce, { iat: now - 400, exp: now - 100 }), key);
    const e = await rejection(verifier.verify(expired, { nonce }));
    expect(e.code).toBe(ErrorCode.IdTokenExpired);
    expect(e.detail).toMatch(/exp/);
    // Within the leeway.
    await expect(
      verifier.verify(await sign(claimsFor(nonce, { iat: now - 330, exp: now - 30 }), key), { nonce }),
    ).resolves.toBeDefined();
    expect(
      (
        await rejection(
          verifier.verify(await sign(claimsFor(nonce, { iat: now - 361, exp: now - 61 }), key), { nonce }),
        )
      ).code,
    ).toBe(ErrorCode.IdTokenExpired);
    // iat far in the past (a long-lived token) is refused even if exp says otherwise.
    expect(
      (
        await rejection(
          verifier.verify(await sign(claimsFor(nonce, { iat: now - 3600, exp: now + 300 }), key), { nonce }),
        )
      ).code,
    ).toBe(ErrorCode.IdTokenExpired);
    // iat in the future, beyond the leeway.
    expect(
      (
        await rejection(
          verifier.verify(await sign(claimsFor(nonce, { iat: now + 120, exp: now + 420 }), key), { nonce }),
        )
      ).code,
    ).toBe(ErrorCode.IdTokenInvalid);
    // No exp at all.
    const { exp: _e, ...noExp } = claimsFor(nonce);
    expect((await rejection(verifier.verify(await sign(noExp, key), { nonce }))).code).toBe(ErrorCode.IdTokenInvalid);
  });

  it("refuses a clock tolerance above 60 s", () => {
    expect(() => new IdTokenVerifier({ clientId: CLIENT_ID, clockToleranceSeconds: 61 })).toThrow(TypeError);
    expect(() => new IdTokenVerifier({ clientId: CLIENT_ID, clockToleranceSeconds: 60 })).not.toThrow();
  });

  it("wrong audience → SLACK_OAUTH_ID_TOKEN_AUDIENCE_MISMATCH (also several audiences without our azp)", async () => {
    const { key, verifier } = await setup();
    const nonce = generateNonce();
    const e = await rejection(verifier.verify(await sign(claimsFor(nonce, { aud: "9999.8888" }), key), { nonce }));
    expect(e.code).toBe(ErrorCode.IdTokenAudienceMismatch);
    const multi = await sign(claimsFor(nonce, { aud: [CLIENT_ID, "9999.8888"], azp: "9999.8888" }), key);
    expect((await rejection(verifier.verify(multi, { nonce }))).code).toBe(ErrorCode.IdTokenAudienceMismatch);
    const multiOk = await sign(claimsFor(nonce, { aud: [CLIENT_ID, "9999.8888"], azp: CLIENT_ID }), key);
    await expect(verifier.verify(multiOk, { nonce })).resolves.toBeDefined();
  });

  it("wrong issuer → SLACK_OAUTH_ID_TOKEN_ISSUER_MISMATCH", async () => {
    const { key, verifier } = await setup();
    const nonce = generateNonce();
    for (const iss of ["https://evil.example", "https://slack.com/", "http://slack.com"]) {
      const e = await rejection(verifier.verify(await sign(claimsFor(nonce, { iss }), key), { nonce }));
      expect(e.code, iss).toBe(ErrorCode.IdTokenIssuerMismatch);
    }
  });

  it("alg none → SLACK_OAUTH_ID_TOKEN_ALGORITHM_NOT_ALLOWED, without fetching any key", async () => {
    const { key, verifier, jwks } = await setup();
    const nonce = generateNonce();
    for (const token of [forgeNone(claimsFor(nonce)), forgeNone(claimsFor(nonce), key.kid)]) {
      const e = await rejection(verifier.verify(token, { nonce }));
      expect(e.code).toBe(ErrorCode.IdTokenAlgorithmNotAllowed);
    }
    expect(jwks.calls()).toBe(0);
  });

  it("HS256 signed with the public key as the secret → SLACK_OAUTH_ID_TOKEN_ALGORITHM_NOT_ALLOWED", async () => {
    const { key, verifier, jwks } = await setup();
    const nonce = generateNonce();
    const pem = createPublicKey({ key: key.publicJwk as never, format: "jwk" }).export({ type: "spki", format: "pem" });
    const secrets = [String(pem), JSON.stringify(key.publicJwk), Buffer.from(key.publicJwk.n!, "base64url")];
    for (const secret of secrets) {
      const e = await rejection(verifier.verify(forgeHs256(claimsFor(nonce), secret, key.kid), { nonce }));
      expect(e.code).toBe(ErrorCode.IdTokenAlgorithmNotAllowed);
    }
    // Other algorithms Slack does not use are refused too, even ones jose supports.
    const e = await rejection(
      verifier.verify(
        `${Buffer.from(JSON.stringify({ alg: "PS256", kid: key.kid })).toString("base64url")}.${Buffer.from("{}").toString("base64url")}.AAAA`,
        { nonce },
      ),
    );
    expect(e.code).toBe(ErrorCode.IdTokenAlgorithmNotAllowed);
    expect(jwks.calls()).toBe(0);
  });

  it("a token signed by an unknown key → SLACK_OAUTH_ID_TOKEN_KEY_NOT_FOUND (after one refetch)", async () => {
    const { key, verifier, jwks } = await setup();
    const nonce = generateNonce();
    await verifier.verify(await sign(claimsFor(nonce), key), { nonce });
    expect(jwks.calls()).toBe(1);
    const stranger = await makeKey();
    advance(31_000);
    const e = await rejection(verifier.verify(await sign(claimsFor(nonce), stranger), { nonce }));
    expect(e.code).toBe(ErrorCode.IdTokenKeyNotFound);
    expect(jwks.calls()).toBe(2);
  });

  it("a token signed by another key under a published kid → SLACK_OAUTH_ID_TOKEN_SIGNATURE_INVALID", async () => {
    const { key, verifier } = await setup();
    const nonce = generateNonce();
    const impostor = await makeKey(key.kid);
    const e = await rejection(verifier.verify(await sign(claimsFor(nonce), impostor), { nonce }));
    expect(e.code).toBe(ErrorCode.IdTokenSignatureInvalid);
  });

  it("a tampered payload → SLACK_OAUTH_ID_TOKEN_SIGNATURE_INVALID", async () => {
    const { key, verifier } = await setup();
    const nonce = generateNonce();
    const good = await sign(claimsFor(nonce), key);
    const forged = tamper(good, (c) => ({ ...c, sub: "U0000000001", "https://slack.com/user_id": "U0000000001" }));
    const e = await rejection(verifier.verify(forged, { nonce }));
    expect(e.code).toBe(ErrorCode.IdTokenSignatureInvalid);
    // A flipped signature character, too.
    const last = good.at(-2) === "A" ? "B" : "A";
    const flipped = `${good.slice(0, -2)}${last}${good.at(-1)}`;
    expect((await rejection(verifier.verify(flipped, { nonce }))).code).toBe(ErrorCode.IdTokenSignatureInvalid);
  });

  it("malformed tokens and Slack claims → SLACK_OAUTH_ID_TOKEN_INVALID", async () => {
    const { key, verifier } = await setup();
    const nonce = generateNonce();
    for (const token of ["", "abc", "a.b", "a.b.c.d", `${"x".repeat(20_000)}`]) {
      expect((await rejection(verifier.verify(token, { nonce }))).code, token.slice(0, 10)).toBe(
        ErrorCode.IdTokenInvalid,
      );
    }
    const bad = [
      claimsFor(nonce, { sub: "<script>" }),
      claimsFor(nonce, { "https://slack.com/team_id": undefined }),
      claimsFor(nonce, { "https://slack.com/user_id": "U0000000001" }),
      claimsFor(nonce, { "https://slack.com/enterprise_id": "../E1" }),
    ];
    for (const claims of bad) {
      expect((await rejection(verifier.verify(await sign(claims, key), { nonce }))).code).toBe(
        ErrorCode.IdTokenInvalid,
      );
    }
    // No kid in the header.
    const noKid = await sign(claimsFor(nonce), key, { kid: undefined });
    expect((await rejection(verifier.verify(noKid, { nonce }))).code).toBe(ErrorCode.IdTokenInvalid);
  });
});

describe("JwksCache", () => {
  it("picks up a rotated key (unknown kid → refetch) without a restart", async () => {
    const { key, verifier, jwks } = await setup();
    const nonce = generateNonce();
    await verifier.verify(await sign(claimsFor(nonce), key), { nonce });
    const rotated = await makeKey();
    jwks.keys.push(rotated);
    advance(31_000); // past the refetch interval
    await expect(verifier.verify(await sign(claimsFor(nonce), rotated), { nonce })).resolves.toBeDefined();
    expect(jwks.calls()).toBe(2);
    // Both keys are now cached: no further fetch.
    await verifier.verify(await sign(claimsFor(nonce), key), { nonce });
    expect(jwks.calls()).toBe(2);
    expect(verifier.jwks.stats().kids.sort()).toEqual([key.kid, rotated.kid].sort());
  });

  it("concurrent verifications share one fetch (cold cache, and after a rotation) and all succeed", async () => {
    const { key, verifier, jwks } = await setup();
    const nonce = generateNonce();
    const tokens = await Promise.all(Array.from({ length: 20 }, () => sign(claimsFor(nonce), key)));
    const cold = await Promise.allSettled(tokens.map((t) => verifier.verify(t, { nonce })));
    expect(cold.filter((r) => r.status === "fulfilled")).toHaveLength(20);
    expect(jwks.calls()).toBe(1);
    const rotated = await makeKey();
    jwks.keys.push(rotated);
    advance(31_000);
    const next = await Promise.all(Array.from({ length: 20 }, () => sign(claimsFor(nonce), rotated)));
    const warm = await Promise.allSettled(next.map((t) => verifier.verify(t, { nonce })));
    expect(warm.filter((r) => r.status === "fulfilled")).toHaveLength(20);
    expect(jwks.calls()).toBe(2);
  });

  it("a flood of unknown-kid tokens causes at most one fetch per interval", async () => {
    const { key, verifier, jwks } = await setup();
    const nonce = generateNonce();
    await verifier.verify(await sign(claimsFor(nonce), key), { nonce });
    expect(jwks.calls()).toBe(1);
    advance(31_000);
    const strangers: TestKey[] = await Promise.all(Array.from({ length: 5 }, () => makeKey()));
    const tokens = await Promise.all(Array.from({ length: 100 }, (_, i) => sign(claimsFor(nonce), strangers[i % 5]!)));
    // Concurrent: one refetch, shared.
    const results = await Promise.allSettled(tokens.map((t) => verifier.verify(t, { nonce })));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(
      results.every((r) => r.status === "rejected" && (r.reason as IdTokenError).code === ErrorCode.IdTokenKeyNotFound),
    ).toBe(true);
    expect(jwks.calls()).toBe(2);
    // Sequential, still inside the interval: no more fetches.
    for (const t of tokens.slice(0, 20)) await verifier.verify(t, { nonce }).catch(() => undefined);
    expect(jwks.calls()).toBe(2);
    // The interval passes: one more fetch is allowed, then it is quiet again.
    advance(30_001);
    for (const t of tokens.slice(0, 20)) await verifier.verify(t, { nonce }).catch(() => undefined);
    expect(jwks.calls()).toBe(3);
    // The known key still verifies throughout.
    await expect(verifier.verify(await sign(claimsFor(nonce), key), { nonce })).resolves.toBeDefined();
  });

  it("the first fetch failing → SLACK_OAUTH_JWKS_UNAVAILABLE (502); a failed refresh keeps the cached keys", async () => {
    const key = await makeKey();
    const jwks = jwksFetch([key]);
    const cache = new JwksCache({
      jwksUri: "https://slack.test/openid/connect/keys",
      fetch: jwks.fetch,
      maxAgeMs: 60_000,
    });
    const verifier = new IdTokenVerifier({ clientId: CLIENT_ID, jwks: cache });
    const nonce = generateNonce();
    const token = await sign(claimsFor(nonce), key);
    jwks.fail(true);
    const e = await rejection(verifier.verify(token, { nonce }));
    expect(e.code).toBe(ErrorCode.JwksUnavailable);
    expect(e.status).toBe(502);
    advance(2_000);
    jwks.fail(false);
    await expect(verifier.verify(token, { nonce })).resolves.toBeDefined();
    // Stale (past maxAgeMs) and the issuer is down: the cached key still answers.
    jwks.fail(true);
    advance(61_000);
    const fresh = await sign(claimsFor(nonce), key);
    await expect(verifier.verify(fresh, { nonce })).resolves.toBeDefined();
    expect(cache.stats().failures).toBe(2);
  });

  it("ignores non-RSA, encryption and private members of the JWKS; refuses redirects and huge documents", async () => {
    const key = await makeKey();
    const seen: RequestInit[] = [];
    const cache = new JwksCache({
      jwksUri: "https://slack.test/keys",
      fetch: (async (_url: string, init: RequestInit) => {
        seen.push(init);
        return Response.json({
          keys: [
            { kty: "oct", kid: "hmac", k: "c2VjcmV0" },
            { ...key.publicJwk, kid: "enc", use: "enc" },
            { ...key.publicJwk, kid: "ps", alg: "PS256" },
            key.publicJwk,
          ],
        });
      }) as typeof fetch,
    });
    await cache.refresh(0);
    expect(cache.stats().kids).toEqual([key.kid]);
    expect(seen[0]?.redirect).toBe("error");
    const huge = new JwksCache({
      jwksUri: "https://slack.test/keys",
      fetch: (async () => new Response("x".repeat(300 * 1024))) as typeof fetch,
    });
    await expect(huge.refresh(0)).rejects.toMatchObject({ code: ErrorCode.JwksUnavailable });
  });

  it("keeps at most 50 keys of a document; a document up to 256 KiB is read, one byte more is refused", async () => {
    const key = await makeKey();
    const many = Array.from({ length: 60 }, (_, i) => ({ ...key.publicJwk, kid: `k${i}` }));
    const cache = new JwksCache({
      jwksUri: "https://slack.test/keys",
      fetch: (async () => Response.json({ keys: many })) as typeof fetch,
    });
    await cache.refresh(0);
    expect(cache.stats().kids).toEqual(many.slice(0, 50).map((k) => k.kid));
    const sized = (bytes: number, declared: boolean) =>
      new JwksCache({
        jwksUri: "https://slack.test/keys",
        fetch: (async () => {
          const head = JSON.stringify({ keys: [key.publicJwk] });
          const body = `${head.slice(0, -1)},"pad":"${"x".repeat(bytes - head.length - 9)}"}`;
          expect(Buffer.byteLength(body)).toBe(bytes);
          // Without a declared length the cap is met while streaming.
          const stream = new Blob([body]).stream();
          return new Response(declared ? body : stream, { headers: { "content-type": "application/json" } });
        }) as typeof fetch,
      });
    const atCap = sized(256 * 1024, true);
    await atCap.refresh(0);
    expect(atCap.stats().kids).toEqual([key.kid]);
    for (const declared of [true, false]) {
      const over = sized(256 * 1024 + 1, declared);
      await expect(over.refresh(0)).rejects.toMatchObject({ code: ErrorCode.JwksUnavailable });
      expect(over.stats()).toMatchObject({ fetches: 1, failures: 1, kids: [] });
    }
  });

  it("a fetch that does not answer is abandoned after 5 s → SLACK_OAUTH_JWKS_UNAVAILABLE", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"], now: Date.now() });
    let aborted: unknown;
    const cache = new JwksCache({
      jwksUri: "https://slack.test/keys",
      fetch: ((_url: string, init: RequestInit) =>
        new Promise<Response>((_, reject) => {
          init.signal?.addEventListener("abort", () => {
            aborted = init.signal?.reason;
            reject(init.signal?.reason);
          });
        })) as typeof fetch,
    });
    let settled = false;
    const pending = cache.refresh(0).finally(() => {
      settled = true;
    });
    const outcome = expect(pending).rejects.toMatchObject({ code: ErrorCode.JwksUnavailable });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await outcome;
    expect((aborted as Error).name).toBe("TimeoutError");
  });

  it("a known kid is served from the cache for 10 minutes, then the set is refetched once", async () => {
    const { key, verifier, jwks } = await setup();
    const nonce = generateNonce();
    await verifier.verify(await sign(claimsFor(nonce), key), { nonce });
    expect(jwks.calls()).toBe(1);
    advance(10 * 60_000 - 1);
    await verifier.verify(await sign(claimsFor(nonce), key), { nonce });
    expect(jwks.calls()).toBe(1);
    advance(1);
    await verifier.verify(await sign(claimsFor(nonce), key), { nonce });
    await verifier.verify(await sign(claimsFor(nonce), key), { nonce });
    expect(jwks.calls()).toBe(2);
  });

  it("a kid unknown at first is refetched only once the 30 s interval since the last fetch has passed", async () => {
    const { key, verifier, jwks } = await setup();
    const nonce = generateNonce();
    await verifier.verify(await sign(claimsFor(nonce), key), { nonce });
    const rotated = await makeKey();
    jwks.keys.push(rotated);
    advance(30_000 - 1);
    const early = await rejection(verifier.verify(await sign(claimsFor(nonce), rotated), { nonce }));
    expect(early.code).toBe(ErrorCode.IdTokenKeyNotFound);
    expect(jwks.calls()).toBe(1);
    advance(1);
    await expect(verifier.verify(await sign(claimsFor(nonce), rotated), { nonce })).resolves.toBeDefined();
    expect(jwks.calls()).toBe(2);
  });

  it("the removed now option is refused, not ignored", () => {
    expect(
      () => new JwksCache({ jwksUri: "https://slack.test/keys", now: () => 0 } as unknown as JwksCacheOptions),
    ).toThrow(/now option is gone/);
  });
});
