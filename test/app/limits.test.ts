/**
 * The reference server under floods: install starts limited per client address, connections capped per
 * address, header and body read timeouts. Slow clients come from 127.0.0.2–127.0.0.9; `/healthz` is
 * probed from 127.0.0.1.
 */
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/app/config.js";
import { clientAddress, DEFAULT_SERVER_LIMITS, RateLimiter, type ServerLimits } from "../../src/app/limits.js";
import { jsonLogger } from "../../src/app/log.js";
import { type RunningServer, startServer } from "../../src/app/server.js";
import { ErrorCode } from "../../src/errors.js";
import { StateStoreFullError } from "../../src/state/state.js";
import { MemoryInstallationStore, MemoryStateStore } from "../../src/stores/memory.js";
import { callback, consent, startInstall } from "../oauth/flow-harness.js";

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function start(
  limits: Partial<ServerLimits>,
  stateStore?: MemoryStateStore,
): Promise<{ running: RunningServer; port: number; lines: string[] }> {
  const lines: string[] = [];
  const base = loadConfig({ PORT: "0" });
  const running = await startServer(
    { ...base, databaseUrl: "memory:", limits: { ...base.limits, ...limits } },
    {
      logger: jsonLogger((l) => lines.push(l)),
      shutdownGraceMs: 100,
      ...(stateStore
        ? { stores: { installationStore: new MemoryInstallationStore(), stateStore, close: async () => {} } }
        : {}),
    },
  );
  cleanup.push(() => running.close());
  return { running, port: new URL(running.url).port ? Number(new URL(running.url).port) : 80, lines };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One GET over its own connection, from `localAddress`. */
function get(port: number, path: string, options: { from?: string; headers?: Record<string, string> } = {}) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        localAddress: options.from ?? "127.0.0.1",
        // the printed origin (sandbox mode redirects other host names to it)
        headers: { connection: "close", host: `localhost:${port}`, ...options.headers },
        agent: false,
        timeout: 5000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** A raw connection from `from` that has sent `head` and nothing more; resolves once connected. */
function slowClient(port: number, from: string, head: string): Promise<{ socket: Socket; received: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress: from });
    let data = "";
    const received = new Promise<string>((r) => {
      socket.on("data", (c) => {
        data += c.toString("latin1");
      });
      socket.on("close", () => r(data));
    });
    socket.on("error", () => {});
    socket.once("connect", () => {
      socket.write(head);
      resolve({ socket, received });
    });
    socket.once("error", reject);
  });
}

describe("install-start rate limit", () => {
  it("over the limit from one address: 429 with Retry-After and a page; other addresses and /healthz unaffected", async () => {
    const { port, lines } = await start({ installRateLimit: 3, installRateWindowSeconds: 60 });
    for (let i = 0; i < 3; i++) expect((await get(port, "/slack/install")).status).toBe(200);
    const refused = await get(port, "/slack/install?team=T1");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(20); // one token every 20 s
    expect(refused.headers["x-slack-oauth-error"]).toBe(ErrorCode.RateLimited);
    expect(refused.body).toContain("Too many installation attempts");
    expect(refused.headers["set-cookie"]).toBeUndefined(); // no state issued
    expect((await get(port, "/slack/login")).status).toBe(429); // sign-in starts share the bucket
    expect((await get(port, "/healthz")).status).toBe(200);
    expect((await get(port, "/")).status).toBe(200);
    expect((await get(port, "/slack/install", { from: "127.0.0.2" })).status).toBe(200);
    // X-Forwarded-For is a client's claim without TRUST_PROXY: ignored.
    expect((await get(port, "/slack/install", { headers: { "x-forwarded-for": "203.0.113.9" } })).status).toBe(429);
    expect(lines.some((l) => l.includes("install starts rate-limited"))).toBe(true);
  });

  it("with TRUST_PROXY the last X-Forwarded-For hop is the client: each has its own bucket", async () => {
    const { port } = await start({ installRateLimit: 1, trustProxy: true });
    const as = (ip: string) => get(port, "/slack/install", { headers: { "x-forwarded-for": `10.9.9.9, ${ip}` } });
    expect((await as("203.0.113.1")).status).toBe(200);
    expect((await as("203.0.113.1")).status).toBe(429);
    expect((await as("203.0.113.2")).status).toBe(200);
    // A spoofed first hop does not help: the proxy's appended hop decides.
    expect((await get(port, "/slack/install", { headers: { "x-forwarded-for": "1.1.1.1, 203.0.113.2" } })).status).toBe(
      429,
    );
  });

  it("the environment sets the limits; bad values stop the start with a message", () => {
    const config = loadConfig({
      INSTALL_RATE_LIMIT: "5",
      INSTALL_RATE_WINDOW_SECONDS: "10",
      MAX_CONNECTIONS_PER_ADDRESS: "7",
      HEADERS_TIMEOUT_SECONDS: "3",
      BODY_TIMEOUT_SECONDS: "4",
      TRUST_PROXY: "true",
    });
    expect(config.limits).toEqual({
      installRateLimit: 5,
      installRateWindowSeconds: 10,
      maxConnectionsPerAddress: 7,
      headersTimeoutSeconds: 3,
      bodyTimeoutSeconds: 4,
      trustProxy: true,
    });
    expect(loadConfig({}).limits).toEqual(DEFAULT_SERVER_LIMITS);
    expect(() =>
      loadConfig({ INSTALL_RATE_LIMIT: "lots", HEADERS_TIMEOUT_SECONDS: "0", TRUST_PROXY: "maybe" }),
    ).toThrow(
      /INSTALL_RATE_LIMIT must be a whole number >= 0[\s\S]*HEADERS_TIMEOUT_SECONDS must be a whole number >= 1[\s\S]*TRUST_PROXY must be true or false/,
    );
  });

  it("RateLimiter refills continuously and forgets full buckets when it must", () => {
    let now = 0;
    const limiter = new RateLimiter({ limit: 2, windowMs: 10_000, maxKeys: 3, nowMs: () => now });
    expect([limiter.take("a"), limiter.take("a"), limiter.take("a")]).toEqual([0, 0, 5]);
    now = 5000;
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(5);
    for (const k of ["b", "c", "d", "e"]) limiter.take(k);
    expect(limiter.size).toBeLessThanOrEqual(3);
  });

  it("clientAddress: socket address (IPv4-mapped shown as IPv4) unless trusting the proxy", () => {
    const req = (xff?: string) =>
      ({
        headers: xff === undefined ? {} : { "x-forwarded-for": xff },
        socket: { remoteAddress: "::ffff:127.0.0.5" },
      }) as never;
    expect(clientAddress(req("198.51.100.7"), false)).toBe("127.0.0.5");
    expect(clientAddress(req("198.51.100.7, garbage"), true)).toBe("198.51.100.7");
    expect(clientAddress(req("garbage"), true)).toBe("127.0.0.5");
    expect(clientAddress(req("2001:db8::1"), true)).toBe("2001:db8::1");
  });
});

describe("memory state store cap", () => {
  it("at the cap new install starts get 429 with Retry-After; states already issued still complete", async () => {
    let now = Date.now();
    const states = new MemoryStateStore({ maxStates: 3, ttlSeconds: 60, nowMs: () => now });
    const { running, port, lines } = await start({}, states);
    const started = [];
    for (let i = 0; i < 3; i++) started.push(await startInstall({ url: running.url }));
    expect(states.size).toBe(3);
    const full = await get(port, "/slack/install");
    expect(full.status).toBe(429);
    expect(full.headers["retry-after"]).toBe("60");
    expect(full.headers["x-slack-oauth-error"]).toBe(ErrorCode.StateStoreFull);
    expect(full.body).toContain("Please try again in 60 seconds");
    expect((await get(port, "/slack/login")).status).toBe(429); // sign-in starts too
    expect(lines.some((l) => l.includes("the state store is full"))).toBe(true);
    // No issued state was evicted: the first one completes its install.
    const first = started[0]!;
    const location = await consent(first.authorizeUrl, { team: "T0000000002" });
    const done = await callback(location, first.cookie);
    expect(done.status, await done.text()).toBe(200);
    // Its tombstone still counts until it expires; 30 s later the store still refuses, with less to wait.
    now += 30_000;
    const later = await get(port, "/slack/install");
    expect(later.status).toBe(429);
    expect(later.headers["retry-after"]).toBe("30");
    now += 30_000; // every state has expired: room again
    expect((await get(port, "/slack/install")).status).toBe(200);
  });

  it("MemoryStateStore: issue throws the coded error at the cap, and the cap is validated", async () => {
    const states = new MemoryStateStore({ maxStates: 1, ttlSeconds: 10 });
    await states.issue();
    const error = await states.issue().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateStoreFullError);
    expect((error as StateStoreFullError).code).toBe(ErrorCode.StateStoreFull);
    expect((error as StateStoreFullError).retryAfterSeconds).toBe(10);
    expect(() => new MemoryStateStore({ maxStates: 0 })).toThrow(/maxStates/);
  });
});

describe("slow clients and connection caps", () => {
  it("slow clients from 127.0.0.2–127.0.0.9 cannot stop /healthz from 127.0.0.1; past the cap they get 429", async () => {
    const { port } = await start({ maxConnectionsPerAddress: 20 });
    const clients: Array<{ socket: Socket; received: Promise<string> }> = [];
    cleanup.push(() => {
      for (const c of clients) c.socket.destroy();
    });
    const pending: Array<Promise<{ socket: Socket; received: Promise<string> }>> = [];
    for (let a = 2; a <= 9; a++) {
      for (let i = 0; i < 25; i++) {
        // half of them stall in the headers, half in a body they promised
        const head =
          i % 2 === 0
            ? "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
            : "POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
        pending.push(slowClient(port, `127.0.0.${a}`, head));
      }
    }
    clients.push(...(await Promise.all(pending)));
    // 5 of each address's 25 are over the cap: answered 429 and closed; the other 160 stay open.
    const closed: string[] = [];
    await new Promise<void>((resolve) => {
      for (const c of clients) {
        void c.received.then((d) => {
          closed.push(d);
          if (closed.length === 8 * 5) resolve();
        });
      }
    });
    expect(closed.every((d) => d.startsWith("HTTP/1.1 429"))).toBe(true);
    expect(closed[0]).toContain("Retry-After: 1");
    for (let i = 0; i < 5; i++) {
      const health = await get(port, "/healthz");
      expect(health.status).toBe(200);
    }
    // The local address is not capped by the others: a new install start still works.
    expect((await get(port, "/slack/install")).status).toBe(200);
    expect(closed.length).toBe(8 * 5);
    expect(clients.filter((c) => !c.socket.destroyed).length).toBe(8 * 20);
  });

  it("headers that never finish are cut off after the headers timeout (408)", async () => {
    const { port } = await start({ headersTimeoutSeconds: 1 });
    const c = await slowClient(port, "127.0.0.3", "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a");
    // Node's defaults (60 s, checked every 30 s) would outlast the test's timeout.
    const data = await c.received;
    expect(data).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("a body that trickles is cut off after the body timeout (408 request_timeout)", async () => {
    const { port } = await start({ bodyTimeoutSeconds: 1 });
    const c = await slowClient(
      port,
      "127.0.0.4",
      "POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    const data = await c.received;
    expect(data).toMatch(/^HTTP\/1\.1 408 /);
    expect(data).toContain("request_timeout");
  });
});
