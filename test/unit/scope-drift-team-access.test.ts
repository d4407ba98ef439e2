/**
 * Issue 24's small pieces: the scope-drift helpers, the reinstall URL builders, the CLI's
 * `--needs-reinstall` usage errors and table, and the events handler recording `team_access_*`
 * (including what it refuses to record).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { installLinkFor, missingScopes, needsReinstall, reinstallUrl, scopeDrift } from "../../src/admin/index.js";
import { UsageError } from "../../src/cli/command.js";
import { createInstallationsCommand } from "../../src/cli/installations.js";
import type { CliIO } from "../../src/cli/io.js";
import { CodedTypeError } from "../../src/errors.js";
import { SlackRequestHandler } from "../../src/events/handler.js";
import type { Installation } from "../../src/model/installation.js";
import { AuthorizeUrlGenerator } from "../../src/oauth/authorize-url.js";
import type { Logger } from "../../src/redact.js";
import { SignatureSigner } from "../../src/signature/signature.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";

const inst = (o: Partial<Installation> & Pick<Installation, "userId">): Installation => ({
  isEnterpriseInstall: false,
  botScopes: [],
  userScopes: [],
  customValues: {},
  installedAt: 1_700_000_000,
  ...o,
});

describe("scope drift helpers", () => {
  it("missingScopes keeps the configured order and drops duplicates", () => {
    expect(missingScopes(["commands"], ["chat:write", "commands", "chat:write", "users:read"])).toEqual([
      "chat:write",
      "users:read",
    ]);
    expect(missingScopes(undefined, undefined)).toEqual([]);
  });

  it("scopeDrift compares the bot and each installing user's own user token", () => {
    const workspace = {
      bot: { botScopes: ["commands"] },
      installations: [
        inst({ userId: "U1", userToken: "xoxp-1", userScopes: ["search:read"] }),
        inst({ userId: "U2" }), // installed before the app asked for user scopes: no user token
        inst({ userId: "U3", userToken: "xoxp-3", userScopes: ["search:read", "users:read"] }),
      ],
    };
    const drift = scopeDrift(workspace, { bot: ["commands", "chat:write"], user: ["search:read", "users:read"] });
    expect(drift).toEqual({
      missingBotScopes: ["chat:write"],
      users: [
        { userId: "U1", missingUserScopes: ["users:read"] },
        { userId: "U2", missingUserScopes: ["search:read", "users:read"] },
      ],
    });
    expect(needsReinstall(drift)).toBe(true);
    expect(needsReinstall(scopeDrift(workspace, { bot: ["commands"] }))).toBe(false);
    // A workspace with no bot lacks every configured bot scope.
    expect(scopeDrift({ installations: [] }, { bot: ["commands"] }).missingBotScopes).toEqual(["commands"]);
  });

  it("reinstall links pre-select the workspace, or the org for an org-wide install", () => {
    const generator = new AuthorizeUrlGenerator({ clientId: "111.222", scopes: ["commands", "chat:write"] });
    const org = new URL(reinstallUrl(generator, "state-1", { enterpriseId: "E0123", isEnterpriseInstall: true }));
    expect(org.searchParams.get("team")).toBe("E0123");
    expect(org.searchParams.get("scope")).toBe("commands,chat:write");
    const ws = new URL(
      reinstallUrl(generator, "state-1", { enterpriseId: "E0123", teamId: "T0456", isEnterpriseInstall: false }),
    );
    expect(ws.searchParams.get("team")).toBe("T0456");
    expect(installLinkFor("https://app.example/slack/install", { teamId: "T0456", isEnterpriseInstall: false })).toBe(
      "https://app.example/slack/install?team=T0456",
    );
    // An id that cannot be a team is left out rather than put in a URL.
    expect(installLinkFor("https://app.example/slack/install", { teamId: "T1&x=y", isEnterpriseInstall: false })).toBe(
      "https://app.example/slack/install",
    );
    expect(() => installLinkFor("/relative", { teamId: "T1", isEnterpriseInstall: false })).toThrow(CodedTypeError);
  });
});

describe("installations list --needs-reinstall", () => {
  const dir = mkdtempSync(join(tmpdir(), "sok-drift-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(args: string[], env: Record<string, string> = {}) {
    let out = "";
    let err = "";
    const io: CliIO = {
      out: (t) => {
        out += t;
      },
      err: (t) => {
        err += t;
      },
      stdin: Readable.from([]),
      isTTY: false,
      env,
    };
    try {
      const code = await createInstallationsCommand(() => io).run(args);
      return { code, out, err };
    } catch (error) {
      if (error instanceof UsageError) return { code: 2, out, err: error.message };
      throw error;
    }
  }

  it("prints the missing scopes per workspace and user; refuses bad scope options before opening the store", async () => {
    const filename = join(dir, "app.db");
    const store = new SQLiteInstallationStore({ filename });
    await store.save(inst({ teamId: "T0000000001", userId: "U1", botToken: "xoxb-test-1", botScopes: ["commands"] }));
    await store.save(
      inst({ teamId: "T0000000002", userId: "U2", botToken: "xoxb-test-2", botScopes: ["commands", "chat:write"] }),
    );
    await store.close();
    const db = ["--database-url", `sqlite:${filename}`];
    const table = await run(["list", "--needs-reinstall", "--scopes", "commands,chat:write", ...db]);
    expect(table.code, table.err).toBe(0);
    expect(table.out).toMatch(/MISSING SCOPES/);
    expect(table.out).toMatch(/T0000000001.*bot: chat:write/);
    expect(table.out).not.toContain("T0000000002");
    expect(table.out).not.toContain("xoxb-test");
    const users = await run(["list", "--needs-reinstall", "--json", ...db], {
      SLACK_SCOPES: "commands",
      SLACK_USER_SCOPES: "search:read",
    });
    expect(JSON.parse(users.out)).toMatchObject([
      { teamId: "T0000000001", missingBotScopes: [], missingUserScopes: [{ userId: "U1", scopes: ["search:read"] }] },
      { teamId: "T0000000002", missingUserScopes: [{ userId: "U2", scopes: ["search:read"] }] },
    ]);
    expect((await run(["list", "--needs-reinstall", ...db], { SLACK_SCOPES: "commands" })).out).toBe(
      "Compared with bot scopes commands (from SLACK_SCOPES) and user scopes (none) (from the server's default: SLACK_USER_SCOPES is unset).\nNo installation lacks these scopes.\n",
    );
    const bad = await run(["list", "--needs-reinstall", "--scopes", "chat:write&x=1", ...db]);
    expect([bad.code, bad.err]).toEqual([2, expect.stringContaining("is not a Slack scope")]);
    expect((await run(["list", "--scopes", "commands", ...db])).code).toBe(2);
    expect((await run(["show", "--team", "T0000000001", "--needs-reinstall", ...db])).code).toBe(2);
  });

  it("without SLACK_SCOPES it compares with the server's default scopes, and says which lists it used and whence", async () => {
    const filename = join(dir, "defaults.db");
    const store = new SQLiteInstallationStore({ filename });
    await store.save(inst({ teamId: "T0000000001", userId: "U1", botToken: "xoxb-test-1", botScopes: ["commands"] }));
    await store.save(
      inst({ teamId: "T0000000002", userId: "U2", botToken: "xoxb-test-2", botScopes: ["commands", "chat:write"] }),
    );
    await store.close();
    const db = ["--database-url", `sqlite:${filename}`];
    // SLACK_SCOPES unset: the server asks for commands,chat:write, so that is what is compared.
    const unset = await run(["list", "--needs-reinstall", ...db]);
    expect(unset.code, unset.err).toBe(0);
    const [line, ...table] = unset.out.split("\n");
    expect(line).toBe(
      "Compared with bot scopes commands,chat:write (from the server's default: SLACK_SCOPES is unset) and user scopes (none) (from the server's default: SLACK_USER_SCOPES is unset).",
    );
    expect(table.join("\n")).toMatch(/T0000000001.*bot: chat:write/);
    expect(table.join("\n")).not.toContain("T0000000002");
    // --json: stdout stays JSON; the line goes to stderr.
    const json = await run(["list", "--needs-reinstall", "--json", ...db]);
    expect((JSON.parse(json.out) as Array<{ teamId: string }>).map((w) => w.teamId)).toStrictEqual(["T0000000001"]);
    expect(json.err).toMatch(/^Compared with bot scopes commands,chat:write \(from the server's default/);
    // The flags and the variables are named as the source.
    const flags = await run(
      ["list", "--needs-reinstall", "--scopes", "commands", "--user-scopes", "search:read", ...db],
      {
        SLACK_SCOPES: "chat:write",
      },
    );
    expect(flags.out).toMatch(
      /^Compared with bot scopes commands \(from --scopes\) and user scopes search:read \(from --user-scopes\)\./,
    );
    // Set but empty, as the server would read it: nothing to ask for, and the line says so.
    const empty = await run(["list", "--needs-reinstall", ...db], { SLACK_SCOPES: "" });
    expect(empty.code).toBe(0);
    expect(empty.out).toMatch(/^Compared with bot scopes \(none\) \(from SLACK_SCOPES\)/);
  });
});

describe("the events handler records team access", () => {
  const secret = randomBytes(16).toString("hex");
  const signer = new SignatureSigner(secret);
  const lines: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: (m) => void lines.push(m),
    warn: (m) => void lines.push(m),
    error: (m) => void lines.push(m),
  };
  const post = (h: SlackRequestHandler, body: unknown) => {
    const text = JSON.stringify(body);
    return h.handle(
      new Request("https://app.example/slack/events", {
        method: "POST",
        headers: { "content-type": "application/json", ...signer.headers(text) },
        body: text,
      }),
    );
  };
  const event = (type: string, teamIds: unknown, o: Record<string, unknown> = {}) => ({
    type: "event_callback",
    team_id: "E0000000001",
    enterprise_id: "E0000000001",
    api_app_id: "A0000000001",
    event: { type, team_ids: teamIds, event_ts: "1.2" },
    authorizations: [{ enterprise_id: "E0000000001", team_id: null, is_bot: true, is_enterprise_install: true }],
    event_id: `Ev${randomBytes(6).toString("hex")}`,
    event_time: 1,
    ...o,
  });

  it("revoked then granted, retried deliveries, and nothing for malformed events", async () => {
    const store = new MemoryInstallationStore();
    const seen: string[] = [];
    const h = new SlackRequestHandler({
      signingSecret: secret,
      installationStore: store,
      logger,
      onEvent: (req) => {
        seen.push(String((req.body.event as { type?: string }).type));
      },
    });
    expect((await post(h, event("team_access_revoked", ["T1", "T2", "T1"]))).status).toBe(200);
    expect(await store.findTeamAccess("E0000000001")).toEqual({ granted: [], revoked: ["T1", "T2"] });
    const granted = event("team_access_granted", ["T2"]);
    expect((await post(h, granted)).status).toBe(200);
    expect((await post(h, granted)).status).toBe(200); // a retry changes nothing
    expect(await store.findTeamAccess("E0000000001")).toEqual({ granted: ["T2"], revoked: ["T1"] });
    // The app's own handler still sees the events.
    expect(seen).toEqual(["team_access_revoked", "team_access_granted"]);
    // No org, or no usable team id: a warning, nothing recorded.
    const before = await store.findTeamAccess("E0000000001");
    await post(h, event("team_access_revoked", ["../x", 3]));
    await post(
      h,
      event("team_access_revoked", ["T3"], { team_id: "T9", enterprise_id: undefined, authorizations: undefined }),
    );
    expect(await store.findTeamAccess("E0000000001")).toEqual(before);
    expect(lines.filter((l) => l.includes("nothing recorded"))).toHaveLength(2);
  });
});
