/**
 * The Lambda adapter (`slack-oauth-kit/http/lambda`) and "acknowledge, then hand off":
 * - recorded function URL / API Gateway events (payload 2.0 and 1.0, written out below) → `Request`, and
 *   `Response` → the result each payload format wants (cookies, multi-value headers, base64, redirects);
 * - the Lambda example (examples/lambda/app.ts) on a real PostgreSQL behind a stand-in of each AWS front
 *   door, driven by the emulator: install → consent → callback (state cookie kept across the redirect) →
 *   signed command (acknowledged, handed off, answered by the worker through response_url) → Sign in with
 *   Slack → uninstall;
 * - a command whose work takes 5 s: Slack gets its acknowledgement at once, the work runs in the worker.
 */
import { randomBytes } from "node:crypto";
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2,
  APIGatewayProxyResult,
  APIGatewayProxyStructuredResultV2,
  LambdaFunctionURLEvent,
} from "aws-lambda";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createSlackLambda, type SlackLambda } from "../../examples/lambda/app.js";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import { ErrorCode } from "../../src/errors.js";
import { createHandOffEndpoint, createHandOffWorker, HandOffError, type SlackJob } from "../../src/events/hand-off.js";
import { BodyTooLargeError, bodyErrorReply } from "../../src/http/core.js";
import {
  type LambdaHttpEventV2,
  type LambdaHttpResultV1,
  type LambdaHttpResultV2,
  lambdaEventToRequest,
  responseToLambdaResult,
  slackLambdaHandler,
  toLambdaHandler,
  toLambdaWorker,
  UnsupportedEventError,
} from "../../src/http/lambda.js";
import { OAuthFlow } from "../../src/oauth/flow.js";
import { OIDC_STATE_COOKIE_NAME } from "../../src/oidc/flow.js";
import { silentLogger } from "../../src/redact.js";
import { SignatureSigner } from "../../src/signature/signature.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { EncryptedInstallationStore, parseEncryptionKeys } from "../../src/stores/encryption.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import { PostgresInstallationStore } from "../../src/stores/postgres.js";
import { tableNames } from "../../src/stores/sql/migrations.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import { CapturingLogger, callback, consent, fullInstall, startInstall } from "../oauth/flow-harness.js";
import { type FrontDoor, type FrontDoorKind, startFrontDoor } from "./lambda-front-door.js";

const SECRET = randomBytes(16).toString("hex");
const TEAM = "T0000000001";

/** A function URL event as AWS documents it (payload 2.0), with the cookies both in `cookies` and the header. */
function functionUrlEvent(overrides: Partial<LambdaFunctionURLEvent> = {}): LambdaFunctionURLEvent {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: "/my/path",
    rawQueryString: "parameter1=value1&parameter1=value2&parameter2=value",
    cookies: ["cookie1=one", "cookie2=two"],
    headers: {
      header1: "value1",
      header2: "value1,value2",
      cookie: "cookie1=one; cookie2=two",
      host: "abcdefg.lambda-url.us-west-2.on.aws",
      "x-forwarded-proto": "https",
      "x-forwarded-port": "443",
      "user-agent": "agent",
    },
    queryStringParameters: { parameter1: "value1,value2", parameter2: "value" },
    requestContext: {
      accountId: "123456789012",
      apiId: "abcdefg",
      authentication: null,
      authorizer: {
        iam: {
          accessKey: "AKIA...",
          accountId: "111122223333",
          callerId: "AIDA...",
          cognitoIdentity: null,
          principalOrgId: null,
          userArn: "arn:aws:iam::111122223333:user/example-user",
          userId: "AIDA...",
        },
      },
      domainName: "abcdefg.lambda-url.us-west-2.on.aws",
      domainPrefix: "abcdefg",
      http: { method: "GET", path: "/my/path", protocol: "HTTP/1.1", sourceIp: "123.123.123.123", userAgent: "agent" },
      requestId: "id",
      routeKey: "$default",
      stage: "$default",
      time: "12/Mar/2020:19:03:58 +0000",
      timeEpoch: 1583348638390,
    },
    isBase64Encoded: false,
    ...overrides,
  } as LambdaFunctionURLEvent;
}

/** An API Gateway HTTP API event (payload 2.0) on a named stage, with a base64 form body. */
function httpApiEvent(body: Buffer, overrides: Partial<APIGatewayProxyEventV2> = {}): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "ANY /{proxy+}",
    rawPath: "/live/slack/events",
    rawQueryString: "",
    headers: {
      "content-length": String(body.length),
      "content-type": "application/x-www-form-urlencoded",
      host: "r2d2c3po.execute-api.eu-west-1.amazonaws.com",
      "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
      "x-forwarded-for": "54.209.1.1",
      "x-forwarded-port": "443",
      "x-forwarded-proto": "https",
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "r2d2c3po",
      domainName: "r2d2c3po.execute-api.eu-west-1.amazonaws.com",
      domainPrefix: "r2d2c3po",
      http: {
        method: "POST",
        path: "/live/slack/events",
        protocol: "HTTP/1.1",
        sourceIp: "54.209.1.1",
        userAgent: "Slackbot 1.0 (+https://api.slack.com/robots)",
      },
      requestId: "JKJaXmPLvHcESHA=",
      routeKey: "ANY /{proxy+}",
      stage: "live",
      time: "04/Dec/2026:20:45:01 +0000",
      timeEpoch: 1796417101000,
    },
    pathParameters: { proxy: "slack/events" },
    body: body.toString("base64"),
    isBase64Encoded: true,
    ...overrides,
  };
}

/** An API Gateway REST API event (payload 1.0) on stage `prod`, with repeated headers and query parameters. */
function restApiEvent(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return {
    resource: "/{proxy+}",
    path: "/slack/oauth_redirect",
    httpMethod: "GET",
    headers: {
      Accept: "text/html",
      Cookie: "slack-app-oauth-state=abc",
      Host: "r2d2c3po.execute-api.eu-west-1.amazonaws.com",
      "X-Custom": "second",
      "X-Forwarded-Proto": "https",
    },
    multiValueHeaders: {
      Accept: ["text/html"],
      Cookie: ["slack-app-oauth-state=abc"],
      Host: ["r2d2c3po.execute-api.eu-west-1.amazonaws.com"],
      "X-Custom": ["first", "second"],
      "X-Forwarded-Proto": ["https"],
    },
    queryStringParameters: { code: "1234.5678", state: "s t&ate", scope: "b" },
    multiValueQueryStringParameters: { code: ["1234.5678"], state: ["s t&ate"], scope: ["a", "b"] },
    pathParameters: { proxy: "slack/oauth_redirect" },
    stageVariables: null,
    requestContext: {
      accountId: "123456789012",
      apiId: "r2d2c3po",
      authorizer: null,
      domainName: "r2d2c3po.execute-api.eu-west-1.amazonaws.com",
      domainPrefix: "r2d2c3po",
      extendedRequestId: "JJbxmHc6PHcFqEw=",
      httpMethod: "GET",
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: "198.51.100.7",
        user: null,
        userAgent: "Mozilla/5.0",
        userArn: null,
      },
      path: "/prod/slack/oauth_redirect",
      protocol: "HTTP/1.1",
      requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
      requestTimeEpoch: 1796417101000,
      resourceId: "2gxmpl",
      resourcePath: "/{proxy+}",
      stage: "prod",
    },
    body: null,
    isBase64Encoded: false,
    ...overrides,
  };
}

describe("events → Request", () => {
  it("function URL (2.0): URL from Host + rawPath + rawQueryString, cookies once, joined headers kept", async () => {
    const request = lambdaEventToRequest(functionUrlEvent());
    expect(request.method).toBe("GET");
    expect(request.url).toBe(
      "https://abcdefg.lambda-url.us-west-2.on.aws/my/path?parameter1=value1&parameter1=value2&parameter2=value",
    );
    expect(request.headers.get("cookie")).toBe("cookie1=one; cookie2=two");
    expect(request.headers.get("header2")).toBe("value1,value2");
    expect(request.body).toBeNull();
  });

  it("HTTP API (2.0): a base64 body is decoded byte for byte; the stage stays in the path", async () => {
    const bytes = Buffer.concat([Buffer.from("text=%C3%BC+a%26b&x=1"), Buffer.from([0xff, 0x00, 0x80])]);
    const request = lambdaEventToRequest(httpApiEvent(bytes));
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://r2d2c3po.execute-api.eu-west-1.amazonaws.com/live/slack/events");
    expect(Buffer.from(await request.arrayBuffer()).equals(bytes)).toBe(true);
    expect(request.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
  });

  it("REST API (1.0): multiValueHeaders and multiValueQueryStringParameters keep every value; path with the stage", () => {
    const request = lambdaEventToRequest(restApiEvent());
    const url = new URL(request.url);
    expect(url.origin).toBe("https://r2d2c3po.execute-api.eu-west-1.amazonaws.com");
    expect(url.pathname).toBe("/prod/slack/oauth_redirect");
    expect(url.searchParams.getAll("scope")).toEqual(["a", "b"]);
    expect(url.searchParams.get("state")).toBe("s t&ate");
    expect(request.headers.get("x-custom")).toBe("first, second");
    expect(request.headers.get("cookie")).toBe("slack-app-oauth-state=abc");
  });

  it("REST API (1.0) without multi-value fields: the single-value ones are used", () => {
    const request = lambdaEventToRequest(
      restApiEvent({ multiValueHeaders: {}, multiValueQueryStringParameters: null }),
    );
    expect(request.headers.get("x-custom")).toBe("second");
    expect(new URL(request.url).searchParams.getAll("scope")).toEqual(["b"]);
  });

  it("the host: a malformed Host header falls back to the event's domain; http only on a loopback host", () => {
    const spoofed = functionUrlEvent({
      headers: { host: "evil.example/path@x", "x-forwarded-proto": "http" },
    });
    expect(lambdaEventToRequest(spoofed).url).toMatch(/^https:\/\/abcdefg\.lambda-url\.us-west-2\.on\.aws\/my\/path/);
    const local = functionUrlEvent({ headers: { host: "127.0.0.1:3000", "x-forwarded-proto": "http" } });
    expect(lambdaEventToRequest(local).url).toMatch(/^http:\/\/127\.0\.0\.1:3000\/my\/path/);
    const based = lambdaEventToRequest(functionUrlEvent(), { baseUrl: "https://slack.example.com" });
    expect(based.url).toMatch(/^https:\/\/slack\.example\.com\/my\/path\?/);
    const network = lambdaEventToRequest(functionUrlEvent({ rawPath: "//evil.example/x" }));
    expect(new URL(network.url).host).toBe("abcdefg.lambda-url.us-west-2.on.aws");
  });

  it("refuses events that are not HTTP events with a coded error", async () => {
    const alb = {
      requestContext: { elb: { targetGroupArn: "arn:aws:elasticloadbalancing:…" } },
      httpMethod: "GET",
      path: "/",
      headers: {},
      body: "",
      isBase64Encoded: false,
    };
    const sqs = { Records: [{ messageId: "1", body: "{}", eventSource: "aws:sqs" }] };
    const handler = toLambdaHandler(() => new Response("never"));
    for (const event of [alb, sqs, null, { version: "2.0" }]) {
      const error = await handler(event as unknown as LambdaHttpEventV2).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsupportedEventError);
      expect((error as UnsupportedEventError).code).toBe(ErrorCode.UnsupportedEvent);
    }
  });

  it("a body that is not the base64 it claims gets 400; one over maxBodyBytes 413; the handler never runs", async () => {
    let ran = 0;
    const handler = toLambdaHandler(
      () => {
        ran++;
        return new Response("ok");
      },
      { maxBodyBytes: 64 },
    );
    const bad = await handler(httpApiEvent(Buffer.from("x"), { body: "not base64!" }));
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body)).toEqual({ ok: false, error: "bad_request" });
    const big = await handler(httpApiEvent(Buffer.alloc(65, 0x61)));
    // The HTTP core's one 413 reply, as every other adapter gives it.
    expect(big).toMatchObject({ statusCode: 413, body: bodyErrorReply(new BodyTooLargeError(64)).body });
    const thrown = (() => {
      try {
        return lambdaEventToRequest(httpApiEvent(Buffer.alloc(65, 0x61)), { maxBodyBytes: 64 });
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(BodyTooLargeError);
    expect((thrown as BodyTooLargeError).code).toBe(ErrorCode.BodyTooLarge);
    const bigText = await handler(
      restApiEvent({ httpMethod: "POST", body: "a".repeat(65), multiValueHeaders: {}, headers: {} }),
    );
    expect(bigText.statusCode).toBe(413);
    expect(ran).toBe(0);
  });

  it("the community event types (@types/aws-lambda) fit the handler, and its results fit theirs", async () => {
    const handler = slackLambdaHandler({});
    // Compile-time checks: their events are accepted, our results are theirs.
    const v2: (event: APIGatewayProxyEventV2) => Promise<unknown> = handler;
    const url: (event: LambdaFunctionURLEvent) => Promise<unknown> = handler;
    const v1: (event: APIGatewayProxyEvent) => Promise<unknown> = handler;
    const r2: APIGatewayProxyStructuredResultV2 = (await v2(httpApiEvent(Buffer.from("")))) as LambdaHttpResultV2;
    const r1: APIGatewayProxyResult = (await v1(restApiEvent())) as LambdaHttpResultV1;
    expect(r2.statusCode).toBe(404);
    expect(r1.statusCode).toBe(404);
    expect(((await url(functionUrlEvent())) as LambdaHttpResultV2).statusCode).toBe(404);
  });
});

describe("Response → result", () => {
  const redirect = () => {
    const headers = new Headers({ Location: "https://slack.com/oauth/v2/authorize?x=1", "Cache-Control": "no-store" });
    headers.append("Set-Cookie", "slack-app-oauth-state=abc; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=600");
    headers.append("Set-Cookie", "other=1; Path=/");
    return new Response(null, { status: 302, headers });
  };

  it("payload 2.0: Set-Cookie in `cookies` (one entry each, never in headers); the redirect kept", async () => {
    const result = (await responseToLambdaResult(redirect(), "2.0")) as LambdaHttpResultV2;
    expect(result.statusCode).toBe(302);
    expect(result.headers.location).toBe("https://slack.com/oauth/v2/authorize?x=1");
    expect(result.cookies).toEqual([
      "slack-app-oauth-state=abc; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=600",
      "other=1; Path=/",
    ]);
    expect(Object.keys(result.headers).map((h) => h.toLowerCase())).not.toContain("set-cookie");
    expect(result).toMatchObject({ body: "", isBase64Encoded: false });
  });

  it("payload 1.0: Set-Cookie in multiValueHeaders", async () => {
    const result = (await responseToLambdaResult(redirect(), "1.0")) as LambdaHttpResultV1;
    expect(result.multiValueHeaders).toEqual({
      "set-cookie": [
        "slack-app-oauth-state=abc; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=600",
        "other=1; Path=/",
      ],
    });
    expect(result.headers["cache-control"]).toBe("no-store");
    expect(result.headers["set-cookie"]).toBeUndefined();
  });

  it("UTF-8 text stays text; binary, compressed or non-UTF-8 bodies go base64; HEAD and 204 have none", async () => {
    const html = await responseToLambdaResult(
      new Response("<p>Grüße</p>", { headers: { "content-type": "text/html; charset=utf-8" } }),
      "2.0",
    );
    expect(html).toMatchObject({ body: "<p>Grüße</p>", isBase64Encoded: false });
    const json = await responseToLambdaResult(Response.json({ ok: true }), "1.0");
    expect(json).toMatchObject({ body: '{"ok":true}', isBase64Encoded: false });
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff]);
    const image = await responseToLambdaResult(new Response(png, { headers: { "content-type": "image/png" } }), "2.0");
    expect(image.isBase64Encoded).toBe(true);
    expect(Buffer.from(image.body, "base64").equals(Buffer.from(png))).toBe(true);
    const latin1 = await responseToLambdaResult(
      new Response(new Uint8Array([0x47, 0xfc]), { headers: { "content-type": "text/plain" } }),
      "2.0",
    );
    expect(latin1.isBase64Encoded).toBe(true);
    const gz = await responseToLambdaResult(
      new Response("xx", { headers: { "content-type": "text/plain", "content-encoding": "gzip" } }),
      "2.0",
    );
    expect(gz.isBase64Encoded).toBe(true);
    const head = await responseToLambdaResult(
      new Response("body", { headers: { "content-type": "text/html" } }),
      "2.0",
      "HEAD",
    );
    expect(head.body).toBe("");
    expect(head.headers["content-type"]).toBe("text/html");
    const none = await responseToLambdaResult(new Response(null, { status: 204 }), "2.0");
    expect(none).toMatchObject({ statusCode: 204, body: "" });
  });

  it("a handler that throws gets 500 JSON and onError is told", async () => {
    const seen: unknown[] = [];
    const handler = toLambdaHandler(
      () => {
        throw new Error("boom");
      },
      { onError: (e) => seen.push(e) },
    );
    const result = await handler(functionUrlEvent());
    expect(result.statusCode).toBe(500);
    expect(JSON.parse(result.body)).toEqual({ ok: false, error: "internal_error" });
    expect(String(seen[0])).toMatch(/boom/);
  });
});

// ---------------------------------------------------------------------------------------------------
// The example on PostgreSQL, behind each front door, driven by the emulator.

const PG_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const pgStatus = await probeBackend("PostgreSQL", PG_URL, async () => {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    await c.query("SELECT 1");
  } finally {
    await c.end();
  }
});

const FRONT_DOORS: Array<[string, FrontDoorKind, string | null]> = [
  ["Lambda function URL (payload 2.0)", "function-url", null],
  ["API Gateway HTTP API, stage `live` (payload 2.0)", "http-api", "live"],
  ["API Gateway REST API, stage `prod` (payload 1.0, multiValueHeaders)", "rest-api", "prod"],
];

describeBackend(pgStatus, () => {
  describe.each(FRONT_DOORS)("examples/lambda on PostgreSQL behind %s", (_name, kind, stage) => {
    const tablePrefix = `t${randomBytes(5).toString("hex")}_`;
    let emu: Emulator;
    let door: FrontDoor;
    let app: SlackLambda;
    let admin: EncryptedInstallationStore;
    const encryptionKeys = `k1:${randomBytes(32).toString("base64")}`;
    const jobs: SlackJob[] = [];
    const logger = new CapturingLogger();

    beforeAll(async () => {
      let lambda: SlackLambda | undefined;
      door = await startFrontDoor(kind, (event) => lambda!.handler(event as never), stage);
      emu = await startEmulator({ appUrl: door.url });
      app = createSlackLambda({
        clientId: emu.app.clientId,
        clientSecret: emu.app.clientSecret,
        signingSecret: emu.app.signingSecret,
        databaseUrl: PG_URL,
        appUrl: door.url,
        tablePrefix,
        encryptionKeys,
        handOff: async (job) => {
          // What an asynchronous invocation carries: JSON, nothing else.
          jobs.push(JSON.parse(JSON.stringify(job)) as SlackJob);
        },
        slack: { apiUrl: emu.apiUrl, authorizeUrl: emu.authorizeUrl, oidcBaseUrl: emu.url },
        logger,
      });
      lambda = app;
      // The tokens are stored encrypted (and the store is marked so): reading them back needs the key.
      admin = new EncryptedInstallationStore(
        new PostgresInstallationStore({ url: PG_URL, tablePrefix, clientId: emu.app.clientId }),
        { keys: parseEncryptionKeys(encryptionKeys) },
      );
    });

    afterAll(async () => {
      await door?.close();
      await emu?.close();
      await app?.close();
      await admin?.close();
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      const t = tableNames(tablePrefix);
      await c.query(
        `DROP TABLE IF EXISTS ${[t.installations, t.bots, t.states, t.migrations, t.meta, `${tablePrefix}locks`].map((n) => `"${n}"`).join(", ")}`,
      );
      await c.end();
    });

    it("install → consent → callback: the state cookie crosses the redirect; the installation lands in PostgreSQL", async () => {
      // Without the cookie the callback is refused (the cookie is what binds the state to this browser).
      const stranger = await startInstall({ url: door.url });
      const strangerBack = await consent(stranger.authorizeUrl, { team: TEAM });
      const refused = await callback(strangerBack);
      await refused.text();
      expect(refused.headers.get("x-slack-oauth-error")).toBe(ErrorCode.StateCookieMissing);

      const { started, location, response, html } = await fullInstall({ url: door.url }, { team: TEAM });
      expect(response.status, html).toBe(200);
      expect(location.href.startsWith(`${door.url}/slack/oauth_redirect?`)).toBe(true);
      // The Set-Cookie that started it, and the one deleting it, both came through the front door.
      expect(started.response.headers.getSetCookie().some((c) => c.startsWith("slack-app-oauth-state="))).toBe(true);
      expect(response.headers.getSetCookie().some((c) => /^slack-app-oauth-state=;.*Max-Age=0/.test(c))).toBe(true);
      const saved = await admin.findBot({ teamId: TEAM });
      expect(saved?.botToken).toMatch(/^xoxb-/);
      // The event that carried the callback has the front door's shape, and its cookie.
      const last = door.events.at(-1)!;
      if (kind === "rest-api") {
        expect(last.multiValueHeaders).toBeDefined();
        expect((last.requestContext as { path: string }).path).toBe(`/${stage}/slack/oauth_redirect`);
        expect(last.path).toBe("/slack/oauth_redirect");
      } else {
        expect(last.version).toBe("2.0");
        expect(last.cookies).toEqual([`slack-app-oauth-state=${started.cookie}`]);
      }
    });

    it("a signed command is acknowledged at once and handed off; the worker answers through response_url", async () => {
      const before = jobs.length;
      const answer = await emu.sendSlashCommand({ teamId: TEAM, command: "/report", text: "a+b & ü=%" });
      expect(answer.status, answer.body).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ response_type: "ephemeral", text: "Working on it…" });
      expect(jobs.length).toBe(before + 1);
      const job = jobs.at(-1)!;
      expect(job).toMatchObject({ kind: "command", type: "slack-oauth-kit/job", v: 1 });
      expect(new URLSearchParams(job.body).get("text")).toBe("a+b & ü=%");
      expect(emu.messages().filter((m) => m.source === "response_url")).toEqual([]);

      const outcome = await app.worker(job);
      expect(outcome).toEqual({ kind: "command", responded: true, duplicate: false });
      const replies = emu.messages().filter((m) => m.source === "response_url");
      expect(replies.map((m) => m.text)).toEqual([expect.stringMatching(/^Report for .+: ready\.$/)]);
      // The same job through an SQS batch (the other hand-off): delivered, nothing to redeliver.
      const batch = await app.worker({
        Records: [{ messageId: "m-1", body: JSON.stringify(job), eventSource: "aws:sqs" }],
      });
      expect(batch).toEqual({ batchItemFailures: [] });
    });

    it("Sign in with Slack: login → consent → callback with the OIDC state cookie", async () => {
      const login = await fetch(`${door.url}/slack/login`);
      const page = await login.text();
      expect(login.status, page).toBe(200);
      const href = /id="sign-in-with-slack" href="([^"]+)"/.exec(page)?.[1];
      expect(href).toBeDefined();
      const cookie = login.headers.getSetCookie().find((c) => c.startsWith(`${OIDC_STATE_COOKIE_NAME}=`));
      expect(cookie).toBeDefined();
      const back = await consent(href!.replaceAll("&amp;", "&"), { team: TEAM });
      expect(back.href.startsWith(`${door.url}/slack/login/callback?`)).toBe(true);
      const done = await fetch(back, { headers: { cookie: cookie!.split(";")[0]! }, redirect: "manual" });
      const html = await done.text();
      expect(done.status, html).toBe(200);
      expect(done.headers.getSetCookie().some((c) => c.startsWith(`${OIDC_STATE_COOKIE_NAME}=;`))).toBe(true);
    });

    it("uninstall: app_uninstalled is acknowledged and the installation deleted at once, nothing handed off", async () => {
      const before = jobs.length;
      const result = await emu.uninstall({ teamId: TEAM });
      expect(result.deliveries.map((d) => [d.type, d.status])).toEqual([
        ["app_uninstalled", 200],
        ["tokens_revoked", 200],
      ]);
      expect(await admin.findInstallation({ teamId: TEAM })).toBeUndefined();
      expect(jobs.length).toBe(before);
      // No token in any log line of the whole path.
      expect(logger.text).not.toContain("xox");
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// Acknowledge, then hand off: a command whose work takes 5 s.

describe("a handler that takes 5 s", () => {
  let emu: Emulator;
  let door: FrontDoor;
  const jobs: SlackJob[] = [];
  const store = new MemoryInstallationStore();
  let worker: (event: unknown) => Promise<unknown>;
  let entered: () => void = () => undefined;

  beforeAll(async () => {
    let handler: ReturnType<typeof slackLambdaHandler> | undefined;
    door = await startFrontDoor("function-url", (event) => handler!(event as never), null);
    // Slack's own limit: a reply later than 3 s is a failed delivery.
    emu = await startEmulator({ appUrl: door.url, deliveryTimeoutMs: 3000 });
    const api = new SlackApiClient({ baseUrl: emu.apiUrl, retryBaseDelayMs: 1, maxRetries: 1 });
    const oauth = new OAuthFlow({
      clientId: emu.app.clientId,
      clientSecret: emu.app.clientSecret,
      scopes: ["commands"],
      redirectUri: `${door.url}/slack/oauth_redirect`,
      authorizationUrl: emu.authorizeUrl,
      stateStore: new MemoryStateStore(),
      installationStore: store,
      api,
      logger: silentLogger,
    });
    const events = createHandOffEndpoint({
      signingSecret: emu.app.signingSecret,
      installationStore: store,
      logger: silentLogger,
      handOff: (job) => {
        jobs.push(job);
      },
    });
    handler = slackLambdaHandler({ oauth, events });
    worker = toLambdaWorker(
      createHandOffWorker({
        signingSecret: emu.app.signingSecret,
        logger: silentLogger,
        onCommand: async (req) => {
          entered();
          await new Promise((resolve) => setTimeout(resolve, 5000)); // the slow work
          return { response_type: "in_channel", text: `done: ${req.body.text as string}` };
        },
      }),
    );
    const installed = await fullInstall({ url: door.url }, { team: TEAM });
    expect(installed.response.status, installed.html).toBe(200);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  afterAll(async () => {
    await door?.close();
    await emu?.close();
  });

  it("Slack gets its acknowledgement at once; the 5 s of work run in the worker and answer via response_url", async () => {
    const answer = await emu.sendSlashCommand({ teamId: TEAM, command: "/slow", text: "report" });
    // Acknowledged (an empty 200) while the work has not even started: it is only a job so far.
    expect(answer).toMatchObject({ status: 200, ok: true, body: "" });
    expect(emu.deliveries().at(-1)).toMatchObject({ kind: "command", status: 200, error: null });
    expect(jobs.length).toBe(1);

    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const started = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let finished = false;
    const done = (worker(jobs[0]) as Promise<unknown>).finally(() => {
      finished = true;
    });
    await started;
    await vi.advanceTimersByTimeAsync(4999);
    expect(finished).toBe(false);
    expect(emu.messages().filter((m) => m.source === "response_url")).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    vi.useRealTimers();
    expect(await done).toEqual({ kind: "command", responded: true, duplicate: false });
    const replies = emu.messages().filter((m) => m.source === "response_url");
    expect(replies.map((m) => m.text)).toEqual(["done: report"]);
  });
});

// ---------------------------------------------------------------------------------------------------
// The hand-off's failure modes.

function signedCommand(body: string, timestamp = Math.floor(Date.now() / 1000)) {
  const headers = new SignatureSigner(SECRET).headers(body, timestamp);
  return lambdaEventToRequestInput(body, headers);
}

function lambdaEventToRequestInput(body: string, slack: Record<string, string>): LambdaHttpEventV2 {
  return {
    version: "2.0",
    rawPath: "/slack/events",
    rawQueryString: "",
    headers: {
      host: "abcdefg.lambda-url.us-west-2.on.aws",
      "content-type": "application/x-www-form-urlencoded",
      ...Object.fromEntries(Object.entries(slack).map(([k, v]) => [k.toLowerCase(), v])),
    },
    requestContext: { domainName: "abcdefg.lambda-url.us-west-2.on.aws", http: { method: "POST" } },
    body,
    isBase64Encoded: false,
  };
}

describe("hand-off failures", () => {
  const form = (url = "https://hooks.slack.com/commands/T1/1/x") =>
    new URLSearchParams({ command: "/x", text: "t", team_id: "T1", user_id: "U1", response_url: url }).toString();

  it("a failing or slow hand-off answers 500 (Slack retries events); the signal aborts after handOffTimeoutMs", async () => {
    const logger = new CapturingLogger();
    const failing = slackLambdaHandler({
      events: createHandOffEndpoint({
        signingSecret: SECRET,
        logger,
        handOff: () => {
          throw new Error("queue down");
        },
      }),
    });
    const result = await failing(signedCommand(form()));
    expect(result.statusCode).toBe(500);
    expect(logger.text).toMatch(/handing a command over failed: .*queue down/);

    let aborted: unknown;
    const slow = slackLambdaHandler({
      events: createHandOffEndpoint({
        signingSecret: SECRET,
        logger,
        handOffTimeoutMs: 20,
        handOff: (_job, { signal }) =>
          new Promise<void>((_, reject) => {
            signal.addEventListener("abort", () => {
              aborted = signal.reason;
              reject(signal.reason);
            });
          }),
      }),
    });
    const late = await slow(signedCommand(form()));
    expect(late.statusCode).toBe(500);
    expect(aborted).toBeInstanceOf(HandOffError);
  });

  it("acknowledge decides the answer and whether to hand off; unsigned requests never reach it", async () => {
    const jobs: SlackJob[] = [];
    const handler = slackLambdaHandler({
      events: createHandOffEndpoint({
        signingSecret: SECRET,
        logger: silentLogger,
        handOff: (job) => {
          jobs.push(job);
        },
        acknowledge: (req) =>
          req.body.text === "quick" ? { reply: "done already", handOff: false } : { reply: { text: "on it" } },
      }),
    });
    const quick = await handler(
      signedCommand(new URLSearchParams({ command: "/x", text: "quick", team_id: "T1" }).toString()),
    );
    expect(quick).toMatchObject({ statusCode: 200, body: "done already" });
    const slow = await handler(signedCommand(form()));
    expect(JSON.parse(slow.body)).toEqual({ text: "on it" });
    expect(jobs.map((j) => j.kind)).toEqual(["command"]);
    expect(jobs[0]!.headers["x-slack-signature"]).toMatch(/^v0=/);
    const unsigned = await handler(lambdaEventToRequestInput(form(), {}));
    expect(unsigned.statusCode).toBe(401);
    expect(jobs.length).toBe(1);
  });

  it("the worker refuses forged, tampered and too old jobs, and anything that is not a job", async () => {
    const posted: string[] = [];
    const worker = createHandOffWorker({
      signingSecret: SECRET,
      logger: silentLogger,
      maxJobAgeSeconds: 600,
      respond: async (url) => {
        posted.push(url);
      },
      onCommand: () => ({ text: "ok" }),
    });
    const body = form();
    const job = (ts: number, b = body): SlackJob => ({
      type: "slack-oauth-kit/job",
      v: 1,
      kind: "command",
      body: b,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...Object.fromEntries(
          Object.entries(new SignatureSigner(SECRET).headers(body, ts)).map(([k, v]) => [k.toLowerCase(), v]),
        ),
      },
      url: "https://abcdefg.lambda-url.us-west-2.on.aws/slack/events",
      acknowledgedAt: Date.now(),
    });
    const now = Math.floor(Date.now() / 1000);
    // Older than Slack's 5 minutes but within maxJobAgeSeconds: fine (it waited in a queue).
    expect(await worker(job(now - 400))).toEqual({ kind: "command", responded: true, duplicate: false });
    expect(posted).toEqual(["https://hooks.slack.com/commands/T1/1/x"]);
    for (const bad of [job(now - 601), job(now, body.replace("text=t", "text=u"))]) {
      const error = await worker(bad).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HandOffError);
      expect((error as HandOffError).code).toBe(ErrorCode.HandOffFailed);
      expect((error as HandOffError).status).toBe(401);
    }
    const shapeless = await worker({ type: "slack-oauth-kit/job", v: 2 }).catch((e: unknown) => e);
    expect((shapeless as HandOffError).status).toBe(400);
    expect(posted.length).toBe(1);

    // As a Lambda: an SQS batch reports only its bad messages; other events are refused.
    const lambdaWorker = toLambdaWorker(worker);
    const batch = await lambdaWorker({
      Records: [
        { messageId: "good", body: JSON.stringify(job(now)) },
        { messageId: "forged", body: JSON.stringify(job(now, `${body}&x=1`)) },
        { messageId: "junk", body: "not json" },
      ],
    });
    expect(batch).toEqual({ batchItemFailures: [{ itemIdentifier: "forged" }, { itemIdentifier: "junk" }] });
    const other = await lambdaWorker({ source: "aws.events" }).catch((e: unknown) => e);
    expect((other as UnsupportedEventError).code).toBe(ErrorCode.UnsupportedEvent);
  });

  it("a handler failure in the worker rejects (so the invocation or the message is retried)", async () => {
    const worker = toLambdaWorker(
      createHandOffWorker({
        signingSecret: SECRET,
        logger: silentLogger,
        onCommand: () => {
          throw new Error("downstream unavailable");
        },
      }),
    );
    const body = form();
    const signed = new SignatureSigner(SECRET).headers(body);
    const job: SlackJob = {
      type: "slack-oauth-kit/job",
      v: 1,
      kind: "command",
      body,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...Object.fromEntries(Object.entries(signed).map(([k, v]) => [k.toLowerCase(), v])),
      },
      url: "https://abcdefg.lambda-url.us-west-2.on.aws/slack/events",
      acknowledgedAt: Date.now(),
    };
    const error = await worker(job).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandOffError);
    expect((error as HandOffError).status).toBe(500);
  });
});
