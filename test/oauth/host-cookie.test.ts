/**
 * Over https the state cookie is `__Host-` prefixed, and only that one binds a callback: a plain-named
 * cookie (which a sibling subdomain could plant) is ignored. On http://localhost the plain name is used.
 */
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { OAuthFlow } from "../../src/oauth/flow.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { STATE_COOKIE_NAME } from "../../src/state/cookie.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";

function flow(): OAuthFlow {
  // Slack refuses the code: enough to tell "the cookie check passed" from "the cookie was refused".
  const api = new SlackApiClient({
    fetch: async () => Response.json({ ok: false, error: "invalid_code" }),
    maxRetries: 0,
  });
  return new OAuthFlow({
    clientId: "1234567890.1234567890",
    clientSecret: "0123456789abcdef0123456789abcdef",
    scopes: ["commands"],
    stateStore: new MemoryStateStore(),
    installationStore: new MemoryInstallationStore(),
    api,
  });
}

async function begin(f: OAuthFlow, origin: string): Promise<{ name: string; state: string }> {
  const res = (await f.handle(new Request(`${origin}/slack/install`)))!;
  const set = res.headers.getSetCookie()[0] ?? "";
  const [pair] = set.split(";");
  const eq = (pair ?? "").indexOf("=");
  return { name: (pair ?? "").slice(0, eq), state: (pair ?? "").slice(eq + 1) };
}

const back = (f: OAuthFlow, origin: string, state: string, cookie: string) =>
  f.handle(
    new Request(`${origin}/slack/oauth_redirect?code=c0de&state=${state}`, { headers: { cookie } }),
  ) as Promise<Response>;

describe("state cookie prefix", () => {
  it("https: __Host- cookie set and required; a planted plain-named cookie is refused", async () => {
    const f = flow();
    const origin = "https://app.example.com";
    const { name, state } = await begin(f, origin);
    expect(name).toBe(`__Host-${STATE_COOKIE_NAME}`);
    const planted = await back(f, origin, state, `${STATE_COOKIE_NAME}=${state}`);
    expect(planted.headers.get("x-slack-oauth-error")).toBe(ErrorCode.StateCookieMissing);
    const { state: second } = await begin(f, origin);
    const real = await back(f, origin, second, `${name}=${second}`);
    expect([ErrorCode.StateCookieMissing, ErrorCode.StateCookieMismatch]).not.toContain(
      real.headers.get("x-slack-oauth-error"),
    );
    expect(real.headers.getSetCookie().some((c) => c.startsWith(`__Host-${STATE_COOKIE_NAME}=;`))).toBe(true);
  });

  it("http://localhost: the plain name", async () => {
    const f = flow();
    const { name } = await begin(f, "http://localhost:3000");
    expect(name).toBe(STATE_COOKIE_NAME);
  });
});
