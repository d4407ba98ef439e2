/**
 * `slack-oauth-kit export` and `import` on SQLite temp files, through the built CLI: round trip, re-import
 * changes nothing, bad ids skipped, and no token printed. Importing from slack_sdk and @slack/oauth stores:
 * import-sources.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Installation } from "../../src/model/installation.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { runCli } from "./cli-helpers.js";
import { fakeToken } from "./fixtures/formats.js";

const root = mkdtempSync(join(tmpdir(), "sok-export-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const tmp = (name: string) => join(root, `${n++}-${name}`);

function inst(over: Partial<Installation> & Pick<Installation, "userId" | "installedAt">): Installation {
  return { isEnterpriseInstall: false, botScopes: [], userScopes: [], customValues: {}, ...over };
}

async function seed(filename: string, tokens: string[]): Promise<void> {
  const store = new SQLiteInstallationStore({ filename });
  const bot = { botToken: fakeToken("xoxb-", tokens), botId: "B0000000001", botUserId: "U00000000B1" };
  await store.save(
    inst({
      teamId: "T0000000001",
      teamName: "One",
      appId: "A0000000001",
      ...bot,
      botScopes: ["commands"],
      userId: "U0000000001",
      userToken: fakeToken("xoxp-", tokens),
      userScopes: ["chat:write"],
      installedAt: 1700000000.5,
      customValues: { plan: "pro", nested: { a: 1 } },
    }),
  );
  await store.save(inst({ teamId: "T0000000001", ...bot, userId: "U0000000002", installedAt: 1700000100 }));
  await store.save(
    inst({
      enterpriseId: "E0000000001",
      isEnterpriseInstall: true,
      botToken: fakeToken("xoxe.xoxb-1-", tokens),
      botRefreshToken: fakeToken("xoxe-1-", tokens),
      botTokenExpiresAt: 1800000000,
      userId: "W0000000001",
      installedAt: 1700000200,
    }),
  );
  // A bot-only workspace: its installation deleted, the bot kept.
  await store.save(
    inst({
      teamId: "T0000000003",
      botToken: fakeToken("xoxb-", tokens),
      userId: "U0000000003",
      installedAt: 1700000300,
    }),
  );
  await store.deleteInstallation({ teamId: "T0000000003", userId: "U0000000003" });
  await store.close();
}

const sortLines = (s: string) => s.split("\n").filter(Boolean).sort();
const env = (db: string, extra: Record<string, string> = {}) => ({ DATABASE_URL: `sqlite:${db}`, ...extra });

function noToken(text: string, tokens: string[]): void {
  for (const t of tokens) expect(text).not.toContain(t);
  expect(text).not.toMatch(/xox[bpe]-[0-9a-f]/);
}

describe("export", () => {
  it("writes every installation and bot-only workspace as JSON lines, with a warning", async () => {
    const tokens: string[] = [];
    const db = tmp("a.db");
    await seed(db, tokens);
    const r = await runCli(["export"], { env: env(db) });
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    expect(lines.filter((l) => l.kind === "bot")).toHaveLength(1);
    expect(lines.find((l) => l.userId === "U0000000001")?.customValues).toEqual({ plan: "pro", nested: { a: 1 } });
    for (const t of tokens) expect(r.stdout).toContain(t);
    expect(r.stderr).toMatch(/WARNING/);
    expect(r.stderr).toMatch(/export: 3\/3/);
    noToken(r.stderr, tokens);
  });

  it("--out writes a 0600 file; --no-tokens masks every token", async () => {
    const tokens: string[] = [];
    const db = tmp("b.db");
    await seed(db, tokens);
    const out = tmp("backup.jsonl");
    const r = await runCli(["export", "--out", out], { env: env(db) });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, "utf8").split("\n").filter(Boolean)).toHaveLength(4);
    const m = await runCli(["export", "--no-tokens"], { env: env(db) });
    expect(m.code).toBe(0);
    noToken(m.stdout + m.stderr, tokens);
    expect(m.stdout).toContain('"botToken":"****"');
  });

  it("--help, bad usage (2), missing database (1)", async () => {
    const h = await runCli(["export", "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/--no-tokens/);
    expect((await runCli(["export", "--bogus"])).code).toBe(2);
    expect((await runCli(["export", "extra"])).code).toBe(2);
    expect((await runCli(["export"], { env: env(tmp("none.db")) })).code).toBe(1);
  });
});

describe("import", () => {
  it("jsonl: export -> import into an empty store -> export gives the same lines; a re-run changes nothing", async () => {
    const tokens: string[] = [];
    const db = tmp("src.db");
    await seed(db, tokens);
    const backup = tmp("backup.jsonl");
    expect((await runCli(["export", "--out", backup], { env: env(db) })).code).toBe(0);
    const target = tmp("dst.db");
    const r = await runCli(["import", "--from", "jsonl", backup], { env: env(target) });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Imported 4, unchanged 0, skipped 0/);
    noToken(r.stdout + r.stderr, tokens);
    const a = await runCli(["export"], { env: env(db) });
    const b = await runCli(["export"], { env: env(target) });
    expect(sortLines(b.stdout)).toEqual(sortLines(a.stdout));
    const again = await runCli(["import", "--from", "jsonl", backup], { env: env(target) });
    expect(again.stdout).toMatch(/Imported 0, unchanged 4, skipped 0/);
    const c = await runCli(["export"], { env: env(target) });
    expect(c.stdout).toBe(b.stdout);
  });

  it("jsonl: bad ids and broken lines are skipped with a warning", async () => {
    const tokens: string[] = [];
    const file = tmp("bad.jsonl");
    const good = inst({
      teamId: "T0000000009",
      botToken: fakeToken("xoxb-", tokens),
      userId: "U0000000009",
      installedAt: 1,
    });
    const bad = { ...good, teamId: "../../etc/passwd", botToken: fakeToken("xoxb-", tokens) };
    const { writeFileSync } = await import("node:fs");
    writeFileSync(file, `${JSON.stringify(good)}\n${JSON.stringify(bad)}\nnot json\n`);
    const db = tmp("t.db");
    const r = await runCli(["import", "--from", "jsonl", file], { env: env(db) });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Imported 1, unchanged 0, skipped 2/);
    expect(r.stderr).toMatch(/line 2: teamId is not a Slack id/);
    expect(r.stderr).toMatch(/line 3: not JSON/);
    noToken(r.stdout + r.stderr, tokens);
    // An older installation of a user already stored is not imported over the newer one.
    writeFileSync(file, `${JSON.stringify({ ...good, installedAt: 0.5, userToken: fakeToken("xoxp-", tokens) })}\n`);
    const older = await runCli(["import", "--from", "jsonl", file], { env: env(db) });
    expect(older.code).toBe(1);
    expect(older.stdout).toMatch(/Imported 0, unchanged 0, skipped 1/);
    expect(older.stderr).toMatch(/newer installation/);
    noToken(older.stdout + older.stderr, tokens);
  });

  it("into an encrypted store: tokens stored encrypted, a re-run is unchanged; a masked export is refused", async () => {
    const tokens: string[] = [];
    const db = tmp("src.db");
    await seed(db, tokens);
    const backup = tmp("backup.jsonl");
    expect((await runCli(["export", "--out", backup], { env: env(db) })).code).toBe(0);
    const key = `k1:${Buffer.alloc(32, 7).toString("base64")}`;
    const target = tmp("enc.db");
    const e = env(target, { SLACK_TOKEN_ENCRYPTION_KEY: key });
    expect((await runCli(["import", "--from", "jsonl", backup], { env: e })).stdout).toMatch(/Imported 4,/);
    const { default: Database } = await import("better-sqlite3");
    const d = new Database(target, { readonly: true });
    const bots = d.prepare("SELECT bot_token FROM slack_bots").all() as { bot_token: string }[];
    d.close();
    for (const b of bots) expect(b.bot_token).toMatch(/^enc:v1:k1:/);
    const before = await runCli(["export"], { env: e });
    expect((await runCli(["import", "--from", "jsonl", backup], { env: e })).stdout).toMatch(
      /Imported 0, unchanged 4, skipped 0/,
    );
    expect((await runCli(["export"], { env: e })).stdout).toBe(before.stdout);

    const masked = tmp("masked.jsonl");
    expect((await runCli(["export", "--no-tokens", "--out", masked], { env: env(db) })).code).toBe(0);
    const m = await runCli(["import", "--from", "jsonl", masked], { env: e });
    expect(m.code).toBe(1);
    expect(m.stdout).toMatch(/Imported 0, unchanged 0, skipped 4/);
    expect(m.stderr).toMatch(/masked/);
    expect((await runCli(["export"], { env: e })).stdout).toBe(before.stdout);
  });

  it("--help, bad usage (2), missing source (1)", async () => {
    const h = await runCli(["import", "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/slack-sdk-sqlite/);
    expect((await runCli(["import", "x"])).code).toBe(2);
    expect((await runCli(["import", "--from", "csv", "x"])).code).toBe(2);
    expect((await runCli(["import", "--from", "jsonl"])).code).toBe(2);
    expect((await runCli(["import", "--from", "jsonl", tmp("missing")], { env: env(tmp("x.db")) })).code).toBe(1);
  });
});
