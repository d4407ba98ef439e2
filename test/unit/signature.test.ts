import { describe, expect, it } from "vitest";
import { ConfigError, SignatureSigner, SignatureVerifier } from "../../src/index.js";

// Slack's official example (slack-protocol.md §6).
const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TS = "1531420618";
const BODY =
  "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

const at = (t: number) => ({ nowSeconds: () => t });

describe("SignatureVerifier", () => {
  it("verifies Slack's official test vector", () => {
    const v = new SignatureVerifier(SECRET, at(Number(TS)));
    expect(v.verify(TS, SIG, BODY)).toBe(true);
    expect(v.verify(TS, SIG, Buffer.from(BODY))).toBe(true);
  });

  it("reads the headers in any case, from Headers or a plain record", () => {
    const v = new SignatureVerifier(SECRET, at(Number(TS)));
    expect(v.isValid({ "X-SLACK-SIGNATURE": SIG, "x-slack-request-timestamp": TS }, BODY)).toBe(true);
    expect(v.isValid(new Headers({ "X-Slack-Signature": SIG, "X-Slack-Request-Timestamp": TS }), BODY)).toBe(true);
    expect(v.isValid({ "x-slack-signature": [SIG], "x-slack-request-timestamp": [TS] }, BODY)).toBe(true);
    expect(v.isValid({}, BODY)).toBe(false);
  });

  it("rejects a tampered body, another secret, and a one-character change", () => {
    const v = new SignatureVerifier(SECRET, at(Number(TS)));
    expect(v.verify(TS, SIG, `${BODY}x`)).toBe(false);
    expect(new SignatureVerifier("another-secret", at(Number(TS))).verify(TS, SIG, BODY)).toBe(false);
    const flipped = SIG.slice(0, -1) + (SIG.endsWith("3") ? "4" : "3");
    expect(v.verify(TS, flipped, BODY)).toBe(false);
  });

  it("enforces the ±300 s window with the injected clock", () => {
    expect(new SignatureVerifier(SECRET, at(Number(TS) + 300)).verify(TS, SIG, BODY)).toBe(true);
    expect(new SignatureVerifier(SECRET, at(Number(TS) - 300)).verify(TS, SIG, BODY)).toBe(true);
    expect(new SignatureVerifier(SECRET, at(Number(TS) + 301)).verify(TS, SIG, BODY)).toBe(false);
    expect(new SignatureVerifier(SECRET, at(Number(TS) - 301)).verify(TS, SIG, BODY)).toBe(false);
  });

  it("treats malformed timestamps and signatures as invalid without throwing", () => {
    const v = new SignatureVerifier(SECRET, at(Number(TS)));
    for (const ts of ["", "abc", "1531420618.5", "-1531420618", " 1531420618", "1e9", undefined, null]) {
      expect(v.verify(ts as string, SIG, BODY)).toBe(false);
    }
    for (const sig of ["", "v0=", "v1=" + SIG.slice(3), SIG.toUpperCase(), `${SIG}00`, "v0=zz", undefined, null]) {
      expect(v.verify(TS, sig as string, BODY)).toBe(false);
    }
  });

  it("refuses an empty signing secret at construction", () => {
    expect(() => new SignatureVerifier("")).toThrow(ConfigError);
    expect(() => new SignatureVerifier(undefined as unknown as string)).toThrow(/signing secret/);
    expect(() => new SignatureSigner("")).toThrow(ConfigError);
  });

  it("verifies what the signer produces", () => {
    const signer = new SignatureSigner("s3cr3t-for-tests");
    const now = 1_700_000_000;
    const body = JSON.stringify({ type: "event_callback", text: "héllo ✓" });
    const h = signer.headers(body, now);
    expect(h["X-Slack-Request-Timestamp"]).toBe(String(now));
    expect(new SignatureVerifier("s3cr3t-for-tests", at(now)).isValid(h, body)).toBe(true);
    expect(new SignatureVerifier("s3cr3t-for-tests", at(now)).isValid(h, Buffer.from(body, "utf8"))).toBe(true);
  });
});
