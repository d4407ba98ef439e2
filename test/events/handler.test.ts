/**
 * `SlackRequestHandler` without sockets: `handler.handle(new Request(…))`. Requests are signed with a
 * fake secret generated per run; the verifier's clock is fixed.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { createAuthorize, NotInstalledError } from "../../src/authorize/authorize.js";
import { ConfigError, StoreError } from "../../src/errors.js";
import { SlackRequestHandler, type SlackRequestHandlerOptions } from "../../src/events/handler.js";
import type { Installation } from "../../src/model/installation.js";
import type { Logger } from "../../src/redact.js";
import { SignatureSigner } from "../../src/signature/signature.js";
import { CachingInstallationStore, LocalInvalidationBus } from "../../src/stores/cache.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";

const SECRET = randomBytes(16).toString("hex");
const signer = new SignatureSigner(SECRET);
const NOW = 1_700_000_000;
const MiB = 1024 * 1024;
const URL_ = "https://app.example.test/slack/events";

type J = Record<string, unknown>;

function signedRequest(
  body: string | Uint8Array,
  contentType: string,
  o: { timestamp?: number; headers?: Record<string, string>; secret?: string } = {},
): Request {
  const s = o.secret ? new SignatureSigner(o.secret) : signer;
  return new Request(URL_, {
    method: "POST",
    headers: { "content-type": contentType, ...s.headers(body, o.timestamp ?? NOW), ...o.headers },
    body,
  });
}
const jsonRequest = (body: unknown, o: Parameters<typeof signedRequest>[2] = {}) =>
  signedRequest(JSON.stringify(body), "application/json", o);
const formRequest = (fields: Record<string, string>, o: Parameters<typeof signedRequest>[2] = {}) =>
  signedRequest(new URLSearchParams(fields).toString(), "application/x-www-form-urlencoded", o);

function eventBody(event: J, o: J = {}): J {
  return {
    token: "fake-verification-token",
    team_id: "T0000000001",
    api_app_id: "A0000000001",
    event: { event_ts: `${NOW}.000100`, ...event },
    type: "event_callback",
    event_id: `Ev${randomBytes(5).toString("hex").toUpperCase()}`,
    event_time: NOW,
    authorizations: [
      {
        enterprise_id: null,
        team_id: "T0000000001",
        user_id: "U0BOT00001",
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    ...o,
  };
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string, ...a: unknown[]) => {
    lines.push([m, ...a.map((x) => JSON.stringify(x))].join(" "));
  };
  return { lines, debug: push, info: push, warn: push, error: push };
}

function makeHandler(o: Partial<SlackRequestHandlerOptions> = {}): SlackRequestHandler {
  return new SlackRequestHandler({ signingSecret: SECRET, nowSeconds: () => NOW, logger: recordingLogger(), ...o });
}

const command = (o: Record<string, string> = {}) => ({
  token: "fake-verification-token",
  team_id: "T0000000001",
  team_domain: "northwind",
  channel_id: "C0000000001",
  channel_name: "general",
  user_id: "U0000000002",
  user_name: "bob",
  command: "/open-modal",
  text: "",
  api_app_id: "A0000000001",
  is_enterprise_install: "false",
  response_url: "https://hooks.slack.test/commands/T0000000001/1/fake",
  trigger_id: "1234.5678.fake",
  ...o,
});

describe("SlackRequestHandler: construction", () => {
  it("refuses a missing signing secret and a nonsense body limit", () => {
    expect(() => new SlackRequestHandler({ signingSecret: "" })).toThrow(ConfigError);
    expect(() => new SlackRequestHandler({ signingSecret: SECRET, maxBodyBytes: 0 })).toThrow(ConfigError);
  });
});

describe("SlackRequestHandler: verification (401)", () => {
  const handler = makeHandler({ onCommand: () => "ran" });

  it("accepts a correctly signed request", async () => {
    const res = await handler.handle(formRequest(command()));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ran");
  });

  it("accepts Slack's documented example at its timestamp (signature over the raw bytes)", async () => {
    const body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const official = new SlackRequestHandler({
      signingSecret: "8f742231b10e8888abcd99yyyzzz85a5",
      nowSeconds: () => 1531420618,
      logger: recordingLogger(),
      onCommand: (req) => ({ team: req.context.teamId }),
    });
    const res = await official.handle(
      new Request(URL_, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          "X-Slack-Request-Timestamp": "1531420618",
          "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        },
        body,
      }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ team: "T1DC2JH3J" });
  });

  it.each([
    [
      "no signature headers",
      () =>
        new Request(URL_, {
          method: "POST",
          body: "command=%2Fx",
          headers: { "content-type": "application/x-www-form-urlencoded" },
        }),
    ],
    [
      "a signature without its timestamp",
      () => {
        const r = formRequest(command());
        const h = new Headers(r.headers);
        h.delete("x-slack-request-timestamp");
        return new Request(URL_, { method: "POST", headers: h, body: new URLSearchParams(command()).toString() });
      },
    ],
    ["a forged signature (another secret)", () => formRequest(command(), { secret: randomBytes(16).toString("hex") })],
    [
      "a body changed after signing",
      () => {
        const signed = signer.headers(new URLSearchParams(command()).toString(), NOW);
        return new Request(URL_, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", ...signed },
          body: new URLSearchParams(command({ team_id: "T0000000002" })).toString(),
        });
      },
    ],
    ["a stale timestamp (301 s old)", () => formRequest(command(), { timestamp: NOW - 301 })],
    ["a timestamp from the future (301 s ahead)", () => formRequest(command(), { timestamp: NOW + 301 })],
    ["a malformed signature header", () => formRequest(command(), { headers: { "X-Slack-Signature": "v0=zz" } })],
  ])("%s → 401, and the handler does not run", async (_label, make) => {
    let ran = false;
    const h = makeHandler({
      onCommand: () => {
        ran = true;
      },
    });
    const res = await h.handle(make());
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ ok: false, error: "invalid_signature" });
    expect(ran).toBe(false);
  });

  it("a timestamp exactly 300 s old is still accepted", async () => {
    expect((await handler.handle(formRequest(command(), { timestamp: NOW - 300 }))).status).toBe(200);
  });
});

describe("SlackRequestHandler: body size (413)", () => {
  it("a declared Content-Length over 1 MiB → 413 before anything is read", async () => {
    const h = makeHandler();
    const body = "x".repeat(MiB + 1);
    const req = new Request(URL_, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(MiB + 1), ...signer.headers(body, NOW) },
      body,
    });
    const res = await h.handle(req);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ ok: false, error: "payload_too_large" });
  });

  it("a streamed body without Content-Length → 413 as soon as it passes 1 MiB (it never ends)", async () => {
    const h = makeHandler();
    let pulled = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024));
      },
      cancel() {
        cancelled = true;
      },
    });
    const req = new Request(URL_, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-slack-request-timestamp": String(NOW),
        "x-slack-signature": `v0=${"0".repeat(64)}`,
      },
      body: endless,
      duplex: "half",
    } as RequestInit);
    expect(req.headers.get("content-length")).toBeNull();
    const res = await h.handle(req);
    expect(res.status).toBe(413);
    expect(pulled).toBeLessThanOrEqual(MiB + 3 * 64 * 1024);
    expect(cancelled).toBe(true);
  });

  it("a body of exactly 1 MiB is accepted; the limit is configurable", async () => {
    let got: J | undefined;
    const h = makeHandler({
      onEvent: (req) => {
        got = req.body;
      },
    });
    const base = JSON.stringify(eventBody({ type: "message", text: "" }));
    const padded = base.replace('"text":""', `"text":"${"a".repeat(MiB - base.length)}"`);
    expect(Buffer.byteLength(padded)).toBe(MiB);
    expect((await h.handle(signedRequest(padded, "application/json"))).status).toBe(200);
    expect(got?.type).toBe("event_callback");
    const small = makeHandler({ maxBodyBytes: 100 });
    expect((await small.handle(formRequest(command()))).status).toBe(413);
  });
});

describe("SlackRequestHandler: parsing (400 / 405 / 415)", () => {
  const h = makeHandler({ onCommand: () => undefined, onInteraction: () => undefined, onEvent: () => undefined });

  it.each([
    ["malformed JSON", () => signedRequest('{"type":"event_callback",', "application/json"), "invalid_json"],
    ["a JSON array", () => signedRequest("[1,2]", "application/json"), "invalid_json"],
    ["JSON of an unknown type", () => jsonRequest({ type: "block_actions" }), "unknown_payload_type"],
    ["url_verification without a challenge", () => jsonRequest({ type: "url_verification" }), "missing_challenge"],
    ["a form without command or payload", () => formRequest({ text: "hello", team_id: "T1" }), "unknown_form_payload"],
    ["a payload that is not JSON", () => formRequest({ payload: "{not json" }), "invalid_payload"],
    [
      "a payload without a type",
      () => formRequest({ payload: JSON.stringify({ team: { id: "T1" } }) }),
      "invalid_payload",
    ],
    ["a payload that is a JSON string", () => formRequest({ payload: '"block_actions"' }), "invalid_payload"],
    [
      "invalid UTF-8",
      () => signedRequest(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "application/json"),
      "invalid_encoding",
    ],
  ])("%s → 400", async (_label, make, error) => {
    const res = await h.handle(make());
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ ok: false, error });
  });

  it("an unsupported content type → 415", async () => {
    const res = await h.handle(signedRequest("command=/x", "text/plain"));
    expect(res.status).toBe(415);
    const none = await h.handle(
      new Request(URL_, {
        method: "POST",
        headers: signer.headers(new Uint8Array([1, 2]), NOW),
        body: new Uint8Array([1, 2]),
      }),
    );
    expect(none.status).toBe(415);
  });

  it("GET → 405 with Allow: POST", async () => {
    const res = await h.handle(new Request(URL_));
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
  });

  it("content types are matched without parameters and case", async () => {
    const res = await h.handle(
      signedRequest(new URLSearchParams(command()).toString(), "Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
    );
    expect(res.status).toBe(200);
  });
});

describe("SlackRequestHandler: Slack's handshakes", () => {
  const h = makeHandler();
  it("url_verification → 200 {challenge}", async () => {
    const challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P";
    const res = await h.handle(jsonRequest({ token: "fake", challenge, type: "url_verification" }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge });
  });
  it("url_verification must be signed too", async () => {
    const res = await h.handle(
      jsonRequest({ challenge: "x", type: "url_verification" }, { secret: "ffffffffffffffffffffffffffffffff" }),
    );
    expect(res.status).toBe(401);
  });
  it("ssl_check → 200", async () => {
    const res = await h.handle(formRequest({ ssl_check: "1", token: "fake" }));
    expect(res.status).toBe(200);
  });
});

describe("SlackRequestHandler: dispatch", () => {
  it("commands: form fields as strings, the context, a JSON or text answer", async () => {
    const seen: J[] = [];
    const h = makeHandler({
      onCommand: (req) => {
        seen.push({ kind: req.kind, body: req.body, context: req.context });
        return req.body.text === "text" ? "plain answer" : { response_type: "ephemeral", text: "hi" };
      },
    });
    const res = await h.handle(formRequest(command({ enterprise_id: "E0000000001", is_enterprise_install: "true" })));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ response_type: "ephemeral", text: "hi" });
    expect(seen[0]).toMatchObject({
      kind: "command",
      body: { command: "/open-modal", team_id: "T0000000001" },
      context: { enterpriseId: "E0000000001", teamId: "T0000000001", userId: "U0000000002", isEnterpriseInstall: true },
    });
    const text = await h.handle(formRequest(command({ text: "text" })));
    expect(text.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await text.text()).toBe("plain answer");
  });

  it("interactions: the parsed payload; no handler → an empty 200", async () => {
    let got: J | undefined;
    const h = makeHandler({
      onInteraction: (req) => {
        got = req.body;
      },
    });
    const payload = { type: "block_actions", team: { id: "T0000000001" }, user: { id: "U0000000001" }, actions: [] };
    const res = await h.handle(formRequest({ payload: JSON.stringify(payload) }));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
    expect(got).toEqual(payload);
    const bare = makeHandler();
    expect((await bare.handle(formRequest({ payload: JSON.stringify(payload) }))).status).toBe(200);
  });

  it("req.authorize() looks the context up once per request", async () => {
    let calls = 0;
    const h = makeHandler({
      authorize: async (ctx) => {
        calls++;
        return { ...ctx, botToken: `xoxb-test-${randomUUID()}`, botScopes: [], userScopes: [] };
      },
      onCommand: async (req) => {
        const a = await req.authorize();
        const b = await req.authorize();
        return { same: a === b, team: a.teamId ?? null };
      },
    });
    const res = await h.handle(formRequest(command()));
    expect(await res.json()).toEqual({ same: true, team: "T0000000001" });
    expect(calls).toBe(1);
  });

  it("a throwing command handler → 500, logged without secrets", async () => {
    const logger = recordingLogger();
    const token = `xoxb-123456789012-1234567890123-${randomBytes(12).toString("hex")}`;
    const h = makeHandler({
      logger,
      onCommand: () => {
        throw new Error(`boom with ${token} and ${SECRET}`);
      },
    });
    const res = await h.handle(formRequest(command()));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ ok: false, error: "internal_error" });
    const all = logger.lines.join("\n");
    expect(all).toContain("boom");
    expect(all).not.toContain(token);
    expect(all).not.toContain(SECRET);
  });
});

describe("SlackRequestHandler: retries (X-Slack-Retry-Num)", () => {
  it("an event delivered twice runs the handler once; the second answer asks Slack not to retry", async () => {
    let runs = 0;
    const h = makeHandler({ onEvent: () => void runs++ });
    const body = eventBody({ type: "app_mention", user: "U0000000002", text: "hi" });
    const first = await h.handle(jsonRequest(body));
    const retry = await h.handle(
      jsonRequest(body, { headers: { "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout" } }),
    );
    expect([first.status, retry.status]).toEqual([200, 200]);
    expect(retry.headers.get("x-slack-no-retry")).toBe("1");
    expect(runs).toBe(1);
    // Another event is another event.
    await h.handle(jsonRequest(eventBody({ type: "app_mention", user: "U0000000002" })));
    expect(runs).toBe(2);
  });

  it("a retry arriving while the first delivery is still running waits for it and does not run again", async () => {
    let runs = 0;
    let release!: () => void;
    const slow = new Promise<void>((r) => {
      release = r;
    });
    let started!: () => void;
    const inHandler = new Promise<void>((r) => {
      started = r;
    });
    const h = makeHandler({
      onEvent: async () => {
        runs++;
        started();
        await slow;
      },
    });
    const body = eventBody({ type: "message", user: "U0000000002" });
    const first = h.handle(jsonRequest(body));
    await inHandler; // the first delivery is being handled
    const retry = h.handle(jsonRequest(body, { headers: { "X-Slack-Retry-Num": "1" } }));
    await new Promise((r) => setTimeout(r, 5));
    release();
    expect((await first).status).toBe(200);
    expect((await retry).status).toBe(200);
    expect(runs).toBe(1);
  });

  it("a failed delivery (handler throws → 500) is run again by the retry, then not again", async () => {
    let runs = 0;
    const h = makeHandler({
      onEvent: (req) => {
        runs++;
        if (runs === 1) throw new Error("database hiccup");
        expect(req.retryNum).toBe(1);
        expect(req.retryReason).toBe("http_error");
      },
    });
    const body = eventBody({ type: "message", user: "U0000000002" });
    expect((await h.handle(jsonRequest(body))).status).toBe(500);
    const retry = await h.handle(
      jsonRequest(body, { headers: { "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error" } }),
    );
    expect(retry.status).toBe(200);
    expect(runs).toBe(2);
    expect((await h.handle(jsonRequest(body, { headers: { "X-Slack-Retry-Num": "2" } }))).status).toBe(200);
    expect(runs).toBe(2);
  });

  it("a handler answering with a 5xx Response is also retried", async () => {
    let runs = 0;
    const h = makeHandler({ onEvent: () => (++runs === 1 ? new Response(null, { status: 503 }) : undefined) });
    const body = eventBody({ type: "message", user: "U0000000002" });
    expect((await h.handle(jsonRequest(body))).status).toBe(503);
    expect((await h.handle(jsonRequest(body, { headers: { "X-Slack-Retry-Num": "1" } }))).status).toBe(200);
    expect(runs).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------------
// Uninstall and revocation
// ---------------------------------------------------------------------------------------------------

const tid = () => `T${randomBytes(5).toString("hex").toUpperCase()}`;
const uid = (p = "U") => `${p}${randomBytes(5).toString("hex").toUpperCase()}`;

function install(o: Partial<Installation> & { userId: string }): Installation {
  return {
    botToken: `xoxb-test-${randomUUID()}`,
    botId: uid("B"),
    botUserId: uid(),
    botScopes: ["commands"],
    userToken: `xoxp-test-${randomUUID()}`,
    userScopes: ["identify"],
    isEnterpriseInstall: false,
    installedAt: NOW,
    customValues: {},
    ...o,
  };
}

function lifecycleEvent(
  event: J,
  where: { teamId?: string | null; enterpriseId?: string | null; orgWide?: boolean; botUserId?: string },
  withAuthorizations = true,
): J {
  const body = eventBody(event, {
    team_id: where.orgWide ? where.enterpriseId : where.teamId,
    ...(where.enterpriseId ? { enterprise_id: where.enterpriseId } : {}),
    authorizations: [
      {
        enterprise_id: where.enterpriseId ?? null,
        team_id: where.orgWide ? null : where.teamId,
        user_id: where.botUserId ?? "U0BOT00001",
        is_bot: true,
        is_enterprise_install: where.orgWide === true,
      },
    ],
  });
  if (!withAuthorizations) delete body.authorizations;
  return body;
}

describe("SlackRequestHandler: app_uninstalled / tokens_revoked", () => {
  let inner: MemoryInstallationStore;
  let store: CachingInstallationStore;
  let authorize: ReturnType<typeof createAuthorize>;
  let handler: SlackRequestHandler;
  let events: string[];
  beforeEach(() => {
    inner = new MemoryInstallationStore();
    store = new CachingInstallationStore(inner);
    authorize = createAuthorize({ installationStore: store });
    events = [];
    handler = makeHandler({
      installationStore: store,
      authorize,
      onEvent: (req) => void events.push(String((req.body.event as J).type)),
    });
  });
  const send = async (body: J) => {
    const res = await handler.handle(jsonRequest(body));
    expect(res.status).toBe(200);
  };

  it("app_uninstalled deletes every installation and the bot of the workspace, and only of it", async () => {
    const teamId = tid();
    const other = tid();
    const [alice, bob] = [install({ teamId, userId: uid() }), install({ teamId, userId: uid() })];
    const elsewhere = install({ teamId: other, userId: uid() });
    for (const i of [alice, bob, elsewhere]) await store.save(i);
    // Warm the cache: the uninstall must drop it.
    expect((await authorize({ teamId, userId: alice.userId, isEnterpriseInstall: false })).userToken).toBe(
      alice.userToken,
    );

    await send(lifecycleEvent({ type: "app_uninstalled" }, { teamId }));
    expect(events).toEqual(["app_uninstalled"]); // the app's own handler still hears about it
    expect(await inner.findBot({ teamId })).toBeUndefined();
    expect(await inner.findInstallation({ teamId })).toBeUndefined();
    expect(await inner.findInstallation({ teamId, userId: bob.userId })).toBeUndefined();
    await expect(authorize({ teamId, userId: alice.userId, isEnterpriseInstall: false })).rejects.toBeInstanceOf(
      NotInstalledError,
    );
    expect((await authorize({ teamId: other, isEnterpriseInstall: false })).botToken).toBe(elsewhere.botToken);

    // Slack may deliver it again (new event id): still 200, still nothing.
    await send(lifecycleEvent({ type: "app_uninstalled" }, { teamId }));
    expect(await inner.findBot({ teamId })).toBeUndefined();
  });

  it("app_uninstalled of a Grid workspace install uses its enterprise id", async () => {
    const enterpriseId = uid("E");
    const teamId = tid();
    const i = install({ enterpriseId, teamId, userId: uid("W") });
    await store.save(i);
    await authorize({ enterpriseId, teamId, isEnterpriseInstall: false });
    await send(lifecycleEvent({ type: "app_uninstalled" }, { enterpriseId, teamId }));
    await expect(authorize({ enterpriseId, teamId, isEnterpriseInstall: false })).rejects.toBeInstanceOf(
      NotInstalledError,
    );
  });

  it.each([
    ["with authorizations (is_enterprise_install)", true],
    ["without authorizations (team_id is the org's id)", false],
  ])("app_uninstalled of an org-wide install deletes the org's installation %s", async (_l, withAuth) => {
    const enterpriseId = uid("E");
    const { teamId: _none, ...org } = install({ enterpriseId, isEnterpriseInstall: true, userId: uid("W") });
    const workspaceOfOrg = install({ enterpriseId, teamId: tid(), userId: uid("W") });
    await store.save(org);
    await store.save(workspaceOfOrg);
    await authorize({ enterpriseId, teamId: tid(), isEnterpriseInstall: true });
    await send(lifecycleEvent({ type: "app_uninstalled" }, { enterpriseId, orgWide: true }, withAuth));
    await expect(authorize({ enterpriseId, teamId: tid(), isEnterpriseInstall: true })).rejects.toBeInstanceOf(
      NotInstalledError,
    );
    expect(await inner.findInstallation({ enterpriseId, isEnterpriseInstall: true })).toBeUndefined();
    // A separate workspace-level installation in that org is another installation: kept.
    expect(await inner.findBot({ enterpriseId, teamId: workspaceOfOrg.teamId })).toBeDefined();
  });

  it("tokens_revoked with oauth user ids deletes only those users' tokens; the bot stays", async () => {
    const teamId = tid();
    const [alice, bob] = [install({ teamId, userId: uid() }), install({ teamId, userId: uid() })];
    await store.save(alice);
    await store.save(bob);
    expect((await authorize({ teamId, userId: alice.userId, isEnterpriseInstall: false })).userToken).toBe(
      alice.userToken,
    );
    await send(lifecycleEvent({ type: "tokens_revoked", tokens: { oauth: [alice.userId] } }, { teamId }));
    const asAlice = await authorize({ teamId, userId: alice.userId, isEnterpriseInstall: false });
    expect(asAlice).not.toHaveProperty("userToken");
    expect(asAlice.botToken).toBe(bob.botToken);
    expect((await authorize({ teamId, userId: bob.userId, isEnterpriseInstall: false })).userToken).toBe(bob.userToken);
  });

  it("tokens_revoked with the bot deletes the bot; user tokens stay", async () => {
    const teamId = tid();
    const alice = install({ teamId, userId: uid() });
    await store.save(alice);
    expect((await authorize({ teamId, isEnterpriseInstall: false })).botToken).toBe(alice.botToken);
    await send(lifecycleEvent({ type: "tokens_revoked", tokens: { oauth: [], bot: [alice.botUserId] } }, { teamId }));
    await expect(authorize({ teamId, userId: uid(), isEnterpriseInstall: false })).rejects.toBeInstanceOf(
      NotInstalledError,
    );
    const asAlice = await authorize({ teamId, userId: alice.userId, isEnterpriseInstall: false });
    expect(asAlice.userToken).toBe(alice.userToken);
    expect(asAlice).not.toHaveProperty("botToken");
  });

  it.each([
    ["app_uninstalled first", ["app_uninstalled", "tokens_revoked"]],
    ["tokens_revoked first", ["tokens_revoked", "app_uninstalled"]],
  ])("uninstall is idempotent in any order (%s), and twice", async (_l, order) => {
    const teamId = tid();
    const alice = install({ teamId, userId: uid() });
    await store.save(alice);
    const bodies: Record<string, () => J> = {
      app_uninstalled: () => lifecycleEvent({ type: "app_uninstalled" }, { teamId }),
      tokens_revoked: () =>
        lifecycleEvent(
          { type: "tokens_revoked", tokens: { oauth: [alice.userId], bot: [alice.botUserId] } },
          { teamId },
        ),
    };
    for (const type of [...order, ...order]) await send(bodies[type as keyof typeof bodies]!());
    expect(await inner.findBot({ teamId })).toBeUndefined();
    expect(await inner.findInstallation({ teamId })).toBeUndefined();
    await expect(authorize({ teamId, userId: alice.userId, isEnterpriseInstall: false })).rejects.toBeInstanceOf(
      NotInstalledError,
    );
  });

  it("drops the cache of another instance through the bus", async () => {
    const bus = new LocalInvalidationBus();
    const shared = new MemoryInstallationStore();
    const instanceA = new CachingInstallationStore(shared, { invalidation: bus });
    const instanceB = new CachingInstallationStore(shared, { invalidation: bus });
    const authorizeOnB = createAuthorize({ installationStore: instanceB });
    const onA = makeHandler({ installationStore: instanceA });
    const teamId = tid();
    await instanceA.save(install({ teamId, userId: uid() }));
    await authorizeOnB({ teamId, isEnterpriseInstall: false }); // B's cache is warm
    expect((await onA.handle(jsonRequest(lifecycleEvent({ type: "app_uninstalled" }, { teamId })))).status).toBe(200);
    await expect(authorizeOnB({ teamId, isEnterpriseInstall: false })).rejects.toBeInstanceOf(NotInstalledError);
  });

  it("a store failure → 500 (Slack retries), and the retry deletes", async () => {
    const teamId = tid();
    await store.save(install({ teamId, userId: uid() }));
    const original = inner.deleteAll.bind(inner);
    let fail = true;
    inner.deleteAll = async (q) => {
      if (fail) throw new StoreError("database locked");
      return original(q);
    };
    const body = lifecycleEvent({ type: "app_uninstalled" }, { teamId });
    expect((await handler.handle(jsonRequest(body))).status).toBe(500);
    expect(events).toEqual([]); // the app's handler did not run for a delivery that failed
    fail = false;
    expect((await handler.handle(jsonRequest(body, { headers: { "X-Slack-Retry-Num": "1" } }))).status).toBe(200);
    expect(await inner.findBot({ teamId })).toBeUndefined();
  });

  it("malformed ids in a lifecycle event are skipped, never a 5xx", async () => {
    const teamId = tid();
    const alice = install({ teamId, userId: uid() });
    await store.save(alice);
    await send(
      lifecycleEvent({ type: "tokens_revoked", tokens: { oauth: ["../../x", 42, null], bot: "nope" } }, { teamId }),
    );
    await send(lifecycleEvent({ type: "app_uninstalled" }, { teamId: "T 1; DROP TABLE" }));
    await send(lifecycleEvent({ type: "tokens_revoked", tokens: "everything" }, { teamId }));
    await send(eventBody({ type: "app_uninstalled" }, { team_id: null, authorizations: "x" }));
    expect((await inner.findInstallation({ teamId, userId: alice.userId }))?.userToken).toBe(alice.userToken);
    expect(await inner.findBot({ teamId })).toBeDefined();
  });
});
