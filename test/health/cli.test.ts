/**
 * `slack-oauth-kit health` against the emulator with no app server running (nothing can tell the store that
 * a token was revoked, except the check), on a SQLite file, through the built CLI.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { runCli } from "../cli/cli-helpers.js";
import { closeAll, closedPortUrl, install, rotatingEmulator, teamOf } from "../rotation/helpers.js";

const dirs: string[] = [];
afterEach(async () => {
  await closeAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * An emulator with `n` workspaces (long-lived tokens; no app server: its app URL is a closed port) and a
 * SQLite file holding one installation of each, closed for the CLI to open.
 */
async function installedSqlite(n: number) {
  const emu = await rotatingEmulator(n, {
    tokenRotation: false,
    appUrl: (await closedPortUrl()).replace("/api/", ""),
  });
  const dir = mkdtempSync(join(tmpdir(), "sok-health-"));
  dirs.push(dir);
  const db = join(dir, "app.db");
  const store = new SQLiteInstallationStore({ filename: db });
  const installations = [];
  for (let i = 1; i <= n; i++) {
    const { installation } = await install(emu, i);
    await store.save(installation);
    installations.push(installation);
  }
  await store.close();
  return { emu, db, installations };
}

describe("slack-oauth-kit health", () => {
  it("a bot token revoked in the emulator is revoked after the next run, the untouched one stays ok, exit 1", async () => {
    const { emu, db } = await installedSqlite(2);
    const env = { SLACK_API_URL: emu.apiUrl };
    const run = (...args: string[]) =>
      runCli(["health", "--database-url", `sqlite:${db}`, ...args], { env, timeoutMs: 30_000 });

    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^STATUS\s+TOKEN\s+ENTERPRISE\s+TEAM\s+USER\s+CHECKED AT \(UTC\)\s+ERROR$/m);
    expect(first.stdout).toContain("4 token(s): ok: 4");
    expect(first.stderr).toMatch(/health: 4\/4/);

    await emu.revoke({ teamId: teamOf(1), bot: true });
    const second = await run("--json");
    expect(second.code).toBe(1);
    const report = JSON.parse(second.stdout) as {
      healthy: boolean;
      counts: Record<string, number>;
      items: { kind: string; teamId: string; status: string; error?: string; recorded: boolean }[];
    };
    expect(report.healthy).toBe(false);
    expect(report.counts).toMatchObject({ ok: 3, revoked: 1 });
    expect(report.items.filter((i) => i.kind === "bot").map((i) => [i.teamId, i.status, i.error ?? null])).toEqual([
      [teamOf(1), "revoked", "token_revoked"],
      [teamOf(2), "ok", null],
    ]);
    expect(second.stdout).not.toMatch(/xox[bpe]/);
    // The table puts what is not ok first.
    const table = await run();
    expect(table.code).toBe(1);
    expect(table.stdout.split("\n")[1]).toMatch(/^revoked\s+bot\s+-\s+T0000000001\s+-\s+.*token_revoked$/);
    // Recorded: `installations list --status revoked` finds it.
    const listed = await runCli(
      ["installations", "list", "--json", "--status", "revoked", "--database-url", `sqlite:${db}`],
      { env },
    );
    expect((JSON.parse(listed.stdout) as { teamId: string }[]).map((w) => w.teamId)).toEqual([teamOf(1)]);
  }, 60_000);

  it("with SLACK_SCOPES naming a scope added later, older tokens are missing_scopes; --status finds them", async () => {
    const { emu, db, installations } = await installedSqlite(1);
    const scopes = [...installations[0]!.botScopes, "channels:read"].join(",");
    const env = { SLACK_API_URL: emu.apiUrl, SLACK_SCOPES: scopes };
    const run = await runCli(["health", "--json", "--database-url", `sqlite:${db}`], { env, timeoutMs: 30_000 });
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as { items: { kind: string; status: string; missingScopes?: string[] }[] };
    expect(report.items.find((i) => i.kind === "bot")).toMatchObject({
      status: "missing_scopes",
      missingScopes: ["channels:read"],
    });
    const listed = await runCli(
      ["installations", "list", "--json", "--status", "missing_scopes", "--database-url", `sqlite:${db}`],
      { env },
    );
    expect((JSON.parse(listed.stdout) as { teamId: string }[]).map((w) => w.teamId)).toEqual([teamOf(1)]);
  }, 60_000);

  it("configuration errors exit 2: no database, a bad flag, a bad SLACK_API_URL", async () => {
    const missing = await runCli(["health", "--database-url", "sqlite:/nonexistent/app.db"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/No database at/);
    expect((await runCli(["health", "--concurrency", "0"])).code).toBe(2);
    expect((await runCli(["health", "--team", "../x"])).code).toBe(2);
    const url = await runCli(["health"], { env: { SLACK_API_URL: "ftp://x" } });
    expect(url.code).toBe(2);
    expect(url.stderr).toMatch(/SLACK_API_URL must be an http\(s\) URL/);
  });
});
