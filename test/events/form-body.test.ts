// parseFormBody must decode exactly as URLSearchParams (first value wins), only faster.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CONTEXT_FIELDS, extractContext } from "../../src/authorize/context.js";
import { parseFormBody, scanFormFields } from "../../src/events/body.js";
import { SlackRequestHandler } from "../../src/events/handler.js";
import { silentLogger } from "../../src/redact.js";
import { SignatureSigner } from "../../src/signature/signature.js";

/** The reference: URLSearchParams over the same text, without its constructor's leading-"?" removal. */
function reference(text: string): [string, string][] {
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const [k, v] of new URLSearchParams(`&${text}`)) {
    if (seen.has(k)) continue;
    seen.add(k);
    out.push([k, v]);
  }
  return out.sort(byKey);
}
const byKey = (a: [string, string], b: [string, string]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
/** Entries sorted (objects list integer-like keys first, whatever their order in the body). */
const entries = (o: Record<string, string>) => Object.entries(o).sort(byKey);

describe("parseFormBody", () => {
  it("decodes a slash command body", () => {
    const body = parseFormBody(
      "token=x&team_id=T1&command=%2Fopen-modal&text=hello+world+%E2%9C%93&user_id=U1&text=second&empty=&flag",
    );
    expect(body).toEqual({
      token: "x",
      team_id: "T1",
      command: "/open-modal",
      text: "hello world ✓",
      user_id: "U1",
      empty: "",
      flag: "",
    });
  });

  it("keeps __proto__, constructor and friends as plain own fields", () => {
    const body = parseFormBody("__proto__=x&constructor=y&hasOwnProperty=z");
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    expect(Object.entries(body)).toEqual([
      ["__proto__", "x"],
      ["constructor", "y"],
      ["hasOwnProperty", "z"],
    ]);
    expect(Object.hasOwn(parseFormBody("a=1"), "constructor")).toBe(false);
  });

  it("matches URLSearchParams on malformed escapes, invalid UTF-8, lone surrogates and a leading ?", () => {
    for (const text of [
      "a=%",
      "a=%2",
      "a=%zz",
      "a=%E2%82",
      "a=%FF%FE",
      "%ED%A0%80=1",
      "a=\uD800",
      "?a=1",
      "a=%C0%AF",
      "&&=&a",
    ]) {
      expect(entries(parseFormBody(text))).toEqual(reference(text));
    }
  });

  it("matches URLSearchParams on arbitrary input (fast-check)", () => {
    const piece = fc.oneof(
      fc.string({ unit: "grapheme" }),
      fc.string({ unit: fc.constantFrom("a", "%", "2", "F", "+", "=", "&", "E", "8", "C", "0", "\uD800") }),
      fc.constantFrom("%", "%2", "%E2%82%AC", "+", "=", "&", "%ED%A0%80", "%FF", "__proto__", "%26", "%3D", "%2B"),
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 12 }).map((a) => a.join("")),
        (text) => {
          expect(entries(parseFormBody(text))).toEqual(reference(text));
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

describe("scanFormFields (what a request is and whom it is about, before the whole body)", () => {
  const FIELDS = ["command", "ssl_check", "payload", ...CONTEXT_FIELDS];
  const piece = fc.oneof(
    fc.constantFrom(
      "command=%2Fhi",
      "team_id=T1",
      "team_id=T2",
      "user_id=U1",
      "enterprise_id=E1",
      "is_enterprise_install=true",
      "is_enterprise_install=false",
      "type=event_callback",
      "type=block_actions",
      "team=T9",
      "user=U9",
      "payload=%7B%7D",
      "ssl_check=1",
      "text=a+b%20c",
      "te%61m_id=T3",
      "team+id=T4",
      "user_id=%E2%82",
      "user_id=%ZZ",
      "user_id=",
      "user_id",
    ),
    fc.string({ unit: fc.constantFrom("a", "=", "&", "%", "2", "F", "+", "_", "t", "e", "m", "i", "d") }),
  );
  const bodies = fc.array(piece, { maxLength: 10 }).map((a) => a.join("&"));

  it("gives each wanted field exactly as the full parse does, or declines", () => {
    fc.assert(
      fc.property(bodies, (text) => {
        const scanned = scanFormFields(text, FIELDS);
        if (scanned === undefined) return;
        const full = parseFormBody(text);
        for (const name of FIELDS) {
          expect(scanned[name]).toBe(Object.hasOwn(full, name) ? full[name] : undefined);
        }
        expect(extractContext(scanned)).toEqual(extractContext(full));
      }),
      { numRuns: 5_000 },
    );
  });

  it("finds names the object prototype also has", () => {
    expect(scanFormFields("constructor=x&toString=y", ["constructor", "toString"])).toEqual({
      constructor: "x",
      toString: "y",
    });
  });

  it("declines names that only the full parser reads exactly", () => {
    expect(scanFormFields("te%61m_id=T3&command=%2Fx", FIELDS)).toBeUndefined();
    expect(scanFormFields("team+id=T4", FIELDS)).toBeUndefined();
    expect(scanFormFields("user_id=%E2%82", FIELDS)).toBeUndefined();
    expect(scanFormFields("command=%2Fx&team_id=T1&team_id=T2&text=%E2%82", FIELDS)).toEqual({
      command: "/x",
      team_id: "T1",
    });
  });
});

describe("slash commands: req.body is the full form, built on first read", () => {
  const secret = `form-secret-${Date.now()}`;
  const signer = new SignatureSigner(secret);
  const send = (handler: SlackRequestHandler, text: string) =>
    handler.handleRaw({
      method: "POST",
      url: "https://example.com/slack/events",
      body: new TextEncoder().encode(text),
      headers: { "content-type": "application/x-www-form-urlencoded", ...signer.headers(text) },
    });

  it.each([
    "command=%2Fhi&team_id=T1&user_id=U1&text=a+b%20%E2%9C%93&text=second&__proto__=x&constructor=y",
    "te%61m_id=T3&command=%2Fhi&user_id=U1",
    "command=%2Fhi&team_id=T1&team_id=T2&user_id=U1&is_enterprise_install=true&enterprise_id=E1",
  ])("%s", async (text) => {
    const seen: unknown[] = [];
    const handler = new SlackRequestHandler({
      signingSecret: secret,
      logger: silentLogger,
      onCommand: (req) => {
        const first = req.body;
        seen.push(first, first === req.body, req.context);
      },
    });
    expect((await send(handler, text)).status).toBe(200);
    const full = parseFormBody(text);
    expect(seen[0]).toEqual(full);
    expect(Object.keys(seen[0] as object)).toEqual(Object.keys(full));
    expect(seen[1]).toBe(true);
    expect(seen[2]).toEqual(extractContext(full));
  });

  it("req.body can be replaced by a handler, and JSON.stringify(req) shows it", async () => {
    let logged = "";
    const handler = new SlackRequestHandler({
      signingSecret: secret,
      logger: silentLogger,
      onCommand: (req) => {
        req.body = { ...req.body, note: "added" };
        logged = JSON.stringify(req);
        return { text: String(req.body.note) };
      },
    });
    const reply = await send(handler, "command=%2Fhi&team_id=T1&user_id=U1");
    expect(reply.status).toBe(200);
    expect(JSON.parse(String(reply.body))).toEqual({ text: "added" });
    expect(JSON.parse(logged)).toMatchObject({
      kind: "command",
      body: { command: "/hi", team_id: "T1", user_id: "U1", note: "added" },
      context: { teamId: "T1", userId: "U1", isEnterpriseInstall: false },
    });
  });
});
