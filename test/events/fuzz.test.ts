/**
 * Property-based fuzzing of the Slack endpoint (fast-check, 1,000 runs per shape), straight through
 * `handler.handle(new Request(…))` with no sockets. Whatever arrives — signed or not, well-formed or not —
 * the handler answers (never throws, never crashes the process) and never with a 5xx, as long as the
 * app's own handlers do not throw. Both a bare handler with a store (so uninstall clean-up runs on
 * arbitrary input) and the reference app are fuzzed.
 */
import { randomBytes, randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { createReferenceSlackApp } from "../../src/app/slack-app.js";
import { createAuthorize } from "../../src/authorize/authorize.js";
import { SlackRequestHandler } from "../../src/events/handler.js";
import { silentLogger } from "../../src/redact.js";
import { SignatureSigner } from "../../src/signature/signature.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { CachingInstallationStore } from "../../src/stores/cache.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";

const SECRET = randomBytes(16).toString("hex");
const signer = new SignatureSigner(SECRET);
const NOW = 1_700_000_000;
const RUNS = { numRuns: 1000 };
const URL_ = "https://app.example.test/slack/events";
const TEAM = "T0000000001";
const ENTERPRISE = "E0000000001";

// A store with a few installations, so that lookups and clean-ups find something to work on.
const inner = new MemoryInstallationStore();
const store = new CachingInstallationStore(inner);
for (const [teamId, userId] of [
  [TEAM, "U0000000001"],
  [TEAM, "U0000000002"],
  ["T0000000002", "U0000000004"],
] as const) {
  await store.save({
    teamId,
    userId,
    botToken: `xoxb-test-${randomUUID()}`,
    botUserId: "U0BOT00001",
    botScopes: ["commands"],
    userToken: `xoxp-test-${randomUUID()}`,
    userScopes: ["identify"],
    isEnterpriseInstall: false,
    installedAt: NOW,
    customValues: {},
  });
}
await store.save({
  enterpriseId: ENTERPRISE,
  userId: "W0000000010",
  botToken: `xoxb-test-${randomUUID()}`,
  botScopes: ["commands"],
  userScopes: [],
  isEnterpriseInstall: true,
  installedAt: NOW,
  customValues: {},
});
const authorize = createAuthorize({ installationStore: store });

/** Handlers that never throw but do look tokens up, so authorize runs on every fuzzed context. */
const lookUp = async (req: { authorize(): Promise<unknown> }) => {
  await req.authorize().catch(() => undefined);
  return undefined;
};
const bare = new SlackRequestHandler({
  signingSecret: SECRET,
  nowSeconds: () => NOW,
  logger: silentLogger,
  authorize,
  installationStore: store,
  onEvent: lookUp,
  onCommand: lookUp,
  onInteraction: lookUp,
});
// The reference app, with a Web API client whose fetch never leaves the process.
const api = new SlackApiClient({
  baseUrl: "https://slack.invalid/api/",
  maxRetries: 0,
  fetch: async () => Response.json({ ok: false, error: "invalid_trigger_id" }),
});
const reference = createReferenceSlackApp({
  signingSecret: SECRET,
  authorize,
  installationStore: store,
  api,
  logger: silentLogger,
  nowSeconds: () => NOW,
});
const handlers: Array<[string, SlackRequestHandler]> = [
  ["handler", bare],
  ["reference app", reference],
];

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
process.on("unhandledRejection", onUnhandled);
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

function signed(body: string | Uint8Array, contentType: string, extra: Record<string, string> = {}): Request {
  return new Request(URL_, {
    method: "POST",
    headers: { "content-type": contentType, ...signer.headers(body, NOW), ...extra },
    body,
  });
}

/** Answers, never throws, never 5xx; the body can be read. */
async function check(handler: SlackRequestHandler, request: Request): Promise<number> {
  const res = await handler.handle(request);
  expect(res).toBeInstanceOf(Response);
  expect(res.status).toBeGreaterThanOrEqual(200);
  expect(res.status).toBeLessThan(500);
  await res.text();
  return res.status;
}

// --- arbitraries --------------------------------------------------------------------------------

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });
/** Ids that look like Slack's, ids that are valid but unknown, and junk. */
const anyId = fc.oneof(
  fc.constantFrom(TEAM, "T0000000002", ENTERPRISE, "U0000000001", "U0000000002", "W0000000010", "U0BOT00001"),
  fc.stringMatching(/^[TEUWB][A-Z0-9]{8,10}$/),
  fc.string(),
  fc.constant(null),
  fc.anything(),
);
const bool = fc.oneof(fc.boolean(), fc.constantFrom("true", "false", "TRUE", "1", ""), fc.anything());
const authorization = fc.record(
  { enterprise_id: anyId, team_id: anyId, user_id: anyId, is_bot: bool, is_enterprise_install: bool },
  { requiredKeys: [] },
);
const innerEvent = fc.oneof(
  fc.record(
    {
      type: fc.constantFrom("app_uninstalled", "tokens_revoked", "app_mention", "message", "team_join"),
      tokens: fc.oneof(
        fc.record(
          { oauth: fc.array(anyId, { maxLength: 4 }), bot: fc.array(anyId, { maxLength: 2 }) },
          { requiredKeys: [] },
        ),
        fc.anything(),
      ),
      user: fc.oneof(anyId, fc.record({ id: anyId })),
      channel: fc.oneof(anyId, fc.record({ creator: anyId })),
      text: fc.string(),
    },
    { requiredKeys: ["type"] },
  ),
  fc.anything(),
);
const eventCallback = fc.record(
  {
    type: fc.constantFrom("event_callback", "app_rate_limited", "url_verification", "block_actions"),
    token: fc.string(),
    team_id: anyId,
    enterprise_id: anyId,
    api_app_id: anyId,
    event: innerEvent,
    event_id: fc.oneof(fc.string({ maxLength: 300 }), fc.stringMatching(/^Ev[A-Z0-9]{4}$/), fc.anything()),
    event_time: fc.anything(),
    authorizations: fc.oneof(fc.array(fc.oneof(authorization, fc.anything()), { maxLength: 3 }), fc.anything()),
    is_ext_shared_channel: bool,
    challenge: fc.oneof(fc.string(), fc.anything()),
  },
  { requiredKeys: ["type"] },
);
const interactionPayload = fc.record(
  {
    type: fc.oneof(
      fc.constantFrom(
        "block_actions",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "block_suggestion",
      ),
      fc.anything(),
    ),
    team: fc.oneof(
      fc.constant(null),
      fc.record({ id: anyId, enterprise_id: anyId }, { requiredKeys: [] }),
      fc.anything(),
    ),
    user: fc.oneof(fc.record({ id: anyId, team_id: anyId }, { requiredKeys: [] }), fc.anything()),
    enterprise: fc.oneof(fc.constant(null), fc.record({ id: anyId }), fc.anything()),
    is_enterprise_install: bool,
    view: fc.oneof(
      fc.record(
        {
          callback_id: fc.oneof(fc.constant("modal-id"), fc.string()),
          team_id: anyId,
          state: fc.oneof(
            fc.record({
              values: fc.dictionary(
                fc.string(),
                fc.dictionary(fc.string(), fc.oneof(fc.record({ value: fc.anything() }), fc.anything())),
              ),
            }),
            fc.anything(),
          ),
        },
        { requiredKeys: [] },
      ),
      fc.anything(),
    ),
    trigger_id: fc.anything(),
  },
  { requiredKeys: [] },
);
const commandFields = fc.record(
  {
    command: fc.oneof(fc.constant("/open-modal"), fc.string()),
    team_id: fc.oneof(fc.constantFrom(TEAM, "T0000000002", ENTERPRISE), fc.string()),
    enterprise_id: fc.oneof(fc.constant(ENTERPRISE), fc.string()),
    user_id: fc.oneof(fc.constantFrom("U0000000001", "U0000000002", "W0000000010"), fc.string()),
    is_enterprise_install: fc.oneof(fc.constantFrom("true", "false"), fc.string()),
    trigger_id: fc.string(),
    text: fc.string(),
  },
  { requiredKeys: ["command"] },
);
const contentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "application/x-www-form-urlencoded",
  "APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8",
  "text/plain",
  "multipart/form-data; boundary=x",
  "",
);

// --- properties ---------------------------------------------------------------------------------

describe.each(handlers)("fuzzing the %s (1,000 runs per shape)", (_name, handler) => {
  it("arbitrary JSON values, signed", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        await check(handler, signed(JSON.stringify(value) ?? "null", "application/json"));
      }),
      RUNS,
    );
  });

  it("Events API-like bodies with arbitrary fields, signed (uninstall clean-up included)", async () => {
    await fc.assert(
      fc.asyncProperty(eventCallback, fc.option(fc.constantFrom("1", "2", "x", "99999")), async (body, retry) => {
        let text: string;
        try {
          text = JSON.stringify(body);
        } catch {
          return; // BigInt and friends: not JSON, nothing to send
        }
        await check(handler, signed(text, "application/json", retry ? { "X-Slack-Retry-Num": retry } : {}));
      }),
      RUNS,
    );
  });

  it("arbitrary form bodies, signed (slash-command-like fields and raw strings)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          commandFields.map((f) => new URLSearchParams(f).toString()),
          fc.dictionary(fc.string(), fc.string()).map((d) => new URLSearchParams(d).toString()),
          fc.string(),
        ),
        async (body) => {
          await check(handler, signed(body, "application/x-www-form-urlencoded"));
        },
      ),
      RUNS,
    );
  });

  it("arbitrary `payload` strings and payload objects, signed", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          interactionPayload.map((p) => {
            try {
              return JSON.stringify(p);
            } catch {
              return "{}";
            }
          }),
        ),
        async (payload) => {
          await check(
            handler,
            signed(new URLSearchParams({ payload }).toString(), "application/x-www-form-urlencoded"),
          );
        },
      ),
      RUNS,
    );
  });

  it("arbitrary headers, timestamps and signatures → 401 unless genuinely signed", async () => {
    const validSig = (body: string, ts: string) => new SignatureSigner(SECRET).sign(body, Number(ts)).signature;
    await fc.assert(
      fc.asyncProperty(
        fc.string(),
        contentType,
        fc.oneof(
          fc.integer({ min: NOW - 400, max: NOW + 400 }).map(String),
          fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map(String),
          printable,
          fc.constant(undefined),
        ),
        fc.oneof(
          fc.constant("valid" as const),
          fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `v0=${h}`),
          printable,
          fc.constant(undefined),
        ),
        fc.dictionary(
          fc.constantFrom("x-slack-retry-num", "x-slack-retry-reason", "content-length", "x-forwarded-for", "x-other"),
          printable,
        ),
        async (body, type, ts, sig, extra) => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(extra)) {
            if (k === "content-length" && !/^\d+$/.test(v.trim())) continue; // undici refuses those itself
            headers.set(k, v);
          }
          if (type) headers.set("content-type", type);
          if (ts !== undefined) headers.set("x-slack-request-timestamp", ts);
          if (sig === "valid" && ts !== undefined && /^\d+$/.test(ts))
            headers.set("x-slack-signature", validSig(body, ts));
          else if (sig !== undefined && sig !== "valid") headers.set("x-slack-signature", sig);
          let request: Request;
          try {
            request = new Request(URL_, { method: "POST", headers, body });
          } catch {
            return; // a combination the Fetch API itself rejects never reaches a handler
          }
          const status = await check(handler, request);
          const genuine = sig === "valid" && ts !== undefined && /^\d+$/.test(ts) && Math.abs(Number(ts) - NOW) <= 300;
          if (!genuine && status !== 413) expect(status).toBe(401);
        },
      ),
      RUNS,
    );
  });

  it("arbitrary bytes (invalid UTF-8 included), signed, as JSON or form", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), contentType, async (bytes, type) => {
        await check(handler, signed(bytes, type || "application/json"));
      }),
      RUNS,
    );
  });

  it("arbitrary methods", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"), async (method) => {
        expect(await check(handler, new Request(URL_, { method }))).toBe(405);
      }),
      { numRuns: 50 },
    );
  });
});
