import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// Test what ships: build dist/ and import every subpath export by the package's own name, in plain Node.
const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  name: string;
  exports: Record<string, unknown>;
};

describe("built package", () => {
  it("every subpath export resolves and loads in plain Node", () => {
    const subpaths = Object.keys(pkg.exports).filter((p) => p !== "./package.json");
    const script = `
      const names = ${JSON.stringify(subpaths)};
      const out = {};
      for (const p of names) {
        const spec = p === "." ? ${JSON.stringify(pkg.name)} : ${JSON.stringify(pkg.name)} + p.slice(1);
        const m = await import(spec);
        out[p] = Object.keys(m).sort();
      }
      console.log(JSON.stringify(out));
    `;
    const stdout = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    const loaded = JSON.parse(stdout) as Record<string, string[]>;
    expect(Object.keys(loaded).sort()).toEqual(subpaths.sort());
    expect(loaded["."]).toEqual(
      expect.arrayContaining(["SignatureVerifier", "SlackOAuthError", "OAuthFlow", "createAuthorize"]),
    );
    expect(loaded["./stores"]).toEqual(expect.arrayContaining(["installationFromV2Response", "validateInstallation"]));
    for (const [p, names] of Object.entries(loaded)) expect(names.length, `exports of ${p}`).toBeGreaterThan(0);
  });

  it("the main entry verifies Slack's official signature vector from dist", () => {
    const script = `
      import { SignatureVerifier } from ${JSON.stringify(pkg.name)};
      const v = new SignatureVerifier("8f742231b10e8888abcd99yyyzzz85a5", { nowSeconds: () => 1531420618 });
      const body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
      console.log(v.verify("1531420618", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", body));
    `;
    expect(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }).trim()).toBe(
      "true",
    );
  });
});
