// The client's two transports — Node's http (the default on Node) and any fetch — must behave alike:
// every scenario below runs through both against the same fake Slack over real HTTP.
import { afterEach, describe, expect, it, vi } from "vitest";
import { SlackApiClient, type SlackApiClientOptions } from "../../src/slack-api/client.js";
import { SlackApiError, SlackNetworkError, SlackTimeoutError } from "../../src/slack-api/errors.js";
import { fetchIsCustomised } from "../../src/slack-api/transport.js";
import { closedPort, fake, hangUp, json, never, ok, text, useFakeSlack } from "./fake-slack.js";

const slack = useFakeSlack();
afterEach(() => {
  vi.unstubAllGlobals();
});

const nativeFetch = globalThis.fetch;
const transports: [string, SlackApiClientOptions][] = [
  ["node:http (default)", {}],
  ["fetch", { fetch: (input, init) => nativeFetch(input, init) }],
];

describe.each(transports)("transport: %s", (_name, transport) => {
  const client = (options: SlackApiClientOptions = {}) =>
    new SlackApiClient({ baseUrl: slack.baseUrl, retryBaseDelayMs: 1, ...transport, ...options });
  const exchange = (c: SlackApiClient) =>
    c.oauthV2Access({ clientId: "1.2", clientSecret: fake("s"), code: fake("c"), redirectUri: "https://a.example/cb" });

  it("sends a form POST with Basic credentials and reads the JSON reply", async () => {
    slack.script(ok({ access_token: "xoxb-fake", team: { id: "T1" } }));
    const reply = await exchange(client());
    expect(reply).toMatchObject({ ok: true, access_token: "xoxb-fake" });
    const [req] = slack.requests;
    expect(req?.httpMethod).toBe("POST");
    expect(req?.method).toBe("oauth.v2.access");
    expect(req?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(req?.headers.authorization).toMatch(/^Basic /);
    expect(req?.headers["content-length"]).toBe(String(Buffer.byteLength(req?.body ?? "")));
    expect(new URLSearchParams(req?.body).get("redirect_uri")).toBe("https://a.example/cb");
  });

  it("keeps non-ASCII text intact both ways and drops a UTF-8 BOM", async () => {
    slack.script((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json; charset=utf-8" });
      res.end(`\uFEFF${JSON.stringify({ ok: true, team: { name: "Équipe 東京 🚀" } })}`);
    });
    const reply = await client().call<{ ok: boolean; team: { name: string } }>(
      "team.info",
      { note: "héllo ✓" },
      { token: "xoxb-1-fake" },
    );
    expect(reply.team.name).toBe("Équipe 東京 🚀");
    expect(new URLSearchParams(slack.requests[0]?.body).get("note")).toBe("héllo ✓");
  });

  it("never follows a redirect (the body holds credentials)", async () => {
    slack.script((_req, res) => {
      res.writeHead(307, { Location: `${slack.baseUrl}elsewhere` });
      res.end();
    });
    await expect(exchange(client({ maxRetries: 0 }))).rejects.toBeInstanceOf(SlackNetworkError);
    expect(slack.requests.map((r) => r.method)).toEqual(["oauth.v2.access"]);
  });

  it("reads Retry-After on a 429 and retries", async () => {
    slack.script(json(429, { ok: false, error: "ratelimited" }, { "Retry-After": "0" }), ok({ access_token: "x" }));
    await expect(exchange(client())).resolves.toMatchObject({ ok: true });
    expect(slack.requests).toHaveLength(2);
  });

  it("an HTML error page is a SlackNetworkError with the status", async () => {
    slack.script(text(502, "<html>Bad gateway</html>"));
    const error = await exchange(client({ maxRetries: 0 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlackNetworkError);
    expect((error as SlackNetworkError).httpStatus).toBe(502);
  });

  it("a Slack error is a SlackApiError", async () => {
    slack.script(json(200, { ok: false, error: "invalid_code" }));
    await expect(exchange(client())).rejects.toMatchObject({ error: "invalid_code" });
    await expect(exchange(client())).rejects.toBeInstanceOf(SlackApiError);
  });

  it("times out, and does not repeat the single-use code exchange", async () => {
    slack.script(never);
    const error = await exchange(client({ timeoutMs: 150 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlackTimeoutError);
    expect(slack.requests).toHaveLength(1);
  });

  it("a connection lost mid-request is not repeated for the code exchange, and is for auth.test", async () => {
    slack.script(hangUp);
    await expect(exchange(client())).rejects.toBeInstanceOf(SlackNetworkError);
    expect(slack.requests).toHaveLength(1);
    slack.requests.length = 0;
    slack.script(hangUp, ok({ user_id: "U1" }));
    await expect(client().authTest("xoxb-1-fake")).resolves.toMatchObject({ ok: true });
    expect(slack.requests).toHaveLength(2);
  });

  it("a refused connection is retried even for the code exchange (Slack never saw it)", async () => {
    const port = await closedPort();
    const error = await client({ baseUrl: `http://127.0.0.1:${port}/api/`, maxRetries: 2 })
      .oauthV2Access({ clientId: "1.2", clientSecret: fake("s"), code: fake("c") })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlackNetworkError);
    expect((error as SlackNetworkError).message).toMatch(/ECONNREFUSED/);
  });

  it("the caller's signal aborts the call", async () => {
    slack.script(never);
    const controller = new AbortController();
    const pending = client({ timeoutMs: 5_000 }).call(
      "auth.test",
      {},
      { token: "xoxb-1-fake", signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error("caller gave up")), 50);
    await expect(pending).rejects.toThrow("caller gave up");
  });
});

describe("default transport", () => {
  it("refuses a reply larger than 16 MiB instead of buffering it", async () => {
    slack.script((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const more = () => {
        while (sent < 20 && res.write(chunk)) sent++;
        if (sent < 20) res.once("drain", more);
        else res.end();
      };
      res.on("error", () => undefined);
      more();
    });
    const error = await new SlackApiClient({ baseUrl: slack.baseUrl, maxRetries: 0 })
      .authTest("xoxb-1-fake")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlackNetworkError);
    expect((error as Error).message).toMatch(/ERR_REPLY_TOO_LARGE/);
  });

  it("an already-aborted signal rejects at once and sends nothing", async () => {
    const controller = new AbortController();
    controller.abort(new Error("gave up before starting"));
    const client = new SlackApiClient({ baseUrl: slack.baseUrl, maxRetries: 0 });
    await expect(client.call("auth.test", {}, { token: "xoxb-1-fake", signal: controller.signal })).rejects.toThrow(
      "gave up before starting",
    );
    expect(slack.requests).toHaveLength(0);
  });

  it("keeps to fetch when an undici global dispatcher other than a plain Agent is installed (MockAgent, proxies)", () => {
    const key = Symbol.for("undici.globalDispatcher.1");
    const g = globalThis as Record<symbol, unknown>;
    const before = g[key];
    class MockAgent {}
    class Agent {}
    try {
      g[key] = new MockAgent();
      expect(fetchIsCustomised(globalThis.fetch)).toBe(true);
      g[key] = new Agent();
      expect(fetchIsCustomised(globalThis.fetch)).toBe(false);
      expect(fetchIsCustomised(async () => new Response())).toBe(true);
    } finally {
      g[key] = before;
    }
  });

  it("uses a replaced globalThis.fetch (a test double) instead of node:http", async () => {
    const seen: string[] = [];
    vi.stubGlobal("fetch", async (input: string | URL | Request) => {
      seen.push(String(input));
      return new Response(JSON.stringify({ ok: true, user_id: "U1" }), {
        headers: { "content-type": "application/json" },
      });
    });
    const reply = await new SlackApiClient({ baseUrl: "http://127.0.0.1:9/api/" }).authTest("xoxb-1-fake");
    expect(reply).toMatchObject({ ok: true, user_id: "U1" });
    expect(seen).toEqual(["http://127.0.0.1:9/api/auth.test"]);
    expect(slack.requests).toHaveLength(0);
  });
});
