// No credential may reach an error message, String(error), JSON.stringify(error), the stack or a log line,
// on any error path, even when the server echoes the request back. The fakes are deliberately shapeless
// (no `xoxb-` prefix), so the test proves the client never includes them rather than that `redact`
// happens to recognise them.
import { describe, expect, it } from "vitest";
import { SlackApiClient, type SlackApiClientOptions } from "../../src/slack-api/client.js";
import { SlackApiError, SlackNetworkError, SlackTimeoutError } from "../../src/slack-api/errors.js";
import { closedPort, fake, hangUp, json, never, type Reply, recordingLogger, useFakeSlack } from "./fake-slack.js";

const clientId = "111.222";
const clientSecret = fake("cs");
const token = fake("tk");
const code = fake("cd");
const refreshToken = fake("rf");
const codeVerifier = fake("vf").padEnd(50, "Z");
const basicHeader = Buffer.from(`${clientId}:${clientSecret}`).toString("base64");
const SECRETS = { clientSecret, token, code, refreshToken, codeVerifier, basicHeader };

const slack = useFakeSlack();

/** A server that echoes everything it received, in every place an error could pick it up. */
const echo =
  (status: number, extra: Record<string, string> = {}): Reply =>
  (req, res) => {
    const auth = req.headers.authorization ?? "";
    const all = `${req.body} ${auth} ${auth.replace(/^\w+ /, "")}`;
    res.writeHead(status, { "Content-Type": "application/json", ...extra });
    res.end(
      JSON.stringify({
        ok: false,
        error: `invalid_code ${all}`,
        needed: all,
        provided: all,
        body: req.body,
        authorization: auth,
        raw: auth.replace(/^\w+ /, ""),
        nested: { list: [all], [all]: "key" },
        response_metadata: { messages: [all] },
      }),
    );
  };
/** A server that answers with the request's own credential as the error code. */
const echoAsCode: Reply = (req, res) => {
  const values = [...new URLSearchParams(req.body).values()].filter((v) => v.length > 8);
  const auth = (req.headers.authorization ?? "").replace(/^Bearer /, "");
  const value = values[0] ?? auth;
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ ok: false, error: value, needed: value, provided: value }));
};
const echoHtml =
  (status: number): Reply =>
  (req, res) => {
    res.writeHead(status, { "Content-Type": "text/html" });
    res.end(`<html><pre>${req.body}\n${req.headers.authorization ?? ""}</pre></html>`);
  };

type Call = [name: string, run: (c: SlackApiClient) => Promise<unknown>];
const calls: Call[] = [
  ["oauthV2Access", (c) => c.oauthV2Access({ clientId, clientSecret, code, redirectUri: "https://e.test/cb" })],
  ["oauthV2Access PKCE", (c) => c.oauthV2Access({ clientId, code, codeVerifier })],
  ["oauthV2Access both", (c) => c.oauthV2Access({ clientId, clientSecret, code, codeVerifier })],
  ["oauthV2Refresh", (c) => c.oauthV2Refresh({ clientId, clientSecret, refreshToken })],
  ["oauthAccess", (c) => c.oauthAccess({ clientId, clientSecret, code })],
  ["oauthV2Exchange", (c) => c.oauthV2Exchange({ clientId, clientSecret, token })],
  ["authTest", (c) => c.authTest(token)],
  ["authRevoke", (c) => c.authRevoke(token, { test: true })],
  ["appsUninstall", (c) => c.appsUninstall({ token, clientId, clientSecret })],
  ["openidConnectToken code", (c) => c.openidConnectToken({ clientId, clientSecret, code })],
  ["openidConnectToken refresh", (c) => c.openidConnectToken({ clientId, clientSecret, refreshToken })],
  ["openidConnectUserInfo", (c) => c.openidConnectUserInfo(token)],
  ["viewsOpen", (c) => c.viewsOpen(token, { triggerId: "1.2.3", view: { type: "modal" } })],
  ["chatPostMessage", (c) => c.chatPostMessage(token, { channel: "C1", text: "hello" })],
  [
    "call form",
    (c) => c.call("oauth.v2.access", { code, client_id: clientId, client_secret: clientSecret }, { token }),
  ],
  ["call json", (c) => c.call("apps.uninstall", { client_secret: clientSecret }, { token, json: true })],
];

type Scenario = [name: string, reply: Reply, expected: Function, options?: SlackApiClientOptions];
const scenarios: Scenario[] = [
  ["ok:false echoing the request", echo(200), SlackApiError],
  ["429 echoing, retries exhausted", echo(429, { "Retry-After": "0" }), SlackApiError, { maxRetries: 1 }],
  ["429 over the cap", echo(429, { "Retry-After": "999" }), SlackApiError],
  ["5xx JSON echoing", echo(503), SlackApiError],
  ["a credential as the error code", echoAsCode, SlackApiError],
  ["5xx HTML echoing", echoHtml(502), SlackNetworkError],
  ["200 HTML echoing", echoHtml(200), SlackNetworkError],
  ["JSON without ok", json(200, { hello: "world" }), SlackNetworkError],
  ["connection dropped", hangUp, SlackNetworkError],
  ["timeout", never, SlackTimeoutError, { timeoutMs: 100 }],
];

function assertClean(label: string, error: unknown, lines: string[]): void {
  const e = error as Error;
  const views = {
    message: e.message,
    string: String(e),
    json: JSON.stringify(e),
    stack: e.stack ?? "",
    logs: lines.join("\n"),
  };
  for (const [where, value] of Object.entries(views)) {
    for (const [what, secret] of Object.entries(SECRETS)) {
      expect(value.includes(secret), `${label}: ${what} leaked into ${where}: ${value}`).toBe(false);
    }
  }
}

describe("no secret in errors or logs", () => {
  for (const [scenario, reply, expected, options] of scenarios) {
    it(`${scenario}: every method`, async () => {
      for (const [name, run] of calls) {
        slack.script(reply);
        const { lines, logger } = recordingLogger();
        const c = new SlackApiClient({
          baseUrl: slack.baseUrl,
          maxRetries: 0,
          retryBaseDelayMs: 1,
          logger,
          ...options,
        });
        const error = await run(c).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, `${scenario} / ${name}`).toBeInstanceOf(expected);
        assertClean(`${scenario} / ${name}`, error, lines);
      }
    });
  }

  it("the echoed reply on SlackApiError is kept, masked", async () => {
    slack.script(echo(200));
    const error = (await new SlackApiClient({ baseUrl: slack.baseUrl })
      .oauthV2Access({ clientId, clientSecret, code })
      .catch((e) => e)) as SlackApiError;
    // Not a Slack error code (free text): kept out of `error` and the message, masked in `data`.
    expect(error.error).toBe("unknown_error");
    expect(error.data?.body).toBe("code=****");
    expect(error.data?.authorization).toBe("****");
    expect(JSON.stringify(error.data)).toContain("****");
  });

  it("connection refused (retried) and a fetch whose own error carries the secrets", async () => {
    const port = await closedPort();
    for (const [name, run] of calls) {
      const { lines, logger } = recordingLogger();
      const c = new SlackApiClient({ baseUrl: `http://127.0.0.1:${port}/api/`, retryBaseDelayMs: 1, logger });
      const error = await run(c).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(SlackNetworkError);
      assertClean(`refused / ${name}`, error, lines);
    }
    const leakyFetch: typeof fetch = async (_input, init) => {
      const headers = JSON.stringify(init?.headers);
      throw new TypeError(`request failed: ${String(init?.body)} ${headers}`, {
        cause: Object.assign(new Error(`reset while sending ${String(init?.body)}`), { code: "ECONNRESET" }),
      });
    };
    for (const [name, run] of calls) {
      const { lines, logger } = recordingLogger();
      const c = new SlackApiClient({ fetch: leakyFetch, retryBaseDelayMs: 1, logger });
      const error = await run(c).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(SlackNetworkError);
      expect((error as Error).message).toContain("ECONNRESET");
      assertClean(`leaky fetch / ${name}`, error, lines);
    }
  });

  it("argument errors do not echo the bad credential", async () => {
    const c = new SlackApiClient({ baseUrl: slack.baseUrl });
    const badToken = `${token}\r\nX-Injected: ${clientSecret}`;
    const errors = [
      await c.authTest(badToken).catch((e: unknown) => e),
      await c.call("auth.test", { token }).catch((e: unknown) => e),
      await c.chatPostMessage(badToken, { channel: "C1", text: "x" }).catch((e: unknown) => e),
      await c.viewsOpen(token, { view: { type: "modal" } }).catch((e: unknown) => e),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(TypeError);
      assertClean("argument error", error, []);
    }
  });
});
