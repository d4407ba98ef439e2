import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFault } from "../../src/emulator/faults.js";
import { startEmulator } from "../../src/emulator/index.js";
import { ErrorCode, isCodedError, SlackOAuthError } from "../../src/errors.js";
import { resolveBodyLimits } from "../../src/http/core.js";
import {
  AuthorizeUrlGenerator,
  CachingInstallationStore,
  CodedTypeError,
  IdTokenVerifier,
  SignatureVerifier,
  SlackApiClient,
  SlackRequestHandler,
  signRequest,
  TokenRotator,
} from "../../src/index.js";
import { installationFromV2Response } from "../../src/model/parse.js";
import { buildStateCookie } from "../../src/state/cookie.js";
import { LruTtlCache } from "../../src/stores/cache.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import { SQLiteStateStore } from "../../src/stores/sqlite.js";

/** Calls `f` and returns what it threw (failing the test when it did not throw). */
async function thrown(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

function expectArgumentError(error: unknown, message: RegExp): void {
  expect(error).toBeInstanceOf(TypeError);
  expect(error).toBeInstanceOf(CodedTypeError);
  expect(error).not.toBeInstanceOf(SlackOAuthError);
  expect(isCodedError(error)).toBe(true);
  const e = error as CodedTypeError;
  expect(e.code).toBe(ErrorCode.InvalidArgument);
  expect(e.code).toBe("SLACK_OAUTH_INVALID_ARGUMENT");
  expect(e.name).toBe("CodedTypeError");
  expect(e.status).toBe(500);
  expect(e.message).toMatch(message);
}

describe("argument errors carry a stable code (CodedTypeError), in every layer", () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      "oauth: AuthorizeUrlGenerator without scopes",
      () => new AuthorizeUrlGenerator({ clientId: "1.2", scopes: [] }).generate("state-1"),
      /scope/,
    ],
    [
      "oauth: AuthorizeUrlGenerator with a redirect URI holding '#'",
      () => new AuthorizeUrlGenerator({ clientId: "1.2", scopes: ["chat:write"], redirectUri: "https://a.test/#x" }),
      /redirectUri/,
    ],
    ["oidc: IdTokenVerifier without clientId", () => new IdTokenVerifier({ clientId: "" } as never), /clientId/],
    ["state: a state cookie value with ';'", () => buildStateCookie("a;b"), /cookie/],
    ["http: a body limit of 0 bytes", () => resolveBodyLimits({ maxBytes: 0 }), /maxBytes/],
    ["stores: a cache of 0 entries", () => new LruTtlCache({ maxEntries: 0, ttlMs: 1000 }), /maxEntries/],
    [
      "stores: CachingInstallationStore around nothing",
      () => new CachingInstallationStore(undefined as never),
      /InstallationStore/,
    ],
    [
      "stores: CachingInstallationStore with a negative missTtlMs",
      () => new CachingInstallationStore(new MemoryInstallationStore(), { missTtlMs: -1 }),
      /missTtlMs/,
    ],
    [
      "slack-api: a baseUrl with credentials",
      () => new SlackApiClient({ baseUrl: "https://u:p@slack.test/api/" }),
      /credentials/,
    ],
    [
      "slack-api: a token passed inside args",
      () => new SlackApiClient({ fetch: async () => new Response("{}") }).call("auth.test", { token: "x" }),
      /token/,
    ],
    ["emulator: a fault without a method", () => parseFault({}), /fault\.method/],
    ["emulator: a port out of range", () => startEmulator({ port: 70_000 }), /port/],
  ];
  it.each(cases)("%s", async (_name, call, message) => {
    expectArgumentError(await thrown(call), message);
  });

  it("keeps the cause when given one", () => {
    const cause = new Error("inner");
    const e = new CodedTypeError("outer", { cause });
    expect(e.cause).toBe(cause);
    expect(new CodedTypeError("x", { code: ErrorCode.Config }).code).toBe(ErrorCode.Config);
  });

  it("isCodedError accepts the SlackOAuthError family and refuses plain errors", () => {
    expect(isCodedError(new SlackOAuthError(ErrorCode.Store, "x"))).toBe(true);
    expect(isCodedError(new TypeError("x"))).toBe(false);
    expect(isCodedError(new Error("x"))).toBe(false);
    expect(isCodedError("SLACK_OAUTH_STORE_ERROR")).toBe(false);
  });
});

describe("the source throws no uncoded error classes", () => {
  const root = join(import.meta.dirname, "../../src");
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".ts")) files.push(path);
    }
  };
  walk(root);

  it("has no `new TypeError(` outside CodedTypeError", () => {
    const offenders = files.filter((f) => readFileSync(f, "utf8").includes("new TypeError("));
    expect(offenders).toEqual([]);
  });

  it("declares no Error subclass outside the SlackOAuthError hierarchy", () => {
    const offenders: string[] = [];
    for (const f of files) {
      for (const m of readFileSync(f, "utf8").matchAll(/class (\w+)(?:<[^>]*>)? extends (\w+)\b/g)) {
        const [, name, base] = m;
        if (/^(Error|RangeError|SyntaxError)$/.test(base ?? "") && name !== "SlackOAuthError")
          offenders.push(`${name}`);
        if (base === "TypeError" && name !== "CodedTypeError") offenders.push(`${name}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("documents every code in docs/errors.md", () => {
    const doc = readFileSync(join(root, "../docs/errors.md"), "utf8");
    const missing = Object.values(ErrorCode).filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });
});

describe("clock options say their unit (nowMs / nowSeconds); the old names are refused", () => {
  const old = (o: Record<string, unknown>) => o as never;
  const cases: [string, () => unknown, string][] = [
    ["SignatureVerifier clock", () => new SignatureVerifier("s".repeat(32), old({ clock: () => 1 })), "nowSeconds"],
    [
      "SlackRequestHandler clock",
      () => new SlackRequestHandler(old({ signingSecret: "s".repeat(32), clock: () => 1 })),
      "nowSeconds",
    ],
    ["MemoryStateStore clock", () => new MemoryStateStore(old({ clock: () => 1 })), "nowMs"],
    ["SQLiteStateStore clock", () => new SQLiteStateStore(old({ filename: ":memory:", clock: () => 1 })), "nowMs"],
    [
      "CachingInstallationStore now",
      () => new CachingInstallationStore(new MemoryInstallationStore(), old({ now: () => 1 })),
      "nowMs",
    ],
    [
      "TokenRotator now",
      () => new TokenRotator(old({ clientId: "1.2", clientSecret: "s".repeat(32), now: () => 1 })),
      "nowMs",
    ],
    ["installationFromV2Response now", () => installationFromV2Response({ ok: true }, old({ now: 1 })), "nowSeconds"],
  ];
  it.each(cases)("%s", async (_name, call, renamed) => {
    const e = await thrown(call);
    expectArgumentError(e, new RegExp(`option is now ${renamed} \\(epoch (milli)?seconds\\)`));
  });

  it("the new names are the clocks: a signature from 10 minutes ago verifies at nowSeconds = then", () => {
    const at = 1_700_000_000;
    const body = "token=x";
    const { signature } = signRequest("s".repeat(32), body, at);
    expect(new SignatureVerifier("s".repeat(32), { nowSeconds: () => at }).verify(String(at), signature, body)).toBe(
      true,
    );
    expect(new SignatureVerifier("s".repeat(32)).verify(String(at), signature, body)).toBe(false);
  });
});
