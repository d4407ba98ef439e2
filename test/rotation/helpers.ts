/**
 * Helpers for the token-rotation tests: an emulator with many workspaces, real installs over HTTP
 * (consent page, `oauth.v2.access`), stores of each backend on temp paths, and child processes that
 * start at the same moment.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Emulator, EmulatorOptions, WorldSpec } from "../../src/emulator/index.js";
import { type Installation, installationFromV2Response } from "../../src/model/index.js";
import { SlackApiClient } from "../../src/slack-api/client.js";
import { FileInstallationStore } from "../../src/stores/file.js";
import type { InstallationStore } from "../../src/stores/installation-store.js";
import { MemoryInstallationStore } from "../../src/stores/memory.js";
import { MySQLInstallationStore } from "../../src/stores/mysql.js";
import { PostgresInstallationStore } from "../../src/stores/postgres.js";
import { RedisLock, withRedisLock } from "../../src/stores/redis.js";
import { tableNames } from "../../src/stores/sql/migrations.js";
import { SQLiteInstallationStore } from "../../src/stores/sqlite.js";
import { authorize as consentCode, exchange, type Json, start } from "../emulator/helpers.js";

export { api, closeAll } from "../emulator/helpers.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Workspace `i` (1-based) of {@link world}: `T` + 10 digits. */
export const teamOf = (i: number) => `T${String(i).padStart(10, "0")}`;
/** User `u` (1-based) of workspace `i`: `U` + 10 digits, unique across workspaces. */
export const userOf = (i: number, u: number) => `U${String(i * 10 + u).padStart(10, "0")}`;

/** `n` workspaces with three users each (the first is the admin). */
export function world(n: number): WorldSpec {
  const workspaces = Array.from({ length: n }, (_, k) => ({
    id: teamOf(k + 1),
    name: `Team ${k + 1}`,
    domain: `team-${k + 1}`,
  }));
  const users = workspaces.flatMap((w, k) =>
    [1, 2, 3].map((u) => ({ id: userOf(k + 1, u), teamId: w.id, name: `user${k + 1}-${u}`, isAdmin: u === 1 })),
  );
  return { workspaces, users };
}

/** An emulator with rotation on and single-use refresh tokens (no grace period). */
export async function rotatingEmulator(workspaces: number, options: EmulatorOptions = {}): Promise<Emulator> {
  return start({
    appUrl: "http://localhost:3000",
    tokenRotation: true,
    refreshGraceSeconds: 0,
    world: world(workspaces),
    // The concurrency tests refresh 100 tokens within a second, from one client id.
    rateLimits: { "oauth.v2.access": Number.POSITIVE_INFINITY, "oauth.v2.exchange": Number.POSITIVE_INFINITY },
    ...options,
  });
}

/**
 * Installs the emulator's default app on workspace `i` as user `u` (bot and user scopes) over real HTTP,
 * and returns the {@link Installation} the library builds from Slack's reply.
 */
export async function install(emu: Emulator, i: number, u = 1): Promise<{ installation: Installation; reply: Json }> {
  const code = await consentCode(
    emu,
    { client_id: emu.app.clientId, scope: "commands,chat:write", user_scope: "identify,chat:write" },
    { team: teamOf(i), user: userOf(i, u) },
  );
  const reply = await exchange(emu, code);
  if (reply.ok !== true) throw new Error(`install failed: ${String(reply.error)}`);
  return { installation: installationFromV2Response(reply), reply };
}

export type Backend = "memory" | "sqlite" | "file" | ServerBackend | "postgres+redis";
/** Backends needing a server: PostgreSQL, MySQL/MariaDB, and SQLite whose lock is a {@link RedisLock}. */
export type ServerBackend = "postgres" | "mysql" | "sqlite+redis";

/** Server URLs of the {@link ServerBackend}s (overridable through the environment, as in test/stores). */
export const SERVER_URLS = {
  postgres: process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  mysql: process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test",
  redis: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
};

/**
 * How a child process opens a server-backed store: `ROT_STORE` is this object as JSON (`sqlite:`/`file:`
 * strings stay as they are).
 */
export interface ServerStoreSpec {
  /** `postgres+redis`: a PostgreSQL store whose lock is a {@link RedisLock} (its own lock disabled). */
  kind: ServerBackend | "postgres+redis";
  /** postgres/mysql: the server URL; sqlite+redis: the SQLite file. */
  url?: string;
  filename?: string;
  tablePrefix?: string;
  redisUrl?: string;
  keyPrefix?: string;
}

/** Opens the store `spec` describes (shared by the parent and the child processes). */
export function openServerStore(spec: ServerStoreSpec): InstallationStore & { close(): Promise<void> } {
  switch (spec.kind) {
    case "postgres":
      return new PostgresInstallationStore({ url: spec.url, tablePrefix: spec.tablePrefix });
    case "mysql":
      return new MySQLInstallationStore({ url: spec.url, tablePrefix: spec.tablePrefix });
    case "postgres+redis": {
      const inner = new PostgresInstallationStore({ url: spec.url, tablePrefix: spec.tablePrefix });
      Object.defineProperty(inner, "withLock", {
        value: () => Promise.reject(new Error("postgres+redis: the PostgreSQL lease lock was used instead of Redis")),
      });
      const lock = new RedisLock({ url: spec.redisUrl, keyPrefix: spec.keyPrefix });
      return Object.assign(withRedisLock(inner, lock), {
        async close() {
          await inner.close();
          await lock.close();
        },
      });
    }
    case "sqlite+redis": {
      const inner = new SQLiteInstallationStore({ filename: spec.filename ?? "" });
      // The coordination must come from Redis: SQLite's own lease-row lock is made unusable.
      Object.defineProperty(inner, "withLock", {
        value: () => Promise.reject(new Error("sqlite+redis: the SQLite lease lock was used instead of Redis")),
      });
      const lock = new RedisLock({ url: spec.redisUrl, keyPrefix: spec.keyPrefix });
      const locked = withRedisLock(inner, lock);
      return Object.assign(locked, {
        async close() {
          await inner.close();
          await lock.close();
        },
      });
    }
  }
}

/** Drops every table `prefix` created (installations, bots, states, migrations, locks). */
async function dropTables(kind: "postgres" | "mysql", url: string, prefix: string): Promise<void> {
  const t = tableNames(prefix);
  const names = [t.installations, t.bots, t.states, t.migrations, t.meta, `${prefix}locks`];
  if (kind === "postgres") {
    const { default: pg } = await import("pg");
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(`DROP TABLE IF EXISTS ${names.map((n) => `"${n}"`).join(", ")}`);
    } finally {
      await c.end();
    }
  } else {
    const mysql = await import("mysql2/promise");
    const c = await mysql.createConnection({ uri: url });
    try {
      await c.query(`DROP TABLE IF EXISTS ${names.map((n) => `\`${n}\``).join(", ")}`);
    } finally {
      await c.end();
    }
  }
}

/** Deletes every Redis key under `prefix`. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const { Redis } = await import("ioredis");
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== "0");
  } finally {
    await r.quit().catch(() => {});
  }
}

/** A fresh store of a backend on a temp path; `spec` lets a child process open the same data. */
export async function openStore(backend: Backend): Promise<{
  store: InstallationStore;
  spec: string;
  dir: string;
  reopen(): InstallationStore;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "sok-rotation-"));
  if (backend === "postgres" || backend === "mysql" || backend === "sqlite+redis" || backend === "postgres+redis") {
    const rnd = randomBytes(5).toString("hex");
    const server: ServerStoreSpec =
      backend === "sqlite+redis"
        ? {
            kind: backend,
            filename: join(dir, "app.db"),
            redisUrl: SERVER_URLS.redis,
            keyPrefix: `sok-rot-${rnd}:`,
          }
        : backend === "postgres+redis"
          ? {
              kind: backend,
              url: SERVER_URLS.postgres,
              tablePrefix: `rot${rnd}_`,
              redisUrl: SERVER_URLS.redis,
              keyPrefix: `sok-rot-${rnd}:`,
            }
          : { kind: backend, url: SERVER_URLS[backend], tablePrefix: `rot${rnd}_` };
    const store = openServerStore(server);
    return {
      store,
      spec: JSON.stringify(server),
      dir,
      reopen: () => openServerStore(server),
      async cleanup() {
        await store.close();
        if (server.kind === "sqlite+redis" || server.kind === "postgres+redis")
          await deleteKeys(server.redisUrl!, server.keyPrefix!);
        if (server.kind !== "sqlite+redis")
          await dropTables(
            server.kind === "postgres+redis" ? "postgres" : server.kind,
            server.url!,
            server.tablePrefix!,
          );
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const make = (): InstallationStore =>
    backend === "memory"
      ? new MemoryInstallationStore()
      : backend === "sqlite"
        ? new SQLiteInstallationStore({ filename: join(dir, "app.db") })
        : new FileInstallationStore({ baseDir: join(dir, "installations") });
  const store = make();
  const spec = backend === "sqlite" ? `sqlite:${join(dir, "app.db")}` : `file:${join(dir, "installations")}`;
  return {
    store,
    spec,
    dir,
    reopen: make,
    async cleanup() {
      await store.close?.();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Refresh calls that reached the emulator, per token kind (successful ones) and in total. */
export function refreshCalls(emu: Emulator): { total: number; ok: number; bot: number; user: number; failed: number } {
  const calls = emu.calls("oauth.v2.access", { details: true }).filter((c) => c.grantType === "refresh_token");
  return {
    total: calls.length,
    ok: calls.filter((c) => c.ok).length,
    bot: calls.filter((c) => c.ok && c.tokenType === "bot").length,
    user: calls.filter((c) => c.ok && c.tokenType === "user").length,
    failed: calls.filter((c) => !c.ok).length,
  };
}

/** A URL on which nothing listens (a port that was free a moment ago). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/api/`;
}

export interface Child {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  ready: Promise<void>;
}

/** Spawns `node --import tsx <script> ...args`; `ready` resolves when it prints `ready`. */
export function spawnTsx(script: string, args: string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let onReady: () => void = () => {};
  let failReady: (e: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    failReady = reject;
  });
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    out += c;
    if (/^ready$/m.test(out)) onReady();
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      failReady(new Error(`child exited (${code}) before ready: ${err}`));
      resolve(code);
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exited, ready };
}

/**
 * Starts `n` children, waits until each has opened its store and printed `ready`, then releases them all
 * at once (one line on every stdin) and collects the JSON each prints last.
 */
export async function raceChildren<T>(n: number, script: string, env: Record<string, string>): Promise<T[]> {
  const children = Array.from({ length: n }, () => spawnTsx(script, [], env));
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.write("go\n");
    const codes = await Promise.all(children.map((c) => c.exited));
    return children.map((c, k) => {
      if (codes[k] !== 0) throw new Error(`child ${k} exited ${codes[k]}: ${c.stderr()}`);
      const last = c.stdout().trim().split("\n").at(-1) ?? "";
      return JSON.parse(last) as T;
    });
  } finally {
    for (const c of children) if (c.child.exitCode === null) c.child.kill();
  }
}

/**
 * A Web API client whose next call of `method` is held at a gate: `arm()` returns `reached` (resolves
 * once that call is on the wire) and `open()` (lets it go on). Tests act "while the call is in flight"
 * by awaiting `reached`, never by sleeping.
 */
export function gatedApi(
  apiUrl: string,
  method: string,
): {
  api: SlackApiClient;
  arm(): { reached: Promise<void>; open(): void };
} {
  let armed: { reach(): void; gate: Promise<void> } | undefined;
  const api = new SlackApiClient({
    baseUrl: apiUrl,
    fetch: async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      const held = armed;
      if (held !== undefined && new URL(url).pathname.endsWith(`/${method}`)) {
        armed = undefined;
        held.reach();
        await held.gate;
      }
      return fetch(input, init);
    },
  });
  return {
    api,
    arm() {
      let reach!: () => void;
      let open!: () => void;
      const reached = new Promise<void>((r) => {
        reach = r;
      });
      const gate = new Promise<void>((r) => {
        open = r;
      });
      armed = { reach, gate };
      return { reached, open };
    },
  };
}

/**
 * An emulator with `n` workspaces whose tokens live `tokenExpiresIn` seconds, a fresh store of `backend`
 * (its cleanup pushed onto `cleanups` at once), one installation per workspace (bot + the installer's user
 * token) saved into it, and the environment a child process needs to open the same store and refresh.
 */
export async function seededStore(
  backend: Backend,
  n: number,
  tokenExpiresIn: number,
  cleanups: (() => Promise<void>)[],
) {
  const emu = await rotatingEmulator(n, { tokenExpiresIn });
  const s = await openStore(backend);
  cleanups.push(s.cleanup);
  const installs: Installation[] = [];
  for (let i = 1; i <= n; i++) {
    const { installation } = await install(emu, i);
    await s.store.save(installation);
    installs.push(installation);
  }
  const env: Record<string, string> = {
    ROT_STORE: s.spec,
    ROT_API_URL: emu.apiUrl,
    SLACK_CLIENT_ID: emu.app.clientId,
    SLACK_CLIENT_SECRET: emu.app.clientSecret,
  };
  return { emu, ...s, installs, env };
}

/** A probe (for `probeBackend`) of the PostgreSQL server at `url`: connect and `SELECT 1`, 3 s at most. */
export async function pingPostgres(url: string): Promise<void> {
  const { default: pg } = await import("pg");
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    await c.query("SELECT 1");
  } finally {
    await c.end();
  }
}

/** A probe (for `probeBackend`) of the Redis server at `url`: connect and `PING`, 3 s at most. */
export async function pingRedis(url: string): Promise<void> {
  const { Redis } = await import("ioredis");
  const r = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, connectTimeout: 3000 });
  r.on("error", () => {});
  try {
    await r.connect();
    await r.ping();
  } finally {
    r.disconnect();
  }
}
