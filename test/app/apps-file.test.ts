/**
 * The apps file of a multi-app reference server (`SLACK_APPS_FILE`): every problem names the app and the
 * field, a secret is never shown, inline secrets need mode 0600, duplicates are refused.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readAppsFile } from "../../src/app/apps-file.js";
import { parseEmulatorApps } from "../../src/emulator/apps.js";

const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length > 0) await rm(dirs.pop()!, { recursive: true, force: true });
});
const hex = () => randomBytes(16).toString("hex");

async function file(doc: unknown, mode = 0o600): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sok-apps-"));
  dirs.push(dir);
  const path = join(dir, "apps.json");
  await writeFile(path, typeof doc === "string" ? doc : JSON.stringify(doc));
  await chmod(path, mode);
  return path;
}

const app = (name: string, n: number, o: Record<string, unknown> = {}) => ({
  name,
  clientId: `${n}${n}${n}${n}.${n}${n}${n}${n}`,
  appId: `A0${name.toUpperCase()}${n}`,
  clientSecret: { env: `${name.toUpperCase()}_CLIENT_SECRET` },
  signingSecret: { env: `${name.toUpperCase()}_SIGNING_SECRET` },
  scopes: ["commands", "chat:write"],
  ...o,
});

describe("readAppsFile", () => {
  it("reads several apps with env references, default paths, one default app", async () => {
    const env = {
      PROD_CLIENT_SECRET: "prod-client-secret-value",
      PROD_SIGNING_SECRET: hex(),
      STAGING_CLIENT_SECRET: "staging-client-secret-value",
      STAGING_SIGNING_SECRET: hex(),
    };
    const path = await file(
      {
        apps: [
          app("prod", 1, { default: true, redirectUri: "https://slack.example.test/slack/prod/oauth_redirect" }),
          app("staging", 2, { userScopes: ["search:read"], paths: { events: "/hooks/staging" } }),
        ],
      },
      0o644, // no inline secret: any mode
    );
    const { apps, findings } = readAppsFile(path, env);
    expect(findings).toStrictEqual([]);
    expect(apps.map((a) => [a.name, a.clientId, a.appId, a.default])).toStrictEqual([
      ["prod", "1111.1111", "A0PROD1", true],
      ["staging", "2222.2222", "A0STAGING2", false],
    ]);
    expect(apps[0]?.clientSecret).toBe("prod-client-secret-value");
    expect(apps[1]?.signingSecret).toBe(env.STAGING_SIGNING_SECRET);
    expect(apps[1]?.userScopes).toStrictEqual(["search:read"]);
    expect(apps[0]?.paths).toStrictEqual({
      install: "/slack/prod/install",
      redirect: "/slack/prod/oauth_redirect",
      events: "/slack/prod/events",
      login: "/slack/prod/login",
    });
    expect(apps[1]?.paths.events).toBe("/hooks/staging");
  });

  it("inline secrets: accepted in a 0600 file, refused (naming the mode, not the secret) otherwise", async () => {
    const clientSecret = `inline-${hex()}`;
    const signingSecret = hex();
    const doc = { apps: [app("prod", 1, { clientSecret, signingSecret })] };
    expect(readAppsFile(await file(doc, 0o600), {}).apps[0]?.clientSecret).toBe(clientSecret);
    const { apps, findings } = readAppsFile(await file(doc, 0o640), {});
    expect(apps).toStrictEqual([]);
    expect(findings.map((f) => [f.level, f.code])).toStrictEqual([["problem", "apps-file-mode"]]);
    expect(findings[0]?.message).toMatch(/mode 0640: chmod 600 it/);
    expect(JSON.stringify(findings)).not.toContain(clientSecret);
    expect(JSON.stringify(findings)).not.toContain(signingSecret);
  });

  it("a duplicate name, client id, app id or path: a problem naming both apps and the field", async () => {
    const env = { A_CLIENT_SECRET: "x", A_SIGNING_SECRET: hex(), B_CLIENT_SECRET: "y", B_SIGNING_SECRET: hex() };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: "a" }, /app "a": name a is also app "a"'s/],
      [{ clientId: "1111.1111" }, /app "b": clientId 1111\.1111 is also app "a"'s/],
      [{ appId: "A0A1" }, /app "b": appId A0A1 is also app "a"'s/],
      [
        { paths: { events: "/slack/a/events" } },
        /app "b": paths\.events \/slack\/a\/events is also used by app "a" \(paths\.events\)/,
      ],
    ];
    for (const [override, message] of cases) {
      const second = { ...app("b", 2), ...override };
      if (override.name === "a") {
        second.clientSecret = { env: "B_CLIENT_SECRET" };
        second.signingSecret = { env: "B_SIGNING_SECRET" };
      }
      const { apps, findings } = readAppsFile(await file({ apps: [app("a", 1), second] }), env);
      expect(apps).toStrictEqual([]);
      expect(
        findings
          .filter((f) => f.level === "problem")
          .map((f) => f.message)
          .join("\n"),
      ).toMatch(message);
    }
  });

  it("a missing secret or a bad field: a problem naming the app and the field, never a value", async () => {
    const secretValue = `value-${hex()}`;
    const { apps, findings } = readAppsFile(
      await file({
        apps: [
          app("a", 1),
          app("b", 2, { clientSecret: undefined, appId: "nope", extra: 1, [secretValue]: true }),
          { name: "Bad Name", clientId: "x" },
          app("c", 3, { default: true }),
          app("d", 4, { default: true, scopes: ["ok", "not ok"], redirectUri: "ftp://x" }),
        ],
      }),
      {
        A_CLIENT_SECRET: secretValue,
        A_SIGNING_SECRET: "short",
        C_CLIENT_SECRET: "c",
        C_SIGNING_SECRET: hex(),
        D_CLIENT_SECRET: "d",
        D_SIGNING_SECRET: hex(),
      },
    );
    expect(apps).toStrictEqual([]);
    const text = findings.map((f) => `${f.level} ${f.message}`).join("\n");
    expect(text).toContain('warning app "a": signingSecret should be 32 hex characters, got a 5-character value');
    expect(text).toContain('app "b": clientSecret is missing');
    expect(text).toContain('app "b": appId must look like A0123456789');
    expect(text).toContain('app "b": extra is not a known field');
    // A value pasted where a key goes (a secret, perhaps) is not echoed.
    expect(text).toContain('app "b": (a field whose name is not a word) is not a known field');
    expect(text).toContain("apps[2]: name must be 1-32 lower-case letters");
    expect(text).toContain("apps[2]: clientSecret is missing");
    expect(text).toContain('app "d": scopes must be a list of scope names');
    expect(text).toContain('app "d": redirectUri must be an http(s) URL');
    expect(text).not.toContain(secretValue);
    const unset = readAppsFile(await file({ apps: [app("e", 5)] }), {});
    expect(unset.findings.map((f) => f.message)).toContain(
      'app "e": clientSecret is missing: the environment variable E_CLIENT_SECRET is not set',
    );
  });

  it("two default apps, an unreadable or malformed file: problems", async () => {
    const env = { A_CLIENT_SECRET: "a", A_SIGNING_SECRET: hex(), B_CLIENT_SECRET: "b", B_SIGNING_SECRET: hex() };
    const two = readAppsFile(
      await file({ apps: [app("a", 1, { default: true }), app("b", 2, { default: true })] }),
      env,
    );
    expect(two.findings.map((f) => f.message).join("\n")).toMatch(/only one app may be "default": true/);
    expect(readAppsFile("/nonexistent/apps.json", env).findings[0]?.message).toMatch(/cannot read .* \(ENOENT\)/);
    expect(readAppsFile(await file("{not json"), env).findings[0]?.message).toMatch(/is not valid JSON/);
    expect(readAppsFile(await file({ apps: [] }), env).findings[0]?.message).toMatch(/lists at least one app/);
  });
});

describe("readAppsFile: sandbox settings", () => {
  it("reads an app's emulator token settings; a wrong one names the app and the field", async () => {
    const env = { ALPHA_CLIENT_SECRET: hex(), ALPHA_SIGNING_SECRET: hex() };
    const good = await file({ apps: [app("alpha", 1, { sandbox: { tokenRotation: true, tokenExpiresIn: 600 } })] });
    expect(readAppsFile(good, env).apps[0]?.sandbox).toStrictEqual({ tokenRotation: true, tokenExpiresIn: 600 });
    const bad = await file({
      apps: [app("alpha", 1, { sandbox: { tokenRotation: "yes", tokenExpiresIn: 0, pkce: true } })],
    });
    const { apps, findings } = readAppsFile(bad, env);
    expect(apps).toStrictEqual([]);
    expect(findings.map((f) => f.message)).toStrictEqual([
      'app "alpha": sandbox.pkce is not a known setting (tokenRotation, tokenExpiresIn)',
      'app "alpha": sandbox.tokenRotation must be true or false',
      'app "alpha": sandbox.tokenExpiresIn must be a whole number of seconds, 1-43200',
    ]);
  });
});

describe("emulator apps file", () => {
  it("names a misspelt field, never a key that is not a word (a secret pasted as a key)", () => {
    const pasted = hex();
    expect(() => parseEmulatorApps([{ name: "a", clientSecrett: "x".repeat(32) }], "apps.json")).toThrow(
      'app "a": clientSecrett is not a known field',
    );
    let message = "";
    try {
      parseEmulatorApps([{ name: "a", [pasted]: true }], "apps.json");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("is not a known field");
    expect(message).not.toContain(pasted);
  });
});
