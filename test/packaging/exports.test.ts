import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// What each entry point gives at run time, imported from the built package by its own name (as a user would).
// The root is for app developers; store authors, page customisers and conformance tests have their own subpaths.
const ROOT_LIMIT = 80;

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  exports: Record<string, unknown>;
};

describe("package entry points", () => {
  it(`the root exports at most ${ROOT_LIMIT} runtime names`, async () => {
    const root = await import("slack-oauth-kit");
    const names = Object.keys(root);
    expect(names.length, names.join(" ")).toBeLessThanOrEqual(ROOT_LIMIT);
    // What a quick start needs is there…
    for (const name of ["OAuthFlow", "createAuthorize", "SlackRequestHandler", "SlackApiClient", "SlackOAuthError"]) {
      expect(names).toContain(name);
    }
    // …and internals, store-author helpers and page renderers are not.
    for (const name of [
      "SingleFlight",
      "LruTtlCache",
      "readHeader",
      "escapeHtml",
      "validateInstallation",
      "renderInstallPage",
    ]) {
      expect(names).not.toContain(name);
    }
  });

  it("store-author helpers come from slack-oauth-kit/stores", async () => {
    expect(pkg.exports["./stores"]).toBeDefined();
    const stores = await import("slack-oauth-kit/stores");
    for (const name of [
      "validateInstallation",
      "normalizeQuery",
      "checkLock",
      "checkTokenUpdate",
      "isValidId",
      "consumeState",
      "TokenCipher",
      "installationFromV2Response",
    ]) {
      expect(typeof (stores as Record<string, unknown>)[name], name).not.toBe("undefined");
    }
  });

  it("page renderers come from slack-oauth-kit/pages", async () => {
    expect(pkg.exports["./pages"]).toBeDefined();
    const pages = await import("slack-oauth-kit/pages");
    const html = pages.renderInstallPage({ url: "https://slack.com/oauth/v2/authorize?state=<x>" });
    expect(html).toContain("state=&lt;x&gt;");
    expect(pages.escapeHtml(`<a href="x">`)).toBe("&lt;a href=&quot;x&quot;&gt;");
  });
});
