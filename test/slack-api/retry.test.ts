import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { SlackApiClient, type SlackApiClientOptions } from "../../src/slack-api/client.js";
import { SlackApiError, SlackNetworkError, SlackTimeoutError } from "../../src/slack-api/errors.js";
import { closedPort, fake, hangUp, json, never, ok, recordingLogger, text, useFakeSlack } from "./fake-slack.js";

const slack = useFakeSlack();

function makeClient(options: SlackApiClientOptions = {}): SlackApiClient {
  return new SlackApiClient({ baseUrl: slack.baseUrl, retryBaseDelayMs: 1, ...options });
}
const exchange = (c: SlackApiClient) => c.oauthV2Access({ clientId: "1.2", clientSecret: fake("s"), code: fake("c") });
const refresh = (c: SlackApiClient) =>
  c.oauthV2Refresh({ clientId: "1.2", clientSecret: fake("s"), refreshToken: fake("xoxe-1-fake") });
const rateLimited = (seconds: string) => json(429, { ok: false, error: "ratelimited" }, { "Retry-After": seconds });
const htmlError = (status: number) => text(status, "<html><body><h1>Bad gateway</h1></body></html>");

describe("rate limits (HTTP 429)", () => {
  it("retries after Retry-After for every method, including the single-use code exchange", async () => {
    slack.script(rateLimited("0"), ok({ access_token: "x" }));
    const res = await exchange(makeClient());
    expect(res.access_token).toBe("x");
    expect(slack.requests).toHaveLength(2);
  });

  it("waits Retry-After seconds before the retry", async () => {
    slack.script(rateLimited("1"), ok());
    const started = Date.now();
    await makeClient().authTest(fake("tok"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(slack.requests).toHaveLength(2);
  });

  it("throws SlackApiError ratelimited with retryAfter once retries run out", async () => {
    slack.script(rateLimited("0"));
    const err = await makeClient({ maxRetries: 2 })
      .authTest(fake("tok"))
      .catch((e) => e);
    expect(err).toBeInstanceOf(SlackApiError);
    expect(err).toMatchObject({
      code: ErrorCode.SlackApi,
      error: "ratelimited",
      httpStatus: 429,
      retryAfter: 0,
      method: "auth.test",
    });
    expect(slack.requests).toHaveLength(3);
  });

  it("fails at once when Retry-After exceeds maxRetryAfterSeconds", async () => {
    slack.script(rateLimited("120"), ok());
    const started = Date.now();
    const err = await makeClient({ maxRetryAfterSeconds: 30 })
      .authTest(fake("tok"))
      .catch((e) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err).toMatchObject({ error: "ratelimited", retryAfter: 120, httpStatus: 429 });
    expect(slack.requests).toHaveLength(1);
  });

  it("handles a 429 without a JSON body or Retry-After (defaults to 1 s)", async () => {
    slack.script(text(429, "Too Many Requests", "text/plain"));
    const err = await makeClient({ maxRetries: 0 })
      .authTest(fake("tok"))
      .catch((e) => e);
    expect(err).toMatchObject({ error: "ratelimited", retryAfter: 1, httpStatus: 429 });
  });

  it("accepts Retry-After as an HTTP date", async () => {
    slack.script(
      json(429, { ok: false, error: "ratelimited" }, { "Retry-After": new Date(Date.now() + 90_000).toUTCString() }),
    );
    const err = await makeClient({ maxRetries: 1, maxRetryAfterSeconds: 5 })
      .authTest(fake("tok"))
      .catch((e) => e);
    expect(err.retryAfter).toBeGreaterThanOrEqual(88);
    expect(slack.requests).toHaveLength(1);
  });
});

describe("HTTP 5xx", () => {
  it("retries a safe method with backoff and succeeds", async () => {
    slack.script(htmlError(502), json(503, { ok: false, error: "service_unavailable" }), ok({ user_id: "U1" }));
    const { lines, logger } = recordingLogger();
    const res = await makeClient({ logger }).authTest(fake("tok"));
    expect(res.user_id).toBe("U1");
    expect(slack.requests).toHaveLength(3);
    expect(lines.filter((l) => l.startsWith("warn") && l.includes("retrying"))).toHaveLength(2);
  });

  it("does not retry the code exchange after a 5xx: the code may already be spent", async () => {
    slack.script(htmlError(500), ok());
    const err = await exchange(makeClient()).catch((e) => e);
    expect(err).toBeInstanceOf(SlackNetworkError);
    expect(err).toMatchObject({ code: ErrorCode.Network, httpStatus: 500, method: "oauth.v2.access" });
    expect(slack.requests).toHaveLength(1);
  });

  it("does not retry a refresh after a 5xx, and keeps Slack's JSON error", async () => {
    slack.script(json(503, { ok: false, error: "service_unavailable" }), ok());
    const err = await refresh(makeClient()).catch((e) => e);
    expect(err).toBeInstanceOf(SlackApiError);
    expect(err).toMatchObject({ error: "service_unavailable", httpStatus: 503 });
    expect(slack.requests).toHaveLength(1);
  });

  it("does not retry chat.postMessage (no duplicate posts) nor views.open (single-use trigger)", async () => {
    slack.script(htmlError(502), ok());
    await expect(makeClient().chatPostMessage(fake("tok"), { channel: "C1", text: "x" })).rejects.toBeInstanceOf(
      SlackNetworkError,
    );
    expect(slack.requests).toHaveLength(1);
    slack.requests.length = 0;
    slack.script(htmlError(502), ok());
    await expect(
      makeClient().viewsOpen(fake("tok"), { triggerId: "1.2.3", view: { type: "modal" } }),
    ).rejects.toBeInstanceOf(SlackNetworkError);
    expect(slack.requests).toHaveLength(1);
  });

  it("gives an HTML 5xx page as SlackNetworkError with the status after the retries", async () => {
    slack.script(htmlError(502));
    const err = await makeClient({ maxRetries: 1 })
      .authTest(fake("tok"))
      .catch((e) => e);
    expect(err).toBeInstanceOf(SlackNetworkError);
    expect(err.httpStatus).toBe(502);
    expect(err.cause).toBeInstanceOf(SyntaxError);
    expect(slack.requests).toHaveLength(2);
  });

  it("retryOn5xx: false turns 5xx retries off", async () => {
    slack.script(htmlError(502), ok());
    await expect(makeClient({ retryOn5xx: false }).authTest(fake("tok"))).rejects.toBeInstanceOf(SlackNetworkError);
    expect(slack.requests).toHaveLength(1);
  });

  it("call() retries only when idempotent is set", async () => {
    slack.script(htmlError(500), ok());
    await expect(makeClient().call("team.info", {}, { token: fake("tok") })).rejects.toBeInstanceOf(SlackNetworkError);
    expect(slack.requests).toHaveLength(1);
    slack.requests.length = 0;
    slack.script(htmlError(500), ok({ team: { id: "T1" } }));
    const res = await makeClient().call("team.info", {}, { token: fake("tok"), idempotent: true });
    expect(res.team).toEqual({ id: "T1" });
    expect(slack.requests).toHaveLength(2);
  });
});

describe("network errors", () => {
  it("retries a safe method after the connection dropped mid-request", async () => {
    slack.script(hangUp, ok({ user_id: "U1" }));
    const res = await makeClient().authTest(fake("tok"));
    expect(res.user_id).toBe("U1");
    expect(slack.requests).toHaveLength(2);
  });

  it("does not retry the code exchange when the request reached the server and the connection dropped", async () => {
    slack.script(hangUp, ok());
    const err = await exchange(makeClient()).catch((e) => e);
    expect(err).toBeInstanceOf(SlackNetworkError);
    expect(err.code).toBe(ErrorCode.Network);
    expect(err.httpStatus).toBeUndefined();
    expect(err.cause).toBeDefined();
    expect(slack.requests).toHaveLength(1);
  });

  it("retries the code exchange when the connection was refused (the request never left)", async () => {
    const port = await closedPort();
    const { lines, logger } = recordingLogger();
    const c = new SlackApiClient({
      baseUrl: `http://127.0.0.1:${port}/api/`,
      retryBaseDelayMs: 1,
      maxRetries: 2,
      logger,
    });
    const err = await exchange(c).catch((e) => e);
    expect(err).toBeInstanceOf(SlackNetworkError);
    expect(err.message).toContain("ECONNREFUSED");
    expect(lines.filter((l) => /attempt \d+\/3/.test(l))).toHaveLength(3);
  });

  it("retries a refused connection and then reaches Slack (injected fetch)", async () => {
    let calls = 0;
    const fetchImpl: typeof fetch = async (input, init) => {
      calls++;
      if (calls === 1) {
        throw new TypeError("fetch failed", {
          cause: Object.assign(new Error("connect refused"), { code: "ECONNREFUSED" }),
        });
      }
      return fetch(input, init);
    };
    slack.script(ok({ access_token: "x" }));
    const res = await exchange(makeClient({ fetch: fetchImpl }));
    expect(res.access_token).toBe("x");
    expect(calls).toBe(2);
    expect(slack.requests).toHaveLength(1);
  });

  it("treats an AggregateError as not connected only if every address refused", async () => {
    const refused = () => Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
    const reset = () => Object.assign(new Error("reset"), { code: "ECONNRESET" });
    let calls = 0;
    const failing =
      (make: () => Error[]): typeof fetch =>
      async () => {
        calls++;
        throw new TypeError("fetch failed", { cause: new AggregateError(make(), "all failed") });
      };
    calls = 0;
    await expect(exchange(makeClient({ fetch: failing(() => [refused(), refused()]) }))).rejects.toBeInstanceOf(
      SlackNetworkError,
    );
    expect(calls).toBe(3);
    calls = 0;
    await expect(exchange(makeClient({ fetch: failing(() => [refused(), reset()]) }))).rejects.toBeInstanceOf(
      SlackNetworkError,
    );
    expect(calls).toBe(1);
  });

  it("gives a 200 reply that is not JSON as SlackNetworkError", async () => {
    slack.script(text(200, "<html>login</html>"));
    const err = await makeClient()
      .authTest(fake("tok"))
      .catch((e) => e);
    expect(err).toBeInstanceOf(SlackNetworkError);
    expect(err.httpStatus).toBe(200);
    expect(slack.requests).toHaveLength(1);
  });

  it("gives JSON that is not a Slack reply (no ok) as SlackNetworkError", async () => {
    slack.script(json(200, { hello: "world" }));
    await expect(makeClient().authTest(fake("tok"))).rejects.toBeInstanceOf(SlackNetworkError);
    slack.script(json(200, [1, 2]));
    await expect(makeClient().authTest(fake("tok"))).rejects.toBeInstanceOf(SlackNetworkError);
  });

  it("refuses redirects (a POST body must never be replayed elsewhere)", async () => {
    slack.script((_req, res) => {
      res.writeHead(307, { Location: "http://127.0.0.1:1/steal" });
      res.end();
    });
    const err = await exchange(makeClient()).catch((e) => e);
    expect(err).toBeInstanceOf(SlackNetworkError);
    expect(slack.requests).toHaveLength(1);
  });
});

describe("timeouts", () => {
  it("aborts a slow call with SlackTimeoutError and does not retry a code exchange", async () => {
    slack.script(never);
    const started = Date.now();
    const err = await exchange(makeClient({ timeoutMs: 150 })).catch((e) => e);
    expect(err).toBeInstanceOf(SlackTimeoutError);
    expect(err).toMatchObject({ code: ErrorCode.Timeout, timeoutMs: 150, method: "oauth.v2.access", status: 504 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(slack.requests).toHaveLength(1);
  });

  it("retries a timed-out safe call", async () => {
    slack.script(never, ok({ user_id: "U2" }));
    const res = await makeClient({ timeoutMs: 150 }).authTest(fake("tok"));
    expect(res.user_id).toBe("U2");
    expect(slack.requests).toHaveLength(2);
  });

  it("times out even with a fetch that ignores the abort signal", async () => {
    const fetchImpl: typeof fetch = () => new Promise<Response>(() => {});
    const err = await makeClient({ fetch: fetchImpl, timeoutMs: 100, maxRetries: 0 })
      .authTest(fake("tok"))
      .catch((e) => e);
    expect(err).toBeInstanceOf(SlackTimeoutError);
  });

  it("times out while reading a slow body", async () => {
    slack.script((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write('{"ok":');
    });
    const err = await makeClient({ timeoutMs: 150, maxRetries: 0 })
      .authTest(fake("tok"))
      .catch((e) => e);
    expect(err).toBeInstanceOf(SlackTimeoutError);
  });

  it("a caller's AbortSignal stops the call and the wait between retries", async () => {
    slack.script(rateLimited("5"));
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    setTimeout(() => controller.abort(reason), 100);
    const started = Date.now();
    const err = await makeClient()
      .call("auth.test", {}, { token: fake("tok"), signal: controller.signal })
      .catch((e) => e);
    expect(err).toBe(reason);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
