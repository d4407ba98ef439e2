/**
 * `--app <name or client id>` of the admin commands, on SQLite: a name is looked up in the apps file, a
 * client id taken as it is; the default app owns the default partition; output names the app; an unknown
 * app is exit 2 naming no secret. `export --app` then `import` puts every installation back into its app.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../../src/cli/command.js";
import { createInstallationsCommand } from "../../src/cli/installations.js";
import type { CliIO } from "../../src/cli/io.js";
import type { Installation } from "../../src/model/installation.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { runCli } from "./cli-helpers.js";
import { fakeToken } from "./fixtures/formats.js";

const root = mkdtempSync(join(tmpdir(), "sok-apps-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const PROD = "1111111111.2222222222";
const STAGING = "3333333333.4444444444";
const tokens: string[] = [];
const secrets = [randomBytes(16).toString("hex"), randomBytes(16).toString("hex")];
const appsFile = join(root, "apps.json");
const db = join(root, "apps.db");

function inst(over: Partial<Installation> & Pick<Installation, "userId" | "installedAt">): Installation {
  return { isEnterpriseInstall: false, botScopes: [], userScopes: [], customValues: {}, ...over };
}

/** The same workspace and user in both apps (each its own tokens), and a workspace only staging has. */
async function seed(filename: string): Promise<void> {
  for (const [clientId, appId] of [
    [undefined, "A0000000PRD"],
    [STAGING, "A0000000STG"],
  ] as const) {
    const store = new SQLiteInstallationStore({ filename, clientId });
    await store.save(
      inst({
        teamId: "T0000000001",
        appId,
        botToken: fakeToken("xoxb-", tokens),
        botId: "B0000000001",
        userId: "U0000000001",
        userToken: fakeToken("xoxp-", tokens),
        installedAt: 1700000000,
      }),
    );
    if (clientId === STAGING)
      await store.save(
        inst({
          teamId: "T0000000002",
          appId,
          botToken: fakeToken("xoxb-", tokens),
          userId: "U0000000002",
          installedAt: 1,
        }),
      );
    await store.close();
  }
}

beforeAll(async () => {
  writeFileSync(
    appsFile,
    JSON.stringify({
      apps: [
        {
          name: "prod",
          default: true,
          clientId: PROD,
          appId: "A0000000PRD",
          clientSecret: secrets[0],
          signingSecret: secrets[1],
        },
        {
          name: "staging",
          clientId: STAGING,
          appId: "A0000000STG",
          clientSecret: { env: "STG_SECRET" },
          signingSecret: { env: "STG_SIGNING" },
        },
      ],
    }),
  );
  chmodSync(appsFile, 0o600);
  await seed(db);
});

function terminal(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), stdin: Readable.from([]), isTTY: false, env };
  return { io, out, err };
}

/** `installations …` in this process: its exit code (a usage error is 2, as the CLI maps it) and output. */
async function installations(args: string[], env: Record<string, string> = { SLACK_APPS_FILE: appsFile }) {
  const t = terminal(env);
  let code: number;
  let usage = "";
  try {
    code = await createInstallationsCommand(() => t.io).run([...args, "--database-url", `sqlite:${db}`]);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    code = 2;
    usage = error.message;
  }
  return { code, out: t.out.join(""), err: t.err.join("") + usage };
}

function noSecret(text: string): void {
  for (const s of [...secrets, ...tokens]) expect(text).not.toContain(s);
}

const teams = (json: string) => (JSON.parse(json) as Array<{ teamId: string }>).map((w) => w.teamId).sort();

describe("--app on installations", () => {
  it("list --needs-reinstall compares with the app's scopes in the apps file (before SLACK_SCOPES)", async () => {
    const withScopes = join(root, "apps-scopes.json");
    const file: { apps: Record<string, unknown>[] } = { apps: [] };
    file.apps.push(
      {
        name: "prod",
        default: true,
        clientId: PROD,
        appId: "A0000000PRD",
        clientSecret: secrets[0],
        signingSecret: secrets[1],
      },
      {
        name: "staging",
        clientId: STAGING,
        appId: "A0000000STG",
        clientSecret: secrets[0],
        signingSecret: secrets[1],
        scopes: ["commands", "channels:read"],
      },
    );
    writeFileSync(withScopes, JSON.stringify(file));
    chmodSync(withScopes, 0o600);
    const env = { SLACK_APPS_FILE: withScopes, SLACK_SCOPES: "commands,chat:write,users:read" };
    const staging = await installations(["list", "--app", "staging", "--needs-reinstall", "--json"], env);
    expect(staging.code, staging.err).toBe(0);
    expect(staging.err).toMatch(
      /^Compared with bot scopes commands,channels:read \(from the apps file's app "staging"/,
    );
    const rows = JSON.parse(staging.out) as Array<{ teamId: string; missingBotScopes: string[] }>;
    expect(rows.map((r) => [r.teamId, r.missingBotScopes])).toEqual([
      ["T0000000001", ["commands", "channels:read"]],
      ["T0000000002", ["commands", "channels:read"]],
    ]);
    // prod names no scopes in the file: SLACK_SCOPES is used.
    const prod = await installations(["list", "--app", "prod", "--needs-reinstall", "--json"], env);
    expect(prod.err).toMatch(/^Compared with bot scopes commands,chat:write,users:read \(from SLACK_SCOPES\)/);
    expect((JSON.parse(prod.out) as Array<{ missingBotScopes: string[] }>)[0]?.missingBotScopes).toEqual([
      "commands",
      "chat:write",
      "users:read",
    ]);
    noSecret(staging.out + staging.err + prod.out + prod.err);
  });

  it("a name selects the app's partition (the default app's is the default one) and the output names it", async () => {
    const staging = await installations(["list", "--app", "staging", "--json"]);
    expect(staging.code, staging.err).toBe(0);
    expect(teams(staging.out)).toEqual(["T0000000001", "T0000000002"]);
    const rows = JSON.parse(staging.out) as Array<{ app: unknown }>;
    expect(rows[0]?.app).toEqual({ name: "staging", clientId: STAGING, defaultPartition: false });

    const prod = await installations(["list", "--app", "prod"]);
    expect(prod.code, prod.err).toBe(0);
    expect(prod.out.split("\n")[0]).toBe(`App: app "prod" (client id ${PROD}, default partition)`);
    expect(prod.out).toContain("T0000000001");
    expect(prod.out).not.toContain("T0000000002");
    // Without --app: the default partition, output as before (no app line, no app key).
    const plain = await installations(["list", "--json"], {});
    expect(teams(plain.out)).toEqual(["T0000000001"]);
    expect(JSON.parse(plain.out)[0]).not.toHaveProperty("app");
    noSecret(staging.out + staging.err + prod.out + prod.err);
  });

  it("a client id is taken as it is: the default app's maps to the default partition; --client-id keeps the raw partition", async () => {
    const byId = await installations(["list", "--app", STAGING, "--json"], {});
    expect(teams(byId.out)).toEqual(["T0000000001", "T0000000002"]);
    expect((JSON.parse(byId.out) as Array<{ app: unknown }>)[0]?.app).toEqual({
      name: null,
      clientId: STAGING,
      defaultPartition: false,
    });
    const prodById = await installations(["list", "--app", PROD, "--json"]);
    expect(teams(prodById.out)).toEqual(["T0000000001"]);
    expect((JSON.parse(prodById.out) as Array<{ app: { name: string } }>)[0]?.app.name).toBe("prod");
    const raw = await installations(["list", "--client-id", STAGING, "--json"], {});
    expect(teams(raw.out)).toEqual(["T0000000001", "T0000000002"]);
    expect(JSON.parse(raw.out)[0]).toHaveProperty("app");
    // A client id the apps file lacks: its partition, with a note.
    const other = await installations(["list", "--app", "5.6"]);
    expect(other.code).toBe(0);
    expect(other.out).toContain("No installations.");
    expect(other.err).toContain("client id 5.6 is not an app of");
  });

  it("show and delete work on the named app only", async () => {
    const show = await installations(["show", "--team", "T0000000001", "--app", "staging", "--json"]);
    expect(show.code, show.err).toBe(0);
    const j = JSON.parse(show.out) as { app: { name: string }; appId: string; bot: { botToken: string } };
    expect(j.app.name).toBe("staging");
    expect(j.appId).toBe("A0000000STG");
    expect(j.bot.botToken).toMatch(/^xoxb-\*+/);
    const del = await installations(["delete", "--team", "T0000000002", "--app", "staging", "--yes"]);
    expect(del.code, del.err).toBe(0);
    expect(del.out).toContain(`for app "staging" (client id ${STAGING})`);
    expect(teams((await installations(["list", "--app", "staging", "--json"])).out)).toEqual(["T0000000001"]);
    // prod is not touched, and nothing printed a secret.
    expect(teams((await installations(["list", "--app", "prod", "--json"])).out)).toEqual(["T0000000001"]);
    noSecret(show.out + show.err + del.out + del.err);
  });

  it("bad --app: exit 2 with a clear message naming no secret", async () => {
    const unknown = await installations(["list", "--app", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("--app nope: no such app in");
    expect(unknown.err).toContain("its apps: prod, staging");
    noSecret(unknown.err);
    const noFile = await installations(["list", "--app", "prod"], {});
    expect(noFile.code).toBe(2);
    expect(noFile.err).toContain("needs the apps file (--apps-file FILE or SLACK_APPS_FILE)");
    expect((await installations(["list", "--app", "../x.y"])).code).toBe(2);
    expect((await installations(["list", "--app", "Bad Name"])).code).toBe(2);
    expect((await installations(["list", "--app", "prod", "--client-id", PROD])).code).toBe(2);
    const broken = join(root, "broken.json");
    writeFileSync(
      broken,
      JSON.stringify({ apps: [{ name: "x", clientId: "nope", appId: "A1", clientSecret: secrets[0] }] }),
    );
    const b = await installations(["list", "--app", "x", "--apps-file", broken], {});
    expect(b.code).toBe(2);
    expect(b.err).toContain('app "x": clientId must look like');
    noSecret(b.err);
  });
});

describe("--app on export, import, rotate and rekey (the built CLI)", () => {
  const env = (database: string) => ({ DATABASE_URL: `sqlite:${database}`, SLACK_APPS_FILE: appsFile });

  it("export --app tags each line with its app; importing both exports puts each back into its app", async () => {
    const src = join(root, "round.db");
    await seed(src);
    const files: string[] = [];
    for (const app of ["prod", "staging"]) {
      const out = join(root, `${app}.jsonl`);
      const r = await runCli(["export", "--app", app, "--out", out], { env: env(src) });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`of app "${app}"`);
      files.push(out);
    }
    const both = join(root, "both.jsonl");
    const { readFileSync } = await import("node:fs");
    const text = files.map((f) => readFileSync(f, "utf8")).join("");
    writeFileSync(both, text);
    const lines = text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.app === "prod" && l.clientId === PROD)).toHaveLength(1);
    expect(lines.filter((l) => l.app === "staging" && l.clientId === STAGING)).toHaveLength(2);

    const dst = join(root, "dst.db");
    const imp = await runCli(["import", "--from", "jsonl", both], { env: env(dst) });
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stdout).toContain(
      `app "prod" (client id ${PROD}, default partition): imported 1, unchanged 0, skipped 0`,
    );
    expect(imp.stdout).toContain(`app "staging" (client id ${STAGING}): imported 2, unchanged 0, skipped 0`);
    noSecret(imp.stdout + imp.stderr);
    // Each partition of the copy holds what the source's does (read in this process: no more CLI runs).
    for (const clientId of [undefined, STAGING]) {
      const [a, b] = [src, dst].map((filename) => new SQLiteInstallationStore({ filename, clientId }));
      expect(await b!.listWorkspaces()).toEqual(await a!.listWorkspaces());
      await Promise.all([a!.close(), b!.close()]);
    }
    // A re-run changes nothing; --app staging imports only staging's lines (prod's are left out with a note).
    expect((await runCli(["import", "--from", "jsonl", both], { env: env(dst) })).stdout).toContain(
      "Imported 0, unchanged 3, skipped 0",
    );
    const one = join(root, "one.db");
    const s = await runCli(["import", "--from", "jsonl", "--app", "staging", both], { env: env(one) });
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toContain("Imported 2, unchanged 0, skipped 0");
    expect(s.stderr).toContain(`left out 1 record of client id ${PROD} (--app staging)`);
    // A line whose clientId is not one is skipped with its reason.
    writeFileSync(both, `${JSON.stringify({ ...lines[0], clientId: "../etc" })}\n`);
    const bad = await runCli(["import", "--from", "jsonl", both], { env: env(one) });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("skipped line 1: clientId is not a client id");
  }, 30_000);

  it("rotate and rekey take --app; rotate refuses an app another SLACK_CLIENT_ID names", async () => {
    const dry = await runCli(["rotate", "--dry-run", "--json", "--app", "staging"], { env: env(db) });
    expect(dry.code, dry.stderr).toBe(0);
    const report = JSON.parse(dry.stdout) as { app: unknown; rotation: { workspaces: number } };
    expect(report.app).toEqual({ name: "staging", clientId: STAGING, defaultPartition: false });
    expect(report.rotation.workspaces).toBe(1);
    const clash = await runCli(["rotate", "--app", STAGING], {
      env: { DATABASE_URL: `sqlite:${db}`, SLACK_CLIENT_ID: PROD, SLACK_CLIENT_SECRET: secrets[0] },
    });
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain(`another app than --app ${STAGING}`);
    noSecret(clash.stdout + clash.stderr);
    // staging's secrets are environment references that are unset: rotate names the app and field only.
    const unset = await runCli(["rotate", "--app", "staging"], { env: env(db) });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('app "staging": clientSecret is missing: the environment variable STG_SECRET');
    noSecret(unset.stdout + unset.stderr);
    const rk = await runCli(["rekey", "--app", "nope"], {
      env: { ...env(db), SLACK_TOKEN_ENCRYPTION_KEY: `k1:${Buffer.alloc(32, 1).toString("base64")}` },
    });
    expect(rk.code).toBe(2);
    expect(rk.stderr).toContain("its apps: prod, staging");
  }, 30_000);

  it("rekey re-keys every app's partition before the old key leaves the shared marker; --app re-keys one and keeps it", async () => {
    const key = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;
    const [k1, k2] = [key("k1"), key("k2")];
    const enc = join(root, "enc.db");
    await seed(enc);
    const e = (k: string) => ({ ...env(enc), SLACK_TOKEN_ENCRYPTION_KEY: k });
    const first = await runCli(["rekey"], { env: e(k1) });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`Re-keyed app "prod" (client id ${PROD}, default partition) to "k1": 1 workspaces`);
    expect(first.stdout).toContain(`Re-keyed app "staging" (client id ${STAGING}) to "k1": 2 workspaces`);
    // --app staging alone: staging under k2, prod still under k1, so k1 stays required.
    const one = await runCli(["rekey", "--app", "staging"], { env: e(`${k2},${k1}`) });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout.trim().split("\n")).toHaveLength(1);
    expect(one.stderr).toContain("older keys stay recorded");
    const without = await runCli(["export", "--app", "prod"], { env: e(k2) });
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('"k1"');
    // A rekey without --app covers both apps (staging's already current); then k2 alone reads prod's tokens too.
    const all = await runCli(["rekey"], { env: e(`${k2},${k1}`) });
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain(
      `Re-keyed app "prod" (client id ${PROD}, default partition) to "k2": 1 workspaces, 2 records re-encrypted`,
    );
    expect(all.stdout).toContain(
      `Re-keyed app "staging" (client id ${STAGING}) to "k2": 2 workspaces, 0 records re-encrypted, 4 already current`,
    );
    const out = await runCli(["export", "--app", "prod"], { env: e(k2) });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/"botToken":"xoxb-/);
    noSecret(first.stdout + first.stderr + one.stdout + one.stderr + all.stdout + all.stderr);
  }, 30_000);
});
