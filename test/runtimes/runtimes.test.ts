/**
 * The Deno and Bun examples on their own binaries, against the emulator (which runs here, in Node): a full
 * install with the state cookie kept across the redirect, Sign in with Slack, a signed `/open-modal`
 * answered with the installed bot token, a bad signature refused, an uninstall removing the tokens. Bun
 * keeps its data in `bun:sqlite`, Deno in PostgreSQL through `npm:pg`; this process reads the same data
 * back with its own drivers (better-sqlite3, pg). Bun also runs the shared store conformance suites on
 * `bun:sqlite`. A preloaded probe (fetch-probe.ts) shows that Slack was called through the runtime's
 * `fetch`.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../../src/emulator/index.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { PostgresInstallationStore } from "../../src/stores/postgres.js";
import { tableNames } from "../../src/stores/sql/migrations.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import { exampleEnv, expectBadSignaturesRefused, installWithStateCookie, signInWithSlack } from "./example-checks.js";
import {
  type AppProcess,
  BUN,
  bunCommand,
  DENO,
  denoCommand,
  freePort,
  ROOT,
  type Runtime,
  startApp,
} from "./runtimes.js";

const inCI = process.env.CI === "true";

/**
 * `describe` for one runtime: runs when its binary works; otherwise skips with a warning naming the
 * runtime, or under `CI=true` fails every test of the block.
 */
function describeRuntime(runtime: Runtime, fn: () => void): void {
  if (runtime.error && !inCI) {
    console.warn(`[SKIPPED] ${runtime.name} tests: ${runtime.error}. (CI=true makes this a failure.)`);
    describe.skip(`${runtime.name} (not installed)`, fn);
    return;
  }
  describe(`${runtime.name} ${runtime.version ?? ""}`.trim(), () => {
    if (runtime.error) {
      beforeAll(() => {
        throw new Error(`CI=true: ${runtime.error}; the ${runtime.name} tests cannot be skipped in CI`);
      });
    }
    fn();
  });
}

const PROBE = "./test/runtimes/fetch-probe.ts";
const TEAM = "T0000000002";
const USER = "U0000000005";

/** What the fetch probe prints for a header value: the first 16 hex digits of its SHA-256. */
const digest = (value: string) => createHash("sha256").update(value).digest("hex").slice(0, 16);

interface Target {
  runtime: Runtime;
  /** Where the example keeps its data, as this process reads it. */
  reader: () => InstallationStore;
  command: () => { command: string; args: string[] };
  env: () => Record<string, string>;
  cleanup: () => Promise<void>;
}

function exampleSuite(t: Target): void {
  let emu: Emulator;
  let app: AppProcess;
  let store: InstallationStore;
  let botToken = "";

  beforeAll(async () => {
    const port = await freePort();
    const appUrl = `http://127.0.0.1:${port}`;
    emu = await startEmulator({ appUrl, signingSecret: randomBytes(16).toString("hex") });
    const { command, args } = t.command();
    app = await startApp(command, args, {
      port,
      env: {
        ...t.env(),
        PORT: String(port),
        HOST: "127.0.0.1",
        ...exampleEnv(emu, appUrl),
      },
    });
    store = t.reader();
  });

  afterAll(async () => {
    const code = await app?.stop();
    await store?.close?.();
    await emu?.close();
    await t.cleanup();
    expect(code, "the example exits cleanly on SIGTERM").toBe(0);
  });

  const probed = () => app.lines.filter((l) => l.startsWith("fetch-probe "));

  it("installs: the state cookie set by /slack/install comes back on the callback; Slack is called through fetch", async () => {
    const { status, html } = await installWithStateCookie(app.url, TEAM, USER);
    expect(status, html).toBe(200);
    expect(html).toContain("Installation complete");

    const saved = await store.findInstallation({ teamId: TEAM });
    expect(saved?.botToken).toMatch(/^xoxb-/);
    expect(saved?.userId).toBe(USER);
    botToken = saved?.botToken ?? "";
    const paths = probed().map((l) => l.split(" ")[1]);
    expect(paths).toEqual(expect.arrayContaining(["/api/oauth.v2.access", "/api/auth.test"]));
    expect(probed()).toContain(`fetch-probe /api/auth.test ${digest(`Bearer ${botToken}`)}`);
  });

  it("Sign in with Slack: login page → Slack → callback verifies the id_token and shows the user", async () => {
    const signedIn = await signInWithSlack(app.url, TEAM, USER);
    expect(signedIn).toContain("Globex"); // the emulator's name for T0000000002
    expect(probed().map((l) => l.split(" ")[1])).toEqual(
      expect.arrayContaining(["/api/openid.connect.token", "/openid/connect/keys"]),
    );
  });

  it("a signed /open-modal opens the modal with the installed bot token", async () => {
    const before = probed().length;
    const res = await emu.sendSlashCommand({ teamId: TEAM, userId: USER, command: "/open-modal" });
    expect(res.status, res.body).toBe(200);
    expect(res.body).toBe("");
    expect(emu.calls("views.open").at(-1)).toEqual({ method: "views.open", teamId: TEAM, ok: true, error: null });
    expect(emu.views().at(-1)).toMatchObject({ teamId: TEAM, userId: USER, view: { callback_id: "modal-id" } });
    expect(probed().slice(before)).toEqual([`fetch-probe /api/views.open ${digest(`Bearer ${botToken}`)}`]);
  });

  it("a bad or missing signature → 401, and nothing is called", async () => {
    await expectBadSignaturesRefused(app.url, emu, TEAM, USER);
  });

  it("an uninstall (signed app_uninstalled + tokens_revoked) removes the workspace's tokens", async () => {
    expect(await store.findBot({ teamId: TEAM })).toBeDefined();
    const result = await emu.uninstall({ teamId: TEAM });
    expect(result.deliveries).toEqual([
      { type: "app_uninstalled", status: 200, ok: true },
      { type: "tokens_revoked", status: 200, ok: true },
    ]);
    expect(await store.findBot({ teamId: TEAM })).toBeUndefined();
    expect(await store.findInstallation({ teamId: TEAM })).toBeUndefined();
    expect(app.stderr()).not.toMatch(/xox[bpe]-/);
  });
}

describeRuntime(BUN, () => {
  it("the store conformance suites pass on bun:sqlite (bun test)", async () => {
    const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number }>((resolve) => {
      execFile(
        BUN.binary,
        ["test", "./test/runtimes/bun/bun-sqlite.conformance.ts"],
        { cwd: ROOT, env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" }, timeout: 60_000 },
        (error, out, err) => resolve({ stdout: out, stderr: err, code: error ? Number(error.code ?? 1) : 0 }),
      );
    });
    const output = `${stdout}\n${stderr}`;
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/\b0 fail\b/);
    const passed = Number(/(\d+) pass\b/.exec(output)?.[1] ?? 0);
    expect(passed, output.slice(-3000)).toBeGreaterThanOrEqual(250);
    expect(output).not.toMatch(/filtered out|\(skip\)|\(todo\)/);
  }, 60_000);

  describe("examples/bun/app.ts (Bun.serve, bun:sqlite)", () => {
    const dir = mkdtempSync(join(tmpdir(), "bun-example-"));
    const filename = join(dir, "slack.db");
    exampleSuite({
      runtime: BUN,
      command: () => bunCommand([PROBE]),
      env: () => ({ SQLITE_FILE: filename }),
      // The file Bun wrote, read by better-sqlite3: one schema for both drivers.
      reader: () => new SQLiteInstallationStore({ filename }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    });
  });
});

const PG_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const pgStatus = await probeBackend("PostgreSQL", PG_URL, async () => {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  await c.end();
});

describeRuntime(DENO, () => {
  describeBackend(pgStatus, () => {
    describe("examples/deno/app.ts (Deno.serve, npm:pg), offline", () => {
      const prefix = `t${randomBytes(5).toString("hex")}_`;
      // An empty Deno cache: with --cached-only, anything Deno would download fails the start.
      const denoDir = mkdtempSync(join(tmpdir(), "deno-dir-"));
      exampleSuite({
        runtime: DENO,
        command: () => denoCommand([PROBE]),
        env: () => ({ DATABASE_URL: PG_URL, TABLE_PREFIX: prefix, DENO_DIR: denoDir }),
        reader: () => new PostgresInstallationStore({ url: PG_URL, tablePrefix: prefix }),
        cleanup: async () => {
          rmSync(denoDir, { recursive: true, force: true });
          const admin = new pg.Client({ connectionString: PG_URL });
          await admin.connect();
          try {
            const t = tableNames(prefix);
            const names = [t.installations, t.bots, t.states, t.migrations, `${prefix}locks`].map((n) => `"${n}"`);
            await admin.query(`DROP TABLE IF EXISTS ${names.join(", ")}`);
          } finally {
            await admin.end();
          }
        },
      });
    });
  });
});
