/**
 * What the tests running several `serve` processes against one PostgreSQL database and Redis share: the
 * reachability of both, a throwaway database, removal of a run's Redis keys, and a router that hands the
 * emulator's deliveries to the instance named in a command's text.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import pg from "pg";
import { type BackendStatus, probeBackend } from "./backends.js";

/** The PostgreSQL server (DATABASE_URL, default the local `test` database). */
export const PG_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** The Redis server (REDIS_URL, default the local one). */
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** Reachability of PostgreSQL and Redis together: the first unreachable one, or both reachable. */
export async function probePostgresAndRedis(pgUrl = PG_URL, redisUrl = REDIS_URL): Promise<BackendStatus> {
  const pgStatus = await probeBackend("PostgreSQL", pgUrl, async () => {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    try {
      await c.query("SELECT 1");
    } finally {
      await c.end();
    }
  });
  const redisStatus = await probeBackend("Redis", redisUrl, async () => {
    const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await r.connect();
      await r.ping();
    } finally {
      r.disconnect();
    }
  });
  return !pgStatus.reachable
    ? pgStatus
    : !redisStatus.reachable
      ? redisStatus
      : { name: "PostgreSQL + Redis", url: `${pgStatus.url} + ${redisStatus.url}`, reachable: true };
}

/** Runs one statement on the server's own database (CREATE / DROP DATABASE). */
async function adminQuery(pgUrl: string, sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** Creates database `name` (a fixed-alphabet name of the test's own) next to `pgUrl`'s; returns its URL. */
export async function createDatabase(name: string, pgUrl = PG_URL): Promise<string> {
  await adminQuery(pgUrl, `CREATE DATABASE ${name}`);
  const u = new URL(pgUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops database `name`, closing whatever connections are left to it. */
export async function dropDatabase(name: string, pgUrl = PG_URL): Promise<void> {
  await adminQuery(pgUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** Deletes every Redis key matching `pattern`, and the `extra` keys. */
export async function deleteRedisKeys(pattern: string, extra: string[] = [], redisUrl = REDIS_URL): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    keys.push(...extra);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/** A running {@link startCommandRouter}. */
export interface CommandRouter {
  /** `http://127.0.0.1:<port>`: the emulator's request URLs start with it. */
  url: string;
  close(): Promise<void>;
}

/**
 * A server that hands each request (the emulator's deliveries) to the instance named by `server=N` in a
 * command's text (default the first of `servers`), on the same path, with the Slack headers.
 */
export async function startCommandRouter(servers: readonly string[]): Promise<CommandRouter> {
  const route = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const contentType = req.headers["content-type"] ?? "";
    let index = 0;
    if (contentType.startsWith("application/x-www-form-urlencoded")) {
      const m = /^server=(\d)$/.exec(new URLSearchParams(body).get("text") ?? "");
      if (m) index = Number(m[1]);
    }
    const headers: Record<string, string> = { "content-type": contentType };
    for (const h of ["x-slack-signature", "x-slack-request-timestamp", "x-slack-retry-num", "x-slack-retry-reason"]) {
      const v = req.headers[h];
      if (typeof v === "string") headers[h] = v;
    }
    const res = await fetch(`${servers[index]}${req.url}`, { method: "POST", headers, body });
    return { status: res.status, body: await res.text(), contentType: res.headers.get("content-type") };
  };
  const router = createServer((req, res) => {
    void route(req).then(
      (r) => {
        res.writeHead(r.status, r.contentType ? { "content-type": r.contentType } : {});
        res.end(r.body);
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
  });
  await new Promise<void>((r) => router.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(router.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => router.close(() => r())),
  };
}
