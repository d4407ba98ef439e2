/**
 * `slack-oauth-kit installations list|show|delete` on SQLite, as an operator runs it: the built CLI in a
 * child process, against a temporary database filled through `SQLiteInstallationStore`.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { createInstallationsCommand, type WorkspaceListing } from "../../src/cli/installations.js";
import type { CliIO } from "../../src/cli/io.js";
import type { Installation } from "../../src/model/installation.js";
import { FileInstallationStore } from "../../src/stores/file.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { HAS_SCRIPT_PTY, runCli, runCliInPty } from "./cli-helpers.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const rnd = (n = 12) => randomBytes(n).toString("hex");
const now = Math.floor(Date.now() / 1000);

/** Every token written to the database, to check that none is ever printed (unless --reveal). */
let tokens: string[] = [];
let dbPath = "";
let dbUrl = "";

function tok(prefix: string): string {
  const t = `${prefix}${rnd(6)}-${rnd(6)}-${rnd(12)}`;
  tokens.push(t);
  return t;
}

function inst(over: Partial<Installation> & Pick<Installation, "userId" | "installedAt">): Installation {
  return { isEnterpriseInstall: false, botScopes: [], userScopes: [], customValues: {}, ...over };
}

/** The fixture: four workspaces covering bot+users, Grid with rotation, org-wide and user-only. */
async function fill(filename: string): Promise<void> {
  const store = new SQLiteInstallationStore({ filename });
  const northwind = { teamId: "T0000000001", teamName: "Northwind Traders", appId: "A0000000001" };
  const botN = {
    botToken: tok("xoxb-"),
    botId: "B0000000001",
    botUserId: "U00000000B1",
    botScopes: ["commands", "chat:write"],
  };
  await store.save(
    inst({
      ...northwind,
      ...botN,
      userId: "U0000000001",
      userToken: tok("xoxp-"),
      userScopes: ["chat:write"],
      installedAt: now - 3600,
      incomingWebhookUrl: `https://hooks.slack.com/services/T0000000001/B0000000099/${rnd(12)}`,
      incomingWebhookChannel: "#general",
      incomingWebhookChannelId: "C0000000001",
    }),
  );
  await store.save(inst({ ...northwind, ...botN, userId: "U0000000002", installedAt: now - 60 }));
  await store.save(
    inst({
      enterpriseId: "E0000000001",
      enterpriseName: "Acme Corp",
      teamId: "T0000000004",
      teamName: "Acme Engineering",
      botToken: tok("xoxe.xoxb-1-"),
      botRefreshToken: tok("xoxe-1-"),
      botTokenExpiresAt: now + 43200,
      botId: "B0000000004",
      botUserId: "W00000000B4",
      botScopes: ["commands"],
      userId: "W0000000010",
      userToken: tok("xoxe.xoxp-1-"),
      userRefreshToken: tok("xoxe-1-"),
      userTokenExpiresAt: now + 40000,
      userScopes: ["search:read"],
      installedAt: now - 120,
    }),
  );
  await store.save(
    inst({
      enterpriseId: "E0000000002",
      enterpriseName: "Umbrella",
      isEnterpriseInstall: true,
      botToken: tok("xoxb-"),
      botId: "B0000000005",
      botUserId: "W00000000B5",
      userId: "W0000000020",
      installedAt: now - 7200,
    }),
  );
  await store.save(
    inst({
      teamId: "T0000000003",
      teamName: "Initech",
      userId: "U0000000007",
      userToken: tok("xoxp-"),
      userScopes: ["search:read"],
      installedAt: now - 30,
    }),
  );
  await store.close();
}

beforeEach(async () => {
  const dir = mkdtempSync(join(tmpdir(), "sok-cli-"));
  dirs.push(dir);
  dbPath = join(dir, "slack.db");
  dbUrl = `sqlite:${dbPath}`;
  tokens = [];
  await fill(dbPath);
});

async function withStore<T>(fn: (s: SQLiteInstallationStore) => Promise<T>): Promise<T> {
  const store = new SQLiteInstallationStore({ filename: dbPath });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function expectNoToken(text: string): void {
  for (const t of tokens) expect(text).not.toContain(t);
  // Masks (`xoxb-****`, `xoxe-1-****`) are fine; anything else that looks like a token is not.
  expect(text.replace(/x[a-z]+(?:\.x[a-z]+)?-(?:\d+-)?\*\*\*\*/g, "")).not.toMatch(/xox|xapp/);
}

describe("installations list", () => {
  it("--json: the documented shape, exactly, and no token", async () => {
    const r = await runCli(["installations", "list", "--json", "--database-url", dbUrl]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expectNoToken(r.stdout);
    const rows = JSON.parse(r.stdout) as WorkspaceListing[];
    const ts = (n: number) => expect.closeTo(n, 3);
    expect(rows).toEqual([
      {
        enterpriseId: null,
        teamId: "T0000000001",
        isEnterpriseInstall: false,
        botId: "B0000000001",
        botUserId: "U00000000B1",
        users: [
          { userId: "U0000000002", installedAt: ts(now - 60), userTokenExpiresAt: null, health: null },
          { userId: "U0000000001", installedAt: ts(now - 3600), userTokenExpiresAt: null, health: null },
        ],
        installedAt: ts(now - 60),
        botTokenExpiresAt: null,
        botHealth: null,
      },
      {
        enterpriseId: null,
        teamId: "T0000000003",
        isEnterpriseInstall: false,
        botId: null,
        botUserId: null,
        users: [{ userId: "U0000000007", installedAt: ts(now - 30), userTokenExpiresAt: null, health: null }],
        installedAt: ts(now - 30),
        botTokenExpiresAt: null,
        botHealth: null,
      },
      {
        enterpriseId: "E0000000001",
        teamId: "T0000000004",
        isEnterpriseInstall: false,
        botId: "B0000000004",
        botUserId: "W00000000B4",
        users: [{ userId: "W0000000010", installedAt: ts(now - 120), userTokenExpiresAt: now + 40000, health: null }],
        installedAt: ts(now - 120),
        botTokenExpiresAt: now + 43200,
        botHealth: null,
      },
      {
        enterpriseId: "E0000000002",
        teamId: null,
        isEnterpriseInstall: true,
        botId: "B0000000005",
        botUserId: "W00000000B5",
        users: [{ userId: "W0000000020", installedAt: ts(now - 7200), userTokenExpiresAt: null, health: null }],
        installedAt: ts(now - 7200),
        botTokenExpiresAt: null,
        botHealth: null,
      },
    ]);
    // Exactly these keys, nothing more (a token field added by mistake would show here).
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(
        [
          "botHealth",
          "botId",
          "botTokenExpiresAt",
          "botUserId",
          "enterpriseId",
          "installedAt",
          "isEnterpriseInstall",
          "teamId",
          "users",
        ].sort(),
      );
      for (const u of row.users)
        expect(Object.keys(u).sort()).toEqual(["health", "installedAt", "userId", "userTokenExpiresAt"]);
    }
  });

  it("the table: one line per workspace with enterprise, team, bot, users, installed at and token expiry", async () => {
    const r = await runCli(["installations", "list", "--database-url", dbUrl]);
    expect(r.code).toBe(0);
    expectNoToken(r.stdout);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^ENTERPRISE\s+TEAM\s+BOT\s+USERS\s+INSTALLED AT \(UTC\)\s+BOT TOKEN EXPIRES \(UTC\)\s+STATUS$/,
    );
    expect(lines).toHaveLength(5);
    const northwind = lines.find((l) => l.includes("T0000000001"));
    expect(northwind).toMatch(
      /^-\s+T0000000001 \(Northwind Traders\)\s+B0000000001\/U00000000B1\s+U0000000002,U0000000001\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+never\s+unchecked$/,
    );
    const grid = lines.find((l) => l.includes("T0000000004"));
    expect(grid).toMatch(/^E0000000001 \(Acme Corp\)\s+T0000000004 \(Acme Engineering\)/);
    expect(grid).toContain(new Date((now + 43200) * 1000).toISOString().slice(0, 16).replace("T", " "));
    expect(lines.find((l) => l.includes("E0000000002"))).toMatch(/\(org-wide\)/);
    expect(lines.find((l) => l.includes("T0000000003"))).toMatch(/T0000000003 \(Initech\)\s+-\s+U0000000007/);
    // Columns line up.
    const col = lines[0]!.indexOf("BOT ");
    for (const l of lines.slice(1)) expect(l.slice(col - 2, col)).toBe("  ");
  });

  it("shows each token's recorded health and filters by it (--status), unchecked included", async () => {
    await withStore(async (store) => {
      await store.recordHealth(
        { teamId: "T0000000001" },
        { status: "revoked", checkedAt: now, error: "token_revoked" },
      );
      await store.recordHealth({ teamId: "T0000000001", userId: "U0000000002" }, { status: "ok", checkedAt: now });
      await store.recordHealth(
        { teamId: "T0000000001", userId: "U0000000001" },
        { status: "invalid", checkedAt: now, error: "invalid_auth" },
      );
      await store.recordHealth(
        { enterpriseId: "E0000000001", teamId: "T0000000004" },
        { status: "ok", checkedAt: now },
      );
    });
    const list = async (...args: string[]) => {
      const r = await runCli(["installations", "list", "--database-url", dbUrl, ...args]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    const table = (await list()).trimEnd().split("\n");
    expect(table.find((l) => l.includes("T0000000001"))).toMatch(/\srevoked \(1 user invalid\)$/);
    expect(table.find((l) => l.includes("T0000000004"))).toMatch(/\sok \(1 user unchecked\)$/);
    expect(table.find((l) => l.includes("T0000000003"))).toMatch(/\s\(1 user unchecked\)$/);
    const ids = async (status: string) =>
      (JSON.parse(await list("--json", "--status", status)) as WorkspaceListing[]).map(
        (w) => w.teamId ?? w.enterpriseId,
      );
    expect(await ids("revoked")).toEqual(["T0000000001"]);
    expect(await ids("invalid")).toEqual(["T0000000001"]);
    // U0000000002 has no user token of its own: its record counts for nothing.
    expect(await ids("ok")).toEqual(["T0000000004"]);
    expect(await ids("unchecked")).toEqual(["T0000000003", "T0000000004", "E0000000002"]);
    expect(await ids("expired")).toEqual([]);
    const row = (JSON.parse(await list("--json", "--team", "T0000000001")) as WorkspaceListing[])[0];
    expect(row?.botHealth).toEqual({ status: "revoked", checkedAt: now, error: "token_revoked" });
    expect(row?.users.map((u) => u.health?.status)).toEqual([undefined, "invalid"]); // no user token: no health
    expect(await list("--status", "expired")).toBe("No installations with a token in status expired.\n");
    const bad = await runCli(["installations", "list", "--status", "broken", "--database-url", dbUrl]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--status must be ok, revoked/);
  });

  it("filters: --team, --enterprise, both; no match is an empty result, not an error", async () => {
    const ids = async (...args: string[]) => {
      const r = await runCli(["installations", "list", "--json", "--database-url", dbUrl, ...args]);
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout) as WorkspaceListing[]).map((w) => w.teamId ?? w.enterpriseId);
    };
    expect(await ids("--team", "T0000000004")).toEqual(["T0000000004"]);
    expect(await ids("--enterprise", "E0000000001")).toEqual(["T0000000004"]);
    expect(await ids("--enterprise", "E0000000002")).toEqual(["E0000000002"]);
    expect(await ids("--enterprise", "E0000000001", "--team", "T0000000004")).toEqual(["T0000000004"]);
    expect(await ids("--team", "T0000000009")).toEqual([]);
    const table = await runCli(["installations", "list", "--team", "T0000000009", "--database-url", dbUrl]);
    expect(table.stdout).toBe("No installations.\n");
  });

  it("DATABASE_URL is used when there is no flag", async () => {
    const r = await runCli(["installations", "list", "--json"], { env: { DATABASE_URL: dbUrl } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(4);
  });

  it("a database that does not exist is reported (exit 1) and not created", async () => {
    const missing = join(dirs.at(-1)!, "nope", "missing.db");
    const r = await runCli(["installations", "list", "--database-url", `sqlite:${missing}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/No database at .*missing\.db/);
    const again = await runCli(["installations", "list", "--database-url", `sqlite:${missing}`]);
    expect(again.code).toBe(1);
  });

  it("a file that is not a database: exit 1 with the reason", async () => {
    const junk = join(dirs.at(-1)!, "junk.db");
    writeFileSync(junk, "this is not sqlite ".repeat(100));
    const r = await runCli(["installations", "list", "--database-url", `sqlite:${junk}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a database/);
  });

  it("bad usage: exit 2 with the usage", async () => {
    for (const args of [
      ["installations"],
      ["installations", "frobnicate"],
      ["installations", "list", "--team", "../../etc"],
      ["installations", "list", "--reveal"],
      ["installations", "list", "--token", "x"],
      ["installations", "list", "--database-url", "memory:"],
    ]) {
      const r = await runCli([...args, ...(args.includes("--database-url") ? [] : ["--database-url", dbUrl])]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/Usage: slack-oauth-kit installations/);
    }
  });
});

describe("installations show", () => {
  it("masks every token (xoxb-****), refresh tokens and the webhook URL", async () => {
    const r = await runCli(["installations", "show", "--team", "T0000000001", "--database-url", dbUrl]);
    expect(r.code).toBe(0);
    expectNoToken(r.stdout);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^Workspace T0000000001 \(Northwind Traders\)/);
    expect(r.stdout).toMatch(/ {2}token: +xoxb-\*\*\*\*$/m);
    expect(r.stdout).toMatch(/ {4}token: +xoxp-\*\*\*\*$/m);
    expect(r.stdout).toMatch(/scopes: +commands, chat:write/);
    expect(r.stdout).toMatch(/webhook: +#general \(C0000000001\) https:\/\/hooks\.slack\.com\/\*\*\*\*/);
    expect(r.stdout).not.toMatch(/services\/T0000000001/);
  });

  it("rotating tokens: both kinds masked, expiry shown", async () => {
    const r = await runCli(["installations", "show", "--team", "T0000000004", "--database-url", dbUrl]);
    expect(r.code).toBe(0);
    expectNoToken(r.stdout);
    expect(r.stdout).toMatch(/token: +xoxe\.xoxb-\*\*\*\*/);
    expect(r.stdout).toMatch(/refresh token: +xoxe-1-\*\*\*\*/);
    expect(r.stdout).toMatch(/token expires: +\d{4}-/);
  });

  it("--reveal prints the tokens in full, with a warning on stderr", async () => {
    const r = await runCli(["installations", "show", "--team", "T0000000001", "--reveal", "--database-url", dbUrl]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: --reveal prints live tokens/);
    const withBot = tokens.filter((t) => r.stdout.includes(t));
    expect(withBot).toHaveLength(2); // the bot token and U0000000001's user token
    expect(r.stdout).toMatch(/https:\/\/hooks\.slack\.com\/services\/T0000000001\//);
  });

  it("--json: the workspace with masked tokens", async () => {
    const r = await runCli(["installations", "show", "--team", "T0000000004", "--json", "--database-url", dbUrl]);
    expect(r.code).toBe(0);
    expectNoToken(r.stdout);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      enterpriseId: "E0000000001",
      teamId: "T0000000004",
      teamName: "Acme Engineering",
      bot: {
        botId: "B0000000004",
        botToken: "xoxe.xoxb-****",
        botRefreshToken: "xoxe-1-****",
        botTokenExpiresAt: now + 43200,
      },
      users: [{ userId: "W0000000010", userToken: "xoxe.xoxp-****", userTokenExpiresAt: now + 40000 }],
    });
  });

  it("--enterprise alone shows the org-wide installation", async () => {
    const r = await runCli(["installations", "show", "--enterprise", "E0000000002", "--database-url", dbUrl]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Org-wide installation on E0000000002 \(Umbrella\)/);
    expectNoToken(r.stdout);
  });

  it("unknown workspace → exit 1 with a hint; no selector → exit 2", async () => {
    const r = await runCli(["installations", "show", "--team", "T0000000009", "--database-url", dbUrl]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/No workspace T0000000009 in the store/);
    const e = await runCli(["installations", "show", "--enterprise", "E0000000001", "--database-url", dbUrl]);
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/No org-wide installation of E0000000001/);
    const u = await runCli(["installations", "show", "--database-url", dbUrl]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/needs --team T… or --enterprise E…/);
  });
});

describe("installations delete", () => {
  const exists = (teamId: string) => withStore(async (s) => (await s.listWorkspaces({ teamId })).length > 0);

  it("without a terminal and without --yes: refuses with exit 2 and deletes nothing", async () => {
    const r = await runCli(["installations", "delete", "--team", "T0000000001", "--database-url", dbUrl], {
      input: "y\n",
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to delete without confirmation: stdin is not a terminal\. Pass --yes/);
    expect(await exists("T0000000001")).toBe(true);
  });

  it("--yes deletes the workspace (bot and every user), nothing else", async () => {
    const r = await runCli(["installations", "delete", "--team", "T0000000001", "--yes", "--database-url", dbUrl]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Deleted the bot and 2 user installation\(s\) of workspace T0000000001/);
    expect(r.stderr).toMatch(/still installed in Slack/);
    expectNoToken(`${r.stdout}${r.stderr}`);
    expect(await exists("T0000000001")).toBe(false);
    await withStore(async (s) => {
      expect(await s.findBot({ teamId: "T0000000001" })).toBeUndefined();
      expect(await s.listWorkspaces()).toHaveLength(3);
    });
  });

  it("--user deletes one user's installation, keeping the bot and the others", async () => {
    const r = await runCli([
      "installations",
      "delete",
      "--team",
      "T0000000001",
      "--user",
      "U0000000001",
      "--yes",
      "--database-url",
      dbUrl,
    ]);
    expect(r.code).toBe(0);
    await withStore(async (s) => {
      const [w] = await s.listWorkspaces({ teamId: "T0000000001" });
      expect(w?.bot?.botId).toBe("B0000000001");
      expect(w?.installations.map((i) => i.userId)).toEqual(["U0000000002"]);
    });
    const missing = await runCli([
      "installations",
      "delete",
      "--team",
      "T0000000001",
      "--user",
      "U0000000009",
      "--yes",
      "--database-url",
      dbUrl,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No installation of user U0000000009/);
  });

  it("--enterprise alone deletes the org-wide installation", async () => {
    const r = await runCli([
      "installations",
      "delete",
      "--enterprise",
      "E0000000002",
      "--yes",
      "--database-url",
      dbUrl,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/org-wide installation of E0000000002/);
    await withStore(async (s) => expect(await s.listWorkspaces({ enterpriseId: "E0000000002" })).toEqual([]));
  });

  it("an unknown workspace: exit 1, nothing deleted", async () => {
    const r = await runCli(["installations", "delete", "--team", "T0000000009", "--yes", "--database-url", dbUrl]);
    expect(r.code).toBe(1);
    await withStore(async (s) => expect(await s.listWorkspaces()).toHaveLength(4));
  });

  it.skipIf(!HAS_SCRIPT_PTY)("in a terminal, it asks: 'n' deletes nothing (exit 1), 'y' deletes (exit 0)", async () => {
    const no = await runCliInPty(["installations", "delete", "--team", "T0000000001", "--database-url", dbUrl], {
      input: "n\r",
    });
    expect(no.stdout).toMatch(
      /Delete the bot and 2 user installation\(s\) of workspace T0000000001 \(Northwind Traders\)\? This cannot be undone\. \[y\/N\]/,
    );
    expect(no.stdout).toMatch(/Nothing deleted\./);
    expect(no.code).toBe(1);
    expect(await exists("T0000000001")).toBe(true);

    const yes = await runCliInPty(["installations", "delete", "--team", "T0000000001", "--database-url", dbUrl], {
      input: "y\r",
    });
    expect(yes.stdout).toMatch(/Deleted the bot and 2 user installation\(s\)/);
    expect(yes.code).toBe(0);
    expect(await exists("T0000000001")).toBe(false);
  });
});

describe("installations delete: the confirmation prompt (in-process, fake terminal)", () => {
  function fakeTerminal(input: string | undefined): { io: CliIO; out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      stdin: Readable.from(input === undefined ? [] : [input]),
      isTTY: true,
      env: {},
    };
    return { io, out, err };
  }
  const run = async (input: string | undefined) => {
    const t = fakeTerminal(input);
    const code = await createInstallationsCommand(() => t.io).run([
      "delete",
      "--team",
      "T0000000004",
      "--database-url",
      dbUrl,
    ]);
    return { code, out: t.out.join(""), err: t.err.join("") };
  };
  const count = () => withStore(async (s) => (await s.listWorkspaces()).length);

  it.each([["n\n"], ["no\n"], ["\n"], ["maybe\n"], [undefined]])(
    "answer %j → nothing deleted, exit 1",
    async (input) => {
      const r = await run(input);
      expect(r.err).toMatch(
        /Delete the bot and 1 user installation\(s\) of workspace T0000000004 \(Acme Engineering\)\? .*\[y\/N\] /,
      );
      expect(r.err).toMatch(/Nothing deleted\./);
      expect(r.code).toBe(1);
      expect(await count()).toBe(4);
    },
  );

  it.each([["y\n"], ["Y\n"], ["yes\n"], [" YES \n"]])("answer %j → deleted, exit 0", async (input) => {
    const r = await run(input);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Deleted the bot and 1 user installation\(s\) of workspace T0000000004/);
    expect(await count()).toBe(3);
  });
});

describe("every backend: the file store too", () => {
  it("list --json, show (masked) and delete --yes on file:DIR", async () => {
    const dir = join(dirs.at(-1)!, "files");
    const store = new FileInstallationStore({ baseDir: dir });
    const bot = tok("xoxb-");
    await store.save(
      inst({
        teamId: "T0000000002",
        teamName: "Globex",
        botToken: bot,
        botId: "B0000000002",
        userId: "U0000000004",
        installedAt: now,
      }),
    );
    const url = `file:${dir}`;
    const list = await runCli(["installations", "list", "--json", "--database-url", url]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({
        teamId: "T0000000002",
        botId: "B0000000002",
        users: [expect.objectContaining({ userId: "U0000000004" })],
      }),
    ]);
    const show = await runCli(["installations", "show", "--team", "T0000000002", "--database-url", url]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/token: +xoxb-\*\*\*\*/);
    expectNoToken(show.stdout);
    const del = await runCli(["installations", "delete", "--team", "T0000000002", "--yes", "--database-url", url]);
    expect(del.code).toBe(0);
    expect(await new FileInstallationStore({ baseDir: dir }).findBot({ teamId: "T0000000002" })).toBeUndefined();
    const missing = await runCli(["installations", "list", "--database-url", `file:${dir}-nope`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No file store at/);
  });
});

describe("help", () => {
  it.each([
    ["installations", "--help", ""],
    ["installations", "list", "--help"],
    ["installations", "delete", "-h"],
  ])("%s %s %s → the usage, exit 0", async (...args) => {
    const r = await runCli(args.filter(Boolean));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: slack-oauth-kit installations <list\|show\|delete>/);
    expect(r.stdout).toMatch(/Exit codes: 0 done; 1 failed/);
    expect(r.stdout).toMatch(/--reveal/);
    expect(r.stdout).toMatch(/--yes/);
  });

  it("the top-level help lists installations and doctor", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}installations {2}List, show/m);
    expect(r.stdout).toMatch(/^ {2}doctor {9}Check the configuration/m);
  });
});
