/**
 * The HTTP core's one bounded body reader: a body over the limit gets the same coded error — the same
 * 413 reply on the wire — through every adapter (Node, the Node fast path, Express, Fastify, Hono, a
 * fetch handler on @hono/node-server) and the emulator; a body that stalls gets the coded 408.
 */
import { request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { createAdaptorServer } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startEmulator } from "../../src/emulator/index.js";
import { ErrorCode } from "../../src/errors.js";
import { SlackRequestHandler } from "../../src/events/handler.js";
import {
  BODY_DEADLINE_CHECK_MS,
  BodyReadTimeoutError,
  BodyTooLargeError,
  bodyErrorReply,
  collectBody,
  DEFAULT_MAX_BODY_BYTES,
  readBody,
  resolveBodyLimits,
  type SlackRoutesOptions,
} from "../../src/http/core.js";
import { slackRouter } from "../../src/http/express.js";
import { slackPlugin } from "../../src/http/fastify.js";
import { slackRoutes, toFetchHandler } from "../../src/http/hono.js";
import { toNodeListener, toNodeSlackListener } from "../../src/http/node.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A POST with node:http: the body declared by Content-Length, or streamed in chunks without it. */
function post(
  url: string,
  body: Buffer,
  mode: "declared" | "streamed",
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        method: "POST",
        path: u.pathname,
        headers:
          mode === "declared"
            ? { "content-type": "application/json", "content-length": String(body.length) }
            : { "content-type": "application/json", "transfer-encoding": "chunked" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
      },
    );
    req.on("error", reject);
    if (mode === "declared") {
      req.end(body);
      return;
    }
    void (async () => {
      for (let at = 0; at < body.length; at += 64 * 1024) {
        if (!req.write(body.subarray(at, at + 64 * 1024))) await new Promise((r) => req.once("drain", r));
      }
      req.end();
    })().catch(reject);
  });
}

let handlerRuns = 0;
/**
 * The library's routes with the default limits. Where the adapter reads the body before the route runs
 * (`adapterReads`), reaching the route at all counts as a run; else the events handler reads it itself.
 */
function routes(adapterReads: boolean): SlackRoutesOptions {
  const events = new SlackRequestHandler({
    signingSecret: "test-signing-secret-body-limit",
    onEvent: () => {
      handlerRuns++;
    },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  return {
    events: {
      handle: (request) => {
        if (adapterReads) handlerRuns++;
        return events.handle(request);
      },
    },
  };
}

/** Each adapter and the emulator, at its default limit (1 MiB): the URL a body is posted to. */
const targets: Record<string, () => Promise<string>> = {
  "node (toNodeListener)": async () => {
    const { createServer } = await import("node:http");
    const route = toFetchHandler(routes(true));
    return `${await listen(createServer(toNodeListener(route)))}/slack/events`;
  },
  "node fast path (toNodeSlackListener)": async () => {
    const { createServer } = await import("node:http");
    const listener = toNodeSlackListener({
      handleRaw: async () => {
        handlerRuns++;
        return { status: 200, headers: {}, body: null };
      },
    });
    return `${await listen(createServer(listener))}/slack/events`;
  },
  express: async () => {
    const app = express();
    app.use(slackRouter(routes(true)));
    const server = app.listen(0, "127.0.0.1");
    await new Promise<void>((r) => server.once("listening", () => r()));
    closers.push(
      () =>
        new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        }),
    );
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  },
  fastify: async () => {
    const app = Fastify();
    await app.register(slackPlugin, routes(true));
    await app.listen({ port: 0, host: "127.0.0.1" });
    closers.push(() => app.close());
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/slack/events`;
  },
  hono: async () => {
    const app = new Hono();
    app.use(slackRoutes(routes(false)));
    return `${await listen(createAdaptorServer({ fetch: app.fetch }) as Server)}/slack/events`;
  },
  "fetch (toFetchHandler on @hono/node-server)": async () =>
    `${await listen(createAdaptorServer({ fetch: toFetchHandler(routes(false)) }) as Server)}/slack/events`,
  emulator: async () => {
    const emu = await startEmulator({ appUrl: "http://127.0.0.1:9" });
    closers.push(() => emu.close());
    return `${emu.apiUrl.replace(/\/$/, "")}/auth.test`;
  },
};

describe("a body over the limit: the same coded error everywhere", () => {
  const expected = bodyErrorReply(new BodyTooLargeError(DEFAULT_MAX_BODY_BYTES));

  it("the coded error and its reply", () => {
    const error = new BodyTooLargeError(DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES + 1);
    expect(error.code).toBe(ErrorCode.BodyTooLarge);
    expect(error.code).toBe("SLACK_OAUTH_BODY_TOO_LARGE");
    expect(error.status).toBe(413);
    expect(expected.status).toBe(413);
    expect(JSON.parse(expected.body)).toEqual({ ok: false, error: "payload_too_large" });
  });

  it.each(Object.entries(targets))(
    "%s: 413 payload_too_large, declared or streamed; the handler never runs",
    async (_name, start) => {
      const url = await start();
      handlerRuns = 0;
      const over = Buffer.alloc(DEFAULT_MAX_BODY_BYTES + 1, 0x20);
      for (const mode of ["declared", "streamed"] as const) {
        const res = await post(url, over, mode);
        expect(res.status, mode).toBe(expected.status);
        expect(JSON.parse(res.body), mode).toEqual(JSON.parse(expected.body));
        expect(res.headers["content-type"], mode).toMatch(/^application\/json/);
      }
      expect(handlerRuns).toBe(0);
    },
  );
});

/** A request stream that sends `first` and then nothing (a stalled client). */
function stalledStream(first: Buffer, headers: Record<string, string> = {}): PassThrough & { headers: typeof headers } {
  const stream = new PassThrough() as PassThrough & { headers: typeof headers };
  stream.headers = headers;
  stream.write(first);
  return stream;
}

describe("the bounded reader", () => {
  it("a Node stream and a web Request over the limit both throw the coded BodyTooLargeError", async () => {
    const declared = stalledStream(Buffer.alloc(0), { "content-length": "11" });
    await expect(readBody(declared, { maxBytes: 10 })).rejects.toMatchObject({
      code: ErrorCode.BodyTooLarge,
      declared: 11,
      limit: 10,
    });
    const streamed = new PassThrough() as PassThrough & { headers: Record<string, string> };
    streamed.headers = {};
    streamed.end(Buffer.alloc(11));
    await expect(readBody(streamed, { maxBytes: 10 })).rejects.toBeInstanceOf(BodyTooLargeError);
    const web = new Request("http://localhost/", {
      method: "POST",
      body: new ReadableStream({
        start(c) {
          c.enqueue(new Uint8Array(6));
          c.enqueue(new Uint8Array(6));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    await expect(readBody(web, { maxBytes: 10 })).rejects.toMatchObject({ code: ErrorCode.BodyTooLarge });
    // At the limit exactly, every byte comes back.
    const exact = new PassThrough() as PassThrough & { headers: Record<string, string> };
    exact.headers = {};
    exact.end(Buffer.from("0123456789"));
    expect(Buffer.from(await readBody(exact, { maxBytes: 10 })).toString()).toBe("0123456789");
  });

  it("a body that stalls past the read timeout throws the coded BodyReadTimeoutError (Node stream and web Request)", async () => {
    vi.useFakeTimers();
    try {
      const node = readBody(stalledStream(Buffer.from("par")), { timeoutMs: 5_000 });
      const nodeResult = expect(node).rejects.toMatchObject({ code: ErrorCode.BodyReadTimeout, timeoutMs: 5_000 });
      const web = readBody(
        new Request("http://localhost/", {
          method: "POST",
          body: new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode("par"));
            },
          }),
          duplex: "half",
        } as RequestInit),
        { timeoutMs: 5_000 },
      );
      const webResult = expect(web).rejects.toBeInstanceOf(BodyReadTimeoutError);
      let settled = 0;
      for (const p of [node, web]) {
        p.catch(() => {
          settled++;
        });
      }
      // Not a moment before the timeout; at most two deadline checks after it.
      await vi.advanceTimersByTimeAsync(4_999);
      expect(settled).toBe(0);
      await vi.advanceTimersByTimeAsync(1 + 2 * BODY_DEADLINE_CHECK_MS);
      await nodeResult;
      await webResult;
      expect(settled).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a completed read is forgotten: no timeout fires later, done is called once, the check stops", async () => {
    vi.useFakeTimers();
    try {
      const limits = resolveBodyLimits({ maxBytes: 100, timeoutMs: 1_000 });
      const stream = new PassThrough() as PassThrough & { headers: Record<string, string> };
      stream.headers = {};
      const calls: (Error | null)[] = [];
      const finished = new Promise<void>((resolve) => {
        collectBody(stream, limits, (error) => {
          calls.push(error);
          resolve();
        });
      });
      expect(vi.getTimerCount()).toBe(1); // the one deadline check of these limits
      stream.end(Buffer.from("ok"));
      await finished;
      await vi.advanceTimersByTimeAsync(5_000);
      expect(calls).toEqual([null]);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("many reads under one set of limits share one deadline check", async () => {
    vi.useFakeTimers();
    try {
      const limits = resolveBodyLimits({ timeoutMs: 1_000 });
      const reads = Array.from({ length: 50 }, () => readBody(stalledStream(Buffer.from("x")), limits));
      for (const r of reads) r.catch(() => {});
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(1_000 + 2 * BODY_DEADLINE_CHECK_MS);
      const outcomes = await Promise.allSettled(reads);
      expect(outcomes.every((o) => o.status === "rejected" && o.reason instanceof BodyReadTimeoutError)).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a stalled client over a real socket gets 408 request_timeout", async () => {
    const { createServer } = await import("node:http");
    let ran = false;
    const url = await listen(
      createServer(
        toNodeListener(
          () => {
            ran = true;
            return new Response("ok");
          },
          { bodyTimeoutMs: 50 },
        ),
      ),
    );
    const u = new URL(url);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: u.hostname, port: u.port, method: "POST", path: "/", headers: { "content-length": "100" } },
        (r) => {
          const chunks: Buffer[] = [];
          r.on("data", (c: Buffer) => chunks.push(c));
          r.on("end", () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        },
      );
      req.on("error", reject);
      req.write("only part of it"); // and never the rest
    });
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body)).toEqual({ ok: false, error: "request_timeout" });
    expect(ran).toBe(false);
  });
});
