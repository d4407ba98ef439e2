/**
 * kill -9 in the middle of work, on SQLite, the file store and PostgreSQL (a database of its own):
 * - the server (`serve`, production mode against an emulator) during concurrent installs: after the kill,
 *   every install it acknowledged (a 200 success page) is found and its tokens readable;
 * - `import` of a JSONL export, killed at its first progress line: a re-run completes, with no duplicate
 *   and every token as in the source;
 * - `rekey` to a new key, killed at its first progress line: a re-run completes, and every token reads
 *   back with the new key (or the old one, still listed).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startEmulator } from "../../src/emulator/index.js";
import type { Installation } from "../../src/model/installation.js";
import { freePort, runCli, spawnCli } from "../cli/cli-helpers.js";
import { describeBackend, probeBackend } from "../helpers/backends.js";
import { callback, consent, startInstall } from "../oauth/flow-harness.js";

const root = mkdtempSync(join(tmpdir(), "sok-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ADMIN_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}
const pgStatus = await probeBackend("PostgreSQL", ADMIN_URL, () => admin("SELECT 1"));
const pgDatabases: string[] = [];
afterAll(async () => {
  for (const db of pgDatabases) await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
});

/** A fresh store of one backend: its DATABASE_URL, and how many installation records it holds. */
interface Backend {
  url: string;
  installationRows(): Promise<number>;
}
type BackendKind = "sqlite" | "file" | "postgres";
let n = 0;
async function freshBackend(kind: BackendKind): Promise<Backend> {
  const id = `${n++}-${randomBytes(3).toString("hex")}`;
  if (kind === "sqlite") {
    const file = join(root, `${id}.db`);
    return {
      url: `sqlite:${file}`,
      async installationRows() {
        const d = new Database(file, { readonly: true });
        try {
          return (d.prepare("SELECT COUNT(*) AS n FROM slack_installations").get() as { n: number }).n;
        } finally {
          d.close();
        }
      },
    };
  }
  if (kind === "file") {
    const dir = join(root, id);
    return {
      url: `file:${dir}`,
      async installationRows() {
        // One `installer+<user>+latest.json` per user and workspace (history is off).
        const walk = (d: string): number =>
          readdirSync(d, { withFileTypes: true }).reduce(
            (sum, e) =>
              sum + (e.isDirectory() ? walk(join(d, e.name)) : /^installer\+.+\+latest\.json$/.test(e.name) ? 1 : 0),
            0,
          );
        return walk(dir);
      },
    };
  }
  const db = `sok_crash_${randomBytes(5).toString("hex")}`;
  await admin(`CREATE DATABASE ${db}`);
  pgDatabases.push(db);
  const u = new URL(ADMIN_URL);
  u.pathname = `/${db}`;
  const url = u.toString();
  return {
    url,
    async installationRows() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return Number((await c.query("SELECT COUNT(*) AS n FROM slack_installations")).rows[0].n);
      } finally {
        await c.end();
      }
    },
  };
}

/** The store's installations as `export` prints them (decrypted with `key` when given). */
async function exported(url: string, key?: string): Promise<Installation[]> {
  const r = await runCli(["export"], {
    env: { DATABASE_URL: url, ...(key ? { SLACK_TOKEN_ENCRYPTION_KEY: key } : {}) },
    timeoutMs: 30_000,
  });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Installation & { kind?: string })
    .filter((o) => o.kind !== "bot");
}

const fake = (prefix: string) => `${prefix}${randomBytes(12).toString("hex")}`;
/** `count` installations, one user each in `count / 4` workspaces, as `export` would write them. */
function installations(count: number): Installation[] {
  // A workspace has one bot: its users' installations carry the same bot token.
  const bots = Array.from({ length: Math.ceil(count / 4) }, () => fake("xoxb-"));
  return Array.from({ length: count }, (_, i) => ({
    teamId: `T${String(1000 + Math.floor(i / 4)).padStart(10, "0")}`,
    teamName: `Team ${Math.floor(i / 4)}`,
    userId: `U${String(1000 + i).padStart(10, "0")}`,
    appId: "A0000000001",
    botToken: bots[Math.floor(i / 4)] as string,
    botId: "B0000000001",
    botUserId: "U0000000BOT",
    botScopes: ["commands"],
    userToken: fake("xoxp-"),
    userScopes: ["search:read"],
    isEnterpriseInstall: false,
    installedAt: 1_732_520_000 + i,
    customValues: {},
  }));
}

/** Runs the CLI and kills it (SIGKILL) at its first progress line that is neither 0 nor the total. */
async function killMidway(args: string[], env: Record<string, string>, label: string): Promise<string> {
  const cli = spawnCli(args, env);
  const out = await waitForStderr(cli, new RegExp(`${label}: ([1-9]\\d*)/(\\d+)`));
  cli.child.kill("SIGKILL");
  const exit = await cli.exited;
  // Killed while still working (not after finishing on its own).
  expect(exit.signal, `${label} ended before the kill: ${out}`).toBe("SIGKILL");
  return out;
}

/** Resolves with stderr once it matches `pattern` with a count below its total (or when the CLI exits). */
function waitForStderr(cli: ReturnType<typeof spawnCli>, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const check = () => {
      const m = pattern.exec(cli.stderr());
      if (m && Number(m[1]) < Number(m[2])) {
        cli.child.stderr.off("data", check);
        resolve(cli.stderr());
      }
    };
    cli.child.stderr.on("data", check);
    void cli.exited.then(() => resolve(cli.stderr()));
    check();
  });
}

const KINDS: BackendKind[] = ["sqlite", "file", "postgres"];

for (const kind of KINDS) {
  const suite = () => {
    it(`the server killed during concurrent installs keeps every install it acknowledged (${kind})`, async () => {
      const backend = await freshBackend(kind);
      const port = await freePort();
      const appUrl = `http://localhost:${port}`;
      const emu = await startEmulator({ appUrl });
      try {
        const server = spawnCli(["serve"], {
          SLACK_CLIENT_ID: emu.app.clientId,
          SLACK_CLIENT_SECRET: emu.app.clientSecret,
          SLACK_SIGNING_SECRET: emu.app.signingSecret,
          SLACK_API_URL: emu.apiUrl,
          SLACK_AUTHORIZE_URL: emu.authorizeUrl,
          SLACK_REDIRECT_URI: `${appUrl}/slack/oauth_redirect`,
          PORT: String(port),
          DATABASE_URL: backend.url,
          // Every install starts from 127.0.0.1: the limit is raised explicitly.
          INSTALL_RATE_LIMIT: "10000",
        });
        await server.waitFor(/is running on/, 30_000);
        const acknowledged: string[] = [];
        let killed = false;
        let kill: () => void = () => {};
        const enough = new Promise<void>((r) => {
          kill = r;
        });
        const teams = ["T0000000001", "T0000000002", "T0000000003", "T0000000004", "T0000000005"];
        const loop = async (w: number) => {
          for (let i = 0; !killed; i++) {
            const team = teams[(w + i) % teams.length] as string;
            try {
              const started = await startInstall({ url: appUrl });
              const location = await consent(started.authorizeUrl, { team });
              const res = await callback(location, started.cookie);
              if (res.status === 200 && !killed) {
                acknowledged.push(team);
                if (acknowledged.length >= 8) kill();
              }
            } catch {
              if (killed) return; // the server is gone
            }
          }
        };
        const loops = Array.from({ length: 6 }, (_, w) => loop(w));
        await enough;
        server.child.kill("SIGKILL");
        killed = true;
        await server.exited;
        await Promise.allSettled(loops);
        const found = await exported(backend.url);
        for (const team of new Set(acknowledged)) {
          const inst = found.find((i) => i.teamId === team);
          expect(inst, `install of ${team}`).toBeDefined();
          expect(inst?.botToken).toMatch(/^xoxb-/);
        }
      } finally {
        await emu.close();
      }
    });

    it(`import killed midway, then run again: complete, no duplicate, every token as in the source (${kind})`, async () => {
      const backend = await freshBackend(kind);
      const source = installations(120);
      const file = join(root, `import-${n++}.jsonl`);
      writeFileSync(file, `${source.map((i) => JSON.stringify(i)).join("\n")}\n`);
      const env = { DATABASE_URL: backend.url };
      await killMidway(["import", "--from", "jsonl", file], env, "import");
      expect(await backend.installationRows().catch(() => 0)).toBeLessThan(source.length);
      const again = await runCli(["import", "--from", "jsonl", file], { env, timeoutMs: 60_000 });
      expect(again.code, again.stderr).toBe(0);
      expect(await backend.installationRows()).toBe(source.length);
      const found = await exported(backend.url);
      expect(found).toHaveLength(source.length);
      for (const s of source) {
        const f = found.find((i) => i.teamId === s.teamId && i.userId === s.userId);
        expect([f?.botToken, f?.userToken]).toEqual([s.botToken, s.userToken]);
      }
    });

    it(`rekey killed midway, then run again: complete, every token readable with the keys (${kind})`, async () => {
      const backend = await freshBackend(kind);
      const source = installations(120);
      const file = join(root, `rekey-${n++}.jsonl`);
      writeFileSync(file, `${source.map((i) => JSON.stringify(i)).join("\n")}\n`);
      const k1 = `k1:${randomBytes(32).toString("base64")}`;
      const k2 = `k2:${randomBytes(32).toString("base64")}`;
      const imported = await runCli(["import", "--from", "jsonl", file], {
        env: { DATABASE_URL: backend.url, SLACK_TOKEN_ENCRYPTION_KEY: k1 },
        timeoutMs: 60_000,
      });
      expect(imported.code, imported.stderr).toBe(0);
      const env = { DATABASE_URL: backend.url, SLACK_TOKEN_ENCRYPTION_KEY: `${k2},${k1}` };
      await killMidway(["rekey"], env, "rekey");
      // Between the kill and the re-run, every token reads with the old key or the new one.
      const between = await exported(backend.url, `${k2},${k1}`);
      expect(between).toHaveLength(source.length);
      const again = await runCli(["rekey"], { env, timeoutMs: 60_000 });
      expect(again.code, again.stderr).toBe(0);
      expect(await backend.installationRows()).toBe(source.length);
      const found = await exported(backend.url, k2); // the new key alone reads everything now
      expect(found).toHaveLength(source.length);
      for (const s of source) {
        const f = found.find((i) => i.teamId === s.teamId && i.userId === s.userId);
        expect([f?.botToken, f?.userToken]).toEqual([s.botToken, s.userToken]);
      }
    });
  };
  if (kind === "postgres") describeBackend(pgStatus, () => describe("PostgreSQL", suite));
  else describe(kind, suite);
}
