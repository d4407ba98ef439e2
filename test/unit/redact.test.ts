import { describe, expect, it } from "vitest";
import { maskToken, redact, redactingLogger, registerSecret } from "../../src/index.js";

describe("redact", () => {
  it("masks every Slack token shape", () => {
    const tokens = [
      "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
      "xoxp-1234-5678-abcdef",
      "xoxe.xoxb-1-MS0yLTEyMzQ1",
      "xoxe.xoxp-1-abcdef",
      "xoxe-1-My0xLTEyMzQ1",
      "xapp-1-A111-222-abc",
      "xwfp-abc-def",
      "xoxa-2-abc",
    ];
    for (const t of tokens) {
      const out = redact(`token is ${t} here`);
      expect(out).not.toContain(t);
      expect(out).toMatch(/\[[a-z-]*token\]/);
    }
  });

  it("masks secrets in query strings, bodies, JSON and auth headers", () => {
    const s = "abcdef0123456789abcdef0123456789";
    for (const text of [
      `client_secret=${s}&code=12.34.56`,
      `{"client_secret":"${s}"}`,
      `Authorization: Basic ${Buffer.from(`id:${s}`).toString("base64")}`,
      `refresh_token: ${s}`,
    ]) {
      const out = redact(text);
      expect(out).not.toContain(s);
      expect(out).not.toContain(Buffer.from(`id:${s}`).toString("base64"));
    }
    expect(redact("GET /cb?state=x&code=12.34.56")).not.toContain("12.34.56");
  });

  it("masks registered secrets wherever they appear", () => {
    registerSecret("my-signing-secret-value");
    expect(redact("oops my-signing-secret-value leaked")).toBe("oops **** leaked");
  });

  it("keeps harmless text, error codes included", () => {
    expect(redact("installation saved for T123 (team Acme)")).toBe("installation saved for T123 (team Acme)");
    expect(redact('Error code: SLACK_OAUTH_STATE_REUSED {"errorCode":"X","code":"SLACK_OAUTH_X"}')).toBe(
      'Error code: SLACK_OAUTH_STATE_REUSED {"errorCode":"X","code":"SLACK_OAUTH_X"}',
    );
    expect(redact("token_type=bot")).toBe("token_type=bot");
  });

  it("never leaves 'xox' in its output and names the token kind", () => {
    const out = redact("a xoxb-1-2-abc b xoxe.xoxp-1-z c xoxe-1-r d glued:xoxp-9-9 e=xapp-1-A-1");
    expect(out).not.toContain("xox");
    expect(out).not.toContain("xapp");
    expect(out).toContain("[bot-token]");
    expect(out).toContain("[rotating-user-token]");
    expect(out).toContain("[refresh-token]");
  });

  it("masks the OAuth code in query strings only", () => {
    expect(redact("/slack/oauth_redirect?code=123.456.abc&state=s")).toBe("/slack/oauth_redirect?code=****&state=s");
  });

  it("maskToken keeps only the kind", () => {
    expect(maskToken("xoxb-1-2-3")).toBe("xoxb-****");
    expect(maskToken("xoxe.xoxp-1-abc")).toBe("xoxe.xoxp-****");
    expect(maskToken("nothing")).toBe("****");
    expect(maskToken(undefined)).toBe("");
  });

  it("redactingLogger redacts messages and arguments", () => {
    const lines: string[] = [];
    const log = redactingLogger({
      debug: (m, ...a) => lines.push([m, ...a].join(" ")),
      info: (m, ...a) => lines.push([m, ...a].join(" ")),
      warn: (m, ...a) => lines.push([m, ...a].join(" ")),
      error: (m, ...a) => lines.push([m, ...a].join(" ")),
    });
    log.error("failed with xoxb-1-2-secret", new Error("bad xoxp-9-9-secret"), { token: "xoxe-1-zzz" });
    log.info("plain", "client_secret=abcdef0123");
    const all = lines.join("\n");
    expect(all).not.toContain("xox");
    expect(all).not.toContain("abcdef0123");
    expect(lines).toHaveLength(2);
  });
});
